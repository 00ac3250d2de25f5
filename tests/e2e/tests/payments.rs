//! Payments end to end against the payment sandbox (`PAYMENT_SANDBOX_URL`, started by
//! `make test`): a buyer pays a checkout through a provider, the provider's signed webhook
//! confirms the orders, completion releases the escrow to the shop less commission, refunds
//! come out of it; forged, stale and tampered webhooks change nothing; a webhook delivered 20
//! times at once is applied once.

use e2e::{Ctx, Placed, Reply, TestShop};
use serde_json::{Value, json};

async fn pay(ctx: &Ctx, p: &Placed, method: &str) -> Reply {
    let r = ctx.pay(&p.buyer, &p.checkout_id, method).await;
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
    balance_in(ctx, shop, "VND").await
}

/// The shop's balances in one currency (zeros before any movement).
async fn balance_in(ctx: &Ctx, shop: &TestShop, currency: &str) -> Value {
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
        .find(|b| b["currency"] == currency)
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
    ctx.deliver_order(&p.shop.seller_token, order).await;
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            Some(&p.buyer),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "confirm-receipt: {}", r.text);
}

/// The rest of a journey once the order is confirmed: shipped, delivered, receipt confirmed,
/// escrow released to the shop less 5 %, then an admin's partial refund, after which the
/// shop's statements still add up to its balances.
async fn complete_release_and_refund(
    ctx: &Ctx,
    p: &Placed,
    payment_id: &str,
    currency: &str,
    refund: i64,
) {
    ship_deliver_complete(ctx, p, &p.orders[0]).await;
    let commission = p.total * 500 / 10_000;
    eventually("escrow released", || async {
        let b = balance_in(ctx, &p.shop, currency).await;
        (b["available"].as_i64() == Some(p.total - commission)).then_some(())
    })
    .await;
    let admin = ctx.admin_token().await;
    let r = ctx
        .post(
            &format!("/api/v1/payments/{payment_id}/refund"),
            Some(&admin),
            json!({"amount": refund, "reason": "partial refund"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    let shop_part = refund - refund * commission / p.total;
    let b = balance_in(ctx, &p.shop, currency).await;
    assert_eq!(
        b["available"].as_i64(),
        Some(p.total - commission - shop_part),
        "{b}"
    );
    let statement = ctx
        .get(
            &format!(
                "/api/v1/shops/{}/ledger?account=available&currency={currency}&limit=100",
                p.shop.shop_id
            ),
            Some(&p.shop.seller_token),
        )
        .await;
    let sum: i64 = statement.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(Some(sum), b["available"].as_i64(), "{}", statement.text);
}

#[tokio::test]
async fn a_stripe_payment_confirms_the_order_and_completion_releases_escrow_less_commission() {
    let ctx = Ctx::new();
    let p = ctx.place_one("stripe", 200_000, "VND", "online").await;
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
    let delivered = ctx
        .sandbox(
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
    let again = ctx
        .sandbox(
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
    let p = ctx.place_one("tamper", 130_000, "VND", "online").await;
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
    let paid = ctx
        .sandbox(
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
        let r = ctx
            .sandbox(&format!("deliveries/{id}/redeliver"), json!({"mode": mode}))
            .await;
        assert_eq!(r["status"], 400, "{mode} must be refused: {r}");
    }
    let r = ctx
        .sandbox(
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
    let p = ctx.place_one("parallel", 90_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "stripe").await;
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let first = ctx
        .sandbox(
            "pay",
            json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
        )
        .await;
    let id = first["delivery_id"].as_str().unwrap().to_owned();
    let replays = futures::future::join_all((0..20).map(|_| {
        let ctx = &ctx;
        let id = id.clone();
        async move {
            ctx.sandbox(
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
    let p = ctx.place_one("vnpay", 150_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "vnpay").await;
    let url = payment.body["redirect_url"].as_str().unwrap().to_owned();
    assert!(url.contains("vnp_SecureHash="), "{url}");
    let id = payment.body["id"].as_str().unwrap().to_owned();
    let ipn = ctx
        .sandbox(
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
    let tampered = ctx
        .sandbox(
            &format!("deliveries/{delivery}/redeliver"),
            json!({"mode": "tamper_amount"}),
        )
        .await;
    assert_eq!(
        tampered["body"]["RspCode"], "97",
        "an amount changed after signing: {tampered}"
    );
    let again = ctx
        .sandbox(
            &format!("deliveries/{delivery}/redeliver"),
            json!({"mode": "duplicate"}),
        )
        .await;
    assert_eq!(again["body"]["RspCode"], "02", "already confirmed: {again}");
    complete_release_and_refund(&ctx, &p, &id, "VND", 20_000).await;

    // MoMo: captureWallet. A correctly signed IPN with another amount than the payment's is
    // refused and changes nothing; the genuine IPN POST is answered with 204.
    let p = ctx.place_one("momo", 70_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "momo").await;
    let id = payment.body["id"].as_str().unwrap().to_owned();
    let wrong = ctx.sandbox("events",
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
    let ipn = ctx
        .sandbox(
            "pay",
            json!({"provider": "momo", "ref": id, "outcome": "succeed"}),
        )
        .await;
    assert_eq!(ipn["status"], 204, "{ipn}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
    complete_release_and_refund(&ctx, &p, &id, "VND", 10_000).await;
}

#[tokio::test]
async fn a_declined_payment_fails_its_orders_and_a_later_success_is_refunded() {
    let ctx = Ctx::new();
    let p = ctx.place_one("declined", 110_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let failed = ctx
        .sandbox(
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
    let late = ctx
        .sandbox(
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

#[tokio::test]
async fn a_paypal_order_is_approved_captured_and_released_to_the_shop() {
    let ctx = Ctx::new();
    // PayPal takes no VND: a VND checkout is refused by the adapter with a clear 422.
    let vnd = ctx.place_one("paypal-vnd", 100_000, "VND", "online").await;
    ctx.pay(&vnd.buyer, &vnd.checkout_id, "paypal")
        .await
        .problem(422);

    let p = ctx.place_one("paypal", 1_250, "USD", "online").await;
    let payment = pay(&ctx, &p, "paypal").await;
    let approve = payment.body["redirect_url"].as_str().unwrap().to_owned();
    let order_ref = approve.rsplit("token=").next().unwrap().to_owned();
    // Approve on PayPal: CHECKOUT.ORDER.APPROVED → the backend captures → PAYMENT.CAPTURE.COMPLETED.
    let approved = ctx
        .sandbox(
            "pay",
            json!({"provider": "paypal", "ref": order_ref, "outcome": "succeed"}),
        )
        .await;
    assert_eq!(approved["status"], 200, "{approved}");
    eventually("the capture confirmed the order", || async {
        (order_status(&ctx, &p.buyer, &p.orders[0]).await == "confirmed").then_some(())
    })
    .await;
    assert_eq!(balance_in(&ctx, &p.shop, "USD").await["pending"], p.total);
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    complete_release_and_refund(&ctx, &p, &payment_id, "USD", 250).await;
}

#[tokio::test]
async fn cash_on_delivery_is_collected_at_delivery_and_released_on_completion() {
    let ctx = Ctx::new();
    let p = ctx.place_one("cod-pay", 60_000, "VND", "cod").await;
    // Nothing is paid before delivery: no escrow, no balance.
    ctx.get(
        &format!("/api/v1/payments/escrow/{}/status", p.orders[0]),
        Some(&p.buyer),
    )
    .await
    .problem(404);
    ctx.deliver_order(&p.shop.seller_token, &p.orders[0]).await;
    eventually("the cash was collected into escrow", || async {
        (balance(&ctx, &p.shop).await["pending"].as_i64() == Some(p.total)).then_some(())
    })
    .await;
    let history = ctx.get("/api/v1/payments/history", Some(&p.buyer)).await;
    assert_eq!(
        history.body["items"][0]["method"], "cod",
        "{}",
        history.text
    );
    assert_eq!(history.body["items"][0]["status"], "succeeded");
    let r = ctx
        .post(
            &format!("/api/v1/orders/{}/confirm-receipt", p.orders[0]),
            Some(&p.buyer),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let commission = p.total * 500 / 10_000;
    eventually("escrow released", || async {
        (balance(&ctx, &p.shop).await["available"].as_i64() == Some(p.total - commission))
            .then_some(())
    })
    .await;
    // The owner pays out part of it; more than the balance is refused.
    let too_much = ctx
        .post(
            &format!("/api/v1/shops/{}/payouts", p.shop.shop_id),
            Some(&p.shop.seller_token),
            json!({"amount": {"amount": p.total, "currency": "VND"}}),
        )
        .await;
    too_much.problem(422);
    let payout = ctx
        .post(
            &format!("/api/v1/shops/{}/payouts", p.shop.shop_id),
            Some(&p.shop.seller_token),
            json!({"amount": {"amount": 10_000, "currency": "VND"}}),
        )
        .await;
    assert_eq!(payout.status, 201, "{}", payout.text);
    assert_eq!(
        balance(&ctx, &p.shop).await["available"].as_i64(),
        Some(p.total - commission - 10_000)
    );
}

#[tokio::test]
async fn a_bank_transfer_pays_when_an_admin_records_its_reference_and_amount() {
    let ctx = Ctx::new();
    let p = ctx.place_one("bank", 95_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "bank_transfer").await;
    let reference = payment.body["bank_transfer"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        payment.body["bank_transfer"]["account"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    let admin = ctx.admin_token().await;
    // Only admins record transfers, and only the exact amount pays.
    ctx.post(
        "/api/v1/payments/bank-transfers",
        Some(&p.buyer),
        json!({"reference": reference, "amount": {"amount": p.total, "currency": "VND"}}),
    )
    .await
    .problem(403);
    let short = ctx
        .post(
            "/api/v1/payments/bank-transfers",
            Some(&admin),
            json!({"reference": reference, "amount": {"amount": p.total - 1, "currency": "VND"}}),
        )
        .await;
    short.problem(422);
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "pending_payment"
    );
    let ok = ctx
        .post(
            "/api/v1/payments/bank-transfers",
            Some(&admin),
            json!({"reference": reference, "amount": {"amount": p.total, "currency": "VND"}}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["status"], "succeeded");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
    ctx.post(
        "/api/v1/payments/bank-transfers",
        Some(&admin),
        json!({"reference": reference, "amount": {"amount": p.total, "currency": "VND"}}),
    )
    .await
    .problem(409);
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    complete_release_and_refund(&ctx, &p, &payment_id, "VND", 15_000).await;
}

#[tokio::test]
async fn a_dispute_holds_the_funds_and_its_outcome_settles_them() {
    let ctx = Ctx::new();
    let p = ctx.place_one("dispute", 180_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    ctx.sandbox(
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;

    let opened = ctx
        .sandbox(
            "disputes",
            json!({"provider": "stripe", "ref": intent, "amount": 50_000}),
        )
        .await;
    assert_eq!(opened["status"], 200, "{opened}");
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        (b["pending"].as_i64(), b["on_hold"].as_i64()),
        (Some(p.total - 50_000), Some(50_000)),
        "{b}"
    );
    // Disputed money cannot be refunded meanwhile.
    let admin = ctx.admin_token().await;
    ctx.post(
        &format!("/api/v1/payments/{payment_id}/refund"),
        Some(&admin),
        json!({"amount": p.total, "reason": "refund everything"}),
    )
    .await
    .problem(422);
    // The shop answers with evidence; strangers cannot.
    let (_, stranger, _) = ctx.user("dispute-stranger").await;
    ctx.post(
        &format!("/api/v1/payments/{payment_id}/dispute"),
        Some(&stranger),
        json!({"text": "We shipped it with tracking."}),
    )
    .await
    .problem(404);
    let evidence = ctx
        .post(
            &format!("/api/v1/payments/{payment_id}/dispute"),
            Some(&p.shop.seller_token),
            json!({"text": "Delivered with tracking GHN123456789VN.", "files": [{"content_type": "application/pdf", "size_bytes": 2048}]}),
        )
        .await;
    assert_eq!(evidence.status, 201, "{}", evidence.text);
    assert_eq!(evidence.body["uploads"].as_array().map(Vec::len), Some(1));
    let chargebacks = ctx.get("/api/v1/payments/chargebacks", Some(&admin)).await;
    assert!(
        chargebacks.text.contains(&payment_id),
        "{}",
        chargebacks.text
    );

    // Won: the hold goes back to escrow.
    let id = opened["dispute_id"].as_str().unwrap();
    let won = ctx
        .sandbox(&format!("disputes/{id}/close"), json!({"outcome": "won"}))
        .await;
    assert_eq!(won["status"], 200, "{won}");
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        (b["pending"].as_i64(), b["on_hold"].as_i64()),
        (Some(p.total), Some(0)),
        "{b}"
    );
    // A second dispute is lost: the amount leaves to the buyer.
    let again = ctx
        .sandbox(
            "disputes",
            json!({"provider": "stripe", "ref": intent, "amount": 30_000}),
        )
        .await;
    let id = again["dispute_id"].as_str().unwrap();
    let lost = ctx
        .sandbox(&format!("disputes/{id}/close"), json!({"outcome": "lost"}))
        .await;
    assert_eq!(lost["status"], 200, "{lost}");
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        (b["pending"].as_i64(), b["on_hold"].as_i64()),
        (Some(p.total - 30_000), Some(0)),
        "{b}"
    );
    assert_eq!(
        statement_sum(&ctx, &p.shop, "escrow").await,
        p.total - 30_000
    );
    assert_eq!(statement_sum(&ctx, &p.shop, "hold").await, 0);
}

#[tokio::test]
async fn a_refund_reported_before_its_success_waits_for_it_and_a_failure_after_success_changes_nothing()
 {
    let ctx = Ctx::new();
    let p = ctx
        .place_one("order-of-events", 140_000, "VND", "online")
        .await;
    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // charge.refunded arrives first: nothing captured yet, so "deliver again later" and nothing written.
    let early = ctx.sandbox("events",
        json!({"provider": "stripe", "type": "charge.refunded", "ref": intent, "amount": 40_000}),
    )
    .await;
    assert_eq!(early["status"], 503, "{early}");
    let s = ctx
        .get(&format!("/api/v1/payments/{payment_id}"), Some(&p.buyer))
        .await;
    assert_eq!(
        (
            s.body["status"].as_str(),
            s.body["refunded"]["amount"].as_i64()
        ),
        (Some("pending"), Some(0))
    );
    // The success, then the provider's retry of the refund: both apply, once.
    ctx.sandbox(
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    let retried = ctx
        .sandbox(
            &format!(
                "deliveries/{}/redeliver",
                early["delivery_id"].as_str().unwrap()
            ),
            json!({"mode": "duplicate"}),
        )
        .await;
    assert_eq!(retried["status"], 200, "{retried}");
    let s = ctx
        .get(&format!("/api/v1/payments/{payment_id}"), Some(&p.buyer))
        .await;
    assert_eq!(
        s.body["refunded"]["amount"].as_i64(),
        Some(40_000),
        "{}",
        s.text
    );
    assert_eq!(
        balance(&ctx, &p.shop).await["pending"].as_i64(),
        Some(p.total - 40_000)
    );
    // A failure reported after the success is recorded and changes nothing.
    let late_failure = ctx
        .sandbox(
            "events",
            json!({"provider": "stripe", "type": "payment_intent.payment_failed", "ref": intent}),
        )
        .await;
    assert_eq!(late_failure["status"], 200, "{late_failure}");
    assert_eq!(
        order_status(&ctx, &p.buyer, &p.orders[0]).await,
        "confirmed"
    );
    let s = ctx
        .get(&format!("/api/v1/payments/{payment_id}"), Some(&p.buyer))
        .await;
    assert_eq!(s.body["status"], "succeeded");
}

/// Who may use each payment route: the payment's buyer, another buyer, a seller of another
/// shop, the shop's own seller, an admin, and nobody (no token).
#[tokio::test]
async fn nobody_reads_another_users_payment_receipt_invoice_or_a_shops_balance() {
    let ctx = Ctx::new();
    let p = ctx.place_one("matrix", 100_000, "VND", "online").await;
    let payment = pay(&ctx, &p, "stripe").await;
    let id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    ctx.sandbox(
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    let order = p.orders[0].clone();
    let shop = p.shop.shop_id.clone();
    let (_, other_buyer, _) = ctx.user("matrix-other").await;
    let other_shop = ctx.test_shop("matrix-other-shop").await;
    let admin = ctx.admin_token().await;
    // (method, path, body, [buyer, other buyer, other shop's seller, own seller, admin])
    let routes: Vec<(&str, String, Value, [u16; 5])> = vec![
        (
            "GET",
            format!("/api/v1/payments/{id}"),
            json!(null),
            [200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/v1/payments/{id}/receipt"),
            json!(null),
            [200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/v1/payments/{id}/refund-status"),
            json!(null),
            [200, 404, 404, 404, 200],
        ),
        (
            "GET",
            format!("/api/v1/payments/escrow/{order}/status"),
            json!(null),
            [200, 404, 404, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/shops/{shop}/balance"),
            json!(null),
            [404, 404, 404, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/shops/{shop}/ledger"),
            json!(null),
            [404, 404, 404, 200, 200],
        ),
        (
            "POST",
            format!("/api/v1/shops/{shop}/payouts"),
            json!({"amount": {"amount": 1, "currency": "VND"}}),
            [404, 404, 404, 422, 403],
        ),
        (
            "POST",
            format!("/api/v1/payments/{id}/refund"),
            json!({"amount": 1, "reason": "matrix"}),
            [403, 403, 403, 403, 201],
        ),
        (
            "GET",
            "/api/v1/payments/chargebacks".to_owned(),
            json!(null),
            [403, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/payments/transactions".to_owned(),
            json!(null),
            [403, 403, 403, 403, 200],
        ),
        (
            "GET",
            format!("/api/v1/orders/{order}/invoice"),
            json!(null),
            [200, 404, 404, 200, 200],
        ),
    ];
    // The invoice is issued asynchronously once paid: wait for it before checking who sees it.
    eventually("the invoice was issued", || async {
        (ctx.get(&format!("/api/v1/orders/{order}/invoice"), Some(&p.buyer))
            .await
            .status
            == 200)
            .then_some(())
    })
    .await;
    let callers = [
        &p.buyer,
        &other_buyer,
        &other_shop.seller_token,
        &p.shop.seller_token,
        &admin,
    ];
    for (method, path, body, expected) in &routes {
        let anonymous = ctx
            .send(
                method.parse().unwrap(),
                path,
                None,
                (!body.is_null()).then(|| body.clone()),
            )
            .await;
        anonymous.problem(401);
        for (caller, want) in callers.iter().zip(expected) {
            let r = ctx
                .send(
                    method.parse().unwrap(),
                    path,
                    Some(caller),
                    (!body.is_null()).then(|| body.clone()),
                )
                .await;
            assert_eq!(r.status.as_u16(), *want, "{method} {path}: {}", r.text);
        }
    }
    let invoice = ctx
        .get(&format!("/api/v1/orders/{order}/invoice"), Some(&p.buyer))
        .await;
    let pdf = ctx
        .http
        .get(invoice.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        pdf.bytes().await.unwrap().starts_with(b"%PDF-"),
        "the link serves the PDF"
    );
}

#[tokio::test]
async fn saved_payment_methods_hold_provider_tokens_only_and_one_default() {
    let ctx = Ctx::new();
    let (_, buyer, _) = ctx.user("methods").await;
    let card = ctx
        .post(
            "/api/v1/payments/methods",
            Some(&buyer),
            json!({"provider": "stripe", "token": "4242424242424242", "label": "My card"}),
        )
        .await;
    card.problem(422);
    assert_eq!(card.error_fields(), ["token"], "{}", card.text);
    let mut ids = Vec::new();
    for (provider, token) in [("stripe", "pm_1TokenAAAA"), ("paypal", "BA-9VAULTID")] {
        let r = ctx
            .post(
                "/api/v1/payments/methods",
                Some(&buyer),
                json!({"provider": provider, "token": token, "label": format!("{provider} method"), "last4": "4242"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert!(
            !r.text.contains(token),
            "the token is never sent back: {}",
            r.text
        );
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = ctx
        .put(
            &format!("/api/v1/payments/methods/{}/default", ids[1]),
            Some(&buyer),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = ctx.get("/api/v1/payments/methods", Some(&buyer)).await;
    let defaults: Vec<&Value> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1, "{}", list.text);
    assert_eq!(defaults[0]["id"], ids[1].as_str());
    // Another user neither sees nor touches them.
    let (_, other, _) = ctx.user("methods-other").await;
    assert_eq!(
        ctx.get("/api/v1/payments/methods", Some(&other)).await.body,
        json!([])
    );
    ctx.delete(
        &format!("/api/v1/payments/methods/{}", ids[0]),
        Some(&other),
    )
    .await
    .problem(404);
    let gone = ctx
        .delete(
            &format!("/api/v1/payments/methods/{}", ids[1]),
            Some(&buyer),
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let list = ctx.get("/api/v1/payments/methods", Some(&buyer)).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{}", list.text);
    assert_eq!(
        list.body[0]["is_default"], false,
        "the deleted default is no default any more"
    );
}

#[tokio::test]
async fn an_accepted_return_refunds_the_order_through_its_provider() {
    let ctx = Ctx::new();
    let p = ctx
        .place_one("return-refund", 210_000, "VND", "online")
        .await;
    let payment = pay(&ctx, &p, "stripe").await;
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();
    let intent = payment.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    ctx.sandbox(
        "pay",
        json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
    )
    .await;
    let order = &p.orders[0];
    ctx.deliver_order(&p.shop.seller_token, order).await;
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/return"),
            Some(&p.buyer),
            json!({"reason": "The seam is torn"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/return/accept"),
            Some(&p.shop.seller_token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The escrow consumer refunds the order's money through Stripe and moves it to refunded.
    eventually("the return was refunded", || async {
        (order_status(&ctx, &p.buyer, order).await == "refunded").then_some(())
    })
    .await;
    let s = ctx
        .get(
            &format!("/api/v1/payments/{payment_id}/refund-status"),
            Some(&p.buyer),
        )
        .await;
    assert_eq!(
        s.body["refunded"]["amount"].as_i64(),
        Some(p.total),
        "{}",
        s.text
    );
    assert_eq!(s.body["refunds"][0]["order_id"], order.as_str());
    let b = balance(&ctx, &p.shop).await;
    assert_eq!(
        (b["pending"].as_i64(), b["available"].as_i64()),
        (Some(0), Some(0)),
        "{b}"
    );
}
