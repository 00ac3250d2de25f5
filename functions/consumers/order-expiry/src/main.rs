//! Lambda entrypoint of the order-expiry sweeper: scheduled ticks from SQS in, cancellations out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let expiry = &*Box::leak(Box::new(consumer_order_expiry::Expiry::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(expiry.handle(event.payload).await)
    }))
    .await
}
