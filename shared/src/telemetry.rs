//! Structured JSON logs through `tracing`, one line per event, with the request span (request
//! id, method, path, user id) attached by the HTTP layer.

use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber for a Lambda: level from `RUST_LOG` (default `info`),
/// no timestamps (CloudWatch stamps every line).
pub fn init() {
    install(false);
}

/// The same with timestamps, for long-running local processes (the dev server).
pub fn init_with_time() {
    install(true);
}

fn install(with_time: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false);
    let _ = if with_time {
        builder.try_init()
    } else {
        builder.without_time().try_init()
    };
    // A panic is one structured error line (message and location), not stderr text that
    // CloudWatch splits and the JSON log pipeline cannot read.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(panic = %info.payload_as_str().unwrap_or("(non-text payload)"), location, "panic");
    }));
}
