//! Crashing the event pipeline loses and repeats nothing: 300 orders are placed while the
//! outbox relay and the notifier fail at random points (`LOCAL_FAULTS`, see
//! `dev_server::faults`): the pump drops handled batches unacknowledged, and the consumers' AWS
//! calls fail before they are sent or after they were answered. Every failure is a real
//! redelivery: the table stream is read again, the SQS queue hands the messages out again
//! after their visibility timeout, and after `maxReceiveCount` receives moves them to the DLQ,
//! from which the test redrives them (as an operator would) until the queues are quiet.
//!
//! Then every `OrderPlaced` has had its effects exactly once: one e-mail to the buyer and one
//! to the shop's owner per order, no e-mail sent twice, no event id sent twice by the notifier
//! (its log), and the duplicates it absorbed are counted — had it not absorbed them, they
//! would be e-mails. The counts are printed.
//!
//! Runs on its own emulator and dev server ([`support::LocalStack`]): faults in the shared one
//! would break other tests. The notifier queue's visibility timeout is cut to 3 s there so
//! redeliveries happen within the test.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::LocalStack;

const FAULTS: &str = "relay_drop=0.1,relay_error=0.1,notifier_drop=0.1,notifier_error=0.1,seed=7";
const ORDERS: usize = 300;
/// Shops in each checkout (one order each; a checkout takes up to five).
const SHOPS: usize = 5;
/// Buyers checking out at once (each its checkouts one after another: one cart each).
const BUYERS: usize = 12;
const VISIBILITY_TIMEOUT_SECS: &str = "3";
/// Consumers of the orders that are not the e-mail pipeline (the relay and the notifier).
const NOT_STUDIED: &str = "DispatcherFunction,TrackingPushFunction,RecommenderFunction,SearchIndexerFunction,InvoicesFunction,EscrowFunction";
/// How long the pipeline may take to settle after the last order.
const SETTLE_WITHIN: Duration = Duration::from_secs(100);

#[test]
fn every_order_placed_is_mailed_exactly_once_while_the_relay_and_the_notifier_crash() {
    let started = Instant::now();
    let mut stack = LocalStack::provisioned("faults");
    // SAFETY: no other thread runs yet; the runtime is built below.
    unsafe { stack.export_env() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let sqs = runtime.block_on(async { aws_sdk_sqs::Client::new(&stack.sdk().await) });
    let queue = stack.queue_url("NotifierQueue");
    let dlq = stack.queue_url("NotifierDLQ");
    runtime.block_on(async {
        sqs.set_queue_attributes()
            .queue_url(&queue)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT_SECS,
            )
            .send()
            .await
            .unwrap();
    });
    // The consumers this test does not look at stay off: they would share its two cores
    // (it places 300 orders) without changing what it checks.
    // the notifier's retry backoff no longer than the cut visibility timeout
    stack.start_server(&[
        ("LOCAL_FAULTS", FAULTS),
        ("LOCAL_PUMP_SKIP", NOT_STUDIED),
        ("NOTIFIER_RETRY_MAX_SECONDS", VISIBILITY_TIMEOUT_SECS),
    ]);
    runtime.block_on(async {
        let orders = place_orders(&stack).await;
        let placed_after = started.elapsed();
        let dead_lettered = settle(&stack, &sqs, &queue, &dlq, &orders).await;
        check(
            &stack,
            &orders,
            &dead_lettered,
            placed_after,
            started.elapsed(),
        )
        .await;
    });
}

/// Places [`ORDERS`] COD orders: checkouts of one line from each of [`SHOPS`] shops (one
/// order per shop each); returns their ids.
async fn place_orders(stack: &LocalStack) -> Vec<String> {
    let ctx = stack.ctx();
    let shops = futures::future::join_all((0..SHOPS).map(|_| async {
        let shop = ctx.test_shop("faults").await;
        let (product, skus) = ctx
            .test_product(
                &shop,
                &[e2e::NewVariant {
                    sku: "F",
                    price: 120_000,
                    stock: (ORDERS / SHOPS) as i64 + 10,
                    weight_grams: 300,
                }],
            )
            .await;
        (product, skus[0].clone())
    }))
    .await;
    let buyers = futures::future::join_all((0..BUYERS).map(|_| async {
        let (_, token, _) = ctx.user("faults-buyer").await;
        let address = ctx.test_address(&token).await;
        (token, address)
    }))
    .await;
    let placing = Instant::now();
    let checkouts = ORDERS / SHOPS;
    let buyers = buyers.iter().enumerate().map(|(b, (token, address))| {
        let (ctx, shops) = (&ctx, &shops);
        async move {
            let mut ids = Vec::new();
            // this buyer's share of the checkouts
            for _ in (b..checkouts).step_by(BUYERS) {
                for (product, sku) in shops {
                    ctx.add_to_cart(token, product, sku, 1).await;
                }
                let key = format!("faults-{}", ulid::Ulid::new());
                let placed = ctx.checkout(token, address, "cod", &key).await;
                assert_eq!(placed.status, 201, "{}", placed.text);
                for order in placed.body["orders"].as_array().unwrap() {
                    ids.push(order["id"].as_str().unwrap().to_owned());
                }
            }
            ids
        }
    });
    let orders: Vec<String> = futures::future::join_all(buyers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(orders.len(), ORDERS);
    println!(
        "fault test: {ORDERS} orders in {} checkouts by {BUYERS} buyers took {:.1} s",
        ORDERS / SHOPS,
        placing.elapsed().as_secs_f64()
    );
    orders
}

/// The queue's visible and in-flight messages.
async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().cloned().unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|a| attrs.get(a)?.parse::<u64>().ok())
    .sum()
}

/// Moves everything in the DLQ back to its queue (as `StartMessageMoveTask` would); returns
/// the detail-type of each message moved.
async fn redrive(sqs: &aws_sdk_sqs::Client, dlq: &str, queue: &str) -> Vec<String> {
    let mut moved = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = out.messages();
        if messages.is_empty() {
            return moved;
        }
        for m in messages {
            let body = m.body().unwrap_or_default();
            sqs.send_message()
                .queue_url(queue)
                .message_body(body)
                .send()
                .await
                .unwrap();
            // A delete can fail when the handle went stale (the message became visible again) or
            // the loaded emulator answers an error page; the message is then redriven again
            // later, and the duplicate is what the consumer's exactly-once must absorb.
            let _ = sqs
                .delete_message()
                .queue_url(dlq)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await;
            let event: Value = serde_json::from_str(body).unwrap_or_default();
            moved.push(event["detail-type"].as_str().unwrap_or("?").to_owned());
        }
    }
}

/// Whether each order has its buyer's and its owner's e-mail.
fn all_mailed(mails: &[(String, String, String)], orders: &[String]) -> bool {
    let subjects: std::collections::HashSet<&str> =
        mails.iter().map(|(_, s, _)| s.as_str()).collect();
    let has = |prefix: String| subjects.iter().any(|s| s.starts_with(&prefix));
    orders
        .iter()
        .all(|o| has(format!("Order {o} placed at")) && has(format!("New order {o} for")))
}

/// Redrives the DLQ until every order is mailed and the queues have been empty for a while;
/// returns the detail-types of the dead-lettered messages.
async fn settle(
    stack: &LocalStack,
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    dlq: &str,
    orders: &[String],
) -> Vec<String> {
    let deadline = Instant::now() + SETTLE_WITHIN;
    let mut dead_lettered = Vec::new();
    let mut quiet_since: Option<Instant> = None;
    loop {
        dead_lettered.extend(redrive(sqs, dlq, queue).await);
        let empty = queued(sqs, queue).await == 0 && queued(sqs, dlq).await == 0;
        // (the emulator's data dump is costly: only once the queues are empty)
        let mailed = empty && all_mailed(&stack.mails().await, orders);
        quiet_since = match (mailed && empty, quiet_since) {
            (true, Some(t)) if t.elapsed() > Duration::from_secs(6) => return dead_lettered,
            (true, Some(t)) => Some(t),
            (true, None) => Some(Instant::now()),
            (false, _) => None,
        };
        assert!(
            Instant::now() < deadline,
            "the pipeline did not settle within {SETTLE_WITHIN:?}: all mailed {mailed}, queues empty {empty}"
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

async fn check(
    stack: &LocalStack,
    orders: &[String],
    dead_lettered: &[String],
    placed_after: Duration,
    took: Duration,
) {
    // SES: exactly one e-mail per order to its buyer and to the shop's owner, and no e-mail
    // (of any event: registrations too) twice.
    let mails = stack.mails().await;
    let mut per_subject: HashMap<&str, usize> = HashMap::new();
    let mut per_mail: HashMap<(&str, &str), usize> = HashMap::new();
    for (to, subject, _) in &mails {
        *per_subject.entry(subject.as_str()).or_default() += 1;
        *per_mail.entry((to.as_str(), subject.as_str())).or_default() += 1;
    }
    for order in orders {
        for prefix in [
            format!("Order {order} placed at"),
            format!("New order {order} for"),
        ] {
            let sent: usize = per_subject
                .iter()
                .filter(|(s, _)| s.starts_with(&prefix))
                .map(|(_, n)| n)
                .sum();
            assert_eq!(sent, 1, "'{prefix} …' sent {sent} times");
        }
    }
    let repeated: Vec<_> = per_mail.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "e-mails sent more than once: {repeated:?}"
    );

    // The notifier's log: no event's e-mails sent twice; what the faults did.
    let log = stack.log_fields();
    let mut sent_per_event: BTreeMap<String, usize> = BTreeMap::new();
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    let (mut queue_again, mut stream_again, mut absorbed, mut failed) = (0, 0, 0, 0);
    for f in &log {
        let message = f["message"].as_str().unwrap_or_default();
        let count = |k: &str| f[k].as_u64().unwrap_or(0) as usize;
        match message {
            // one claim per event and recipient: each (event, recipient) mailed once
            "e-mail sent" => {
                *sent_per_event
                    .entry(format!(
                        "{}/{}",
                        f["event_id"].as_str().unwrap_or_default(),
                        f["user_id"].as_str().unwrap_or_default()
                    ))
                    .or_default() += 1
            }
            "already notified; duplicate delivery absorbed" => absorbed += 1,
            "messages delivered again" => queue_again += count("redelivered"),
            "stream records delivered again" => stream_again += count("redelivered"),
            "message failed; it will be retried" => failed += 1,
            _ => {}
        }
        if let (Some(kind), Some(consumer)) = (f["fault"].as_str(), f["consumer"].as_str()) {
            *faults.entry(format!("{consumer}_{kind}")).or_default() += 1;
        }
    }
    let twice: Vec<_> = sent_per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "events whose e-mails were sent twice: {twice:?}"
    );
    let placed_events = mails
        .iter()
        .filter(|(_, s, _)| s.starts_with("Order "))
        .count();

    println!(
        "fault test: {} orders placed in {:.1} s, pipeline settled after {:.1} s in all",
        orders.len(),
        placed_after.as_secs_f64(),
        took.as_secs_f64()
    );
    println!("  faults injected: {faults:?}");
    println!("  redelivered: {queue_again} queue messages, {stream_again} stream records");
    println!(
        "  notifier: {failed} failed attempts, {absorbed} duplicate deliveries absorbed, {} (event, recipient) pairs mailed ({placed_events} OrderPlaced)",
        sent_per_event.len()
    );
    let mut dlq_types: BTreeMap<&str, usize> = BTreeMap::new();
    for t in dead_lettered {
        *dlq_types.entry(t.as_str()).or_default() += 1;
    }
    println!(
        "  dead-lettered (and redriven): {} {dlq_types:?}",
        dead_lettered.len()
    );

    // The faults did happen, and through redelivery: otherwise this test proves nothing.
    for kind in [
        "relay_drop",
        "relay_error",
        "notifier_drop",
        "notifier_error",
    ] {
        assert!(
            faults.get(kind).is_some_and(|n| *n > 0),
            "no {kind} fault was injected: {faults:?}"
        );
    }
    assert!(
        queue_again > 0 && stream_again > 0,
        "nothing was redelivered"
    );
    assert!(absorbed > 0, "no duplicate delivery reached the notifier");
}
