//! `/api/v1/orders/*` and `/api/v1/shops/{id}/orders`: checkout (preview and the idempotent
//! placement in [`place`]), the buyer's and the shop's order lists, and every move of the order
//! state machine. A move is always `shared::orders::transition`: conditional on the status the
//! order was read in, recorded on its timeline, with its stock effect and its event in the same
//! transaction. Who may make which move is decided here.

pub mod model;
pub mod place;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::Role;
use shared::cart::{StoredLine, add_line};
use shared::catalog::{Capability, authorize_shop};
use shared::checkout::Quote;
use shared::domain::order_state::OrderStatus;
use shared::domain::{Currency, Money, effective_price};
use shared::http::{AuthUser, IdempotencyKey, ListResponse, PageQuery, Query, ValidJson};
use shared::orders::{
    self, Actor, ExtraSet, OrderRecord, RETURN_WINDOW_SECS, TimelineEntry, transition,
};
use shared::products::ProductStatus;
use shared::store::{Filter, QuerySpec, keys, n, s};
use shared::uploads::ImageUploadRequest;
use shared::{ApiError, AppState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

/// 404 for an order the caller may not see (another buyer's, another shop's): its existence
/// is not revealed.
struct OrderNotFound;

impl utoipa::IntoResponses for OrderNotFound {
    fn responses() -> shared::openapi::Responses {
        [(
            "404".to_owned(),
            shared::openapi::problem("No such order for the caller"),
        )]
        .into()
    }
}

/// The problems of a route only the order's buyer may use.
struct BuyerOnlyErrors;

impl utoipa::IntoResponses for BuyerOnlyErrors {
    fn responses() -> shared::openapi::Responses {
        let mut r = <OrderNotFound as utoipa::IntoResponses>::responses();
        r.insert(
            "403".to_owned(),
            shared::openapi::problem("The caller is not the buyer"),
        );
        r
    }
}

/// The problems of a move only the shop's sellers may make.
struct ShopMoveErrors;

impl utoipa::IntoResponses for ShopMoveErrors {
    fn responses() -> shared::openapi::Responses {
        let mut r = <OrderNotFound as utoipa::IntoResponses>::responses();
        r.insert(
            "403".to_owned(),
            shared::openapi::problem(
                "The caller is the buyer, or their role does not cover the shop",
            ),
        );
        r
    }
}

pub const TAG: &str = "orders";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(preview))
        .routes(routes!(place_order, list_my_orders))
        .routes(routes!(summary))
        .routes(routes!(get_order))
        .routes(routes!(timeline))
        .routes(routes!(cancel))
        .routes(routes!(complete))
        .routes(routes!(confirm_receipt))
        .routes(routes!(reorder))
        .routes(routes!(return_photo_url))
        .routes(routes!(request_return))
        .routes(routes!(list_shop_orders))
        .routes(routes!(confirm))
        .routes(routes!(process))
        .routes(routes!(ship))
        .routes(routes!(deliver))
        .routes(routes!(accept_return))
        .routes(routes!(reject_return))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such order".into())
}

/// How the caller relates to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Buyer,
    Seller,
    Admin,
}

impl Party {
    fn actor(self) -> Actor {
        match self {
            Self::Buyer => Actor::Buyer,
            Self::Seller => Actor::Seller,
            Self::Admin => Actor::Admin,
        }
    }
}

/// The order if the caller is its buyer, a member of its shop's organisation who may fulfil
/// orders, or an admin. Anyone else gets 404: another buyer's order does not exist for them.
async fn load_for(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<(OrderRecord, Party), ApiError> {
    let order: OrderRecord = state.db.get(keys::order(id)).await?.ok_or_else(not_found)?;
    if order.buyer_id == caller.id() {
        return Ok((order, Party::Buyer));
    }
    if caller.user.has_role(Role::Admin) {
        return Ok((order, Party::Admin));
    }
    match authorize_shop(&state.db, caller, &order.shop_id, Capability::FulfilOrders).await {
        Ok(_) => Ok((order, Party::Seller)),
        Err(ApiError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e),
    }
}

/// Like [`load_for`], for moves only the shop (or an admin) makes.
async fn load_for_shop(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<(OrderRecord, Party), ApiError> {
    let (order, party) = load_for(state, caller, id).await?;
    if party == Party::Buyer {
        return Err(ApiError::Forbidden(
            "only the shop fulfils its orders".into(),
        ));
    }
    Ok((order, party))
}

/// Like [`load_for`], for moves only the buyer makes.
async fn load_for_buyer(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<OrderRecord, ApiError> {
    match load_for(state, caller, id).await? {
        (order, Party::Buyer) => Ok(order),
        _ => Err(ApiError::Forbidden("only the buyer can do this".into())),
    }
}

/// Presigned download links of an order's return photos (15 minutes).
async fn photo_urls(state: &AppState, order: &OrderRecord) -> Vec<String> {
    let (Some(request), Some(bucket)) =
        (&order.return_request, state.config.media_bucket.as_deref())
    else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for photo in &request.photo_ids {
        let Ok(config) = aws_sdk_s3::presigning::PresigningConfig::expires_in(
            std::time::Duration::from_secs(900),
        ) else {
            continue;
        };
        if let Ok(p) = state
            .s3
            .get_object()
            .bucket(bucket)
            .key(keys::return_photo_object(&order.id, photo))
            .presigned(config)
            .await
        {
            urls.push(p.uri().to_owned());
        }
    }
    urls
}

async fn view(state: &AppState, order: &OrderRecord) -> Json<Order> {
    Json(Order::from_record(order, photo_urls(state, order).await))
}

/// Applies a move the caller is allowed to make and answers with the order as it now is.
async fn apply(
    state: &AppState,
    order: &OrderRecord,
    to: OrderStatus,
    party: Party,
    note: Option<String>,
    extra: ExtraSet,
) -> Result<Json<Order>, ApiError> {
    let moved = transition(&state.db, order, to, party.actor(), note, extra).await?;
    Ok(view(state, &moved).await)
}

// ------------------------------------------------------------------ checkout

/// Buyer: what placing an order from the cart now would cost — per shop subtotal, shop and
/// platform voucher discounts, shipping fee, tax included, total — and what stands in the way.
#[utoipa::path(post, path = "/api/v1/orders/preview", tag = TAG, security(("bearer" = [])),
    request_body = CheckoutRequest,
    responses(
        (status = 200, description = "The fee breakdown (nothing is written); `ready` tells whether it can be placed, `problems` what stands in the way", body = Quote),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, or the parcels cannot travel as asked: `shipping_method` (same-day beyond 30 km, over 50 kg) or `address_id` (not in the address book, outside Vietnam or the delivery area)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn preview(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<CheckoutRequest>,
) -> Result<Json<Quote>, ApiError> {
    Ok(Json(place::preview(&state, caller.id(), &req).await?))
}

/// Buyer: place the cart's orders — one per shop, stock reserved, vouchers redeemed — in one
/// all-or-nothing transaction. Each line reserves from one warehouse of its shop: the nearest
/// to the delivery address with enough units, then the one with the most (the order's lines
/// name it). Requires `Idempotency-Key`: a retry with the same key and body
/// returns the first response (header `idempotent-replayed: true`); another body is refused.
#[utoipa::path(post, path = "/api/v1/orders", tag = TAG, security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, min_length = 8, max_length = 255, pattern = "^[!-~]+$", description = "8–255 visible ASCII characters, unique per checkout attempt")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "The orders placed (also the replayed response of a retry)", body = CheckoutResult),
        (status = 409, description = "A line sold out (in every warehouse that could serve it, or no single warehouse holds its quantity), a voucher ran out, or the cart changed meanwhile; nothing was ordered", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too much contention, or a line's stock is not in a warehouse yet (before the data migration ran); retry with the same Idempotency-Key", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, or the parcels cannot travel as asked: `shipping_method` (same-day beyond 30 km, over 50 kg) or `address_id` (not in the address book, outside Vietnam or the delivery area)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn place_order(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    ValidJson(req): ValidJson<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let key = IdempotencyKey::from_headers(&headers)?;
    place::place(&state, caller.id(), &key.0, &req).await
}

// ------------------------------------------------------------------ reading

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page. A filtered page may be short (even empty) and
    /// still have a next cursor.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

async fn list_orders(
    state: &AppState,
    index: &'static str,
    pk: String,
    q: OrderListQuery,
) -> Result<ListResponse<Order>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .pagination()?;
    let spec = QuerySpec {
        index: Some(index),
        pk,
        sk_prefix: None,
        ascending: false,
        limit: page.limit,
        start: page.start,
    };
    let result = match q.status {
        None => state.db.query_page::<OrderRecord>(spec).await?,
        Some(status) => {
            state
                .db
                .query_page_filtered::<OrderRecord>(
                    spec,
                    Some(Filter {
                        expression: "#status = :status",
                        names: &[("#status", "status")],
                        values: vec![(":status", s(status.as_str()))],
                    }),
                )
                .await?
        }
    };
    Ok(ListResponse {
        items: result
            .items
            .iter()
            .map(|o| Order::from_record(o, Vec::new()))
            .collect(),
        next_cursor: result.next_cursor,
    })
}

/// Buyer: my orders, newest first (optionally of one status).
#[utoipa::path(get, path = "/api/v1/orders", tag = TAG, security(("bearer" = [])),
    params(OrderListQuery),
    responses(
        (status = 200, description = "A page of orders", body = ListResponse<Order>),
        (status = 400, description = "Malformed query string (e.g. an unknown status)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_my_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<OrderListQuery>,
) -> Result<Json<ListResponse<Order>>, ApiError> {
    Ok(Json(
        list_orders(&state, "GSI1", keys::gsi1_buyer_orders(caller.id()), q).await?,
    ))
}

/// Seller: the shop's orders, newest first (optionally of one status).
#[utoipa::path(get, path = "/api/v1/shops/{id}/orders", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), OrderListQuery),
    responses(
        (status = 200, description = "A page of orders", body = ListResponse<Order>),
        (status = 400, description = "Malformed query string (e.g. an unknown status)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_shop_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    Query(q): Query<OrderListQuery>,
) -> Result<Json<ListResponse<Order>>, ApiError> {
    authorize_shop(&state.db, &caller, &shop_id, Capability::FulfilOrders).await?;
    Ok(Json(
        list_orders(&state, "GSI2", keys::gsi2_shop_orders(&shop_id), q).await?,
    ))
}

/// Buyer: how many orders I placed, how many are in each status, and what I spent.
#[utoipa::path(get, path = "/api/v1/orders/summary", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts and spend", body = PurchaseSummary),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn summary(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<PurchaseSummary>, ApiError> {
    let item = state
        .db
        .get_item(keys::order_stats(caller.id()))
        .await?
        .unwrap_or_default();
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let by_status: BTreeMap<String, i64> = OrderStatus::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                number(&format!("count_{}", s.as_str())),
            )
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    let currencies = [
        Currency::VND,
        Currency::USD,
        Currency::EUR,
        Currency::SGD,
        Currency::THB,
        Currency::IDR,
        Currency::MYR,
        Currency::PHP,
    ];
    let spend = currencies
        .into_iter()
        .filter(|c| item.contains_key(&orders::spend_attr(*c)))
        .map(|c| Money::new(number(&orders::spend_attr(c)), c))
        .collect();
    Ok(Json(PurchaseSummary {
        orders_placed: number("orders_placed"),
        by_status,
        spend,
    }))
}

/// The order: its buyer, its shop's staff and admins may read it.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        shared::openapi::ShopRoleErrors,
        OrderNotFound,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let (order, _) = load_for(&state, &caller, &id).await?;
    Ok(view(&state, &order).await)
}

/// The order's timeline, oldest first: every status it went through, when, by whom, why.
#[utoipa::path(get, path = "/api/v1/orders/{id}/timeline", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Timeline entries", body = ListResponse<TimelineEntry>),
        shared::openapi::ShopRoleErrors,
        OrderNotFound,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn timeline(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<TimelineEntry>>, ApiError> {
    let (order, _) = load_for(&state, &caller, &id).await?;
    Ok(Json(ListResponse {
        items: order.timeline,
        next_cursor: None,
    }))
}

// ------------------------------------------------------------------ buyer moves

/// Buyer or shop: cancel an order that has not shipped yet, with a reason. Its reserved stock
/// is released in the same transaction.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The cancelled order", body = Order),
        shared::openapi::ShopRoleErrors,
        OrderNotFound,
        (status = 409, description = "The order has shipped, is already closed, or changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn cancel(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ReasonRequest>,
) -> Result<Json<Order>, ApiError> {
    let (order, party) = load_for(&state, &caller, &id).await?;
    if !order.status.cancellable() {
        return Err(ApiError::Conflict(format!(
            "an order that is {} can no longer be cancelled",
            order.status
        )));
    }
    let extra = vec![("cancel_reason", s(&req.reason))];
    apply(
        &state,
        &order,
        OrderStatus::Cancelled,
        party,
        Some(req.reason),
        extra,
    )
    .await
}

/// Buyer: confirm receipt of a delivered order — the same move as `complete`: the order
/// completes and its escrow is released to the shop (less commission).
#[utoipa::path(post, path = "/api/v1/orders/{id}/confirm-receipt", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The completed order", body = Order),
        BuyerOnlyErrors,
        (status = 409, description = "The order is not delivered", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn confirm_receipt(
    state: State<AppState>,
    caller: AuthUser,
    id: Path<String>,
) -> Result<Json<Order>, ApiError> {
    complete(state, caller, id).await
}

/// Buyer: confirm a delivered order is fine (it completes; no return can be asked after).
#[utoipa::path(post, path = "/api/v1/orders/{id}/complete", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The completed order", body = Order),
        BuyerOnlyErrors,
        (status = 409, description = "The order is not delivered", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn complete(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let order = load_for_buyer(&state, &caller, &id).await?;
    apply(
        &state,
        &order,
        OrderStatus::Completed,
        Party::Buyer,
        None,
        Vec::new(),
    )
    .await
}

/// Buyer: put the order's items back in the cart, at today's prices, as far as they are still
/// for sale (what is not is listed with the reason).
#[utoipa::path(post, path = "/api/v1/orders/{id}/reorder", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "What was added and what was skipped", body = ReorderResult),
        BuyerOnlyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn reorder(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ReorderResult>, ApiError> {
    let order = load_for_buyer(&state, &caller, &id).await?;
    let lines: Vec<shared::cart::CartLine> = order
        .lines
        .iter()
        .map(|l| shared::cart::CartLine {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            line: StoredLine {
                quantity: l.quantity,
                shop_id: order.shop_id.clone(),
                price_when_added: l.unit_price,
                added_at: String::new(),
            },
        })
        .collect();
    let catalog = shared::checkout::load_catalog(&state.db, caller.id(), &lines, &[]).await?;
    let now = shared::now_epoch();
    let mut result = ReorderResult {
        added: Vec::new(),
        skipped: Vec::new(),
    };
    for l in lines {
        let skip = |reason: &str| ReorderSkip {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            reason: reason.into(),
        };
        let variant = catalog.variants.get(&(l.product_id.clone(), l.sku.clone()));
        let product = catalog.products.get(&l.product_id);
        let shop_active = catalog
            .shops
            .get(&order.shop_id)
            .is_some_and(|s| s.status == shared::catalog::ShopStatus::Active);
        let (Some(v), Some(p)) = (variant, product) else {
            result.skipped.push(skip("no longer for sale"));
            continue;
        };
        if p.status != ProductStatus::Active || !shop_active {
            result.skipped.push(skip("no longer for sale"));
            continue;
        }
        if v.available <= 0 {
            result.skipped.push(skip("out of stock"));
            continue;
        }
        let quantity = l.line.quantity.min(v.available);
        let stored = StoredLine {
            quantity,
            shop_id: order.shop_id.clone(),
            price_when_added: effective_price(v.price, v.discount.as_ref(), now),
            added_at: shared::now_rfc3339(),
        };
        match add_line(&state.db, caller.id(), &l.product_id, &l.sku, stored).await {
            Ok(()) => result.added.push(ReorderLine {
                product_id: l.product_id.clone(),
                sku: l.sku.clone(),
                quantity,
            }),
            Err(shared::cart::AddLineError::Store(e)) => return Err(e.into()),
            Err(e) => result.skipped.push(skip(&e.to_string())),
        }
    }
    Ok(Json(result))
}

/// Buyer: a presigned URL to upload one photo for a return request (JPEG, PNG or WebP,
/// ≤ 10 MiB; PUT it with exactly the returned headers within 15 minutes).
#[utoipa::path(post, path = "/api/v1/orders/{id}/return-photos", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ImageUploadRequest,
    responses(
        (status = 201, description = "Where to PUT the photo, and its id for the return request", body = PhotoUpload),
        BuyerOnlyErrors,
        (status = 409, description = "The order is not delivered (returns are asked for delivered orders)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn return_photo_url(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ImageUploadRequest>,
) -> Result<Response, ApiError> {
    let order = load_for_buyer(&state, &caller, &id).await?;
    if order.status != OrderStatus::Delivered {
        return Err(ApiError::Conflict(
            "returns are asked for delivered orders".into(),
        ));
    }
    let photo_id = ulid::Ulid::new().to_string();
    let put = state
        .presign_image_put(keys::return_photo_object(&order.id, &photo_id), &req)
        .await?;
    Ok((StatusCode::CREATED, Json(put.for_photo(photo_id))).into_response())
}

/// Buyer: ask to return a delivered order within 7 days of delivery, with a reason and photos
/// uploaded through `return-photos`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/return", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ReturnRequestBody,
    responses(
        (status = 200, description = "The order, now return_requested", body = Order),
        BuyerOnlyErrors,
        (status = 409, description = "Not delivered, the 7-day window closed, or a return was already decided", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn request_return(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ReturnRequestBody>,
) -> Result<Json<Order>, ApiError> {
    let order = load_for_buyer(&state, &caller, &id).await?;
    if order.status != OrderStatus::Delivered {
        return Err(ApiError::Conflict(
            "returns are asked for delivered orders".into(),
        ));
    }
    if order
        .delivered_at
        .is_some_and(|d| shared::now_epoch() > d + RETURN_WINDOW_SECS)
    {
        return Err(ApiError::Conflict(
            "the 7-day return window of this order has closed".into(),
        ));
    }
    if order.return_request.is_some() {
        return Err(ApiError::Conflict(
            "a return of this order was already asked for and decided".into(),
        ));
    }
    check_photos(&state, &order, &req.photo_ids).await?;
    let request = shared::orders::ReturnRequest {
        reason: req.reason.clone(),
        photo_ids: req.photo_ids,
        requested_at: shared::now_rfc3339(),
        decided_at: None,
        decision_note: None,
        damaged: false,
    };
    let extra = vec![("return_request", shared::store::value(&request)?)];
    apply(
        &state,
        &order,
        OrderStatus::ReturnRequested,
        Party::Buyer,
        Some(req.reason),
        extra,
    )
    .await
}

/// Every photo must have been uploaded (to this order's prefix) and be a small image.
async fn check_photos(
    state: &AppState,
    order: &OrderRecord,
    photo_ids: &[String],
) -> Result<(), ApiError> {
    for (i, photo) in photo_ids.iter().enumerate() {
        let ok = state
            .photo_uploaded(keys::return_photo_object(&order.id, photo))
            .await;
        if !ok {
            return Err(ApiError::field(
                format!("photo_ids[{i}]"),
                "no uploaded image with this id for this order",
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ shop moves

/// A seller's move of one of their shop's orders.
async fn shop_move(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
    to: OrderStatus,
    note: Option<String>,
    extra: shared::orders::ExtraSet,
) -> Result<Json<Order>, ApiError> {
    let (order, party) = load_for_shop(state, caller, id).await?;
    apply(state, &order, to, party, note, extra).await
}

/// [`shop_move`] for a route that only moves orders out of `from`. The state machine reaches
/// `delivered` from `shipped` (a delivery) and from `return_requested` (a rejected return), and
/// each route must take only its own: a rejection of a shipped order used to deliver it and
/// write a decision into a return request that did not exist, leaving an order no read could
/// deserialise (500 on every later view of it).
async fn shop_move_from(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
    from: OrderStatus,
    to: OrderStatus,
    note: Option<String>,
    extra: shared::orders::ExtraSet,
) -> Result<Json<Order>, ApiError> {
    let (order, party) = load_for_shop(state, caller, id).await?;
    if order.status != from {
        return Err(ApiError::Conflict(format!(
            "the order is {}; this needs it {from}",
            order.status
        )));
    }
    apply(state, &order, to, party, note, extra).await
}

/// Shop: confirm an order that waits for payment (payment settled outside the platform). Paid
/// online orders are confirmed by the payment flow; cash-on-delivery orders start confirmed.
#[utoipa::path(post, path = "/api/v1/orders/{id}/confirm", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The confirmed order", body = Order),
        ShopMoveErrors,
        (status = 409, description = "Illegal move from the order's status, or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn confirm(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    shop_move(
        &state,
        &caller,
        &id,
        OrderStatus::Confirmed,
        None,
        Vec::new(),
    )
    .await
}

/// Shop: start preparing a confirmed order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/process", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order, now processing", body = Order),
        ShopMoveErrors,
        (status = 409, description = "Illegal move from the order's status, or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn process(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    shop_move(
        &state,
        &caller,
        &id,
        OrderStatus::Processing,
        None,
        Vec::new(),
    )
    .await
}

/// Shop: hand the parcel to a carrier (carrier and tracking number are shown to the buyer).
#[utoipa::path(post, path = "/api/v1/orders/{id}/ship", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ShipRequest,
    responses(
        (status = 200, description = "The order, now shipped", body = Order),
        ShopMoveErrors,
        (status = 409, description = "Illegal move from the order's status, or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn ship(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ShipRequest>,
) -> Result<Json<Order>, ApiError> {
    let (order, party) = load_for_shop(&state, &caller, &id).await?;
    // The state machine also ships a confirmed order (an own-fleet pickup); a shop hands a
    // parcel to a carrier only once it is processing.
    if order.status != OrderStatus::Processing {
        return Err(ApiError::Conflict(format!(
            "the order is {}; a shop ships it once it is processing",
            order.status
        )));
    }
    let shipment = shared::orders::Shipment {
        carrier: req.carrier.clone(),
        tracking_number: req.tracking_number.clone(),
        shipped_at: shared::now_rfc3339(),
    };
    let extra = vec![("shipment", shared::store::value(&shipment)?)];
    let note = format!("{} {}", req.carrier, req.tracking_number);
    apply(
        &state,
        &order,
        OrderStatus::Shipped,
        party,
        Some(note),
        extra,
    )
    .await
}

/// Shop (until carriers report deliveries): the parcel arrived. The reserved units leave the
/// stock for good and the sale is written to each variant's ledger.
#[utoipa::path(post, path = "/api/v1/orders/{id}/deliver", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order, now delivered", body = Order),
        ShopMoveErrors,
        (status = 409, description = "Illegal move from the order's status, or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn deliver(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let extra = vec![("delivered_at", n(shared::now_epoch()))];
    shop_move_from(
        &state,
        &caller,
        &id,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        None,
        extra,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AcceptReturnQuery {
    /// The returned units arrived damaged: they are not restocked, and a `damage` ledger entry
    /// records them (default false: they go back into the warehouse they left from).
    pub damaged: Option<bool>,
}

/// Shop: accept a return request (the order becomes `returned`; the refund follows). The
/// returned units go back into the warehouse each line was reserved in, with a `return`
/// ledger entry, in the same transaction as the move, so a return is restocked exactly once
/// (a second accept finds the order `returned`: 409); `?damaged=true` restocks nothing.
#[utoipa::path(post, path = "/api/v1/orders/{id}/return/accept", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id"), AcceptReturnQuery),
    responses(
        (status = 200, description = "The order, now returned", body = Order),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        ShopMoveErrors,
        (status = 409, description = "No return was requested, or the order changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn accept_return(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(q): Query<AcceptReturnQuery>,
) -> Result<Json<Order>, ApiError> {
    let damaged = q.damaged.unwrap_or(false);
    let extra = vec![
        ("return_request.decided_at", s(shared::now_rfc3339())),
        (
            "return_request.damaged",
            aws_sdk_dynamodb::types::AttributeValue::Bool(damaged),
        ),
    ];
    let note = if damaged {
        "return accepted; units damaged, not restocked"
    } else {
        "return accepted; units restocked"
    };
    shop_move_from(
        &state,
        &caller,
        &id,
        OrderStatus::ReturnRequested,
        OrderStatus::Returned,
        Some(note.into()),
        extra,
    )
    .await
}

/// Shop: reject a return request with a reason (the order goes back to `delivered`; the buyer
/// cannot ask again).
#[utoipa::path(post, path = "/api/v1/orders/{id}/return/reject", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The order, delivered again", body = Order),
        ShopMoveErrors,
        (status = 409, description = "No return was requested, or the order changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn reject_return(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ReasonRequest>,
) -> Result<Json<Order>, ApiError> {
    let extra = vec![
        ("return_request.decided_at", s(shared::now_rfc3339())),
        ("return_request.decision_note", s(&req.reason)),
    ];
    shop_move_from(
        &state,
        &caller,
        &id,
        OrderStatus::ReturnRequested,
        OrderStatus::Delivered,
        Some(req.reason),
        extra,
    )
    .await
}
