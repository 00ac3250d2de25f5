//! The notifier handler fed an SQS event from `events/`, sending through the emulator's SES.

use aws_lambda_events::event::sqs::SqsEvent;

async fn notifier() -> consumer_notifier::Notifier {
    consumer_notifier::Notifier::from_env()
        .await
        .expect("make test exports the stack environment")
}

fn event(email: &str, event_id: &str) -> SqsEvent {
    serde_json::from_str(&e2e::fixture(
        "sqs-notifier-user-registered.json",
        &[
            ("EMAIL_PLACEHOLDER", email),
            ("EVENT_ID_PLACEHOLDER", event_id),
        ],
    ))
    .unwrap()
}

#[tokio::test]
async fn a_user_registered_message_sends_one_email_even_when_delivered_twice() {
    let notifier = notifier().await;
    let email = e2e::unique_email("notifier");
    let event_id = ulid::Ulid::new().to_string();
    let first = notifier.handle(event(&email, &event_id)).await;
    assert!(first.batch_item_failures.is_empty());
    let second = notifier.handle(event(&email, &event_id)).await;
    assert!(second.batch_item_failures.is_empty());
    let mails = e2e::mails_to(&email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0]["body"]
            .as_str()
            .unwrap()
            .contains("Verification token: fixture-token")
    );
}

#[tokio::test]
async fn a_poison_message_fails_alone_in_its_batch() {
    let notifier = notifier().await;
    let email = e2e::unique_email("notifier-batch");
    let mut batch = event(&email, &ulid::Ulid::new().to_string());
    let mut poison = batch.records[0].clone();
    poison.message_id = Some("poison-1".into());
    poison.body = Some("this is not an EventBridge event".into());
    batch.records.push(poison);
    let response = notifier.handle(batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["poison-1"]);
    assert_eq!(e2e::mails_to(&email).await.len(), 1);
}
