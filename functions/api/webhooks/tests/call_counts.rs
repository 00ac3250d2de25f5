//! The DynamoDB request budget of a webhook, counted with an SDK interceptor on the real
//! handler against the emulator: a genuine Stripe `payment_intent.succeeded` is one GetItem
//! (the pointer), one BatchGetItem (payment, orders, escrows, dedupe record) and one
//! TransactWriteItems; its redelivery is the two reads and no write.

use axum::body::Body;
use axum::http::Request;
use e2e::Ctx;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn stripe_webhook_secret() -> String {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let arn = std::env::var("STRIPE_SECRET_ARN").expect("make test exports the stack environment");
    let out = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    let secret: Value = serde_json::from_str(out.secret_string().unwrap()).unwrap();
    secret["webhook_secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_webhook_is_two_reads_and_one_transaction_and_its_redelivery_writes_nothing() {
    let ctx = Ctx::new();
    let placed = ctx.place_one("hook-budget", 80_000, "VND", "online").await;
    let (buyer, total, order) = (&placed.buyer, placed.total, &placed.orders[0]);
    let paid = ctx.pay(buyer, &placed.checkout_id, "stripe").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let intent = paid.body["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    // The event exactly as Stripe would send it, signed with the local webhook secret.
    let body = serde_json::to_vec(&json!({
        "id": format!("evt_{}", ulid::Ulid::new()), "object": "event", "api_version": "2024-06-20",
        "created": 1_700_000_000, "type": "payment_intent.succeeded", "livemode": false,
        "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": total,
            "amount_received": total, "currency": "vnd", "status": "succeeded",
            "latest_charge": "ch_budget", "metadata": {"payment_id": paid.body["id"]}}}
    }))
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature =
        payment_providers::stripe::signature_header(&stripe_webhook_secret().await, now, &body);

    let config =
        shared::config::Config::from_env().expect("make test exports the stack environment");
    let sdk = shared::state::aws_config().await;
    let mut state = shared::AppState::new(config, &sdk, &[7u8; 32]);
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let providers = payment_providers::registry::Providers::from_env(&sdk)
        .await
        .unwrap();
    let router = api_webhooks::router(state, providers);
    let deliver = || {
        Request::post("/api/v1/payments/stripe/webhook")
            .header("content-type", "application/json")
            .header("stripe-signature", &signature)
            .body(Body::from(body.clone()))
            .unwrap()
    };

    let first = router.clone().oneshot(deliver()).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        calls.take(),
        ["GetItem", "BatchGetItem", "TransactWriteItems"]
    );
    let status = ctx
        .get(&format!("/api/v1/orders/{order}"), Some(buyer))
        .await;
    assert_eq!(status.body["status"], "confirmed", "{}", status.text);

    let again = router.oneshot(deliver()).await.unwrap();
    assert_eq!(again.status(), 200, "a redelivery is acknowledged");
    assert_eq!(
        calls.take(),
        ["GetItem", "BatchGetItem"],
        "and writes nothing"
    );
}
