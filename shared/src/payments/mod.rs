//! Payments as stored in the table and the money rules around them: a payment covers the
//! orders of one checkout; captured money is held per shop order in escrow until the order
//! completes, then released to the shop's available balance less commission. Every movement is
//! a balanced ledger transfer ([`ledger`]) written in the same transaction as the state change
//! it belongs to ([`ops`]). The provider adapters (wire protocols, signatures) are the
//! `payment-providers` crate, linked only by the payment functions.

pub mod ledger;
pub mod ops;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Currency;
use crate::events::PaidOrder;
use crate::orders::{ORDER_ENTITY, OrderRecord};
use crate::store::{Db, Item, StoreError, from_item, keys};

/// How a buyer pays: one of the four providers, a bank transfer, or cash on delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Stripe,
    Paypal,
    Vnpay,
    Momo,
    BankTransfer,
    Cod,
}

impl Method {
    pub const ONLINE: [Method; 5] = [
        Self::Stripe,
        Self::Paypal,
        Self::Vnpay,
        Self::Momo,
        Self::BankTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Paypal => "paypal",
            Self::Vnpay => "vnpay",
            Self::Momo => "momo",
            Self::BankTransfer => "bank_transfer",
            Self::Cod => "cod",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Cod]
            .into_iter()
            .chain(Self::ONLINE)
            .find(|m| m.as_str() == s)
    }

    /// Whether money moves through a provider's API (refunds are calls to it).
    pub fn is_provider(self) -> bool {
        !matches!(self, Self::BankTransfer | Self::Cod)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Created with the provider; waiting for the buyer.
    Pending,
    /// Captured.
    Succeeded,
    /// Declined or cancelled; its orders moved to `payment_failed`.
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// `PAYMENT#<id>/PAYMENT`: one payment attempt for a checkout. GSI1 lists a buyer's payments.
/// `refundable` is what may still be refunded (captured − refunded − reserved for refunds in
/// flight − disputed): refunds and disputes take from it conditionally, so the sum of refunds
/// can never exceed what was captured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub method: Method,
    pub status: PaymentStatus,
    pub currency: Currency,
    pub amount: i64,
    pub orders: Vec<PaidOrder>,
    /// The provider's id of the payment (intent, order, transfer reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<String>,
    /// The provider's id of the capture (PayPal capture, VNPay transaction no., MoMo transId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub captured: i64,
    pub refunded: i64,
    pub refundable: i64,
    #[serde(default)]
    pub refund_pending: i64,
    #[serde(default)]
    pub disputed: i64,
    /// Captured after its orders expired or were cancelled: held in suspense, refunded.
    #[serde(default)]
    pub late_amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds after which the provider's payment page is no longer honoured.
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_at: Option<String>,
}

pub const PAYMENT_ENTITY: &str = "payment";

impl PaymentRecord {
    pub fn order_ids(&self) -> Vec<String> {
        self.orders.iter().map(|o| o.order_id.clone()).collect()
    }
}

/// `PAYREF#<provider>#<ref>/PAYREF`: immutable; lets a webhook find its payment and orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRef {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub payment_id: String,
    pub order_ids: Vec<String>,
}

/// A payment with its orders and their escrows, as one batched read finds them.
#[derive(Debug)]
pub struct Loaded {
    pub payment: PaymentRecord,
    pub orders: Vec<OrderRecord>,
    /// In the payment's order of orders (refunds and holds are allocated in that order).
    pub escrows: Vec<EscrowRecord>,
    /// The caller's `extra` items that exist.
    pub extra: Vec<Item>,
}

impl Loaded {
    /// Whether the extra item with partition key `pk` exists.
    pub fn has(&self, pk: &str) -> bool {
        self.extra
            .iter()
            .any(|i| i.get("PK").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(pk))
    }
}

/// Reads what `pointer` names (the payment, its orders and their escrows) and the `extra` keys
/// a caller needs beside them, in one `BatchGetItem`; `None` when the payment is missing.
pub async fn load(
    db: &Db,
    pointer: &PaymentRef,
    extra: &[(String, String)],
) -> Result<Option<Loaded>, StoreError> {
    let mut wanted = vec![keys::payment(&pointer.payment_id)];
    for id in &pointer.order_ids {
        wanted.push(keys::order(id));
        wanted.push(keys::escrow(id));
    }
    wanted.extend(extra.iter().cloned());
    let (mut payment, mut orders, mut escrows, mut rest) =
        (None, Vec::new(), Vec::new(), Vec::new());
    for item in db.batch_get(&wanted).await? {
        let entity = item.get("entity_type").and_then(|v| v.as_s().ok()).cloned();
        match entity.as_deref() {
            Some(PAYMENT_ENTITY) => payment = Some(from_item::<PaymentRecord>(item)?),
            Some(ORDER_ENTITY) => orders.push(from_item(item)?),
            Some(ESCROW_ENTITY) => escrows.push(from_item::<EscrowRecord>(item)?),
            _ => rest.push(item),
        }
    }
    let Some(payment) = payment else {
        return Ok(None);
    };
    escrows.sort_by_key(|e| payment.orders.iter().position(|o| o.order_id == e.order_id));
    Ok(Some(Loaded {
        payment,
        orders,
        escrows,
        extra: rest,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscrowStatus {
    /// Captured, waiting for the order to complete.
    Held,
    /// Paid out to the shop's available balance.
    Released,
}

impl EscrowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Released => "released",
        }
    }
}

/// `ESCROW#<order>/ESCROW`: one shop order's money. `balance` is what of it the shop still has
/// (in escrow while `held`, in its available balance once `released`), not counting what a
/// dispute put on hold (`on_hold`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EscrowRecord {
    #[serde(rename = "PK")]
    #[schema(ignore)]
    pub pk: String,
    #[serde(rename = "SK")]
    #[schema(ignore)]
    pub sk: String,
    #[schema(ignore)]
    pub entity_type: String,
    pub order_id: String,
    pub shop_id: String,
    pub payment_id: String,
    pub method: Method,
    pub currency: Currency,
    /// Captured for this order.
    pub amount: i64,
    pub balance: i64,
    pub refunded: i64,
    pub on_hold: i64,
    /// Reserved by refunds the provider has not confirmed yet.
    #[serde(default)]
    pub refund_pending: i64,
    /// Lost to disputes.
    #[serde(default)]
    pub lost: i64,
    pub status: EscrowStatus,
    /// Balance at release and the commission taken from it.
    #[serde(default)]
    pub released_gross: i64,
    #[serde(default)]
    pub commission: i64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

pub const ESCROW_ENTITY: &str = "escrow";

/// Commission on `gross` at `bps` basis points, rounded down (the shop keeps the remainder).
pub fn commission_of(gross: i64, bps: u32) -> i64 {
    ((gross as i128 * bps as i128) / 10_000) as i64
}

/// After release, a refund of `amount` is taken back from the shop and the platform in the
/// proportion the release split `released_gross` between them: `(from_shop, from_commission)`.
pub fn refund_split_after_release(amount: i64, released_gross: i64, commission: i64) -> (i64, i64) {
    if released_gross <= 0 {
        return (amount, 0);
    }
    let from_commission = ((amount as i128 * commission as i128) / released_gross as i128) as i64;
    (amount - from_commission, from_commission)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Reserved against the payment; the provider has been asked.
    Pending,
    Succeeded,
    /// The provider refused; the reservation was given back.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// `REFUND#<id>/REFUND`; GSI1 lists a payment's refunds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub id: String,
    pub payment_id: String,
    pub buyer_id: String,
    pub method: Method,
    /// `None`: a late payment's refund out of suspense.
    pub order_id: Option<String>,
    pub amount: i64,
    pub currency: Currency,
    pub reason: String,
    pub status: RefundStatus,
    /// The legs that moved the amount out of the shop's (or suspense) balance into refunds in
    /// flight when it was reserved; a refused refund moves it back by the opposite legs.
    pub reserved_legs: Vec<ledger::Leg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_refund_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const REFUND_ENTITY: &str = "refund";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    Won,
    Lost,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }
}

/// One order's part of a dispute: where its money was taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisputePart {
    pub order_id: String,
    pub shop_id: String,
    pub amount: i64,
}

/// Evidence a shop submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    pub text: String,
    pub file_ids: Vec<String>,
    pub submitted_at: String,
    pub submitted_by: String,
}

/// `DISPUTE#<provider>#<ref>/DISPUTE`; GSI1 lists a payment's disputes, GSI2 all (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisputeRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    pub entity_type: String,
    pub provider: Method,
    pub dispute_ref: String,
    pub payment_id: String,
    pub buyer_id: String,
    pub currency: Currency,
    pub amount: i64,
    pub parts: Vec<DisputePart>,
    pub status: DisputeStatus,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    pub opened_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

pub const DISPUTE_ENTITY: &str = "dispute";

/// `PAYOUT#<id>/PAYOUT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayoutRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub shop_id: String,
    pub amount: i64,
    pub currency: Currency,
    pub requested_by: String,
    pub status: String,
    pub created_at: String,
}

/// `WEBHOOK#<provider>#<event>/EVENT`: a provider event already applied (kept 30 days).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub provider: String,
    pub event_id: String,
    pub received_at: String,
    pub expires_at: i64,
}

/// How long an applied webhook's id is remembered.
pub const WEBHOOK_DEDUPE_SECS: i64 = 30 * 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_rounds_down_in_the_shops_favour() {
        assert_eq!(commission_of(100_000, 500), 5_000);
        assert_eq!(commission_of(999, 500), 49);
        assert_eq!(commission_of(0, 500), 0);
    }

    #[test]
    fn a_refund_after_release_is_shared_as_the_release_was() {
        assert_eq!(refund_split_after_release(1_000, 10_000, 500), (950, 50));
        assert_eq!(
            refund_split_after_release(10_000, 10_000, 500),
            (9_500, 500)
        );
        assert_eq!(refund_split_after_release(7, 0, 0), (7, 0));
    }

    #[test]
    fn methods_round_trip_through_their_names() {
        for m in [Method::Cod].into_iter().chain(Method::ONLINE) {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
        assert_eq!(Method::parse("card"), None);
    }
}
