//! The DynamoDB request budget of the shop inventory view, counted with an SDK interceptor on
//! the real handler against the emulator: after the token and role checks (GetItems), a page is
//! one Query on the shop's stock rows, first page and cursor pages alike (it used to be one
//! Query for the products plus one per product).

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

async fn get_as(router: &axum::Router, uri: &str, token: &str) -> serde_json::Value {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
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
async fn the_shop_inventory_page_is_one_query() {
    let ctx = e2e::Ctx::new();
    let shop = ctx.test_shop("inventory-budget").await;
    for price in [10_000, 20_000, 30_000] {
        ctx.test_product(
            &shop,
            &["A", "B"].map(|sku| e2e::NewVariant {
                sku,
                price,
                stock: 3,
                weight_grams: 100,
            }),
        )
        .await;
    }
    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_inventory::router(state);

    let mut rows = Vec::new();
    let mut path = format!("/api/v1/shops/{}/inventory?limit=4", shop.shop_id);
    for page in 0.. {
        let body = get_as(&router, &path, &shop.seller_token).await;
        rows.extend(body["items"].as_array().unwrap().iter().cloned());
        let made = calls.take();
        assert_eq!(
            made.iter().filter(|c| *c == "Query").count(),
            1,
            "page {page}: {made:?}"
        );
        assert!(
            made.iter().all(|c| c == "Query" || c == "GetItem"),
            "page {page}: {made:?}"
        );
        match body["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/api/v1/shops/{}/inventory?limit=4&cursor={c}",
                    shop.shop_id
                )
            }
            None => break,
        }
    }
    // Every variant's row in the main warehouse, once, by product and SKU.
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["warehouse_id"], format!("{}-main", shop.shop_id).as_str());
            assert_eq!(
                (r["stock"].as_i64(), r["available"].as_i64()),
                (Some(3), Some(3))
            );
            (
                r["product_id"].as_str().unwrap().to_owned(),
                r["sku"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 6, "{rows:?}");
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, keys, "complete, in order, no duplicates");
}
