//! `/api/v1/auth/*`: registration, login, token refresh and logout, e-mail verification and
//! password reset/change. Each state change and its event are written in one transaction.

pub mod model;
mod session;
mod throttle;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth;
use shared::events::{self, DomainEvent, PasswordResetRequested, UserRegistered};
use shared::http::{AuthUser, ValidJson, no_content};
use shared::identity::{EmailGuard, UserRecord, UserView, find_user_by_email, load_user};
use shared::invitations;
use shared::store::{StoreError, keys, n, s, tx};
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "auth";
/// Verification links stay valid for a day.
const VERIFY_TTL_SECS: i64 = 24 * 3600;
const RESET_CODE_TTL_SECS: i64 = 10 * 60;
const RESET_MAX_ATTEMPTS: u32 = 5;
/// A new reset code is issued at most once a minute per account.
const RESET_COOLDOWN_SECS: i64 = 60;

/// The routes with their OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
}

/// The Lambda's whole HTTP surface.
pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

/// Runs argon2 off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

#[derive(Serialize, Deserialize)]
struct VerificationToken {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    user_id: String,
    expires_at: i64,
}

/// Register a new account and e-mail a verification link; with `invitation_token`, the account
/// joins the inviting organisation in the same transaction (an invalid token creates nothing).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = TAG,
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created (with `invitation_token`: and a member of the inviting organisation); a verification e-mail is on its way", body = UserView),
        (status = 403, description = "`invitation_token` is an invitation for another e-mail address; nothing was created", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The e-mail address is already registered, or `invitation_token` expired, was revoked or was already used; nothing was created", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let user_id = ulid::Ulid::new().to_string();
    // The invitation is checked before anything is created; its writes join the transaction.
    let acceptance = match &req.invitation_token {
        Some(token) => Some(
            invitations::Acceptance::prepare(
                &state.db,
                &state.keys,
                token,
                &user_id,
                &req.email,
                "invitation_token",
            )
            .await?,
        ),
        None => None,
    };
    let password = req.password.clone();
    let hash = blocking(move || auth::hash_password(&password)).await?;
    let user = UserRecord::new(
        user_id,
        req.email.clone(),
        req.name.clone(),
        hash,
        req.roles(),
    );
    let token = auth::random_token();
    let (pk, sk) = keys::email_verification(&auth::sha256_hex(&token));
    let verification = VerificationToken {
        pk,
        sk,
        entity_type: "email_verification".into(),
        user_id: user.id.clone(),
        expires_at: shared::now_epoch() + VERIFY_TTL_SECS,
    };
    let event = DomainEvent::UserRegistered(UserRegistered {
        user_id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        verification_token: token,
    });
    let table = &state.db.table;
    let mut actions = vec![
        tx::put_new(table, &EmailGuard::new(&user.email, &user.id))?,
        tx::put_new(table, &user)?,
        tx::put_new(table, &verification)?,
        events::outbox_put(table, &event)?,
    ];
    let offset = actions.len();
    if let Some(a) = &acceptance {
        actions.extend(a.actions(table)?);
    }
    let result = state.db.transact(actions).await;
    match result {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => {
            return Err(ApiError::Conflict(
                "an account with this e-mail address already exists".into(),
            ));
        }
        Err(e) => {
            if let Some(a) = &acceptance
                && let Some(problem) = a.explain(&state.db, &e, offset).await?
            {
                return Err(problem);
            }
            return Err(e.into());
        }
    }
    if let Some(a) = &acceptance {
        tracing::info!(user_id = %user.id, org_id = %a.member.org_id, invitation_id = %a.invitation.id, "invitation accepted on registration");
    }
    tracing::info!(user_id = %user.id, "user registered");
    Ok((StatusCode::CREATED, Json(UserView::from(&user))).into_response())
}

/// Log in with e-mail and password; with `invitation_token`, also accept an invitation to an
/// organisation sent to this address (the membership exists before the tokens are issued).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = TAG,
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong e-mail or password (the same answer either way)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled, or `invitation_token` is an invitation for another e-mail address", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_token` expired, was revoked or was already used, or the account is a member already; no session was started", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins; see Retry-After", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let has_failures = throttle::check(&state, &req.email).await?;
    let user = find_user_by_email(&state.db, &req.email).await?;
    let phc = user.as_ref().map_or_else(
        || auth::dummy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = req.password;
    // Verify even when the account does not exist, so both cases take the same time.
    let matches = blocking(move || auth::verify_password(&password, &phc)).await?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            throttle::record_failure(&state, &req.email).await?;
            return Err(ApiError::Unauthorized("wrong e-mail or password".into()));
        }
    };
    if has_failures {
        throttle::clear(&state, &req.email).await?;
    }
    if !user.is_active() {
        return Err(ApiError::Forbidden("this account is disabled".into()));
    }
    if let Some(token) = &req.invitation_token {
        invitations::accept(&state.db, &state.keys, token, &user, "invitation_token").await?;
    }
    let tokens = session::start(&state, &user).await?;
    tracing::info!(user_id = %user.id, "user logged in");
    Ok(Json(tokens))
}

/// Exchange a refresh token for a new token pair (the refresh token rotates).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = TAG,
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair; the old refresh token is now dead", body = TokenPair),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token (reuse revokes the whole session)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(session::rotate(&state, &req.refresh_token).await?))
}

/// Log out: revokes the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = TAG,
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Session revoked (also answered for unknown tokens)"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    session::end(&state, &req.refresh_token).await?;
    Ok(no_content())
}

/// Confirm the e-mail address with the token from the verification e-mail. An unknown, used
/// or expired token is a 400 problem.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = TAG,
    request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "E-mail address verified"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn verify_email(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<VerifyEmailRequest>,
) -> Result<Response, ApiError> {
    let invalid = || {
        ApiError::BadRequest("the verification token is unknown, already used or expired".into())
    };
    let key = keys::email_verification(&auth::sha256_hex(&req.token));
    let token: VerificationToken = state.db.get(key.clone()).await?.ok_or_else(invalid)?;
    let now = shared::now_epoch();
    if token.expires_at <= now {
        return Err(invalid());
    }
    let table = &state.db.table;
    let result = state
        .db
        .transact(vec![
            tx::delete(
                table,
                key,
                Some("attribute_exists(PK) AND expires_at > :now"),
                vec![(":now", n(now))],
            )?,
            tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::user_profile(&token.user_id),
                    update: "SET email_verified = :true, updated_at = :now_s",
                    condition: Some("attribute_exists(PK)"),
                    names: &[],
                    values: vec![
                        (":true", AttributeValue::Bool(true)),
                        (":now_s", s(shared::now_rfc3339())),
                    ],
                },
            )?,
        ])
        .await;
    match result {
        Ok(()) => Ok(no_content()),
        Err(e) if e.failed_condition_index().is_some() => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}

/// `USER#<id>/PASSWORD_RESET`.
#[derive(Serialize, Deserialize)]
struct PasswordReset {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    code_hash: String,
    attempts: u32,
    issued_at: i64,
    expires_at: i64,
}

/// Ask for a password-reset code by e-mail. Always answers 202, whether or not the address
/// has an account.
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = TAG,
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "If the address has an account, a 6-digit code was e-mailed", body = Accepted),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn forgot_password(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<ForgotPasswordRequest>,
) -> Result<Response, ApiError> {
    let accepted = || {
        (
            StatusCode::ACCEPTED,
            Json(Accepted {
                message: "if this address has an account, a reset code has been sent".into(),
            }),
        )
            .into_response()
    };
    let Some(user) = find_user_by_email(&state.db, &req.email)
        .await?
        .filter(UserRecord::is_active)
    else {
        return Ok(accepted());
    };
    let code = auth::six_digit_code();
    let now = shared::now_epoch();
    let (pk, sk) = keys::password_reset(&user.id);
    let reset = PasswordReset {
        pk,
        sk,
        entity_type: "password_reset".into(),
        code_hash: state.keys.hash_code(&user.id, &code),
        attempts: 0,
        issued_at: now,
        expires_at: now + RESET_CODE_TTL_SECS,
    };
    let event = DomainEvent::PasswordResetRequested(PasswordResetRequested {
        user_id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        code,
        expires_in_minutes: (RESET_CODE_TTL_SECS / 60) as u32,
    });
    let table = &state.db.table;
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(shared::store::to_item(&reset)?))
        .condition_expression("attribute_not_exists(PK) OR issued_at < :cooldown")
        .expression_attribute_values(":cooldown", n(now - RESET_COOLDOWN_SECS))
        .build()
        .map_err(ApiError::internal)?;
    let result = state
        .db
        .transact(vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build(),
            events::outbox_put(table, &event)?,
        ])
        .await;
    match result {
        // Within the cooldown the earlier code stays valid and no new mail is sent.
        Ok(()) | Err(StoreError::TransactionCanceled(_)) => Ok(accepted()),
        Err(e) => Err(e.into()),
    }
}

/// The event telling the user their password changed (their security notification).
fn password_changed(user: &UserRecord, reset: bool) -> DomainEvent {
    DomainEvent::PasswordChanged(events::PasswordChanged {
        user_id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        reset,
    })
}

/// The write that replaces a password and ends every existing session (bumps
/// `session_version`). With `previous`, only if the hash is still that one.
fn set_password(
    table: &str,
    user_id: &str,
    hash: String,
    previous: Option<&str>,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let mut values = vec![
        (":hash", s(hash)),
        (":now_s", s(shared::now_rfc3339())),
        (":one", n(1)),
    ];
    if let Some(old) = previous {
        values.push((":old", s(old)));
    }
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::user_profile(user_id),
            update: "SET password_hash = :hash, updated_at = :now_s ADD session_version :one",
            condition: Some(if previous.is_some() {
                "password_hash = :old"
            } else {
                "attribute_exists(PK)"
            }),
            names: &[],
            values,
        },
    )
}

/// Set a new password with the e-mailed code. Wrong codes count; after 5 the code is dead. A
/// wrong, expired, used or exhausted code is a 400 problem (the same for unknown addresses).
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = TAG,
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password changed; every existing session is signed out"),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn reset_password(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<ResetPasswordRequest>,
) -> Result<Response, ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            "the reset code is wrong, expired or already used; request a new one".into(),
        )
    };
    let user = find_user_by_email(&state.db, &req.email)
        .await?
        .ok_or_else(invalid)?;
    let key = keys::password_reset(&user.id);
    let reset: PasswordReset = state.db.get(key.clone()).await?.ok_or_else(invalid)?;
    let now = shared::now_epoch();
    if reset.expires_at <= now || reset.attempts >= RESET_MAX_ATTEMPTS {
        return Err(invalid());
    }
    let presented = state.keys.hash_code(&user.id, &req.code);
    let table = &state.db.table;
    if presented != reset.code_hash {
        // Count the miss atomically; the condition stops counting past the limit.
        let counted = state
            .db
            .transact(vec![tx::update(
                table,
                tx::UpdateSpec {
                    key,
                    update: "ADD attempts :one",
                    condition: Some("attribute_exists(PK) AND attempts < :max"),
                    names: &[],
                    values: vec![(":one", n(1)), (":max", n(RESET_MAX_ATTEMPTS))],
                },
            )?])
            .await;
        return match counted {
            Ok(()) | Err(StoreError::TransactionCanceled(_)) => Err(invalid()),
            Err(e) => Err(e.into()),
        };
    }
    let password = req.new_password;
    let hash = blocking(move || auth::hash_password(&password)).await?;
    let result = state
        .db
        .transact(vec![
            tx::delete(
                table,
                key,
                Some("code_hash = :code AND attempts < :max AND expires_at > :now"),
                vec![
                    (":code", s(presented)),
                    (":max", n(RESET_MAX_ATTEMPTS)),
                    (":now", n(now)),
                ],
            )?,
            set_password(table, &user.id, hash, None)?,
            events::outbox_put(table, &password_changed(&user, true))?,
        ])
        .await;
    match result {
        Ok(()) => {
            tracing::info!(user_id = %user.id, "password reset");
            Ok(no_content())
        }
        Err(e) if e.failed_condition_index().is_some() => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}

/// Change the password of the signed-in user; other sessions are signed out and a fresh
/// token pair is returned for this one.
#[utoipa::path(put, path = "/api/v1/auth/change-password", tag = TAG,
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Password changed; a new session for this client", body = TokenPair),
        (status = 409, description = "The password was changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn change_password(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<ChangePasswordRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let user = caller.user;
    auth::check_password_policy("new_password", &req.new_password, Some(&user.email))
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let (current, phc) = (req.current_password, user.password_hash.clone());
    if !blocking(move || auth::verify_password(&current, &phc)).await? {
        return Err(ApiError::field("current_password", "is incorrect"));
    }
    let password = req.new_password;
    let hash = blocking(move || auth::hash_password(&password)).await?;
    state
        .db
        .transact(vec![
            set_password(&state.db.table, &user.id, hash, Some(&user.password_hash))?,
            events::outbox_put(&state.db.table, &password_changed(&user, false))?,
        ])
        .await?;
    let user = load_user(&state.db, &user.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished")))?;
    tracing::info!(user_id = %user.id, "password changed");
    Ok(Json(session::start(&state, &user).await?))
}
