//! The request budget of the search routes, counted on the real handler against the emulator
//! and the local search server: a search, its facets and a completion are one engine request
//! and no DynamoDB request; similar products and price comparison are two engine requests (the
//! product's document, then the query; an unknown product stops after the first, which is
//! what this test counts). Every answer says in `Server-Timing` how long it waited on the
//! engine (0 when it sent nothing) and how long the route took in all.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

/// Status, body, and the engine time the route answered in `Server-Timing` (ms).
async fn get(router: &axum::Router, uri: &str) -> (u16, serde_json::Value, f64) {
    let response = router
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{uri}: no Server-Timing"))
        .to_owned();
    let metric = |name: &str| {
        header
            .split(", ")
            .find_map(|m| m.strip_prefix(&format!("{name};dur=")))
            .and_then(|ms| ms.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{uri}: no {name};dur in {header:?}"))
    };
    let (timing, app) = (metric("engine"), metric("app"));
    assert!(
        app >= timing,
        "{uri}: the route took less than its engine wait: {header}"
    );
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap(), timing)
}

#[tokio::test]
async fn a_search_is_one_engine_request_and_reads_no_dynamodb() {
    let mut state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let sdk = shared::state::aws_config().await;
    let engine = Arc::new(product_search::Engine::from_env(&sdk).unwrap());
    let calls = e2e::calls::Calls::install(&mut state.db.client);
    let router = api_search::router(state, engine.clone());

    for (uri, engine_requests) in [
        (
            "/api/v1/search?q=ao%20thun&sort=price_asc&min_price=1000&in_stock=true",
            1,
        ),
        (
            "/api/v1/search?category=01ANY&lat=21.0&lng=105.8&radius_km=5",
            1,
        ),
        ("/api/v1/search/filters/available?q=ao", 1),
        ("/api/v1/search/suggestions?q=ao%20th", 1),
        ("/api/v1/search/autocomplete?q=dong%20h", 1),
        ("/api/v1/products/01NOSUCHPRODUCT/similar", 1),
    ] {
        let before = engine.requests();
        let (status, body, engine_ms) = get(&router, uri).await;
        assert!(status == 200 || status == 404, "{uri}: {status} {body}");
        assert!(engine_ms > 0.0, "{uri}: the engine request is timed");
        assert_eq!(engine.requests() - before, engine_requests, "{uri}");
        assert_eq!(calls.take(), Vec::<String>::new(), "{uri} read DynamoDB");
    }
    // A bad request costs nothing.
    let before = engine.requests();
    let (status, _, engine_ms) = get(&router, "/api/v1/search?limit=0").await;
    assert_eq!(status, 422);
    assert_eq!(engine_ms, 0.0, "no engine request, no engine time");
    assert_eq!(engine.requests(), before);
}
