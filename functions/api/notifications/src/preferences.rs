//! The caller's preferences, one item `USER#<me>` / `NOTIFY#PREFS` (absent: the defaults,
//! every category on every channel): language, channels per category, quiet hours and the
//! phone number SMS go to. Every change — a PUT, a new phone number, a verification attempt —
//! is a read, a change and a put on condition that `version` is still the one read, so no
//! change overwrites another; a lost race is retried, and after [`ATTEMPTS`] it is a 409.
//!
//! A phone number is verified by a 6-digit code: its SHA-256 (bound to the user) is stored
//! with the number, and the code itself only travels in the `PhoneVerificationRequested`
//! outbox event of the same transaction, which the notifier texts. Neither is ever logged or
//! returned.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::events::{self, DomainEvent, PhoneVerificationRequested};
use shared::http::{AuthUser, ValidJson};
use shared::notifications::{
    Category, Language, PHONE_CODE_ATTEMPTS, PHONE_CODE_MINUTES, Phone, PreferencesRecord,
    mandatory,
};
use shared::store::{keys, n, to_item};
use shared::{ApiError, AppState};

use crate::TAG;
use crate::model::*;

/// Tries of an optimistic write of the preferences before answering 409.
pub const ATTEMPTS: usize = 3;
/// A new code may be asked for this long after the last one.
pub const PHONE_CODE_COOLDOWN_SECS: i64 = 60;

/// The caller's preferences, or the defaults.
async fn load(state: &AppState, user_id: &str) -> Result<PreferencesRecord, ApiError> {
    Ok(state
        .db
        .get(keys::notification_preferences(user_id))
        .await?
        .unwrap_or_else(|| PreferencesRecord::defaults(user_id)))
}

/// Applies `change` to the current preferences and writes them on condition that nobody else
/// wrote since they were read (re-reading and re-applying on a lost race), with the items
/// `change` adds (an outbox event) in the same transaction. `change` may refuse (its error is
/// the answer, nothing is written) and returns a value handed back after the write.
async fn update<T>(
    state: &AppState,
    user_id: &str,
    mut change: impl FnMut(&mut PreferencesRecord) -> Result<(Vec<TransactWriteItem>, T), ApiError>,
) -> Result<(PreferencesRecord, T), ApiError> {
    let table = &state.db.table;
    for _ in 0..ATTEMPTS {
        let mut record = load(state, user_id).await?;
        let read = record.version;
        let (extra, outcome) = change(&mut record)?;
        record.version = read + 1;
        record.updated_at = shared::now_rfc3339();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(&record)?))
            .condition_expression("attribute_not_exists(PK) OR version = :read")
            .expression_attribute_values(":read", n(read))
            .build()
            .map_err(ApiError::internal)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        items.extend(extra);
        match state.db.transact(items).await {
            Ok(()) => return Ok((record, outcome)),
            Err(e) if e.failed_condition_index() == Some(0) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "the preferences were changed concurrently; retry".into(),
    ))
}

/// The preferences as the API shows them: every category, a mandatory one all on.
fn view(record: &PreferencesRecord) -> NotificationPreferences {
    let channels = Category::ALL
        .into_iter()
        .map(|category| {
            let on = record.switches(category);
            let forced = mandatory(category);
            let switches = NotificationSwitches {
                in_app: on.in_app || forced,
                email: on.email || forced,
                sms: on.sms || forced,
                push: on.push || forced,
                mandatory: forced,
            };
            (category.as_str().to_owned(), switches)
        })
        .collect();
    NotificationPreferences {
        language: record.language.unwrap_or(Language::or_default(None)),
        channels,
        quiet_hours: record.quiet_hours.clone().map(Into::into),
        phone: record.phone.as_ref().map(|p| NotificationPhone {
            number: p.number.clone(),
            verified: p.verified,
        }),
    }
}

/// The caller's notification preferences (the defaults until they change any).
#[utoipa::path(get, path = "/api/v1/notifications/preferences", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "The preferences", body = NotificationPreferences),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_notification_preferences(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<NotificationPreferences>, ApiError> {
    Ok(Json(view(&load(&state, caller.id()).await?)))
}

/// Change the language, channels of some categories, or the quiet hours (`null`: none). Only
/// what is given changes; security notifications cannot be turned off.
#[utoipa::path(put, path = "/api/v1/notifications/preferences", tag = TAG, security(("bearer" = [])),
    request_body = NotificationPreferencesUpdate,
    responses(
        (status = 200, description = "The preferences as changed", body = NotificationPreferences),
        (status = 409, description = "Changed concurrently again and again; retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn update_notification_preferences(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationPreferencesUpdate>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let (record, ()) = update(&state, caller.id(), |record| {
        if let Some(language) = req.language {
            record.language = Some(language);
        }
        for (name, patch) in req.channels.iter().flatten() {
            // Validated: every name is a category, and no mandatory one is switched off.
            let Some(category) = Category::parse(name) else {
                continue;
            };
            let mut switches = record.switches(category);
            for (channel, on) in patch.given() {
                match channel {
                    shared::notifications::Channel::InApp => switches.in_app = on,
                    shared::notifications::Channel::Email => switches.email = on,
                    shared::notifications::Channel::Sms => switches.sms = on,
                    shared::notifications::Channel::Push => switches.push = on,
                }
            }
            record
                .channels
                .insert(category.as_str().to_owned(), switches);
        }
        if let Some(quiet) = &req.quiet_hours {
            record.quiet_hours = quiet.clone().map(Into::into);
        }
        Ok((Vec::new(), ()))
    })
    .await?;
    tracing::info!(version = record.version, "notification preferences changed");
    Ok(Json(view(&record)))
}

fn no_pending_code() -> ApiError {
    ApiError::Conflict(
        "no verification code is pending; ask for one with POST /api/v1/notifications/preferences/phone"
            .into(),
    )
}

fn dead_code() -> ApiError {
    ApiError::field(
        "code",
        "this code has expired or was entered wrongly too many times; ask for a new one",
    )
}

/// Set the phone number SMS go to: a 6-digit code is texted to it, valid 10 minutes. It
/// receives SMS once verified with that code. One code a minute.
#[utoipa::path(post, path = "/api/v1/notifications/preferences/phone", tag = TAG, security(("bearer" = [])),
    request_body = NotificationPhoneRequest,
    responses(
        (status = 202, description = "A code is on its way to the number; the number is unverified until it is sent back", body = NotificationPhonePending),
        (status = 409, description = "The preferences changed concurrently again and again; retry", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "A code was sent less than a minute ago; see Retry-After", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn request_phone_verification(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationPhoneRequest>,
) -> Result<Response, ApiError> {
    let me = caller.id();
    let now = shared::now_epoch();
    let lifetime = PHONE_CODE_MINUTES * 60;
    update(&state, me, |record| {
        let last_sent = record
            .phone
            .as_ref()
            .and_then(|p| p.code_expires_at)
            .map(|expires| expires - lifetime);
        if let Some(sent) = last_sent {
            let wait = sent + PHONE_CODE_COOLDOWN_SECS - now;
            if wait > 0 {
                return Err(ApiError::TooManyRequests {
                    retry_after_secs: wait as u64,
                    detail: format!(
                        "a code was sent less than a minute ago; ask again in {wait} s"
                    ),
                });
            }
        }
        let code = shared::auth::six_digit_code();
        record.phone = Some(Phone {
            number: req.phone.clone(),
            verified: false,
            code_hash: Some(phone_code_hash(&state, me, &code)),
            code_expires_at: Some(now + lifetime),
            attempts: 0,
        });
        let event = DomainEvent::PhoneVerificationRequested(PhoneVerificationRequested {
            user_id: me.to_owned(),
            phone: req.phone.clone(),
            code,
            expires_in_minutes: PHONE_CODE_MINUTES as u32,
        });
        Ok((vec![events::outbox_put(&state.db.table, &event)?], ()))
    })
    .await?;
    tracing::info!("phone verification code requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(NotificationPhonePending {
            phone: req.phone,
            verified: false,
            expires_in_minutes: PHONE_CODE_MINUTES,
        }),
    )
        .into_response())
}

/// Equal hashes, compared in time independent of where they differ.
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// Verify the phone number with the code texted to it. A wrong code counts; after 5 wrong
/// ones, or 10 minutes, the code is dead and a new one must be asked for (both 422 naming
/// `code`).
#[utoipa::path(post, path = "/api/v1/notifications/preferences/phone/verify", tag = TAG, security(("bearer" = [])),
    request_body = NotificationPhoneVerify,
    responses(
        (status = 200, description = "The number is verified", body = NotificationPhone),
        (status = 409, description = "No code is pending (none asked for, or the number is verified)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn verify_phone_number(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationPhoneVerify>,
) -> Result<Json<NotificationPhone>, ApiError> {
    let me = caller.id();
    let now = shared::now_epoch();
    let presented = phone_code_hash(&state, me, &req.code);
    let (record, outcome) = update(&state, me, |record| {
        let Some(phone) = record.phone.as_mut() else {
            return Err(no_pending_code());
        };
        let (Some(hash), Some(expires)) = (phone.code_hash.as_deref(), phone.code_expires_at)
        else {
            return Err(no_pending_code());
        };
        if expires <= now || phone.attempts >= PHONE_CODE_ATTEMPTS {
            return Err(dead_code());
        }
        if !same_hash(&presented, hash) {
            phone.attempts += 1;
            let left = PHONE_CODE_ATTEMPTS - phone.attempts;
            let wrong = match left {
                0 => dead_code(),
                _ => ApiError::field(
                    "code",
                    format!("is not the code sent to this number; {left} tries left"),
                ),
            };
            return Ok((Vec::new(), Err(wrong)));
        }
        phone.verified = true;
        phone.code_hash = None;
        phone.code_expires_at = None;
        phone.attempts = 0;
        Ok((Vec::new(), Ok(())))
    })
    .await?;
    outcome?;
    tracing::info!("phone number verified");
    let phone = record.phone.ok_or_else(no_pending_code)?;
    Ok(Json(NotificationPhone {
        number: phone.number,
        verified: phone.verified,
    }))
}

/// The keyed hash (HMAC with the code key, like password-reset codes) of a phone code: the
/// table never holds the code, and reading the table does not reveal it either.
fn phone_code_hash(state: &AppState, user_id: &str, code: &str) -> String {
    state.keys.hash_code(&format!("phone:{user_id}"), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compare_by_content() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert!(same_hash(&a, &a.clone()));
        assert!(!same_hash(&a, &b));
        assert!(!same_hash(&a, &a[..10]));
    }

    #[test]
    fn the_default_view_lists_every_category_with_security_mandatory() {
        let v = view(&PreferencesRecord::defaults("u1"));
        assert_eq!(v.channels.len(), Category::ALL.len());
        assert!(v.channels["security"].mandatory && !v.channels["orders"].mandatory);
        assert!(
            v.channels
                .values()
                .all(|s| s.in_app && s.email && s.sms && s.push)
        );
        assert!(v.quiet_hours.is_none() && v.phone.is_none());
    }
}
