//! Handing a parcel to an outside carrier instead of the own fleet, and the carrier's status
//! callbacks (see `shipping_carriers`).
//!
//! The hand-over books the carrier first (our order id is its idempotency key, so a retry finds
//! the first booking), then writes the shipment as the carrier's in one transaction
//! conditional on the version read, withdrawing an open offer to a shipper in the same
//! transaction. If that write loses a race, the booking is cancelled again.
//!
//! A callback is verified by the carrier's scheme, then moves the shipment (and its order) as a
//! shipper's move would, through the statuses the carrier skipped if it skipped some. A repeat
//! or an older status changes nothing and is acknowledged, so the carrier stops retrying.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use serde::Serialize;
use shared::domain::Money;
use shared::error::FieldError;
use shared::events::{self, DomainEvent, ShipmentHandedOver};
use shared::geocode::{Gazetteer, Geocoder};
use shared::http::{AuthUser, ValidJson};
use shared::orders::OrderRecord;
use shared::shipments::Watcher;
use shared::shipments::{
    Assignment, OWN_FLEET, Proof, ShipmentRecord, ShipmentStatus, TrackingStep,
};
use shared::store::keys;
use shared::validate::{self, Errors, Validate};
use shared::{ApiError, AppState, dispatch};
use shipping_carriers::{
    Carrier, CarrierError, Carriers, Consignment, Item, Party, Progress, UpdateError, vnd,
};
use utoipa::ToSchema;

use crate::TAG;
use crate::shipments::{
    CHANGED_MEANWHILE, Tracking, apply_move, changed_meanwhile, load, load_unheld_for_shop,
    no_shipment, tracking_view,
};

/// The carriers, as the routes get them.
pub type CarrierSet = Extension<Arc<Carriers>>;

/// The extension layer the routes of `api()` need (the dev server adds it to its router).
pub fn extension(carriers: Carriers) -> Extension<Arc<Carriers>> {
    Extension(Arc::new(carriers))
}

fn carrier_problem(e: CarrierError) -> ApiError {
    match e {
        CarrierError::Refused(why) => ApiError::field("carrier", format!("refused it: {why}")),
        CarrierError::Unavailable(why) => {
            tracing::warn!(error = %why, "the carrier is unavailable");
            ApiError::Unavailable {
                retry_after_secs: 30,
            }
        }
    }
}

/// The parcel as the carrier books it: the shop's name and street, the buyer's address, the
/// lines (name, quantity, unit weight), the cash to collect and the goods' value. Names come
/// from the gazetteer where the address gave codes (the province and ward it was placed in).
pub fn consignment(
    order: &OrderRecord,
    shop: &shared::catalog::ShopRecord,
    shipment: &ShipmentRecord,
    pickup_phone: &str,
) -> Result<Consignment, ApiError> {
    let not_vnd = || ApiError::field("carrier", "carries orders paid in VND only");
    let province_name =
        |code: &str| vn_gazetteer::province_by_code(code).map(|p| p.name.to_owned());
    let shop_ward = Gazetteer.ward_at(shipment.pickup.lat, shipment.pickup.lng);
    let from = Party {
        name: shop.name.clone(),
        phone: pickup_phone.to_owned(),
        address: shop.address.line1.clone(),
        ward: shop_ward.map(|w| w.name.to_owned()),
        district: None,
        province: province_name(&shipment.pickup.province_code)
            .unwrap_or_else(|| shop.address.city.clone()),
    };
    let a = &order.shipping_address;
    let place = a.place.as_ref();
    let placed_ward = place
        .and_then(|p| p.ward_code.as_deref())
        .and_then(vn_gazetteer::ward_by_code)
        .map(|w| w.name.to_owned());
    let to = Party {
        name: a.recipient_name.clone(),
        phone: a.phone.clone(),
        address: [Some(a.line1.clone()), a.line2.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ward: placed_ward.or_else(|| a.ward.clone()),
        district: a.district.clone(),
        province: place
            .and_then(|p| province_name(&p.province_code))
            .unwrap_or_else(|| a.city.clone()),
    };
    let items = order
        .lines
        .iter()
        .map(|l| Item {
            name: l.name.clone(),
            quantity: u32::try_from(l.quantity).unwrap_or(u32::MAX),
            weight_grams: u64::from(l.weight_grams),
        })
        .collect();
    let cod_vnd = match shipment.cod_amount {
        Some(m) => vnd(m).ok_or_else(not_vnd)?,
        None => 0,
    };
    Ok(Consignment {
        reference: shipping_carriers::reference(&order.id, shipment.carrier_bookings + 1),
        from,
        to,
        items,
        weight_grams: shipment.weight_grams,
        cod_vnd,
        value_vnd: vnd(order.money(order.subtotal)).ok_or_else(not_vnd)?,
        method: order.shipping_method,
        note: order.note.clone(),
    })
}

/// The shipment as the carrier's: no shipper, out of the dispatcher's queues, the carrier's
/// label and fee, and a step on the timeline.
fn handed_over(
    shipment: &ShipmentRecord,
    carrier: &dyn Carrier,
    label: &str,
    fee: Option<i64>,
) -> ShipmentRecord {
    let mut next = dispatch::next_version(shipment);
    next.provider = carrier.id().to_owned();
    next.assignment = Assignment::Carrier;
    next.shipper_id = None;
    next.offer_expires_at = None;
    next.carrier_label = Some(label.to_owned());
    next.carrier_bookings += 1;
    next.carrier_fee = fee.map(|f| Money::new(f, shared::domain::Currency::VND));
    (next.gsi1pk, next.gsi1sk, next.gsi3pk, next.gsi3sk) = (None, None, None, None);
    next.timeline.push(TrackingStep {
        status: ShipmentStatus::AwaitingPickup,
        at: next.updated_at.clone(),
        city: shipment.pickup.city.clone(),
        note: Some(format!("handed to {} ({label})", carrier.name())),
    });
    next
}

/// `POST shipping/{order_id}/hand-over`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverRequest {
    /// An outside carrier of `shipping/providers` (`ghtk`).
    #[schema(pattern = "^[a-z0-9_]{1,32}$", example = "ghtk")]
    pub carrier: String,
    /// The shop's phone the carrier's courier calls for the pickup.
    #[schema(example = "+84901234567")]
    pub pickup_phone: String,
}

impl Validate for HandOverRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        self.carrier = self.carrier.trim().to_ascii_lowercase();
        if self.carrier.is_empty()
            || self.carrier.len() > 32
            || !self
                .carrier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            e.push(
                "carrier",
                "must be a carrier id of shipping/providers, like ghtk",
            );
        }
        e.check(validate::phone("pickup_phone", &mut self.pickup_phone));
        e.finish()
    }
}

/// An admin, or staff of the order's shop: hand a shipment that awaits pickup (waiting, or
/// offered to a shipper who has not taken it) to an outside carrier, which books a pickup at
/// once. An open offer is withdrawn in the same write. The carrier posts its progress back
/// (`shipping/carriers/{carrier}/updates`) and the order moves with it.
#[utoipa::path(post, path = "/api/v1/shipping/{order_id}/hand-over", tag = TAG, security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = HandOverRequest,
    responses(
        (status = 200, description = "The shipment, booked with the carrier (`carrier_label`, `carrier_fee`)", body = Tracking),
        (status = 403, description = "The order's buyer, or a member whose role does not fulfil orders", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No shipment for this order in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A shipper or a carrier holds the shipment already, or it changed meanwhile", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        (status = 422, description = "Invalid body, or the carrier is unknown, does not carry the order's method or currency, or refused the parcel (`errors` names `carrier`)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The carrier could not be reached; try again (see Retry-After)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn hand_over_parcel(
    State(state): State<AppState>,
    Extension(carriers): CarrierSet,
    caller: AuthUser,
    Path(order_id): Path<String>,
    ValidJson(req): ValidJson<HandOverRequest>,
) -> Result<Json<Tracking>, ApiError> {
    let (shipment, order) = load_unheld_for_shop(&state, &caller, &order_id).await?;
    let next = hand_over(
        &state,
        &carriers,
        &shipment,
        &order,
        &req.carrier,
        &req.pickup_phone,
    )
    .await?;
    Ok(Json(tracking_view(next, Watcher::ShopStaff, &order)))
}

/// Hands a shipment awaiting pickup (waiting, or offered to a shipper who has not taken it) to
/// `carrier_id`. The caller was authorised as the shop's staff or an admin.
pub async fn hand_over(
    state: &AppState,
    carriers: &Carriers,
    shipment: &ShipmentRecord,
    order: &OrderRecord,
    carrier_id: &str,
    pickup_phone: &str,
) -> Result<ShipmentRecord, ApiError> {
    let Some(carrier) = carriers.get(carrier_id) else {
        let known = carriers.ids();
        let offered = if known.is_empty() {
            "none is configured".to_owned()
        } else {
            format!("one of {}", known.join(", "))
        };
        return Err(ApiError::field(
            "carrier",
            format!("is not a carrier of this marketplace ({offered})"),
        ));
    };
    if !carrier.methods().contains(&order.shipping_method) {
        return Err(ApiError::field(
            "carrier",
            format!(
                "does not carry {} parcels",
                serde_json::to_value(order.shipping_method)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ));
    }
    let shop: shared::catalog::ShopRecord = state
        .db
        .get(keys::shop_profile(&order.shop_id))
        .await?
        .ok_or_else(no_shipment)?;
    let parcel = consignment(order, &shop, shipment, pickup_phone)?;
    let booking = carrier.book(&parcel).await.map_err(carrier_problem)?;
    let next = handed_over(shipment, carrier.as_ref(), &booking.label, booking.fee_vnd);
    let table = &state.db.table;
    let mut actions = vec![dispatch::put_shipment(table, &next)?];
    if shipment.assignment == Assignment::Offered
        && let Some(shipper) = &shipment.shipper_id
    {
        actions.push(dispatch::free_slot(table, shipper)?);
        actions.push(events::outbox_put(
            table,
            &DomainEvent::ShipmentOfferDeclined(dispatch::offer_event(
                shipment,
                shipper,
                "withdrawn",
            )),
        )?);
    }
    actions.push(events::outbox_put(
        table,
        &DomainEvent::ShipmentHandedOver(ShipmentHandedOver {
            order_id: next.order_id.clone(),
            tracking_number: next.tracking_number.clone(),
            buyer_id: next.buyer_id.clone(),
            shop_id: next.shop_id.clone(),
            carrier: carrier.id().to_owned(),
            label: booking.label.clone(),
            province_code: next.pickup.province_code.clone(),
        }),
    )?);
    match state.db.transact(actions).await {
        Ok(()) => Ok(next),
        Err(e) => {
            // A concurrent hand-over of the same order found this same booking (the order id
            // is the carrier's idempotency key) and recorded it: it stands.
            if let Ok((now, _)) = load(state, &order.id).await
                && now.carrier_label.as_deref() == Some(booking.label.as_str())
            {
                return Ok(now);
            }
            // Not written: the booking must not stay behind at the carrier.
            if let Err(cancel) = carrier.cancel(&booking.label).await {
                tracing::error!(order_id = %order.id, label = %booking.label, error = %cancel,
                    "a booking the shipment never recorded could not be cancelled; cancel it at the carrier");
            }
            match e.failed_condition_index() {
                Some(0) => Err(changed_meanwhile()),
                _ => Err(e.into()),
            }
        }
    }
}

/// What became of a carrier's status callback.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarrierUpdateResult {
    pub order_id: String,
    /// The shipment's status after the update.
    pub status: ShipmentStatus,
    /// Whether it moved the shipment (false: a repeat, an older status, or informational).
    pub applied: bool,
}

/// The move toward `target` to make next from `from`, on the path a parcel takes (a carrier
/// may report delivered without saying picked up; a repeat or an older status is `None`).
fn next_step(from: ShipmentStatus, target: ShipmentStatus) -> Option<ShipmentStatus> {
    use ShipmentStatus::*;
    if from == target || from.is_final() {
        return None;
    }
    let step = match (from, target) {
        (AwaitingPickup, _) => PickedUp,
        // the carrier decides a return itself, after its own attempts
        (_, ReturnedToShop) => ReturnedToShop,
        (PickedUp | InTransit, Delivered | FailedAttempt) => OutForDelivery,
        (FailedAttempt, Delivered) => OutForDelivery,
        (_, t) => t,
    };
    (step == ReturnedToShop || from.can_become(step)).then_some(step)
}

#[cfg(test)]
mod tests {
    use super::next_step;
    use shared::shipments::ShipmentStatus::*;

    #[test]
    fn skipped_statuses_are_filled_in_and_older_ones_ignored() {
        assert_eq!(next_step(AwaitingPickup, Delivered), Some(PickedUp));
        assert_eq!(next_step(PickedUp, Delivered), Some(OutForDelivery));
        assert_eq!(next_step(OutForDelivery, Delivered), Some(Delivered));
        assert_eq!(next_step(FailedAttempt, Delivered), Some(OutForDelivery));
        assert_eq!(next_step(PickedUp, FailedAttempt), Some(OutForDelivery));
        assert_eq!(
            next_step(OutForDelivery, ReturnedToShop),
            Some(ReturnedToShop)
        );
        assert_eq!(next_step(AwaitingPickup, ReturnedToShop), Some(PickedUp));
        assert_eq!(next_step(OutForDelivery, InTransit), None, "older");
        assert_eq!(next_step(OutForDelivery, PickedUp), None, "older");
        assert_eq!(next_step(Delivered, OutForDelivery), None, "after the end");
        assert_eq!(next_step(Delivered, Delivered), None, "a repeat");
        assert_eq!(next_step(Cancelled, PickedUp), None);
    }
}

/// A carrier posts a parcel's status (GHTK: to the callback URL registered with it, whose
/// `hash` query parameter is the marketplace's secret). Verified by the carrier's scheme;
/// the shipment and its order move as a shipper's move would (through the statuses the
/// carrier skipped). A repeat or an older status is acknowledged and changes nothing.
#[utoipa::path(post, path = "/api/v1/shipping/carriers/{carrier}/updates", tags = [TAG, "webhooks"],
    params(
        ("carrier" = String, Path, description = "The carrier (`ghtk`)"),
        ("hash" = String, Query, description = "The secret registered with the carrier in the callback URL"),
    ),
    request_body(content = GhtkUpdate, description = "The carrier's status update (GHTK: JSON or a form)", content_type = "application/json"),
    responses(
        (status = 200, description = "Verified; the shipment as it is now", body = CarrierUpdateResult),
        (status = 400, description = "Not an update we can read (JSON that is not an object)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The callback's secret is missing or wrong", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier, or no shipment of that order handed to it under that label", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order cannot follow (it was cancelled meanwhile), or it kept changing", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field the update must have is missing (`errors` names it)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A carrier this deployment has no secret for (it retries later)", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(carrier = %carrier_id))]
pub async fn carrier_update(
    State(state): State<AppState>,
    Extension(carriers): CarrierSet,
    Path(carrier_id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<CarrierUpdateResult>, ApiError> {
    let Some(carrier) = carriers.get(&carrier_id) else {
        // A carrier we have an adapter for but no secret: it retries until it is configured.
        return Err(
            if shipping_carriers::ADAPTERS.contains(&carrier_id.as_str()) {
                tracing::error!(carrier = %carrier_id, "a callback of a carrier that is not configured");
                ApiError::Unavailable {
                    retry_after_secs: 300,
                }
            } else {
                ApiError::NotFound("no such carrier".into())
            },
        );
    };
    let update = carrier
        .read_update(query.as_deref(), &body)
        .map_err(|e| match e {
            UpdateError::NotAuthentic(why) => ApiError::Forbidden(why.into()),
            UpdateError::Malformed(why) => ApiError::BadRequest(why),
            UpdateError::Missing(field) => {
                ApiError::field(field, "is required (a string, or a number for status_id)")
            }
        })?;
    if shared::validate::id("partner_id", &mut update.order_id.clone()).is_err() {
        return Err(ApiError::NotFound("no shipment for this order".into()));
    }
    let not_ours = || {
        ApiError::NotFound(
            "no shipment of this order is handed to this carrier under this label".into(),
        )
    };
    let mut applied = false;
    for _ in 0..8 {
        let (shipment, order) = load(&state, &update.order_id).await.map_err(|e| match e {
            ApiError::NotFound(_) => not_ours(),
            other => other,
        })?;
        if shipment.provider != carrier.id()
            || shipment.carrier_label.as_deref() != Some(update.label.as_str())
        {
            return Err(not_ours());
        }
        let done = || {
            Ok(Json(CarrierUpdateResult {
                order_id: shipment.order_id.clone(),
                status: shipment.status,
                applied,
            }))
        };
        let step = match update.progress {
            Progress::Noted => return done(),
            Progress::Withdrawn => {
                if shipment.status != ShipmentStatus::AwaitingPickup
                    || shipment.assignment != Assignment::Carrier
                {
                    return done();
                }
                let mut back = dispatch::waiting(&shipment);
                back.provider = OWN_FLEET.into();
                back.carrier_label = None;
                back.carrier_fee = None;
                back.timeline.push(TrackingStep {
                    status: ShipmentStatus::AwaitingPickup,
                    at: back.updated_at.clone(),
                    city: shipment.pickup.city.clone(),
                    note: Some(format!(
                        "{} cancelled the booking ({})",
                        carrier.name(),
                        update.code
                    )),
                });
                match state
                    .db
                    .transact(vec![dispatch::put_shipment(&state.db.table, &back)?])
                    .await
                {
                    Ok(()) => {
                        return Ok(Json(CarrierUpdateResult {
                            order_id: back.order_id,
                            status: back.status,
                            applied: true,
                        }));
                    }
                    Err(e) if e.failed_condition_index() == Some(0) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Progress::Moved(target) => match next_step(shipment.status, target) {
                None => return done(),
                Some(step) => step,
            },
        };
        let note = Some(match &update.reason {
            Some(reason) => format!("{}: {reason}", update.code),
            None => update.code.clone(),
        });
        let proof = (step == ShipmentStatus::Delivered).then_some(Proof::Carrier);
        match apply_move(&state, &shipment, &order, step, note, proof).await {
            // A skipped status was filled in, or the target reached: read again and go on
            // until the reported status is reached (the next pass answers).
            Ok(_) => applied = true,
            Err(ApiError::Conflict(why)) if why == CHANGED_MEANWHILE => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(
        "the shipment kept changing; the carrier will retry".into(),
    ))
}

/// GHTK's status update, as it posts it (JSON; older callbacks send the same fields as a
/// form).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct GhtkUpdate {
    /// Our order id (given at booking as `order.id`).
    pub partner_id: String,
    /// GHTK's tracking number.
    pub label_id: String,
    /// GHTK's status (3 picked up, 4 delivering, 5 delivered, 9 not delivered, 21 returned,
    /// -1 cancelled; others are informational).
    pub status_id: i64,
    pub action_time: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// Kilograms, as weighed by GHTK.
    pub weight: Option<f64>,
    pub fee: Option<i64>,
    pub pick_money: Option<i64>,
    pub return_part_package: Option<i64>,
}
