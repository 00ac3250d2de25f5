//! Lambda entrypoint of the search indexer: SQS batches of bus events in, `_bulk` writes out.
//! Invoked directly with `{"reindex": true}`, it rebuilds the index instead and returns the
//! report (`aws lambda invoke --function-name <SearchIndexerFunction> --payload '{"reindex":true}'`).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let indexer = &*Box::leak(Box::new(
        consumer_search_indexer::Indexer::from_env().await?,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if event.payload.get("reindex") == Some(&Value::Bool(true)) {
            let report = indexer.reindex().await?;
            return Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?);
        }
        let batch: SqsEvent = serde_json::from_value(event.payload)?;
        Ok(serde_json::to_value(indexer.handle(batch).await)?)
    }))
    .await
}
