//! Lambda entrypoint of the invoices consumer: SQS batches of `PaymentSucceeded` in, numbered
//! invoice PDFs out.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let invoices = &*Box::leak(Box::new(consumer_invoices::Invoices::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(invoices.handle(event.payload).await)
    }))
    .await
}
