//! DynamoDB request budgets, counted with an SDK interceptor on the real handler against the
//! emulator: reading a product with its variants is one Query, and a listing page is one Query.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::Request;
use shared::domain::{Currency, Money};
use shared::products::{ProductRecord, ProductStatus, VariantRecord, listing_items};
use shared::store::{keys, tx};
use tower::ServiceExt;

async fn arrange(state: &shared::AppState, variants: usize) -> (String, String) {
    let (id, shop) = (ulid::Ulid::new().to_string(), ulid::Ulid::new().to_string());
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::product(&id);
    let product = ProductRecord {
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
        category_id: "cat".into(),
        brand_id: None,
        status: ProductStatus::Active,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        media: Vec::new(),
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
                low_stock: false,
                rev: 0,
            }
        })
        .collect();
    let table = &state.db.table;
    let mut actions = vec![tx::put_new(table, &product).unwrap()];
    actions.extend(variants.iter().map(|v| tx::put_new(table, v).unwrap()));
    actions.extend(
        listing_items(&product, &variants)
            .iter()
            .map(|l| tx::put(table, l, None).unwrap()),
    );
    state.db.transact(actions).await.unwrap();
    (id, shop)
}

async fn get(router: &axum::Router, uri: &str) -> serde_json::Value {
    let response = router
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
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
