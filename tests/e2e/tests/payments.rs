//! Payments end to end against the payment sandbox (`PAYMENT_SANDBOX_URL`, started by
//! `make test`): a buyer pays a checkout through a provider, the provider's signed webhook
//! confirms the orders, completion releases the escrow to the shop less commission, refunds
//! come out of it; forged, stale and tampered webhooks change nothing; a webhook delivered 20
//! times at once is applied once.

use e2e::{Ctx, NewVariant, Reply, TestShop};
use serde_json::{Value, json};

fn sandbox() -> String {
    std::env::var("PAYMENT_SANDBOX_URL")
        .expect("PAYMENT_SANDBOX_URL is set by `make test` (the local payment sandbox)")
}

async fn control(ctx: &Ctx, path: &str, body: Value) -> Value {
    let r = ctx
        .http
        .post(format!("{}/_control/{path}", sandbox()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sandbox {path}: {}", r.status());
    r.json().await.unwrap()
}

/// A shop with one product, a buyer with it in the cart and an online checkout placed.
struct Placed {
    shop: TestShop,
    buyer: String,
    checkout_id: String,
    orders: Vec<String>,
    total: i64,
}

async fn place_online(ctx: &Ctx, prefix: &str, price: i64) -> Placed {
    let shop = ctx.test_shop(prefix).await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "PAY",
                price,
                stock: 50,
                weight_grams: 200,
            }],
        )
        .await;
    let (_, buyer, _) = ctx.user("payer").await;
    let address = ctx.test_address(&buyer).await;
    ctx.add_to_cart(&buyer, &product, &skus[0], 1).await;
    let placed = ctx
        .checkout(
            &buyer,
            &address,
            "online",
            &format!("co-{}", ulid::Ulid::new()),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    Placed {
        shop,
        buyer,
        checkout_id: placed.body["checkout_id"].as_str().unwrap().to_owned(),
        orders: placed.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect(),
        total: placed.body["total"]["amount"].as_i64().unwrap(),
    }
}

async fn pay(ctx: &Ctx, p: &Placed, method: &str) -> Reply {
    let r = ctx
        .http
        .post(format!("{}/api/v1/payments", ctx.base))
        .bearer_auth(&p.buyer)
        .header("idempotency-key", format!("pay-{}", ulid::Ulid::new()))
        .json(&json!({"checkout_id": p.checkout_id, "method": method}))
        .send()
        .await
        .unwrap();
    let r = Ctx::read(r).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r
}

async fn order_status(ctx: &Ctx, token: &str, id: &str) -> String {
    let r = ctx.get(&format!("/api/v1/orders/{id}"), Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["status"].as_str().unwrap().to_owned()
}

/// Polls `check` (up to 60 s) until it returns Some.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

async fn balance(ctx: &Ctx, shop: &TestShop) -> Value {
    let r = ctx
        .get(
            &format!("/api/v1/shops/{}/balance", shop.shop_id),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "VND")
        .cloned()
        .unwrap_or(json!({"pending": 0, "available": 0, "on_hold": 0}))
}

/// The sum of a shop account's statement (every entry of the ledger on it).
async fn statement_sum(ctx: &Ctx, shop: &TestShop, account: &str) -> i64 {
    let r = ctx
        .get(
            &format!(
                "/api/v1/shops/{}/ledger?account={account}&limit=100",
                shop.shop_id
            ),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"]["amount"].as_i64().unwrap())
        .sum()
}

async fn ship_deliver_complete(ctx: &Ctx, p: &Placed, order: &str) {
    for (action, body) in [
        ("process", json!({})),
        (
            "ship",
            json!({"carrier": "GHN", "tracking_number": "GHN123456789VN"}),
        ),
        ("deliver", json!({})),
    ] {
        let r = ctx
            .post(
                &format!("/api/v1/orders/{order}/{action}"),
                Some(&p.shop.seller_token),
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{action}: {}", r.text);
    }
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            Some(&p.buyer),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "confirm-receipt: {}", r.text);
}

#[tokio::test]
async fn a_stripe_payment_confirms_the_order_and_completion_releases_escrow_less_commission() {
    let ctx = Ctx::new();
    let p = place_online(&ctx, "stripe", 200_000).await;
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "pending_payment"
    );

    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    assert_eq!(payment.body["amount"]["amount"], p.total);
    assert!(
        payment.body["client_secret"]
            .as_str()
            .is_some_and(|s| s.contains("_secret_"))
    );
    let redirect = payment.body["redirect_url"].as_str().unwrap();
    let intent = redirect.rsplit('/').next().unwrap().to_owned();
    assert!(intent.starts_with("pi_"), "{redirect}");

    // The buyer pays on the hosted page: the sandbox posts a signed payment_intent.succeeded.
    let delivered = control(
        &ctx,
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    assert_eq!(delivered["status"], 200, "{delivered}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
    let paid = ctx
        .get(&format!("/api/v1/payments/{payment_id}"), Some(&p.buyer))
        .await;
    assert_eq!(paid.body["status"], "succeeded", "{}", paid.text);
    assert_eq!(paid.body["captured"]["amount"], p.total);
    let escrow = ctx
        .get(
            &format!("/api/v1/payments/escrow/{}/status", p.orders[0]),
            Some(&p.buyer),
        )
        .await;
    assert_eq!(escrow.body["status"], "held", "{}", escrow.text);
    assert_eq!(balance(&ctx, &p.shop).await["pending"], p.total);

    // A redelivery of the same event is acknowledged and changes nothing.
    let again = control(
        &ctx,
        &format!(
            "deliveries/{}/redeliver",
            delivered["delivery_id"].as_str().unwrap()
        ),
        json!({"mode": "duplicate"}),
    )
    .await;
    assert_eq!(again["status"], 200, "{again}");
    assert_eq!(balance(&ctx, &p.shop).await["pending"], p.total);

    // Delivered and confirmed by the buyer: the escrow goes to the shop, 5 % commission kept.
    ship_deliver_complete(&ctx, &p, &p.orders[0]).await;
    let commission = p.total * 500 / 10_000;
    let b = eventually("escrow released", || async {
        let b = balance(&ctx, &p.shop).await;
        (b["available"].as_i64() == Some(p.total - commission)).then_some(b)
    })
    .await;
    assert_eq!(b["pending"], 0, "{b}");

    // An admin refunds part of it: from the shop's available balance and the commission.
    let admin = ctx.admin_token().await;
    let too_much = ctx
        .post(
            &format!("/api/v1/payments/{payment_id}/refund"),
            Some(&admin),
            json!({"amount": p.total + 1, "reason": "more than paid"}),
        )
        .await;
    too_much.problem(422);
    let refund = ctx
        .post(
            &format!("/api/v1/payments/{payment_id}/refund"),
            Some(&admin),
            json!({"amount": 20_000, "reason": "one item was scratched"}),
        )
        .await;
    assert_eq!(refund.status, 201, "{}", refund.text);
    assert_eq!(refund.body["status"], "succeeded");
    let shop_part = 20_000 - 20_000 * commission / p.total;
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        b["available"].as_i64(),
        Some(p.total - commission - shop_part),
        "{b}"
    );
    // The refund's own charge.refunded webhook must not book it a second time.
    let status = eventually("refund webhook handled", || async {
        let s = ctx
            .get(
                &format!("/api/v1/payments/{payment_id}/refund-status"),
                Some(&p.buyer),
            )
            .await;
        (s.body["refunds"].as_array().map(Vec::len) == Some(1)).then_some(s)
    })
    .await;
    assert_eq!(status.body["refunded"]["amount"], 20_000, "{}", status.text);
    // The ledger holds: each statement adds up to its balance.
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        statement_sum(&ctx, &p.shop, "available").await,
        b["available"].as_i64().unwrap()
    );
    assert_eq!(
        statement_sum(&ctx, &p.shop, "escrow").await,
        b["pending"].as_i64().unwrap()
    );
    // Only the buyer and admins see the payment.
    let (_, stranger, _) = ctx.user("stranger").await;
    ctx.get(&format!("/api/v1/payments/{payment_id}"), Some(&stranger))
        .await
        .problem(404);
    ctx.get(
        &format!("/api/v1/shops/{}/balance", p.shop.shop_id),
        Some(&stranger),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn every_broken_copy_of_a_genuine_webhook_is_refused_before_the_genuine_one_applies() {
    let ctx = Ctx::new();
    let p = place_online(&ctx, "tamper", 130_000).await;
    let payment = pay(&ctx, &p, "stripe").await;
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // A genuine, signed delivery, then copies of it broken in transit: each is refused by its
    // signature check before anything is read or written.
    let paid = control(
        &ctx,
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    let id = paid["delivery_id"].as_str().unwrap().to_owned();
    assert_eq!(paid["status"], 200, "{paid}");
    for mode in [
        "bad_signature",
        "wrong_secret",
        "stale",
        "tamper_amount",
        "truncate",
    ] {
        let r = control(
            &ctx,
            &format!("deliveries/{id}/redeliver"),
            json!({"mode": mode}),
        )
        .await;
        assert_eq!(r["status"], 400, "{mode} must be refused: {r}");
    }
    let r = control(
        &ctx,
        &format!("deliveries/{id}/redeliver"),
        json!({"mode": "rotated"}),
    )
    .await;
    assert_eq!(r["status"], 200, "a rotated header verifies: {r}");
    // Nothing moved twice.
    assert_eq!(balance(&ctx, &p.shop).await["pending"], p.total);
}

#[tokio::test]
async fn twenty_parallel_deliveries_of_one_webhook_capture_once() {
    let ctx = Ctx::new();
    let p = place_online(&ctx, "parallel", 90_000).await;
    let payment = pay(&ctx, &p, "stripe").await;
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let first = control(
        &ctx,
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    let id = first["delivery_id"].as_str().unwrap().to_owned();
    let replays = futures::future::join_all((0..20).map(|_| {
        let ctx = &ctx;
        let id = id.clone();
        async move {
            control(
                ctx,
                &format!("deliveries/{id}/redeliver"),
                json!({"mode": "replay"}),
            )
            .await
        }
    }))
    .await;
    for r in &replays {
        assert_eq!(r["status"], 200, "{r}");
    }
    assert_eq!(
        balance(&ctx, &p.shop).await["pending"],
        p.total,
        "one capture into escrow"
    );
    assert_eq!(
        statement_sum(&ctx, &p.shop, "escrow").await,
        p.total,
        "one ledger transfer"
    );
    let timeline = ctx
        .get(
            &format!("/api/v1/orders/{}/timeline", p.orders[0]),
            Some(&p.buyer),
        )
        .await;
    let confirmations = timeline.text.matches("\"confirmed\"").count();
    assert_eq!(confirmations, 1, "one confirmation: {}", timeline.text);
}

#[tokio::test]
async fn vnpay_and_momo_pay_through_their_ipns_and_a_changed_amount_is_refused() {
    let ctx = Ctx::new();
    // VNPay: the signed pay URL, the IPN as a GET, RspCode 00; a tampered amount gets 04/97.
    let p = place_online(&ctx, "vnpay", 150_000).await;
    let payment = pay(&ctx, &p, "vnpay").await;
    let url = payment.body["redirect_url"].as_str().unwrap().to_owned();
    assert!(url.contains("vnp_SecureHash="), "{url}");
    let id = payment.body["id"].as_str().unwrap().to_owned();
    let ipn = control(
        &ctx,
        "pay",
        json!({"provider": "vnpay", "ref": id, "outcome": "succeed", "url": url}),
    )
    .await;
    assert_eq!(ipn["status"], 200, "{ipn}");
    assert_eq!(ipn["body"]["RspCode"], "00", "{ipn}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
    let delivery = ipn["delivery_id"].as_str().unwrap();
    let tampered = control(
        &ctx,
        &format!("deliveries/{delivery}/redeliver"),
        json!({"mode": "tamper_amount"}),
    )
    .await;
    assert_eq!(
        tampered["body"]["RspCode"], "97",
        "an amount changed after signing: {tampered}"
    );
    let again = control(
        &ctx,
        &format!("deliveries/{delivery}/redeliver"),
        json!({"mode": "duplicate"}),
    )
    .await;
    assert_eq!(again["body"]["RspCode"], "02", "already confirmed: {again}");

    // MoMo: captureWallet. A correctly signed IPN with another amount than the payment's is
    // refused and changes nothing; the genuine IPN POST is answered with 204.
    let p = place_online(&ctx, "momo", 70_000).await;
    let payment = pay(&ctx, &p, "momo").await;
    let id = payment.body["id"].as_str().unwrap().to_owned();
    let wrong = control(
        &ctx,
        "events",
        json!({"provider": "momo", "type": "ipn", "ref": id, "result_code": 0, "amount": p.total + 1_000}),
    )
    .await;
    assert_eq!(
        wrong["status"], 422,
        "a different amount is refused: {wrong}"
    );
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "pending_payment"
    );
    let ipn = control(
        &ctx,
        "pay",
        json!({"provider": "momo", "ref": id, "outcome": "succeed"}),
    )
    .await;
    assert_eq!(ipn["status"], 204, "{ipn}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
}

#[tokio::test]
async fn a_declined_payment_fails_its_orders_and_a_later_success_is_refunded() {
    let ctx = Ctx::new();
    let p = place_online(&ctx, "declined", 110_000).await;
    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let failed = control(
        &ctx,
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "decline"}),
    )
    .await;
    assert_eq!(failed["status"], 200, "{failed}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "payment_failed"
    );
    // Out of order: the provider now reports a success for the same intent. The orders are gone,
    // so the money is held apart and refunded automatically; the order is never revived.
    let late = control(
        &ctx,
        "events",
        json!({"provider": "stripe", "type": "payment_intent.succeeded", "ref": intent}),
    )
    .await;
    assert_eq!(late["status"], 200, "{late}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "payment_failed"
    );
    let status = eventually("late payment refunded", || async {
        let s = ctx
            .get(
                &format!("/api/v1/payments/{payment_id}/refund-status"),
                Some(&p.buyer),
            )
            .await;
        (s.body["refunded"]["amount"].as_i64() == Some(p.total)).then_some(s)
    })
    .await;
    assert_eq!(
        status.body["refunds"][0]["order_id"],
        Value::Null,
        "{}",
        status.text
    );
}
