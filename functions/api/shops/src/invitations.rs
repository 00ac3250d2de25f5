//! `/api/v1/organizations/{id}/invitations` (owners invite an e-mail address, list and revoke
//! invitations) and `/api/v1/invitations/accept` (a signed-in account accepts one). The token
//! rules and the acceptance writes are `shared::invitations`'.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::catalog::OrgRecord;
use shared::events::{DomainEvent, OrganizationInvitationCreated, outbox_put};
use shared::http::{AuthUser, ListResponse, ValidJson, no_content};
use shared::identity::find_user_by_email;
use shared::invitations::{self, InvitationGuard, InvitationRecord, InvitationStatus};
use shared::store::{keys, tx};
use shared::{ApiError, AppState};

use crate::model::{AcceptInvitationRequest, CreateInvitationRequest, Invitation, Member};
use crate::{TAG, check_shops_in_org, org_not_found, require_owner};

/// Owner: invite an e-mail address (with or without an account) to join with a role, shops and
/// warehouses. The address is e-mailed a single-use token, valid 7 days; the response never
/// holds it.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/invitations", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "The invitation (pending); the e-mail with its token is on its way", body = Invitation),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address is already a member, or has a pending invitation to this organisation", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<CreateInvitationRequest>,
) -> Result<Response, ApiError> {
    require_owner(&state, &caller, &id).await?;
    check_shops_in_org(&state, &id, &req.shop_ids).await?;
    shared::warehouses::check_warehouses_in_org(&state.db, &id, &req.warehouse_ids).await?;
    let org: OrgRecord = state
        .db
        .get(keys::org_profile(&id))
        .await?
        .ok_or_else(org_not_found)?;
    let existing = find_user_by_email(&state.db, &req.email).await?;
    let now = shared::now_epoch();
    let (invitation, token) = InvitationRecord::new(
        &state.keys,
        &id,
        &req.email,
        req.role,
        req.shop_ids,
        req.warehouse_ids,
        caller.id(),
        now,
    );
    let event = DomainEvent::OrganizationInvitationCreated(OrganizationInvitationCreated {
        invitation_id: invitation.id.clone(),
        org_id: id.clone(),
        org_name: org.name,
        email: invitation.email.clone(),
        user_id: existing.as_ref().map(|u| u.id.clone()),
        role: invitation.role,
        token,
        expires_at: invitation.expires_at,
        invited_by: caller.id().into(),
    });
    let table = &state.db.table;
    let mut actions = vec![
        invitations::put_guard(table, &invitation, now)?,
        tx::put_new(table, &invitation)?,
        tx::put_new(table, &invitation.pointer())?,
        outbox_put(table, &event)?,
    ];
    if let Some(user) = &existing {
        // an account that is a member already is not invited (checked in the same write)
        actions.push(invitations::check_absent(
            table,
            keys::org_member(&id, &user.id),
        )?);
    }
    match state.db.transact(actions).await {
        Ok(()) => {}
        Err(e) => {
            return Err(match e.failed_condition_index() {
                Some(0) => ApiError::Conflict(
                    "this address has a pending invitation to this organisation; revoke it first"
                        .into(),
                ),
                Some(4) => ApiError::Conflict(
                    "this address is already a member of the organisation".into(),
                ),
                _ => e.into(),
            });
        }
    }
    tracing::info!(org_id = %id, invitation_id = %invitation.id, "invitation sent");
    Ok((StatusCode::CREATED, Json(Invitation::at(&invitation, now))).into_response())
}

/// Owner: the organisation's invitations with their status (pending, accepted, revoked,
/// expired), newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/invitations", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The invitations (up to 100, newest first)", body = ListResponse<Invitation>),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among the caller's", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<Invitation>>, ApiError> {
    require_owner(&state, &caller, &id).await?;
    let page = state
        .db
        .query_page::<InvitationRecord>(shared::store::QuerySpec {
            index: None,
            pk: keys::invitations_pk(&id),
            sk_prefix: Some(keys::INVITATION_PREFIX.into()),
            ascending: false,
            limit: 100,
            start: None,
        })
        .await?;
    let now = shared::now_epoch();
    Ok(Json(ListResponse {
        items: page.items.iter().map(|i| Invitation::at(i, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Owner: revoke an invitation; its token stops working. Revoking a revoked (or expired)
/// invitation is a no-op; an accepted one cannot be revoked (remove the member instead).
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/invitations/{invitation_id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Organisation id"), ("invitation_id" = String, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller is not an owner", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation or invitation", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation was already accepted", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, invitation_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_owner(&state, &caller, &id).await?;
    let not_found = || ApiError::NotFound("no such invitation in this organisation".into());
    let accepted = || {
        ApiError::Conflict("this invitation was already accepted; remove the member instead".into())
    };
    let invitation: InvitationRecord = state
        .db
        .get(keys::invitation(&id, &invitation_id))
        .await?
        .ok_or_else(not_found)?;
    match invitation.status {
        InvitationStatus::Accepted => return Err(accepted()),
        InvitationStatus::Revoked => return Ok(no_content()),
        InvitationStatus::Pending | InvitationStatus::Expired => {}
    }
    let table = &state.db.table;
    let mut actions = vec![invitations::revoke_action(table, &invitation)?];
    // the address guard goes too, unless it already guards a newer invitation
    let guard: Option<InvitationGuard> = state
        .db
        .get(keys::invitation_email_guard(&id, &invitation.email))
        .await?;
    if guard.is_some_and(|g| g.invitation_id == invitation.id) {
        actions.push(invitations::release_guard(table, &invitation)?);
    }
    match state.db.transact(actions).await {
        Ok(()) => {
            tracing::info!(org_id = %id, invitation_id = %invitation.id, "invitation revoked");
            Ok(no_content())
        }
        Err(e) if e.failed_condition_index() == Some(0) => {
            // it changed meanwhile: accepted (409) or revoked by another request (done)
            let now: Option<InvitationRecord> =
                state.db.get(keys::invitation(&id, &invitation_id)).await?;
            match now.map(|i| i.status) {
                Some(InvitationStatus::Revoked) => Ok(no_content()),
                Some(InvitationStatus::Accepted) => Err(accepted()),
                _ => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Accept an invitation as the signed-in account, whose e-mail must be the invited address:
/// the account becomes a member with the invited role, shops and warehouses. A token works
/// once, for 7 days, unless revoked.
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = TAG, security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "The new membership", body = Member),
        (status = 403, description = "The invitation is for another e-mail address", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The invitation expired, was revoked or was already used, or the caller is a member already", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<AcceptInvitationRequest>,
) -> Result<Json<Member>, ApiError> {
    let member =
        invitations::accept(&state.db, &state.keys, &req.token, &caller.user, "token").await?;
    Ok(Json(Member::from(&member)))
}
