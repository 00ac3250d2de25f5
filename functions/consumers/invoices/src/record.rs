//! The invoice as stored, and the two transactions that write it: the claim of the next number
//! of a shop's year (counter, number guard and invoice record at once) and the mark that its
//! PDF is stored (which publishes `InvoiceIssued`).

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use shared::domain::{Currency, Money};
use shared::events::{self, DomainEvent, InvoiceIssued};
use shared::orders::OrderRecord;
use shared::store::{Item, StoreError, keys, n, tx};

pub const INVOICE_ENTITY: &str = "invoice";
pub const NUMBER_GUARD_ENTITY: &str = "invoice_number";
pub const SEQUENCE_ENTITY: &str = "invoice_sequence";

/// `INVOICE#<order>/INVOICE`: the one invoice of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub order_id: String,
    pub shop_id: String,
    pub buyer_id: String,
    /// UTC year of issue; numbers run per shop and year.
    pub year: i32,
    pub number: u64,
    /// As printed: `2026-000017`.
    pub display_number: String,
    /// The PDF's key in the media bucket.
    pub s3_key: String,
    pub total: i64,
    pub currency: Currency,
    pub issued_at: String,
    /// Set once the PDF is in the bucket (and `InvoiceIssued` in the outbox).
    #[serde(default)]
    pub pdf_stored: bool,
}

impl InvoiceRecord {
    /// Invoice `number` of the order's shop in `year`, issued at `issued_at` (RFC 3339, in
    /// `year`).
    pub fn new(order: &OrderRecord, year: i32, number: u64, issued_at: String) -> Self {
        let (pk, sk) = keys::invoice(&order.id);
        Self {
            pk,
            sk,
            entity_type: INVOICE_ENTITY.into(),
            order_id: order.id.clone(),
            shop_id: order.shop_id.clone(),
            buyer_id: order.buyer_id.clone(),
            year,
            number,
            display_number: display_number(year, number),
            s3_key: keys::invoice_object(&order.shop_id, year, number),
            total: order.total,
            currency: order.currency,
            issued_at,
            pdf_stored: false,
        }
    }

    pub fn total_money(&self) -> Money {
        Money::new(self.total, self.currency)
    }
}

/// An invoice number as printed: `2026-000017`.
pub fn display_number(year: i32, number: u64) -> String {
    format!("{year}-{number:06}")
}

/// `INVOICENO#<shop>#<year>#<number>/GUARD`: makes a number exist once, and says whose it is.
#[derive(Debug, Serialize)]
struct NumberGuard<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    order_id: &'a str,
}

/// The last number a shop's year issued, from its counter item (absent: none yet).
pub fn last_number(counter: Option<&Item>) -> Result<u64, StoreError> {
    let Some(value) = counter.and_then(|item| item.get("last")) else {
        return Ok(0);
    };
    value
        .as_n()
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("invoice counter `last` is not a number")))
}

/// Position of each action in [`claim_actions`], for reading cancellation reasons.
pub const CLAIM_COUNTER: usize = 0;
pub const CLAIM_NUMBER: usize = 1;
pub const CLAIM_INVOICE: usize = 2;

/// The claim of `invoice.number`, read as the successor of `last`: the counter moves from
/// `last` to the number (only if it still holds `last`), the number's guard and the order's
/// invoice are created (only if neither exists). All or nothing, so a failed claim leaves no
/// trace and no gap.
pub fn claim_actions(
    table: &str,
    invoice: &InvoiceRecord,
    last: u64,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    debug_assert_eq!(invoice.number, last + 1);
    let condition = if last == 0 {
        "attribute_not_exists(#last)"
    } else {
        "#last = :prev"
    };
    let mut values = vec![
        (":next", n(invoice.number)),
        (":entity", shared::store::s(SEQUENCE_ENTITY)),
    ];
    if last > 0 {
        values.push((":prev", n(last)));
    }
    let (guard_pk, guard_sk) = keys::invoice_number(&invoice.shop_id, invoice.year, invoice.number);
    Ok(vec![
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::invoice_sequence(&invoice.shop_id, invoice.year),
                update: "SET #last = :next, entity_type = :entity",
                condition: Some(condition),
                // LAST is a DynamoDB reserved word.
                names: &[("#last", "last")],
                values,
            },
        )?,
        tx::put_new(
            table,
            &NumberGuard {
                pk: guard_pk,
                sk: guard_sk,
                entity_type: NUMBER_GUARD_ENTITY,
                order_id: &invoice.order_id,
            },
        )?,
        tx::put_new(table, invoice)?,
    ])
}

/// Why a claim did not go through, when trying again may help (or is not needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimConflict {
    /// The order's invoice exists: another delivery issued it.
    AlreadyIssued,
    /// Another claim of the same shop's year won (or collided with this one): read the counter
    /// again and retry.
    Contended,
}

/// Reads a failed claim. `None` means a real failure, including a number guard that exists
/// while the counter says it was never issued (corrupt data: a person should look).
pub fn claim_conflict(err: &StoreError) -> Option<ClaimConflict> {
    match err {
        StoreError::TransactionCanceled(reasons) => {
            let failed = |i: usize| {
                reasons.get(i).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed")
            };
            if failed(CLAIM_INVOICE) {
                Some(ClaimConflict::AlreadyIssued)
            } else if failed(CLAIM_COUNTER) {
                Some(ClaimConflict::Contended)
            } else if failed(CLAIM_NUMBER) {
                None
            } else if reasons
                .iter()
                .flatten()
                .any(|r| r == "TransactionConflict" || r == "ThrottlingError")
            {
                Some(ClaimConflict::Contended)
            } else {
                None
            }
        }
        StoreError::Throttled => Some(ClaimConflict::Contended),
        _ => None,
    }
}

/// Marks the invoice's PDF as stored and publishes `InvoiceIssued`, once: the mark requires
/// the flag to be unset, so of two deliveries racing here only one writes the event.
pub fn stored_actions(
    table: &str,
    invoice: &InvoiceRecord,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let event = DomainEvent::InvoiceIssued(InvoiceIssued {
        order_id: invoice.order_id.clone(),
        shop_id: invoice.shop_id.clone(),
        buyer_id: invoice.buyer_id.clone(),
        number: invoice.display_number.clone(),
        total: invoice.total_money(),
    });
    Ok(vec![
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::invoice(&invoice.order_id),
                update: "SET pdf_stored = :true",
                condition: Some("pdf_stored = :false"),
                names: &[],
                values: vec![
                    (":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true)),
                    (
                        ":false",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(false),
                    ),
                ],
            },
        )?,
        events::outbox_put(table, &event)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn cancelled(reasons: [Option<&str>; 3]) -> StoreError {
        StoreError::TransactionCanceled(reasons.iter().map(|r| r.map(str::to_owned)).collect())
    }

    fn invoice(number: u64) -> InvoiceRecord {
        let (pk, sk) = keys::invoice("O1");
        InvoiceRecord {
            pk,
            sk,
            entity_type: INVOICE_ENTITY.into(),
            order_id: "O1".into(),
            shop_id: "S1".into(),
            buyer_id: "B1".into(),
            year: 2026,
            number,
            display_number: display_number(2026, number),
            s3_key: keys::invoice_object("S1", 2026, number),
            total: 450_000,
            currency: Currency::VND,
            issued_at: "2026-03-05T10:00:00.000Z".into(),
            pdf_stored: false,
        }
    }

    #[test]
    fn a_claim_moves_the_counter_from_the_number_read_and_creates_guard_and_invoice() {
        let first = claim_actions("T", &invoice(1), 0).unwrap();
        assert_eq!(first.len(), 3);
        let counter = first[CLAIM_COUNTER].update().unwrap();
        assert_eq!(
            counter.condition_expression(),
            Some("attribute_not_exists(#last)")
        );
        assert_eq!(
            counter.key()["PK"],
            AttributeValue::S(keys::invoice_sequence("S1", 2026).0)
        );

        let later = claim_actions("T", &invoice(18), 17).unwrap();
        let counter = later[CLAIM_COUNTER].update().unwrap();
        assert_eq!(counter.condition_expression(), Some("#last = :prev"));
        let values = counter.expression_attribute_values().unwrap();
        assert_eq!(values[":prev"], AttributeValue::N("17".into()));
        assert_eq!(values[":next"], AttributeValue::N("18".into()));

        let guard = later[CLAIM_NUMBER].put().unwrap();
        assert_eq!(
            guard.item()["PK"],
            AttributeValue::S(keys::invoice_number("S1", 2026, 18).0)
        );
        assert_eq!(
            guard.condition_expression(),
            Some("attribute_not_exists(PK)")
        );
        let record = later[CLAIM_INVOICE].put().unwrap();
        assert_eq!(
            record.item()["PK"],
            AttributeValue::S(keys::invoice("O1").0)
        );
        assert_eq!(
            record.item()["display_number"],
            AttributeValue::S("2026-000018".into())
        );
        assert_eq!(record.item()["pdf_stored"], AttributeValue::Bool(false));
        assert_eq!(
            record.condition_expression(),
            Some("attribute_not_exists(PK)")
        );
    }

    #[test]
    fn storing_the_pdf_publishes_invoice_issued_once() {
        let actions = stored_actions("T", &invoice(7)).unwrap();
        assert_eq!(
            actions[0].update().unwrap().condition_expression(),
            Some("pdf_stored = :false")
        );
        let outbox = actions[1].put().unwrap().item();
        assert_eq!(
            outbox["detail_type"],
            AttributeValue::S("InvoiceIssued".into())
        );
        let detail = outbox["detail"].as_s().unwrap();
        assert!(detail.contains("\"number\":\"2026-000007\""), "{detail}");
        assert!(detail.contains("\"amount\":450000"), "{detail}");
    }

    #[test]
    fn numbers_print_with_the_year_and_six_digits() {
        assert_eq!(display_number(2026, 17), "2026-000017");
        assert_eq!(display_number(2026, 1_234_567), "2026-1234567");
    }

    #[test]
    fn an_absent_counter_means_nothing_was_issued_yet() {
        assert_eq!(last_number(None).unwrap(), 0);
        let item = Item::from([("last".to_owned(), AttributeValue::N("19".into()))]);
        assert_eq!(last_number(Some(&item)).unwrap(), 19);
        let broken = Item::from([("last".to_owned(), AttributeValue::S("x".into()))]);
        assert!(last_number(Some(&broken)).is_err());
    }

    #[test]
    fn a_claim_that_finds_the_invoice_issued_stops_even_if_the_counter_moved_too() {
        let ccf = Some("ConditionalCheckFailed");
        assert_eq!(
            claim_conflict(&cancelled([ccf, None, ccf])),
            Some(ClaimConflict::AlreadyIssued)
        );
        assert_eq!(
            claim_conflict(&cancelled([None, None, ccf])),
            Some(ClaimConflict::AlreadyIssued)
        );
    }

    #[test]
    fn a_claim_beaten_to_the_counter_is_retried() {
        let ccf = Some("ConditionalCheckFailed");
        assert_eq!(
            claim_conflict(&cancelled([ccf, None, None])),
            Some(ClaimConflict::Contended)
        );
        assert_eq!(
            claim_conflict(&StoreError::Throttled),
            Some(ClaimConflict::Contended)
        );
        assert_eq!(
            claim_conflict(&cancelled([Some("TransactionConflict"), None, None])),
            Some(ClaimConflict::Contended)
        );
    }

    #[test]
    fn a_number_guard_without_its_counter_is_an_error_not_a_retry() {
        assert_eq!(
            claim_conflict(&cancelled([None, Some("ConditionalCheckFailed"), None])),
            None
        );
        assert_eq!(
            claim_conflict(&cancelled([Some("ValidationError"), None, None])),
            None
        );
    }
}
