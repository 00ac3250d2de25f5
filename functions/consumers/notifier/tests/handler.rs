//! The notifier handler fed an SQS event from `events/`, sending through the emulator's SES.

use aws_lambda_events::event::sqs::SqsEvent;

async fn notifier() -> consumer_notifier::Notifier {
    consumer_notifier::Notifier::from_env()
        .await
        .expect("make test exports the stack environment")
}

/// The user of the fixture (claims are per event and recipient).
const FIXTURE_USER: &str = "01JFIXTUREUSER000000000000";

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

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn an_event_delivered_twice_in_one_batch_is_sent_once_and_its_copy_retried() {
    let notifier = notifier().await;
    let email = e2e::unique_email("notifier-twice");
    let mut batch = event(&email, &ulid::Ulid::new().to_string());
    // the relay published the event again: a second message, same event id, same batch
    let mut copy = batch.records[0].clone();
    copy.message_id = Some("copy-1".into());
    batch.records.push(copy);
    let first = notifier.handle(batch.clone()).await;
    // both copies ran at once: one sent, the other found the claim held and is retried
    assert_eq!(
        failed_ids(&first).len(),
        1,
        "{:?}",
        first.batch_item_failures
    );
    let again = notifier.handle(batch).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(e2e::mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn an_attempt_that_died_holding_the_claim_is_taken_over_after_its_lease() {
    let notifier = notifier().await;
    let email = e2e::unique_email("notifier-dead");
    let event_id = ulid::Ulid::new().to_string();
    // an attempt claimed the event and died before sending (its lease, 1 ms here, is over)
    let claim = notifier
        .db
        .claim(
            consumer_notifier::claim_key(&event_id, FIXTURE_USER, "account_verify_email"),
            "dead-attempt",
            std::time::Duration::from_millis(1),
            shared::now_epoch() + 3600,
        )
        .await
        .unwrap();
    assert!(matches!(claim, shared::store::Claim::Acquired { .. }));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let response = notifier.handle(event(&email, &event_id)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(e2e::mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_failed_send_gives_the_claim_back_and_the_retry_sends_once() {
    let mut notifier = notifier().await;
    let from = std::mem::replace(&mut notifier.from, "nobody@unverified.invalid".into());
    let email = e2e::unique_email("notifier-retry");
    let event_id = ulid::Ulid::new().to_string();
    // SES refuses an unverified sender: the send fails, the message with it
    let refused = notifier.handle(event(&email, &event_id)).await;
    assert_eq!(failed_ids(&refused).len(), 1);
    assert!(e2e::mails_to(&email).await.is_empty());
    // the redelivery finds the claim given back and sends; a third delivery sends nothing
    notifier.from = from;
    for _ in 0..2 {
        let response = notifier.handle(event(&email, &event_id)).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(e2e::mails_to(&email).await.len(), 1);
}
