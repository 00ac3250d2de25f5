//! Request and response bodies of the notification routes, with their validation. Category
//! switches travel as a map by category name, so a field error names them as
//! `channels.security.email`; quiet hours as `quiet_hours.start`, ….
//!
//! The catalogue's enums (`Category`, `Channel`, `Language`, `Priority`) come from the
//! `notification-templates` crate, which knows nothing of OpenAPI: the `Notification*` enums
//! below document them (`value_type`), variant for variant.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use shared::auth::Role;
use shared::error::FieldError;
use shared::events::Segment;
use shared::notifications::{
    Category, Channel, Language, MAX_DEVICE_TOKEN_LEN, NotificationRecord, Platform, Priority,
    QuietHours, mandatory, parse_clock, valid_e164,
};
use shared::validate::{self, Errors, Validate};
use utoipa::{IntoParams, ToSchema};

/// Most users one broadcast may name.
pub const MAX_SEGMENT_USERS: usize = 500;
/// Longest broadcast title.
pub const MAX_BROADCAST_TITLE: usize = 120;
/// Longest e-mail broadcast message.
pub const MAX_EMAIL_MESSAGE: usize = 1000;
/// Longest SMS broadcast message (the SMS channel's own limit).
pub const MAX_SMS_MESSAGE: usize = 480;
/// Longest time zone name accepted (the longest IANA name has 32 characters).
const MAX_TIME_ZONE_LEN: usize = 64;

// Documentation only: the `value_type` of category fields.
/// What a notification is about; preferences switch channels per category.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationCategory {
    Orders,
    Payments,
    Shipping,
    Promotions,
    Account,
    /// Mandatory: its notifications cannot be turned off.
    Security,
}

// Documentation only: the `value_type` of channel fields.
/// Where a notification is delivered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationChannel {
    InApp,
    Email,
    Sms,
    Push,
}

// Documentation only: the `value_type` of language fields.
/// The language notifications are written in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLanguage {
    Vi,
    En,
}

// Documentation only: the `value_type` of priority fields.
/// How urgent a notification is: critical ones go out at once, important ones wait for the end
/// of quiet hours on SMS and push, normal ones may be bundled into a digest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationPriority {
    Critical,
    Important,
    Normal,
}

// ---------------------------------------------------------------- inbox

/// One in-app notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    #[schema(example = "01JD7Q2W8Y3C5V6B7N8M9K0J1H.order_confirmed")]
    pub id: String,
    /// The kind (see `GET /api/v1/notifications/templates`).
    #[schema(example = "order_confirmed")]
    pub kind: String,
    #[schema(value_type = NotificationCategory)]
    pub category: Category,
    #[schema(value_type = NotificationPriority)]
    pub priority: Priority,
    pub title: String,
    pub text: String,
    /// Where it points in the web app, if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    pub created_at: String,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            category: n.category,
            priority: n.priority,
            title: n.title,
            text: n.text,
            link: n.link,
            read: n.read,
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}

/// A page of the caller's notifications, newest first, with the unread count of all of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
    /// Unread notifications in the whole inbox (not only this page).
    #[schema(minimum = 0)]
    pub unread_count: i64,
}

/// `?unread=` of the notification list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// `true`: only unread notifications (a page may then hold fewer than `limit`, even none,
    /// and still have a `next_cursor`).
    pub unread: Option<bool>,
}

/// What `mark-all-read` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsMarked {
    /// Notifications this call marked read.
    #[schema(minimum = 0)]
    pub marked: i64,
    /// Unread notifications left (some may have arrived meanwhile).
    #[schema(minimum = 0)]
    pub unread_count: i64,
}

// ---------------------------------------------------------------- preferences

/// The channels of one category.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSwitches {
    pub in_app: bool,
    pub email: bool,
    /// SMS also needs a verified phone number.
    pub sms: bool,
    /// Push also needs a registered device.
    pub push: bool,
    /// A mandatory category (security) is always on, on every channel.
    pub mandatory: bool,
}

/// Quiet hours: important SMS and push wait until they end (critical ones do not).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuietHours {
    /// `HH:MM`, 24-hour, 00:00–23:59.
    #[schema(example = "22:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// `HH:MM`; earlier than `start` means the quiet hours run past midnight. Not `start`.
    #[schema(example = "07:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
    /// An IANA time zone name.
    #[schema(
        example = "Asia/Ho_Chi_Minh",
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9_+/-]+$"
    )]
    pub time_zone: String,
}

impl From<QuietHours> for NotificationQuietHours {
    fn from(q: QuietHours) -> Self {
        Self {
            start: q.start,
            end: q.end,
            time_zone: q.time_zone,
        }
    }
}

impl From<NotificationQuietHours> for QuietHours {
    fn from(q: NotificationQuietHours) -> Self {
        Self {
            start: q.start,
            end: q.end,
            time_zone: q.time_zone,
        }
    }
}

/// The phone number SMS go to.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPhone {
    #[schema(example = "+84901234567")]
    pub number: String,
    /// Only a verified number receives SMS.
    pub verified: bool,
}

/// A user's notification preferences (the defaults until they change any).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreferences {
    #[schema(value_type = NotificationLanguage)]
    pub language: Language,
    /// Every category, by name (`orders`, `payments`, `shipping`, `promotions`, `account`,
    /// `security`).
    pub channels: BTreeMap<String, NotificationSwitches>,
    pub quiet_hours: Option<NotificationQuietHours>,
    pub phone: Option<NotificationPhone>,
}

/// The channels of one category to change; absent ones stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSwitchesPatch {
    pub in_app: Option<bool>,
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub push: Option<bool>,
}

impl NotificationSwitchesPatch {
    /// The channels this patch sets, with their new value.
    pub fn given(&self) -> impl Iterator<Item = (Channel, bool)> {
        [
            (Channel::InApp, self.in_app),
            (Channel::Email, self.email),
            (Channel::Sms, self.sms),
            (Channel::Push, self.push),
        ]
        .into_iter()
        .filter_map(|(c, v)| v.map(|v| (c, v)))
    }
}

/// What to change in the preferences: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferencesUpdate {
    #[schema(value_type = Option<NotificationLanguage>)]
    pub language: Option<Language>,
    /// By category name; in each, the channels to switch. A mandatory category (security)
    /// cannot be switched off.
    pub channels: Option<BTreeMap<String, NotificationSwitchesPatch>>,
    /// New quiet hours, or `null` to have none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NotificationQuietHours>)]
    pub quiet_hours: Option<Option<NotificationQuietHours>>,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`, the default).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn category_names() -> String {
    Category::ALL
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Validate for NotificationPreferencesUpdate {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        for (name, patch) in self.channels.iter().flatten() {
            let Some(category) = Category::parse(name) else {
                e.push(
                    &format!("channels.{name}"),
                    &format!("is not a category; the categories are {}", category_names()),
                );
                continue;
            };
            if mandatory(category) {
                for (channel, on) in patch.given() {
                    if !on {
                        e.push(
                            &format!("channels.{name}.{}", channel.as_str()),
                            &format!("{name} notifications cannot be turned off"),
                        );
                    }
                }
            }
        }
        if let Some(Some(quiet)) = &mut self.quiet_hours {
            let start = parse_clock(&quiet.start);
            let end = parse_clock(&quiet.end);
            let clock = "must be a time HH:MM from 00:00 to 23:59";
            if start.is_none() {
                e.push("quiet_hours.start", clock);
            }
            if end.is_none() {
                e.push("quiet_hours.end", clock);
            } else if start == end {
                e.push("quiet_hours.end", "must differ from start");
            }
            match time_zone(&quiet.time_zone) {
                Some(name) => quiet.time_zone = name,
                None => e.push(
                    "quiet_hours.time_zone",
                    "is not an IANA time zone name such as Asia/Ho_Chi_Minh",
                ),
            }
        }
        e.finish()
    }
}

/// The canonical name of an IANA time zone, if `name` is one (case-insensitively).
fn time_zone(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_TIME_ZONE_LEN {
        return None;
    }
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    Some(tz.iana_name().unwrap_or(name).to_owned())
}

/// A phone number to receive SMS, verified by the code texted to it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPhoneRequest {
    /// E.164: `+`, the country code and the number, 8 to 15 digits in all.
    #[schema(example = "+84901234567", pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: String,
}

impl Validate for NotificationPhoneRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.phone = self.phone.trim().to_owned();
        if !valid_e164(&self.phone) {
            return Err(vec![FieldError::new(
                "phone",
                "must be an E.164 number such as +84901234567",
            )]);
        }
        Ok(())
    }
}

/// A code was texted to the number.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPhonePending {
    #[schema(example = "+84901234567")]
    pub phone: String,
    /// Always `false` until the code is sent back.
    pub verified: bool,
    /// How long the code is valid.
    #[schema(example = 10)]
    pub expires_in_minutes: i64,
}

/// The code texted to the number. (No `Debug`: the code is a secret.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPhoneVerify {
    /// The 6 digits texted to the number.
    #[schema(example = "482913", pattern = "^[0-9]{6}$")]
    pub code: String,
}

impl Validate for NotificationPhoneVerify {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.code = self.code.trim().to_owned();
        if self.code.len() != 6 || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(vec![FieldError::new(
                "code",
                "must be the 6 digits texted to the number",
            )]);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- push devices

fn check_token(e: &mut Errors, token: &str) {
    let printable = token.bytes().all(|b| b.is_ascii_graphic());
    if token.is_empty() || token.len() > MAX_DEVICE_TOKEN_LEN || !printable {
        e.push(
            "token",
            &format!(
                "must be 1 to {MAX_DEVICE_TOKEN_LEN} printable ASCII characters without spaces"
            ),
        );
    }
}

/// A device to receive push notifications: the token its platform (APNs, FCM, web push) gave
/// the app. (No `Debug`: the token addresses the device.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationDeviceRegister {
    /// The platform's device token, as the app received it.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = "^[!-~]+$",
        example = "f3a9c1d2e4b5a6978812c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8"
    )]
    pub token: String,
    pub platform: Platform,
}

impl Validate for NotificationDeviceRegister {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_token(&mut e, &self.token);
        e.finish()
    }
}

/// A device to stop sending push notifications to. (No `Debug`: see
/// [`NotificationDeviceRegister`].)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationDeviceUnregister {
    /// The token it was registered with.
    #[schema(min_length = 1, max_length = 4096, pattern = "^[!-~]+$")]
    pub token: String,
}

impl Validate for NotificationDeviceUnregister {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_token(&mut e, &self.token);
        e.finish()
    }
}

/// A registered device.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDevice {
    /// Derived from the token (the same token is the same device); reveals nothing of it.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015")]
    pub device_id: String,
    pub platform: Platform,
    pub created_at: String,
}

// ---------------------------------------------------------------- broadcasts

/// Who a broadcast goes to: exactly one of `{"everyone": true}`, `{"role": "buyer"}`,
/// `{"user_ids": [...]}` (1 to 500 user ids).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationSegment {
    /// Every user; must be `true`.
    Everyone(bool),
    /// Every user holding this role.
    Role(Role),
    /// These users (1 to 500 ids).
    UserIds(Vec<String>),
}

impl NotificationSegment {
    fn check(&mut self, e: &mut Errors) {
        match self {
            Self::Everyone(true) | Self::Role(_) => {}
            Self::Everyone(false) => e.push("segment.everyone", "must be true"),
            Self::UserIds(ids) => {
                if ids.is_empty() || ids.len() > MAX_SEGMENT_USERS {
                    e.push(
                        "segment.user_ids",
                        &format!("must list 1 to {MAX_SEGMENT_USERS} user ids"),
                    );
                }
                for (i, id) in ids.iter_mut().enumerate() {
                    e.check(validate::id(&format!("segment.user_ids[{i}]"), id));
                }
                ids.sort_unstable();
                ids.dedup();
            }
        }
    }

    /// The event's segment (after [`Validate`]).
    pub fn into_segment(self) -> Segment {
        match self {
            Self::Everyone(_) => Segment::Everyone,
            Self::Role(role) => Segment::Role(role),
            Self::UserIds(ids) => Segment::Users(ids),
        }
    }
}

/// A message to text to a segment of the users (all channels they allow for promotions go
/// along: in-app and push too).
fn check_broadcast(
    segment: &mut NotificationSegment,
    title: &mut String,
    message: &mut String,
    max_message: usize,
) -> Result<(), Vec<FieldError>> {
    let mut e = Errors::default();
    segment.check(&mut e);
    e.check(validate::text("title", title, 1, MAX_BROADCAST_TITLE));
    e.check(message_text("message", message, max_message));
    e.finish()
}

/// Free text that may have line breaks (and no other control characters), trimmed.
fn message_text(field: &str, value: &mut String, max: usize) -> Result<(), FieldError> {
    *value = value.trim().to_owned();
    let len = value.chars().count();
    if len == 0 {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new(
            field,
            "must not contain control characters other than line breaks",
        ));
    }
    Ok(())
}

/// An e-mail broadcast (a promotion): each recipient also gets it in-app and by push where
/// their preferences allow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationEmailBroadcast {
    pub segment: NotificationSegment,
    #[schema(
        example = "Weekend sale: up to 50% off",
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub title: String,
    /// Plain text; line breaks allowed.
    #[schema(
        example = "Thousands of products are up to 50% off until Sunday night.",
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub message: String,
}

impl Validate for NotificationEmailBroadcast {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        check_broadcast(
            &mut self.segment,
            &mut self.title,
            &mut self.message,
            MAX_EMAIL_MESSAGE,
        )
    }
}

/// An SMS broadcast (a promotion): the message is texted to recipients with a verified number
/// who allow SMS for promotions; in-app and push go along.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSmsBroadcast {
    pub segment: NotificationSegment,
    /// The in-app and push title (an SMS has none).
    #[schema(
        example = "Weekend sale",
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub title: String,
    /// Plain text, at most 480 characters; line breaks allowed.
    #[schema(
        example = "Up to 50% off until Sunday night at cho.example.vn",
        min_length = 1,
        max_length = 480,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub message: String,
}

impl Validate for NotificationSmsBroadcast {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        check_broadcast(
            &mut self.segment,
            &mut self.title,
            &mut self.message,
            MAX_SMS_MESSAGE,
        )
    }
}

/// The broadcast was accepted; the notifier delivers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationBroadcastAccepted {
    #[schema(example = "01JD7Q2W8Y3C5V6B7N8M9K0J1H")]
    pub broadcast_id: String,
}

// ---------------------------------------------------------------- templates

/// One template: of a kind, for a channel, in a language.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationTemplateEntry {
    #[schema(example = "order_confirmed")]
    pub kind: String,
    pub description: String,
    #[schema(value_type = NotificationCategory)]
    pub category: Category,
    #[schema(value_type = NotificationPriority)]
    pub priority: Priority,
    #[schema(value_type = NotificationChannel)]
    pub channel: Channel,
    #[schema(value_type = NotificationLanguage)]
    pub language: Language,
    /// The placeholders (`{{name}}`) its title and body may use.
    pub variables: Vec<String>,
    /// Subject (e-mail) or title (in-app, push); empty for SMS.
    pub title: String,
    pub body: String,
    /// Whether an admin changed it (else it is the built-in one).
    pub customised: bool,
}

/// Which template: the kind must go out on the channel.
fn check_target(e: &mut Errors, kind: &mut String, channel: Channel) {
    *kind = kind.trim().to_owned();
    match notification_templates::kind(kind) {
        None => e.push(
            "kind",
            "is not a notification kind; GET /api/v1/notifications/templates lists them",
        ),
        Some(k) if !k.uses(channel) => e.push(
            "channel",
            &format!(
                "{} is not sent by {}; it goes out on {}",
                k.name,
                channel.as_str(),
                k.channels
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some(_) => {}
    }
}

/// A template to save in place of the current one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationTemplateSave {
    #[schema(
        example = "order_confirmed",
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z_]+$"
    )]
    pub kind: String,
    #[schema(value_type = NotificationChannel)]
    pub channel: Channel,
    #[schema(value_type = NotificationLanguage)]
    pub language: Language,
    /// Subject (e-mail) or title (in-app, push), one line; absent or empty for SMS.
    #[serde(default)]
    #[schema(example = "Order {{order_id}} is confirmed", max_length = 200)]
    pub title: String,
    /// Plain text with `{{variable}}` placeholders (only the kind's variables).
    #[schema(
        example = "Hi {{name}}, {{shop}} confirmed your order {{order_id}} ({{total}}).",
        min_length = 1,
        max_length = 4000
    )]
    pub body: String,
}

impl Validate for NotificationTemplateSave {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_target(&mut e, &mut self.kind, self.channel);
        if let (true, Some(kind)) = (e.0.is_empty(), notification_templates::kind(&self.kind)) {
            let template = shared::notifications::Template {
                title: self.title.clone(),
                body: self.body.clone(),
            };
            if let Err(err) = notification_templates::check(kind, self.channel, &template) {
                e.push(err.field, &err.message);
            }
        }
        e.finish()
    }
}

/// A template to render with sample values: the one given, or (without `title` and `body`)
/// the current one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationTemplatePreviewRequest {
    #[schema(
        example = "order_confirmed",
        min_length = 1,
        max_length = 64,
        pattern = "^[a-z_]+$"
    )]
    pub kind: String,
    #[schema(value_type = NotificationChannel)]
    pub channel: Channel,
    #[schema(value_type = NotificationLanguage)]
    pub language: Language,
    /// Instead of the current title.
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// Instead of the current body.
    #[schema(max_length = 4000)]
    pub body: Option<String>,
}

impl Validate for NotificationTemplatePreviewRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        check_target(&mut e, &mut self.kind, self.channel);
        e.finish()
    }
}

/// A template rendered with sample values.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPreview {
    /// Empty for SMS.
    pub title: String,
    pub text: String,
    /// E-mail only: the HTML body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: serde_json::Value) -> Result<NotificationPreferencesUpdate, Vec<String>> {
        let mut u: NotificationPreferencesUpdate =
            serde_json::from_value(json).map_err(|e| vec![e.to_string()])?;
        u.validate()
            .map_err(|errors| errors.into_iter().map(|e| e.field).collect::<Vec<_>>())?;
        Ok(u)
    }

    #[test]
    fn preference_errors_name_the_field() {
        assert_eq!(
            update(serde_json::json!({"channels": {"gossip": {"email": false}}})).unwrap_err(),
            ["channels.gossip"]
        );
        assert_eq!(
            update(serde_json::json!({"channels": {"security": {"email": false, "sms": true}}}))
                .unwrap_err(),
            ["channels.security.email"]
        );
        assert_eq!(
            update(serde_json::json!({"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "Mars/Olympus"}}))
                .unwrap_err(),
            ["quiet_hours.start", "quiet_hours.time_zone"]
        );
        assert_eq!(
            update(serde_json::json!({"quiet_hours": {"start": "07:00", "end": "07:00", "time_zone": "UTC"}}))
                .unwrap_err(),
            ["quiet_hours.end"]
        );
    }

    #[test]
    fn quiet_hours_may_be_absent_null_or_given_and_time_zones_are_canonical() {
        assert!(update(serde_json::json!({})).unwrap().quiet_hours.is_none());
        assert!(matches!(
            update(serde_json::json!({"quiet_hours": null}))
                .unwrap()
                .quiet_hours,
            Some(None)
        ));
        let u = update(serde_json::json!({"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "asia/ho_chi_minh"}}))
            .unwrap();
        assert_eq!(
            u.quiet_hours.unwrap().unwrap().time_zone,
            "Asia/Ho_Chi_Minh"
        );
    }

    #[test]
    fn device_tokens_are_printable_ascii_of_bounded_length() {
        let check = |token: String| {
            let mut r = NotificationDeviceRegister {
                token,
                platform: Platform::Web,
            };
            r.validate().map_err(|e| e[0].field.clone())
        };
        assert!(check("abc123".into()).is_ok());
        for bad in [String::new(), "a b".into(), "é".into(), "x".repeat(5000)] {
            assert_eq!(check(bad).unwrap_err(), "token");
        }
    }

    #[test]
    fn segments_need_exactly_one_valid_audience() {
        let parse = |json: serde_json::Value| {
            let mut b: NotificationEmailBroadcast = serde_json::from_value(json)?;
            Ok::<_, serde_json::Error>(b.validate().map_err(|e| e[0].field.clone()))
        };
        assert!(
            parse(serde_json::json!({"segment": {"role": "buyer"}, "title": "t", "message": "m"}))
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            parse(
                serde_json::json!({"segment": {"everyone": false}, "title": "t", "message": "m"})
            )
            .unwrap()
            .unwrap_err(),
            "segment.everyone"
        );
        assert_eq!(
            parse(serde_json::json!({"segment": {"user_ids": []}, "title": "t", "message": "m"}))
                .unwrap()
                .unwrap_err(),
            "segment.user_ids"
        );
        assert!(
            parse(serde_json::json!({"segment": {"everyone": true, "role": "buyer"}, "title": "t", "message": "m"}))
                .is_err()
        );
    }

    #[test]
    fn templates_are_checked_against_their_kind() {
        let save = |json: serde_json::Value| {
            let mut t: NotificationTemplateSave = serde_json::from_value(json).unwrap();
            t.validate().map_err(|e| e[0].field.clone())
        };
        assert_eq!(
            save(
                serde_json::json!({"kind": "nope", "channel": "email", "language": "en", "body": "x"})
            ),
            Err("kind".into())
        );
        assert_eq!(
            save(
                serde_json::json!({"kind": "password_reset", "channel": "sms", "language": "en", "body": "x"})
            ),
            Err("channel".into())
        );
        assert_eq!(
            save(
                serde_json::json!({"kind": "password_reset", "channel": "email", "language": "en", "title": "Reset", "body": "{{nope}}"})
            ),
            Err("body".into())
        );
        assert!(
            save(serde_json::json!({"kind": "password_reset", "channel": "email", "language": "en", "title": "Reset", "body": "Code {{code}}"}))
                .is_ok()
        );
    }

    #[test]
    fn a_segment_of_an_unknown_role_names_it() {
        let err = shared::http::parse_json::<NotificationEmailBroadcast>(
            br#"{"segment": {"role": "king"}, "title": "t", "message": "m"}"#,
        )
        .err()
        .unwrap()
        .problem();
        assert_eq!(err.errors[0].field, "segment.role");
    }
}
