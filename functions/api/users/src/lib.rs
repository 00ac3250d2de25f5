//! `/api/v1/users/*`: the signed-in user's profile and address book, and the admin's user
//! management (list, roles, disable). Every route reads and writes only the caller's own
//! partition unless the caller is an admin.

pub mod model;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::http::{AuthUser, ListResponse, PageQuery, Query, ValidJson, no_content};
use shared::identity::{UserRecord, UserStatus, UserView, find_user_by_email, load_user};
use shared::store::{QuerySpec, StoreError, classify, from_item, key, keys, n, s, tx};
use shared::{ApiError, AppState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG_ME: &str = "users";
pub const TAG_ADMIN: &str = "admin";
/// Address-book size limit per user.
pub const MAX_ADDRESSES: u32 = 20;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(get_me, update_me))
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(update_address, delete_address))
        .routes(routes!(set_default_address))
        .routes(routes!(list_users))
        .routes(routes!(set_roles))
        .routes(routes!(set_status))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn not_found_user() -> ApiError {
    ApiError::NotFound("no user with this id".into())
}

fn not_found_address() -> ApiError {
    ApiError::NotFound("no address with this id in your address book".into())
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/api/v1/users/me", tag = TAG_ME, security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = UserView),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn get_me(caller: AuthUser) -> Json<UserView> {
    Json(UserView::from(&caller.user))
}

/// Change name and/or phone.
#[utoipa::path(put, path = "/api/v1/users/me", tag = TAG_ME, security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = UserView),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_me(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<UpdateProfileRequest>,
) -> Result<Json<UserView>, ApiError> {
    let mut set = vec!["updated_at = :now"];
    let mut remove = vec![];
    let mut req_builder = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::user_profile(caller.id()))))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":now", s(shared::now_rfc3339()))
        .return_values(ReturnValue::AllNew);
    if let Some(name) = req.name {
        set.push("#name = :name");
        req_builder = req_builder
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name));
    }
    match req.phone {
        Some(Some(phone)) => {
            set.push("phone = :phone");
            req_builder = req_builder.expression_attribute_values(":phone", s(phone));
        }
        Some(None) => remove.push("phone"),
        None => {}
    }
    let mut expr = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    let out = req_builder
        .update_expression(expr)
        .send()
        .await
        .map_err(classify)?;
    let user: UserRecord = from_item(out.attributes.unwrap_or_default())?;
    Ok(Json(UserView::from(&user)))
}

/// `USER#<id>/ADDRESS#<address id>`.
#[derive(Debug, Serialize, Deserialize)]
struct AddressRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    #[serde(flatten)]
    address: Address,
}

impl AddressRecord {
    /// The record of a saved address, placed on the map (a Vietnamese address whose province
    /// is unknown is refused, naming `city`).
    fn new(
        user_id: &str,
        id: String,
        input: AddressInput,
        created_at: String,
    ) -> Result<Self, ApiError> {
        let place = shared::geocode::place_address(
            &shared::geocode::Gazetteer,
            &input.country,
            &input.city,
            input.region.as_deref(),
            input.ward.as_deref(),
        )
        .map_err(|e| ApiError::Validation(vec![e]))?;
        let (pk, sk) = keys::address(user_id, &id);
        let now = shared::now_rfc3339();
        Ok(Self {
            pk,
            sk,
            entity_type: "address".into(),
            address: Address {
                id,
                label: input.label,
                recipient_name: input.recipient_name,
                phone: input.phone,
                line1: input.line1,
                line2: input.line2,
                ward: input.ward,
                district: input.district,
                city: input.city,
                region: input.region,
                postal_code: input.postal_code,
                country: input.country,
                place,
                is_default: false,
                created_at,
                updated_at: now,
            },
        })
    }
}

/// The default flag is derived from the profile's `default_address_id`, so there is exactly
/// one default by construction.
fn view(record: AddressRecord, default_id: Option<&str>) -> Address {
    let mut a = record.address;
    a.is_default = default_id == Some(a.id.as_str());
    a
}

async fn all_addresses(state: &AppState, user_id: &str) -> Result<Vec<AddressRecord>, ApiError> {
    let page = state
        .db
        .query_page(QuerySpec {
            index: None,
            pk: keys::user_pk(user_id),
            sk_prefix: Some(keys::ADDRESS_PREFIX.into()),
            ascending: true,
            limit: MAX_ADDRESSES,
            start: None,
        })
        .await?;
    Ok(page.items)
}

/// The caller's address book (at most 20 entries, oldest first).
#[utoipa::path(get, path = "/api/v1/users/me/addresses", tag = TAG_ME, security(("bearer" = [])),
    responses(
        (status = 200, description = "All addresses; `next_cursor` is always null", body = ListResponse<Address>),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_addresses(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<ListResponse<Address>>, ApiError> {
    let default_id = caller.user.default_address_id.as_deref();
    let items = all_addresses(&state, caller.id())
        .await?
        .into_iter()
        .map(|r| view(r, default_id))
        .collect();
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

/// Add an address; the first one becomes the default.
#[utoipa::path(post, path = "/api/v1/users/me/addresses", tag = TAG_ME, security(("bearer" = [])),
    request_body = AddressInput,
    responses(
        (status = 201, description = "The new address", body = Address),
        (status = 409, description = "The address book is full (20)", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_address(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(input): ValidJson<AddressInput>,
) -> Result<Response, ApiError> {
    let id = ulid::Ulid::new().to_string();
    let record = AddressRecord::new(caller.id(), id.clone(), input, shared::now_rfc3339())?;
    let table = &state.db.table;
    let result = state
        .db
        .transact(vec![
            tx::put_new(table, &record)?,
            tx::update(table, tx::UpdateSpec {
                key: keys::user_profile(caller.id()),
                update: "SET default_address_id = if_not_exists(default_address_id, :id) ADD address_count :one",
                condition: Some("attribute_exists(PK) AND (attribute_not_exists(address_count) OR address_count < :max)"),
                names: &[],
                values: vec![(":id", s(&id)), (":one", n(1)), (":max", n(MAX_ADDRESSES))],
            })?,
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(1) => {
            return Err(ApiError::Conflict(format!(
                "the address book is full ({MAX_ADDRESSES} addresses); delete one first"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let user = load_user(&state.db, caller.id())
        .await?
        .ok_or_else(not_found_user)?;
    let address = view(record, user.default_address_id.as_deref());
    Ok((StatusCode::CREATED, Json(address)).into_response())
}

/// Replace an address of the caller's.
#[utoipa::path(put, path = "/api/v1/users/me/addresses/{id}", tag = TAG_ME, security(("bearer" = [])),
    params(("id" = String, Path, description = "Address id")),
    request_body = AddressInput,
    responses(
        (status = 200, description = "The updated address", body = Address),
        (status = 404, description = "No such address in the caller's book", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_address(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<AddressInput>,
) -> Result<Json<Address>, ApiError> {
    let existing: AddressRecord = state
        .db
        .get(keys::address(caller.id(), &id))
        .await?
        .ok_or_else(not_found_address)?;
    let record = AddressRecord::new(caller.id(), id, input, existing.address.created_at)?;
    let result = state
        .db
        .transact(vec![tx::put(
            &state.db.table,
            &record,
            Some("attribute_exists(PK)"),
        )?])
        .await;
    match result {
        Ok(()) => Ok(Json(view(
            record,
            caller.user.default_address_id.as_deref(),
        ))),
        Err(e) if e.failed_condition_index().is_some() => Err(not_found_address()),
        Err(e) => Err(e.into()),
    }
}

/// Delete an address. Deleting the default promotes the oldest remaining address.
#[utoipa::path(delete, path = "/api/v1/users/me/addresses/{id}", tag = TAG_ME, security(("bearer" = [])),
    params(("id" = String, Path, description = "Address id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such address in the caller's book", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address book changed concurrently; retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn delete_address(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let table = &state.db.table;
    // A concurrent delete or default change cancels the transaction; re-read and try again.
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
        }
        let user = load_user(&state.db, caller.id())
            .await?
            .ok_or_else(not_found_user)?;
        let addresses = all_addresses(&state, caller.id()).await?;
        if !addresses.iter().any(|a| a.address.id == id) {
            return Err(not_found_address());
        }
        let mut actions = vec![tx::delete(
            table,
            keys::address(caller.id(), &id),
            Some("attribute_exists(PK)"),
            vec![],
        )?];
        if user.default_address_id.as_deref() == Some(id.as_str()) {
            match addresses.iter().find(|a| a.address.id != id) {
                Some(next) => {
                    actions.push(tx::update(
                        table,
                        tx::UpdateSpec {
                            key: keys::user_profile(caller.id()),
                            update: "SET default_address_id = :next ADD address_count :minus",
                            condition: Some("default_address_id = :id"),
                            names: &[],
                            values: vec![
                                (":next", s(&next.address.id)),
                                (":id", s(&id)),
                                (":minus", n(-1)),
                            ],
                        },
                    )?);
                    actions.push(tx::check_exists(
                        table,
                        keys::address(caller.id(), &next.address.id),
                    )?);
                }
                None => actions.push(tx::update(
                    table,
                    tx::UpdateSpec {
                        key: keys::user_profile(caller.id()),
                        update: "REMOVE default_address_id ADD address_count :minus",
                        condition: Some("default_address_id = :id"),
                        names: &[],
                        values: vec![(":id", s(&id)), (":minus", n(-1))],
                    },
                )?),
            }
        } else {
            actions.push(tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::user_profile(caller.id()),
                    update: "ADD address_count :minus",
                    condition: Some(
                        "attribute_not_exists(default_address_id) OR default_address_id <> :id",
                    ),
                    names: &[],
                    values: vec![(":id", s(&id)), (":minus", n(-1))],
                },
            )?);
        }
        match state.db.transact(actions).await {
            Ok(()) => return Ok(no_content()),
            Err(StoreError::TransactionCanceled(_)) | Err(StoreError::Throttled) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "the address book changed while deleting; retry".into(),
    ))
}

/// Make an address the default one.
#[utoipa::path(put, path = "/api/v1/users/me/addresses/{id}/default", tag = TAG_ME, security(("bearer" = [])),
    params(("id" = String, Path, description = "Address id")),
    responses(
        (status = 200, description = "The address, now the default", body = Address),
        (status = 404, description = "No such address in the caller's book", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_default_address(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Address>, ApiError> {
    let table = &state.db.table;
    let result = state
        .db
        .transact(vec![
            tx::check_exists(table, keys::address(caller.id(), &id))?,
            tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::user_profile(caller.id()),
                    update: "SET default_address_id = :id",
                    condition: Some("attribute_exists(PK)"),
                    names: &[],
                    values: vec![(":id", s(&id))],
                },
            )?,
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => return Err(not_found_address()),
        Err(e) => return Err(e.into()),
    }
    let record: AddressRecord = state
        .db
        .get(keys::address(caller.id(), &id))
        .await?
        .ok_or_else(not_found_address)?;
    Ok(Json(view(record, Some(&id))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// Exact e-mail address to look up instead of listing.
    #[param(
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: Option<String>,
}

/// Admin: list users, newest first, or look one up by e-mail.
#[utoipa::path(get, path = "/api/v1/users", tag = TAG_ADMIN, security(("bearer" = [])),
    params(ListUsersQuery),
    responses(
        (status = 200, description = "A page of users", body = ListResponse<UserView>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit, cursor or e-mail", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_users(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(q): Query<ListUsersQuery>,
) -> Result<Json<ListResponse<UserView>>, ApiError> {
    caller.require_role(Role::Admin)?;
    if let Some(mut email) = q.email {
        shared::validate::email("email", &mut email).map_err(|e| ApiError::Validation(vec![e]))?;
        let items = find_user_by_email(&state.db, &email)
            .await?
            .iter()
            .map(UserView::from)
            .collect();
        return Ok(Json(ListResponse {
            items,
            next_cursor: None,
        }));
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .pagination()?;
    let result = state
        .db
        .query_page::<UserRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::GSI1_ALL_USERS.into(),
            sk_prefix: None,
            ascending: false,
            limit: page.limit,
            start: page.start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: result.items.iter().map(UserView::from).collect(),
        next_cursor: result.next_cursor,
    }))
}

/// Updates one user's profile item as an admin, returning the new record.
async fn admin_update(
    state: &AppState,
    user_id: &str,
    update: &str,
    values: Vec<(&str, AttributeValue)>,
) -> Result<UserRecord, ApiError> {
    let mut req = state
        .db
        .client
        .update_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::user_profile(user_id))))
        .update_expression(update)
        .condition_expression("attribute_exists(PK)")
        .return_values(ReturnValue::AllNew);
    // DynamoDB rejects unused attribute-name aliases, so only alias what the update mentions
    // (`status` is a reserved word).
    for (alias, name) in [("#status", "status"), ("#roles", "roles")] {
        if update.contains(alias) {
            req = req.expression_attribute_names(alias, name);
        }
    }
    for (k, v) in values {
        req = req.expression_attribute_values(k, v);
    }
    match req.send().await.map_err(classify) {
        Ok(out) => Ok(from_item(out.attributes.unwrap_or_default())?),
        Err(StoreError::ConditionFailed) => Err(not_found_user()),
        Err(e) => Err(e.into()),
    }
}

/// Admin: replace a user's roles. Takes effect on the user's next request.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = TAG_ADMIN, security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = SetRolesRequest,
    responses(
        (status = 200, description = "The user with the new roles", body = UserView),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_roles(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<SetRolesRequest>,
) -> Result<Json<UserView>, ApiError> {
    caller.require_role(Role::Admin)?;
    if id == caller.id() && !req.roles.contains(&Role::Admin) {
        return Err(ApiError::field(
            "roles",
            "you cannot remove your own admin role",
        ));
    }
    let roles = serde_dynamo::to_attribute_value(&req.roles).map_err(ApiError::internal)?;
    let user = admin_update(
        &state,
        &id,
        "SET #roles = :roles, updated_at = :now",
        vec![(":roles", roles), (":now", s(shared::now_rfc3339()))],
    )
    .await?;
    tracing::info!(admin_id = %caller.id(), user_id = %id, roles = ?req.roles, "roles changed");
    Ok(Json(UserView::from(&user)))
}

/// Admin: disable or re-enable an account. Disabling ends every session at once.
#[utoipa::path(put, path = "/api/v1/users/{id}/status", tag = TAG_ADMIN, security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = SetStatusRequest,
    responses(
        (status = 200, description = "The user with the new status", body = UserView),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<SetStatusRequest>,
) -> Result<Json<UserView>, ApiError> {
    caller.require_role(Role::Admin)?;
    if id == caller.id() && req.status == UserStatus::Disabled {
        return Err(ApiError::field(
            "status",
            "you cannot disable your own account",
        ));
    }
    let now = s(shared::now_rfc3339());
    let status = serde_dynamo::to_attribute_value(req.status).map_err(ApiError::internal)?;
    let user = match req.status {
        UserStatus::Disabled => {
            admin_update(&state, &id, "SET #status = :status, updated_at = :now, status_reason = :reason ADD session_version :one", vec![
                (":status", status),
                (":now", now),
                (":reason", s(req.reason.clone().unwrap_or_default())),
                (":one", n(1)),
            ])
            .await?
        }
        UserStatus::Active => {
            admin_update(&state, &id, "SET #status = :status, updated_at = :now REMOVE status_reason", vec![(":status", status), (":now", now)])
                .await?
        }
    };
    tracing::info!(admin_id = %caller.id(), user_id = %id, status = ?req.status, "status changed");
    Ok(Json(UserView::from(&user)))
}
