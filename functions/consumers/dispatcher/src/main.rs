//! Lambda entrypoint of the dispatcher: SQS batches of bus events (and its own offer
//! time-outs) in, shipments and offers to shippers out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let dispatcher = &*Box::leak(Box::new(consumer_dispatcher::Dispatcher::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(dispatcher.handle(event.payload).await)
    }))
    .await
}
