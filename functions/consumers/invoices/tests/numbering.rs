//! Invoice numbering against the real emulator: twenty orders of one shop paid at the same
//! moment — four SQS batches handled in parallel, one message delivered twice — get invoices
//! 1..=20 of the shop's year, each exactly once, each with its PDF in the media bucket; and an
//! invoice whose PDF never made it to the bucket is completed by the redelivery.
//!
//! Needs `make test`'s environment (TABLE_NAME, MEDIA_BUCKET, AWS_ENDPOINT_URL from the
//! provisioned stack); every test creates its own shop, buyer and orders with fresh ids.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::SqsEvent;
use consumer_invoices::record::InvoiceRecord;
use consumer_invoices::{Invoices, Outcome};
use serde_json::json;
use shared::auth::Role;
use shared::catalog::{GeoPoint, ShopAddress, ShopRecord, ShopStatus};
use shared::domain::order_state::OrderStatus;
use shared::domain::{Currency, Money};
use shared::events::{Envelope, PaidOrder, PaymentSucceeded};
use shared::identity::UserRecord;
use shared::orders::{OrderLine, OrderRecord, PaymentMethod, ShippingAddress};
use shared::store::{Db, keys, s as string, tx};

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name}: make test exports the stack environment"))
}

async fn invoices() -> Invoices {
    let sdk = shared::state::aws_config().await;
    Invoices::new(
        Db::new(aws_sdk_dynamodb::Client::new(&sdk), env("TABLE_NAME")),
        shared::state::s3_client(&sdk),
        env("MEDIA_BUCKET"),
    )
}

fn vnd(amount: i64) -> Money {
    Money::new(amount, Currency::VND)
}

/// A shop, as the shops API stores it (not indexed: it must not show up in other tests' searches).
async fn create_shop(db: &Db) -> String {
    let id = format!("inv-shop-{}", ulid::Ulid::new());
    let (pk, sk) = keys::shop_profile(&id);
    let now = shared::now_rfc3339();
    db.put_new(&ShopRecord {
        pk,
        sk,
        gsi1pk: None,
        gsi1sk: None,
        gsi2pk: None,
        gsi2sk: None,
        entity_type: "shop".into(),
        id: id.clone(),
        org_id: format!("inv-org-{}", ulid::Ulid::new()),
        name: "Cửa hàng Hóa Đơn".into(),
        description: "invoice numbering test".into(),
        logo_url: None,
        address: ShopAddress {
            line1: "12 Lê Lợi".into(),
            city: "Hà Nội".into(),
            country: "VN".into(),
            location: GeoPoint {
                lat: 21.0285,
                lng: 105.8542,
            },
        },
        opening_hours: Vec::new(),
        status: ShopStatus::Suspended,
        created_at: now.clone(),
        updated_at: now,
        rev: 0,
    })
    .await
    .expect("shop created");
    id
}

async fn create_buyer(db: &Db) -> String {
    let id = format!("inv-buyer-{}", ulid::Ulid::new());
    let user = UserRecord::new(
        id.clone(),
        format!("{id}@example.com"),
        "Nguyễn Văn Bảo".into(),
        "not-a-password-hash".into(),
        vec![Role::Buyer],
    );
    db.put_new(&user).await.expect("buyer created");
    id
}

/// A confirmed (paid) order of one line whose total is `total`.
async fn create_order(db: &Db, shop_id: &str, buyer_id: &str, total: i64) -> OrderRecord {
    let id = format!("inv-order-{}", ulid::Ulid::new());
    let (pk, sk) = keys::order(&id);
    let now = shared::now_rfc3339();
    let shipping_fee = 30_000;
    let subtotal = total - shipping_fee;
    let order = OrderRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_buyer_orders(buyer_id),
        gsi1sk: keys::order_sort(&now, &id),
        gsi2pk: keys::gsi2_shop_orders(shop_id),
        gsi2sk: keys::order_sort(&now, &id),
        gsi3pk: None,
        gsi3sk: None,
        entity_type: shared::orders::ORDER_ENTITY.into(),
        id,
        checkout_id: format!("inv-checkout-{}", ulid::Ulid::new()),
        buyer_id: buyer_id.into(),
        shop_id: shop_id.into(),
        shop_name: "Cửa hàng Hóa Đơn".into(),
        org_id: "inv-org".into(),
        status: OrderStatus::Confirmed,
        payment_method: PaymentMethod::Online,
        currency: Currency::VND,
        lines: vec![OrderLine {
            product_id: "inv-product".into(),
            sku: "AO-M".into(),
            name: "Áo thun".into(),
            attributes: BTreeMap::from([("Size".into(), "M".into())]),
            list_price: vnd(subtotal),
            unit_price: vnd(subtotal),
            quantity: 1,
            line_total: vnd(subtotal),
            weight_grams: 200,
            warehouse_id: None,
        }],
        subtotal,
        shop_discount: 0,
        platform_discount: 0,
        shipping_fee,
        tax_included: total / 11,
        total,
        weight_grams: 200,
        shop_voucher: None,
        platform_voucher: None,
        shipping_address: ShippingAddress {
            recipient_name: "Nguyễn Văn Bảo".into(),
            phone: "+84900000000".into(),
            line1: "34 Trần Hưng Đạo".into(),
            line2: None,
            ward: None,
            district: Some("Quận 1".into()),
            city: "Hồ Chí Minh".into(),
            region: None,
            postal_code: None,
            country: "VN".into(),
            place: None,
        },
        shipping_method: Default::default(),
        shipping_quote: None,
        note: None,
        created_at: now.clone(),
        updated_at: now,
        payment_due_at: None,
        shipment: None,
        delivered_at: None,
        cancel_reason: None,
        return_request: None,
        timeline: Vec::new(),
    };
    db.put_new(&order).await.expect("order created");
    order
}

fn payment(order: &OrderRecord) -> PaymentSucceeded {
    PaymentSucceeded {
        payment_id: format!("inv-payment-{}", ulid::Ulid::new()),
        checkout_id: order.checkout_id.clone(),
        buyer_id: order.buyer_id.clone(),
        provider: "sandbox".into(),
        amount: vnd(order.total),
        orders: vec![PaidOrder {
            order_id: order.id.clone(),
            shop_id: order.shop_id.clone(),
            amount: order.total,
        }],
        late_amount: 0,
    }
}

/// An SQS message whose body is the EventBridge event the bus rule forwards.
fn message(message_id: &str, payment: &PaymentSucceeded) -> serde_json::Value {
    let envelope = Envelope {
        id: ulid::Ulid::new().to_string(),
        occurred_at: shared::now(),
        version: 1,
        data: serde_json::to_value(payment).unwrap(),
    };
    let body = json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": "PaymentSucceeded",
        "source": "commerce.payments",
        "detail": envelope,
    });
    json!({"messageId": message_id, "body": body.to_string()})
}

fn batch(messages: &[serde_json::Value]) -> SqsEvent {
    serde_json::from_value(json!({ "Records": messages })).unwrap()
}

async fn pdf(invoices: &Invoices, key: &str) -> Vec<u8> {
    let object = invoices
        .s3
        .get_object()
        .bucket(&invoices.bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PDF {key} is in the bucket: {e:?}"));
    assert_eq!(object.content_type(), Some("application/pdf"));
    object.body.collect().await.unwrap().to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn twenty_invoices_of_one_shop_issued_at_once_are_numbered_1_to_20_without_gap_or_duplicate()
{
    let invoices = invoices().await;
    let db = &invoices.db;
    let shop = create_shop(db).await;
    let buyer = create_buyer(db).await;
    let orders = futures::future::join_all(
        (0..20).map(|i| create_order(db, &shop, &buyer, 100_000 + 1_000 * i)),
    )
    .await;

    // GIVEN 20 paid orders, one message each, and the first one delivered twice
    let mut messages: Vec<serde_json::Value> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| message(&format!("m{i}"), &payment(o)))
        .collect();
    let mut duplicate = messages[0].clone();
    duplicate["messageId"] = json!("m0-again");
    messages.push(duplicate);

    // WHEN four batches are handled in parallel
    let batches: Vec<SqsEvent> = [
        &messages[0..5],
        &messages[5..10],
        &messages[10..15],
        &messages[15..],
    ]
    .into_iter()
    .map(batch)
    .collect();
    let responses =
        futures::future::join_all(batches.into_iter().map(|b| invoices.handle(b))).await;
    for response in &responses {
        assert!(
            response.batch_item_failures.is_empty(),
            "failed messages: {:?}",
            response
                .batch_item_failures
                .iter()
                .map(|f| &f.item_identifier)
                .collect::<Vec<_>>()
        );
    }

    // THEN every order has one invoice, and together they are 1..=20 of this year
    let mut by_number: BTreeMap<u64, (InvoiceRecord, &OrderRecord)> = BTreeMap::new();
    for order in &orders {
        let invoice: InvoiceRecord = db
            .get(keys::invoice(&order.id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("order {} has an invoice", order.id));
        assert_eq!(invoice.shop_id, shop);
        assert_eq!(invoice.buyer_id, buyer);
        assert_eq!(invoice.total, order.total);
        assert!(invoice.pdf_stored, "{invoice:?}");
        assert_eq!(
            invoice.display_number,
            format!("{}-{:06}", invoice.year, invoice.number)
        );
        let previous = by_number.insert(invoice.number, (invoice, order));
        assert!(previous.is_none(), "number issued twice: {previous:?}");
    }
    assert_eq!(
        by_number.keys().copied().collect::<Vec<_>>(),
        (1..=20).collect::<Vec<u64>>()
    );
    let year = by_number[&1].0.year;
    assert!(by_number.values().all(|(i, _)| i.year == year));

    // one guard per number, naming its order; none past 20
    for (number, (_, order)) in &by_number {
        let guard = db
            .get_item(keys::invoice_number(&shop, year, *number))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("guard of number {number}"));
        assert_eq!(guard["order_id"], string(order.id.clone()));
    }
    assert!(
        db.get_item(keys::invoice_number(&shop, year, 21))
            .await
            .unwrap()
            .is_none()
    );
    let counter = db
        .get_item(keys::invoice_sequence(&shop, year))
        .await
        .unwrap()
        .expect("the counter exists");
    assert_eq!(counter["last"], shared::store::n(20));

    // each PDF is in the bucket, with its order's total in its text
    for (invoice, order) in by_number.values() {
        assert_eq!(
            invoice.s3_key,
            keys::invoice_object(&shop, year, invoice.number)
        );
        let bytes = pdf(&invoices, &invoice.s3_key).await;
        assert!(bytes.starts_with(b"%PDF-"));
        let total = format!("({}) Tj", order.money(order.total));
        assert!(
            contains(&bytes, total.as_bytes()),
            "{total} in {}",
            invoice.s3_key
        );
        let number = format!("(No. {}) Tj", invoice.display_number);
        assert!(
            contains(&bytes, number.as_bytes()),
            "{number} in {}",
            invoice.s3_key
        );
    }

    // AND a redelivery of a whole batch issues nothing more
    let again = invoices.handle(batch(&messages[0..5])).await;
    assert!(again.batch_item_failures.is_empty());
    let counter = db
        .get_item(keys::invoice_sequence(&shop, year))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter["last"], shared::store::n(20));
}

#[tokio::test]
async fn an_invoice_whose_pdf_was_not_stored_is_completed_by_the_redelivery() {
    let invoices = invoices().await;
    let db = &invoices.db;
    let shop = create_shop(db).await;
    let buyer = create_buyer(db).await;
    let order = create_order(db, &shop, &buyer, 250_000).await;
    let paid = &payment(&order).orders[0];

    let first = invoices.issue(&buyer, paid).await.unwrap();
    assert_eq!(
        first,
        Outcome::Issued {
            number: format!("{}-000001", shared::now().year())
        }
    );
    let invoice: InvoiceRecord = db.get(keys::invoice(&order.id)).await.unwrap().unwrap();

    // GIVEN the PUT of the PDF failed after the number was claimed
    invoices
        .s3
        .delete_object()
        .bucket(&invoices.bucket)
        .key(&invoice.s3_key)
        .send()
        .await
        .unwrap();
    db.update(tx::UpdateSpec {
        key: keys::invoice(&order.id),
        update: "SET pdf_stored = :false",
        condition: None,
        names: &[],
        values: vec![(
            ":false",
            aws_sdk_dynamodb::types::AttributeValue::Bool(false),
        )],
    })
    .await
    .unwrap();

    // WHEN the message is delivered again THEN the same invoice gets its PDF, and no new number
    let again = invoices.issue(&buyer, paid).await.unwrap();
    assert_eq!(
        again,
        Outcome::Completed {
            number: invoice.display_number.clone()
        }
    );
    let bytes = pdf(&invoices, &invoice.s3_key).await;
    assert!(contains(&bytes, b"(250000 VND) Tj"));
    let stored: InvoiceRecord = db.get(keys::invoice(&order.id)).await.unwrap().unwrap();
    assert!(stored.pdf_stored);
    assert_eq!(stored.number, 1);
    assert_eq!(
        invoices.issue(&buyer, paid).await.unwrap(),
        Outcome::AlreadyIssued
    );
}
