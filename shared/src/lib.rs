//! The library every Lambda of the commerce backend links: configuration, errors, HTTP
//! extractors, authentication, DynamoDB access, the event catalog and telemetry.

pub mod auth;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod consumer;
pub mod discovery;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod events;
pub mod geo;
pub mod geocode;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod invitations;
/// CloudWatch Embedded Metric Format records (business counts, request latency) on stdout.
pub mod metrics;
pub mod migrate;
pub mod notifications;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod products;
pub mod ratelimit;
pub mod shipments;
pub mod state;
pub mod stock;
pub mod store;
pub mod telemetry;
pub mod uploads;
pub mod validate;
pub mod vouchers;
pub mod warehouses;

pub use error::ApiError;
pub use state::AppState;

/// Current time as a UTC timestamp; one place so tests and handlers agree on the clock.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Current time as Unix seconds (what `expires_at` and other numeric timestamps hold).
pub fn now_epoch() -> i64 {
    now().unix_timestamp()
}

/// Current time as RFC 3339 (what every `*_at` string attribute and API field holds).
pub fn now_rfc3339() -> String {
    format_rfc3339(now())
}

/// Unix seconds as [`format_rfc3339`]; `None` outside the representable range.
pub fn format_epoch(secs: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .map(format_rfc3339)
}

/// Fixed-width RFC 3339 UTC with milliseconds, so timestamps also sort as strings.
pub fn format_rfc3339(t: time::OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .expect("UTC time formats")
}
