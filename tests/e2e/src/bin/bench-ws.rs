//! `make bench-ws`: live-tracking fan-out latency — from a shipper's location POST to each
//! subscriber's WebSocket frame — with 50 subscribers of one order on the dev server (a release
//! build, on its own stack).
//!
//! Setup (not timed): an admin, a shop in Hải Phòng, an approved online shipper beside it, a
//! buyer's cash-on-delivery order, offered to the shipper by the dispatcher, accepted, picked
//! up and in transit; `--subscribers` connections of the buyer subscribed to the order.
//!
//! Timed: `--updates` positions, one every 3.1 s (the API takes one per 3 s per shipper). For
//! each, the time from just before the POST is sent to the arrival of its frame at every
//! subscriber (matched by the position, which is unique per update). The path of a frame is
//! the product's: outbox row → table stream → relay → EventBridge → SQS → push consumer →
//! `POST /@connections/{id}` → socket, all through the emulator.
//!
//! Printed: p50 / p90 / p99 / max of every frame, of the first and of the last subscriber per
//! update, of the POST itself, and the ratio of the fan-out (last ÷ first subscriber) at p50.
//!
//! Environment: as `make test` sets it (`E2E_BASE_URL`, `AWS_ENDPOINT_URL`, `TABLE_NAME`, …).
//! Arguments: `--subscribers N` (50), `--updates N` (20), `--json FILE`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::Ctx;
use e2e::stats::summary;
use serde_json::json;
use tokio::sync::Mutex;

struct Args {
    subscribers: usize,
    updates: usize,
    json: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        subscribers: 50,
        updates: 20,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--subscribers" => a.subscribers = value().parse().expect("--subscribers N"),
            "--updates" => a.updates = value().parse().expect("--updates N"),
            "--json" => a.json = Some(value()),
            other => panic!("unknown argument {other}; see the file's documentation"),
        }
    }
    a
}

/// An update's position as a key: to 6 decimals (~0.1 m), so the sent and the received
/// number compare whatever path their decimal form took (JSON through Rust and Python).
fn position_key(lat: f64) -> String {
    format!("{lat:.6}")
}

#[tokio::main]
async fn main() {
    let args = args();
    let ctx = Ctx::new();
    eprintln!(
        "==> setting up: shop, shipper, order, {} subscribers",
        args.subscribers
    );
    let admin = ctx.admin_token().await;
    let shop = ctx
        .test_shop_at("bench-ws", "Hải Phòng", (20.941, 106.344))
        .await;
    let rider = ctx
        .test_shipper(&admin, "Hải Phòng", (20.95, 106.344), 2)
        .await;
    let product = ctx.parcel_product(&shop, 5).await;
    let (_, buyer, _) = ctx.user("bench-ws-buyer").await;
    let address = ctx.test_address_at(&buyer, "Thành Đông", "Hải Phòng").await;
    let order = ctx.cod_order(&buyer, &address, &product).await;
    assert_eq!(ctx.offered_to(&admin, &order).await, rider.id);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&rider.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for status in ["picked_up", "in_transit"] {
        let r = ctx
            .put(
                &format!("/api/v1/shipping/{order}/status"),
                Some(&rider.token),
                json!({"status": status}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // the subscribers: each records when it received which position
    let received: Arc<Mutex<Vec<(usize, String, Instant)>>> = Arc::default();
    let mut readers = Vec::new();
    for n in 0..args.subscribers {
        let mut client = e2e::ws::connect(&ctx.base, Some(&buyer))
            .await
            .expect("a subscriber connects");
        let answer = client.subscribe(&order).await;
        assert_eq!(answer["type"], "subscribed", "{answer}");
        let received = received.clone();
        let expected = args.updates;
        readers.push(tokio::spawn(async move {
            let mut seen = 0;
            while seen < expected {
                let Some(frame) = client.next_json(Duration::from_secs(60)).await else {
                    break;
                };
                if frame["type"] == "location" {
                    seen += 1;
                    let key = position_key(frame["lat"].as_f64().unwrap_or(f64::NAN));
                    received.lock().await.push((n, key, Instant::now()));
                }
            }
        }));
    }
    // a quiet moment: the status frames of the setup are delivered before timing starts
    tokio::time::sleep(Duration::from_secs(3)).await;
    received.lock().await.clear();

    eprintln!("==> {} positions, one every 3.1 s", args.updates);
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let mut post_ms = Vec::new();
    for i in 0..args.updates {
        let lat = 20.941 + 0.0005 * (i + 1) as f64;
        let body = json!({"lat": lat, "lng": 106.344});
        let key = position_key(lat);
        let started = Instant::now();
        let r = ctx
            .post(
                &format!("/api/v1/shipping/{order}/location"),
                Some(&rider.token),
                body,
            )
            .await;
        post_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 202, "{}", r.text);
        sent.push((key, started));
        tokio::time::sleep(Duration::from_millis(3_100)).await;
    }
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(60), reader).await;
    }

    let received = received.lock().await;
    let mut all = Vec::new();
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let mut missing = 0;
    for (key, started) in &sent {
        let mut latencies: Vec<f64> = received
            .iter()
            .filter(|(_, k, _)| k == key)
            .map(|(_, _, at)| at.duration_since(*started).as_secs_f64() * 1000.0)
            .collect();
        missing += args.subscribers.saturating_sub(latencies.len());
        latencies.sort_by(f64::total_cmp);
        if let (Some(f), Some(l)) = (latencies.first(), latencies.last()) {
            first.push(*f);
            last.push(*l);
        }
        all.extend(latencies);
    }
    let (first_s, last_s) = (summary(first), summary(last));
    let ratio = last_s["p50_ms"].as_f64().unwrap_or(f64::NAN)
        / first_s["p50_ms"].as_f64().unwrap_or(f64::NAN);
    let report = json!({
        "subscribers": args.subscribers,
        "updates": args.updates,
        "frames_expected": args.subscribers * args.updates,
        "frames_missing": missing,
        "post_to_frame": summary(all),
        "first_subscriber": first_s,
        "last_subscriber": last_s,
        "fan_out_ratio_p50_last_over_first": (ratio * 100.0).round() / 100.0,
        "location_post": summary(post_ms),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
    assert_eq!(missing, 0, "every subscriber got every position");
}
