//! The notification centre's records: in-app notifications and the inbox counter, a user's
//! preferences (channels per category, quiet hours, a verified phone, language), devices
//! registered for push, templates an admin edited, and the digest buffer. Their keys are in
//! `store::keys`; the kinds, channels and templates in the `notification-templates` crate.
//!
//! Written by `api-notifications` (the routes) and the notifier consumer (delivery); the
//! invariants (one notification per event and recipient, an unread count equal to the unread
//! items, at most [`MAX_DEVICES`] devices) hold by conditions in one transaction each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use notification_templates::{
    Category, Channel, KINDS, Kind, Language, Priority, Rendered, Template, TemplateError,
};

use crate::store::keys;

pub const NOTIFICATION_ENTITY: &str = "notification";
pub const INBOX_ENTITY: &str = "inbox";
pub const PREFERENCES_ENTITY: &str = "notification_preferences";
pub const DEVICE_ENTITY: &str = "device";
pub const TEMPLATE_ENTITY: &str = "notification_template";
pub const DIGEST_ENTITY: &str = "notification_digest";
pub const LIVE_ENTITY: &str = "ws_live";

/// How long an in-app notification is kept (TTL).
pub const NOTIFICATION_TTL_SECS: i64 = 180 * 24 * 3600;
/// Devices one user may register for push.
pub const MAX_DEVICES: u32 = 10;
/// Shards of the digest buffer (the tick Queries each).
pub const DIGEST_SHARDS: u32 = 8;
/// A digest entry nobody flushed is dropped after this long (TTL): a week of outage.
pub const DIGEST_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest device token accepted (APNs tokens are 64 hex characters, FCM ones ~ 160–300).
pub const MAX_DEVICE_TOKEN_LEN: usize = 4096;

/// `USER#<user>` / `NOTIF#<id>`: one notification in a user's inbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotificationRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub text: String,
    /// Where the notification points in the web app, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    pub created_at: String,
    /// TTL (Unix seconds).
    pub expires_at: i64,
}

/// The id of the notification an event makes for one kind: the event's id (a ULID, so ids
/// sort by time) and the kind. One per (event, recipient): the recipient is the partition.
pub fn notification_id(event_id: &str, kind: &str) -> String {
    format!("{event_id}.{kind}")
}

/// A notification id as a client may send it: `<ULID-ish>.<kind>`, nothing a key could abuse.
pub fn valid_notification_id(id: &str) -> bool {
    (3..=120).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && id.contains('.')
}

/// `USER#<user>` / `INBOX`: counters kept in the same transaction as what they count.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InboxRecord {
    #[serde(default)]
    pub unread: i64,
    #[serde(default)]
    pub devices: u32,
}

/// Which channels a category may use for one user.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Switches {
    pub in_app: bool,
    pub email: bool,
    pub sms: bool,
    pub push: bool,
}

impl Switches {
    /// Everything on: SMS still needs a verified phone, push a registered device.
    pub const ALL_ON: Switches = Switches {
        in_app: true,
        email: true,
        sms: true,
        push: true,
    };

    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::InApp => self.in_app,
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
        }
    }
}

/// Hours when important SMS and push wait (critical ones do not), in the user's time zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour.
    pub start: String,
    /// `HH:MM`; before `start` means the quiet hours run past midnight.
    pub end: String,
    /// An IANA time zone name (`Asia/Ho_Chi_Minh`).
    pub time_zone: String,
}

/// A phone number for SMS: unverified until the user sends back the code texted to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Phone {
    /// E.164 (`+84901234567`).
    pub number: String,
    pub verified: bool,
    /// HMAC of the pending verification code (the table never holds the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expires_at: Option<i64>,
    /// Wrong codes sent for the pending code; at [`PHONE_CODE_ATTEMPTS`] it dies.
    #[serde(default)]
    pub attempts: u32,
}

/// Wrong verification codes allowed before the code dies.
pub const PHONE_CODE_ATTEMPTS: u32 = 5;
/// How long a phone verification code lives.
pub const PHONE_CODE_MINUTES: i64 = 10;

/// `USER#<user>` / `NOTIFY#PREFS`. Absent means the defaults: every category on every channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreferencesRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// By category name; a category not listed has every channel on.
    #[serde(default)]
    pub channels: BTreeMap<String, Switches>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// Bumped on every change (the PUT is conditional on it).
    #[serde(default)]
    pub version: u64,
    pub updated_at: String,
}

impl PreferencesRecord {
    pub fn defaults(user_id: &str) -> Self {
        let (pk, sk) = keys::notification_preferences(user_id);
        Self {
            pk,
            sk,
            entity_type: PREFERENCES_ENTITY.into(),
            user_id: user_id.into(),
            language: None,
            channels: BTreeMap::new(),
            quiet_hours: None,
            phone: None,
            version: 0,
            updated_at: crate::now_rfc3339(),
        }
    }

    pub fn switches(&self, category: Category) -> Switches {
        self.channels
            .get(category.as_str())
            .copied()
            .unwrap_or(Switches::ALL_ON)
    }

    /// Whether `kind` may go out on `channel` for this user: a kind that is always on ignores
    /// the switches, but SMS always needs a verified number.
    pub fn allows(&self, kind: &Kind, channel: Channel) -> bool {
        if channel == Channel::Sms && self.verified_phone().is_none() {
            return false;
        }
        kind.always_on || self.switches(kind.category).allows(channel)
    }

    pub fn verified_phone(&self) -> Option<&str> {
        self.phone
            .as_ref()
            .filter(|p| p.verified)
            .map(|p| p.number.as_str())
    }
}

/// Categories whose notifications a user cannot turn off (some kinds of others are always on
/// too, such as a failed payment).
pub fn mandatory(category: Category) -> bool {
    category == Category::Security
}

/// Push platforms (an SNS platform application each).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Ios, Platform::Android, Platform::Web];
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Web => "web",
        }
    }
    /// The environment variable holding the platform application's ARN.
    pub fn application_env(self) -> &'static str {
        match self {
            Platform::Ios => "PUSH_IOS_APPLICATION_ARN",
            Platform::Android => "PUSH_ANDROID_APPLICATION_ARN",
            Platform::Web => "PUSH_WEB_APPLICATION_ARN",
        }
    }
}

/// `USER#<user>` / `NOTIFY#DEVICE#<id>`: a device token registered for push, with its SNS endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub device_id: String,
    pub platform: Platform,
    pub endpoint_arn: String,
    pub created_at: String,
}

/// A device's id: the first 128 bits of the token's SHA-256, hex (the same token registered
/// twice is one device; the id reveals nothing of the token).
pub fn device_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// `NOTIFTEMPLATES` / `<kind>#<channel>#<language>`: a template an admin changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub kind: String,
    pub channel: Channel,
    pub language: Language,
    pub template: Template,
    pub updated_at: String,
    pub updated_by: String,
}

/// Every template an admin changed (one small partition: at most kinds × channels × 2).
pub async fn edited_templates(
    db: &crate::store::Db,
) -> Result<Vec<TemplateRecord>, crate::store::StoreError> {
    db.query_all(
        None,
        "PK = :pk",
        &[(":pk", crate::store::s(keys::NOTIFICATION_TEMPLATES))],
    )
    .await
}

/// `NOTIFDIGEST#<shard>` / `<due>#<user>#<channel>#<notification id>`: one message waiting for
/// the minute tick, which sends every entry of a user and channel that is due as one digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DigestEntry {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub channel: Channel,
    pub language: Language,
    pub notification_id: String,
    /// Where it goes: the e-mail address, the phone number, or `<device id>=<endpoint ARN>`
    /// per push device (as they were when the notification was made).
    pub to: Vec<String>,
    /// The message as it would have gone alone (a digest of one is sent as it is).
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Unix seconds from when it may be sent.
    pub due_at: i64,
    /// TTL (Unix seconds).
    pub expires_at: i64,
}

/// The digest shard of a user (stable: a user's entries of one minute are in one partition).
pub fn digest_shard(user_id: &str) -> u32 {
    let digest = Sha256::digest(user_id.as_bytes());
    u32::from(digest[0]) % DIGEST_SHARDS
}

/// `USER#<user>` / `NOTIFY#LIVE#<connection>`: a WebSocket connection receiving the user's
/// notifications live (same expiry as the connection).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LiveRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
    pub connection_id: String,
    /// TTL (Unix seconds).
    pub expires_at: i64,
}

/// The frame a live connection receives for a new notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LiveFrame {
    /// Always `notification`.
    #[serde(rename = "type")]
    pub kind_of_frame: String,
    pub id: String,
    pub kind: String,
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub created_at: String,
}

impl LiveFrame {
    pub fn of(n: &NotificationRecord) -> Self {
        Self {
            kind_of_frame: "notification".into(),
            id: n.id.clone(),
            kind: n.kind.clone(),
            category: n.category,
            priority: n.priority,
            title: n.title.clone(),
            text: n.text.clone(),
            link: n.link.clone(),
            created_at: n.created_at.clone(),
        }
    }
}

/// E.164: `+`, a country code not starting with 0, 8 to 15 digits in all.
pub fn valid_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `HH:MM` (00:00–23:59) as minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(valid_e164("+84901234567"));
        assert!(valid_e164("+14155550123"));
        for bad in [
            "0901234567",
            "+0901234567",
            "+84 90 123",
            "+84-901234567",
            "+1234567",
            "+1234567890123456",
            "",
        ] {
            assert!(!valid_e164(bad), "{bad}");
        }
    }

    #[test]
    fn clocks_are_hh_mm() {
        assert_eq!(parse_clock("00:00"), Some(0));
        assert_eq!(parse_clock("22:30"), Some(22 * 60 + 30));
        assert_eq!(parse_clock("23:59"), Some(1439));
        for bad in ["25:00", "24:00", "7:00", "07:60", "07-00", "ab:cd", ""] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }

    #[test]
    fn preferences_gate_channels_but_not_always_on_kinds_and_sms_needs_a_verified_phone() {
        let mut prefs = PreferencesRecord::defaults("u1");
        let order = notification_templates::kind("order_update").unwrap();
        let reset = notification_templates::kind("password_reset").unwrap();
        assert!(prefs.allows(order, Channel::Email));
        assert!(!prefs.allows(order, Channel::Sms), "no phone yet");
        prefs.channels.insert(
            "orders".into(),
            Switches {
                email: false,
                ..Switches::ALL_ON
            },
        );
        prefs.channels.insert(
            "security".into(),
            Switches {
                email: false,
                ..Switches::ALL_ON
            },
        );
        assert!(!prefs.allows(order, Channel::Email));
        assert!(prefs.allows(order, Channel::InApp));
        assert!(prefs.allows(reset, Channel::Email), "always on");
        prefs.phone = Some(Phone {
            number: "+84901234567".into(),
            verified: false,
            code_hash: None,
            code_expires_at: None,
            attempts: 0,
        });
        assert!(!prefs.allows(order, Channel::Sms), "not verified");
        prefs.phone.as_mut().unwrap().verified = true;
        assert!(prefs.allows(order, Channel::Sms));
    }

    #[test]
    fn ids_and_shards_are_stable() {
        assert_eq!(device_id("tok"), device_id("tok"));
        assert_ne!(device_id("tok"), device_id("tok2"));
        assert_eq!(device_id("tok").len(), 32);
        assert!(digest_shard("u1") < DIGEST_SHARDS);
        let id = notification_id("01JABC", "order_placed");
        assert!(valid_notification_id(&id));
        assert!(!valid_notification_id("NOTIF#x.y"));
        assert!(!valid_notification_id("nodot"));
    }
}
