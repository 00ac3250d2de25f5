//! Login sessions: a refresh-token family per login. The token presented must match the
//! family's current hash; a mismatch means an old (rotated) token was replayed, so the whole
//! family is revoked.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};
use shared::auth::{self, REFRESH_FAMILY_TTL_SECS};
use shared::identity::{UserRecord, load_user};
use shared::store::{StoreError, classify, from_item, key, keys, n, s};
use shared::{ApiError, AppState};

use crate::model::TokenPair;

/// `REFRESH#<family>/FAMILY`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefreshFamily {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    /// SHA-256 of the current token's secret part.
    pub token_hash: String,
    pub session_version: u64,
    pub revoked: bool,
    pub created_at: String,
    pub expires_at: i64,
}

fn invalid() -> ApiError {
    ApiError::Unauthorized(
        "the refresh token is invalid, expired or already used; log in again".into(),
    )
}

/// `<family id>.<secret>` → (family id, secret).
fn split(token: &str) -> Result<(&str, &str), ApiError> {
    token
        .split_once('.')
        .filter(|(f, s)| !f.is_empty() && !s.is_empty())
        .ok_or_else(invalid)
}

/// Starts a new session for the user: a new family and its first token pair.
pub async fn start(state: &AppState, user: &UserRecord) -> Result<TokenPair, ApiError> {
    let family_id = ulid::Ulid::new().to_string();
    let secret = auth::random_token();
    let now = shared::now_epoch();
    let (pk, sk) = keys::refresh_family(&family_id);
    let family = RefreshFamily {
        pk,
        sk,
        entity_type: "refresh_family".into(),
        user_id: user.id.clone(),
        token_hash: auth::sha256_hex(&secret),
        session_version: user.session_version,
        revoked: false,
        created_at: shared::now_rfc3339(),
        expires_at: now + REFRESH_FAMILY_TTL_SECS,
    };
    // A plain put: the family id is fresh and random, and an unconditional write stays correct
    // when the SDK retries an attempt that had in fact succeeded.
    state
        .db
        .client
        .put_item()
        .table_name(&state.db.table)
        .set_item(Some(shared::store::to_item(&family)?))
        .send()
        .await
        .map_err(shared::store::classify)?;
    Ok(pair(state, user, &family_id, &secret, now))
}

fn pair(state: &AppState, user: &UserRecord, family_id: &str, secret: &str, now: i64) -> TokenPair {
    TokenPair {
        access_token: state
            .keys
            .issue(&user.id, user.session_version, &user.roles, now),
        refresh_token: format!("{family_id}.{secret}"),
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_TOKEN_TTL_SECS,
    }
}

/// Rotates the family's token. A replayed old token revokes the family.
pub async fn rotate(state: &AppState, token: &str) -> Result<TokenPair, ApiError> {
    let (family_id, secret) = split(token)?;
    let presented = auth::sha256_hex(secret);
    let next_secret = auth::random_token();
    let now = shared::now_epoch();
    let result = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::refresh_family(family_id))))
        .update_expression("SET token_hash = :next, rotated_at = :now_s")
        .condition_expression("token_hash = :presented AND revoked = :false AND expires_at > :now")
        .expression_attribute_values(":next", s(auth::sha256_hex(&next_secret)))
        .expression_attribute_values(":presented", s(&presented))
        .expression_attribute_values(
            ":false",
            aws_sdk_dynamodb::types::AttributeValue::Bool(false),
        )
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":now_s", s(shared::now_rfc3339()))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(classify);
    let family: RefreshFamily = match result {
        Ok(out) => from_item(out.attributes.unwrap_or_default())?,
        Err(StoreError::ConditionFailed) => {
            detect_reuse(state, family_id, &presented).await?;
            return Err(invalid());
        }
        Err(e) => return Err(e.into()),
    };
    let user = load_user(&state.db, &family.user_id).await?;
    match user {
        Some(user) if user.is_active() && user.session_version == family.session_version => {
            Ok(pair(state, &user, family_id, &next_secret, now))
        }
        _ => {
            revoke_family(state, family_id).await?;
            Err(invalid())
        }
    }
}

/// The presented token did not match: if the family is live, the token was an older one of
/// the family being replayed (stolen or duplicated), so nobody may use the family any more.
async fn detect_reuse(state: &AppState, family_id: &str, presented: &str) -> Result<(), ApiError> {
    if let Some(family) = state
        .db
        .get::<RefreshFamily>(keys::refresh_family(family_id))
        .await?
        && !family.revoked
        && family.token_hash != presented
    {
        tracing::warn!(family_id, user_id = %family.user_id, "refresh token reuse detected; revoking the session");
        revoke_family(state, family_id).await?;
    }
    Ok(())
}

/// Marks the family revoked; with `holder_hash`, only if that is its current token.
async fn revoke(
    state: &AppState,
    family_id: &str,
    holder_hash: Option<String>,
) -> Result<(), ApiError> {
    let (condition, presented) = match holder_hash {
        Some(hash) => ("token_hash = :presented", Some(s(hash))),
        None => ("attribute_exists(PK)", None),
    };
    let result = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::refresh_family(family_id))))
        .update_expression("SET revoked = :true")
        .condition_expression(condition)
        .expression_attribute_values(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true));
    let result = match presented {
        Some(v) => result.expression_attribute_values(":presented", v),
        None => result,
    }
    .send()
    .await
    .map_err(classify);
    match result {
        // Revoking an unknown or someone else's session is a silent no-op (RFC 7009 §2.2).
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn revoke_family(state: &AppState, family_id: &str) -> Result<(), ApiError> {
    revoke(state, family_id, None).await
}

/// Logout: revokes the family, but only for the holder of its current token.
pub async fn end(state: &AppState, token: &str) -> Result<(), ApiError> {
    let Ok((family_id, secret)) = split(token) else {
        return Ok(());
    };
    revoke(state, family_id, Some(auth::sha256_hex(secret))).await
}
