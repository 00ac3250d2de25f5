//! The DynamoDB request budget of placing an order, counted with an SDK interceptor on the
//! real handler against the emulator: after the caller's token check (one GetItem), a checkout
//! of two shops, one of them with its stock in two warehouses, is two batched reads and one
//! transaction; a replay is one batched read.

use axum::body::Body;
use axum::http::Request;
use e2e::{Ctx, NewVariant};
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn placing_a_two_shop_order_is_two_batched_reads_and_one_transaction() {
    let ctx = Ctx::new();
    let (a, b) = (
        ctx.test_shop("budget-a").await,
        ctx.test_shop("budget-b").await,
    );
    let (pa, sa) = ctx
        .test_product(
            &a,
            &[
                NewVariant {
                    sku: "A",
                    price: 10_000,
                    stock: 5,
                    weight_grams: 100,
                },
                NewVariant {
                    sku: "B",
                    price: 12_000,
                    stock: 5,
                    weight_grams: 100,
                },
            ],
        )
        .await;
    let (pb, sb) = ctx
        .test_product(
            &b,
            &[NewVariant {
                sku: "C",
                price: 30_000,
                stock: 5,
                weight_grams: 100,
            }],
        )
        .await;
    // Shop a's stock is in two warehouses: the choice between them is made from the variants
    // the catalogue read returns, with no read per line.
    let far = ctx
        .post(
            &format!("/api/v1/organizations/{}/warehouses", a.org_id),
            Some(&a.seller_token),
            json!({"name": "Cần Thơ depot", "address": {"line1": "3 Hoa Binh", "city": "Cần Thơ", "country": "VN", "location": {"lat": 10.03, "lng": 105.78}}, "shop_ids": [a.shop_id]}),
        )
        .await;
    assert_eq!(far.status, 201, "{}", far.text);
    for sku in &sa {
        let r = ctx
            .post(
                &format!("/api/v1/products/{pa}/variants/{sku}/stock-adjustments"),
                Some(&a.seller_token),
                json!({"delta": 5, "reason": "restock", "warehouse_id": far.body["id"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let (_, token, _) = ctx.user("budget").await;
    let address = ctx.test_address(&token).await;
    for (p, s) in [(&pa, &sa[0]), (&pa, &sa[1]), (&pb, &sb[0])] {
        ctx.add_to_cart(&token, p, s, 1).await;
    }

    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    // The test stack turns the write counters off (every test shares 127.0.0.1); this budget
    // is the production one, with both counters on.
    let mut config = (*state.config).clone();
    config.rate_limits = shared::ratelimit::Limits::default();
    state.config = std::sync::Arc::new(config);
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_orders::router(state);
    let place = || {
        let mut req = Request::post("/api/v1/orders")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", "budget-key-0001")
            .body(Body::from(
                json!({"payment_method": "cod", "address_id": address}).to_string(),
            ))
            .unwrap();
        // the client address, as the dev server's listener (or API Gateway's sourceIp) gives it
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40000,
            ))));
        req
    };
    let response = router.clone().oneshot(place()).await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        calls.take(),
        [
            "UpdateItem",
            "UpdateItem",
            "GetItem",
            "BatchGetItem",
            "BatchGetItem",
            "TransactWriteItems"
        ],
        "the address's and the user's write counters (concurrently), the token check, then basket + catalogue reads and one transaction for both shop orders"
    );
    let orders = ctx.get("/api/v1/orders", Some(&token)).await;
    let items = orders.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let main = format!("{}-main", a.shop_id);
    let of_a = items
        .iter()
        .find(|o| o["shop_id"] == a.shop_id.as_str())
        .unwrap();
    assert!(
        of_a["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["warehouse_id"] == main.as_str()),
        "both lines reserve in the warehouse nearest the buyer: {of_a}"
    );

    let replay = router.oneshot(place()).await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(
        calls.take(),
        ["UpdateItem", "UpdateItem", "GetItem", "BatchGetItem"],
        "a replay counts against the write limits and reads the stored response"
    );
}
