//! `/api/v1/organizations/*` and `/api/v1/shops/*`: seller organisations with their members,
//! shops (public pages, name and location search), and admin suspension. Every back-office
//! read and write is scoped by organisation membership (`shared::catalog::authorize_shop`).

pub mod invitations;
pub mod model;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::Role;
use shared::catalog::{
    Capability, MemberRecord, MemberRole, OrgRecord, ShopRecord, ShopStatus, authorize_shop,
};
use shared::events::{DomainEvent, ShopUpdated};
use shared::http::{AuthUser, ListResponse, PageQuery, Query, ValidJson, no_content};
use shared::identity::find_user_by_email;
use shared::store::{QuerySpec, StoreError, keys, tx};
use shared::{ApiError, AppState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "shops";
/// Location searches are bounded so a query touches a bounded number of geohash cells.
pub const MAX_RADIUS_KM: f64 = 50.0;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(create_org, list_my_orgs))
        .routes(routes!(get_org))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(
            invitations::create_invitation,
            invitations::list_invitations
        ))
        .routes(routes!(invitations::revoke_invitation))
        .routes(routes!(invitations::accept_invitation))
        .routes(routes!(create_shop, list_org_shops))
        .routes(routes!(search_shops))
        .routes(routes!(get_shop, update_shop))
        .routes(routes!(set_shop_status))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn org_not_found() -> ApiError {
    ApiError::NotFound("no organisation with this id among yours".into())
}

/// The caller's membership of an organisation (admins act as owners).
async fn membership(
    state: &AppState,
    caller: &AuthUser,
    org_id: &str,
) -> Result<Option<MemberRecord>, ApiError> {
    let member: Option<MemberRecord> = state.db.get(keys::org_member(org_id, caller.id())).await?;
    if member.is_none() && !caller.user.has_role(Role::Admin) {
        return Err(org_not_found());
    }
    Ok(member)
}

async fn require_owner(state: &AppState, caller: &AuthUser, org_id: &str) -> Result<(), ApiError> {
    match membership(state, caller, org_id).await? {
        Some(m) if m.role != MemberRole::Owner => Err(ApiError::Forbidden(
            "only the organisation's owners may do this".into(),
        )),
        _ => Ok(()),
    }
}

fn org_view(org: OrgRecord, role: Option<MemberRole>) -> Organization {
    Organization {
        id: org.id,
        name: org.name,
        legal_name: org.legal_name,
        tax_id: org.tax_id,
        created_at: org.created_at,
        your_role: role,
    }
}

/// Create a seller organisation; the caller (a seller) becomes its owner.
#[utoipa::path(post, path = "/api/v1/organizations", tag = TAG, security(("bearer" = [])),
    request_body = CreateOrgRequest,
    responses(
        (status = 201, description = "The organisation", body = Organization),
        (status = 403, description = "The caller is not a seller", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_org(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<CreateOrgRequest>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Seller)?;
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::org_profile(&id);
    let org = OrgRecord {
        pk,
        sk,
        entity_type: "organization".into(),
        id: id.clone(),
        name: req.name,
        legal_name: req.legal_name,
        tax_id: req.tax_id,
        created_by: caller.id().into(),
        created_at: shared::now_rfc3339(),
    };
    let owner = MemberRecord::new(
        &id,
        caller.id(),
        &caller.user.email,
        MemberRole::Owner,
        Vec::new(),
    );
    let table = &state.db.table;
    state
        .db
        .transact(vec![tx::put_new(table, &org)?, tx::put_new(table, &owner)?])
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(org_view(org, Some(MemberRole::Owner))),
    )
        .into_response())
}

/// The organisations the caller belongs to.
#[utoipa::path(get, path = "/api/v1/organizations", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's organisations (name and the caller's role), one batched read after the memberships query", body = ListResponse<Membership>),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_my_orgs(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<ListResponse<Membership>>, ApiError> {
    let page = state
        .db
        .query_page::<MemberRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::gsi1_memberships(caller.id()),
            sk_prefix: None,
            ascending: true,
            limit: 100,
            start: None,
        })
        .await?;
    let wanted: Vec<(String, String)> = page
        .items
        .iter()
        .map(|m| keys::org_profile(&m.org_id))
        .collect();
    let mut names = std::collections::HashMap::new();
    for item in state.db.batch_get(&wanted).await? {
        let org: OrgRecord = shared::store::from_item(item)?;
        names.insert(org.id, org.name);
    }
    Ok(Json(ListResponse {
        items: page
            .items
            .iter()
            .map(|m| Membership {
                org_id: m.org_id.clone(),
                org_name: names.get(&m.org_id).cloned().unwrap_or_default(),
                role: m.role,
                shop_ids: m.shop_ids.clone(),
                added_at: m.added_at.clone(),
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// An organisation the caller belongs to.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = Organization),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_org(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Organization>, ApiError> {
    let member = membership(&state, &caller, &id).await?;
    let org: OrgRecord = state
        .db
        .get(keys::org_profile(&id))
        .await?
        .ok_or_else(org_not_found)?;
    Ok(Json(org_view(org, member.map(|m| m.role))))
}

/// Members of an organisation (any member may see them).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/members", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "All members", body = ListResponse<Member>),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_members(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<Member>>, ApiError> {
    membership(&state, &caller, &id).await?;
    let page = state
        .db
        .query_page::<MemberRecord>(QuerySpec {
            index: None,
            pk: keys::org_pk(&id),
            sk_prefix: Some(keys::MEMBER_PREFIX.into()),
            ascending: true,
            limit: 100,
            start: None,
        })
        .await?;
    Ok(Json(ListResponse {
        items: page.items.iter().map(Member::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Checks every named shop belongs to the organisation.
async fn check_shops_in_org(
    state: &AppState,
    org_id: &str,
    shop_ids: &[String],
) -> Result<(), ApiError> {
    for (i, shop_id) in shop_ids.iter().enumerate() {
        let shop: Option<ShopRecord> = state.db.get(keys::shop_profile(shop_id)).await?;
        if shop.is_none_or(|s| s.org_id != org_id) {
            return Err(ApiError::field(
                format!("shop_ids[{i}]"),
                "is not a shop of this organisation",
            ));
        }
    }
    Ok(())
}

/// Owner: add an existing account to the organisation with a role (and, for managers and
/// staff, the shops they work on).
#[utoipa::path(post, path = "/api/v1/organizations/{id}/members", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "The new member", body = Member),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's, or no account with that e-mail", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn add_member(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<AddMemberRequest>,
) -> Result<Response, ApiError> {
    require_owner(&state, &caller, &id).await?;
    check_shops_in_org(&state, &id, &req.shop_ids).await?;
    shared::warehouses::check_warehouses_in_org(&state.db, &id, &req.warehouse_ids).await?;
    let user = find_user_by_email(&state.db, &req.email)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("no account with this e-mail; ask them to register first".into())
        })?;
    let mut member = MemberRecord::new(&id, &user.id, &user.email, req.role, req.shop_ids);
    member.warehouse_ids = req.warehouse_ids;
    match state.db.put_new(&member).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(Member::from(&member))).into_response()),
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict(
            "this account is already a member".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Owner: change a member's role, shops and warehouses.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/members/{user_id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id"), ("user_id" = String, Path, description = "Member's user id")),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The member", body = Member),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or member", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "That would leave the organisation without an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_member(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, user_id)): Path<(String, String)>,
    ValidJson(req): ValidJson<UpdateMemberRequest>,
) -> Result<Json<Member>, ApiError> {
    require_owner(&state, &caller, &id).await?;
    if user_id == caller.id() && req.role != MemberRole::Owner {
        return Err(ApiError::Conflict(
            "you cannot demote yourself; another owner must do it".into(),
        ));
    }
    check_shops_in_org(&state, &id, &req.shop_ids).await?;
    shared::warehouses::check_warehouses_in_org(&state.db, &id, &req.warehouse_ids).await?;
    let existing: MemberRecord = state
        .db
        .get(keys::org_member(&id, &user_id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such member".into()))?;
    let mut member = MemberRecord::new(&id, &user_id, &existing.email, req.role, req.shop_ids);
    member.warehouse_ids = req.warehouse_ids;
    member.added_at = existing.added_at;
    state
        .db
        .transact(vec![tx::put(
            &state.db.table,
            &member,
            Some("attribute_exists(PK)"),
        )?])
        .await?;
    Ok(Json(Member::from(&member)))
}

/// Owner: remove a member.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/members/{user_id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id"), ("user_id" = String, Path, description = "Member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or member", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Owners cannot remove themselves", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn remove_member(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_owner(&state, &caller, &id).await?;
    if user_id == caller.id() {
        return Err(ApiError::Conflict(
            "you cannot remove yourself; another owner must do it".into(),
        ));
    }
    match state
        .db
        .transact(vec![tx::delete(
            &state.db.table,
            keys::org_member(&id, &user_id),
            Some("attribute_exists(PK)"),
            vec![],
        )?])
        .await
    {
        Ok(()) => Ok(no_content()),
        Err(e) if e.failed_condition_index().is_some() => {
            Err(ApiError::NotFound("no such member".into()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Serialize)]
struct OrgShopPointer {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    shop_id: String,
}

/// Owner: open a shop in the organisation.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/shops", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    request_body = ShopInput,
    responses(
        (status = 201, description = "The shop", body = Shop),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_shop(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(org_id): Path<String>,
    ValidJson(req): ValidJson<ShopInput>,
) -> Result<Response, ApiError> {
    require_owner(&state, &caller, &org_id).await?;
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::shop_profile(&id);
    let now = shared::now_rfc3339();
    let mut shop = ShopRecord {
        pk,
        sk,
        gsi1pk: None,
        gsi1sk: None,
        gsi2pk: None,
        gsi2sk: None,
        entity_type: "shop".into(),
        id: id.clone(),
        org_id: org_id.clone(),
        name: req.name,
        description: req.description,
        logo_url: req.logo_url,
        address: req.address,
        opening_hours: req.opening_hours,
        status: ShopStatus::Active,
        created_at: now.clone(),
        updated_at: now,
        rev: 0,
    };
    shop.index();
    let (ppk, psk) = keys::org_shop(&org_id, &id);
    let pointer = OrgShopPointer {
        pk: ppk,
        sk: psk,
        entity_type: "org_shop",
        shop_id: id,
    };
    let table = &state.db.table;
    let mut actions = vec![
        tx::check_exists(table, keys::org_profile(&org_id))?,
        tx::put_new(table, &shop)?,
        tx::put_new(table, &pointer)?,
    ];
    // Every shop starts with one warehouse at its address, where new products' stock goes.
    actions.extend(shared::warehouses::default_warehouse_actions(table, &shop)?);
    state.db.transact(actions).await?;
    Ok((StatusCode::CREATED, Json(Shop::from(&shop))).into_response())
}

/// The shops of an organisation (members only; includes suspended ones).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/shops", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The shops", body = ListResponse<Shop>),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_org_shops(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(org_id): Path<String>,
) -> Result<Json<ListResponse<Shop>>, ApiError> {
    let member = membership(&state, &caller, &org_id).await?;
    #[derive(Deserialize)]
    struct Pointer {
        shop_id: String,
    }
    let pointers = state
        .db
        .query_page::<Pointer>(QuerySpec {
            index: None,
            pk: keys::org_pk(&org_id),
            sk_prefix: Some(keys::ORG_SHOP_PREFIX.into()),
            ascending: true,
            limit: 100,
            start: None,
        })
        .await?;
    let mut items = Vec::new();
    for p in pointers.items {
        if member.as_ref().is_some_and(|m| !m.covers(&p.shop_id)) {
            continue; // a manager or staff member sees only their shops
        }
        if let Some(shop) = state
            .db
            .get::<ShopRecord>(keys::shop_profile(&p.shop_id))
            .await?
        {
            items.push(Shop::from(&shop));
        }
    }
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopSearch {
    /// Name prefix (case-insensitive).
    pub q: Option<String>,
    /// Latitude of the point to search around (with `lng` and `radius_km`).
    #[param(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// Longitude of that point (with `lat`).
    #[param(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// Search radius in km, more than 0 and up to 50 (default 5).
    #[param(exclusive_minimum = 0, maximum = 50)]
    pub radius_km: Option<f64>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page (name search only).
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Public: search active shops by name prefix, or the nearest ones within a radius.
#[utoipa::path(get, path = "/api/v1/shops", tag = TAG,
    params(ShopSearch),
    responses(
        (status = 200, description = "Shops by name, or by distance (nearest first, `distance_km` set)", body = ListResponse<Shop>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid coordinates, radius, limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn search_shops(
    State(state): State<AppState>,
    Query(q): Query<ShopSearch>,
) -> Result<Json<ListResponse<Shop>>, ApiError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .pagination()?;
    let radius = q.radius_km.unwrap_or(5.0);
    // Checked even without `lat`/`lng`, where it is unused: a documented bound holds everywhere.
    if !(radius > 0.0 && radius <= MAX_RADIUS_KM) {
        return Err(ApiError::field(
            "radius_km",
            "must be greater than 0 and at most 50",
        ));
    }
    match (q.lat, q.lng) {
        (Some(lat), Some(lng)) => {
            if !(-90.0..=90.0).contains(&lat) {
                return Err(ApiError::field("lat", "must be between -90 and 90"));
            }
            if !(-180.0..=180.0).contains(&lng) {
                return Err(ApiError::field("lng", "must be between -180 and 180"));
            }
            let mut found: Vec<Shop> = Vec::new();
            for cell in shared::geo::covering_cells(lat, lng, radius, keys::SHOP_GEO_PRECISION) {
                let shops = state
                    .db
                    .query_page::<ShopRecord>(QuerySpec {
                        index: Some("GSI2"),
                        pk: keys::gsi2_shop_geo(&cell),
                        sk_prefix: None,
                        ascending: true,
                        limit: 100,
                        start: None,
                    })
                    .await?;
                for s in shops.items {
                    let d = shared::geo::distance_km(
                        (lat, lng),
                        (s.address.location.lat, s.address.location.lng),
                    );
                    if d <= radius {
                        let mut view = Shop::from(&s);
                        view.distance_km = Some((d * 1000.0).round() / 1000.0);
                        found.push(view);
                    }
                }
            }
            found.sort_by(|a, b| {
                a.distance_km
                    .partial_cmp(&b.distance_km)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            found.truncate(page.limit as usize);
            Ok(Json(ListResponse {
                items: found,
                next_cursor: None,
            }))
        }
        (None, None) => {
            let prefix =
                q.q.as_deref()
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty());
            let result = state
                .db
                .query_page::<ShopRecord>(QuerySpec {
                    index: Some("GSI1"),
                    pk: keys::GSI1_SHOPS_BY_NAME.into(),
                    sk_prefix: prefix,
                    ascending: true,
                    limit: page.limit,
                    start: page.start,
                })
                .await?;
            Ok(Json(ListResponse {
                items: result.items.iter().map(Shop::from).collect(),
                next_cursor: result.next_cursor,
            }))
        }
        _ => Err(ApiError::field("lng", "lat and lng go together")),
    }
}

/// Public shop page (suspended shops are hidden from everyone but their members and admins).
#[utoipa::path(get, path = "/api/v1/shops/{id}", tag = TAG,
    params(("id" = String, Path, description = "Shop id")),
    responses(
        (status = 200, description = "The shop", body = Shop),
        (status = 404, description = "No such (visible) shop", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn get_shop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Shop>, ApiError> {
    let shop: ShopRecord = state
        .db
        .get(keys::shop_profile(&id))
        .await?
        .filter(|s: &ShopRecord| s.status == ShopStatus::Active)
        .ok_or_else(|| ApiError::NotFound("no such shop".into()))?;
    Ok(Json(Shop::from(&shop)))
}

/// Owner or the shop's manager: replace the shop profile.
#[utoipa::path(put, path = "/api/v1/shops/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = ShopInput,
    responses(
        (status = 200, description = "The shop", body = Shop),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shop changed since it was read (another edit, a suspension); reload and retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_shop(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ShopInput>,
) -> Result<Json<Shop>, ApiError> {
    let access = authorize_shop(&state.db, &caller, &id, Capability::ManageShop).await?;
    let mut shop = access.shop;
    let previous_updated = shop.updated_at.clone();
    shop.name = req.name;
    shop.description = req.description;
    shop.logo_url = req.logo_url;
    shop.address = req.address;
    shop.opening_hours = req.opening_hours;
    shop.updated_at = shared::now_rfc3339();
    shop.index();
    save_shop(&state, &shop, &previous_updated).await?;
    Ok(Json(Shop::from(&shop)))
}

/// Optimistic write: fails with 409 if the shop changed since it was read (e.g. suspended).
/// `ShopUpdated` goes out with it (search re-indexes the shop's products).
async fn save_shop(
    state: &AppState,
    shop: &ShopRecord,
    previous_updated: &str,
) -> Result<(), ApiError> {
    let mut record = shop.clone();
    record.rev += 1;
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(&state.db.table)
        .set_item(Some(shared::store::to_item(&record)?))
        .condition_expression("updated_at = :prev")
        .expression_attribute_values(":prev", shared::store::s(previous_updated))
        .build()
        .map_err(ApiError::internal)?;
    let event = DomainEvent::ShopUpdated(ShopUpdated {
        shop_id: shop.id.clone(),
        status: shop.status,
    });
    state
        .db
        .transact(vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build(),
            shared::events::outbox_put(&state.db.table, &event)?,
        ])
        .await?;
    Ok(())
}

/// Admin: suspend or reinstate a shop. Suspended shops leave search and public pages.
#[utoipa::path(put, path = "/api/v1/shops/{id}/status", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = SetShopStatusRequest,
    responses(
        (status = 200, description = "The shop", body = Shop),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shop", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The shop changed concurrently; retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_shop_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<SetShopStatusRequest>,
) -> Result<Json<Shop>, ApiError> {
    caller.require_role(Role::Admin)?;
    let mut shop: ShopRecord = state
        .db
        .get(keys::shop_profile(&id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such shop".into()))?;
    let previous_updated = shop.updated_at.clone();
    shop.status = req.status;
    shop.updated_at = shared::now_rfc3339();
    shop.index();
    save_shop(&state, &shop, &previous_updated).await?;
    tracing::info!(admin_id = %caller.id(), shop_id = %id, status = ?req.status, reason = ?req.reason, "shop status changed");
    Ok(Json(Shop::from(&shop)))
}
