//! Request and response bodies of the voucher routes, with their validation. A voucher's
//! discount rules travel nested under `terms` (the same `VoucherTerms` the checkout prices
//! with), so a field error names them as `terms.value`, `terms.ends_at`, ….

use serde::{Deserialize, Serialize};
use shared::domain::checkout::VoucherTerms;
use shared::error::FieldError;
use shared::validate::{self, Errors, Validate};
use shared::vouchers::{VoucherRecord, VoucherStatus, normalise_code};
use utoipa::{IntoParams, ToSchema};

/// Largest total or per-buyer redemption limit.
pub const MAX_USAGE_LIMIT: i64 = 1_000_000_000;

/// A new voucher. Shop vouchers (`POST /api/v1/shops/{id}/vouchers`) take no `campaign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVoucherRequest {
    /// 3–32 letters, digits, `-` or `_`; upper-cased. Unique within the shop (or the platform).
    #[schema(example = "TET10", pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub code: String,
    #[schema(
        example = "10% off for Tet, up to 50 000 đ",
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub description: String,
    pub terms: VoucherTerms,
    /// Redemptions allowed in total, 1 to 10^9.
    #[schema(example = 500, minimum = 1, maximum = 1_000_000_000_i64)]
    pub usage_limit: i64,
    /// Redemptions allowed per buyer, 1 to 10^9 and at most `usage_limit` (default 1).
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub per_user_limit: Option<i64>,
    /// Marketing campaign of a platform voucher (free text; platform vouchers only).
    #[schema(
        max_length = 80,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub campaign: Option<String>,
}

fn check_limits(e: &mut Errors, usage_limit: i64, per_user_limit: i64) {
    if !(1..=MAX_USAGE_LIMIT).contains(&usage_limit) {
        e.push("usage_limit", "must be 1 to 10^9 redemptions");
    }
    if !(1..=MAX_USAGE_LIMIT).contains(&per_user_limit) {
        e.push("per_user_limit", "must be 1 to 10^9 redemptions");
    } else if per_user_limit > usage_limit {
        e.push("per_user_limit", "must not exceed usage_limit");
    }
}

fn check_common(
    e: &mut Errors,
    description: &mut String,
    terms: &VoucherTerms,
    campaign: &mut Option<String>,
) {
    e.check(validate::text("description", description, 1, 500));
    e.0.extend(terms.check("terms"));
    e.check(validate::optional_text("campaign", campaign, 80));
}

impl Validate for CreateVoucherRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        match normalise_code(&self.code) {
            Some(code) => self.code = code,
            None => e.push("code", "must be 3-32 letters, digits, '-' or '_'"),
        }
        check_common(
            &mut e,
            &mut self.description,
            &self.terms,
            &mut self.campaign,
        );
        if self.terms.ends_at > self.terms.starts_at && self.terms.ends_at <= shared::now_epoch() {
            e.push("terms.ends_at", "must be in the future");
        }
        let per_user = *self.per_user_limit.get_or_insert(1);
        check_limits(&mut e, self.usage_limit, per_user);
        e.finish()
    }
}

/// A voucher's editable fields, replaced as a whole. The code, the scope and the redemption
/// counter never change; `usage_limit` may not go below the redemptions so far.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVoucherRequest {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub description: String,
    pub terms: VoucherTerms,
    /// Redemptions allowed in total, 1 to 10^9 (not below the redemptions so far).
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub usage_limit: i64,
    /// Redemptions allowed per buyer, 1 to 10^9 and at most `usage_limit`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub per_user_limit: i64,
    /// `disabled` switches it off: it can no longer be applied or redeemed.
    pub status: VoucherStatus,
    /// Platform vouchers only; `null` or absent removes it.
    #[schema(
        max_length = 80,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub campaign: Option<String>,
}

impl Validate for UpdateVoucherRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_common(
            &mut e,
            &mut self.description,
            &self.terms,
            &mut self.campaign,
        );
        check_limits(&mut e, self.usage_limit, self.per_user_limit);
        e.finish()
    }
}

/// A voucher as the API shows it. Counters are shown to the shop's sellers (or, for platform
/// vouchers, admins) only; they are `null` in public listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Voucher {
    pub code: String,
    /// `null` for a platform voucher.
    pub shop_id: Option<String>,
    pub campaign: Option<String>,
    pub description: String,
    pub terms: VoucherTerms,
    pub usage_limit: i64,
    pub per_user_limit: i64,
    /// Redemptions so far (owners only).
    pub used_count: Option<i64>,
    /// `usage_limit - used_count` (owners only).
    pub remaining: Option<i64>,
    pub status: VoucherStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl Voucher {
    /// The view of a stored voucher; `counters` for its owners.
    pub fn of(v: VoucherRecord, counters: bool) -> Self {
        Self {
            used_count: counters.then_some(v.used_count),
            remaining: counters.then_some((v.usage_limit - v.used_count).max(0)),
            code: v.code,
            shop_id: v.shop_id,
            campaign: v.campaign,
            description: v.description,
            terms: v.terms,
            usage_limit: v.usage_limit,
            per_user_limit: v.per_user_limit,
            status: v.status,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// `?campaign=` for the platform voucher list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only the vouchers of this campaign (exact label).
    pub campaign: Option<String>,
}
