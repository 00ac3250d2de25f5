//! `/api/v1/cart/*`: the buyer's cart, the lines saved for later and the applied vouchers.
//! The cart is one item (`shared::cart`): every edit is one UpdateItem whose condition holds
//! the cart's invariants (a line exists before it changes, at most 100 lines and 100 saved
//! lines, one currency per cart, at most 999 units a line), so concurrent edits never lose a
//! line and never need a read-check-write. The cart is read back and priced against the live
//! catalogue (`shared::checkout::quote`) for every response: prices that changed since a line
//! was added and lines that can no longer be bought are flagged, vouchers say whether they
//! apply. Voucher usage limits are not checked here; order placement enforces them.

pub mod model;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use shared::cart::{Cart, CartLine, MAX_CART_LINES, StoredLine, add_line};
use shared::catalog::{ShopRecord, ShopStatus};
use shared::checkout::{Quote, QuoteLine, applied_vouchers, load_catalog, quote, quote_cart};
use shared::domain::effective_price;
use shared::http::{AuthUser, ValidJson, no_content};
use shared::products::{ProductRecord, ProductStatus, VariantRecord};
use shared::store::{Db, StoreError, from_item, keys, n, s, tx};
use shared::vouchers::VoucherRecord;
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "cart";
/// Most lines saved for later (keeps the cart item far below DynamoDB's 400 KB).
pub const MAX_SAVED_LINES: i64 = 100;
/// Counter of saved lines in the cart item (lines have `line_count`).
const SAVED_COUNT: &str = "saved_count";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(get_cart, clear_cart))
        .routes(routes!(cart_summary))
        .routes(routes!(add_item))
        .routes(routes!(set_quantity, remove_item))
        .routes(routes!(save_for_later))
        .routes(routes!(restore_saved))
        .routes(routes!(remove_saved))
        .routes(routes!(calculate_total))
        .routes(routes!(apply_voucher))
        .routes(routes!(remove_platform_voucher))
        .routes(routes!(remove_shop_voucher))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn not_in_cart() -> ApiError {
    ApiError::NotFound("this item is not in your cart".into())
}

fn not_saved() -> ApiError {
    ApiError::NotFound("this item is not among your saved items".into())
}

/// The currency as the cart item's `currency` attribute holds it (its serde name, e.g. `VND`).
fn currency_value(currency: shared::domain::Currency) -> Result<AttributeValue, ApiError> {
    serde_dynamo::to_attribute_value(currency).map_err(ApiError::internal)
}

/// Prices the cart and its saved lines against the catalogue, read in one batch.
async fn view(db: &Db, user_id: &str, cart: Cart) -> Result<CartView, ApiError> {
    let mut mentioned: Vec<CartLine> = cart.lines.clone();
    mentioned.extend(cart.saved.iter().cloned());
    let catalog = load_catalog(db, user_id, &mentioned, &applied_vouchers(&cart)).await?;
    let now = shared::now_epoch();
    let priced = quote(&cart, &cart.lines, &catalog, now, None);
    // The saved lines priced the same way, on their own (no vouchers), back in saved order.
    let saved_cart = Cart {
        lines: cart.saved.clone(),
        ..Cart::default()
    };
    let mut by_key: HashMap<(String, String), QuoteLine> =
        quote(&saved_cart, &saved_cart.lines, &catalog, now, None)
            .shops
            .into_iter()
            .flat_map(|s| s.lines)
            .map(|l| ((l.product_id.clone(), l.sku.clone()), l))
            .collect();
    let saved = cart
        .saved
        .iter()
        .filter_map(|l| by_key.remove(&(l.product_id.clone(), l.sku.clone())))
        .collect();
    Ok(CartView {
        quote: priced,
        saved,
        line_count: cart.lines.len(),
    })
}

/// Reads the caller's cart back and prices it.
async fn current(state: &AppState, caller: &AuthUser) -> Result<Json<CartView>, ApiError> {
    let cart = shared::cart::load(&state.db, caller.id()).await?;
    Ok(Json(view(&state.db, caller.id(), cart).await?))
}

/// One conditional UpdateItem of the caller's cart item; `Ok(false)` if the condition failed.
async fn update_cart(
    db: &Db,
    user_id: &str,
    update: &str,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> Result<bool, ApiError> {
    match db
        .update(tx::UpdateSpec {
            key: keys::cart(user_id),
            update,
            condition,
            names,
            values,
        })
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn line_key(id: String, sku: &str) -> Result<(String, String), ApiError> {
    // A path that is no SKU cannot name a line of the cart.
    let sku = normalise_sku(sku).ok_or_else(not_in_cart)?;
    Ok((id, sku))
}

/// The product, the variant and the shop an added line refers to.
async fn load_for_cart(
    db: &Db,
    product_id: &str,
    sku: &str,
) -> Result<(ProductRecord, VariantRecord, Option<ShopRecord>), ApiError> {
    // GetItem-class reads only (BatchGetItem), as the function's IAM policy allows.
    let items = db
        .batch_get(&[keys::product(product_id), keys::variant(product_id, sku)])
        .await?;
    let mut product = None;
    let mut variant = None;
    for item in items {
        match item.get("SK") {
            Some(AttributeValue::S(sk)) if sk == keys::PRODUCT_SK => {
                product = Some(from_item::<ProductRecord>(item)?)
            }
            Some(AttributeValue::S(_)) => variant = Some(from_item::<VariantRecord>(item)?),
            _ => {}
        }
    }
    let product = product
        .filter(|p| p.status != ProductStatus::Draft)
        .ok_or_else(|| ApiError::field("product_id", "no such product"))?;
    let variant =
        variant.ok_or_else(|| ApiError::field("sku", "no such variant of this product"))?;
    let shop: Option<ShopRecord> = db.get(keys::shop_profile(&product.shop_id)).await?;
    Ok((product, variant, shop))
}

/// The buyer's cart priced now, with the lines saved for later.
#[utoipa::path(get, path = "/api/v1/cart", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart, grouped by shop and priced now", body = CartView),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_cart(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<CartView>, ApiError> {
    current(&state, &caller).await
}

/// Empties the cart: its lines, the saved lines and the applied vouchers.
#[utoipa::path(delete, path = "/api/v1/cart", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 204, description = "The cart is empty"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn clear_cart(State(state): State<AppState>, caller: AuthUser) -> Result<Response, ApiError> {
    state.db.delete(keys::cart(caller.id())).await?;
    Ok(no_content())
}

/// The cart badge: line and unit counts and the total, priced now.
#[utoipa::path(get, path = "/api/v1/cart/summary", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts and total", body = CartSummary),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn cart_summary(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<CartSummary>, ApiError> {
    let cart = shared::cart::load(&state.db, caller.id()).await?;
    let (q, _) = quote_cart(&state.db, caller.id(), &cart).await?;
    Ok(Json(CartSummary {
        line_count: cart.lines.len(),
        item_count: q.item_count,
        total: q.total,
        currency: q.currency,
        ready: q.ready,
    }))
}

/// Adds units of a variant: to its line if the cart has one, else as a new line. The product
/// must be for sale and have the units available; a cart holds one currency.
#[utoipa::path(post, path = "/api/v1/cart/items", tag = TAG, security(("bearer" = [])),
    request_body = AddItemRequest,
    responses(
        (status = 200, description = "The cart with the item added", body = CartView),
        (status = 409, description = "Not for sale, not enough available, the cart is full, the line is at 999 units, or the cart holds another currency", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn add_item(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<AddItemRequest>,
) -> Result<Json<CartView>, ApiError> {
    let (product, variant, shop) = load_for_cart(&state.db, &req.product_id, &req.sku).await?;
    let shop_active = shop.is_some_and(|s| s.status == ShopStatus::Active);
    if product.status != ProductStatus::Active || !shop_active {
        return Err(ApiError::Conflict(
            "product_id: this product is not for sale".into(),
        ));
    }
    let cart = shared::cart::load(&state.db, caller.id()).await?;
    let in_cart = cart
        .line(&req.product_id, &req.sku)
        .map_or(0, |l| l.line.quantity);
    let available = variant.available.max(0);
    if in_cart + req.quantity > available {
        return Err(ApiError::Conflict(format!(
            "quantity: only {available} available (your cart holds {in_cart})"
        )));
    }
    let now = shared::now_epoch();
    let line = StoredLine {
        quantity: req.quantity,
        shop_id: product.shop_id.clone(),
        price_when_added: effective_price(variant.price, variant.discount.as_ref(), now),
        added_at: shared::now_rfc3339(),
    };
    add_line(&state.db, caller.id(), &req.product_id, &req.sku, line).await?;
    carted_together(&state, &cart, &req.product_id).await;
    current(&state, &caller).await
}

/// Other products in one cart a new product pairs with ("carted together"), at most.
const CART_PAIRS: usize = 5;

/// A product new to the cart is paired with the other products in it (the most recent
/// [`CART_PAIRS`]) in the co-occurrence counters "for you" reads. More units of a product
/// already in the cart pair nothing again. Best effort: the line is added whatever happens here.
async fn carted_together(state: &AppState, before: &shared::cart::Cart, product_id: &str) {
    if before.lines.iter().any(|l| l.product_id == product_id) {
        return;
    }
    let mut lines: Vec<&shared::cart::CartLine> = before.lines.iter().collect();
    lines.sort_by(|a, b| b.line.added_at.cmp(&a.line.added_at));
    let mut others: Vec<&str> = Vec::new();
    for l in lines {
        if !others.contains(&l.product_id.as_str()) && others.len() < CART_PAIRS {
            others.push(&l.product_id);
        }
    }
    let pairs: Vec<(String, String)> = others
        .into_iter()
        .map(|o| (product_id.to_owned(), o.to_owned()))
        .collect();
    if pairs.is_empty() {
        return;
    }
    if let Err(e) =
        shared::discovery::counters::add_cooccurrences(&state.db, keys::COOC_CARTED, &pairs).await
    {
        tracing::warn!(error = %e, "carted-together counters were not updated");
    }
}

/// Sets a line's quantity.
#[utoipa::path(put, path = "/api/v1/cart/items/{id}/{sku}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    request_body = SetQuantityRequest,
    responses(
        (status = 200, description = "The cart with the new quantity", body = CartView),
        (status = 404, description = "The variant is not in the cart", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Fewer units are available", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_quantity(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
    ValidJson(req): ValidJson<SetQuantityRequest>,
) -> Result<Json<CartView>, ApiError> {
    let (id, sku) = line_key(id, &sku)?;
    let variant: Option<VariantRecord> = state.db.get(keys::variant(&id, &sku)).await?;
    if let Some(v) = variant
        && req.quantity > v.available.max(0)
    {
        return Err(ApiError::Conflict(format!(
            "quantity: only {} available",
            v.available.max(0)
        )));
    }
    let attr = keys::cart_line_attr(&id, &sku);
    let updated = update_cart(
        &state.db,
        caller.id(),
        "SET #a.quantity = :q",
        Some("attribute_exists(#a)"),
        &[("#a", &attr)],
        vec![(":q", n(req.quantity))],
    )
    .await?;
    if !updated {
        return Err(not_in_cart());
    }
    current(&state, &caller).await
}

/// Removes a line.
#[utoipa::path(delete, path = "/api/v1/cart/items/{id}/{sku}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    responses(
        (status = 200, description = "The cart without the line", body = CartView),
        (status = 404, description = "The variant is not in the cart", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn remove_item(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let (id, sku) = line_key(id, &sku)?;
    let attr = keys::cart_line_attr(&id, &sku);
    let removed = update_cart(
        &state.db,
        caller.id(),
        "REMOVE #a ADD line_count :minus",
        Some("attribute_exists(#a)"),
        &[("#a", &attr)],
        vec![(":minus", n(-1))],
    )
    .await?;
    if !removed {
        return Err(not_in_cart());
    }
    current(&state, &caller).await
}

/// Moves a line to the saved-for-later list (replacing a saved line of the same variant).
#[utoipa::path(post, path = "/api/v1/cart/items/{id}/{sku}/save-for-later", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    responses(
        (status = 200, description = "The cart with the line moved to `saved`", body = CartView),
        (status = 404, description = "The variant is not in the cart", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "100 lines are saved already", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn save_for_later(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let (id, sku) = line_key(id, &sku)?;
    let line = keys::cart_line_attr(&id, &sku);
    let saved = keys::cart_saved_attr(&id, &sku);
    let names = [
        ("#a", line.as_str()),
        ("#s", saved.as_str()),
        ("#n", SAVED_COUNT),
    ];
    // A newly saved variant counts against the saved lines' limit …
    let moved = update_cart(
        &state.db,
        caller.id(),
        "SET #s = #a REMOVE #a ADD line_count :minus, #n :one",
        Some("attribute_exists(#a) AND attribute_not_exists(#s) AND (attribute_not_exists(#n) OR #n < :max)"),
        &names,
        vec![
            (":minus", n(-1)),
            (":one", n(1)),
            (":max", n(MAX_SAVED_LINES)),
        ],
    )
    .await?
        // … one saved already is replaced by the line (the count stays).
        || update_cart(
            &state.db,
            caller.id(),
            "SET #s = #a REMOVE #a ADD line_count :minus",
            Some("attribute_exists(#a) AND attribute_exists(#s)"),
            &names[..2],
            vec![(":minus", n(-1))],
        )
        .await?;
    if !moved {
        let cart = shared::cart::load(&state.db, caller.id()).await?;
        return Err(if cart.line(&id, &sku).is_none() {
            not_in_cart()
        } else if cart.saved.len() as i64 >= MAX_SAVED_LINES {
            ApiError::Conflict(format!(
                "at most {MAX_SAVED_LINES} items can be saved for later"
            ))
        } else {
            ApiError::Conflict("the cart changed concurrently; retry".into())
        });
    }
    current(&state, &caller).await
}

/// Moves a saved line back into the cart, with the quantity it had.
#[utoipa::path(post, path = "/api/v1/cart/saved/{id}/{sku}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    responses(
        (status = 200, description = "The cart with the line restored", body = CartView),
        (status = 404, description = "The variant is not saved", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The variant is in the cart already, the cart is full, or it holds another currency", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn restore_saved(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let (id, sku) = line_key(id, &sku).map_err(|_| not_saved())?;
    let cart = shared::cart::load(&state.db, caller.id()).await?;
    let Some(entry) = cart
        .saved
        .iter()
        .find(|l| l.product_id == id && l.sku == sku)
    else {
        return Err(not_saved());
    };
    let line = keys::cart_line_attr(&id, &sku);
    let saved = keys::cart_saved_attr(&id, &sku);
    let restored = update_cart(
        &state.db,
        caller.id(),
        "SET #a = #s, currency = :c REMOVE #s ADD line_count :one, #n :minus",
        Some(
            "attribute_exists(#s) AND attribute_not_exists(#a) \
             AND (attribute_not_exists(line_count) OR line_count < :max) \
             AND (attribute_not_exists(currency) OR currency = :c OR line_count = :zero)",
        ),
        &[("#a", &line), ("#s", &saved), ("#n", SAVED_COUNT)],
        vec![
            (":c", currency_value(entry.line.price_when_added.currency)?),
            (":one", n(1)),
            (":minus", n(-1)),
            (":max", n(MAX_CART_LINES)),
            (":zero", n(0)),
        ],
    )
    .await?;
    if !restored {
        let cart = shared::cart::load(&state.db, caller.id()).await?;
        return Err(
            if !cart
                .saved
                .iter()
                .any(|l| l.product_id == id && l.sku == sku)
            {
                not_saved()
            } else if cart.line(&id, &sku).is_some() {
                ApiError::Conflict(
                "this item is in your cart already; remove the saved one or change the line's quantity"
                    .into(),
            )
            } else if cart.lines.len() as i64 >= MAX_CART_LINES {
                ApiError::Conflict(format!("the cart already holds {MAX_CART_LINES} lines"))
            } else {
                ApiError::Conflict("the cart holds items priced in another currency".into())
            },
        );
    }
    current(&state, &caller).await
}

/// Deletes a saved line.
#[utoipa::path(delete, path = "/api/v1/cart/saved/{id}/{sku}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    responses(
        (status = 200, description = "The cart without the saved line", body = CartView),
        (status = 404, description = "The variant is not saved", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn remove_saved(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
) -> Result<Json<CartView>, ApiError> {
    let (id, sku) = line_key(id, &sku).map_err(|_| not_saved())?;
    let saved = keys::cart_saved_attr(&id, &sku);
    let removed = update_cart(
        &state.db,
        caller.id(),
        "REMOVE #s ADD #n :minus",
        Some("attribute_exists(#s)"),
        &[("#s", &saved), ("#n", SAVED_COUNT)],
        vec![(":minus", n(-1))],
    )
    .await?;
    if !removed {
        return Err(not_saved());
    }
    current(&state, &caller).await
}

/// The fee breakdown of the cart as it is now (the figures order placement would charge).
#[utoipa::path(post, path = "/api/v1/cart/calculate-total", tag = TAG, security(("bearer" = [])),
    request_body = CalculateTotalRequest,
    responses(
        (status = 200, description = "The priced cart", body = Quote),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn calculate_total(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(_req): ValidJson<CalculateTotalRequest>,
) -> Result<Json<Quote>, ApiError> {
    let cart = shared::cart::load(&state.db, caller.id()).await?;
    let (q, _) = quote_cart(&state.db, caller.id(), &cart).await?;
    Ok(Json(q))
}

/// Applies a voucher code: a shop's (replacing that shop's applied voucher) or the platform's
/// (replacing the applied one). The cart's voucher view says whether it gives a discount now
/// and why not; usage limits are checked when the order is placed.
#[utoipa::path(post, path = "/api/v1/cart/vouchers", tag = TAG, security(("bearer" = [])),
    request_body = ApplyVoucherRequest,
    responses(
        (status = 200, description = "The cart with the voucher applied", body = CartView),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn apply_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<ApplyVoucherRequest>,
) -> Result<Json<CartView>, ApiError> {
    let scope = keys::voucher_scope(req.shop_id.as_deref());
    let voucher: VoucherRecord = state
        .db
        .get(keys::voucher(&scope, &req.code))
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "code",
                if req.shop_id.is_some() {
                    "no voucher with this code in this shop"
                } else {
                    "no platform voucher with this code"
                },
            )
        })?;
    if let Some(reason) = voucher.unusable_reason(shared::now_epoch()) {
        return Err(ApiError::field("code", reason));
    }
    let attr = match &req.shop_id {
        Some(shop) => {
            let cart = shared::cart::load(&state.db, caller.id()).await?;
            if !cart.lines.iter().any(|l| &l.line.shop_id == shop) {
                return Err(ApiError::field(
                    "shop_id",
                    "your cart holds no items of this shop",
                ));
            }
            keys::cart_shop_voucher_attr(shop)
        }
        None => keys::CART_PLATFORM_VOUCHER.to_owned(),
    };
    update_cart(
        &state.db,
        caller.id(),
        "SET #v = :code",
        None,
        &[("#v", &attr)],
        vec![(":code", s(voucher.code))],
    )
    .await?;
    current(&state, &caller).await
}

async fn remove_voucher(
    state: &AppState,
    caller: &AuthUser,
    attr: &str,
) -> Result<Json<CartView>, ApiError> {
    let removed = update_cart(
        &state.db,
        caller.id(),
        "REMOVE #v",
        Some("attribute_exists(#v)"),
        &[("#v", attr)],
        Vec::new(),
    )
    .await?;
    if !removed {
        return Err(ApiError::NotFound("no such voucher is applied".into()));
    }
    current(state, caller).await
}

/// Removes the applied platform voucher.
#[utoipa::path(delete, path = "/api/v1/cart/vouchers/platform", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart without the platform voucher", body = CartView),
        (status = 404, description = "No platform voucher is applied", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn remove_platform_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<CartView>, ApiError> {
    remove_voucher(&state, &caller, keys::CART_PLATFORM_VOUCHER).await
}

/// Removes the voucher applied to one shop's items.
#[utoipa::path(delete, path = "/api/v1/cart/vouchers/shops/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    responses(
        (status = 200, description = "The cart without the shop's voucher", body = CartView),
        (status = 404, description = "No voucher is applied to this shop's items", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn remove_shop_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
) -> Result<Json<CartView>, ApiError> {
    remove_voucher(&state, &caller, &keys::cart_shop_voucher_attr(&shop_id)).await
}
