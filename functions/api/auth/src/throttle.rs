//! Failed-login throttling per e-mail address (whether or not an account exists, so the
//! throttle itself reveals nothing). After 5 failures within 15 minutes the address is locked
//! for 1 minute, doubling per further failure, at most 15 minutes.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::Deserialize;
use shared::store::{StoreError, classify, from_item, key, keys, n};
use shared::{ApiError, AppState};

const WINDOW_SECS: i64 = 15 * 60;
const FREE_FAILURES: u32 = 5;
const BASE_LOCK_SECS: i64 = 60;
const MAX_LOCK_SECS: i64 = 15 * 60;

#[derive(Debug, Deserialize)]
struct Counter {
    failures: u32,
    #[serde(default)]
    locked_until: i64,
    expires_at: i64,
}

/// Lock duration after the `failures`-th failure (0 while under the free allowance).
pub fn lock_secs(failures: u32) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(10);
    (BASE_LOCK_SECS << doublings).min(MAX_LOCK_SECS)
}

/// Rejects the attempt with 429 + Retry-After while the address is locked. Returns whether
/// a counter exists (so a successful login only clears one that is there).
pub async fn check(state: &AppState, email: &str) -> Result<bool, ApiError> {
    let now = shared::now_epoch();
    let Some(c) = state.db.get::<Counter>(keys::login_throttle(email)).await? else {
        return Ok(false);
    };
    if c.expires_at > now && c.locked_until > now {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: (c.locked_until - now) as u64,
            detail: "too many failed logins for this account; wait before trying again".into(),
        });
    }
    Ok(true)
}

/// Counts one failure atomically (ADD), starting a new window when the old one is over.
pub async fn record_failure(state: &AppState, email: &str) -> Result<(), ApiError> {
    let now = shared::now_epoch();
    let k = key(keys::login_throttle(email));
    let counted = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(k.clone()))
        .update_expression(
            "ADD failures :one SET expires_at = if_not_exists(expires_at, :window_end)",
        )
        .condition_expression("attribute_not_exists(PK) OR expires_at > :now")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":window_end", n(now + WINDOW_SECS))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(classify);
    let counter: Counter = match counted {
        Ok(out) => from_item(out.attributes.unwrap_or_default())?,
        Err(StoreError::ConditionFailed) => {
            // The previous window is over: start a new one (a racing request may win; either
            // way exactly one fresh window exists afterwards).
            let fresh = state
                .db
                .client
                .update_item()
                .table_name(&state.db.table)
                .set_key(Some(k.clone()))
                .update_expression(
                    "SET failures = :one, expires_at = :window_end, locked_until = :zero",
                )
                .condition_expression("expires_at <= :now")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":window_end", n(now + WINDOW_SECS))
                .send()
                .await
                .map_err(classify);
            return match fresh {
                Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let lock = lock_secs(counter.failures);
    if lock > 0 {
        state
            .db
            .client
            .update_item()
            .table_name(&state.db.table)
            .set_key(Some(k))
            .update_expression("SET locked_until = :until, expires_at = :until_window")
            .expression_attribute_values(":until", n(now + lock))
            .expression_attribute_values(":until_window", n((now + lock).max(counter.expires_at)))
            .send()
            .await
            .map_err(classify)?;
    }
    Ok(())
}

/// A successful login clears the counter.
pub async fn clear(state: &AppState, email: &str) -> Result<(), ApiError> {
    state.db.delete(keys::login_throttle(email)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lock_secs;

    #[test]
    fn the_lock_starts_at_the_fifth_failure_and_doubles_up_to_fifteen_minutes() {
        assert_eq!(lock_secs(4), 0);
        assert_eq!(lock_secs(5), 60);
        assert_eq!(lock_secs(6), 120);
        assert_eq!(lock_secs(9), 900);
        assert_eq!(lock_secs(40), 900);
    }
}
