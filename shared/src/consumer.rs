//! What every SQS consumer does with a batch: handle its messages concurrently, log each
//! outcome, and answer the failed ones as a partial batch response (`ReportBatchItemFailures`
//! in template.yaml), so SQS redelivers only those and its redrive policy dead-letters a message
//! that keeps failing.

use std::fmt::Debug;
use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

/// Runs `process` on every message of the batch at once and reports the ones that failed.
pub async fn each_message<'a, O, F, Fut>(event: &'a SqsEvent, process: F) -> SqsBatchResponse
where
    O: Debug,
    F: Fn(&'a SqsMessage) -> Fut,
    Fut: Future<Output = anyhow::Result<O>>,
{
    let outcomes = futures::future::join_all(event.records.iter().map(process)).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        let id = message.message_id.clone().unwrap_or_default();
        match outcome {
            Ok(outcome) => tracing::info!(message_id = %id, ?outcome, "message handled"),
            Err(e) => {
                tracing::warn!(message_id = %id, error = format!("{e:#}"), "message failed; it will be retried");
                response.add_failure(id);
            }
        }
    }
    crate::metrics::batch_failures(response.batch_item_failures.len());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_failed_messages_are_reported() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            {"messageId": "a", "body": "ok"},
            {"messageId": "b", "body": "fail"},
            {"messageId": "c", "body": "ok"},
        ]}))
        .unwrap();
        let response = each_message(&event, |m| async move {
            match m.body.as_deref() {
                Some("ok") => Ok(()),
                _ => Err(anyhow::anyhow!("no")),
            }
        })
        .await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["b"]);
    }
}
