//! Devices registered for push: `USER#<me>` / `NOTIFY#DEVICE#<id>` (the id is derived from the
//! token, so the same token is the same device), each with its SNS platform endpoint, counted
//! on `USER#<me>` / `INBOX` (`devices`, at most [`MAX_DEVICES`]) in the same transaction.
//!
//! SNS has a platform application per platform (APNs, FCM, web); CloudFormation cannot create
//! them, so their ARNs come from the environment (`PUSH_*_APPLICATION_ARN`, template
//! parameters). Registering creates (or, for a token SNS knows, finds) the endpoint first and
//! then writes the device; a refusal of the write (the limit) deletes the endpoint again.

use std::sync::Arc;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::http::{AuthUser, ValidJson};
use shared::notifications::{
    DEVICE_ENTITY, DeviceRecord, INBOX_ENTITY, InboxRecord, MAX_DEVICES, Platform, device_id,
};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{StoreError, is_unavailable, keys, n, s};
use shared::{ApiError, AppState};

use crate::TAG;
use crate::model::*;

/// How long a client should wait when push is not configured for its platform.
const UNCONFIGURED_RETRY_SECS: u64 = 60;

/// The SNS client and the platform applications' ARNs, built once per process.
#[derive(Clone, Debug)]
pub struct Push {
    sns: aws_sdk_sns::Client,
    /// By [`Platform::ALL`]'s order; `None` where the variable is unset or empty.
    applications: Arc<[Option<String>; 3]>,
}

impl Push {
    pub fn new(sns: aws_sdk_sns::Client, applications: [Option<String>; 3]) -> Self {
        Self {
            sns,
            applications: Arc::new(applications),
        }
    }

    /// The client for the endpoint in `sdk` and the ARNs in `PUSH_IOS_APPLICATION_ARN`,
    /// `PUSH_ANDROID_APPLICATION_ARN` and `PUSH_WEB_APPLICATION_ARN` (a platform without one
    /// answers 503).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        let arn = |p: Platform| {
            std::env::var(p.application_env())
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self::new(aws_sdk_sns::Client::new(sdk), Platform::ALL.map(arn))
    }

    fn application(&self, platform: Platform) -> Option<&str> {
        let i = Platform::ALL.iter().position(|p| *p == platform)?;
        self.applications[i].as_deref()
    }

    /// The endpoint of `token` in `application`: created, or the one SNS has for the token
    /// (re-enabled if SNS disabled it after a platform refused a push).
    async fn endpoint(&self, application: &str, token: &str) -> Result<String, ApiError> {
        let created = self
            .sns
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(token)
            .send()
            .await
            .map_err(|e| sns_problem(e, "CreatePlatformEndpoint"))?;
        let arn = created
            .endpoint_arn()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("SNS returned no endpoint ARN")))?
            .to_owned();
        let attributes = self
            .sns
            .get_endpoint_attributes()
            .endpoint_arn(&arn)
            .send()
            .await
            .map_err(|e| sns_problem(e, "GetEndpointAttributes"))?;
        let disabled = attributes
            .attributes()
            .and_then(|a| a.get("Enabled"))
            .is_some_and(|v| v.eq_ignore_ascii_case("false"));
        if disabled {
            self.sns
                .set_endpoint_attributes()
                .endpoint_arn(&arn)
                .attributes("Enabled", "true")
                .send()
                .await
                .map_err(|e| sns_problem(e, "SetEndpointAttributes"))?;
        }
        Ok(arn)
    }

    /// Deletes an endpoint (already gone is fine). The device is no longer in the table when
    /// this runs, so a failure is logged, not answered: nothing will push to it.
    async fn forget(&self, endpoint_arn: &str) {
        let deleted = self
            .sns
            .delete_endpoint()
            .endpoint_arn(endpoint_arn)
            .send()
            .await;
        if let Err(e) = deleted
            && e.code() != Some("NotFound")
        {
            tracing::warn!(error = %aws_sdk_sns::error::DisplayErrorContext(&e), "could not delete an SNS endpoint");
        }
    }
}

/// A client that reaches nothing and no platform application: every registration is a 503.
/// For tests of the routing and the document.
impl Default for Push {
    fn default() -> Self {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .build();
        Self::new(aws_sdk_sns::Client::from_conf(config), [None, None, None])
    }
}

/// The extension layer the routes of `api()` need (the dev server adds it to its router).
pub fn extension(push: Push) -> Extension<Push> {
    Extension(push)
}

/// An SNS failure as the client should see it: a token the platform refused names `token`; an
/// unreachable SNS or a missing platform application is a 503; the rest is internal.
fn sns_problem<E, R>(err: SdkError<E, R>, operation: &str) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("InvalidParameter") if operation == "CreatePlatformEndpoint" => ApiError::field(
            "token",
            "was refused by the push service; send the token the platform gave the app",
        ),
        Some("NotFound") if operation == "CreatePlatformEndpoint" => {
            tracing::error!(
                operation,
                "the configured SNS platform application does not exist"
            );
            ApiError::Unavailable {
                retry_after_secs: UNCONFIGURED_RETRY_SECS,
            }
        }
        _ if is_unavailable(&err) => {
            tracing::warn!(operation, error = %aws_sdk_sns::error::DisplayErrorContext(&err), "SNS unreachable");
            ApiError::Unavailable {
                retry_after_secs: shared::error::UNAVAILABLE_RETRY_AFTER_SECS,
            }
        }
        _ => ApiError::internal(anyhow::Error::new(err).context(format!("SNS {operation}"))),
    }
}

fn device_view(d: DeviceRecord) -> NotificationDevice {
    NotificationDevice {
        device_id: d.device_id,
        platform: d.platform,
        created_at: d.created_at,
    }
}

fn too_many_devices() -> ApiError {
    ApiError::Conflict(format!(
        "at most {MAX_DEVICES} devices may receive push notifications; unregister one first"
    ))
}

/// Register a device for push notifications. The same token again is the same device (200).
#[utoipa::path(post, path = "/api/v1/notifications/push/register", tag = TAG, security(("bearer" = [])),
    request_body = NotificationDeviceRegister,
    responses(
        (status = 201, description = "Registered", body = NotificationDevice),
        (status = 200, description = "This token was registered already", body = NotificationDevice),
        (status = 409, description = "The caller has 10 devices registered already", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Push is not configured for this platform, or SNS or storage is unreachable; see Retry-After", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn register_push_device(
    State(state): State<AppState>,
    Extension(push): Extension<Push>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationDeviceRegister>,
) -> Result<Response, ApiError> {
    let me = caller.id();
    let id = device_id(&req.token);
    let key = keys::device(me, &id);
    let existing = |d: DeviceRecord| (StatusCode::OK, Json(device_view(d))).into_response();
    if let Some(device) = state.db.get::<DeviceRecord>(key.clone()).await? {
        return Ok(existing(device));
    }
    // Not the guard (the transaction's condition is): spares SNS an endpoint in the common case.
    let inbox: InboxRecord = state.db.get(keys::inbox(me)).await?.unwrap_or_default();
    if inbox.devices >= MAX_DEVICES {
        return Err(too_many_devices());
    }
    let Some(application) = push.application(req.platform) else {
        tracing::error!(
            platform = req.platform.as_str(),
            variable = req.platform.application_env(),
            "no SNS platform application is configured for this platform"
        );
        return Err(ApiError::Unavailable {
            retry_after_secs: UNCONFIGURED_RETRY_SECS,
        });
    };
    let endpoint_arn = push.endpoint(application, &req.token).await?;
    let (pk, sk) = key.clone();
    let device = DeviceRecord {
        pk,
        sk,
        entity_type: DEVICE_ENTITY.into(),
        user_id: me.to_owned(),
        device_id: id,
        platform: req.platform,
        endpoint_arn,
        created_at: shared::now_rfc3339(),
    };
    let table = &state.db.table;
    let items = vec![
        tx::put_new(table, &device)?,
        tx::update(
            table,
            UpdateSpec {
                key: keys::inbox(me),
                update: "SET entity_type = :entity ADD devices :one",
                condition: Some("attribute_not_exists(devices) OR devices < :max"),
                names: &[],
                values: vec![
                    (":entity", s(INBOX_ENTITY)),
                    (":one", n(1)),
                    (":max", n(MAX_DEVICES)),
                ],
            },
        )?,
    ];
    match state.db.transact(items).await {
        Ok(()) => {
            tracing::info!(
                platform = device.platform.as_str(),
                "push device registered"
            );
            Ok((StatusCode::CREATED, Json(device_view(device))).into_response())
        }
        Err(StoreError::TransactionCanceled(reasons)) => {
            let failed = |i: usize| {
                reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
            };
            if failed(0) {
                // the same token, registered concurrently: that registration counted it
                let device = state.db.get::<DeviceRecord>(key).await?;
                return device.map(existing).ok_or_else(|| {
                    ApiError::Conflict(
                        "the device was registered and removed concurrently; retry".into(),
                    )
                });
            }
            if failed(1) {
                push.forget(&device.endpoint_arn).await;
                return Err(too_many_devices());
            }
            Err(StoreError::TransactionCanceled(reasons).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Stop push notifications to a device (by the token it was registered with).
#[utoipa::path(delete, path = "/api/v1/notifications/push/unregister", tag = TAG, security(("bearer" = [])),
    request_body = NotificationDeviceUnregister,
    responses(
        (status = 204, description = "Unregistered"),
        (status = 404, description = "No device of the caller has this token", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
pub async fn unregister_push_device(
    State(state): State<AppState>,
    Extension(push): Extension<Push>,
    caller: AuthUser,
    ValidJson(req): ValidJson<NotificationDeviceUnregister>,
) -> Result<Response, ApiError> {
    let me = caller.id();
    let key = keys::device(me, &device_id(&req.token));
    let not_found = || ApiError::NotFound("no device with this token is registered".into());
    let device: DeviceRecord = state.db.get(key.clone()).await?.ok_or_else(not_found)?;
    let table = &state.db.table;
    let delete = || tx::delete(table, key.clone(), Some("attribute_exists(PK)"), Vec::new());
    let uncount = tx::update(
        table,
        UpdateSpec {
            key: keys::inbox(me),
            update: "ADD devices :minus_one",
            condition: Some("devices > :zero"),
            names: &[],
            values: vec![(":minus_one", n(-1)), (":zero", n(0))],
        },
    )?;
    match state.db.transact(vec![delete()?, uncount]).await {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => return Err(not_found()),
        Err(e) if e.failed_condition_index() == Some(1) => {
            // A device the counter does not count: the counter never goes below zero, the
            // device goes all the same.
            tracing::error!("a registered device was not counted in the inbox; removing it");
            match state.db.transact(vec![delete()?]).await {
                Ok(()) => {}
                Err(e) if e.failed_condition_index() == Some(0) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    }
    push.forget(&device.endpoint_arn).await;
    tracing::info!(
        platform = device.platform.as_str(),
        "push device unregistered"
    );
    Ok(shared::http::no_content())
}
