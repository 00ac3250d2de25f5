//! The search engine client: one `opensearch` client per process (built in `main`, before the
//! runtime loop), SigV4-signed (`es`) with the standard AWS credentials, except on a loopback
//! endpoint (the local OpenSearch-compatible server), which is plain HTTP and unsigned.
//!
//! Every call is a raw `send` with a JSON body this crate built (see [`crate::query`]), so the
//! requests are exactly what the golden tests pin, and `_bulk` is used for every write (the
//! client's `index` call sends `POST /_doc/{id}`, which OpenSearch Serverless refuses).
//! [`Engine::requests`] counts the requests sent, for the one-query-per-search budget, and
//! [`timed`] sums the time a request handler spent waiting on the engine (the search routes
//! answer it as `Server-Timing: engine;dur=<ms>`, so a client can tell the API's own time from
//! the engine's).
//!
//! Configuration: `OPENSEARCH_ENDPOINT` (required; `https://…es.amazonaws.com` or
//! `http://127.0.0.1:<port>`), `SEARCH_INDEX` (the alias, default `products`),
//! `SEARCH_TIMEOUT_MS` (per request, default 5000).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opensearch::OpenSearch;
use opensearch::auth::Credentials;
use opensearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::{Method, Url};
use serde_json::{Value, json};

use crate::doc::ProductDoc;
use crate::index;

tokio::task_local! {
    static ENGINE_TIME: Cell<Duration>;
}

/// Runs `work` and returns, beside its output, the time its engine requests took (from before
/// sending to the whole answer read). Requests outside such a scope are not timed.
pub async fn timed<F: Future>(work: F) -> (F::Output, Duration) {
    ENGINE_TIME
        .scope(Cell::new(Duration::ZERO), async move {
            let out = work.await;
            (out, ENGINE_TIME.with(Cell::get))
        })
        .await
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Unreachable, timed out, or answered 429/5xx: worth retrying later (503 to clients).
    #[error("search engine unavailable: {0}")]
    Unavailable(String),
    /// The engine refused the request (4xx): a bug in the request, not in the input.
    #[error("search engine refused the request ({status}): {reason}")]
    Rejected { status: u16, reason: String },
}

/// One write of a `_bulk` call.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOp {
    Index {
        doc: Box<ProductDoc>,
        version: u64,
    },
    /// `version` is the product's document version, or `None` when the product no longer
    /// exists (nothing newer can come).
    Delete {
        id: String,
        version: Option<u64>,
    },
}

impl BulkOp {
    pub fn id(&self) -> &str {
        match self {
            Self::Index { doc, .. } => &doc.id,
            Self::Delete { id, .. } => id,
        }
    }
}

/// What a `_bulk` call did, per operation id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkReport {
    pub applied: usize,
    /// Refused because the index holds a newer (or the same) version: nothing to do.
    pub stale: usize,
    /// Deletes of documents that were not there.
    pub absent: usize,
    /// Ids whose write failed for another reason (retry them).
    pub failed: Vec<(String, String)>,
}

/// The generation the indexer creates when there is none; reindexes name theirs by the clock.
pub const FIRST_GENERATION: &str = "0";

pub struct Engine {
    client: OpenSearch,
    alias: String,
    timeout: Duration,
    requests: AtomicU64,
}

/// Whether an endpoint is this machine (no signing, plain HTTP allowed).
pub fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    )
}

impl Engine {
    /// From the environment (see the module docs); `sdk` supplies region and credentials.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let endpoint = std::env::var("OPENSEARCH_ENDPOINT")
            .map_err(|_| anyhow::anyhow!("OPENSEARCH_ENDPOINT is not set"))?;
        let alias = std::env::var("SEARCH_INDEX").unwrap_or_else(|_| index::ALIAS.into());
        let timeout_ms = match std::env::var("SEARCH_TIMEOUT_MS") {
            Ok(v) => v
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("SEARCH_TIMEOUT_MS must be milliseconds"))?,
            Err(_) => 5000,
        };
        Self::new(
            &endpoint,
            &alias,
            Duration::from_millis(timeout_ms),
            Some(sdk),
        )
    }

    /// A client of `endpoint` using alias `alias`. A non-loopback endpoint is signed with
    /// `sdk`'s credentials (required then).
    pub fn new(
        endpoint: &str,
        alias: &str,
        timeout: Duration,
        sdk: Option<&aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let url = Url::parse(endpoint)
            .map_err(|e| anyhow::anyhow!("OPENSEARCH_ENDPOINT {endpoint:?}: {e}"))?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
            .disable_proxy()
            .timeout(timeout);
        if !is_loopback(&url) {
            anyhow::ensure!(
                url.scheme() == "https",
                "OPENSEARCH_ENDPOINT must be https unless it is on loopback"
            );
            let sdk =
                sdk.ok_or_else(|| anyhow::anyhow!("a remote engine needs AWS credentials"))?;
            let credentials = Credentials::try_from(sdk)
                .map_err(|e| anyhow::anyhow!("SigV4 credentials for OpenSearch: {e}"))?;
            builder = builder.auth(credentials).service_name("es");
        }
        Ok(Self {
            client: OpenSearch::new(builder.build()?),
            alias: alias.to_owned(),
            timeout,
            requests: AtomicU64::new(0),
        })
    }

    /// The alias searches and writes go through.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Requests sent so far by this client.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// One request; the answer's status and JSON body (`null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        ndjson: bool,
    ) -> Result<(u16, Value), EngineError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let answer = self.exchange(method, path, body, ndjson).await;
        let _ = ENGINE_TIME.try_with(|t| t.set(t.get() + started.elapsed()));
        let (status, text) = answer?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| EngineError::Rejected {
                status,
                reason: format!("the answer is not JSON: {e}"),
            })?
        };
        if status == 429 || status >= 500 {
            return Err(EngineError::Unavailable(format!(
                "{status}: {}",
                reason(&value)
            )));
        }
        Ok((status, value))
    }

    /// Sends one request and reads its whole answer.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        ndjson: bool,
    ) -> Result<(u16, String), EngineError> {
        let mut headers = HeaderMap::new();
        if ndjson {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
        }
        let response = self
            .client
            .send(method, path, headers, None::<&()>, body, Some(self.timeout))
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        let status = response.status_code().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        Ok((status, text))
    }

    /// [`Self::call`], with any 4xx but `ok` turned into [`EngineError::Rejected`].
    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        ok: &[u16],
    ) -> Result<(u16, Value), EngineError> {
        let (status, value) = self
            .call(method, path, body.map(|b| b.to_string()), false)
            .await?;
        if (200..300).contains(&status) || ok.contains(&status) {
            Ok((status, value))
        } else {
            Err(EngineError::Rejected {
                status,
                reason: reason(&value),
            })
        }
    }

    /// `POST /<alias>/_search`. Before the indexer's first write there is no index: that is
    /// an empty answer, not an error.
    pub async fn search(&self, body: &Value) -> Result<Value, EngineError> {
        let path = format!("/{}/_search", self.alias);
        let (status, answer) = self
            .expect(Method::Post, &path, Some(body.clone()), &[404])
            .await?;
        if status == 404 {
            if error_type(&answer) != Some("index_not_found_exception") {
                return Err(EngineError::Rejected {
                    status,
                    reason: reason(&answer),
                });
            }
            return Ok(json!({"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}));
        }
        Ok(answer)
    }

    /// A product's document, if indexed.
    pub async fn get(&self, id: &str) -> Result<Option<ProductDoc>, EngineError> {
        let path = format!("/{}/_doc/{}", self.alias, encode_path(id));
        let (status, value) = self.expect(Method::Get, &path, None, &[404]).await?;
        if status == 404 || value.get("found") == Some(&Value::Bool(false)) {
            return Ok(None);
        }
        let source = value.get("_source").cloned().unwrap_or(Value::Null);
        serde_json::from_value(source)
            .map(Some)
            .map_err(|e| EngineError::Rejected {
                status,
                reason: format!("a stored document does not parse: {e}"),
            })
    }

    /// Every generation of the alias (`<alias>-v*`), with whether the alias points at it.
    pub async fn generations(&self) -> Result<Vec<(String, bool)>, EngineError> {
        let path = format!("/{}/_alias", index::generations_pattern(&self.alias));
        let (status, value) = self.expect(Method::Get, &path, None, &[404]).await?;
        if status == 404 {
            return Ok(Vec::new());
        }
        let mut out: Vec<(String, bool)> = value
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(name, v)| {
                        let aliased = v.get("aliases").and_then(|a| a.get(&self.alias)).is_some();
                        (name.clone(), aliased)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        Ok(out)
    }

    /// Creates generation `generation` with [`index::settings`]; its name.
    pub async fn create_generation(&self, generation: &str) -> Result<String, EngineError> {
        let name = index::generation_name(&self.alias, generation);
        self.expect(
            Method::Put,
            &format!("/{name}"),
            Some(index::settings()),
            &[],
        )
        .await?;
        Ok(name)
    }

    /// Points the alias at `target` only, in one `_aliases` call.
    pub async fn point_alias(&self, target: &str, from: &[String]) -> Result<(), EngineError> {
        let mut actions: Vec<Value> = from
            .iter()
            .filter(|i| i.as_str() != target)
            .map(|i| json!({"remove": {"index": i, "alias": self.alias}}))
            .collect();
        actions.push(json!({"add": {"index": target, "alias": self.alias}}));
        self.expect(
            Method::Post,
            "/_aliases",
            Some(json!({ "actions": actions })),
            &[],
        )
        .await?;
        Ok(())
    }

    /// Deletes a physical index (a missing one is fine).
    pub async fn delete_index(&self, name: &str) -> Result<(), EngineError> {
        self.expect(Method::Delete, &format!("/{name}"), None, &[404])
            .await?;
        Ok(())
    }

    /// Makes sure the alias exists: when no generation is aliased, creates the first one
    /// ([`FIRST_GENERATION`]: a fixed name, so indexers racing here create one index) and points
    /// the alias at it. Returns the indexes the indexer must write to: every generation (while
    /// a reindex builds a new one, both).
    pub async fn ensure(&self) -> Result<Vec<String>, EngineError> {
        let generation = FIRST_GENERATION;
        let gens = self.generations().await?;
        if gens.iter().any(|(_, aliased)| *aliased) {
            return Ok(gens.into_iter().map(|(name, _)| name).collect());
        }
        let name = match self.create_generation(generation).await {
            Ok(name) => name,
            // Another indexer created it first.
            Err(EngineError::Rejected { status: 400, .. }) => {
                index::generation_name(&self.alias, generation)
            }
            Err(e) => return Err(e),
        };
        self.point_alias(&name, &[]).await?;
        let mut all: Vec<String> = gens.into_iter().map(|(name, _)| name).collect();
        if !all.contains(&name) {
            all.push(name);
        }
        Ok(all)
    }

    /// `POST /_bulk` of `ops` into each of `indexes`, with external versions; `refresh` makes
    /// the writes visible before it returns (`wait_for`).
    pub async fn bulk(
        &self,
        ops: &[BulkOp],
        indexes: &[String],
        refresh: bool,
    ) -> Result<BulkReport, EngineError> {
        let body = bulk_body(ops, indexes);
        if body.is_empty() {
            return Ok(BulkReport::default());
        }
        let path = if refresh {
            "/_bulk?refresh=wait_for"
        } else {
            "/_bulk"
        };
        let (status, answer) = self.call(Method::Post, path, Some(body), true).await?;
        if !(200..300).contains(&status) {
            return Err(EngineError::Rejected {
                status,
                reason: reason(&answer),
            });
        }
        Ok(bulk_report(&answer))
    }

    /// `POST /<index>/_refresh`.
    pub async fn refresh(&self, index: &str) -> Result<(), EngineError> {
        self.expect(Method::Post, &format!("/{index}/_refresh"), None, &[])
            .await?;
        Ok(())
    }
}

/// The NDJSON body of a `_bulk` call: each op once per index.
pub fn bulk_body(ops: &[BulkOp], indexes: &[String]) -> String {
    let mut body = String::new();
    for index in indexes {
        for op in ops {
            let (action, doc) = match op {
                BulkOp::Index { doc, version } => (
                    json!({"index": {"_index": index, "_id": doc.id, "version": version, "version_type": "external"}}),
                    Some(serde_json::to_string(doc).expect("a document serialises")),
                ),
                BulkOp::Delete {
                    id,
                    version: Some(v),
                } => (
                    json!({"delete": {"_index": index, "_id": id, "version": v, "version_type": "external"}}),
                    None,
                ),
                BulkOp::Delete { id, version: None } => {
                    (json!({"delete": {"_index": index, "_id": id}}), None)
                }
            };
            body.push_str(&action.to_string());
            body.push('\n');
            if let Some(doc) = doc {
                body.push_str(&doc);
                body.push('\n');
            }
        }
    }
    body
}

/// Reads a `_bulk` answer: version conflicts are stale writes (a newer document is there),
/// a 404 delete found nothing to delete; any other error fails that id.
pub fn bulk_report(answer: &Value) -> BulkReport {
    let mut report = BulkReport::default();
    for item in answer
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((action, result)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(0);
        let id = result
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match status {
            200..=299
                if action == "delete" && result.get("result") == Some(&json!("not_found")) =>
            {
                report.absent += 1
            }
            200..=299 => report.applied += 1,
            409 => report.stale += 1,
            404 if action == "delete" => report.absent += 1,
            _ => report
                .failed
                .push((id, reason(result.get("error").unwrap_or(result)))),
        }
    }
    report
}

fn error_type(value: &Value) -> Option<&str> {
    value.pointer("/error/type").and_then(Value::as_str)
}

fn reason(value: &Value) -> String {
    value
        .pointer("/error/reason")
        .or_else(|| value.get("reason"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let s = value.to_string();
            s.chars().take(300).collect()
        })
}

/// Percent-encodes a path segment (ids are ULIDs; this is defence in depth).
fn encode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_answers_tell_stale_and_absent_from_failed() {
        let answer = json!({"errors": true, "items": [
            {"index": {"_id": "a", "status": 201, "result": "created"}},
            {"index": {"_id": "b", "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "newer"}}},
            {"delete": {"_id": "c", "status": 404, "result": "not_found"}},
            {"index": {"_id": "d", "status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad field"}}}
        ]});
        let r = bulk_report(&answer);
        assert_eq!((r.applied, r.stale, r.absent), (1, 1, 1));
        assert_eq!(r.failed, vec![("d".to_owned(), "bad field".to_owned())]);
    }

    #[test]
    fn only_loopback_endpoints_go_unsigned() {
        assert!(is_loopback(&Url::parse("http://127.0.0.1:9200").unwrap()));
        assert!(is_loopback(&Url::parse("http://localhost:9200").unwrap()));
        assert!(!is_loopback(
            &Url::parse("https://search-x.us-east-1.es.amazonaws.com").unwrap()
        ));
        let err = Engine::new(
            "http://search.example.com",
            "p",
            Duration::from_secs(1),
            None,
        )
        .err()
        .expect("plain http to a remote host is refused");
        assert!(err.to_string().contains("https"));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(encode_path("01J/../_search?x"), "01J%2F..%2F_search%3Fx");
    }
}
