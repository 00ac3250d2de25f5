//! Warehouses and the transfers between them, against the real emulator: the CRUD journey with
//! the warehouse inventory's pages, a partial receipt's discrepancy, a transfer racing
//! checkouts on its source, a transfer shipped by ten requests at once, and who may see what.

use std::collections::BTreeSet;

use e2e::{Ctx, NewVariant, Reply, TestShop};
use futures::StreamExt;
use futures::future::join_all;
use serde_json::{Value, json};

fn variant(sku: &str, stock: i64) -> NewVariant<'_> {
    NewVariant {
        sku,
        price: 120_000,
        stock,
        weight_grams: 300,
    }
}

fn main_of(shop: &TestShop) -> String {
    format!("{}-main", shop.shop_id)
}

/// `POST /api/v1/organizations/{org}/warehouses` serving `shops`, at `point`; asserts 201.
async fn new_warehouse(
    ctx: &Ctx,
    shop: &TestShop,
    name: &str,
    point: (f64, f64),
    shops: &[&str],
) -> String {
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{}/warehouses", shop.org_id),
            Some(&shop.seller_token),
            json!({"name": name, "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": point.0, "lng": point.1}}, "shop_ids": shops}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "active");
    r.body["id"].as_str().unwrap().to_owned()
}

/// Far from the test shops (Hà Nội) and their buyers: checkout prefers the shop's main
/// warehouse while it has stock.
const SAIGON: (f64, f64) = (10.7725, 106.698);

/// Every page of a list route, `limit` at a time; asserts each page is a 200.
async fn all_pages(ctx: &Ctx, token: &str, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = ctx.get(&url, Some(token)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        let page = r.body["items"].as_array().unwrap();
        assert!(page.len() <= limit as usize, "{url}: {}", r.text);
        items.extend(page.iter().cloned());
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (items, pages),
        }
        assert!(pages < 100, "{path} never ends");
    }
}

/// The warehouse's row of `product/sku` (from the warehouse inventory route), if it has one.
async fn row(ctx: &Ctx, token: &str, warehouse: &str, product: &str, sku: &str) -> Option<Value> {
    let (rows, _) = all_pages(
        ctx,
        token,
        &format!("/api/v1/warehouses/{warehouse}/inventory"),
        100,
    )
    .await;
    rows.into_iter()
        .find(|r| r["product_id"] == product && r["sku"] == sku)
}

/// The variant's ledger entries of one warehouse (entries before warehouses carry none: they
/// are the main warehouse's).
async fn ledger(
    ctx: &Ctx,
    shop: &TestShop,
    product: &str,
    sku: &str,
    warehouse: &str,
) -> Vec<Value> {
    let (entries, _) = all_pages(
        ctx,
        &shop.seller_token,
        &format!("/api/v1/products/{product}/variants/{sku}/ledger"),
        100,
    )
    .await;
    entries
        .into_iter()
        .filter(|e| e["warehouse_id"].as_str().unwrap_or(&main_of(shop)) == warehouse)
        .collect()
}

fn sum(entries: &[Value]) -> i64 {
    entries.iter().map(|e| e["delta"].as_i64().unwrap()).sum()
}

async fn transfer(ctx: &Ctx, token: &str, from: &str, to: &str, lines: Value) -> Reply {
    ctx.post(
        "/api/v1/transfers",
        Some(token),
        json!({"from_warehouse_id": from, "to_warehouse_id": to, "lines": lines, "note": "restock the south"}),
    )
    .await
}

async fn requested(ctx: &Ctx, token: &str, from: &str, to: &str, lines: Value) -> String {
    let r = transfer(ctx, token, from, to, lines).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "requested");
    r.body["id"].as_str().unwrap().to_owned()
}

/// A step without a body (receiving without one: everything arrived).
async fn step(ctx: &Ctx, token: &str, id: &str, step: &str) -> Reply {
    ctx.send(
        reqwest::Method::POST,
        &format!("/api/v1/transfers/{id}/{step}"),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn a_warehouse_is_created_listed_paged_edited_and_closed_only_when_empty() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("wh-crud").await;
    let owner = shop.seller_token.clone();
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[
                variant("A", 10),
                variant("B", 10),
                variant("C", 0),
                variant("D", 4),
                variant("E", 50),
            ],
        )
        .await;
    let main = main_of(&shop);

    // GIVEN a second warehouse serving the shop
    let south = new_warehouse(&ctx, &shop, "Saigon depot", SAIGON, &[&shop.shop_id]).await;
    let got = ctx
        .get(&format!("/api/v1/warehouses/{south}"), Some(&owner))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["shop_ids"], json!([shop.shop_id]));
    assert_eq!(got.body["address"]["location"]["lat"], SAIGON.0);

    // THEN the organisation's list holds both (paged one at a time, by name)
    let (listed, pages) = all_pages(
        &ctx,
        &owner,
        &format!("/api/v1/organizations/{}/warehouses", shop.org_id),
        1,
    )
    .await;
    let ids: Vec<&str> = listed.iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert!(pages >= 2, "one warehouse per page: {pages} pages");
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([main.as_str(), south.as_str()]),
        "{listed:?}"
    );
    assert_eq!(ids.len(), 2, "no duplicates across pages: {ids:?}");

    // a shop of another organisation cannot be served
    let other = ctx.test_shop("wh-crud-other").await;
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{}/warehouses", shop.org_id),
            Some(&owner),
            json!({"name": "Stray", "address": {"line1": "1 Le Loi", "city": "Hue", "country": "VN", "location": {"lat": 16.46, "lng": 107.59}}, "shop_ids": [other.shop_id]}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), vec!["shop_ids[0]"], "{}", r.text);

    // the main warehouse's inventory pages with the cursor: complete, no duplicates
    let (rows, pages) = all_pages(
        &ctx,
        &owner,
        &format!("/api/v1/warehouses/{main}/inventory"),
        2,
    )
    .await;
    assert_eq!(pages, 3, "5 rows, 2 a page: {rows:?}");
    let seen: Vec<&str> = rows.iter().map(|r| r["sku"].as_str().unwrap()).collect();
    assert_eq!(
        seen.iter().copied().collect::<BTreeSet<_>>(),
        skus.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "every variant once: {seen:?}"
    );
    assert_eq!(seen.len(), 5, "{seen:?}");
    for r in &rows {
        assert_eq!(r["warehouse_id"], main.as_str());
        assert_eq!(r["product_id"], product.as_str());
        assert_eq!(r["available"], r["stock"], "nothing reserved yet: {r}");
    }
    // ... and its low-stock filter keeps exactly the rows at or below their threshold
    let want_low: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["available"].as_i64() <= r["low_stock_threshold"].as_i64())
        .map(|r| r["sku"].as_str().unwrap())
        .collect();
    assert!(
        want_low.contains(skus[2].as_str()),
        "a variant with no stock is low"
    );
    assert!(!want_low.contains(skus[4].as_str()), "50 units are not low");
    let (low, _) = all_pages(
        &ctx,
        &owner,
        &format!("/api/v1/warehouses/{main}/inventory?low_stock=true"),
        2,
    )
    .await;
    let low: BTreeSet<&str> = low.iter().map(|r| r["sku"].as_str().unwrap()).collect();
    assert_eq!(low, want_low);
    // a cursor of another list is refused
    let foreign = ctx
        .get(
            &format!("/api/v1/organizations/{}/warehouses?limit=1", shop.org_id),
            Some(&owner),
        )
        .await;
    let cursor = foreign.body["next_cursor"].as_str().unwrap();
    let r = ctx
        .get(
            &format!("/api/v1/warehouses/{main}/inventory?cursor={cursor}"),
            Some(&owner),
        )
        .await;
    r.problem(422);

    // WHEN the owner renames it
    let r = ctx
        .put(
            &format!("/api/v1/warehouses/{south}"),
            Some(&owner),
            json!({"name": "Saigon south depot", "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": SAIGON.0, "lng": SAIGON.1}}, "shop_ids": [shop.shop_id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Saigon south depot");

    // AND moves 3 units of A into it
    let t = requested(
        &ctx,
        &owner,
        &main,
        &south,
        json!([{"product_id": product, "sku": skus[0], "quantity": 3}]),
    )
    .await;
    assert_eq!(step(&ctx, &owner, &t, "ship").await.status, 200);
    let r = ctx
        .post(
            &format!("/api/v1/transfers/{t}/receive"),
            Some(&owner),
            json!({"lines": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "received");
    assert_eq!(r.body["discrepancies"], json!([]));

    // THEN it cannot be closed, nor stop serving the shop, while it holds that stock
    let r = ctx
        .delete(&format!("/api/v1/warehouses/{south}"), Some(&owner))
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("holds stock"),
        "{}",
        r.text
    );
    let r = ctx
        .put(
            &format!("/api/v1/warehouses/{south}"),
            Some(&owner),
            json!({"name": "Saigon south depot", "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": SAIGON.0, "lng": SAIGON.1}}, "shop_ids": [other.shop_id]}),
        )
        .await;
    assert_eq!(r.status, 422, "another organisation's shop: {}", r.text);
    let second_shop = ctx
        .post(&format!("/api/v1/organizations/{}/shops", shop.org_id), Some(&owner), json!({
            "name": "wh-crud second shop",
            "address": {"line1": "2 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.03, "lng": 105.85}}
        }))
        .await;
    assert_eq!(second_shop.status, 201, "{}", second_shop.text);
    let second_shop = second_shop.body["id"].as_str().unwrap().to_owned();
    let r = ctx
        .put(
            &format!("/api/v1/warehouses/{south}"),
            Some(&owner),
            json!({"name": "Saigon south depot", "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": SAIGON.0, "lng": SAIGON.1}}, "shop_ids": [second_shop]}),
        )
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("holds stock"),
        "{}",
        r.text
    );
    // ... serving one more shop is fine
    let r = ctx
        .put(
            &format!("/api/v1/warehouses/{south}"),
            Some(&owner),
            json!({"name": "Saigon south depot", "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": SAIGON.0, "lng": SAIGON.1}}, "shop_ids": [shop.shop_id, second_shop]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["shop_ids"].as_array().unwrap().len(), 2);

    // AND a shop's main (default) warehouse is never closed
    let r = ctx
        .delete(&format!("/api/v1/warehouses/{main}"), Some(&owner))
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("default warehouse"),
        "{}",
        r.text
    );

    // AND an empty warehouse closes: it stays readable, closed, and takes no transfers
    let spare = new_warehouse(&ctx, &shop, "Spare depot", SAIGON, &[&shop.shop_id]).await;
    let r = ctx
        .delete(&format!("/api/v1/warehouses/{spare}"), Some(&owner))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "closed");
    let again = ctx
        .delete(&format!("/api/v1/warehouses/{spare}"), Some(&owner))
        .await;
    again.problem(409);
    let got = ctx
        .get(&format!("/api/v1/warehouses/{spare}"), Some(&owner))
        .await;
    assert_eq!(got.body["status"], "closed", "{}", got.text);
    let r = transfer(
        &ctx,
        &owner,
        &main,
        &spare,
        json!([{"product_id": product, "sku": skus[1], "quantity": 1}]),
    )
    .await;
    r.problem(422);
    assert_eq!(r.error_fields(), vec!["to_warehouse_id"], "{}", r.text);
}

#[tokio::test]
async fn a_partial_receipt_records_the_discrepancy() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("wh-partial").await;
    let owner = shop.seller_token.clone();
    let (product, skus) = ctx.test_product(&shop, &[variant("PART", 20)]).await;
    let sku = &skus[0];
    let main = main_of(&shop);
    let south = new_warehouse(&ctx, &shop, "Saigon depot", SAIGON, &[&shop.shop_id]).await;

    // a line must be the organisation's, and its shop served by both warehouses
    let lonely = new_warehouse(&ctx, &shop, "Lonely depot", SAIGON, &[&shop.shop_id]).await;
    let extra_shop = ctx
        .post(&format!("/api/v1/organizations/{}/shops", shop.org_id), Some(&owner), json!({
            "name": "wh-partial other shop",
            "address": {"line1": "3 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.03, "lng": 105.85}}
        }))
        .await;
    let extra_shop = extra_shop.body["id"].as_str().unwrap().to_owned();
    let r = ctx
        .put(
            &format!("/api/v1/warehouses/{lonely}"),
            Some(&owner),
            json!({"name": "Lonely depot", "address": {"line1": "9 Kho Hang", "city": "Ho Chi Minh City", "country": "VN", "location": {"lat": SAIGON.0, "lng": SAIGON.1}}, "shop_ids": [extra_shop]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = transfer(
        &ctx,
        &owner,
        &main,
        &lonely,
        json!([{"product_id": product, "sku": sku, "quantity": 7}]),
    )
    .await;
    r.problem(422);
    assert_eq!(r.error_fields(), vec!["lines[0].product_id"], "{}", r.text);
    let r = transfer(
        &ctx,
        &owner,
        &main,
        &main,
        json!([{"product_id": product, "sku": sku, "quantity": 7}]),
    )
    .await;
    assert_eq!(r.error_fields(), vec!["to_warehouse_id"], "{}", r.text);

    // GIVEN a transfer of 7, shipped: nothing moves until it ships
    let t = requested(
        &ctx,
        &owner,
        &main,
        &south,
        json!([{"product_id": product, "sku": sku, "quantity": 7}]),
    )
    .await;
    let src = row(&ctx, &owner, &main, &product, sku).await.unwrap();
    assert_eq!(src["stock"], 20, "a request moves nothing");
    // receiving before it ships is refused
    step(&ctx, &owner, &t, "receive").await.problem(409);
    let shipped = step(&ctx, &owner, &t, "ship").await;
    assert_eq!(shipped.status, 200, "{}", shipped.text);
    assert_eq!(shipped.body["status"], "in_transit");
    assert!(shipped.body["shipped_at"].is_string());
    let src = row(&ctx, &owner, &main, &product, sku).await.unwrap();
    assert_eq!(
        (src["stock"].as_i64(), src["available"].as_i64()),
        (Some(13), Some(13))
    );
    // a shipped transfer cannot be cancelled, nor shipped again
    step(&ctx, &owner, &t, "cancel").await.problem(409);
    step(&ctx, &owner, &t, "ship").await.problem(409);

    // more than was shipped is refused, naming the line
    let r = ctx
        .post(
            &format!("/api/v1/transfers/{t}/receive"),
            Some(&owner),
            json!({"lines": [{"product_id": product, "sku": sku, "quantity": 8}]}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), vec!["lines[0].quantity"], "{}", r.text);

    // WHEN only 5 arrive
    let r = ctx
        .post(
            &format!("/api/v1/transfers/{t}/receive"),
            Some(&owner),
            json!({"lines": [{"product_id": product, "sku": sku.to_lowercase(), "quantity": 5}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // THEN the transfer is received with the discrepancy recorded
    assert_eq!(r.body["status"], "received");
    assert_eq!(r.body["lines"][0]["quantity"], 7);
    assert_eq!(r.body["lines"][0]["received"], 5);
    assert_eq!(
        r.body["discrepancies"],
        json!([{"product_id": product, "sku": sku, "shipped": 7, "received": 5, "missing": 2}])
    );
    let read = ctx
        .get(&format!("/api/v1/transfers/{t}"), Some(&owner))
        .await;
    assert_eq!(
        read.body["discrepancies"], r.body["discrepancies"],
        "{}",
        read.text
    );
    step(&ctx, &owner, &t, "receive").await.problem(409);

    // AND the target holds 5, the source 7 fewer
    let dst = row(&ctx, &owner, &south, &product, sku).await.unwrap();
    assert_eq!(
        (dst["stock"].as_i64(), dst["available"].as_i64()),
        (Some(5), Some(5))
    );
    let src = row(&ctx, &owner, &main, &product, sku).await.unwrap();
    assert_eq!(src["stock"], 13);

    // AND both ledgers show the steps, summing to each row's stock
    let at_source = ledger(&ctx, &shop, &product, sku, &main).await;
    let at_target = ledger(&ctx, &shop, &product, sku, &south).await;
    let reasons = |entries: &[Value]| -> Vec<(String, i64)> {
        entries
            .iter()
            .map(|e| {
                (
                    e["reason"].as_str().unwrap().to_owned(),
                    e["delta"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert!(
        reasons(&at_source).contains(&("transfer_out".into(), -7)),
        "{at_source:?}"
    );
    assert!(
        reasons(&at_source).contains(&("transfer_received".into(), 0)),
        "{at_source:?}"
    );
    let received_note = at_source
        .iter()
        .find(|e| e["reason"] == "transfer_received")
        .unwrap()["note"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(received_note.contains("2 missing"), "{received_note}");
    assert_eq!(
        reasons(&at_target),
        vec![("transfer_in_transit".into(), 0), ("transfer_in".into(), 5)],
        "{at_target:?}"
    );
    assert_eq!(sum(&at_source), 13);
    assert_eq!(sum(&at_target), 5);

    // a requested transfer can be cancelled (by the target's side too), once
    let t2 = requested(
        &ctx,
        &owner,
        &south,
        &main,
        json!([{"product_id": product, "sku": sku, "quantity": 1}]),
    )
    .await;
    let r = step(&ctx, &owner, &t2, "cancel").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    step(&ctx, &owner, &t2, "cancel").await.problem(409);
    step(&ctx, &owner, &t2, "ship").await.problem(409);

    // the organisation's transfers, newest first, filtered by status and warehouse
    let list = |q: &str| {
        let path = format!("/api/v1/organizations/{}/transfers{q}", shop.org_id);
        let ctx = &ctx;
        let owner = &owner;
        async move {
            let (items, _) = all_pages(ctx, owner, &path, 1).await;
            items
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, vec![t2.clone(), t.clone()]);
    assert_eq!(list("?status=received").await, vec![t.clone()]);
    assert_eq!(list("?status=cancelled").await, vec![t2.clone()]);
    assert_eq!(
        list(&format!("?warehouse_id={south}")).await,
        vec![t2.clone(), t.clone()]
    );
    assert_eq!(
        list(&format!("?warehouse_id={lonely}")).await,
        Vec::<String>::new()
    );
    let r = ctx
        .get(
            &format!(
                "/api/v1/organizations/{}/transfers?status=lost",
                shop.org_id
            ),
            Some(&owner),
        )
        .await;
    r.problem(400);
}

#[tokio::test]
async fn a_transfer_racing_checkouts_never_takes_the_source_below_zero() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("wh-race").await;
    let owner = shop.seller_token.clone();
    let (product, skus) = ctx.test_product(&shop, &[variant("RACE", 10)]).await;
    let sku = skus[0].clone();
    let main = main_of(&shop);
    let south = new_warehouse(&ctx, &shop, "Saigon depot", SAIGON, &[&shop.shop_id]).await;
    let t = requested(
        &ctx,
        &owner,
        &main,
        &south,
        json!([{"product_id": product, "sku": sku, "quantity": 7}]),
    )
    .await;
    // 20 buyers in Hà Nội (by the main warehouse), one unit each in the cart
    let buyers: Vec<(String, String)> = futures::stream::iter(0..20)
        .map(|_| {
            let (ctx, product, sku) = (&ctx, &product, &sku);
            async move {
                let (_, token, _) = ctx.user("wh-racer").await;
                let address = ctx.test_address(&token).await;
                ctx.add_to_cart(&token, product, sku, 1).await;
                (token, address)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // WHEN they all check out while the transfer ships
    let (checkouts, shipped) = tokio::join!(
        join_all(buyers.iter().map(|(token, address)| {
            let ctx = &ctx;
            async move {
                ctx.checkout(
                    token,
                    address,
                    "cod",
                    &format!("wh-race-{}", ulid::Ulid::new()),
                )
                .await
            }
        })),
        step(&ctx, &owner, &t, "ship"),
    );

    // THEN nothing oversold: sold + shipped ≤ 10 and the source row never below zero
    let sold = checkouts.iter().filter(|r| r.status == 201).count() as i64;
    for r in checkouts.iter().filter(|r| r.status != 201) {
        r.problem(409);
    }
    assert!(
        matches!(shipped.status.as_u16(), 200 | 409),
        "{}",
        shipped.text
    );
    let moved = if shipped.status == 200 { 7 } else { 0 };
    if shipped.status == 409 {
        assert!(shipped.text.contains("lines[0]"), "{}", shipped.text);
    }
    assert!(sold + moved <= 10, "sold {sold}, shipped {moved}");
    let src = row(&ctx, &owner, &main, &product, &sku).await.unwrap();
    assert!(src["available"].as_i64().unwrap() >= 0, "{src}");
    assert_eq!(src["stock"].as_i64(), Some(10 - moved), "{src}");
    assert_eq!(src["reserved"].as_i64(), Some(sold), "{src}");
    assert_eq!(src["available"].as_i64(), Some(10 - moved - sold), "{src}");

    // AND the ledger on both sides sums to each row's stock (reservations are not movements)
    let at_source = ledger(&ctx, &shop, &product, &sku, &main).await;
    assert_eq!(
        sum(&at_source),
        src["stock"].as_i64().unwrap(),
        "{at_source:?}"
    );
    if moved > 0 {
        let r = step(&ctx, &owner, &t, "receive").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let dst = row(&ctx, &owner, &south, &product, &sku).await.unwrap();
        assert_eq!(dst["stock"], 7);
        let at_target = ledger(&ctx, &shop, &product, &sku, &south).await;
        assert_eq!(sum(&at_target), 7, "{at_target:?}");
        assert_eq!(
            sum(&ledger(&ctx, &shop, &product, &sku, &main).await),
            3,
            "the source's ledger after the receipt"
        );
    }
}

#[tokio::test]
async fn ten_ship_calls_at_once_ship_the_transfer_once() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("wh-twice").await;
    let owner = shop.seller_token.clone();
    let (product, skus) = ctx
        .test_product(&shop, &[variant("ONCE", 30), variant("TWO", 30)])
        .await;
    let main = main_of(&shop);
    let south = new_warehouse(&ctx, &shop, "Saigon depot", SAIGON, &[&shop.shop_id]).await;
    let t = requested(
        &ctx,
        &owner,
        &main,
        &south,
        json!([
            {"product_id": product, "sku": skus[0], "quantity": 4},
            {"product_id": product, "sku": skus[1], "quantity": 9},
        ]),
    )
    .await;

    let replies = join_all((0..10).map(|_| step(&ctx, &owner, &t, "ship"))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        r.problem(409);
    }
    for (sku, q) in [(&skus[0], 4), (&skus[1], 9)] {
        let src = row(&ctx, &owner, &main, &product, sku).await.unwrap();
        assert_eq!(src["stock"].as_i64(), Some(30 - q), "moved once: {src}");
        let out: Vec<Value> = ledger(&ctx, &shop, &product, sku, &main)
            .await
            .into_iter()
            .filter(|e| e["reason"] == "transfer_out")
            .collect();
        assert_eq!(out.len(), 1, "one transfer_out entry: {out:?}");
        assert_eq!(out[0]["delta"].as_i64(), Some(-q));
    }
}

#[tokio::test]
async fn another_organisation_sees_nothing_and_staff_need_the_warehouse() {
    let ctx = Ctx::new();
    let (shop, outsider) = tokio::join!(ctx.test_shop("wh-iso"), ctx.test_shop("wh-iso-other"));
    let owner = shop.seller_token.clone();
    let (product, skus) = ctx.test_product(&shop, &[variant("ISO", 10)]).await;
    let main = main_of(&shop);
    let south = new_warehouse(&ctx, &shop, "Saigon depot", SAIGON, &[&shop.shop_id]).await;
    let t = requested(
        &ctx,
        &owner,
        &main,
        &south,
        json!([{"product_id": product, "sku": skus[0], "quantity": 2}]),
    )
    .await;
    let warehouse_reads = [
        format!("/api/v1/warehouses/{main}"),
        format!("/api/v1/warehouses/{main}/inventory"),
        format!("/api/v1/transfers/{t}"),
    ];

    // another organisation's owner: none of it exists
    let other = &outsider.seller_token;
    for path in warehouse_reads.iter().chain([
        &format!("/api/v1/organizations/{}/warehouses", shop.org_id),
        &format!("/api/v1/organizations/{}/transfers", shop.org_id),
    ]) {
        ctx.get(path, Some(other)).await.problem(404);
    }
    for s in ["ship", "cancel", "receive"] {
        step(&ctx, other, &t, s).await.problem(404);
    }
    ctx.delete(&format!("/api/v1/warehouses/{south}"), Some(other))
        .await
        .problem(404);
    // ... nor can it move this organisation's stock into its own warehouse
    let r = transfer(
        &ctx,
        other,
        &main_of(&outsider),
        &main,
        json!([{"product_id": product, "sku": skus[0], "quantity": 1}]),
    )
    .await;
    r.problem(404);

    // a staff member of the shop without warehouses: 403 on the warehouse routes
    let (staff_id, staff_email, staff) = ctx.seller("wh-iso-staff").await;
    ctx.add_member(
        &owner,
        &shop.org_id,
        &staff_email,
        "staff",
        &[&shop.shop_id],
    )
    .await;
    for path in &warehouse_reads {
        ctx.get(path, Some(&staff)).await.problem(403);
    }
    step(&ctx, &staff, &t, "ship").await.problem(403);
    let r = ctx
        .get(
            &format!("/api/v1/organizations/{}/transfers", shop.org_id),
            Some(&staff),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["items"], json!([]), "no warehouse, no transfers");

    // WHEN given the main warehouse
    let r = ctx
        .put(
            &format!("/api/v1/organizations/{}/members/{staff_id}", shop.org_id),
            Some(&owner),
            json!({"role": "staff", "shop_ids": [shop.shop_id], "warehouse_ids": [main]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // THEN it operates that one (and the transfers touching it), not the other, and manages none
    for path in &warehouse_reads {
        let r = ctx.get(path, Some(&staff)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    ctx.get(&format!("/api/v1/warehouses/{south}"), Some(&staff))
        .await
        .problem(403);
    let r = ctx
        .get(
            &format!("/api/v1/organizations/{}/transfers", shop.org_id),
            Some(&staff),
        )
        .await;
    assert_eq!(r.body["items"][0]["id"], t.as_str(), "{}", r.text);
    ctx.get(
        &format!(
            "/api/v1/organizations/{}/transfers?warehouse_id={south}",
            shop.org_id
        ),
        Some(&staff),
    )
    .await
    .problem(403);
    ctx.put(
        &format!("/api/v1/warehouses/{main}"),
        Some(&staff),
        json!({"name": "Mine now", "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}, "shop_ids": [shop.shop_id]}),
    )
    .await
    .problem(403);
    // it ships from its warehouse, but cannot receive at the other
    let r = step(&ctx, &staff, &t, "ship").await;
    assert_eq!(r.status, 200, "{}", r.text);
    step(&ctx, &staff, &t, "receive").await.problem(403);
    let r = step(&ctx, &owner, &t, "receive").await;
    assert_eq!(r.status, 200, "{}", r.text);
}
