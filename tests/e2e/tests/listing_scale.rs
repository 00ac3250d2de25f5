//! Listings across shards, against the real emulator and dev server: 300 active products of one
//! seller (three shops, three categories; a third of them with an active discount, so the
//! effective-price order differs from the list-price order) are walked by cursor in small pages
//! for every sort, over the all-products listing and a category listing. Every page is in
//! order, no product is seen twice, every one of this test's products is seen, and each card
//! shows its lowest list price and its lowest effective price.
//!
//! Other tests write products into the same all-products listing at the same time. The price
//! walks over all products are bounded to a price band only this test uses; the newest walk
//! over all products stops once it has seen this test's products (newer products of other tests
//! are ahead of them and checked for order like the rest). A newest walk with a price band (a
//! filter inside each shard's Query, so pages can be short) runs over this test's category.

use std::collections::{HashMap, HashSet};

use e2e::Ctx;
use futures::StreamExt;
use serde_json::{Value, json};

const PRODUCTS: usize = 300;
const PAGE: usize = 17;
/// This test's prices (list and effective) fall in this band, which no other test uses.
const BAND: (i64, i64) = (7_750_000, 7_790_000);

/// What one product's card must show.
#[derive(Debug, Clone)]
struct Expected {
    shop: String,
    category: String,
    list: i64,
    effective: i64,
}

/// Walks a listing by cursor to its end (or until `stop` says so), checking every page is at
/// most `PAGE` long; returns the cards in the order seen.
async fn walk(ctx: &Ctx, query: &str, mut stop: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..2_000 {
        let path = match &cursor {
            None => format!("/api/v1/products?{query}&limit={PAGE}"),
            Some(c) => format!("/api/v1/products?{query}&limit={PAGE}&cursor={c}"),
        };
        let page = ctx.get(&path, None).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        let items = page.body["items"].as_array().unwrap();
        assert!(
            items.len() <= PAGE,
            "{path}: a page holds at most limit cards"
        );
        seen.extend(items.iter().cloned());
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || stop(&seen) {
            return seen;
        }
    }
    panic!("{query}: the walk did not end");
}

/// The sort key of a card for `sort`, as the API orders it (ties broken by product id).
fn key(card: &Value, sort: &str) -> (String, String) {
    let id = card["id"].as_str().unwrap().to_owned();
    match sort {
        "newest" => (card["created_at"].as_str().unwrap().to_owned(), id),
        _ => (
            format!(
                "{:013}",
                card["effective_price"]["amount"].as_i64().unwrap()
            ),
            id,
        ),
    }
}

/// Every card after the first comes strictly after the one before it in `sort`'s order.
fn assert_ordered(cards: &[Value], sort: &str, what: &str) {
    for pair in cards.windows(2) {
        let (a, b) = (key(&pair[0], sort), key(&pair[1], sort));
        let ok = if sort == "price_asc" { a < b } else { a > b };
        assert!(ok, "{what} ({sort}): {a:?} then {b:?}");
    }
}

/// No card twice, every expected product seen (among `mine`), each showing its prices.
fn assert_complete(cards: &[Value], mine: &HashMap<String, Expected>, what: &str) {
    let mut ids = HashSet::new();
    for card in cards {
        let id = card["id"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "{what}: {id} seen twice");
        if let Some(e) = mine.get(id) {
            assert_eq!(card["shop_id"], e.shop.as_str(), "{what}: {id}");
            assert_eq!(card["category_id"], e.category.as_str(), "{what}: {id}");
            assert_eq!(card["price"]["amount"], e.list, "{what}: {id} list price");
            assert_eq!(
                card["effective_price"]["amount"], e.effective,
                "{what}: {id} effective price"
            );
        }
    }
    let missing: Vec<&String> = mine.keys().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} products not seen: {missing:?}",
        missing.len()
    );
}

#[tokio::test]
async fn three_hundred_products_over_the_shards_walk_completely_in_order_for_every_sort() {
    let ctx = Ctx::new();
    let first = ctx.test_shop("listing-scale").await;
    let admin = ctx.admin_token().await;
    let mut shops = vec![first.shop_id.clone()];
    for n in 1..3 {
        let shop = ctx
            .post(&format!("/api/v1/organizations/{}/shops", first.org_id), Some(&first.seller_token), json!({
                "name": format!("listing-scale shop {n}"),
                "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}
            }))
            .await;
        assert_eq!(shop.status, 201, "{}", shop.text);
        shops.push(shop.body["id"].as_str().unwrap().to_owned());
    }
    let mut categories = vec![first.category_id.clone()];
    for n in 1..3 {
        let c = ctx
            .post(
                "/api/v1/categories",
                Some(&admin),
                json!({"name": format!("listing-scale {n} {}", ulid::Ulid::new())}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.text);
        categories.push(c.body["id"].as_str().unwrap().to_owned());
    }

    // 300 products, 16 at a time. Product i: variant A at `list`, variant B 5 000 dearer; every
    // third has a fixed discount on A, open now, so its effective price is below its list price
    // by up to 9 000 and the two orders differ.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let suffix = &ulid::Ulid::new().to_string()[18..];
    let created: Vec<(String, Expected)> = futures::stream::iter(0..PRODUCTS)
        .map(|i| {
            let (ctx, shops, categories, token) = (&ctx, &shops, &categories, &first.seller_token);
            async move {
                let list = 7_760_000 + ((i as i64 * 7_919) % 20_000);
                let off = if i % 3 == 0 { 1 + (i as i64 * 104_729) % 9_000 } else { 0 };
                let mut a = json!({
                    "sku": format!("A{i}-{suffix}"), "attributes": {"size": "M"},
                    "price": {"amount": list, "currency": "VND"}, "weight_grams": 100, "stock": 3,
                });
                if off > 0 {
                    a["discount"] = json!({"kind": "fixed", "value": off, "starts_at": now - 60, "ends_at": now + 86_400});
                }
                let b = json!({
                    "sku": format!("B{i}-{suffix}"), "attributes": {"size": "L"},
                    "price": {"amount": list + 5_000, "currency": "VND"}, "weight_grams": 100, "stock": 3,
                });
                let (shop, category) = (&shops[i % 3], &categories[i % 3]);
                let r = ctx
                    .post(
                        &format!("/api/v1/shops/{shop}/products"),
                        Some(token),
                        json!({
                            "name": format!("Scale {i}"), "description": "listing scale",
                            "category_id": category, "status": "active", "variants": [a, b],
                        }),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.text);
                (
                    r.body["id"].as_str().unwrap().to_owned(),
                    Expected {
                        shop: shop.clone(),
                        category: category.clone(),
                        list,
                        effective: list - off,
                    },
                )
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mine: HashMap<String, Expected> = created.into_iter().collect();
    assert_eq!(mine.len(), PRODUCTS);
    let by_effective: Vec<i64> = {
        let mut ids: Vec<(&String, &Expected)> = mine.iter().collect();
        ids.sort_by_key(|(_, e)| e.list);
        ids.iter().map(|(_, e)| e.effective).collect()
    };
    assert!(
        by_effective.windows(2).any(|w| w[0] > w[1]),
        "the discounts make the effective order differ from the list order"
    );
    let category = &categories[0];
    let in_category: HashMap<String, Expected> = mine
        .iter()
        .filter(|(_, e)| &e.category == category)
        .map(|(id, e)| (id.clone(), e.clone()))
        .collect();
    assert_eq!(in_category.len(), PRODUCTS / 3);

    for sort in ["newest", "price_asc", "price_desc"] {
        // The category is this test's own: the walk is exactly its 100 products, in order.
        let cards = walk(&ctx, &format!("category_id={category}&sort={sort}"), |_| {
            false
        })
        .await;
        assert_ordered(&cards, sort, "category");
        assert_complete(&cards, &in_category, "category");
        assert_eq!(cards.len(), in_category.len(), "category: nothing else");

        // All products: prices within this test's band are this test's products, so a price walk
        // over the band is exactly them; the newest walk runs until it has passed all of them.
        let cards = if sort == "newest" {
            walk(&ctx, "sort=newest", |seen| {
                seen.iter()
                    .filter(|c| mine.contains_key(c["id"].as_str().unwrap()))
                    .count()
                    == PRODUCTS
            })
            .await
        } else {
            walk(
                &ctx,
                &format!("sort={sort}&min_price={}&max_price={}", BAND.0, BAND.1),
                |_| false,
            )
            .await
        };
        assert_ordered(&cards, sort, "all products");
        assert_complete(&cards, &mine, "all products");
    }

    // The newest sort with a price band filters rows out of each shard (a filter, not the key
    // range): pages may be short, yet the walk ends with exactly the category's products in the
    // band — about half of them here — in order.
    let narrow = (7_765_000, 7_775_000);
    let in_band: HashMap<String, Expected> = in_category
        .iter()
        .filter(|(_, e)| (narrow.0..=narrow.1).contains(&e.effective))
        .map(|(id, e)| (id.clone(), e.clone()))
        .collect();
    assert!(in_band.len() > 10 && in_band.len() < in_category.len() - 10);
    let cards = walk(
        &ctx,
        &format!(
            "category_id={category}&sort=newest&min_price={}&max_price={}",
            narrow.0, narrow.1
        ),
        |_| false,
    )
    .await;
    assert_ordered(&cards, "newest", "category in a price band, newest");
    assert_complete(&cards, &in_band, "category in a price band, newest");
    assert_eq!(cards.len(), in_band.len(), "only the products in the band");

    // A cursor is opaque and bound to its listing and sort.
    let page = ctx
        .get(
            &format!("/api/v1/products?category_id={category}&sort=price_asc&limit=5"),
            None,
        )
        .await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    ctx.get(
        &format!("/api/v1/products?category_id={category}&sort=newest&cursor={cursor}"),
        None,
    )
    .await
    .problem(422);
    ctx.get(
        &format!(
            "/api/v1/products?shop_id={}&sort=price_asc&cursor={cursor}",
            shops[0]
        ),
        None,
    )
    .await
    .problem(422);
}
