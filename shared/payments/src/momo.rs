//! MoMo AIO v2: create (`captureWallet`) and refund, each signed with HMAC-SHA256 over an
//! alphabetical `key=value&…` string of raw (unencoded) values, and IPN verification (a JSON
//! body whose `signature` covers the §3.2 string built with our access key).

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sig::{hmac_sha256, matches, to_hex};
use crate::transport::{Reply, send};
use crate::{
    ConfigError, CreatePayment, CreatedPayment, EventKind, Lookup, PaymentProvider, ProviderError,
    ProviderKind, RefundRequest, RefundResult, WebhookError, WebhookEvent, WebhookRequest,
    base_url, body_utf8, json_text, malformed_json, order_info, parse_secret, require_field,
    require_method, require_positive, require_vnd, sanitize_description,
};

const KIND: ProviderKind = ProviderKind::Momo;
const REQUEST_TYPE: &str = "captureWallet";
const LANG: &str = "vi";

/// The IPN fields the signature covers, in signing order; `accessKey` is ours, not the body's.
const IPN_FIELDS: [&str; 13] = [
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
];

/// Result codes that are no outcome yet: waiting for the user, processing, authorised only.
const PENDING_CODES: [i64; 4] = [1000, 7000, 7002, 9000];

#[derive(Clone)]
pub struct MomoConfig {
    /// `https://test-payment.momo.vn` / `https://payment.momo.vn`; locally `http://127.0.0.1:P/momo`.
    pub api_url: String,
    pub partner_code: String,
    pub access_key: String,
    pub secret_key: String,
}

impl fmt::Debug for MomoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MomoConfig")
            .field("api_url", &self.api_url)
            .field("partner_code", &self.partner_code)
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct MomoSecret {
    partner_code: String,
    access_key: String,
    secret_key: String,
}

impl MomoConfig {
    /// `{"partner_code": "…", "access_key": "…", "secret_key": "…"}`.
    pub fn from_secret_json(secret: &str, api_url: &str) -> Result<Self, ConfigError> {
        let s: MomoSecret = parse_secret(KIND, secret)?;
        Ok(Self {
            api_url: base_url(api_url),
            partner_code: require_field(KIND, "partner_code", s.partner_code)?,
            access_key: require_field(KIND, "access_key", s.access_key)?,
            secret_key: require_field(KIND, "secret_key", s.secret_key)?,
        })
    }
}

#[derive(Debug)]
pub struct Momo {
    config: MomoConfig,
    http: reqwest::Client,
}

/// `key=value&…` in the given (alphabetical) order, values raw: URLs keep their `://`.
fn raw_signature(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// HMAC-SHA256 of a raw signature string, lowercase hex.
pub fn signature(secret_key: &str, raw: &str) -> String {
    to_hex(hmac_sha256(secret_key, &[raw.as_bytes()]))
}

/// The raw string an IPN's signature covers (§3.2), `None` if a field is not a string or an
/// integer.
fn ipn_raw(ipn: &Map<String, Value>, access_key: &str) -> Option<String> {
    let values = IPN_FIELDS
        .iter()
        .map(|&f| {
            if f == "accessKey" {
                Some(access_key.to_owned())
            } else {
                json_text(ipn.get(f))
            }
        })
        .collect::<Option<Vec<_>>>()?;
    let pairs: Vec<(&str, &str)> = IPN_FIELDS
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect();
    Some(raw_signature(&pairs))
}

/// Sets `signature` on an IPN body the way MoMo signs it (for tests and local tooling).
pub fn sign_ipn(ipn: &mut Map<String, Value>, access_key: &str, secret_key: &str) {
    let raw = ipn_raw(ipn, access_key).expect("IPN fields are strings or integers");
    ipn.insert(
        "signature".into(),
        Value::String(signature(secret_key, &raw)),
    );
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    result_code: i64,
    #[serde(default)]
    message: String,
    pay_url: Option<String>,
    trans_id: Option<i64>,
}

impl Momo {
    pub fn new(config: MomoConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    fn sign(&self, pairs: &[(&str, &str)]) -> String {
        signature(&self.config.secret_key, &raw_signature(pairs))
    }

    /// MoMo answers business refusals with a `resultCode`, sometimes under a 4xx.
    async fn post(&self, path: &str, body: &Value) -> Result<Answer, ProviderError> {
        let url = format!("{}{path}", self.config.api_url);
        let reply: Reply = send(self.http.post(url).json(body)).await?;
        match reply.json::<Answer>(path) {
            Ok(answer) if answer.result_code == 0 => Ok(answer),
            Ok(answer) => Err(ProviderError::Declined {
                code: answer.result_code.to_string(),
                message: answer.message,
            }),
            Err(e) if reply.status.is_success() => Err(e),
            Err(_) => Err(reply.unexpected(path)),
        }
    }

    fn ipn_event(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let ipn: Map<String, Value> =
            serde_json::from_str(body_utf8(body)?).map_err(|e| malformed_json("MoMo IPN", &e))?;
        let raw = ipn_raw(&ipn, &self.config.access_key).ok_or_else(|| {
            WebhookError::Malformed("a signed MoMo field is not a string or an integer".into())
        })?;
        let given = ipn
            .get("signature")
            .and_then(Value::as_str)
            .ok_or_else(|| WebhookError::BadSignature("no signature".into()))?;
        if !matches(
            &hmac_sha256(&self.config.secret_key, &[raw.as_bytes()]),
            given,
        ) {
            return Err(WebhookError::BadSignature(
                "signature does not match".into(),
            ));
        }

        let text = |name: &str| json_text(ipn.get(name)).unwrap_or_default();
        if text("partnerCode") != self.config.partner_code {
            return Err(WebhookError::Malformed("partnerCode is not ours".into()));
        }
        let number = |name: &str| {
            text(name)
                .parse::<i64>()
                .map_err(|_| WebhookError::Malformed(format!("{name} is not an integer")))
        };
        let (order_id, trans_id) = (text("orderId"), text("transId"));
        if order_id.is_empty() {
            return Err(WebhookError::Malformed("no orderId".into()));
        }
        let (amount, result_code) = (number("amount")?, number("resultCode")?);
        if amount < 0 {
            return Err(WebhookError::Malformed("negative amount".into()));
        }
        let kind = match result_code {
            0 => EventKind::Succeeded {
                amount,
                currency: "VND".into(),
                capture_ref: Some(trans_id.clone()).filter(|t| !t.is_empty()),
            },
            code if PENDING_CODES.contains(&code) => EventKind::Ignored,
            code => EventKind::Failed {
                reason: format!("{code}: {}", text("message")),
                amount: Some(amount),
            },
        };
        Ok(WebhookEvent {
            event_id: format!("momo:{order_id}:{trans_id}:{result_code}"),
            lookup: Lookup::PaymentId(order_id),
            kind,
            event_type: "ipn".into(),
        })
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Momo {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    async fn create(&self, req: &CreatePayment<'_>) -> Result<CreatedPayment, ProviderError> {
        require_positive(req.amount)?;
        require_vnd(KIND, req.currency, req.minor_digits)?;
        let c = &self.config;
        let amount = req.amount.to_string();
        let info = order_info(req.description, req.payment_id);
        let signature = self.sign(&[
            ("accessKey", &c.access_key),
            ("amount", &amount),
            ("extraData", ""),
            ("ipnUrl", req.webhook_url),
            ("orderId", req.payment_id),
            ("orderInfo", &info),
            ("partnerCode", &c.partner_code),
            ("redirectUrl", req.return_url),
            ("requestId", req.idempotency_key),
            ("requestType", REQUEST_TYPE),
        ]);
        let body = serde_json::json!({
            "partnerCode": c.partner_code,
            "accessKey": c.access_key,
            "requestId": req.idempotency_key,
            "amount": req.amount,
            "orderId": req.payment_id,
            "orderInfo": info,
            "redirectUrl": req.return_url,
            "ipnUrl": req.webhook_url,
            "requestType": REQUEST_TYPE,
            "extraData": "",
            "lang": LANG,
            "signature": signature,
        });
        let answer = self.post("/v2/gateway/api/create", &body).await?;
        let pay_url = answer
            .pay_url
            .ok_or_else(|| ProviderError::BadResponse("MoMo create: no payUrl".into()))?;
        tracing::debug!(payment_id = req.payment_id, "momo payment created");
        Ok(CreatedPayment {
            provider_ref: req.payment_id.to_owned(),
            redirect_url: Some(pay_url),
            client_secret: None,
        })
    }

    async fn capture(
        &self,
        _provider_ref: &str,
        _idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        // captureWallet captures automatically.
        Ok(None)
    }

    /// MoMo sends no refund IPN: resultCode 0 is the refund.
    async fn refund(&self, req: &RefundRequest<'_>) -> Result<RefundResult, ProviderError> {
        require_positive(req.amount)?;
        require_vnd(KIND, req.currency, req.minor_digits)?;
        let trans_id: i64 = req
            .capture_ref
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                ProviderError::Unsupported("a MoMo refund needs the numeric transId".into())
            })?;
        let c = &self.config;
        let (amount, trans) = (req.amount.to_string(), trans_id.to_string());
        let description = sanitize_description(req.reason);
        // The refund is a new MoMo order: its orderId must differ from the payment's.
        let signature = self.sign(&[
            ("accessKey", &c.access_key),
            ("amount", &amount),
            ("description", &description),
            ("orderId", req.refund_id),
            ("partnerCode", &c.partner_code),
            ("requestId", req.refund_id),
            ("transId", &trans),
        ]);
        let body = serde_json::json!({
            "partnerCode": c.partner_code,
            "orderId": req.refund_id,
            "requestId": req.refund_id,
            "amount": req.amount,
            "transId": trans_id,
            "lang": LANG,
            "description": description,
            "signature": signature,
        });
        let answer = self.post("/v2/gateway/api/refund", &body).await?;
        tracing::debug!(refund_id = req.refund_id, "momo refund accepted");
        Ok(RefundResult {
            provider_refund_ref: answer
                .trans_id
                .map_or_else(|| req.refund_id.to_owned(), |t| t.to_string()),
        })
    }

    async fn verify_webhook(
        &self,
        req: &WebhookRequest<'_>,
        _now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        require_method(req, "POST")?;
        let event = self.ipn_event(req.body)?;
        tracing::debug!(event_id = %event.event_id, "momo ipn verified");
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;
    use crate::testkit::serve;

    // Reference §3.4.
    const ACCESS_KEY: &str = "TESTACCESSKEY01";
    const SECRET_KEY: &str = "TESTSECRETKEYTESTSECRETKEY00001";
    const CREATE_RAW: &str = "accessKey=TESTACCESSKEY01&amount=50000&extraData=&ipnUrl=https://example.com/momo/ipn&orderId=ORD1700000000000&orderInfo=Thanh toan don hang ORD1700000000000&partnerCode=MOMOTEST0000&redirectUrl=https://example.com/momo/return&requestId=REQ1700000000000&requestType=captureWallet";
    const CREATE_SIGNATURE: &str =
        "b600633e38bb74770c21f65f579cf0c403d7d44f6941a289b7a433bde4b0eeb6";
    const IPN_BODY: &str = r#"{"partnerCode":"MOMOTEST0000","orderId":"ORD1700000000000","requestId":"REQ1700000000000","amount":50000,"orderInfo":"Thanh toan don hang ORD1700000000000","orderType":"momo_wallet","transId":4000000001,"resultCode":0,"message":"Successful.","payType":"qr","responseTime":1700000030000,"extraData":"","signature":"ff0d7c3f3d85c98df08f2dbe1f5fa19582cc2f3b062728cd3790322c23a9ff70"}"#;
    const IPN_RAW: &str = "accessKey=TESTACCESSKEY01&amount=50000&extraData=&message=Successful.&orderId=ORD1700000000000&orderInfo=Thanh toan don hang ORD1700000000000&orderType=momo_wallet&partnerCode=MOMOTEST0000&payType=qr&requestId=REQ1700000000000&responseTime=1700000030000&resultCode=0&transId=4000000001";
    const REFUND_RAW: &str = "accessKey=TESTACCESSKEY01&amount=50000&description=&orderId=RFD1700000100000&partnerCode=MOMOTEST0000&requestId=RFDREQ1700000100000&transId=4000000001";
    const REFUND_SIGNATURE: &str =
        "4be8828a7308f72da15d12321ec44797f405aa9a168e060508d1db3cb4a36309";

    fn momo_at(api_url: &str) -> Momo {
        let config = MomoConfig::from_secret_json(
            &format!(r#"{{"partner_code":"MOMOTEST0000","access_key":"{ACCESS_KEY}","secret_key":"{SECRET_KEY}"}}"#),
            api_url,
        )
        .unwrap();
        Momo::new(config, crate::http_client())
    }

    async fn ipn(body: &str) -> Result<WebhookEvent, WebhookError> {
        let headers = http::HeaderMap::new();
        let req = WebhookRequest {
            method: "POST",
            headers: &headers,
            query: "",
            body: body.as_bytes(),
        };
        momo_at("http://127.0.0.1:9/momo")
            .verify_webhook(&req, 0)
            .await
    }

    /// The reference IPN with `changes` applied, re-signed with the test keys.
    fn signed_ipn(changes: Value) -> String {
        let mut ipn: Map<String, Value> = serde_json::from_str(IPN_BODY).unwrap();
        ipn.extend(changes.as_object().unwrap().clone());
        sign_ipn(&mut ipn, ACCESS_KEY, SECRET_KEY);
        Value::Object(ipn).to_string()
    }

    fn payment() -> CreatePayment<'static> {
        CreatePayment {
            payment_id: "ORD1700000000000",
            amount: 50000,
            currency: "VND",
            minor_digits: 0,
            description: "Thanh toán đơn hàng ORD1700000000000",
            return_url: "https://example.com/momo/return",
            webhook_url: "https://example.com/momo/ipn",
            client_ip: "127.0.0.1",
            created_at: 0,
            expires_at: 0,
            idempotency_key: "REQ1700000000000",
        }
    }

    #[test]
    fn the_reference_signatures_match() {
        assert_eq!(signature(SECRET_KEY, CREATE_RAW), CREATE_SIGNATURE);
        assert_eq!(
            signature(SECRET_KEY, IPN_RAW),
            "ff0d7c3f3d85c98df08f2dbe1f5fa19582cc2f3b062728cd3790322c23a9ff70"
        );
        assert_eq!(signature(SECRET_KEY, REFUND_RAW), REFUND_SIGNATURE);
        let ipn: Map<String, Value> = serde_json::from_str(IPN_BODY).unwrap();
        assert_eq!(ipn_raw(&ipn, ACCESS_KEY).unwrap(), IPN_RAW);
    }

    #[tokio::test]
    async fn the_reference_ipn_verifies_and_is_a_success() {
        let e = ipn(IPN_BODY).await.unwrap();
        assert_eq!(e.event_id, "momo:ORD1700000000000:4000000001:0");
        assert_eq!(e.lookup, Lookup::PaymentId("ORD1700000000000".into()));
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: 50000,
                currency: "VND".into(),
                capture_ref: Some("4000000001".into())
            }
        );
    }

    #[tokio::test]
    async fn a_tampered_amount_or_foreign_key_is_rejected() {
        let tampered = IPN_BODY.replace("\"amount\":50000", "\"amount\":5000");
        assert!(matches!(
            ipn(&tampered).await,
            Err(WebhookError::BadSignature(_))
        ));
        let mut ipn_map: Map<String, Value> = serde_json::from_str(IPN_BODY).unwrap();
        sign_ipn(&mut ipn_map, ACCESS_KEY, "another-secret");
        assert!(matches!(
            ipn(&Value::Object(ipn_map).to_string()).await,
            Err(WebhookError::BadSignature(_))
        ));
        let unsigned = IPN_BODY.replace("\"signature\"", "\"sig\"");
        assert!(matches!(
            ipn(&unsigned).await,
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[tokio::test]
    async fn a_declined_payment_is_a_failure_and_a_pending_one_is_ignored() {
        let e = ipn(&signed_ipn(serde_json::json!({"resultCode": 1006, "message": "Giao dịch bị từ chối bởi người dùng."})))
            .await
            .unwrap();
        assert_eq!(e.event_id, "momo:ORD1700000000000:4000000001:1006");
        assert_eq!(
            e.kind,
            EventKind::Failed {
                reason: "1006: Giao dịch bị từ chối bởi người dùng.".into(),
                amount: Some(50000)
            }
        );
        let e = ipn(&signed_ipn(serde_json::json!({"resultCode": 9000})))
            .await
            .unwrap();
        assert_eq!(e.kind, EventKind::Ignored);
    }

    #[tokio::test]
    async fn numbers_as_strings_verify_but_floats_and_garbage_are_malformed() {
        // MoMo signs the text of the value: "50000" and 50000 sign alike.
        ipn(&signed_ipn(serde_json::json!({"amount": "50000"})))
            .await
            .unwrap();
        let float = IPN_BODY.replace("\"amount\":50000", "\"amount\":50000.0");
        assert!(matches!(ipn(&float).await, Err(WebhookError::Malformed(_))));
        for body in [&IPN_BODY[..120], "not json", "[1,2]"] {
            assert!(
                matches!(ipn(body).await, Err(WebhookError::Malformed(_))),
                "{body}"
            );
        }
        let headers = http::HeaderMap::new();
        let bytes = b"{\"orderId\":\"\xff\"}";
        let req = WebhookRequest {
            method: "POST",
            headers: &headers,
            query: "",
            body: bytes,
        };
        let err = momo_at("http://x").verify_webhook(&req, 0).await;
        assert!(matches!(err, Err(WebhookError::Malformed(_))), "{err:?}");
        assert!(matches!(
            ipn(&signed_ipn(
                serde_json::json!({"partnerCode": "SOMEONEELSE"})
            ))
            .await,
            Err(WebhookError::Malformed(_))
        ));
    }

    /// Checks the signatures like MoMo and answers with a payUrl / refund transId.
    async fn fake(
        uri: axum::http::Uri,
        axum::Json(req): axum::Json<Map<String, Value>>,
    ) -> axum::Json<Value> {
        let text = |f: &str| json_text(req.get(f)).unwrap();
        let fields: &[&str] = if uri.path().ends_with("create") {
            &[
                "accessKey",
                "amount",
                "extraData",
                "ipnUrl",
                "orderId",
                "orderInfo",
                "partnerCode",
                "redirectUrl",
                "requestId",
                "requestType",
            ]
        } else {
            &[
                "accessKey",
                "amount",
                "description",
                "orderId",
                "partnerCode",
                "requestId",
                "transId",
            ]
        };
        let values: Vec<String> = fields
            .iter()
            .map(|f| {
                if *f == "accessKey" {
                    ACCESS_KEY.into()
                } else {
                    text(f)
                }
            })
            .collect();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect();
        if signature(SECRET_KEY, &raw_signature(&pairs)) != text("signature") {
            return axum::Json(serde_json::json!({"resultCode": 11, "message": "bad signature"}));
        }
        if text("amount") == "1" {
            return axum::Json(serde_json::json!({"resultCode": 1080, "message": "refund failed"}));
        }
        axum::Json(serde_json::json!({
            "partnerCode": "MOMOTEST0000", "orderId": text("orderId"), "requestId": text("requestId"),
            "amount": req["amount"], "responseTime": 1, "message": "Successful.", "resultCode": 0,
            "payUrl": format!("http://momo/pay/{}", text("orderId")), "transId": 4000000099i64,
        }))
    }

    #[tokio::test]
    async fn create_and_refund_are_signed_like_the_reference() {
        let base = serve(
            axum::Router::new()
                .route("/v2/gateway/api/create", post(fake))
                .route("/v2/gateway/api/refund", post(fake)),
        )
        .await;
        let m = momo_at(&base);
        let created = m.create(&payment()).await.unwrap();
        assert_eq!(created.provider_ref, "ORD1700000000000");
        assert_eq!(
            created.redirect_url.as_deref(),
            Some("http://momo/pay/ORD1700000000000")
        );

        let mut refund = RefundRequest {
            payment_id: "ORD1700000000000",
            refund_id: "01REFUND",
            provider_ref: "ORD1700000000000",
            capture_ref: Some("4000000001"),
            amount: 20000,
            paid_amount: 50000,
            currency: "VND",
            minor_digits: 0,
            reason: "Khách đổi ý",
            payment_created_at: 0,
            client_ip: "127.0.0.1",
        };
        assert_eq!(
            m.refund(&refund).await.unwrap().provider_refund_ref,
            "4000000099"
        );
        refund.amount = 1;
        let err = m.refund(&refund).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Declined { code, .. } if code == "1080"),
            "{err:?}"
        );
        refund.capture_ref = Some("not-a-number");
        assert!(matches!(
            m.refund(&refund).await,
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn only_vnd_is_accepted() {
        let usd = CreatePayment {
            currency: "USD",
            minor_digits: 2,
            ..payment()
        };
        assert!(matches!(
            momo_at("http://x").create(&usd).await,
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let debug = format!("{:?}", momo_at("http://x"));
        assert!(
            !debug.contains(SECRET_KEY) && !debug.contains(ACCESS_KEY),
            "{debug}"
        );
    }
}
