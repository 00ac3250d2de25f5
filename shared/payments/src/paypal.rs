//! PayPal: Orders v2 (create, capture), capture refunds, the cached OAuth client-credentials
//! token, and webhook verification by postback to `verify-webhook-signature` with the exact
//! received body embedded as raw JSON. Also the offline signed string (CRC-32 of the raw body).

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

use crate::transport::{Reply, send};
use crate::{
    ConfigError, CreatePayment, CreatedPayment, EventKind, Lookup, PaymentProvider, ProviderError,
    ProviderKind, ProviderRefund, RefundRequest, RefundResult, TIMESTAMP_TOLERANCE_SECS,
    WebhookError, WebhookEvent, WebhookRequest, base_url, body_utf8, malformed_json, parse_decimal,
    parse_secret, path_segment, require_field, require_method, require_positive, to_decimal_string,
};

const KIND: ProviderKind = ProviderKind::Paypal;

/// Currencies PayPal's REST API accepts; HUF, JPY and TWD are sent without decimals.
const CURRENCIES: [&str; 24] = [
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
    "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];

fn minor_digits(currency: &str) -> u32 {
    if matches!(currency, "HUF" | "JPY" | "TWD") {
        0
    } else {
        2
    }
}

#[derive(Clone)]
pub struct PaypalConfig {
    /// `https://api-m.paypal.com`; locally `http://127.0.0.1:P/paypal`.
    pub api_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Our webhook's id from the developer portal (part of what PayPal signs).
    pub webhook_id: String,
}

impl fmt::Debug for PaypalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalConfig")
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("webhook_id", &self.webhook_id)
            .finish()
    }
}

#[derive(Deserialize)]
struct PaypalSecret {
    client_id: String,
    client_secret: String,
    webhook_id: String,
}

impl PaypalConfig {
    /// `{"client_id": "…", "client_secret": "…", "webhook_id": "…"}`.
    pub fn from_secret_json(secret: &str, api_url: &str) -> Result<Self, ConfigError> {
        let s: PaypalSecret = parse_secret(KIND, secret)?;
        Ok(Self {
            api_url: base_url(api_url),
            client_id: require_field(KIND, "client_id", s.client_id)?,
            client_secret: require_field(KIND, "client_secret", s.client_secret)?,
            webhook_id: require_field(KIND, "webhook_id", s.webhook_id)?,
        })
    }
}

pub struct Paypal {
    config: PaypalConfig,
    http: reqwest::Client,
    /// One token for the whole (warm) Lambda; the lock also makes concurrent callers share one fetch.
    token: Mutex<Option<CachedToken>>,
}

impl fmt::Debug for Paypal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paypal")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    value: String,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

impl Paypal {
    pub fn new(config: PaypalConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            token: Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_url)
    }

    async fn token(&self) -> Result<String, ProviderError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let request = self
            .http
            .post(self.url("/v1/oauth2/token"))
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[("grant_type", "client_credentials")]);
        let reply = send(request).await?;
        if !reply.status.is_success() {
            return Err(reply.unexpected("PayPal refused the client credentials"));
        }
        let fresh: TokenReply = reply.json("PayPal token")?;
        // Renew a minute early (or half-way for short tokens) so a call never races the expiry.
        let margin = 60.min(fresh.expires_in / 2);
        let renew_at = Instant::now() + Duration::from_secs(fresh.expires_in - margin);
        *slot = Some(CachedToken {
            value: fresh.access_token.clone(),
            renew_at,
        });
        Ok(fresh.access_token)
    }

    async fn forget_token(&self, rejected: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == rejected) {
            *slot = None;
        }
    }

    /// Sends with a bearer token; a 401 (token revoked early) drops it and retries once.
    async fn call(
        &self,
        build: impl Fn(&str) -> RequestBuilder + Send + Sync,
    ) -> Result<Reply, ProviderError> {
        let token = self.token().await?;
        let reply = send(build(&token)).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        self.forget_token(&token).await;
        send(build(&self.token().await?)).await
    }

    async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        request_id: &str,
        body: &serde_json::Value,
    ) -> Result<T, ProviderError> {
        let url = self.url(path);
        let reply = self
            .call(|token| {
                self.http
                    .post(&url)
                    .bearer_auth(token)
                    .header("PayPal-Request-Id", request_id)
                    .json(body)
            })
            .await?;
        if !reply.status.is_success() {
            return Err(api_error(&reply));
        }
        reply.json(path)
    }

    /// Asks PayPal whether the transmission is genuine; `Ok(false)` is a definite no.
    async fn postback(&self, request: &VerifyRequest<'_>) -> Result<bool, WebhookError> {
        let url = self.url("/v1/notifications/verify-webhook-signature");
        let unavailable = |e: ProviderError| WebhookError::Unavailable(e.to_string());
        let reply = self
            .call(|token| self.http.post(&url).bearer_auth(token).json(request))
            .await
            .map_err(unavailable)?;
        if reply.status.is_client_error() {
            // PayPal refuses to verify transmissions whose headers it cannot make sense of.
            return Err(WebhookError::BadSignature(format!(
                "PayPal refused to verify: HTTP {}",
                reply.status.as_u16()
            )));
        }
        if !reply.status.is_success() {
            return Err(unavailable(reply.unexpected("PayPal verification")));
        }
        let answer: VerifyReply = reply.json("PayPal verification").map_err(unavailable)?;
        Ok(answer.verification_status == "SUCCESS")
    }
}

/// The string PayPal signs (SHA256withRSA) for offline verification (reference §4.3):
/// `transmission_id|transmission_time|webhook_id|crc32(raw body)`, the CRC-32 (IEEE) as an
/// unsigned decimal.
pub fn signed_string(
    transmission_id: &str,
    transmission_time: &str,
    webhook_id: &str,
    body: &[u8],
) -> String {
    format!(
        "{transmission_id}|{transmission_time}|{webhook_id}|{}",
        crc32fast::hash(body)
    )
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    auth_algo: &'a str,
    cert_url: &'a str,
    transmission_id: &'a str,
    transmission_sig: &'a str,
    transmission_time: &'a str,
    webhook_id: &'a str,
    /// The received body, byte for byte: never re-serialised.
    webhook_event: &'a RawValue,
}

#[derive(Deserialize)]
struct VerifyReply {
    verification_status: String,
}

#[derive(Deserialize, Default)]
struct ApiErrorBody {
    name: Option<String>,
    message: Option<String>,
    #[serde(default)]
    details: Vec<ApiErrorDetail>,
}

#[derive(Deserialize)]
struct ApiErrorDetail {
    issue: Option<String>,
    description: Option<String>,
}

fn api_error(reply: &Reply) -> ProviderError {
    if reply.status == StatusCode::UNAUTHORIZED || reply.status == StatusCode::FORBIDDEN {
        return reply.unexpected("PayPal rejected the access token");
    }
    if !reply.status.is_client_error() {
        return reply.unexpected("PayPal");
    }
    let body = serde_json::from_slice::<ApiErrorBody>(&reply.body).unwrap_or_default();
    let detail = body.details.into_iter().next();
    let code = detail
        .as_ref()
        .and_then(|d| d.issue.clone())
        .or(body.name)
        .unwrap_or_else(|| reply.status.as_u16().to_string());
    let message = detail
        .and_then(|d| d.description)
        .or(body.message)
        .unwrap_or_default();
    if code == "CURRENCY_NOT_SUPPORTED" {
        return ProviderError::Unsupported(format!("PayPal: {message}"));
    }
    ProviderError::Declined { code, message }
}

fn require_currency(currency: &str, digits: u32) -> Result<(), ProviderError> {
    if !CURRENCIES.contains(&currency) {
        return Err(ProviderError::Unsupported(format!(
            "PayPal does not support {currency}"
        )));
    }
    if minor_digits(currency) != digits {
        return Err(ProviderError::Unsupported(format!(
            "PayPal sends {currency} with {} decimals, not {digits}",
            minor_digits(currency)
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct CreatedOrder {
    id: String,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    rel: String,
    href: String,
}

#[derive(Deserialize)]
struct CapturedOrder {
    #[serde(default)]
    purchase_units: Vec<CapturedUnit>,
}

#[derive(Deserialize)]
struct CapturedUnit {
    payments: Option<Payments>,
}

#[derive(Deserialize)]
struct Payments {
    #[serde(default)]
    captures: Vec<CaptureStatus>,
}

#[derive(Deserialize)]
struct CaptureStatus {
    id: String,
    status: String,
}

#[derive(Deserialize)]
struct CreatedRefund {
    id: String,
    status: Option<String>,
}

#[async_trait::async_trait]
impl PaymentProvider for Paypal {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    async fn create(&self, req: &CreatePayment<'_>) -> Result<CreatedPayment, ProviderError> {
        require_positive(req.amount)?;
        require_currency(req.currency, req.minor_digits)?;
        let body = serde_json::json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": req.payment_id,
                "custom_id": req.payment_id,
                "amount": {
                    "currency_code": req.currency,
                    "value": to_decimal_string(req.amount, req.minor_digits),
                },
            }],
            // No separate cancel page: the return page reads the payment's state either way.
            "application_context": { "return_url": req.return_url, "cancel_url": req.return_url },
        });
        let order: CreatedOrder = self
            .post_json("/v2/checkout/orders", req.idempotency_key, &body)
            .await?;
        let approve = order
            .links
            .into_iter()
            .find(|l| l.rel == "approve" || l.rel == "payer-action")
            .ok_or_else(|| ProviderError::BadResponse("PayPal order has no approve link".into()))?;
        tracing::debug!(payment_id = req.payment_id, order = %order.id, "paypal order created");
        Ok(CreatedPayment {
            provider_ref: order.id,
            redirect_url: Some(approve.href),
            client_secret: None,
        })
    }

    async fn capture(
        &self,
        provider_ref: &str,
        idempotency_key: &str,
    ) -> Result<Option<String>, ProviderError> {
        let path = format!(
            "/v2/checkout/orders/{}/capture",
            path_segment(provider_ref)?
        );
        let order: CapturedOrder = self
            .post_json(&path, idempotency_key, &serde_json::json!({}))
            .await?;
        let capture = order
            .purchase_units
            .into_iter()
            .filter_map(|u| u.payments)
            .flat_map(|p| p.captures)
            .next()
            .ok_or_else(|| ProviderError::BadResponse("PayPal capture has no captures".into()))?;
        match capture.status.as_str() {
            "COMPLETED" | "PENDING" => {
                tracing::debug!(order = provider_ref, capture = %capture.id, "paypal order captured");
                Ok(Some(capture.id))
            }
            status => Err(ProviderError::Declined {
                code: status.to_owned(),
                message: format!("capture {} is {status}", capture.id),
            }),
        }
    }

    async fn refund(&self, req: &RefundRequest<'_>) -> Result<RefundResult, ProviderError> {
        require_positive(req.amount)?;
        require_currency(req.currency, req.minor_digits)?;
        let capture = req.capture_ref.ok_or_else(|| {
            ProviderError::Unsupported("a PayPal refund needs the capture id".into())
        })?;
        let path = format!("/v2/payments/captures/{}/refund", path_segment(capture)?);
        let body = serde_json::json!({
            "amount": { "value": to_decimal_string(req.amount, req.minor_digits), "currency_code": req.currency },
            "custom_id": req.payment_id,
        });
        let refund: CreatedRefund = self.post_json(&path, req.refund_id, &body).await?;
        if let Some(status @ ("FAILED" | "CANCELLED")) = refund.status.as_deref() {
            return Err(ProviderError::Declined {
                code: status.to_owned(),
                message: format!("refund {}", refund.id),
            });
        }
        tracing::debug!(refund_id = req.refund_id, refund = %refund.id, "paypal refund created");
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
        let header = |name: &str| -> Result<&str, WebhookError> {
            req.headers
                .get(name)
                .ok_or_else(|| WebhookError::BadSignature(format!("no {name} header")))?
                .to_str()
                .map_err(|_| WebhookError::Malformed(format!("{name} is not ASCII")))
        };
        let transmission_time = header("paypal-transmission-time")?;
        let request = VerifyRequest {
            auth_algo: header("paypal-auth-algo")?,
            cert_url: header("paypal-cert-url")?,
            transmission_id: header("paypal-transmission-id")?,
            transmission_sig: header("paypal-transmission-sig")?,
            transmission_time,
            webhook_id: &self.config.webhook_id,
            webhook_event: serde_json::from_str(body_utf8(req.body)?)
                .map_err(|e| malformed_json("PayPal event", &e))?,
        };
        let sent_at = OffsetDateTime::parse(transmission_time, &Rfc3339)
            .map_err(|_| {
                WebhookError::Malformed("PAYPAL-TRANSMISSION-TIME is not RFC 3339".into())
            })?
            .unix_timestamp();
        if !self.postback(&request).await? {
            return Err(WebhookError::BadSignature("PayPal says FAILURE".into()));
        }
        if (now - sent_at).abs() > TIMESTAMP_TOLERANCE_SECS {
            return Err(WebhookError::Stale);
        }
        let event = parse_event(req.body)?;
        tracing::debug!(event_id = %event.event_id, event_type = %event.event_type, "paypal webhook verified");
        Ok(event)
    }
}

#[derive(Deserialize)]
struct Event {
    id: String,
    event_type: String,
    resource: serde_json::Value,
}

#[derive(Deserialize)]
struct Money {
    currency_code: String,
    value: String,
}

impl Money {
    fn minor_units(&self) -> Result<i64, WebhookError> {
        parse_decimal(&self.value, minor_digits(&self.currency_code))
            .map_err(|e| WebhookError::Malformed(format!("PayPal amount: {e}")))
    }
}

#[derive(Deserialize)]
struct Order {
    id: String,
    #[serde(default)]
    purchase_units: Vec<PurchaseUnit>,
}

#[derive(Deserialize)]
struct PurchaseUnit {
    custom_id: Option<String>,
}

#[derive(Deserialize)]
struct Capture {
    id: String,
    status: Option<String>,
    amount: Money,
    custom_id: Option<String>,
    supplementary_data: Option<SupplementaryData>,
}

#[derive(Deserialize)]
struct SupplementaryData {
    related_ids: Option<RelatedIds>,
}

#[derive(Deserialize)]
struct RelatedIds {
    order_id: Option<String>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    amount: Money,
    custom_id: Option<String>,
}

#[derive(Deserialize)]
struct Dispute {
    dispute_id: String,
    dispute_amount: Option<Money>,
    #[serde(default)]
    disputed_transactions: Vec<DisputedTransaction>,
    dispute_outcome: Option<DisputeOutcome>,
}

#[derive(Deserialize)]
struct DisputedTransaction {
    custom: Option<String>,
}

#[derive(Deserialize)]
struct DisputeOutcome {
    outcome_code: Option<String>,
}

/// Whatever locates an event we do not act on.
#[derive(Deserialize)]
struct AnyResource {
    id: Option<String>,
    custom_id: Option<String>,
    #[serde(default)]
    purchase_units: Vec<PurchaseUnit>,
}

/// Normalises a verified event body.
fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let event: Event =
        serde_json::from_slice(body).map_err(|e| malformed_json("PayPal event", &e))?;
    let resource = event.resource;
    let (lookup, kind) = match event.event_type.as_str() {
        "CHECKOUT.ORDER.APPROVED" => {
            let order: Order = resource_as(resource)?;
            (
                order_lookup(order.purchase_units, order.id),
                EventKind::Approved,
            )
        }
        "PAYMENT.CAPTURE.COMPLETED" => {
            let capture: Capture = resource_as(resource)?;
            let kind = EventKind::Succeeded {
                amount: capture.amount.minor_units()?,
                currency: capture.amount.currency_code.to_ascii_uppercase(),
                capture_ref: Some(capture.id.clone()),
            };
            (capture_lookup(capture)?, kind)
        }
        "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => {
            let capture: Capture = resource_as(resource)?;
            let reason = format!("capture {}", capture.status.as_deref().unwrap_or("DENIED"));
            let kind = EventKind::Failed {
                reason,
                amount: Some(capture.amount.minor_units()?),
            };
            (capture_lookup(capture)?, kind)
        }
        // A reversal (PayPal took the money back) moves money like a refund.
        "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED" => {
            let refund: Refund = resource_as(resource)?;
            let amount = refund.amount.minor_units()?;
            let lookup = Lookup::PaymentId(
                refund
                    .custom_id
                    .ok_or_else(|| WebhookError::Malformed("refund without custom_id".into()))?,
            );
            (
                lookup,
                EventKind::Refunded {
                    refunds: vec![ProviderRefund {
                        refund_ref: refund.id,
                        amount,
                    }],
                },
            )
        }
        "CUSTOMER.DISPUTE.CREATED" => {
            let dispute: Dispute = resource_as(resource)?;
            let amount = dispute
                .dispute_amount
                .as_ref()
                .ok_or_else(|| WebhookError::Malformed("dispute without dispute_amount".into()))?
                .minor_units()?;
            (
                dispute_lookup(&dispute)?,
                EventKind::DisputeOpened {
                    dispute_ref: dispute.dispute_id,
                    amount,
                },
            )
        }
        "CUSTOMER.DISPUTE.RESOLVED" => {
            let dispute: Dispute = resource_as(resource)?;
            let won = dispute
                .dispute_outcome
                .as_ref()
                .and_then(|o| o.outcome_code.as_deref())
                .is_some_and(|code| code == "RESOLVED_SELLER_FAVOUR");
            (
                dispute_lookup(&dispute)?,
                EventKind::DisputeClosed {
                    dispute_ref: dispute.dispute_id,
                    won,
                },
            )
        }
        _ => {
            let any: AnyResource = resource_as(resource)?;
            let lookup = match any.custom_id {
                Some(id) => Lookup::PaymentId(id),
                None => order_lookup(any.purchase_units, any.id.unwrap_or_default()),
            };
            (lookup, EventKind::Ignored)
        }
    };
    Ok(WebhookEvent {
        event_id: event.id,
        lookup,
        kind,
        event_type: event.event_type,
    })
}

fn resource_as<T: DeserializeOwned>(resource: serde_json::Value) -> Result<T, WebhookError> {
    serde_json::from_value(resource).map_err(|e| malformed_json("PayPal event resource", &e))
}

/// Our payment id when the order carries it, else the order id (our provider_ref).
fn order_lookup(units: Vec<PurchaseUnit>, order_id: String) -> Lookup {
    match units.into_iter().next().and_then(|u| u.custom_id) {
        Some(payment_id) => Lookup::PaymentId(payment_id),
        None => Lookup::ProviderRef(order_id),
    }
}

fn capture_lookup(capture: Capture) -> Result<Lookup, WebhookError> {
    let order_id = capture
        .supplementary_data
        .and_then(|s| s.related_ids)
        .and_then(|r| r.order_id);
    match (capture.custom_id, order_id) {
        (Some(payment_id), _) => Ok(Lookup::PaymentId(payment_id)),
        (None, Some(order_id)) => Ok(Lookup::ProviderRef(order_id)),
        (None, None) => Err(WebhookError::Malformed(
            "capture without custom_id or order id".into(),
        )),
    }
}

fn dispute_lookup(dispute: &Dispute) -> Result<Lookup, WebhookError> {
    dispute
        .disputed_transactions
        .first()
        .and_then(|t| t.custom.clone())
        .map(Lookup::PaymentId)
        .ok_or_else(|| {
            WebhookError::Malformed("dispute without disputed_transactions[0].custom".into())
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::post;

    use super::*;
    use crate::testkit::{headers, serve};

    // Reference §4.6.
    const VECTOR_BODY: &str = r#"{"id":"WH-TESTVECTOR-0001","event_version":"1.0","create_time":"2025-01-01T12:00:00.000Z","resource_type":"capture","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for $ 10.0 USD","resource":{"id":"CAPTURE123","status":"COMPLETED","amount":{"currency_code":"USD","value":"10.00"}}}"#;
    const VECTOR_ID: &str = "b2384410-f8d2-11ef-a5c5-1b6b4ef4b7a7";
    const VECTOR_TIME: &str = "2025-01-01T12:00:01Z";
    const VECTOR_WEBHOOK_ID: &str = "1JE4291016473214C";
    const VECTOR_NOW: i64 = 1735732801; // 2025-01-01T12:00:01Z

    #[test]
    fn the_signed_string_matches_the_reference_vector() {
        assert_eq!(VECTOR_BODY.len(), 303);
        assert_eq!(crc32fast::hash(b"123456789"), 3421780262);
        assert_eq!(crc32fast::hash(VECTOR_BODY.as_bytes()), 2495127144);
        assert_eq!(
            signed_string(
                VECTOR_ID,
                VECTOR_TIME,
                VECTOR_WEBHOOK_ID,
                VECTOR_BODY.as_bytes()
            ),
            "b2384410-f8d2-11ef-a5c5-1b6b4ef4b7a7|2025-01-01T12:00:01Z|1JE4291016473214C|2495127144"
        );
        let flipped = VECTOR_BODY.replace("10.00", "10.01");
        assert_ne!(
            signed_string(
                VECTOR_ID,
                VECTOR_TIME,
                VECTOR_WEBHOOK_ID,
                flipped.as_bytes()
            ),
            signed_string(
                VECTOR_ID,
                VECTOR_TIME,
                VECTOR_WEBHOOK_ID,
                VECTOR_BODY.as_bytes()
            )
        );
    }

    fn event(event_type: &str, resource: &str) -> String {
        format!(
            r#"{{"id":"WH-1","event_version":"1.0","create_time":"2025-01-01T12:00:00Z","resource_type":"x","event_type":"{event_type}","summary":"s","resource":{resource}}}"#
        )
    }

    #[test]
    fn order_approved_asks_the_caller_to_capture() {
        let e = parse_event(
            event(
                "CHECKOUT.ORDER.APPROVED",
                r#"{"id":"5O190127TN364715T","status":"APPROVED","purchase_units":[{"reference_id":"01PAY","custom_id":"01PAY","amount":{"currency_code":"USD","value":"12.50"}}]}"#,
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.event_id, "WH-1");
        assert_eq!(e.event_type, "CHECKOUT.ORDER.APPROVED");
        assert_eq!(
            (e.lookup, e.kind),
            (Lookup::PaymentId("01PAY".into()), EventKind::Approved)
        );
    }

    #[test]
    fn capture_completed_and_denied_carry_the_capture() {
        let resource = r#"{"id":"CAP1","status":"STATUS","amount":{"currency_code":"USD","value":"12.50"},"custom_id":"01PAY","supplementary_data":{"related_ids":{"order_id":"ORD1"}}}"#;
        let e = parse_event(
            event(
                "PAYMENT.CAPTURE.COMPLETED",
                &resource.replace("STATUS", "COMPLETED"),
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.lookup, Lookup::PaymentId("01PAY".into()));
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: 1250,
                currency: "USD".into(),
                capture_ref: Some("CAP1".into())
            }
        );
        let e = parse_event(
            event(
                "PAYMENT.CAPTURE.DENIED",
                &resource.replace("STATUS", "DECLINED"),
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            e.kind,
            EventKind::Failed {
                reason: "capture DECLINED".into(),
                amount: Some(1250)
            }
        );
        // Without custom_id the order id (our provider_ref) still finds the payment.
        let bare = r#"{"id":"CAP1","status":"COMPLETED","amount":{"currency_code":"JPY","value":"1500"},"supplementary_data":{"related_ids":{"order_id":"ORD1"}}}"#;
        let e = parse_event(event("PAYMENT.CAPTURE.COMPLETED", bare).as_bytes()).unwrap();
        assert_eq!(e.lookup, Lookup::ProviderRef("ORD1".into()));
        assert!(matches!(e.kind, EventKind::Succeeded { amount: 1500, .. }));
    }

    #[test]
    fn the_reference_vector_event_is_a_success_needing_a_custom_id() {
        // The vector's capture has neither custom_id nor order id: it cannot be located.
        let err = parse_event(VECTOR_BODY.as_bytes()).unwrap_err();
        assert!(matches!(err, WebhookError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn capture_refunded_is_the_one_refund() {
        let e = parse_event(
            event(
                "PAYMENT.CAPTURE.REFUNDED",
                r#"{"id":"REF1","status":"COMPLETED","amount":{"currency_code":"USD","value":"5"},"custom_id":"01PAY","links":[{"rel":"up","href":"http://x/v2/payments/captures/CAP1"}]}"#,
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(e.lookup, Lookup::PaymentId("01PAY".into()));
        assert_eq!(
            e.kind,
            EventKind::Refunded {
                refunds: vec![ProviderRefund {
                    refund_ref: "REF1".into(),
                    amount: 500
                }]
            }
        );
    }

    #[test]
    fn disputes_open_and_resolve_with_the_outcome() {
        let resource = r#"{"dispute_id":"PP-D-1","status":"STATUS","dispute_amount":{"currency_code":"USD","value":"12.50"},"disputed_transactions":[{"seller_transaction_id":"CAP1","custom":"01PAY"}]OUTCOME}"#;
        let created = resource.replace("STATUS", "OPEN").replace("OUTCOME", "");
        let e = parse_event(event("CUSTOMER.DISPUTE.CREATED", &created).as_bytes()).unwrap();
        assert_eq!(e.lookup, Lookup::PaymentId("01PAY".into()));
        assert_eq!(
            e.kind,
            EventKind::DisputeOpened {
                dispute_ref: "PP-D-1".into(),
                amount: 1250
            }
        );
        for (code, won) in [
            ("RESOLVED_SELLER_FAVOUR", true),
            ("RESOLVED_BUYER_FAVOUR", false),
        ] {
            let resolved = resource.replace("STATUS", "RESOLVED").replace(
                "OUTCOME",
                &format!(r#","dispute_outcome":{{"outcome_code":"{code}"}}"#),
            );
            let e = parse_event(event("CUSTOMER.DISPUTE.RESOLVED", &resolved).as_bytes()).unwrap();
            assert_eq!(
                e.kind,
                EventKind::DisputeClosed {
                    dispute_ref: "PP-D-1".into(),
                    won
                },
                "{code}"
            );
        }
    }

    #[test]
    fn other_events_are_ignored_and_bad_amounts_are_malformed() {
        let e = parse_event(
            event(
                "PAYMENT.CAPTURE.PENDING",
                r#"{"id":"CAP1","custom_id":"01PAY"}"#,
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (e.kind, e.lookup),
            (EventKind::Ignored, Lookup::PaymentId("01PAY".into()))
        );
        for value in ["12.505", "12,50", "-1.00", ""] {
            let resource = format!(
                r#"{{"id":"CAP1","amount":{{"currency_code":"USD","value":"{value}"}},"custom_id":"01PAY"}}"#
            );
            let err =
                parse_event(event("PAYMENT.CAPTURE.COMPLETED", &resource).as_bytes()).unwrap_err();
            assert!(
                matches!(err, WebhookError::Malformed(_)),
                "{value}: {err:?}"
            );
        }
        let err = parse_event(&VECTOR_BODY.as_bytes()[..150]).unwrap_err();
        assert!(matches!(err, WebhookError::Malformed(_)), "{err:?}");
    }

    /// A stand-in for PayPal's API: counts token fetches, checks the postback embeds the exact
    /// body, and says SUCCESS for the signature `good`.
    #[derive(Default)]
    struct Fake {
        tokens: AtomicUsize,
        /// Answer 401 to this many API calls first (a revoked token).
        reject_next: AtomicUsize,
        last_event: std::sync::Mutex<String>,
    }

    async fn token(
        State(fake): State<Arc<Fake>>,
        h: HeaderMap,
        body: String,
    ) -> axum::Json<serde_json::Value> {
        // "local-id:local-secret" in base64.
        assert_eq!(h["authorization"], "Basic bG9jYWwtaWQ6bG9jYWwtc2VjcmV0");
        assert_eq!(body, "grant_type=client_credentials");
        let n = fake.tokens.fetch_add(1, Ordering::SeqCst);
        axum::Json(
            serde_json::json!({"access_token": format!("tok{n}"), "token_type": "Bearer", "expires_in": 32400}),
        )
    }

    fn authorized(fake: &Fake, h: &HeaderMap) -> bool {
        let n = fake.tokens.load(Ordering::SeqCst);
        let current = h["authorization"] == format!("Bearer tok{}", n.saturating_sub(1)).as_str();
        let rejected = fake
            .reject_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
            .is_ok();
        current && !rejected
    }

    async fn verify_endpoint(
        State(fake): State<Arc<Fake>>,
        h: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        if !authorized(&fake, &h) {
            return (StatusCode::UNAUTHORIZED, "{}".into());
        }
        #[derive(Deserialize)]
        struct Postback<'a> {
            transmission_id: String,
            transmission_sig: String,
            webhook_id: String,
            #[serde(borrow)]
            webhook_event: &'a RawValue,
        }
        let p: Postback = serde_json::from_str(&body).unwrap();
        *fake.last_event.lock().unwrap() = p.webhook_event.get().to_owned();
        if p.transmission_id == "boom" {
            return (StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
        }
        let ok = p.transmission_sig == "good" && p.webhook_id == "WH-ID-LOCAL";
        let status = if ok { "SUCCESS" } else { "FAILURE" };
        (
            StatusCode::OK,
            serde_json::json!({ "verification_status": status }).to_string(),
        )
    }

    async fn orders(
        State(fake): State<Arc<Fake>>,
        h: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        if !authorized(&fake, &h) {
            return (StatusCode::UNAUTHORIZED, "{}".into());
        }
        assert_eq!(h["paypal-request-id"], "idem-1");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["purchase_units"][0]["amount"]["value"], "12.50");
        assert_eq!(v["purchase_units"][0]["custom_id"], "01PAY");
        let order = serde_json::json!({"id":"ORD1","status":"CREATED","links":[{"rel":"self","href":"x","method":"GET"},{"rel":"approve","href":"http://pp/checkoutnow?token=ORD1","method":"GET"}]});
        (StatusCode::CREATED, order.to_string())
    }

    async fn capture(h: HeaderMap) -> (StatusCode, String) {
        let status = if h["paypal-request-id"] == "fail" {
            "DECLINED"
        } else {
            "COMPLETED"
        };
        let order = serde_json::json!({"id":"ORD1","status":"COMPLETED","purchase_units":[{"reference_id":"01PAY","payments":{"captures":[{"id":"CAP1","status":status,"amount":{"currency_code":"USD","value":"12.50"},"custom_id":"01PAY"}]}}]});
        (StatusCode::CREATED, order.to_string())
    }

    async fn refund(body: String) -> (StatusCode, String) {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["amount"]["value"] == "99.00" {
            let e = serde_json::json!({"name":"UNPROCESSABLE_ENTITY","details":[{"issue":"REFUND_AMOUNT_EXCEEDED","description":"too much"}]});
            return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        }
        (
            StatusCode::CREATED,
            serde_json::json!({"id":"REF1","status":"COMPLETED"}).to_string(),
        )
    }

    async fn paypal_with_fake() -> (Paypal, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        let router = axum::Router::new()
            .route("/v1/oauth2/token", post(token))
            .route(
                "/v1/notifications/verify-webhook-signature",
                post(verify_endpoint),
            )
            .route("/v2/checkout/orders", post(orders))
            .route("/v2/checkout/orders/{id}/capture", post(capture))
            .route("/v2/payments/captures/{id}/refund", post(refund))
            .with_state(fake.clone());
        let base = serve(router).await;
        let config = PaypalConfig::from_secret_json(
            r#"{"client_id":"local-id","client_secret":"local-secret","webhook_id":"WH-ID-LOCAL"}"#,
            &base,
        )
        .unwrap();
        (Paypal::new(config, crate::http_client()), fake)
    }

    fn transmission(id: &str, sig: &str, time: &str) -> http::HeaderMap {
        headers(&[
            ("paypal-transmission-id", id),
            ("paypal-transmission-time", time),
            ("paypal-transmission-sig", sig),
            (
                "paypal-cert-url",
                "https://api.paypal.com/v1/notifications/certs/CERT-local",
            ),
            ("paypal-auth-algo", "SHA256withRSA"),
        ])
    }

    async fn verify(
        p: &Paypal,
        headers: &http::HeaderMap,
        body: &str,
        now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        let req = WebhookRequest {
            method: "POST",
            headers,
            query: "",
            body: body.as_bytes(),
        };
        p.verify_webhook(&req, now).await
    }

    #[tokio::test]
    async fn a_verified_webhook_is_posted_back_byte_for_byte_with_one_cached_token() {
        let (p, fake) = paypal_with_fake().await;
        // Whitespace and escapes that a re-serialisation would change.
        let body = "{ \"id\" : \"WH-2\",\n \"event_type\":\"PAYMENT.CAPTURE.COMPLETED\", \"summary\":\"caf\\u00e9\",\n \"resource\":{\"id\":\"CAP1\",\"amount\":{\"currency_code\":\"USD\",\"value\":\"12.50\"},\"custom_id\":\"01PAY\",\"x\":1.0E2}}";
        let h = transmission("t-1", "good", VECTOR_TIME);
        let e = verify(&p, &h, body, VECTOR_NOW).await.unwrap();
        assert_eq!(*fake.last_event.lock().unwrap(), body);
        assert_eq!(e.event_id, "WH-2");
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: 1250,
                currency: "USD".into(),
                capture_ref: Some("CAP1".into())
            }
        );
        verify(&p, &h, body, VECTOR_NOW).await.unwrap();
        assert_eq!(fake.tokens.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_verification_is_a_bad_signature_and_an_outage_is_unavailable() {
        let (p, _) = paypal_with_fake().await;
        let body = event(
            "CHECKOUT.ORDER.APPROVED",
            r#"{"id":"ORD1","purchase_units":[{"custom_id":"01PAY"}]}"#,
        );
        let err = verify(
            &p,
            &transmission("t-1", "forged", VECTOR_TIME),
            &body,
            VECTOR_NOW,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
        let err = verify(
            &p,
            &transmission("boom", "good", VECTOR_TIME),
            &body,
            VECTOR_NOW,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::Unavailable(_))), "{err:?}");
        let mut missing = transmission("t-1", "good", VECTOR_TIME);
        missing.remove("paypal-transmission-sig");
        let err = verify(&p, &missing, &body, VECTOR_NOW).await;
        assert!(matches!(err, Err(WebhookError::BadSignature(_))), "{err:?}");
        let err = verify(
            &p,
            &transmission("t-1", "good", "yesterday"),
            &body,
            VECTOR_NOW,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::Malformed(_))), "{err:?}");
        let err = verify(
            &p,
            &transmission("t-1", "good", VECTOR_TIME),
            "{\"id\":",
            VECTOR_NOW,
        )
        .await;
        assert!(matches!(err, Err(WebhookError::Malformed(_))), "{err:?}");
    }

    #[tokio::test]
    async fn an_old_or_future_transmission_is_stale() {
        let (p, _) = paypal_with_fake().await;
        let body = event(
            "CHECKOUT.ORDER.APPROVED",
            r#"{"id":"ORD1","purchase_units":[{"custom_id":"01PAY"}]}"#,
        );
        let h = transmission("t-1", "good", VECTOR_TIME);
        assert!(matches!(
            verify(&p, &h, &body, VECTOR_NOW + 400).await,
            Err(WebhookError::Stale)
        ));
        assert!(matches!(
            verify(&p, &h, &body, VECTOR_NOW - 400).await,
            Err(WebhookError::Stale)
        ));
        verify(&p, &h, &body, VECTOR_NOW + 300).await.unwrap();
    }

    #[tokio::test]
    async fn a_revoked_token_is_renewed_once() {
        let (p, fake) = paypal_with_fake().await;
        let body = event(
            "CHECKOUT.ORDER.APPROVED",
            r#"{"id":"ORD1","purchase_units":[{"custom_id":"01PAY"}]}"#,
        );
        let h = transmission("t-1", "good", VECTOR_TIME);
        verify(&p, &h, &body, VECTOR_NOW).await.unwrap();
        fake.reject_next.store(1, Ordering::SeqCst);
        verify(&p, &h, &body, VECTOR_NOW).await.unwrap();
        assert_eq!(fake.tokens.load(Ordering::SeqCst), 2);
    }

    fn payment() -> CreatePayment<'static> {
        CreatePayment {
            payment_id: "01PAY",
            amount: 1250,
            currency: "USD",
            minor_digits: 2,
            description: "d",
            return_url: "http://x/return",
            webhook_url: "http://x/hook",
            client_ip: "127.0.0.1",
            created_at: 0,
            expires_at: 900,
            idempotency_key: "idem-1",
        }
    }

    fn refund_request(amount: i64) -> RefundRequest<'static> {
        RefundRequest {
            payment_id: "01PAY",
            refund_id: "01REF",
            provider_ref: "ORD1",
            capture_ref: Some("CAP1"),
            amount,
            paid_amount: 1250,
            currency: "USD",
            minor_digits: 2,
            reason: "",
            payment_created_at: 0,
            client_ip: "127.0.0.1",
        }
    }

    #[tokio::test]
    async fn an_order_is_created_captured_and_refunded() {
        let (p, _) = paypal_with_fake().await;
        let created = p.create(&payment()).await.unwrap();
        assert_eq!(created.provider_ref, "ORD1");
        assert_eq!(
            created.redirect_url.as_deref(),
            Some("http://pp/checkoutnow?token=ORD1")
        );
        assert_eq!(
            p.capture("ORD1", "cap-1").await.unwrap().as_deref(),
            Some("CAP1")
        );
        let err = p.capture("ORD1", "fail").await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Declined { code, .. } if code == "DECLINED"),
            "{err:?}"
        );
        assert_eq!(
            p.refund(&refund_request(500))
                .await
                .unwrap()
                .provider_refund_ref,
            "REF1"
        );
        let err = p.refund(&refund_request(9900)).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Declined { code, .. } if code == "REFUND_AMOUNT_EXCEEDED"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn vnd_and_odd_ids_are_refused_before_any_call() {
        let (p, fake) = paypal_with_fake().await;
        let vnd = CreatePayment {
            currency: "VND",
            minor_digits: 0,
            ..payment()
        };
        assert!(matches!(
            p.create(&vnd).await,
            Err(ProviderError::Unsupported(_))
        ));
        let jpy_cents = CreatePayment {
            currency: "JPY",
            minor_digits: 2,
            ..payment()
        };
        assert!(matches!(
            p.create(&jpy_cents).await,
            Err(ProviderError::Unsupported(_))
        ));
        assert!(matches!(
            p.capture("../v1/x", "k").await,
            Err(ProviderError::Unsupported(_))
        ));
        let no_capture = RefundRequest {
            capture_ref: None,
            ..refund_request(100)
        };
        assert!(matches!(
            p.refund(&no_capture).await,
            Err(ProviderError::Unsupported(_))
        ));
        assert_eq!(fake.tokens.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let c = PaypalConfig::from_secret_json(
            r#"{"client_id":"id","client_secret":"s3cr3t","webhook_id":"w"}"#,
            "u",
        )
        .unwrap();
        let p = Paypal::new(c.clone(), reqwest::Client::new());
        assert!(!format!("{c:?} {p:?}").contains("s3cr3t"));
        assert!(
            PaypalConfig::from_secret_json(r#"{"client_id":"id","client_secret":"s"}"#, "u")
                .is_err()
        );
    }
}
