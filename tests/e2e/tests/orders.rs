//! Orders end to end: the lifecycle of a cash-on-delivery order through every shop move to a
//! return, illegal moves, a multi-shop checkout that adds up to its preview, who may see and
//! touch an order, and bad input at checkout.

use e2e::{Ctx, NewVariant, TestShop};
use serde_json::{Value, json};

fn key() -> String {
    format!("checkout-{}", ulid::Ulid::new())
}

async fn add(ctx: &Ctx, token: &str, product: &str, sku: &str, quantity: i64) {
    ctx.add_to_cart(token, product, sku, quantity).await;
}

async fn checkout(ctx: &Ctx, token: &str, address: &str, method: &str, key: &str) -> e2e::Reply {
    ctx.checkout(token, address, method, key).await
}

/// A buyer (token, address id) with one line of `product/sku` in the cart.
async fn buyer_with(ctx: &Ctx, product: &str, sku: &str, quantity: i64) -> (String, String) {
    let (_, token, _) = ctx.user("buyer").await;
    let address = ctx.test_address(&token).await;
    add(ctx, &token, product, sku, quantity).await;
    (token, address)
}

fn statuses(timeline: &Value) -> Vec<String> {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

/// A small real PNG.
fn small_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Uploads `bytes` as a PNG return photo of order `id` through its presigned URL; its photo id.
async fn upload_return_photo(ctx: &Ctx, buyer: &str, id: &str, bytes: Vec<u8>) -> String {
    let upload = move_order(
        ctx,
        buyer,
        id,
        "return-photos",
        json!({"content_type": "image/png", "size_bytes": bytes.len()}),
    )
    .await;
    assert_eq!(upload.status, 201, "{}", upload.text);
    let put = ctx
        .http
        .put(upload.body["upload_url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{:?}", put.status());
    upload.body["photo_id"].as_str().unwrap().to_owned()
}

async fn move_order(ctx: &Ctx, token: &str, id: &str, action: &str, body: Value) -> e2e::Reply {
    ctx.post(&format!("/api/v1/orders/{id}/{action}"), Some(token), body)
        .await
}

#[tokio::test]
async fn a_cod_order_goes_from_confirmed_to_delivered_and_a_return_is_decided_by_the_shop() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("lifecycle").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "TEE",
                price: 150_000,
                stock: 8,
                weight_grams: 300,
            }],
        )
        .await;
    let (buyer, address) = buyer_with(&ctx, &product, &skus[0], 3).await;

    let placed = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = &placed.body["orders"][0];
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(
        order["status"], "confirmed",
        "cash on delivery confirms at once"
    );
    assert_eq!(order["lines"][0]["unit_price"]["amount"], 150_000);
    assert!(
        order["lines"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("Product"),
        "the line keeps the product's name: {order}"
    );
    assert_eq!(order["subtotal"]["amount"], 450_000);
    assert_eq!(
        order["shipping_fee"]["amount"], 15_000,
        "900 g ship for the base fee"
    );
    assert_eq!(order["total"]["amount"], 465_000);
    let stock = ctx.stock_of(&shop, &product, &skus[0]).await;
    assert_eq!(
        (
            stock["stock"].as_i64(),
            stock["reserved"].as_i64(),
            stock["available"].as_i64()
        ),
        (Some(8), Some(3), Some(5))
    );
    // the purchased line left the cart
    let cart = ctx.get("/api/v1/cart", Some(&buyer)).await;
    assert_eq!(
        cart.body["shops"].as_array().map(Vec::len),
        Some(0),
        "{}",
        cart.text
    );

    // illegal moves are 409 problems and change nothing
    move_order(
        &ctx,
        &shop.seller_token,
        &id,
        "ship",
        json!({"carrier": "GHN", "tracking_number": "GHN0001"}),
    )
    .await
    .problem(409);
    move_order(&ctx, &shop.seller_token, &id, "deliver", json!({}))
        .await
        .problem(409);
    move_order(&ctx, &buyer, &id, "complete", json!({}))
        .await
        .problem(409);
    // the buyer cannot make shop moves
    move_order(&ctx, &buyer, &id, "process", json!({}))
        .await
        .problem(403);

    assert_eq!(
        move_order(&ctx, &shop.seller_token, &id, "process", json!({}))
            .await
            .status,
        200
    );
    let shipped = move_order(
        &ctx,
        &shop.seller_token,
        &id,
        "ship",
        json!({"carrier": "GHN", "tracking_number": "GHN0001"}),
    )
    .await;
    assert_eq!(shipped.status, 200, "{}", shipped.text);
    assert_eq!(shipped.body["shipment"]["tracking_number"], "GHN0001");
    // nothing is cancelled once shipped
    move_order(
        &ctx,
        &buyer,
        &id,
        "cancel",
        json!({"reason": "too late now"}),
    )
    .await
    .problem(409);

    let delivered = move_order(&ctx, &shop.seller_token, &id, "deliver", json!({})).await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    assert!(delivered.body["return_deadline"].is_string());
    // delivery turns the reservation into a sale, recorded in the ledger
    let stock = ctx.stock_of(&shop, &product, &skus[0]).await;
    assert_eq!(
        (
            stock["stock"].as_i64(),
            stock["reserved"].as_i64(),
            stock["available"].as_i64()
        ),
        (Some(5), Some(0), Some(5))
    );
    let ledger = ctx
        .get(
            &format!("/api/v1/products/{product}/variants/{}/ledger", skus[0]),
            Some(&shop.seller_token),
        )
        .await;
    let entries = ledger.body["items"].as_array().unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e["delta"].as_i64().unwrap())
            .sum::<i64>(),
        5
    );
    assert!(
        entries
            .iter()
            .any(|e| e["reason"] == "sale" && e["delta"] == -3),
        "{}",
        ledger.text
    );

    // a return with a photo, rejected by the shop: back to delivered, and no second request.
    // A text file posing as a PNG is deleted by the media processor; a real PNG stays.
    let fake = upload_return_photo(&ctx, &buyer, &id, b"not a picture at all".to_vec()).await;
    let png = small_png();
    let photo = upload_return_photo(&ctx, &buyer, &id, png.clone()).await;
    ctx.wait_until_media_object_is_gone(&format!("returns/{id}/{fake}"), "the fake return photo")
        .await;
    let not_a_photo = move_order(
        &ctx,
        &buyer,
        &id,
        "return",
        json!({"reason": "Torn seam", "photo_ids": [fake]}),
    )
    .await;
    assert_eq!(
        not_a_photo.problem(422)["errors"][0]["field"],
        "photo_ids[0]"
    );
    let unknown = move_order(
        &ctx,
        &buyer,
        &id,
        "return",
        json!({"reason": "Torn seam", "photo_ids": ["01JNOSUCHPHOTO0000000000000"]}),
    )
    .await;
    assert_eq!(unknown.problem(422)["errors"][0]["field"], "photo_ids[0]");
    let asked = move_order(
        &ctx,
        &buyer,
        &id,
        "return",
        json!({"reason": "Torn seam", "photo_ids": [&photo]}),
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    assert_eq!(asked.body["status"], "return_requested");
    // the shop sees the photo through a short-lived link
    let seen = ctx
        .get(&format!("/api/v1/orders/{id}"), Some(&shop.seller_token))
        .await;
    let url = seen.body["return_request"]["photo_urls"][0]
        .as_str()
        .unwrap();
    assert_eq!(
        ctx.http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        png.as_slice()
    );
    let rejected = move_order(
        &ctx,
        &shop.seller_token,
        &id,
        "return/reject",
        json!({"reason": "Worn already"}),
    )
    .await;
    assert_eq!(rejected.body["status"], "delivered", "{}", rejected.text);
    move_order(
        &ctx,
        &buyer,
        &id,
        "return",
        json!({"reason": "Torn seam again"}),
    )
    .await
    .problem(409);
    let done = move_order(&ctx, &buyer, &id, "complete", json!({})).await;
    assert_eq!(done.body["status"], "completed");

    let timeline = ctx
        .get(&format!("/api/v1/orders/{id}/timeline"), Some(&buyer))
        .await;
    assert_eq!(
        statuses(&timeline.body["items"]),
        [
            "confirmed",
            "processing",
            "shipped",
            "delivered",
            "return_requested",
            "delivered",
            "completed"
        ]
    );
    let summary = ctx.get("/api/v1/orders/summary", Some(&buyer)).await;
    assert_eq!(summary.body["orders_placed"], 1, "{}", summary.text);
    assert_eq!(summary.body["by_status"], json!({"completed": 1}));
    assert_eq!(
        summary.body["spend"],
        json!([{"amount": 465_000, "currency": "VND"}])
    );

    // repeat the order: its item goes back into the cart
    let again = move_order(&ctx, &buyer, &id, "reorder", json!({})).await;
    assert_eq!(again.body["added"][0]["quantity"], 3, "{}", again.text);
    let cart = ctx.get("/api/v1/cart", Some(&buyer)).await;
    assert_eq!(
        cart.body["shops"][0]["lines"][0]["quantity"], 3,
        "{}",
        cart.text
    );
}

#[tokio::test]
async fn an_accepted_return_and_a_buyer_cancellation_release_or_keep_stock_as_they_should() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cancel").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "MUG",
                price: 90_000,
                stock: 4,
                weight_grams: 500,
            }],
        )
        .await;
    let (buyer, address) = buyer_with(&ctx, &product, &skus[0], 2).await;
    let placed = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    let id = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ctx.stock_of(&shop, &product, &skus[0]).await["available"],
        2
    );

    // a reason is required
    let r = move_order(&ctx, &buyer, &id, "cancel", json!({"reason": ""})).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "reason");
    let cancelled = move_order(
        &ctx,
        &buyer,
        &id,
        "cancel",
        json!({"reason": "Found it cheaper"}),
    )
    .await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.text);
    assert_eq!(cancelled.body["cancel_reason"], "Found it cheaper");
    let stock = ctx.stock_of(&shop, &product, &skus[0]).await;
    assert_eq!(
        (stock["reserved"].as_i64(), stock["available"].as_i64()),
        (Some(0), Some(4))
    );
    // cancelling twice is an illegal move, and releases nothing more
    move_order(&ctx, &buyer, &id, "cancel", json!({"reason": "Twice"}))
        .await
        .problem(409);
    assert_eq!(
        ctx.stock_of(&shop, &product, &skus[0]).await["available"],
        4
    );
    let summary = ctx.get("/api/v1/orders/summary", Some(&buyer)).await;
    assert_eq!(summary.body["by_status"], json!({"cancelled": 1}));
    assert_eq!(
        summary.body["spend"],
        json!([{"amount": 0, "currency": "VND"}])
    );

    // the shop cancels with a reason too
    add(&ctx, &buyer, &product, &skus[0], 1).await;
    let placed = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    let id = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    let by_shop = move_order(
        &ctx,
        &shop.seller_token,
        &id,
        "cancel",
        json!({"reason": "Out of packaging"}),
    )
    .await;
    assert_eq!(
        by_shop.body["timeline"][1]["actor"], "seller",
        "{}",
        by_shop.text
    );
    assert_eq!(
        ctx.stock_of(&shop, &product, &skus[0]).await["available"],
        4
    );
}

#[tokio::test]
async fn a_multi_shop_cart_becomes_one_order_per_shop_adding_up_to_the_preview() {
    let ctx = Ctx::new();
    let (a, b) = (
        ctx.test_shop("split-a").await,
        ctx.test_shop("split-b").await,
    );
    let (pa, sa) = ctx
        .test_product(
            &a,
            &[
                NewVariant {
                    sku: "A1",
                    price: 123_457,
                    stock: 10,
                    weight_grams: 700,
                },
                NewVariant {
                    sku: "A2",
                    price: 9_999,
                    stock: 10,
                    weight_grams: 150,
                },
            ],
        )
        .await;
    let (pb, sb) = ctx
        .test_product(
            &b,
            &[NewVariant {
                sku: "B1",
                price: 33_333,
                stock: 10,
                weight_grams: 1_200,
            }],
        )
        .await;
    let (_, buyer, _) = ctx.user("split").await;
    let address = ctx.test_address(&buyer).await;
    add(&ctx, &buyer, &pa, &sa[0], 2).await;
    add(&ctx, &buyer, &pa, &sa[1], 3).await;
    add(&ctx, &buyer, &pb, &sb[0], 1).await;

    let preview = ctx
        .post(
            "/api/v1/orders/preview",
            Some(&buyer),
            json!({"payment_method": "cod", "address_id": address}),
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert_eq!(preview.body["ready"], true, "{}", preview.text);
    let placed = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let orders = placed.body["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "one order per shop");
    assert_eq!(orders[0]["checkout_id"], orders[1]["checkout_id"]);
    let amount = |v: &Value| v["amount"].as_i64().unwrap();
    let total: i64 = orders.iter().map(|o| amount(&o["total"])).sum();
    assert_eq!(
        total,
        amount(&preview.body["total"]),
        "orders add up to the preview"
    );
    assert_eq!(amount(&placed.body["total"]), total);
    for o in orders {
        let shop_preview = preview.body["shops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["shop_id"] == o["shop_id"])
            .unwrap();
        for field in ["subtotal", "shipping_fee", "tax_included", "total"] {
            assert_eq!(
                o[field], shop_preview[field],
                "{field} of shop {}",
                o["shop_id"]
            );
        }
        let lines: i64 = o["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| amount(&l["line_total"]))
            .sum();
        assert_eq!(lines, amount(&o["subtotal"]));
        assert_eq!(
            amount(&o["total"]),
            amount(&o["subtotal"]) - amount(&o["shop_discount"]) - amount(&o["platform_discount"])
                + amount(&o["shipping_fee"])
        );
    }
    let order_a = orders
        .iter()
        .find(|o| o["shop_id"] == a.shop_id.as_str())
        .unwrap();
    assert_eq!(amount(&order_a["subtotal"]), 2 * 123_457 + 3 * 9_999);
    // 1850 g: base fee for the first kilogram, then two started 500 g steps
    assert_eq!(amount(&order_a["shipping_fee"]), 15_000 + 2 * 5_000);
    // each shop sees only its own order
    let list_a = ctx
        .get(
            &format!("/api/v1/shops/{}/orders", a.shop_id),
            Some(&a.seller_token),
        )
        .await;
    let ids: Vec<&Value> = list_a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert_eq!(ids, vec![&order_a["id"]]);
    // and the buyer's list has both, filterable by status
    let mine = ctx
        .get("/api/v1/orders?status=confirmed", Some(&buyer))
        .await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        mine.text
    );
    let none = ctx.get("/api/v1/orders?status=shipped", Some(&buyer)).await;
    assert_eq!(none.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn nobody_but_the_buyer_the_shop_and_admins_sees_or_moves_an_order() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("owner").await;
    let other_shop: TestShop = ctx.test_shop("other").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "OWN",
                price: 50_000,
                stock: 5,
                weight_grams: 100,
            }],
        )
        .await;
    let (buyer, address) = buyer_with(&ctx, &product, &skus[0], 1).await;
    let placed = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    let id = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    let (_, stranger, _) = ctx.user("stranger").await;

    for token in [&stranger, &other_shop.seller_token] {
        ctx.get(&format!("/api/v1/orders/{id}"), Some(token))
            .await
            .problem(404);
        ctx.get(&format!("/api/v1/orders/{id}/timeline"), Some(token))
            .await
            .problem(404);
        move_order(&ctx, token, &id, "cancel", json!({"reason": "not mine"}))
            .await
            .problem(404);
        move_order(&ctx, token, &id, "process", json!({}))
            .await
            .problem(404);
        move_order(&ctx, token, &id, "reorder", json!({}))
            .await
            .problem(404);
    }
    // another buyer's list never shows it; another shop's list neither
    let theirs = ctx.get("/api/v1/orders", Some(&stranger)).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
    ctx.get(
        &format!("/api/v1/shops/{}/orders", shop.shop_id),
        Some(&other_shop.seller_token),
    )
    .await
    .problem(404);
    ctx.get(
        &format!("/api/v1/shops/{}/orders", shop.shop_id),
        Some(&buyer),
    )
    .await
    .problem(404);
    // the shop reads it; an admin reads it
    assert_eq!(
        ctx.get(&format!("/api/v1/orders/{id}"), Some(&shop.seller_token))
            .await
            .status,
        200
    );
    let admin = ctx.admin_token().await;
    assert_eq!(
        ctx.get(&format!("/api/v1/orders/{id}"), Some(&admin))
            .await
            .status,
        200
    );
    // still untouched
    let order = ctx.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(order.body["status"], "confirmed");
}

#[tokio::test]
async fn bad_checkouts_are_clear_4xx_problems_and_place_nothing() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("badcheckout").await;
    let variants: Vec<NewVariant> = [
        "V01", "V02", "V03", "V04", "V05", "V06", "V07", "V08", "V09", "V10", "V11", "V12", "V13",
        "V14", "V15", "V16",
    ]
    .into_iter()
    .map(|sku| NewVariant {
        sku,
        price: 10_000,
        stock: 50,
        weight_grams: 50,
    })
    .collect();
    let (p1, s1) = ctx.test_product(&shop, &variants).await;
    let (p2, s2) = ctx.test_product(&shop, &variants).await;
    let (p3, s3) = ctx.test_product(&shop, &variants[..1]).await;
    let (p4, s4) = ctx.test_product(&shop, &variants[..1]).await;
    let (_, buyer, _) = ctx.user("bad").await;
    let address = ctx.test_address(&buyer).await;

    // an empty cart
    let r = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "cart");
    // zero or negative quantities, unknown variants
    for q in [0, -2] {
        let r = ctx
            .post(
                "/api/v1/cart/items",
                Some(&buyer),
                json!({"product_id": p1, "sku": s1[0], "quantity": q}),
            )
            .await;
        assert!(
            r.error_fields().contains(&"quantity".to_owned()),
            "{}",
            r.text
        );
        r.problem(422);
    }
    let r = ctx
        .post(
            "/api/v1/cart/items",
            Some(&buyer),
            json!({"product_id": p1, "sku": "NO-SUCH-SKU", "quantity": 1}),
        )
        .await;
    assert!(r.status.is_client_error() && r.status != 500, "{}", r.text);
    // no Idempotency-Key, a malformed one, an address of nobody's
    add(&ctx, &buyer, &p3, &s3[0], 1).await;
    let r = ctx
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"payment_method": "cod", "address_id": address}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "Idempotency-Key");
    let r = checkout(&ctx, &buyer, &address, "cod", "short").await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "Idempotency-Key");
    let r = checkout(&ctx, &buyer, "01JNOSUCHADDRESS0000000000", "cod", &key()).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "address_id");
    let r = ctx
        .http
        .post(format!("{}/api/v1/orders", ctx.base))
        .bearer_auth(&buyer)
        .header("idempotency-key", key())
        .json(&json!({"payment_method": "bitcoin", "address_id": address}))
        .send()
        .await
        .unwrap();
    let r = Ctx::read(r).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "payment_method");

    // an archived product cannot be ordered
    let archived = ctx
        .delete(
            &format!("/api/v1/products/{}", p3),
            Some(&shop.seller_token),
        )
        .await;
    assert!(archived.status.is_success(), "{}", archived.text);
    let r = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("no longer for sale"),
        "{}",
        r.text
    );
    assert_eq!(
        ctx.get("/api/v1/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    ctx.delete("/api/v1/cart", Some(&buyer)).await;

    // more lines than one transaction can take
    let lines = s1
        .iter()
        .map(|sku| (&p1, sku))
        .chain(s2[..9].iter().map(|sku| (&p2, sku)))
        .chain(s4.iter().map(|sku| (&p4, sku)));
    assert_eq!(lines.clone().count(), 26);
    for (product, sku) in lines {
        add(&ctx, &buyer, product, sku, 1).await;
    }
    let r = checkout(&ctx, &buyer, &address, "cod", &key()).await;
    let problem = r.problem(422);
    assert_eq!(problem["errors"][0]["field"], "cart");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 25"),
        "{}",
        r.text
    );
    assert_eq!(
        ctx.stock_of(&shop, &p1, &s1[0]).await["reserved"],
        0,
        "nothing was reserved"
    );
    assert_eq!(
        ctx.get("/api/v1/orders", Some(&buyer)).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn buyers_and_shops_hear_of_orders_by_email() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("mail-orders").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "MAIL",
                price: 80_000,
                stock: 5,
                weight_grams: 200,
            }],
        )
        .await;
    let (buyer, address) = buyer_with(&ctx, &product, &skus[0], 1).await;
    let me = ctx.get("/api/v1/users/me", Some(&buyer)).await;
    let buyer_email = me.body["email"].as_str().unwrap().to_owned();

    let placed = checkout(&ctx, &buyer, &address, "online", &key()).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    let cancelled = move_order(
        &ctx,
        &buyer,
        &id,
        "cancel",
        json!({"reason": "Paid the wrong amount"}),
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);

    let subjects = [
        format!("Order {id} placed at"),
        format!("New order {id}"),
        format!("Your order {id} at"),
        format!("Order {id} for"),
    ];
    let (to_buyer, to_shop, cancel_to_buyer, cancel_to_shop) = tokio::join!(
        ctx.wait_for_mail(&buyer_email, &subjects[0]),
        ctx.wait_for_mail(&shop.seller_email, &subjects[1]),
        ctx.wait_for_mail(&buyer_email, &subjects[2]),
        ctx.wait_for_mail(&shop.seller_email, &subjects[3]),
    );
    assert!(to_buyer.contains("Please pay by"), "{to_buyer}");
    let total = format!("{} VND", placed.body["orders"][0]["total"]["amount"]);
    assert!(to_buyer.contains(&total), "{total} in {to_buyer}");
    assert!(to_shop.contains("pending_payment"), "{to_shop}");
    assert!(
        cancel_to_buyer.contains("Reason: Paid the wrong amount"),
        "{cancel_to_buyer}"
    );
    assert!(
        cancel_to_shop.contains("cancelled by the buyer"),
        "{cancel_to_shop}"
    );
    // nobody else's order mail reaches this buyer
    assert!(
        ctx.mails_to(&buyer_email).await.iter().all(|m| m["subject"]
            .as_str()
            .unwrap_or_default()
            .contains(&id)
            || !m["subject"].as_str().unwrap_or_default().contains("rder")),
        "only this order's mail"
    );
}
