//! Request and response bodies of the payment routes, with their validation.

use serde::{Deserialize, Serialize};
use shared::domain::{Currency, Money};
use shared::error::FieldError;
use shared::payments::ledger::{EntryRecord, Leg, TransferKind, TransferRecord};
use shared::payments::{
    DisputePart, DisputeRecord, DisputeStatus, EscrowRecord, EscrowStatus, Evidence, Method,
    PaymentRecord, PaymentStatus, RefundRecord, RefundStatus,
};
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

pub fn id_field(field: &str, value: &mut String, e: &mut Errors) {
    e.check(validate::id(field, value));
}

// Documentation only: the `value_type` of `CreatePaymentRequest::method`.
/// The methods `POST /payments` takes: all but cash on delivery, which is chosen at checkout and
/// paid at delivery.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnlineMethod {
    Stripe,
    Paypal,
    Vnpay,
    Momo,
    BankTransfer,
}

// Documentation only: the `value_type` of `SaveMethodRequest::provider`.
/// The providers whose tokens can be saved.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenProvider {
    Stripe,
    Paypal,
}

/// Pay a pending checkout.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentRequest {
    /// The `checkout_id` of `POST orders` (online payment method).
    #[schema(example = "01JD3CHECKOUT000000000000", pattern = "^[A-Za-z0-9]{1,64}$")]
    pub checkout_id: String,
    /// `stripe`, `paypal` (not for VND), `vnpay` / `momo` (VND only) or `bank_transfer`.
    #[schema(value_type = OnlineMethod)]
    pub method: Method,
    /// Where the provider sends the buyer's browser afterwards (default: the web app's order page).
    #[schema(
        max_length = 500,
        pattern = "^https?://",
        example = "https://shop.example.com/checkout/done"
    )]
    pub return_url: Option<String>,
}

impl Validate for CreatePaymentRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        id_field("checkout_id", &mut self.checkout_id, &mut e);
        if self.method == Method::Cod {
            e.push(
                "method",
                "cash on delivery is chosen at checkout and paid at delivery",
            );
        }
        if let Some(url) = &self.return_url
            && (url.chars().count() > 500
                || !(url.starts_with("https://") || url.starts_with("http://")))
        {
            e.push(
                "return_url",
                "must be an http(s) URL of at most 500 characters",
            );
        }
        e.finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaidOrderView {
    pub order_id: String,
    pub shop_id: String,
    pub amount: Money,
}

/// Where to pay a bank transfer and what to write as its reference.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BankTransferInstructions {
    /// Must appear in the transfer's description; an admin matches received transfers by it.
    pub reference: String,
    pub account: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub checkout_id: String,
    pub method: Method,
    pub status: PaymentStatus,
    pub amount: Money,
    pub orders: Vec<PaidOrderView>,
    /// Open this in the buyer's browser (the provider's payment page).
    pub redirect_url: Option<String>,
    /// Stripe's PaymentIntent client secret for Stripe.js (only to the buyer).
    pub client_secret: Option<String>,
    pub bank_transfer: Option<BankTransferInstructions>,
    pub captured: Money,
    pub refunded: Money,
    pub refundable: Money,
    /// Captured after its orders expired: refunded automatically.
    pub late_amount: Money,
    pub failure_reason: Option<String>,
    pub created_at: String,
    /// After this the provider's page is no longer honoured (the orders expire).
    pub expires_at: Option<String>,
    pub succeeded_at: Option<String>,
}

impl PaymentView {
    pub fn from_record(p: &PaymentRecord, bank_account: &str) -> Self {
        let m = |a| Money::new(a, p.currency);
        Self {
            id: p.id.clone(),
            checkout_id: p.checkout_id.clone(),
            method: p.method,
            status: p.status,
            amount: m(p.amount),
            orders: p
                .orders
                .iter()
                .map(|o| PaidOrderView {
                    order_id: o.order_id.clone(),
                    shop_id: o.shop_id.clone(),
                    amount: m(o.amount),
                })
                .collect(),
            redirect_url: p.redirect_url.clone(),
            client_secret: p.client_secret.clone(),
            bank_transfer: (p.method == Method::BankTransfer).then(|| BankTransferInstructions {
                reference: p.provider_ref.clone().unwrap_or_default(),
                account: bank_account.to_owned(),
            }),
            captured: m(p.captured),
            refunded: m(p.refunded),
            refundable: m(p.refundable),
            late_amount: m(p.late_amount),
            failure_reason: p.failure_reason.clone(),
            created_at: p.created_at.clone(),
            expires_at: (p.expires_at > 0)
                .then(|| shared::format_epoch(p.expires_at))
                .flatten(),
            succeeded_at: p.succeeded_at.clone(),
        }
    }
}

/// A paid payment, as a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub payment_id: String,
    pub method: Method,
    pub paid_at: String,
    pub amount: Money,
    pub refunded: Money,
    pub orders: Vec<PaidOrderView>,
}

/// Save a provider's token for a payment method (a card tokenised by Stripe.js, a PayPal vault id).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveMethodRequest {
    /// `stripe` or `paypal`: the providers that tokenise.
    #[schema(value_type = TokenProvider)]
    pub provider: Method,
    /// The provider's token (`pm_…`), never a card number.
    #[schema(
        min_length = 3,
        max_length = 255,
        pattern = "^[A-Za-z0-9_-]+$",
        example = "pm_1PaymentMethodToken"
    )]
    pub token: String,
    #[schema(
        example = "Visa ending 4242",
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub label: String,
    /// Last four digits as the provider reports them (display only).
    #[schema(pattern = "^[0-9]{4}$", example = "4242")]
    pub last4: Option<String>,
}

impl Validate for SaveMethodRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if !matches!(self.provider, Method::Stripe | Method::Paypal) {
            e.push("provider", "only stripe and paypal tokens can be saved");
        }
        self.token = self.token.trim().to_owned();
        let digits = self.token.bytes().filter(u8::is_ascii_digit).count();
        if !(3..=255).contains(&self.token.len())
            || !self
                .token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            e.push(
                "token",
                "must be a provider token ([A-Za-z0-9_-], 3-255 characters)",
            );
        } else if digits >= 12 && digits * 10 >= self.token.len() * 8 {
            e.push(
                "token",
                "looks like a card number; send the provider's token instead",
            );
        }
        e.check(validate::text("label", &mut self.label, 1, 60));
        if let Some(l) = &self.last4
            && (l.len() != 4 || !l.bytes().all(|b| b.is_ascii_digit()))
        {
            e.push("last4", "must be 4 digits");
        }
        e.finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedMethodRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub provider: Method,
    pub token: String,
    pub label: String,
    pub last4: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedMethodView {
    pub id: String,
    pub provider: Method,
    pub label: String,
    pub last4: Option<String>,
    pub is_default: bool,
    pub created_at: String,
}

/// Admin: refund (part of) a payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestBody {
    /// Minor units, at most what is still refundable.
    #[schema(minimum = 1, maximum = 1000000000000_i64, example = 50000)]
    pub amount: i64,
    /// The order it is charged to; required when the payment covers several orders.
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub order_id: Option<String>,
    #[schema(
        example = "Damaged on arrival",
        min_length = 3,
        max_length = 500,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub reason: String,
}

impl Validate for RefundRequestBody {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if !(1..=shared::domain::MAX_AMOUNT).contains(&self.amount) {
            e.push("amount", "must be a positive amount of minor units");
        }
        if let Some(id) = &mut self.order_id {
            id_field("order_id", id, &mut e);
        }
        e.check(validate::text("reason", &mut self.reason, 3, 500));
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub payment_id: String,
    pub order_id: Option<String>,
    pub amount: Money,
    pub reason: String,
    pub status: RefundStatus,
    pub provider_refund_ref: Option<String>,
    pub failure: Option<String>,
    pub created_at: String,
}

impl From<&RefundRecord> for RefundView {
    fn from(r: &RefundRecord) -> Self {
        Self {
            id: r.id.clone(),
            payment_id: r.payment_id.clone(),
            order_id: r.order_id.clone(),
            amount: Money::new(r.amount, r.currency),
            reason: r.reason.clone(),
            status: r.status,
            provider_refund_ref: r.provider_refund_ref.clone(),
            failure: r.failure.clone(),
            created_at: r.created_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundStatusView {
    pub payment_id: String,
    pub refunded: Money,
    pub refundable: Money,
    pub pending: Money,
    pub refunds: Vec<RefundView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeView {
    pub provider: Method,
    pub dispute_ref: String,
    pub payment_id: String,
    pub amount: Money,
    pub parts: Vec<DisputePart>,
    pub status: DisputeStatus,
    pub evidence: Vec<Evidence>,
    pub opened_at: String,
    pub closed_at: Option<String>,
}

impl From<&DisputeRecord> for DisputeView {
    fn from(d: &DisputeRecord) -> Self {
        Self {
            provider: d.provider,
            dispute_ref: d.dispute_ref.clone(),
            payment_id: d.payment_id.clone(),
            amount: Money::new(d.amount, d.currency),
            parts: d.parts.clone(),
            status: d.status,
            evidence: d.evidence.clone(),
            opened_at: d.opened_at.clone(),
            closed_at: d.closed_at.clone(),
        }
    }
}

/// A file to attach to dispute evidence (uploaded with the presigned PUT in the answer).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFile {
    /// `image/jpeg`, `image/png`, `image/webp` or `application/pdf`.
    #[schema(
        example = "application/pdf",
        pattern = "^(?:image/jpeg|image/png|image/webp|application/pdf)$"
    )]
    pub content_type: String,
    #[schema(minimum = 1, maximum = 10485760)]
    pub size_bytes: u64,
}

/// The shop's evidence for an open dispute of the payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    #[schema(
        min_length = 10,
        max_length = 5000,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub text: String,
    /// Up to 5 files.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub files: Vec<EvidenceFile>,
}

pub const EVIDENCE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "application/pdf"];

impl Validate for EvidenceRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("text", &mut self.text, 10, 5000));
        if self.files.len() > 5 {
            e.push("files", "at most 5 files");
        }
        for (i, f) in self.files.iter().enumerate() {
            if !EVIDENCE_TYPES.contains(&f.content_type.as_str()) {
                e.push(
                    &format!("files[{i}].content_type"),
                    "must be image/jpeg, image/png, image/webp or application/pdf",
                );
            }
            if !(1..=10 * 1024 * 1024).contains(&f.size_bytes) {
                e.push(
                    &format!("files[{i}].size_bytes"),
                    "must be 1 byte to 10 MiB",
                );
            }
        }
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceUpload {
    pub file_id: String,
    /// PUT the file here within 15 minutes with its Content-Type.
    pub upload_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceAccepted {
    pub dispute: DisputeView,
    pub uploads: Vec<EvidenceUpload>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EscrowView {
    pub order_id: String,
    pub shop_id: String,
    pub payment_id: String,
    pub method: Method,
    pub status: EscrowStatus,
    pub amount: Money,
    /// What the order still holds for the shop (not counting a dispute's hold).
    pub balance: Money,
    pub refunded: Money,
    pub on_hold: Money,
    pub refund_pending: Money,
    pub commission: Money,
    pub released_at: Option<String>,
}

impl From<&EscrowRecord> for EscrowView {
    fn from(e: &EscrowRecord) -> Self {
        let m = |a| Money::new(a, e.currency);
        Self {
            order_id: e.order_id.clone(),
            shop_id: e.shop_id.clone(),
            payment_id: e.payment_id.clone(),
            method: e.method,
            status: e.status,
            amount: m(e.amount),
            balance: m(e.balance),
            refunded: m(e.refunded),
            on_hold: m(e.on_hold),
            refund_pending: m(e.refund_pending),
            commission: m(e.commission),
            released_at: e.released_at.clone(),
        }
    }
}

/// A shop's balances in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    pub currency: Currency,
    /// Paid for orders not yet completed (in escrow).
    pub pending: i64,
    /// Released to the shop, payable.
    pub available: i64,
    /// Held by open disputes.
    pub on_hold: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopBalance {
    pub shop_id: String,
    pub balances: Vec<Balance>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub transfer_id: String,
    pub kind: TransferKind,
    /// > 0 credits the account, < 0 debits it.
    pub amount: Money,
    pub reference: String,
    pub at: String,
}

impl From<EntryRecord> for LedgerEntryView {
    fn from(e: EntryRecord) -> Self {
        Self {
            transfer_id: e.transfer_id,
            kind: e.kind,
            amount: Money::new(e.amount, e.currency),
            reference: e.reference,
            at: e.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub kind: TransferKind,
    pub currency: Currency,
    pub reference: String,
    pub legs: Vec<Leg>,
    pub at: String,
}

impl From<TransferRecord> for TransferView {
    fn from(t: TransferRecord) -> Self {
        Self {
            id: t.id,
            kind: t.kind,
            currency: t.currency,
            reference: t.reference,
            legs: t.legs,
            at: t.at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequestBody {
    /// At most the shop's available balance in that currency.
    #[schema(value_type = shared::domain::Price)]
    pub amount: Money,
}

impl Validate for PayoutRequestBody {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.amount.check_price("amount").map_err(|e| vec![e])
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutView {
    pub id: String,
    pub shop_id: String,
    pub amount: Money,
    pub status: String,
    pub created_at: String,
}

/// Admin: a bank transfer arrived with this reference.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankTransferReceived {
    #[schema(
        min_length = 4,
        max_length = 32,
        pattern = "^[A-Za-z0-9]+$",
        example = "CK7Q2M9X4KDA"
    )]
    pub reference: String,
    /// What arrived; must equal the payment's amount.
    #[schema(value_type = shared::domain::Price)]
    pub amount: Money,
}

impl Validate for BankTransferReceived {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        self.reference = self.reference.trim().to_ascii_uppercase();
        if !(4..=32).contains(&self.reference.len())
            || !self.reference.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            e.push(
                "reference",
                "must be the transfer reference (4-32 letters and digits)",
            );
        }
        e.check(self.amount.check_price("amount"));
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLink {
    pub order_id: String,
    pub number: String,
    /// A presigned GET of the PDF, valid 15 minutes.
    pub url: String,
    pub issued_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(token: &str) -> SaveMethodRequest {
        SaveMethodRequest {
            provider: Method::Stripe,
            token: token.into(),
            label: "Visa".into(),
            last4: None,
        }
    }

    #[test]
    fn a_card_number_is_never_accepted_as_a_token() {
        assert!(save("4242424242424242").validate().is_err());
        assert!(save("4242-4242-4242-4242").validate().is_err());
        assert!(save("pm_1PaymentMethodToken").validate().is_ok());
    }

    #[test]
    fn cash_on_delivery_is_not_paid_through_this_route() {
        let mut r = CreatePaymentRequest {
            checkout_id: "01ABC".into(),
            method: Method::Cod,
            return_url: None,
        };
        let errors = r.validate().unwrap_err();
        assert_eq!(errors[0].field, "method");
    }
}
