//! The catalogue end to end: categories, a seller's product with variants, buyer listings,
//! archiving, price history, the isolation matrix, bad input, and stock adjustments racing.

use e2e::Ctx;
use futures::future::join_all;
use serde_json::{Value, json};

struct Seller {
    email: String,
    token: String,
    org_id: String,
    shop_id: String,
}

async fn admin(ctx: &Ctx) -> String {
    let (id, token, _) = ctx.user("catalog-admin").await;
    ctx.make_admin(&id).await;
    token
}

async fn category(ctx: &Ctx, admin: &str) -> String {
    let root = ctx
        .post(
            "/api/v1/categories",
            Some(admin),
            json!({"name": format!("Fashion {}", ulid::Ulid::new())}),
        )
        .await;
    assert_eq!(root.status, 201, "{}", root.text);
    let sub = ctx
        .post(
            "/api/v1/categories",
            Some(admin),
            json!({"name": "Ao dai", "parent_id": root.body["id"]}),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    // three levels are refused
    let deep = ctx
        .post(
            "/api/v1/categories",
            Some(admin),
            json!({"name": "Too deep", "parent_id": sub.body["id"]}),
        )
        .await;
    assert_eq!(deep.problem(422)["errors"][0]["field"], "parent_id");
    // names are unique per level, whatever their case; the same name under another parent is fine
    let again = ctx
        .post(
            "/api/v1/categories",
            Some(admin),
            json!({"name": "AO DAI", "parent_id": root.body["id"]}),
        )
        .await;
    assert!(
        again.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{}",
        again.text
    );
    let twin = ctx
        .post(
            "/api/v1/categories",
            Some(admin),
            json!({"name": root.body["name"]}),
        )
        .await;
    twin.problem(409);
    sub.body["id"].as_str().unwrap().to_owned()
}

async fn seller(ctx: &Ctx, prefix: &str) -> Seller {
    let (_, email, token) = ctx.seller(prefix).await;
    let org = ctx
        .post(
            "/api/v1/organizations",
            Some(&token),
            json!({"name": "Catalog Co"}),
        )
        .await;
    let org_id = org.body["id"].as_str().unwrap().to_owned();
    let shop = ctx
        .post(&format!("/api/v1/organizations/{org_id}/shops"), Some(&token), json!({
            "name": "Catalog shop", "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}
        }))
        .await;
    assert_eq!(shop.status, 201, "{}", shop.text);
    Seller {
        email,
        token,
        org_id,
        shop_id: shop.body["id"].as_str().unwrap().to_owned(),
    }
}

fn variant(sku: &str, amount: i64, stock: i64) -> Value {
    json!({"sku": sku, "attributes": {"size": "M"}, "price": {"amount": amount, "currency": "VND"}, "weight_grams": 350, "stock": stock})
}

fn product(category_id: &str, status: &str, variants: Vec<Value>) -> Value {
    json!({"name": "Silk ao dai", "description": "Hand-sewn", "category_id": category_id, "status": status, "variants": variants})
}

async fn create(ctx: &Ctx, s: &Seller, body: Value) -> Value {
    let r = ctx
        .post(
            &format!("/api/v1/shops/{}/products", s.shop_id),
            Some(&s.token),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn sku() -> String {
    format!("SKU-{}", ulid::Ulid::new())
}

#[tokio::test]
async fn a_product_with_three_variants_is_listed_for_buyers_until_archived() {
    let ctx = Ctx::new();
    let admin = admin(&ctx).await;
    let cat = category(&ctx, &admin).await;
    let s = seller(&ctx, "catalog-seller").await;
    let (a, b, c) = (sku(), sku(), sku());
    let p = create(
        &ctx,
        &s,
        product(
            &cat,
            "active",
            vec![
                variant(&a, 450_000, 3),
                variant(&b, 500_000, 0),
                variant(&c, 550_000, 8),
            ],
        ),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let cheap = create(
        &ctx,
        &s,
        product(&cat, "active", vec![variant(&sku(), 120_000, 1)]),
    )
    .await;
    let draft = create(
        &ctx,
        &s,
        product(&cat, "draft", vec![variant(&sku(), 90_000, 1)]),
    )
    .await;

    let (_, buyer, _) = ctx.user("catalog-buyer").await;
    let seen = ctx
        .get(&format!("/api/v1/products/{id}"), Some(&buyer))
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    let variants = seen.body["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    assert_eq!(variants.iter().filter(|v| v["in_stock"] == true).count(), 2);

    // by shop, newest first: the draft is not there
    let by_shop = ctx
        .get(&format!("/api/v1/products?shop_id={}", s.shop_id), None)
        .await;
    let ids: Vec<&str> = by_shop.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![cheap["id"].as_str().unwrap(), id]);
    // by category, cheapest first, within a price range
    let ranged = ctx.get(&format!("/api/v1/products?category_id={cat}&sort=price_asc&min_price=100000&max_price=460000"), None).await;
    let cards = ranged.body["items"].as_array().unwrap();
    assert_eq!(cards.len(), 2, "{}", ranged.text);
    assert_eq!(cards[0]["price"]["amount"], 120_000);
    assert_eq!(cards[1]["price"]["amount"], 450_000);
    let desc = ctx
        .get(
            &format!("/api/v1/products?category_id={cat}&sort=price_desc"),
            None,
        )
        .await;
    assert_eq!(desc.body["items"][0]["id"], id);
    // related: same category, near in price
    let related = ctx
        .get(
            &format!("/api/v1/products/{}/related", cheap["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        related.body["items"],
        json!([]),
        "450 000 is not within ±30 % of 120 000"
    );
    // drafts are the seller's only
    ctx.get(
        &format!("/api/v1/products/{}", draft["id"].as_str().unwrap()),
        Some(&buyer),
    )
    .await
    .problem(404);
    assert_eq!(
        ctx.get(
            &format!("/api/v1/products/{}", draft["id"].as_str().unwrap()),
            Some(&s.token)
        )
        .await
        .status,
        200
    );
    let mine = ctx
        .get(
            &format!("/api/v1/shops/{}/products", s.shop_id),
            Some(&s.token),
        )
        .await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 3);

    // archiving removes it from every buyer view
    assert_eq!(
        ctx.delete(&format!("/api/v1/products/{id}"), Some(&s.token))
            .await
            .status,
        204
    );
    ctx.get(&format!("/api/v1/products/{id}"), None)
        .await
        .problem(404);
    let after = ctx
        .get(&format!("/api/v1/products?category_id={cat}"), None)
        .await;
    assert!(!after.text.contains(id), "{}", after.text);
    assert_eq!(
        ctx.get(&format!("/api/v1/products/{id}"), Some(&s.token))
            .await
            .body["status"],
        "archived"
    );
}

#[tokio::test]
async fn price_changes_are_recorded_and_discounts_apply_in_their_window() {
    let ctx = Ctx::new();
    let cat = category(&ctx, &admin(&ctx).await).await;
    let s = seller(&ctx, "pricing").await;
    let code = sku();
    let p = create(
        &ctx,
        &s,
        product(&cat, "active", vec![variant(&code, 200_000, 5)]),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let changed = ctx
        .put(&format!("/api/v1/products/{id}/variants/{code}/price"), Some(&s.token), json!({
            "price": {"amount": 180_000, "currency": "VND"},
            "discount": {"kind": "percentage", "value": 1000, "starts_at": now - 60, "ends_at": now + 3600}
        }))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        changed.body["variants"][0]["effective_price"]["amount"],
        162_000
    );
    let history = ctx
        .get(&format!("/api/v1/products/{id}/price-history"), None)
        .await;
    let amounts: Vec<i64> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["price"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![180_000, 200_000]);
    // the listing follows the new list price
    let listed = ctx
        .get(
            &format!(
                "/api/v1/products?shop_id={}&sort=price_asc&max_price=190000",
                s.shop_id
            ),
            None,
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["price"]["amount"], 180_000,
        "{}",
        listed.text
    );
    // …and sorts and filters by what a buyer pays now (10 % off: 162 000)
    assert_eq!(
        listed.body["items"][0]["effective_price"]["amount"], 162_000,
        "{}",
        listed.text
    );
    let under_discount = ctx
        .get(
            &format!(
                "/api/v1/products?shop_id={}&sort=price_asc&max_price=170000",
                s.shop_id
            ),
            None,
        )
        .await;
    assert_eq!(
        under_discount.body["items"][0]["id"], id,
        "{}",
        under_discount.text
    );
    let r = ctx
        .put(
            &format!("/api/v1/products/{id}/variants/{code}/price"),
            Some(&s.token),
            json!({"price": {"amount": 1, "currency": "USD"}, "discount": null}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "price.currency");
}

#[tokio::test]
async fn the_isolation_matrix_holds() {
    let ctx = Ctx::new();
    let cat = category(&ctx, &admin(&ctx).await).await;
    let a = seller(&ctx, "iso-a").await;
    let b = seller(&ctx, "iso-b").await;
    let code = sku();
    let draft = create(
        &ctx,
        &a,
        product(&cat, "draft", vec![variant(&code, 10_000, 5)]),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    let edit = json!({"name": "Stolen", "category_id": cat, "status": "active"});

    // another organisation: reads, edits, stock and listings of A's shop are all closed
    ctx.get(&format!("/api/v1/products/{id}"), Some(&b.token))
        .await
        .problem(404);
    ctx.put(
        &format!("/api/v1/products/{id}"),
        Some(&b.token),
        edit.clone(),
    )
    .await
    .problem(404);
    ctx.delete(&format!("/api/v1/products/{id}"), Some(&b.token))
        .await
        .problem(404);
    ctx.post(
        &format!("/api/v1/products/{id}/variants/{code}/stock-adjustments"),
        Some(&b.token),
        json!({"delta": 5, "reason": "restock"}),
    )
    .await
    .problem(404);
    ctx.post(
        &format!("/api/v1/shops/{}/products", a.shop_id),
        Some(&b.token),
        product(&cat, "active", vec![variant(&sku(), 1, 1)]),
    )
    .await
    .problem(404);
    ctx.get(
        &format!("/api/v1/shops/{}/inventory", a.shop_id),
        Some(&b.token),
    )
    .await
    .problem(404);

    // a buyer cannot call seller routes
    let (_, buyer, _) = ctx.user("iso-buyer").await;
    ctx.post(
        &format!("/api/v1/shops/{}/products", a.shop_id),
        Some(&buyer),
        product(&cat, "active", vec![variant(&sku(), 1, 1)]),
    )
    .await
    .problem(404);
    ctx.get(
        &format!("/api/v1/products/{id}/variants/{code}/ledger"),
        Some(&buyer),
    )
    .await
    .problem(404);

    // a manager of another shop of the same organisation is refused with 403
    let other_shop = ctx
        .post(&format!("/api/v1/organizations/{}/shops", a.org_id), Some(&a.token), json!({
            "name": "Second", "address": {"line1": "2 Hue", "city": "Hanoi", "country": "VN", "location": {"lat": 21.0, "lng": 105.8}}
        }))
        .await;
    let (_, manager_email, manager) = ctx.seller("iso-manager").await;
    let added = ctx
        .post(
            &format!("/api/v1/organizations/{}/members", a.org_id),
            Some(&a.token),
            json!({"email": manager_email, "role": "manager", "shop_ids": [other_shop.body["id"]]}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    ctx.put(
        &format!("/api/v1/products/{id}"),
        Some(&manager),
        edit.clone(),
    )
    .await
    .problem(403);
    ctx.post(
        &format!("/api/v1/products/{id}/variants/{code}/stock-adjustments"),
        Some(&manager),
        json!({"delta": 5, "reason": "restock"}),
    )
    .await
    .problem(403);

    // nothing changed
    let still = ctx
        .get(&format!("/api/v1/products/{id}"), Some(&a.token))
        .await;
    assert_eq!(
        (still.body["name"].as_str(), still.body["status"].as_str()),
        (Some("Silk ao dai"), Some("draft"))
    );
    assert_eq!(still.body["variants"][0]["available"], 5);
}

#[tokio::test]
async fn bad_catalog_input_is_refused_and_writes_nothing() {
    let ctx = Ctx::new();
    let cat = category(&ctx, &admin(&ctx).await).await;
    let s = seller(&ctx, "bad-catalog").await;
    let path = format!("/api/v1/shops/{}/products", s.shop_id);
    let cases = [
        (
            product(&cat, "active", vec![variant(&sku(), -5, 1)]),
            "variants[0].price.amount",
        ),
        (
            product(&cat, "active", vec![variant(&sku(), 5, -1)]),
            "variants[0].stock",
        ),
        (product(&cat, "active", vec![]), "variants"),
        (
            product(
                &cat,
                "active",
                vec![variant("DUP", 5, 1), variant("dup", 6, 1)],
            ),
            "variants[1].sku",
        ),
        (
            product("no-such-category", "active", vec![variant(&sku(), 5, 1)]),
            "category_id",
        ),
    ];
    for (body, field) in cases {
        let r = ctx.post(&path, Some(&s.token), body).await;
        r.problem(422);
        assert!(
            r.error_fields().contains(&field.to_owned()),
            "{field}: {}",
            r.text
        );
    }
    let mut unknown_currency = product(&cat, "active", vec![variant(&sku(), 5, 1)]);
    unknown_currency["variants"][0]["price"]["currency"] = json!("XYZ");
    let r = ctx.post(&path, Some(&s.token), unknown_currency).await;
    assert_eq!(
        r.problem(422)["errors"][0]["field"],
        "variants[0].price.currency"
    );

    // a SKU already used in the shop: 409, and the second product was not half-written
    let taken = sku();
    create(
        &ctx,
        &s,
        product(&cat, "active", vec![variant(&taken, 5, 1)]),
    )
    .await;
    let dup = ctx
        .post(
            &path,
            Some(&s.token),
            product(
                &cat,
                "active",
                vec![variant(&sku(), 7, 1), variant(&taken, 5, 1)],
            ),
        )
        .await;
    assert!(
        dup.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("variants[1].sku"),
        "{}",
        dup.text
    );
    let mine = ctx.get(&path, Some(&s.token)).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);

    // removing more than is available is a conflict, not negative stock
    let p = mine.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = ctx
        .post(
            &format!("/api/v1/products/{p}/variants/{taken}/stock-adjustments"),
            Some(&s.token),
            json!({"delta": -2, "reason": "damage"}),
        )
        .await;
    r.problem(409);
    let r = ctx
        .post(
            &format!("/api/v1/products/{p}/variants/{taken}/stock-adjustments"),
            Some(&s.token),
            json!({"delta": 3, "reason": "damage"}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "delta");
}

#[tokio::test]
async fn fifty_concurrent_adjustments_never_lose_an_update() {
    let ctx = Ctx::new();
    let cat = category(&ctx, &admin(&ctx).await).await;
    let s = seller(&ctx, "stock-race").await;
    let code = sku();
    let p = create(&ctx, &s, product(&cat, "active", vec![json!({"sku": code, "price": {"amount": 1000, "currency": "VND"}, "weight_grams": 10, "stock": 10, "low_stock_threshold": 3})])).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/v1/products/{id}/variants/{code}/stock-adjustments");
    // 30 restocks of +2 and 20 damages of -1, all at once
    let bodies: Vec<Value> = (0..50)
        .map(|i| {
            if i % 5 < 3 {
                json!({"delta": 2, "reason": "restock"})
            } else {
                json!({"delta": -1, "reason": "damage"})
            }
        })
        .collect();
    let replies = join_all(
        bodies
            .into_iter()
            .map(|b| ctx.post(&path, Some(&s.token), b)),
    )
    .await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies
            .iter()
            .filter(|r| r.status != 200)
            .map(|r| &r.text)
            .collect::<Vec<_>>()
    );

    let product = ctx
        .get(&format!("/api/v1/products/{id}"), Some(&s.token))
        .await;
    assert_eq!(product.body["variants"][0]["available"], 10 + 60 - 20);
    let ledger = ctx
        .get(
            &format!("/api/v1/products/{id}/variants/{code}/ledger?limit=100"),
            Some(&s.token),
        )
        .await;
    let entries = ledger.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 51, "the opening stock plus 50 adjustments");
    assert_eq!(
        entries
            .iter()
            .map(|e| e["delta"].as_i64().unwrap())
            .sum::<i64>(),
        50
    );

    // bulk: all or nothing
    let bulk = format!("/api/v1/shops/{}/inventory/adjustments", s.shop_id);
    let r = ctx.post(&bulk, Some(&s.token), json!({"adjustments": [{"product_id": id, "sku": code, "delta": -60, "reason": "correction"}]})).await;
    r.problem(409);
    let r = ctx.post(&bulk, Some(&s.token), json!({"adjustments": [{"product_id": id, "sku": code, "delta": -48, "reason": "correction"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["items"][0]["available"].as_i64(),
            r.body["items"][0]["low_stock"].as_bool()
        ),
        (Some(2), Some(true))
    );
    let low = ctx
        .get(
            &format!("/api/v1/shops/{}/inventory?low_stock=true", s.shop_id),
            Some(&s.token),
        )
        .await;
    assert_eq!(
        low.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        low.text
    );
    // the crossing was announced once: StockLow → bus → notifier → the owner's mailbox
    let mail = ctx
        .wait_for_mail(&s.email, &format!("Low stock: {code}"))
        .await;
    assert!(mail.contains("down to 2"), "{mail}");
    // a further removal below the threshold does not announce it again
    let r = ctx
        .post(
            &path,
            Some(&s.token),
            json!({"delta": -1, "reason": "damage"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let lows = ctx
        .mails_to(&s.email)
        .await
        .into_iter()
        .filter(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|t| t.starts_with("Low stock"))
        })
        .count();
    assert_eq!(lows, 1);
}

#[tokio::test]
async fn ten_concurrent_creations_of_one_category_name_make_one_category() {
    let ctx = Ctx::new();
    let admin = admin(&ctx).await;
    let name = format!("Racing {}", ulid::Ulid::new());
    let replies = futures::future::join_all((0..10).map(|i| {
        let body = if i % 2 == 0 {
            json!({"name": name})
        } else {
            json!({"name": name.to_uppercase()})
        };
        ctx.post("/api/v1/categories", Some(&admin), body)
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 201) {
        r.problem(409);
    }
    let listed = ctx.get("/api/v1/categories", None).await;
    let same = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().eq_ignore_ascii_case(&name))
        .count();
    assert_eq!(same, 1, "one category of that name is listed");
}
