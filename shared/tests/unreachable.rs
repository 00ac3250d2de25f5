//! A store that cannot be reached answers `StoreError::Unavailable` (→ 503 problem JSON with
//! `Retry-After`) within the SDK's operation timeout: whether nothing listens on its port (the
//! emulator was stopped) or something accepts connections and never answers (a hung one).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, Region};
use axum::response::IntoResponse;
use shared::error::ApiError;
use shared::state::{SDK_OPERATION_TIMEOUT, timeouts_for};
use shared::store::{Db, StoreError, keys};

async fn db_at(endpoint: &str) -> Db {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        // AWS's timeouts (the emulator's are longer), whatever AWS_ENDPOINT_URL says
        .timeout_config(timeouts_for(None))
        .load()
        .await;
    Db::new(aws_sdk_dynamodb::Client::new(&sdk), "commerce")
}

/// Reads one item and returns the error and how long it took.
async fn failed_read(db: &Db) -> (StoreError, Duration) {
    let started = Instant::now();
    let err = db
        .get_item(keys::user_profile("u1"))
        .await
        .expect_err("nothing answers, so the read fails");
    (err, started.elapsed())
}

#[track_caller]
fn assert_503(err: StoreError) {
    let response = ApiError::from(err).into_response();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        shared::error::PROBLEM_CONTENT_TYPE
    );
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_at_once() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = db_at(&format!("http://127.0.0.1:{port}")).await;
    let (err, took) = failed_read(&db).await;
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // The SDK retries a refused connection (with backoff), but not for long.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_503(err);
}

#[tokio::test]
async fn a_store_that_never_answers_is_unavailable_within_the_operation_timeout() {
    // Accepts connections (the kernel does, from the backlog) and never reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let db = db_at(&format!("http://127.0.0.1:{port}")).await;
    let (err, took) = failed_read(&db).await;
    drop(listener);
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        took <= SDK_OPERATION_TIMEOUT + Duration::from_secs(1),
        "took {took:?}"
    );
    assert_503(err);
}

#[test]
fn an_outage_passed_on_through_anyhow_is_still_a_503() {
    let err = StoreError::Unavailable(anyhow::anyhow!("connection refused"));
    let wrapped = anyhow::Error::new(err).context("loading the cart");
    let response = ApiError::Internal(wrapped).into_response();
    assert_eq!(response.status(), 503);
    let other = ApiError::Internal(anyhow::anyhow!("a bug")).into_response();
    assert_eq!(other.status(), 500);
}
