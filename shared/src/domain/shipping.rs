//! Shipping prices: one pure function, [`quote`], from a method, the leg between the shop and
//! the destination (great-circle distance and zone) and the parcel (actual and dimensional
//! weight). `api-shipping` answers it; checkout will price parcels with it (issue 12).
//!
//! # The tariff
//!
//! Per currency, the base rate and step of [`super::checkout`] (VND: 15 000 for the first
//! 1 000 g, 5 000 per started 500 g beyond), scaled by zone and method:
//!
//! | part | same district | same province | other province |
//! |---|---|---|---|
//! | base (first [`INCLUDED_GRAMS`]) | base × 1 | base × 1.4 | base × 2 |
//! | each started [`STEP_GRAMS`] beyond | step × 1 | step × 1.2 | step × 1.6 |
//! | distance beyond 10 km | step / 5 per started 50 km, at most step × 4 | same | same |
//!
//! The chargeable weight is the larger of the actual weight and the dimensional weight
//! (L × W × H cm³ / [`DIMENSIONAL_DIVISOR`] kg, so cm³ / 5 grams). Methods multiply the sum:
//! standard × 1, express × 1.5, same-day × 2.5 (only within [`SAME_DAY_RADIUS_KM`]), pickup
//! from the shop is free. Amounts round up to the currency's minor unit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checkout::{INCLUDED_GRAMS, STEP_GRAMS, shipping_rate};
use super::{Currency, Money};

/// cm³ per kg of dimensional weight.
pub const DIMENSIONAL_DIVISOR: u64 = 5_000;
/// Same-day delivery reaches this far from the shop.
pub const SAME_DAY_RADIUS_KM: f64 = 30.0;
/// Distance included in every price.
pub const INCLUDED_KM: f64 = 10.0;
/// The distance surcharge grows per started this many km.
pub const DISTANCE_STEP_KM: f64 = 50.0;
/// Heaviest parcel (grams, actual or dimensional) and longest side (cm) accepted.
pub const MAX_GRAMS: u64 = 50_000;
pub const MAX_SIDE_CM: u32 = 200;

/// How a parcel travels (the schema is `ShippingMethod`: `Method` is the payment method's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ShippingMethod)]
pub enum Method {
    #[default]
    Standard,
    Express,
    SameDay,
    /// The buyer collects the parcel at the shop.
    Pickup,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Standard,
        Method::Express,
        Method::SameDay,
        Method::Pickup,
    ];

    /// Percent applied to the tariff.
    pub fn multiplier_pct(self) -> i64 {
        match self {
            Method::Standard => 100,
            Method::Express => 150,
            Method::SameDay => 250,
            Method::Pickup => 0,
        }
    }

    /// Delivery days (min, max) by zone; 0 is the same day.
    pub fn days(self, zone: Zone) -> (u32, u32) {
        match (self, zone) {
            (Method::Pickup, _) | (Method::SameDay, _) => (0, 0),
            (Method::Standard, Zone::SameDistrict) => (1, 2),
            (Method::Standard, Zone::SameProvince) => (1, 3),
            (Method::Standard, Zone::OtherProvince) => (3, 5),
            (Method::Express, Zone::OtherProvince) => (2, 3),
            (Method::Express, _) => (1, 1),
        }
    }
}

/// Where the destination lies from the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ShippingZone)]
pub enum Zone {
    /// The same ward or commune, or within [`INCLUDED_KM`] in the same province.
    SameDistrict,
    SameProvince,
    OtherProvince,
}

impl Zone {
    pub const ALL: [Zone; 3] = [Zone::SameDistrict, Zone::SameProvince, Zone::OtherProvince];

    /// The zone of a leg: provinces and wards by their codes (the gazetteer's), and the
    /// distance between the two points.
    pub fn of(from: (&str, &str), to: (&str, &str), distance_km: f64) -> Zone {
        if from.0 != to.0 {
            Zone::OtherProvince
        } else if from.1 == to.1 || distance_km <= INCLUDED_KM {
            Zone::SameDistrict
        } else {
            Zone::SameProvince
        }
    }

    /// (base, step) factors in tenths.
    fn factors(self) -> (i64, i64) {
        match self {
            Zone::SameDistrict => (10, 10),
            Zone::SameProvince => (14, 12),
            Zone::OtherProvince => (20, 16),
        }
    }
}

/// A parcel: its actual weight and, optionally, its sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parcel {
    pub weight_grams: u64,
    /// Length, width and height in cm.
    pub dimensions_cm: Option<(u32, u32, u32)>,
}

impl Parcel {
    /// L × W × H / 5 000 kg, in grams (rounded up).
    pub fn dimensional_grams(&self) -> u64 {
        self.dimensions_cm.map_or(0, |(l, w, h)| {
            (u64::from(l) * u64::from(w) * u64::from(h) * 1_000).div_ceil(DIMENSIONAL_DIVISOR)
        })
    }

    /// The larger of the actual and the dimensional weight.
    pub fn chargeable_grams(&self) -> u64 {
        self.weight_grams.max(self.dimensional_grams())
    }
}

/// The leg from the shop to the destination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    pub distance_km: f64,
    pub zone: Zone,
}

/// A price and how it was reached (the schema is `ShippingQuote`: `Quote` is checkout's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ShippingQuote)]
pub struct Quote {
    pub method: Method,
    pub zone: Zone,
    /// Great-circle distance, km (one decimal).
    pub distance_km: f64,
    pub actual_grams: u64,
    pub dimensional_grams: u64,
    /// The larger of the two: what the price is for.
    pub chargeable_grams: u64,
    /// The tariff before the method's multiplier: base, weight and distance parts.
    pub base: Money,
    pub weight_surcharge: Money,
    pub distance_surcharge: Money,
    pub multiplier_pct: i64,
    pub fee: Money,
    /// Delivery days after pickup, min and max (0: the same day).
    pub min_days: u32,
    pub max_days: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PricingError {
    #[error(
        "same-day delivery reaches {limit_km} km from the shop; this address is {distance_km:.1} km away"
    )]
    SameDayTooFar { limit_km: f64, distance_km: f64 },
    #[error("a parcel weighs at most {MAX_GRAMS} g (actual or dimensional)")]
    TooHeavy,
}

/// How one shop's parcel is priced at checkout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Terms {
    /// The cart, before an address is chosen: standard delivery within the shop's district
    /// (the lowest tariff; the preview prices the real leg).
    Estimate,
    /// Preview and placement: `Method` over the leg from the shop to the address.
    Leg(Method, Leg),
}

impl Terms {
    /// The quote for a parcel of `weight_grams` (products carry no sides, so checkout prices
    /// the actual weight; `shipping/calculate` takes dimensions).
    pub fn price(self, weight_grams: u64, currency: Currency) -> Result<Quote, PricingError> {
        let (method, leg) = match self {
            Terms::Estimate => (
                Method::Standard,
                Leg {
                    distance_km: 0.0,
                    zone: Zone::SameDistrict,
                },
            ),
            Terms::Leg(method, leg) => (method, leg),
        };
        let parcel = Parcel {
            weight_grams,
            dimensions_cm: None,
        };
        quote(method, leg, parcel, currency)
    }
}

/// The price of sending `parcel` over `leg` by `method`, in `currency`. Pure.
pub fn quote(
    method: Method,
    leg: Leg,
    parcel: Parcel,
    currency: Currency,
) -> Result<Quote, PricingError> {
    let chargeable = parcel.chargeable_grams();
    if chargeable > MAX_GRAMS {
        return Err(PricingError::TooHeavy);
    }
    if method == Method::SameDay && leg.distance_km > SAME_DAY_RADIUS_KM {
        return Err(PricingError::SameDayTooFar {
            limit_km: SAME_DAY_RADIUS_KM,
            distance_km: leg.distance_km,
        });
    }
    let rate = shipping_rate(currency);
    let (base_f, step_f) = leg.zone.factors();
    let base = rate.base * base_f / 10;
    let steps = chargeable
        .saturating_sub(INCLUDED_GRAMS)
        .div_ceil(STEP_GRAMS) as i64;
    let weight = rate.per_step * step_f / 10 * steps;
    let beyond = (leg.distance_km - INCLUDED_KM).max(0.0);
    let distance_steps = (beyond / DISTANCE_STEP_KM).ceil() as i64;
    let distance = (rate.per_step / 5 * distance_steps).min(rate.per_step * 4);
    let pct = method.multiplier_pct();
    let fee = ((base + weight + distance) * pct).div_euclid(100)
        + i64::from((base + weight + distance) * pct % 100 != 0);
    let (min_days, max_days) = method.days(leg.zone);
    Ok(Quote {
        method,
        zone: leg.zone,
        distance_km: (leg.distance_km * 10.0).round() / 10.0,
        actual_grams: parcel.weight_grams,
        dimensional_grams: parcel.dimensional_grams(),
        chargeable_grams: chargeable,
        base: Money::new(base, currency),
        weight_surcharge: Money::new(weight, currency),
        distance_surcharge: Money::new(distance, currency),
        multiplier_pct: pct,
        fee: Money::new(fee, currency),
        min_days,
        max_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(distance_km: f64, zone: Zone) -> Leg {
        Leg { distance_km, zone }
    }

    fn grams(weight_grams: u64) -> Parcel {
        Parcel {
            weight_grams,
            dimensions_cm: None,
        }
    }

    fn fee(method: Method, leg: Leg, parcel: Parcel) -> i64 {
        quote(method, leg, parcel, Currency::VND)
            .unwrap()
            .fee
            .amount
    }

    #[test]
    fn a_nearby_one_kilo_parcel_costs_the_base_rate() {
        assert_eq!(
            fee(Method::Standard, leg(3.0, Zone::SameDistrict), grams(1_000)),
            15_000
        );
        assert_eq!(
            fee(Method::Standard, leg(3.0, Zone::SameDistrict), grams(0)),
            15_000
        );
    }

    #[test]
    fn weight_tiers_start_one_gram_past_each_boundary() {
        let near = leg(3.0, Zone::SameDistrict);
        assert_eq!(fee(Method::Standard, near, grams(1_001)), 20_000);
        assert_eq!(fee(Method::Standard, near, grams(1_500)), 20_000);
        assert_eq!(fee(Method::Standard, near, grams(1_501)), 25_000);
        let far = leg(10.0, Zone::OtherProvince);
        // base 30 000, step 8 000
        assert_eq!(fee(Method::Standard, far, grams(1_000)), 30_000);
        assert_eq!(fee(Method::Standard, far, grams(1_001)), 38_000);
    }

    #[test]
    fn zones_scale_the_base_and_the_steps() {
        let p = grams(2_000); // two steps
        assert_eq!(
            fee(Method::Standard, leg(5.0, Zone::SameDistrict), p),
            15_000 + 2 * 5_000
        );
        assert_eq!(
            fee(Method::Standard, leg(5.0, Zone::SameProvince), p),
            21_000 + 2 * 6_000
        );
        assert_eq!(
            fee(Method::Standard, leg(5.0, Zone::OtherProvince), p),
            30_000 + 2 * 8_000
        );
    }

    #[test]
    fn the_distance_surcharge_starts_past_ten_km_per_started_fifty_and_is_capped() {
        let z = Zone::SameProvince;
        assert_eq!(fee(Method::Standard, leg(10.0, z), grams(500)), 21_000);
        assert_eq!(fee(Method::Standard, leg(10.1, z), grams(500)), 22_000);
        assert_eq!(fee(Method::Standard, leg(60.0, z), grams(500)), 22_000);
        assert_eq!(fee(Method::Standard, leg(60.1, z), grams(500)), 23_000);
        // Hà Nội → TP. Hồ Chí Minh is about 1 140 km: capped at 4 steps (20 000)
        assert_eq!(
            fee(
                Method::Standard,
                leg(1_140.0, Zone::OtherProvince),
                grams(500)
            ),
            50_000
        );
    }

    #[test]
    fn the_dimensional_weight_counts_when_it_is_larger() {
        let light_box = Parcel {
            weight_grams: 300,
            dimensions_cm: Some((30, 20, 20)), // 12 000 cm³ → 2 400 g
        };
        assert_eq!(light_box.dimensional_grams(), 2_400);
        assert_eq!(light_box.chargeable_grams(), 2_400);
        let q = quote(
            Method::Standard,
            leg(3.0, Zone::SameDistrict),
            light_box,
            Currency::VND,
        )
        .unwrap();
        assert_eq!(q.fee.amount, 15_000 + 3 * 5_000);
        let dense = Parcel {
            weight_grams: 5_000,
            dimensions_cm: Some((10, 10, 10)), // 200 g
        };
        assert_eq!(dense.chargeable_grams(), 5_000);
        // exactly 5 000 cm³ is 1 kg
        let cube = Parcel {
            weight_grams: 1,
            dimensions_cm: Some((50, 10, 10)),
        };
        assert_eq!(cube.dimensional_grams(), 1_000);
    }

    #[test]
    fn methods_multiply_and_same_day_stops_at_its_radius() {
        let near = leg(30.0, Zone::SameProvince);
        let standard = fee(Method::Standard, near, grams(500));
        assert_eq!(standard, 22_000);
        assert_eq!(fee(Method::Express, near, grams(500)), 33_000);
        assert_eq!(fee(Method::SameDay, near, grams(500)), 55_000);
        assert_eq!(fee(Method::Pickup, near, grams(500)), 0);
        let beyond = leg(30.1, Zone::SameProvince);
        assert!(matches!(
            quote(Method::SameDay, beyond, grams(500), Currency::VND),
            Err(PricingError::SameDayTooFar { .. })
        ));
        assert!(quote(Method::Express, beyond, grams(500), Currency::VND).is_ok());
    }

    #[test]
    fn parcels_over_fifty_kilos_are_refused() {
        let z = leg(1.0, Zone::SameDistrict);
        assert!(quote(Method::Standard, z, grams(50_000), Currency::VND).is_ok());
        assert_eq!(
            quote(Method::Standard, z, grams(50_001), Currency::VND),
            Err(PricingError::TooHeavy)
        );
        let bulky = Parcel {
            weight_grams: 1,
            dimensions_cm: Some((200, 200, 200)),
        };
        assert_eq!(
            quote(Method::Standard, z, bulky, Currency::VND),
            Err(PricingError::TooHeavy)
        );
    }

    #[test]
    fn zones_follow_provinces_wards_and_distance() {
        assert_eq!(Zone::of(("01", "1"), ("79", "9"), 5.0), Zone::OtherProvince);
        assert_eq!(Zone::of(("01", "1"), ("01", "1"), 25.0), Zone::SameDistrict);
        assert_eq!(Zone::of(("01", "1"), ("01", "2"), 10.0), Zone::SameDistrict);
        assert_eq!(Zone::of(("01", "1"), ("01", "2"), 10.5), Zone::SameProvince);
    }

    #[test]
    fn other_currencies_scale_from_their_own_rate() {
        let q = quote(
            Method::Express,
            leg(3.0, Zone::SameDistrict),
            grams(1_001),
            Currency::USD,
        )
        .unwrap();
        // base 300 + one step 100, × 1.5
        assert_eq!(q.fee, Money::new(600, Currency::USD));
    }
}
