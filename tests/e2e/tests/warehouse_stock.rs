//! Stock held in several warehouses, against the real emulator: checkouts reserve from the
//! nearest warehouse with enough units and never oversell any; an accepted return goes back to
//! the warehouse it left from exactly once (damaged units do not); data from before warehouses
//! sells again after the migration.

use e2e::{Ctx, NewVariant, Reply, TestShop};
use futures::StreamExt;
use futures::future::join_all;
use serde_json::{Value, json};

/// Cần Thơ, ~1 500 km south of the test shops in Hanoi.
const CAN_THO: (f64, f64) = (10.03, 105.78);

/// A second warehouse of the shop's organisation in Cần Thơ, serving the shop; returns its id.
async fn southern_warehouse(ctx: &Ctx, shop: &TestShop) -> String {
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{}/warehouses", shop.org_id),
            Some(&shop.seller_token),
            json!({"name": "Cần Thơ depot", "address": {"line1": "3 Hoa Binh", "city": "Cần Thơ", "country": "VN", "location": {"lat": CAN_THO.0, "lng": CAN_THO.1}}, "shop_ids": [shop.shop_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn adjust(ctx: &Ctx, shop: &TestShop, product: &str, sku: &str, body: Value) -> Reply {
    ctx.post(
        &format!("/api/v1/products/{product}/variants/{sku}/stock-adjustments"),
        Some(&shop.seller_token),
        body,
    )
    .await
}

/// A new shop with one product of `stock` units of its SKU in the shop's main warehouse and
/// `stock` more in a southern one: the shop, product, SKU, both warehouse ids, and the reply of
/// the restock that filled the southern one.
async fn stocked_in_two(
    ctx: &Ctx,
    prefix: &str,
    sku: &str,
    stock: i64,
) -> (TestShop, String, String, String, String, Reply) {
    let shop = ctx.test_shop(prefix).await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku,
                price: 50_000,
                stock,
                weight_grams: 200,
            }],
        )
        .await;
    let main = shared::store::keys::default_warehouse_id(&shop.shop_id);
    let south = southern_warehouse(ctx, &shop).await;
    let sku = skus[0].clone();
    let r = adjust(
        ctx,
        &shop,
        &product,
        &sku,
        json!({"delta": stock, "reason": "restock", "warehouse_id": south}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (shop, product, sku, main, south, r)
}

/// A buyer with `sku` in the cart and an address in `(ward, city)`.
async fn buyer_in(ctx: &Ctx, product: &str, sku: &str, at: (&str, &str)) -> (String, String) {
    let (_, token, _) = ctx.user("wh-buyer").await;
    let address = ctx.test_address_at(&token, at.0, at.1).await;
    ctx.add_to_cart(&token, product, sku, 1).await;
    (token, address)
}

const HANOI_WARD: (&str, &str) = ("Hoàn Kiếm", "Hanoi");
const CAN_THO_WARD: (&str, &str) = ("Cái Khế", "Cần Thơ");

async fn place(ctx: &Ctx, (token, address): &(String, String)) -> Reply {
    let key = format!("wh-{}", ulid::Ulid::new());
    ctx.checkout(token, address, "cod", &key).await
}

fn warehouse_of(order: &Value) -> String {
    order["lines"][0]["warehouse_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a line names its warehouse: {order}"))
        .to_owned()
}

#[tokio::test]
async fn a_hundred_checkouts_against_two_warehouses_of_five_sell_exactly_ten_nearest_first() {
    let ctx = Ctx::new();
    let (shop, product, sku, hanoi, south, r) = stocked_in_two(&ctx, "two-wh", "SPLIT", 5).await;
    let sku = &sku;
    assert_eq!(r.body["available"], 10, "{}", r.text);
    assert_eq!(
        r.body["warehouses"],
        json!({hanoi.clone(): 5, south.clone(): 5})
    );

    // Nearest first: a buyer in Cần Thơ is served from Cần Thơ, one in Hanoi from Hanoi.
    let southerner = buyer_in(&ctx, &product, sku, CAN_THO_WARD).await;
    let r = place(&ctx, &southerner).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(warehouse_of(&r.body["orders"][0]), south);
    let northerner = buyer_in(&ctx, &product, sku, HANOI_WARD).await;
    let r = place(&ctx, &northerner).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(warehouse_of(&r.body["orders"][0]), hanoi);

    // 100 buyers in Hanoi at once for the 8 units left (4 in each warehouse).
    let racers: Vec<(String, String)> = futures::stream::iter(0..100)
        .map(|_| buyer_in(&ctx, &product, sku, HANOI_WARD))
        .buffer_unordered(16)
        .collect()
        .await;
    let replies = join_all(racers.iter().map(|r| place(&ctx, r))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        won.len(),
        8,
        "exactly the units left are sold: {statuses:?}"
    );
    assert!(
        replies.iter().all(|r| r.status == 201 || r.status == 409),
        "every loser gets a clear 409: {statuses:?}"
    );
    let from_hanoi = won
        .iter()
        .filter(|r| warehouse_of(&r.body["orders"][0]) == hanoi)
        .count();
    assert_eq!(
        from_hanoi, 4,
        "the Hanoi buyers emptied the Hanoi warehouse and then took the far one's"
    );

    let stock = ctx.stock_of(&shop, &product, sku).await;
    for w in [&hanoi, &south] {
        let row = &stock["warehouses"][w.as_str()];
        assert_eq!(
            (
                row["stock"].as_i64(),
                row["reserved"].as_i64(),
                row["available"].as_i64()
            ),
            (Some(5), Some(5), Some(0)),
            "{w}: sold out, never negative: {row}"
        );
    }
    let view = ctx.get(&format!("/api/v1/products/{product}"), None).await;
    assert_eq!(view.body["variants"][0]["available"], 0, "{}", view.text);
}

/// An order of one unit of a new product, delivered, with a return requested; returns the
/// shop, product, SKU and order id.
async fn delivered_and_returned(ctx: &Ctx) -> (TestShop, String, String, String) {
    let shop = ctx.test_shop("restock").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "BACK",
                price: 80_000,
                stock: 3,
                weight_grams: 200,
            }],
        )
        .await;
    let buyer = buyer_in(ctx, &product, &skus[0], HANOI_WARD).await;
    let placed = place(ctx, &buyer).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["orders"][0]["id"].as_str().unwrap().to_owned();
    ctx.deliver_order(&shop.seller_token, &order).await;
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/return"),
            Some(&buyer.0),
            json!({"reason": "Wrong size"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (shop, product, skus[0].clone(), order)
}

async fn ledger(ctx: &Ctx, shop: &TestShop, product: &str, sku: &str) -> Vec<Value> {
    let r = ctx
        .get(
            &format!("/api/v1/products/{product}/variants/{sku}/ledger?limit=100"),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_accepted_return_restocks_its_warehouse_once_even_when_accepted_twice_in_parallel() {
    let ctx = Ctx::new();
    let (shop, product, sku, order) = delivered_and_returned(&ctx).await;
    let before = ctx.stock_of(&shop, &product, &sku).await;
    assert_eq!(
        (before["stock"].as_i64(), before["available"].as_i64()),
        (Some(2), Some(2))
    );

    let accept = format!("/api/v1/orders/{order}/return/accept");
    let replies =
        join_all((0..2).map(|_| ctx.post(&accept, Some(&shop.seller_token), json!({})))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 409], "one accept wins");

    let after = ctx.stock_of(&shop, &product, &sku).await;
    assert_eq!(
        (after["stock"].as_i64(), after["available"].as_i64()),
        (Some(3), Some(3)),
        "the unit is back exactly once: {after}"
    );
    let entries = ledger(&ctx, &shop, &product, &sku).await;
    let returns: Vec<&Value> = entries.iter().filter(|e| e["reason"] == "return").collect();
    assert_eq!(returns.len(), 1, "{entries:?}");
    assert_eq!(returns[0]["delta"], 1);
    assert_eq!(
        returns[0]["warehouse_id"],
        format!("{}-main", shop.shop_id).as_str()
    );
    let sum: i64 = entries.iter().map(|e| e["delta"].as_i64().unwrap()).sum();
    assert_eq!(sum, 3, "the ledger sums to the stock: {entries:?}");
    // A later accept changes nothing either.
    ctx.post(&accept, Some(&shop.seller_token), json!({}))
        .await
        .problem(409);
    assert_eq!(ctx.stock_of(&shop, &product, &sku).await["stock"], 3);
}

#[tokio::test]
async fn a_return_accepted_as_damaged_restocks_nothing_and_writes_a_damage_entry() {
    let ctx = Ctx::new();
    let (shop, product, sku, order) = delivered_and_returned(&ctx).await;
    let r = ctx
        .post(
            &format!("/api/v1/orders/{order}/return/accept?damaged=true"),
            Some(&shop.seller_token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["return_request"]["damaged"], true, "{}", r.text);
    let after = ctx.stock_of(&shop, &product, &sku).await;
    assert_eq!(
        (after["stock"].as_i64(), after["available"].as_i64()),
        (Some(2), Some(2))
    );
    let entries = ledger(&ctx, &shop, &product, &sku).await;
    assert!(
        !entries.iter().any(|e| e["reason"] == "return"),
        "{entries:?}"
    );
    let damage: Vec<&Value> = entries.iter().filter(|e| e["reason"] == "damage").collect();
    assert_eq!(damage.len(), 1, "{entries:?}");
    assert_eq!(damage[0]["delta"], 0);
    assert!(
        damage[0]["note"].as_str().unwrap().contains("damaged"),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_product_from_before_warehouses_sells_again_once_migrated() {
    use shared::store::{keys, tx};
    let ctx = Ctx::new();
    let shop = ctx.test_shop("legacy").await;
    let (product, skus) = ctx
        .test_product(
            &shop,
            &[NewVariant {
                sku: "OLD",
                price: 40_000,
                stock: 4,
                weight_grams: 200,
            }],
        )
        .await;
    let sku = &skus[0];
    let main = keys::default_warehouse_id(&shop.shop_id);
    // Back to the shape data had before warehouses: no main warehouse, no serving list, no
    // stock row, no per-warehouse counts on the variant.
    let state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let db = &state.db;
    for k in [
        keys::warehouse(&main),
        keys::shop_warehouses(&shop.shop_id),
        keys::warehouse_stock(&product, sku, &main),
    ] {
        db.delete(k).await.unwrap();
    }
    db.update(tx::UpdateSpec {
        key: keys::variant(&product, sku),
        update: "REMOVE warehouses",
        condition: None,
        names: &[],
        values: Vec::new(),
    })
    .await
    .unwrap();

    // Until it is migrated there is no warehouse to reserve from: 503, nothing ordered.
    let buyer = buyer_in(&ctx, &product, sku, HANOI_WARD).await;
    let r = place(&ctx, &buyer).await;
    assert_eq!(r.status, 503, "{}", r.text);
    let r = adjust(
        &ctx,
        &shop,
        &product,
        sku,
        json!({"delta": 1, "reason": "restock"}),
    )
    .await;
    assert_eq!(
        r.status, 503,
        "stock moves wait for the migration too: {}",
        r.text
    );

    assert!(shared::migrate::shop(db, &shop.shop_id).await.unwrap());
    assert_eq!(shared::migrate::product(db, &product).await.unwrap(), 1);
    // Idempotent: a second run finds nothing to do.
    assert!(!shared::migrate::shop(db, &shop.shop_id).await.unwrap());
    assert_eq!(shared::migrate::product(db, &product).await.unwrap(), 0);

    let r = place(&ctx, &buyer).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(warehouse_of(&r.body["orders"][0]), main);
    let stock = ctx.stock_of(&shop, &product, sku).await;
    assert_eq!(
        (
            stock["stock"].as_i64(),
            stock["reserved"].as_i64(),
            stock["available"].as_i64()
        ),
        (Some(4), Some(1), Some(3)),
        "{stock}"
    );
}

#[tokio::test]
async fn low_stock_is_announced_per_warehouse_and_for_the_shop_total() {
    let ctx = Ctx::new();
    let (shop, product, sku, main, south, _) = stocked_in_two(&ctx, "low-two", "LOWS", 10).await;
    let sku = &sku;
    // The subjects of the low-stock alerts the owner received, sorted.
    let alerts = || async {
        let mut subjects: Vec<String> = ctx
            .mails_to(&shop.seller_email)
            .await
            .iter()
            .filter_map(|m| m["subject"].as_str().map(str::to_owned))
            .filter(|s| s.starts_with("Low stock"))
            .collect();
        subjects.sort();
        subjects
    };

    // The main warehouse falls through the threshold (10 → 4 ≤ 5); the total (20 → 14) does not.
    let r = adjust(
        &ctx,
        &shop,
        &product,
        sku,
        json!({"delta": -6, "reason": "damage"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    ctx.wait_for_mail(&shop.seller_email, &format!("Low stock: {sku} · {main}"))
        .await;
    // The southern one empties (10 → 0), and with it the total (14 → 4): two alerts.
    let r = adjust(
        &ctx,
        &shop,
        &product,
        sku,
        json!({"delta": -10, "reason": "correction", "warehouse_id": south}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["available"], 4, "{}", r.text);
    let mut want = vec![
        format!("Low stock: {sku}"),
        format!("Low stock: {sku} · {main}"),
        format!("Low stock: {sku} · {south}"),
    ];
    want.sort();
    let got = e2e::eventually(
        "the southern warehouse's and the total's alerts",
        || async {
            let got = alerts().await;
            (got.len() >= want.len()).then_some(got)
        },
    )
    .await;
    assert_eq!(got, want, "one alert per crossing");
    let total = ctx
        .mails_to(&shop.seller_email)
        .await
        .into_iter()
        .find(|m| m["subject"] == format!("Low stock: {sku}").as_str())
        .unwrap();
    assert!(total.to_string().contains("down to 4"), "{total}");
}
