//! Price alerts: a buyer asks to hear when a product's price falls to a target. One item per
//! (user, product) at `USER#<user>/PRICEALERT#<product>` (so "one active alert per product" is
//! the key itself, guarded by a conditional put); while active it is in the sparse GSI1
//! partition `PRICEALERTS#<product>`, sorted by target, where the recommender finds the alerts a
//! new price meets. Triggering removes it from GSI1 and sets `notified_at` in the same
//! transaction that writes `PriceAlertTriggered` to the outbox, on condition that it was not
//! notified yet: one e-mail per alert, whatever is redelivered.

use serde::{Deserialize, Serialize};

use crate::domain::Money;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceAlertRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity_type: String,
    /// The alert's id: its product's id (a buyer has at most one alert per product).
    pub id: String,
    pub user_id: String,
    pub product_id: String,
    pub product_name: String,
    /// In the product's currency.
    pub target_price: Money,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<String>,
    /// The price that met the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_price: Option<Money>,
}

pub const ENTITY: &str = "price_alert";

/// The lowest price a buyer can pay now among the in-stock variants, if any is in stock.
/// Pure; `now` in epoch seconds.
pub fn lowest_price(variants: &[crate::products::VariantRecord], now: i64) -> Option<Money> {
    variants
        .iter()
        .filter(|v| v.available > 0)
        .map(|v| crate::domain::effective_price(v.price, v.discount.as_ref(), now))
        .min_by_key(|p| p.amount)
}
