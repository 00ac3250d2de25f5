//! The routes of the live-tracking WebSocket API, in one function (they share the connection
//! item and are small):
//!
//! | route | what it does |
//! |---|---|
//! | `$connect` | after the authorizer allowed it: a `ConnectionRecord` (who, with which roles; TTL now + `WS_TTL_SECS`) |
//! | `$disconnect` | deletes the connection and every subscription it holds |
//! | `subscribe` | `{"action":"subscribe","order_id":"…"}`: if `may_watch` lets the connection's user watch the order, a `SubscriptionRecord` (same expiry as the connection) and the order in the connection's `orders` (at most [`MAX_ORDERS_PER_CONNECTION`]); answers `{"type":"subscribed","order_id":…}` |
//! | `unsubscribe` | the reverse; answers `{"type":"unsubscribed","order_id":…}` (also when it was not subscribed) |
//! | `notifications/live` | `{"action":"notifications/live"}`: the connection receives its user's in-app notifications as they are created (a `LiveRecord` under the user, same expiry); answers `{"type":"live"}` |
//! | `$default` | any other message (bad JSON, unknown action): an error frame |
//!
//! Every message route answers one frame (the template declares a route response, so API
//! Gateway sends the body back to the client); a refusal is `{"type":"error","message":…}`.
//! An order that does not exist and one the caller may not watch get the same answer, so a
//! client cannot probe which order ids exist. Nothing a client sends makes the function fail:
//! only a storage failure does (API Gateway then answers the client with an internal error).
//!
//! The connection's `orders` list changes by compare-and-set (`orders = :current`), in one
//! transaction with the subscription item, so two concurrent subscribes on one connection
//! cannot pass the limit or lose each other's order.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::notifications::{LIVE_ENTITY, LiveRecord};
use shared::shipments::{
    ConnectionRecord, SubscriptionRecord, WS_CONNECTION_ENTITY, WS_SUBSCRIPTION_ENTITY,
    WS_TTL_SECS, may_watch, parse_roles_context,
};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{Db, StoreError, keys, value};

/// Orders one connection may watch at once.
pub const MAX_ORDERS_PER_CONNECTION: usize = 20;
/// Longest order id accepted (ids are ULIDs; this only bounds garbage).
pub const MAX_ORDER_ID_LEN: usize = 64;
/// Compare-and-set attempts on a connection's `orders` before giving up.
const ATTEMPTS: u32 = 4;

/// The one answer to "you may not watch this order" and "there is no such order".
pub const NOT_WATCHABLE: &str = "no order to watch with this id";

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Subscribe(String),
    Unsubscribe(String),
    /// Receive the user's own notifications live.
    Live,
}

/// The frame a message route answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Subscribed {
        order_id: String,
    },
    Unsubscribed {
        order_id: String,
    },
    /// The connection receives the user's notifications.
    Live,
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<String>,
    },
}

impl Reply {
    fn error(message: impl Into<String>, order_id: Option<&str>) -> Self {
        Self::Error {
            message: message.into(),
            order_id: order_id.map(str::to_owned),
        }
    }
}

/// A message body as a command, or the error frame's message. Pure.
pub fn parse_command(body: Option<&str>) -> Result<Command, String> {
    #[derive(Deserialize)]
    struct Message {
        action: Option<Value>,
        order_id: Option<Value>,
    }
    let message: Message = serde_json::from_str(body.unwrap_or_default()).map_err(|_| {
        "a message is a JSON object such as {\"action\":\"subscribe\",\"order_id\":\"…\"}"
            .to_owned()
    })?;
    let order_id = || match &message.order_id {
        Some(Value::String(id)) if valid_order_id(id) => Ok(id.clone()),
        Some(_) => Err(format!(
            "order_id must be 1–{MAX_ORDER_ID_LEN} letters, digits, '-' or '_'"
        )),
        None => Err("order_id is required".to_owned()),
    };
    match message.action.as_ref().and_then(Value::as_str) {
        Some("subscribe") => Ok(Command::Subscribe(order_id()?)),
        Some("unsubscribe") => Ok(Command::Unsubscribe(order_id()?)),
        Some("notifications/live") => Ok(Command::Live),
        Some(_) => {
            Err("unknown action; use subscribe, unsubscribe or notifications/live".to_owned())
        }
        None => Err("action is required (subscribe, unsubscribe or notifications/live)".to_owned()),
    }
}

pub fn valid_order_id(id: &str) -> bool {
    (1..=MAX_ORDER_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a subscribe does to a connection watching `orders`. Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    AlreadySubscribed,
    Full,
    Add,
}

pub fn plan_subscribe(orders: &[String], order_id: &str) -> Plan {
    if orders.iter().any(|o| o == order_id) {
        Plan::AlreadySubscribed
    } else if orders.len() >= MAX_ORDERS_PER_CONNECTION {
        Plan::Full
    } else {
        Plan::Add
    }
}

/// The proxy response carrying a frame (status 200: on a two-way route API Gateway sends the
/// body to the client).
pub fn frame_response(reply: &Reply) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response.body = Some(Body::Text(
        serde_json::to_string(reply).expect("frames serialise"),
    ));
    response
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}

/// The authorizer's `{user_id, roles}` from a `$connect` request context.
pub fn caller_of(
    event: &ApiGatewayWebsocketProxyRequest,
) -> Option<(String, Vec<shared::auth::Role>)> {
    let fields = &event.request_context.authorizer.fields;
    let user_id = fields.get("user_id")?.as_str()?.to_owned();
    let roles = fields
        .get("roles")
        .and_then(Value::as_str)
        .map(parse_roles_context)
        .unwrap_or_default();
    (!user_id.is_empty()).then_some((user_id, roles))
}

pub struct Connections {
    pub db: Db,
}

impl Connections {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self::new(Db::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.table_name,
        )))
    }

    /// One WebSocket event, by its route key.
    #[tracing::instrument(skip_all, fields(route, connection_id, user_id))]
    pub async fn handle(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let context = &event.request_context;
        let route = context.route_key.clone().unwrap_or_default();
        let Some(connection_id) = context.connection_id.clone() else {
            anyhow::bail!("a WebSocket event without requestContext.connectionId");
        };
        let span = tracing::Span::current();
        span.record("route", route.as_str());
        span.record("connection_id", connection_id.as_str());
        match route.as_str() {
            "$connect" => self.connect(&event, &connection_id).await,
            "$disconnect" => {
                self.disconnect(&connection_id).await?;
                Ok(status(200))
            }
            _ => {
                let reply = match parse_command(event.body.as_deref()) {
                    Ok(command) => self.command(&connection_id, command).await?,
                    Err(message) => Reply::error(message, None),
                };
                tracing::info!(reply = ?reply, "message answered");
                Ok(frame_response(&reply))
            }
        }
    }

    async fn connect(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        connection_id: &str,
    ) -> anyhow::Result<ApiGatewayProxyResponse> {
        let Some((user_id, roles)) = caller_of(event) else {
            tracing::warn!("$connect without the authorizer's context: refused");
            return Ok(status(403));
        };
        tracing::Span::current().record("user_id", user_id.as_str());
        let (pk, sk) = keys::ws_connection(connection_id);
        let record = ConnectionRecord {
            pk,
            sk,
            entity_type: WS_CONNECTION_ENTITY.into(),
            connection_id: connection_id.to_owned(),
            user_id,
            roles,
            orders: Vec::new(),
            live: false,
            connected_at: shared::now_rfc3339(),
            expires_at: shared::now_epoch() + WS_TTL_SECS,
        };
        match self.db.put_new(&record).await {
            Ok(()) => {}
            // A retried $connect of the same connection: already registered.
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!("connected");
        Ok(status(200))
    }

    /// Deletes the connection and its subscriptions; nothing to do for an unknown one.
    pub async fn disconnect(&self, connection_id: &str) -> anyhow::Result<()> {
        let Some(record) = self
            .db
            .get::<ConnectionRecord>(keys::ws_connection(connection_id))
            .await?
        else {
            return Ok(());
        };
        let deletes = record
            .orders
            .iter()
            .map(|order| self.db.delete(keys::ws_subscription(order, connection_id)));
        for outcome in futures::future::join_all(deletes).await {
            outcome?;
        }
        if record.live {
            self.db
                .delete(keys::ws_live(&record.user_id, connection_id))
                .await?;
        }
        self.db.delete(keys::ws_connection(connection_id)).await?;
        tracing::info!(subscriptions = record.orders.len(), "disconnected");
        Ok(())
    }

    async fn command(&self, connection_id: &str, command: Command) -> anyhow::Result<Reply> {
        for _ in 0..ATTEMPTS {
            let Some(record) = self
                .db
                .get::<ConnectionRecord>(keys::ws_connection(connection_id))
                .await?
            else {
                return Ok(Reply::error("this connection is not open; reconnect", None));
            };
            tracing::Span::current().record("user_id", record.user_id.as_str());
            let done = match &command {
                Command::Subscribe(order_id) => self.subscribe(&record, order_id).await?,
                Command::Unsubscribe(order_id) => self.unsubscribe(&record, order_id).await?,
                Command::Live => self.live(&record).await?,
            };
            if let Some(reply) = done {
                return Ok(reply);
            }
            // Another message of this connection changed `orders` meanwhile: read it again.
        }
        anyhow::bail!("the connection's subscriptions kept changing during {ATTEMPTS} attempts")
    }

    /// `None`: the connection changed under us, try again.
    async fn subscribe(
        &self,
        record: &ConnectionRecord,
        order_id: &str,
    ) -> Result<Option<Reply>, StoreError> {
        match plan_subscribe(&record.orders, order_id) {
            Plan::AlreadySubscribed => {
                return Ok(Some(Reply::Subscribed {
                    order_id: order_id.to_owned(),
                }));
            }
            Plan::Full => {
                return Ok(Some(Reply::error(
                    format!(
                        "at most {MAX_ORDERS_PER_CONNECTION} orders per connection; unsubscribe from one first"
                    ),
                    Some(order_id),
                )));
            }
            Plan::Add => {}
        }
        if may_watch(&self.db, &record.user_id, &record.roles, order_id)
            .await?
            .is_none()
        {
            tracing::info!(order_id, "subscription refused");
            return Ok(Some(Reply::error(NOT_WATCHABLE, Some(order_id))));
        }
        let (pk, sk) = keys::ws_subscription(order_id, &record.connection_id);
        let subscription = SubscriptionRecord {
            pk,
            sk,
            entity_type: WS_SUBSCRIPTION_ENTITY.into(),
            order_id: order_id.to_owned(),
            connection_id: record.connection_id.clone(),
            user_id: record.user_id.clone(),
            expires_at: record.expires_at,
        };
        let mut next = record.orders.clone();
        next.push(order_id.to_owned());
        let written = self
            .db
            .transact(vec![
                tx::put(&self.db.table, &subscription, None)?,
                self.set_orders(record, &next)?,
            ])
            .await;
        match written {
            Ok(()) => {
                tracing::info!(order_id, "subscribed");
                Ok(Some(Reply::Subscribed {
                    order_id: order_id.to_owned(),
                }))
            }
            Err(e) if e.failed_condition_index().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn unsubscribe(
        &self,
        record: &ConnectionRecord,
        order_id: &str,
    ) -> Result<Option<Reply>, StoreError> {
        let reply = Reply::Unsubscribed {
            order_id: order_id.to_owned(),
        };
        if !record.orders.iter().any(|o| o == order_id) {
            return Ok(Some(reply));
        }
        let next: Vec<String> = record
            .orders
            .iter()
            .filter(|o| *o != order_id)
            .cloned()
            .collect();
        let written = self
            .db
            .transact(vec![
                tx::delete(
                    &self.db.table,
                    keys::ws_subscription(order_id, &record.connection_id),
                    None,
                    Vec::new(),
                )?,
                self.set_orders(record, &next)?,
            ])
            .await;
        match written {
            Ok(()) => Ok(Some(reply)),
            Err(e) if e.failed_condition_index().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The connection receives its user's notifications: the live item under the user (the
    /// notifier reads it with their preferences) and `live` on the connection, for
    /// `$disconnect`, in one transaction.
    async fn live(&self, record: &ConnectionRecord) -> Result<Option<Reply>, StoreError> {
        if record.live {
            return Ok(Some(Reply::Live));
        }
        let (pk, sk) = keys::ws_live(&record.user_id, &record.connection_id);
        let live = LiveRecord {
            pk,
            sk,
            entity_type: LIVE_ENTITY.into(),
            user_id: record.user_id.clone(),
            connection_id: record.connection_id.clone(),
            expires_at: record.expires_at,
        };
        let written = self
            .db
            .transact(vec![
                tx::put(&self.db.table, &live, None)?,
                tx::update(
                    &self.db.table,
                    UpdateSpec {
                        key: keys::ws_connection(&record.connection_id),
                        update: "SET live = :yes",
                        condition: Some("attribute_exists(PK)"),
                        names: &[],
                        values: vec![(":yes", AttributeValue::Bool(true))],
                    },
                )?,
            ])
            .await;
        match written {
            Ok(()) => {
                tracing::info!("receiving notifications live");
                Ok(Some(Reply::Live))
            }
            Err(e) if e.failed_condition_index().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `orders = next`, if it is still what `record` read.
    fn set_orders(
        &self,
        record: &ConnectionRecord,
        next: &[String],
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        tx::update(
            &self.db.table,
            UpdateSpec {
                key: keys::ws_connection(&record.connection_id),
                update: "SET #o = :next",
                condition: Some("attribute_exists(PK) AND #o = :current"),
                names: &[("#o", "orders")],
                values: vec![
                    (":next", value(&next)?),
                    (":current", value(&record.orders)?),
                ],
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscribe_and_unsubscribe_messages_name_an_order() {
        let parse = |body: &str| parse_command(Some(body));
        assert_eq!(
            parse(r#"{"action":"subscribe","order_id":"01JORDER"}"#),
            Ok(Command::Subscribe("01JORDER".into()))
        );
        assert_eq!(
            parse(r#"{"action":"unsubscribe","order_id":"01J_ORDER-2"}"#),
            Ok(Command::Unsubscribe("01J_ORDER-2".into()))
        );
        assert_eq!(
            parse(r#"{"action":"notifications/live"}"#),
            Ok(Command::Live)
        );
    }

    #[test]
    fn bad_messages_are_error_frames_not_failures() {
        for body in [
            "",
            "not json",
            "[]",
            "42",
            r#"{"order_id":"o1"}"#,
            r#"{"action":"dance","order_id":"o1"}"#,
            r#"{"action":7,"order_id":"o1"}"#,
            r#"{"action":"subscribe"}"#,
            r#"{"action":"subscribe","order_id":""}"#,
            r#"{"action":"subscribe","order_id":42}"#,
            r#"{"action":"subscribe","order_id":"ORDER#o1"}"#,
            r#"{"action":"subscribe","order_id":"../../etc"}"#,
        ] {
            assert!(parse_command(Some(body)).is_err(), "{body}");
        }
        assert!(parse_command(None).is_err());
        let long = format!(
            r#"{{"action":"subscribe","order_id":"{}"}}"#,
            "a".repeat(MAX_ORDER_ID_LEN + 1)
        );
        assert!(parse_command(Some(&long)).is_err());
    }

    #[test]
    fn a_connection_watches_at_most_twenty_orders() {
        let mut orders: Vec<String> = Vec::new();
        for i in 0..MAX_ORDERS_PER_CONNECTION {
            let id = format!("o{i}");
            assert_eq!(plan_subscribe(&orders, &id), Plan::Add);
            orders.push(id);
        }
        assert_eq!(plan_subscribe(&orders, "o3"), Plan::AlreadySubscribed);
        assert_eq!(plan_subscribe(&orders, "one-more"), Plan::Full);
    }

    #[test]
    fn frames_are_typed_json() {
        let body = |r: &Reply| match frame_response(r).body {
            Some(Body::Text(t)) => serde_json::from_str::<Value>(&t).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            body(&Reply::Subscribed {
                order_id: "o1".into()
            }),
            json!({"type": "subscribed", "order_id": "o1"})
        );
        assert_eq!(
            body(&Reply::error(NOT_WATCHABLE, None)),
            json!({"type": "error", "message": NOT_WATCHABLE})
        );
        assert_eq!(body(&Reply::Live), json!({"type": "live"}));
        assert_eq!(frame_response(&Reply::error("x", None)).status_code, 200);
    }

    #[test]
    fn the_fixtures_are_the_events_api_gateway_sends() {
        let connect: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(include_str!("../../../../events/apigw-ws-connect.json")).unwrap();
        assert_eq!(
            connect.request_context.route_key.as_deref(),
            Some("$connect")
        );
        assert_eq!(
            caller_of(&connect).map(|c| c.0).as_deref(),
            Some("01JFIXTUREBUYER00000000000")
        );
        let subscribe: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(include_str!("../../../../events/apigw-ws-subscribe.json"))
                .unwrap();
        assert_eq!(
            subscribe.request_context.connection_id.as_deref(),
            Some("L0SM9cOFvHcCIhw=")
        );
        assert_eq!(
            parse_command(subscribe.body.as_deref()),
            Ok(Command::Subscribe("01JFIXTUREORDER00000000000".into()))
        );
    }

    #[test]
    fn the_connect_event_carries_the_authorizers_context() {
        let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(json!({
            "requestContext": {
                "routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1",
                "connectedAt": 1764590000000i64, "requestTimeEpoch": 1764590000000i64,
                "authorizer": {"principalId": "u1", "user_id": "u1", "roles": "buyer,seller"},
            },
            "isBase64Encoded": false,
        }))
        .unwrap();
        let (user, roles) = caller_of(&event).unwrap();
        assert_eq!(user, "u1");
        assert_eq!(
            roles,
            [shared::auth::Role::Buyer, shared::auth::Role::Seller]
        );
        let mut anonymous = event.clone();
        anonymous.request_context.authorizer.fields.clear();
        assert!(caller_of(&anonymous).is_none());
    }
}
