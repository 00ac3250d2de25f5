//! Lease claims: how a consumer makes an effect that cannot be undone or deduplicated
//! downstream (an e-mail through SES, which has no idempotency key) happen once per event, when
//! the same event may arrive twice (the relay republishes, SQS redelivers) and a handler may
//! fail or die at any point.
//!
//! One item per (consumer, event), `keys::processed_event`, written with conditional
//! `PutItem`s only:
//!
//! - [`Db::claim`] takes it for one attempt (`owner`, a fresh id per attempt) until `lease`
//!   passes. It succeeds when there is no claim, when the claim is this attempt's own (its
//!   earlier write applied but the answer was lost), when it was released, or when the
//!   holder's lease ran out (that attempt died: the caller bounds its attempts to less than
//!   the lease), and hands over the parts already done. It says
//!   [`Claim::Finished`] when the effects happened, and [`Claim::Held`] when another attempt is
//!   (or was, less than a lease ago) at work: the caller fails the message and SQS brings it
//!   back later.
//! - [`Db::release_claim`] gives a failed attempt's claim back at once, with the parts of the
//!   effect that did happen (the e-mails sent before the one that failed), so a retry does only
//!   the rest.
//! - [`Db::finish_claim`] marks the effects done for good.
//!
//! Compared with "claim, then act" (a crash between the two loses the effect) or "act, then
//! record" (a crash between the two repeats it everywhere), the only window left is between
//! the effect and [`Db::finish_claim`]: a crash there repeats the last parts after the lease.
//! A claim written before these states existed (no `claim_state`) reads as finished.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{Db, Item, StoreError, classify, key, n, s};

const STATE: &str = "claim_state";
const OWNER: &str = "claim_owner";
const LEASE_UNTIL: &str = "lease_until_ms";
const PARTS: &str = "done_parts";
const PENDING: &str = "pending";
const DONE: &str = "done";

/// What [`Db::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This attempt holds the claim; `done_parts` are the parts an earlier, failed attempt
    /// completed (skip them).
    Acquired { done_parts: Vec<String> },
    /// The effects happened before: nothing to do.
    Finished,
    /// Another attempt holds a live lease: retry later.
    Held,
}

fn now_ms() -> i64 {
    (crate::now().unix_timestamp_nanos() / 1_000_000) as i64
}

fn parts_of(item: &Item) -> Vec<String> {
    match item.get(PARTS) {
        Some(AttributeValue::L(list)) => {
            list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
        }
        _ => Vec::new(),
    }
}

/// The claim item in `state`, with `fields`; the item expires (TTL) at `expires_at`.
fn claim_item(
    k: (String, String),
    state: &str,
    fields: Vec<(&str, AttributeValue)>,
    expires_at: i64,
) -> Item {
    let mut item = key(k);
    item.insert("entity_type".into(), s("processed_event"));
    item.insert(STATE.into(), s(state));
    item.insert("expires_at".into(), n(expires_at));
    for (name, value) in fields {
        item.insert(name.into(), value);
    }
    item
}

impl Db {
    /// Takes the claim `k` for the attempt `owner` until `lease` from now; the item expires
    /// (TTL) at `expires_at` (epoch seconds), which must outlast every redelivery.
    ///
    /// One write for a new event. Taking over a released or expired claim (or this attempt's
    /// own, whose answer was lost) is a second write, conditional on the claim being as it was
    /// read, that carries its done parts over: so repeating this call after any failure keeps
    /// them.
    pub async fn claim(
        &self,
        k: (String, String),
        owner: &str,
        lease: Duration,
        expires_at: i64,
    ) -> Result<Claim, StoreError> {
        let now = now_ms();
        let lease_until = n(now + lease.as_millis() as i64);
        let held = |parts: &[String]| {
            vec![
                (OWNER, s(owner)),
                (LEASE_UNTIL, lease_until.clone()),
                (PARTS, AttributeValue::L(parts.iter().map(s).collect())),
            ]
        };
        let fresh = claim_item(k.clone(), PENDING, held(&[]), expires_at);
        let old = match self
            .put_claim(fresh, "attribute_not_exists(PK)", Vec::new())
            .await?
        {
            None => return Ok(Claim::Acquired { done_parts: vec![] }),
            Some(old) => old,
        };
        let text = |name: &str| old.get(name).and_then(|v| v.as_s().ok()).cloned();
        if text(STATE).as_deref() != Some(PENDING) {
            return Ok(Claim::Finished);
        }
        let old_lease = old.get(LEASE_UNTIL).cloned().unwrap_or_else(|| n(0));
        let expired = old_lease
            .as_n()
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .is_none_or(|until| until < now);
        let old_owner = text(OWNER).unwrap_or_default();
        if old_owner != owner && !expired {
            return Ok(Claim::Held);
        }
        let done_parts = parts_of(&old);
        let takeover = claim_item(k, PENDING, held(&done_parts), expires_at);
        match self
            .put_claim(
                takeover,
                "#state = :pending AND #owner = :old_owner AND #lease = :old_lease",
                vec![
                    (":pending", s(PENDING)),
                    (":old_owner", s(old_owner)),
                    (":old_lease", old_lease),
                ],
            )
            .await?
        {
            None => Ok(Claim::Acquired { done_parts }),
            // Another attempt took it over between the two writes.
            Some(_) => Ok(Claim::Held),
        }
    }

    /// A conditional put of a claim: `None` when written, else the item that failed the
    /// condition.
    async fn put_claim(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Item>, StoreError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if condition.contains('#') {
            req = req
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#owner", OWNER)
                .expression_attribute_names("#lease", LEASE_UNTIL);
        }
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let PutItemError::ConditionalCheckFailedException(failed) = e.err() else {
                    unreachable!("matched above")
                };
                Ok(Some(failed.item().cloned().unwrap_or_default()))
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Gives the claim back after a failed attempt, keeping the parts that were done; a
    /// retry can take it at once. Does nothing if `owner` no longer holds it.
    pub async fn release_claim(
        &self,
        k: (String, String),
        owner: &str,
        done_parts: &[String],
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let item = claim_item(
            k,
            PENDING,
            vec![
                (OWNER, s(owner)),
                (LEASE_UNTIL, n(0)),
                (PARTS, AttributeValue::L(done_parts.iter().map(s).collect())),
            ],
            expires_at,
        );
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#state = :pending AND #owner = :owner")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Marks the claim's effects done (idempotent).
    pub async fn finish_claim(
        &self,
        k: (String, String),
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let item = claim_item(k, DONE, Vec::new(), expires_at);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

impl Db {
    /// Records the parts done so far while the attempt still holds the claim (its lease
    /// unchanged): a part recorded here is never done again, even if the attempt dies next.
    /// `ConditionFailed` means the claim is no longer this attempt's (its lease ran out and
    /// another took it over): stop.
    pub async fn record_claim_parts(
        &self,
        k: (String, String),
        owner: &str,
        done_parts: &[String],
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(k)))
            .update_expression("SET #parts = :parts")
            .condition_expression("#state = :pending AND #owner = :owner")
            .expression_attribute_names("#parts", PARTS)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(
                ":parts",
                AttributeValue::L(done_parts.iter().map(s).collect()),
            )
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// [`Db::finish_claim`] as one action of a transaction, so the effects recorded in the table
/// and the claim's end commit together.
pub fn finish_claim_action(
    table: &str,
    k: (String, String),
    expires_at: i64,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(claim_item(k, DONE, Vec::new(), expires_at)))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .put(put)
        .build())
}
