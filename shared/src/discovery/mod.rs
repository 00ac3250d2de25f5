//! Discovery: what buyers do (views, searches, clicks) and buy, turned into trending lists,
//! "for you" recommendations and price alerts. Written by `api-discovery` (behaviour) and
//! `consumer-recommender` (sales, co-purchases, price checks); read by `api-discovery`.
//!
//! Key shapes (all in `store::keys`, all with an `expires_at` TTL):
//!
//! | item | key | holds |
//! |---|---|---|
//! | trend counter | `TREND#<kind>#<grain>#<bucket>#<shard>` / `<id>` | `views`, `clicks`, `searches`, `units` of one product, shop, category or normalised query in one time bucket ([`counters`]) |
//! | recent list | `RECENT#U#<user>` or `RECENT#D#<device>` / `SEARCHES`, `PRODUCTS`, `PURCHASES` | newest-first bounded list ([`recent`]) |
//! | co-occurrence | `COOC#<product>` / `B#<other>` (bought together), `V#<other>` (viewed together) | `n` |
//! | price alert | `USER#<user>` / `PRICEALERT#<product>`; GSI1 `PRICEALERTS#<product>` / `<target>#<user>` while active | [`alerts::PriceAlertRecord`] |
//!
//! Time is bucketed in two grains: 4-hour buckets serve the 24 h window, day buckets the 7 d
//! window, so a window is read in 7 or 8 buckets × [`crate::store::keys::TREND_SHARDS`]
//! queries. Scores decay exponentially with a bucket's age ([`scoring`]); a bucket older than
//! the window counts nothing.

pub mod alerts;
pub mod cards;
pub mod counters;
pub mod recent;
pub mod scoring;

pub use scoring::{Counts, Grain, Window};
