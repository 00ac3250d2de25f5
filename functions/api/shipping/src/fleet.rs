//! Shippers: registration and approval, online status, positions (at most one every three
//! seconds), the nearest free shippers, and each shipper's jobs. A shipper's profile is
//! `SHIPPER#<user id>`; it is changed only by `UpdateItem` expressions, never rewritten, so the
//! dispatcher's conditional `load` changes are never lost.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::dispatch;
use shared::error::FieldError;
use shared::events::{self, DomainEvent, ShipperAvailable};
use shared::http::{AuthUser, ListResponse, Query, ValidJson};
use shared::shipments::{
    Approval, LOCATION_INTERVAL_MS, Position, SHIPPER_ENTITY, ShipmentRecord, ShipperRecord,
    ShipperStatus, Vehicle, available_sort,
};
use shared::store::{self, StoreError, keys, n, s, tx};
use shared::validate::{self, Errors, Validate};
use shared::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};

use crate::TAG;
use crate::model::check_point;

/// Parcels a shipper may hold at once, at most.
pub const MAX_CAPACITY: u32 = 10;

/// `POST shipping/shippers/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterShipper {
    #[schema(
        example = "Tran Van Giao",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    /// `+` and 8–15 digits.
    #[schema(example = "+84912345678", pattern = r"^\+?[0-9]{8,15}$")]
    pub phone: String,
    pub vehicle: Vehicle,
    /// The province or city worked in (with or without diacritics), e.g. "Hà Nội" or "ha noi".
    #[schema(example = "Hà Nội", min_length = 1, max_length = 100)]
    pub province: String,
    /// Parcels held at once, 1–10.
    #[schema(minimum = 1, maximum = 10)]
    pub capacity: u32,
}

impl Validate for RegisterShipper {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("name", &mut self.name, 1, 100));
        e.check(validate::phone("phone", &mut self.phone));
        if self.province.chars().count() > 100 || vn_province(&self.province).is_none() {
            e.push(
                "province",
                "is not a province or city of Vietnam (the 34 of the 2025 division)",
            );
        }
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            e.push("capacity", "must be 1 to 10 parcels");
        }
        e.finish()
    }
}

fn vn_province(name: &str) -> Option<&'static vn_gazetteer::Province> {
    vn_gazetteer::find_province(name)
}

/// A shipper as the API shows it (to themselves and to admins).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shipper {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub vehicle: Vehicle,
    pub province_code: String,
    pub province: String,
    pub capacity: u32,
    /// Parcels held now (offers included).
    pub load: u32,
    pub approval: Approval,
    pub status: ShipperStatus,
    pub position: Option<Position>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ShipperRecord> for Shipper {
    fn from(r: ShipperRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            phone: r.phone,
            vehicle: r.vehicle,
            province_code: r.province_code,
            province: r.province,
            capacity: r.capacity,
            load: r.load,
            approval: r.approval,
            status: r.status,
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Any signed-in user: apply to deliver for the marketplace. An admin approves or rejects
/// the application; approval grants the `shipper` role.
#[utoipa::path(post, path = "/api/v1/shipping/shippers/register", tag = TAG, security(("bearer" = [])),
    request_body = RegisterShipper,
    responses(
        (status = 201, description = "The application, pending approval", body = Shipper),
        (status = 409, description = "The caller has registered already", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn register_shipper(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<RegisterShipper>,
) -> Result<Response, ApiError> {
    let province = vn_province(&req.province).expect("checked by validate");
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::shipper(caller.id());
    let mut record = ShipperRecord {
        pk,
        sk,
        gsi1pk: String::new(),
        gsi1sk: String::new(),
        gsi2pk: None,
        gsi2sk: None,
        entity_type: SHIPPER_ENTITY.into(),
        id: caller.id().to_owned(),
        name: req.name,
        phone: req.phone,
        vehicle: req.vehicle,
        province_code: province.code.to_owned(),
        province: province.name.to_owned(),
        capacity: req.capacity,
        load: 0,
        approval: Approval::Pending,
        status: ShipperStatus::Offline,
        position: None,
        located_at_ms: 0,
        created_at: now.clone(),
        updated_at: now,
    };
    record.index();
    match state.db.put_new(&record).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(Shipper::from(record))).into_response()),
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
            "you have registered as a shipper already".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The shipper profile of `id`, for the shipper themself or an admin (404 for anyone else:
/// a shipper's profile does not exist for them).
async fn own_or_admin(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<ShipperRecord, ApiError> {
    let not_found = || ApiError::NotFound("no shipper with this id".into());
    if caller.id() != id && !caller.user.has_role(Role::Admin) {
        return Err(not_found());
    }
    state.db.get(keys::shipper(id)).await?.ok_or_else(not_found)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShipperListQuery {
    /// Which applications (default `pending`: the approval queue).
    pub approval: Option<Approval>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Admin: shippers by approval state, oldest application first.
#[utoipa::path(get, path = "/api/v1/shipping/shippers", tag = TAG, security(("bearer" = [])),
    params(ShipperListQuery),
    responses(
        (status = 200, description = "A page of shippers", body = ListResponse<Shipper>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only admins list shippers", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A limit out of range or a forged cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_shippers(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<ShipperListQuery>,
) -> Result<Json<ListResponse<Shipper>>, ApiError> {
    caller.require_role(Role::Admin)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 100"));
    }
    let start = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            store::decode_cursor(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor of this list"))?,
        ),
    };
    let approval = q.approval.unwrap_or(Approval::Pending);
    let page = state
        .db
        .query_page::<ShipperRecord>(store::QuerySpec {
            index: Some("GSI1"),
            pk: keys::gsi1_shippers(approval.as_str()),
            sk_prefix: None,
            ascending: true,
            limit,
            start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: page.items.into_iter().map(Shipper::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The shipper themself or an admin: a shipper's profile.
#[utoipa::path(get, path = "/api/v1/shipping/shippers/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shipper id (the shipper's user id)")),
    responses(
        (status = 200, description = "The shipper", body = Shipper),
        (status = 404, description = "No such shipper, or not the caller's profile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_shipper(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Shipper>, ApiError> {
    Ok(Json(own_or_admin(&state, &caller, &id).await?.into()))
}

/// `PUT shipping/shippers/{id}/approval`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    /// `approved` or `rejected`.
    pub decision: Approval,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

impl Validate for ApprovalDecision {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.decision == Approval::Pending {
            e.push("decision", "must be approved or rejected");
        }
        e.check(validate::optional_text("reason", &mut self.reason, 500));
        e.finish()
    }
}

/// Admin: approve (the user gains the `shipper` role) or reject a pending application. Both
/// are one transaction, conditional on the application still pending.
#[utoipa::path(put, path = "/api/v1/shipping/shippers/{id}/approval", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shipper id")),
    request_body = ApprovalDecision,
    responses(
        (status = 200, description = "The shipper after the decision", body = Shipper),
        (status = 403, description = "Only admins decide", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipper", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application was decided already", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn decide_shipper(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ApprovalDecision>,
) -> Result<Json<Shipper>, ApiError> {
    caller.require_role(Role::Admin)?;
    let record = own_or_admin(&state, &caller, &id).await?;
    if record.approval != Approval::Pending {
        return Err(ApiError::Conflict(format!(
            "the application was {} already",
            record.approval.as_str()
        )));
    }
    let user = shared::identity::load_user(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no shipper with this id".into()))?;
    let mut decided = record.clone();
    decided.approval = req.decision;
    decided.updated_at = shared::now_rfc3339();
    decided.index();
    let table = &state.db.table;
    let mut actions = vec![tx::update(
        table,
        tx::UpdateSpec {
            key: keys::shipper(&id),
            update: "SET approval = :to, GSI1PK = :g1pk, updated_at = :now",
            condition: Some("approval = :pending"),
            names: &[],
            values: vec![
                (":to", s(req.decision.as_str())),
                (":g1pk", s(decided.gsi1pk.clone())),
                (":now", s(decided.updated_at.clone())),
                (":pending", s(Approval::Pending.as_str())),
            ],
        },
    )?];
    if req.decision == Approval::Approved && !user.has_role(Role::Shipper) {
        let mut roles = user.roles.clone();
        roles.push(Role::Shipper);
        roles.sort();
        actions.push(tx::update(
            table,
            tx::UpdateSpec {
                key: keys::user_profile(&id),
                update: "SET #roles = :roles",
                condition: Some("#roles = :old"),
                names: &[("#roles", "roles")],
                values: vec![
                    (":roles", store::value(&roles)?),
                    (":old", store::value(&user.roles)?),
                ],
            },
        )?);
    }
    match state.db.transact(actions).await {
        Ok(()) => Ok(Json(decided.into())),
        Err(e) if e.failed_condition_index().is_some() => Err(ApiError::Conflict(
            "the application or the user changed meanwhile; reload it".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `PUT shipping/shippers/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `online` / `offline` (the shipper); `suspended`, or lifting it (an admin).
    pub status: ShipperStatus,
}

impl Validate for StatusChange {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

/// The shipper goes online (offers start coming) or offline (none come; parcels held stay
/// held); an admin suspends a shipper or lifts the suspension (to `offline`).
#[utoipa::path(put, path = "/api/v1/shipping/shippers/{id}/status", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shipper id")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "The shipper with the new status", body = Shipper),
        (status = 403, description = "Only an admin suspends or lifts a suspension", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipper, or not the caller's profile", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not approved, or suspended: the shipper cannot go online", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn set_shipper_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<StatusChange>,
) -> Result<Json<Shipper>, ApiError> {
    let record = own_or_admin(&state, &caller, &id).await?;
    let admin = caller.user.has_role(Role::Admin);
    let suspending = req.status == ShipperStatus::Suspended;
    let lifting = record.status == ShipperStatus::Suspended;
    if (suspending || lifting) && !admin {
        return Err(ApiError::Forbidden(
            "only an admin suspends a shipper or lifts a suspension".into(),
        ));
    }
    if req.status == ShipperStatus::Online && record.approval != Approval::Approved {
        return Err(ApiError::Conflict(
            "the application is not approved yet; an approved shipper goes online".into(),
        ));
    }
    let mut next = record.clone();
    next.status = if lifting && !suspending {
        ShipperStatus::Offline
    } else {
        req.status
    };
    next.updated_at = shared::now_rfc3339();
    next.index();
    let table = &state.db.table;
    let mut update = "SET #status = :to, updated_at = :now".to_owned();
    let mut values = vec![
        (":to", store::value(&next.status)?),
        (":now", s(next.updated_at.clone())),
        (":read", store::value(&record.status)?),
    ];
    match (&next.gsi2pk, &next.gsi2sk) {
        (Some(pk), Some(sk)) => {
            update.push_str(", GSI2PK = :g2pk, GSI2SK = :g2sk");
            values.push((":g2pk", s(pk.clone())));
            values.push((":g2sk", s(sk.clone())));
        }
        _ => update.push_str(" REMOVE GSI2PK, GSI2SK"),
    }
    let mut actions = vec![tx::update(
        table,
        tx::UpdateSpec {
            key: keys::shipper(&id),
            update: &update,
            condition: Some("#status = :read"),
            names: &[("#status", "status")],
            values,
        },
    )?];
    if next.status == ShipperStatus::Online && record.status != ShipperStatus::Online {
        actions.push(events::outbox_put(
            table,
            &DomainEvent::ShipperAvailable(ShipperAvailable {
                shipper_id: id.clone(),
                province_code: record.province_code.clone(),
            }),
        )?);
    }
    match state.db.transact(actions).await {
        Ok(()) => {
            let fresh: ShipperRecord = state
                .db
                .get(keys::shipper(&id))
                .await?
                .ok_or_else(|| ApiError::NotFound("no shipper with this id".into()))?;
            Ok(Json(fresh.into()))
        }
        Err(e) if e.failed_condition_index() == Some(0) => Err(ApiError::Conflict(
            "the shipper's status changed meanwhile; reload it".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A position report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationReport {
    #[schema(example = 21.0285, minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(example = 105.8542, minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl Validate for LocationReport {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_point(&mut e, ("lat", self.lat), ("lng", self.lng));
        e.finish()
    }
}

/// The update of a shipper's position, conditional on the last one being at least
/// [`LOCATION_INTERVAL_MS`] old (the one-per-3-s limit, kept by DynamoDB, not by memory).
pub fn position_update(
    table: &str,
    shipper_id: &str,
    position: &Position,
    now_ms: i64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let sort = available_sort(Some(position), shipper_id);
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::shipper(shipper_id),
            update: "SET #position = :p, located_at_ms = :now, GSI2SK = :sort",
            condition: Some("attribute_exists(PK) AND located_at_ms <= :cutoff"),
            names: &[("#position", "position")],
            values: vec![
                (":p", store::value(position)?),
                (":now", n(now_ms)),
                (":cutoff", n(now_ms - LOCATION_INTERVAL_MS)),
                (":sort", s(sort)),
            ],
        },
    )
}

/// 429 for a position sent less than three seconds after the last.
pub fn too_soon() -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: 3,
        detail: "a shipper reports a position at most once every 3 seconds".into(),
    }
}

/// The shipper's position while idle or between jobs (during a delivery,
/// `POST shipping/{order_id}/location` reports it and moves the parcel too).
#[utoipa::path(post, path = "/api/v1/shipping/shippers/{id}/location", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shipper id (the caller's)")),
    request_body = LocationReport,
    responses(
        (status = 200, description = "The position kept", body = Position),
        (status = 404, description = "No such shipper, or not the caller's profile", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Less than 3 s since the last position (see Retry-After)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn report_shipper_location(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<LocationReport>,
) -> Result<Json<Position>, ApiError> {
    if caller.id() != id {
        return Err(ApiError::NotFound("no shipper with this id".into()));
    }
    let position = Position {
        lat: req.lat,
        lng: req.lng,
        at: shared::now_rfc3339(),
    };
    let now_ms = (shared::now().unix_timestamp_nanos() / 1_000_000) as i64;
    let update = position_update(&state.db.table, &id, &position, now_ms)?;
    match state.db.transact(vec![update]).await {
        Ok(()) => Ok(Json(position)),
        Err(e) if e.failed_condition_index() == Some(0) => {
            let exists: Option<ShipperRecord> = state.db.get(keys::shipper(&id)).await?;
            match exists {
                None => Err(ApiError::NotFound("no shipper with this id".into())),
                Some(_) => Err(too_soon()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The last position of a shipper.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipperLocation {
    pub shipper_id: String,
    pub status: ShipperStatus,
    pub position: Option<Position>,
}

/// The shipper themself or an admin: the last reported position.
#[utoipa::path(get, path = "/api/v1/shipping/shipper/{shipper_id}/location", tag = TAG, security(("bearer" = [])),
    params(("shipper_id" = String, Path, description = "Shipper id")),
    responses(
        (status = 200, description = "The last position (none reported yet: null)", body = ShipperLocation),
        (status = 404, description = "No such shipper, or not the caller's profile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn shipper_location(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shipper_id): Path<String>,
) -> Result<Json<ShipperLocation>, ApiError> {
    let r = own_or_admin(&state, &caller, &shipper_id).await?;
    Ok(Json(ShipperLocation {
        shipper_id: r.id,
        status: r.status,
        position: r.position,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearQuery {
    /// Latitude of the pickup, -90 to 90.
    #[param(required = true, minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// Longitude of the pickup, -180 to 180.
    #[param(required = true, minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
}

/// A shipper who could take a parcel now.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableShipper {
    pub id: String,
    pub name: String,
    pub vehicle: Vehicle,
    /// From the point asked about, km (one decimal).
    pub distance_km: f64,
    pub free_slots: u32,
}

/// Sellers and admins (to assign by hand): approved, online shippers with a free slot within
/// 20 km of a point, nearest first. One Query.
#[utoipa::path(get, path = "/api/v1/shipping/shippers/available", tag = TAG, security(("bearer" = [])),
    params(NearQuery),
    responses(
        (status = 200, description = "Free shippers, nearest first", body = ListResponse<AvailableShipper>),
        (status = 400, description = "Malformed query string (a non-numeric coordinate)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only sellers and admins look for shippers", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A coordinate missing, out of range or outside the delivery area", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn available_shippers(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<NearQuery>,
) -> Result<Json<ListResponse<AvailableShipper>>, ApiError> {
    if !caller.user.has_role(Role::Admin) && !caller.user.has_role(Role::Seller) {
        return Err(ApiError::Forbidden(
            "only sellers and admins look for shippers".into(),
        ));
    }
    let mut e = Errors::default();
    if q.lat.is_none() {
        e.push("lat", "is required");
    }
    if q.lng.is_none() {
        e.push("lng", "is required");
    }
    e.finish().map_err(ApiError::Validation)?;
    let (lat, lng) = (q.lat.unwrap_or_default(), q.lng.unwrap_or_default());
    let mut e = Errors::default();
    check_point(&mut e, ("lat", lat), ("lng", lng));
    e.finish().map_err(ApiError::Validation)?;
    let ward = shared::geocode::Geocoder::ward_at(&shared::geocode::Gazetteer, lat, lng)
        .ok_or_else(|| {
            ApiError::field(
                "lat",
                "is outside the delivery area (more than 60 km from every ward of Vietnam)",
            )
        })?;
    let found = dispatch::candidates(&state.db, ward.province_code, (lat, lng), &[]).await?;
    Ok(Json(ListResponse {
        items: found
            .into_iter()
            .map(|c| AvailableShipper {
                free_slots: c.shipper.capacity.saturating_sub(c.shipper.load),
                id: c.shipper.id,
                name: c.shipper.name,
                vehicle: c.shipper.vehicle,
                distance_km: (c.km * 10.0).round() / 10.0,
            })
            .collect(),
        next_cursor: None,
    }))
}

/// One of a shipper's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    pub order_id: String,
    pub tracking_number: String,
    pub status: shared::shipments::ShipmentStatus,
    pub assignment: shared::shipments::Assignment,
    /// Unix seconds when an open offer lapses.
    pub offer_expires_at: Option<i64>,
    pub pickup: shared::shipments::Stop,
    pub dropoff: shared::shipments::Stop,
    pub weight_grams: u64,
    pub cod_amount: Option<shared::domain::Money>,
    pub created_at: String,
}

impl From<ShipmentRecord> for Job {
    fn from(s: ShipmentRecord) -> Self {
        Self {
            order_id: s.order_id,
            tracking_number: s.tracking_number,
            status: s.status,
            assignment: s.assignment,
            offer_expires_at: s.offer_expires_at,
            pickup: s.pickup,
            dropoff: s.dropoff,
            weight_grams: s.weight_grams,
            cod_amount: s.cod_amount,
            created_at: s.created_at,
        }
    }
}

/// The shipper themself or an admin: offers waiting for an answer and parcels held, newest
/// first (closed jobs leave the list).
#[utoipa::path(get, path = "/api/v1/shipping/shippers/{id}/shipments", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shipper id")),
    responses(
        (status = 200, description = "The shipper's open jobs", body = ListResponse<Job>),
        (status = 404, description = "No such shipper, or not the caller's profile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn shipper_jobs(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<Job>>, ApiError> {
    own_or_admin(&state, &caller, &id).await?;
    let page = state
        .db
        .query_page::<ShipmentRecord>(store::QuerySpec {
            index: Some("GSI1"),
            pk: keys::gsi1_shipper_shipments(&id),
            sk_prefix: None,
            ascending: false,
            limit: 100,
            start: None,
        })
        .await?;
    Ok(Json(ListResponse {
        items: page.items.into_iter().map(Job::from).collect(),
        next_cursor: None,
    }))
}
