//! Every function's fixture in `events/`, run through the handler its Lambda runs (the
//! router under `lambda_http`, the consumer's `handle`) against the emulator of `make test`;
//! and a check that no function under `functions/` is left without a fixture a test uses.
//! The same files drive `cargo lambda invoke` (docs/cargo-lambda.md).

use std::path::{Path, PathBuf};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::http::StatusCode;
use e2e::{Ctx, NewVariant, TestShop};
use serde_json::Value;
use shared::AppState;
use shared::auth::Role;
use shared::identity::{EmailGuard, UserRecord};
use shared::store::{keys, tx};
use tower::ServiceExt;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn state() -> AppState {
    AppState::from_env()
        .await
        .expect("make test exports the stack environment")
}

/// What a route group answered to an API Gateway v2 event.
struct Answer {
    status: StatusCode,
    request_id: Option<String>,
    body: Value,
}

/// Parses the fixture as `lambda_http` does in the Lambda and sends it through `router`.
async fn invoke(router: axum::Router, fixture: &str, replacements: &[(&str, &str)]) -> Answer {
    let event = e2e::fixture(fixture, replacements);
    let request = lambda_http::request::from_str(&event)
        .unwrap_or_else(|e| panic!("{fixture} is an API Gateway v2 event: {e}"));
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        request_id,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn sqs_event(fixture: &str, replacements: &[(&str, &str)]) -> SqsEvent {
    serde_json::from_str(&e2e::fixture(fixture, replacements))
        .unwrap_or_else(|e| panic!("{fixture} is an SQS event: {e}"))
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// A buyer written straight to the table (no UserRegistered event, so nothing arrives in
/// the inbox behind the test's back) and an access token for it.
async fn buyer(state: &AppState) -> (String, String) {
    let email = e2e::unique_email("lambda-fixture");
    let user = UserRecord::new(
        ulid::Ulid::new().to_string(),
        email.clone(),
        "Fixture".into(),
        "$argon2id$unused".into(),
        vec![Role::Buyer],
    );
    let table = &state.db.table;
    state
        .db
        .transact(vec![
            tx::put_new(table, &EmailGuard::new(&email, &user.id)).unwrap(),
            tx::put_new(table, &user).unwrap(),
        ])
        .await
        .unwrap();
    let token = state.keys.issue(
        &user.id,
        user.session_version,
        &user.roles,
        shared::now_epoch(),
    );
    (user.id, token)
}

async fn product(ctx: &Ctx, shop: &TestShop, price: i64) -> (String, String) {
    let (id, skus) = ctx
        .test_product(
            shop,
            &[NewVariant {
                sku: "FIX",
                price,
                stock: 7,
                weight_grams: 300,
            }],
        )
        .await;
    (id, skus[0].clone())
}

// ---- API route groups -------------------------------------------------------------------

#[tokio::test]
async fn cart_get_shows_the_line_the_buyer_added() {
    let state = state().await;
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-cart").await;
    let (product_id, sku) = product(&ctx, &shop, 120_000).await;
    let (_, token, _) = ctx.user("fx-cart-buyer").await;
    ctx.add_to_cart(&token, &product_id, &sku, 2).await;

    let answer = invoke(
        api_cart::router(state),
        "apigw-v2-cart-get.json",
        &[("TOKEN_PLACEHOLDER", &token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.request_id.as_deref(), Some("fixture-cart-get-0001"));
    assert_eq!(answer.body["line_count"], 1, "{}", answer.body);
}

#[tokio::test]
async fn discovery_price_alerts_of_a_new_buyer_are_empty_and_need_a_token() {
    let state = state().await;
    let (_, token) = buyer(&state).await;
    let fixture = "apigw-v2-discovery-price-alerts.json";
    let answer = invoke(
        api_discovery::router(state.clone()),
        fixture,
        &[("TOKEN_PLACEHOLDER", &token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["items"],
        serde_json::json!([]),
        "{}",
        answer.body
    );

    let tampered = format!("{token}x");
    let answer = invoke(
        api_discovery::router(state),
        fixture,
        &[("TOKEN_PLACEHOLDER", &tampered)],
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}

#[tokio::test]
async fn inventory_of_a_shop_lists_its_variant_with_the_opening_stock() {
    let state = state().await;
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-inventory").await;
    let (product_id, sku) = product(&ctx, &shop, 80_000).await;

    let answer = invoke(
        api_inventory::router(state),
        "apigw-v2-inventory-shop-stock.json",
        &[
            ("SHOP_ID_PLACEHOLDER", &shop.shop_id),
            ("TOKEN_PLACEHOLDER", &shop.seller_token),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let row = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["product_id"] == product_id.as_str() && r["sku"] == sku.as_str())
        .unwrap_or_else(|| panic!("{sku} is listed: {}", answer.body));
    assert_eq!(row["stock"], 7, "{row}");
}

#[tokio::test]
async fn notifications_inbox_of_a_new_buyer_is_empty() {
    let state = state().await;
    let (_, token) = buyer(&state).await;
    let sdk = shared::state::aws_config().await;
    let push = api_notifications::Push::from_env(&sdk);
    let answer = invoke(
        api_notifications::router(state, push),
        "apigw-v2-notifications-inbox.json",
        &[("TOKEN_PLACEHOLDER", &token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["items"],
        serde_json::json!([]),
        "{}",
        answer.body
    );
    assert_eq!(answer.body["unread_count"], 0, "{}", answer.body);
}

#[tokio::test]
async fn orders_mine_lists_the_order_the_buyer_placed() {
    let state = state().await;
    let ctx = Ctx::new();
    let placed = ctx.place_one("fx-orders", 150_000, "VND", "cod").await;

    let answer = invoke(
        api_orders::router(state),
        "apigw-v2-orders-mine.json",
        &[("TOKEN_PLACEHOLDER", &placed.buyer)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let ids: Vec<&str> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(ids, vec![placed.orders[0].as_str()], "{}", answer.body);
}

#[tokio::test]
async fn payments_methods_of_a_new_buyer_are_none() {
    let state = state().await;
    let (_, token) = buyer(&state).await;
    let sdk = shared::state::aws_config().await;
    let providers = payment_providers::registry::Providers::from_env(&sdk)
        .await
        .unwrap();
    let settings = api_payments::Settings::from_env().unwrap();
    let answer = invoke(
        api_payments::router(state, providers, settings),
        "apigw-v2-payments-methods.json",
        &[("TOKEN_PLACEHOLDER", &token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, serde_json::json!([]));
}

#[tokio::test]
async fn products_get_returns_the_product() {
    let state = state().await;
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-products").await;
    let (product_id, sku) = product(&ctx, &shop, 99_000).await;

    let answer = invoke(
        api_products::router(state),
        "apigw-v2-products-get.json",
        &[("PRODUCT_ID_PLACEHOLDER", &product_id)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], product_id.as_str());
    assert_eq!(answer.body["shop_id"], shop.shop_id.as_str());
    assert!(answer.body.to_string().contains(&sku), "{}", answer.body);
}

#[tokio::test]
async fn search_for_a_word_no_product_has_finds_nothing() {
    let state = state().await;
    let sdk = shared::state::aws_config().await;
    let engine = std::sync::Arc::new(product_search::Engine::from_env(&sdk).unwrap());
    let word = format!("zq{}", ulid::Ulid::new().to_string().to_lowercase());
    let answer = invoke(
        api_search::router(state, engine),
        "apigw-v2-search-query.json",
        &[("QUERY_PLACEHOLDER", &word)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["total"], 0, "{}", answer.body);
    assert_eq!(
        answer.body["items"],
        serde_json::json!([]),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn shipping_methods_lists_every_method() {
    let state = state().await;
    let sdk = shared::state::aws_config().await;
    let carriers = shipping_carriers::Carriers::from_env(&sdk).await.unwrap();
    let answer = invoke(
        api_shipping::router(state, carriers),
        "apigw-v2-shipping-methods.json",
        &[],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let methods: Vec<&str> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert_eq!(
        methods,
        ["standard", "express", "same_day", "pickup"],
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn shops_get_returns_the_shop_and_an_unknown_one_is_404() {
    let state = state().await;
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-shops").await;
    let fixture = "apigw-v2-shops-get.json";
    let answer = invoke(
        api_shops::router(state.clone()),
        fixture,
        &[("SHOP_ID_PLACEHOLDER", &shop.shop_id)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], shop.shop_id.as_str());
    assert_eq!(answer.body["name"], "fx-shops shop");

    let unknown = ulid::Ulid::new().to_string();
    let answer = invoke(
        api_shops::router(state),
        fixture,
        &[("SHOP_ID_PLACEHOLDER", &unknown)],
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[tokio::test]
async fn vouchers_of_a_new_shop_are_none_and_an_unknown_shop_is_404() {
    let state = state().await;
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-vouchers").await;
    let fixture = "apigw-v2-vouchers-shop-list.json";
    let answer = invoke(
        api_vouchers::router(state.clone()),
        fixture,
        &[("SHOP_ID_PLACEHOLDER", &shop.shop_id)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["items"],
        serde_json::json!([]),
        "{}",
        answer.body
    );

    let unknown = ulid::Ulid::new().to_string();
    let answer = invoke(
        api_vouchers::router(state),
        fixture,
        &[("SHOP_ID_PLACEHOLDER", &unknown)],
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[tokio::test]
async fn webhooks_vnpay_ipn_with_a_forged_signature_is_refused_with_code_97() {
    let state = state().await;
    let sdk = shared::state::aws_config().await;
    let providers = payment_providers::registry::Providers::from_env(&sdk)
        .await
        .unwrap();
    let payment = ulid::Ulid::new().to_string();
    let answer = invoke(
        api_webhooks::router(state, providers),
        "apigw-v2-webhooks-vnpay-ipn.json",
        &[("PAYMENT_ID_PLACEHOLDER", &payment)],
    )
    .await;
    // VNPay reads the verdict from the body; the status is 200 whatever it says
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["RspCode"], "97", "{}", answer.body);
}

// ---- consumers ----------------------------------------------------------------------------

#[tokio::test]
async fn dispatcher_tick_runs_without_failures() {
    let dispatcher = consumer_dispatcher::Dispatcher::from_env()
        .await
        .expect("make test exports the stack environment");
    let mut batch = sqs_event("sqs-dispatcher-tick.json", &[]);
    let mut poison = batch.records[0].clone();
    poison.message_id = Some("poison-1".into());
    poison.body = Some("{\"detail-type\": 7}".into());
    batch.records.push(poison);
    let response = dispatcher.handle(batch).await;
    assert_eq!(failed(&response), vec!["poison-1"]);
}

#[tokio::test]
async fn invoices_payment_succeeded_issues_the_orders_invoice() {
    let invoices = consumer_invoices::Invoices::from_env()
        .await
        .expect("make test exports the stack environment");
    let ctx = Ctx::new();
    let placed = ctx.place_one("fx-invoices", 465_000, "VND", "cod").await;
    let order_id = &placed.orders[0];
    let order: shared::orders::OrderRecord = invoices
        .db
        .get(keys::order(order_id))
        .await
        .unwrap()
        .expect("the order is in the table");
    let event_id = ulid::Ulid::new().to_string();
    let payment_id = ulid::Ulid::new().to_string();

    let response = invoices
        .handle(sqs_event(
            "sqs-invoices-payment-succeeded.json",
            &[
                ("EVENT_ID_PLACEHOLDER", &event_id),
                ("PAYMENT_ID_PLACEHOLDER", &payment_id),
                ("CHECKOUT_ID_PLACEHOLDER", &placed.checkout_id),
                ("BUYER_ID_PLACEHOLDER", &order.buyer_id),
                ("ORDER_ID_PLACEHOLDER", order_id),
                ("SHOP_ID_PLACEHOLDER", &placed.shop.shop_id),
            ],
        ))
        .await;
    assert!(failed(&response).is_empty(), "{response:?}");
    let invoice: Value = invoices
        .db
        .get(keys::invoice(order_id))
        .await
        .unwrap()
        .expect("the invoice is recorded");
    assert_eq!(invoice["shop_id"], placed.shop.shop_id.as_str());
    assert_eq!(invoice["number"], 1, "the shop's first invoice: {invoice}");
}

#[tokio::test]
async fn media_processor_attaches_the_uploaded_image_and_skips_the_test_event() {
    let processor = consumer_media_processor::MediaProcessor::from_env()
        .await
        .expect("make test exports the stack environment");
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-media").await;
    let (product_id, _) = product(&ctx, &shop, 50_000).await;
    let media_id = ctx
        .upload_image(
            &shop.seller_token,
            &product_id,
            "image/png",
            e2e::png(64, 48),
        )
        .await;

    // The dev server's pump gets the same notification from the bucket; whichever of the two
    // attaches first, the other finds the guard, so the image is attached once either way.
    let response = processor
        .handle(sqs_event(
            "sqs-media-processor-s3-upload.json",
            &[
                ("BUCKET_PLACEHOLDER", &processor.bucket),
                ("PRODUCT_ID_PLACEHOLDER", &product_id),
                ("MEDIA_ID_PLACEHOLDER", &media_id),
            ],
        ))
        .await;
    assert!(failed(&response).is_empty(), "{response:?}");
    let (product, _, _) = shared::products::load_product_with_stats(&processor.db, &product_id)
        .await
        .unwrap()
        .unwrap();
    let attached: Vec<&str> = product.media.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(attached, vec![media_id.as_str()]);
    assert_eq!((product.media[0].width, product.media[0].height), (64, 48));
}

#[tokio::test]
async fn search_indexer_product_upserted_puts_the_product_in_the_index() {
    let indexer = consumer_search_indexer::Indexer::from_env()
        .await
        .expect("make test exports the stack environment");
    let ctx = Ctx::new();
    let shop = ctx.test_shop("fx-indexer").await;
    let (product_id, _) = product(&ctx, &shop, 77_000).await;

    let event_id = ulid::Ulid::new().to_string();
    let response = indexer
        .handle(sqs_event(
            "sqs-search-indexer-product-upserted.json",
            &[
                ("EVENT_ID_PLACEHOLDER", &event_id),
                ("PRODUCT_ID_PLACEHOLDER", &product_id),
                ("SHOP_ID_PLACEHOLDER", &shop.shop_id),
                ("CATEGORY_ID_PLACEHOLDER", &shop.category_id),
            ],
        ))
        .await;
    assert!(failed(&response).is_empty(), "{response:?}");
    // the handler re-reads the product and indexes it before it answers
    let doc = indexer
        .engine
        .get(&product_id)
        .await
        .unwrap()
        .expect("the product is indexed");
    assert_eq!(
        (doc.id.as_str(), doc.price_min),
        (product_id.as_str(), 77_000)
    );
}

// ---- every function has a fixture ---------------------------------------------------------

/// The fixture name prefixes of a function directory (`api/cart`, `consumers/escrow`, …):
/// `<event>-<function>-…`, or the names the older fixtures were given.
fn prefixes(function: &str) -> Vec<String> {
    let (kind, name) = function.split_once('/').unwrap();
    match (kind, name) {
        ("consumers", "outbox-relay") => vec!["dynamodb-stream-outbox-".into()],
        ("websocket", "connections") => {
            vec!["apigw-ws-connect.".into(), "apigw-ws-subscribe.".into()]
        }
        ("api", group) => vec![format!("apigw-v2-{group}-")],
        ("consumers", consumer) => ["sqs", "s3", "schedule", "dynamodb-stream"]
            .iter()
            .map(|event| format!("{event}-{consumer}-"))
            .collect(),
        ("websocket", route) => vec![format!("apigw-ws-{route}-")],
        _ => panic!("functions/{kind} is a kind of function this test does not know"),
    }
}

fn rust_sources(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[test]
fn every_function_has_a_fixture_in_events_that_a_test_runs() {
    let root = root();
    let fixtures = names_in(&root.join("events"));
    let mut sources = Vec::new();
    for dir in ["functions", "infra/dev-server/tests", "tests"] {
        rust_sources(&root.join(dir), &mut sources);
    }
    let mut functions = Vec::new();
    for kind in names_in(&root.join("functions")) {
        for name in names_in(&root.join("functions").join(&kind)) {
            if root
                .join("functions")
                .join(&kind)
                .join(&name)
                .join("Cargo.toml")
                .is_file()
            {
                functions.push(format!("{kind}/{name}"));
            }
        }
    }
    assert!(functions.len() >= 26, "{functions:?}");

    let missing: Vec<&String> = functions
        .iter()
        .filter(|function| {
            let prefixes = prefixes(function);
            !fixtures.iter().any(|fixture| {
                prefixes.iter().any(|p| fixture.starts_with(p.as_str()))
                    && sources.iter().any(|s| s.contains(&format!("{fixture}\"")))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a fixture in events/ that a test runs \
         (add events/<event>-<function>-<what>.json and a test in \
         infra/dev-server/tests/lambda_fixtures.rs): {missing:?}"
    );
}
