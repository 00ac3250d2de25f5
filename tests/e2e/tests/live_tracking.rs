//! Live tracking over the WebSocket API, end to end: the dev server plays API Gateway's data
//! plane (`ws://…/ws`, the `$connect` authorizer, route selection, `@connections`), the
//! functions are the real `ws-authorizer` and `ws-connections`, the push consumer
//! (`consumer-tracking-push`) is called here as a library with crafted SQS events against the
//! emulator's table and the dev server's management API.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use consumer_tracking_push::TrackingPush;
use e2e::ws::{self, WsClient};
use e2e::{Ctx, NewVariant, TestShop, jwt_kid};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::events::{ShipmentLocation, ShipmentStatusChanged};
use shared::shipments::{
    ConnectionRecord, ShipmentStatus, SubscriptionRecord, WS_CONNECTION_ENTITY,
    WS_SUBSCRIPTION_ENTITY, WS_TTL_SECS,
};
use shared::store::{Db, keys};

/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(1500);

/// A cash-on-delivery order of a new shop, bought by a new buyer.
struct Order {
    shop: TestShop,
    buyer: String,
    id: String,
}

async fn placed_order(ctx: &Ctx) -> Order {
    let shop = ctx.test_shop("track").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "TRACK",
                price: 150_000,
                stock: 10,
                weight_grams: 300,
            }],
        )
        .await;
    let (_, buyer, _) = ctx.user("track-buyer").await;
    let address = ctx.test_address(&buyer).await;
    ctx.add_to_cart(&buyer, &product, &skus[0], 1).await;
    let placed = ctx
        .checkout(
            &buyer,
            &address,
            "cod",
            &format!("track-{}", ulid::Ulid::new()),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    Order { shop, buyer, id }
}

async fn connect(ctx: &Ctx, token: &str) -> WsClient {
    ws::connect(&ctx.base, Some(token))
        .await
        .unwrap_or_else(|status| panic!("connecting was refused with {status}"))
}

async fn db() -> Db {
    let sdk = shared::state::aws_config().await;
    Db::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("TABLE_NAME").expect("TABLE_NAME (from stack.env)"),
    )
}

/// The push consumer as its Lambda builds it, but posting to this run's dev server.
async fn push_consumer(ctx: &Ctx) -> TrackingPush {
    let sdk = shared::state::aws_config().await;
    TrackingPush::new(
        db().await,
        consumer_tracking_push::management_client(&sdk, &ctx.base),
    )
}

/// An SQS batch of one message whose body is the EventBridge event `detail_type` with `data`.
fn sqs_event(detail_type: &str, data: Value) -> SqsEvent {
    let body = json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": detail_type,
        "source": "commerce.shipping", "account": "123456789012", "time": "2026-12-01T10:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"id": ulid::Ulid::new().to_string(), "occurred_at": shared::now_rfc3339(), "version": 1, "data": data},
    });
    serde_json::from_value(json!({"Records": [{
        "messageId": ulid::Ulid::new().to_string(),
        "receiptHandle": "rh",
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:tracking-push",
        "awsRegion": "us-east-1",
    }]}))
    .unwrap()
}

fn location(order_id: &str, lat: f64, lng: f64, at: &str) -> SqsEvent {
    let data = ShipmentLocation {
        order_id: order_id.into(),
        shipper_id: "shipper-1".into(),
        lat,
        lng,
        at: at.into(),
    };
    sqs_event(
        "ShipmentLocationUpdated",
        serde_json::to_value(data).unwrap(),
    )
}

fn picked_up(order: &Order, at: &str) -> SqsEvent {
    let data = ShipmentStatusChanged {
        order_id: order.id.clone(),
        tracking_number: "TRK-E2E".into(),
        buyer_id: "buyer".into(),
        shop_id: order.shop.shop_id.clone(),
        shipper_id: Some("shipper-1".into()),
        from: ShipmentStatus::AwaitingPickup,
        to: ShipmentStatus::PickedUp,
        at: at.into(),
        attempts: 0,
        province_code: "01".into(),
        note: None,
    };
    sqs_event("ShipmentPickedUp", serde_json::to_value(data).unwrap())
}

/// Handles one batch and asserts no message failed.
async fn push(consumer: &TrackingPush, event: SqsEvent) {
    let response = consumer.handle(event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the push failed: {:?}",
        response.batch_item_failures
    );
}

fn access_token(secret: &[u8], user_id: &str, iat: i64, exp: i64) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(jwt_kid(secret));
    let claims = json!({"sub": user_id, "sv": 0, "roles": ["buyer"], "iat": iat, "exp": exp,
                        "iss": "commerce", "aud": "commerce-api"});
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[tokio::test]
async fn connecting_without_a_token_is_refused_with_401() {
    let ctx = Ctx::new();
    assert_eq!(ws::connect(&ctx.base, None).await.err(), Some(401));
    assert_eq!(ws::connect(&ctx.base, Some("")).await.err(), Some(401));
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused_at_connect() {
    let ctx = Ctx::new();
    let (user_id, token, _) = ctx.user("ws-tokens").await;
    let secret = ctx.jwt_secret().await;
    let now = shared::now_epoch();

    // GIVEN tokens the API would issue, one signed with the real secret (the control) …
    let genuine = access_token(&secret, &user_id, now, now + 600);
    // … one signed with another secret (under the real key id), one expired, one garbage
    let forged = access_token(
        b"not-the-signing-secret-not-the-signing-secret",
        &user_id,
        now,
        now + 600,
    );
    let expired = access_token(&secret, &user_id, now - 7200, now - 3600);

    // THEN the issued and the genuine token connect, and the others are refused before upgrade
    connect(&ctx, &token).await.close().await;
    connect(&ctx, &genuine).await.close().await;
    for (what, bad) in [
        ("signed with another secret", forged.as_str()),
        ("expired", expired.as_str()),
        ("garbage", "not.a.jwt"),
    ] {
        assert_eq!(
            ws::connect(&ctx.base, Some(bad)).await.err(),
            Some(403),
            "a token {what}"
        );
    }
    // and a token of a session that ended (another session version)
    let mut ended = Header::new(Algorithm::HS256);
    ended.kid = Some(jwt_kid(&secret));
    let stale = jsonwebtoken::encode(
        &ended,
        &json!({"sub": user_id, "sv": 9, "roles": ["buyer"], "iat": now, "exp": now + 600, "iss": "commerce", "aud": "commerce-api"}),
        &EncodingKey::from_secret(&secret),
    )
    .unwrap();
    assert_eq!(ws::connect(&ctx.base, Some(&stale)).await.err(), Some(403));
}

#[tokio::test]
async fn the_buyer_can_watch_the_order_and_other_buyers_and_sellers_cannot() {
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;

    let mut buyer = connect(&ctx, &order.buyer).await;
    assert_eq!(
        buyer.subscribe(&order.id).await,
        json!({"type": "subscribed", "order_id": order.id})
    );
    // subscribing again is harmless
    assert_eq!(buyer.subscribe(&order.id).await["type"], "subscribed");

    let (_, stranger, _) = ctx.user("track-stranger").await;
    let other_shop = ctx.test_shop("track-other").await;
    let mut refused = Vec::new();
    for token in [&stranger, &other_shop.seller_token] {
        let mut client = connect(&ctx, token).await;
        let answer = client.subscribe(&order.id).await;
        assert_eq!(answer["type"], "error", "{answer}");
        refused.push(answer);
        // an order that does not exist gets the very same answer (no existence leak)
        let unknown = client.subscribe(&ulid::Ulid::new().to_string()).await;
        assert_eq!(unknown["type"], "error");
        assert_eq!(unknown["message"], refused[0]["message"]);
        client.close().await;
    }
    assert_eq!(refused[0]["message"], refused[1]["message"]);

    // nothing of theirs was written
    let subscribers: Vec<SubscriptionRecord> = db()
        .await
        .query_all(
            None,
            "PK = :pk",
            &[(":pk", shared::store::s(keys::ws_subscribers_pk(&order.id)))],
        )
        .await
        .unwrap();
    assert_eq!(subscribers.len(), 1, "only the buyer's subscription");
    buyer.close().await;
}

#[tokio::test]
async fn staff_of_the_orders_shop_and_admins_can_watch_it() {
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;
    let (_, staff_email, staff_token) = ctx.seller("track-staff").await;
    ctx.add_member(
        &order.shop.seller_token,
        &order.shop.org_id,
        &staff_email,
        "staff",
        &[order.shop.shop_id.as_str()],
    )
    .await;
    let admin = ctx.admin_token().await;
    for (who, token) in [
        ("the shop's owner", order.shop.seller_token.as_str()),
        ("staff of the shop", staff_token.as_str()),
        ("an admin", admin.as_str()),
    ] {
        let mut client = connect(&ctx, token).await;
        assert_eq!(
            client.subscribe(&order.id).await,
            json!({"type": "subscribed", "order_id": order.id}),
            "{who}"
        );
        client.close().await;
    }
}

#[tokio::test]
async fn bad_messages_get_an_error_frame_and_the_connection_stays_open() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("ws-bad").await;
    let mut client = connect(&ctx, &token).await;
    for bad in [
        "not json",
        "[1,2,3]",
        r#"{"action":"dance"}"#,
        r#"{"action":"subscribe"}"#,
        r#"{"action":"subscribe","order_id":42}"#,
        r#"{"action":"subscribe","order_id":"ORDER#x"}"#,
        r#"{"action":"unsubscribe","order_id":""}"#,
    ] {
        client.send_text(bad).await;
        let answer = client
            .next_json(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no answer to {bad}"));
        assert_eq!(answer["type"], "error", "{bad}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // still open and routed
    let unknown = client.subscribe(&ulid::Ulid::new().to_string()).await;
    assert_eq!(unknown["type"], "error");
    client.close().await;
}

#[tokio::test]
async fn pushed_frames_reach_the_subscribed_socket_in_order_and_no_other() {
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;
    let mut watching = connect(&ctx, &order.buyer).await;
    assert_eq!(watching.subscribe(&order.id).await["type"], "subscribed");
    // the same buyer on a second connection that subscribes to nothing
    let mut idle = connect(&ctx, &order.buyer).await;

    let consumer = push_consumer(&ctx).await;
    push(
        &consumer,
        location(&order.id, 21.0285, 105.8542, "2026-12-01T10:00:00.000Z"),
    )
    .await;
    push(&consumer, picked_up(&order, "2026-12-01T10:00:05.000Z")).await;
    // an event of another order reaches neither
    push(
        &consumer,
        location(
            &ulid::Ulid::new().to_string(),
            10.0,
            106.0,
            "2026-12-01T10:00:06.000Z",
        ),
    )
    .await;

    assert_eq!(
        watching.next_json(Duration::from_secs(10)).await,
        Some(
            json!({"type": "location", "order_id": order.id, "lat": 21.0285, "lng": 105.8542, "at": "2026-12-01T10:00:00.000Z"})
        )
    );
    assert_eq!(
        watching.next_json(Duration::from_secs(10)).await,
        Some(
            json!({"type": "status", "order_id": order.id, "status": "picked_up", "at": "2026-12-01T10:00:05.000Z", "attempts": 0})
        )
    );
    assert_eq!(watching.next_json(QUIET).await, None, "exactly two frames");
    assert_eq!(
        idle.next_json(QUIET).await,
        None,
        "nothing to a socket that did not subscribe"
    );

    // after unsubscribing, nothing more arrives
    assert_eq!(
        watching.unsubscribe(&order.id).await,
        json!({"type": "unsubscribed", "order_id": order.id})
    );
    push(
        &consumer,
        location(&order.id, 21.03, 105.86, "2026-12-01T10:00:10.000Z"),
    )
    .await;
    assert_eq!(watching.next_json(QUIET).await, None);
    watching.close().await;
    idle.close().await;
}

#[tokio::test]
async fn closing_the_socket_removes_its_connection_and_subscriptions() {
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;
    let db = db().await;
    let mut client = connect(&ctx, &order.buyer).await;
    assert_eq!(client.subscribe(&order.id).await["type"], "subscribed");
    let subscribers = || async {
        db.query_all::<SubscriptionRecord>(
            None,
            "PK = :pk",
            &[(":pk", shared::store::s(keys::ws_subscribers_pk(&order.id)))],
        )
        .await
        .unwrap()
    };
    let subscription = subscribers().await.pop().expect("the subscription item");
    let connection: ConnectionRecord = db
        .get(keys::ws_connection(&subscription.connection_id))
        .await
        .unwrap()
        .expect("the connection item");
    assert_eq!(connection.orders, std::slice::from_ref(&order.id));
    assert_eq!(subscription.expires_at, connection.expires_at);
    assert!(connection.expires_at > shared::now_epoch() + WS_TTL_SECS - 120);

    client.close().await;
    e2e::eventually(
        "$disconnect deletes the subscription and the connection",
        || async {
            let gone = subscribers().await.is_empty()
                && db
                    .get::<ConnectionRecord>(keys::ws_connection(&subscription.connection_id))
                    .await
                    .unwrap()
                    .is_none();
            gone.then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_push_to_a_connection_that_is_gone_deletes_its_subscription_and_connection() {
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;
    let db = db().await;
    // GIVEN a live subscriber, and the items of a connection whose $disconnect never arrived
    let mut live = connect(&ctx, &order.buyer).await;
    assert_eq!(live.subscribe(&order.id).await["type"], "subscribed");
    let stale_id = format!("stale{}=", &ulid::Ulid::new().to_string()[16..]);
    let other_order = ulid::Ulid::new().to_string();
    let expires_at = shared::now_epoch() + WS_TTL_SECS;
    let (pk, sk) = keys::ws_connection(&stale_id);
    db.put_new(&ConnectionRecord {
        pk,
        sk,
        entity_type: WS_CONNECTION_ENTITY.into(),
        connection_id: stale_id.clone(),
        user_id: "someone".into(),
        roles: vec![shared::auth::Role::Buyer],
        orders: vec![order.id.clone(), other_order.clone()],
        live: false,
        connected_at: shared::now_rfc3339(),
        expires_at,
    })
    .await
    .unwrap();
    for watched in [&order.id, &other_order] {
        let (pk, sk) = keys::ws_subscription(watched, &stale_id);
        db.put_new(&SubscriptionRecord {
            pk,
            sk,
            entity_type: WS_SUBSCRIPTION_ENTITY.into(),
            order_id: watched.clone(),
            connection_id: stale_id.clone(),
            user_id: "someone".into(),
            expires_at,
        })
        .await
        .unwrap();
    }

    // WHEN a frame is pushed to the order (the dev server answers 410 for the stale id)
    let consumer = push_consumer(&ctx).await;
    push(
        &consumer,
        location(&order.id, 16.047, 108.206, "2026-12-01T11:00:00.000Z"),
    )
    .await;

    // THEN the live socket got it, and the stale connection is forgotten entirely
    assert_eq!(
        live.next_json(Duration::from_secs(10)).await.unwrap()["type"],
        "location"
    );
    for watched in [&order.id, &other_order] {
        assert!(
            db.get::<SubscriptionRecord>(keys::ws_subscription(watched, &stale_id))
                .await
                .unwrap()
                .is_none(),
            "the stale subscription to {watched} is deleted"
        );
    }
    assert!(
        db.get::<ConnectionRecord>(keys::ws_connection(&stale_id))
            .await
            .unwrap()
            .is_none()
    );
    // and the live subscription is kept
    let live_subscriptions: Vec<SubscriptionRecord> = db
        .query_all(
            None,
            "PK = :pk",
            &[(":pk", shared::store::s(keys::ws_subscribers_pk(&order.id)))],
        )
        .await
        .unwrap();
    assert_eq!(live_subscriptions.len(), 1);
    live.close().await;
}

#[tokio::test]
async fn a_shipment_event_on_the_bus_reaches_the_watcher_through_the_push_queue() {
    // The whole path: bus → TrackingPushRule → TrackingPushQueue → the dev server's pump →
    // consumer-tracking-push → the management API → the socket.
    let ctx = Ctx::new();
    let order = placed_order(&ctx).await;
    let mut watching = connect(&ctx, &order.buyer).await;
    assert_eq!(watching.subscribe(&order.id).await["type"], "subscribed");

    let data = ShipmentLocation {
        order_id: order.id.clone(),
        shipper_id: "shipper-1".into(),
        lat: 10.7725,
        lng: 106.698,
        at: "2026-12-01T12:00:00.000Z".into(),
    };
    let detail = json!({"id": ulid::Ulid::new().to_string(), "occurred_at": shared::now_rfc3339(),
                        "version": 1, "data": data});
    let sdk = shared::state::aws_config().await;
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(std::env::var("EVENT_BUS_NAME").expect("EVENT_BUS_NAME (from stack.env)"))
        .source("commerce.shipping")
        .detail_type("ShipmentLocationUpdated")
        .detail(detail.to_string())
        .build();
    let out = aws_sdk_eventbridge::Client::new(&sdk)
        .put_events()
        .entries(entry)
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);

    assert_eq!(
        watching.next_json(Duration::from_secs(60)).await,
        Some(
            json!({"type": "location", "order_id": order.id, "lat": 10.7725, "lng": 106.698, "at": "2026-12-01T12:00:00.000Z"})
        ),
        "the pumped push consumer delivers the bus event"
    );
    watching.close().await;
}
