//! Lambda entrypoint of the notifier: SQS batches of bus events in, e-mails out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let notifier = &*Box::leak(Box::new(consumer_notifier::Notifier::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(notifier.handle(event.payload).await)
    }))
    .await
}
