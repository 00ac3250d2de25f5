//! The invoices consumer: for every order a `PaymentSucceeded` paid, issues the order's invoice
//! once — a number from the shop's yearly sequence, a PDF in the media bucket, and an
//! `InvoiceIssued` event for the notifier.
//!
//! # Numbers: per shop and UTC year, from 1, no gap, no duplicate
//!
//! The counter item `keys::invoice_sequence(shop, year)` holds `last`, the last number issued
//! (absent: none). A claim reads it and runs ONE transaction ([`record::claim_actions`]):
//!
//! 1. counter: `SET last = n` (n = the value read + 1), on condition that it still holds the
//!    value read (`attribute_not_exists(last)` when none was);
//! 2. number guard `keys::invoice_number(shop, year, n)`: created, must not exist;
//! 3. invoice record `keys::invoice(order)`: created, must not exist.
//!
//! The transaction is all or nothing, so a claim that loses writes nothing: it cannot leave a
//! gap, and two claims cannot both take `n` (the counter condition lets one through; the guard
//! makes a duplicate impossible even if the counter were wrong). A claim beaten to the counter
//! reads it again and retries, with a small jittered back-off, up to [`MAX_CLAIM_ATTEMPTS`]
//! times (then the message fails and SQS redelivers it). A claim whose invoice item already
//! exists stops: another delivery of the same payment issued it, and that is the whole of the
//! idempotency — by order, not by event, so a second payment event naming the order (a retry
//! by the payments side) issues nothing either.
//!
//! # The PDF: after the number, never before
//!
//! Rendering first would store an object under a number the claim may then lose. So the claim
//! comes first and the record it writes has `pdf_stored = false`; then the PDF is rendered
//! (a pure function of the stored invoice, the order's snapshot of the sale and the shop's and
//! buyer's profiles: the same bytes unless a profile changed in between) and PUT at
//! `invoice.s3_key`, and a second transaction ([`record::stored_actions`]) sets
//! `pdf_stored = true` on condition that it was false and writes `InvoiceIssued` to the outbox.
//! If the PUT or that transaction fails, the message is reported failed; its redelivery finds
//! the record with `pdf_stored = false` and does the PUT again — a PUT is idempotent, and the
//! bytes are the same. The event is published once (the flag's condition lets one writer
//! through) and only once the PDF exists, so the notifier never links to a missing file.
//!
//! # Messages
//!
//! The SQS body is the EventBridge event; anything but `PaymentSucceeded` is acknowledged and
//! ignored. Messages are independent and handled concurrently; failed ones are reported as
//! partial batch failures. Logs carry ids and numbers only, never names or addresses.

pub mod pdf;
pub mod record;
pub mod text;

use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use rand::Rng;
use shared::catalog::ShopRecord;
use shared::events::{DomainEvent, PaidOrder, PaymentSucceeded};
use shared::identity::UserRecord;
use shared::orders::{OrderRecord, ShippingAddress};
use shared::store::{Db, Item, from_item, keys};

use crate::pdf::{DocLine, InvoiceDoc, Party, render_pdf};
use crate::record::{ClaimConflict, InvoiceRecord, claim_actions, claim_conflict, stored_actions};

/// How often one order's claim may lose the race for its shop's counter before the message
/// fails (and is redelivered). Each loss means another invoice of the shop was issued, so this
/// bounds the wait behind a burst of that many concurrent invoices.
pub const MAX_CLAIM_ATTEMPTS: u32 = 30;
/// Upper bound of the jittered pause between attempts grows from this, doubling, to 16×.
const BACKOFF_BASE_MS: u64 = 10;

pub use shared::events::BusEvent;

pub struct Invoices {
    pub db: Db,
    pub s3: aws_sdk_s3::Client,
    /// The media bucket, where invoice PDFs live under `invoices/` (never public).
    pub bucket: String,
}

/// What became of one paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Numbered, rendered and stored now.
    Issued { number: String },
    /// Numbered by an earlier delivery whose PDF had not been stored: stored now.
    Completed { number: String },
    /// Issued and stored before (a duplicate delivery).
    AlreadyIssued,
}

impl Invoices {
    pub fn new(db: Db, s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            db,
            s3,
            bucket: bucket.into(),
        }
    }

    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let bucket = config
            .media_bucket
            .ok_or_else(|| anyhow::anyhow!("missing environment variable MEDIA_BUCKET"))?;
        let sdk = shared::state::aws_config().await;
        Ok(Self::new(
            Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            shared::state::s3_client(&sdk),
            bucket,
        ))
    }

    /// Handles the batch's messages concurrently and reports the failed ones.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        shared::consumer::each_message(&event, |m| self.process(m)).await
    }

    /// One message: the outcome of each order it paid (none for an event not handled here).
    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Vec<Outcome>> {
        let body = message.body.as_deref().unwrap_or_default();
        let bus_event: BusEvent = serde_json::from_str(body).context("message body")?;
        if bus_event.detail_type != "PaymentSucceeded" {
            tracing::info!(detail_type = %bus_event.detail_type, source = %bus_event.source, "event type not handled here");
            return Ok(Vec::new());
        }
        let DomainEvent::PaymentSucceeded(payment) =
            DomainEvent::from_parts(&bus_event.detail_type, bus_event.detail.data)
                .context("PaymentSucceeded data")?
        else {
            unreachable!("the detail-type names the variant");
        };
        self.issue_all(&payment).await
    }

    /// Issues the invoice of every order of a payment (concurrently: different shops' orders
    /// share nothing); fails if any of them failed, after all of them were tried.
    pub async fn issue_all(&self, payment: &PaymentSucceeded) -> anyhow::Result<Vec<Outcome>> {
        let results = futures::future::join_all(
            payment
                .orders
                .iter()
                .map(|paid| self.issue(&payment.buyer_id, paid)),
        )
        .await;
        let mut outcomes = Vec::with_capacity(results.len());
        let mut first_error = None;
        for (paid, result) in payment.orders.iter().zip(results) {
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    tracing::warn!(order_id = %paid.order_id, error = format!("{e:#}"), "invoice not issued");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }

    /// Issues one order's invoice, or finishes or acknowledges an earlier issue of it.
    pub async fn issue(&self, buyer_id: &str, paid: &PaidOrder) -> anyhow::Result<Outcome> {
        let year = shared::now().year();
        let order_key = keys::order(&paid.order_id);
        let shop_key = keys::shop_profile(&paid.shop_id);
        let buyer_key = keys::user_profile(buyer_id);
        let invoice_key = keys::invoice(&paid.order_id);
        let counter_key = keys::invoice_sequence(&paid.shop_id, year);
        let mut items = self
            .db
            .batch_get(&[
                order_key.clone(),
                shop_key.clone(),
                buyer_key.clone(),
                invoice_key.clone(),
                counter_key.clone(),
            ])
            .await?;

        let order: OrderRecord = take(&mut items, &order_key)
            .map(from_item)
            .transpose()?
            .with_context(|| format!("order {} not found", paid.order_id))?;
        anyhow::ensure!(
            order.shop_id == paid.shop_id && order.buyer_id == buyer_id,
            "order {} belongs to shop {} and buyer {}, not to the payment's",
            order.id,
            order.shop_id,
            order.buyer_id
        );
        let shop: ShopRecord = take(&mut items, &shop_key)
            .map(from_item)
            .transpose()?
            .with_context(|| format!("shop {} not found", paid.shop_id))?;
        // An account closed since checkout still gets its invoice (to the shipping name).
        let buyer: Option<UserRecord> = take(&mut items, &buyer_key).map(from_item).transpose()?;
        let existing: Option<InvoiceRecord> =
            take(&mut items, &invoice_key).map(from_item).transpose()?;

        let (invoice, outcome) = match existing {
            Some(invoice) if invoice.pdf_stored => return Ok(Outcome::AlreadyIssued),
            Some(invoice) => {
                let number = invoice.display_number.clone();
                (invoice, Outcome::Completed { number })
            }
            None => {
                let last = record::last_number(take(&mut items, &counter_key).as_ref())?;
                let Some(invoice) = self.claim(&order, (year, last)).await? else {
                    return Ok(Outcome::AlreadyIssued);
                };
                let number = invoice.display_number.clone();
                (invoice, Outcome::Issued { number })
            }
        };
        self.store_pdf(&invoice, &order, &shop, buyer.as_ref())
            .await?;
        tracing::info!(
            order_id = %invoice.order_id,
            shop_id = %invoice.shop_id,
            year = invoice.year,
            number = invoice.number,
            ?outcome,
            "invoice stored"
        );
        Ok(outcome)
    }

    /// Claims the next number of the order's shop (see the module docs), starting from the
    /// counter value read with the order. `None` if the order's invoice turned out to exist.
    async fn claim(
        &self,
        order: &OrderRecord,
        read: (i32, u64),
    ) -> anyhow::Result<Option<InvoiceRecord>> {
        let mut known = Some(read);
        for attempt in 0..MAX_CLAIM_ATTEMPTS {
            let now = shared::now();
            let year = now.year();
            let last = match known.take() {
                Some((read_year, last)) if read_year == year => last,
                // A lost race, or the year turned since the read: read again.
                _ => {
                    let counter_key = keys::invoice_sequence(&order.shop_id, year);
                    let invoice_key = keys::invoice(&order.id);
                    let mut items = self
                        .db
                        .batch_get(&[counter_key.clone(), invoice_key.clone()])
                        .await?;
                    if take(&mut items, &invoice_key).is_some() {
                        return Ok(None);
                    }
                    record::last_number(take(&mut items, &counter_key).as_ref())?
                }
            };
            let invoice = InvoiceRecord::new(order, year, last + 1, shared::format_rfc3339(now));
            let error = match self
                .db
                .transact(claim_actions(&self.db.table, &invoice, last)?)
                .await
            {
                Ok(()) => return Ok(Some(invoice)),
                Err(e) => e,
            };
            match claim_conflict(&error) {
                Some(ClaimConflict::AlreadyIssued) => return Ok(None),
                Some(ClaimConflict::Contended) => {
                    tracing::debug!(order_id = %order.id, shop_id = %order.shop_id, attempt, "invoice number taken meanwhile; retrying");
                    let cap = BACKOFF_BASE_MS << attempt.min(4);
                    let pause = rand::rng().random_range(1..=cap);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                None => {
                    return Err(anyhow::Error::new(error).context(format!(
                        "claiming invoice number {} of shop {} for {year}",
                        invoice.number, order.shop_id
                    )));
                }
            }
        }
        anyhow::bail!(
            "order {}: lost the race for an invoice number of shop {} {MAX_CLAIM_ATTEMPTS} times",
            order.id,
            order.shop_id
        )
    }

    /// Renders and stores the PDF of a claimed invoice, then marks it stored and publishes
    /// `InvoiceIssued` (unless a concurrent delivery just did).
    async fn store_pdf(
        &self,
        invoice: &InvoiceRecord,
        order: &OrderRecord,
        shop: &ShopRecord,
        buyer: Option<&UserRecord>,
    ) -> anyhow::Result<()> {
        let bytes = render_pdf(&document(invoice, order, shop, buyer));
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&invoice.s3_key)
            .content_type("application/pdf")
            .content_disposition(format!(
                "inline; filename=\"invoice-{}.pdf\"",
                invoice.display_number
            ))
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "PutObject {} failed: {}",
                    invoice.s3_key,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        match self
            .db
            .transact(stored_actions(&self.db.table, invoice)?)
            .await
        {
            Ok(()) => Ok(()),
            // Another delivery stored the same bytes and marked it first.
            Err(e) if e.failed_condition_index() == Some(0) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The item with key `k` out of a batch read (items carry their key attributes).
fn take(items: &mut Vec<Item>, (pk, sk): &(String, String)) -> Option<Item> {
    let is = |item: &Item, name: &str, want: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            == Some(want)
    };
    let at = items
        .iter()
        .position(|item| is(item, "PK", pk) && is(item, "SK", sk))?;
    Some(items.swap_remove(at))
}

/// Non-empty parts joined by ", ".
fn joined<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let parts: Vec<&str> = parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn address_lines(a: &ShippingAddress) -> Vec<String> {
    let city = joined([
        Some(a.city.as_str()),
        a.region.as_deref(),
        a.postal_code.as_deref(),
    ]);
    [
        Some(a.line1.clone()),
        a.line2.clone(),
        joined([a.ward.as_deref(), a.district.as_deref()]),
        city,
        Some(a.country.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|l| !l.trim().is_empty())
    .collect()
}

/// What the invoice shows, from the stored invoice and the order it bills (the order's lines
/// and amounts are its snapshot of the sale, so a redelivery renders the same document).
pub fn document(
    invoice: &InvoiceRecord,
    order: &OrderRecord,
    shop: &ShopRecord,
    buyer: Option<&UserRecord>,
) -> InvoiceDoc {
    let ship = &order.shipping_address;
    InvoiceDoc {
        number: invoice.display_number.clone(),
        issue_date: invoice.issued_at.chars().take(10).collect(),
        order_id: order.id.clone(),
        seller: Party {
            name: shop.name.clone(),
            lines: vec![
                shop.address.line1.clone(),
                joined([
                    Some(shop.address.city.as_str()),
                    Some(shop.address.country.as_str()),
                ])
                .unwrap_or_default(),
            ],
        },
        buyer: Party {
            name: buyer.map_or_else(|| ship.recipient_name.clone(), |b| b.name.clone()),
            lines: buyer.map(|b| b.email.clone()).into_iter().collect(),
        },
        ship_to: Party {
            name: ship.recipient_name.clone(),
            lines: address_lines(ship),
        },
        lines: order
            .lines
            .iter()
            .map(|l| DocLine {
                name: l.name.clone(),
                attributes: l
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                quantity: l.quantity,
                unit_price: l.unit_price,
                line_total: l.line_total,
            })
            .collect(),
        subtotal: order.money(order.subtotal),
        shop_discount: order.money(order.shop_discount),
        platform_discount: order.money(order.platform_discount),
        shipping_fee: order.money(order.shipping_fee),
        tax_included: order.money(order.tax_included),
        total: order.money(order.total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> OrderRecord {
        let (pk, sk) = keys::order("O1");
        serde_json::from_value(json!({
            "PK": pk, "SK": sk,
            "GSI1PK": "x", "GSI1SK": "x", "GSI2PK": "x", "GSI2SK": "x",
            "entity_type": "order", "id": "O1", "checkout_id": "C1",
            "buyer_id": "B1", "shop_id": "S1", "shop_name": "Threads", "org_id": "G1",
            "status": "confirmed", "payment_method": "online", "currency": "USD",
            "lines": [{
                "product_id": "P1", "sku": "TEE-M", "name": "Tee",
                "attributes": {"size": "M", "color": "red"},
                "list_price": {"amount": 1500, "currency": "USD"},
                "unit_price": {"amount": 1250, "currency": "USD"},
                "quantity": 2,
                "line_total": {"amount": 2500, "currency": "USD"},
                "weight_grams": 200
            }],
            "subtotal": 2500, "shop_discount": 100, "platform_discount": 50,
            "shipping_fee": 300, "tax_included": 241, "total": 2650, "weight_grams": 400,
            "shipping_address": {
                "recipient_name": "Bao", "phone": "+84900000000", "line1": "34 Tran Hung Dao",
                "ward": "Ben Nghe", "district": "Quan 1", "city": "Ho Chi Minh", "country": "VN"
            },
            "created_at": "2026-03-05T09:00:00.000Z", "updated_at": "2026-03-05T09:00:00.000Z",
            "timeline": []
        }))
        .unwrap()
    }

    fn shop() -> ShopRecord {
        let (pk, sk) = keys::shop_profile("S1");
        serde_json::from_value(json!({
            "PK": pk, "SK": sk, "entity_type": "shop", "id": "S1", "org_id": "G1",
            "name": "Threads", "description": "",
            "address": {"line1": "12 Le Loi", "city": "Ha Noi", "country": "VN",
                        "location": {"lat": 21.0, "lng": 105.8}},
            "opening_hours": [], "status": "active",
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"
        }))
        .unwrap()
    }

    #[test]
    fn the_document_prints_the_orders_snapshot_under_the_claimed_number() {
        let order = order();
        let invoice = InvoiceRecord::new(&order, 2026, 3, "2026-03-05T10:00:00.000Z".into());
        let doc = document(&invoice, &order, &shop(), None);
        assert_eq!(doc.number, "2026-000003");
        assert_eq!(doc.issue_date, "2026-03-05");
        assert_eq!(doc.seller.lines, ["12 Le Loi", "Ha Noi, VN"]);
        // without the account, the buyer is the shipping name, and no e-mail is printed
        assert_eq!(doc.buyer.name, "Bao");
        assert!(doc.buyer.lines.is_empty());
        assert_eq!(
            doc.ship_to.lines,
            ["34 Tran Hung Dao", "Ben Nghe, Quan 1", "Ho Chi Minh", "VN"]
        );
        assert_eq!(doc.lines[0].attributes, "color: red, size: M");
        assert_eq!(doc.total.to_string(), "26.50 USD");
        assert_eq!(doc.shop_discount.to_string(), "1.00 USD");
        assert_eq!(invoice.s3_key, keys::invoice_object("S1", 2026, 3));
    }

    #[test]
    fn a_batch_read_item_is_found_by_its_key() {
        let k = keys::invoice("O1");
        let mut items = vec![
            shared::store::key(keys::order("O1")),
            shared::store::key(k.clone()),
        ];
        assert!(take(&mut items, &k).is_some());
        assert!(take(&mut items, &k).is_none());
        assert_eq!(items.len(), 1);
    }

    fn offline() -> Invoices {
        let dynamo = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        Invoices::new(
            Db::new(aws_sdk_dynamodb::Client::from_conf(dynamo), "T"),
            aws_sdk_s3::Client::from_conf(s3),
            "media",
        )
    }

    #[tokio::test]
    async fn other_events_are_acknowledged_and_unreadable_messages_fail() {
        let other = json!({
            "detail-type": "OrderShipped", "source": "commerce.orders",
            "detail": {"id": "E1", "occurred_at": "2026-01-01T00:00:00Z", "version": 1, "data": {}}
        });
        let event: SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "m1", "body": other.to_string()},
            {"messageId": "m2", "body": "not json"},
        ]}))
        .unwrap();
        let response = offline().handle(event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m2"]);
    }
}
