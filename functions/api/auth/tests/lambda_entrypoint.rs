//! The Lambda entrypoint, not just the router: an API Gateway HTTP API (v2) event from
//! `events/` goes through `lambda_http`'s request conversion into the router, against the
//! emulator `make test` started.

use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(event: &str) -> (u16, String, serde_json::Value) {
    let state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
    let response = api_auth::router(state).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_register_event_from_api_gateway_creates_the_account() {
    let email = e2e::unique_email("lambda");
    let event = e2e::fixture(
        "apigw-v2-auth-register.json",
        &[("EMAIL_PLACEHOLDER", &email)],
    );
    let (status, content_type, body) = call(&event).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(content_type, "application/json");
    assert_eq!(body["email"], email);
    // the same event again hits the uniqueness guard
    let (status, content_type, body) = call(&event).await;
    assert_eq!(
        (status, content_type.as_str()),
        (409, "application/problem+json"),
        "{body}"
    );
}

#[tokio::test]
async fn a_bad_register_event_is_a_problem_naming_the_field() {
    let event = e2e::fixture(
        "apigw-v2-auth-register.json",
        &[("EMAIL_PLACEHOLDER", "not-an-email")],
    );
    let (status, content_type, body) = call(&event).await;
    assert_eq!(
        (status, content_type.as_str()),
        (422, "application/problem+json")
    );
    assert_eq!(body["errors"][0]["field"], "email");
}
