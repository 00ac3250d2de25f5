//! Stock: adjustments with a reason (single and bulk) in a warehouse, the per-variant ledger
//! (filterable by warehouse), the shop's inventory view (one Query per page) with its low-stock
//! filter, and — in `warehouses` and `transfers` — the organisation's warehouses and the
//! transfers between them. Every movement goes through `shared::stock`: the warehouse's row,
//! the variant's sums and the ledger entry in one transaction (stock always equals the ledger's
//! sum, per warehouse and in total), with `StockLow` in that same transaction when it crosses
//! a threshold.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use shared::catalog::{Capability, authorize_shop};
use shared::error::FieldError;
use shared::http::{AuthUser, ListResponse, PageQuery, Query, ValidJson};
use shared::products::{ProductRecord, VariantRecord, load_product};
use shared::stock::{self, ApplyError, Change, MAX_STOCK, Refusal};
use shared::store::{Filter, QuerySpec, keys, s};
use shared::validate::{Errors, Validate};
use shared::warehouses::{StockRecord, WarehouseCap, WarehouseRecord, WarehouseStatus};
use shared::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use warehouses::{WarehouseInventoryQuery, WarehouseStockRow};

pub mod transfers;
pub mod warehouses;

pub const TAG: &str = "inventory";
/// Adjustments in one bulk request: each is up to six actions of its transaction (stock row,
/// variant sums, ledger entry, `StockChanged`, `StockLow` for the warehouse and the total).
pub const MAX_BULK: usize = 15;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(adjust))
        .routes(routes!(bulk_adjust))
        .routes(routes!(ledger))
        .routes(routes!(inventory))
        .merge(warehouses::api())
        .merge(transfers::api())
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
    /// The warehouse whose stock changes: one serving the product's shop (default: the shop's
    /// main warehouse, `<shop id>-main`).
    #[serde(default)]
    pub warehouse_id: Option<String>,
}

const MAX_DELTA: i64 = MAX_STOCK;

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
    /// As in a single adjustment (default: the shop's main warehouse).
    #[serde(default)]
    pub warehouse_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAdjustRequest {
    /// 1 to 15 adjustments, applied all or none; each variant once.
    #[schema(min_items = 1, max_items = 15)]
    pub adjustments: Vec<BulkItem>,
}

impl Validate for BulkAdjustRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.adjustments.is_empty() || self.adjustments.len() > MAX_BULK {
            e.push("adjustments", "give 1 to 15 adjustments");
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in self.adjustments.iter_mut().enumerate() {
            a.sku = a.sku.trim().to_ascii_uppercase();
            e.check(check_delta(
                &format!("adjustments[{i}].delta"),
                a.delta,
                a.reason,
            ));
            // One transaction writes a variant's sums once: one adjustment per variant.
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

/// Stock figures of one variant, summed over its warehouses.
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
    /// Available units per warehouse.
    pub warehouses: BTreeMap<String, i64>,
}

fn level(p: &ProductRecord, v: &VariantRecord) -> StockLevel {
    StockLevel {
        product_id: p.id.clone(),
        product_name: p.name.clone(),
        sku: v.sku.clone(),
        stock: v.stock,
        reserved: v.reserved,
        available: v.available,
        low_stock_threshold: v.low_stock_threshold,
        low_stock: v.available <= v.low_stock_threshold,
        warehouses: v.warehouses.clone(),
    }
}

/// The warehouse an adjustment of `product` goes to: the shop's main warehouse, or a named
/// one that serves the shop and that the caller operates (owners, and members given it).
/// 422 naming `field` otherwise: it is the request's warehouse that is wrong.
async fn adjustment_warehouse(
    state: &AppState,
    caller: &AuthUser,
    product: &ProductRecord,
    requested: Option<&str>,
    field: &str,
) -> Result<String, ApiError> {
    let main = keys::default_warehouse_id(&product.shop_id);
    let Some(id) = requested.filter(|id| *id != main) else {
        return Ok(main);
    };
    let refused = || {
        ApiError::field(
            field,
            "is not an open warehouse serving this product's shop",
        )
    };
    let warehouse: WarehouseRecord = state
        .db
        .get(keys::warehouse(id))
        .await?
        .ok_or_else(refused)?;
    if warehouse.org_id != product.org_id
        || warehouse.status != WarehouseStatus::Active
        || !warehouse.shop_ids.contains(&product.shop_id)
    {
        return Err(refused());
    }
    shared::warehouses::authorize_warehouse(&state.db, caller, id, WarehouseCap::Operate).await?;
    Ok(id.to_owned())
}

/// A refused or conflicting adjustment in the caller's words.
fn adjust_error(e: ApplyError, what: impl Fn(usize) -> String) -> ApiError {
    match e {
        ApplyError::Refused {
            index,
            refusal: Refusal::Unknown,
        } => ApiError::NotFound(format!("{}: no such variant", what(index))),
        ApplyError::Refused {
            index,
            refusal: Refusal::NotEnough { available },
        } => ApiError::Conflict(format!(
            "{}: not enough available stock in that warehouse to remove that many units ({available} available); nothing was applied",
            what(index)
        )),
        ApplyError::Refused {
            index,
            refusal: Refusal::TooMuch,
        } => ApiError::Conflict(format!(
            "{}: the stock would pass 10^9 units; nothing was applied",
            what(index)
        )),
        ApplyError::Refused {
            refusal: Refusal::NotMigrated,
            ..
        }
        | ApplyError::Extra { .. }
        | ApplyError::Busy => ApiError::Unavailable {
            retry_after_secs: 1,
        },
        ApplyError::Store(e) => e.into(),
    }
}

/// The variants' stock as it now is.
async fn levels(
    state: &AppState,
    products: &[ProductRecord],
    wanted: &[(String, String)],
) -> Result<Vec<StockLevel>, ApiError> {
    let keys: Vec<_> = wanted.iter().map(|(p, s)| keys::variant(p, s)).collect();
    let mut found: Vec<VariantRecord> = Vec::new();
    for item in state.db.batch_get(&keys).await? {
        found.push(shared::store::from_item(item)?);
    }
    Ok(wanted
        .iter()
        .filter_map(|(p, sku)| {
            let product = products.iter().find(|x| &x.id == p)?;
            let v = found.iter().find(|v| &v.product_id == p && &v.sku == sku)?;
            Some(level(product, v))
        })
        .collect())
}

/// Seller: adjust a variant's stock with a reason; the change is appended to its ledger.
#[utoipa::path(post, path = "/api/v1/products/{id}/variants/{sku}/stock-adjustments", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    request_body = AdjustRequest,
    responses(
        (status = 200, description = "Stock after the adjustment", body = StockLevel),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product or variant in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough available stock in that warehouse to remove, or the stock would pass 10^9 units", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Concurrent changes kept moving this stock, or it is not in a warehouse yet (before the data migration ran); retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, or `warehouse_id` is not an open warehouse serving the product's shop", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn adjust(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
    ValidJson(req): ValidJson<AdjustRequest>,
) -> Result<Json<StockLevel>, ApiError> {
    let (product, variants, _) = shared::products::load_for_seller(&state.db, &caller, &id).await?;
    let sku = sku.to_uppercase();
    if !variants.iter().any(|v| v.sku == sku) {
        return Err(ApiError::NotFound("no such variant".into()));
    }
    let warehouse_id = adjustment_warehouse(
        &state,
        &caller,
        &product,
        req.warehouse_id.as_deref(),
        "warehouse_id",
    )
    .await?;
    let change = Change {
        product_id: product.id.clone(),
        sku: sku.clone(),
        warehouse_id,
        delta: req.delta,
        reason: req.reason.as_str().into(),
        note: None,
        announce: true,
    };
    stock::apply(&state.db, &[change], caller.id(), &|| Ok(Vec::new()))
        .await
        .map_err(|e| adjust_error(e, |_| sku.clone()))?;
    let mut out = levels(&state, std::slice::from_ref(&product), &[(id, sku)]).await?;
    out.pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such variant".into()))
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
        (status = 503, description = "Concurrent changes kept moving this stock, or it is not in a warehouse yet (before the data migration ran); retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, an unknown variant, or an `adjustments[i].warehouse_id` that is not an open warehouse serving the shop", body = shared::error::Problem, content_type = "application/problem+json"),
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
    let mut products: Vec<ProductRecord> = Vec::new();
    let mut changes = Vec::new();
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
        let warehouse_id = adjustment_warehouse(
            &state,
            &caller,
            &product,
            a.warehouse_id.as_deref(),
            &format!("adjustments[{i}].warehouse_id"),
        )
        .await?;
        changes.push(Change {
            product_id: product.id.clone(),
            sku: a.sku.clone(),
            warehouse_id,
            delta: a.delta,
            reason: a.reason.as_str().into(),
            note: None,
            announce: true,
        });
        products.push(product);
    }
    stock::apply(&state.db, &changes, caller.id(), &|| Ok(Vec::new()))
        .await
        .map_err(|e| adjust_error(e, |i| format!("adjustments[{i}]")))?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for c in &changes {
        let k = (c.product_id.clone(), c.sku.clone());
        if !wanted.contains(&k) {
            wanted.push(k);
        }
    }
    Ok(Json(ListResponse {
        items: levels(&state, &products, &wanted).await?,
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
    /// The warehouse whose stock moved (absent on entries from before warehouses: the shop's
    /// main warehouse).
    #[serde(default)]
    pub warehouse_id: Option<String>,
    /// What a zero-delta entry records (a damaged return, units missing from a transfer).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Only the entries of this warehouse (a page may then be short and still have a cursor).
    #[param(min_length = 1)]
    pub warehouse_id: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Seller: a variant's stock ledger, oldest first; its deltas sum to the current stock, and
/// one warehouse's (`?warehouse_id=`) to that warehouse's.
#[utoipa::path(get, path = "/api/v1/products/{id}/variants/{sku}/ledger", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU"), LedgerQuery),
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
    Query(q): Query<LedgerQuery>,
) -> Result<Json<ListResponse<LedgerEntry>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .pagination()?;
    let (product, ..) = shared::products::load_for_seller(&state.db, &caller, &id).await?;
    // Entries from before warehouses carry none: they are the main warehouse's.
    let main = keys::default_warehouse_id(&product.shop_id);
    let filter = q.warehouse_id.as_deref().map(|w| Filter {
        expression: if w == main {
            "warehouse_id = :w OR attribute_not_exists(warehouse_id)"
        } else {
            "warehouse_id = :w"
        },
        names: &[],
        values: vec![(":w", s(w))],
    });
    let result = state
        .db
        .query_page_filtered::<LedgerEntry>(
            QuerySpec {
                index: None,
                pk: keys::ledger_pk(&id, &sku.to_uppercase()),
                sk_prefix: None,
                ascending: true,
                limit: page.limit,
                start: page.start,
            },
            filter,
        )
        .await?;
    Ok(Json(ListResponse {
        items: result.items,
        next_cursor: result.next_cursor,
    }))
}

/// The low-stock filter of the inventory views (`?low_stock=true`).
pub(crate) fn low_stock_filter(low_only: Option<bool>) -> Option<Filter<'static>> {
    low_only.unwrap_or(false).then(|| Filter {
        expression: "available <= low_stock_threshold",
        names: &[],
        values: Vec::new(),
    })
}

/// Seller: the stock of every variant of the shop in every warehouse holding it, by product
/// and SKU (or only the low rows); one Query per page.
#[utoipa::path(get, path = "/api/v1/shops/{id}/inventory", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), WarehouseInventoryQuery),
    responses(
        (status = 200, description = "Stock rows, one per variant and warehouse", body = ListResponse<WarehouseStockRow>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn inventory(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    Query(q): Query<WarehouseInventoryQuery>,
) -> Result<Json<ListResponse<WarehouseStockRow>>, ApiError> {
    let pk = keys::gsi2_shop_stock(&shop_id);
    let page = warehouses::page_of(
        PageQuery {
            limit: q.limit,
            cursor: q.cursor,
        },
        "GSI2PK",
        &pk,
    )?;
    authorize_shop(&state.db, &caller, &shop_id, Capability::ManageCatalog).await?;
    let result = state
        .db
        .query_page_filtered::<StockRecord>(
            QuerySpec {
                index: Some("GSI2"),
                pk,
                sk_prefix: None,
                ascending: true,
                limit: page.limit,
                start: page.start,
            },
            low_stock_filter(q.low_stock),
        )
        .await?;
    Ok(Json(ListResponse {
        items: result
            .items
            .into_iter()
            .map(WarehouseStockRow::from)
            .collect(),
        next_cursor: result.next_cursor,
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
