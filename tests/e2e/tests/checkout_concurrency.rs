//! Checkout under concurrency, against the real emulator: stock never oversold, an
//! Idempotency-Key never places twice, a voucher never redeemed beyond its limit.

use e2e::{Ctx, NewVariant, Reply};
use futures::StreamExt;
use futures::future::join_all;
use serde_json::json;

async fn checkout(ctx: &Ctx, token: &str, address: &str, key: &str, method: &str) -> Reply {
    ctx.checkout(token, address, method, key).await
}

/// `n` buyers, each with an address and `quantity` of `product/sku` in the cart (set up 16 at a
/// time, outside the race).
async fn buyers(
    ctx: &Ctx,
    n: usize,
    product: &str,
    sku: &str,
    quantity: i64,
) -> Vec<(String, String)> {
    futures::stream::iter(0..n)
        .map(|_| async move {
            let (_, token, _) = ctx.user("racer").await;
            let address = ctx.test_address(&token).await;
            ctx.add_to_cart(&token, product, sku, quantity).await;
            (token, address)
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// Every racer checks out (COD, a fresh Idempotency-Key each) at the same time.
async fn race(ctx: &Ctx, racers: &[(String, String)]) -> Vec<Reply> {
    join_all(racers.iter().map(|(token, address)| async move {
        let key = format!("race-{}", ulid::Ulid::new());
        checkout(ctx, token, address, &key, "cod").await
    }))
    .await
}

fn count(replies: &[Reply], status: u16) -> usize {
    replies
        .iter()
        .filter(|r| r.status.as_u16() == status)
        .count()
}

#[tokio::test]
async fn two_hundred_concurrent_checkouts_of_ten_units_sell_exactly_ten() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("oversell").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "HOT",
                price: 99_000,
                stock: 10,
                weight_grams: 200,
            }],
        )
        .await;
    let racers = buyers(&ctx, 200, &product, &skus[0], 1).await;

    let replies = race(&ctx, &racers).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(count(&replies, 201), 10, "{statuses:?}");
    assert_eq!(
        count(&replies, 409),
        190,
        "every loser gets a clear 409: {statuses:?}"
    );
    for loser in replies.iter().filter(|r| r.status == 409) {
        assert!(
            loser.problem(409)["detail"]
                .as_str()
                .unwrap()
                .contains("sold out")
                || loser.text.contains("only 0 available")
                || loser.text.contains("out of stock"),
            "{}",
            loser.text
        );
    }
    let stock = ctx.stock_of(&shop, &product, &skus[0]).await;
    assert_eq!(stock["stock"], 10);
    assert_eq!(stock["reserved"], 10);
    assert_eq!(stock["available"], 0, "never negative");
    let orders = ctx
        .get(
            &format!("/api/v1/shops/{}/orders?limit=100", shop.shop_id),
            Some(&shop.seller_token),
        )
        .await;
    let units: i64 = orders.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["lines"][0]["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(units, 10, "exactly ten units are on orders");
}

#[tokio::test]
async fn the_same_idempotency_key_sent_twenty_times_in_parallel_places_one_order() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("idem").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "ONCE",
                price: 45_000,
                stock: 50,
                weight_grams: 200,
            }],
        )
        .await;
    let (token, address) = buyers(&ctx, 1, &product, &skus[0], 2).await.remove(0);
    let key = format!("idem-{}", ulid::Ulid::new());

    let replies = join_all((0..20).map(|_| checkout(&ctx, &token, &address, &key, "cod"))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert!(
        replies.iter().all(|r| r.status == 201),
        "every request gets the first result: {statuses:?}"
    );
    let checkout_ids: std::collections::BTreeSet<&str> = replies
        .iter()
        .map(|r| r.body["checkout_id"].as_str().unwrap())
        .collect();
    assert_eq!(checkout_ids.len(), 1, "one checkout: {checkout_ids:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.headers.contains_key("idempotent-replayed"))
            .count()
            >= 19
    );
    let mine = ctx.get("/api/v1/orders", Some(&token)).await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        mine.text
    );
    assert_eq!(
        ctx.stock_of(&shop, &product, &skus[0]).await["reserved"],
        2,
        "reserved once"
    );

    // a retry later still replays; the same key with another body is refused
    let again = checkout(&ctx, &token, &address, &key, "cod").await;
    assert_eq!(
        again.body["checkout_id"].as_str(),
        checkout_ids.first().copied()
    );
    let other = checkout(&ctx, &token, &address, &key, "online").await;
    assert_eq!(other.problem(422)["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn a_hundred_concurrent_orders_on_a_voucher_limited_to_five_redeem_it_five_times() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("voucher-race").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "DEAL",
                price: 200_000,
                stock: 1_000,
                weight_grams: 200,
            }],
        )
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = format!("FIVE{}", &ulid::Ulid::new().to_string()[18..]);
    let created = ctx
        .post(
            &format!("/api/v1/shops/{}/vouchers", shop.shop_id),
            Some(&shop.seller_token),
            json!({"code": code, "description": "five only", "usage_limit": 5, "per_user_limit": 1,
                   "terms": {"kind": "fixed", "value": 30_000, "currency": "VND", "min_spend": 0,
                             "starts_at": now - 60, "ends_at": now + 3_600}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let racers = buyers(&ctx, 100, &product, &skus[0], 1).await;
    // applying never redeems: all 100 apply it and see the discount before the race
    futures::stream::iter(&racers)
        .for_each_concurrent(16, |(token, _)| {
            let (ctx, code, shop_id) = (&ctx, &code, &shop.shop_id);
            async move {
                let r = ctx
                    .post(
                        "/api/v1/cart/vouchers",
                        Some(token),
                        json!({"code": code, "shop_id": shop_id}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(r.body["discount"]["amount"], 30_000, "{}", r.text);
            }
        })
        .await;

    let replies = race(&ctx, &racers).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(count(&replies, 201), 5, "{statuses:?}");
    assert_eq!(count(&replies, 409), 95, "{statuses:?}");
    for winner in replies.iter().filter(|r| r.status == 201) {
        assert_eq!(winner.body["discount"]["amount"], 30_000, "{}", winner.text);
        assert_eq!(
            winner.body["orders"][0]["shop_voucher"].as_str(),
            Some(code.as_str()),
            "{}",
            winner.text
        );
    }
    for loser in replies.iter().filter(|r| r.status == 409) {
        let detail = loser.problem(409)["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains(&code) || detail.contains("fully redeemed"),
            "a loser is told the voucher ran out: {detail}"
        );
    }
    // the losers placed nothing: stock reserved for exactly the five winners
    assert_eq!(ctx.stock_of(&shop, &product, &skus[0]).await["reserved"], 5);
    let listed = ctx
        .get(
            &format!("/api/v1/shops/{}/vouchers", shop.shop_id),
            Some(&shop.seller_token),
        )
        .await;
    let v = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["code"] == code.as_str())
        .unwrap_or_else(|| panic!("{}", listed.text));
    assert_eq!(v["used_count"], 5, "{v}");
}
