//! The tracking push: an SQS consumer of the shipping events on the bus that sends each one, as
//! a small [`Frame`] (`{"type":"location",…}` or `{"type":"status",…}`), to every WebSocket
//! connection subscribed to its order, through API Gateway's management API
//! (`PostToConnection`), all connections of an order at once.
//!
//! - A connection that is gone (410 `GoneException`: closed without its `$disconnect` reaching
//!   us, or reconnected) is forgotten: that subscription, the connection's other subscriptions
//!   and the connection item are deleted.
//! - A subscription past its expiry (API Gateway closes every connection after two hours; TTL
//!   deletes lazily, and never on the emulator) is deleted instead of posted to.
//! - Any other failure (throttling, a 5xx, DynamoDB unreachable) fails the message, which is
//!   reported as a partial batch failure: SQS redelivers it and its redrive policy
//!   dead-letters one that keeps failing.
//!
//! No dedupe marker: a frame states a position or a status at a time (`at`), so a redelivered
//! message that reaches a connection twice shows the same thing twice — harmless, and cheaper
//! than a write per position update. Within a batch, messages are handled concurrently (as in
//! every consumer); clients order frames by `at`.

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::events::{BusEvent, DomainEvent, source};
use shared::shipments::{ConnectionRecord, Frame, SubscriptionRecord};
use shared::store::{Db, StoreError, keys, s};

/// The detail-types that become frames; any other is acknowledged untouched.
pub const HANDLED: [&str; 7] = [
    "ShipmentLocationUpdated",
    "ShipmentPickedUp",
    "ShipmentInTransit",
    "ShipmentOutForDelivery",
    "ShipmentDelivered",
    "ShipmentFailed",
    "ShipmentReturned",
];

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ignored,
    Pushed {
        order_id: String,
        delivered: usize,
        gone: usize,
        expired: usize,
    },
}

/// The frame a message body (an EventBridge event) becomes, if any. Pure.
pub fn frame_of(body: &str) -> anyhow::Result<Option<Frame>> {
    let bus: BusEvent =
        serde_json::from_str(body).context("the message body is not a bus event")?;
    if bus.source != source::SHIPPING || !HANDLED.contains(&bus.detail_type.as_str()) {
        return Ok(None);
    }
    let event = DomainEvent::from_parts(&bus.detail_type, bus.detail.data)
        .with_context(|| format!("malformed {} event data", bus.detail_type))?;
    Ok(Frame::of(&event))
}

use ws_push::PostError;
pub use ws_push::{ENDPOINT_ENV, SDK_ENDPOINT_ENV, endpoint_from_env, management_client};

pub struct TrackingPush {
    pub db: Db,
    pub connections: aws_sdk_apigatewaymanagement::Client,
}

impl TrackingPush {
    pub fn new(db: Db, connections: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self { db, connections }
    }

    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let endpoint = endpoint_from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self::new(
            Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            management_client(&sdk, &endpoint),
        ))
    }

    /// Handles the batch's messages concurrently and reports the failed ones.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        shared::consumer::each_message(&event, |m| self.process(m)).await
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        match frame_of(message.body.as_deref().unwrap_or_default())? {
            Some(frame) => self.push(&frame).await,
            None => Ok(Outcome::Ignored),
        }
    }

    /// Sends `frame` to every live subscription of its order.
    pub async fn push(&self, frame: &Frame) -> anyhow::Result<Outcome> {
        let order_id = frame.order_id();
        let subscriptions: Vec<SubscriptionRecord> = self
            .db
            .query_all(
                None,
                "PK = :pk",
                &[(":pk", s(keys::ws_subscribers_pk(order_id)))],
            )
            .await?;
        let now = shared::now_epoch();
        let (live, expired): (Vec<_>, Vec<_>) =
            subscriptions.iter().partition(|sub| sub.expires_at > now);
        let data = serde_json::to_vec(frame).expect("frames serialise");
        let posts = live
            .iter()
            .map(|sub| self.post(&sub.connection_id, data.clone()));
        let outcomes = futures::future::join_all(posts).await;
        let (mut delivered, mut gone, mut failure) = (0, 0, None);
        for (sub, outcome) in live.iter().zip(outcomes) {
            match outcome {
                Ok(()) => delivered += 1,
                Err(PostError::Gone) => {
                    gone += 1;
                    self.forget(sub).await?;
                }
                Err(PostError::Failed(e)) => {
                    tracing::warn!(connection_id = %sub.connection_id, error = format!("{e:#}"), "posting a frame failed");
                    failure.get_or_insert(e);
                }
            }
        }
        for sub in &expired {
            self.db
                .delete(keys::ws_subscription(&sub.order_id, &sub.connection_id))
                .await?;
        }
        if let Some(e) = failure {
            return Err(e.context(format!(
                "{delivered} of {} connections watching order {order_id} got the frame",
                live.len()
            )));
        }
        Ok(Outcome::Pushed {
            order_id: order_id.to_owned(),
            delivered,
            gone,
            expired: expired.len(),
        })
    }

    async fn post(&self, connection_id: &str, data: Vec<u8>) -> Result<(), PostError> {
        ws_push::post(&self.connections, connection_id, data).await
    }

    /// A gone connection: its subscriptions (this one and those its item lists) and its item.
    async fn forget(&self, sub: &SubscriptionRecord) -> Result<(), StoreError> {
        let connection: Option<ConnectionRecord> =
            self.db.get(keys::ws_connection(&sub.connection_id)).await?;
        let mut orders = vec![sub.order_id.clone()];
        for order in connection.iter().flat_map(|c| &c.orders) {
            if !orders.contains(order) {
                orders.push(order.clone());
            }
        }
        let deletes = orders.iter().map(|order| {
            self.db
                .delete(keys::ws_subscription(order, &sub.connection_id))
        });
        for outcome in futures::future::join_all(deletes).await {
            outcome?;
        }
        self.db
            .delete(keys::ws_connection(&sub.connection_id))
            .await?;
        tracing::info!(connection_id = %sub.connection_id, subscriptions = orders.len(), "connection gone; forgotten");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bus_event(source: &str, detail_type: &str, data: serde_json::Value) -> String {
        json!({
            "version": "0", "id": "e1", "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "us-east-1",
            "resources": [],
            "detail": {"id": "01JEVENT", "occurred_at": "2026-12-01T10:00:00Z", "version": 1, "data": data},
        })
        .to_string()
    }

    #[test]
    fn a_location_update_becomes_a_location_frame() {
        let body = bus_event(
            "commerce.shipping",
            "ShipmentLocationUpdated",
            json!({"order_id": "o1", "shipper_id": "s1", "lat": 21.03, "lng": 105.85, "at": "2026-12-01T10:00:00.000Z"}),
        );
        assert_eq!(
            frame_of(&body).unwrap(),
            Some(Frame::Location {
                order_id: "o1".into(),
                lat: 21.03,
                lng: 105.85,
                at: "2026-12-01T10:00:00.000Z".into()
            })
        );
    }

    #[test]
    fn the_fixture_is_a_location_frame() {
        let event: SqsEvent = serde_json::from_str(include_str!(
            "../../../../events/sqs-tracking-push-location.json"
        ))
        .unwrap();
        let frame = frame_of(event.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            frame.as_ref().map(Frame::order_id),
            Some("01JFIXTUREORDER00000000000")
        );
    }

    #[test]
    fn a_status_change_becomes_a_status_frame() {
        let body = bus_event(
            "commerce.shipping",
            "ShipmentPickedUp",
            json!({"order_id": "o1", "tracking_number": "T1", "buyer_id": "b1", "shop_id": "sh1",
                   "shipper_id": "s1", "from": "awaiting_pickup", "to": "picked_up",
                   "at": "2026-12-01T10:01:00.000Z", "attempts": 0, "province_code": "01", "note": null}),
        );
        let frame = serde_json::to_value(frame_of(&body).unwrap().unwrap()).unwrap();
        assert_eq!(
            frame,
            json!({"type": "status", "order_id": "o1", "status": "picked_up", "at": "2026-12-01T10:01:00.000Z", "attempts": 0})
        );
    }

    #[test]
    fn other_events_are_ignored_and_garbage_fails() {
        let offered = bus_event("commerce.shipping", "ShipmentOffered", json!({}));
        assert_eq!(frame_of(&offered).unwrap(), None);
        let foreign = bus_event(
            "commerce.orders",
            "ShipmentLocationUpdated",
            json!({"order_id": "o1"}),
        );
        assert_eq!(frame_of(&foreign).unwrap(), None);
        assert!(frame_of("not json").is_err());
        let malformed = bus_event(
            "commerce.shipping",
            "ShipmentLocationUpdated",
            json!({"order_id": "o1"}),
        );
        assert!(
            frame_of(&malformed).is_err(),
            "a malformed event goes to the DLQ"
        );
    }
}
