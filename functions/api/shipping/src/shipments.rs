//! Shipments of the own fleet: the shipper's answer to an offer, the moves of the parcel
//! (each one conditional, on the tracking timeline, an event, and — for pickup, delivery and
//! the return to the shop — the order's own move in the same transaction), positions on the
//! way, proof of delivery, a hand-made assignment, labels, and tracking (full for the
//! parties, public by tracking number with nothing personal beyond the cities).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::catalog::{Capability, authorize_shop};
use shared::dispatch::{self, OfferError};
use shared::domain::Money;
use shared::domain::order_state::OrderStatus;
use shared::error::FieldError;
use shared::events::{self, DomainEvent, ShipmentLocation, ShipmentStatusChanged};
use shared::http::{AuthUser, ValidJson};
use shared::orders::{self, Actor, OrderRecord, TransitionError};
use shared::shipments::{
    Assignment, MAX_ATTEMPTS, Position, Proof, ShipmentRecord, ShipmentStatus, Stop,
    TrackingRecord, TrackingStep, Watcher, watched,
};
use shared::store::{self, keys, n, s};
use shared::uploads::{ImageUploadRequest, PhotoUpload};
use shared::validate::{self, Errors, Validate};
use shared::{ApiError, AppState};
use utoipa::ToSchema;

use crate::TAG;
use crate::fleet::{LocationReport, position_update, too_soon};

pub(crate) fn no_shipment() -> ApiError {
    ApiError::NotFound("no shipment for this order".into())
}

/// The shipment and its order, in one batched read.
pub(crate) async fn load(
    state: &AppState,
    order_id: &str,
) -> Result<(ShipmentRecord, OrderRecord), ApiError> {
    let mut shipment = None;
    let mut order = None;
    for item in state
        .db
        .batch_get(&[keys::shipment(order_id), keys::order(order_id)])
        .await?
    {
        match item
            .get("entity_type")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some(shared::shipments::SHIPMENT_ENTITY) => shipment = Some(store::from_item(item)?),
            Some(orders::ORDER_ENTITY) => order = Some(store::from_item(item)?),
            _ => {}
        }
    }
    match (shipment, order) {
        (Some(s), Some(o)) => Ok((s, o)),
        _ => Err(no_shipment()),
    }
}

/// The shipment as its assigned shipper sees it: 404 to anyone who does not hold it (another
/// shipper, the buyer, the shop, an admin), so shipments do not leak to other shippers.
async fn load_for_shipper(
    state: &AppState,
    caller: &AuthUser,
    order_id: &str,
) -> Result<(ShipmentRecord, OrderRecord), ApiError> {
    let (shipment, order) = load(state, order_id).await?;
    if shipment.shipper_id.as_deref() != Some(caller.id()) {
        return Err(ApiError::NotFound(
            "no shipment of this order is offered to or held by you".into(),
        ));
    }
    Ok((shipment, order))
}

pub(crate) const CHANGED_MEANWHILE: &str = "the shipment changed meanwhile; reload it";

pub(crate) fn changed_meanwhile() -> ApiError {
    ApiError::Conflict(CHANGED_MEANWHILE.into())
}

/// A shipment as its parties see it (the buyer, the shop's staff, the shipper, admins).
#[derive(Debug, Serialize, ToSchema)]
pub struct Tracking {
    pub order_id: String,
    pub tracking_number: String,
    /// `own_fleet`, or the outside carrier it was handed to.
    pub provider: String,
    /// The carrier's own tracking number, once handed to a carrier.
    pub carrier_label: Option<String>,
    /// What the carrier charges the marketplace (not shown to the buyer).
    pub carrier_fee: Option<Money>,
    pub status: ShipmentStatus,
    pub assignment: Assignment,
    pub shipper_id: Option<String>,
    /// Unix seconds when an open offer lapses.
    pub offer_expires_at: Option<i64>,
    pub pickup: Stop,
    pub dropoff: Stop,
    pub weight_grams: u64,
    pub attempts: u32,
    pub cod_amount: Option<Money>,
    pub cod_collected: Option<Money>,
    pub proof: Option<Proof>,
    /// The code the buyer tells the shipper at the door (shown to the buyer only).
    pub delivery_code: Option<String>,
    /// Who receives the parcel and where (the order's address): shown to the shipper holding
    /// it, the shop's staff and admins.
    pub recipient: Option<orders::ShippingAddress>,
    pub position: Option<Position>,
    pub timeline: Vec<TrackingStep>,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) fn tracking_view(s: ShipmentRecord, watcher: Watcher, order: &OrderRecord) -> Tracking {
    Tracking {
        delivery_code: (watcher == Watcher::Buyer).then_some(s.otp),
        recipient: (watcher != Watcher::Buyer).then(|| order.shipping_address.clone()),
        order_id: s.order_id,
        tracking_number: s.tracking_number,
        provider: s.provider,
        carrier_label: s.carrier_label,
        carrier_fee: s.carrier_fee.filter(|_| watcher != Watcher::Buyer),
        status: s.status,
        assignment: s.assignment,
        shipper_id: s.shipper_id,
        offer_expires_at: s.offer_expires_at,
        pickup: s.pickup,
        dropoff: s.dropoff,
        weight_grams: s.weight_grams,
        attempts: s.attempts,
        cod_amount: s.cod_amount,
        cod_collected: s.cod_collected,
        proof: s.proof,
        position: s.position,
        timeline: s.timeline,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// The order's buyer, the shop's staff, the shipper holding it, or an admin: the shipment,
/// its timeline and last position (the buyer also sees the delivery code).
#[utoipa::path(get, path = "/api/v1/shipping/{order_id}/tracking", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The shipment", body = Tracking),
        (status = 404, description = "No shipment for this order that the caller may see", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn shipment_tracking(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> Result<Json<Tracking>, ApiError> {
    let seen = watched(&state.db, caller.id(), &caller.user.roles, &order_id)
        .await?
        .ok_or_else(no_shipment)?;
    let shipment = seen.shipment.ok_or_else(no_shipment)?;
    Ok(Json(tracking_view(shipment, seen.watcher, &seen.order)))
}

/// What anyone holding the tracking number sees: no names, phones, streets or codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTracking {
    pub tracking_number: String,
    pub status: ShipmentStatus,
    pub from_city: String,
    pub to_city: String,
    pub attempts: u32,
    pub position: Option<Position>,
    pub timeline: Vec<TrackingStep>,
}

/// Public: a parcel's progress by its tracking number.
#[utoipa::path(get, path = "/api/v1/shipping/track/{tracking_number}", tag = TAG,
    params(("tracking_number" = String, Path, description = "The tracking number on the label (`MX` and 11 characters)")),
    responses(
        (status = 200, description = "The parcel's progress", body = PublicTracking),
        (status = 404, description = "No parcel with this tracking number", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not shaped like a tracking number, or its check character is wrong (a typo)", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn track_parcel(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<PublicTracking>, ApiError> {
    let not_found = || ApiError::NotFound("no parcel with this tracking number".into());
    let number = number.trim().to_ascii_uppercase();
    if !shared::shipments::is_tracking_number(&number) {
        return Err(ApiError::field(
            "tracking_number",
            "is not a tracking number (MX, ten letters or digits and a check character); check for a typo",
        ));
    }
    let guard: TrackingRecord = state
        .db
        .get(keys::tracking_number(&number))
        .await?
        .ok_or_else(not_found)?;
    let s: ShipmentRecord = state
        .db
        .get(keys::shipment(&guard.order_id))
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(PublicTracking {
        tracking_number: s.tracking_number,
        status: s.status,
        from_city: s.pickup.city,
        to_city: s.dropoff.city,
        attempts: s.attempts,
        position: s.position,
        timeline: s
            .timeline
            .into_iter()
            .map(|t| TrackingStep { note: None, ..t })
            .collect(),
    }))
}

/// The assigned shipper takes the offered shipment (before the offer lapses).
#[utoipa::path(post, path = "/api/v1/shipping/{order_id}/accept", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The shipment, now the caller's", body = Tracking),
        (status = 404, description = "No shipment of this order offered to or held by the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No open offer (taken already, declined, lapsed) or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn accept_offer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> Result<Json<Tracking>, ApiError> {
    let (shipment, order) = load_for_shipper(&state, &caller, &order_id).await?;
    let open = shipment.assignment == Assignment::Offered
        && shipment
            .offer_expires_at
            .is_some_and(|at| at >= shared::now_epoch());
    if !open {
        return Err(ApiError::Conflict(
            "there is no open offer of this shipment to you (taken, declined or lapsed)".into(),
        ));
    }
    let mut next = dispatch::next_version(&shipment);
    next.assignment = Assignment::Accepted;
    next.offer_expires_at = None;
    (next.gsi3pk, next.gsi3sk) = (None, None);
    let event = dispatch::offer_event(&shipment, caller.id(), "accepted");
    let actions = vec![
        dispatch::put_shipment(&state.db.table, &next)?,
        events::outbox_put(&state.db.table, &DomainEvent::ShipmentAssigned(event))?,
    ];
    match state.db.transact(actions).await {
        Ok(()) => Ok(Json(tracking_view(next, Watcher::Shipper, &order))),
        Err(e) if e.failed_condition_index() == Some(0) => Err(changed_meanwhile()),
        Err(e) => Err(e.into()),
    }
}

/// The offered shipper turns the shipment down: it is offered to the next nearest.
#[utoipa::path(post, path = "/api/v1/shipping/{order_id}/decline", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 204, description = "Declined; the slot is free again"),
        (status = 404, description = "No shipment of this order offered to or held by the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No open offer to the caller (accepted already, or lapsed)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn decline_offer(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (shipment, _) = load_for_shipper(&state, &caller, &order_id).await?;
    if shipment.assignment != Assignment::Offered {
        return Err(ApiError::Conflict(
            "there is no open offer of this shipment to you".into(),
        ));
    }
    match dispatch::end_offer(&state.db, &shipment, "declined").await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(OfferError::ShipmentChanged | OfferError::ShipperFull) => Err(changed_meanwhile()),
        Err(OfferError::Store(e)) => Err(e.into()),
    }
}

/// `POST shipping/assign/{order_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// An approved, online shipper with a free slot (see `shipping/shippers/available`).
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub shipper_id: String,
}

impl Validate for AssignRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::id("shipper_id", &mut self.shipper_id));
        e.finish()
    }
}

/// The shipment and its order for the order's shop staff (who fulfil orders) or an admin, while
/// it awaits pickup and neither a shipper nor a carrier holds it: 403 to the buyer, 404 to
/// outsiders, 409 once held.
pub(crate) async fn load_unheld_for_shop(
    state: &AppState,
    caller: &AuthUser,
    order_id: &str,
) -> Result<(ShipmentRecord, OrderRecord), ApiError> {
    let (shipment, order) = load(state, order_id).await?;
    if order.buyer_id == caller.id() {
        return Err(ApiError::Forbidden(
            "the shop or an admin assigns a shipment, not the buyer".into(),
        ));
    }
    if !caller.user.has_role(Role::Admin) {
        authorize_shop(&state.db, caller, &order.shop_id, Capability::FulfilOrders)
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) => no_shipment(),
                other => other,
            })?;
    }
    if shipment.status != ShipmentStatus::AwaitingPickup
        || matches!(
            shipment.assignment,
            Assignment::Accepted | Assignment::Carrier
        )
    {
        return Err(ApiError::Conflict(
            "a shipper or a carrier holds this shipment already".into(),
        ));
    }
    Ok((shipment, order))
}

/// An admin, or staff of the order's shop: offer a shipment that awaits pickup to a chosen
/// shipper (an open offer to someone else is withdrawn first, freeing their slot). The
/// shipper still accepts it. (`shipping/{order_id}/hand-over` gives it to a carrier instead.)
#[utoipa::path(post, path = "/api/v1/shipping/assign/{order_id}", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "The shipment, offered to the shipper", body = Tracking),
        (status = 403, description = "The order's buyer, or a member whose role does not fulfil orders", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No shipment for this order in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shipment is held by a shipper or a carrier already, or the shipper has no free slot, is not approved or is offline", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn assign_shipper(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<AssignRequest>,
) -> Result<Json<Tracking>, ApiError> {
    let (mut shipment, order) = load_unheld_for_shop(&state, &caller, &order_id).await?;
    if shipment.assignment == Assignment::Offered {
        shipment = match dispatch::end_offer(&state.db, &shipment, "withdrawn").await {
            Ok(s) => s,
            Err(OfferError::Store(e)) => return Err(e.into()),
            Err(_) => return Err(changed_meanwhile()),
        };
    }
    match dispatch::offer(&state.db, &shipment, false, &req.shipper_id, Vec::new()).await {
        Ok(offered) => Ok(Json(tracking_view(offered, Watcher::ShopStaff, &order))),
        Err(OfferError::ShipperFull) => Err(ApiError::Conflict(
            "this shipper cannot take it: no free slot, not approved, offline, or unknown".into(),
        )),
        Err(OfferError::ShipmentChanged) => Err(changed_meanwhile()),
        Err(OfferError::Store(e)) => Err(e.into()),
    }
}

/// How a delivery is proven.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofInput {
    /// A photo uploaded through `shipping/{order_id}/proof-photos`.
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub photo_id: Option<String>,
    /// The buyer's six-digit delivery code.
    #[schema(pattern = "^[0-9]{6}$")]
    pub otp: Option<String>,
}

/// `PUT shipping/{order_id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentMove {
    /// `picked_up`, `in_transit`, `out_for_delivery`, `delivered` (with `proof`) or
    /// `failed_attempt` (the third returns the parcel to the shop).
    pub status: ShipmentStatus,
    /// What happened (a failed attempt's reason), at most 300 characters.
    #[schema(max_length = 300)]
    pub note: Option<String>,
    /// Required for `delivered`: a photo or the buyer's code.
    pub proof: Option<ProofInput>,
}

impl Validate for ShipmentMove {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::optional_text("note", &mut self.note, 300));
        if matches!(
            self.status,
            ShipmentStatus::AwaitingPickup
                | ShipmentStatus::ReturnedToShop
                | ShipmentStatus::Cancelled
        ) {
            e.push(
                "status",
                "is not a move a shipper makes (picked_up, in_transit, out_for_delivery, delivered or failed_attempt)",
            );
        }
        match (&mut self.proof, self.status) {
            (None, ShipmentStatus::Delivered) => e.push(
                "proof",
                "is required for a delivery: a photo_id or the buyer's otp",
            ),
            (Some(_), s) if s != ShipmentStatus::Delivered => {
                e.push("proof", "is only given with delivered")
            }
            (Some(p), _) => match (&mut p.photo_id, &p.otp) {
                (Some(id), None) => e.check(validate::id("proof.photo_id", id)),
                (None, Some(otp)) => {
                    if otp.len() != 6 || !otp.bytes().all(|b| b.is_ascii_digit()) {
                        e.push("proof.otp", "must be the six-digit delivery code");
                    }
                }
                _ => e.push("proof", "must hold exactly one of photo_id and otp"),
            },
            (None, _) => {}
        }
        e.finish()
    }
}

/// Where a step of the timeline happens.
fn step_city(shipment: &ShipmentRecord, status: ShipmentStatus) -> String {
    match status {
        ShipmentStatus::OutForDelivery
        | ShipmentStatus::Delivered
        | ShipmentStatus::FailedAttempt => shipment.dropoff.city.clone(),
        _ => shipment.pickup.city.clone(),
    }
}

fn status_event(
    shipment: &ShipmentRecord,
    from: ShipmentStatus,
    to: ShipmentStatus,
    at: &str,
    note: Option<String>,
) -> DomainEvent {
    ShipmentStatusChanged {
        order_id: shipment.order_id.clone(),
        tracking_number: shipment.tracking_number.clone(),
        buyer_id: shipment.buyer_id.clone(),
        shop_id: shipment.shop_id.clone(),
        shipper_id: shipment.shipper_id.clone(),
        from,
        to,
        at: at.to_owned(),
        attempts: shipment.attempts,
        province_code: shipment.pickup.province_code.clone(),
        note,
    }
    .into_event()
}

/// The assigned shipper moves the parcel on. Picked up ships the order; delivered (with a
/// photo or the buyer's code) delivers it and, for cash on delivery, records the cash
/// collected; the third failed attempt returns the parcel to the shop and cancels the order
/// (its reserved stock is released by that one move). Each is one transaction with the order's
/// move, conditional on both being as read.
#[utoipa::path(put, path = "/api/v1/shipping/{order_id}/status", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = ShipmentMove,
    responses(
        (status = 200, description = "The shipment after the move", body = Tracking),
        (status = 404, description = "No shipment of this order offered to or held by the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a legal move from the shipment's status, not accepted yet, the order was cancelled, or either changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, a wrong delivery code, or no uploaded photo with this id; `errors` names the field", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn move_shipment(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<ShipmentMove>,
) -> Result<Json<Tracking>, ApiError> {
    let (shipment, order) = load_for_shipper(&state, &caller, &order_id).await?;
    if shipment.assignment != Assignment::Accepted {
        return Err(ApiError::Conflict(
            "accept the shipment before moving it".into(),
        ));
    }
    let from = shipment.status;
    if !from.can_become(req.status) {
        return Err(ApiError::Conflict(format!(
            "a shipment that is {from} cannot become {}",
            req.status
        )));
    }
    let proof = match req.status {
        ShipmentStatus::Delivered => {
            Some(check_proof(&state, &shipment, req.proof.as_ref()).await?)
        }
        _ => None,
    };
    let next = apply_move(&state, &shipment, &order, req.status, req.note, proof).await?;
    Ok(Json(tracking_view(next, Watcher::Shipper, &order)))
}

/// Who carries a shipment, as the order's timeline says it.
fn carried_by(shipment: &ShipmentRecord) -> String {
    if shipment.provider == shared::shipments::OWN_FLEET {
        "the marketplace fleet".into()
    } else {
        shipment.provider.to_uppercase()
    }
}

/// Moves a shipment (as read, with its order as read) to `to`, which the caller checked is a
/// legal move: the timeline, attempts (the third failed one returns the parcel), the cash
/// collected on delivery, and for pickup, delivery and the return the order's own move, with
/// the events, in one transaction conditional on both being as read; a final move frees the
/// shipper's slot. Returns the shipment as written.
pub(crate) async fn apply_move(
    state: &AppState,
    shipment: &ShipmentRecord,
    order: &OrderRecord,
    to: ShipmentStatus,
    note: Option<String>,
    proof: Option<Proof>,
) -> Result<ShipmentRecord, ApiError> {
    let from = shipment.status;
    let now = shared::now_rfc3339();
    let mut next = dispatch::next_version(shipment);
    next.status = to;
    next.timeline.push(TrackingStep {
        status: to,
        at: now.clone(),
        city: step_city(shipment, to),
        note: note.clone(),
    });
    let mut moves = vec![(from, to)];
    if to == ShipmentStatus::FailedAttempt {
        next.attempts += 1;
        if next.attempts >= MAX_ATTEMPTS {
            next.status = ShipmentStatus::ReturnedToShop;
            next.timeline.push(TrackingStep {
                status: ShipmentStatus::ReturnedToShop,
                at: now.clone(),
                city: shipment.pickup.city.clone(),
                note: Some(format!("{MAX_ATTEMPTS} delivery attempts failed")),
            });
            moves.push((
                ShipmentStatus::FailedAttempt,
                ShipmentStatus::ReturnedToShop,
            ));
        }
    }
    if to == ShipmentStatus::Delivered {
        next.proof = proof;
        next.cod_collected = shipment.cod_amount;
    }
    if next.status.is_final() {
        (next.gsi1pk, next.gsi1sk) = (None, None);
    }
    let table = &state.db.table;
    let who = carried_by(shipment);
    let order_move = match next.status {
        ShipmentStatus::PickedUp => Some((
            OrderStatus::Shipped,
            Some(format!("picked up by {who} ({})", shipment.tracking_number)),
            vec![(
                "shipment",
                store::value(&orders::Shipment {
                    carrier: shipment.provider.clone(),
                    tracking_number: shipment
                        .carrier_label
                        .clone()
                        .unwrap_or_else(|| shipment.tracking_number.clone()),
                    shipped_at: now.clone(),
                })?,
            )],
        )),
        ShipmentStatus::Delivered => Some((
            OrderStatus::Delivered,
            Some(format!("delivered by {who}")),
            vec![("delivered_at", n(shared::now_epoch()))],
        )),
        ShipmentStatus::ReturnedToShop => {
            let why = if next.attempts >= MAX_ATTEMPTS {
                format!("delivery failed {MAX_ATTEMPTS} times")
            } else {
                format!("{who} could not deliver it")
            };
            Some((
                OrderStatus::Cancelled,
                Some(format!("{why}; the parcel went back to the shop")),
                vec![("cancel_reason", s(why))],
            ))
        }
        _ => None,
    };
    let mut actions = vec![dispatch::put_shipment(table, &next)?];
    let order_actions = match order_move {
        None => 0,
        Some((to, note, extra)) => {
            let planned = orders::plan_transition(table, order, to, Actor::System, note, extra)
                .map_err(|e| match e {
                    TransitionError::Illegal { from, .. } => ApiError::Conflict(format!(
                        "the order is {from}; the parcel cannot move on"
                    )),
                    other => other.into(),
                })?;
            let count = planned.actions.len();
            actions.extend(planned.actions);
            count
        }
    };
    if next.status.is_final()
        && shipment.assignment == Assignment::Accepted
        && let Some(shipper) = &shipment.shipper_id
    {
        actions.push(dispatch::free_slot(table, shipper)?);
    }
    for (a, b) in moves {
        actions.push(events::outbox_put(
            table,
            &status_event(&next, a, b, &now, note.clone()),
        )?);
    }
    match state.db.transact(actions).await {
        Ok(()) => Ok(next),
        Err(e) => match e.failed_condition_index() {
            Some(0) => Err(changed_meanwhile()),
            Some(1) if order_actions > 0 => Err(ApiError::Conflict(
                "the order changed meanwhile (was it cancelled?); reload it".into(),
            )),
            _ => Err(e.into()),
        },
    }
}

/// The proof of a delivery: the buyer's code (compared in constant time), or a photo that was
/// uploaded and kept by the media processor's check.
async fn check_proof(
    state: &AppState,
    shipment: &ShipmentRecord,
    proof: Option<&ProofInput>,
) -> Result<Proof, ApiError> {
    let proof = proof.ok_or_else(|| ApiError::field("proof", "is required for a delivery"))?;
    if let Some(otp) = &proof.otp {
        let same = otp.len() == shipment.otp.len()
            && otp
                .bytes()
                .zip(shipment.otp.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        return if same {
            Ok(Proof::Otp)
        } else {
            Err(ApiError::field(
                "proof.otp",
                "is not this shipment's delivery code",
            ))
        };
    }
    let photo_id = proof.photo_id.clone().unwrap_or_default();
    if state
        .photo_uploaded(keys::delivery_proof_object(&shipment.order_id, &photo_id))
        .await
    {
        Ok(Proof::Photo { photo_id })
    } else {
        Err(ApiError::field(
            "proof.photo_id",
            "no uploaded image with this id for this shipment",
        ))
    }
}

/// The assigned shipper: a presigned URL to upload a proof-of-delivery photo (JPEG, PNG or
/// WebP, ≤ 10 MiB; PUT it with exactly the returned headers within 15 minutes). The media
/// processor deletes it unless its bytes are an image.
#[utoipa::path(post, path = "/api/v1/shipping/{order_id}/proof-photos", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = ImageUploadRequest,
    responses(
        (status = 201, description = "Where to PUT the photo, and its id for the delivery", body = PhotoUpload),
        (status = 404, description = "No shipment of this order offered to or held by the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The parcel is not out for delivery", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delivery_photo(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<ImageUploadRequest>,
) -> Result<Response, ApiError> {
    let (shipment, _) = load_for_shipper(&state, &caller, &order_id).await?;
    if shipment.status != ShipmentStatus::OutForDelivery {
        return Err(ApiError::Conflict(
            "a delivery photo is taken when the parcel is out for delivery".into(),
        ));
    }
    let photo_id = ulid::Ulid::new().to_string();
    let put = state
        .presign_image_put(keys::delivery_proof_object(&order_id, &photo_id), &req)
        .await?;
    Ok((StatusCode::CREATED, Json(put.for_photo(photo_id))).into_response())
}

/// The assigned shipper's position on the way: the shipment's last position, the shipper's,
/// and a `ShipmentLocationUpdated` for the live feed, in one transaction — at most one every
/// three seconds per shipper.
#[utoipa::path(post, path = "/api/v1/shipping/{order_id}/location", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = LocationReport,
    responses(
        (status = 202, description = "The position, kept and sent to the watchers", body = Position),
        (status = 404, description = "No shipment of this order offered to or held by the caller", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The parcel is not on the way (not picked up yet, or delivered)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Less than 3 s since the shipper's last position (see Retry-After)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn report_shipment_location(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<LocationReport>,
) -> Result<Response, ApiError> {
    let (shipment, _) = load_for_shipper(&state, &caller, &order_id).await?;
    if !shipment.status.on_the_way() {
        return Err(ApiError::Conflict(format!(
            "the parcel is {}: positions are sent while it is on the way",
            shipment.status
        )));
    }
    let position = Position {
        lat: req.lat,
        lng: req.lng,
        at: shared::now_rfc3339(),
    };
    let now_ms = (shared::now().unix_timestamp_nanos() / 1_000_000) as i64;
    let table = &state.db.table;
    let actions = vec![
        position_update(table, caller.id(), &position, now_ms)?,
        shared::store::tx::update(
            table,
            shared::store::tx::UpdateSpec {
                key: keys::shipment(&order_id),
                update: "SET #position = :p, #v = #v + :one",
                condition: Some("shipper_id = :me AND #status = :status"),
                names: &[
                    ("#position", "position"),
                    ("#v", "version"),
                    ("#status", "status"),
                ],
                values: vec![
                    (":p", store::value(&position)?),
                    (":one", n(1)),
                    (":me", s(caller.id())),
                    (":status", store::value(&shipment.status)?),
                ],
            },
        )?,
        events::outbox_put(
            table,
            &DomainEvent::ShipmentLocationUpdated(ShipmentLocation {
                order_id: order_id.clone(),
                shipper_id: caller.id().to_owned(),
                lat: position.lat,
                lng: position.lng,
                at: position.at.clone(),
            }),
        )?,
    ];
    match state.db.transact(actions).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(position)).into_response()),
        Err(e) => match e.failed_condition_index() {
            Some(0) => Err(too_soon()),
            Some(1) => Err(changed_meanwhile()),
            _ => Err(e.into()),
        },
    }
}

/// `POST shipping/labels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    /// Orders of the caller's shops (or the caller's shipments), 1–50, each printed once.
    #[schema(min_items = 1, max_items = 50)]
    pub order_ids: Vec<String>,
}

impl Validate for LabelsRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.order_ids.is_empty() || self.order_ids.len() > 50 {
            e.push("order_ids", "must hold 1 to 50 order ids");
        }
        for (i, id) in self.order_ids.iter_mut().enumerate() {
            e.check(validate::id(&format!("order_ids[{i}]"), id));
        }
        let mut seen = std::collections::HashSet::new();
        if !self.order_ids.iter().all(|id| seen.insert(id.clone())) {
            e.push("order_ids", "must not repeat an order");
        }
        e.finish()
    }
}

/// Staff of the orders' shops, the shipper holding them, or an admin: printable labels, one
/// A6 page per parcel, with the tracking number as a Code 128 barcode.
#[utoipa::path(post, path = "/api/v1/shipping/labels", tag = TAG, security(("bearer" = [])),
    request_body = LabelsRequest,
    responses(
        (status = 200, description = "The labels (PDF)", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "An order has no shipment the caller may print (`errors` names it)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn print_labels(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<LabelsRequest>,
) -> Result<Response, ApiError> {
    let mut wanted = Vec::new();
    for id in &req.order_ids {
        wanted.push(keys::shipment(id));
        wanted.push(keys::order(id));
    }
    let mut shipments = std::collections::HashMap::new();
    let mut orders_by_id = std::collections::HashMap::new();
    for item in state.db.batch_get(&wanted).await? {
        match item
            .get("entity_type")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some(shared::shipments::SHIPMENT_ENTITY) => {
                let s: ShipmentRecord = store::from_item(item)?;
                shipments.insert(s.order_id.clone(), s);
            }
            Some(orders::ORDER_ENTITY) => {
                let o: OrderRecord = store::from_item(item)?;
                orders_by_id.insert(o.id.clone(), o);
            }
            _ => {}
        }
    }
    let mut checked_shops = std::collections::HashMap::new();
    let mut pages = Vec::new();
    for (i, id) in req.order_ids.iter().enumerate() {
        let missing = || ApiError::NotFound(format!("order_ids[{i}]: no shipment you may print"));
        let (Some(shipment), Some(order)) = (shipments.get(id), orders_by_id.get(id)) else {
            return Err(missing());
        };
        let allowed = caller.user.has_role(Role::Admin)
            || shipment.shipper_id.as_deref() == Some(caller.id())
            || match checked_shops.get(&order.shop_id) {
                Some(ok) => *ok,
                None => {
                    let ok = authorize_shop(
                        &state.db,
                        &caller,
                        &order.shop_id,
                        Capability::FulfilOrders,
                    )
                    .await
                    .is_ok();
                    checked_shops.insert(order.shop_id.clone(), ok);
                    ok
                }
            };
        if !allowed {
            return Err(missing());
        }
        pages.push(label_of(shipment, order));
    }
    let pdf = shipping_labels::labels_pdf(&pages)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering labels: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"labels.pdf\"",
            ),
        ],
        pdf,
    )
        .into_response())
}

fn label_of(shipment: &ShipmentRecord, order: &OrderRecord) -> shipping_labels::Label {
    let a = &order.shipping_address;
    let mut to_address = vec![a.line1.clone()];
    to_address.extend(a.line2.clone());
    let locality: Vec<String> = [a.ward.clone(), a.district.clone(), Some(a.city.clone())]
        .into_iter()
        .flatten()
        .collect();
    to_address.push(locality.join(", "));
    let service = match order.shipping_method {
        shared::domain::shipping::Method::Standard => "Standard",
        shared::domain::shipping::Method::Express => "Express",
        shared::domain::shipping::Method::SameDay => "Same day",
        shared::domain::shipping::Method::Pickup => "Pickup",
    };
    shipping_labels::Label {
        tracking_number: shipment.tracking_number.clone(),
        order_id: order.id.clone(),
        service: service.into(),
        from_name: order.shop_name.clone(),
        from_city: shipment.pickup.city.clone(),
        to_name: a.recipient_name.clone(),
        to_phone: a.phone.clone(),
        to_address,
        weight_grams: shipment.weight_grams,
        cod: shipment.cod_amount.map(format_money),
        created_at: shipment.created_at.clone(),
    }
}

/// `250.000 VND` (thousands dotted, as printed in Vietnam; minor units for other currencies).
fn format_money(m: Money) -> String {
    let digits = m.amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    format!("{out} {:?}", m.currency)
}
