//! The sweeper against the real emulator: an unpaid online order expires and gives its stock
//! back; a buyer's cancel racing the sweeper releases the stock exactly once; paid (confirmed)
//! and cash-on-delivery orders are never touched; a delivered order completes when its return
//! window closes, unless a return was asked for.
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
use shared::orders::due_sort;
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
                (":sort", string(due_sort(due, order_id))),
                (":pending", string("pending_payment")),
            ],
        })
        .await
        .expect("the order is still pending payment");
}

/// Moves a delivered order's delivery 8 days into the past (only while it is delivered), as if
/// its 7-day return window had closed.
async fn backdate_delivery(order_id: &str) {
    let delivered_at = shared::now_epoch() - 8 * 24 * 3600;
    expiry_db()
        .await
        .update(tx::UpdateSpec {
            key: keys::order(order_id),
            update: "SET delivered_at = :at, GSI3SK = :sort",
            condition: Some("#status = :delivered"),
            names: &[("#status", "status")],
            values: vec![
                (":at", n(delivered_at)),
                (
                    ":sort",
                    string(due_sort(
                        delivered_at + shared::orders::RETURN_WINDOW_SECS,
                        order_id,
                    )),
                ),
                (":delivered", string("delivered")),
            ],
        })
        .await
        .expect("the order is delivered");
}

/// Moves a COD order through the shop's steps to `delivered`.
async fn deliver(ctx: &Ctx, shop: &TestShop, id: &str) {
    for (step, body) in [
        ("process", json!({})),
        (
            "ship",
            json!({"carrier": "GHN", "tracking_number": "GHN42"}),
        ),
        ("deliver", json!({})),
    ] {
        let r = ctx
            .post(
                &format!("/api/v1/orders/{id}/{step}"),
                Some(&shop.seller_token),
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
}

#[tokio::test]
async fn a_delivered_order_completes_when_its_return_window_closes_unless_a_return_is_pending() {
    let ctx = Ctx::new();
    let (shop, product, sku) = setup(&ctx, 10).await;
    let (buyer, quiet) = order(&ctx, &product, &sku, 1, "cod").await;
    let (returner, disputed) = order(&ctx, &product, &sku, 1, "cod").await;
    deliver(&ctx, &shop, &quiet).await;
    deliver(&ctx, &shop, &disputed).await;
    let delivered = ctx
        .get(&format!("/api/v1/orders/{quiet}"), Some(&buyer))
        .await;
    assert!(
        delivered.body["return_deadline"].is_string(),
        "{}",
        delivered.text
    );

    // within the window nothing happens
    expiry().await.sweep(shared::now_epoch()).await.unwrap();
    assert_eq!(
        ctx.get(&format!("/api/v1/orders/{quiet}"), Some(&buyer))
            .await
            .body["status"],
        "delivered"
    );

    // a return asked for in time takes the order out of the sweeper's hands
    let asked = ctx
        .post(
            &format!("/api/v1/orders/{disputed}/return"),
            Some(&returner),
            json!({"reason": "The glaze is cracked"}),
        )
        .await;
    assert_eq!(asked.body["status"], "return_requested", "{}", asked.text);
    backdate_delivery(&quiet).await;
    expiry().await.sweep(shared::now_epoch()).await.unwrap();

    let done = ctx
        .get(&format!("/api/v1/orders/{quiet}"), Some(&buyer))
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let last = done.body["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["actor"].as_str(), last["note"].as_str()),
        (Some("system"), Some(consumer_order_expiry::COMPLETION_NOTE))
    );
    assert_eq!(
        ctx.get(&format!("/api/v1/orders/{disputed}"), Some(&returner))
            .await
            .body["status"],
        "return_requested"
    );
    // sold stock stays sold
    let stock = ctx.stock_of(&shop, &product, &sku).await;
    assert_eq!(
        (
            stock["stock"].as_i64(),
            stock["reserved"].as_i64(),
            stock["available"].as_i64()
        ),
        (Some(8), Some(0), Some(8))
    );
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

#[tokio::test]
async fn a_scheduled_tick_from_sqs_runs_a_sweep_through_the_lambda_handler() {
    let ctx = Ctx::new();
    let (shop, product, sku) = setup(&ctx, 5).await;
    let (buyer, id) = order(&ctx, &product, &sku, 2, "online").await;
    backdate(&id).await;
    let tick: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&e2e::fixture("sqs-order-expiry-tick.json", &[])).unwrap();
    let response = expiry().await.handle(tick).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "the tick is acknowledged"
    );
    let o = ctx.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(o.body["status"], "cancelled", "{}", o.text);
    assert_eq!(ctx.stock_of(&shop, &product, &sku).await["available"], 5);
}

#[tokio::test]
async fn a_payment_arriving_after_its_order_expired_is_refunded_and_never_revives_it() {
    let ctx = Ctx::new();
    let (shop, product, sku) = setup(&ctx, 5).await;
    let (buyer, id) = order(&ctx, &product, &sku, 1, "online").await;
    let checkout = ctx
        .get(&format!("/api/v1/orders/{id}"), Some(&buyer))
        .await
        .body["checkout_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = ctx.pay(&buyer, &checkout, "stripe").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let payment_id = paid.body["id"].as_str().unwrap().to_owned();
    let intent = paid.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    // The buyer dawdles on the payment page; the order expires and gives its stock back.
    backdate(&id).await;
    expiry().await.sweep(shared::now_epoch()).await.unwrap();
    let o = ctx.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(o.body["status"], "cancelled", "{}", o.text);

    // Then the payment succeeds at the provider: recorded, the order stays cancelled, and the
    // money goes back automatically.
    let delivered = ctx
        .sandbox(
            "pay",
            json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
        )
        .await;
    assert_eq!(delivered["status"], 200, "{delivered}");
    let o = ctx.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(o.body["status"], "cancelled", "never revived: {}", o.text);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = ctx
            .get(
                &format!("/api/v1/payments/{payment_id}/refund-status"),
                Some(&buyer),
            )
            .await;
        if s.body["refunded"]["amount"] == paid.body["amount"]["amount"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not refunded: {}",
            s.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(ctx.stock_of(&shop, &product, &sku).await["available"], 5);
}
