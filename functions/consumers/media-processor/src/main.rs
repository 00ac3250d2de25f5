//! Lambda entrypoint of the media processor: S3 upload notifications (via SQS) in, verified
//! images and thumbnails attached to products out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let processor = &*Box::leak(Box::new(
        consumer_media_processor::MediaProcessor::from_env().await?,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(processor.handle(event.payload).await)
    }))
    .await
}
