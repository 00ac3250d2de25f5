//! The notification centre's catalogue: which kinds of notification exist ([`KINDS`]), on
//! which [`Channel`]s each goes out (in-app, e-mail, SMS, push), their built-in templates in
//! both [`Language`]s (Vietnamese and English), and the three things done with a template:
//!
//! - [`check`] — an admin may edit a template, so it is validated when loaded or saved: only
//!   the kind's variables, no unclosed `{{`, a title where the channel needs one (and none on
//!   SMS), within the channel's length limits;
//! - [`render`] — fills the placeholders (`{{name}}`, `{{ name }}`) from the values given; a
//!   variable without a value is an error ([`RenderError`]), never a hole in a customer's
//!   message. E-mail also gets an HTML body, with every value HTML-escaped;
//! - [`digest`] — several normal-priority notifications of one user bundled into one message.
//!
//! [`sample`] gives realistic values for every variable of a kind, for the admin preview and
//! for the tests, which render every built-in template of every kind with them.
//!
//! The crate is pure: no I/O, no clock, no randomness.

mod builtin;
mod digest;
mod html;
mod kinds;
mod render;
mod sample;
mod template;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use builtin::builtin;
pub use digest::digest;
pub use kinds::{KINDS, Kind, kind};
pub use render::{RenderError, Rendered, render};
pub use sample::{sample, sample_in};
pub use template::{TITLE_LIMIT, Template, TemplateError, check};

/// Where a notification is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Email,
    Sms,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::InApp, Channel::Email, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    /// The channel named as [`Channel::as_str`] (and serde) name it.
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether a template for this channel must have a title (the e-mail's subject, the
    /// in-app or push title). SMS has none.
    pub fn needs_title(self) -> bool {
        self != Channel::Sms
    }

    /// The longest body (in characters) a template for this channel may have; digests are
    /// trimmed to it.
    pub fn body_limit(self) -> usize {
        match self {
            Channel::InApp | Channel::Email => 4000,
            Channel::Sms => 480,
            Channel::Push => 1000,
        }
    }
}

/// The language a notification is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Vi,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Vi, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }

    /// A language tag by its primary subtag, case-insensitively: `"vi"`, `"vi-VN"`, `"VI"`,
    /// `"vi_VN"` are Vietnamese; `"en"`, `"en-US"` English. For a list such as an
    /// `Accept-Language` header only the first entry counts. Anything else is `None`.
    pub fn parse(s: &str) -> Option<Language> {
        let primary = s.trim().split(['-', '_', ',', ';']).next()?.trim();
        Language::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.as_str()))
    }

    /// [`Language::parse`], falling back to English when absent or not understood.
    pub fn or_default(s: Option<&str>) -> Language {
        s.and_then(Language::parse).unwrap_or(Language::En)
    }
}

/// How urgent a kind is: critical ones go out at once (even in quiet hours), important ones
/// at once but wait for the end of quiet hours on SMS and push, normal ones may be bundled
/// into a [`digest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    Important,
    Normal,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Critical, Priority::Important, Priority::Normal];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::Important => "important",
            Priority::Normal => "normal",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a notification is about; a user's preferences switch channels per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Orders,
    Payments,
    Shipping,
    Promotions,
    Account,
    Security,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Orders,
        Category::Payments,
        Category::Shipping,
        Category::Promotions,
        Category::Account,
        Category::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Orders => "orders",
            Category::Payments => "payments",
            Category::Shipping => "shipping",
            Category::Promotions => "promotions",
            Category::Account => "account",
            Category::Security => "security",
        }
    }

    /// The category named as [`Category::as_str`] (and serde) name it.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}
