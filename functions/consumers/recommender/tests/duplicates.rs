//! The recommender against the real emulator: the same `OrderPlaced` delivered twice (in one
//! batch, and again later) is counted once — units per product and shop, bought-together
//! pairs, the buyer's recent purchases — and a batch with a poison message reports just that
//! message as failed.
//!
//! Needs `make test`'s environment (TABLE_NAME, AWS_ENDPOINT_URL from the provisioned stack);
//! every test uses fresh ids.

use aws_lambda_events::event::sqs::SqsEvent;
use consumer_recommender::{Outcome, Recommender};
use serde_json::json;
use shared::discovery::Grain;
use shared::discovery::recent;
use shared::events::{Envelope, OrderPlaced};
use shared::store::{Db, keys};

async fn recommender() -> Recommender {
    let sdk = shared::state::aws_config().await;
    let table =
        std::env::var("TABLE_NAME").expect("TABLE_NAME: make test exports the stack environment");
    Recommender::new(Db::new(aws_sdk_dynamodb::Client::new(&sdk), table))
}

fn order(buyer: &str, shop: &str, items: &[(&str, i64)]) -> OrderPlaced {
    serde_json::from_value(json!({
        "order_id": format!("rec-order-{}", ulid::Ulid::new()),
        "checkout_id": "rec-checkout", "buyer_id": buyer, "shop_id": shop,
        "status": "confirmed", "payment_method": "cod",
        "total": {"amount": 300_000, "currency": "VND"}, "payment_due_at": null,
        "items": items.iter().map(|(p, q)| json!({"product_id": p, "sku": "SKU-1", "quantity": q})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// The SQS message of a bus event with this event id.
fn message(message_id: &str, event_id: &str, order: &OrderPlaced) -> serde_json::Value {
    let envelope = Envelope {
        id: event_id.to_owned(),
        occurred_at: shared::now(),
        version: 1,
        data: serde_json::to_value(order).unwrap(),
    };
    let body = json!({
        "version": "0", "id": ulid::Ulid::new().to_string(),
        "detail-type": "OrderPlaced", "source": "commerce.orders", "detail": envelope,
    });
    json!({"messageId": message_id, "body": body.to_string()})
}

fn batch(messages: &[serde_json::Value]) -> SqsEvent {
    serde_json::from_value(json!({ "Records": messages })).unwrap()
}

async fn number(db: &Db, k: (String, String), attribute: &str) -> i64 {
    db.get_item(k)
        .await
        .unwrap()
        .and_then(|item| item.get(attribute).and_then(|v| v.as_n().ok()).cloned())
        .map_or(0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn the_same_order_delivered_twice_counts_once() {
    let r = recommender().await;
    let run = ulid::Ulid::new().to_string();
    let (p1, p2, shop, buyer) = (
        format!("recp1{run}"),
        format!("recp2{run}"),
        format!("recshop{run}"),
        format!("recbuyer{run}"),
    );
    let placed = order(&buyer, &shop, &[(&p1, 2), (&p2, 1)]);
    let event_id = format!("rec-event-{run}");

    // one batch holding the event twice (the relay published it twice), handled concurrently
    let first = r
        .handle(batch(&[
            message("m1", &event_id, &placed),
            message("m2", &event_id, &placed),
        ]))
        .await;
    assert!(
        first.batch_item_failures.is_empty(),
        "{:?}",
        first.batch_item_failures
    );
    // and once more, later (SQS redelivered it)
    let again = r
        .order_placed(&event_id, shared::now_epoch(), &placed)
        .await
        .unwrap();
    assert_eq!(again, Outcome::Duplicate);

    let now = shared::now_epoch();
    for grain in Grain::ALL {
        let bucket = grain.bucket(now);
        let units = |id: &str| keys::trend_counter("product", grain.name(), bucket, id);
        assert_eq!(
            number(&r.db, units(&p1), "units").await,
            2,
            "{}",
            grain.name()
        );
        assert_eq!(number(&r.db, units(&p2), "units").await, 1);
        let shop_units = keys::trend_counter("shop", grain.name(), bucket, &shop);
        assert_eq!(number(&r.db, shop_units, "units").await, 3);
    }
    assert_eq!(
        number(&r.db, keys::cooccurrence(&p1, keys::COOC_BOUGHT, &p2), "n").await,
        1
    );
    assert_eq!(
        number(&r.db, keys::cooccurrence(&p2, keys::COOC_BOUGHT, &p1), "n").await,
        1
    );
    let purchases = recent::load(
        &r.db,
        &keys::recent_owner_user(&buyer),
        keys::RECENT_PURCHASES,
    )
    .await
    .unwrap();
    let mut bought: Vec<&str> = purchases.iter().map(|e| e.value.as_str()).collect();
    bought.sort();
    let mut expected = [p1.as_str(), p2.as_str()];
    expected.sort();
    assert_eq!(bought, expected);

    // another order of the same products is another event: it counts
    let second = order(&buyer, &shop, &[(&p1, 1), (&p2, 1)]);
    let outcome = r
        .order_placed(&format!("rec-event-2-{run}"), now, &second)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Counted {
            products: 2,
            pairs: 1
        }
    );
    assert_eq!(
        number(&r.db, keys::cooccurrence(&p1, keys::COOC_BOUGHT, &p2), "n").await,
        2
    );
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let r = recommender().await;
    let run = ulid::Ulid::new().to_string();
    let product = format!("recp{run}");
    let placed = order(
        &format!("recb{run}"),
        &format!("recs{run}"),
        &[(&product, 1)],
    );
    let poison = json!({"messageId": "bad", "body": "{\"detail-type\":\"OrderPlaced\",\"source\":\"commerce.orders\",\"detail\":{\"id\":\"x\",\"occurred_at\":\"2026-12-01T00:00:00Z\",\"version\":1,\"data\":{\"order_id\":7}}}"});
    let response = r
        .handle(batch(&[
            message("good", &format!("rec-ev-{run}"), &placed),
            poison,
        ]))
        .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad"]);
}
