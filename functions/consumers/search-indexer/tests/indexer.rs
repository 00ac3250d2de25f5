//! The search indexer's handler, in-process, against the emulator and the local search server
//! of `make test` (products are created through the dev server's API, which also indexes them
//! through its own pump; these tests then deliver events again, late, twice or out of order).

use std::collections::BTreeSet;

use aws_lambda_events::event::sqs::SqsEvent;
use consumer_search_indexer::Indexer;
use e2e::{Ctx, NewVariant, TestShop, eventually};
use product_search::doc;
use product_search::engine::BulkOp;
use serde_json::{Value, json};
use shared::events::{DomainEvent, OrderPlaced, OrderedItem, OutboxItem, ProductUpserted};
use shared::products::load_product_with_stats;

async fn indexer() -> Indexer {
    Indexer::from_env()
        .await
        .expect("make test exports the stack environment")
}

/// An SQS batch of these events, as EventBridge would deliver them, in this order.
fn batch(events: &[DomainEvent]) -> SqsEvent {
    let records: Vec<Value> = events
        .iter()
        .map(|e| {
            let item = OutboxItem::new(e);
            let body = json!({
                "version": "0", "id": ulid::Ulid::new().to_string(),
                "detail-type": item.detail_type, "source": item.source,
                "account": "000000000000", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
                "resources": [],
                "detail": serde_json::from_str::<Value>(&item.detail).unwrap(),
            });
            json!({"messageId": ulid::Ulid::new().to_string(), "body": body.to_string()})
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn one_product(ctx: &Ctx, shop: &TestShop, price: i64) -> (String, String) {
    let (id, skus) = ctx
        .test_product(
            shop,
            &[NewVariant {
                sku: "IDX",
                price,
                stock: 5,
                weight_grams: 100,
            }],
        )
        .await;
    (id, skus[0].clone())
}

/// Waits until the product's document shows `price`.
async fn indexed_at(indexer: &Indexer, id: &str, price: i64) -> product_search::ProductDoc {
    eventually(&format!("{id} indexed at {price}"), || async {
        indexer
            .engine
            .get(id)
            .await
            .unwrap()
            .filter(|d| d.price_min == price)
    })
    .await
}

fn upserted(id: &str, shop: &TestShop, version: u64) -> DomainEvent {
    DomainEvent::ProductUpserted(ProductUpserted {
        product_id: id.into(),
        shop_id: shop.shop_id.clone(),
        category_id: shop.category_id.clone(),
        name: "n".into(),
        status: shared::products::ProductStatus::Active,
        version,
    })
}

#[tokio::test]
async fn an_older_document_never_overwrites_a_newer_one_whatever_the_delivery_order() {
    let ctx = Ctx::new();
    let indexer = indexer().await;
    let shop = ctx.test_shop("indexer-order").await;
    let (id, sku) = one_product(&ctx, &shop, 100_000).await;
    let old = indexed_at(&indexer, &id, 100_000).await;
    let (product, variants, stats) = load_product_with_stats(&indexer.db, &id)
        .await
        .unwrap()
        .unwrap();
    let shop_record = indexer
        .db
        .get(shared::store::keys::shop_profile(&shop.shop_id))
        .await
        .unwrap();
    let old_version = doc::version(
        &product,
        &variants,
        stats.rev,
        shop_record.as_ref(),
        shared::now_epoch(),
    );

    let r = ctx
        .put(
            &format!("/api/v1/products/{id}/variants/{sku}/price"),
            Some(&shop.seller_token),
            json!({"price": {"amount": 200_000, "currency": "VND"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    indexed_at(&indexer, &id, 200_000).await;

    // A writer that read the product before the price change comes late: refused as stale.
    let indexes = indexer.engine.ensure().await.unwrap();
    let report = indexer
        .engine
        .bulk(
            &[BulkOp::Index {
                doc: Box::new(old),
                version: old_version,
            }],
            &indexes,
            true,
        )
        .await
        .unwrap();
    assert_eq!(report.applied, 0, "{report:?}");
    assert_eq!(report.stale, indexes.len(), "{report:?}");
    assert_eq!(
        indexer.engine.get(&id).await.unwrap().unwrap().price_min,
        200_000
    );

    // The two updates' events delivered again, newest first, then oldest: the newest state
    // stays (each delivery re-reads the product).
    let events = [
        upserted(&id, &shop, product.version + 1),
        upserted(&id, &shop, product.version),
    ];
    for event in events {
        let response = indexer.handle(batch(&[event])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(
        indexer.engine.get(&id).await.unwrap().unwrap().price_min,
        200_000
    );
}

/// One firing of the template's `SearchDueScheduleRule`, as EventBridge delivers it.
fn tick() -> SqsEvent {
    let body = json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:000000000000:rule/due"],
        "detail": {},
    });
    serde_json::from_value(json!({"Records": [
        {"messageId": ulid::Ulid::new().to_string(), "body": body.to_string()}
    ]}))
    .unwrap()
}

async fn sleep_until(epoch: i64) {
    let wait = epoch - shared::now_epoch();
    if wait >= 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64 * 1000 + 200)).await;
    }
}

#[tokio::test]
async fn a_discount_window_reaches_the_index_when_it_opens_and_again_when_it_closes() {
    let ctx = Ctx::new();
    let indexer = indexer().await;
    let shop = ctx.test_shop("indexer-discount-edges").await;
    let (id, sku) = one_product(&ctx, &shop, 100_000).await;
    indexed_at(&indexer, &id, 100_000).await;

    // A 20 % discount from 20 s from now (time for the change to be indexed first), for 4 s:
    // nothing in the catalogue changes when it opens or closes, only the clock.
    let opens = shared::now_epoch() + 20;
    let closes = opens + 4;
    let r = ctx
        .put(
            &format!("/api/v1/products/{id}/variants/{sku}/price"),
            Some(&shop.seller_token),
            json!({"price": {"amount": 100_000, "currency": "VND"},
                   "discount": {"kind": "percentage", "value": 2000, "starts_at": opens, "ends_at": closes}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let due = |at: i64| {
        let (indexer, id) = (&indexer, id.clone());
        async move {
            indexer
                .due_now(at)
                .await
                .unwrap()
                .into_iter()
                .filter(|(p, _)| *p == id)
                .count()
        }
    };
    eventually("the opening is recorded as due", || async {
        (due(opens).await == 1).then_some(())
    })
    .await;
    assert_eq!(due(opens - 1).await, 0, "not due before it opens");
    assert_eq!(
        indexer.engine.get(&id).await.unwrap().unwrap().price_min,
        100_000,
        "the window has not opened yet"
    );

    sleep_until(opens).await;
    let response = indexer.handle(tick()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        indexer.engine.get(&id).await.unwrap().unwrap().price_min,
        80_000,
        "the tick after the opening indexes the discounted price"
    );
    assert_eq!(due(opens).await, 0, "the opening's record is cleared");
    assert_eq!(due(closes).await, 1, "and the closing is due next");

    sleep_until(closes).await;
    let response = indexer.handle(tick()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        indexer.engine.get(&id).await.unwrap().unwrap().price_min,
        100_000,
        "the tick after the closing indexes the list price again"
    );
    assert_eq!(due(closes + 3600).await, 0, "nothing more is due");
}

#[tokio::test]
async fn an_order_delivered_twice_adds_its_units_to_sales_once() {
    let ctx = Ctx::new();
    let indexer = indexer().await;
    let shop = ctx.test_shop("indexer-sales").await;
    let (id, sku) = one_product(&ctx, &shop, 50_000).await;
    indexed_at(&indexer, &id, 50_000).await;
    let order = DomainEvent::OrderPlaced(OrderPlaced {
        order_id: ulid::Ulid::new().to_string(),
        checkout_id: "C".into(),
        buyer_id: "B".into(),
        shop_id: shop.shop_id.clone(),
        shop_name: String::new(),
        org_id: shop.org_id.clone(),
        status: shared::domain::order_state::OrderStatus::Confirmed,
        payment_method: "cod".into(),
        total: shared::domain::Money::new(150_000, shared::domain::Currency::VND),
        payment_due_at: None,
        items: vec![OrderedItem {
            product_id: id.clone(),
            sku,
            quantity: 3,
        }],
    });
    // Twice in one batch and once more later.
    let response = indexer.handle(batch(&[order.clone(), order.clone()])).await;
    assert!(response.batch_item_failures.is_empty());
    let response = indexer.handle(batch(&[order])).await;
    assert!(response.batch_item_failures.is_empty());
    let (_, _, stats) = load_product_with_stats(&indexer.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.sales, 3);
    assert_eq!(indexer.engine.get(&id).await.unwrap().unwrap().sales, 3);
}

#[tokio::test]
async fn a_reindex_builds_a_new_generation_and_changes_nothing_visible() {
    let ctx = Ctx::new();
    let indexer = indexer().await;
    let shop = ctx.test_shop("indexer-reindex").await;
    let mut ids = BTreeSet::new();
    for price in [70_000, 80_000, 90_000] {
        let (id, _) = one_product(&ctx, &shop, price).await;
        indexed_at(&indexer, &id, price).await;
        ids.insert(id);
    }
    let query =
        json!({"size": 10, "query": {"term": {"shop_id": shop.shop_id}}, "sort": [{"id": "asc"}]});
    let before = indexer.engine.search(&query).await.unwrap();
    let generations = indexer.engine.generations().await.unwrap();

    let report = indexer.reindex().await.unwrap();
    assert!(report.indexed >= 3, "{report:?}");

    let after = indexer.engine.search(&query).await.unwrap();
    let sources = |answer: &Value| -> Vec<Value> {
        answer["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_source"].clone())
            .collect()
    };
    assert_eq!(sources(&after), sources(&before));
    assert_eq!(sources(&after).len(), ids.len());
    // The alias moved to the new generation only; the old ones are gone.
    let now = indexer.engine.generations().await.unwrap();
    assert!(now.contains(&(report.index.clone(), true)), "{now:?}");
    for (old, _) in generations {
        assert!(
            !now.iter().any(|(name, _)| *name == old),
            "{old} left in {now:?}"
        );
    }
}
