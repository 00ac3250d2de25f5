//! The marketplace's own delivery fleet, end to end against the emulator and the dev server
//! (whose pump runs the dispatcher): shippers register, are approved and go online; confirmed
//! orders become shipments offered to the nearest free shipper; offers are accepted, declined
//! or lapse; parcels move to the buyer's door or back to the shop, moving their orders.
//!
//! Each test puts its shop and shippers in a province of its own, so that the orders of other
//! tests (all in Hà Nội) are never offered to its shippers. The stack runs with
//! `ShipmentOfferSeconds=10` (infra/local/test.sh).

use std::time::Duration;

use e2e::{
    Ctx, PASSWORD, TestShipper as Shipper, TestShop, eventually, eventually_within, png,
    unique_email,
};
use futures::future::join_all;
use serde_json::{Value, json};

/// A shipper of the fleet, approved and online at `at` (see [`Ctx::test_shipper`]).
async fn shipper(ctx: &Ctx, admin: &str, province: &str, at: (f64, f64), capacity: u32) -> Shipper {
    ctx.test_shipper(admin, province, at, capacity).await
}

/// A buyer with an e-mail address we know: (e-mail, access token).
async fn buyer(ctx: &Ctx, prefix: &str) -> (String, String) {
    let email = unique_email(prefix);
    let r = ctx.register(&email, PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = ctx.login(&email, PASSWORD).await;
    assert_eq!(t.status, 200, "{}", t.text);
    (email, t.body["access_token"].as_str().unwrap().to_owned())
}

/// One product of `shop` with `stock` units: (product id, sku).
async fn product(ctx: &Ctx, shop: &TestShop, stock: i64) -> (String, String) {
    ctx.parcel_product(shop, stock).await
}

/// A cash-on-delivery order of one unit, placed by `buyer` to `address`; its id.
async fn cod_order(ctx: &Ctx, buyer: &str, address: &str, product: &(String, String)) -> String {
    ctx.cod_order(buyer, address, product).await
}

/// The shipment as an admin sees it, once the dispatcher has created it.
async fn shipment(ctx: &Ctx, admin: &str, order: &str) -> Value {
    eventually("the dispatcher creates the shipment", || async {
        let r = ctx
            .get(&format!("/api/v1/shipping/{order}/tracking"), Some(admin))
            .await;
        (r.status == 200).then_some(r.body)
    })
    .await
}

/// Waits until the shipment of `order` is offered to someone, and returns to whom.
async fn offered_to(ctx: &Ctx, admin: &str, order: &str) -> String {
    ctx.offered_to(admin, order).await
}

async fn move_to(ctx: &Ctx, who: &Shipper, order: &str, body: Value) -> e2e::Reply {
    ctx.put(
        &format!("/api/v1/shipping/{order}/status"),
        Some(&who.token),
        body,
    )
    .await
}

async fn order_status(ctx: &Ctx, buyer: &str, order: &str) -> String {
    let r = ctx
        .get(&format!("/api/v1/orders/{order}"), Some(buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["status"].as_str().unwrap().to_owned()
}

async fn load_of(ctx: &Ctx, admin: &str, who: &Shipper) -> u64 {
    let r = ctx
        .get(
            &format!("/api/v1/shipping/shippers/{}", who.id),
            Some(admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["load"].as_u64().unwrap()
}

/// Uploads a delivery photo as the shipper's app does; its id.
async fn proof_photo(ctx: &Ctx, who: &Shipper, order: &str) -> String {
    let bytes = png(64, 48);
    let grant = ctx
        .post(
            &format!("/api/v1/shipping/{order}/proof-photos"),
            Some(&who.token),
            json!({"content_type": "image/png", "size_bytes": bytes.len()}),
        )
        .await;
    assert_eq!(grant.status, 201, "{}", grant.text);
    let mut put = ctx
        .http
        .put(grant.body["upload_url"].as_str().unwrap())
        .body(bytes);
    for (k, v) in grant.body["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    let stored = Ctx::read(put.send().await.unwrap()).await;
    assert!(stored.status.is_success(), "upload: {}", stored.text);
    grant.body["photo_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_cod_order_is_offered_to_the_nearest_shipper_and_delivered_to_the_door() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Hải Phòng: the shop in Phường Hải Dương, shippers 6, 1 and 3 km north of it
    let shop = ctx
        .test_shop_at("fleet-cod", "Hải Phòng", (20.941, 106.344))
        .await;
    let far = shipper(&ctx, &admin, "Hải Phòng", (20.995, 106.344), 2).await;
    let near = shipper(&ctx, &admin, "hai phong", (20.950, 106.344), 2).await;
    let mid = shipper(&ctx, &admin, "TP Hải Phòng", (20.968, 106.344), 2).await;
    let product = product(&ctx, &shop, 10).await;
    let (email, buyer) = buyer(&ctx, "fleet-cod-buyer").await;
    let address = ctx.test_address_at(&buyer, "Thành Đông", "Hải Phòng").await;
    let order = cod_order(&ctx, &buyer, &address, &product).await;

    let created = shipment(&ctx, &admin, &order).await;
    assert_eq!(created["status"], "awaiting_pickup");
    assert!(
        created["tracking_number"]
            .as_str()
            .unwrap()
            .starts_with("MX")
    );
    assert_eq!(
        created["cod_amount"]["amount"],
        created["cod_amount"]["amount"]
    );
    assert_eq!(
        offered_to(&ctx, &admin, &order).await,
        near.id,
        "the nearest of three"
    );
    assert_eq!(
        load_of(&ctx, &admin, &near).await,
        1,
        "the offer holds a slot"
    );
    for other in [&far, &mid] {
        let r = ctx
            .post(
                &format!("/api/v1/shipping/{order}/accept"),
                Some(&other.token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 404, "another shipper cannot take it: {}", r.text);
    }
    let jobs = ctx
        .get(
            &format!("/api/v1/shipping/shippers/{}/shipments", near.id),
            Some(&near.token),
        )
        .await;
    assert_eq!(
        jobs.body["items"][0]["order_id"],
        order.as_str(),
        "{}",
        jobs.text
    );

    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&near.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["assignment"], "accepted");
    assert_eq!(
        r.body["recipient"]["recipient_name"], "Bao Buyer",
        "the shipper sees whom to deliver to: {}",
        r.text
    );
    let r = move_to(
        &ctx,
        &near,
        &order,
        json!({"status": "delivered", "proof": {"otp": "000000"}}),
    )
    .await;
    assert_eq!(r.status, 409, "no skipping to delivered: {}", r.text);
    // the buyer watches the parcel live
    let mut watch = e2e::ws::connect(&ctx.base, Some(&buyer))
        .await
        .expect("the buyer connects to the live feed");
    assert_eq!(watch.subscribe(&order).await["type"], "subscribed");
    let r = move_to(&ctx, &near, &order, json!({"status": "picked_up"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(order_status(&ctx, &buyer, &order).await, "shipped");

    let r = move_to(&ctx, &near, &order, json!({"status": "in_transit"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let path = [
        (20.945, 106.340),
        (20.948, 106.337),
        (20.951, 106.334),
        (20.954, 106.331),
        (20.957, 106.328),
    ];
    for (i, (lat, lng)) in path.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(3_100)).await;
        }
        let r = ctx
            .post(
                &format!("/api/v1/shipping/{order}/location"),
                Some(&near.token),
                json!({"lat": lat, "lng": lng}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    // the five positions reach the socket in order, each a small frame with nothing personal
    let (mut positions, mut statuses) = (Vec::new(), Vec::new());
    while positions.len() < path.len() {
        let frame = watch
            .next_json(Duration::from_secs(30))
            .await
            .expect("a frame of the live feed");
        assert_eq!(frame["order_id"], order.as_str(), "{frame}");
        match frame["type"].as_str() {
            Some("location") => {
                let mut keys: Vec<&str> = frame
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                keys.sort_unstable();
                assert_eq!(keys, ["at", "lat", "lng", "order_id", "type"], "{frame}");
                positions.push((
                    frame["lat"].as_f64().unwrap(),
                    frame["lng"].as_f64().unwrap(),
                ));
            }
            Some("status") => statuses.push(frame["status"].as_str().unwrap().to_owned()),
            _ => panic!("an unexpected frame: {frame}"),
        }
    }
    assert_eq!(positions, path, "every position, in the order sent");
    assert!(
        statuses.contains(&"picked_up".to_owned()) && statuses.contains(&"in_transit".to_owned()),
        "{statuses:?}"
    );
    let tracked = ctx
        .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&buyer))
        .await;
    assert_eq!(tracked.body["position"]["lat"], 20.957, "{}", tracked.text);
    let code = tracked.body["delivery_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6, "the buyer sees the delivery code");

    let r = move_to(&ctx, &near, &order, json!({"status": "out_for_delivery"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = move_to(
        &ctx,
        &near,
        &order,
        json!({"status": "delivered", "proof": {"otp": wrong}}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["proof.otp"]);
    let r = move_to(
        &ctx,
        &near,
        &order,
        json!({"status": "delivered", "proof": {"photo_id": "01NOSUCHPHOTO"}}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["proof.photo_id"]);
    let photo = proof_photo(&ctx, &near, &order).await;
    let r = move_to(
        &ctx,
        &near,
        &order,
        json!({"status": "delivered", "proof": {"photo_id": photo}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["proof"]["kind"], "photo");
    assert_eq!(
        r.body["cod_collected"], r.body["cod_amount"],
        "the cash was collected"
    );
    assert_eq!(order_status(&ctx, &buyer, &order).await, "delivered");
    let delivered = loop {
        let frame = watch
            .next_json(Duration::from_secs(30))
            .await
            .expect("the delivery on the live feed");
        if frame["type"] == "status" && frame["status"] == "delivered" {
            break frame;
        }
    };
    assert_eq!(delivered["order_id"], order.as_str());
    assert_eq!(
        load_of(&ctx, &admin, &near).await,
        0,
        "the slot is free again"
    );
    let statuses: Vec<&str> = r.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "awaiting_pickup",
            "picked_up",
            "in_transit",
            "out_for_delivery",
            "delivered"
        ]
    );
    let mail = ctx
        .wait_for_mail(
            &email,
            &format!("Your order {order} at fleet-cod shop: delivered"),
        )
        .await;
    assert!(mail.contains("was delivered"), "{mail}");
}

#[tokio::test]
async fn thirty_orders_and_five_shippers_of_capacity_two_never_overfill_a_shipper() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Đà Nẵng: the shop in Phường Hòa Khánh; five shippers around it
    let shop = ctx
        .test_shop_at("fleet-cap", "Đà Nẵng", (16.0471, 108.131))
        .await;
    let mut shippers = Vec::new();
    for i in 0..5 {
        shippers.push(
            shipper(
                &ctx,
                &admin,
                "Đà Nẵng",
                (16.05 + 0.004 * i as f64, 108.13),
                2,
            )
            .await,
        );
    }
    let product = product(&ctx, &shop, 100).await;
    // six buyers place five orders each, the buyers at once
    let buyers = join_all((0..6).map(|_| async {
        let (_, token) = buyer(&ctx, "fleet-cap-buyer").await;
        let address = ctx.test_address_at(&token, "Liên Chiểu", "Đà Nẵng").await;
        (token, address)
    }))
    .await;
    let orders: Vec<String> = join_all(buyers.iter().map(|(token, address)| async {
        let mut mine = Vec::new();
        for _ in 0..5 {
            mine.push(cod_order(&ctx, token, address, &product).await);
        }
        mine
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(orders.len(), 30);

    // Phase 1: the shippers, all at once, take every offer as it comes until every slot holds
    // an accepted parcel: exactly ten, two each, and the other twenty wait. Offers lapse after
    // 10 s; on a loaded machine some do before they are taken, and a shipment every shipper let
    // lapse waits for the dispatcher's minute tick, which offers it to anyone: hence 3 minutes.
    let accepted = eventually_within(
        Duration::from_secs(180),
        "every slot holds an accepted parcel",
        || async {
            let rounds = join_all(shippers.iter().map(|s| take_offers(&ctx, s, &orders))).await;
            let mut accepted = 0;
            for jobs in rounds {
                // a shipper's open jobs are the parcels their load counts
                assert!(jobs.len() <= 2, "a shipper over capacity: {jobs:?}");
                accepted += jobs
                    .iter()
                    .filter(|j| j["assignment"] == "accepted")
                    .count();
            }
            // every round is five index queries on the emulator: not faster than once a second
            tokio::time::sleep(Duration::from_millis(700)).await;
            (accepted == 10).then_some(accepted)
        },
    )
    .await;
    assert_eq!(accepted, 10);
    let (ctx_ref, admin_ref) = (&ctx, &admin);
    let views = join_all(orders.iter().map(|o| async move {
        ctx_ref
            .get(&format!("/api/v1/shipping/{o}/tracking"), Some(admin_ref))
            .await
            .body
    }))
    .await;
    let count = |a: &str| views.iter().filter(|t| t["assignment"] == a).count();
    assert_eq!(
        (count("accepted"), count("offered"), count("waiting")),
        (10, 0, 20)
    );
    for s in &shippers {
        assert_eq!(load_of(&ctx, &admin, s).await, 2);
    }

    // Phase 2: deliveries free slots; the waiting shipments are offered as they do. The five
    // shippers work at once; the buyers' delivery codes are read once.
    let codes: std::collections::HashMap<String, String> =
        join_all(orders.iter().enumerate().map(|(i, o)| {
            let (ctx, buyer) = (&ctx, &buyers[i / 5].0);
            async move {
                let t = ctx
                    .get(&format!("/api/v1/shipping/{o}/tracking"), Some(buyer))
                    .await;
                (
                    o.clone(),
                    t.body["delivery_code"].as_str().unwrap().to_owned(),
                )
            }
        }))
        .await
        .into_iter()
        .collect();
    let mut delivered = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while delivered.len() < orders.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 30 delivered",
            delivered.len()
        );
        let rounds = join_all(shippers.iter().map(|s| {
            let (ctx, orders, codes) = (&ctx, &orders, &codes);
            async move {
                let jobs = take_offers(ctx, s, orders).await;
                assert!(jobs.len() <= 2, "a shipper over capacity: {jobs:?}");
                let mut done = Vec::new();
                for job in jobs.iter().filter(|j| j["assignment"] == "accepted") {
                    let id = job["order_id"].as_str().unwrap().to_owned();
                    for status in ["picked_up", "out_for_delivery"] {
                        let r = move_to(ctx, s, &id, json!({"status": status})).await;
                        assert_eq!(r.status, 200, "{}", r.text);
                    }
                    let proof = json!({"status": "delivered", "proof": {"otp": codes[&id]}});
                    let r = move_to(ctx, s, &id, proof).await;
                    assert_eq!(r.status, 200, "{}", r.text);
                    done.push(id);
                }
                done
            }
        }))
        .await;
        delivered.extend(rounds.into_iter().flatten());
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
    for s in &shippers {
        assert_eq!(load_of(&ctx, &admin, s).await, 0);
    }
}

/// Accepts every offer in the shipper's jobs; returns the jobs as they are after it.
async fn take_offers(ctx: &Ctx, s: &Shipper, orders: &[String]) -> Vec<Value> {
    let jobs = ctx
        .get(
            &format!("/api/v1/shipping/shippers/{}/shipments", s.id),
            Some(&s.token),
        )
        .await;
    assert_eq!(jobs.status, 200, "{}", jobs.text);
    let mut out = Vec::new();
    for mut job in jobs.body["items"].as_array().unwrap().clone() {
        let id = job["order_id"].as_str().unwrap().to_owned();
        assert!(
            orders.contains(&id),
            "only this test's orders reach its shippers"
        );
        if job["assignment"] == "offered" {
            let r = ctx
                .post(
                    &format!("/api/v1/shipping/{id}/accept"),
                    Some(&s.token),
                    json!({}),
                )
                .await;
            match r.status.as_u16() {
                200 => job["assignment"] = json!("accepted"),
                // the offer lapsed meanwhile: offered again, to this shipper (409) or another (404)
                404 | 409 => continue,
                _ => panic!("accepting an offer: {}", r.text),
            }
        }
        out.push(job);
    }
    out
}

#[tokio::test]
async fn a_declined_offer_and_a_lapsed_one_go_to_the_next_nearest_shipper() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Cần Thơ: the shop in Phường Ninh Kiều; shippers 1, 2 and 4 km away
    let shop = ctx
        .test_shop_at("fleet-next", "Cần Thơ", (10.0331, 105.777))
        .await;
    let first = shipper(&ctx, &admin, "Cần Thơ", (10.042, 105.777), 2).await;
    let second = shipper(&ctx, &admin, "Cần Thơ", (10.051, 105.777), 2).await;
    let third = shipper(&ctx, &admin, "Cần Thơ", (10.069, 105.777), 2).await;
    let product = product(&ctx, &shop, 5).await;
    let (_, buyer) = buyer(&ctx, "fleet-next-buyer").await;
    let address = ctx.test_address_at(&buyer, "Cái Khế", "Cần Thơ").await;
    let order = cod_order(&ctx, &buyer, &address, &product).await;

    assert_eq!(offered_to(&ctx, &admin, &order).await, first.id);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/decline"),
            Some(&first.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        load_of(&ctx, &admin, &first).await,
        0,
        "a decline frees the slot"
    );
    let next = eventually("offered to the second nearest", || async {
        let t = ctx
            .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&admin))
            .await
            .body;
        (t["assignment"] == "offered" && t["shipper_id"] != first.id.as_str()).then_some(t)
    })
    .await;
    assert_eq!(next["shipper_id"], second.id.as_str());
    // the second lets it lapse (10 s): the third nearest is offered it
    let lapsed_at = next["offer_expires_at"].as_i64().unwrap();
    let last = eventually("offered to the third after the lapse", || async {
        let t = ctx
            .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&admin))
            .await
            .body;
        (t["assignment"] == "offered" && t["shipper_id"] == third.id.as_str()).then_some(t)
    })
    .await;
    assert!(last["offer_expires_at"].as_i64().unwrap() > lapsed_at);
    assert_eq!(
        load_of(&ctx, &admin, &second).await,
        0,
        "a lapsed offer frees the slot"
    );
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&second.token),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "the lapsed offer cannot be taken any more: {}",
        r.text
    );
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&third.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn three_failed_attempts_return_the_parcel_and_release_the_stock_once() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Huế: the shop in Phường Phú Xuân, one shipper
    let shop = ctx
        .test_shop_at("fleet-fail", "Huế", (16.4785, 107.577))
        .await;
    let rider = shipper(&ctx, &admin, "Huế", (16.48, 107.58), 1).await;
    let (product_id, sku) = product(&ctx, &shop, 7).await;
    let (_, buyer) = buyer(&ctx, "fleet-fail-buyer").await;
    let address = ctx.test_address_at(&buyer, "Vỹ Dạ", "Huế").await;
    let order = cod_order(&ctx, &buyer, &address, &(product_id.clone(), sku.clone())).await;
    let stock = ctx.stock_of(&shop, &product_id, &sku).await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(6), Some(1))
    );

    assert_eq!(offered_to(&ctx, &admin, &order).await, rider.id);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&rider.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for status in ["picked_up", "out_for_delivery"] {
        assert_eq!(
            move_to(&ctx, &rider, &order, json!({"status": status}))
                .await
                .status,
            200
        );
    }
    for attempt in 1..=3 {
        let r = move_to(
            &ctx,
            &rider,
            &order,
            json!({"status": "failed_attempt", "note": "nobody home"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["attempts"], attempt);
        if attempt < 3 {
            assert_eq!(r.body["status"], "failed_attempt");
            assert_eq!(
                move_to(&ctx, &rider, &order, json!({"status": "out_for_delivery"}))
                    .await
                    .status,
                200
            );
        } else {
            assert_eq!(r.body["status"], "returned_to_shop", "{}", r.text);
        }
    }
    assert_eq!(order_status(&ctx, &buyer, &order).await, "cancelled");
    let stock = ctx.stock_of(&shop, &product_id, &sku).await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(7), Some(0)),
        "the reservation went back once: {stock}"
    );
    // nothing moves it again, and nothing releases the stock twice
    let r = move_to(&ctx, &rider, &order, json!({"status": "out_for_delivery"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = ctx.cancel_order(&buyer, &order).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let stock = ctx.stock_of(&shop, &product_id, &sku).await;
    assert_eq!(
        (stock["available"].as_i64(), stock["reserved"].as_i64()),
        (Some(7), Some(0))
    );
    assert_eq!(load_of(&ctx, &admin, &rider).await, 0);
}

#[tokio::test]
async fn only_the_assigned_shipper_moves_a_parcel_and_public_tracking_shows_no_address() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Khánh Hòa: the shop in Phường Nha Trang
    let shop = ctx
        .test_shop_at("fleet-authz", "Khánh Hòa", (12.2458, 109.1953))
        .await;
    let rider = shipper(&ctx, &admin, "Khánh Hòa", (12.25, 109.19), 1).await;
    let product = product(&ctx, &shop, 5).await;
    let (_, buyer) = buyer(&ctx, "fleet-authz-buyer").await;
    let address = ctx
        .test_address_at(&buyer, "Bắc Nha Trang", "Khánh Hòa")
        .await;
    let order = cod_order(&ctx, &buyer, &address, &product).await;
    assert_eq!(offered_to(&ctx, &admin, &order).await, rider.id);
    assert_eq!(
        ctx.post(
            &format!("/api/v1/shipping/{order}/accept"),
            Some(&rider.token),
            json!({})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        move_to(&ctx, &rider, &order, json!({"status": "picked_up"}))
            .await
            .status,
        200
    );

    // another (approved, online) shipper, the buyer, the seller and an admin cannot move it
    let (_, other_province) = ("", "Quảng Ninh");
    let stranger = shipper(&ctx, &admin, other_province, (20.9393, 107.122), 1).await;
    for token in [&stranger.token, &buyer, &shop.seller_token, &admin] {
        let r = ctx
            .put(
                &format!("/api/v1/shipping/{order}/status"),
                Some(token),
                json!({"status": "in_transit"}),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        let r = ctx
            .post(
                &format!("/api/v1/shipping/{order}/location"),
                Some(token),
                json!({"lat": 12.25, "lng": 109.19}),
            )
            .await;
        assert_eq!(
            r.status, 404,
            "a position for someone else's shipment: {}",
            r.text
        );
    }
    let r = ctx
        .get(
            &format!("/api/v1/shipping/{order}/tracking"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = ctx
        .get(
            &format!("/api/v1/shipping/{order}/tracking"),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the shop's staff follow their parcels: {}",
        r.text
    );
    assert!(
        r.body["delivery_code"].is_null(),
        "only the buyer sees the delivery code"
    );
    assert_eq!(
        r.body["recipient"]["phone"], "+84901234567",
        "the shop sees whom it ships to"
    );
    let own = ctx
        .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&buyer))
        .await;
    assert!(own.body["recipient"].is_null(), "{}", own.text);

    // positions: one every three seconds. The rider's idle position at sign-up counts
    // too, so on a fast run the first one may come too soon; then the 429's
    // Retry-After says when to send it again.
    let at = |lat: f64| json!({"lat": lat, "lng": 109.19});
    let mut first = ctx
        .post(
            &format!("/api/v1/shipping/{order}/location"),
            Some(&rider.token),
            at(12.251),
        )
        .await;
    if first.status == 429 {
        assert_eq!(first.headers["retry-after"], "3", "{}", first.text);
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        first = ctx
            .post(
                &format!("/api/v1/shipping/{order}/location"),
                Some(&rider.token),
                at(12.251),
            )
            .await;
    }
    assert_eq!(first.status, 202, "{}", first.text);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/{order}/location"),
            Some(&rider.token),
            at(12.252),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);

    // public tracking: the cities and the timeline, nothing personal
    let number = ctx
        .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&buyer))
        .await
        .body["tracking_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let public = ctx
        .get(&format!("/api/v1/shipping/track/{number}"), None)
        .await;
    assert_eq!(public.status, 200, "{}", public.text);
    assert_eq!(public.body["status"], "picked_up");
    assert_eq!(public.body["to_city"], "Khánh Hòa");
    for secret in [
        "Bao Buyer",
        "+84901234567",
        "12 Hang Bac",
        "Bắc Nha Trang",
        "delivery_code",
        "shipper_id",
        "buyer_id",
    ] {
        assert!(
            !public.text.contains(secret),
            "public tracking leaks {secret}: {}",
            public.text
        );
    }
    let mut typo = number.clone().into_bytes();
    typo[4] = if typo[4] == b'0' { b'1' } else { b'0' };
    let r = ctx
        .get(
            &format!(
                "/api/v1/shipping/track/{}",
                String::from_utf8(typo).unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        r.status, 422,
        "a typo is caught by the check character: {}",
        r.text
    );
    assert_eq!(r.error_fields(), ["tracking_number"]);
    let unknown = format!("MX0000000000{}", check_char("0000000000"));
    let r = ctx
        .get(&format!("/api/v1/shipping/track/{unknown}"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // labels: the shop prints them; a stranger cannot
    let r = ctx
        .post(
            "/api/v1/shipping/labels",
            Some(&shop.seller_token),
            json!({"order_ids": [order]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type(), "application/pdf");
    assert!(r.text.starts_with("%PDF-"));
    let r = ctx
        .post(
            "/api/v1/shipping/labels",
            Some(&stranger.token),
            json!({"order_ids": [order]}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn bad_fleet_input_is_a_4xx_naming_the_field() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("fleet-bad").await;
    let register = |body: Value| {
        let ctx = &ctx;
        let token = token.clone();
        async move {
            ctx.post("/api/v1/shipping/shippers/register", Some(&token), body)
                .await
        }
    };
    let base = json!({"name": "Giao", "phone": "+84912345678", "vehicle": "motorbike", "province": "Hà Nội", "capacity": 2});
    for (field, value, named) in [
        ("province", json!("Atlantis"), "province"),
        ("capacity", json!(0), "capacity"),
        ("capacity", json!(11), "capacity"),
        ("phone", json!("12"), "phone"),
        ("name", json!("x".repeat(10_000)), "name"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let r = register(body).await;
        assert_eq!(r.status, 422, "{field}: {}", r.text);
        assert_eq!(r.error_fields(), [named], "{}", r.text);
    }
    let r = register(json!({"name": "Giao", "phone": "+84912345678", "vehicle": "rocket", "province": "Hà Nội", "capacity": 2})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = register(base.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(register(base).await.status, 409, "one application per user");
    let id = r.body["id"].as_str().unwrap();
    for (lat, lng, field) in [(91.0, 105.0, "lat"), (21.0, -181.0, "lng")] {
        let r = ctx
            .post(
                &format!("/api/v1/shipping/shippers/{id}/location"),
                Some(&token),
                json!({"lat": lat, "lng": lng}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.error_fields(), [field]);
    }
    // NaN cannot be written in JSON; in a query string it is refused by name
    let admin = ctx.admin_token().await;
    let r = ctx
        .get(
            "/api/v1/shipping/shippers/available?lat=NaN&lng=105.8",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["lat"]);
    let r = ctx
        .post(
            &format!("/api/v1/shipping/shippers/{id}/location"),
            Some(&token),
            json!({"lat": "NaN", "lng": 1}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // addresses: an unknown province, a 10 000-character line
    let address = json!({"recipient_name": "A", "phone": "+84901234567", "line1": "1 Pho Hue", "city": "Atlantis", "country": "VN"});
    let r = ctx
        .post("/api/v1/users/me/addresses", Some(&token), address.clone())
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["city"]);
    assert!(
        r.text.contains("did you mean") || r.text.contains("province"),
        "{}",
        r.text
    );
    let mut long = address;
    long["city"] = json!("Hà Nội");
    long["line1"] = json!("x".repeat(10_000));
    let r = ctx
        .post("/api/v1/users/me/addresses", Some(&token), long)
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["line1"]);
    // a move a shipper never makes, and a delivery without proof
    let r = ctx
        .put(
            "/api/v1/shipping/01NOSUCHORDER/status",
            Some(&token),
            json!({"status": "returned_to_shop"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["status"]);
    let r = ctx
        .put(
            "/api/v1/shipping/01NOSUCHORDER/status",
            Some(&token),
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["proof"]);
}

#[tokio::test]
async fn checkout_prices_the_leg_and_the_preview_equals_the_order() {
    let ctx = Ctx::new();
    // the shop in Hoàn Kiếm (Hà Nội); the buyer in Hồ Chí Minh City, 1 100 km away
    let shop = ctx.test_shop("fleet-fee").await;
    let product = product(&ctx, &shop, 10).await;
    let (_, buyer) = buyer(&ctx, "fleet-fee-buyer").await;
    let far = ctx
        .test_address_at(&buyer, "Bến Thành", "Hồ Chí Minh")
        .await;
    ctx.add_to_cart(&buyer, &product.0, &product.1, 2).await;
    let cart = ctx.get("/api/v1/cart", Some(&buyer)).await;
    let estimate = cart.body["shops"][0]["shipping_fee"]["amount"]
        .as_i64()
        .unwrap();

    let r = ctx
        .post(
            "/api/v1/orders/preview",
            Some(&buyer),
            json!({"payment_method": "cod", "address_id": far, "shipping_method": "same_day"}),
        )
        .await;
    assert_eq!(r.status, 422, "same-day beyond 30 km: {}", r.text);
    assert_eq!(r.error_fields(), ["shipping_method"]);
    let req = ctx
        .http
        .post(format!("{}/api/v1/orders", ctx.base))
        .bearer_auth(&buyer)
        .header("idempotency-key", format!("fee-{}", ulid::Ulid::new()))
        .json(&json!({"payment_method": "cod", "address_id": far, "shipping_method": "same_day"}));
    let r = Ctx::read(req.send().await.unwrap()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), ["shipping_method"]);

    let preview = ctx
        .post(
            "/api/v1/orders/preview",
            Some(&buyer),
            json!({"payment_method": "cod", "address_id": far, "shipping_method": "express"}),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    let quote = &preview.body["shops"][0]["shipping"];
    assert_eq!(quote["zone"], "other_province", "{}", preview.text);
    assert_eq!(quote["method"], "express");
    assert!(quote["distance_km"].as_f64().unwrap() > 1_000.0);
    let fee = preview.body["shops"][0]["shipping_fee"]["amount"]
        .as_i64()
        .unwrap();
    assert!(
        fee > estimate,
        "1 100 km express costs more than the cart's same-district estimate"
    );
    let req = ctx
        .http
        .post(format!("{}/api/v1/orders", ctx.base))
        .bearer_auth(&buyer)
        .header("idempotency-key", format!("fee-{}", ulid::Ulid::new()))
        .json(&json!({"payment_method": "cod", "address_id": far, "shipping_method": "express"}));
    let placed = Ctx::read(req.send().await.unwrap()).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = &placed.body["orders"][0];
    assert_eq!(
        order["shipping_fee"]["amount"], fee,
        "the order is priced as previewed"
    );
    assert_eq!(order["total"], preview.body["total"], "to the minor unit");
}

/// The check character of a tracking number's body, computed here as the label documents it
/// (Crockford base-32 values weighted 1, 3, 5, … summed mod 32) rather than taken from the code.
fn check_char(body: &str) -> char {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let sum: usize = body
        .bytes()
        .enumerate()
        .map(|(i, b)| (2 * i + 1) * ALPHABET.iter().position(|a| *a == b).unwrap())
        .sum();
    ALPHABET[sum % 32] as char
}
