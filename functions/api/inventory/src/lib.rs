//! Stock: adjustments with a reason (single and bulk), the per-variant ledger, the shop's
//! inventory view with its low-stock list, and `StockLow` once per downward crossing of a
//! variant's threshold. Every adjustment updates the variant and appends its ledger entry in one
//! transaction, so stock always equals the ledger's sum; counters use `ADD`, so concurrent
//! adjustments never lose an update, and a condition keeps available stock from going negative.

use aws_sdk_dynamodb::types::AttributeValue;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::catalog::{Capability, authorize_shop};
use shared::domain::available;
use shared::error::FieldError;
use shared::events::{self, DomainEvent, StockChanged, StockLow};
use shared::http::{AuthUser, ListResponse, PageQuery, Query, ValidJson};
use shared::products::{LedgerRecord, ProductRecord, VariantRecord, load_product};
use shared::store::{QuerySpec, StoreError, keys, n, tx};
use shared::validate::{Errors, Validate};
use shared::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const TAG: &str = "inventory";
/// Adjustments in one bulk request (3 transaction actions each).
pub const MAX_BULK: usize = 30;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(adjust))
        .routes(routes!(bulk_adjust))
        .routes(routes!(ledger))
        .routes(routes!(inventory))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Restock,
    Damage,
    Correction,
    Return,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Restock => "restock",
            Self::Damage => "damage",
            Self::Correction => "correction",
            Self::Return => "return",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustRequest {
    /// Units to add (positive) or remove (negative); never 0, at most 10^9 either way.
    #[schema(example = 12, minimum = -1_000_000_000_i64, maximum = 1_000_000_000_i64)]
    pub delta: i64,
    pub reason: Reason,
}

const MAX_DELTA: i64 = 1_000_000_000;
/// Most units one variant may hold (as at creation): repeated restocks cannot grow a stock past
/// what every reader's `i64` holds (DynamoDB numbers would go on to 38 digits).
const MAX_STOCK: i64 = 1_000_000_000;

fn check_delta(field: &str, delta: i64, reason: Reason) -> Result<(), FieldError> {
    // A range check, not `abs()`: `i64::MIN.abs()` overflows.
    if delta == 0 || !(-MAX_DELTA..=MAX_DELTA).contains(&delta) {
        return Err(FieldError::new(
            field,
            "must be a non-zero number of units (at most 10^9)",
        ));
    }
    let ok = match reason {
        Reason::Restock | Reason::Return => delta > 0,
        Reason::Damage => delta < 0,
        Reason::Correction => true,
    };
    if !ok {
        return Err(FieldError::new(
            field,
            "restock and return add stock; damage removes it",
        ));
    }
    Ok(())
}

impl Validate for AdjustRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        check_delta("delta", self.delta, self.reason).map_err(|e| vec![e])
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkItem {
    pub product_id: String,
    pub sku: String,
    /// As in a single adjustment: non-zero, at most 10^9 either way.
    #[schema(minimum = -1_000_000_000_i64, maximum = 1_000_000_000_i64)]
    pub delta: i64,
    pub reason: Reason,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAdjustRequest {
    /// 1 to 30 adjustments, applied all or none; each variant once.
    #[schema(min_items = 1, max_items = 30)]
    pub adjustments: Vec<BulkItem>,
}

impl Validate for BulkAdjustRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.adjustments.is_empty() || self.adjustments.len() > MAX_BULK {
            e.push("adjustments", "give 1 to 30 adjustments");
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in self.adjustments.iter_mut().enumerate() {
            a.sku = a.sku.trim().to_ascii_uppercase();
            e.check(check_delta(
                &format!("adjustments[{i}].delta"),
                a.delta,
                a.reason,
            ));
            if !seen.insert((a.product_id.clone(), a.sku.clone())) {
                e.push(
                    &format!("adjustments[{i}].sku"),
                    "is adjusted twice in this request",
                );
            }
        }
        e.finish()
    }
}

/// Stock figures of one variant.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockLevel {
    pub product_id: String,
    pub product_name: String,
    pub sku: String,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
    pub low_stock_threshold: i64,
    pub low_stock: bool,
}

fn level(p: &ProductRecord, v: &VariantRecord) -> StockLevel {
    StockLevel {
        product_id: p.id.clone(),
        product_name: p.name.clone(),
        sku: v.sku.clone(),
        stock: v.stock,
        reserved: v.reserved,
        available: available(v.stock, v.reserved),
        low_stock_threshold: v.low_stock_threshold,
        low_stock: v.available <= v.low_stock_threshold,
    }
}

/// The three writes of one adjustment.
fn adjustment_actions(
    table: &str,
    product: &ProductRecord,
    sku: &str,
    delta: i64,
    reason: Reason,
    actor: &str,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
    Ok(vec![
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(&product.id, sku),
                update: "ADD stock :d, available :d, rev :one",
                condition: Some(
                    "attribute_exists(PK) AND available >= :need AND stock <= :ceiling",
                ),
                names: &[],
                values: vec![
                    (":d", n(delta)),
                    (":one", n(1)),
                    (":need", n((-delta).max(0))),
                    (":ceiling", n(MAX_STOCK - delta.max(0))),
                ],
            },
        )?,
        tx::put_new(
            table,
            &LedgerRecord::new(&product.id, sku, delta, reason.as_str(), actor),
        )?,
        events::outbox_put(
            table,
            &DomainEvent::StockChanged(StockChanged {
                product_id: product.id.clone(),
                shop_id: product.shop_id.clone(),
                sku: sku.into(),
                delta,
                reason: reason.as_str().into(),
            }),
        )?,
    ])
}

/// After an adjustment: raise `StockLow` if this change crossed the threshold downwards (the
/// flag's condition makes it once per crossing), or re-arm the flag after a restock.
async fn track_low_stock(
    state: &AppState,
    product: &ProductRecord,
    sku: &str,
) -> Result<Option<VariantRecord>, ApiError> {
    let Some(v) = state
        .db
        .get::<VariantRecord>(keys::variant(&product.id, sku))
        .await?
    else {
        return Ok(None);
    };
    let table = &state.db.table;
    let low = v.available <= v.low_stock_threshold;
    if low && !v.low_stock {
        let event = DomainEvent::StockLow(StockLow {
            product_id: product.id.clone(),
            shop_id: product.shop_id.clone(),
            org_id: product.org_id.clone(),
            sku: sku.into(),
            available: v.available,
            threshold: v.low_stock_threshold,
        });
        let flagged = state
            .db
            .transact(vec![
                tx::update(
                    table,
                    tx::UpdateSpec {
                        key: keys::variant(&product.id, sku),
                        update: "SET low_stock = :true",
                        condition: Some("available <= low_stock_threshold AND low_stock = :false"),
                        names: &[],
                        values: vec![
                            (":true", AttributeValue::Bool(true)),
                            (":false", AttributeValue::Bool(false)),
                        ],
                    },
                )?,
                events::outbox_put(table, &event)?,
            ])
            .await;
        match flagged {
            Ok(()) => {
                tracing::info!(product_id = %product.id, sku, available = v.available, "stock low")
            }
            Err(StoreError::TransactionCanceled(_)) => {} // another request flagged this crossing
            Err(e) => return Err(e.into()),
        }
    } else if !low && v.low_stock {
        let rearmed = state
            .db
            .transact(vec![tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::variant(&product.id, sku),
                    update: "SET low_stock = :false",
                    condition: Some("available > low_stock_threshold AND low_stock = :true"),
                    names: &[],
                    values: vec![
                        (":true", AttributeValue::Bool(true)),
                        (":false", AttributeValue::Bool(false)),
                    ],
                },
            )?])
            .await;
        if let Err(e) = rearmed
            && !matches!(e, StoreError::TransactionCanceled(_))
        {
            return Err(e.into());
        }
    }
    Ok(Some(v))
}

/// A product of the caller's shops with its variants (see `shared::products::load_for_seller`).
async fn product_for(
    state: &AppState,
    caller: &AuthUser,
    product_id: &str,
) -> Result<(ProductRecord, Vec<VariantRecord>), ApiError> {
    let (product, variants, _) =
        shared::products::load_for_seller(&state.db, caller, product_id).await?;
    Ok((product, variants))
}

/// Seller: adjust a variant's stock with a reason; the change is appended to its ledger.
#[utoipa::path(post, path = "/api/v1/products/{id}/variants/{sku}/stock-adjustments", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    request_body = AdjustRequest,
    responses(
        (status = 200, description = "Stock after the adjustment", body = StockLevel),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product or variant in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough available stock to remove, or the stock would pass 10^9 units", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn adjust(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
    ValidJson(req): ValidJson<AdjustRequest>,
) -> Result<Json<StockLevel>, ApiError> {
    let (product, variants) = product_for(&state, &caller, &id).await?;
    let sku = sku.to_uppercase();
    if !variants.iter().any(|v| v.sku == sku) {
        return Err(ApiError::NotFound("no such variant".into()));
    }
    let actions = adjustment_actions(
        &state.db.table,
        &product,
        &sku,
        req.delta,
        req.reason,
        caller.id(),
    )?;
    match state.db.transact(actions).await {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => {
            return Err(ApiError::Conflict(
                "not enough available stock to remove that many units, or the stock would pass 10^9 units"
                    .into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let v = track_low_stock(&state, &product, &sku)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such variant".into()))?;
    Ok(Json(level(&product, &v)))
}

/// Seller: several adjustments in one shop, applied all or none.
#[utoipa::path(post, path = "/api/v1/shops/{id}/inventory/adjustments", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = BulkAdjustRequest,
    responses(
        (status = 200, description = "Stock after the adjustments", body = ListResponse<StockLevel>),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough available stock for one of them, or one would pass 10^9 units (none applied)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn bulk_adjust(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    ValidJson(req): ValidJson<BulkAdjustRequest>,
) -> Result<Json<ListResponse<StockLevel>>, ApiError> {
    authorize_shop(&state.db, &caller, &shop_id, Capability::ManageCatalog).await?;
    let mut products = Vec::new();
    let mut actions = Vec::new();
    for (i, a) in req.adjustments.iter().enumerate() {
        let unknown = || {
            ApiError::field(
                format!("adjustments[{i}].sku"),
                "no such variant in this shop",
            )
        };
        let (product, variants) = load_product(&state.db, &a.product_id)
            .await?
            .ok_or_else(unknown)?;
        if product.shop_id != shop_id || !variants.iter().any(|v| v.sku == a.sku) {
            return Err(unknown());
        }
        actions.extend(adjustment_actions(
            &state.db.table,
            &product,
            &a.sku,
            a.delta,
            a.reason,
            caller.id(),
        )?);
        products.push(product);
    }
    match state.db.transact(actions).await {
        Ok(()) => {}
        Err(e) if e.failed_condition_index().is_some() => {
            let i = e.failed_condition_index().unwrap_or_default() / 3;
            return Err(ApiError::Conflict(format!(
                "adjustments[{i}]: not enough available stock, or the stock would pass 10^9 units; nothing was applied"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let mut items = Vec::new();
    for (a, product) in req.adjustments.iter().zip(&products) {
        if let Some(v) = track_low_stock(&state, product, &a.sku).await? {
            items.push(level(product, &v));
        }
    }
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

/// A ledger entry as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub sku: String,
    pub delta: i64,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

/// Seller: a variant's stock ledger, oldest first; its deltas sum to the current stock.
#[utoipa::path(get, path = "/api/v1/products/{id}/variants/{sku}/ledger", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU"), PageQuery),
    responses(
        (status = 200, description = "Ledger entries", body = ListResponse<LedgerEntry>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn ledger(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ListResponse<LedgerEntry>>, ApiError> {
    let page = q.pagination()?;
    product_for(&state, &caller, &id).await?;
    let result = state
        .db
        .query_page::<LedgerEntry>(QuerySpec {
            index: None,
            pk: keys::ledger_pk(&id, &sku.to_uppercase()),
            sk_prefix: None,
            ascending: true,
            limit: page.limit,
            start: page.start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: result.items,
        next_cursor: result.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InventoryQuery {
    /// Only variants at or below their low-stock threshold.
    pub low_stock: Option<bool>,
}

/// Seller: stock of every variant of the shop's products (or only the low ones).
#[utoipa::path(get, path = "/api/v1/shops/{id}/inventory", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), InventoryQuery),
    responses(
        (status = 200, description = "Stock levels", body = ListResponse<StockLevel>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn inventory(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    Query(q): Query<InventoryQuery>,
) -> Result<Json<ListResponse<StockLevel>>, ApiError> {
    authorize_shop(&state.db, &caller, &shop_id, Capability::ManageCatalog).await?;
    let products = state
        .db
        .query_page::<ProductRecord>(QuerySpec {
            index: Some("GSI2"),
            pk: keys::gsi2_shop_products(&shop_id),
            sk_prefix: None,
            ascending: false,
            limit: 100,
            start: None,
        })
        .await?;
    let mut items = Vec::new();
    for p in products.items {
        if let Some((p, variants)) = load_product(&state.db, &p.id).await? {
            items.extend(
                variants
                    .iter()
                    .map(|v| level(&p, v))
                    .filter(|l| !q.low_stock.unwrap_or(false) || l.low_stock),
            );
        }
    }
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_at_and_past_the_i64_edges_are_refused_not_negated() {
        for delta in [
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            -MAX_DELTA - 1,
            MAX_DELTA + 1,
            0,
        ] {
            assert!(
                check_delta("delta", delta, Reason::Correction).is_err(),
                "{delta}"
            );
        }
        assert!(check_delta("delta", -MAX_DELTA, Reason::Correction).is_ok());
        assert!(check_delta("delta", MAX_DELTA, Reason::Restock).is_ok());
    }
}
