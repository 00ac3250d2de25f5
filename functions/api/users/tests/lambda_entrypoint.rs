//! The Lambda entrypoint of the users function: an API Gateway v2 event with a bearer token
//! goes through `lambda_http` into the router, against the emulator.

use http_body_util::BodyExt;
use shared::auth::Role;
use shared::identity::{EmailGuard, UserRecord};
use shared::store::tx;
use tower::ServiceExt;

#[tokio::test]
async fn get_me_through_api_gateway_returns_the_callers_profile() {
    let state = shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment");
    let email = e2e::unique_email("lambda-me");
    let user = UserRecord::new(
        ulid::Ulid::new().to_string(),
        email.clone(),
        "Fixture".into(),
        "$argon2id$unused".into(),
        vec![Role::Buyer],
    );
    let table = &state.db.table;
    state
        .db
        .transact(vec![
            tx::put_new(table, &EmailGuard::new(&email, &user.id)).unwrap(),
            tx::put_new(table, &user).unwrap(),
        ])
        .await
        .unwrap();
    let token = state.keys.issue(
        &user.id,
        user.session_version,
        &user.roles,
        shared::now_epoch(),
    );

    let event = e2e::fixture("apigw-v2-users-me.json", &[("TOKEN_PLACEHOLDER", &token)]);
    let response = api_users::router(state.clone())
        .oneshot(lambda_http::request::from_str(&event).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        "fixture-users-me-0001",
        "API Gateway's request id is echoed"
    );
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        (body["id"].as_str(), body["email"].as_str()),
        (Some(user.id.as_str()), Some(email.as_str()))
    );

    // a tampered token through the same path is a 401 problem
    let event = e2e::fixture(
        "apigw-v2-users-me.json",
        &[("TOKEN_PLACEHOLDER", &format!("{token}x"))],
    );
    let response = api_users::router(state)
        .oneshot(lambda_http::request::from_str(&event).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}
