//! An organisation's warehouses: create, list, read, edit and close them, and a warehouse's
//! stock rows (its inventory, one Query per page). Every write of a warehouse updates the
//! served shops' lists (`SHOP#<s>/WAREHOUSES`, read by the checkout) in the same transaction,
//! each conditional on the version it was read at.

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::catalog::{MemberRecord, MemberRole, ShopAddress, ShopRecord};
use shared::error::FieldError;
use shared::http::{AuthUser, ListResponse, PageQuery, Pagination, Query, ValidJson};
use shared::store::{Db, QuerySpec, StoreError, keys, n, s, tx};
use shared::validate::{self, Errors, Validate};
use shared::warehouses::{
    ServingWarehouse, ShopWarehousesRecord, StockRecord, WarehouseCap, WarehouseRecord,
    WarehouseStatus, authorize_warehouse,
};
use shared::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TAG;

/// Shops one warehouse may serve.
pub const MAX_WAREHOUSE_SHOPS: usize = 50;
/// How often a warehouse write reads again after a concurrent write of a shop's list.
const ATTEMPTS: usize = 5;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_warehouse, list_warehouses))
        .routes(routes!(get_warehouse, update_warehouse, close_warehouse))
        .routes(routes!(warehouse_inventory))
}

// ------------------------------------------------------------------ bodies

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseInput {
    #[schema(
        example = "Hanoi north depot",
        min_length = 2,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    /// Where it is; checkout reserves from the warehouse nearest the buyer.
    pub address: ShopAddress,
    /// The organisation's shops it sells for: 1 to 50.
    #[schema(min_items = 1, max_items = 50)]
    pub shop_ids: Vec<String>,
}

impl Validate for WarehouseInput {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("name", &mut self.name, 2, 100));
        shared::warehouses::check_address(&mut self.address, &mut e);
        self.shop_ids.sort();
        self.shop_ids.dedup();
        if self.shop_ids.is_empty() || self.shop_ids.len() > MAX_WAREHOUSE_SHOPS {
            e.push("shop_ids", "name 1 to 50 shops of the organisation");
        }
        for (i, id) in self.shop_ids.iter_mut().enumerate() {
            e.check(validate::id(&format!("shop_ids[{i}]"), id));
        }
        e.finish()
    }
}

/// A warehouse as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Warehouse {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub address: ShopAddress,
    pub shop_ids: Vec<String>,
    pub status: WarehouseStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&WarehouseRecord> for Warehouse {
    fn from(w: &WarehouseRecord) -> Self {
        Self {
            id: w.id.clone(),
            org_id: w.org_id.clone(),
            name: w.name.clone(),
            address: w.address.clone(),
            shop_ids: w.shop_ids.clone(),
            status: w.status,
            created_at: w.created_at.clone(),
            updated_at: w.updated_at.clone(),
        }
    }
}

/// One variant's stock in one warehouse.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WarehouseStockRow {
    pub product_id: String,
    pub product_name: String,
    pub shop_id: String,
    pub sku: String,
    pub warehouse_id: String,
    pub stock: i64,
    pub reserved: i64,
    pub available: i64,
    pub low_stock_threshold: i64,
    pub low_stock: bool,
}

impl From<StockRecord> for WarehouseStockRow {
    fn from(r: StockRecord) -> Self {
        let low_stock = r.low_stock();
        Self {
            product_id: r.product_id,
            product_name: r.product_name,
            shop_id: r.shop_id,
            sku: r.sku,
            warehouse_id: r.warehouse_id,
            stock: r.stock,
            reserved: r.reserved,
            available: r.available,
            low_stock_threshold: r.low_stock_threshold,
            low_stock,
        }
    }
}

// ------------------------------------------------------------------ shared helpers

fn org_not_found() -> ApiError {
    ApiError::NotFound("no organisation with this id among yours".into())
}

/// The caller's membership of `org_id`: `None` for an admin acting without one; 404 for anyone
/// else outside it.
pub(crate) async fn org_member(
    db: &Db,
    caller: &AuthUser,
    org_id: &str,
) -> Result<Option<MemberRecord>, ApiError> {
    let member: Option<MemberRecord> = db.get(keys::org_member(org_id, caller.id())).await?;
    if member.is_none() && !caller.user.has_role(Role::Admin) {
        return Err(org_not_found());
    }
    Ok(member)
}

/// A page of one partition of `index`, refusing a cursor issued for another partition.
pub(crate) fn page_of(q: PageQuery, pk_attribute: &str, pk: &str) -> Result<Pagination, ApiError> {
    let page = q.pagination()?;
    if let Some(start) = &page.start
        && start
            .get(pk_attribute)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            != Some(pk)
    {
        return Err(ApiError::field("cursor", "is not a cursor of this list"));
    }
    Ok(page)
}

/// A transaction action that holds only while the warehouse is active and at the version read:
/// transfers pin their warehouses with it, and every warehouse write bumps the version, so a
/// transfer step and an edit or close of its warehouse never both succeed on stale reads.
pub(crate) fn warehouse_unchanged(
    table: &str,
    w: &WarehouseRecord,
) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(shared::store::key(keys::warehouse(&w.id))))
        .condition_expression("#status = :active AND version = :v")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":active", s("active"))
        .expression_attribute_values(":v", n(w.version))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// 422 naming `shop_ids[i]` for a shop that is not the organisation's.
async fn check_shops(db: &Db, org_id: &str, shop_ids: &[String]) -> Result<(), ApiError> {
    for (i, id) in shop_ids.iter().enumerate() {
        let shop: Option<ShopRecord> = db.get(keys::shop_profile(id)).await?;
        if shop.is_none_or(|s| s.org_id != org_id) {
            return Err(ApiError::field(
                format!("shop_ids[{i}]"),
                "is not a shop of this organisation",
            ));
        }
    }
    Ok(())
}

/// The updates of every shop list `after` changes (compared with `before`): the warehouse
/// leaves the lists of shops it no longer serves (all of them once closed), joins the lists of
/// new ones and moves in the others when its location changed. Each update is conditional on
/// the list's version as read here. Also refuses to drop a shop whose default it is.
async fn shop_list_actions(
    db: &Db,
    before: Option<&WarehouseRecord>,
    after: &WarehouseRecord,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let serves = |w: &WarehouseRecord, shop: &str| {
        w.status == WarehouseStatus::Active && w.shop_ids.iter().any(|s| s == shop)
    };
    let mut shops: Vec<&String> = after.shop_ids.iter().collect();
    if let Some(b) = before {
        shops.extend(b.shop_ids.iter());
    }
    shops.sort();
    shops.dedup();
    let mut actions = Vec::new();
    for shop in shops {
        let list: ShopWarehousesRecord = db
            .get(keys::shop_warehouses(shop))
            .await?
            .ok_or_else(|| {
                ApiError::Conflict(format!(
                    "shop {shop} has no warehouse list yet; run the warehouse migration (make migrate) first"
                ))
            })?;
        let stays = serves(after, shop);
        let is_default = list.default_warehouse_id.as_deref() == Some(after.id.as_str())
            || keys::default_warehouse_id(shop) == after.id;
        if !stays && is_default && before.is_some_and(|b| serves(b, shop)) {
            return Err(ApiError::Conflict(format!(
                "this is shop {shop}'s default warehouse (where its new products' stock goes); it keeps serving that shop"
            )));
        }
        let mut warehouses: Vec<ServingWarehouse> = list
            .warehouses
            .iter()
            .filter(|w| w.id != after.id)
            .cloned()
            .collect();
        if stays {
            warehouses.push(ServingWarehouse {
                id: after.id.clone(),
                location: after.address.location.clone(),
            });
        }
        if warehouses == list.warehouses {
            continue;
        }
        actions.push(tx::update(
            &db.table,
            tx::UpdateSpec {
                key: keys::shop_warehouses(shop),
                update: "SET warehouses = :w, version = :next",
                condition: Some("version = :v"),
                names: &[],
                values: vec![
                    (":w", shared::store::value(&warehouses)?),
                    (":v", n(list.version)),
                    (":next", n(list.version + 1)),
                ],
            },
        )?);
    }
    Ok(actions)
}

/// Writes `after` (created when `before` is `None`, else conditional on `before`'s version)
/// with the shop lists it changes, in one transaction.
async fn write_warehouse(
    db: &Db,
    before: Option<&WarehouseRecord>,
    after: &WarehouseRecord,
) -> Result<(), WriteError> {
    let mut actions = match before {
        None => vec![
            tx::check_exists(&db.table, keys::org_profile(&after.org_id))?,
            tx::put_new(&db.table, after)?,
        ],
        Some(b) => vec![put_at_version(&db.table, after, b.version)?],
    };
    let head = actions.len();
    actions.extend(shop_list_actions(db, before, after).await?);
    if actions.len() > shared::store::MAX_TRANSACTION_ITEMS {
        return Err(WriteError::Api(ApiError::field(
            "shop_ids",
            "this change touches too many shops' lists at once; change fewer shops per request",
        )));
    }
    match db.transact(actions).await {
        Ok(()) => Ok(()),
        Err(e) => match e.failed_condition_index() {
            Some(i) if i >= head => Err(WriteError::Raced),
            Some(_) if before.is_none() => Err(WriteError::Api(org_not_found())),
            Some(_) => Err(WriteError::Raced),
            None => Err(WriteError::Api(e.into())),
        },
    }
}

/// Puts `w` over the stored warehouse if that is still at `version`.
fn put_at_version(
    table: &str,
    w: &WarehouseRecord,
    version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(shared::store::to_item(w)?))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", n(version))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

enum WriteError {
    /// A shop's list or the warehouse changed since it was read: read again.
    Raced,
    Api(ApiError),
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        Self::Api(e.into())
    }
}

fn busy() -> ApiError {
    ApiError::Unavailable {
        retry_after_secs: 1,
    }
}

/// The warehouse's stock rows (of `shops` only, when given) that still hold or reserve units.
async fn rows_holding_stock(
    db: &Db,
    warehouse_id: &str,
    shops: Option<&[String]>,
) -> Result<Vec<StockRecord>, StoreError> {
    let rows: Vec<StockRecord> = db
        .query_all(
            Some("GSI1"),
            "GSI1PK = :pk",
            &[(":pk", s(keys::gsi1_warehouse_stock(warehouse_id)))],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.stock != 0 || r.reserved != 0)
        .filter(|r| shops.is_none_or(|shops| shops.contains(&r.shop_id)))
        .collect())
}

// ------------------------------------------------------------------ routes

/// Owner: open a warehouse serving some of the organisation's shops.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/warehouses", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    request_body = WarehouseInput,
    responses(
        (status = 201, description = "The warehouse", body = Warehouse),
        (status = 403, description = "The caller is not an owner of the organisation", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A shop has no warehouse list yet (before the migration)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_warehouse(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(org_id): Path<String>,
    ValidJson(req): ValidJson<WarehouseInput>,
) -> Result<Response, ApiError> {
    if let Some(m) = org_member(&state.db, &caller, &org_id).await?
        && m.role != MemberRole::Owner
    {
        return Err(ApiError::Forbidden(
            "only the organisation's owners open warehouses".into(),
        ));
    }
    check_shops(&state.db, &org_id, &req.shop_ids).await?;
    let id = ulid::Ulid::new().to_string();
    let warehouse = WarehouseRecord::new(&id, &org_id, &req.name, req.address, req.shop_ids);
    for _ in 0..ATTEMPTS {
        match write_warehouse(&state.db, None, &warehouse).await {
            Ok(()) => {
                return Ok((StatusCode::CREATED, Json(Warehouse::from(&warehouse))).into_response());
            }
            Err(WriteError::Raced) => continue,
            Err(WriteError::Api(e)) => return Err(e),
        }
    }
    Err(busy())
}

/// The organisation's warehouses by name (closed ones too), for any of its members.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/warehouses", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id"), PageQuery),
    responses(
        (status = 200, description = "A page of warehouses", body = ListResponse<Warehouse>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_warehouses(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(org_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ListResponse<Warehouse>>, ApiError> {
    let pk = keys::gsi1_org_warehouses(&org_id);
    let page = page_of(q, "GSI1PK", &pk)?;
    org_member(&state.db, &caller, &org_id).await?;
    let result = state
        .db
        .query_page::<WarehouseRecord>(QuerySpec {
            index: Some("GSI1"),
            pk,
            sk_prefix: None,
            ascending: true,
            limit: page.limit,
            start: page.start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: result.items.iter().map(Warehouse::from).collect(),
        next_cursor: result.next_cursor,
    }))
}

/// A warehouse: owners, and members whose `warehouse_ids` include it.
#[utoipa::path(get, path = "/api/v1/warehouses/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Warehouse id")),
    responses(
        (status = 200, description = "The warehouse", body = Warehouse),
        (status = 403, description = "The caller's role does not cover this warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such warehouse in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_warehouse(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Warehouse>, ApiError> {
    let (warehouse, _) =
        authorize_warehouse(&state.db, &caller, &id, WarehouseCap::Operate).await?;
    Ok(Json(Warehouse::from(&warehouse)))
}

/// Owner: rename, move or re-scope a warehouse. The served shops' lists change in the same
/// transaction; a shop whose stock the warehouse still holds cannot be dropped.
#[utoipa::path(put, path = "/api/v1/warehouses/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Warehouse id")),
    request_body = WarehouseInput,
    responses(
        (status = 200, description = "The warehouse", body = Warehouse),
        (status = 403, description = "The caller is not an owner of the organisation", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such warehouse in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed; or it still holds stock of a shop it would stop serving; or it is that shop's default warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_warehouse(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<WarehouseInput>,
) -> Result<Json<Warehouse>, ApiError> {
    let (mut before, _) =
        authorize_warehouse(&state.db, &caller, &id, WarehouseCap::Manage).await?;
    check_shops(&state.db, &before.org_id, &req.shop_ids).await?;
    for _ in 0..ATTEMPTS {
        if before.status == WarehouseStatus::Closed {
            return Err(ApiError::Conflict("this warehouse is closed".into()));
        }
        let dropped: Vec<String> = before
            .shop_ids
            .iter()
            .filter(|s| !req.shop_ids.contains(s))
            .cloned()
            .collect();
        if !dropped.is_empty() {
            let held = rows_holding_stock(&state.db, &id, Some(&dropped)).await?;
            if let Some(r) = held.first() {
                return Err(ApiError::Conflict(format!(
                    "the warehouse still holds stock of shop {} ({} {}: {} in stock, {} reserved); move it out before it stops serving that shop",
                    r.shop_id, r.product_id, r.sku, r.stock, r.reserved
                )));
            }
        }
        let mut after = before.clone();
        after.rename(&req.name);
        after.address = req.address.clone();
        after.shop_ids = req.shop_ids.clone();
        after.updated_at = shared::now_rfc3339();
        after.version = before.version + 1;
        match write_warehouse(&state.db, Some(&before), &after).await {
            Ok(()) => return Ok(Json(Warehouse::from(&after))),
            Err(WriteError::Raced) => {
                before = state
                    .db
                    .get(keys::warehouse(&id))
                    .await?
                    .ok_or_else(|| ApiError::NotFound("no such warehouse".into()))?;
            }
            Err(WriteError::Api(e)) => return Err(e),
        }
    }
    Err(busy())
}

/// Owner: close a warehouse. It leaves its shops' lists and keeps its history; refused while it
/// holds or reserves any units, and for a shop's default warehouse.
#[utoipa::path(delete, path = "/api/v1/warehouses/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Warehouse id")),
    responses(
        (status = 200, description = "The closed warehouse", body = Warehouse),
        (status = 403, description = "The caller is not an owner of the organisation", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such warehouse in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed, still holding or reserving stock, or a shop's default warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn close_warehouse(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Warehouse>, ApiError> {
    let (mut before, _) =
        authorize_warehouse(&state.db, &caller, &id, WarehouseCap::Manage).await?;
    for _ in 0..ATTEMPTS {
        if before.status == WarehouseStatus::Closed {
            return Err(ApiError::Conflict(
                "this warehouse is already closed".into(),
            ));
        }
        if let Some(shop) = before
            .shop_ids
            .iter()
            .find(|s| keys::default_warehouse_id(s) == id)
        {
            return Err(ApiError::Conflict(format!(
                "this is shop {shop}'s default warehouse (where its new products' stock goes); it cannot be closed"
            )));
        }
        let held = rows_holding_stock(&state.db, &id, None).await?;
        if let Some(r) = held.first() {
            return Err(ApiError::Conflict(format!(
                "the warehouse still holds stock ({} {}: {} in stock, {} reserved; {} rows in all); move it out first",
                r.product_id,
                r.sku,
                r.stock,
                r.reserved,
                held.len()
            )));
        }
        let mut after = before.clone();
        after.status = WarehouseStatus::Closed;
        after.updated_at = shared::now_rfc3339();
        after.version = before.version + 1;
        match write_warehouse(&state.db, Some(&before), &after).await {
            Ok(()) => return Ok(Json(Warehouse::from(&after))),
            Err(WriteError::Raced) => {
                before = state
                    .db
                    .get(keys::warehouse(&id))
                    .await?
                    .ok_or_else(|| ApiError::NotFound("no such warehouse".into()))?;
            }
            Err(WriteError::Api(e)) => return Err(e),
        }
    }
    Err(busy())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarehouseInventoryQuery {
    /// Only rows at or below their low-stock threshold (`available <= low_stock_threshold`).
    pub low_stock: Option<bool>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page. A `low_stock` page may be short (even empty) and
    /// still have a next cursor.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// A warehouse's stock, one row per variant, by product and SKU: one Query per page.
#[utoipa::path(get, path = "/api/v1/warehouses/{id}/inventory", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Warehouse id"), WarehouseInventoryQuery),
    responses(
        (status = 200, description = "A page of stock rows", body = ListResponse<WarehouseStockRow>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role does not cover this warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such warehouse in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn warehouse_inventory(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(q): Query<WarehouseInventoryQuery>,
) -> Result<Json<ListResponse<WarehouseStockRow>>, ApiError> {
    let pk = keys::gsi1_warehouse_stock(&id);
    let page = page_of(
        PageQuery {
            limit: q.limit,
            cursor: q.cursor,
        },
        "GSI1PK",
        &pk,
    )?;
    authorize_warehouse(&state.db, &caller, &id, WarehouseCap::Operate).await?;
    let spec = QuerySpec {
        index: Some("GSI1"),
        pk,
        sk_prefix: None,
        ascending: true,
        limit: page.limit,
        start: page.start,
    };
    let result = state
        .db
        .query_page_filtered::<StockRecord>(spec, crate::low_stock_filter(q.low_stock))
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
