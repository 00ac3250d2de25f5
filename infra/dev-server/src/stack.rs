//! The local stack description written by `infra/local/provision.py` from template.yaml:
//! resolved environment, per function its routes and event sources, and the schedules
//! (EventBridge `rate(...)` rules with queue targets) the pump fires in the emulator's stead.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub endpoint: String,
    pub region: String,
    /// The emulator's account (what its ARNs hold).
    #[serde(default = "default_account")]
    pub account_id: String,
    pub env: BTreeMap<String, String>,
    pub functions: BTreeMap<String, Function>,
    /// Scheduled rules the emulator creates but never fires: the pump fires them.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    pub binary: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub queues: Vec<QueueSource>,
    #[serde(default)]
    pub streams: Vec<StreamSource>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueueSource {
    pub url: String,
    pub arn: String,
    #[serde(default = "default_queue_batch")]
    pub batch_size: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StreamSource {
    pub stream_arn: String,
    #[serde(default = "default_stream_batch")]
    pub batch_size: i32,
    #[serde(default = "default_position")]
    pub starting_position: String,
}

/// An `AWS::Events::Rule` with a `ScheduleExpression`, and its targets that are queues.
#[derive(Debug, Clone, Deserialize)]
pub struct Schedule {
    /// The rule's physical name.
    pub rule: String,
    /// The rule's ARN (the scheduled event's `resources`); built from the name when absent.
    #[serde(default)]
    pub arn: Option<String>,
    /// `rate(N minute|minutes|hour|hours|day|days)`; see [`crate::pump::rate_period`].
    pub expression: String,
    #[serde(default)]
    pub targets: Vec<ScheduleTarget>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleTarget {
    pub queue_url: String,
    pub queue_arn: String,
    /// The target's constant `Input`, sent instead of the scheduled event when present.
    #[serde(default)]
    pub input: Option<String>,
    /// `SqsParameters.MessageGroupId` (FIFO queues).
    #[serde(default)]
    pub message_group_id: Option<String>,
}

fn default_account() -> String {
    "123456789012".into()
}
fn default_queue_batch() -> i32 {
    10
}
fn default_stream_batch() -> i32 {
    100
}
fn default_position() -> String {
    "TRIM_HORIZON".into()
}

impl Stack {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading {} (run the provisioner first: make provision)",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}
