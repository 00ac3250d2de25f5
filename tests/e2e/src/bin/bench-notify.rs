//! `make bench-notify`: the notification centre's latency on the dev server (a release build,
//! on its own stack) — from an event reaching the notifier's queue to the in-app item being in
//! the table, and to its WebSocket frame at a live connection of the recipient.
//!
//! Setup (not timed): a user, connected on the WebSocket API with `notifications/live`.
//!
//! Timed: `--events` critical `OrderConfirmed` events for that user (made up orders, one every
//! `--gap-ms`), each sent straight to the notifier's queue (`SendMessage`, the clock starting
//! just before it). The dev server's pump receives it, the notifier claims it, sends the
//! e-mail through SES, commits the in-app item, and posts the frame. Measured per event: the
//! first strongly consistent `GetItem` that finds the item (polled every 5 ms), and the arrival
//! of its frame.
//!
//! Printed: p50 / p90 / p99 / max of both, and the queue's share (the `SendMessage` call).
//!
//! Environment: as `make test` sets it (`E2E_BASE_URL`, `AWS_ENDPOINT_URL`, `TABLE_NAME`,
//! `NOTIFIER_QUEUE_URL`, …). Arguments: `--events N` (100), `--gap-ms N` (200), `--json FILE`.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::stats::summary;
use e2e::{Ctx, PASSWORD, unique_email, ws};
use serde_json::json;

struct Args {
    events: usize,
    gap_ms: u64,
    json: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        events: 100,
        gap_ms: 200,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => a.events = value().parse().expect("--events N"),
            "--gap-ms" => a.gap_ms = value().parse().expect("--gap-ms N"),
            "--json" => a.json = Some(value()),
            other => panic!("unknown argument {other}; see the file's documentation"),
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let args = args();
    let ctx = Ctx::new();
    let email = unique_email("bench-notify");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    let login = ctx.login(&email, PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let user = ctx.get("/api/v1/users/me", Some(&token)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut live = ws::connect(&ctx.base, Some(&token))
        .await
        .unwrap_or_else(|status| panic!("connecting was refused with {status}"));
    assert_eq!(
        live.ask(&json!({"action": "notifications/live"})).await["type"],
        "live"
    );

    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME (from stack.env)");
    let queue = std::env::var("NOTIFIER_QUEUE_URL").expect("NOTIFIER_QUEUE_URL (from stack.env)");

    let (mut to_item, mut to_frame, mut send_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..args.events {
        let (order, event_id) = (
            format!("BENCH{i:04}{}", ulid::Ulid::new()),
            ulid::Ulid::new().to_string(),
        );
        let data = json!({
            "order_id": order, "buyer_id": user, "shop_id": "BENCHSHOP", "shop_name": "Bench",
            "org_id": "", "from": "pending_payment", "to": "confirmed",
            "total": {"amount": 199000, "currency": "VND"}, "reason": null, "actor": "system",
        });
        let body = json!({
            "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "OrderConfirmed",
            "source": "commerce.orders", "account": "123456789012", "time": "2026-12-01T10:00:00Z",
            "region": "us-east-1", "resources": [],
            "detail": {"id": event_id, "occurred_at": "2026-12-01T10:00:00Z", "version": 1, "data": data},
        });
        // shared::notifications::notification_id and keys::notification
        let id = format!("{event_id}.order_confirmed");
        let (pk, sk) = (format!("USER#{user}"), format!("NOTIF#{id}"));
        let started = Instant::now();
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body.to_string())
            .send()
            .await
            .expect("SendMessage");
        send_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let item = async {
            loop {
                let found = db
                    .get_item()
                    .table_name(&table)
                    .key("PK", AttributeValue::S(pk.clone()))
                    .key("SK", AttributeValue::S(sk.clone()))
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("GetItem");
                if found.item.is_some() {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let frame = async {
            loop {
                let frame = live
                    .next_json(Duration::from_secs(30))
                    .await
                    .expect("a frame within 30 s");
                if frame["id"] == id {
                    return started.elapsed();
                }
            }
        };
        let (item, frame) = tokio::join!(item, frame);
        to_item.push(item.as_secs_f64() * 1000.0);
        to_frame.push(frame.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }
    live.close().await;

    let report = json!({
        "events": args.events,
        "queue_to_in_app_item": summary(to_item),
        "queue_to_websocket_frame": summary(to_frame),
        "send_message": summary(send_ms),
        "path": "SQS SendMessage → dev-server pump (ReceiveMessage) → notifier: BatchGetItem profile, Query NOTIFY#, claim PutItem, SES SendEmail, UpdateItem (message id), TransactWriteItems (item + unread + claim end) → PostToConnection",
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}
