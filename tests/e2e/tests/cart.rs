//! The cart end to end: lines grouped by shop with their totals, merging, quantities and bad
//! input, lines that became unbuyable or changed price, saved for later, vouchers that apply
//! or say why not, one buyer's cart invisible to another, and concurrent adds.

use e2e::{Ctx, NewVariant, Reply, TestShop};
use futures::future::join_all;
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn v(sku: &str, price: i64, stock: i64) -> NewVariant<'_> {
    NewVariant {
        sku,
        price,
        stock,
        weight_grams: 400,
    }
}

async fn add(ctx: &Ctx, token: &str, product: &str, sku: &str, quantity: i64) -> Reply {
    ctx.post(
        "/api/v1/cart/items",
        Some(token),
        json!({"product_id": product, "sku": sku, "quantity": quantity}),
    )
    .await
}

async fn added(ctx: &Ctx, token: &str, product: &str, sku: &str, quantity: i64) -> Value {
    ctx.add_to_cart(token, product, sku, quantity).await
}

async fn cart(ctx: &Ctx, token: &str) -> Value {
    let r = ctx.get("/api/v1/cart", Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn line<'a>(cart: &'a Value, product: &str, sku: &str) -> Option<&'a Value> {
    cart["shops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["lines"].as_array().unwrap())
        .find(|l| l["product_id"] == product && l["sku"] == sku)
}

fn amount(v: &Value) -> i64 {
    v["amount"]
        .as_i64()
        .unwrap_or_else(|| panic!("not money: {v}"))
}

/// Every figure of a priced cart adds up: lines → shops → cart.
#[track_caller]
fn assert_adds_up(cart: &Value) {
    let shops = cart["shops"].as_array().unwrap();
    for s in shops {
        let lines: i64 = s["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["problem"].is_null())
            .map(|l| amount(&l["line_total"]))
            .sum();
        assert_eq!(amount(&s["subtotal"]), lines, "{s}");
        assert_eq!(
            amount(&s["total"]),
            amount(&s["subtotal"]) - amount(&s["shop_discount"]) - amount(&s["platform_discount"])
                + amount(&s["shipping_fee"]),
            "{s}"
        );
    }
    for field in ["subtotal", "shipping_fee", "total"] {
        assert_eq!(
            amount(&cart[field]),
            shops.iter().map(|s| amount(&s[field])).sum::<i64>(),
            "{field}: {cart}"
        );
    }
    assert_eq!(
        amount(&cart["total"]),
        amount(&cart["subtotal"]) - amount(&cart["discount"]) + amount(&cart["shipping_fee"])
    );
}

#[tokio::test]
async fn a_cart_groups_lines_by_shop_merges_repeats_and_adds_up() {
    let ctx = Ctx::new();
    let shop_a = ctx.test_shop("cart-a").await;
    let shop_b = ctx.test_shop("cart-b").await;
    let (pa, sa) = ctx
        .test_product(&shop_a, &[v("RED", 120_000, 10), v("BLUE", 90_000, 3)])
        .await;
    let (pb, sb) = ctx.test_product(&shop_b, &[v("TEA", 45_000, 50)]).await;
    let (_, buyer, _) = ctx.user("cart-buyer").await;

    let empty = cart(&ctx, &buyer).await;
    assert_eq!(
        (
            empty["shops"].as_array().unwrap().len(),
            &empty["line_count"],
            &empty["ready"]
        ),
        (0, &json!(0), &json!(false))
    );

    added(&ctx, &buyer, &pa, &sa[0], 2).await;
    added(&ctx, &buyer, &pb, &sb[0], 1).await;
    // a SKU in lower case names the same variant; the repeat adds to the line
    let body = added(&ctx, &buyer, &pa, &sa[0].to_lowercase(), 1).await;
    assert_eq!(body["line_count"], 2);
    let c = cart(&ctx, &buyer).await;
    let shops = c["shops"].as_array().unwrap();
    assert_eq!(shops.len(), 2, "{c}");
    assert_eq!(
        shops[0]["shop_id"],
        shop_a.shop_id.as_str(),
        "shops in the order added"
    );
    assert_eq!(shops[0]["shop_name"], "cart-a shop");
    assert_eq!(shops[1]["shop_id"], shop_b.shop_id.as_str());
    let red = line(&c, &pa, &sa[0]).unwrap();
    assert_eq!(red["quantity"], 3);
    assert_eq!(amount(&red["unit_price"]), 120_000);
    assert_eq!(amount(&red["line_total"]), 360_000);
    assert_eq!(red["price_changed"], false);
    assert_eq!(red["problem"], Value::Null);
    assert_eq!(red["attributes"]["size"], "M");
    assert_eq!(amount(&shops[0]["subtotal"]), 360_000);
    assert_eq!(shops[0]["weight_grams"], 1_200);
    assert_eq!(
        amount(&shops[0]["shipping_fee"]),
        20_000,
        "1 200 g: base + one step"
    );
    assert_eq!(amount(&shops[1]["shipping_fee"]), 15_000);
    assert_eq!(
        (
            c["currency"].as_str(),
            c["item_count"].as_i64(),
            c["line_count"].as_i64()
        ),
        (Some("VND"), Some(4), Some(2))
    );
    assert_eq!(amount(&c["total"]), 360_000 + 45_000 + 20_000 + 15_000);
    assert_eq!(c["ready"], true, "{c}");
    assert_eq!(c["problems"], json!([]));
    assert_adds_up(&c);

    // the summary and calculate-total agree with the cart
    let summary = ctx.get("/api/v1/cart/summary", Some(&buyer)).await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    assert_eq!(
        summary.body,
        json!({"line_count": 2, "item_count": 4, "total": c["total"], "currency": "VND", "ready": true})
    );
    let total = ctx
        .post("/api/v1/cart/calculate-total", Some(&buyer), json!({}))
        .await;
    assert_eq!(total.status, 200, "{}", total.text);
    assert_eq!(total.body["total"], c["total"]);
    assert_eq!(total.body["shops"], c["shops"]);

    // quantities: set, above what is available, more than available on add
    let item = format!("/api/v1/cart/items/{pa}/{}", sa[0]);
    let r = ctx.put(&item, Some(&buyer), json!({"quantity": 5})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(line(&r.body, &pa, &sa[0]).unwrap()["quantity"], 5);
    assert!(
        ctx.put(&item, Some(&buyer), json!({"quantity": 11}))
            .await
            .problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("only 10 available")
    );
    let r = add(&ctx, &buyer, &pa, &sa[1], 4).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("only 3 available"),
        "{}",
        r.text
    );
    let r = add(&ctx, &buyer, &pa, &sa[0], 6).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("only 10 available"),
        "5 in the cart + 6: {}",
        r.text
    );
    ctx.put(
        &format!("/api/v1/cart/items/{pa}/{}", sa[1]),
        Some(&buyer),
        json!({"quantity": 1}),
    )
    .await
    .problem(404);

    // remove one line, then clear the cart
    let r = ctx
        .delete(&format!("/api/v1/cart/items/{pb}/{}", sb[0]), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["line_count"], 1);
    assert_eq!(r.body["shops"].as_array().unwrap().len(), 1);
    ctx.delete(&format!("/api/v1/cart/items/{pb}/{}", sb[0]), Some(&buyer))
        .await
        .problem(404);
    let r = ctx.delete("/api/v1/cart", Some(&buyer)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let c = cart(&ctx, &buyer).await;
    assert_eq!(c["line_count"], 0);
    assert_eq!(amount(&c["total"]), 0);
    // an emptied cart takes any currency again, and lines again
    added(&ctx, &buyer, &pb, &sb[0], 1).await;
}

#[tokio::test]
async fn bad_adds_are_refused_naming_the_field() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-bad").await;
    let (p, s) = ctx.test_product(&shop, &[v("ONE", 10_000, 5)]).await;
    let (_, buyer, _) = ctx.user("cart-bad-buyer").await;
    for q in [json!(0), json!(-1), json!(1_000), json!(1.5), json!("2")] {
        let r = ctx
            .post(
                "/api/v1/cart/items",
                Some(&buyer),
                json!({"product_id": p, "sku": s[0], "quantity": q}),
            )
            .await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["quantity"], "{q}: {}", r.text);
    }
    let r = add(&ctx, &buyer, &p, "NO-SUCH-SKU", 1).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "sku");
    let r = add(&ctx, &buyer, "01JNOSUCHPRODUCT0000000000", &s[0], 1).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "product_id");
    let r = ctx
        .post(
            "/api/v1/cart/items",
            Some(&buyer),
            json!({"product_id": p, "sku": s[0]}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "quantity");
    ctx.put(
        &format!("/api/v1/cart/items/{p}/{}", s[0]),
        Some(&buyer),
        json!({"quantity": 0}),
    )
    .await
    .problem(422);
    let r = ctx
        .post(
            "/api/v1/cart/calculate-total",
            Some(&buyer),
            json!({"coupon": "x"}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "coupon");
    // nothing landed
    assert_eq!(cart(&ctx, &buyer).await["line_count"], 0);
    ctx.get("/api/v1/cart", None).await.problem(401);
}

#[tokio::test]
async fn archived_products_and_price_changes_are_flagged_on_the_line() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-flags").await;
    let (gone, gone_skus) = ctx.test_product(&shop, &[v("GONE", 50_000, 5)]).await;
    let (pricey, pricey_skus) = ctx.test_product(&shop, &[v("PRICE", 80_000, 5)]).await;
    let (_, buyer, _) = ctx.user("cart-flags-buyer").await;
    added(&ctx, &buyer, &gone, &gone_skus[0], 1).await;
    added(&ctx, &buyer, &pricey, &pricey_skus[0], 2).await;

    // the seller raises a price: the line shows the new price and flags the change
    let r = ctx
        .put(
            &format!(
                "/api/v1/products/{pricey}/variants/{}/price",
                pricey_skus[0]
            ),
            Some(&shop.seller_token),
            json!({"price": {"amount": 95_000, "currency": "VND"}, "discount": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = cart(&ctx, &buyer).await;
    let l = line(&c, &pricey, &pricey_skus[0]).unwrap();
    assert_eq!(l["price_changed"], true, "{l}");
    assert_eq!(amount(&l["unit_price"]), 95_000);
    assert_eq!(amount(&l["price_when_added"]), 80_000);
    assert_eq!(amount(&l["line_total"]), 190_000);
    assert_eq!(
        line(&c, &gone, &gone_skus[0]).unwrap()["price_changed"],
        false
    );
    assert_eq!(
        c["ready"], true,
        "a changed price alone does not block the order"
    );

    // the seller archives a product: it cannot be added, and its line is flagged and left out
    let r = ctx
        .delete(
            &format!("/api/v1/products/{gone}"),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = add(&ctx, &buyer, &gone, &gone_skus[0], 1).await;
    assert!(r.status.is_client_error(), "{}", r.text);
    r.problem(r.status.as_u16());
    let c = cart(&ctx, &buyer).await;
    let l = line(&c, &gone, &gone_skus[0]).unwrap();
    assert_eq!(l["problem"], "unavailable", "{l}");
    assert_eq!(
        l["quantity"], 1,
        "the line stays until the buyer removes it"
    );
    assert_eq!(c["ready"], false);
    assert_eq!(
        amount(&c["subtotal"]),
        190_000,
        "the unavailable line is not priced in"
    );
    assert_eq!(c["item_count"], 2);
    assert!(
        c["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"].as_str().unwrap().contains(&gone)),
        "{c}"
    );
    assert_adds_up(&c);
    // removing it makes the cart orderable again
    ctx.delete(
        &format!("/api/v1/cart/items/{gone}/{}", gone_skus[0]),
        Some(&buyer),
    )
    .await;
    assert_eq!(cart(&ctx, &buyer).await["ready"], true);
}

#[tokio::test]
async fn lines_are_saved_for_later_and_restored() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-saved").await;
    let (p, s) = ctx
        .test_product(&shop, &[v("KEEP", 30_000, 9), v("LATER", 70_000, 9)])
        .await;
    let (_, buyer, _) = ctx.user("cart-saved-buyer").await;
    added(&ctx, &buyer, &p, &s[0], 1).await;
    added(&ctx, &buyer, &p, &s[1], 3).await;

    let save = format!("/api/v1/cart/items/{p}/{}/save-for-later", s[1]);
    let r = ctx.post(&save, Some(&buyer), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["line_count"], 1);
    assert!(line(&r.body, &p, &s[1]).is_none());
    let saved = r.body["saved"].as_array().unwrap();
    assert_eq!(saved.len(), 1, "{}", r.text);
    assert_eq!(
        (saved[0]["sku"].as_str(), saved[0]["quantity"].as_i64()),
        (Some(s[1].as_str()), Some(3))
    );
    assert_eq!(
        amount(&saved[0]["unit_price"]),
        70_000,
        "saved lines are priced live"
    );
    assert_eq!(saved[0]["available"], 9);
    assert_eq!(
        amount(&r.body["subtotal"]),
        30_000,
        "saved lines are not in the totals"
    );
    ctx.post(&save, Some(&buyer), json!({})).await.problem(404);

    // restore: back into the cart with its quantity
    let restore = format!("/api/v1/cart/saved/{p}/{}/restore", s[1]);
    let r = ctx.post(&restore, Some(&buyer), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(line(&r.body, &p, &s[1]).unwrap()["quantity"], 3);
    assert_eq!(r.body["saved"], json!([]));
    assert_eq!(r.body["line_count"], 2);
    ctx.post(&restore, Some(&buyer), json!({}))
        .await
        .problem(404);

    // saved again, then added again: restoring would duplicate the line
    ctx.post(&save, Some(&buyer), json!({})).await;
    added(&ctx, &buyer, &p, &s[1], 1).await;
    ctx.post(&restore, Some(&buyer), json!({}))
        .await
        .problem(409);
    // saving the new line replaces the saved one
    let r = ctx.post(&save, Some(&buyer), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["saved"][0]["quantity"], 1);
    assert_eq!(r.body["saved"].as_array().unwrap().len(), 1);

    // delete the saved line
    let r = ctx
        .delete(&format!("/api/v1/cart/saved/{p}/{}", s[1]), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["saved"], json!([]));
    assert_eq!(r.body["line_count"], 1);
    ctx.delete(&format!("/api/v1/cart/saved/{p}/{}", s[1]), Some(&buyer))
        .await
        .problem(404);
}

async fn shop_voucher(
    ctx: &Ctx,
    shop: &TestShop,
    kind: &str,
    value: i64,
    min_spend: i64,
) -> String {
    let code = format!("V{}", &ulid::Ulid::new().to_string()[16..]);
    let r = ctx
        .post(
            &format!("/api/v1/shops/{}/vouchers", shop.shop_id),
            Some(&shop.seller_token),
            json!({"code": code, "description": "test", "usage_limit": 10,
                   "terms": {"kind": kind, "value": value, "currency": "VND", "min_spend": min_spend,
                             "starts_at": now() - 60, "ends_at": now() + 3_600}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    code
}

#[tokio::test]
async fn vouchers_apply_to_the_cart_or_say_why_not() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-vouchers").await;
    let other = ctx.test_shop("cart-vouchers-other").await;
    let (p, s) = ctx.test_product(&shop, &[v("V", 100_000, 20)]).await;
    let (_, buyer, _) = ctx.user("cart-voucher-buyer").await;
    added(&ctx, &buyer, &p, &s[0], 1).await;
    let big = shop_voucher(&ctx, &shop, "fixed", 20_000, 150_000).await;
    let ten = shop_voucher(&ctx, &shop, "percentage", 1_000, 0).await;
    let apply = |code: &str, shop_id: Option<&str>| {
        let body = match shop_id {
            Some(id) => json!({"code": code, "shop_id": id}),
            None => json!({"code": code}),
        };
        ctx.post("/api/v1/cart/vouchers", Some(&buyer), body)
    };

    // below its minimum spend: applied, but it gives nothing and says why
    let r = apply(&big.to_lowercase(), Some(&shop.shop_id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sv = &r.body["shops"][0]["voucher"];
    assert_eq!(sv["code"], big.as_str());
    assert_eq!(sv["applies"], false, "{sv}");
    assert_eq!(amount(&sv["discount"]), 0);
    assert!(sv["reason"].as_str().unwrap().contains("150000"), "{sv}");
    assert_eq!(amount(&r.body["discount"]), 0);
    assert_eq!(
        r.body["ready"], false,
        "an unusable voucher stands in the way"
    );
    // two units reach the minimum: the same voucher now applies
    let r = ctx
        .put(
            &format!("/api/v1/cart/items/{p}/{}", s[0]),
            Some(&buyer),
            json!({"quantity": 2}),
        )
        .await;
    assert_eq!(r.body["shops"][0]["voucher"]["applies"], true, "{}", r.text);
    assert_eq!(amount(&r.body["shops"][0]["shop_discount"]), 20_000);

    // another voucher of the shop replaces it
    let r = apply(&ten, Some(&shop.shop_id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s0 = &r.body["shops"][0];
    assert_eq!(s0["voucher"]["code"], ten.as_str());
    assert_eq!(
        amount(&s0["voucher"]["discount"]),
        20_000,
        "10 % of 200 000"
    );
    assert_eq!(amount(&s0["shop_discount"]), 20_000);
    assert_eq!(amount(&s0["total"]), 200_000 - 20_000 + 15_000);
    assert_eq!(r.body["ready"], true);
    assert_adds_up(&r.body);

    // a platform voucher on top
    let admin = ctx.admin_token().await;
    let plat = format!("P{}", &ulid::Ulid::new().to_string()[16..]);
    let created = ctx
        .post(
            "/api/v1/vouchers",
            Some(&admin),
            json!({"code": plat, "description": "platform", "usage_limit": 10, "campaign": "cart test",
                   "terms": {"kind": "fixed", "value": 5_000, "currency": "VND",
                             "starts_at": now() - 60, "ends_at": now() + 3_600}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let r = apply(&plat, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["platform_voucher"]["applies"], true, "{}", r.text);
    assert_eq!(amount(&r.body["platform_voucher"]["discount"]), 5_000);
    assert_eq!(amount(&r.body["discount"]), 25_000);
    assert_adds_up(&r.body);

    // unknown, disabled, and another shop's codes are refused naming the field
    assert_eq!(
        apply("NOSUCHCODE", Some(&shop.shop_id)).await.problem(422)["errors"][0]["field"],
        "code"
    );
    assert_eq!(
        apply(&big, None).await.problem(422)["errors"][0]["field"],
        "code"
    );
    let foreign = shop_voucher(&ctx, &other, "fixed", 1_000, 0).await;
    assert_eq!(
        apply(&foreign, Some(&other.shop_id)).await.problem(422)["errors"][0]["field"],
        "shop_id",
        "no items of that shop in the cart"
    );
    let r = ctx
        .put(
            &format!("/api/v1/shops/{}/vouchers/{big}", shop.shop_id),
            Some(&shop.seller_token),
            json!({"description": "off", "usage_limit": 10, "per_user_limit": 1, "status": "disabled",
                   "terms": {"kind": "fixed", "value": 20_000, "currency": "VND", "min_spend": 150_000,
                             "starts_at": now() - 60, "ends_at": now() + 3_600}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = apply(&big, Some(&shop.shop_id)).await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "code");

    // removing them
    let r = ctx
        .delete("/api/v1/cart/vouchers/platform", Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["platform_voucher"], Value::Null);
    ctx.delete("/api/v1/cart/vouchers/platform", Some(&buyer))
        .await
        .problem(404);
    let r = ctx
        .delete(
            &format!("/api/v1/cart/vouchers/shops/{}", shop.shop_id),
            Some(&buyer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["shops"][0]["voucher"], Value::Null);
    assert_eq!(amount(&r.body["discount"]), 0);
}

#[tokio::test]
async fn a_buyers_cart_is_invisible_to_other_buyers() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-private").await;
    let (p, s) = ctx
        .test_product(&shop, &[v("MINE", 10_000, 9), v("YOURS", 20_000, 9)])
        .await;
    let (_, alice, _) = ctx.user("cart-alice").await;
    let (_, bob, _) = ctx.user("cart-bob").await;
    added(&ctx, &alice, &p, &s[0], 2).await;
    added(&ctx, &bob, &p, &s[1], 1).await;

    let a = cart(&ctx, &alice).await;
    let b = cart(&ctx, &bob).await;
    assert!(
        line(&a, &p, &s[0]).is_some() && line(&a, &p, &s[1]).is_none(),
        "{a}"
    );
    assert!(
        line(&b, &p, &s[1]).is_some() && line(&b, &p, &s[0]).is_none(),
        "{b}"
    );
    // Bob cannot touch Alice's line: for him it does not exist
    let alices = format!("/api/v1/cart/items/{p}/{}", s[0]);
    ctx.put(&alices, Some(&bob), json!({"quantity": 9}))
        .await
        .problem(404);
    ctx.delete(&alices, Some(&bob)).await.problem(404);
    ctx.post(&format!("{alices}/save-for-later"), Some(&bob), json!({}))
        .await
        .problem(404);
    // clearing his cart leaves hers
    assert_eq!(ctx.delete("/api/v1/cart", Some(&bob)).await.status, 204);
    let a = cart(&ctx, &alice).await;
    assert_eq!(line(&a, &p, &s[0]).unwrap()["quantity"], 2);
    assert_eq!(cart(&ctx, &bob).await["line_count"], 0);
}

#[tokio::test]
async fn concurrent_adds_all_land() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("cart-race").await;
    let names: Vec<String> = (0..16).map(|i| format!("R{i:02}")).collect();
    let variants: Vec<NewVariant<'_>> = names.iter().map(|n| v(n, 1_000, 100)).collect();
    let (p, skus) = ctx.test_product(&shop, &variants).await;
    let (_, buyer, _) = ctx.user("cart-race-buyer").await;

    // 16 different SKUs (a product's most) at once: 16 lines
    let replies = join_all(skus.iter().map(|sku| add(&ctx, &buyer, &p, sku, 1))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let c = cart(&ctx, &buyer).await;
    assert_eq!(c["line_count"], 16, "{c}");
    assert_eq!(c["item_count"], 16);
    assert_eq!(amount(&c["subtotal"]), 16_000);

    // 10 adds of one new SKU at once, to a fresh cart: one line of 10
    ctx.delete("/api/v1/cart", Some(&buyer)).await;
    let replies = join_all((0..10).map(|_| add(&ctx, &buyer, &p, &skus[0], 1))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let c = cart(&ctx, &buyer).await;
    assert_eq!(c["line_count"], 1, "{c}");
    assert_eq!(line(&c, &p, &skus[0]).unwrap()["quantity"], 10);
}
