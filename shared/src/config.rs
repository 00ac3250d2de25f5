//! Typed configuration read once at start-up; a missing variable stops the process with its name.

use std::env;

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub event_bus_name: String,
    pub jwt_secret_arn: String,
    pub mail_from: String,
    pub web_app_url: String,
    pub stage: String,
    /// The product media bucket (functions that do not handle media run without it).
    pub media_bucket: Option<String>,
    /// Writes per minute per client address and per user (`crate::ratelimit`).
    pub rate_limits: crate::ratelimit::Limits,
}

#[derive(Debug, thiserror::Error)]
#[error("missing or empty environment variable {0} (see template.yaml Globals / .local/stack.env)")]
pub struct ConfigError(pub &'static str);

fn var(name: &'static str) -> Result<String, ConfigError> {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError(name)),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: var("TABLE_NAME")?,
            event_bus_name: var("EVENT_BUS_NAME")?,
            jwt_secret_arn: var("JWT_SECRET_ARN")?,
            mail_from: var("MAIL_FROM")?,
            web_app_url: var("WEB_APP_URL")?,
            stage: env::var("STAGE").unwrap_or_else(|_| "dev".into()),
            media_bucket: env::var("MEDIA_BUCKET")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            rate_limits: crate::ratelimit::Limits::from_env(),
        })
    }
}
