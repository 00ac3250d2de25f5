//! `/api/v1/notifications/*`: the notification centre's user-facing routes. The notifier
//! consumer delivers notifications; these routes let a user read and tidy their in-app inbox
//! ([`inbox`]), choose channels per category, quiet hours and a verified phone number
//! ([`preferences`]), and register devices for push ([`push`]); admins broadcast promotions
//! and edit the templates ([`admin`]).
//!
//! Every item a user owns lives in their own partition (`USER#<me>`), keyed from the caller's
//! token, so nobody can reach another user's notifications: an id that is not the caller's is
//! simply not there (404). Counters (`INBOX`: unread notifications, registered devices) change
//! in the same transaction as what they count; preferences are rewritten on a `version`
//! condition; events (a phone code to text, a broadcast) go through the outbox in the
//! transaction of the state change.

pub mod admin;
pub mod inbox;
pub mod model;
pub mod preferences;
pub mod push;

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use push::Push;

pub const TAG: &str = "notifications";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(inbox::list_notifications))
        .routes(routes!(inbox::mark_notification_read))
        .routes(routes!(inbox::mark_all_notifications_read))
        .routes(routes!(inbox::delete_notification))
        .routes(routes!(
            preferences::get_notification_preferences,
            preferences::update_notification_preferences
        ))
        .routes(routes!(preferences::request_phone_verification))
        .routes(routes!(preferences::verify_phone_number))
        .routes(routes!(push::register_push_device))
        .routes(routes!(push::unregister_push_device))
        .routes(routes!(admin::send_email_broadcast))
        .routes(routes!(admin::send_sms_broadcast))
        .routes(routes!(
            admin::list_notification_templates,
            admin::save_notification_template
        ))
        .routes(routes!(admin::preview_notification_template))
}

/// The routes with the push client they need (the dev server layers [`push::extension`] on
/// its merged router instead).
pub fn router(state: AppState, push: Push) -> axum::Router {
    let (routes, _) = api().split_for_parts();
    shared::http::finish(routes.layer(push::extension(push)), state)
}
