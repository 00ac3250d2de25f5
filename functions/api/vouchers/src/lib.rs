//! `/api/v1/shops/{id}/vouchers` and `/api/v1/vouchers`: vouchers of a shop (its sellers) and
//! of the platform (admins, grouped by campaign). A voucher is one item
//! `VOUCHER#<scope>#<code>/VOUCHER`, created with a condition that makes its code unique in its
//! scope and listed by code through GSI1. Edits are one conditional UpdateItem that never
//! touches the redemption counter (only checkout transactions change it) and never lets the
//! total limit fall below it. Buyers see the active, unexpired, not fully redeemed vouchers;
//! owners see all of them with their counters.

pub mod model;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::auth::Role;
use shared::catalog::{Capability, ShopRecord, ShopStatus, authorize_shop};
use shared::http::{AuthUser, ListResponse, MaybeAuthUser, PageQuery, Query, ValidJson};
use shared::store::{Filter, QuerySpec, StoreError, classify, from_item, key, keys, n, s, to_item};
use shared::vouchers::{VoucherRecord, VoucherStatus, normalise_code};
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "vouchers";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(create_shop_voucher, list_shop_vouchers))
        .routes(routes!(update_shop_voucher))
        .routes(routes!(create_platform_voucher, list_platform_vouchers))
        .routes(routes!(update_platform_voucher))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn voucher_not_found() -> ApiError {
    ApiError::NotFound("no voucher with this code".into())
}

fn shop_not_found() -> ApiError {
    ApiError::NotFound("no such shop".into())
}

fn enum_value<T: serde::Serialize>(value: T) -> Result<AttributeValue, ApiError> {
    serde_dynamo::to_attribute_value(value).map_err(ApiError::internal)
}

/// Writes a new voucher; its code must be free in its scope.
async fn create(
    state: &AppState,
    caller: &AuthUser,
    shop_id: Option<&str>,
    req: CreateVoucherRequest,
) -> Result<Response, ApiError> {
    let scope = keys::voucher_scope(shop_id);
    let (pk, sk) = keys::voucher(&scope, &req.code);
    let now = shared::now_rfc3339();
    let record = VoucherRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_vouchers(&scope),
        gsi1sk: req.code.clone(),
        entity_type: "voucher".into(),
        code: req.code,
        shop_id: shop_id.map(str::to_owned),
        campaign: req.campaign,
        description: req.description,
        terms: req.terms,
        usage_limit: req.usage_limit,
        per_user_limit: req.per_user_limit.unwrap_or(1),
        used_count: 0,
        status: VoucherStatus::Active,
        created_by: caller.id().to_owned(),
        created_at: now.clone(),
        updated_at: now,
    };
    match state.db.put_new(&record).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::Conflict(format!(
                "code: a voucher with the code {} already exists {}",
                record.code,
                if shop_id.is_some() {
                    "in this shop"
                } else {
                    "on the platform"
                }
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(code = %record.code, scope = %scope, "voucher created");
    Ok((StatusCode::CREATED, Json(Voucher::of(record, true))).into_response())
}

/// Replaces a voucher's editable fields in one conditional UpdateItem: the voucher must exist
/// and have been redeemed at most `usage_limit` times. `used_count` is never written.
async fn update(
    state: &AppState,
    scope: &str,
    code: &str,
    req: UpdateVoucherRequest,
) -> Result<Voucher, ApiError> {
    let code = normalise_code(code).ok_or_else(voucher_not_found)?;
    let mut sets: Vec<(&str, AttributeValue)> = vec![
        ("description", s(req.description)),
        ("usage_limit", n(req.usage_limit)),
        ("per_user_limit", n(req.per_user_limit)),
        ("status", enum_value(req.status)?),
        ("updated_at", s(shared::now_rfc3339())),
    ];
    let terms = to_item(&req.terms)?;
    let term_names: Vec<String> = terms.keys().cloned().collect();
    for name in &term_names {
        sets.push((name.as_str(), terms[name].clone()));
    }
    let mut removes: Vec<&str> = Vec::new();
    if req.terms.max_discount.is_none() {
        removes.push("max_discount");
    }
    match req.campaign {
        Some(c) => sets.push(("campaign", s(c))),
        None => removes.push("campaign"),
    }
    let mut request = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::voucher(scope, &code))))
        .condition_expression("attribute_exists(PK) AND used_count <= :limit")
        .expression_attribute_values(":limit", n(req.usage_limit))
        .return_values(ReturnValue::AllNew);
    let mut set_parts = Vec::new();
    for (i, (name, value)) in sets.into_iter().enumerate() {
        set_parts.push(format!("#s{i} = :s{i}"));
        request = request
            .expression_attribute_names(format!("#s{i}"), name)
            .expression_attribute_values(format!(":s{i}"), value);
    }
    let mut expression = format!("SET {}", set_parts.join(", "));
    if !removes.is_empty() {
        let mut parts = Vec::new();
        for (i, name) in removes.into_iter().enumerate() {
            parts.push(format!("#r{i}"));
            request = request.expression_attribute_names(format!("#r{i}"), name);
        }
        expression.push_str(&format!(" REMOVE {}", parts.join(", ")));
    }
    match request.update_expression(expression).send().await {
        Ok(out) => {
            let record: VoucherRecord = from_item(out.attributes.unwrap_or_default())?;
            tracing::info!(code = %record.code, scope, status = ?record.status, "voucher updated");
            Ok(Voucher::of(record, true))
        }
        Err(e) => match classify(e) {
            StoreError::ConditionFailed => {
                let current: Option<VoucherRecord> =
                    state.db.get(keys::voucher(scope, &code)).await?;
                match current {
                    None => Err(voucher_not_found()),
                    Some(v) => Err(ApiError::field(
                        "usage_limit",
                        format!(
                            "must be at least the {} redemptions made so far",
                            v.used_count
                        ),
                    )),
                }
            }
            other => Err(other.into()),
        },
    }
}

/// One page of a scope's vouchers by code: all of them for its owners, else only those a buyer
/// can use (active, not expired, not fully redeemed). Optionally only one campaign's.
async fn list(
    state: &AppState,
    scope: &str,
    owner: bool,
    campaign: Option<String>,
    page: PageQuery,
) -> Result<ListResponse<Voucher>, ApiError> {
    let page = page.pagination()?;
    let mut conditions = Vec::new();
    let mut names: Vec<(&str, &str)> = Vec::new();
    let mut values: Vec<(&str, AttributeValue)> = Vec::new();
    if !owner {
        conditions.push("#status = :active AND ends_at > :now AND used_count < usage_limit");
        names.push(("#status", "status"));
        values.push((":active", enum_value(VoucherStatus::Active)?));
        values.push((":now", n(shared::now_epoch())));
    }
    if let Some(c) = campaign {
        conditions.push("campaign = :campaign");
        values.push((":campaign", s(c)));
    }
    let expression = conditions.join(" AND ");
    let filter = (!conditions.is_empty()).then(|| Filter {
        expression: &expression,
        names: &names,
        values,
    });
    let result = state
        .db
        .query_page_filtered::<VoucherRecord>(
            QuerySpec {
                index: Some("GSI1"),
                pk: keys::gsi1_vouchers(scope),
                sk_prefix: None,
                ascending: true,
                limit: page.limit,
                start: page.start,
            },
            filter,
        )
        .await?;
    Ok(ListResponse {
        items: result
            .items
            .into_iter()
            .map(|v| Voucher::of(v, owner))
            .collect(),
        next_cursor: result.next_cursor,
    })
}

fn no_campaign_for_shops(campaign: &Option<String>) -> Result<(), ApiError> {
    if campaign.is_some() {
        return Err(ApiError::field(
            "campaign",
            "only platform vouchers belong to a campaign",
        ));
    }
    Ok(())
}

/// Seller: create a voucher of the shop (owners, and managers or staff of the shop).
#[utoipa::path(post, path = "/api/v1/shops/{id}/vouchers", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = CreateVoucherRequest,
    responses(
        (status = 201, description = "The voucher, active, with its counters", body = Voucher),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shop already has a voucher with this code", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_shop_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    ValidJson(req): ValidJson<CreateVoucherRequest>,
) -> Result<Response, ApiError> {
    no_campaign_for_shops(&req.campaign)?;
    authorize_shop(&state.db, &caller, &shop_id, Capability::FulfilOrders).await?;
    create(&state, &caller, Some(&shop_id), req).await
}

/// The shop's vouchers by code. Buyers (and anonymous callers) see those they can use now or
/// soon; the shop's sellers and admins see all of them, with their redemption counters.
#[utoipa::path(get, path = "/api/v1/shops/{id}/vouchers", tag = TAG,
    params(("id" = String, Path, description = "Shop id"), PageQuery),
    responses(
        (status = 200, description = "Vouchers by code", body = ListResponse<Voucher>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (active) shop", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn list_shop_vouchers(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    Path(shop_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<ListResponse<Voucher>>, ApiError> {
    page.pagination()?;
    let shop: ShopRecord = state
        .db
        .get(keys::shop_profile(&shop_id))
        .await?
        .ok_or_else(shop_not_found)?;
    let owner = match &caller {
        None => false,
        Some(c) => match authorize_shop(&state.db, c, &shop_id, Capability::FulfilOrders).await {
            Ok(_) => true,
            Err(ApiError::NotFound(_) | ApiError::Forbidden(_)) => false,
            Err(e) => return Err(e),
        },
    };
    if !owner && shop.status != ShopStatus::Active {
        return Err(shop_not_found());
    }
    let scope = keys::voucher_scope(Some(&shop_id));
    Ok(Json(list(&state, &scope, owner, None, page).await?))
}

/// Seller: replace a shop voucher's description, terms, limits and status.
#[utoipa::path(put, path = "/api/v1/shops/{id}/vouchers/{code}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), ("code" = String, Path, description = "Voucher code")),
    request_body = UpdateVoucherRequest,
    responses(
        (status = 200, description = "The voucher as updated", body = Voucher),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations, or no such voucher in it", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_shop_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((shop_id, code)): Path<(String, String)>,
    ValidJson(req): ValidJson<UpdateVoucherRequest>,
) -> Result<Json<Voucher>, ApiError> {
    no_campaign_for_shops(&req.campaign)?;
    authorize_shop(&state.db, &caller, &shop_id, Capability::FulfilOrders).await?;
    let scope = keys::voucher_scope(Some(&shop_id));
    Ok(Json(update(&state, &scope, &code, req).await?))
}

/// Admin: create a platform voucher (usable on any cart), optionally in a campaign.
#[utoipa::path(post, path = "/api/v1/vouchers", tag = TAG, security(("bearer" = [])),
    request_body = CreateVoucherRequest,
    responses(
        (status = 201, description = "The voucher, active, with its counters", body = Voucher),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A platform voucher with this code exists", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_platform_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<CreateVoucherRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Admin)?;
    create(&state, &caller, None, req).await
}

/// Platform vouchers by code, optionally of one campaign. Admins see all of them with their
/// counters; everyone else the ones they can use.
#[utoipa::path(get, path = "/api/v1/vouchers", tag = TAG,
    params(CampaignQuery, PageQuery),
    responses(
        (status = 200, description = "Vouchers by code", body = ListResponse<Voucher>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn list_platform_vouchers(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    Query(filter): Query<CampaignQuery>,
    Query(page): Query<PageQuery>,
) -> Result<Json<ListResponse<Voucher>>, ApiError> {
    let admin = caller.is_some_and(|c| c.user.has_role(Role::Admin));
    let campaign = filter.campaign.filter(|c| !c.trim().is_empty());
    let scope = keys::voucher_scope(None);
    Ok(Json(list(&state, &scope, admin, campaign, page).await?))
}

/// Admin: replace a platform voucher's description, terms, limits, status and campaign.
#[utoipa::path(put, path = "/api/v1/vouchers/{code}", tag = TAG, security(("bearer" = [])),
    params(("code" = String, Path, description = "Voucher code")),
    request_body = UpdateVoucherRequest,
    responses(
        (status = 200, description = "The voucher as updated", body = Voucher),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No platform voucher with this code", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_platform_voucher(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(code): Path<String>,
    ValidJson(req): ValidJson<UpdateVoucherRequest>,
) -> Result<Json<Voucher>, ApiError> {
    caller.require_role(Role::Admin)?;
    let scope = keys::voucher_scope(None);
    Ok(Json(update(&state, &scope, &code, req).await?))
}
