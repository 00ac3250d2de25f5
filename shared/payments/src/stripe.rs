//! Stripe: PaymentIntents and refunds over the form-encoded v1 API, and `Stripe-Signature`
//! webhook verification (HMAC-SHA256 over `t.` + raw body; any configured secret against any
//! `v1`, so a secret rotation is seamless; ±300 s).

use std::fmt;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::sig::{hmac_sha256, matches, to_hex};
use crate::transport::{Reply, send};
use crate::{
    ConfigError, CreatePayment, CreatedPayment, EventKind, Lookup, PaymentProvider, ProviderError,
    ProviderKind, ProviderRefund, RefundRequest, RefundResult, TIMESTAMP_TOLERANCE_SECS,
    WebhookError, WebhookEvent, WebhookRequest, base_url, malformed_json, order_info, parse_secret,
    require_field, require_method, require_positive,
};

const KIND: ProviderKind = ProviderKind::Stripe;
const SIGNATURE_HEADER: &str = "stripe-signature";

#[derive(Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com`; locally `http://127.0.0.1:P/stripe`.
    pub api_url: String,
    pub api_key: String,
    /// Current first, then the previous one during a rotation.
    pub webhook_secrets: Vec<String>,
    /// The hosted confirmation page; the buyer goes to `{confirm_url}/{pi_id}`.
    pub confirm_url: String,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &"<redacted>")
            .field(
                "webhook_secrets",
                &format_args!("<{} redacted>", self.webhook_secrets.len()),
            )
            .field("confirm_url", &self.confirm_url)
            .finish()
    }
}

#[derive(Deserialize)]
struct StripeSecret {
    api_key: String,
    webhook_secret: String,
    #[serde(default)]
    previous_webhook_secret: Option<String>,
}

impl StripeConfig {
    /// `{"api_key": "sk_…", "webhook_secret": "whsec_…", "previous_webhook_secret"?: "whsec_…"}`.
    pub fn from_secret_json(
        secret: &str,
        api_url: &str,
        confirm_url: &str,
    ) -> Result<Self, ConfigError> {
        let s: StripeSecret = parse_secret(KIND, secret)?;
        let mut webhook_secrets = vec![require_field(KIND, "webhook_secret", s.webhook_secret)?];
        webhook_secrets.extend(s.previous_webhook_secret.filter(|p| !p.trim().is_empty()));
        Ok(Self {
            api_url: base_url(api_url),
            api_key: require_field(KIND, "api_key", s.api_key)?,
            webhook_secrets,
            confirm_url: base_url(confirm_url),
        })
    }
}

#[derive(Debug)]
pub struct Stripe {
    config: StripeConfig,
    http: reqwest::Client,
}

impl Stripe {
    pub fn new(config: StripeConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    async fn post_form<T: DeserializeOwned>(
        &self,
        path: &str,
        form: String,
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        let request = self
            .http
            .post(format!("{}{path}", self.config.api_url))
            .bearer_auth(&self.config.api_key)
            .header("Idempotency-Key", idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        let reply = send(request).await?;
        if !reply.status.is_success() {
            return Err(api_error(&reply));
        }
        reply.json(path)
    }

    /// Checks the `Stripe-Signature` header; the timestamp is checked only after a signature
    /// matched, so a forgery is always `BadSignature`.
    fn verify_signature(&self, header: &str, body: &[u8], now: i64) -> Result<(), WebhookError> {
        let parsed = SignatureHeader::parse(header)?;
        if parsed.v1.is_empty() {
            return Err(WebhookError::BadSignature("no v1 signature".into()));
        }
        let any_match = self.config.webhook_secrets.iter().any(|secret| {
            let mac = hmac_sha256(secret, &[parsed.t.as_bytes(), b".", body]);
            parsed.v1.iter().any(|v1| matches(&mac, v1))
        });
        if !any_match {
            return Err(WebhookError::BadSignature("no v1 signature matches".into()));
        }
        if (now - parsed.timestamp).abs() > TIMESTAMP_TOLERANCE_SECS {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }
}

/// A `Stripe-Signature` value: `t=…,v1=…[,v1=…][,v0=…]`. Only `v1` counts (downgrade attacks).
struct SignatureHeader<'a> {
    /// As received: the signed bytes are this text, not a re-formatted number.
    t: &'a str,
    timestamp: i64,
    v1: Vec<&'a str>,
}

impl<'a> SignatureHeader<'a> {
    fn parse(header: &'a str) -> Result<Self, WebhookError> {
        let mut t = None;
        let mut v1 = Vec::new();
        for element in header.split(',') {
            match element.trim().split_once('=') {
                Some(("t", value)) if t.is_none() => t = Some(value),
                Some(("t", _)) => {
                    return Err(WebhookError::Malformed("two t= in Stripe-Signature".into()));
                }
                Some(("v1", value)) => v1.push(value),
                _ => {}
            }
        }
        let t = t.ok_or_else(|| WebhookError::Malformed("no t= in Stripe-Signature".into()))?;
        let timestamp = t
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse::<i64>().ok())
            .flatten()
            .ok_or_else(|| WebhookError::Malformed("t= is not a unix timestamp".into()))?;
        Ok(Self { t, timestamp, v1 })
    }
}

/// A `Stripe-Signature` header for `body` signed with `secret` at `timestamp`, as Stripe sends it
/// (like stripe-python's `generate_signature_header`; for tests and local tooling).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!(
        "t={t},v1={}",
        to_hex(hmac_sha256(secret, &[t.as_bytes(), b".", body]))
    )
}

#[derive(Deserialize, Default)]
struct ApiErrorBody {
    #[serde(default)]
    error: ApiErrorDetail,
}

#[derive(Deserialize, Default)]
struct ApiErrorDetail {
    code: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

fn api_error(reply: &Reply) -> ProviderError {
    match reply.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            reply.unexpected("Stripe rejected the API key")
        }
        // Another request with the same Idempotency-Key is still running.
        StatusCode::CONFLICT => {
            ProviderError::Unavailable("Stripe: idempotent request in progress".into())
        }
        status if status.is_client_error() => {
            let detail = serde_json::from_slice::<ApiErrorBody>(&reply.body)
                .unwrap_or_default()
                .error;
            ProviderError::Declined {
                code: detail
                    .code
                    .or(detail.kind)
                    .unwrap_or_else(|| status.as_u16().to_string()),
                message: detail.message.unwrap_or_default(),
            }
        }
        _ => reply.unexpected("Stripe"),
    }
}

#[derive(Deserialize)]
struct CreatedIntent {
    id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
struct CreatedRefund {
    id: String,
    status: Option<String>,
    failure_reason: Option<String>,
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    async fn create(&self, req: &CreatePayment<'_>) -> Result<CreatedPayment, ProviderError> {
        require_positive(req.amount)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("amount", &req.amount.to_string())
            .append_pair("currency", &req.currency.to_ascii_lowercase())
            .append_pair("metadata[payment_id]", req.payment_id)
            .append_pair("description", &order_info(req.description, req.payment_id))
            .append_pair("automatic_payment_methods[enabled]", "true")
            .finish();
        let intent: CreatedIntent = self
            .post_form("/v1/payment_intents", form, req.idempotency_key)
            .await?;
        tracing::debug!(payment_id = req.payment_id, intent = %intent.id, "stripe payment intent created");
        Ok(CreatedPayment {
            redirect_url: Some(format!("{}/{}", self.config.confirm_url, intent.id)),
            provider_ref: intent.id,
            client_secret: intent.client_secret,
        })
    }

    async fn capture(
        &self,
        _provider_ref: &str,
        _idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        // Automatic capture: a succeeded PaymentIntent is already captured.
        Ok(None)
    }

    async fn refund(&self, req: &RefundRequest<'_>) -> Result<RefundResult, ProviderError> {
        require_positive(req.amount)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("payment_intent", req.provider_ref)
            .append_pair("amount", &req.amount.to_string())
            .append_pair("metadata[refund_id]", req.refund_id)
            .finish();
        let refund: CreatedRefund = self.post_form("/v1/refunds", form, req.refund_id).await?;
        if let Some(status @ ("failed" | "canceled")) = refund.status.as_deref() {
            return Err(ProviderError::Declined {
                code: format!("refund_{status}"),
                message: refund.failure_reason.unwrap_or_default(),
            });
        }
        tracing::debug!(refund_id = req.refund_id, refund = %refund.id, "stripe refund created");
        Ok(RefundResult {
            provider_refund_ref: refund.id,
        })
    }

    async fn verify_webhook(
        &self,
        req: &WebhookRequest<'_>,
        now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        require_method(req, "POST")?;
        let header = req
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or_else(|| WebhookError::BadSignature("no Stripe-Signature header".into()))?
            .to_str()
            .map_err(|_| WebhookError::Malformed("Stripe-Signature is not ASCII".into()))?;
        self.verify_signature(header, req.body, now)?;
        let event = parse_event(req.body)?;
        tracing::debug!(event_id = %event.event_id, event_type = %event.event_type, "stripe webhook verified");
        Ok(event)
    }
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// A reference that is an id, or the object itself when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn id(self) -> String {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    amount: i64,
    amount_received: Option<i64>,
    currency: String,
    latest_charge: Option<Expandable>,
    last_payment_error: Option<PaymentError>,
    cancellation_reason: Option<String>,
}

#[derive(Deserialize)]
struct PaymentError {
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Charge {
    payment_intent: Option<Expandable>,
    /// Absent unless expanded in newer API versions: then the refund ids come from `refund.*`.
    refunds: Option<RefundList>,
}

#[derive(Deserialize)]
struct RefundList {
    data: Vec<Refund>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    amount: i64,
    status: Option<String>,
    payment_intent: Option<Expandable>,
}

impl Refund {
    /// Failed and canceled refunds returned no money.
    fn returned_money(&self) -> bool {
        !matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }
}

#[derive(Deserialize)]
struct Dispute {
    id: String,
    amount: i64,
    payment_intent: Option<Expandable>,
    status: String,
}

/// Any object's intent: its `payment_intent`, or its own id when it is the intent.
#[derive(Deserialize)]
struct AnyObject {
    id: Option<String>,
    payment_intent: Option<Expandable>,
}

/// Normalises a verified event body.
fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let event: Event =
        serde_json::from_slice(body).map_err(|e| malformed_json("Stripe event", &e))?;
    let object = event.data.object;
    let (intent, kind) = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let pi: Intent = object_as(object)?;
            let kind = EventKind::Succeeded {
                amount: pi.amount_received.unwrap_or(pi.amount),
                currency: pi.currency.to_ascii_uppercase(),
                capture_ref: pi.latest_charge.map(Expandable::id),
            };
            (pi.id, kind)
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let pi: Intent = object_as(object)?;
            let kind = EventKind::Failed {
                reason: failure_reason(&pi),
                amount: Some(pi.amount),
            };
            (pi.id, kind)
        }
        "charge.refunded" => {
            let charge: Charge = object_as(object)?;
            let refunds = charge.refunds.map(|list| list.data).unwrap_or_default();
            let kind = EventKind::Refunded {
                refunds: refunds_of(refunds),
            };
            (intent_of(charge.payment_intent)?, kind)
        }
        "refund.created" | "refund.updated" => {
            let mut refund: Refund = object_as(object)?;
            let intent = intent_of(refund.payment_intent.take())?;
            let kind = if refund.status.as_deref() == Some("succeeded") {
                EventKind::Refunded {
                    refunds: refunds_of(vec![refund]),
                }
            } else {
                EventKind::Ignored
            };
            (intent, kind)
        }
        "charge.dispute.created" => {
            let dispute: Dispute = object_as(object)?;
            let kind = EventKind::DisputeOpened {
                dispute_ref: dispute.id,
                amount: dispute.amount,
            };
            (intent_of(dispute.payment_intent)?, kind)
        }
        "charge.dispute.closed" => {
            let dispute: Dispute = object_as(object)?;
            let won = matches!(dispute.status.as_str(), "won" | "warning_closed");
            let kind = EventKind::DisputeClosed {
                dispute_ref: dispute.id,
                won,
            };
            (intent_of(dispute.payment_intent)?, kind)
        }
        _ => {
            let any: AnyObject = object_as(object)?;
            let intent = any
                .payment_intent
                .map(Expandable::id)
                .or(any.id)
                .unwrap_or_default();
            (intent, EventKind::Ignored)
        }
    };
    Ok(WebhookEvent {
        event_id: event.id,
        lookup: Lookup::ProviderRef(intent),
        kind,
        event_type: event.kind,
    })
}

fn object_as<T: DeserializeOwned>(object: serde_json::Value) -> Result<T, WebhookError> {
    serde_json::from_value(object).map_err(|e| malformed_json("Stripe event data.object", &e))
}

fn intent_of(reference: Option<Expandable>) -> Result<String, WebhookError> {
    reference
        .map(Expandable::id)
        .ok_or_else(|| WebhookError::Malformed("the object has no payment_intent".into()))
}

fn refunds_of(refunds: Vec<Refund>) -> Vec<ProviderRefund> {
    refunds
        .into_iter()
        .filter(Refund::returned_money)
        .map(|r| ProviderRefund {
            refund_ref: r.id,
            amount: r.amount,
        })
        .collect()
}

fn failure_reason(pi: &Intent) -> String {
    match (&pi.last_payment_error, &pi.cancellation_reason) {
        (Some(error), _) => {
            let code = error.code.as_deref().unwrap_or("payment_failed");
            match error.message.as_deref() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_owned(),
            }
        }
        (None, Some(reason)) => format!("canceled: {reason}"),
        (None, None) => "canceled".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{headers, serve};

    // Reference §1.8.
    const SECRET: &str = "whsec_testvector_not_a_real_secret";
    const OLD_SECRET: &str = "whsec_old_rotated_secret_0000000000";
    const T: i64 = 1700000000;
    const PAYLOAD: &str = r#"{"id":"evt_1TestVector","object":"event","api_version":"2024-06-20","created":1700000000,"data":{"object":{"id":"pi_1TestVector","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"payment_intent.succeeded"}"#;
    const V1: &str = "4aa76af14cd6a54df5a442a10596d3e89eb1619056341326e240688b0924f394";
    const V1_OLD: &str = "998748eb969054587acbae984b28cc1eafa1b82e7967cc154afe9ca1255a9631";

    fn stripe_with(secrets: &[&str], api_url: &str) -> Stripe {
        let config = StripeConfig {
            api_url: api_url.into(),
            api_key: "sk_test_local".into(),
            webhook_secrets: secrets.iter().map(|s| s.to_string()).collect(),
            confirm_url: "http://127.0.0.1:9/stripe/pay".into(),
        };
        Stripe::new(config, crate::http_client())
    }

    fn stripe(secrets: &[&str]) -> Stripe {
        stripe_with(secrets, "http://127.0.0.1:9/stripe")
    }

    async fn verify(
        stripe: &Stripe,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        let headers = headers(&[("stripe-signature", header)]);
        let req = WebhookRequest {
            method: "POST",
            headers: &headers,
            query: "",
            body,
        };
        stripe.verify_webhook(&req, now).await
    }

    /// Signs `body` with the test secret at `now` and verifies it.
    async fn signed(body: &str) -> WebhookEvent {
        let header = signature_header(SECRET, T, body.as_bytes());
        verify(&stripe(&[SECRET]), &header, body.as_bytes(), T)
            .await
            .unwrap()
    }

    fn event(kind: &str, object: &str) -> String {
        format!(
            r#"{{"id":"evt_1","object":"event","api_version":"2024-06-20","created":{T},"type":"{kind}","data":{{"object":{object}}},"livemode":false,"pending_webhooks":1,"request":{{"id":null,"idempotency_key":null}}}}"#
        )
    }

    #[test]
    fn the_reference_vector_signs_to_the_documented_header() {
        assert_eq!(PAYLOAD.len(), 326);
        assert_eq!(
            signature_header(SECRET, T, PAYLOAD.as_bytes()),
            format!("t={T},v1={V1}")
        );
        assert_eq!(
            signature_header(OLD_SECRET, T, PAYLOAD.as_bytes()),
            format!("t={T},v1={V1_OLD}")
        );
    }

    #[tokio::test]
    async fn the_reference_vector_verifies_and_normalises() {
        let event = verify(
            &stripe(&[SECRET]),
            &format!("t={T},v1={V1}"),
            PAYLOAD.as_bytes(),
            T,
        )
        .await
        .unwrap();
        assert_eq!(event.event_id, "evt_1TestVector");
        assert_eq!(event.event_type, "payment_intent.succeeded");
        assert_eq!(event.lookup, Lookup::ProviderRef("pi_1TestVector".into()));
        assert_eq!(
            event.kind,
            EventKind::Succeeded {
                amount: 2000,
                currency: "USD".into(),
                capture_ref: None
            }
        );
    }

    #[tokio::test]
    async fn a_rotation_header_verifies_with_either_secret() {
        let header = format!("t={T},v1={V1},v1={V1_OLD}");
        for secrets in [
            &[SECRET][..],
            &[OLD_SECRET],
            &[SECRET, OLD_SECRET],
            &[OLD_SECRET, SECRET],
        ] {
            verify(&stripe(secrets), &header, PAYLOAD.as_bytes(), T)
                .await
                .unwrap();
        }
        // The sandbox's `rotated` mode: the first v1 from an unknown old secret.
        let header = format!("t={T},v1={},v1={V1}", "0".repeat(64));
        verify(&stripe(&[SECRET]), &header, PAYLOAD.as_bytes(), T)
            .await
            .unwrap();
        // A previous secret still configured verifies a header signed only with it.
        verify(
            &stripe(&[SECRET, OLD_SECRET]),
            &format!("t={T},v1={V1_OLD}"),
            PAYLOAD.as_bytes(),
            T,
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_v0_only_header_is_rejected_even_with_a_valid_mac() {
        let err = verify(
            &stripe(&[SECRET]),
            &format!("t={T},v0={V1}"),
            PAYLOAD.as_bytes(),
            T,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
    }

    #[tokio::test]
    async fn stale_and_future_timestamps_are_rejected_within_300_seconds() {
        let s = stripe(&[SECRET]);
        let header = format!("t={T},v1={V1}");
        assert!(matches!(
            verify(&s, &header, PAYLOAD.as_bytes(), T + 301).await,
            Err(WebhookError::Stale)
        ));
        assert!(matches!(
            verify(&s, &header, PAYLOAD.as_bytes(), T - 301).await,
            Err(WebhookError::Stale)
        ));
        verify(&s, &header, PAYLOAD.as_bytes(), T + 300)
            .await
            .unwrap();
        verify(&s, &header, PAYLOAD.as_bytes(), T - 300)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_bad_signature_is_reported_before_staleness() {
        let s = stripe(&[SECRET]);
        let header = format!("t={T},v1={V1_OLD}");
        let err = verify(&s, &header, PAYLOAD.as_bytes(), T + 10_000).await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
    }

    #[tokio::test]
    async fn tampered_bodies_and_wrong_secrets_are_rejected() {
        let header = format!("t={T},v1={V1}");
        let tampered = PAYLOAD.replace("2000", "2001");
        let err = verify(&stripe(&[SECRET]), &header, tampered.as_bytes(), T).await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
        // A trailing newline is a different body.
        let err = verify(
            &stripe(&[SECRET]),
            &header,
            format!("{PAYLOAD}\n").as_bytes(),
            T,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
        let err = verify(&stripe(&[OLD_SECRET]), &header, PAYLOAD.as_bytes(), T).await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
    }

    #[tokio::test]
    async fn missing_or_unparsable_headers_are_rejected() {
        let s = stripe(&[SECRET]);
        let empty = http::HeaderMap::new();
        let req = WebhookRequest {
            method: "POST",
            headers: &empty,
            query: "",
            body: PAYLOAD.as_bytes(),
        };
        assert!(matches!(
            s.verify_webhook(&req, T).await,
            Err(WebhookError::BadSignature(_))
        ));
        for header in [
            format!("v1={V1}"),
            format!("t=abc,v1={V1}"),
            format!("t=-5,v1={V1}"),
            format!("t={T},t={T},v1={V1}"),
        ] {
            let err = verify(&s, &header, PAYLOAD.as_bytes(), T).await;
            assert!(
                matches!(err, Err(WebhookError::Malformed(_))),
                "{header}: {err:?}"
            );
        }
        // Non-hex signatures simply do not match.
        let err = verify(&s, &format!("t={T},v1=zz"), PAYLOAD.as_bytes(), T).await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
    }

    #[tokio::test]
    async fn signed_but_truncated_or_non_utf8_bodies_are_malformed() {
        let s = stripe(&[SECRET]);
        for body in [
            &PAYLOAD.as_bytes()[..163],
            b"{\"id\":\"evt_\xff\"}".as_slice(),
        ] {
            let err = verify(&s, &signature_header(SECRET, T, body), body, T).await;
            assert!(matches!(err, Err(WebhookError::Malformed(_))), "{err:?}");
        }
    }

    #[tokio::test]
    async fn payment_intent_succeeded_carries_amount_received_and_latest_charge() {
        let body = event(
            "payment_intent.succeeded",
            r#"{"id":"pi_1","object":"payment_intent","amount":150000,"amount_received":150000,"currency":"vnd","status":"succeeded","client_secret":"pi_1_secret_x","metadata":{"payment_id":"01J"},"latest_charge":"ch_1"}"#,
        );
        let e = signed(&body).await;
        assert_eq!(e.lookup, Lookup::ProviderRef("pi_1".into()));
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: 150000,
                currency: "VND".into(),
                capture_ref: Some("ch_1".into())
            }
        );
    }

    #[tokio::test]
    async fn payment_failed_and_canceled_intents_are_failures() {
        let body = event(
            "payment_intent.payment_failed",
            r#"{"id":"pi_2","object":"payment_intent","amount":900,"currency":"usd","status":"requires_payment_method","last_payment_error":{"code":"card_declined","message":"Your card was declined."},"latest_charge":null}"#,
        );
        let e = signed(&body).await;
        assert_eq!(e.lookup, Lookup::ProviderRef("pi_2".into()));
        assert_eq!(
            e.kind,
            EventKind::Failed {
                reason: "card_declined: Your card was declined.".into(),
                amount: Some(900)
            }
        );
        let body = event(
            "payment_intent.canceled",
            r#"{"id":"pi_3","object":"payment_intent","amount":900,"currency":"usd","status":"canceled","cancellation_reason":"abandoned"}"#,
        );
        assert_eq!(
            signed(&body).await.kind,
            EventKind::Failed {
                reason: "canceled: abandoned".into(),
                amount: Some(900)
            }
        );
    }

    #[tokio::test]
    async fn charge_refunded_lists_every_refund_that_returned_money() {
        let body = event(
            "charge.refunded",
            r#"{"id":"ch_1","object":"charge","payment_intent":"pi_1","amount":5000,"amount_refunded":3000,"currency":"usd","refunds":{"object":"list","data":[{"id":"re_2","amount":1000,"status":"succeeded"},{"id":"re_1","amount":2000,"status":"succeeded"},{"id":"re_0","amount":500,"status":"failed"}]}}"#,
        );
        let e = signed(&body).await;
        assert_eq!(e.lookup, Lookup::ProviderRef("pi_1".into()));
        assert_eq!(
            e.kind,
            EventKind::Refunded {
                refunds: vec![
                    ProviderRefund {
                        refund_ref: "re_2".into(),
                        amount: 1000
                    },
                    ProviderRefund {
                        refund_ref: "re_1".into(),
                        amount: 2000
                    },
                ]
            }
        );
    }

    #[tokio::test]
    async fn refund_objects_count_once_they_succeeded() {
        let body = event(
            "refund.updated",
            r#"{"id":"re_9","object":"refund","amount":700,"payment_intent":"pi_9","charge":"ch_9","status":"succeeded"}"#,
        );
        let e = signed(&body).await;
        assert_eq!(e.lookup, Lookup::ProviderRef("pi_9".into()));
        assert_eq!(
            e.kind,
            EventKind::Refunded {
                refunds: vec![ProviderRefund {
                    refund_ref: "re_9".into(),
                    amount: 700
                }]
            }
        );
        let pending = body.replace("\"succeeded\"", "\"pending\"");
        assert_eq!(signed(&pending).await.kind, EventKind::Ignored);
    }

    #[tokio::test]
    async fn disputes_open_and_close_with_the_outcome() {
        let object = r#"{"id":"dp_1","object":"dispute","amount":5000,"currency":"usd","charge":"ch_1","payment_intent":"pi_1","status":"STATUS","reason":"fraudulent"}"#;
        let e = signed(&event(
            "charge.dispute.created",
            &object.replace("STATUS", "needs_response"),
        ))
        .await;
        assert_eq!(e.lookup, Lookup::ProviderRef("pi_1".into()));
        assert_eq!(
            e.kind,
            EventKind::DisputeOpened {
                dispute_ref: "dp_1".into(),
                amount: 5000
            }
        );
        for (status, won) in [("won", true), ("warning_closed", true), ("lost", false)] {
            let e = signed(&event(
                "charge.dispute.closed",
                &object.replace("STATUS", status),
            ))
            .await;
            assert_eq!(
                e.kind,
                EventKind::DisputeClosed {
                    dispute_ref: "dp_1".into(),
                    won
                },
                "{status}"
            );
        }
    }

    #[tokio::test]
    async fn other_event_types_are_ignored_but_still_located() {
        let e = signed(&event(
            "charge.succeeded",
            r#"{"id":"ch_1","object":"charge","payment_intent":"pi_1"}"#,
        ))
        .await;
        assert_eq!(
            (e.kind, e.lookup),
            (EventKind::Ignored, Lookup::ProviderRef("pi_1".into()))
        );
        let e = signed(&event(
            "payment_intent.created",
            r#"{"id":"pi_5","object":"payment_intent"}"#,
        ))
        .await;
        assert_eq!(
            (e.kind, e.lookup),
            (EventKind::Ignored, Lookup::ProviderRef("pi_5".into()))
        );
    }

    #[tokio::test]
    async fn a_known_event_with_a_non_integer_amount_is_malformed() {
        let body = event(
            "payment_intent.succeeded",
            r#"{"id":"pi_1","object":"payment_intent","amount":"12.50","currency":"usd"}"#,
        );
        let err = verify(
            &stripe(&[SECRET]),
            &signature_header(SECRET, T, body.as_bytes()),
            body.as_bytes(),
            T,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::Malformed(_))), "{err:?}");
    }

    #[test]
    fn config_reads_the_secret_json_and_hides_secrets() {
        let c = StripeConfig::from_secret_json(
            r#"{"api_key":"sk_test_1","webhook_secret":"whsec_new","previous_webhook_secret":"whsec_old"}"#,
            "http://127.0.0.1:1/stripe/",
            "http://127.0.0.1:1/stripe/pay",
        )
        .unwrap();
        assert_eq!(c.webhook_secrets, ["whsec_new", "whsec_old"]);
        assert_eq!(c.api_url, "http://127.0.0.1:1/stripe");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("sk_test_1") && !debug.contains("whsec_"),
            "{debug}"
        );
        let c =
            StripeConfig::from_secret_json(r#"{"api_key":"sk","webhook_secret":"w"}"#, "u", "p")
                .unwrap();
        assert_eq!(c.webhook_secrets, ["w"]);
        assert!(
            StripeConfig::from_secret_json(r#"{"api_key":"","webhook_secret":"w"}"#, "u", "p")
                .is_err()
        );
        assert!(StripeConfig::from_secret_json(r#"{"api_key":"sk"}"#, "u", "p").is_err());
    }

    #[tokio::test]
    async fn create_and_refund_speak_form_encoding_with_bearer_and_idempotency_key() {
        use axum::http::HeaderMap;
        use axum::routing::post;
        use std::collections::HashMap;

        fn form(body: &str) -> HashMap<String, String> {
            form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect()
        }
        async fn intents(h: HeaderMap, body: String) -> axum::Json<serde_json::Value> {
            assert_eq!(h["content-type"], "application/x-www-form-urlencoded");
            let f = form(&body);
            assert_eq!(h["authorization"], "Bearer sk_test_local");
            assert_eq!(h["idempotency-key"], "idem-1");
            assert_eq!(f["amount"], "150000");
            assert_eq!(f["currency"], "vnd");
            assert_eq!(f["metadata[payment_id]"], "01PAY");
            assert_eq!(f["description"], "Don hang 7");
            assert_eq!(f["automatic_payment_methods[enabled]"], "true");
            axum::Json(
                serde_json::json!({"id":"pi_77","object":"payment_intent","client_secret":"pi_77_secret_s","status":"requires_payment_method","latest_charge":null}),
            )
        }
        async fn refunds(
            h: HeaderMap,
            body: String,
        ) -> (StatusCode, axum::Json<serde_json::Value>) {
            let f = form(&body);
            assert_eq!(h["idempotency-key"], f["metadata[refund_id]"].as_str());
            if f["amount"] == "999999" {
                let e = serde_json::json!({"error":{"code":"amount_too_large","message":"Refund amount is greater than unrefunded amount","type":"invalid_request_error"}});
                return (StatusCode::BAD_REQUEST, axum::Json(e));
            }
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({"id":"re_1","object":"refund","status":"succeeded"})),
            )
        }
        let base = serve(
            axum::Router::new()
                .route("/v1/payment_intents", post(intents))
                .route("/v1/refunds", post(refunds)),
        )
        .await;
        let s = stripe_with(&[SECRET], &base);
        let created = s
            .create(&CreatePayment {
                payment_id: "01PAY",
                amount: 150000,
                currency: "VND",
                minor_digits: 0,
                description: "Đơn hàng #7",
                return_url: "http://x/return",
                webhook_url: "http://x/hook",
                client_ip: "127.0.0.1",
                created_at: T,
                expires_at: T + 900,
                idempotency_key: "idem-1",
            })
            .await
            .unwrap();
        assert_eq!(created.provider_ref, "pi_77");
        assert_eq!(
            created.redirect_url.as_deref(),
            Some("http://127.0.0.1:9/stripe/pay/pi_77")
        );
        assert_eq!(created.client_secret.as_deref(), Some("pi_77_secret_s"));
        assert!(!format!("{created:?}").contains("pi_77_secret_s"));

        let mut refund = RefundRequest {
            payment_id: "01PAY",
            refund_id: "01REF",
            provider_ref: "pi_77",
            capture_ref: Some("ch_1"),
            amount: 1000,
            paid_amount: 150000,
            currency: "VND",
            minor_digits: 0,
            reason: "requested",
            payment_created_at: T,
            client_ip: "127.0.0.1",
        };
        assert_eq!(s.refund(&refund).await.unwrap().provider_refund_ref, "re_1");
        refund.amount = 999999;
        let err = s.refund(&refund).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Declined { code, .. } if code == "amount_too_large"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable() {
        // Port 9 (discard) on loopback is closed here.
        let err = stripe(&[SECRET])
            .refund(&RefundRequest {
                payment_id: "p",
                refund_id: "r",
                provider_ref: "pi",
                capture_ref: None,
                amount: 1,
                paid_amount: 1,
                currency: "USD",
                minor_digits: 2,
                reason: "",
                payment_created_at: 0,
                client_ip: "127.0.0.1",
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    }
}
