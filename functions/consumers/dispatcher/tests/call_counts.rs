//! The DynamoDB request budget of an assignment, counted with an SDK interceptor on the real
//! dispatcher against the emulator: creating a confirmed order's shipment and offering it to
//! the nearest free shipper is one batched read (order and shop), one Query (the free
//! shippers of the province) and one transaction — within the budget of three reads and one
//! transaction.
//!
//! The running dev server's dispatcher handles every order placed through the API, so this
//! test hands its own dispatcher a copy of a placed order under a new id, written straight to
//! the table: an order no event announces, which only this test assigns.

use consumer_dispatcher::{Dispatcher, Outcome};
use e2e::Ctx;
use serde_json::json;

#[tokio::test]
async fn assigning_a_shipment_is_one_batched_read_one_query_and_one_transaction() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    // Quảng Ninh: the shop in Phường Cao Xanh, one shipper with two slots
    let shop = ctx
        .test_shop_at("fleet-budget", "Quảng Ninh", (21.0013, 107.128))
        .await;
    let rider = ctx
        .test_shipper(&admin, "Quảng Ninh", (21.0, 107.13), 2)
        .await;
    let product = ctx.parcel_product(&shop, 5).await;
    let (_, buyer, _) = ctx.user("fleet-budget-buyer").await;
    let address = ctx.test_address_at(&buyer, "Hà Tu", "Quảng Ninh").await;
    let placed_id = ctx.cod_order(&buyer, &address, &product).await;
    // the dev server's dispatcher offers the placed order to the rider (one of two slots)
    assert_eq!(ctx.offered_to(&admin, &placed_id).await, rider.id);

    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let copy_id = ulid::Ulid::new().to_string();
    let mut order = state
        .db
        .get_item(shared::store::keys::order(&placed_id))
        .await
        .unwrap()
        .unwrap();
    let (pk, sk) = shared::store::keys::order(&copy_id);
    order.insert("PK".into(), shared::store::s(pk));
    order.insert("SK".into(), shared::store::s(sk));
    order.insert("id".into(), shared::store::s(&copy_id));
    state
        .db
        .client
        .put_item()
        .table_name(&state.db.table)
        .set_item(Some(order))
        .send()
        .await
        .unwrap();

    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let sqs = aws_sdk_sqs::Client::new(&shared::state::aws_config().await);
    let dispatcher = Dispatcher::new(state.db.clone(), sqs, None);
    let outcome = dispatcher
        .order_confirmed(&copy_id, &shop.shop_id)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Offered(rider.id.clone()));
    assert_eq!(
        calls.take(),
        ["BatchGetItem", "Query", "TransactWriteItems"],
        "order and shop in one read, the free shippers in one Query, the shipment, the slot and the events in one transaction"
    );
    let tracked = ctx
        .get(
            &format!("/api/v1/shipping/{copy_id}/tracking"),
            Some(&admin),
        )
        .await;
    assert_eq!(tracked.body["shipper_id"], json!(rider.id));
    let r = ctx
        .get(
            &format!("/api/v1/shipping/shippers/{}", rider.id),
            Some(&admin),
        )
        .await;
    assert_eq!(r.body["load"], 2, "both slots held, none beyond");

    // the same event again: nothing changes, and it costs no more than the first time
    let again = dispatcher
        .order_confirmed(&copy_id, &shop.shop_id)
        .await
        .unwrap();
    assert_eq!(again, Outcome::Duplicate);
    let calls_again = calls.take();
    assert_eq!(
        calls_again.first().map(String::as_str),
        Some("BatchGetItem")
    );
    assert!(calls_again.len() <= 3, "{calls_again:?}");
    let r = ctx
        .get(
            &format!("/api/v1/shipping/shippers/{}", rider.id),
            Some(&admin),
        )
        .await;
    assert_eq!(r.body["load"], 2, "the duplicate took no slot");
}
