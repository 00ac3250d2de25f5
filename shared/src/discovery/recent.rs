//! A caller's recent lists: recent searches, recently viewed products and recent purchases,
//! newest first and bounded. One item per list (`RECENT#<owner>/<list>`), so a list reads in one
//! GetItem; it is rewritten whole on a condition on its `version` (optimistic concurrency:
//! a concurrent writer makes the loser read again and retry), and expires 90 days after its
//! last write.
//!
//! # Devices fold into users
//!
//! Anonymous callers are tracked by their `X-Device-Id` (`RECENT#D#<device>`). When an
//! authenticated request carries one, [`fold_device`] merges each of the device's lists into the
//! user's (union by value, newest time kept, newest first, bounded) and deletes the device's
//! list, in ONE transaction conditional on both versions. That makes it idempotent: once folded
//! the device list is gone, so folding again finds nothing, and a fold that lost a race simply
//! retries (or is done by the next request). Later anonymous activity on the device starts a new
//! list, folded in the same way at the next signed-in request.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError, from_item, keys, n, to_item, tx};

/// Longest each list grows.
pub fn max_len(list: &str) -> usize {
    match list {
        keys::RECENT_SEARCHES => 20,
        _ => 50,
    }
}
/// How long a list is kept after its last write.
const RETENTION_SECS: i64 = 90 * 24 * 3600;
/// Attempts of one optimistic write.
const ATTEMPTS: u32 = 5;

/// One entry: a normalised query or a product id, and when (epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub value: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecentList {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub entries: Vec<Entry>,
    pub version: u64,
    pub expires_at: i64,
}

/// `entries` with `added` (any order) moved or inserted to the front, newest first, at most
/// `max` long. Pure.
pub fn push(entries: &[Entry], added: &[Entry], max: usize) -> Vec<Entry> {
    merge(entries, added, max)
}

/// The union of two lists by value (the newer time wins), newest first (ties by value), at
/// most `max` long. Pure; `merge(a, merge(a, b)) == merge(a, b)`.
pub fn merge(a: &[Entry], b: &[Entry], max: usize) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(a.len() + b.len());
    for e in a.iter().chain(b) {
        match out.iter_mut().find(|o| o.value == e.value) {
            Some(o) => o.at = o.at.max(e.at),
            None => out.push(e.clone()),
        }
    }
    out.sort_by(|x, y| y.at.cmp(&x.at).then_with(|| x.value.cmp(&y.value)));
    out.truncate(max);
    out
}

/// Reads a list (empty if there is none).
pub async fn load(db: &Db, owner: &str, list: &str) -> Result<Vec<Entry>, StoreError> {
    Ok(read(db, owner, list)
        .await?
        .map(|l| l.entries)
        .unwrap_or_default())
}

async fn read(db: &Db, owner: &str, list: &str) -> Result<Option<RecentList>, StoreError> {
    db.get(keys::recent_list(owner, list)).await
}

fn put_action(
    db: &Db,
    owner: &str,
    list: &str,
    entries: Vec<Entry>,
    read_version: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    let (pk, sk) = keys::recent_list(owner, list);
    let record = RecentList {
        pk,
        sk,
        entity_type: "recent_list".into(),
        entries,
        version: read_version.map_or(1, |v| v + 1),
        expires_at: crate::now_epoch() + RETENTION_SECS,
    };
    match read_version {
        None => tx::put_new(&db.table, &record),
        Some(v) => {
            let put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(&db.table)
                .set_item(Some(to_item(&record)?))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v))
                .build()
                .map_err(|e| StoreError::Other(e.into()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        }
    }
}

/// Rewrites a list with `change` applied to what it holds, retrying when a concurrent writer
/// got there first. Returns the list as written.
pub async fn update(
    db: &Db,
    owner: &str,
    list: &str,
    change: impl Fn(&[Entry]) -> Vec<Entry>,
) -> Result<Vec<Entry>, StoreError> {
    for _ in 0..ATTEMPTS {
        let current = read(db, owner, list).await?;
        let before = current
            .as_ref()
            .map(|l| l.entries.as_slice())
            .unwrap_or(&[]);
        let after = change(before);
        if current.is_some() && after == before {
            return Ok(after);
        }
        if current.is_none() && after.is_empty() {
            return Ok(after);
        }
        let action = put_action(db, owner, list, after.clone(), current.map(|l| l.version))?;
        match db.transact(vec![action]).await {
            Ok(()) => return Ok(after),
            Err(e) if e.failed_condition_index().is_some() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Throttled)
}

/// Adds entries to the front of a list; returns the list as written.
pub async fn record(
    db: &Db,
    owner: &str,
    list: &str,
    added: &[Entry],
) -> Result<Vec<Entry>, StoreError> {
    let max = max_len(list);
    update(db, owner, list, |before| push(before, added, max)).await
}

/// Folds the device's lists into the user's (see the module documentation). One BatchGetItem
/// when the device has nothing to fold.
pub async fn fold_device(db: &Db, user_id: &str, device_id: &str) -> Result<(), StoreError> {
    let device = keys::recent_owner_device(device_id);
    let user = keys::recent_owner_user(user_id);
    let lists = [keys::RECENT_SEARCHES, keys::RECENT_PRODUCTS];
    let found = db
        .batch_get(&lists.map(|l| keys::recent_list(&device, l)))
        .await?;
    for item in found {
        let device_list: RecentList = from_item(item)?;
        let list = device_list.sk.clone();
        for _ in 0..ATTEMPTS {
            let mine = read(db, &user, &list).await?;
            let before = mine.as_ref().map(|l| l.entries.as_slice()).unwrap_or(&[]);
            let merged = merge(before, &device_list.entries, max_len(&list));
            let put = put_action(db, &user, &list, merged, mine.map(|l| l.version))?;
            let delete = tx::delete(
                &db.table,
                keys::recent_list(&device, &list),
                Some("version = :v"),
                vec![(":v", n(device_list.version))],
            )?;
            match db.transact(vec![put, delete]).await {
                Ok(()) => {
                    tracing::info!(list = %list, "device history folded into the user's");
                    break;
                }
                // The user's list moved (retry) or the device's did (folded by another request,
                // or written since: the next request folds it).
                Err(e) if e.failed_condition_index() == Some(0) => continue,
                Err(e) if e.failed_condition_index().is_some() => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(value: &str, at: i64) -> Entry {
        Entry {
            value: value.into(),
            at,
        }
    }

    #[test]
    fn pushing_moves_a_repeat_to_the_front_and_bounds_the_list() {
        let list = vec![e("b", 20), e("a", 10)];
        let after = push(&list, &[e("a", 30)], 10);
        assert_eq!(after, [e("a", 30), e("b", 20)]);
        let long: Vec<Entry> = (0..5).map(|i| e(&format!("q{i}"), i)).collect();
        let after = push(&long, &[e("new", 100)], 3);
        assert_eq!(after, [e("new", 100), e("q4", 4), e("q3", 3)]);
    }

    #[test]
    fn merging_is_a_newest_first_union_and_idempotent() {
        let user = vec![e("shoes", 50), e("bag", 10)];
        let device = vec![e("bag", 40), e("hat", 30)];
        let once = merge(&user, &device, 10);
        assert_eq!(once, [e("shoes", 50), e("bag", 40), e("hat", 30)]);
        assert_eq!(merge(&once, &device, 10), once);
        assert_eq!(merge(&user, &device, 2).len(), 2);
    }
}
