//! Handing parcels to an outside carrier (GHTK), end to end: the GHTK adapter calls the
//! provider sandbox (which imitates GHTK's API and posts its status callbacks to the API with
//! the callback URL's secret hash), and the shipment and its order move with the callbacks.
//!
//! The shops are in Nghệ An, where no test has shippers: their shipments wait for a shipper
//! until the shop hands them to GHTK.

use e2e::{Ctx, TestShop, eventually};
use serde_json::{Value, json};

/// Nghệ An: a shop in Phường Thành Vinh, a buyer in Phường Vinh Phú, one COD order.
async fn waiting_cod_order(ctx: &Ctx, prefix: &str) -> (TestShop, String, String) {
    let shop = ctx.test_shop_at(prefix, "Nghệ An", (18.675, 105.66)).await;
    let product = ctx.parcel_product(&shop, 5).await;
    let (_, buyer, _) = ctx.user(&format!("{prefix}-buyer")).await;
    let address = ctx.test_address_at(&buyer, "Vinh Phú", "Nghệ An").await;
    let order = ctx.cod_order(&buyer, &address, &product).await;
    (shop, buyer, order)
}

/// Waits until the dispatcher made the order's shipment and it waits for a shipper.
async fn waiting_for_a_shipper(ctx: &Ctx, admin: &str, order: &str) -> Value {
    eventually("the shipment waits for a shipper", || async {
        let r = ctx
            .get(&format!("/api/v1/shipping/{order}/tracking"), Some(admin))
            .await;
        (r.status == 200 && r.body["assignment"] == "waiting").then_some(r.body)
    })
    .await
}

async fn tracking(ctx: &Ctx, who: &str, order: &str) -> Value {
    let r = ctx
        .get(&format!("/api/v1/shipping/{order}/tracking"), Some(who))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn hand_to_ghtk(ctx: &Ctx, who: &str, order: &str) -> e2e::Reply {
    ctx.post(
        &format!("/api/v1/shipping/{order}/hand-over"),
        Some(who),
        json!({"carrier": "ghtk", "pickup_phone": "+84 912 345 678"}),
    )
    .await
}

/// What the sandbox received from the adapter for the `n`-th hand-over of `order`.
async fn booking(ctx: &Ctx, order: &str, n: u32) -> Value {
    let orders = ctx
        .sandbox_get(&format!("ghtk/orders?partner_id={order}-{n}"))
        .await;
    assert_eq!(orders.as_array().map(Vec::len), Some(1), "{orders}");
    orders[0].clone()
}

/// GHTK reports `status_id` for `label` (mode: `original`, `wrong_secret`, …); the callback's
/// answer.
async fn ghtk_says(ctx: &Ctx, label: &str, status_id: i64, mode: &str) -> Value {
    ctx.sandbox(
        "ghtk/status",
        json!({"label": label, "status_id": status_id, "mode": mode, "reason": "test"}),
    )
    .await
}

#[tokio::test]
async fn a_parcel_handed_to_ghtk_moves_its_order_with_the_carriers_callbacks() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    let providers = ctx.get("/api/v1/shipping/providers", None).await;
    assert!(
        providers.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "ghtk" && p["kind"] == "carrier"),
        "{}",
        providers.text
    );
    let (shop, buyer, order) = waiting_cod_order(&ctx, "carrier-flow").await;
    let waiting = waiting_for_a_shipper(&ctx, &admin, &order).await;
    assert_eq!(waiting["provider"], "own_fleet");

    // the buyer cannot hand it over; the body must say who and how to call the shop
    assert_eq!(hand_to_ghtk(&ctx, &buyer, &order).await.status, 403);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/hand-over"),
            Some(&shop.seller_token),
            json!({"carrier": "ghtk"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["errors"][0]["field"], "pickup_phone");
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/hand-over"),
            Some(&shop.seller_token),
            json!({"carrier": "ghn", "pickup_phone": "+84912345678"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["errors"][0]["field"], "carrier");
    assert!(
        r.text.contains("ghtk"),
        "names the carriers there are: {}",
        r.text
    );

    let r = hand_to_ghtk(&ctx, &shop.seller_token, &order).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["provider"], "ghtk");
    assert_eq!(r.body["assignment"], "carrier");
    let label = r.body["carrier_label"].as_str().unwrap().to_owned();
    assert!(label.starts_with('S'), "{label}");
    assert!(
        r.body["carrier_fee"]["amount"].as_i64().unwrap() > 0,
        "{}",
        r.text
    );

    // what GHTK was asked: names from the gazetteer, the cash to collect, the weights
    let sent = booking(&ctx, &order, 1).await;
    let req = &sent["request"]["order"];
    assert_eq!(req["pick_province"], "Tỉnh Nghệ An");
    assert_eq!(req["pick_ward"], "Phường Thành Vinh");
    assert_eq!(req["province"], "Tỉnh Nghệ An");
    assert_eq!(req["ward"], "Phường Vinh Phú");
    assert_eq!(req["pick_tel"], "+84912345678");
    let placed = ctx
        .get(&format!("/api/v1/orders/{order}"), Some(&buyer))
        .await;
    assert_eq!(
        req["pick_money"], placed.body["total"]["amount"],
        "{}",
        placed.text
    );
    assert_eq!(sent["request"]["products"][0]["weight"], 0.8);

    // handed over: neither a shipper nor another carrier can take it now
    assert_eq!(
        hand_to_ghtk(&ctx, &shop.seller_token, &order).await.status,
        409
    );
    let r = ctx
        .post(
            &format!("/api/v1/shipping/assign/{order}"),
            Some(&shop.seller_token),
            json!({"shipper_id": "01NOSUCHSHIPPER"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);

    // a callback with the wrong secret changes nothing
    let forged = ghtk_says(&ctx, &label, 3, "wrong_secret").await;
    assert_eq!(forged["status"], 403, "{forged}");
    assert_eq!(
        tracking(&ctx, &admin, &order).await["status"],
        "awaiting_pickup"
    );

    // picked up: the order ships, with GHTK's tracking number
    let picked = ghtk_says(&ctx, &label, 3, "original").await;
    assert_eq!(picked["status"], 200, "{picked}");
    assert_eq!(picked["body"]["applied"], true);
    assert_eq!(picked["body"]["status"], "picked_up");
    let o = ctx
        .get(&format!("/api/v1/orders/{order}"), Some(&buyer))
        .await;
    assert_eq!(o.body["status"], "shipped", "{}", o.text);
    assert_eq!(o.body["shipment"]["carrier"], "ghtk");
    assert_eq!(o.body["shipment"]["tracking_number"], label.as_str());
    // the same callback again is acknowledged and changes nothing
    let again = ctx
        .sandbox(
            &format!(
                "deliveries/{}/redeliver",
                picked["delivery_id"].as_str().unwrap()
            ),
            json!({"mode": "duplicate"}),
        )
        .await;
    assert_eq!(again["status"], 200, "{again}");
    assert_eq!(again["body"]["applied"], false);

    // delivered, without GHTK saying "delivering" first: the skipped move is filled in
    let delivered = ghtk_says(&ctx, &label, 5, "original").await;
    assert_eq!(delivered["status"], 200, "{delivered}");
    assert_eq!(delivered["body"]["status"], "delivered");
    let t = tracking(&ctx, &admin, &order).await;
    let steps: Vec<&str> = t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "awaiting_pickup",
            "awaiting_pickup",
            "picked_up",
            "out_for_delivery",
            "delivered"
        ],
        "{t}"
    );
    assert_eq!(t["proof"]["kind"], "carrier");
    assert_eq!(t["cod_collected"], t["cod_amount"]);
    let o = ctx
        .get(&format!("/api/v1/orders/{order}"), Some(&buyer))
        .await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    // the buyer sees the carrier's tracking number, not what GHTK charges the marketplace
    let seen = tracking(&ctx, &buyer, &order).await;
    assert_eq!(seen["carrier_label"], label.as_str());
    assert!(seen["carrier_fee"].is_null(), "{seen}");
    // a late "delivering" after delivery is acknowledged and ignored
    let late = ghtk_says(&ctx, &label, 4, "original").await;
    assert_eq!(late["status"], 200, "{late}");
    assert_eq!(late["body"]["applied"], false);
    assert_eq!(late["body"]["status"], "delivered");
}

#[tokio::test]
async fn a_cancelled_order_cancels_its_booking_and_a_booking_ghtk_drops_waits_again() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    let (_, buyer, order) = waiting_cod_order(&ctx, "carrier-cancel").await;
    waiting_for_a_shipper(&ctx, &admin, &order).await;
    let r = hand_to_ghtk(&ctx, &admin, &order).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ctx.cancel_order(&buyer, &order).await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually("the booking is cancelled at GHTK", || async {
        let sent = booking(&ctx, &order, 1).await;
        (sent["status_id"] == -1).then_some(())
    })
    .await;
    assert_eq!(tracking(&ctx, &admin, &order).await["status"], "cancelled");

    // GHTK drops a booking before pickup: the shipment waits for a shipper or a carrier again
    let (_, _, second) = waiting_cod_order(&ctx, "carrier-drop").await;
    waiting_for_a_shipper(&ctx, &admin, &second).await;
    let r = hand_to_ghtk(&ctx, &admin, &second).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let label = r.body["carrier_label"].as_str().unwrap().to_owned();
    let dropped = ghtk_says(&ctx, &label, -1, "original").await;
    assert_eq!(dropped["status"], 200, "{dropped}");
    assert_eq!(dropped["body"]["applied"], true);
    let t = tracking(&ctx, &admin, &second).await;
    assert_eq!(t["assignment"], "waiting", "{t}");
    assert_eq!(t["provider"], "own_fleet");
    assert!(t["carrier_label"].is_null());
    // a callback for a label the shipment no longer has is not ours
    let stale = ghtk_says(&ctx, &label, 3, "original").await;
    assert_eq!(stale["status"], 404, "{stale}");

    // handed over again, it is a new booking; GHTK sets out, then returns it to the shop
    let r = hand_to_ghtk(&ctx, &admin, &second).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = r.body["carrier_label"].as_str().unwrap().to_owned();
    assert_ne!(again, label);
    assert_eq!(booking(&ctx, &second, 2).await["label"], again.as_str());
    let out = ghtk_says(&ctx, &again, 4, "original").await;
    assert_eq!(out["body"]["status"], "out_for_delivery", "{out}");
    let back = ghtk_says(&ctx, &again, 21, "original").await;
    assert_eq!(back["status"], 200, "{back}");
    assert_eq!(back["body"]["status"], "returned_to_shop");
    let o = ctx
        .get(&format!("/api/v1/orders/{second}"), Some(&admin))
        .await;
    assert_eq!(o.body["status"], "cancelled", "{}", o.text);
    assert!(o.text.contains("GHTK could not deliver it"), "{}", o.text);
}
