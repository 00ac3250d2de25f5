//! The outbox relay fed a DynamoDB stream event from `events/`: the outbox insert is published
//! to the bus (the rule routes it to the notifier queue, which the dev server pumps, so the
//! e-mail arriving proves the publication), other records are skipped, and a failed publish is
//! reported as a batch item failure.

use aws_lambda_events::event::dynamodb::Event;

fn event(email: &str) -> Event {
    let event_id = ulid::Ulid::new().to_string();
    serde_json::from_str(&e2e::fixture(
        "dynamodb-stream-outbox-insert.json",
        &[
            ("EMAIL_PLACEHOLDER", email),
            ("EVENT_ID_PLACEHOLDER", &event_id),
        ],
    ))
    .unwrap()
}

#[tokio::test]
async fn an_outbox_insert_is_published_and_reaches_the_notifier() {
    let relay = consumer_outbox_relay::Relay::from_env().await.unwrap();
    let email = e2e::unique_email("relay");
    let response = relay.handle(event(&email)).await;
    assert!(response.batch_item_failures.is_empty());
    let body = e2e::wait_for_mail(&email, "Confirm your e-mail").await;
    assert!(body.contains("fixture-token"));
}

#[tokio::test]
async fn only_outbox_inserts_are_relayed() {
    let e = event("x@example.com");
    assert!(
        consumer_outbox_relay::outbox_item(&e.records[0])
            .unwrap()
            .is_some()
    );
    assert!(
        consumer_outbox_relay::outbox_item(&e.records[1])
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_publish_reports_the_record_so_lambda_retries_from_it() {
    let mut relay = consumer_outbox_relay::Relay::from_env().await.unwrap();
    relay.bus = "no-such-bus".into();
    let response = relay.handle(event(&e2e::unique_email("relay-fail"))).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![Some("100000000000000000001".to_owned())]);
}
