//! Per-client write limits, beside API Gateway's own route throttling (which caps the whole
//! stage, not one abuser): every POST / PUT / PATCH / DELETE counts against its source address
//! and, when it carries a valid access token, its user. Each counter is one conditional
//! `UpdateItem` on a fixed one-minute window item (`RATE#<scope>#<id>` / `W#<minute>`) that
//! expires by TTL, so the limit holds across every concurrent Lambda instance. Over the limit
//! the request is refused with 429 and `Retry-After` before any handler runs.
//!
//! Webhook routes are exempt: their senders are authenticated by signature, retry on refusal,
//! and burst legitimately. So are the reads that take a JSON body (`POST /api/v1/search/advanced`
//! and the shipping price, address and geocoding routes): they write nothing (API Gateway's
//! throttling still caps them).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{StoreError, keys, n, tx::UpdateSpec};

/// Window length of every counter.
pub const WINDOW_SECS: i64 = 60;
/// Reads sent as POST (their filters are a body): not writes, not counted.
const POSTED_READS: [&str; 5] = [
    "/api/v1/search/advanced",
    "/api/v1/shipping/calculate",
    "/api/v1/shipping/calculate-fees",
    "/api/v1/shipping/validate-address",
    "/api/v1/shipping/geocode",
];

/// Whether `path` is never limited here: the providers' webhooks,
/// `/api/v1/payments/{provider}/webhook`, and the reads in [`POSTED_READS`] (see the module
/// documentation).
pub fn is_exempt(path: &str) -> bool {
    POSTED_READS.contains(&path)
        || path
            .strip_prefix("/api/v1/payments/")
            .and_then(|rest| rest.strip_suffix("/webhook"))
            .is_some_and(|provider| !provider.is_empty() && !provider.contains('/'))
}

/// Writes allowed per window; read from the environment (template parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_ip: u32,
    pub per_user: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_ip: 600,
            per_user: 120,
        }
    }
}

impl Limits {
    /// `WRITE_LIMIT_PER_IP` / `WRITE_LIMIT_PER_USER` (writes per minute; 0 = off), else the
    /// defaults.
    pub fn from_env() -> Self {
        let read = |name: &str, default: u32| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let d = Self::default();
        Self {
            per_ip: read("WRITE_LIMIT_PER_IP", d.per_ip),
            per_user: read("WRITE_LIMIT_PER_USER", d.per_user),
        }
    }
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The caller's address as the platform saw it: API Gateway's `sourceIp` on Lambda, the TCP
/// peer in the dev server. `X-Forwarded-For` is not used: any client can write it.
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        req.extensions()
            .get::<lambda_http::request::RequestContext>()
    {
        return ctx.http.source_ip.as_deref()?.parse().ok();
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Longest a counter may hold a request up in AWS; past it the limiter gives way (fails open).
const COUNTER_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// [`COUNTER_TIMEOUT`], or against a local emulator (which serves one DynamoDB call at a time
/// and queues calls for seconds under a full test run) the emulator's operation budget, so a
/// loaded emulator does not turn the limit off.
fn counter_timeout() -> std::time::Duration {
    static TIMEOUT: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        if crate::state::local_emulator() {
            crate::state::EMULATOR_OPERATION_TIMEOUT
        } else {
            COUNTER_TIMEOUT
        }
    })
}

/// Counts one write for `scope`/`id`; `Err(Ok(retry_after_secs))` when the window is full.
async fn count(
    state: &AppState,
    scope: &str,
    id: &str,
    limit: u32,
    now: i64,
) -> Result<(), Result<u64, StoreError>> {
    let window = now.div_euclid(WINDOW_SECS);
    let update = state.db.update(UpdateSpec {
        key: keys::rate_window(scope, id, window),
        update: "ADD hits :one SET expires_at = :expires",
        condition: Some("attribute_not_exists(hits) OR hits < :limit"),
        names: &[],
        values: vec![
            (":one", n(1)),
            (":limit", n(limit)),
            (":expires", n((window + 2) * WINDOW_SECS)),
        ],
    });
    let timeout = counter_timeout();
    let result =
        tokio::time::timeout(timeout, update)
            .await
            .unwrap_or(Err(StoreError::Unavailable(anyhow::anyhow!(
                "rate counter took over {timeout:?}"
            ))));
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            Err(Ok(((window + 1) * WINDOW_SECS - now).max(1) as u64))
        }
        Err(e) => Err(Err(e)),
    }
}

/// The middleware (installed by `http::finish`).
pub async fn limit_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !is_write(req.method()) || is_exempt(path) {
        return next.run(req).await;
    }
    let limits = state.config.rate_limits;
    let now = crate::now_epoch();
    let ip = client_ip(&req).map(|ip| ip.to_string());
    // Only a verified token names a user; a forged `sub` must not drain someone else's quota.
    let user = crate::http::bearer_token(req.headers())
        .ok()
        .and_then(|t| state.keys.verify(t).ok())
        .map(|claims| claims.sub);
    // A limit of 0 turns that counter off (the local test stack, where every client is
    // 127.0.0.1 and hundreds of tests write at once).
    let (by_ip, by_user) = tokio::join!(
        async {
            match &ip {
                Some(ip) if limits.per_ip > 0 => count(&state, "ip", ip, limits.per_ip, now).await,
                _ => Ok(()),
            }
        },
        async {
            match &user {
                Some(user) if limits.per_user > 0 => {
                    count(&state, "user", user, limits.per_user, now).await
                }
                _ => Ok(()),
            }
        },
    );
    for (scope, outcome) in [("address", by_ip), ("user", by_user)] {
        match outcome {
            Ok(()) => {}
            Err(Ok(retry_after_secs)) => {
                tracing::warn!(scope, "write rate limit reached");
                return ApiError::TooManyRequests {
                    retry_after_secs,
                    detail: format!(
                        "too many write requests from this {scope}; retry after {retry_after_secs} s"
                    ),
                }
                .into_response();
            }
            // The limiter fails open: an unreachable counter must not refuse every write (the
            // write itself reports the storage problem if it persists).
            Err(Err(e)) => tracing::warn!(scope, error = %e, "rate limit counter unavailable"),
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_are_limited() {
        assert!(is_write(&Method::POST) && is_write(&Method::DELETE));
        assert!(!is_write(&Method::GET) && !is_write(&Method::HEAD) && !is_write(&Method::OPTIONS));
    }

    #[test]
    fn only_the_provider_webhooks_and_posted_reads_are_exempt() {
        for p in [
            "/api/v1/search/advanced",
            "/api/v1/shipping/calculate",
            "/api/v1/shipping/geocode",
            "/api/v1/payments/stripe/webhook",
            "/api/v1/payments/paypal/webhook",
            "/api/v1/payments/vnpay/webhook",
            "/api/v1/payments/momo/webhook",
        ] {
            assert!(is_exempt(p), "{p}");
        }
        for p in [
            "/api/v1/payments",
            "/api/v1/payments/webhook",
            "/api/v1/payments/a/b/webhook",
            "/api/v1/payments/stripe/webhooks",
            "/api/v1/webhooks/stripe",
            "/api/v1/search/advanced/x",
            "/api/v1/shipping/shippers/register",
        ] {
            assert!(!is_exempt(p), "{p}");
        }
    }

    #[test]
    fn limits_come_from_the_environment_or_default() {
        assert_eq!(
            Limits::default(),
            Limits {
                per_ip: 600,
                per_user: 120
            }
        );
    }
}
