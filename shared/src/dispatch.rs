//! Offers and slots: the conditional writes that assign shipments to shippers, shared by the
//! dispatcher consumer (automatic offers, time-outs) and `api-shipping` (accept, decline, a
//! hand-made assignment).
//!
//! A shipper's `load` counts the parcels they hold, offers included. Every offer is one
//! transaction that raises the shipper's load *on condition* that it is below their capacity
//! (and that they are approved and online) and moves the shipment *on condition* that it is
//! still as read (its `version`): so no shipper ever holds more than their capacity, and two
//! shipments never take one slot — the second transaction to reach a full shipper is
//! cancelled and the dispatcher offers the next nearest. Declines, lapsed offers, deliveries
//! and returns give the slot back in the same transaction that moves the shipment.
//!
//! Finding the nearest free shipper is ONE Query: the sparse index of approved, online
//! shippers of the pickup province (`keys::gsi2_available_shippers`), filtered to those with
//! a free slot (`load < capacity`), sorted by distance in memory.

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::events::{self, DomainEvent, ShipmentOffer};
use crate::geo::distance_km;
use crate::shipments::{Assignment, ShipmentRecord, ShipperRecord};
use crate::store::{Db, StoreError, classify, from_item, keys, n, s, tx};

/// Farthest a shipper is offered a pickup from, km.
pub const MAX_PICKUP_KM: f64 = 20.0;
/// How long a shipper has to answer an offer unless `SHIPMENT_OFFER_SECONDS` says otherwise.
pub const DEFAULT_OFFER_SECS: i64 = 60;

/// The offer time limit: `SHIPMENT_OFFER_SECONDS` (5–900), else [`DEFAULT_OFFER_SECS`].
pub fn offer_secs() -> i64 {
    std::env::var("SHIPMENT_OFFER_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| (5..=900).contains(v))
        .unwrap_or(DEFAULT_OFFER_SECS)
}

/// A shipper who could take a parcel, and how far they are from its pickup.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub shipper: ShipperRecord,
    pub km: f64,
}

/// Approved, online shippers of `province_code` with a free slot, within [`MAX_PICKUP_KM`] of
/// `from`, not in `exclude`, nearest first. One Query (a second page only past 1 MB of
/// shippers online in one province). A shipper without a position yet counts as farthest.
pub async fn candidates(
    db: &Db,
    province_code: &str,
    from: (f64, f64),
    exclude: &[String],
) -> Result<Vec<Candidate>, StoreError> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = db
            .client
            .query()
            .table_name(&db.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :pk")
            .filter_expression("#load < #capacity")
            .expression_attribute_names("#load", "load")
            .expression_attribute_names("#capacity", "capacity")
            .expression_attribute_values(":pk", s(keys::gsi2_available_shippers(province_code)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        for item in out.items.unwrap_or_default() {
            let shipper: ShipperRecord = from_item(item)?;
            if exclude.contains(&shipper.id) {
                continue;
            }
            let km = shipper
                .position
                .as_ref()
                .map_or(MAX_PICKUP_KM, |p| distance_km(from, (p.lat, p.lng)));
            if km <= MAX_PICKUP_KM {
                found.push(Candidate { shipper, km });
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    found.sort_by(|a, b| a.km.total_cmp(&b.km).then(a.shipper.id.cmp(&b.shipper.id)));
    Ok(found)
}

/// Raises a shipper's load by one if they have a free slot and may take parcels.
pub fn take_slot(table: &str, shipper_id: &str) -> Result<TransactWriteItem, StoreError> {
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::shipper(shipper_id),
            update: "SET #load = #load + :one",
            condition: Some("#load < #capacity AND approval = :approved AND #status = :online"),
            names: &[
                ("#load", "load"),
                ("#capacity", "capacity"),
                ("#status", "status"),
            ],
            values: vec![
                (":one", n(1)),
                (":approved", s("approved")),
                (":online", s("online")),
            ],
        },
    )
}

/// Gives a shipper's slot back (never below zero).
pub fn free_slot(table: &str, shipper_id: &str) -> Result<TransactWriteItem, StoreError> {
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::shipper(shipper_id),
            update: "SET #load = #load - :one",
            condition: Some("#load > :zero"),
            names: &[("#load", "load")],
            values: vec![(":one", n(1)), (":zero", n(0))],
        },
    )
}

/// The shipment written back as changed (its `version` one above the one read), on condition
/// that it is still the version read; a new shipment (version 0) must not exist yet.
pub fn put_shipment(
    table: &str,
    changed: &ShipmentRecord,
) -> Result<TransactWriteItem, StoreError> {
    if changed.version == 0 {
        return tx::put_new(table, changed);
    }
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(crate::store::to_item(changed)?))
        .condition_expression("#v = :v")
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":v", n(changed.version - 1))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// `shipment` as read, the next version of it (the copy every assignment change starts from).
pub fn next_version(shipment: &ShipmentRecord) -> ShipmentRecord {
    let mut s = shipment.clone();
    s.version += 1;
    s.updated_at = crate::now_rfc3339();
    s
}

/// `shipment` offered to `shipper_id` until `expires_at` (a copy; the record is not written).
pub fn offered(shipment: &ShipmentRecord, shipper_id: &str, expires_at: i64) -> ShipmentRecord {
    let mut s = next_version(shipment);
    s.assignment = Assignment::Offered;
    s.shipper_id = Some(shipper_id.to_owned());
    s.offers += 1;
    s.offer_expires_at = Some(expires_at);
    s.gsi1pk = Some(keys::gsi1_shipper_shipments(shipper_id));
    s.gsi1sk = Some(format!("{}#{}", s.created_at, s.order_id));
    s.gsi3pk = Some(keys::GSI3_SHIPMENT_OFFERS.into());
    s.gsi3sk = Some(keys::shipment_offer_sort(expires_at, &s.order_id));
    s
}

/// `shipment` back in the queue, its current shipper (if any) remembered as having declined.
pub fn waiting(shipment: &ShipmentRecord) -> ShipmentRecord {
    let mut s = next_version(shipment);
    if let Some(who) = s.shipper_id.take()
        && !s.declined_by.contains(&who)
    {
        s.declined_by.push(who);
    }
    s.assignment = Assignment::Waiting;
    s.offer_expires_at = None;
    (s.gsi1pk, s.gsi1sk) = (None, None);
    s.gsi3pk = Some(keys::GSI3_SHIPMENTS_WAITING.into());
    s.gsi3sk = Some(keys::shipment_waiting_sort(
        &s.pickup.province_code,
        &s.created_at,
        &s.order_id,
    ));
    s
}

/// The event of an offer or of its outcome.
pub fn offer_event(shipment: &ShipmentRecord, shipper_id: &str, reason: &str) -> ShipmentOffer {
    ShipmentOffer {
        order_id: shipment.order_id.clone(),
        shipper_id: shipper_id.to_owned(),
        offer: shipment.offers,
        expires_at: shipment.offer_expires_at.unwrap_or_default(),
        reason: reason.to_owned(),
        province_code: shipment.pickup.province_code.clone(),
    }
}

/// Why an offer could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// The shipper's slot was taken meanwhile (or they went offline): try the next.
    #[error("the shipper has no free slot any more")]
    ShipperFull,
    /// The shipment changed meanwhile (another offer, an answer): read it again.
    #[error("the shipment changed meanwhile")]
    ShipmentChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Offers `shipment` (as read, or `new`: not written yet) to `shipper_id`: one transaction,
/// with `extra` actions (a new shipment's tracking-number guard and `ShipmentCreated`).
/// Returns the shipment as written.
pub async fn offer(
    db: &Db,
    shipment: &ShipmentRecord,
    new: bool,
    shipper_id: &str,
    extra: Vec<TransactWriteItem>,
) -> Result<ShipmentRecord, OfferError> {
    let mut next = offered(shipment, shipper_id, crate::now_epoch() + offer_secs());
    if new {
        next.version = 0;
    }
    let mut actions = vec![
        put_shipment(&db.table, &next)?,
        take_slot(&db.table, shipper_id)?,
        events::outbox_put(
            &db.table,
            &DomainEvent::ShipmentOffered(offer_event(&next, shipper_id, "offered")),
        )?,
    ];
    actions.extend(extra);
    match db.transact(actions).await {
        Ok(()) => Ok(next),
        Err(e) => match e.failed_condition_index() {
            Some(0) => Err(OfferError::ShipmentChanged),
            Some(1) => Err(OfferError::ShipperFull),
            _ => Err(e.into()),
        },
    }
}

/// An open offer ends without the shipper taking it (`declined`, `expired` or `withdrawn`):
/// the shipment waits again and the slot comes back, in one transaction conditional on the
/// offer being the one read. Returns the shipment as written.
pub async fn end_offer(
    db: &Db,
    shipment: &ShipmentRecord,
    reason: &str,
) -> Result<ShipmentRecord, OfferError> {
    let Some(shipper_id) = shipment.shipper_id.clone() else {
        return Err(OfferError::ShipmentChanged);
    };
    if shipment.assignment != Assignment::Offered {
        return Err(OfferError::ShipmentChanged);
    }
    let event = offer_event(shipment, &shipper_id, reason);
    let next = waiting(shipment);
    let actions = vec![
        put_shipment(&db.table, &next)?,
        free_slot(&db.table, &shipper_id)?,
        events::outbox_put(&db.table, &DomainEvent::ShipmentOfferDeclined(event))?,
    ];
    match db.transact(actions).await {
        Ok(()) => Ok(next),
        Err(e) if e.failed_condition_index() == Some(0) => Err(OfferError::ShipmentChanged),
        Err(e) => Err(e.into()),
    }
}
