//! Structured JSON logs through `tracing`, one line per event, with the request id and user id
//! attached as span fields by the HTTP layer.

use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber. Level comes from `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .without_time()
        .try_init();
}

/// JSON logs with timestamps, for long-running local processes (the dev server).
pub fn init_with_time() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .try_init();
}
