//! Discovery end to end: behaviour batches from anonymous devices and signed-in users, trending
//! lists that follow the last window (and leave out archived products and old buckets), "for
//! you" recommendations that put products bought together with the caller's first, cold-start
//! callers who get trending, a device's history folded into its user, price alerts that e-mail
//! once, and bad input answered 422 naming the field.
//!
//! Every test makes its own shop, category, products and callers, so the counters of other tests
//! sharing the emulator only ever add to other ids.

use std::time::Duration;

use e2e::{Ctx, NewVariant, PASSWORD, Reply, TestShop, eventually, unique_email};
use reqwest::Method;
use serde_json::{Value, json};

fn device() -> String {
    format!("dev-{}", ulid::Ulid::new())
}

/// A call with an optional token and `X-Device-Id`.
async fn call(
    ctx: &Ctx,
    method: Method,
    path: &str,
    token: Option<&str>,
    device: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = ctx.http.request(method, format!("{}{path}", ctx.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(d) = device {
        req = req.header("x-device-id", d);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Ctx::read(req.send().await.unwrap()).await
}

async fn views(ctx: &Ctx, token: Option<&str>, device: Option<&str>, products: &[&str]) -> Reply {
    let events: Vec<Value> = products.iter().map(|p| json!({"product_id": p})).collect();
    let r = call(
        ctx,
        Method::POST,
        "/api/v1/behavior/view-product",
        token,
        device,
        Some(json!({ "events": events })),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r
}

async fn product(ctx: &Ctx, shop: &TestShop, price: i64) -> (String, String) {
    let (id, skus) = ctx
        .test_product(
            shop,
            &[NewVariant {
                sku: "D",
                price,
                stock: 100,
                weight_grams: 300,
            }],
        )
        .await;
    (id, skus[0].clone())
}

fn ids(list: &Value, inner: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {list}"))
        .iter()
        .map(|i| i[inner]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn for_you_puts_products_bought_together_with_mine_first_and_leaves_out_what_i_bought() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-foryou").await;
    let (a, sku_a) = product(&ctx, &shop, 100_000).await;
    let (b, sku_b) = product(&ctx, &shop, 100_000).await;
    let (c, _) = product(&ctx, &shop, 100_000).await;
    let (d, _) = product(&ctx, &shop, 100_000).await;
    let (e, _) = product(&ctx, &shop, 100_000).await;

    // GIVEN another buyer bought A and B in one order ...
    let (_, shopper, _) = ctx.user("disco-shopper").await;
    let address = ctx.test_address(&shopper).await;
    ctx.add_to_cart(&shopper, &a, &sku_a, 1).await;
    ctx.add_to_cart(&shopper, &b, &sku_b, 2).await;
    let placed = ctx
        .checkout(
            &shopper,
            &address,
            "cod",
            &format!("disco-{}", ulid::Ulid::new()),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    // ... someone on a phone looked at A, then C ...
    let phone = device();
    views(&ctx, None, Some(&phone), &[&a, &c]).await;
    // ... and I looked at D, then A.
    let (_, me, _) = ctx.user("disco-me").await;
    let r = views(&ctx, Some(&me), None, &[&d, &a]).await;
    assert_eq!(r.body["accepted"], 2);

    // THEN once the order is counted, B (bought with A) comes first, C (viewed with A) next,
    // E (only similar: same category, same price) after them; A and D, which I just saw, not.
    let path = "/api/v1/recommendations/products?limit=10";
    let recs = eventually(
        "the order's co-purchase reaches my recommendations",
        || async {
            let r = ctx.get(path, Some(&me)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            (r.body["items"][0]["product"]["id"] == b.as_str()).then_some(r.body)
        },
    )
    .await;
    assert_eq!(recs["basis"], "history");
    let order = ids(&recs, "product");
    let pos = |id: &str| order.iter().position(|x| x == id);
    assert!(pos(&c).unwrap() < pos(&e).unwrap(), "{order:?}");
    assert!(pos(&a).is_none() && pos(&d).is_none(), "{order:?}");
    let first = &recs["items"][0];
    assert!(
        first["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("bought_together")),
        "{first}"
    );
    // my recommended shops start with the shop of those products
    let shops = ctx.get("/api/v1/recommendations/shops", Some(&me)).await;
    assert_eq!(shops.status, 200, "{}", shops.text);
    assert_eq!(shops.body["items"][0]["shop"]["id"], shop.shop_id.as_str());

    // AND the buyer of A and B is not recommended what they bought
    let theirs = eventually("the shopper's purchases are seeds", || async {
        let r = ctx.get(path, Some(&shopper)).await;
        (r.body["basis"] == "history").then_some(r.body)
    })
    .await;
    let theirs = ids(&theirs, "product");
    assert!(!theirs.contains(&a) && !theirs.contains(&b), "{theirs:?}");
    assert!(theirs.contains(&c), "viewed together with A: {theirs:?}");
}

/// A co-occurrence counter as the table holds it (0 when absent).
async fn cooccurrences(product: &str, kind: &str, other: &str) -> i64 {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (pk, sk) = shared::store::keys::cooccurrence(product, kind, other);
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(std::env::var("TABLE_NAME").expect("make test exports TABLE_NAME"))
        .key("PK", A::S(pk))
        .key("SK", A::S(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("reading a counter")
        .item;
    item.and_then(|i| i.get("n")?.as_n().ok()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn products_put_in_one_cart_are_recommended_together_and_counted_once() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-cart").await;
    let (x, sku_x) = product(&ctx, &shop, 210_000).await;
    let (y, sku_y) = product(&ctx, &shop, 420_000).await;
    let (z, _) = product(&ctx, &shop, 840_000).await;

    // GIVEN another buyer put X, then Y in their cart (and more of Y later), and never ordered ...
    let (_, shopper, _) = ctx.user("disco-carter").await;
    ctx.add_to_cart(&shopper, &x, &sku_x, 1).await;
    ctx.add_to_cart(&shopper, &y, &sku_y, 1).await;
    ctx.add_to_cart(&shopper, &y, &sku_y, 2).await;
    assert_eq!(cooccurrences(&x, "C", &y).await, 1, "both directions, once");
    assert_eq!(
        cooccurrences(&y, "C", &x).await,
        1,
        "more units pair nothing again"
    );
    // ... and someone on a phone looked at X, then Z.
    views(&ctx, None, Some(&device()), &[&x, &z]).await;

    // WHEN I look at X, THEN Y (in one cart with X: 2) comes before Z (viewed with X: 1)
    let (_, me, _) = ctx.user("disco-cart-me").await;
    views(&ctx, Some(&me), None, &[&x]).await;
    let r = ctx
        .get("/api/v1/recommendations/products?limit=10", Some(&me))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order = ids(&r.body, "product");
    let pos = |id: &str| order.iter().position(|o| o == id);
    assert_eq!(pos(&y), Some(0), "{order:?}");
    assert!(pos(&z).unwrap() > 0, "{order:?}");
    assert!(
        r.body["items"][0]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("carted_together")),
        "{}",
        r.text
    );
}

/// A trend counter of a product in an old bucket, written as the API would have written it then.
async fn old_views(product: &str, grain: shared::discovery::Grain, age_secs: i64, views: i64) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let at = shared::now_epoch() - age_secs;
    let bucket = grain.bucket(at);
    let (pk, sk) = shared::store::keys::trend_counter("product", grain.name(), bucket, product);
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(std::env::var("TABLE_NAME").expect("make test exports TABLE_NAME"))
        .item("PK", A::S(pk))
        .item("SK", A::S(sk))
        .item("entity_type", A::S("trend_counter".into()))
        .item("views", A::N(views.to_string()))
        .item("expires_at", A::N(grain.expires_at(bucket).to_string()))
        .send()
        .await
        .expect("writing an old counter");
}

#[tokio::test]
async fn trending_follows_the_window_and_leaves_out_archived_products() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-trend").await;
    let (hot, _) = product(&ctx, &shop, 50_000).await;
    let (warm, _) = product(&ctx, &shop, 50_000).await;
    let (doomed, _) = product(&ctx, &shop, 50_000).await;
    let (old, _) = product(&ctx, &shop, 50_000).await;
    let phone = device();
    // 150 views of `hot`, 100 of `warm` and `doomed`: more than anything else in a test run
    for _ in 0..3 {
        views(&ctx, None, Some(&phone), &[hot.as_str(); 50]).await;
    }
    for _ in 0..2 {
        views(&ctx, None, Some(&phone), &[warm.as_str(); 50]).await;
        views(&ctx, None, Some(&phone), &[doomed.as_str(); 50]).await;
    }
    // `old` was the hottest of all, two days ago: out of the 24 h window, in the 7 d one
    old_views(
        &old,
        shared::discovery::Grain::FourHours,
        2 * 86_400,
        100_000,
    )
    .await;
    old_views(&old, shared::discovery::Grain::Day, 2 * 86_400, 100_000).await;

    let day = ctx.get("/api/v1/trending/products?limit=50", None).await;
    assert_eq!(day.status, 200, "{}", day.text);
    assert_eq!(day.body["window"], "24h");
    let order = ids(&day.body, "product");
    let pos = |id: &str| order.iter().position(|x| x == id);
    assert!(pos(&hot).unwrap() < pos(&warm).unwrap(), "{order:?}");
    assert!(
        pos(&old).is_none(),
        "a bucket older than 24 h counts nothing: {order:?}"
    );
    let week = ctx
        .get("/api/v1/trending/products?window=7d&limit=50", None)
        .await;
    let week_order = ids(&week.body, "product");
    assert!(
        week_order.iter().position(|x| *x == old).unwrap()
            < week_order.iter().position(|x| *x == hot).unwrap(),
        "two days old but 100 000 views: first in the week, {week_order:?}"
    );

    // the shop and the category trend with their products
    let shops = ctx.get("/api/v1/trending/shops?limit=50", None).await;
    assert!(
        ids(&shops.body, "shop").contains(&shop.shop_id),
        "{}",
        shops.text
    );
    let categories = ctx.get("/api/v1/trending/categories?limit=50", None).await;
    assert!(
        ids(&categories.body, "category").contains(&shop.category_id),
        "{}",
        categories.text
    );

    // an archived product leaves the lists at once, however viewed it was
    let r = ctx
        .delete(
            &format!("/api/v1/products/{doomed}"),
            Some(&shop.seller_token),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let after = ctx.get("/api/v1/trending/products?limit=50", None).await;
    let after = ids(&after.body, "product");
    assert!(
        after.contains(&hot) && !after.contains(&doomed),
        "{after:?}"
    );
    // views of an archived product are not counted
    let r = views(&ctx, None, Some(&phone), &[&doomed, &hot]).await;
    assert_eq!(
        (r.body["accepted"].as_i64(), r.body["ignored"].as_i64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_caller_without_history_gets_trending() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-cold").await;
    let (p, _) = product(&ctx, &shop, 70_000).await;
    views(&ctx, None, Some(&device()), &[p.as_str(); 50]).await;
    let (_, fresh_user, _) = ctx.user("disco-cold").await;
    for (token, dev) in [
        (None, Some(device())),
        (Some(fresh_user.as_str()), None),
        (None, None),
    ] {
        let r = call(
            &ctx,
            Method::GET,
            "/api/v1/recommendations/products?limit=50",
            token,
            dev.as_deref(),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["basis"], "trending", "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty(), "something is trending: {}", r.text);
        assert!(items.iter().all(|i| i["reasons"] == json!(["trending"])));
        let shops = call(
            &ctx,
            Method::GET,
            "/api/v1/recommendations/shops",
            token,
            dev.as_deref(),
            None,
        )
        .await;
        assert_eq!(shops.body["basis"], "trending", "{}", shops.text);
    }
}

#[tokio::test]
async fn searches_are_counted_normalised_and_a_device_folds_into_its_user_once() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-fold").await;
    let (p, _) = product(&ctx, &shop, 90_000).await;
    let phone = device();
    let word = format!("lụa{}", &ulid::Ulid::new().to_string()[18..]).to_lowercase();
    // "Áo" with a combining accent, capitals and stray spaces: one normalised query
    let raw = format!("  A\u{301}O  Dài {}", word.to_uppercase());
    let normal = format!("áo dài {word}");
    for q in [raw.as_str(), normal.as_str(), normal.as_str()] {
        let r = call(
            &ctx,
            Method::POST,
            "/api/v1/behavior/search",
            None,
            Some(&phone),
            Some(json!({"events": [{"query": q}]})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    views(&ctx, None, Some(&phone), &[&p]).await;
    let popular = ctx.get("/api/v1/popular/searches?limit=50", None).await;
    let counted = popular.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["query"] == normal.as_str())
        .cloned();
    // Other tests' searches may crowd the top 50; ours counted three times if listed.
    if let Some(c) = counted {
        assert_eq!(c["searches"], 3, "{c}");
    }
    let mine = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/searches",
        None,
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        mine.text
    );
    assert_eq!(mine.body["items"][0]["query"], normal.as_str());

    // The phone's owner signs in: the first signed-in request with the device id folds it.
    let (_, user, _) = ctx.user("disco-fold").await;
    let folded = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/searches",
        Some(&user),
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(
        folded.body["items"][0]["query"],
        normal.as_str(),
        "{}",
        folded.text
    );
    let products = ctx.get("/api/v1/recent/products", Some(&user)).await;
    assert_eq!(
        products.body["items"][0]["product"]["id"],
        p.as_str(),
        "{}",
        products.text
    );
    // the device's own lists are gone (folded), so the anonymous phone starts afresh
    let anon = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/searches",
        None,
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(anon.body["items"], json!([]), "{}", anon.text);

    // forgetting a search (any spelling) is not undone by folding again
    let encoded: String = raw.trim().bytes().map(|b| format!("%{b:02X}")).collect();
    let r = call(
        &ctx,
        Method::DELETE,
        &format!("/api/v1/recent/searches/{encoded}"),
        Some(&user),
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let again = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/searches",
        Some(&user),
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(again.body["items"], json!([]), "{}", again.text);
    let r = call(
        &ctx,
        Method::DELETE,
        "/api/v1/recent/searches",
        Some(&user),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

async fn buyer(ctx: &Ctx, prefix: &str) -> (String, String) {
    let email = unique_email(prefix);
    let r = ctx.register(&email, PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = ctx.login(&email, PASSWORD).await;
    (email, t.body["access_token"].as_str().unwrap().to_owned())
}

async fn set_price(ctx: &Ctx, shop: &TestShop, product: &str, sku: &str, amount: i64) {
    let r = ctx
        .put(
            &format!("/api/v1/products/{product}/variants/{sku}/price"),
            Some(&shop.seller_token),
            json!({"price": {"amount": amount, "currency": "VND"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn price_drops(mails: &[Value]) -> usize {
    mails
        .iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("Price drop"))
        })
        .count()
}

#[tokio::test]
async fn a_price_alert_emails_once_when_the_price_reaches_its_target() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("disco-alert").await;
    let (p, sku) = product(&ctx, &shop, 500_000).await;
    let (email, token) = buyer(&ctx, "disco-alert").await;
    let alert = json!({"product_id": p, "target_price": 450_000});
    let r = ctx
        .post("/api/v1/price-alerts", Some(&token), alert.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["target_price"]["currency"].as_str()
        ),
        (Some("active"), Some("VND"))
    );
    // one active alert per product
    ctx.post("/api/v1/price-alerts", Some(&token), alert)
        .await
        .problem(409);

    // a cut that does not reach the target e-mails nothing; one that does, e-mails once
    set_price(&ctx, &shop, &p, &sku, 460_000).await;
    set_price(&ctx, &shop, &p, &sku, 440_000).await;
    let body = ctx.wait_for_mail(&email, "Price drop").await;
    assert!(body.contains("440000 VND"), "{body}");
    let listed = eventually("the alert shows as notified", || async {
        let r = ctx.get("/api/v1/price-alerts", Some(&token)).await;
        (r.body["items"][0]["status"] == "notified").then_some(r.body)
    })
    .await;
    assert_eq!(listed["items"][0]["notified_price"]["amount"], 440_000);

    // a later cut: another buyer's alert shows it was handled, and ours did not mail again
    let (other_email, other) = buyer(&ctx, "disco-alert-2").await;
    let r = ctx
        .post(
            "/api/v1/price-alerts",
            Some(&other),
            json!({"product_id": p, "target_price": 435_000}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    set_price(&ctx, &shop, &p, &sku, 430_000).await;
    ctx.wait_for_mail(&other_email, "Price drop").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(price_drops(&ctx.mails_to(&email).await), 1, "e-mailed once");
    assert_eq!(price_drops(&ctx.mails_to(&other_email).await), 1);

    // a notified alert may be replaced by a new one, and deleted
    let r = ctx
        .post(
            "/api/v1/price-alerts",
            Some(&token),
            json!({"product_id": p, "target_price": 400_000}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = ctx
        .delete(&format!("/api/v1/price-alerts/{p}"), Some(&token))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    ctx.delete(&format!("/api/v1/price-alerts/{p}"), Some(&token))
        .await
        .problem(404);
}

#[tokio::test]
async fn bad_discovery_input_is_422_naming_the_field() {
    let ctx = Ctx::new();
    let phone = device();
    let (_, token, _) = ctx.user("disco-bad").await;
    let view = "/api/v1/behavior/view-product";
    // (token, device id, route, body, the field named)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Value, &'a str);
    let cases: Vec<Case> = vec![
        (None, Some(&phone), view, json!({"events": []}), "events"),
        (
            None,
            Some(&phone),
            view,
            json!({"events": vec![json!({"product_id": "P1"}); 51]}),
            "events",
        ),
        (
            None,
            Some("bad id!"),
            view,
            json!({"events": [{"product_id": "P1"}]}),
            "X-Device-Id",
        ),
        (
            None,
            Some("short"),
            view,
            json!({"events": [{"product_id": "P1"}]}),
            "X-Device-Id",
        ),
        (
            None,
            None,
            view,
            json!({"events": [{"product_id": "P1"}]}),
            "X-Device-Id",
        ),
        (
            None,
            Some(&phone),
            view,
            json!({"events": [{"product_id": "P1"}, {"product_id": "no#such"}]}),
            "events[1].product_id",
        ),
        (
            None,
            Some(&phone),
            "/api/v1/behavior/search",
            json!({"events": [{"query": "   "}]}),
            "events[0].query",
        ),
        (
            None,
            Some(&phone),
            "/api/v1/behavior/search",
            json!({"events": [{"query": "x".repeat(201)}]}),
            "events[0].query",
        ),
        (
            None,
            Some(&phone),
            "/api/v1/behavior/click",
            json!({"events": [{"product_id": "P1", "query": "shoes", "position": 0}]}),
            "events[0].position",
        ),
        (
            Some(&token),
            None,
            "/api/v1/price-alerts",
            json!({"product_id": "P1", "target_price": -5}),
            "target_price",
        ),
        (
            Some(&token),
            None,
            "/api/v1/price-alerts",
            json!({"product_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ", "target_price": 5}),
            "product_id",
        ),
    ];
    for (token, dev, path, body, field) in cases {
        let r = call(&ctx, Method::POST, path, token, dev, Some(body)).await;
        r.problem(422);
        assert_eq!(r.error_fields(), [field], "{path}: {}", r.text);
    }
    for (path, field) in [
        ("/api/v1/trending/products?window=1y", "window"),
        ("/api/v1/trending/shops?limit=0", "limit"),
        ("/api/v1/popular/searches?limit=51", "limit"),
    ] {
        let r = ctx.get(path, None).await;
        r.problem(422);
        assert_eq!(r.error_fields(), [field], "{path}: {}", r.text);
    }
    let r = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/products",
        None,
        Some("x"),
        None,
    )
    .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["X-Device-Id"]);
    // nothing was recorded for the device
    let r = call(
        &ctx,
        Method::GET,
        "/api/v1/recent/products",
        None,
        Some(&phone),
        None,
    )
    .await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
}
