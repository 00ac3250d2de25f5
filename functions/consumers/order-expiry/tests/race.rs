//! The sweeper against the real emulator: an unpaid online order expires and gives its stock
//! back; a buyer's cancel racing the sweeper releases the stock exactly once; paid (confirmed)
//! and cash-on-delivery orders are never touched.
//!
//! Tests run in parallel against one table, so none of them sweeps "into the future" (that
//! would expire every other test's fresh online orders): an order under test is backdated —
//! its payment deadline moved into the past, as if 16 minutes had gone by — and the sweep runs
//! at the real clock. Only backdated orders are ever overdue, so another sweep (a parallel test,
//! or the dev server's own schedule) may be the one that expires it; the assertions are on the
//! outcome, which must be the same whoever sweeps.

use consumer_order_expiry::{EXPIRY_REASON, Expiry};
use e2e::{Ctx, NewVariant, TestShop};
use serde_json::json;
use shared::orders::payment_due_sort;
use shared::store::{Db, keys, n, s as string, tx};

async fn expiry_db() -> Db {
    let sdk = shared::state::aws_config().await;
    let table = std::env::var("TABLE_NAME").expect("make test exports the stack environment");
    Db::new(aws_sdk_dynamodb::Client::new(&sdk), table)
}

async fn expiry() -> Expiry {
    Expiry::new(expiry_db().await)
}

/// Places an order of `quantity` units with `method`; returns (buyer token, order id).
async fn order(
    ctx: &Ctx,
    product: &str,
    sku: &str,
    quantity: i64,
    method: &str,
) -> (String, String) {
    let (_, token, _) = ctx.user("expiry").await;
    let address = ctx.test_address(&token).await;
    ctx.add_to_cart(&token, product, sku, quantity).await;
    let placed = ctx
        .checkout(
            &token,
            &address,
            method,
            &format!("expiry-{}", ulid::Ulid::new()),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    (
        token,
        placed.body["orders"][0]["id"].as_str().unwrap().to_owned(),
    )
}

async fn setup(ctx: &Ctx, stock: i64) -> (TestShop, String, String) {
    let shop = ctx.test_shop("expiry").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "LATE",
                price: 20_000,
                stock,
                weight_grams: 100,
            }],
        )
        .await;
    (shop, product, skus[0].clone())
}

/// Moves an unpaid order's payment deadline a minute into the past (only while it still waits
/// for payment), as if its 15-minute window had gone by.
async fn backdate(order_id: &str) {
    let due = shared::now_epoch() - 60;
    expiry_db()
        .await
        .update(tx::UpdateSpec {
            key: keys::order(order_id),
            update: "SET payment_due_at = :due, GSI3SK = :sort",
            condition: Some("#status = :pending"),
            names: &[("#status", "status")],
            values: vec![
                (":due", n(due)),
                (":sort", string(payment_due_sort(due, order_id))),
                (":pending", string("pending_payment")),
            ],
        })
        .await
        .expect("the order is still pending payment");
}

#[tokio::test]
async fn an_unpaid_order_expires_and_releases_its_stock_while_paid_and_cod_orders_stay() {
    let ctx = Ctx::new();
    let (shop, product, sku) = setup(&ctx, 10).await;
    let (buyer, unpaid) = order(&ctx, &product, &sku, 3, "online").await;
    let fresh = ctx
        .get(&format!("/api/v1/orders/{unpaid}"), Some(&buyer))
        .await;
    assert_eq!(fresh.body["status"], "pending_payment");
    assert!(fresh.body["payment_due_at"].is_string());
    let (_, cod) = order(&ctx, &product, &sku, 1, "cod").await;
    let (_, paid) = order(&ctx, &product, &sku, 2, "online").await;
    // settled outside the platform: the shop confirms it before the deadline
    let confirmed = ctx
        .post(
            &format!("/api/v1/orders/{paid}/confirm"),
            Some(&shop.seller_token),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.body["status"], "confirmed", "{}", confirmed.text);
    assert_eq!(ctx.stock_of(&shop, &product, &sku).await["available"], 4);

    // not yet due: nothing happens
    expiry().await.sweep(shared::now_epoch()).await.unwrap();
    assert_eq!(
        ctx.get(&format!("/api/v1/orders/{unpaid}"), Some(&buyer))
            .await
            .body["status"],
        "pending_payment"
    );

    backdate(&unpaid).await;
    expiry().await.sweep(shared::now_epoch()).await.unwrap();
    let expired = ctx
        .get(&format!("/api/v1/orders/{unpaid}"), Some(&buyer))
        .await;
    assert_eq!(expired.body["status"], "cancelled");
    assert_eq!(expired.body["cancel_reason"], EXPIRY_REASON);
    assert_eq!(expired.body["timeline"][1]["actor"], "system");
    let stock = ctx.stock_of(&shop, &product, &sku).await;
    assert_eq!(
        (stock["reserved"].as_i64(), stock["available"].as_i64()),
        (Some(3), Some(7))
    );
    for id in [&cod, &paid] {
        let o = ctx
            .get(&format!("/api/v1/orders/{id}"), Some(&shop.seller_token))
            .await;
        assert_eq!(o.body["status"], "confirmed", "{}", o.text);
    }
    // a second sweep finds nothing more of this order to do
    expiry().await.sweep(shared::now_epoch()).await.unwrap();
    assert_eq!(ctx.stock_of(&shop, &product, &sku).await["available"], 7);
}

#[tokio::test]
async fn cancel_racing_expiry_releases_the_stock_exactly_once() {
    let ctx = Ctx::new();
    let (shop, product, sku) = setup(&ctx, 40).await;
    for round in 0..8 {
        let (buyer, id) = order(&ctx, &product, &sku, 5, "online").await;
        let sweeper = expiry().await;
        backdate(&id).await;
        let cancel_path = format!("/api/v1/orders/{id}/cancel");
        let (cancel, sweep1, sweep2) = tokio::join!(
            ctx.post(
                &cancel_path,
                Some(&buyer),
                json!({"reason": "changed my mind"})
            ),
            sweeper.sweep(shared::now_epoch()),
            sweeper.sweep(shared::now_epoch()),
        );
        sweep1.unwrap();
        sweep2.unwrap();
        assert!(
            cancel.status == 200 || cancel.status == 409,
            "round {round}: {}",
            cancel.text
        );
        let o = ctx.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
        let cancellations = o.body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "cancelled")
            .count();
        assert_eq!(
            (o.body["status"].as_str(), cancellations),
            (Some("cancelled"), 1),
            "round {round}: {}",
            o.text
        );
        let stock = ctx.stock_of(&shop, &product, &sku).await;
        assert_eq!(
            (stock["reserved"].as_i64(), stock["available"].as_i64()),
            (Some(0), Some(40)),
            "round {round}: released exactly once"
        );
    }
}
