//! `StockLow` is written in the same transaction as the adjustment that crosses the threshold:
//! an adjustment whose process dies right after its transaction (the answer lost, as a crash
//! or timeout loses it) still raises the alert, once. Before, the alert was flagged in a second
//! step after the write, and such a crash lost it.

use axum::body::Body;
use axum::http::Request;
use e2e::{Ctx, NewVariant};
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn an_adjustment_crossing_the_threshold_keeps_its_stock_low_when_the_process_dies_after_the_write()
 {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("crash-low").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "FRAGILE",
                price: 20_000,
                stock: 10,
                weight_grams: 100,
            }],
        )
        .await;
    let sku = &skus[0];

    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let crash = e2e::calls::LoseAnswer::install(&mut state.db.client, "TransactWriteItems");
    let router = api_inventory::router(state);
    // 10 → 4, through the default threshold of 5.
    let mut req = Request::post(format!(
        "/api/v1/products/{product}/variants/{sku}/stock-adjustments"
    ))
    .header("authorization", format!("Bearer {}", shop.seller_token))
    .header("content-type", "application/json")
    .body(Body::from(
        json!({"delta": -6, "reason": "damage"}).to_string(),
    ))
    .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let response = router.oneshot(req).await.unwrap();
    assert_eq!(crash.lost(), 1, "the transaction's answer was lost");
    assert!(
        response.status().is_server_error(),
        "the handler never learnt its write happened: {}",
        response.status()
    );

    // The write happened, and the alert with it: outbox → bus → notifier → the owner's mail.
    let stock = ctx.stock_of(&shop, &product, sku).await;
    assert_eq!(stock["available"], 4, "{stock}");
    let mail = ctx
        .wait_for_mail(&shop.seller_email, &format!("Low stock: {sku}"))
        .await;
    assert!(mail.contains("down to 4"), "{mail}");
    let alerts = ctx
        .mails_to(&shop.seller_email)
        .await
        .into_iter()
        .filter(|m| m.to_string().contains(&format!("Low stock: {sku}")))
        .count();
    assert_eq!(alerts, 1, "one crossing, one alert");
}
