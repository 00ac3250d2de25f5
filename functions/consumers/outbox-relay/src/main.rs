//! Lambda entrypoint of the outbox relay: DynamoDB stream batches in, EventBridge events out.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let relay = &*Box::leak(Box::new(consumer_outbox_relay::Relay::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(relay.handle(event.payload).await)
    }))
    .await
}
