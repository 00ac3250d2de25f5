//! Every partition/sort key shape of the single table lives here and nowhere else.
//! See docs/data-model.md for the access pattern each key serves.

/// Sort key used by items that are the only one of their kind in a partition.
pub const PROFILE: &str = "PROFILE";

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}
pub fn user_profile(user_id: &str) -> (String, String) {
    (user_pk(user_id), PROFILE.to_owned())
}
/// Guard item that makes an e-mail address unique across users.
pub fn email_guard(email: &str) -> (String, String) {
    (format!("EMAIL#{email}"), "USER".to_owned())
}
pub const ADDRESS_PREFIX: &str = "ADDRESS#";
pub fn address(user_id: &str, address_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{ADDRESS_PREFIX}{address_id}"))
}
/// The pending password-reset code of a user (at most one at a time).
pub fn password_reset(user_id: &str) -> (String, String) {
    (user_pk(user_id), "PASSWORD_RESET".to_owned())
}
/// E-mail verification token, keyed by the SHA-256 of the token so the table never holds it.
pub fn email_verification(token_hash: &str) -> (String, String) {
    (format!("EMAILVERIFY#{token_hash}"), "TOKEN".to_owned())
}
/// A refresh-token family: one login session whose token rotates on every use.
pub fn refresh_family(family_id: &str) -> (String, String) {
    (format!("REFRESH#{family_id}"), "FAMILY".to_owned())
}
/// Failed-login counter for one (normalised) e-mail address.
pub fn login_throttle(email: &str) -> (String, String) {
    (format!("LOGINTHROTTLE#{email}"), "COUNTER".to_owned())
}
pub const OUTBOX_PREFIX: &str = "OUTBOX#";
pub fn outbox(event_id: &str) -> (String, String) {
    (format!("{OUTBOX_PREFIX}{event_id}"), "EVENT".to_owned())
}
/// Marks an event as handled by one consumer (idempotency record).
pub fn processed_event(consumer: &str, event_id: &str) -> (String, String) {
    (
        format!("PROCESSED#{consumer}#{event_id}"),
        "EVENT".to_owned(),
    )
}
pub fn idempotency(scope: &str, key: &str) -> (String, String) {
    (format!("IDEMPOTENCY#{scope}#{key}"), "RESPONSE".to_owned())
}

/// GSI1: every user, newest first (admin listing).
pub const GSI1_ALL_USERS: &str = "USERS";
pub fn gsi1_user_sort(created_at: &str, user_id: &str) -> String {
    format!("{created_at}#{user_id}")
}
