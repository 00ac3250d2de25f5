//! Regressions found by fuzzing the API from its own OpenAPI document: integers at the edges of
//! i64, bodies that are JSON but not objects, and stocks pushed past what a reader can hold.
//! Each answers a 4xx naming the field and writes nothing.

use e2e::{Ctx, NewVariant};
use serde_json::json;

#[tokio::test]
async fn stock_deltas_at_the_i64_edges_are_422_on_both_adjustment_routes_and_change_nothing() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("edges").await;
    let (id, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "EDGE",
                price: 10_000,
                stock: 7,
                weight_grams: 100,
            }],
        )
        .await;
    let sku = &skus[0];
    for delta in [i64::MIN, i64::MIN + 1, i64::MAX, -1_000_000_001] {
        let r = ctx
            .post(
                &format!("/api/v1/products/{id}/variants/{sku}/stock-adjustments"),
                Some(&shop.seller_token),
                json!({"delta": delta, "reason": "correction"}),
            )
            .await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["delta"], "{delta}: {}", r.text);
        let r = ctx
            .post(
                &format!("/api/v1/shops/{}/inventory/adjustments", shop.shop_id),
                Some(&shop.seller_token),
                json!({"adjustments": [{"product_id": id, "sku": sku, "delta": delta, "reason": "correction"}]}),
            )
            .await;
        r.problem(422);
        assert_eq!(
            r.error_fields(),
            ["adjustments[0].delta"],
            "{delta}: {}",
            r.text
        );
    }
    let level = ctx.stock_of(&shop, &id, sku).await;
    assert_eq!(
        (level["stock"].as_i64(), level["available"].as_i64()),
        (Some(7), Some(7))
    );
}

#[tokio::test]
async fn restocks_cannot_grow_a_stock_past_ten_to_the_ninth() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("ceiling").await;
    let (id, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "CEIL",
                price: 10_000,
                stock: 999_999_990,
                weight_grams: 100,
            }],
        )
        .await;
    let path = format!(
        "/api/v1/products/{id}/variants/{}/stock-adjustments",
        skus[0]
    );
    let ok = ctx
        .post(
            &path,
            Some(&shop.seller_token),
            json!({"delta": 10, "reason": "restock"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["stock"], 1_000_000_000);
    ctx.post(
        &path,
        Some(&shop.seller_token),
        json!({"delta": 1, "reason": "restock"}),
    )
    .await
    .problem(409);
    let level = ctx.stock_of(&shop, &id, &skus[0]).await;
    assert_eq!(
        level["stock"], 1_000_000_000,
        "the refused restock wrote nothing"
    );
}

#[tokio::test]
async fn a_body_that_is_json_but_not_an_object_is_422_and_writes_nothing() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("arrays").await;
    let before = ctx.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(before.status, 200);
    for body in [
        json!([null, null]),
        json!([]),
        json!("name"),
        json!(7),
        json!(null),
    ] {
        let r = ctx
            .put("/api/v1/users/me", Some(&token), body.clone())
            .await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["body"], "{body}: {}", r.text);
    }
    // the same on a route with required fields and one without authentication
    let r = ctx
        .post("/api/v1/auth/login", None, json!(["a@b.co", "password"]))
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["body"]);
    let after = ctx.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(after.body, before.body, "the profile is unchanged");
}
