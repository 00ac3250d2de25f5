//! `/api/v1/payments/*`, `/api/v1/shops/{id}/balance|ledger|payouts` and
//! `/api/v1/orders/{id}/invoice`: paying a pending checkout through a provider (or a bank
//! transfer), the buyer's payments and receipts, saved payment methods, admin refunds, bank
//! transfers and transactions, disputes, escrow and shop balances. Every money move is
//! `shared::payments::ops`; provider calls are `payment_providers`.

pub mod model;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use payment_providers::refunds::{self, RefundError};
use payment_providers::registry::Providers;
use payment_providers::{CreatePayment, ProviderError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::auth::Role;
use shared::catalog::{Capability, authorize_shop};
use shared::domain::order_state::OrderStatus;
use shared::domain::{Currency, Money};
use shared::events::PaidOrder;
use shared::http::{AuthUser, IdempotencyKey, ListResponse, PageQuery, Query, ValidJson};
use shared::idempotency::{IdempotencyRecord, request_hash};
use shared::metrics::PaymentOutcome;
use shared::orders::{CheckoutRecord, OrderRecord, PaymentMethod};
use shared::payments::ledger::{self, AccountRecord, EntryRecord, TransferRecord};
use shared::payments::ops::{self, OpError};
use shared::payments::{
    DisputeRecord, DisputeStatus, EscrowRecord, Evidence, Method, PAYMENT_ENTITY, PaymentRecord,
    PaymentRef, PaymentStatus, RefundRecord,
};
use shared::store::{QuerySpec, StoreError, from_item, keys, s, tx};
use shared::{ApiError, AppState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "payments";

/// Settings of the payment routes beyond the common configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API's public base URL (webhook URLs given to providers that take one per payment).
    pub public_api_url: String,
    /// Where buyers return after paying, by default.
    pub return_url: String,
    /// Shown with bank-transfer instructions.
    pub bank_account: String,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| d.to_owned())
        };
        let web = var("WEB_APP_URL", "http://localhost:3000");
        Ok(Self {
            public_api_url: var("PUBLIC_API_URL", "http://localhost:3000")
                .trim_end_matches('/')
                .to_owned(),
            return_url: format!("{}/checkout/done", web.trim_end_matches('/')),
            bank_account: var(
                "BANK_ACCOUNT",
                "Commerce Marketplace JSC, Vietcombank 0011000000000",
            ),
        })
    }
}

/// What the payment routes need besides [`AppState`], as a request extension.
pub struct Deps {
    providers: Providers,
    settings: Settings,
}

type Shared = Extension<Arc<Deps>>;

/// The extension layer the routes of [`api`] need (the dev server adds it to its merged router).
pub fn extension(providers: Providers, settings: Settings) -> Extension<Arc<Deps>> {
    Extension(Arc::new(Deps {
        providers,
        settings,
    }))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(create_payment))
        .routes(routes!(history))
        .routes(routes!(list_methods, save_method))
        .routes(routes!(delete_method))
        .routes(routes!(set_default_method))
        .routes(routes!(chargebacks))
        .routes(routes!(transactions))
        .routes(routes!(record_bank_transfer))
        .routes(routes!(escrow_status))
        .routes(routes!(get_payment))
        .routes(routes!(receipt))
        .routes(routes!(refund))
        .routes(routes!(refund_status))
        .routes(routes!(submit_dispute_evidence))
        .routes(routes!(shop_balance))
        .routes(routes!(shop_ledger))
        .routes(routes!(request_payout))
        .routes(routes!(invoice))
}

pub fn router(state: AppState, providers: Providers, settings: Settings) -> axum::Router {
    let (routes, _) = api().split_for_parts();
    shared::http::finish(routes.layer(extension(providers, settings)), state)
}

fn op_error(e: OpError) -> ApiError {
    match e {
        OpError::NotRefundable { refundable } => ApiError::field(
            "amount",
            format!("is more than can be refunded ({refundable} left)"),
        ),
        OpError::InsufficientBalance(_) => {
            ApiError::field("amount", "is more than the balance it is taken from")
        }
        OpError::AmountMismatch { expected, .. } => ApiError::field(
            "amount",
            format!("must equal the payment's amount {expected}"),
        ),
        OpError::Invalid(m) => ApiError::BadRequest(m),
        OpError::AlreadyFinal | OpError::Duplicate => {
            ApiError::Conflict("this was already settled".into())
        }
        OpError::Raced => ApiError::Conflict("changed concurrently; retry".into()),
        OpError::Store(e) => e.into(),
    }
}

/// One page of `pk` (newest first) as a list of views: every list route of this group.
async fn list_page<R, V>(
    state: &AppState,
    index: Option<&str>,
    pk: String,
    sk_prefix: Option<&str>,
    page: shared::http::Pagination,
    view: impl Fn(R) -> V,
) -> Result<Json<ListResponse<V>>, ApiError>
where
    R: serde::de::DeserializeOwned,
    V: utoipa::ToSchema,
{
    let found = state
        .db
        .query_page::<R>(QuerySpec {
            index,
            pk,
            sk_prefix: sk_prefix.map(str::to_owned),
            ascending: false,
            limit: page.limit,
            start: page.start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: found.items.into_iter().map(view).collect(),
        next_cursor: found.next_cursor,
    }))
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such payment for the caller".into())
}

/// The payment if the caller is its buyer or an admin (anyone else: 404).
async fn load_payment(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<PaymentRecord, ApiError> {
    let payment: PaymentRecord = state
        .db
        .get(keys::payment(id))
        .await?
        .ok_or_else(not_found)?;
    if payment.buyer_id != caller.id() && !caller.user.has_role(Role::Admin) {
        return Err(not_found());
    }
    Ok(payment)
}

/// A payment id that is the same for every retry of one request (so a provider's idempotency
/// and ours agree even when the first attempt died between the provider call and our write).
fn payment_id_for(user_id: &str, key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let digest = Sha256::digest(format!("payment:{user_id}:{key}"));
    digest
        .iter()
        .take(26)
        .map(|b| ALPHABET[(*b as usize) % 32] as char)
        .collect()
}

/// The buyer's address as API Gateway (or a proxy) saw it: VNPay wants it with the payment.
fn client_ip(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string())
}

fn provider_error(e: ProviderError) -> ApiError {
    match e {
        ProviderError::Unsupported(m) => ApiError::field("method", m),
        ProviderError::Declined { message, .. } => {
            ApiError::Conflict(format!("the provider refused: {message}"))
        }
        ProviderError::Unavailable(_) | ProviderError::BadResponse(_) => {
            tracing::error!(error = %e, "payment provider failed");
            ApiError::Unavailable {
                retry_after_secs: 2,
            }
        }
    }
}

/// Buyer: pay a checkout placed with `payment_method: online`. Answers with where to send the
/// buyer (the provider's page) or, for Stripe, also the client secret; for a bank transfer the
/// reference to quote. The orders are confirmed when the provider's webhook arrives.
#[utoipa::path(post, path = "/api/v1/payments", tag = TAG, security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, min_length = 8, max_length = 255, pattern = "^[!-~]+$", description = "8–255 visible ASCII characters, unique per payment attempt")),
    request_body = CreatePaymentRequest,
    responses(
        (status = 201, description = "The payment, waiting for the buyer (also the replayed answer of a retry)", body = PaymentView),
        (status = 404, description = "No such checkout of the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The checkout's orders no longer wait for payment (paid, expired, cancelled), or the provider refused", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider could not be reached; retry with the same Idempotency-Key", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all, fields(checkout_id))]
async fn create_payment(
    State(state): State<AppState>,
    Extension(deps): Shared,
    caller: AuthUser,
    headers: HeaderMap,
    ValidJson(req): ValidJson<CreatePaymentRequest>,
) -> Result<Response, ApiError> {
    let key = IdempotencyKey::from_headers(&headers)?;
    tracing::Span::current().record("checkout_id", req.checkout_id.as_str());
    let user = caller.id();
    let hash = request_hash(&req);
    let idem_key = keys::payment_idempotency(user, &key.0);
    let checkout_key = keys::checkout(&req.checkout_id);
    let mut checkout: Option<CheckoutRecord> = None;
    for item in state
        .db
        .batch_get(&[checkout_key.clone(), idem_key.clone()])
        .await?
    {
        if item.get("PK").and_then(|v| v.as_s().ok()) == Some(&idem_key.0) {
            return from_item::<IdempotencyRecord>(item)?.replay(&hash);
        }
        checkout = Some(from_item(item)?);
    }
    let checkout = checkout
        .filter(|c| c.buyer_id == user)
        .ok_or_else(|| ApiError::NotFound("no such checkout of yours".into()))?;
    if checkout.payment_method != PaymentMethod::Online {
        return Err(ApiError::Conflict(
            "this checkout is cash on delivery; it is paid at delivery".into(),
        ));
    }
    let order_keys: Vec<_> = checkout
        .order_ids
        .iter()
        .map(|id| keys::order(id))
        .collect();
    let orders: Vec<OrderRecord> = state
        .db
        .batch_get(&order_keys)
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let now = shared::now_epoch();
    let expires_at = orders
        .iter()
        .filter_map(|o| o.payment_due_at)
        .min()
        .unwrap_or(now);
    if orders.len() != checkout.order_ids.len()
        || orders
            .iter()
            .any(|o| o.status != OrderStatus::PendingPayment)
        || expires_at <= now
    {
        return Err(ApiError::Conflict(
            "the checkout's orders no longer wait for payment (paid, expired or cancelled)".into(),
        ));
    }
    let id = payment_id_for(user, &key.0);
    let amount: i64 = orders.iter().map(|o| o.total).sum();
    let (provider_ref, redirect_url, client_secret) =
        match payment_providers::ProviderKind::for_method(req.method) {
            Some(kind) => {
                let adapter = deps.providers.get(kind).ok_or_else(|| {
                    ApiError::field("method", "this payment provider is not configured here")
                })?;
                let webhook_url = format!(
                    "{}/api/v1/payments/{}/webhook",
                    deps.settings.public_api_url,
                    req.method.as_str()
                );
                let created = adapter
                    .create(&CreatePayment {
                        payment_id: &id,
                        amount,
                        currency: &format!("{:?}", checkout.currency),
                        minor_digits: checkout.currency.minor_digits(),
                        description: &format!("Order {}", checkout.id),
                        return_url: req
                            .return_url
                            .as_deref()
                            .unwrap_or(&deps.settings.return_url),
                        webhook_url: &webhook_url,
                        client_ip: &client_ip(&headers),
                        created_at: now,
                        expires_at,
                        idempotency_key: &id,
                    })
                    .await
                    .map_err(provider_error)?;
                (
                    created.provider_ref,
                    created.redirect_url,
                    created.client_secret,
                )
            }
            None => (format!("CK{}", &id[..10]), None, None),
        };
    // The second the provider was told (VNPay signs it as vnp_CreateDate and wants it back with a
    // refund), so the stored time must not be a later clock read.
    let created_at = shared::format_epoch(now).unwrap_or_else(shared::now_rfc3339);
    let (pk, sk) = keys::payment(&id);
    let payment = PaymentRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_buyer_payments(user),
        gsi1sk: format!("{created_at}#{id}"),
        entity_type: PAYMENT_ENTITY.into(),
        id: id.clone(),
        checkout_id: checkout.id.clone(),
        buyer_id: user.into(),
        method: req.method,
        status: PaymentStatus::Pending,
        currency: checkout.currency,
        amount,
        orders: orders
            .iter()
            .map(|o| PaidOrder {
                order_id: o.id.clone(),
                shop_id: o.shop_id.clone(),
                amount: o.total,
            })
            .collect(),
        provider_ref: Some(provider_ref.clone()),
        capture_ref: None,
        redirect_url,
        client_secret,
        captured: 0,
        refunded: 0,
        refundable: 0,
        refund_pending: 0,
        disputed: 0,
        late_amount: 0,
        failure_reason: None,
        created_at: created_at.clone(),
        updated_at: created_at,
        expires_at,
        succeeded_at: None,
    };
    let view = PaymentView::from_record(&payment, &deps.settings.bank_account);
    let body = serde_json::to_string(&view).map_err(ApiError::internal)?;
    let table = &state.db.table;
    let (ref_pk, ref_sk) = keys::payment_ref(req.method.as_str(), &provider_ref);
    let pointer = PaymentRef {
        pk: ref_pk,
        sk: ref_sk,
        entity_type: "payment_ref".into(),
        payment_id: id.clone(),
        order_ids: checkout.order_ids.clone(),
    };
    let mut actions = vec![
        tx::put_new(table, &payment)?,
        tx::put_new(table, &pointer)?,
        tx::put_new(
            table,
            &IdempotencyRecord::new(idem_key.clone(), &hash, StatusCode::CREATED, &body),
        )?,
    ];
    // Events that name the payment by our id (PayPal's custom_id, VNPay, MoMo) find it here.
    let (pk, sk) = keys::payment_ref(keys::PAYREF_BY_ID, &id);
    actions.push(tx::put_new(
        table,
        &PaymentRef {
            pk,
            sk,
            ..pointer.clone()
        },
    )?);
    match state.db.transact(actions).await {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled(_)) => {
            if let Some(earlier) = state.db.get::<IdempotencyRecord>(idem_key).await? {
                return earlier.replay(&hash);
            }
            return Err(ApiError::Conflict(
                "a concurrent payment attempt used the same provider reference; retry".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(payment_id = %id, method = req.method.as_str(), amount, "payment created");
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// The payment (its buyer or an admin).
#[utoipa::path(get, path = "/api/v1/payments/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 404, description = "No such payment for the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_payment(
    State(state): State<AppState>,
    Extension(deps): Shared,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let payment = load_payment(&state, &caller, &id).await?;
    Ok(Json(PaymentView::from_record(
        &payment,
        &deps.settings.bank_account,
    )))
}

/// The caller's payments, newest first.
#[utoipa::path(get, path = "/api/v1/payments/history", tag = TAG, security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of payments", body = ListResponse<PaymentView>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn history(
    State(state): State<AppState>,
    Extension(deps): Shared,
    caller: AuthUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<ListResponse<PaymentView>>, ApiError> {
    let page = q.pagination()?;
    let pk = keys::gsi1_buyer_payments(caller.id());
    list_page(&state, Some("GSI1"), pk, None, page, |p: PaymentRecord| {
        PaymentView::from_record(&p, &deps.settings.bank_account)
    })
    .await
}

/// The receipt of a paid payment.
#[utoipa::path(get, path = "/api/v1/payments/{id}/receipt", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The receipt", body = Receipt),
        (status = 404, description = "No such payment for the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The payment has not succeeded", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn receipt(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    let p = load_payment(&state, &caller, &id).await?;
    if p.status != PaymentStatus::Succeeded {
        return Err(ApiError::Conflict("the payment has not succeeded".into()));
    }
    let m = |a| Money::new(a, p.currency);
    Ok(Json(Receipt {
        payment_id: p.id.clone(),
        method: p.method,
        paid_at: p.succeeded_at.clone().unwrap_or_default(),
        amount: m(p.captured),
        refunded: m(p.refunded),
        orders: p
            .orders
            .iter()
            .map(|o| PaidOrderView {
                order_id: o.order_id.clone(),
                shop_id: o.shop_id.clone(),
                amount: m(o.amount),
            })
            .collect(),
    }))
}

async fn default_method(state: &AppState, user: &str) -> Result<Option<String>, ApiError> {
    Ok(state
        .db
        .get_item(keys::default_payment_method(user))
        .await?
        .and_then(|i| i.get("method_id").and_then(|v| v.as_s().ok()).cloned()))
}

/// The caller's saved payment methods (provider tokens only).
#[utoipa::path(get, path = "/api/v1/payments/methods", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved methods", body = Vec<SavedMethodView>),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_methods(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Vec<SavedMethodView>>, ApiError> {
    let default = default_method(&state, caller.id()).await?;
    let found = state
        .db
        .query_page::<SavedMethodRecord>(QuerySpec {
            index: None,
            pk: keys::user_pk(caller.id()),
            sk_prefix: Some(keys::PAYMENT_METHOD_PREFIX.into()),
            ascending: true,
            limit: 100,
            start: None,
        })
        .await?;
    Ok(Json(
        found
            .items
            .into_iter()
            .map(|m| SavedMethodView {
                is_default: default.as_deref() == Some(m.id.as_str()),
                id: m.id,
                provider: m.provider,
                label: m.label,
                last4: m.last4,
                created_at: m.created_at,
            })
            .collect(),
    ))
}

/// Save a provider token (card tokenised by Stripe.js, PayPal vault id). Card numbers are refused.
#[utoipa::path(post, path = "/api/v1/payments/methods", tag = TAG, security(("bearer" = [])),
    request_body = SaveMethodRequest,
    responses(
        (status = 201, description = "Saved", body = SavedMethodView),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn save_method(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<SaveMethodRequest>,
) -> Result<(StatusCode, Json<SavedMethodView>), ApiError> {
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::payment_method(caller.id(), &id);
    let record = SavedMethodRecord {
        pk,
        sk,
        entity_type: "payment_method".into(),
        id: id.clone(),
        provider: req.provider,
        token: req.token,
        label: req.label,
        last4: req.last4,
        created_at: shared::now_rfc3339(),
    };
    state.db.put_new(&record).await?;
    Ok((
        StatusCode::CREATED,
        Json(SavedMethodView {
            id,
            provider: record.provider,
            label: record.label,
            last4: record.last4,
            is_default: false,
            created_at: record.created_at,
        }),
    ))
}

async fn own_method(state: &AppState, user: &str, id: &str) -> Result<SavedMethodRecord, ApiError> {
    state
        .db
        .get(keys::payment_method(user, id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such saved method".into()))
}

/// Forget a saved method.
#[utoipa::path(delete, path = "/api/v1/payments/methods/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Saved method id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such saved method of the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn delete_method(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    own_method(&state, caller.id(), &id).await?;
    state
        .db
        .delete(keys::payment_method(caller.id(), &id))
        .await?;
    if default_method(&state, caller.id()).await?.as_deref() == Some(id.as_str()) {
        state
            .db
            .delete(keys::default_payment_method(caller.id()))
            .await?;
    }
    Ok(shared::http::no_content())
}

/// Make a saved method the default.
#[utoipa::path(put, path = "/api/v1/payments/methods/{id}/default", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Saved method id")),
    responses(
        (status = 200, description = "The method, now the default", body = SavedMethodView),
        (status = 404, description = "No such saved method of the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_default_method(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<SavedMethodView>, ApiError> {
    let m = own_method(&state, caller.id(), &id).await?;
    let (pk, sk) = keys::default_payment_method(caller.id());
    #[derive(serde::Serialize)]
    struct DefaultRecord {
        #[serde(rename = "PK")]
        pk: String,
        #[serde(rename = "SK")]
        sk: String,
        entity_type: &'static str,
        method_id: String,
    }
    let table = &state.db.table;
    // Only while the method exists: a concurrent delete cannot leave a dangling default.
    state
        .db
        .transact(vec![
            tx::check_exists(table, keys::payment_method(caller.id(), &id))?,
            tx::put(
                table,
                &DefaultRecord {
                    pk,
                    sk,
                    entity_type: "payment_method_default",
                    method_id: id.clone(),
                },
                None,
            )?,
        ])
        .await
        .map_err(|e| match e {
            StoreError::TransactionCanceled(_) => ApiError::NotFound("no such saved method".into()),
            e => e.into(),
        })?;
    Ok(Json(SavedMethodView {
        id: m.id,
        provider: m.provider,
        label: m.label,
        last4: m.last4,
        is_default: true,
        created_at: m.created_at,
    }))
}

async fn escrows_of(
    state: &AppState,
    payment: &PaymentRecord,
) -> Result<Vec<EscrowRecord>, ApiError> {
    let wanted: Vec<_> = payment
        .orders
        .iter()
        .map(|o| keys::escrow(&o.order_id))
        .collect();
    let mut found: Vec<EscrowRecord> = state
        .db
        .batch_get(&wanted)
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    // Keep the payment's order of orders (allocation is in that order).
    found.sort_by_key(|e| payment.orders.iter().position(|o| o.order_id == e.order_id));
    Ok(found)
}

/// Admin: refund part or all of a payment through its provider (or record a manual refund of a
/// bank transfer / COD payment). Never more than was captured less what was refunded or is in
/// dispute.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Payment id")),
    request_body = RefundRequestBody,
    responses(
        (status = 201, description = "The refund, booked", body = RefundView),
        (status = 403, description = "Admins only", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The provider refused the refund", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider did not confirm; the refund stays pending", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn refund(
    State(state): State<AppState>,
    Extension(deps): Shared,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<RefundRequestBody>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    caller.require_role(Role::Admin)?;
    let payment = load_payment(&state, &caller, &id).await?;
    if payment.status != PaymentStatus::Succeeded {
        return Err(ApiError::field(
            "amount",
            "the payment has not been captured; nothing to refund",
        ));
    }
    let escrows = escrows_of(&state, &payment).await?;
    let escrow =
        match (&req.order_id, escrows.as_slice()) {
            (Some(order), _) => Some(escrows.iter().find(|e| &e.order_id == order).ok_or_else(
                || ApiError::field("order_id", "is not an order this payment funded"),
            )?),
            (None, [only]) => Some(only),
            (None, []) => None,
            (None, _) => {
                return Err(ApiError::field(
                    "order_id",
                    "is required: this payment covers several orders",
                ));
            }
        };
    if let Some(e) = escrow
        && req.amount > e.balance
    {
        return Err(ApiError::field(
            "amount",
            format!(
                "is more than can be refunded for this order ({} left)",
                e.balance
            ),
        ));
    }
    let record = refunds::refund(
        &state.db,
        &deps.providers,
        &payment,
        escrow,
        req.amount,
        &req.reason,
        None,
    )
    .await
    .map_err(|e| match e {
        RefundError::Op(e) => op_error(e),
        RefundError::Refused(m) => ApiError::Conflict(m),
        RefundError::Unconfirmed(_) | RefundError::NotConfigured(_) => ApiError::Unavailable {
            retry_after_secs: 5,
        },
    })?;
    shared::metrics::payment(payment.method.as_str(), PaymentOutcome::Refunded);
    Ok((StatusCode::CREATED, Json(RefundView::from(&record))))
}

/// The refunds of a payment (its buyer or an admin).
#[utoipa::path(get, path = "/api/v1/payments/{id}/refund-status", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "Refunded so far, what is left, and each refund", body = RefundStatusView),
        (status = 404, description = "No such payment for the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn refund_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<RefundStatusView>, ApiError> {
    let p = load_payment(&state, &caller, &id).await?;
    let found = state
        .db
        .query_page::<RefundRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::gsi1_payment_refunds(&p.id),
            sk_prefix: None,
            ascending: true,
            limit: 100,
            start: None,
        })
        .await?;
    let m = |a| Money::new(a, p.currency);
    Ok(Json(RefundStatusView {
        payment_id: p.id.clone(),
        refunded: m(p.refunded),
        refundable: m(p.refundable),
        pending: m(p.refund_pending),
        refunds: found.items.iter().map(RefundView::from).collect(),
    }))
}

/// Admin: every dispute (chargeback), newest first.
#[utoipa::path(get, path = "/api/v1/payments/chargebacks", tag = TAG, security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of disputes", body = ListResponse<DisputeView>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn chargebacks(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<ListResponse<DisputeView>>, ApiError> {
    caller.require_role(Role::Admin)?;
    let page = q.pagination()?;
    let pk = keys::GSI2_DISPUTES.to_owned();
    list_page(&state, Some("GSI2"), pk, None, page, |d: DisputeRecord| {
        DisputeView::from(&d)
    })
    .await
}

/// Seller: submit evidence for the open dispute of a payment that funded one of the caller's
/// shop orders: text, plus files uploaded with the presigned PUTs in the answer.
#[utoipa::path(post, path = "/api/v1/payments/{id}/dispute", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Payment id")),
    request_body = EvidenceRequest,
    responses(
        (status = 201, description = "Evidence recorded; upload the files to the URLs", body = EvidenceAccepted),
        (status = 403, description = "The caller's role does not cover the disputed shop's finances", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open dispute of this payment for the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The dispute is closed", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn submit_dispute_evidence(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<EvidenceRequest>,
) -> Result<(StatusCode, Json<EvidenceAccepted>), ApiError> {
    let none = || ApiError::NotFound("no dispute of this payment for your shops".into());
    let found = state
        .db
        .query_page::<DisputeRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::gsi1_payment_disputes(&id),
            sk_prefix: None,
            ascending: false,
            limit: 20,
            start: None,
        })
        .await?;
    let dispute = found.items.into_iter().next().ok_or_else(none)?;
    let shop = dispute
        .parts
        .first()
        .map(|p| p.shop_id.clone())
        .ok_or_else(none)?;
    match authorize_shop(&state.db, &caller, &shop, Capability::ViewFinances).await {
        Ok(_) => {}
        Err(ApiError::NotFound(_)) => return Err(none()),
        Err(e) => return Err(e),
    }
    if dispute.status != DisputeStatus::Open {
        return Err(ApiError::Conflict("the dispute is closed".into()));
    }
    let bucket = state
        .config
        .media_bucket
        .clone()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("MEDIA_BUCKET is not set")))?;
    let mut uploads = Vec::new();
    for f in &req.files {
        let file_id = ulid::Ulid::new().to_string();
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(
            std::time::Duration::from_secs(900),
        )
        .map_err(ApiError::internal)?;
        let presigned = state
            .s3
            .put_object()
            .bucket(&bucket)
            .key(keys::dispute_evidence_object(&id, &file_id))
            .content_type(&f.content_type)
            .content_length(f.size_bytes as i64)
            .presigned(config)
            .await
            .map_err(ApiError::internal)?;
        uploads.push(EvidenceUpload {
            file_id,
            upload_url: presigned.uri().to_owned(),
        });
    }
    let evidence = Evidence {
        text: req.text,
        file_ids: uploads.iter().map(|u| u.file_id.clone()).collect(),
        submitted_at: shared::now_rfc3339(),
        submitted_by: caller.id().into(),
    };
    let value = shared::store::value(&vec![evidence.clone()])?;
    state
        .db
        .update(tx::UpdateSpec {
            key: (dispute.pk.clone(), dispute.sk.clone()),
            update: "SET evidence = list_append(evidence, :e)",
            condition: Some("#status = :open"),
            names: &[("#status", "status")],
            values: vec![(":e", value), (":open", s(DisputeStatus::Open.as_str()))],
        })
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => ApiError::Conflict("the dispute is closed".into()),
            e => e.into(),
        })?;
    let mut dispute = dispute;
    dispute.evidence.push(evidence);
    Ok((
        StatusCode::CREATED,
        Json(EvidenceAccepted {
            dispute: DisputeView::from(&dispute),
            uploads,
        }),
    ))
}

/// The escrow of an order: its buyer, the shop's finance roles, or an admin.
#[utoipa::path(get, path = "/api/v1/payments/escrow/{order_id}/status", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's escrow", body = EscrowView),
        (status = 404, description = "No such order for the caller, or it holds no money yet", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn escrow_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> Result<Json<EscrowView>, ApiError> {
    let none = || ApiError::NotFound("no escrow of this order for the caller".into());
    let escrow: EscrowRecord = state
        .db
        .get(keys::escrow(&order_id))
        .await?
        .ok_or_else(none)?;
    if !caller.user.has_role(Role::Admin) {
        let order: OrderRecord = state
            .db
            .get(keys::order(&order_id))
            .await?
            .ok_or_else(none)?;
        if order.buyer_id != caller.id() {
            authorize_shop(
                &state.db,
                &caller,
                &escrow.shop_id,
                Capability::ViewFinances,
            )
            .await
            .map_err(|_| none())?;
        }
    }
    Ok(Json(EscrowView::from(&escrow)))
}

/// A shop's balances per currency: pending (escrow), available and on hold.
#[utoipa::path(get, path = "/api/v1/shops/{id}/balance", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    responses(
        (status = 200, description = "The balances (currencies with any movement)", body = ShopBalance),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn shop_balance(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
) -> Result<Json<ShopBalance>, ApiError> {
    authorize_shop(&state.db, &caller, &shop_id, Capability::ViewFinances).await?;
    const CURRENCIES: [Currency; 8] = [
        Currency::VND,
        Currency::USD,
        Currency::EUR,
        Currency::SGD,
        Currency::THB,
        Currency::IDR,
        Currency::MYR,
        Currency::PHP,
    ];
    let mut wanted = Vec::new();
    for c in CURRENCIES {
        wanted.push(keys::ledger_account(&ledger::shop_escrow(&shop_id, c)));
        wanted.push(keys::ledger_account(&ledger::shop_available(&shop_id, c)));
        wanted.push(keys::ledger_account(&ledger::shop_hold(&shop_id, c)));
    }
    let accounts: Vec<AccountRecord> = state
        .db
        .batch_get(&wanted)
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let balance_of = |name: String| {
        accounts
            .iter()
            .find(|a| a.account == name)
            .map_or(0, |a| a.balance)
    };
    let balances = CURRENCIES
        .into_iter()
        .filter(|c| accounts.iter().any(|a| a.currency == *c))
        .map(|c| Balance {
            currency: c,
            pending: balance_of(ledger::shop_escrow(&shop_id, c)),
            available: balance_of(ledger::shop_available(&shop_id, c)),
            on_hold: balance_of(ledger::shop_hold(&shop_id, c)),
        })
        .collect();
    Ok(Json(ShopBalance { shop_id, balances }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// `available` (default), `escrow` or `hold`.
    #[param(inline)]
    pub account: Option<LedgerAccount>,
    /// Default VND.
    #[param(inline)]
    pub currency: Option<Currency>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page of the same statement.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccount {
    Available,
    Escrow,
    Hold,
}

/// A shop's account statement, newest first.
#[utoipa::path(get, path = "/api/v1/shops/{id}/ledger", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), LedgerQuery),
    responses(
        (status = 200, description = "A page of ledger entries", body = ListResponse<LedgerEntryView>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn shop_ledger(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<ListResponse<LedgerEntryView>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .pagination()?;
    authorize_shop(&state.db, &caller, &shop_id, Capability::ViewFinances).await?;
    let cur = q.currency.unwrap_or(Currency::VND);
    let account = match q.account.unwrap_or(LedgerAccount::Available) {
        LedgerAccount::Available => ledger::shop_available(&shop_id, cur),
        LedgerAccount::Escrow => ledger::shop_escrow(&shop_id, cur),
        LedgerAccount::Hold => ledger::shop_hold(&shop_id, cur),
    };
    let pk = keys::ledger_account_pk(&account);
    if let Some(start) = &page.start
        && start.get("PK").and_then(|v| v.as_s().ok()) != Some(&pk)
    {
        return Err(ApiError::field("cursor", "belongs to another statement"));
    }
    let prefix = Some(keys::LEDGER_ENTRY_PREFIX);
    list_page(
        &state,
        None,
        pk,
        prefix,
        page,
        <LedgerEntryView as From<EntryRecord>>::from,
    )
    .await
}

/// Owner: pay out part of the shop's available balance.
#[utoipa::path(post, path = "/api/v1/shops/{id}/payouts", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = PayoutRequestBody,
    responses(
        (status = 201, description = "The payout, requested", body = PayoutView),
        (status = 403, description = "Only the organisation's owners request payouts", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn request_payout(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    ValidJson(req): ValidJson<PayoutRequestBody>,
) -> Result<(StatusCode, Json<PayoutView>), ApiError> {
    let access = authorize_shop(&state.db, &caller, &shop_id, Capability::RequestPayouts).await?;
    if access.member.is_none() {
        return Err(ApiError::Forbidden(
            "only the organisation's owners request payouts".into(),
        ));
    }
    let p = ops::request_payout(
        &state.db,
        &shop_id,
        &access.shop.org_id,
        req.amount,
        caller.id(),
    )
    .await
    .map_err(|e| match e {
        OpError::InsufficientBalance(_) => {
            ApiError::field("amount", "is more than the shop's available balance")
        }
        e => op_error(e),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(PayoutView {
            id: p.id,
            shop_id: p.shop_id,
            amount: Money::new(p.amount, p.currency),
            status: p.status,
            created_at: p.created_at,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransactionsQuery {
    /// UTC day `YYYY-MM-DD` (default today), a date of the calendar.
    #[param(
        pattern = "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])$|^[0-9]{4}-(?:0[13-9]|1[0-2])-(?:29|30)$|^[0-9]{4}-(?:0[13578]|1[02])-31$"
    )]
    pub date: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page of the same day.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Admin: the ledger transfers of one day, newest first.
#[utoipa::path(get, path = "/api/v1/payments/transactions", tag = TAG, security(("bearer" = [])),
    params(TransactionsQuery),
    responses(
        (status = 200, description = "A page of transfers", body = ListResponse<TransferView>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid date, limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn transactions(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<TransactionsQuery>,
) -> Result<Json<ListResponse<TransferView>>, ApiError> {
    caller.require_role(Role::Admin)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .pagination()?;
    let day = match q.date {
        Some(d) => {
            let ok = d.len() == 10
                && time::Date::parse(
                    &d,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .is_ok();
            if !ok {
                return Err(ApiError::field("date", "must be a day YYYY-MM-DD"));
            }
            d
        }
        None => shared::now_rfc3339()[..10].to_owned(),
    };
    let pk = keys::gsi2_transfers(&day);
    list_page(
        &state,
        Some("GSI2"),
        pk,
        None,
        page,
        <TransferView as From<TransferRecord>>::from,
    )
    .await
}

/// Admin: a bank transfer arrived; if its reference and amount match a pending payment, that
/// pays its orders.
#[utoipa::path(post, path = "/api/v1/payments/bank-transfers", tag = TAG, security(("bearer" = [])),
    request_body = BankTransferReceived,
    responses(
        (status = 200, description = "The payment, captured", body = PaymentView),
        (status = 403, description = "Admins only", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No payment with this reference", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The payment was already settled", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn record_bank_transfer(
    State(state): State<AppState>,
    Extension(deps): Shared,
    caller: AuthUser,
    ValidJson(req): ValidJson<BankTransferReceived>,
) -> Result<Json<PaymentView>, ApiError> {
    caller.require_role(Role::Admin)?;
    let none = || ApiError::NotFound("no payment with this transfer reference".into());
    let pointer: PaymentRef = state
        .db
        .get(keys::payment_ref(
            Method::BankTransfer.as_str(),
            &req.reference,
        ))
        .await?
        .ok_or_else(none)?;
    let loaded = shared::payments::load(&state.db, &pointer, &[])
        .await?
        .ok_or_else(none)?;
    let (mut payment, orders) = (loaded.payment, loaded.orders);
    ops::capture(
        &state.db,
        &payment,
        &orders,
        req.amount,
        Some(req.reference.clone()),
        None,
    )
    .await
    .map_err(|e| match e {
        OpError::AlreadyFinal => ApiError::Conflict("the payment was already settled".into()),
        e => op_error(e),
    })?;
    tracing::info!(payment_id = %payment.id, "bank transfer recorded");
    shared::metrics::payment(payment.method.as_str(), PaymentOutcome::Captured);
    payment = state
        .db
        .get(keys::payment(&payment.id))
        .await?
        .ok_or_else(none)?;
    Ok(Json(PaymentView::from_record(
        &payment,
        &deps.settings.bank_account,
    )))
}

/// The invoice record the invoice consumer writes.
#[derive(Debug, Deserialize)]
struct InvoiceRecord {
    shop_id: String,
    buyer_id: String,
    display_number: String,
    s3_key: String,
    issued_at: String,
    /// False until the PDF is in the bucket.
    #[serde(default)]
    pdf_stored: bool,
}

/// The order's invoice PDF as a short-lived link: its buyer, the shop's finance roles, an admin.
#[utoipa::path(get, path = "/api/v1/orders/{id}/invoice", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "A presigned link to the PDF", body = InvoiceLink),
        (status = 404, description = "No such order for the caller, or no invoice yet (it is issued once paid)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn invoice(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> Result<Json<InvoiceLink>, ApiError> {
    let none = || ApiError::NotFound("no invoice of this order for the caller".into());
    let record: InvoiceRecord = state
        .db
        .get(keys::invoice(&order_id))
        .await?
        .filter(|r: &InvoiceRecord| r.pdf_stored)
        .ok_or_else(none)?;
    if record.buyer_id != caller.id() && !caller.user.has_role(Role::Admin) {
        authorize_shop(
            &state.db,
            &caller,
            &record.shop_id,
            Capability::ViewFinances,
        )
        .await
        .map_err(|_| none())?;
    }
    let bucket = state
        .config
        .media_bucket
        .clone()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("MEDIA_BUCKET is not set")))?;
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(900))
            .map_err(ApiError::internal)?;
    let url = state
        .s3
        .get_object()
        .bucket(bucket)
        .key(&record.s3_key)
        .presigned(config)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(InvoiceLink {
        order_id,
        number: record.display_number,
        url: url.uri().to_owned(),
        issued_at: record.issued_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buyers_address_is_the_first_forwarded_one_if_it_is_an_address() {
        let mut h = HeaderMap::new();
        assert_eq!(client_ip(&h), "127.0.0.1");
        h.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&h), "203.0.113.7");
        h.insert("x-forwarded-for", "<script>".parse().unwrap());
        assert_eq!(client_ip(&h), "127.0.0.1");
    }

    #[test]
    fn a_retry_of_one_request_names_the_same_payment() {
        let a = payment_id_for("U1", "key-00000001");
        assert_eq!(a, payment_id_for("U1", "key-00000001"));
        assert_ne!(a, payment_id_for("U2", "key-00000001"));
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
