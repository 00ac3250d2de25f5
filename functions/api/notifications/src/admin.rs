//! Admins: broadcasts (promotions by e-mail or SMS to a segment of the users, delivered by the
//! notifier from a `BroadcastRequested` outbox event) and the templates of every kind. The
//! built-in templates live in the `notification-templates` crate; an admin's version of one is
//! `NOTIFTEMPLATES` / `<kind>#<channel>#<language>` (one partition: a few dozen items), checked
//! against its kind when saved and again by the notifier when loaded.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use notification_templates::{KINDS, Kind};
use shared::auth::Role;
use shared::events::{self, BroadcastRequested, DomainEvent, Segment};
use shared::http::{AuthUser, ListResponse, ValidJson};
use shared::notifications::{Channel, Language, TEMPLATE_ENTITY, Template, TemplateRecord};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{Db, keys, n};
use shared::{ApiError, AppState};

use crate::TAG;
use crate::model::*;

/// Broadcasts one admin may send per minute.
pub const BROADCASTS_PER_MINUTE: u32 = 10;
const WINDOW_SECS: i64 = 60;

/// Writes the broadcast's event through the outbox, in one transaction with the admin's
/// counter of this minute (`RATE#broadcast#<admin>` / `W#<minute>`): over the limit, nothing is
/// written and the answer is 429.
async fn broadcast(
    state: &AppState,
    admin: &str,
    channel: Channel,
    segment: Segment,
    title: String,
    message: String,
) -> Result<Response, ApiError> {
    let now = shared::now_epoch();
    let window = now.div_euclid(WINDOW_SECS);
    let broadcast_id = ulid::Ulid::new().to_string();
    let event = DomainEvent::BroadcastRequested(BroadcastRequested {
        broadcast_id: broadcast_id.clone(),
        segment,
        channel,
        title,
        message,
        requested_by: admin.to_owned(),
    });
    let table = &state.db.table;
    let items = vec![
        tx::update(
            table,
            UpdateSpec {
                key: keys::rate_window("broadcast", admin, window),
                update: "ADD hits :one SET expires_at = :expires",
                condition: Some("attribute_not_exists(hits) OR hits < :limit"),
                names: &[],
                values: vec![
                    (":one", n(1)),
                    (":limit", n(BROADCASTS_PER_MINUTE)),
                    (":expires", n((window + 2) * WINDOW_SECS)),
                ],
            },
        )?,
        events::outbox_put(table, &event)?,
    ];
    match state.db.transact(items).await {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => {
            let retry_after_secs = ((window + 1) * WINDOW_SECS - now).max(1) as u64;
            return Err(ApiError::TooManyRequests {
                retry_after_secs,
                detail: format!(
                    "at most {BROADCASTS_PER_MINUTE} broadcasts a minute; retry after {retry_after_secs} s"
                ),
            });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(%broadcast_id, channel = channel.as_str(), "broadcast requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(NotificationBroadcastAccepted { broadcast_id }),
    )
        .into_response())
}

/// Admin: e-mail a promotion to a segment of the users (everyone, a role, or up to 500 users).
/// Each gets it on the channels they allow for promotions.
#[utoipa::path(post, path = "/api/v1/notifications/email/send", tag = TAG, security(("bearer" = [])),
    request_body = NotificationEmailBroadcast,
    responses(
        (status = 202, description = "Accepted; the notifier delivers it", body = NotificationBroadcastAccepted),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "10 broadcasts this minute already; see Retry-After", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn send_email_broadcast(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationEmailBroadcast>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Admin)?;
    let segment = req.segment.into_segment();
    broadcast(
        &state,
        caller.id(),
        Channel::Email,
        segment,
        req.title,
        req.message,
    )
    .await
}

/// Admin: text a promotion (at most 480 characters) to a segment of the users; those without
/// a verified number, or who turned SMS off for promotions, get it in-app and by push only.
#[utoipa::path(post, path = "/api/v1/notifications/sms/send", tag = TAG, security(("bearer" = [])),
    request_body = NotificationSmsBroadcast,
    responses(
        (status = 202, description = "Accepted; the notifier delivers it", body = NotificationBroadcastAccepted),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "10 broadcasts this minute already; see Retry-After", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn send_sms_broadcast(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationSmsBroadcast>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Admin)?;
    let segment = req.segment.into_segment();
    broadcast(
        &state,
        caller.id(),
        Channel::Sms,
        segment,
        req.title,
        req.message,
    )
    .await
}

fn entry(
    kind: &Kind,
    channel: Channel,
    language: Language,
    template: Template,
    customised: bool,
) -> NotificationTemplateEntry {
    NotificationTemplateEntry {
        kind: kind.name.to_owned(),
        description: kind.description.to_owned(),
        category: kind.category,
        priority: kind.priority,
        channel,
        language,
        variables: kind.variables.iter().map(|v| (*v).to_owned()).collect(),
        title: template.title,
        body: template.body,
        customised,
    }
}

fn template_key(kind: &Kind, channel: Channel, language: Language) -> (String, String) {
    keys::notification_template(kind.name, channel.as_str(), language.as_str())
}

fn builtin(kind: &Kind, channel: Channel, language: Language) -> Result<Template, ApiError> {
    notification_templates::builtin(kind.name, channel, language).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "no built-in template for {} on {} in {}",
            kind.name,
            channel.as_str(),
            language.as_str()
        ))
    })
}

/// The template in use: the admin's, else the built-in one; and whether it is the admin's.
async fn current(
    db: &Db,
    kind: &Kind,
    channel: Channel,
    language: Language,
) -> Result<(Template, bool), ApiError> {
    let saved: Option<TemplateRecord> = db.get(template_key(kind, channel, language)).await?;
    match saved {
        Some(record) => Ok((record.template, true)),
        None => Ok((builtin(kind, channel, language)?, false)),
    }
}

/// The kind a validated request names.
fn known_kind(name: &str) -> Result<&'static Kind, ApiError> {
    notification_templates::kind(name).ok_or_else(|| {
        ApiError::field(
            "kind",
            "is not a notification kind; GET /api/v1/notifications/templates lists them",
        )
    })
}

/// Admin: every template in use — each kind, on each of its channels, in Vietnamese and
/// English — the admins' versions where they changed one, else the built-in one.
#[utoipa::path(get, path = "/api/v1/notifications/templates", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "Every template, by kind, channel and language (one page)", body = ListResponse<NotificationTemplateEntry>),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_notification_templates(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<ListResponse<NotificationTemplateEntry>>, ApiError> {
    caller.require_role(Role::Admin)?;
    let saved = shared::notifications::edited_templates(&state.db).await?;
    let mut saved: HashMap<String, TemplateRecord> =
        saved.into_iter().map(|r| (r.sk.clone(), r)).collect();
    let mut items = Vec::new();
    for kind in KINDS {
        for &channel in kind.channels {
            for language in Language::ALL {
                let (_, sk) = template_key(kind, channel, language);
                let (template, customised) = match saved.remove(&sk) {
                    Some(record) => (record.template, true),
                    None => (builtin(kind, channel, language)?, false),
                };
                items.push(entry(kind, channel, language, template, customised));
            }
        }
    }
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

/// Admin: replace a template (of a kind, for one of its channels, in one language). It may use
/// only the kind's variables.
#[utoipa::path(post, path = "/api/v1/notifications/templates", tag = TAG, security(("bearer" = [])),
    request_body = NotificationTemplateSave,
    responses(
        (status = 200, description = "The template as saved", body = NotificationTemplateEntry),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn save_notification_template(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationTemplateSave>,
) -> Result<Json<NotificationTemplateEntry>, ApiError> {
    caller.require_role(Role::Admin)?;
    let kind = known_kind(&req.kind)?;
    let template = Template {
        // validated: an SMS template has a blank title
        title: if req.channel.needs_title() {
            req.title
        } else {
            String::new()
        },
        body: req.body,
    };
    let (pk, sk) = template_key(kind, req.channel, req.language);
    let record = TemplateRecord {
        pk,
        sk,
        entity_type: TEMPLATE_ENTITY.into(),
        kind: kind.name.to_owned(),
        channel: req.channel,
        language: req.language,
        template,
        updated_at: shared::now_rfc3339(),
        updated_by: caller.id().to_owned(),
    };
    state
        .db
        .transact(vec![tx::put(&state.db.table, &record, None)?])
        .await?;
    tracing::info!(
        kind = kind.name,
        channel = req.channel.as_str(),
        language = req.language.as_str(),
        "notification template saved"
    );
    Ok(Json(entry(
        kind,
        record.channel,
        record.language,
        record.template,
        true,
    )))
}

/// Admin: render a template with sample values — the one given, or without `title` and
/// `body` the one in use (a part left out is taken from it).
#[utoipa::path(post, path = "/api/v1/notifications/templates/preview", tag = TAG, security(("bearer" = [])),
    request_body = NotificationTemplatePreviewRequest,
    responses(
        (status = 200, description = "The template rendered with the kind's sample values", body = NotificationPreview),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn preview_notification_template(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationTemplatePreviewRequest>,
) -> Result<Json<NotificationPreview>, ApiError> {
    caller.require_role(Role::Admin)?;
    let kind = known_kind(&req.kind)?;
    let template = match (req.title, req.body) {
        (Some(title), Some(body)) => Template { title, body },
        (title, body) => {
            let (current, _) = current(&state.db, kind, req.channel, req.language).await?;
            Template {
                title: title.unwrap_or(current.title),
                body: body.unwrap_or(current.body),
            }
        }
    };
    notification_templates::check(kind, req.channel, &template)
        .map_err(|e| ApiError::field(e.field, e.message))?;
    let vars = notification_templates::sample_in(kind, req.language);
    let rendered = notification_templates::render(req.channel, req.language, &template, &vars)
        .map_err(ApiError::internal)?;
    Ok(Json(NotificationPreview {
        title: rendered.title,
        text: rendered.text,
        html: rendered.html,
    }))
}
