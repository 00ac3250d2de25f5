//! Checkout arithmetic, pure: voucher terms and the discount they give, the split of a
//! platform discount over shop orders, the weight-based shipping fee, the tax included in
//! prices, and the fee breakdown of a whole checkout. Every amount is an integer of minor units
//! of one currency; the parts always add up to the totals exactly.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Currency, DiscountKind, MAX_AMOUNT};
use crate::error::FieldError;

/// Most units of one variant in one cart line.
pub const MAX_LINE_QUANTITY: i64 = 999;

/// What a voucher gives and when (the stored voucher adds its code, scope and counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
// Also `#[serde(flatten)]`ed into the stored voucher: serde hands a flattened struct only the
// keys it names, so refusing unknown ones here is safe there (tested in `shared::vouchers`).
#[serde(deny_unknown_fields)]
pub struct VoucherTerms {
    pub kind: DiscountKind,
    /// Basis points (1–10000) for `percentage`; minor units (1 to 10^12) for `fixed`.
    #[schema(example = 1000, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub value: i64,
    pub currency: Currency,
    /// Smallest spend (minor units, before shipping) the voucher applies to.
    #[serde(default)]
    #[schema(example = 100000, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub min_spend: i64,
    /// Largest discount a percentage voucher gives (minor units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub max_discount: Option<i64>,
    /// Valid from (Unix seconds, inclusive).
    pub starts_at: i64,
    /// Valid until (Unix seconds, exclusive); after `starts_at` (and, for a new voucher, in the
    /// future).
    pub ends_at: i64,
}

/// Why a voucher gives nothing to a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoucherRejection {
    NotStarted,
    Expired,
    OtherCurrency,
    BelowMinimumSpend { min_spend: i64 },
}

impl VoucherRejection {
    pub fn message(&self) -> String {
        match self {
            Self::NotStarted => "the voucher is not valid yet".into(),
            Self::Expired => "the voucher has expired".into(),
            Self::OtherCurrency => "the voucher is for another currency".into(),
            Self::BelowMinimumSpend { min_spend } => {
                format!("the voucher needs a spend of at least {min_spend} (minor units)")
            }
        }
    }
}

impl VoucherTerms {
    /// Checks terms a seller or admin submits; `field` prefixes the field names.
    pub fn check(&self, field: &str) -> Vec<FieldError> {
        let name = |f: &str| {
            if field.is_empty() {
                f.to_owned()
            } else {
                format!("{field}.{f}")
            }
        };
        let mut errors = Vec::new();
        let value_ok = match self.kind {
            DiscountKind::Percentage => (1..=10_000).contains(&self.value),
            DiscountKind::Fixed => (1..=MAX_AMOUNT).contains(&self.value),
        };
        if !value_ok {
            errors.push(FieldError::new(
                name("value"),
                "must be 1–10000 basis points for a percentage, or a positive amount for a fixed voucher",
            ));
        }
        if !(0..=MAX_AMOUNT).contains(&self.min_spend) {
            errors.push(FieldError::new(
                name("min_spend"),
                "must be 0 or a positive amount",
            ));
        }
        if let Some(max) = self.max_discount
            && !(1..=MAX_AMOUNT).contains(&max)
        {
            errors.push(FieldError::new(
                name("max_discount"),
                "must be a positive amount",
            ));
        }
        if self.ends_at <= self.starts_at {
            errors.push(FieldError::new(name("ends_at"), "must be after starts_at"));
        }
        errors
    }

    pub fn is_active(&self, now: i64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// The discount on `spend` (minor units of `currency`) at `now`: rounded down for
    /// percentages, capped by `max_discount`, never more than the spend.
    pub fn discount(
        &self,
        spend: i64,
        currency: Currency,
        now: i64,
    ) -> Result<i64, VoucherRejection> {
        if now < self.starts_at {
            return Err(VoucherRejection::NotStarted);
        }
        if now >= self.ends_at {
            return Err(VoucherRejection::Expired);
        }
        if currency != self.currency {
            return Err(VoucherRejection::OtherCurrency);
        }
        if spend < self.min_spend || spend <= 0 {
            return Err(VoucherRejection::BelowMinimumSpend {
                min_spend: self.min_spend.max(1),
            });
        }
        let raw = match self.kind {
            DiscountKind::Percentage => {
                (i128::from(spend) * i128::from(self.value) / 10_000) as i64
            }
            DiscountKind::Fixed => self.value,
        };
        Ok(self.max_discount.map_or(raw, |m| raw.min(m)).min(spend))
    }
}

/// Splits `total` over parts in proportion to `weights` (largest remainder): the shares add
/// up to `total` exactly, and no share exceeds its weight while `total <= sum(weights)`.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if weights.is_empty() || sum <= 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let num = i128::from(total) * i128::from(*w);
            ((num / sum) as i64, num % sum)
        })
        .collect();
    let mut shares: Vec<i64> = exact.iter().map(|(q, _)| *q).collect();
    let mut left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Biggest remainders first; ties go to the earlier part, so the split is deterministic.
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// Shipping rate of a currency: `base` covers the first [`INCLUDED_GRAMS`], then `per_step`
/// per started [`STEP_GRAMS`].
pub(crate) struct ShippingRate {
    pub base: i64,
    pub per_step: i64,
}

pub const INCLUDED_GRAMS: u64 = 1_000;
pub const STEP_GRAMS: u64 = 500;

pub(crate) fn shipping_rate(currency: Currency) -> ShippingRate {
    let (base, per_step) = match currency {
        Currency::VND => (15_000, 5_000),
        Currency::IDR => (10_000, 4_000),
        Currency::USD | Currency::EUR | Currency::SGD => (300, 100),
        Currency::THB => (3_000, 1_000),
        Currency::MYR => (500, 150),
        Currency::PHP => (5_000, 1_500),
    };
    ShippingRate { base, per_step }
}

/// VAT rate (basis points) of the market a currency belongs to. Listed prices include it.
pub fn vat_bps(currency: Currency) -> i64 {
    match currency {
        Currency::VND | Currency::MYR => 1_000,
        Currency::IDR => 1_100,
        Currency::THB => 700,
        Currency::SGD => 900,
        Currency::PHP => 1_200,
        Currency::EUR => 2_000,
        Currency::USD => 0,
    }
}

/// The VAT contained in a tax-inclusive `amount` (rounded down).
pub fn tax_included(amount: i64, currency: Currency) -> i64 {
    let bps = i128::from(vat_bps(currency));
    (i128::from(amount) * bps / (10_000 + bps)) as i64
}

/// One priced line of a shop's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedLine {
    /// What one unit costs now (list price less an active product discount).
    pub unit_price: i64,
    pub quantity: i64,
    pub weight_grams: u32,
}

/// The lines of one shop and the shop voucher applied to them.
#[derive(Debug, Clone)]
pub struct ShopGroup<'a> {
    pub lines: &'a [PricedLine],
    pub voucher: Option<&'a VoucherTerms>,
    pub shipping: super::shipping::Terms,
}

/// The fee breakdown of one shop's order.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopTotals {
    pub subtotal: i64,
    pub shop_discount: i64,
    pub shop_voucher_rejection: Option<VoucherRejection>,
    pub platform_discount: i64,
    pub weight_grams: u64,
    pub shipping_fee: i64,
    /// How the shipping fee was reached, or why the parcel cannot go this way (then the fee
    /// is 0 and the order cannot be placed).
    pub shipping: Result<super::shipping::Quote, super::shipping::PricingError>,
    /// VAT contained in `total` (prices include tax).
    pub tax_included: i64,
    /// `subtotal - shop_discount - platform_discount + shipping_fee`.
    pub total: i64,
}

/// The fee breakdown of a checkout: per shop, and summed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutTotals {
    pub shops: Vec<ShopTotals>,
    pub platform_voucher_rejection: Option<VoucherRejection>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_fee: i64,
    pub tax_included: i64,
    pub total: i64,
}

/// Prices a checkout: each shop's subtotal and shop-voucher discount, then the platform
/// voucher on what is left (split over the shops in proportion), the shipping fee per parcel
/// and the tax included. A voucher that does not apply gives nothing and says why.
pub fn price_checkout(
    currency: Currency,
    groups: &[ShopGroup<'_>],
    platform_voucher: Option<&VoucherTerms>,
    now: i64,
) -> CheckoutTotals {
    let mut shops: Vec<ShopTotals> = groups
        .iter()
        .map(|g| {
            let subtotal: i64 = g.lines.iter().map(|l| l.unit_price * l.quantity).sum();
            let weight_grams: u64 = g
                .lines
                .iter()
                .map(|l| u64::from(l.weight_grams) * l.quantity as u64)
                .sum();
            let (shop_discount, shop_voucher_rejection) = match g.voucher {
                None => (0, None),
                Some(v) => match v.discount(subtotal, currency, now) {
                    Ok(d) => (d, None),
                    Err(r) => (0, Some(r)),
                },
            };
            let shipping = g.shipping.price(weight_grams, currency);
            ShopTotals {
                subtotal,
                shop_discount,
                shop_voucher_rejection,
                platform_discount: 0,
                weight_grams,
                shipping_fee: shipping.as_ref().map_or(0, |q| q.fee.amount),
                shipping,
                tax_included: 0,
                total: 0,
            }
        })
        .collect();
    let after_shop: Vec<i64> = shops.iter().map(|s| s.subtotal - s.shop_discount).collect();
    let mut platform_voucher_rejection = None;
    if let Some(v) = platform_voucher {
        match v.discount(after_shop.iter().sum(), currency, now) {
            Ok(d) => {
                for (shop, share) in shops.iter_mut().zip(allocate(d, &after_shop)) {
                    shop.platform_discount = share;
                }
            }
            Err(r) => platform_voucher_rejection = Some(r),
        }
    }
    for shop in &mut shops {
        shop.total =
            shop.subtotal - shop.shop_discount - shop.platform_discount + shop.shipping_fee;
        shop.tax_included = tax_included(shop.total, currency);
    }
    CheckoutTotals {
        subtotal: shops.iter().map(|s| s.subtotal).sum(),
        discount: shops
            .iter()
            .map(|s| s.shop_discount + s.platform_discount)
            .sum(),
        shipping_fee: shops.iter().map(|s| s.shipping_fee).sum(),
        tax_included: shops.iter().map(|s| s.tax_included).sum(),
        total: shops.iter().map(|s| s.total).sum(),
        platform_voucher_rejection,
        shops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shipping::Terms;

    fn terms(kind: DiscountKind, value: i64) -> VoucherTerms {
        VoucherTerms {
            kind,
            value,
            currency: Currency::VND,
            min_spend: 0,
            max_discount: None,
            starts_at: 100,
            ends_at: 200,
        }
    }

    #[test]
    fn a_percentage_voucher_rounds_down_and_respects_its_cap_window_and_minimum() {
        let mut v = terms(DiscountKind::Percentage, 1_000);
        assert_eq!(v.discount(99_999, Currency::VND, 150), Ok(9_999));
        v.max_discount = Some(5_000);
        assert_eq!(v.discount(99_999, Currency::VND, 150), Ok(5_000));
        v.min_spend = 100_000;
        assert_eq!(
            v.discount(99_999, Currency::VND, 150),
            Err(VoucherRejection::BelowMinimumSpend { min_spend: 100_000 })
        );
        assert_eq!(
            v.discount(100_000, Currency::VND, 99),
            Err(VoucherRejection::NotStarted)
        );
        assert_eq!(
            v.discount(100_000, Currency::VND, 200),
            Err(VoucherRejection::Expired)
        );
        assert_eq!(
            v.discount(100_000, Currency::USD, 150),
            Err(VoucherRejection::OtherCurrency)
        );
    }

    #[test]
    fn a_fixed_voucher_never_discounts_more_than_the_spend() {
        let v = terms(DiscountKind::Fixed, 50_000);
        assert_eq!(v.discount(30_000, Currency::VND, 150), Ok(30_000));
        assert_eq!(v.discount(80_000, Currency::VND, 150), Ok(50_000));
    }

    #[test]
    fn voucher_terms_are_validated_with_field_names() {
        let mut v = terms(DiscountKind::Percentage, 10_001);
        v.ends_at = 100;
        v.max_discount = Some(0);
        let fields: Vec<String> = v.check("").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["value", "max_discount", "ends_at"]);
        assert!(terms(DiscountKind::Fixed, 1).check("").is_empty());
    }

    #[test]
    fn allocation_adds_up_exactly_and_is_proportional() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(10, &[0, 5, 5]), vec![0, 5, 5]);
        assert_eq!(allocate(0, &[3, 4]), vec![0, 0]);
        assert_eq!(allocate(7, &[]), Vec::<i64>::new());
        for (total, weights) in [
            (9_i64, vec![1_i64, 2, 3, 4]),
            (12_345, vec![99_999, 1, 50_000]),
            (1, vec![7, 7, 7]),
        ] {
            let shares = allocate(total, &weights);
            assert_eq!(shares.iter().sum::<i64>(), total);
            assert!(shares.iter().zip(&weights).all(|(s, w)| s <= w));
        }
    }

    #[test]
    fn the_cart_estimate_is_a_base_fee_plus_a_step_per_started_half_kilo() {
        let fee = |grams, currency| Terms::Estimate.price(grams, currency).unwrap().fee.amount;
        assert_eq!(fee(0, Currency::VND), 15_000);
        assert_eq!(fee(1_000, Currency::VND), 15_000);
        assert_eq!(fee(1_001, Currency::VND), 20_000);
        assert_eq!(fee(2_000, Currency::VND), 25_000);
        assert_eq!(fee(2_001, Currency::USD), 600);
    }

    #[test]
    fn tax_is_the_part_of_an_inclusive_price() {
        assert_eq!(tax_included(110_000, Currency::VND), 10_000);
        assert_eq!(tax_included(99, Currency::USD), 0);
    }

    #[test]
    fn a_multi_shop_checkout_splits_the_platform_voucher_and_adds_up() {
        let a = [
            PricedLine {
                unit_price: 100_000,
                quantity: 2,
                weight_grams: 400,
            },
            PricedLine {
                unit_price: 50_000,
                quantity: 1,
                weight_grams: 300,
            },
        ];
        let b = [PricedLine {
            unit_price: 30_001,
            quantity: 3,
            weight_grams: 700,
        }];
        let shop_voucher = terms(DiscountKind::Fixed, 20_000);
        let mut platform = terms(DiscountKind::Percentage, 1_000);
        platform.max_discount = Some(33_333);
        let t = price_checkout(
            Currency::VND,
            &[
                ShopGroup {
                    lines: &a,
                    voucher: Some(&shop_voucher),
                    shipping: Terms::Estimate,
                },
                ShopGroup {
                    lines: &b,
                    voucher: None,
                    shipping: Terms::Estimate,
                },
            ],
            Some(&platform),
            150,
        );
        assert_eq!(t.shops[0].subtotal, 250_000);
        assert_eq!(t.shops[0].shop_discount, 20_000);
        assert_eq!(t.shops[1].subtotal, 90_003);
        // 10% of 320_003 capped at 33_333, split 230_000 : 90_003
        assert_eq!(
            t.shops[0].platform_discount + t.shops[1].platform_discount,
            32_000
        );
        assert_eq!(t.shops[0].weight_grams, 1_100);
        assert_eq!(t.shops[0].shipping_fee, 20_000);
        assert_eq!(t.shops[1].shipping_fee, 30_000); // 2100 g: base + 3 steps
        for s in &t.shops {
            assert_eq!(
                s.total,
                s.subtotal - s.shop_discount - s.platform_discount + s.shipping_fee
            );
        }
        assert_eq!(t.total, t.shops.iter().map(|s| s.total).sum::<i64>());
        assert_eq!(t.total, t.subtotal - t.discount + t.shipping_fee);
        assert_eq!(t.total, 340_003 - 20_000 - 32_000 + 20_000 + 30_000);
    }

    #[test]
    fn a_voucher_that_does_not_apply_gives_nothing_and_says_why() {
        let lines = [PricedLine {
            unit_price: 10_000,
            quantity: 1,
            weight_grams: 100,
        }];
        let mut v = terms(DiscountKind::Fixed, 5_000);
        v.min_spend = 50_000;
        let t = price_checkout(
            Currency::VND,
            &[ShopGroup {
                lines: &lines,
                voucher: Some(&v),
                shipping: Terms::Estimate,
            }],
            Some(&v),
            150,
        );
        assert_eq!(t.discount, 0);
        assert_eq!(
            t.shops[0].shop_voucher_rejection,
            Some(VoucherRejection::BelowMinimumSpend { min_spend: 50_000 })
        );
        assert!(t.platform_voucher_rejection.is_some());
    }
}
