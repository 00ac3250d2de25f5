//! The outbox relay: reads `OUTBOX#` inserts from the table stream and publishes them to the
//! EventBridge bus, in stream order. On the first failure it stops and reports that record as
//! the batch item failure, so Lambda retries from there (nothing lost, order kept; a retried
//! batch may publish an event twice, which consumers absorb by event id).

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::events::{OUTBOX_ENTITY, OutboxItem};

/// EventBridge accepts at most 10 entries per `PutEvents`.
const PUT_EVENTS_MAX: usize = 10;

pub struct Relay {
    pub events: aws_sdk_eventbridge::Client,
    pub bus: String,
}

/// The outbox row in a stream record, if the record is an outbox insert.
pub fn outbox_item(record: &EventRecord) -> Result<Option<OutboxItem>, serde_dynamo::Error> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let is_outbox = matches!(
        record.change.new_image.get("entity_type"),
        Some(serde_dynamo::AttributeValue::S(t)) if t == OUTBOX_ENTITY
    );
    if !is_outbox {
        return Ok(None);
    }
    serde_dynamo::from_item(record.change.new_image.clone()).map(Some)
}

impl Relay {
    pub async fn from_env() -> anyhow::Result<Self> {
        let bus = std::env::var("EVENT_BUS_NAME")
            .map_err(|_| anyhow::anyhow!("missing environment variable EVENT_BUS_NAME"))?;
        let sdk = shared::state::aws_config().await;
        Ok(Self {
            events: aws_sdk_eventbridge::Client::new(&sdk),
            bus,
        })
    }

    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        // (sequence number, entry) for every outbox insert, in stream order.
        let mut pending: Vec<(String, PutEventsRequestEntry)> = Vec::new();
        for record in &event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            match outbox_item(record) {
                Ok(Some(item)) => pending.push((seq, self.entry(&item))),
                Ok(None) => {}
                Err(e) => {
                    // A malformed outbox row never becomes publishable; retrying it would block
                    // the shard forever, so it is logged loudly and skipped.
                    tracing::error!(error = %e, sequence_number = %seq, "malformed outbox row skipped");
                }
            }
        }
        for chunk in pending.chunks(PUT_EVENTS_MAX) {
            if let Some(failed_seq) = self.publish(chunk).await {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(failed_seq);
                response.batch_item_failures.push(failure);
                break;
            }
        }
        response
    }

    fn entry(&self, item: &OutboxItem) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&item.source)
            .detail_type(&item.detail_type)
            .detail(&item.detail)
            .build()
    }

    /// Publishes one chunk; returns the sequence number of the first entry that failed.
    async fn publish(&self, chunk: &[(String, PutEventsRequestEntry)]) -> Option<String> {
        let entries = chunk.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>();
        match self
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) if out.failed_entry_count() == 0 => {
                tracing::info!(count = chunk.len(), "events published");
                None
            }
            Ok(out) => {
                let first = out
                    .entries()
                    .iter()
                    .position(|e| e.error_code().is_some())
                    .unwrap_or(0);
                tracing::warn!(
                    failed = out.failed_entry_count(),
                    "some events were not accepted; retrying from the first"
                );
                Some(chunk[first].0.clone())
            }
            Err(e) => {
                tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), "PutEvents failed");
                Some(chunk[0].0.clone())
            }
        }
    }
}
