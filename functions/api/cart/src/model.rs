//! Request and response bodies of the cart routes, with their validation. Every view of the
//! cart is priced against the live catalogue by `shared::checkout::quote` — the same quote
//! that order placement uses.

use serde::{Deserialize, Serialize};
use shared::checkout::{Quote, QuoteLine};
use shared::domain::checkout::MAX_LINE_QUANTITY;
use shared::domain::{Currency, Money};
use shared::error::FieldError;
pub use shared::products::normalise_sku;
use shared::validate::{self, Errors, Validate};
use shared::vouchers::normalise_code;
use utoipa::ToSchema;

fn check_quantity(e: &mut Errors, quantity: i64) {
    if !(1..=MAX_LINE_QUANTITY).contains(&quantity) {
        e.push("quantity", "must be 1 to 999 units");
    }
}

fn check_id(e: &mut Errors, field: &str, id: &mut String) {
    e.check(validate::id(field, id));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    #[schema(
        example = "01JD7Q2W8Y3C5V6B7N8M9K0J1H",
        pattern = "^[A-Za-z0-9]{1,64}$"
    )]
    pub product_id: String,
    #[schema(example = "AODAI-RED-M", pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub sku: String,
    /// Units to add, 1 to 999 (added to the line if the variant is already in the cart).
    #[schema(example = 1, minimum = 1, maximum = 999)]
    pub quantity: i64,
}

impl Validate for AddItemRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_id(&mut e, "product_id", &mut self.product_id);
        match normalise_sku(&self.sku) {
            Some(sku) => self.sku = sku,
            None => e.push("sku", "must be 1-64 letters, digits, '-' or '_'"),
        }
        check_quantity(&mut e, self.quantity);
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    /// The line's new quantity, 1 to 999 (remove the line to drop it).
    #[schema(example = 2, minimum = 1, maximum = 999)]
    pub quantity: i64,
}

impl Validate for SetQuantityRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_quantity(&mut e, self.quantity);
        e.finish()
    }
}

/// Body of `calculate-total`: `{}` prices the cart as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalculateTotalRequest {
    /// Reserved for distance-based shipping quotes; shipping is currently priced by weight
    /// alone, so it does not change the result yet.
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub address_id: Option<String>,
}

impl Validate for CalculateTotalRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if let Some(id) = &mut self.address_id {
            check_id(&mut e, "address_id", id);
        }
        e.finish()
    }
}

/// A voucher code to apply: a shop's (with `shop_id`) or the platform's (without).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyVoucherRequest {
    /// 3–32 letters, digits, `-` or `_` (upper-cased).
    #[schema(example = "TET10", pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub code: String,
    /// The shop whose voucher this is; omit for a platform voucher.
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub shop_id: Option<String>,
}

impl Validate for ApplyVoucherRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        match normalise_code(&self.code) {
            Some(code) => self.code = code,
            None => e.push("code", "must be 3-32 letters, digits, '-' or '_'"),
        }
        if let Some(shop) = &mut self.shop_id {
            check_id(&mut e, "shop_id", shop);
        }
        e.finish()
    }
}

/// The buyer's cart priced now: the [`Quote`] (lines grouped by shop with live prices,
/// `price_changed` and `problem` flags, the applied vouchers with whether they apply and why
/// not, the fee breakdown) and the lines saved for later, priced the same way.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartView {
    #[serde(flatten)]
    pub quote: Quote,
    /// Lines saved for later, oldest first, with live price and availability. They are not
    /// part of the totals.
    pub saved: Vec<QuoteLine>,
    /// Lines in the cart (at most 100).
    pub line_count: usize,
}

/// The cart badge: counts and the total, priced now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartSummary {
    /// Lines in the cart.
    pub line_count: usize,
    /// Units in lines that can be bought.
    pub item_count: i64,
    pub total: Money,
    /// The cart's currency (`null` while it is empty).
    pub currency: Option<Currency>,
    /// Whether an order can be placed from the cart as it is.
    pub ready: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<(), Vec<FieldError>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn an_added_item_is_normalised_and_bounded() {
        let mut ok = AddItemRequest {
            product_id: " P1 ".into(),
            sku: " red-m ".into(),
            quantity: 999,
        };
        assert!(ok.validate().is_ok());
        assert_eq!((ok.product_id.as_str(), ok.sku.as_str()), ("P1", "RED-M"));
        for q in [0, -1, 1_000] {
            let mut bad = AddItemRequest {
                product_id: "P1".into(),
                sku: "A".into(),
                quantity: q,
            };
            assert_eq!(fields(bad.validate()), ["quantity"], "{q}");
        }
        let mut bad = AddItemRequest {
            product_id: "P#1".into(),
            sku: "no spaces".into(),
            quantity: 1,
        };
        assert_eq!(fields(bad.validate()), ["product_id", "sku"]);
    }

    #[test]
    fn voucher_codes_are_upper_cased() {
        let mut r = ApplyVoucherRequest {
            code: " tet10 ".into(),
            shop_id: None,
        };
        assert!(r.validate().is_ok());
        assert_eq!(r.code, "TET10");
        let mut bad = ApplyVoucherRequest {
            code: "x".into(),
            shop_id: Some(" ".into()),
        };
        assert_eq!(fields(bad.validate()), ["code", "shop_id"]);
    }
}
