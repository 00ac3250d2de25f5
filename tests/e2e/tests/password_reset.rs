//! Forgot / reset password: a 6-digit code by e-mail, 10-minute expiry, 5 attempts, single use.

use e2e::{Ctx, PASSWORD, extract_after, unique_email};
use serde_json::json;

const NEW_PASSWORD: &str = "harbor-lamp-58";

#[tokio::test]
async fn a_reset_code_from_the_email_sets_a_new_password_once() {
    let ctx = Ctx::new();
    let email = unique_email("reset");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    let session = ctx.login(&email, PASSWORD).await;

    let asked = ctx
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let code = extract_after(
        &ctx.wait_for_mail(&email, "password reset code").await,
        "Your password reset code is:",
    );
    assert_eq!(code.len(), 6);

    let reset = ctx
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": email, "code": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.text);

    ctx.login(&email, PASSWORD).await.problem(401);
    assert_eq!(ctx.login(&email, NEW_PASSWORD).await.status, 200);
    // the code is single use, and sessions from before the reset are over
    ctx.post(
        "/api/v1/auth/reset-password",
        None,
        json!({"email": email, "code": code, "new_password": "another-pass-99"}),
    )
    .await
    .problem(400);
    ctx.get(
        "/api/v1/users/me",
        Some(session.body["access_token"].as_str().unwrap()),
    )
    .await
    .problem(401);
    // and the user is told, by e-mail and in the inbox, in case it was not them
    let alert = ctx
        .wait_for_mail(&email, "Security alert for your account")
        .await;
    assert!(alert.contains("reset with a code"), "{alert}");
    let login = ctx.login(&email, NEW_PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let inbox = e2e::eventually("the security alert in the inbox", || async {
        let r = ctx.get("/api/v1/notifications", Some(&token)).await;
        (r.body["items"][0]["kind"] == "security_alert").then_some(r.body)
    })
    .await;
    assert_eq!(inbox["items"][0]["category"], "security", "{inbox}");
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code() {
    let ctx = Ctx::new();
    let email = unique_email("reset-wrong");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    assert_eq!(
        ctx.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": email})
        )
        .await
        .status,
        202
    );
    let code = extract_after(
        &ctx.wait_for_mail(&email, "password reset code").await,
        "Your password reset code is:",
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        ctx.post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": email, "code": wrong, "new_password": NEW_PASSWORD}),
        )
        .await
        .problem(400);
    }
    // the right code no longer works, and the old password still does
    ctx.post(
        "/api/v1/auth/reset-password",
        None,
        json!({"email": email, "code": code, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400);
    assert_eq!(ctx.login(&email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_unknown_addresses_and_sends_nothing() {
    let ctx = Ctx::new();
    let (known, unknown) = (unique_email("fp-known"), unique_email("fp-unknown"));
    assert_eq!(ctx.register(&known, PASSWORD).await.status, 201);
    let a = ctx
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": known}),
        )
        .await;
    let b = ctx
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": unknown}),
        )
        .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (202, 202));
    assert_eq!(a.body, b.body);
    ctx.wait_for_mail(&known, "password reset code").await;
    assert!(ctx.mails_to(&unknown).await.is_empty());
    // a wrong code for an unknown address is the same answer as for a known one
    let r = ctx
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"email": unknown, "code": "123456", "new_password": NEW_PASSWORD}),
        )
        .await;
    r.problem(400);
}
