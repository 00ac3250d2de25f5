//! The write rate limiter against the emulator (`make test` exports the stack's environment):
//! the shared router finish with small limits, driven in-process so that each case can be its
//! own client address. The limits of the shared test stack are far higher (every test there
//! comes from 127.0.0.1).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use shared::AppState;
use shared::ratelimit::{Limits, WINDOW_SECS};
use tower::ServiceExt;

async fn app(limits: Limits) -> (Router, AppState) {
    let mut state = AppState::from_env().await.expect("stack environment");
    let mut config = (*state.config).clone();
    config.rate_limits = limits;
    state.config = Arc::new(config);
    let routes = Router::new()
        .route(
            "/api/v1/things",
            post(|| async { StatusCode::NO_CONTENT }).get(|| async { "ok" }),
        )
        .route(
            "/api/v1/payments/stripe/webhook",
            post(|| async { StatusCode::NO_CONTENT }),
        );
    (shared::http::finish(routes, state.clone()), state)
}

/// A client address of its own per run, so reruns against one emulator start from zero.
fn fresh_address() -> SocketAddr {
    let r = ulid::Ulid::new().random();
    SocketAddr::from(([10, (r >> 16) as u8, (r >> 8) as u8, r as u8], 40000))
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    from: SocketAddr,
    token: Option<&str>,
) -> axum::response::Response {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(from));
    app.clone().oneshot(req).await.unwrap()
}

/// Counters are per minute: start a case early in a window so it cannot straddle two.
async fn early_in_a_window() {
    let into = shared::now_epoch().rem_euclid(WINDOW_SECS);
    if into > WINDOW_SECS - 15 {
        tokio::time::sleep(std::time::Duration::from_secs(
            (WINDOW_SECS - into + 1) as u64,
        ))
        .await;
    }
}

#[tokio::test]
async fn an_address_over_its_write_limit_gets_429_with_retry_after_and_reads_still_pass() {
    let (app, _) = app(Limits {
        per_ip: 5,
        per_user: 1000,
    })
    .await;
    early_in_a_window().await;
    let a = fresh_address();
    for i in 0..5 {
        assert_eq!(
            call(&app, "POST", "/api/v1/things", a, None).await.status(),
            204,
            "write {i}"
        );
    }
    let refused = call(&app, "POST", "/api/v1/things", a, None).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let retry: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=WINDOW_SECS).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        call(&app, "GET", "/api/v1/things", a, None).await.status(),
        200
    );
    assert_eq!(
        call(&app, "POST", "/api/v1/things", fresh_address(), None)
            .await
            .status(),
        204,
        "another address has its own window"
    );
    for _ in 0..8 {
        assert_eq!(
            call(&app, "POST", "/api/v1/payments/stripe/webhook", a, None)
                .await
                .status(),
            204,
            "webhooks are exempt"
        );
    }
}

#[tokio::test]
async fn a_user_is_limited_across_addresses_and_a_forged_token_counts_for_nobody() {
    let (app, state) = app(Limits {
        per_ip: 1000,
        per_user: 3,
    })
    .await;
    early_in_a_window().await;
    let user = format!("rl-{}", ulid::Ulid::new());
    let token = state
        .keys
        .issue(&user, 0, &[shared::auth::Role::Buyer], shared::now_epoch());
    for _ in 0..3 {
        let r = call(
            &app,
            "POST",
            "/api/v1/things",
            fresh_address(),
            Some(&token),
        )
        .await;
        assert_eq!(r.status(), 204);
    }
    let r = call(
        &app,
        "POST",
        "/api/v1/things",
        fresh_address(),
        Some(&token),
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "the 4th write of the user, from a new address"
    );
    // An unverifiable token is not a user: it does not spend the victim's quota (nor its own).
    let forged = shared::auth::JwtKeys::new(b"not-the-secret-not-the-secret-xx").issue(
        &user,
        0,
        &[shared::auth::Role::Buyer],
        shared::now_epoch(),
    );
    for _ in 0..5 {
        let r = call(
            &app,
            "POST",
            "/api/v1/things",
            fresh_address(),
            Some(&forged),
        )
        .await;
        assert_eq!(r.status(), 204);
    }
}

#[tokio::test]
async fn concurrent_writes_from_one_address_get_exactly_the_limit_through() {
    let (app, _) = app(Limits {
        per_ip: 5,
        per_user: 1000,
    })
    .await;
    early_in_a_window().await;
    let a = fresh_address();
    let statuses =
        futures::future::join_all((0..20).map(|_| call(&app, "POST", "/api/v1/things", a, None)))
            .await
            .into_iter()
            .map(|r| r.status().as_u16())
            .collect::<Vec<_>>();
    let passed = statuses.iter().filter(|s| **s == 204).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((passed, refused), (5, 15), "{statuses:?}");
}
