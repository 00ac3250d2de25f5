//! The identity journey end to end: register → verification e-mail (outbox → stream → relay →
//! bus → queue → notifier → SES) → verify → login → refresh rotation → reuse detection →
//! logout.

use e2e::{Ctx, PASSWORD, extract_after, unique_email};
use serde_json::json;

#[tokio::test]
async fn register_verify_login_refresh_reuse_and_logout() {
    let ctx = Ctx::new();
    let email = unique_email("journey");

    // GIVEN a new account
    let reg = ctx.register(&email, PASSWORD).await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    assert_eq!(reg.body["email"], email);
    assert_eq!(reg.body["email_verified"], false);
    assert_eq!(reg.body["roles"], json!(["buyer"]));
    assert!(reg.body.get("password_hash").is_none());

    // WHEN the verification e-mail arrives and its token is posted
    let mail = ctx.wait_for_mail(&email, "Confirm your e-mail").await;
    let token = extract_after(&mail, "Verification token:");
    let verified = ctx
        .post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(verified.status, 204, "{}", verified.text);
    // a verification token works once
    ctx.post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await
        .problem(400);

    // THEN login works and the profile says verified
    let login = ctx.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let refresh1 = login.body["refresh_token"].as_str().unwrap().to_owned();
    let me = ctx.get("/api/v1/users/me", Some(&access)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["email_verified"], true);

    // refresh rotates the token
    let r2 = ctx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh1}),
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    let refresh2 = r2.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    let me2 = ctx
        .get(
            "/api/v1/users/me",
            Some(r2.body["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(me2.status, 200);

    // reusing the rotated token is rejected and revokes the whole family
    ctx.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh1}),
    )
    .await
    .problem(401);
    ctx.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh2}),
    )
    .await
    .problem(401);

    // a new login opens a new session; logout ends it
    let login2 = ctx.login(&email, PASSWORD).await;
    assert_eq!(login2.status, 200);
    let refresh3 = login2.body["refresh_token"].as_str().unwrap().to_owned();
    let out = ctx
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": refresh3}),
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.text);
    ctx.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh3}),
    )
    .await
    .problem(401);
}

#[tokio::test]
async fn login_does_not_reveal_whether_an_account_exists() {
    let ctx = Ctx::new();
    let (email_known, email_unknown) = (unique_email("known"), unique_email("unknown"));
    assert_eq!(ctx.register(&email_known, PASSWORD).await.status, 201);
    let wrong = ctx.login(&email_known, "wrong-password-1").await;
    let missing = ctx.login(&email_unknown, "wrong-password-1").await;
    wrong.problem(401);
    missing.problem(401);
    assert_eq!(wrong.body["detail"], missing.body["detail"]);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let ctx = Ctx::new();
    let email = unique_email("throttle");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    for _ in 0..5 {
        ctx.login(&email, "wrong-password-1").await.problem(401);
    }
    // even the right password is refused while the account is locked
    let locked = ctx.login(&email, PASSWORD).await;
    locked.problem(429);
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // another account is not affected
    let other = unique_email("throttle-other");
    assert_eq!(ctx.register(&other, PASSWORD).await.status, 201);
    assert_eq!(ctx.login(&other, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let ctx = Ctx::new();
    let email = unique_email("change");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    let a = ctx.login(&email, PASSWORD).await;
    let b = ctx.login(&email, PASSWORD).await;
    let (access_a, access_b) = (
        a.body["access_token"].as_str().unwrap(),
        b.body["access_token"].as_str().unwrap(),
    );

    let wrong = ctx
        .put(
            "/api/v1/auth/change-password",
            Some(access_a),
            json!({"current_password": "nope-nope-1", "new_password": "maple-stone-77"}),
        )
        .await;
    assert_eq!(wrong.problem(422)["errors"][0]["field"], "current_password");

    let changed = ctx
        .put(
            "/api/v1/auth/change-password",
            Some(access_a),
            json!({"current_password": PASSWORD, "new_password": "maple-stone-77"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let fresh = changed.body["access_token"].as_str().unwrap();

    assert_eq!(ctx.get("/api/v1/users/me", Some(fresh)).await.status, 200);
    ctx.get("/api/v1/users/me", Some(access_b))
        .await
        .problem(401);
    ctx.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": b.body["refresh_token"]}),
    )
    .await
    .problem(401);
    ctx.login(&email, PASSWORD).await.problem(401);
    assert_eq!(ctx.login(&email, "maple-stone-77").await.status, 200);
}
