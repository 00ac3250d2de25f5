//! Lambda entrypoint of the tracking push: SQS batches of shipping events in, WebSocket frames
//! out to the connections watching each order.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let push = &*Box::leak(Box::new(
        consumer_tracking_push::TrackingPush::from_env().await?,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(push.handle(event.payload).await)
    }))
    .await
}
