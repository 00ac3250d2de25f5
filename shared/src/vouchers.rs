//! Vouchers as stored in the table (a shop's or the platform's), and the two writes that
//! redeem one inside a checkout transaction: the total usage counter and the buyer's own
//! counter, each conditional on its limit. Limits are enforced there, at order placement, never
//! when a buyer merely applies a code to the cart.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::checkout::VoucherTerms;
use crate::store::{StoreError, keys, n, tx};

/// Codes: 3–32 characters of A–Z, 0–9, `-` and `_` (upper-cased on input). Checked before
/// upper-casing, so `ß` (which upper-cases to `SS`) is no letter of a code.
pub fn normalise_code(code: &str) -> Option<String> {
    let code = code.trim();
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| code.to_ascii_uppercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    Active,
    /// Switched off by its owner: it can no longer be applied or redeemed.
    Disabled,
}

/// `VOUCHER#<scope>#<code>/VOUCHER`; GSI1 lists the vouchers of a scope by code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoucherRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub code: String,
    /// `None` for a platform voucher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
    /// Marketing campaign a platform voucher belongs to (free text, for listing and reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    pub description: String,
    #[serde(flatten)]
    pub terms: VoucherTerms,
    /// Redemptions allowed in total.
    pub usage_limit: i64,
    /// Redemptions allowed per buyer.
    pub per_user_limit: i64,
    /// Redemptions so far (only ever changed by checkout transactions, under `usage_limit`).
    pub used_count: i64,
    pub status: VoucherStatus,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl VoucherRecord {
    pub fn scope(&self) -> String {
        keys::voucher_scope(self.shop_id.as_deref())
    }

    /// The buyer-facing reason this voucher cannot be used now, if any (limits aside: those
    /// are decided by the redeeming transaction).
    pub fn unusable_reason(&self, now: i64) -> Option<String> {
        if self.status != VoucherStatus::Active {
            return Some("the voucher is no longer available".into());
        }
        if self.used_count >= self.usage_limit {
            return Some("the voucher has been fully redeemed".into());
        }
        if now >= self.terms.ends_at {
            return Some("the voucher has expired".into());
        }
        None
    }
}

/// `VOUCHERUSE#<scope>#<code>#<user>/USAGE`: how often a buyer redeemed a voucher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoucherUsageRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub used: i64,
}

/// The two writes that redeem `voucher` once for `user_id`: the voucher's counter (only while
/// active, in its window and under its total limit) and the buyer's counter (under the
/// per-user limit). Either failing cancels the whole checkout transaction.
pub fn redeem_actions(
    table: &str,
    voucher: &VoucherRecord,
    user_id: &str,
    now: i64,
) -> Result<[TransactWriteItem; 2], StoreError> {
    let scope = voucher.scope();
    Ok([
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::voucher(&scope, &voucher.code),
                update: "ADD used_count :one",
                condition: Some(
                    "#status = :active AND used_count < usage_limit AND starts_at <= :now AND ends_at > :now",
                ),
                names: &[("#status", "status")],
                values: vec![
                    (":one", n(1)),
                    (":now", n(now)),
                    (":active", crate::store::s("active")),
                ],
            },
        )?,
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::voucher_usage(&scope, &voucher.code, user_id),
                update: "ADD used :one",
                condition: Some("attribute_not_exists(used) OR used < :limit"),
                names: &[],
                values: vec![(":one", n(1)), (":limit", n(voucher.per_user_limit))],
            },
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> serde_json::Value {
        json!({
            "PK": "VOUCHER#PLATFORM#TET10", "SK": "VOUCHER", "GSI1PK": "VOUCHERS#PLATFORM",
            "GSI1SK": "TET10", "entity_type": "voucher", "code": "TET10", "description": "Tet",
            "kind": "percentage", "value": 1000, "currency": "VND", "min_spend": 0,
            "max_discount": 50000, "starts_at": 1, "ends_at": 2, "usage_limit": 5,
            "per_user_limit": 1, "used_count": 0, "status": "active", "created_by": "u",
            "created_at": "t", "updated_at": "t"
        })
    }

    #[test]
    fn terms_refuse_unknown_keys_yet_read_flattened_into_the_stored_voucher() {
        let record: VoucherRecord = serde_json::from_value(stored()).unwrap();
        assert_eq!(record.terms.max_discount, Some(50_000));
        assert_eq!(record.used_count, 0);

        let typo = json!({"kind": "fixed", "value": 1, "currency": "VND", "max_discout": 5,
                          "starts_at": 1, "ends_at": 2});
        let err = serde_json::from_value::<VoucherTerms>(typo).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `max_discout`"),
            "{err}"
        );
    }
}
