//! Provider callbacks: `POST /api/v1/payments/{stripe,paypal,momo}/webhook` and
//! `GET|POST /api/v1/payments/vnpay/webhook`. No JWT: each request is verified with its
//! provider's own scheme over the exact raw bytes received (`payment_providers`), then applied
//! once with `shared::payments::ops`. A webhook costs at most two reads (the pointer from the
//! provider's reference; then payment, orders, escrows, dispute, dedupe record in one batch)
//! and one `TransactWriteItems`. Each provider gets its own answer: Stripe / PayPal a 2xx or a
//! 4xx problem, VNPay always 200 with its `RspCode`, MoMo 204.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use payment_providers::registry::Providers;
use payment_providers::{
    EventKind, Lookup, ProviderKind, WebhookError, WebhookEvent, WebhookRequest,
};
use shared::domain::{Currency, Money};
use shared::metrics::{self, PaymentOutcome, WebhookRejection};
use shared::payments::ops::{self, Dedupe, OpError};
use shared::payments::{self, DISPUTE_ENTITY, DisputeRecord, PaymentRecord, PaymentRef};
use shared::store::{from_item, keys};
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const TAG: &str = "webhooks";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(stripe))
        .routes(routes!(paypal))
        .routes(routes!(vnpay_get, vnpay_post))
        .routes(routes!(momo))
}

pub fn router(state: AppState, providers: Providers) -> axum::Router {
    let (routes, _) = api().split_for_parts();
    shared::http::finish(routes.layer(extension(providers)), state)
}

/// The extension layer the routes of [`api`] need (the dev server adds it to its merged router).
pub fn extension(providers: Providers) -> Extension<std::sync::Arc<Providers>> {
    Extension(std::sync::Arc::new(providers))
}

type Adapters = Extension<std::sync::Arc<Providers>>;

/// What became of a verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Already applied (a redelivery, or an event older than the state it would set).
    AlreadyDone,
    /// Not a payment of ours.
    Unknown,
    /// The amount differs from the payment's: refused, logged as an incident.
    AmountMismatch,
    /// Refused by signature, timestamp or encoding.
    Rejected(String),
    /// Depends on something not there yet (a refund before its success, our own refund in
    /// flight); the provider should deliver it again later.
    RetryLater(String),
}

/// Verifies and applies one callback.
async fn handle(
    state: &AppState,
    providers: &Providers,
    kind: ProviderKind,
    method: &HttpMethod,
    headers: &HeaderMap,
    query: Option<String>,
    body: &[u8],
) -> Result<Outcome, ApiError> {
    let Some(adapter) = providers.get(kind) else {
        return Ok(Outcome::RetryLater("provider not configured".into()));
    };
    let query = query.unwrap_or_default();
    let request = WebhookRequest {
        method: method.as_str(),
        headers,
        query: &query,
        body,
    };
    let event = match adapter.verify_webhook(&request, shared::now_epoch()).await {
        Ok(event) => event,
        Err(WebhookError::Unavailable(why)) => return Ok(Outcome::RetryLater(why)),
        Err(e) => {
            tracing::warn!(provider = kind.as_str(), error = %e, "webhook refused");
            metrics::webhook_rejected(rejection(&e));
            return Ok(Outcome::Rejected(e.to_string()));
        }
    };
    tracing::info!(provider = kind.as_str(), event_id = %event.event_id, event_type = %event.event_type, "webhook verified");
    if matches!(event.kind, EventKind::Ignored) {
        return Ok(Outcome::AlreadyDone);
    }
    let outcome = apply(state, providers, kind, &event).await?;
    tracing::info!(provider = kind.as_str(), event_id = %event.event_id, outcome = ?outcome, "webhook handled");
    Ok(outcome)
}

/// The keys an event needs read beside its payment: its dedupe record, the guards of the
/// refunds it reports, the dispute it closes.
fn extra_keys(provider: &str, event: &WebhookEvent) -> Vec<(String, String)> {
    let mut wanted = vec![keys::webhook_event(provider, &event.event_id)];
    match &event.kind {
        EventKind::Refunded { refunds } => wanted.extend(
            refunds
                .iter()
                .map(|r| keys::provider_refund(provider, &r.refund_ref)),
        ),
        EventKind::DisputeClosed { dispute_ref, .. } => {
            wanted.push(keys::dispute(provider, dispute_ref));
        }
        _ => {}
    }
    wanted
}

fn op_outcome(e: OpError) -> Result<Outcome, ApiError> {
    Ok(match e {
        OpError::Duplicate | OpError::AlreadyFinal => Outcome::AlreadyDone,
        OpError::AmountMismatch { .. } => {
            metrics::webhook_rejected(WebhookRejection::AmountMismatch);
            Outcome::AmountMismatch
        }
        OpError::NotRefundable { .. } => {
            Outcome::RetryLater("nothing captured to refund yet".into())
        }
        OpError::Raced => Outcome::RetryLater("changed concurrently".into()),
        OpError::InsufficientBalance(a) => {
            tracing::error!(incident = true, account = %a, "provider event needs more than a balance holds");
            Outcome::RetryLater("balance does not cover it".into())
        }
        OpError::Invalid(m) => return Err(ApiError::internal(anyhow::anyhow!(m))),
        OpError::Store(e) => return Err(e.into()),
    })
}

async fn apply(
    state: &AppState,
    providers: &Providers,
    kind: ProviderKind,
    event: &WebhookEvent,
) -> Result<Outcome, ApiError> {
    let method = kind.method();
    let provider = method.as_str();
    let pointer_key = match &event.lookup {
        Lookup::PaymentId(id) => keys::payment_ref(keys::PAYREF_BY_ID, id),
        Lookup::ProviderRef(r) => keys::payment_ref(provider, r),
    };
    let Some(pointer) = state.db.get::<PaymentRef>(pointer_key).await? else {
        tracing::warn!(provider, event_id = %event.event_id, "webhook for an unknown payment");
        return Ok(Outcome::Unknown);
    };
    let seen = Dedupe {
        provider,
        event_id: &event.event_id,
    };
    let dedupe = Some(seen);
    let extra = extra_keys(provider, event);
    // One retry when an order moved between our read and our write (it expired meanwhile).
    for attempt in 0..2 {
        let Some(l) = payments::load(&state.db, &pointer, &extra).await? else {
            return Ok(Outcome::Unknown);
        };
        if l.has(&keys::webhook_event(provider, &event.event_id).0) {
            return Ok(Outcome::AlreadyDone);
        }
        if l.payment.method != method {
            tracing::warn!(incident = true, provider, payment_id = %l.payment.id, "webhook from another provider than the payment's");
            return Ok(Outcome::Unknown);
        }
        let result = match &event.kind {
            EventKind::Succeeded {
                amount,
                currency,
                capture_ref,
            } => {
                let Some(currency) = parse_currency(currency) else {
                    return Ok(mismatch(&l.payment, *amount, currency));
                };
                match ops::capture(
                    &state.db,
                    &l.payment,
                    &l.orders,
                    Money::new(*amount, currency),
                    capture_ref.clone(),
                    dedupe,
                )
                .await
                {
                    Err(OpError::AmountMismatch { .. }) => {
                        return Ok(mismatch(&l.payment, *amount, &format!("{currency:?}")));
                    }
                    other => other.map(|c| {
                        metrics::payment(provider, PaymentOutcome::Captured);
                        if c.late_amount > 0 {
                            tracing::warn!(payment_id = %l.payment.id, late = c.late_amount, "payment arrived after its orders expired; it will be refunded");
                        }
                    }),
                }
            }
            EventKind::Failed { reason, .. } => {
                match ops::fail(&state.db, &l.payment, &l.orders, reason, dedupe).await {
                    // A failure after a success: recorded, nothing changes.
                    Err(OpError::AlreadyFinal) => ops::acknowledge(&state.db, seen).await,
                    other => other.inspect(|_| metrics::payment(provider, PaymentOutcome::Failed)),
                }
            }
            EventKind::Approved => {
                let adapter = providers.get(kind).expect("checked by handle");
                let order_ref = l.payment.provider_ref.as_deref().unwrap_or(&l.payment.id);
                return Ok(match adapter.capture(order_ref, &l.payment.id).await {
                    Ok(_) => Outcome::Applied,
                    Err(e) => {
                        tracing::warn!(payment_id = %l.payment.id, error = %e, "capture after approval failed");
                        Outcome::RetryLater(e.to_string())
                    }
                });
            }
            EventKind::Refunded { refunds } => {
                let unknown: Vec<_> = refunds
                    .iter()
                    .filter(|r| !l.has(&keys::provider_refund(provider, &r.refund_ref).0))
                    .collect();
                match unknown.as_slice() {
                    [] => ops::acknowledge(&state.db, seen).await,
                    // Our own refund may still be between its provider call and its booking.
                    _ if l.payment.refund_pending > 0 => {
                        return Ok(Outcome::RetryLater("a refund of ours is in flight".into()));
                    }
                    [one] => ops::book_provider_refund(
                        &state.db,
                        &l.payment,
                        &l.escrows,
                        &one.refund_ref,
                        one.amount,
                        dedupe,
                    )
                    .await
                    .inspect(|_| metrics::payment(provider, PaymentOutcome::Refunded)),
                    // Several new refunds in one event: book one per delivery; the provider's
                    // next delivery (or ours, on a retry) books the next.
                    [first, ..] => {
                        let booked = ops::book_provider_refund(
                            &state.db,
                            &l.payment,
                            &l.escrows,
                            &first.refund_ref,
                            first.amount,
                            None,
                        )
                        .await;
                        return match booked {
                            Ok(()) => {
                                metrics::payment(provider, PaymentOutcome::Refunded);
                                Ok(Outcome::RetryLater("more refunds to book".into()))
                            }
                            Err(e) => op_outcome(e),
                        };
                    }
                }
            }
            EventKind::DisputeOpened {
                dispute_ref,
                amount,
            } => ops::open_dispute(
                &state.db,
                &l.payment,
                &l.escrows,
                dispute_ref,
                *amount,
                dedupe,
            )
            .await
            .map(|_| ()),
            EventKind::DisputeClosed { won, .. } => {
                let dispute = l
                    .extra
                    .iter()
                    .find(|i| {
                        i.get("entity_type")
                            .and_then(|v| v.as_s().ok())
                            .map(String::as_str)
                            == Some(DISPUTE_ENTITY)
                    })
                    .map(|i| from_item::<DisputeRecord>(i.clone()))
                    .transpose()?;
                match dispute {
                    None => {
                        return Ok(Outcome::RetryLater(
                            "the dispute's opening is not known yet".into(),
                        ));
                    }
                    Some(d) => ops::close_dispute(&state.db, &d, &l.escrows, *won, dedupe).await,
                }
            }
            EventKind::Ignored => return Ok(Outcome::AlreadyDone),
        };
        match result {
            Ok(()) => return Ok(Outcome::Applied),
            Err(OpError::Raced) if attempt == 0 => continue,
            Err(e) => return op_outcome(e),
        }
    }
    Ok(Outcome::RetryLater("changed concurrently".into()))
}

/// The `Reason` of a refused webhook's metric.
fn rejection(e: &WebhookError) -> WebhookRejection {
    match e {
        WebhookError::BadSignature(_) => WebhookRejection::Signature,
        WebhookError::Stale => WebhookRejection::Stale,
        WebhookError::Malformed(_) | WebhookError::Unavailable(_) => WebhookRejection::Malformed,
    }
}

fn parse_currency(code: &str) -> Option<Currency> {
    serde_json::from_value(serde_json::Value::String(code.to_ascii_uppercase())).ok()
}

fn mismatch(payment: &PaymentRecord, got: i64, currency: &str) -> Outcome {
    tracing::error!(incident = true, payment_id = %payment.id, expected = payment.amount, expected_currency = ?payment.currency, got, currency, "webhook amount differs from the payment; refused");
    metrics::webhook_rejected(WebhookRejection::AmountMismatch);
    Outcome::AmountMismatch
}

/// Stripe and PayPal: 2xx for anything recorded or not ours, 400 for a refused event, 503 to
/// be delivered again.
fn json_answer(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Applied | Outcome::AlreadyDone | Outcome::Unknown => (
            StatusCode::OK,
            Json(serde_json::json!({ "received": true })),
        )
            .into_response(),
        Outcome::AmountMismatch => {
            ApiError::field("amount", "does not match the payment").into_response()
        }
        Outcome::Rejected(why) => {
            ApiError::BadRequest(format!("webhook refused: {why}")).into_response()
        }
        Outcome::RetryLater(_) => ApiError::Unavailable {
            retry_after_secs: 60,
        }
        .into_response(),
    }
}

fn answer(kind: ProviderKind, result: Result<Outcome, ApiError>) -> Response {
    match (kind, result) {
        (ProviderKind::Vnpay, Ok(outcome)) => {
            let code = match outcome {
                Outcome::Applied => "00",
                Outcome::AlreadyDone => "02",
                Outcome::Unknown => "01",
                Outcome::AmountMismatch => "04",
                Outcome::Rejected(_) => "97",
                Outcome::RetryLater(_) => "99",
            };
            (
                StatusCode::OK,
                Json(payment_providers::vnpay::ipn_reply(code)),
            )
                .into_response()
        }
        (ProviderKind::Vnpay, Err(e)) => {
            tracing::error!(error = %e, "VNPay IPN failed");
            (
                StatusCode::OK,
                Json(payment_providers::vnpay::ipn_reply("99")),
            )
                .into_response()
        }
        (ProviderKind::Momo, Ok(Outcome::Applied | Outcome::AlreadyDone)) => {
            StatusCode::NO_CONTENT.into_response()
        }
        (ProviderKind::Momo, Ok(Outcome::Unknown)) => {
            ApiError::NotFound("no such order".into()).into_response()
        }
        (_, Ok(outcome)) => json_answer(outcome),
        (_, Err(e)) => e.into_response(),
    }
}

/// Webhook answers, as the providers read them.
struct WebhookAnswers;

impl utoipa::IntoResponses for WebhookAnswers {
    fn responses() -> shared::openapi::Responses {
        [
            ("400", "Forged, stale, tampered, truncated or wrongly encoded (nothing was written)"),
            ("422", "Genuine, but its amount differs from the payment's: refused and logged as an incident (nothing was written)"),
            ("413", "The body is larger than 64 KiB"),
            ("503", "Not applicable yet (e.g. a refund before its payment succeeded): deliver it again later"),
        ]
        .into_iter()
        .map(|(s, d)| (s.to_owned(), shared::openapi::problem(d)))
        .collect()
    }
}

/// Stripe: `Stripe-Signature` (`t=`, one or more `v1=`, HMAC-SHA256 over `t.` + body, 300 s).
#[utoipa::path(post, path = "/api/v1/payments/stripe/webhook", tag = TAG,
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex>[,v1=<hex>…]")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "A Stripe Event, verified over its exact bytes"),
    responses(
        (status = 200, description = "Recorded (or not a payment of ours)"),
        WebhookAnswers,
    ))]
async fn stripe(
    State(state): State<AppState>,
    Extension(p): Adapters,
    method: HttpMethod,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = handle(
        &state,
        &p,
        ProviderKind::Stripe,
        &method,
        &headers,
        None,
        &body,
    )
    .await;
    answer(ProviderKind::Stripe, r)
}

/// PayPal: verified with PayPal's `verify-webhook-signature` over the exact received event.
#[utoipa::path(post, path = "/api/v1/payments/paypal/webhook", tag = TAG,
    request_body(content = serde_json::Value, content_type = "application/json", description = "A PayPal webhook event with its PAYPAL-TRANSMISSION-* headers"),
    responses(
        (status = 200, description = "Recorded (or not a payment of ours)"),
        WebhookAnswers,
    ))]
async fn paypal(
    State(state): State<AppState>,
    Extension(p): Adapters,
    method: HttpMethod,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = handle(
        &state,
        &p,
        ProviderKind::Paypal,
        &method,
        &headers,
        None,
        &body,
    )
    .await;
    answer(ProviderKind::Paypal, r)
}

/// VNPay IPN (a GET with `vnp_*` parameters and `vnp_SecureHash`, HMAC-SHA512). Always 200
/// with `RspCode`: 00 recorded (not necessarily paid), 01 unknown order, 02 already final,
/// 04 wrong amount, 97 bad signature, 99 error.
#[utoipa::path(get, path = "/api/v1/payments/vnpay/webhook", tag = TAG,
    params(
        ("vnp_TxnRef" = Option<String>, Query, description = "Our payment id"),
        ("vnp_Amount" = Option<String>, Query, description = "Amount × 100"),
        ("vnp_SecureHash" = Option<String>, Query, description = "HMAC-SHA512 of the sorted parameters"),
    ),
    responses(
        (status = 200, description = "VNPay's answer `{RspCode, Message}`", body = serde_json::Value),
        (status = 413, description = "Too large", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
async fn vnpay_get(
    State(state): State<AppState>,
    Extension(p): Adapters,
    method: HttpMethod,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let r = handle(
        &state,
        &p,
        ProviderKind::Vnpay,
        &method,
        &headers,
        query,
        &[],
    )
    .await;
    answer(ProviderKind::Vnpay, r)
}

/// VNPay IPN delivered as a POST (query string or form body); same answers as the GET.
#[utoipa::path(post, path = "/api/v1/payments/vnpay/webhook", tag = TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The vnp_* parameters, form-encoded"),
    responses(
        (status = 200, description = "VNPay's answer `{RspCode, Message}`", body = serde_json::Value),
        (status = 413, description = "Too large", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
async fn vnpay_post(
    State(state): State<AppState>,
    Extension(p): Adapters,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    // The parameters are the query string, or the form body when there is none.
    let params = match query.filter(|q| !q.is_empty()) {
        Some(q) => Some(q),
        None => std::str::from_utf8(&body).ok().map(str::to_owned),
    };
    let r = handle(
        &state,
        &p,
        ProviderKind::Vnpay,
        &HttpMethod::GET,
        &headers,
        params,
        &[],
    )
    .await;
    answer(ProviderKind::Vnpay, r)
}

/// MoMo IPN (JSON with an HMAC-SHA256 `signature`); 204 when recorded.
#[utoipa::path(post, path = "/api/v1/payments/momo/webhook", tag = TAG,
    request_body(content = serde_json::Value, content_type = "application/json", description = "MoMo's IPN body"),
    responses(
        (status = 204, description = "Recorded"),
        (status = 404, description = "Not an order of ours", body = shared::error::Problem, content_type = "application/problem+json"),
        WebhookAnswers,
    ))]
async fn momo(
    State(state): State<AppState>,
    Extension(p): Adapters,
    method: HttpMethod,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = handle(
        &state,
        &p,
        ProviderKind::Momo,
        &method,
        &headers,
        None,
        &body,
    )
    .await;
    answer(ProviderKind::Momo, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnpay_always_answers_200_with_its_code() {
        let r = answer(ProviderKind::Vnpay, Ok(Outcome::Rejected("x".into())));
        assert_eq!(r.status(), StatusCode::OK);
        let r = answer(ProviderKind::Vnpay, Ok(Outcome::AmountMismatch));
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn momo_acknowledges_with_204_and_stripe_refuses_with_400() {
        assert_eq!(
            answer(ProviderKind::Momo, Ok(Outcome::Applied)).status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            answer(ProviderKind::Stripe, Ok(Outcome::Rejected("bad".into()))).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            answer(
                ProviderKind::Stripe,
                Ok(Outcome::RetryLater("later".into()))
            )
            .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn currencies_parse_from_provider_codes() {
        assert_eq!(parse_currency("vnd"), Some(Currency::VND));
        assert_eq!(parse_currency("USD"), Some(Currency::USD));
        assert_eq!(parse_currency("XXX"), None);
    }
}
