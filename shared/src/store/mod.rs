//! DynamoDB access for the single table: typed get/put/query via serde_dynamo, transactions,
//! central error classification, and opaque pagination cursors. Key shapes live in [`keys`].

pub mod claim;
pub mod keys;

pub use claim::Claim;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB allows at most this many actions in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition check failed")]
    ConditionFailed,
    /// One reason code per transaction item (`None` where that item was fine).
    #[error("transaction cancelled: {0:?}")]
    TransactionCanceled(Vec<Option<String>>),
    #[error("throttled")]
    Throttled,
    /// The store could not be reached or did not answer in time (connection refused or reset,
    /// an SDK timeout, a 5xx): retryable, a 503 to clients. Holds the cause for the logs.
    #[error("store unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// Index of the first transaction item whose condition failed, if that is why it was cancelled.
    pub fn failed_condition_index(&self) -> Option<usize> {
        match self {
            Self::TransactionCanceled(reasons) => reasons
                .iter()
                .position(|r| r.as_deref() == Some("ConditionalCheckFailed")),
            Self::ConditionFailed => Some(0),
            _ => None,
        }
    }
}

/// Classify any SDK error once, here, so handlers match on meaning rather than on codes.
pub fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionConflictException",
        ) => StoreError::Throttled,
        _ if is_unavailable(&err) => {
            StoreError::Unavailable(anyhow::Error::new(err).context("DynamoDB unreachable"))
        }
        _ => StoreError::Other(anyhow::Error::new(err).context("DynamoDB request failed")),
    }
}

/// Whether an SDK error (of any AWS service) means "the service is not reachable right now"
/// rather than "the request is wrong": nothing was answered in time (connect, attempt or
/// operation timeout), the connection failed or broke, or the service answered a 5xx. These are
/// the errors an outage produces; the SDK has already retried them.
pub fn is_unavailable<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => matches!(
            err.code(),
            Some("InternalServerError" | "InternalFailure" | "ServiceUnavailable")
        ),
        _ => false,
    }
}

fn classify_transaction(
    err: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    if let SdkError::ServiceError(service) = &err
        && let TransactWriteItemsError::TransactionCanceledException(e) = service.err()
    {
        let reasons: Vec<Option<String>> = e
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
            .collect();
        if reasons
            .iter()
            .any(|r| r.as_deref() == Some("ConditionalCheckFailed"))
        {
            return StoreError::TransactionCanceled(reasons);
        }
        if reasons
            .iter()
            .flatten()
            .any(|r| r == "TransactionConflict" || r == "ThrottlingError")
        {
            return StoreError::Throttled;
        }
        return StoreError::TransactionCanceled(reasons);
    }
    classify(err)
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("serialising item")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("deserialising item")))
}

/// Any serialisable value as one attribute (a map for structs).
pub fn value<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v)
        .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("serialising an attribute")))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn key((pk, sk): (String, String)) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// One page of a query.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The handle every function uses to reach the table.
#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    pub table: String,
}

impl Db {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Strongly consistent read of one item.
    pub async fn get<T: DeserializeOwned>(
        &self,
        k: (String, String),
    ) -> Result<Option<T>, StoreError> {
        self.get_item(k).await?.map(from_item).transpose()
    }

    /// Strongly consistent read of one item's raw attributes.
    pub async fn get_item(&self, k: (String, String)) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(k)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    /// Put that fails with `ConditionFailed` if the item already exists.
    pub async fn put_new<T: Serialize>(&self, value: &T) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(value)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// One conditional UpdateItem (`ConditionFailed` when its condition does not hold).
    pub async fn update(&self, spec: tx::UpdateSpec<'_>) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(spec.key)))
            .update_expression(spec.update)
            .set_condition_expression(spec.condition.map(str::to_owned));
        for (k, v) in spec.names {
            req = req.expression_attribute_names(*k, *v);
        }
        for (k, v) in spec.values {
            req = req.expression_attribute_values(k, v);
        }
        req.send().await.map_err(classify)?;
        Ok(())
    }

    pub async fn delete(&self, k: (String, String)) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(k)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// All writes succeed or none do; see [`StoreError::failed_condition_index`].
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        debug_assert!(items.len() <= MAX_TRANSACTION_ITEMS);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(classify_transaction)?;
        Ok(())
    }

    /// Every item matching `key_condition` (one partition of the table or of `index`, with any
    /// sort-key condition; its `:placeholders` in `values`), every page read. Table reads are
    /// strongly consistent.
    pub async fn query_all<T: DeserializeOwned>(
        &self,
        index: Option<&str>,
        key_condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .consistent_read(index.is_none())
                .key_condition_expression(key_condition)
                .set_exclusive_start_key(start);
            for (k, v) in values {
                req = req.expression_attribute_values(*k, v.clone());
            }
            let out = req.send().await.map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    /// Query one partition (of the table or of an index) with an optional sort-key prefix.
    pub async fn query_page<T: DeserializeOwned>(
        &self,
        q: QuerySpec<'_>,
    ) -> Result<Page<T>, StoreError> {
        self.query_page_filtered(q, None).await
    }

    /// [`Db::query_page`] with a filter on non-key attributes. DynamoDB applies the limit before
    /// the filter, so a page may hold fewer items than asked (even none) and still have a cursor.
    pub async fn query_page_filtered<T: DeserializeOwned>(
        &self,
        q: QuerySpec<'_>,
        filter: Option<Filter<'_>>,
    ) -> Result<Page<T>, StoreError> {
        let (pk_name, sk_name) = match q.index {
            None => ("PK", "SK"),
            Some("GSI1") => ("GSI1PK", "GSI1SK"),
            Some("GSI2") => ("GSI2PK", "GSI2SK"),
            Some("GSI3") => ("GSI3PK", "GSI3SK"),
            Some(other) => return Err(StoreError::Other(anyhow::anyhow!("unknown index {other}"))),
        };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(q.pk))
            .scan_index_forward(q.ascending)
            .limit(q.limit as i32)
            .set_exclusive_start_key(q.start);
        req = match q.sk_prefix {
            Some(prefix) => req
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :sk)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":sk", s(prefix)),
            None => req.key_condition_expression("#pk = :pk"),
        };
        if q.index.is_none() {
            req = req.consistent_read(true);
        }
        if let Some(f) = filter {
            req = req.filter_expression(f.expression);
            for (k, v) in f.names {
                req = req.expression_attribute_names(*k, *v);
            }
            for (k, v) in f.values {
                req = req.expression_attribute_values(k, v);
            }
        }
        let out = req.send().await.map_err(classify)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<T>, _>>()?;
        let next_cursor = out.last_evaluated_key.map(|k| encode_cursor(&k));
        Ok(Page { items, next_cursor })
    }

    /// Strongly consistent reads of many items, in as few BatchGetItem calls as the 100-key
    /// limit allows (duplicates are read once; unprocessed keys are retried with backoff).
    /// Missing items are simply absent from the result.
    pub async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut unique: Vec<&(String, String)> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(&k) {
                unique.push(k);
            }
        }
        let mut found = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(100) {
            let mut pending: Vec<Item> = chunk.iter().map(|k| key((*k).clone())).collect();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Other(e.into()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                if let Some(mut unprocessed) = out.unprocessed_keys
                    && let Some(rest) = unprocessed.remove(&self.table)
                {
                    pending = rest.keys;
                }
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(StoreError::Throttled);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5)))
                        .await;
                }
            }
        }
        Ok(found)
    }
}

/// A filter on non-key attributes for [`Db::query_page_filtered`].
pub struct Filter<'a> {
    pub expression: &'a str,
    pub names: &'a [(&'a str, &'a str)],
    pub values: Vec<(&'a str, AttributeValue)>,
}

pub struct QuerySpec<'a> {
    pub index: Option<&'a str>,
    pub pk: String,
    pub sk_prefix: Option<String>,
    pub ascending: bool,
    pub limit: u32,
    pub start: Option<Item>,
}

/// Key attribute names a cursor may carry; anything else is a forged cursor.
const CURSOR_KEYS: [&str; 8] = [
    "PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK",
];

/// A `LastEvaluatedKey` as an opaque URL-safe string (only string key attributes exist).
pub fn encode_cursor(key: &Item) -> String {
    let map: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).expect("a map of strings serialises"))
}

/// Inverse of [`encode_cursor`]; `None` for anything that is not a cursor we issued.
pub fn decode_cursor(cursor: &str) -> Option<Item> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    if map.is_empty()
        || !map.keys().all(|k| CURSOR_KEYS.contains(&k.as_str()))
        || !map.contains_key("PK")
    {
        return None;
    }
    Some(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

/// Builders for transaction actions, so handlers read as a list of intentions.
pub mod tx {
    use super::*;
    use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, Update};

    pub fn put<T: Serialize>(
        table: &str,
        value: &T,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(value)?))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Put that requires the item not to exist yet.
    pub fn put_new<T: Serialize>(table: &str, value: &T) -> Result<TransactWriteItem, StoreError> {
        put(table, value, Some("attribute_not_exists(PK)"))
    }

    pub struct UpdateSpec<'a> {
        pub key: (String, String),
        pub update: &'a str,
        pub condition: Option<&'a str>,
        pub names: &'a [(&'a str, &'a str)],
        pub values: Vec<(&'a str, AttributeValue)>,
    }

    pub fn update(table: &str, spec: UpdateSpec<'_>) -> Result<TransactWriteItem, StoreError> {
        let mut b = Update::builder()
            .table_name(table)
            .set_key(Some(key(spec.key)))
            .update_expression(spec.update)
            .set_condition_expression(spec.condition.map(str::to_owned));
        for (k, v) in spec.names {
            b = b.expression_attribute_names(*k, *v);
        }
        for (k, v) in spec.values {
            b = b.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .update(b.build().map_err(|e| StoreError::Other(e.into()))?)
            .build())
    }

    pub fn delete(
        table: &str,
        k: (String, String),
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut b = Delete::builder()
            .table_name(table)
            .set_key(Some(key(k)))
            .set_condition_expression(condition.map(str::to_owned));
        for (k, v) in values {
            b = b.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .delete(b.build().map_err(|e| StoreError::Other(e.into()))?)
            .build())
    }

    pub fn check_exists(table: &str, k: (String, String)) -> Result<TransactWriteItem, StoreError> {
        let c = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key(k)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips() {
        let k = key(keys::user_profile("u1"));
        let decoded = decode_cursor(&encode_cursor(&k)).unwrap();
        assert_eq!(decoded, k);
    }

    #[test]
    fn forged_cursors_are_rejected() {
        assert!(decode_cursor("not base64 !").is_none());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode(b"[1,2]")).is_none());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode(br#"{"PK":"x","evil":"y"}"#)).is_none());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode(br#"{}"#)).is_none());
    }
}
