//! DynamoDB request budgets, counted with an SDK interceptor on the real handler against the
//! emulator: reading a product with its variants is one Query; a shop's listing page is one
//! Query; an all-products or category listing page is one Query per listing shard
//! (`keys::LISTING_SHARDS`), first page and cursor pages alike; the seller's shop products page
//! is one Query (after the token and role checks' GetItems).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::Request;
use shared::domain::{Currency, Money};
use shared::products::{ProductRecord, ProductStatus, VariantRecord, relist_actions};
use shared::store::{keys, tx};
use tower::ServiceExt;

async fn arrange(state: &shared::AppState, variants: usize) -> (String, String) {
    let shop = ulid::Ulid::new().to_string();
    let id = arrange_in(state, &shop, "cat", variants).await;
    (id, shop)
}

/// An active product of `shop` in `category` with its listing rows, written directly.
async fn arrange_in(
    state: &shared::AppState,
    shop: &str,
    category: &str,
    variants: usize,
) -> String {
    let (id, shop) = (ulid::Ulid::new().to_string(), shop.to_owned());
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::product(&id);
    let mut product = ProductRecord {
        pk,
        sk,
        gsi2pk: keys::gsi2_shop_products(&shop),
        gsi2sk: now.clone(),
        entity_type: "product".into(),
        id: id.clone(),
        shop_id: shop.clone(),
        org_id: "org".into(),
        name: "Counted".into(),
        description: String::new(),
        category_id: category.into(),
        brand_id: None,
        status: ProductStatus::Active,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        media: Vec::new(),
        summary: None,
    };
    let variants: Vec<VariantRecord> = (0..variants)
        .map(|i| {
            let sku = format!("V{i}");
            let (pk, sk) = keys::variant(&id, &sku);
            VariantRecord {
                pk,
                sk,
                entity_type: "variant".into(),
                product_id: id.clone(),
                sku,
                attributes: BTreeMap::new(),
                price: Money::new(1000 + i as i64, Currency::VND),
                discount: None,
                weight_grams: 100,
                stock: 5,
                reserved: 0,
                available: 5,
                low_stock_threshold: 1,
                rev: 0,
                warehouses: Default::default(),
            }
        })
        .collect();
    let table = &state.db.table;
    let listing =
        relist_actions(table, None, &mut product, &variants, shared::now_epoch()).unwrap();
    let mut actions = vec![tx::put_new(table, &product).unwrap()];
    actions.extend(variants.iter().map(|v| tx::put_new(table, v).unwrap()));
    actions.extend(listing);
    state.db.transact(actions).await.unwrap();
    id
}

async fn get(router: &axum::Router, uri: &str) -> serde_json::Value {
    get_as(router, uri, None).await
}

async fn get_as(router: &axum::Router, uri: &str, token: Option<&str>) -> serde_json::Value {
    let mut request = Request::builder().uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_product_with_variants_is_one_query_and_a_listing_page_is_one_query() {
    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let (id, shop) = arrange(&state, 3).await;
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_products::router(state);

    let product = get(&router, &format!("/api/v1/products/{id}")).await;
    assert_eq!(product["variants"].as_array().unwrap().len(), 3);
    assert_eq!(calls.take(), vec!["Query"]);

    let page = get(
        &router,
        &format!("/api/v1/products?shop_id={shop}&sort=price_asc"),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(calls.take(), vec!["Query"]);
}

#[tokio::test]
async fn an_all_products_or_category_listing_page_is_one_query_per_shard() {
    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let (shop, category) = (ulid::Ulid::new().to_string(), ulid::Ulid::new().to_string());
    // Enough products that several shards hold some, and a page of 3 leaves more.
    for _ in 0..12 {
        arrange_in(&state, &shop, &category, 2).await;
    }
    let shards = keys::LISTING_SHARDS as usize;
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_products::router(state);

    for sort in ["newest", "price_asc", "price_desc"] {
        let first = get(
            &router,
            &format!("/api/v1/products?category_id={category}&sort={sort}&limit=3"),
        )
        .await;
        assert_eq!(first["items"].as_array().unwrap().len(), 3, "{sort}");
        assert_eq!(calls.take(), vec!["Query"; shards], "{sort}: first page");
        let cursor = first["next_cursor"].as_str().expect("more pages");
        let second = get(
            &router,
            &format!("/api/v1/products?category_id={category}&sort={sort}&limit=3&cursor={cursor}"),
        )
        .await;
        assert_eq!(second["items"].as_array().unwrap().len(), 3, "{sort}");
        let queries = calls.take();
        assert!(
            !queries.is_empty() && queries.len() <= shards && queries.iter().all(|q| q == "Query"),
            "{sort}: a cursor page is at most one Query per shard: {queries:?}"
        );

        // Every shard of the all-products listing, once.
        let all = get(&router, &format!("/api/v1/products?sort={sort}&limit=5")).await;
        assert_eq!(all["items"].as_array().unwrap().len(), 5, "{sort}");
        assert_eq!(calls.take(), vec!["Query"; shards], "{sort}: all products");
    }
}

#[tokio::test]
async fn the_shop_products_page_is_one_query() {
    let ctx = e2e::Ctx::new();
    let shop = ctx.test_shop("shop-products-budget").await;
    for price in [30_000, 10_000, 20_000] {
        ctx.test_product(
            &shop,
            &[
                e2e::NewVariant {
                    sku: "A",
                    price,
                    stock: 3,
                    weight_grams: 100,
                },
                e2e::NewVariant {
                    sku: "B",
                    price: price + 5_000,
                    stock: 3,
                    weight_grams: 100,
                },
            ],
        )
        .await;
    }
    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_products::router(state);

    let page = get_as(
        &router,
        &format!("/api/v1/shops/{}/products?limit=2", shop.shop_id),
        Some(&shop.seller_token),
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Newest first: the 20 000 product, then the 10 000 one; the summary shows the range.
    assert_eq!(items[0]["variant_count"], 2);
    assert_eq!(items[0]["min_price"]["amount"], 20_000);
    assert_eq!(items[0]["max_price"]["amount"], 25_000);
    assert_eq!(items[0]["effective_price"]["amount"], 20_000);
    assert_eq!(items[1]["min_price"]["amount"], 10_000);
    // The caller's token (user) and role (shop, membership) checks, then one Query.
    let made = calls.take();
    assert_eq!(made.iter().filter(|c| *c == "Query").count(), 1, "{made:?}");
    assert_eq!(made.last().map(String::as_str), Some("Query"), "{made:?}");
    assert!(
        made.iter().all(|c| c == "Query" || c == "GetItem"),
        "{made:?}"
    );

    let cursor = page["next_cursor"].as_str().expect("a third product");
    let rest = get_as(
        &router,
        &format!(
            "/api/v1/shops/{}/products?limit=2&cursor={cursor}",
            shop.shop_id
        ),
        Some(&shop.seller_token),
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["min_price"]["amount"], 30_000);
    let made = calls.take();
    assert_eq!(made.iter().filter(|c| *c == "Query").count(), 1, "{made:?}");
}
