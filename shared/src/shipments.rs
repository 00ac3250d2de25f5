//! The own delivery fleet's records: shippers, shipments and their state machine, the live
//! tracking frames pushed over the WebSocket API, and who may watch a shipment. Pricing is
//! `crate::domain::shipping`; routes are `api-shipping`; offers are the dispatcher's.

use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::catalog::{Capability, MemberRecord, check_member};
use crate::domain::Money;
use crate::events::DomainEvent;
use crate::orders::OrderRecord;
use crate::store::{Db, StoreError, from_item, keys};

pub const SHIPPER_ENTITY: &str = "shipper";
pub const SHIPMENT_ENTITY: &str = "shipment";
pub const TRACKING_ENTITY: &str = "tracking_number";
pub const WS_CONNECTION_ENTITY: &str = "ws_connection";
pub const WS_SUBSCRIPTION_ENTITY: &str = "ws_subscription";

/// The `provider` of shipments the marketplace's own shippers carry.
pub const OWN_FLEET: &str = "own_fleet";

/// How long WebSocket connection and subscription items live: API Gateway closes a
/// connection after two hours whatever happens.
pub const WS_TTL_SECS: i64 = 2 * 3600;
/// Failed delivery attempts before the parcel goes back to the shop.
pub const MAX_ATTEMPTS: u32 = 3;
/// Shortest interval between two position updates of one shipper.
pub const LOCATION_INTERVAL_MS: i64 = 3_000;

/// Where a shipment is. The happy path is `awaiting_pickup → picked_up → in_transit →
/// out_for_delivery → delivered`; a failed attempt goes back out for delivery until the
/// third, which returns the parcel to the shop.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Created; offered to or held by a shipper, or waiting for one.
    AwaitingPickup,
    PickedUp,
    InTransit,
    OutForDelivery,
    Delivered,
    /// The last attempt failed (nobody home, refused, …); it goes out again.
    FailedAttempt,
    /// After [`MAX_ATTEMPTS`] failed attempts.
    ReturnedToShop,
    /// The order was cancelled before the parcel was picked up.
    Cancelled,
}

impl ShipmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPickup => "awaiting_pickup",
            Self::PickedUp => "picked_up",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::FailedAttempt => "failed_attempt",
            Self::ReturnedToShop => "returned_to_shop",
            Self::Cancelled => "cancelled",
        }
    }

    /// The moves a shipper makes (the return to the shop follows the last failed attempt by
    /// itself). `picked_up → out_for_delivery` skips the hub for same-city parcels.
    pub fn can_become(self, to: ShipmentStatus) -> bool {
        use ShipmentStatus::*;
        matches!(
            (self, to),
            (AwaitingPickup, PickedUp | Cancelled)
                | (PickedUp, InTransit | OutForDelivery)
                | (InTransit, OutForDelivery)
                | (OutForDelivery, Delivered | FailedAttempt)
                | (FailedAttempt, OutForDelivery | ReturnedToShop)
        )
    }

    /// The parcel is with the shipper (position updates are accepted).
    pub fn on_the_way(self) -> bool {
        matches!(
            self,
            Self::PickedUp | Self::InTransit | Self::OutForDelivery | Self::FailedAttempt
        )
    }

    /// Closed: the shipper's slot is free again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::ReturnedToShop | Self::Cancelled
        )
    }
}

impl std::fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a shipment that awaits pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// No shipper has a free slot: queued until one does.
    Waiting,
    /// Offered to `shipper_id`, who answers before `offer_expires_at`.
    Offered,
    /// `shipper_id` took it.
    Accepted,
    /// Handed to the outside carrier named by `provider`, which posts its progress.
    Carrier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Vehicle {
    Bicycle,
    Motorbike,
    Car,
    Van,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Pending,
    Approved,
    Rejected,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipperStatus {
    Online,
    Offline,
    /// Set by an admin; only an admin lifts it.
    Suspended,
}

/// A point and when it was reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    pub lat: f64,
    pub lng: f64,
    pub at: String,
}

/// `SHIPPER#<user id>/PROFILE`. GSI1 by approval; GSI2 (sparse) while approved and online, in
/// the service province, by geohash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShipperRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub id: String,
    pub name: String,
    pub phone: String,
    pub vehicle: Vehicle,
    /// The gazetteer code and name of the province the shipper works in.
    pub province_code: String,
    pub province: String,
    /// Parcels held at once (offers included).
    pub capacity: u32,
    /// Parcels held now: offered, accepted or on the way. Never above `capacity` (every
    /// increment is conditional on it).
    pub load: u32,
    pub approval: Approval,
    pub status: ShipperStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Unix milliseconds of the last accepted position (the 3-second limit).
    #[serde(default)]
    pub located_at_ms: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ShipperRecord {
    /// Sets the index attributes from approval, status and position.
    pub fn index(&mut self) {
        self.gsi1pk = keys::gsi1_shippers(self.approval.as_str());
        self.gsi1sk = format!("{}#{}", self.created_at, self.id);
        let available = self.approval == Approval::Approved && self.status == ShipperStatus::Online;
        if available {
            self.gsi2pk = Some(keys::gsi2_available_shippers(&self.province_code));
            self.gsi2sk = Some(available_sort(self.position.as_ref(), &self.id));
        } else {
            (self.gsi2pk, self.gsi2sk) = (None, None);
        }
    }
}

/// The available-shippers sort key: geohash of the position (`~` without one, last), then id.
pub fn available_sort(position: Option<&Position>, shipper_id: &str) -> String {
    let cell = position.map_or_else(
        || "~".to_owned(),
        |p| crate::geo::geohash(p.lat, p.lng, keys::SHIPPER_GEO_PRECISION),
    );
    format!("{cell}#{shipper_id}")
}

/// A new tracking number: `MX`, ten characters of Crockford base 32, and a check character
/// (so a mistyped number is refused before any read).
pub fn tracking_number() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    let body: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..32)] as char)
        .collect();
    format!("MX{body}{}", check_char(&body))
}

/// The check character of a tracking number's body: the sum of its Crockford base-32 values
/// weighted 1, 3, 5, … mod 32. Odd weights are invertible mod 32, so every mistyped single
/// character changes it.
pub fn check_char(body: &str) -> char {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let sum: usize = body
        .bytes()
        .enumerate()
        .map(|(i, b)| (2 * i + 1) * ALPHABET.iter().position(|a| *a == b).unwrap_or(0))
        .sum();
    ALPHABET[sum % 32] as char
}

/// Whether `number` is shaped like one of ours with a correct check character.
pub fn is_tracking_number(number: &str) -> bool {
    number.len() == 13
        && number.starts_with("MX")
        && number.is_char_boundary(12)
        && number[2..]
            .bytes()
            .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        && number[12..].starts_with(check_char(&number[2..12]))
}

/// Where a parcel is picked up or dropped off: a point and its province and city, never a
/// street (the public tracking view shows the city).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stop {
    pub lat: f64,
    pub lng: f64,
    pub province_code: String,
    /// The city or province name, as the address gave it.
    pub city: String,
}

/// How a delivery was proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// A verified photo (its object key; never public).
    Photo { photo_id: String },
    /// The buyer told the shipper the shipment's one-time code.
    Otp,
    /// The outside carrier reported the delivery.
    Carrier,
}

/// One step of a shipment's tracking timeline (no personal data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrackingStep {
    pub status: ShipmentStatus,
    pub at: String,
    /// The city the step happened in.
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `SHIPMENT#<order id>/SHIPMENT`. GSI1 lists a shipper's jobs while one holds it; GSI3 is
/// the dispatcher's (waiting for a shipper, or an offer awaiting its answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShipmentRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    pub entity_type: String,
    pub order_id: String,
    pub tracking_number: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub org_id: String,
    /// [`OWN_FLEET`], or an outside carrier's id.
    pub provider: String,
    /// The outside carrier's own tracking number, once handed to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_label: Option<String>,
    /// What the carrier charges the marketplace for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_fee: Option<Money>,
    /// Hand-overs to a carrier so far (each booking's reference carries its number).
    #[serde(default)]
    pub carrier_bookings: u32,
    pub status: ShipmentStatus,
    pub assignment: Assignment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipper_id: Option<String>,
    /// Offers made so far (the current one's number).
    #[serde(default)]
    pub offers: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<i64>,
    /// Shippers who declined or let an offer lapse (not offered it again).
    #[serde(default)]
    pub declined_by: Vec<String>,
    pub pickup: Stop,
    pub dropoff: Stop,
    pub weight_grams: u64,
    /// Cash to collect at the door (cash-on-delivery orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cod_amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cod_collected: Option<Money>,
    /// The buyer's one-time delivery code (shown to the buyer only).
    pub otp: String,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub timeline: Vec<TrackingStep>,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every write; assignment writes are conditional on the version read.
    #[serde(default)]
    pub version: u64,
}

/// `TRACKING#<number>/SHIPMENT`: makes the number unique and finds the order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackingRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub order_id: String,
}

/// `WSCONN#<connection id>/CONNECTION`: an open WebSocket connection and who opened it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub connection_id: String,
    pub user_id: String,
    pub roles: Vec<Role>,
    /// Orders this connection watches (so `$disconnect` removes their subscriptions).
    #[serde(default)]
    pub orders: Vec<String>,
    /// Whether it receives the user's notifications live (so `$disconnect` removes that too).
    #[serde(default)]
    pub live: bool,
    pub connected_at: String,
    /// TTL (Unix seconds).
    pub expires_at: i64,
}

/// `WSSUB#<order id>/CONN#<connection id>`: one connection watching one order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub order_id: String,
    pub connection_id: String,
    pub user_id: String,
    /// TTL (Unix seconds).
    pub expires_at: i64,
}

/// The roles as the WebSocket authorizer's context carries them (API Gateway context values
/// are strings, numbers or booleans): `buyer,seller`.
pub fn roles_context(roles: &[Role]) -> String {
    roles
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok()?.as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(",")
}

/// The roles of an authorizer context written by [`roles_context`]; unknown names are dropped.
pub fn parse_roles_context(text: &str) -> Vec<Role> {
    text.split(',')
        .filter_map(|r| serde_json::from_value(serde_json::Value::String(r.trim().into())).ok())
        .collect()
}

/// A frame pushed to the watchers of an order. Small, and with no personal data: the order,
/// a point or a status, and a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    Location {
        order_id: String,
        lat: f64,
        lng: f64,
        at: String,
    },
    Status {
        order_id: String,
        status: ShipmentStatus,
        at: String,
        attempts: u32,
    },
}

impl Frame {
    /// The frame an event becomes for the watchers of its order, if any.
    pub fn of(event: &DomainEvent) -> Option<Frame> {
        if let DomainEvent::ShipmentLocationUpdated(e) = event {
            return Some(Frame::Location {
                order_id: e.order_id.clone(),
                lat: e.lat,
                lng: e.lng,
                at: e.at.clone(),
            });
        }
        event.shipment_change().map(|e| Frame::Status {
            order_id: e.order_id.clone(),
            status: e.to,
            at: e.at.clone(),
            attempts: e.attempts,
        })
    }

    pub fn order_id(&self) -> &str {
        match self {
            Frame::Location { order_id, .. } | Frame::Status { order_id, .. } => order_id,
        }
    }
}

/// Who is asking to watch an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watcher {
    Buyer,
    ShopStaff,
    Shipper,
    Admin,
}

/// An order someone may watch, as read to decide it.
#[derive(Debug, Clone)]
pub struct Watched {
    pub watcher: Watcher,
    pub order: OrderRecord,
    pub shipment: Option<ShipmentRecord>,
}

/// Whether `user_id` (with `roles`) may watch `order_id`'s shipment: the order's buyer, staff
/// of its shop who fulfil orders, the shipper holding it, or an admin. `None` for anyone else
/// and for an order that does not exist (the two look the same to the caller). At most three
/// reads: the order and shipment in one batch, then the caller's membership of the shop's
/// organisation.
pub async fn may_watch(
    db: &Db,
    user_id: &str,
    roles: &[Role],
    order_id: &str,
) -> Result<Option<Watcher>, StoreError> {
    Ok(watched(db, user_id, roles, order_id)
        .await?
        .map(|w| w.watcher))
}

/// [`may_watch`], with the order and shipment it read (so a caller need not read them again).
pub async fn watched(
    db: &Db,
    user_id: &str,
    roles: &[Role],
    order_id: &str,
) -> Result<Option<Watched>, StoreError> {
    let items = db
        .batch_get(&[keys::order(order_id), keys::shipment(order_id)])
        .await?;
    let mut order: Option<OrderRecord> = None;
    let mut shipment: Option<ShipmentRecord> = None;
    for item in items {
        match item
            .get("entity_type")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some(crate::orders::ORDER_ENTITY) => order = Some(from_item(item)?),
            Some(SHIPMENT_ENTITY) => shipment = Some(from_item(item)?),
            _ => {}
        }
    }
    let Some(order) = order else {
        return Ok(None);
    };
    let watcher = if order.buyer_id == user_id {
        Some(Watcher::Buyer)
    } else if shipment
        .as_ref()
        .is_some_and(|s| s.shipper_id.as_deref() == Some(user_id))
    {
        Some(Watcher::Shipper)
    } else if roles.contains(&Role::Admin) {
        Some(Watcher::Admin)
    } else {
        let member: Option<MemberRecord> = db.get(keys::org_member(&order.org_id, user_id)).await?;
        member
            .filter(|m| check_member(m, &order.shop_id, Capability::FulfilOrders).is_ok())
            .map(|_| Watcher::ShopStaff)
    };
    Ok(watcher.map(|watcher| Watched {
        watcher,
        order,
        shipment,
    }))
}

#[cfg(test)]
mod tests {
    use super::ShipmentStatus::*;
    use super::*;

    #[test]
    fn tracking_numbers_carry_a_check_character() {
        for _ in 0..50 {
            let n = tracking_number();
            assert!(is_tracking_number(&n), "{n}");
            // every single mistyped character of the body or the check is caught
            for at in 2..13 {
                for c in b"0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
                    let mut typo = n.clone().into_bytes();
                    if typo[at] == *c {
                        continue;
                    }
                    typo[at] = *c;
                    let typo = String::from_utf8(typo).unwrap();
                    assert!(!is_tracking_number(&typo), "{n} → {typo}");
                }
            }
        }
        assert!(!is_tracking_number("MX"));
        assert!(!is_tracking_number("mxabcdefghijk"));
        assert!(!is_tracking_number("MXÀBCDEFGHIJ"));
    }

    #[test]
    fn the_delivery_path_is_legal_and_skipping_or_going_back_is_not() {
        for pair in [
            AwaitingPickup,
            PickedUp,
            InTransit,
            OutForDelivery,
            Delivered,
        ]
        .windows(2)
        {
            assert!(pair[0].can_become(pair[1]), "{} → {}", pair[0], pair[1]);
        }
        assert!(PickedUp.can_become(OutForDelivery));
        assert!(OutForDelivery.can_become(FailedAttempt));
        assert!(FailedAttempt.can_become(OutForDelivery));
        assert!(FailedAttempt.can_become(ReturnedToShop));
        assert!(!AwaitingPickup.can_become(Delivered));
        assert!(!PickedUp.can_become(Delivered));
        assert!(!Delivered.can_become(FailedAttempt));
        assert!(!ReturnedToShop.can_become(OutForDelivery));
        assert!(!InTransit.can_become(PickedUp));
        assert!(Delivered.is_final() && ReturnedToShop.is_final());
        assert!(!AwaitingPickup.on_the_way() && OutForDelivery.on_the_way());
    }

    #[test]
    fn the_authorizer_context_carries_roles_as_one_string() {
        let roles = [Role::Buyer, Role::Seller, Role::Admin];
        assert_eq!(roles_context(&roles), "buyer,seller,admin");
        assert_eq!(parse_roles_context("buyer,seller,admin"), roles);
        assert_eq!(
            parse_roles_context("buyer, root,,shipper"),
            [Role::Buyer, Role::Shipper]
        );
        assert!(parse_roles_context("").is_empty());
    }

    #[test]
    fn frames_are_small_json_without_personal_data() {
        let event = DomainEvent::ShipmentLocationUpdated(crate::events::ShipmentLocation {
            order_id: "o1".into(),
            shipper_id: "s1".into(),
            lat: 21.03,
            lng: 105.85,
            at: "2026-12-01T10:00:00.000Z".into(),
        });
        let frame = serde_json::to_value(Frame::of(&event).unwrap()).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type": "location", "order_id": "o1", "lat": 21.03, "lng": 105.85, "at": "2026-12-01T10:00:00.000Z"})
        );
        let created = DomainEvent::ShipperAvailable(crate::events::ShipperAvailable {
            shipper_id: "s1".into(),
            province_code: "01".into(),
        });
        assert!(Frame::of(&created).is_none());
    }
}
