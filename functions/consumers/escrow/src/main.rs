//! Lambda entrypoint of the escrow consumer: SQS batches of bus events in, ledger moves out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let escrow = &*Box::leak(Box::new(consumer_escrow::Escrow::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(escrow.handle(event.payload).await)
    }))
    .await
}
