//! The caller's in-app inbox: `USER#<me>` / `NOTIF#<id>` items, newest first (ids start with
//! the ULID of the event that made them), and the unread counter on `USER#<me>` / `INBOX`.
//! A notification turns read only on condition that it exists and is unread, in the same
//! transaction that lowers the counter, so the counter equals the unread items whatever runs
//! concurrently; deleting an unread one lowers it the same way.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use shared::http::{AuthUser, PageQuery, Query};
use shared::notifications::{INBOX_ENTITY, InboxRecord, NotificationRecord, valid_notification_id};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{
    Db, Filter, Item, MAX_TRANSACTION_ITEMS, QuerySpec, StoreError, decode_cursor, key, keys, n, s,
};
use shared::{ApiError, AppState};

use crate::TAG;
use crate::model::*;

/// Most notifications one `mark-all-read` marks; `unread_count` tells the client to call again.
pub const MAX_MARK_ALL: usize = 1000;
/// Rounds of retrying the notifications of one transaction that a concurrent request did not
/// already mark.
const FLIP_ROUNDS: usize = 8;

/// `read` is a DynamoDB reserved word.
const READ: &[(&str, &str)] = &[("#read", "read")];

fn not_found() -> ApiError {
    ApiError::NotFound("no such notification".into())
}

/// The unread count of a user's inbox (0 when it has none; never negative).
pub async fn unread_count(db: &Db, user_id: &str) -> Result<i64, ApiError> {
    let inbox: Option<InboxRecord> = db.get(keys::inbox(user_id)).await?;
    Ok(inbox.map_or(0, |i| i.unread.max(0)))
}

/// The counter update of the unread count, by `delta`.
fn unread_by(table: &str, user_id: &str, delta: i64) -> Result<TransactWriteItem, StoreError> {
    tx::update(
        table,
        UpdateSpec {
            key: keys::inbox(user_id),
            update: "SET entity_type = :entity ADD unread :delta",
            condition: None,
            names: &[],
            values: vec![(":entity", s(INBOX_ENTITY)), (":delta", n(delta))],
        },
    )
}

fn unread_filter() -> Filter<'static> {
    Filter {
        expression: "#read = :unread",
        names: READ,
        values: vec![(":unread", AttributeValue::Bool(false))],
    }
}

/// Marks `ids` (notifications of `user_id`) read, up to 99 per transaction: each on condition
/// that it exists and is unread, with the counter lowered by as many in the same transaction.
/// Those a concurrent request marked or deleted first fail their condition; they are dropped
/// and the rest retried; `read_at` is `now`. Returns how many this call marked.
async fn mark_read(db: &Db, user_id: &str, ids: &[String], now: &str) -> Result<i64, ApiError> {
    let mut marked = 0;
    for chunk in ids.chunks(MAX_TRANSACTION_ITEMS - 1) {
        let mut pending: Vec<&String> = chunk.iter().collect();
        for _ in 0..FLIP_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let mut items = Vec::with_capacity(pending.len() + 1);
            for id in &pending {
                items.push(tx::update(
                    &db.table,
                    UpdateSpec {
                        key: keys::notification(user_id, id),
                        update: "SET #read = :read, read_at = :now",
                        condition: Some("attribute_exists(PK) AND #read = :unread"),
                        names: READ,
                        values: vec![
                            (":read", AttributeValue::Bool(true)),
                            (":unread", AttributeValue::Bool(false)),
                            (":now", s(now)),
                        ],
                    },
                )?);
            }
            items.push(unread_by(&db.table, user_id, -(pending.len() as i64))?);
            match db.transact(items).await {
                Ok(()) => {
                    marked += pending.len() as i64;
                    pending.clear();
                }
                Err(StoreError::TransactionCanceled(reasons)) => {
                    let failed = |i: usize| {
                        reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
                    };
                    if !(0..pending.len()).any(failed) {
                        return Err(StoreError::TransactionCanceled(reasons).into());
                    }
                    pending = pending
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !failed(*i))
                        .map(|(_, id)| id)
                        .collect();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(marked)
}

/// A cursor of the caller's own notification list: only the table's keys, in the caller's
/// partition (a key of another partition would make DynamoDB refuse the query).
fn own_cursor(start: &Item, pk: &str) -> Result<(), ApiError> {
    let is = |name: &str, ok: &dyn Fn(&str) -> bool| {
        start
            .get(name)
            .and_then(|v| v.as_s().ok())
            .is_some_and(|v| ok(v))
    };
    if start.len() == 2
        && is("PK", &|v| v == pk)
        && is("SK", &|v| v.starts_with(keys::NOTIFICATION_PREFIX))
    {
        Ok(())
    } else {
        Err(ApiError::field("cursor", "is not a cursor this API issued"))
    }
}

/// The caller's notifications, newest first, with the inbox's unread count.
#[utoipa::path(get, path = "/api/v1/notifications", tag = TAG, security(("bearer" = [])),
    params(PageQuery, NotificationFilter),
    responses(
        (status = 200, description = "A page of notifications, newest first", body = NotificationPage),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_notifications(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<PageQuery>,
    Query(filter): Query<NotificationFilter>,
) -> Result<Json<NotificationPage>, ApiError> {
    let page = page.pagination()?;
    let pk = keys::user_pk(caller.id());
    if let Some(start) = &page.start {
        own_cursor(start, &pk)?;
    }
    let result = state
        .db
        .query_page_filtered::<NotificationRecord>(
            QuerySpec {
                index: None,
                pk,
                sk_prefix: Some(keys::NOTIFICATION_PREFIX.to_owned()),
                ascending: false,
                limit: page.limit,
                start: page.start,
            },
            (filter.unread == Some(true)).then(unread_filter),
        )
        .await?;
    Ok(Json(NotificationPage {
        items: result.items.into_iter().map(Into::into).collect(),
        next_cursor: result.next_cursor,
        unread_count: unread_count(&state.db, caller.id()).await?,
    }))
}

/// Mark one of the caller's notifications read (again: it stays as it was).
#[utoipa::path(put, path = "/api/v1/notifications/{id}/read", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification, read", body = NotificationView),
        (status = 404, description = "The caller has no notification with this id", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn mark_notification_read(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<NotificationView>, ApiError> {
    if !valid_notification_id(&id) {
        return Err(not_found());
    }
    let key = keys::notification(caller.id(), &id);
    let mut notification: NotificationRecord =
        state.db.get(key.clone()).await?.ok_or_else(not_found)?;
    if !notification.read {
        let now = shared::now_rfc3339();
        if mark_read(&state.db, caller.id(), std::slice::from_ref(&id), &now).await? == 0 {
            // another request marked (or deleted) it meanwhile
            notification = state.db.get(key).await?.ok_or_else(not_found)?;
        } else {
            notification.read = true;
            notification.read_at = Some(now);
        }
    }
    Ok(Json(notification.into()))
}

/// Mark every unread notification of the caller read (at most 1000 per call: when
/// `unread_count` is not 0 afterwards, call again).
#[utoipa::path(post, path = "/api/v1/notifications/mark-all-read", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "How many this call marked, and how many are left unread", body = NotificationsMarked),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn mark_all_notifications_read(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<NotificationsMarked>, ApiError> {
    let me = caller.id();
    let (mut marked, mut seen, mut start) = (0, 0, None);
    loop {
        let page = state
            .db
            .query_page_filtered::<NotificationRecord>(
                QuerySpec {
                    index: None,
                    pk: keys::user_pk(me),
                    sk_prefix: Some(keys::NOTIFICATION_PREFIX.to_owned()),
                    ascending: false,
                    limit: 100,
                    start,
                },
                Some(unread_filter()),
            )
            .await?;
        let ids: Vec<String> = page.items.into_iter().map(|n| n.id).collect();
        seen += ids.len();
        marked += mark_read(&state.db, me, &ids, &shared::now_rfc3339()).await?;
        match page.next_cursor.as_deref().and_then(decode_cursor) {
            Some(next) if seen < MAX_MARK_ALL => start = Some(next),
            _ => break,
        }
    }
    tracing::info!(marked, "notifications marked read");
    Ok(Json(NotificationsMarked {
        marked,
        unread_count: unread_count(&state.db, me).await?,
    }))
}

/// Delete one of the caller's notifications.
#[utoipa::path(delete, path = "/api/v1/notifications/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Notification id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "The caller has no notification with this id", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It changed twice while being deleted; retry", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn delete_notification(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_notification_id(&id) {
        return Err(not_found());
    }
    let me = caller.id();
    let table = &state.db.table;
    // Read, then delete on condition that the read state is still the one read (so an unread
    // one lowers the counter exactly once); a race with `read` is retried once.
    for _ in 0..2 {
        let notification: NotificationRecord = state
            .db
            .get(keys::notification(me, &id))
            .await?
            .ok_or_else(not_found)?;
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key(keys::notification(me, &id))))
            .condition_expression("#read = :was")
            .expression_attribute_names("#read", "read")
            .expression_attribute_values(":was", AttributeValue::Bool(notification.read))
            .build()
            .map_err(ApiError::internal)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        if !notification.read {
            items.push(unread_by(table, me, -1)?);
        }
        match state.db.transact(items).await {
            Ok(()) => return Ok(shared::http::no_content()),
            Err(e) if e.failed_condition_index() == Some(0) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "the notification changed while it was being deleted; retry".into(),
    ))
}
