//! The dispatcher: the marketplace fleet's assignment loop. An SQS consumer of bus events, of
//! the `DispatchScheduleRule` tick and of its own delayed offer time-outs, handling a batch's
//! messages concurrently and reporting the failed ones (partial batch failure); a message that
//! keeps failing goes to the DLQ.
//!
//! | message | what it does |
//! |---|---|
//! | `OrderPlaced` confirmed (cash on delivery) or `OrderConfirmed` (paid), not a pickup order | creates the shipment (tracking number, one-time delivery code, cash to collect) and offers it to the nearest free shipper, in one transaction; with nobody free it waits |
//! | `ShipmentOfferDeclined` | offers the shipment to the next nearest free shipper (not one who declined it) |
//! | `OrderCancelled` | a shipment not picked up yet is cancelled; an offered or accepted one gives the shipper's slot back |
//! | `ShipmentDelivered`, `ShipmentReturned`, `ShipmentCancelled`, `ShipperAvailable` | a slot freed in a province: offers its oldest waiting shipments |
//! | `{"expire_offer": …}` (sent by itself, delayed by the offer time limit) | an offer still open past its limit lapses: the shipment waits again, the slot comes back, `ShipmentOfferDeclined` follows |
//! | `Scheduled Event` (every minute) | the same for every lapsed offer (should a delayed message be lost), then offers every waiting shipment again, to anyone free |
//!
//! # Correctness
//!
//! Every write is one conditional transaction of `shared::dispatch`: an offer raises the
//! shipper's load only below capacity and moves the shipment only from the version read, so
//! redeliveries, concurrent batches and the tick racing a time-out all leave one outcome. A
//! lost race (`ShipmentChanged`) means someone else moved the shipment: done.
//!
//! # Cost per assignment
//!
//! Creating and offering a shipment reads the order and the shop in one `BatchGetItem`, the
//! free shippers of the province in one `Query`, and writes one `TransactWriteItems` (another
//! only if the nearest shipper's last slot went to a concurrent offer).

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::{Deserialize, Serialize};
use shared::catalog::ShopRecord;
use shared::dispatch::{self, OfferError};
use shared::domain::order_state::OrderStatus;
use shared::domain::shipping::Method;
use shared::events::{self, BusEvent, DomainEvent, ShipmentCreated};
use shared::geocode::Geocoder;
use shared::orders::{ORDER_ENTITY, OrderRecord, PaymentMethod};
use shared::shipments::{
    Assignment, OWN_FLEET, SHIPMENT_ENTITY, ShipmentRecord, ShipmentStatus, Stop, TRACKING_ENTITY,
    TrackingRecord, TrackingStep,
};
use shared::store::{Db, StoreError, from_item, keys, s, tx};

/// Shippers tried for one shipment in one pass (each a transaction that may lose its slot).
const MAX_TRIES: usize = 5;
/// Waiting shipments offered when a slot frees in a province.
const WAITING_PER_SLOT: i32 = 10;
/// Waiting shipments the tick offers again, at most.
const WAITING_PER_TICK: i32 = 100;

pub struct Dispatcher {
    pub db: Db,
    pub sqs: aws_sdk_sqs::Client,
    /// This consumer's own queue (delayed time-outs go there); `None` leaves them to the tick.
    pub queue_url: Option<String>,
    /// The outside carriers, to cancel a booking when its order is cancelled before pickup.
    pub carriers: shipping_carriers::Carriers,
    /// A street-level geocoder for drop-off points (off unless `GEOCODER_URL` is set).
    pub geocoder: Option<std::sync::Arc<dyn street_geocoder::StreetGeocoder>>,
}

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ignored,
    /// Offered to this shipper.
    Offered(String),
    /// Nobody free: it waits.
    Waiting,
    /// Already done by an earlier delivery or a concurrent one.
    Duplicate,
    /// The order cannot travel with the fleet (pickup, or no place to pick up from).
    NotShipped(&'static str),
    Expired,
    /// A tick or a freed slot: offers made out of shipments looked at.
    Swept {
        expired: usize,
        offered: usize,
        looked_at: usize,
    },
}

/// A message, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Event(Box<DomainEvent>),
    Tick,
    ExpireOffer(OfferTimeout),
    /// A bus event the dispatcher does not act on.
    Other,
}

/// The body of the delayed message that ends an unanswered offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferTimeout {
    pub order_id: String,
    pub offer: u32,
}

#[derive(Deserialize)]
struct Own {
    expire_offer: OfferTimeout,
}

#[derive(Deserialize)]
struct Kind {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
}

const HANDLED: [&str; 8] = [
    "OrderPlaced",
    "OrderConfirmed",
    "OrderCancelled",
    "ShipmentOfferDeclined",
    "ShipmentDelivered",
    "ShipmentReturned",
    "ShipmentCancelled",
    "ShipperAvailable",
];

/// Understands a message body. Pure.
pub fn parse_message(body: &str) -> anyhow::Result<Work> {
    if let Ok(own) = serde_json::from_str::<Own>(body) {
        return Ok(Work::ExpireOffer(own.expire_offer));
    }
    let kind: Kind = serde_json::from_str(body).context("the message body is not a bus event")?;
    if kind.source == "aws.events" && kind.detail_type == "Scheduled Event" {
        return Ok(Work::Tick);
    }
    if !HANDLED.contains(&kind.detail_type.as_str()) {
        return Ok(Work::Other);
    }
    let bus: BusEvent =
        serde_json::from_str(body).context("the message body is not a bus event")?;
    let event = DomainEvent::from_parts(&bus.detail_type, bus.detail.data)
        .with_context(|| format!("malformed {} event data", bus.detail_type))?;
    Ok(Work::Event(Box::new(event)))
}

/// The shipment of a confirmed order, waiting for a shipper (not written). `None` when the
/// order does not travel with the fleet: a pickup order, a shop or an address outside the
/// delivery area. Pure.
pub fn new_shipment(
    order: &OrderRecord,
    shop: &ShopRecord,
    number: &str,
    otp: &str,
) -> Result<ShipmentRecord, &'static str> {
    if order.shipping_method == Method::Pickup {
        return Err("a pickup order");
    }
    let geocoder = shared::geocode::Gazetteer;
    let from = (shop.address.location.lat, shop.address.location.lng);
    let pickup_ward = geocoder
        .ward_at(from.0, from.1)
        .ok_or("a shop outside the delivery area")?;
    let to = order
        .shipping_address
        .place
        .as_ref()
        .ok_or("an address that was never placed")?;
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::shipment(&order.id);
    let pickup = Stop {
        lat: from.0,
        lng: from.1,
        province_code: pickup_ward.province_code.to_owned(),
        city: shop.address.city.clone(),
    };
    let mut shipment = ShipmentRecord {
        pk,
        sk,
        gsi1pk: None,
        gsi1sk: None,
        gsi3pk: None,
        gsi3sk: None,
        entity_type: SHIPMENT_ENTITY.into(),
        order_id: order.id.clone(),
        tracking_number: number.to_owned(),
        buyer_id: order.buyer_id.clone(),
        shop_id: order.shop_id.clone(),
        org_id: order.org_id.clone(),
        provider: OWN_FLEET.into(),
        carrier_label: None,
        carrier_fee: None,
        carrier_bookings: 0,
        status: ShipmentStatus::AwaitingPickup,
        assignment: Assignment::Waiting,
        shipper_id: None,
        offers: 0,
        offer_expires_at: None,
        declined_by: Vec::new(),
        pickup: pickup.clone(),
        dropoff: Stop {
            lat: to.lat,
            lng: to.lng,
            province_code: to.province_code.clone(),
            city: order.shipping_address.city.clone(),
        },
        weight_grams: order.weight_grams,
        cod_amount: (order.payment_method == PaymentMethod::Cod).then(|| order.money(order.total)),
        cod_collected: None,
        otp: otp.to_owned(),
        attempts: 0,
        proof: None,
        position: None,
        timeline: vec![TrackingStep {
            status: ShipmentStatus::AwaitingPickup,
            at: now.clone(),
            city: pickup.city,
            note: Some("the shop is preparing the parcel".into()),
        }],
        created_at: now.clone(),
        updated_at: now,
        version: 0,
    };
    shipment.gsi3pk = Some(keys::GSI3_SHIPMENTS_WAITING.into());
    shipment.gsi3sk = Some(keys::shipment_waiting_sort(
        &shipment.pickup.province_code,
        &shipment.created_at,
        &shipment.order_id,
    ));
    Ok(shipment)
}

impl Dispatcher {
    pub fn new(db: Db, sqs: aws_sdk_sqs::Client, queue_url: Option<String>) -> Self {
        Self {
            db,
            sqs,
            queue_url,
            carriers: Default::default(),
            geocoder: None,
        }
    }

    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self {
            carriers: shipping_carriers::Carriers::from_env(&sdk).await?,
            geocoder: street_geocoder::GoogleGeocoder::from_env(&sdk).await?,
            ..Self::new(
                Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
                aws_sdk_sqs::Client::new(&sdk),
                std::env::var("DISPATCH_QUEUE_URL")
                    .ok()
                    .filter(|u| !u.is_empty()),
            )
        })
    }

    /// Handles the batch's messages concurrently and reports the failed ones.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        shared::consumer::each_message(&event, |m| self.process(m)).await
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        match parse_message(message.body.as_deref().unwrap_or_default())? {
            Work::Event(event) => match *event {
                // Cash-on-delivery orders are placed confirmed; paid ones are confirmed later.
                DomainEvent::OrderPlaced(e) if e.status == OrderStatus::Confirmed => {
                    self.order_confirmed(&e.order_id, &e.shop_id).await
                }
                DomainEvent::OrderConfirmed(e) => {
                    self.order_confirmed(&e.order_id, &e.shop_id).await
                }
                DomainEvent::ShipmentOfferDeclined(e) => self.redispatch(&e.order_id).await,
                DomainEvent::OrderCancelled(e) => self.order_cancelled(&e.order_id).await,
                DomainEvent::ShipmentDelivered(e)
                | DomainEvent::ShipmentReturned(e)
                | DomainEvent::ShipmentCancelled(e) => self.slot_freed(&e.province_code).await,
                DomainEvent::ShipperAvailable(e) => self.slot_freed(&e.province_code).await,
                _ => Ok(Outcome::Ignored),
            },
            Work::ExpireOffer(t) => self.expire(&t.order_id, Some(t.offer)).await,
            Work::Tick => self.tick().await,
            Work::Other => Ok(Outcome::Ignored),
        }
    }

    /// Creates the shipment of a confirmed order and offers it (see the module docs).
    pub async fn order_confirmed(&self, order_id: &str, shop_id: &str) -> anyhow::Result<Outcome> {
        let (mut order, mut shop): (Option<OrderRecord>, Option<ShopRecord>) = (None, None);
        for item in self
            .db
            .batch_get(&[keys::order(order_id), keys::shop_profile(shop_id)])
            .await?
        {
            match item
                .get("entity_type")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some(ORDER_ENTITY) => order = Some(from_item(item)?),
                Some(_) => shop = Some(from_item(item)?),
                None => {}
            }
        }
        let order = order.with_context(|| format!("order {order_id} not found"))?;
        let shop = shop.with_context(|| format!("shop {shop_id} not found"))?;
        if !matches!(
            order.status,
            OrderStatus::Confirmed | OrderStatus::Processing
        ) {
            // Cancelled (or moved on) before the event arrived: nothing to ship.
            return Ok(Outcome::NotShipped("an order no longer waiting to ship"));
        }
        let number = shared::shipments::tracking_number();
        let otp = shared::auth::six_digit_code();
        let mut shipment = match new_shipment(&order, &shop, &number, &otp) {
            Ok(s) => s,
            Err(why) => {
                tracing::error!(
                    order_id,
                    why,
                    incident = true,
                    "the order cannot travel with the fleet"
                );
                return Ok(Outcome::NotShipped(why));
            }
        };
        self.refine_dropoff(&order, &mut shipment).await;
        let table = &self.db.table;
        let (pk, sk) = keys::tracking_number(&number);
        let guard = TrackingRecord {
            pk,
            sk,
            entity_type: TRACKING_ENTITY.into(),
            order_id: order.id.clone(),
        };
        let created = DomainEvent::ShipmentCreated(ShipmentCreated {
            order_id: order.id.clone(),
            tracking_number: number.clone(),
            shop_id: order.shop_id.clone(),
            buyer_id: order.buyer_id.clone(),
            province_code: shipment.pickup.province_code.clone(),
        });
        let extra = vec![
            tx::put_new(table, &guard)?,
            events::outbox_put(table, &created)?,
        ];
        self.dispatch(&shipment, true, &shipment.declined_by, extra)
            .await
    }

    /// Offers `shipment` (as read, or `new`) to the nearest free shipper not in `exclude`;
    /// a new shipment nobody can take is written waiting.
    async fn dispatch(
        &self,
        shipment: &ShipmentRecord,
        new: bool,
        exclude: &[String],
        extra: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> anyhow::Result<Outcome> {
        let from = (shipment.pickup.lat, shipment.pickup.lng);
        let candidates =
            dispatch::candidates(&self.db, &shipment.pickup.province_code, from, exclude).await?;
        for candidate in candidates.iter().take(MAX_TRIES) {
            match dispatch::offer(
                &self.db,
                shipment,
                new,
                &candidate.shipper.id,
                extra.clone(),
            )
            .await
            {
                Ok(offered) => {
                    self.schedule_timeout(&offered).await;
                    return Ok(Outcome::Offered(candidate.shipper.id.clone()));
                }
                Err(OfferError::ShipperFull) => continue,
                Err(OfferError::ShipmentChanged) => return Ok(Outcome::Duplicate),
                Err(OfferError::Store(e)) => return Err(e.into()),
            }
        }
        if !new {
            return Ok(Outcome::Waiting);
        }
        let mut actions = vec![dispatch::put_shipment(&self.db.table, shipment)?];
        actions.extend(extra);
        match self.db.transact(actions).await {
            Ok(()) => Ok(Outcome::Waiting),
            Err(e) if e.failed_condition_index() == Some(0) => Ok(Outcome::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the delayed message that ends the offer if it is still open then. Best effort:
    /// the tick ends it otherwise.
    async fn schedule_timeout(&self, shipment: &ShipmentRecord) {
        let Some(url) = &self.queue_url else {
            return;
        };
        let body = serde_json::json!({"expire_offer": OfferTimeout {
            order_id: shipment.order_id.clone(),
            offer: shipment.offers,
        }});
        let delay = (dispatch::offer_secs() + 1).min(900) as i32;
        if let Err(e) = self
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body.to_string())
            .delay_seconds(delay)
            .send()
            .await
        {
            tracing::warn!(order_id = %shipment.order_id, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "scheduling the offer time-out failed; the tick will end it");
        }
    }

    /// After a decline or a lapse: offer the shipment to the next nearest free shipper.
    pub async fn redispatch(&self, order_id: &str) -> anyhow::Result<Outcome> {
        let Some(shipment) = self.shipment(order_id).await? else {
            return Ok(Outcome::Ignored);
        };
        if shipment.assignment != Assignment::Waiting
            || shipment.status != ShipmentStatus::AwaitingPickup
        {
            return Ok(Outcome::Duplicate);
        }
        let exclude = shipment.declined_by.clone();
        self.dispatch(&shipment, false, &exclude, Vec::new()).await
    }

    /// The order was cancelled before pickup: so is its shipment, and a shipper holding it
    /// gets the slot back (one transaction; a concurrent change is read again). A booking at
    /// an outside carrier is cancelled there first, so a carrier that cannot be reached makes
    /// the message retry.
    pub async fn order_cancelled(&self, order_id: &str) -> anyhow::Result<Outcome> {
        for _ in 0..3 {
            let Some(shipment) = self.shipment(order_id).await? else {
                return Ok(Outcome::Ignored);
            };
            if shipment.status != ShipmentStatus::AwaitingPickup {
                return Ok(Outcome::Duplicate);
            }
            if shipment.assignment == Assignment::Carrier {
                self.cancel_booking(&shipment).await?;
            }
            let now = shared::now_rfc3339();
            let mut next = dispatch::next_version(&shipment);
            next.status = ShipmentStatus::Cancelled;
            (next.gsi1pk, next.gsi1sk, next.gsi3pk, next.gsi3sk) = (None, None, None, None);
            next.offer_expires_at = None;
            next.timeline.push(TrackingStep {
                status: ShipmentStatus::Cancelled,
                at: now.clone(),
                city: shipment.pickup.city.clone(),
                note: Some("the order was cancelled".into()),
            });
            let table = &self.db.table;
            let mut actions = vec![dispatch::put_shipment(table, &next)?];
            if let (Some(who), Assignment::Offered | Assignment::Accepted) =
                (&shipment.shipper_id, shipment.assignment)
            {
                actions.push(dispatch::free_slot(table, who)?);
            }
            actions.push(events::outbox_put(
                table,
                &shared::events::ShipmentStatusChanged {
                    order_id: next.order_id.clone(),
                    tracking_number: next.tracking_number.clone(),
                    buyer_id: next.buyer_id.clone(),
                    shop_id: next.shop_id.clone(),
                    shipper_id: next.shipper_id.clone(),
                    from: ShipmentStatus::AwaitingPickup,
                    to: ShipmentStatus::Cancelled,
                    at: now,
                    attempts: 0,
                    province_code: next.pickup.province_code.clone(),
                    note: Some("the order was cancelled".into()),
                }
                .into_event(),
            )?);
            match self.db.transact(actions).await {
                Ok(()) => return Ok(Outcome::NotShipped("the order was cancelled")),
                Err(e) if e.failed_condition_index() == Some(0) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("the shipment of {order_id} kept changing; retrying later")
    }

    /// With a street geocoder configured: the drop-off at the street instead of the ward's
    /// centroid, if the provider finds it where the address was placed. Prices are not
    /// touched (the order keeps the quote its preview showed); a slow or failing provider
    /// leaves the centroid.
    async fn refine_dropoff(&self, order: &OrderRecord, shipment: &mut ShipmentRecord) {
        let (Some(geocoder), Some(place)) = (&self.geocoder, &order.shipping_address.place) else {
            return;
        };
        let a = &order.shipping_address;
        let query = street_geocoder::StreetQuery {
            line: a.line1.clone(),
            ward: place
                .ward_code
                .as_deref()
                .and_then(vn_gazetteer::ward_by_code)
                .map(|w| w.name.to_owned())
                .or_else(|| a.ward.clone()),
            province: vn_gazetteer::province_by_code(&place.province_code)
                .map(|p| p.name.to_owned())
                .unwrap_or_else(|| a.city.clone()),
        };
        match geocoder.street_point(&query).await {
            Ok(Some(p)) if street_geocoder::fits(place, (p.lat, p.lng)) => {
                (shipment.dropoff.lat, shipment.dropoff.lng) = (p.lat, p.lng);
            }
            Ok(Some(p)) => tracing::warn!(order_id = %order.id, lat = p.lat, lng = p.lng,
                "the geocoder placed the address outside its ward; keeping the ward's centre"),
            Ok(None) => {}
            Err(e) => tracing::warn!(order_id = %order.id, geocoder = geocoder.name(), error = %e,
                "street geocoding failed; keeping the ward's centre"),
        }
    }

    /// Cancels a shipment's booking at its carrier. A refusal (cancelled there already, or
    /// picked up meanwhile) is logged and the shipment is cancelled anyway; an unreachable
    /// carrier is an error, so the message is retried.
    async fn cancel_booking(&self, shipment: &ShipmentRecord) -> anyhow::Result<()> {
        let label = shipment.carrier_label.as_deref().unwrap_or_default();
        let Some(carrier) = self.carriers.get(&shipment.provider) else {
            tracing::error!(order_id = %shipment.order_id, carrier = %shipment.provider, %label,
                "the shipment's carrier is not configured here; cancel its booking at the carrier");
            return Ok(());
        };
        match carrier.cancel(label).await {
            Ok(()) => Ok(()),
            Err(shipping_carriers::CarrierError::Refused(why)) => {
                tracing::error!(order_id = %shipment.order_id, carrier = %shipment.provider, %label,
                    reason = %why, "the carrier refused to cancel the booking of a cancelled order; check it there");
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!("cancelling the booking {label}: {e}")),
        }
    }

    /// Ends an open offer past its limit (`offer`: only that one).
    pub async fn expire(&self, order_id: &str, offer: Option<u32>) -> anyhow::Result<Outcome> {
        let Some(shipment) = self.shipment(order_id).await? else {
            return Ok(Outcome::Ignored);
        };
        let open = shipment.assignment == Assignment::Offered
            && offer.is_none_or(|n| n == shipment.offers)
            && shipment
                .offer_expires_at
                .is_some_and(|at| at <= shared::now_epoch());
        if !open {
            return Ok(Outcome::Duplicate);
        }
        match dispatch::end_offer(&self.db, &shipment, "expired").await {
            Ok(_) => Ok(Outcome::Expired),
            Err(OfferError::ShipmentChanged) => Ok(Outcome::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// A slot freed in a province: offer its oldest waiting shipments.
    pub async fn slot_freed(&self, province_code: &str) -> anyhow::Result<Outcome> {
        let waiting: Vec<ShipmentRecord> = self
            .db
            .query_page(shared::store::QuerySpec {
                index: Some("GSI3"),
                pk: keys::GSI3_SHIPMENTS_WAITING.into(),
                sk_prefix: Some(format!("{province_code}#")),
                ascending: true,
                limit: WAITING_PER_SLOT as u32,
                start: None,
            })
            .await?
            .items;
        self.offer_waiting(waiting, 0, false).await
    }

    /// Every lapsed offer ends; every waiting shipment is offered again, to anyone free.
    pub async fn tick(&self) -> anyhow::Result<Outcome> {
        let now = shared::now_epoch();
        let lapsed: Vec<ShipmentRecord> = self
            .db
            .query_all(
                Some("GSI3"),
                "GSI3PK = :pk AND GSI3SK < :now",
                &[
                    (":pk", s(keys::GSI3_SHIPMENT_OFFERS)),
                    (":now", s(keys::shipment_offer_sort(now, "~"))),
                ],
            )
            .await?;
        let mut expired = 0;
        for shipment in &lapsed {
            if self.expire(&shipment.order_id, None).await? == Outcome::Expired {
                expired += 1;
            }
        }
        let waiting: Vec<ShipmentRecord> = self
            .db
            .query_page(shared::store::QuerySpec {
                index: Some("GSI3"),
                pk: keys::GSI3_SHIPMENTS_WAITING.into(),
                sk_prefix: None,
                ascending: true,
                limit: WAITING_PER_TICK as u32,
                start: None,
            })
            .await?
            .items;
        self.offer_waiting(waiting, expired, true).await
    }

    /// Offers each waiting shipment (read again: the index is eventually consistent).
    async fn offer_waiting(
        &self,
        waiting: Vec<ShipmentRecord>,
        expired: usize,
        anyone: bool,
    ) -> anyhow::Result<Outcome> {
        let looked_at = waiting.len();
        let mut offered = 0;
        // Provinces where nobody was free: their other shipments wait without another Query.
        let mut full: Vec<String> = Vec::new();
        for stale in waiting {
            if full.contains(&stale.pickup.province_code) {
                continue;
            }
            let Some(shipment) = self.shipment(&stale.order_id).await? else {
                continue;
            };
            if shipment.assignment != Assignment::Waiting
                || shipment.status != ShipmentStatus::AwaitingPickup
            {
                continue;
            }
            let exclude = if anyone {
                Vec::new()
            } else {
                shipment.declined_by.clone()
            };
            match self
                .dispatch(&shipment, false, &exclude, Vec::new())
                .await?
            {
                Outcome::Offered(_) => offered += 1,
                // Nobody free here: the rest of this province waits too.
                Outcome::Waiting => full.push(shipment.pickup.province_code.clone()),
                _ => {}
            }
        }
        Ok(Outcome::Swept {
            expired,
            offered,
            looked_at,
        })
    }

    async fn shipment(&self, order_id: &str) -> Result<Option<ShipmentRecord>, StoreError> {
        self.db.get(keys::shipment(order_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_understood() {
        let own = r#"{"expire_offer":{"order_id":"o1","offer":2}}"#;
        assert_eq!(
            parse_message(own).unwrap(),
            Work::ExpireOffer(OfferTimeout {
                order_id: "o1".into(),
                offer: 2
            })
        );
        let tick = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-12-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
        assert_eq!(parse_message(tick).unwrap(), Work::Tick);
        let other = r#"{"detail-type":"ProductUpserted","source":"commerce.catalog","detail":{}}"#;
        assert_eq!(parse_message(other).unwrap(), Work::Other);
        assert!(parse_message("not json").is_err());
    }
}
