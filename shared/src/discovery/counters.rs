//! Trend counters: writing behaviour and sales into time-bucketed items with atomic `ADD`, and
//! reading a window of them back for ranking.
//!
//! Every count goes into both grains (`4h` for the 24 h window, `1d` for 7 d). The items of one
//! bucket are spread over `keys::TREND_SHARDS` partitions by a hash of the id, so the "all
//! products in this bucket" partition of a busy hour is several partition keys, and a reader
//! queries each shard of each bucket (concurrently). A shard partition is read up to
//! [`MAX_ROWS_PER_PARTITION`] items: enough for this marketplace's catalogue; at a much larger
//! scale a scheduled job would keep a top-k per bucket instead.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use futures::StreamExt;
use serde::Deserialize;

use super::scoring::{Counts, Grain, Window};
use crate::store::tx::UpdateSpec;
use crate::store::{Db, StoreError, classify, from_item, keys, n, s, tx};

/// Kinds of counted things (the `<kind>` of the key).
pub const PRODUCT: &str = "product";
pub const SHOP: &str = "shop";
pub const CATEGORY: &str = "category";
pub const QUERY: &str = "query";

/// Items read from one shard partition of one bucket, at most.
pub const MAX_ROWS_PER_PARTITION: i32 = 1000;
/// Concurrent counter writes of one request.
const WRITE_CONCURRENCY: usize = 8;
/// Extra attempts of a counter write that met a transaction on its item.
const CONFLICT_RETRIES: u32 = 3;

/// Counts to add, merged by (kind, id) so each item is written once.
#[derive(Debug, Default, Clone)]
pub struct Tally(pub HashMap<(&'static str, String), Counts>);

impl Tally {
    pub fn add(&mut self, kind: &'static str, id: &str, counts: Counts) {
        self.0.entry((kind, id.to_owned())).or_default().add(counts);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The counter updates (both grains) for `at` (epoch seconds), in a stable order.
    pub fn updates(&self, at: i64) -> Vec<CounterAdd> {
        let mut entries: Vec<_> = self.0.iter().filter(|(_, c)| !c.is_empty()).collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries
            .into_iter()
            .flat_map(|((kind, id), counts)| {
                Grain::ALL.into_iter().map(move |grain| {
                    let bucket = grain.bucket(at);
                    CounterAdd {
                        key: keys::trend_counter(kind, grain.name(), bucket, id),
                        counts: *counts,
                        expires_at: grain.expires_at(bucket),
                    }
                })
            })
            .collect()
    }
}

/// One `ADD` to one counter item.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterAdd {
    pub key: (String, String),
    pub counts: Counts,
    pub expires_at: i64,
}

impl CounterAdd {
    /// `ADD` of the non-zero counts, and the TTL refreshed. Counter names go through
    /// placeholders (`views` is a DynamoDB reserved word).
    fn expression(&self) -> String {
        let adds: Vec<String> = self
            .named_counts()
            .into_iter()
            .map(|(name, placeholder, _)| format!("{name} {placeholder}"))
            .collect();
        format!(
            "ADD {} SET expires_at = :expires, entity_type = :entity",
            adds.join(", ")
        )
    }

    /// (name placeholder, value placeholder, count) of the non-zero counts.
    fn named_counts(&self) -> Vec<(&'static str, &'static str, i64)> {
        [
            ("#views", ":views", self.counts.views),
            ("#clicks", ":clicks", self.counts.clicks),
            ("#searches", ":searches", self.counts.searches),
            ("#units", ":units", self.counts.units),
        ]
        .into_iter()
        .filter(|(_, _, v)| *v != 0)
        .collect()
    }

    fn names(&self) -> Vec<(&'static str, &'static str)> {
        self.named_counts()
            .into_iter()
            .map(|(placeholder, _, _)| (placeholder, &placeholder[1..]))
            .collect()
    }

    fn spec<'a>(&self, expression: &'a str, names: &'a [(&'a str, &'a str)]) -> UpdateSpec<'a> {
        let mut values = vec![
            (":expires", n(self.expires_at)),
            (":entity", s("trend_counter")),
        ];
        for (_, placeholder, value) in self.named_counts() {
            values.push((placeholder, n(value)));
        }
        UpdateSpec {
            key: self.key.clone(),
            update: expression,
            condition: None,
            names,
            values,
        }
    }

    /// As a transaction action (the recommender's idempotent writes).
    pub fn action(&self, table: &str) -> Result<TransactWriteItem, StoreError> {
        tx::update(table, self.spec(&self.expression(), &self.names()))
    }
}

/// Applies counter updates as independent `UpdateItem`s (a few at a time). Each is atomic on
/// its own; there is nothing to keep consistent between them.
pub async fn apply(db: &Db, adds: Vec<CounterAdd>) -> Result<(), StoreError> {
    let results: Vec<Result<(), StoreError>> = futures::stream::iter(adds)
        .map(|add| async move {
            let (expression, names) = (add.expression(), add.names());
            let mut attempt = 0;
            loop {
                match db.update(add.spec(&expression, &names)).await {
                    // The item is in a recommender transaction right now (a hot counter):
                    // that lasts milliseconds, so try again shortly rather than answer 503.
                    Err(StoreError::Throttled) if attempt < CONFLICT_RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                    other => return other,
                }
            }
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "SK")]
    id: String,
    #[serde(flatten)]
    counts: Counts,
}

/// Every counter of `kind` in the buckets of `window` at `now`: (bucket, id, counts).
pub async fn read_window(
    db: &Db,
    kind: &str,
    window: Window,
    now: i64,
) -> Result<Vec<(i64, String, Counts)>, StoreError> {
    let grain = window.grain();
    let partitions: Vec<(i64, String)> = window
        .buckets(now)
        .into_iter()
        .flat_map(|b| {
            (0..keys::TREND_SHARDS)
                .map(move |shard| (b, keys::trend_pk(kind, grain.name(), b, shard)))
        })
        .collect();
    let pages = futures::future::join_all(partitions.into_iter().map(|(bucket, pk)| async move {
        let out = db
            .client
            .query()
            .table_name(&db.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .limit(MAX_ROWS_PER_PARTITION)
            .send()
            .await
            .map_err(classify)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<Row>(item).map(|r| (bucket, r.id, r.counts)))
            .collect::<Result<Vec<_>, StoreError>>()
    }))
    .await;
    let mut rows = Vec::new();
    for page in pages {
        rows.extend(page?);
    }
    Ok(rows)
}

/// How long a co-occurrence counter is kept after its last increment.
pub const COOCCURRENCE_TTL_SECS: i64 = 90 * 24 * 3600;

/// `ADD n :one` on the co-occurrence counters of `pairs` (`COOC#<a>/<kind>#<b>`), both
/// directions: bought in one order (the recommender), put in one cart (the cart), viewed in a
/// row (discovery).
pub async fn add_cooccurrences(
    db: &Db,
    kind: &str,
    pairs: &[(String, String)],
) -> Result<(), StoreError> {
    let expires = crate::now_epoch() + COOCCURRENCE_TTL_SECS;
    let keys: Vec<(String, String)> = pairs
        .iter()
        .flat_map(|(a, b)| {
            [
                keys::cooccurrence(a, kind, b),
                keys::cooccurrence(b, kind, a),
            ]
        })
        .collect();
    let results: Vec<Result<(), StoreError>> = futures::stream::iter(keys)
        .map(|k| {
            db.update(UpdateSpec {
                key: k,
                update: "ADD n :one SET expires_at = :expires, entity_type = :entity",
                condition: None,
                names: &[],
                values: vec![
                    (":one", n(1)),
                    (":expires", n(expires)),
                    (":entity", s("cooccurrence")),
                ],
            })
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_merges_counts_and_writes_both_grains_once_per_item() {
        let mut t = Tally::default();
        let one_view = Counts {
            views: 1,
            ..Counts::default()
        };
        t.add(PRODUCT, "p1", one_view);
        t.add(PRODUCT, "p1", one_view);
        t.add(SHOP, "s1", one_view);
        let adds = t.updates(1_795_996_800);
        assert_eq!(adds.len(), 4, "two items × two grains");
        let p1: Vec<_> = adds.iter().filter(|a| a.key.1 == "p1").collect();
        assert_eq!(p1.len(), 2);
        assert!(p1.iter().all(|a| a.counts.views == 2));
        assert!(p1[0].key.0.starts_with("TREND#product#"));
        assert_eq!(
            p1[0].expression(),
            "ADD #views :views SET expires_at = :expires, entity_type = :entity"
        );
    }
}
