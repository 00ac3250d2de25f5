//! The local stack description written by `infra/local/provision.py` from template.yaml:
//! resolved environment, and per function its routes and event sources.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub endpoint: String,
    pub region: String,
    pub env: BTreeMap<String, String>,
    pub functions: BTreeMap<String, Function>,
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
