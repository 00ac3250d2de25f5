//! Pure domain rules (no I/O): money in integer minor units, discounts and the one function
//! that computes an effective price, and stock arithmetic. Checkout pricing (vouchers, shipping,
//! tax) is in [`checkout`], the order state machine in [`order_state`].

pub mod checkout;
pub mod order_state;
pub mod shipping;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// ISO 4217 currencies the marketplace accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Currency {
    VND,
    USD,
    EUR,
    SGD,
    THB,
    IDR,
    MYR,
    PHP,
}

impl Currency {
    /// Digits after the decimal point (VND and IDR have none).
    pub fn minor_digits(self) -> u32 {
        match self {
            Self::VND | Self::IDR => 0,
            _ => 2,
        }
    }
}

/// An amount of money in minor units (cents; whole đồng for VND). Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[schema(example = 129900)]
    pub amount: i64,
    pub currency: Currency,
}

/// `450000 VND`, `12.50 USD`: the amount in major units, as people read it.
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.currency.minor_digits();
        let unit = 10_i64.pow(digits);
        let sign = if self.amount < 0 { "-" } else { "" };
        let (major, minor) = (self.amount.abs() / unit, self.amount.abs() % unit);
        if digits == 0 {
            write!(f, "{sign}{major} {:?}", self.currency)
        } else {
            write!(
                f,
                "{sign}{major}.{minor:0w$} {:?}",
                self.currency,
                w = digits as usize
            )
        }
    }
}

/// Largest price accepted (10^12 minor units): keeps every sum of a cart far from overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

// The OpenAPI shape of a `Money` a client sends as a price or an amount to move: what
// `Money::check_price` accepts. Documentation only: the request fields are `Money` with
// `#[schema(value_type = Price)]`, as answers may carry zero or negative amounts.
/// An amount a client sends (a price, a payout, a bank transfer): strictly positive.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Minor units (cents; whole đồng for VND), 1 to 10^12.
    #[schema(example = 129900, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// A price: strictly positive and bounded.
    pub fn check_price(&self, field: &str) -> Result<(), FieldError> {
        if self.amount <= 0 {
            return Err(FieldError::new(
                format!("{field}.amount"),
                "must be a positive integer of minor units",
            ));
        }
        if self.amount > MAX_AMOUNT {
            return Err(FieldError::new(format!("{field}.amount"), "is too large"));
        }
        Ok(())
    }
}

/// A discount on a price, active in `[starts_at, ends_at)` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discount {
    pub kind: DiscountKind,
    /// Percentage in basis points (1–10000) for `percentage`; minor units (1 to 10^12) for
    /// `fixed`.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub value: i64,
    /// Unix seconds, inclusive.
    pub starts_at: i64,
    /// Unix seconds, exclusive; after `starts_at`.
    pub ends_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    Percentage,
    Fixed,
}

impl Discount {
    pub fn check(&self, field: &str) -> Result<(), FieldError> {
        let ok = match self.kind {
            DiscountKind::Percentage => (1..=10_000).contains(&self.value),
            DiscountKind::Fixed => (1..=MAX_AMOUNT).contains(&self.value),
        };
        if !ok {
            return Err(FieldError::new(
                format!("{field}.value"),
                "must be 1–10000 basis points for a percentage, or a positive amount for a fixed discount",
            ));
        }
        if self.ends_at <= self.starts_at {
            return Err(FieldError::new(
                format!("{field}.ends_at"),
                "must be after starts_at",
            ));
        }
        Ok(())
    }

    pub fn is_active(&self, now: i64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// The price a buyer pays at `now`: the list price less an active discount, rounded down to
/// the minor unit for percentages, never below zero. The one place prices are computed.
pub fn effective_price(list: Money, discount: Option<&Discount>, now: i64) -> Money {
    let off = match discount.filter(|d| d.is_active(now)) {
        None => 0,
        Some(d) => match d.kind {
            DiscountKind::Percentage => {
                (i128::from(list.amount) * i128::from(d.value) / 10_000) as i64
            }
            DiscountKind::Fixed => d.value,
        },
    };
    Money::new((list.amount - off).max(0), list.currency)
}

/// Units that can still be sold.
pub fn available(stock: i64, reserved: i64) -> i64 {
    (stock - reserved).max(0)
}

/// Whether moving from `before` to `after` available units crosses the low-stock threshold
/// downwards (so `StockLow` is emitted once per crossing).
pub fn crosses_low_threshold(before: i64, after: i64, threshold: i64) -> bool {
    before > threshold && after <= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vnd(a: i64) -> Money {
        Money::new(a, Currency::VND)
    }

    #[test]
    fn money_reads_in_major_units() {
        assert_eq!(vnd(450_000).to_string(), "450000 VND");
        assert_eq!(Money::new(1_250, Currency::USD).to_string(), "12.50 USD");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "-0.05 USD");
    }

    #[test]
    fn a_percentage_discount_applies_only_inside_its_window_and_rounds_down() {
        let d = Discount {
            kind: DiscountKind::Percentage,
            value: 1_250,
            starts_at: 100,
            ends_at: 200,
        };
        assert_eq!(effective_price(vnd(999), Some(&d), 150), vnd(875)); // 999 - 124.875
        assert_eq!(effective_price(vnd(999), Some(&d), 99), vnd(999));
        assert_eq!(effective_price(vnd(999), Some(&d), 200), vnd(999));
    }

    #[test]
    fn a_fixed_discount_never_makes_a_price_negative() {
        let d = Discount {
            kind: DiscountKind::Fixed,
            value: 5_000,
            starts_at: 0,
            ends_at: 10,
        };
        assert_eq!(effective_price(vnd(3_000), Some(&d), 5), vnd(0));
        assert_eq!(effective_price(vnd(8_000), Some(&d), 5), vnd(3_000));
    }

    #[test]
    fn prices_and_discounts_are_validated() {
        assert!(vnd(0).check_price("price").is_err());
        assert!(vnd(-5).check_price("price").is_err());
        assert!(vnd(MAX_AMOUNT + 1).check_price("price").is_err());
        assert!(vnd(1).check_price("price").is_ok());
        let bad = Discount {
            kind: DiscountKind::Percentage,
            value: 10_001,
            starts_at: 0,
            ends_at: 1,
        };
        assert_eq!(bad.check("discount").unwrap_err().field, "discount.value");
        let backwards = Discount {
            kind: DiscountKind::Fixed,
            value: 1,
            starts_at: 5,
            ends_at: 5,
        };
        assert_eq!(
            backwards.check("discount").unwrap_err().field,
            "discount.ends_at"
        );
    }

    #[test]
    fn low_stock_is_crossed_once() {
        assert!(crosses_low_threshold(6, 5, 5));
        assert!(!crosses_low_threshold(5, 4, 5));
        assert!(!crosses_low_threshold(9, 6, 5));
        assert_eq!(available(3, 5), 0);
    }
}
