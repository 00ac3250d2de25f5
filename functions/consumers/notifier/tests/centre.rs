//! The notification centre's delivery, on the real notifier against the emulator: each test
//! hands its own notifier events it makes up for users it creates (so the dev server's
//! notifier, which sees only events on the bus, never touches them), and reads what went out
//! where the emulator records it (SES messages, SNS SMS and platform-endpoint messages) and
//! what was written in the table.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use consumer_notifier::{Notifier, Outcome};
use e2e::{Ctx, PASSWORD, calls::Calls, unique_email};
use serde_json::{Value, json};
use shared::domain::order_state::OrderStatus;
use shared::domain::{Currency, Money};
use shared::events::{OrderStatusChanged, Segment};
use shared::notifications::{
    self as n, Channel, DeviceRecord, Language, NotificationRecord, Phone, Platform,
    PreferencesRecord, QuietHours, Switches,
};
use shared::store::{keys, to_item};

/// A user the notifier can reach everywhere: a verified phone and two push devices.
struct Person {
    id: String,
    email: String,
    phone: String,
    devices: Vec<String>,
}

async fn notifier() -> Notifier {
    Notifier::from_env()
        .await
        .expect("make test exports the stack environment")
}

fn phone() -> String {
    let digits: u64 = rand::random::<u64>() % 100_000_000;
    format!("+8491{digits:08}")
}

async fn put<T: serde::Serialize>(notifier: &Notifier, item: &T) {
    notifier
        .db
        .client
        .put_item()
        .table_name(&notifier.db.table)
        .set_item(Some(to_item(item).unwrap()))
        .send()
        .await
        .unwrap();
}

/// Registers a user, and (straight in the table, as the API would) their verified phone, their
/// preferences and two devices with SNS endpoints of a platform application of this test.
async fn person(
    ctx: &Ctx,
    notifier: &Notifier,
    prefix: &str,
    edit: impl FnOnce(&mut PreferencesRecord),
) -> Person {
    let email = unique_email(prefix);
    let r = ctx.register(&email, PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let phone = phone();
    let mut prefs = PreferencesRecord::defaults(&id);
    prefs.language = Some(Language::En);
    prefs.phone = Some(Phone {
        number: phone.clone(),
        verified: true,
        code_hash: None,
        code_expires_at: None,
        attempts: 0,
    });
    edit(&mut prefs);
    put(notifier, &prefs).await;
    let app = notifier
        .sns
        .create_platform_application()
        .name("notifier-centre-test")
        .platform("GCM")
        .attributes("PlatformCredential", "test-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let mut devices = Vec::new();
    for _ in 0..2 {
        let token = format!("fcm-{}", ulid::Ulid::new());
        let arn = notifier
            .sns
            .create_platform_endpoint()
            .platform_application_arn(&app)
            .token(&token)
            .send()
            .await
            .unwrap()
            .endpoint_arn
            .unwrap();
        let device_id = n::device_id(&token);
        let (pk, sk) = keys::device(&id, &device_id);
        put(
            notifier,
            &DeviceRecord {
                pk,
                sk,
                entity_type: n::DEVICE_ENTITY.into(),
                user_id: id.clone(),
                device_id,
                platform: Platform::Android,
                endpoint_arn: arn,
                created_at: shared::now_rfc3339(),
            },
        )
        .await;
        devices.push(token);
    }
    Person {
        id,
        email,
        phone,
        devices,
    }
}

/// An SQS batch of `copies` messages carrying one bus event (same event id).
fn batch(detail_type: &str, source: &str, data: Value, event_id: &str, copies: usize) -> SqsEvent {
    let body = json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": detail_type,
        "source": source, "account": "123456789012", "time": "2026-12-01T10:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"id": event_id, "occurred_at": shared::now_rfc3339(), "version": 1, "data": data},
    })
    .to_string();
    let records: Vec<Value> = (0..copies)
        .map(|i| {
            json!({
                "messageId": format!("{event_id}-{i}"), "receiptHandle": "rh", "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifier",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn order_move(buyer: &str, order: &str, to: OrderStatus) -> Value {
    serde_json::to_value(OrderStatusChanged {
        order_id: order.into(),
        buyer_id: buyer.into(),
        shop_id: "SHOP-CENTRE".into(),
        shop_name: "Centre Shop".into(),
        org_id: String::new(),
        from: OrderStatus::PendingPayment,
        to,
        total: Money::new(199_000, Currency::VND),
        reason: None,
        actor: "system".into(),
    })
    .unwrap()
}

/// `copies` messages of one (made up) paid order's `OrderConfirmed`: a critical notification.
fn order_confirmed(buyer: &str, order: &str, event_id: &str, copies: usize) -> SqsEvent {
    batch(
        "OrderConfirmed",
        "commerce.orders",
        order_move(buyer, order, OrderStatus::Confirmed),
        event_id,
        copies,
    )
}

/// Handles `event` until no message of it fails (a copy that found the claim held is retried,
/// as SQS would); returns the first round's outcome count of failures.
async fn settle(notifier: &Notifier, mut event: SqsEvent) -> usize {
    let mut first = None;
    for _ in 0..20 {
        let response = notifier.handle(event.clone()).await;
        let failed: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        first.get_or_insert(failed.len());
        if failed.is_empty() {
            return first.unwrap();
        }
        event
            .records
            .retain(|r| failed.contains(r.message_id.as_ref().unwrap()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the event kept failing");
}

async fn notification(notifier: &Notifier, user: &str, id: &str) -> Option<NotificationRecord> {
    notifier.db.get(keys::notification(user, id)).await.unwrap()
}

async fn unread(notifier: &Notifier, user: &str) -> i64 {
    notifier
        .db
        .get::<n::InboxRecord>(keys::inbox(user))
        .await
        .unwrap()
        .map_or(0, |i| i.unread)
}

fn containing(messages: &[String], needle: &str) -> usize {
    messages.iter().filter(|m| m.contains(needle)).count()
}

async fn mails_about(email: &str, needle: &str) -> usize {
    e2e::mails_to(email)
        .await
        .iter()
        .filter(|m| {
            m["subject"].as_str().unwrap_or_default().contains(needle)
                || m["body"].as_str().unwrap_or_default().contains(needle)
        })
        .count()
}

#[tokio::test]
async fn ten_parallel_deliveries_of_one_event_make_one_notification_and_one_message_per_channel() {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let p = person(&ctx, &notifier, "centre-ten", |_| {}).await;
    let order = format!("CENTRE{}", ulid::Ulid::new());
    let event_id = ulid::Ulid::new().to_string();
    let event = order_confirmed(&p.id, &order, &event_id, 10);
    let first_round_failures = settle(&notifier, event).await;
    assert!(first_round_failures <= 9, "one copy delivers at once");

    let id = n::notification_id(&event_id, "order_confirmed");
    let record = notification(&notifier, &p.id, &id)
        .await
        .expect("one in-app notification");
    assert!(record.text.contains(&order), "{}", record.text);
    assert_eq!(
        record.link.as_deref(),
        Some(format!("/orders/{order}").as_str())
    );
    assert_eq!(unread(&notifier, &p.id).await, 1, "counted once");
    assert_eq!(mails_about(&p.email, &order).await, 1, "one e-mail");
    assert_eq!(
        containing(&e2e::sms_to(&p.phone).await, &order),
        1,
        "one SMS"
    );
    for device in &p.devices {
        assert_eq!(
            containing(&e2e::pushes_to(device).await, &order),
            1,
            "one push to each device"
        );
    }
}

#[tokio::test]
async fn an_attempt_that_died_between_its_claim_and_the_sends_is_retried_after_its_lease_and_sends_once()
 {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let p = person(&ctx, &notifier, "centre-crash", |_| {}).await;
    let order = format!("CENTRE{}", ulid::Ulid::new());
    let event_id = ulid::Ulid::new().to_string();
    // an attempt took the claim and died before sending anything (its lease: 3 s)
    let claim = consumer_notifier::claim_key(&event_id, &p.id, "order_confirmed");
    let taken = notifier
        .db
        .claim(
            claim,
            "dead-attempt",
            Duration::from_secs(3),
            shared::now_epoch() + 3600,
        )
        .await
        .unwrap();
    assert!(matches!(taken, shared::store::Claim::Acquired { .. }));
    let event = order_confirmed(&p.id, &order, &event_id, 1);
    // while the dead attempt's lease runs the message fails (SQS would bring it back) …
    let response = notifier.handle(event.clone()).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "held by the dead attempt"
    );
    assert_eq!(mails_about(&p.email, &order).await, 0);
    // … after it, the retry takes the claim over and sends everything once; again: nothing
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(settle(&notifier, event.clone()).await, 0);
    assert_eq!(settle(&notifier, event).await, 0);
    assert_eq!(mails_about(&p.email, &order).await, 1);
    assert_eq!(containing(&e2e::sms_to(&p.phone).await, &order), 1);
    for device in &p.devices {
        assert_eq!(containing(&e2e::pushes_to(device).await, &order), 1);
    }
    let id = n::notification_id(&event_id, "order_confirmed");
    assert!(notification(&notifier, &p.id, &id).await.is_some());
    assert_eq!(unread(&notifier, &p.id).await, 1);
}

#[tokio::test]
async fn with_order_email_off_in_app_still_arrives_and_security_email_cannot_be_turned_off() {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let off = Switches {
        email: false,
        ..Switches::ALL_ON
    };
    let p = person(&ctx, &notifier, "centre-prefs", |prefs| {
        prefs.channels.insert("orders".into(), off);
        // a record that somehow says so still does not silence security mail
        prefs.channels.insert("security".into(), off);
    })
    .await;
    let order = format!("CENTRE{}", ulid::Ulid::new());
    let event_id = ulid::Ulid::new().to_string();
    settle(&notifier, order_confirmed(&p.id, &order, &event_id, 1)).await;
    let id = n::notification_id(&event_id, "order_confirmed");
    assert!(
        notification(&notifier, &p.id, &id).await.is_some(),
        "in-app arrives"
    );
    assert_eq!(
        containing(&e2e::sms_to(&p.phone).await, &order),
        1,
        "SMS is still on"
    );
    let reset = json!({"user_id": p.id, "email": p.email, "name": "Centre", "code": "482913", "expires_in_minutes": 10});
    settle(
        &notifier,
        batch(
            "PasswordResetRequested",
            "commerce.identity",
            reset,
            &ulid::Ulid::new().to_string(),
            1,
        ),
    )
    .await;
    assert_eq!(
        mails_about(&p.email, "482913").await,
        1,
        "security mail is sent"
    );
    assert_eq!(mails_about(&p.email, &order).await, 0, "no order e-mail");
}

/// `HH:MM` of `now + minutes` in UTC.
fn utc_clock(minutes: i64) -> String {
    let t = shared::now_epoch() + minutes * 60;
    format!("{:02}:{:02}", (t / 3600) % 24, (t / 60) % 60)
}

#[tokio::test]
async fn quiet_hours_hold_back_important_sms_and_push_but_not_critical_ones() {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let p = person(&ctx, &notifier, "centre-quiet", |prefs| {
        prefs.quiet_hours = Some(QuietHours {
            start: utc_clock(-60),
            end: utc_clock(60),
            time_zone: "UTC".into(),
        });
    })
    .await;
    let (shipped, confirmed) = (
        format!("SHIPPED{}", ulid::Ulid::new()),
        format!("CONFIRMED{}", ulid::Ulid::new()),
    );
    let shipped_event = ulid::Ulid::new().to_string();
    settle(
        &notifier,
        batch(
            "OrderShipped",
            "commerce.orders",
            order_move(&p.id, &shipped, OrderStatus::Shipped),
            &shipped_event,
            1,
        ),
    )
    .await;
    settle(
        &notifier,
        order_confirmed(&p.id, &confirmed, &ulid::Ulid::new().to_string(), 1),
    )
    .await;
    let sms = e2e::sms_to(&p.phone).await;
    assert_eq!(containing(&sms, &confirmed), 1, "critical: at once");
    assert_eq!(containing(&sms, &shipped), 0, "important: held back");
    assert_eq!(
        containing(&e2e::pushes_to(&p.devices[0]).await, &shipped),
        0
    );
    assert_eq!(
        mails_about(&p.email, &shipped).await,
        1,
        "e-mail is not held"
    );
    // the held SMS waits in the digest buffer until the quiet hours end
    let id = n::notification_id(&shipped_event, "order_update");
    let held: Vec<n::DigestEntry> = notifier
        .db
        .query_all(
            None,
            "PK = :pk",
            &[(
                ":pk",
                shared::store::s(keys::notification_digest_pk(n::digest_shard(&p.id))),
            )],
        )
        .await
        .unwrap();
    let held: Vec<_> = held.iter().filter(|e| e.notification_id == id).collect();
    assert_eq!(held.len(), 2, "the SMS and the push wait: {held:?}");
    for entry in held {
        let wait = entry.due_at - shared::now_epoch();
        assert!(
            (3000..=3660).contains(&wait),
            "due when the quiet hours end: {wait} s"
        );
    }
}

#[tokio::test]
async fn five_promotions_within_a_minute_become_one_digest_per_user_and_channel() {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let a = person(&ctx, &notifier, "centre-digest-a", |_| {}).await;
    let b = person(&ctx, &notifier, "centre-digest-b", |_| {}).await;
    // start early in a clock minute, so the five land in one
    let second = shared::now_epoch() % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let tag = ulid::Ulid::new().to_string();
    let mut events = Vec::new();
    for i in 1..=5 {
        let event_id = ulid::Ulid::new().to_string();
        let promotion = json!({
            "broadcast_id": format!("B{i}"),
            "segment": Segment::Users(vec![a.id.clone(), b.id.clone()]),
            "channel": Channel::Email,
            "title": format!("Deal {i} {tag}"),
            "message": format!("Sale number {i}"),
            "requested_by": "admin",
        });
        settle(
            &notifier,
            batch(
                "BroadcastRequested",
                "commerce.notifications",
                promotion,
                &event_id,
                1,
            ),
        )
        .await;
        events.push(event_id);
    }
    // in-app at once, nothing else yet
    for event_id in &events {
        let id = n::notification_id(event_id, "promotion");
        assert!(notification(&notifier, &a.id, &id).await.is_some());
        assert!(notification(&notifier, &b.id, &id).await.is_some());
    }
    assert_eq!(
        mails_about(&a.email, &tag).await,
        0,
        "normal priority waits"
    );
    // after the minute, the tick (this notifier's or the dev server's) sends one digest each
    let due = consumer_notifier::digest_due(shared::now_epoch());
    tokio::time::sleep(Duration::from_secs(
        (due - shared::now_epoch() + 1).max(0) as u64
    ))
    .await;
    let outcome = notifier.flush_digests().await.unwrap();
    assert!(
        matches!(outcome, Outcome::Flushed { failed: 0, .. }),
        "{outcome:?}"
    );
    for person in [&a, &b] {
        let mails: Vec<Value> = e2e::mails_to(&person.email)
            .await
            .into_iter()
            .filter(|m| m["body"].as_str().unwrap_or_default().contains(&tag))
            .collect();
        assert_eq!(mails.len(), 1, "one digest e-mail: {mails:?}");
        let body = mails[0]["body"].as_str().unwrap();
        for i in 1..=5 {
            assert!(body.contains(&format!("Deal {i} {tag}")), "{body}");
        }
        for device in &person.devices {
            assert_eq!(
                containing(&e2e::pushes_to(device).await, &tag),
                1,
                "one push digest"
            );
        }
        assert_eq!(
            containing(&e2e::sms_to(&person.phone).await, &tag),
            0,
            "an e-mail broadcast"
        );
    }
}

#[tokio::test]
async fn one_event_for_one_recipient_costs_two_reads_a_claim_a_message_id_and_one_transaction() {
    let ctx = Ctx::new();
    let mut notifier = notifier().await;
    let p = person(&ctx, &notifier, "centre-budget", |prefs| {
        prefs.phone = None;
    })
    .await;
    // no devices: in-app and e-mail only
    for device in &p.devices {
        notifier
            .db
            .delete(keys::device(&p.id, &n::device_id(device)))
            .await
            .unwrap();
    }
    // the admin-edited templates are read once per container (then cached): warm it
    let warm = format!("CENTRE{}", ulid::Ulid::new());
    settle(
        &notifier,
        order_confirmed(&p.id, &warm, &ulid::Ulid::new().to_string(), 1),
    )
    .await;
    let calls = Calls::install(&mut notifier.db.client);
    let order = format!("CENTRE{}", ulid::Ulid::new());
    settle(
        &notifier,
        order_confirmed(&p.id, &order, &ulid::Ulid::new().to_string(), 1),
    )
    .await;
    let made = calls.take();
    let count = |op: &str| made.iter().filter(|c| c.as_str() == op).count();
    let reads = count("BatchGetItem") + count("GetItem") + count("Query");
    println!("notifier requests for one event and recipient: {made:?}");
    assert_eq!(reads, 2, "the profiles and the recipient's reach: {made:?}");
    assert_eq!(count("PutItem"), 1, "the claim: {made:?}");
    assert_eq!(count("UpdateItem"), 1, "the e-mail's message id: {made:?}");
    assert_eq!(count("TransactWriteItems"), 1, "the record: {made:?}");
    assert_eq!(made.len(), 5, "{made:?}");
    assert_eq!(mails_about(&p.email, &order).await, 1);
}

#[tokio::test]
async fn a_disabled_push_endpoint_is_pruned_and_the_other_device_still_gets_the_push() {
    let ctx = Ctx::new();
    let notifier = notifier().await;
    let p = person(&ctx, &notifier, "centre-prune", |_| {}).await;
    let (stale, live) = (&p.devices[0], &p.devices[1]);
    let key = keys::device(&p.id, &n::device_id(stale));
    let device: DeviceRecord = notifier.db.get(key.clone()).await.unwrap().unwrap();
    // the platform told SNS the token is dead (an uninstalled app)
    notifier
        .sns
        .set_endpoint_attributes()
        .endpoint_arn(&device.endpoint_arn)
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap();
    let order = format!("CENTRE{}", ulid::Ulid::new());
    let event = order_confirmed(&p.id, &order, &ulid::Ulid::new().to_string(), 1);
    assert_eq!(
        settle(&notifier, event).await,
        0,
        "a dead device fails nothing"
    );
    assert!(
        notifier
            .db
            .get::<DeviceRecord>(key)
            .await
            .unwrap()
            .is_none(),
        "the stale device is forgotten"
    );
    assert_eq!(containing(&e2e::pushes_to(stale).await, &order), 0);
    assert_eq!(containing(&e2e::pushes_to(live).await, &order), 1);
}
