//! VNPay v2.1.0: the signed payment URL (HMAC-SHA512 over the sorted, form-encoded `vnp_*`
//! parameters), IPN verification (a GET whose query carries the hash), the refund API with its
//! pipe-joined hash and verified answer, and the JSON replies VNPay expects to an IPN.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};
use time::macros::{format_description, offset};
use time::{OffsetDateTime, UtcOffset};

use crate::sig::{hex_value, hmac_sha512, matches, to_hex};
use crate::transport::send;
use crate::{
    ConfigError, CreatePayment, CreatedPayment, EventKind, Lookup, PaymentProvider, ProviderError,
    ProviderKind, RefundRequest, RefundResult, WebhookError, WebhookEvent, WebhookRequest,
    base_url, json_text, order_info, parse_secret, require_field, require_method, require_positive,
    require_vnd, sanitize_description,
};

const KIND: ProviderKind = ProviderKind::Vnpay;
const VERSION: &str = "2.1.0";
const HASH: &str = "vnp_SecureHash";
const HASH_TYPE: &str = "vnp_SecureHashType";
/// VNPay's clock: every date it reads or writes is `yyyyMMddHHmmss` in GMT+7.
const GMT7: UtcOffset = offset!(+7);
/// Who a refund is "created by" in VNPay's records.
const REFUND_CREATED_BY: &str = "system";

/// Request fields of a refund, in the order their values are pipe-joined for the hash.
const REFUND_HASH_FIELDS: [&str; 13] = [
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];

/// Response fields of a refund, in the order VNPay pipe-joins them for its hash.
const REFUND_REPLY_HASH_FIELDS: [&str; 13] = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
];

#[derive(Clone)]
pub struct VnpayConfig {
    /// The full payment page URL (`https://sandbox.vnpayment.vn/paymentv2/vpcpay.html`; locally
    /// `http://127.0.0.1:P/vnpay/paymentv2/vpcpay.html`): production hosts it elsewhere.
    pub pay_url: String,
    /// The full merchant API URL refunds are posted to
    /// (`https://sandbox.vnpayment.vn/merchant_webapi/api/transaction`; locally
    /// `http://127.0.0.1:P/vnpay/merchant_webapi/api/transaction`).
    pub api_url: String,
    pub tmn_code: String,
    pub hash_secret: String,
}

impl fmt::Debug for VnpayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VnpayConfig")
            .field("pay_url", &self.pay_url)
            .field("api_url", &self.api_url)
            .field("tmn_code", &self.tmn_code)
            .field("hash_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct VnpaySecret {
    tmn_code: String,
    hash_secret: String,
}

impl VnpayConfig {
    /// `{"tmn_code": "…", "hash_secret": "…"}`.
    pub fn from_secret_json(
        secret: &str,
        pay_url: &str,
        api_url: &str,
    ) -> Result<Self, ConfigError> {
        let s: VnpaySecret = parse_secret(KIND, secret)?;
        Ok(Self {
            pay_url: pay_url.to_owned(),
            api_url: base_url(api_url),
            tmn_code: require_field(KIND, "tmn_code", s.tmn_code)?,
            hash_secret: require_field(KIND, "hash_secret", s.hash_secret)?,
        })
    }
}

#[derive(Debug)]
pub struct Vnpay {
    config: VnpayConfig,
    http: reqwest::Client,
}

impl Vnpay {
    pub fn new(config: VnpayConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    fn pay_params(
        &self,
        req: &CreatePayment<'_>,
    ) -> Result<Vec<(&'static str, String)>, ProviderError> {
        Ok(vec![
            ("vnp_Amount", times_100(req.amount)?),
            ("vnp_Command", "pay".into()),
            ("vnp_CreateDate", vnp_date(req.created_at)?),
            ("vnp_CurrCode", "VND".into()),
            ("vnp_ExpireDate", vnp_date(req.expires_at)?),
            ("vnp_IpAddr", req.client_ip.into()),
            ("vnp_Locale", "vn".into()),
            ("vnp_OrderInfo", order_info(req.description, req.payment_id)),
            ("vnp_OrderType", "other".into()),
            ("vnp_ReturnUrl", req.return_url.into()),
            ("vnp_TmnCode", self.config.tmn_code.clone()),
            ("vnp_TxnRef", req.payment_id.into()),
            ("vnp_Version", VERSION.into()),
        ])
    }

    fn refund_fields(
        &self,
        req: &RefundRequest<'_>,
        now: i64,
    ) -> Result<Vec<(&'static str, String)>, ProviderError> {
        let kind = if req.amount == req.paid_amount {
            "02"
        } else {
            "03"
        };
        let reason = sanitize_description(req.reason);
        let info = if reason.is_empty() {
            format!("Refund {}", req.payment_id)
        } else {
            reason
        };
        let values = [
            req.refund_id.to_owned(),
            VERSION.into(),
            "refund".into(),
            self.config.tmn_code.clone(),
            kind.into(),
            req.payment_id.into(),
            times_100(req.amount)?,
            // VNPay accepts 0 when its transaction number is unknown.
            req.capture_ref.unwrap_or("0").into(),
            vnp_date(req.payment_created_at)?,
            REFUND_CREATED_BY.into(),
            vnp_date(now)?,
            req.client_ip.into(),
            info,
        ];
        Ok(REFUND_HASH_FIELDS.into_iter().zip(values).collect())
    }

    /// Checks `vnp_SecureHash` over the other `vnp_*` parameters, re-encoded and sorted.
    fn check_signature(&self, params: &[(String, String)]) -> Result<(), WebhookError> {
        let hash = param(params, HASH)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| WebhookError::BadSignature("no vnp_SecureHash".into()))?;
        let signed: Vec<(&str, &str)> = params
            .iter()
            .filter(|(k, _)| k.starts_with("vnp_") && k != HASH && k != HASH_TYPE)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let non_empty: Vec<(&str, &str)> = signed
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        // VNPay's own demos disagree on empty values (Java drops them, PHP and Node keep them):
        // either form is a MAC by our secret over the same parameters.
        let forms = if non_empty.len() == signed.len() {
            vec![non_empty]
        } else {
            vec![non_empty, signed]
        };
        let secret = &self.config.hash_secret;
        if forms
            .iter()
            .any(|form| matches(&hmac_sha512(secret, &[sign_data(form).as_bytes()]), hash))
        {
            Ok(())
        } else {
            Err(WebhookError::BadSignature(
                "vnp_SecureHash does not match".into(),
            ))
        }
    }

    fn ipn_event(&self, params: &[(String, String)]) -> Result<WebhookEvent, WebhookError> {
        let field = |name: &str| param(params, name).unwrap_or_default();
        let txn_ref = field("vnp_TxnRef");
        if txn_ref.is_empty() {
            return Err(WebhookError::Malformed("no vnp_TxnRef".into()));
        }
        if field("vnp_TmnCode") != self.config.tmn_code {
            return Err(WebhookError::Malformed("vnp_TmnCode is not ours".into()));
        }
        let amount = ipn_amount(field("vnp_Amount"))?;
        let (code, status, transaction_no) = (
            field("vnp_ResponseCode"),
            field("vnp_TransactionStatus"),
            field("vnp_TransactionNo"),
        );
        // The demos accept either code; both must say 00 before we call it paid.
        let kind = if code == "00" && status == "00" {
            EventKind::Succeeded {
                amount,
                currency: "VND".into(),
                capture_ref: Some(transaction_no.to_owned()).filter(|t| !t.is_empty()),
            }
        } else {
            EventKind::Failed {
                reason: format!("vnp_ResponseCode {code}, vnp_TransactionStatus {status}"),
                amount: Some(amount),
            }
        };
        Ok(WebhookEvent {
            event_id: format!("vnpay:{txn_ref}:{transaction_no}:{code}"),
            lookup: Lookup::PaymentId(txn_ref.to_owned()),
            kind,
            event_type: "ipn".into(),
        })
    }
}

/// The query string of a signed VNPay URL: `params` sorted and form-encoded, then
/// `&vnp_SecureHash=…` (HMAC-SHA512, lowercase hex). For tests and local tooling too.
pub fn sign_query(params: &[(&str, &str)], hash_secret: &str) -> String {
    let data = sign_data(params);
    let hash = to_hex(hmac_sha512(hash_secret, &[data.as_bytes()]));
    format!("{data}&{HASH}={hash}")
}

/// The reply body VNPay expects to an IPN (HTTP 200), with the official demo's messages.
/// `00` means "recorded" (a failed payment too), not "paid".
pub fn ipn_reply(code: &str) -> Value {
    let message = match code {
        "00" => "Confirm Success",
        "01" => "Order not found",
        "02" => "Order already confirmed",
        "04" => "invalid amount",
        "97" => "Invalid signature",
        _ => "Unknown error",
    };
    serde_json::json!({ "RspCode": code, "Message": message })
}

/// Sorted by name (byte order), `key=value` form-encoded (space → `+`), joined with `&`.
fn sign_data(params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// HMAC-SHA512 over the values joined with `|` (the refund API's scheme).
fn pipe_hash(values: &[&str], hash_secret: &str) -> String {
    to_hex(hmac_sha512(hash_secret, &[values.join("|").as_bytes()]))
}

fn vnp_date(unix: i64) -> Result<String, ProviderError> {
    let invalid = || ProviderError::Unsupported(format!("not a usable timestamp: {unix}"));
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|_| invalid())?
        .to_offset(GMT7)
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .map_err(|_| invalid())
}

/// VNPay amounts are VND × 100.
fn times_100(amount: i64) -> Result<String, ProviderError> {
    amount
        .checked_mul(100)
        .map(|a| a.to_string())
        .ok_or_else(|| ProviderError::Unsupported(format!("amount too large: {amount}")))
}

fn ipn_amount(raw: &str) -> Result<i64, WebhookError> {
    let malformed = || WebhookError::Malformed(format!("vnp_Amount {raw:?} is not VND × 100"));
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let hundredths: i64 = raw.parse().map_err(|_| malformed())?;
    if hundredths % 100 != 0 {
        return Err(malformed());
    }
    Ok(hundredths / 100)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes a raw query strictly: bad `%` escapes, non-UTF-8 text and repeated names are
/// refused rather than guessed at (a repeated `vnp_ResponseCode` must not pick a winner).
fn parse_query(query: &str) -> Result<Vec<(String, String)>, WebhookError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(key)?;
        if params.iter().any(|(k, _)| *k == key) {
            return Err(WebhookError::Malformed(format!("{key} appears twice")));
        }
        let value = decode_component(value)?;
        params.push((key, value));
    }
    Ok(params)
}

fn decode_component(raw: &str) -> Result<String, WebhookError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(b) = input.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = input.next().and_then(hex_value);
                let lo = input.next().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => bytes.push(hi << 4 | lo),
                    _ => {
                        return Err(WebhookError::Malformed(
                            "bad percent escape in the query".into(),
                        ));
                    }
                }
            }
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map_err(|_| WebhookError::Malformed("the query is not UTF-8".into()))
}

#[async_trait::async_trait]
impl PaymentProvider for Vnpay {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    /// No call: VNPay's "create" is a signed URL the browser opens.
    async fn create(&self, req: &CreatePayment<'_>) -> Result<CreatedPayment, ProviderError> {
        require_positive(req.amount)?;
        require_vnd(KIND, req.currency, req.minor_digits)?;
        let params = self.pay_params(req)?;
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = format!(
            "{}?{}",
            self.config.pay_url,
            sign_query(&pairs, &self.config.hash_secret)
        );
        tracing::debug!(payment_id = req.payment_id, "vnpay pay url signed");
        Ok(CreatedPayment {
            provider_ref: req.payment_id.to_owned(),
            redirect_url: Some(url),
            client_secret: None,
        })
    }

    async fn capture(
        &self,
        _provider_ref: &str,
        _idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    /// VNPay sends no refund IPN: a verified `00` answer is the refund.
    async fn refund(&self, req: &RefundRequest<'_>) -> Result<RefundResult, ProviderError> {
        require_positive(req.amount)?;
        require_vnd(KIND, req.currency, req.minor_digits)?;
        let fields = self.refund_fields(req, OffsetDateTime::now_utc().unix_timestamp())?;
        let values: Vec<&str> = fields.iter().map(|(_, v)| v.as_str()).collect();
        let hash = pipe_hash(&values, &self.config.hash_secret);
        let mut body: Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        body.insert(HASH.into(), Value::String(hash));

        let reply = send(self.http.post(&self.config.api_url).json(&body)).await?;
        if !reply.status.is_success() {
            return Err(reply.unexpected("VNPay refund"));
        }
        let answer: Map<String, Value> = reply.json("VNPay refund")?;
        self.check_refund_answer(&answer, req)
    }

    async fn verify_webhook(
        &self,
        req: &WebhookRequest<'_>,
        _now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        require_method(req, "GET")?;
        let params = parse_query(req.query)?;
        self.check_signature(&params)?;
        let event = self.ipn_event(&params)?;
        tracing::debug!(event_id = %event.event_id, "vnpay ipn verified");
        Ok(event)
    }
}

impl Vnpay {
    /// Only a correctly hashed answer is believed, whatever its code says.
    fn check_refund_answer(
        &self,
        answer: &Map<String, Value>,
        req: &RefundRequest<'_>,
    ) -> Result<RefundResult, ProviderError> {
        let text = |name: &str| {
            json_text(answer.get(name)).ok_or_else(|| {
                ProviderError::BadResponse(format!("VNPay refund: {name} is not a scalar"))
            })
        };
        let values = REFUND_REPLY_HASH_FIELDS
            .iter()
            .map(|f| text(f))
            .collect::<Result<Vec<_>, _>>()?;
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let hash = text(HASH)?;
        let expected = hmac_sha512(&self.config.hash_secret, &[values.join("|").as_bytes()]);
        if !matches(&expected, &hash) {
            return Err(ProviderError::BadResponse(
                "VNPay refund answer: bad vnp_SecureHash".into(),
            ));
        }
        let code = text("vnp_ResponseCode")?;
        if code != "00" {
            return Err(ProviderError::Declined {
                code,
                message: text("vnp_Message")?,
            });
        }
        let txn_ref = text("vnp_TxnRef")?;
        if txn_ref != req.payment_id {
            return Err(ProviderError::BadResponse(format!(
                "VNPay refunded {txn_ref}, not {}",
                req.payment_id
            )));
        }
        let transaction_no = text("vnp_TransactionNo")?;
        tracing::debug!(refund_id = req.refund_id, "vnpay refund accepted");
        Ok(RefundResult {
            provider_refund_ref: if transaction_no.is_empty() {
                req.refund_id.to_owned()
            } else {
                transaction_no
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;
    use crate::testkit::serve;

    // Reference §2.7.
    const SECRET: &str = "TESTSECRETTESTSECRETTESTSECRET12";
    const PAY_SIGN_DATA: &str = "vnp_Amount=10000000&vnp_Command=pay&vnp_CreateDate=20250101120000&vnp_CurrCode=VND&vnp_ExpireDate=20250101121500&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Thanh+toan+don+hang+ORDER123&vnp_OrderType=other&vnp_ReturnUrl=https%3A%2F%2Fexample.com%2Fvnpay%2Freturn&vnp_TmnCode=TESTCODE&vnp_TxnRef=ORDER123&vnp_Version=2.1.0";
    const PAY_HASH: &str = "cca2d968adb88b3e30233ba39340a0d34299fa7e34faaba0f07a80b6153ee9707d364219cb701203ba6771eeaf09100fb5c8fe3db6015d3be0661c8e167c8841";
    const IPN_QUERY: &str = "vnp_Amount=10000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14000000&vnp_CardType=ATM&vnp_OrderInfo=Thanh+toan+don+hang+ORDER123&vnp_PayDate=20250101120500&vnp_ResponseCode=00&vnp_TmnCode=TESTCODE&vnp_TransactionNo=14000000&vnp_TransactionStatus=00&vnp_TxnRef=ORDER123&vnp_SecureHashType=HmacSHA512&vnp_SecureHash=b1e72bbac0d0b7905855248c27e943c69f04f5aa917a7b6ff64ae3375432c83aaa64c506ff7fa987302f4aafca5b076ef12de50e035690c69e42cee956474aa2";
    const REFUND_DATA: &str = "REFUND0001|2.1.0|refund|TESTCODE|02|ORDER123|10000000|14000000|20250101120000|admin|20250102090000|127.0.0.1|Hoan tien don hang ORDER123";
    const REFUND_HASH: &str = "65cd036ee0811759396ef9f8927e0fdaa5870d9ab8ef674705eb38218498d07a0e6ea6a105859641206334c0dae01dab972d92aeb3b89b0dd1330bfc6a9906f9";
    /// 2025-01-01 12:00:00 GMT+7.
    const CREATED_AT: i64 = 1735707600;
    const PAY_URL: &str = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html";

    fn vnpay_at(api_url: &str) -> Vnpay {
        let config = VnpayConfig::from_secret_json(
            &format!(r#"{{"tmn_code":"TESTCODE","hash_secret":"{SECRET}"}}"#),
            PAY_URL,
            api_url,
        )
        .unwrap();
        Vnpay::new(config, crate::http_client())
    }

    fn vnpay() -> Vnpay {
        vnpay_at("http://127.0.0.1:9/vnpay/merchant_webapi/api/transaction")
    }

    async fn ipn(query: &str) -> Result<WebhookEvent, WebhookError> {
        let headers = http::HeaderMap::new();
        vnpay()
            .verify_webhook(
                &WebhookRequest {
                    method: "GET",
                    headers: &headers,
                    query,
                    body: b"",
                },
                0,
            )
            .await
    }

    /// An IPN like the sandbox sends, signed with the test secret.
    fn signed_ipn(overrides: &[(&str, &str)]) -> String {
        let mut params = vec![
            ("vnp_Amount", "10000000"),
            ("vnp_BankCode", "NCB"),
            ("vnp_BankTranNo", "VNP14000000"),
            ("vnp_CardType", "ATM"),
            ("vnp_OrderInfo", "Thanh toan don hang ORDER123"),
            ("vnp_PayDate", "20250101120500"),
            ("vnp_ResponseCode", "00"),
            ("vnp_TmnCode", "TESTCODE"),
            ("vnp_TransactionNo", "14000000"),
            ("vnp_TransactionStatus", "00"),
            ("vnp_TxnRef", "ORDER123"),
        ];
        for (k, v) in overrides {
            params.iter_mut().find(|(name, _)| name == k).unwrap().1 = v;
        }
        sign_query(&params, SECRET)
    }

    #[tokio::test]
    async fn the_pay_url_matches_the_reference_vector() {
        let created = vnpay()
            .create(&CreatePayment {
                payment_id: "ORDER123",
                amount: 100_000,
                currency: "VND",
                minor_digits: 0,
                description: "Thanh toán đơn hàng ORDER123",
                return_url: "https://example.com/vnpay/return",
                webhook_url: "https://ignored.example/ipn",
                client_ip: "127.0.0.1",
                created_at: CREATED_AT,
                expires_at: CREATED_AT + 15 * 60,
                idempotency_key: "unused",
            })
            .await
            .unwrap();
        assert_eq!(created.provider_ref, "ORDER123");
        assert_eq!(
            created.redirect_url.unwrap(),
            format!("{PAY_URL}?{PAY_SIGN_DATA}&vnp_SecureHash={PAY_HASH}")
        );
        assert!(!PAY_SIGN_DATA.contains("vnp_SecureHashType"));
    }

    #[tokio::test]
    async fn only_vnd_is_accepted() {
        let usd = CreatePayment {
            payment_id: "P",
            amount: 1250,
            currency: "USD",
            minor_digits: 2,
            description: "",
            return_url: "",
            webhook_url: "",
            client_ip: "",
            created_at: 0,
            expires_at: 0,
            idempotency_key: "",
        };
        assert!(matches!(
            vnpay().create(&usd).await,
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn the_reference_ipn_verifies_and_is_a_success() {
        let e = ipn(IPN_QUERY).await.unwrap();
        assert_eq!(e.event_id, "vnpay:ORDER123:14000000:00");
        assert_eq!(e.lookup, Lookup::PaymentId("ORDER123".into()));
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: 100_000,
                currency: "VND".into(),
                capture_ref: Some("14000000".into())
            }
        );
        assert_eq!(
            ipn_reply("00"),
            serde_json::json!({"RspCode":"00","Message":"Confirm Success"})
        );
    }

    #[tokio::test]
    async fn upper_case_hashes_and_any_parameter_order_verify() {
        let (data, hash) = IPN_QUERY
            .split_once("&vnp_SecureHashType=HmacSHA512&vnp_SecureHash=")
            .unwrap();
        ipn(&format!("{data}&vnp_SecureHash={}", hash.to_uppercase()))
            .await
            .unwrap();
        let mut pairs: Vec<&str> = IPN_QUERY.split('&').collect();
        pairs.reverse();
        ipn(&pairs.join("&")).await.unwrap();
    }

    #[tokio::test]
    async fn an_amount_changed_after_signing_is_rejected() {
        let tampered = IPN_QUERY.replace("vnp_Amount=10000000", "vnp_Amount=100");
        assert!(matches!(
            ipn(&tampered).await,
            Err(WebhookError::BadSignature(_))
        ));
        let wrong_secret = IPN_QUERY.replace("b1e72bba", "b1e72bbb");
        assert!(matches!(
            ipn(&wrong_secret).await,
            Err(WebhookError::BadSignature(_))
        ));
        let unsigned = IPN_QUERY.split("&vnp_SecureHashType").next().unwrap();
        assert!(matches!(
            ipn(unsigned).await,
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[tokio::test]
    async fn a_declined_payment_is_a_failure_with_its_codes() {
        let e = ipn(&signed_ipn(&[
            ("vnp_ResponseCode", "24"),
            ("vnp_TransactionStatus", "02"),
        ]))
        .await
        .unwrap();
        assert_eq!(e.event_id, "vnpay:ORDER123:14000000:24");
        assert_eq!(
            e.kind,
            EventKind::Failed {
                reason: "vnp_ResponseCode 24, vnp_TransactionStatus 02".into(),
                amount: Some(100_000)
            }
        );
        // One of the two codes is not enough.
        let e = ipn(&signed_ipn(&[("vnp_TransactionStatus", "01")]))
            .await
            .unwrap();
        assert!(matches!(e.kind, EventKind::Failed { .. }));
    }

    #[tokio::test]
    async fn signed_but_odd_queries_are_malformed() {
        for query in [
            signed_ipn(&[("vnp_Amount", "10000050")]),
            signed_ipn(&[("vnp_Amount", "1e7")]),
            signed_ipn(&[("vnp_TmnCode", "OTHER")]),
            signed_ipn(&[("vnp_TxnRef", "")]),
            format!(
                "{}&vnp_ResponseCode=00",
                signed_ipn(&[("vnp_ResponseCode", "24")])
            ),
            IPN_QUERY.replace("Thanh+toan", "Thanh%FFtoan"),
            IPN_QUERY.replace("Thanh+toan", "Thanh%2"),
        ] {
            let err = ipn(&query).await;
            assert!(
                matches!(err, Err(WebhookError::Malformed(_))),
                "{query}: {err:?}"
            );
        }
        let headers = http::HeaderMap::new();
        let post = WebhookRequest {
            method: "POST",
            headers: &headers,
            query: IPN_QUERY,
            body: b"",
        };
        assert!(matches!(
            vnpay().verify_webhook(&post, 0).await,
            Err(WebhookError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn empty_parameters_verify_whether_or_not_they_were_signed() {
        let params = [
            ("vnp_Amount", "10000000"),
            ("vnp_BankTranNo", ""),
            ("vnp_ResponseCode", "24"),
            ("vnp_TmnCode", "TESTCODE"),
            ("vnp_TransactionNo", "0"),
            ("vnp_TransactionStatus", "02"),
            ("vnp_TxnRef", "ORDER123"),
        ];
        // Signed with the empty value included (PHP/Node demos).
        ipn(&sign_query(&params, SECRET)).await.unwrap();
        // Signed without it (Java demo), then sent with it.
        let without: Vec<_> = params
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let query = format!("vnp_BankTranNo=&{}", sign_query(&without, SECRET));
        ipn(&query).await.unwrap();
    }

    #[test]
    fn the_refund_pipe_hash_matches_the_reference_vector() {
        let values: Vec<&str> = REFUND_DATA.split('|').collect();
        assert_eq!(values.len(), REFUND_HASH_FIELDS.len());
        assert_eq!(pipe_hash(&values, SECRET), REFUND_HASH);
    }

    fn refund_request(amount: i64) -> RefundRequest<'static> {
        RefundRequest {
            payment_id: "ORDER123",
            refund_id: "REFUND0001",
            provider_ref: "ORDER123",
            capture_ref: Some("14000000"),
            amount,
            paid_amount: 100_000,
            currency: "VND",
            minor_digits: 0,
            reason: "Hoàn tiền đơn hàng ORDER123",
            payment_created_at: CREATED_AT,
            client_ip: "127.0.0.1",
        }
    }

    #[test]
    fn refund_fields_are_the_reference_vector_given_its_clock() {
        let fields = vnpay()
            .refund_fields(&refund_request(100_000), 1735783200)
            .unwrap();
        let values: Vec<&str> = fields.iter().map(|(_, v)| v.as_str()).collect();
        // 2025-01-02 09:00:00 GMT+7; the vector was made with vnp_CreateBy "admin".
        assert_eq!(values.join("|"), REFUND_DATA.replace("|admin|", "|system|"));
        let partial = vnpay()
            .refund_fields(&refund_request(40_000), 1735783200)
            .unwrap();
        assert_eq!(partial[4], ("vnp_TransactionType", "03".into()));
        assert_eq!(partial[6], ("vnp_Amount", "4000000".into()));
    }

    /// Answers a refund like VNPay: checks the request hash, signs the answer (or not).
    async fn fake_refund(axum::Json(req): axum::Json<Map<String, Value>>) -> axum::Json<Value> {
        let values: Vec<&str> = REFUND_HASH_FIELDS
            .iter()
            .map(|f| req[*f].as_str().unwrap())
            .collect();
        assert_eq!(req[HASH], pipe_hash(&values, SECRET));
        let amount = req["vnp_Amount"].as_str().unwrap();
        let code = if amount == "9900" { "94" } else { "00" };
        let mut answer = serde_json::json!({
            "vnp_ResponseId": "R1", "vnp_Command": "refund", "vnp_ResponseCode": code,
            "vnp_Message": "Refund success", "vnp_TmnCode": "TESTCODE", "vnp_TxnRef": req["vnp_TxnRef"],
            "vnp_Amount": amount, "vnp_BankCode": "NCB", "vnp_PayDate": "20250102090001",
            "vnp_TransactionNo": 14000099, "vnp_TransactionType": req["vnp_TransactionType"],
            "vnp_TransactionStatus": "05", "vnp_OrderInfo": req["vnp_OrderInfo"],
        });
        let reply_values: Vec<String> = REFUND_REPLY_HASH_FIELDS
            .iter()
            .map(|f| json_text(answer.get(*f)).unwrap())
            .collect();
        let reply_values: Vec<&str> = reply_values.iter().map(String::as_str).collect();
        let mut hash = pipe_hash(&reply_values, SECRET);
        if amount == "100" {
            let flipped = if hash.starts_with('0') { '1' } else { '0' };
            hash.replace_range(..1, &flipped.to_string());
        }
        answer[HASH] = Value::String(hash);
        axum::Json(answer)
    }

    #[tokio::test]
    async fn a_refund_is_believed_only_with_a_good_answer_hash() {
        let base =
            serve(axum::Router::new().route("/merchant_webapi/api/transaction", post(fake_refund)))
                .await;
        let v = vnpay_at(&format!("{base}/merchant_webapi/api/transaction"));
        assert_eq!(
            v.refund(&refund_request(100_000))
                .await
                .unwrap()
                .provider_refund_ref,
            "14000099"
        );
        let err = v.refund(&refund_request(99)).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Declined { code, .. } if code == "94"),
            "{err:?}"
        );
        let err = v.refund(&refund_request(1)).await.unwrap_err();
        assert!(matches!(err, ProviderError::BadResponse(_)), "{err:?}");
    }

    #[test]
    fn ipn_replies_carry_the_demo_messages() {
        for (code, message) in [
            ("00", "Confirm Success"),
            ("01", "Order not found"),
            ("02", "Order already confirmed"),
            ("04", "invalid amount"),
            ("97", "Invalid signature"),
            ("99", "Unknown error"),
        ] {
            assert_eq!(
                ipn_reply(code),
                serde_json::json!({ "RspCode": code, "Message": message })
            );
        }
    }

    #[test]
    fn debug_output_hides_the_hash_secret() {
        assert!(!format!("{:?}", vnpay()).contains(SECRET));
    }
}
