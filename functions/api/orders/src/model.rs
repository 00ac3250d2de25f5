//! Request and response bodies of the order routes, with their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::domain::Money;
use shared::domain::order_state::OrderStatus;
use shared::domain::shipping::Method;
use shared::error::FieldError;
use shared::orders::{
    OrderLine, OrderRecord, PaymentMethod, Shipment, ShippingAddress, TimelineEntry,
};
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

fn id_field(field: &str, value: &mut String, e: &mut Errors) {
    e.check(validate::id(field, value));
}

/// What the buyer chooses at checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// `cod` orders are confirmed at once; `online` orders wait 15 minutes for their payment.
    pub payment_method: PaymentMethod,
    /// An address of the caller's address book.
    #[schema(example = "01JD3ADDRESS0000000000000", pattern = "^[A-Za-z0-9]{1,64}$")]
    pub address_id: String,
    /// How the parcels travel (default `standard`); `pickup` collects them at the shops for
    /// free. Same-day reaches 30 km from a shop.
    #[serde(default)]
    pub shipping_method: Method,
    /// A note to the shops (delivery instructions).
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub note: Option<String>,
}

impl Validate for CheckoutRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        id_field("address_id", &mut self.address_id, &mut e);
        e.check(validate::optional_text("note", &mut self.note, 500));
        e.finish()
    }
}

/// A reason, required when cancelling or rejecting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(
        example = "Ordered the wrong size",
        min_length = 3,
        max_length = 500,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub reason: String,
}

impl Validate for ReasonRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::text("reason", &mut self.reason, 3, 500).map_err(|e| vec![e])
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    #[schema(
        example = "GHN",
        min_length = 2,
        max_length = 60,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub carrier: String,
    #[schema(
        example = "GHN123456789VN",
        min_length = 4,
        max_length = 64,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub tracking_number: String,
}

impl Validate for ShipRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("carrier", &mut self.carrier, 2, 60));
        e.check(validate::text(
            "tracking_number",
            &mut self.tracking_number,
            4,
            64,
        ));
        e.finish()
    }
}

/// Most photos one return request carries.
pub const MAX_RETURN_PHOTOS: usize = 5;

/// The documented shape of `ReturnRequestBody::photo_ids` (utoipa has no attribute for the
/// pattern of a list's items): what `validate` checks.
fn photo_ids_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some(
            "Ids of photos uploaded through `POST /orders/{id}/return-photos` (at most 5, each once).",
        ))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9]{1,64}$")),
        )
        .max_items(Some(MAX_RETURN_PHOTOS))
        .unique_items(true)
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequestBody {
    #[schema(
        example = "The seam is torn",
        min_length = 3,
        max_length = 1000,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub reason: String,
    /// Ids of photos uploaded through `POST /orders/{id}/return-photos` (at most 5, each once).
    #[serde(default)]
    #[schema(schema_with = photo_ids_schema)]
    pub photo_ids: Vec<String>,
}

impl Validate for ReturnRequestBody {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("reason", &mut self.reason, 3, 1000));
        if self.photo_ids.len() > MAX_RETURN_PHOTOS {
            e.push("photo_ids", "at most 5 photos");
        }
        for (i, id) in self.photo_ids.iter_mut().enumerate() {
            id_field(&format!("photo_ids[{i}]"), id, &mut e);
        }
        let mut seen = std::collections::BTreeSet::new();
        if !self.photo_ids.iter().all(|p| seen.insert(p.clone())) {
            e.push("photo_ids", "must not repeat a photo");
        }
        e.finish()
    }
}

pub use shared::uploads::PhotoUpload;

/// A return request as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReturnView {
    pub reason: String,
    pub requested_at: String,
    /// Short-lived download links of the photos.
    pub photo_urls: Vec<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    /// The shop accepted the return with the units damaged (not restocked).
    pub damaged: bool,
}

/// One shop's order, as buyers, sellers and admins see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    /// Orders placed together (one per shop) share it.
    pub checkout_id: String,
    pub status: OrderStatus,
    pub payment_method: PaymentMethod,
    pub buyer_id: String,
    pub shop_id: String,
    pub shop_name: String,
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    pub shop_discount: Money,
    pub platform_discount: Money,
    pub shipping_fee: Money,
    /// VAT contained in `total` (prices include tax).
    pub tax_included: Money,
    /// `subtotal - shop_discount - platform_discount + shipping_fee`.
    pub total: Money,
    pub shop_voucher: Option<String>,
    pub platform_voucher: Option<String>,
    pub shipping_address: ShippingAddress,
    pub shipping_method: Method,
    /// How the shipping fee was reached (zone, distance, weights, days); absent on orders
    /// placed before fees were priced by distance.
    pub shipping: Option<shared::domain::shipping::Quote>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When an unpaid online order is cancelled (RFC 3339).
    pub payment_due_at: Option<String>,
    pub shipment: Option<Shipment>,
    pub delivered_at: Option<String>,
    /// Until when a return may be requested (RFC 3339), once delivered.
    pub return_deadline: Option<String>,
    pub cancel_reason: Option<String>,
    pub return_request: Option<ReturnView>,
    pub timeline: Vec<TimelineEntry>,
}

impl Order {
    /// The view of a record; `photo_urls` are the presigned links of its return photos.
    pub fn from_record(o: &OrderRecord, photo_urls: Vec<String>) -> Self {
        Self {
            id: o.id.clone(),
            checkout_id: o.checkout_id.clone(),
            status: o.status,
            payment_method: o.payment_method,
            buyer_id: o.buyer_id.clone(),
            shop_id: o.shop_id.clone(),
            shop_name: o.shop_name.clone(),
            lines: o.lines.clone(),
            subtotal: o.money(o.subtotal),
            shop_discount: o.money(o.shop_discount),
            platform_discount: o.money(o.platform_discount),
            shipping_fee: o.money(o.shipping_fee),
            tax_included: o.money(o.tax_included),
            total: o.money(o.total),
            shop_voucher: o.shop_voucher.clone(),
            platform_voucher: o.platform_voucher.clone(),
            shipping_address: o.shipping_address.clone(),
            shipping_method: o.shipping_method,
            shipping: o.shipping_quote.clone(),
            note: o.note.clone(),
            created_at: o.created_at.clone(),
            updated_at: o.updated_at.clone(),
            payment_due_at: o
                .payment_due_at
                .filter(|_| o.status == OrderStatus::PendingPayment)
                .and_then(shared::format_epoch),
            shipment: o.shipment.clone(),
            delivered_at: o.delivered_at.and_then(shared::format_epoch),
            return_deadline: o
                .delivered_at
                .and_then(|d| shared::format_epoch(d + shared::orders::RETURN_WINDOW_SECS)),
            cancel_reason: o.cancel_reason.clone(),
            return_request: o.return_request.as_ref().map(|r| ReturnView {
                reason: r.reason.clone(),
                requested_at: r.requested_at.clone(),
                photo_urls,
                decided_at: r.decided_at.clone(),
                decision_note: r.decision_note.clone(),
                damaged: r.damaged,
            }),
            timeline: o.timeline.clone(),
        }
    }
}

/// The result of placing an order: one order per shop, and what the checkout costs in all.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutResult {
    pub checkout_id: String,
    pub orders: Vec<Order>,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping_fee: Money,
    pub tax_included: Money,
    pub total: Money,
    /// When unpaid online orders expire (RFC 3339); absent for cash on delivery.
    pub payment_due_at: Option<String>,
}

/// A buyer's purchase summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseSummary {
    pub orders_placed: i64,
    /// Orders in each status now (statuses with none are left out).
    pub by_status: BTreeMap<String, i64>,
    /// What the buyer spent per currency: placed orders less cancelled, failed and refunded.
    pub spend: Vec<Money>,
}

/// What repeating an order did to the cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReorderResult {
    /// Lines put back in the cart (`product_id`, `sku`, `quantity`).
    pub added: Vec<ReorderLine>,
    /// Lines left out, with why.
    pub skipped: Vec<ReorderSkip>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReorderLine {
    pub product_id: String,
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReorderSkip {
    pub product_id: String,
    pub sku: String,
    pub reason: String,
}
