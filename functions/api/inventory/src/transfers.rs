//! Stock transfers between two warehouses of one organisation:
//! `requested → in_transit → received`, or `cancelled` before anything moved.
//!
//! Shipping takes the units out of the source (conditional on what it has available) and
//! receiving puts what arrived into the target; each step is ONE transaction
//! (`shared::stock::apply`) holding the stock rows, the variants' sums, a ledger entry on both
//! sides, any `StockLow` it causes, the transfer's own status change (conditional on the status
//! it leaves, so a step happens once however often it is sent) and checks that its warehouses
//! are still active and unchanged.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::TransactWriteItem;
use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::catalog::MemberRole;
use shared::error::FieldError;
use shared::http::{AuthUser, ListResponse, PageQuery, Query, ValidJson};
use shared::products::load_product;
use shared::stock::{ApplyError, Change, Refusal};
use shared::store::{Db, Filter, QuerySpec, StoreError, keys, n, s, tx};
use shared::validate::{self, Errors, Validate};
use shared::warehouses::{WarehouseCap, WarehouseRecord, WarehouseStatus, authorize_warehouse};
use shared::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TAG;
use crate::warehouses::{org_member, page_of, warehouse_unchanged};

/// Lines of one transfer: shipping one writes up to 6 actions per line (source row, variant,
/// ledger, two `StockLow`; the target's ledger entry) plus the transfer and its two
/// warehouses' checks: 15 × 6 + 3 = 93 ≤ 100.
pub const MAX_TRANSFER_LINES: usize = 15;
pub const MAX_TRANSFER_QUANTITY: i64 = 1_000_000;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_transfer))
        .routes(routes!(get_transfer))
        .routes(routes!(ship_transfer))
        .routes(routes!(receive_transfer))
        .routes(routes!(cancel_transfer))
        .routes(routes!(list_transfers))
}

// ------------------------------------------------------------------ the record

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Requested,
    InTransit,
    Received,
    Cancelled,
}

impl TransferStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::InTransit => "in_transit",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransferLine {
    pub product_id: String,
    pub sku: String,
    /// Units sent.
    pub quantity: i64,
    /// Units that arrived (once received).
    pub received: Option<i64>,
}

/// A line that arrived short.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransferDiscrepancy {
    pub product_id: String,
    pub sku: String,
    pub shipped: i64,
    pub received: i64,
    pub missing: i64,
}

/// `STOCKTRANSFER#<id>/PROFILE`; GSI1 `ORG#<org>#TRANSFERS` / id (a ULID: newest last).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub id: String,
    pub org_id: String,
    pub from_warehouse_id: String,
    pub to_warehouse_id: String,
    pub lines: Vec<TransferLine>,
    pub status: TransferStatus,
    #[serde(default)]
    pub discrepancies: Vec<TransferDiscrepancy>,
    pub note: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    pub shipped_by: Option<String>,
    pub shipped_at: Option<String>,
    pub received_by: Option<String>,
    pub received_at: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
    pub version: u64,
}

/// A transfer as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockTransfer {
    pub id: String,
    pub org_id: String,
    pub from_warehouse_id: String,
    pub to_warehouse_id: String,
    pub lines: Vec<TransferLine>,
    pub status: TransferStatus,
    /// Lines received short: what was shipped, what arrived, what is missing.
    pub discrepancies: Vec<TransferDiscrepancy>,
    pub note: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    pub shipped_by: Option<String>,
    pub shipped_at: Option<String>,
    pub received_by: Option<String>,
    pub received_at: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<String>,
    pub updated_at: String,
}

impl From<TransferRecord> for StockTransfer {
    fn from(t: TransferRecord) -> Self {
        Self {
            id: t.id,
            org_id: t.org_id,
            from_warehouse_id: t.from_warehouse_id,
            to_warehouse_id: t.to_warehouse_id,
            lines: t.lines,
            status: t.status,
            discrepancies: t.discrepancies,
            note: t.note,
            requested_by: t.requested_by,
            requested_at: t.requested_at,
            shipped_by: t.shipped_by,
            shipped_at: t.shipped_at,
            received_by: t.received_by,
            received_at: t.received_at,
            cancelled_by: t.cancelled_by,
            cancelled_at: t.cancelled_at,
            updated_at: t.updated_at,
        }
    }
}

// ------------------------------------------------------------------ bodies

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferLineInput {
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub product_id: String,
    #[schema(min_length = 1, max_length = 64)]
    pub sku: String,
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStockTransfer {
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9-]+$")]
    pub from_warehouse_id: String,
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9-]+$")]
    pub to_warehouse_id: String,
    /// 1 to 15 lines, each variant once.
    #[schema(min_items = 1, max_items = 15)]
    pub lines: Vec<TransferLineInput>,
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub note: Option<String>,
}

fn warehouse_id(field: &str, id: &mut String) -> Result<(), FieldError> {
    *id = id.trim().to_owned();
    if id.is_empty()
        || id.len() > 100
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(FieldError::new(
            field,
            "must be a warehouse id this API issued",
        ));
    }
    Ok(())
}

/// Checks lines (ids, quantities `min..=10^6`, each variant once); SKUs are upper-cased.
fn check_lines(lines: &mut [TransferLineInput], min: i64, e: &mut Errors) {
    let mut seen = BTreeSet::new();
    for (i, l) in lines.iter_mut().enumerate() {
        e.check(validate::id(
            &format!("lines[{i}].product_id"),
            &mut l.product_id,
        ));
        l.sku = l.sku.trim().to_ascii_uppercase();
        if l.sku.is_empty() || l.sku.len() > 64 {
            e.push(&format!("lines[{i}].sku"), "must be 1 to 64 characters");
        }
        if !(min..=MAX_TRANSFER_QUANTITY).contains(&l.quantity) {
            e.push(
                &format!("lines[{i}].quantity"),
                &format!("must be {min} to 1000000 units"),
            );
        }
        if !seen.insert((l.product_id.clone(), l.sku.clone())) {
            e.push(
                &format!("lines[{i}].sku"),
                "is listed twice in this transfer",
            );
        }
    }
}

impl Validate for NewStockTransfer {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(warehouse_id(
            "from_warehouse_id",
            &mut self.from_warehouse_id,
        ));
        e.check(warehouse_id("to_warehouse_id", &mut self.to_warehouse_id));
        if self.from_warehouse_id == self.to_warehouse_id {
            e.push("to_warehouse_id", "must differ from from_warehouse_id");
        }
        if self.lines.is_empty() || self.lines.len() > MAX_TRANSFER_LINES {
            e.push("lines", "give 1 to 15 lines");
        }
        check_lines(&mut self.lines, 1, &mut e);
        e.check(validate::optional_text("note", &mut self.note, 500));
        e.finish()
    }
}

/// What arrived. Lines left out arrived in full; no body at all (or no lines) means everything
/// did.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveTransferRequest {
    /// Units counted per line (0 to the units shipped), at most 15; `[]`: everything arrived.
    #[schema(max_items = 15)]
    pub lines: Vec<TransferLineInput>,
}

impl Validate for ReceiveTransferRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.lines.len() > MAX_TRANSFER_LINES {
            e.push("lines", "at most 15 lines");
        }
        check_lines(&mut self.lines, 0, &mut e);
        e.finish()
    }
}

/// A body that may be left out altogether (no content type, no bytes); otherwise exactly a
/// [`ValidJson`] body.
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.headers().contains_key(header::CONTENT_TYPE) {
            return ValidJson::<T>::from_request(req, state)
                .await
                .map(|ValidJson(v)| Self(Some(v)));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::BadRequest("could not read the request body".into()))?;
        if bytes.is_empty() {
            Ok(Self(None))
        } else {
            Err(ApiError::UnsupportedMediaType)
        }
    }
}

// ------------------------------------------------------------------ helpers

fn transfer_not_found() -> ApiError {
    ApiError::NotFound("no transfer with this id in your organisations".into())
}

async fn load_transfer(db: &Db, id: &str) -> Result<TransferRecord, ApiError> {
    db.get(keys::stock_transfer(id))
        .await?
        .ok_or_else(transfer_not_found)
}

/// The transfer, if the caller may operate its source or its target (404 outside its
/// organisation, 403 for members whose warehouses include neither).
async fn authorize_either(
    db: &Db,
    caller: &AuthUser,
    id: &str,
) -> Result<TransferRecord, ApiError> {
    let t = load_transfer(db, id).await?;
    match authorize_warehouse(db, caller, &t.from_warehouse_id, WarehouseCap::Operate).await {
        Ok(_) => Ok(t),
        Err(ApiError::Forbidden(_)) => {
            authorize_warehouse(db, caller, &t.to_warehouse_id, WarehouseCap::Operate)
                .await
                .map_err(|e| match e {
                    ApiError::Forbidden(_) => ApiError::Forbidden(
                        "your role in this organisation covers neither warehouse of this transfer"
                            .into(),
                    ),
                    other => other,
                })?;
            Ok(t)
        }
        Err(ApiError::NotFound(_)) => Err(transfer_not_found()),
        Err(e) => Err(e),
    }
}

/// The caller may operate `warehouse_id` of the transfer; outsiders get the transfer's 404.
async fn authorize_side(
    db: &Db,
    caller: &AuthUser,
    warehouse_id: &str,
) -> Result<WarehouseRecord, ApiError> {
    match authorize_warehouse(db, caller, warehouse_id, WarehouseCap::Operate).await {
        Ok((w, _)) => Ok(w),
        Err(ApiError::NotFound(_)) => Err(transfer_not_found()),
        Err(e) => Err(e),
    }
}

async fn warehouse(db: &Db, id: &str) -> Result<WarehouseRecord, ApiError> {
    db.get(keys::warehouse(id))
        .await?
        .ok_or_else(|| ApiError::NotFound("a warehouse of this transfer no longer exists".into()))
}

/// The transfer's move out of `from` (with its other `set` clauses and values), conditional
/// on the status it leaves.
fn status_update(
    table: &str,
    t: &TransferRecord,
    from: TransferStatus,
    to: TransferStatus,
    set: &str,
    mut values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    values.extend([
        (":from", s(from.as_str())),
        (":to", s(to.as_str())),
        (":now", s(shared::now_rfc3339())),
        (":one", n(1)),
    ]);
    let update = format!("SET #status = :to, updated_at = :now, {set} ADD version :one");
    // `lines` is a DynamoDB reserved word: the receipt's clause names it `#lines`.
    let names: &[(&str, &str)] = if set.contains("#lines") {
        &[("#status", "status"), ("#lines", "lines")]
    } else {
        &[("#status", "status")]
    };
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::stock_transfer(&t.id),
            update: &update,
            condition: Some("#status = :from"),
            names,
            values,
        },
    )
}

fn not_in(status: TransferStatus, step: &str) -> ApiError {
    ApiError::Conflict(format!(
        "this transfer is {}; only a {step} transfer can take this step",
        status.as_str()
    ))
}

/// An [`ApplyError`] of a step as the API answers it; a change's `index` is a line's
/// `index / per_line` (each line makes `per_line` changes, the line's own first).
fn step_error(e: ApplyError, per_line: usize, step: &str) -> ApiError {
    match e {
        ApplyError::Refused { index, refusal } => {
            let line = index / per_line;
            ApiError::Conflict(match refusal {
                Refusal::NotEnough { available } => format!(
                    "lines[{line}]: the source warehouse has only {available} available; nothing was moved"
                ),
                Refusal::Unknown => {
                    format!("lines[{line}]: this variant no longer exists; nothing was moved")
                }
                Refusal::TooMuch => format!(
                    "lines[{line}]: the target's stock would pass 10^9 units; nothing was moved"
                ),
                Refusal::NotMigrated => format!(
                    "lines[{line}]: this variant's stock predates warehouses; run the warehouse migration (make migrate) first"
                ),
            })
        }
        ApplyError::Extra { index: 0 } => ApiError::Conflict(format!(
            "this transfer was {step} or changed by another request meanwhile"
        )),
        ApplyError::Extra { .. } => ApiError::Conflict(
            "a warehouse of this transfer was closed or changed meanwhile; read it and try again"
                .into(),
        ),
        ApplyError::Busy => ApiError::Unavailable {
            retry_after_secs: 1,
        },
        ApplyError::Store(e) => e.into(),
    }
}

async fn reply(db: &Db, id: &str) -> Result<Json<StockTransfer>, ApiError> {
    Ok(Json(load_transfer(db, id).await?.into()))
}

// ------------------------------------------------------------------ routes

/// Ask for units to move from one warehouse to another of the same organisation (nothing moves
/// yet). The caller operates the source; every product's shop is served by both warehouses.
#[utoipa::path(post, path = "/api/v1/transfers", tag = TAG, security(("bearer" = [])),
    request_body = NewStockTransfer,
    responses(
        (status = 201, description = "The transfer, requested", body = StockTransfer),
        (status = 403, description = "The caller's role does not cover the source warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such warehouse in the caller's organisations (either side)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A warehouse was closed or changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NewStockTransfer>,
) -> Result<Response, ApiError> {
    let db = &state.db;
    let (source, _) =
        authorize_warehouse(db, &caller, &req.from_warehouse_id, WarehouseCap::Operate).await?;
    let target: WarehouseRecord = db
        .get(keys::warehouse(&req.to_warehouse_id))
        .await?
        .filter(|w: &WarehouseRecord| w.org_id == source.org_id)
        .ok_or_else(|| {
            ApiError::NotFound("no warehouse with this id in your organisations".into())
        })?;
    for (field, w) in [("from_warehouse_id", &source), ("to_warehouse_id", &target)] {
        if w.status != WarehouseStatus::Active {
            return Err(ApiError::field(field, "this warehouse is closed"));
        }
    }
    let mut lines = Vec::with_capacity(req.lines.len());
    for (i, l) in req.lines.iter().enumerate() {
        let (product, variants) = load_product(db, &l.product_id)
            .await?
            .filter(|(p, _)| p.org_id == source.org_id)
            .ok_or_else(|| {
                ApiError::field(
                    format!("lines[{i}].product_id"),
                    "is not a product of this organisation",
                )
            })?;
        if !variants.iter().any(|v| v.sku == l.sku) {
            return Err(ApiError::field(
                format!("lines[{i}].sku"),
                "is not a variant of this product",
            ));
        }
        let served = |w: &WarehouseRecord| w.shop_ids.contains(&product.shop_id);
        if !served(&source) || !served(&target) {
            return Err(ApiError::field(
                format!("lines[{i}].product_id"),
                "its shop is not served by both warehouses",
            ));
        }
        lines.push(TransferLine {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
            received: None,
        });
    }
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::stock_transfer(&id);
    let now = shared::now_rfc3339();
    let record = TransferRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_org_transfers(&source.org_id),
        gsi1sk: id.clone(),
        entity_type: "stock_transfer".into(),
        id,
        org_id: source.org_id.clone(),
        from_warehouse_id: source.id.clone(),
        to_warehouse_id: target.id.clone(),
        lines,
        status: TransferStatus::Requested,
        discrepancies: Vec::new(),
        note: req.note,
        requested_by: caller.id().into(),
        requested_at: now.clone(),
        shipped_by: None,
        shipped_at: None,
        received_by: None,
        received_at: None,
        cancelled_by: None,
        cancelled_at: None,
        updated_at: now,
        version: 1,
    };
    let table = &db.table;
    match db
        .transact(vec![
            tx::put_new(table, &record)?,
            warehouse_unchanged(table, &source)?,
            warehouse_unchanged(table, &target)?,
        ])
        .await
    {
        Ok(()) => {}
        Err(e) if e.failed_condition_index().is_some() => {
            return Err(ApiError::Conflict(
                "a warehouse of this transfer was closed or changed meanwhile; try again".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((StatusCode::CREATED, Json(StockTransfer::from(record))).into_response())
}

/// A transfer: for those who operate its source or its target.
#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer", body = StockTransfer),
        (status = 403, description = "The caller's role covers neither warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such transfer in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<StockTransfer>, ApiError> {
    Ok(Json(
        authorize_either(&state.db, &caller, &id).await?.into(),
    ))
}

/// Source: send the units. They leave the source's stock (conditional on its available units)
/// with a `transfer_out` ledger entry there and a `transfer_in_transit` entry at the target,
/// all in one transaction with the move to `in_transit`.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/ship", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer, in transit", body = StockTransfer),
        (status = 403, description = "The caller's role does not cover the source warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such transfer in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not requested any more (shipped or cancelled), not enough available at the source for `lines[i]`, or a warehouse closed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn ship_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<StockTransfer>, ApiError> {
    let db = &state.db;
    let t = load_transfer(db, &id).await?;
    let source = authorize_side(db, &caller, &t.from_warehouse_id).await?;
    if t.status != TransferStatus::Requested {
        return Err(not_in(t.status, "requested"));
    }
    let target = warehouse(db, &t.to_warehouse_id).await?;
    let mut changes = Vec::with_capacity(t.lines.len() * 2);
    for l in &t.lines {
        changes.push(Change {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            warehouse_id: source.id.clone(),
            delta: -l.quantity,
            reason: "transfer_out".into(),
            note: Some(format!("transfer {} to {}", t.id, target.id)),
            announce: false,
        });
        changes.push(Change {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            warehouse_id: target.id.clone(),
            delta: 0,
            reason: "transfer_in_transit".into(),
            note: Some(format!(
                "{} units on the way from {} (transfer {})",
                l.quantity, source.id, t.id
            )),
            announce: false,
        });
    }
    let table = &db.table;
    let extra = || {
        Ok(vec![
            status_update(
                table,
                &t,
                TransferStatus::Requested,
                TransferStatus::InTransit,
                "shipped_by = :by, shipped_at = :now",
                vec![(":by", s(caller.id()))],
            )?,
            warehouse_unchanged(table, &source)?,
            warehouse_unchanged(table, &target)?,
        ])
    };
    shared::stock::apply(db, &changes, caller.id(), &extra)
        .await
        .map_err(|e| step_error(e, 2, "shipped"))?;
    tracing::info!(transfer_id = %t.id, lines = t.lines.len(), "transfer shipped");
    reply(db, &id).await
}

/// Target: record what arrived. Received units enter the target's stock (`transfer_in`); the
/// source's ledger gets a `transfer_received` entry naming any shortfall; lines that arrived
/// short are kept as the transfer's `discrepancies`.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/receive", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    request_body(content = ReceiveTransferRequest, description = "Optional: the units counted per line; lines left out (or no body at all) arrived in full"),
    responses(
        (status = 200, description = "The transfer, received", body = StockTransfer),
        (status = 403, description = "The caller's role does not cover the target warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such transfer in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in transit (not shipped yet, or received or cancelled), or the target warehouse closed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn receive_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ReceiveTransferRequest>,
) -> Result<Json<StockTransfer>, ApiError> {
    let db = &state.db;
    let counted = body.unwrap_or_default().lines;
    let t = load_transfer(db, &id).await?;
    let target = authorize_side(db, &caller, &t.to_warehouse_id).await?;
    if t.status != TransferStatus::InTransit {
        return Err(not_in(t.status, "in_transit"));
    }
    let mut lines = t.lines.clone();
    for (i, c) in counted.iter().enumerate() {
        let Some(line) = lines
            .iter_mut()
            .find(|l| l.product_id == c.product_id && l.sku == c.sku)
        else {
            return Err(ApiError::field(
                format!("lines[{i}].sku"),
                "is not a line of this transfer",
            ));
        };
        if c.quantity > line.quantity {
            return Err(ApiError::field(
                format!("lines[{i}].quantity"),
                format!("only {} units were shipped", line.quantity),
            ));
        }
        line.received = Some(c.quantity);
    }
    let mut changes = Vec::with_capacity(lines.len() * 2);
    let mut discrepancies = Vec::new();
    for l in &mut lines {
        let received = *l.received.get_or_insert(l.quantity);
        let missing = l.quantity - received;
        changes.push(Change {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            warehouse_id: target.id.clone(),
            delta: received,
            reason: "transfer_in".into(),
            note: Some(format!(
                "{received} of {} units arrived from {} (transfer {})",
                l.quantity, t.from_warehouse_id, t.id
            )),
            announce: false,
        });
        changes.push(Change {
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            warehouse_id: t.from_warehouse_id.clone(),
            delta: 0,
            reason: "transfer_received".into(),
            note: Some(if missing > 0 {
                format!(
                    "{received} of {} units arrived at {} (transfer {}); {missing} missing",
                    l.quantity, target.id, t.id
                )
            } else {
                format!(
                    "all {} units arrived at {} (transfer {})",
                    l.quantity, target.id, t.id
                )
            }),
            announce: false,
        });
        if missing > 0 {
            discrepancies.push(TransferDiscrepancy {
                product_id: l.product_id.clone(),
                sku: l.sku.clone(),
                shipped: l.quantity,
                received,
                missing,
            });
        }
    }
    let table = &db.table;
    let extra = || {
        Ok(vec![
            status_update(
                table,
                &t,
                TransferStatus::InTransit,
                TransferStatus::Received,
                "received_by = :by, received_at = :now, #lines = :lines, discrepancies = :d",
                vec![
                    (":by", s(caller.id())),
                    (":lines", shared::store::value(&lines)?),
                    (":d", shared::store::value(&discrepancies)?),
                ],
            )?,
            warehouse_unchanged(table, &target)?,
        ])
    };
    shared::stock::apply(db, &changes, caller.id(), &extra)
        .await
        .map_err(|e| step_error(e, 2, "received"))?;
    tracing::info!(transfer_id = %t.id, short_lines = discrepancies.len(), "transfer received");
    reply(db, &id).await
}

/// Source or target: call a transfer off before it ships (nothing has moved).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/cancel", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer, cancelled", body = StockTransfer),
        (status = 403, description = "The caller's role covers neither warehouse", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such transfer in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped, received or cancelled", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn cancel_transfer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<StockTransfer>, ApiError> {
    let db = &state.db;
    let t = authorize_either(db, &caller, &id).await?;
    if t.status != TransferStatus::Requested {
        return Err(not_in(t.status, "requested"));
    }
    let update = status_update(
        &db.table,
        &t,
        TransferStatus::Requested,
        TransferStatus::Cancelled,
        "cancelled_by = :by, cancelled_at = :now",
        vec![(":by", s(caller.id()))],
    )?;
    match db.transact(vec![update]).await {
        Ok(()) => reply(db, &id).await,
        Err(e) if e.failed_condition_index().is_some() => Err(ApiError::Conflict(
            "this transfer was shipped or cancelled by another request meanwhile".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferListQuery {
    /// Only transfers in this status.
    pub status: Option<TransferStatus>,
    /// Only transfers from or to this warehouse.
    #[param(max_length = 100)]
    pub warehouse_id: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page. A filtered page may be short (even empty) and
    /// still have a next cursor.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// The organisation's transfers, newest first: owners see all of them, other members those
/// from or to the warehouses they operate.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/transfers", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id"), TransferListQuery),
    responses(
        (status = 200, description = "A page of transfers", body = ListResponse<StockTransfer>),
        (status = 400, description = "Malformed query string (e.g. an unknown status)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`warehouse_id` names a warehouse the caller does not operate", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_transfers(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(org_id): Path<String>,
    Query(q): Query<TransferListQuery>,
) -> Result<Json<ListResponse<StockTransfer>>, ApiError> {
    let pk = keys::gsi1_org_transfers(&org_id);
    let page = page_of(
        PageQuery {
            limit: q.limit,
            cursor: q.cursor,
        },
        "GSI1PK",
        &pk,
    )?;
    let member = org_member(&state.db, &caller, &org_id).await?;
    // The warehouses this caller may see transfers of (`None`: all of them).
    let scope: Option<Vec<String>> = match &member {
        Some(m) if m.role != MemberRole::Owner => Some(m.warehouse_ids.clone()),
        _ => None,
    };
    let warehouses: Option<Vec<String>> = match (&q.warehouse_id, scope) {
        (Some(w), Some(mine)) if !mine.contains(w) => {
            return Err(ApiError::Forbidden(
                "your role in this organisation does not cover this warehouse".into(),
            ));
        }
        (Some(w), _) => Some(vec![w.clone()]),
        (None, scope) => scope,
    };
    if warehouses.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Json(ListResponse {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    let names: &[(&str, &str)] = &[("#status", "status")];
    let placeholders: Vec<String> = (0..warehouses.as_ref().map_or(0, Vec::len))
        .map(|i| format!(":w{i}"))
        .collect();
    if let Some(ws) = &warehouses {
        let list = placeholders.join(", ");
        clauses.push(format!(
            "(from_warehouse_id IN ({list}) OR to_warehouse_id IN ({list}))"
        ));
        for (p, w) in placeholders.iter().zip(ws) {
            values.push((p.as_str(), s(w.clone())));
        }
    }
    if let Some(status) = q.status {
        clauses.push("#status = :status".into());
        values.push((":status", s(status.as_str())));
    }
    let expression = clauses.join(" AND ");
    let spec = QuerySpec {
        index: Some("GSI1"),
        pk,
        sk_prefix: None,
        ascending: false,
        limit: page.limit,
        start: page.start,
    };
    let filter = (!clauses.is_empty()).then(|| Filter {
        expression: &expression,
        names: if q.status.is_some() { names } else { &[] },
        values,
    });
    let result = state
        .db
        .query_page_filtered::<TransferRecord>(spec, filter)
        .await?;
    Ok(Json(ListResponse {
        items: result.items.into_iter().map(StockTransfer::from).collect(),
        next_cursor: result.next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product: &str, sku: &str, quantity: i64) -> TransferLineInput {
        TransferLineInput {
            product_id: product.into(),
            sku: sku.into(),
            quantity,
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_transfer_names_each_bad_line_and_the_same_warehouse_twice() {
        let mut ok = NewStockTransfer {
            from_warehouse_id: "SHOP1-main".into(),
            to_warehouse_id: "01WAREHOUSE".into(),
            lines: vec![line("P1", "a-1", 7), line("P1", "B-2", 1_000_000)],
            note: Some("  ".into()),
        };
        ok.validate().unwrap();
        assert_eq!(ok.lines[0].sku, "A-1", "SKUs are upper-cased");
        assert_eq!(ok.note, None, "a blank note is no note");

        let mut bad = NewStockTransfer {
            from_warehouse_id: "W1".into(),
            to_warehouse_id: "W1".into(),
            lines: vec![
                line("P1", "A", 0),
                line("P1", "a", 1_000_001),
                line("P 2", "C", 1),
            ],
            note: None,
        };
        assert_eq!(
            fields(bad.validate().unwrap_err()),
            vec![
                "to_warehouse_id",
                "lines[0].quantity",
                "lines[1].quantity",
                "lines[1].sku",
                "lines[2].product_id",
            ]
        );
        let mut empty = NewStockTransfer {
            from_warehouse_id: "W1".into(),
            to_warehouse_id: "W2#x".into(),
            lines: vec![],
            note: None,
        };
        assert_eq!(
            fields(empty.validate().unwrap_err()),
            vec!["to_warehouse_id", "lines"]
        );
    }

    #[test]
    fn a_receipt_may_count_zero_units_but_not_fewer() {
        let mut r = ReceiveTransferRequest {
            lines: vec![line("P1", "A", 0)],
        };
        r.validate().unwrap();
        let mut r = ReceiveTransferRequest {
            lines: vec![line("P1", "A", -1)],
        };
        assert_eq!(fields(r.validate().unwrap_err()), vec!["lines[0].quantity"]);
    }
}
