//! Lambda entrypoint of the recommender: SQS batches of bus events in, sales counters,
//! co-purchases and price-alert notices out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let recommender = &*Box::leak(Box::new(
        consumer_recommender::Recommender::from_env().await?,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(recommender.handle(event.payload).await)
    }))
    .await
}
