//! Request and response bodies of the discovery routes, their validation, and the pure
//! normalisation of search text. Field errors name the element: `events[2].query`.

use serde::{Deserialize, Serialize};
use shared::discovery::cards::{CategoryCard, ShopCard};
use shared::domain::Money;
use shared::error::FieldError;
use shared::products::ProductCard;
use shared::validate::{self, Errors, Validate};
use unicode_normalization::UnicodeNormalization;
use utoipa::{IntoParams, ToSchema};

/// Events in one behaviour batch, at most.
pub const MAX_EVENTS: usize = 50;
/// Longest search text, in characters (after trimming).
pub const MAX_QUERY_CHARS: usize = 200;
/// Largest target price (minor units), as for listing prices.
pub const MAX_PRICE: i64 = 1_000_000_000_000;

/// Search text as it is counted and remembered: Unicode NFC, trimmed, inner runs of
/// whitespace made one space, lower-cased. `Err` says what is wrong with it. Pure.
pub fn normalise_query(raw: &str) -> Result<String, &'static str> {
    let composed: String = raw.nfc().collect();
    let words: Vec<&str> = composed.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.is_empty() {
        return Err("must not be empty");
    }
    // Counted before lower-casing, which may lengthen a few letters (İ → i̇).
    if joined.chars().count() > MAX_QUERY_CHARS {
        return Err("must be at most 200 characters");
    }
    if joined.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(joined.to_lowercase())
}

/// The `X-Device-Id` header: how an anonymous caller's history is kept (and folded into the
/// user's once they sign in with it).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct DeviceHeader {
    /// 8–64 letters, digits, `-` or `_`, chosen by the client once per device (e.g. a UUID).
    /// Required for anonymous callers of the behaviour routes; with a valid token it is
    /// optional, and the device's history is folded into the user's.
    #[param(
        rename = "X-Device-Id",
        min_length = 8,
        max_length = 64,
        pattern = "^[A-Za-z0-9_-]{8,64}$"
    )]
    pub device_id: Option<String>,
}

/// Checks a device id.
pub fn check_device_id(value: &str) -> Result<(), FieldError> {
    let ok = (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "X-Device-Id",
            "must be 8-64 letters, digits, '-' or '_'",
        ))
    }
}

fn check_batch<T>(
    e: &mut Errors,
    events: &mut [T],
    mut each: impl FnMut(&mut Errors, usize, &mut T),
) {
    if events.is_empty() || events.len() > MAX_EVENTS {
        e.push("events", "must hold 1 to 50 events");
        return;
    }
    for (i, event) in events.iter_mut().enumerate() {
        each(e, i, event);
    }
}

fn check_query(e: &mut Errors, field: String, query: &mut String) {
    match normalise_query(query) {
        Ok(q) => *query = q,
        Err(m) => e.0.push(FieldError::new(field, m)),
    }
}

/// Products the caller looked at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewBatch {
    #[schema(min_items = 1, max_items = 50)]
    pub events: Vec<ViewEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewEvent {
    #[schema(
        pattern = "^[A-Za-z0-9]{1,64}$",
        example = "01JD7Q2W8Y3C5V6B7N8M9K0J1H"
    )]
    pub product_id: String,
}

impl Validate for ViewBatch {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_batch(&mut e, &mut self.events, |e, i, ev| {
            e.check(validate::id(
                &format!("events[{i}].product_id"),
                &mut ev.product_id,
            ))
        });
        e.finish()
    }
}

/// Searches the caller ran.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBatch {
    #[schema(min_items = 1, max_items = 50)]
    pub events: Vec<SearchEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchEvent {
    /// The search text, 1–200 characters; counted trimmed, NFC-normalised and lower-cased.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$",
        example = "ao dai lua"
    )]
    pub query: String,
}

impl Validate for SearchBatch {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_batch(&mut e, &mut self.events, |e, i, ev| {
            check_query(e, format!("events[{i}].query"), &mut ev.query)
        });
        e.finish()
    }
}

/// Search results the caller opened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickBatch {
    #[schema(min_items = 1, max_items = 50)]
    pub events: Vec<ClickEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickEvent {
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub product_id: String,
    /// The search whose result was opened (as for `behavior/search`).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub query: String,
    /// 1-based rank of the result in the list shown, 1–1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub position: i64,
}

impl Validate for ClickBatch {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_batch(&mut e, &mut self.events, |e, i, ev| {
            e.check(validate::id(
                &format!("events[{i}].product_id"),
                &mut ev.product_id,
            ));
            check_query(e, format!("events[{i}].query"), &mut ev.query);
            if !(1..=1000).contains(&ev.position) {
                e.0.push(FieldError::new(
                    format!("events[{i}].position"),
                    "must be 1 to 1000",
                ));
            }
        });
        e.finish()
    }
}

/// What a behaviour batch counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct BehaviorAccepted {
    /// Events counted.
    pub accepted: u32,
    /// Events skipped: products that are not (or no longer) on sale.
    pub ignored: u32,
}

/// `?window=&limit=` of the trending routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendingQuery {
    /// `24h` (default) or `7d`.
    #[param(pattern = "^(24h|7d)$")]
    pub window: Option<String>,
    /// How many, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// `?limit=` of the other discovery lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// How many, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// The limit of a list query, checked.
pub fn limit(value: Option<u32>) -> Result<usize, shared::ApiError> {
    match value.unwrap_or(20) {
        l @ 1..=50 => Ok(l as usize),
        _ => Err(shared::ApiError::field("limit", "must be between 1 and 50")),
    }
}

pub fn window(value: Option<&str>) -> Result<shared::discovery::Window, shared::ApiError> {
    use shared::discovery::Window;
    match value {
        None | Some("24h") => Ok(Window::Day),
        Some("7d") => Ok(Window::Week),
        Some(_) => Err(shared::ApiError::field("window", "must be 24h or 7d")),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PopularSearch {
    pub query: String,
    /// Searches in the last 24 hours.
    pub searches: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecentSearch {
    pub query: String,
    pub searched_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecentProduct {
    pub product: ProductCard,
    pub viewed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendingProduct {
    pub product: ProductCard,
    /// Decayed blend of views, clicks and units sold in the window (higher is hotter).
    pub score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendingShop {
    pub shop: ShopCard,
    pub score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendingCategory {
    pub category: CategoryCard,
    pub score: f64,
}

/// A ranked list with the window it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trending<T: ToSchema> {
    /// `24h` or `7d`.
    pub window: String,
    pub items: Vec<T>,
}

/// Why a product is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationReason {
    /// Bought in the same orders as something the caller bought or viewed.
    BoughtTogether,
    /// Put in the same carts as something the caller bought or viewed.
    CartedTogether,
    /// Viewed by the same people as something the caller viewed.
    ViewedTogether,
    /// Same category, similar price as something the caller viewed or bought.
    Similar,
    /// Trending now (the caller has no history yet).
    Trending,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedProduct {
    pub product: ProductCard,
    pub score: f64,
    pub reasons: Vec<RecommendationReason>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedShop {
    pub shop: ShopCard,
    pub score: f64,
}

/// What recommendations are based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationBasis {
    /// The caller's recent views and purchases.
    History,
    /// Trending items: the caller has no history (cold start).
    Trending,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendations<T: ToSchema> {
    pub basis: RecommendationBasis,
    pub items: Vec<T>,
}

/// A new price alert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePriceAlert {
    #[schema(pattern = "^[A-Za-z0-9]{1,64}$")]
    pub product_id: String,
    /// Amount in minor units of the product's currency, 1 to 10^12; below the current price.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64, example = 399000)]
    pub target_price: i64,
}

impl Validate for CreatePriceAlert {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::id("product_id", &mut self.product_id));
        if !(1..=MAX_PRICE).contains(&self.target_price) {
            e.push(
                "target_price",
                "must be a positive amount in minor units, at most 10^12",
            );
        }
        e.finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceAlertStatus {
    /// Waiting for the price to reach the target.
    Active,
    /// The price reached the target and the buyer was e-mailed.
    Notified,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceAlert {
    /// The alert's id: its product's id (one alert per product and buyer).
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub target_price: Money,
    pub status: PriceAlertStatus,
    pub created_at: String,
    pub notified_at: Option<String>,
    /// The price that met the target.
    pub notified_price: Option<Money>,
}

impl From<shared::discovery::alerts::PriceAlertRecord> for PriceAlert {
    fn from(a: shared::discovery::alerts::PriceAlertRecord) -> Self {
        Self {
            status: if a.notified_at.is_some() {
                PriceAlertStatus::Notified
            } else {
                PriceAlertStatus::Active
            },
            id: a.id,
            product_id: a.product_id,
            product_name: a.product_name,
            target_price: a.target_price,
            created_at: a.created_at,
            notified_at: a.notified_at,
            notified_price: a.notified_price,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_trimmed_composed_collapsed_and_lower_cased() {
        // "Áo" written with a combining acute accent, in capitals, with stray spaces
        let decomposed = "  A\u{301}O   Dài\tLụa ";
        assert_eq!(normalise_query(decomposed).unwrap(), "áo dài lụa");
        assert_eq!(
            normalise_query("áo dài lụa").unwrap(),
            normalise_query(decomposed).unwrap(),
            "composed and decomposed spellings count as one query"
        );
        assert!(normalise_query("   ").is_err());
        assert!(normalise_query(&"x".repeat(201)).is_err());
        assert!(normalise_query(&"x".repeat(200)).is_ok());
        assert!(normalise_query("a\u{7}b").is_err());
    }

    #[test]
    fn device_ids_are_bounded_ascii() {
        assert!(check_device_id("device-1234_ab").is_ok());
        for bad in ["short", "has space in it", "émoji-device", &"d".repeat(65)] {
            assert_eq!(
                check_device_id(bad).unwrap_err().field,
                "X-Device-Id",
                "{bad}"
            );
        }
    }

    #[test]
    fn batches_hold_one_to_fifty_events_and_name_the_bad_one() {
        let mut empty = ViewBatch { events: vec![] };
        assert_eq!(empty.validate().unwrap_err()[0].field, "events");
        let mut big = SearchBatch {
            events: (0..51)
                .map(|i| SearchEvent {
                    query: format!("q{i}"),
                })
                .collect(),
        };
        assert_eq!(big.validate().unwrap_err()[0].field, "events");
        let mut clicks = ClickBatch {
            events: vec![
                ClickEvent {
                    product_id: "P1".into(),
                    query: "shoes".into(),
                    position: 1,
                },
                ClickEvent {
                    product_id: "P#2".into(),
                    query: " ".into(),
                    position: 0,
                },
            ],
        };
        let fields: Vec<String> = clicks
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "events[1].product_id",
                "events[1].query",
                "events[1].position"
            ]
        );
        let mut alert = CreatePriceAlert {
            product_id: "P1".into(),
            target_price: -5,
        };
        assert_eq!(alert.validate().unwrap_err()[0].field, "target_price");
    }
}
