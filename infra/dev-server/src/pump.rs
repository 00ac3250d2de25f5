//! The event pump: what Lambda's event-source mappings do in AWS, done locally. It reads the
//! table stream and the consumer queues declared in template.yaml (via the stack file) and
//! hands each batch, shaped exactly as Lambda would, to the same handler the Lambda runs,
//! honouring its partial-batch-failure answer.
//!
//! It also fires the template's scheduled rules (`rate(...)` `ScheduleExpression`s with queue
//! targets, listed by the provisioner under `schedules`), which the emulator creates but never
//! fires: every period it sends each target queue the event EventBridge would send. The
//! environment variable `LOCAL_SCHEDULE_SECONDS` (e.g. 5) overrides every period, for demos.
//!
//! Like Lambda's event-source mappings it outlives an outage of the services it reads: a
//! failing read is retried with a growing pause (up to [`MAX_BACKOFF`]), and when the table's
//! stream is gone (the table was recreated, as after an emulator restart and a new
//! provisioning) it follows the table's new stream from its start.
//!
//! `LOCAL_FAULTS` injects faults into the outbox relay and the notifier (see [`crate::faults`]).
//! Whatever the faults, the pump logs what came back: `redelivered` (queue messages received
//! more than once, stream records read again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::faults::Faults;
use crate::stack::{QueueSource, Schedule, Stack, StreamSource};

/// A consumer handler the pump can feed, keyed by the function's binary name.
pub enum Consumer {
    OutboxRelay(consumer_outbox_relay::Relay),
    Notifier(consumer_notifier::Notifier),
    MediaProcessor(consumer_media_processor::MediaProcessor),
    OrderExpiry(consumer_order_expiry::Expiry),
    Escrow(consumer_escrow::Escrow),
    Invoices(consumer_invoices::Invoices),
    SearchIndexer(consumer_search_indexer::Indexer),
    Recommender(consumer_recommender::Recommender),
    Dispatcher(consumer_dispatcher::Dispatcher),
    TrackingPush(consumer_tracking_push::TrackingPush),
}

impl Consumer {
    /// Builds the handler a function's `main` would build, from the same environment.
    pub async fn for_binary(binary: &str) -> anyhow::Result<Option<Self>> {
        Ok(match binary {
            "consumer-outbox-relay" => Some(Self::OutboxRelay(
                consumer_outbox_relay::Relay::from_env().await?,
            )),
            "consumer-notifier" => Some(Self::Notifier(
                consumer_notifier::Notifier::from_env().await?,
            )),
            "consumer-media-processor" => Some(Self::MediaProcessor(
                consumer_media_processor::MediaProcessor::from_env().await?,
            )),
            "consumer-order-expiry" => Some(Self::OrderExpiry(
                consumer_order_expiry::Expiry::from_env().await?,
            )),
            "consumer-escrow" => Some(Self::Escrow(consumer_escrow::Escrow::from_env().await?)),
            "consumer-invoices" => Some(Self::Invoices(
                consumer_invoices::Invoices::from_env().await?,
            )),
            "consumer-search-indexer" => Some(Self::SearchIndexer(
                consumer_search_indexer::Indexer::from_env().await?,
            )),
            "consumer-recommender" => Some(Self::Recommender(
                consumer_recommender::Recommender::from_env().await?,
            )),
            "consumer-dispatcher" => Some(Self::Dispatcher(
                consumer_dispatcher::Dispatcher::from_env().await?,
            )),
            "consumer-tracking-push" => Some(Self::TrackingPush(
                consumer_tracking_push::TrackingPush::from_env().await?,
            )),
            _ => None,
        })
    }

    /// The name `LOCAL_FAULTS` settings use for this consumer, if faults can be injected.
    fn fault_name(&self) -> Option<&'static str> {
        match self {
            Self::OutboxRelay(_) => Some("relay"),
            Self::Notifier(_) => Some("notifier"),
            _ => None,
        }
    }

    /// The same handler with its AWS clients failing calls at the consumer's `_error` rate.
    fn with_faults(self, faults: &Arc<Faults>) -> Self {
        match self {
            Self::OutboxRelay(mut relay) => {
                let config = relay.events.config().to_builder();
                relay.events = aws_sdk_eventbridge::Client::from_conf(
                    config.interceptor(faults.calls("relay", true)).build(),
                );
                Self::OutboxRelay(relay)
            }
            Self::Notifier(mut notifier) => {
                let db = notifier.db.client.config().to_builder();
                notifier.db.client = aws_sdk_dynamodb::Client::from_conf(
                    db.interceptor(faults.calls("notifier", true)).build(),
                );
                let ses = notifier.ses.config().to_builder();
                notifier.ses = aws_sdk_sesv2::Client::from_conf(
                    ses.interceptor(faults.calls("notifier", false)).build(),
                );
                let sns = notifier.sns.config().to_builder();
                notifier.sns = aws_sdk_sns::Client::from_conf(
                    sns.interceptor(faults.calls("notifier", false)).build(),
                );
                Self::Notifier(notifier)
            }
            other => other,
        }
    }

    /// Whether `faults` drop this handled batch unacknowledged.
    fn drops(&self, faults: Option<&Faults>, records: usize) -> bool {
        match (faults, self.fault_name()) {
            (Some(faults), Some(name)) => faults.drop_batch(name, records),
            _ => false,
        }
    }

    /// Sequence numbers the handler reports as failed.
    async fn handle_stream(&self, event: StreamEvent) -> Vec<String> {
        match self {
            Self::OutboxRelay(relay) => relay
                .handle(event)
                .await
                .batch_item_failures
                .into_iter()
                .filter_map(|f| f.item_identifier)
                .collect(),
            Self::Notifier(_)
            | Self::MediaProcessor(_)
            | Self::OrderExpiry(_)
            | Self::Escrow(_)
            | Self::Invoices(_)
            | Self::SearchIndexer(_)
            | Self::Recommender(_)
            | Self::Dispatcher(_)
            | Self::TrackingPush(_) => {
                tracing::error!(
                    "only the outbox relay reads the table stream; check template.yaml"
                );
                Vec::new()
            }
        }
    }

    /// Message ids the handler reports as failed.
    async fn handle_sqs(&self, event: SqsEvent) -> Vec<String> {
        let response = match self {
            Self::Notifier(n) => n.handle(event).await,
            Self::MediaProcessor(m) => m.handle(event).await,
            Self::OrderExpiry(e) => e.handle(event).await,
            Self::Escrow(e) => e.handle(event).await,
            Self::Invoices(i) => i.handle(event).await,
            Self::SearchIndexer(i) => i.handle(event).await,
            Self::Recommender(r) => r.handle(event).await,
            Self::Dispatcher(d) => d.handle(event).await,
            Self::TrackingPush(t) => t.handle(event).await,
            Self::OutboxRelay(_) => {
                tracing::error!("the outbox relay has no SQS handler; check template.yaml");
                return Vec::new();
            }
        };
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }
}

/// Starts one task per event source of every function in the stack.
pub async fn start(
    stack: &Stack,
    sdk: &aws_config::SdkConfig,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    let faults = Faults::from_env()?;
    if faults.is_some() {
        tracing::warn!(faults = %std::env::var(crate::faults::FAULTS_ENV).unwrap_or_default(), "injecting faults into the event pipeline");
    }
    let skipped = skipped_functions();
    for (name, function) in &stack.functions {
        if function.queues.is_empty() && function.streams.is_empty() {
            continue;
        }
        if skipped.contains(name) {
            tracing::warn!(function = %name, "not pumped ({PUMP_SKIP_ENV})");
            continue;
        }
        let Some(mut consumer) = Consumer::for_binary(&function.binary).await? else {
            tracing::warn!(function = %name, binary = %function.binary, "no local handler for this function's event sources");
            continue;
        };
        if let Some(faults) = &faults {
            consumer = consumer.with_faults(faults);
        }
        let consumer = Arc::new(consumer);
        for source in &function.streams {
            let client = aws_sdk_dynamodbstreams::Client::new(sdk);
            let tables = aws_sdk_dynamodb::Client::new(sdk);
            let pump = Pump {
                consumer: consumer.clone(),
                faults: faults.clone(),
                region: stack.region.clone(),
                shutdown: shutdown.clone(),
            };
            let source = source.clone();
            tracing::info!(function = %name, stream = %source.stream_arn, "pumping table stream");
            tasks.push(tokio::spawn(async move {
                pump_stream(client, tables, pump, source).await
            }));
        }
        for source in &function.queues {
            tracing::info!(function = %name, queue = %source.url, pollers = QUEUE_POLLERS, "pumping queue");
            // Like Lambda's SQS scaling: several batches of one queue in flight at once.
            for _ in 0..QUEUE_POLLERS {
                let client = aws_sdk_sqs::Client::new(sdk);
                let pump = Pump {
                    consumer: consumer.clone(),
                    faults: faults.clone(),
                    region: stack.region.clone(),
                    shutdown: shutdown.clone(),
                };
                let source = source.clone();
                tasks.push(tokio::spawn(async move {
                    pump_queue(client, pump, source).await
                }));
            }
        }
    }
    let period_override = schedule_period_override()?;
    for schedule in &stack.schedules {
        let Some(period) = period_override.or_else(|| rate_period(&schedule.expression)) else {
            tracing::warn!(rule = %schedule.rule, expression = %schedule.expression, "only rate(...) schedules are fired locally");
            continue;
        };
        if schedule.targets.is_empty() {
            continue;
        }
        tracing::info!(rule = %schedule.rule, expression = %schedule.expression, every_seconds = period.as_secs(), targets = schedule.targets.len(), "firing schedule");
        let client = aws_sdk_sqs::Client::new(sdk);
        let (schedule, region, account, shutdown) = (
            schedule.clone(),
            stack.region.clone(),
            stack.account_id.clone(),
            shutdown.clone(),
        );
        tasks.push(tokio::spawn(async move {
            fire_schedule(client, schedule, period, region, account, shutdown).await
        }));
    }
    Ok(tasks)
}

/// Functions (logical ids, comma-separated) whose event sources are not pumped: a test that
/// studies one pipeline (the fault test: the relay and the notifier) leaves out consumers it
/// does not look at, so that they do not share its two cores.
pub const PUMP_SKIP_ENV: &str = "LOCAL_PUMP_SKIP";

fn skipped_functions() -> Vec<String> {
    std::env::var(PUMP_SKIP_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Overrides every schedule's period (seconds), for local demos and tests.
pub const SCHEDULE_OVERRIDE_ENV: &str = "LOCAL_SCHEDULE_SECONDS";

fn schedule_period_override() -> anyhow::Result<Option<Duration>> {
    match std::env::var(SCHEDULE_OVERRIDE_ENV) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Some(Duration::from_secs(secs))),
            _ => {
                anyhow::bail!("{SCHEDULE_OVERRIDE_ENV}={v}: expected a whole number of seconds > 0")
            }
        },
    }
}

/// The period of an EventBridge `rate(N minute|minutes|hour|hours|day|days)` expression;
/// `None` for anything else (`cron(...)` is not emulated).
pub fn rate_period(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(char::is_whitespace)?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * unit))
}

/// The body EventBridge sends a queue target for one firing of a scheduled rule.
pub fn scheduled_event(rule_arn: &str, account: &str, region: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": event_id(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    })
}

/// A fresh event id in EventBridge's UUID layout (from a ULID: unique, and sorts by time).
fn event_id() -> String {
    let hex = format!("{:032x}", u128::from(ulid::Ulid::new()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Now, as EventBridge writes a scheduled event's `time`: RFC 3339 UTC to the second.
fn event_time() -> String {
    let t = shared::now();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Fires one schedule every `period` (the first time one period after start, as EventBridge
/// does after the rule is created) until shutdown.
async fn fire_schedule(
    client: aws_sdk_sqs::Client,
    schedule: Schedule,
    period: Duration,
    region: String,
    account: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let rule_arn = schedule
        .arn
        .clone()
        .unwrap_or_else(|| format!("arn:aws:events:{region}:{account}:rule/{}", schedule.rule));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = ticks.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
        }
        let event = scheduled_event(&rule_arn, &account, &region, &event_time());
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        let body = event.to_string();
        let mut sent = 0;
        for target in &schedule.targets {
            let fifo = target.queue_url.ends_with(".fifo");
            match client
                .send_message()
                .queue_url(&target.queue_url)
                .message_body(target.input.clone().unwrap_or_else(|| body.clone()))
                .set_message_group_id(target.message_group_id.clone())
                .set_message_deduplication_id(fifo.then(|| id.clone()))
                .send()
                .await
            {
                Ok(_) => sent += 1,
                Err(e) => {
                    tracing::warn!(rule = %schedule.rule, queue = %target.queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "sending the scheduled event failed")
                }
            }
        }
        tracing::info!(rule = %schedule.rule, event_id = %id, sent, targets = schedule.targets.len(), "scheduled event fired");
    }
}

const IDLE: Duration = Duration::from_millis(150);
/// The first pause after a failed read; it doubles on each failure in a row, up to
/// [`MAX_BACKOFF`].
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between two reads of a source that keeps failing (an outage).
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long one receive waits for messages, as Lambda's pollers do (a receive returns as soon
/// as there are some; an idle queue costs one request per poller per this period).
const LONG_POLL: Duration = Duration::from_secs(20);

/// The SDK timeouts with room for a long poll (the shared attempt timeout may be shorter).
fn long_poll_timeouts() -> aws_config::timeout::TimeoutConfig {
    shared::state::sdk_timeouts()
        .to_builder()
        .operation_attempt_timeout(LONG_POLL + Duration::from_secs(5))
        .operation_timeout(LONG_POLL + Duration::from_secs(10))
        .build()
}

/// Concurrent batches per queue.
const QUEUE_POLLERS: usize = 3;
const SHARD_DISCOVERY_EVERY: Duration = Duration::from_secs(5);
const REANCHOR_IDLE_EVERY: Duration = Duration::from_secs(1);

/// What every pump task of one consumer shares.
struct Pump {
    consumer: Arc<Consumer>,
    faults: Option<Arc<Faults>>,
    region: String,
    shutdown: watch::Receiver<bool>,
}

impl Pump {
    /// Sleeps `pause`, or less if the server is shutting down.
    async fn pause(&mut self, pause: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Pauses between reads that fail in a row: 1 s, 2 s, 4 s, then [`MAX_BACKOFF`].
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn failed(&mut self) -> Duration {
        self.failures += 1;
        (RETRY_BACKOFF * 2u32.pow(self.failures.min(8) - 1)).min(MAX_BACKOFF)
    }

    /// Ends a run of failures; returns how many there were.
    fn recovered(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }
}

/// Where the pump is in one shard.
#[derive(Default)]
struct ShardCursor {
    iterator: Option<String>,
    /// When `iterator` was obtained from GetShardIterator (not from a NextShardIterator).
    anchored_at: Option<std::time::Instant>,
    /// Last sequence number handed to the consumer successfully.
    last_delivered: Option<String>,
    /// Highest sequence number ever handed to the consumer (records at or below it that come
    /// again are redeliveries).
    high_water: Option<String>,
}

/// Orders DynamoDB stream sequence numbers (decimal strings of up to 40 digits).
fn seq_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn seq_of(record: &Record) -> Option<&str> {
    record.dynamodb()?.sequence_number()
}

/// The stream being read, and where in it.
struct StreamPosition {
    arn: String,
    /// Where a shard seen for the first time is read from.
    start: ShardIteratorType,
    shards: HashMap<String, ShardCursor>,
    last_discovery: Option<std::time::Instant>,
}

impl StreamPosition {
    /// Follows the table's current stream if it is not this one any more (the table was
    /// recreated, as after an emulator restart): from its start, since all of it is new.
    /// The table is the one named in the ARN (`arn:…:table/<name>/stream/<label>`).
    async fn follow_replacement(&mut self, tables: &aws_sdk_dynamodb::Client) -> bool {
        let Some(table) = self.arn.split('/').nth(1) else {
            return false;
        };
        let Ok(out) = tables.describe_table().table_name(table).send().await else {
            return false;
        };
        let Some(latest) = out.table().and_then(|t| t.latest_stream_arn()) else {
            return false;
        };
        if latest == self.arn {
            return false;
        }
        tracing::warn!(old = %self.arn, new = %latest, "the table's stream was replaced (table recreated); following the new one");
        *self = Self {
            arn: latest.to_owned(),
            start: ShardIteratorType::TrimHorizon,
            shards: HashMap::new(),
            last_discovery: None,
        };
        true
    }
}

async fn pump_stream(
    client: aws_sdk_dynamodbstreams::Client,
    tables: aws_sdk_dynamodb::Client,
    mut pump: Pump,
    source: StreamSource,
) {
    let mut stream = StreamPosition {
        arn: source.stream_arn.clone(),
        start: match source.starting_position.as_str() {
            "LATEST" => ShardIteratorType::Latest,
            _ => ShardIteratorType::TrimHorizon,
        },
        shards: HashMap::new(),
        last_discovery: None,
    };
    let mut backoff = Backoff::default();
    loop {
        if pump.stopping() {
            return;
        }
        let mut delivered = false;
        let mut failed = false;
        if stream
            .last_discovery
            .is_none_or(|t| t.elapsed() > SHARD_DISCOVERY_EVERY)
        {
            match discover_shards(&client, &stream.arn, &mut stream.shards).await {
                Ok(()) => stream.last_discovery = Some(std::time::Instant::now()),
                Err(e) => {
                    failed = true;
                    tracing::warn!(stream = %stream.arn, error = %e, "describing the stream failed");
                    if stream.follow_replacement(&tables).await {
                        continue;
                    }
                }
            }
        }
        let stream_arn = stream.arn.clone();
        for (shard, cursor) in stream.shards.iter_mut() {
            if cursor.iterator.is_none() {
                // First visit, or the iterator was lost: resume after the last delivered record.
                let (kind, seq) = match &cursor.last_delivered {
                    Some(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq.clone())),
                    None => (stream.start.clone(), None),
                };
                cursor.iterator = iterator(&client, &stream_arn, shard, kind, seq).await;
                cursor.anchored_at = Some(std::time::Instant::now());
                failed |= cursor.iterator.is_none();
            }
            let Some(it) = cursor.iterator.clone() else {
                continue;
            };
            let out = match client
                .get_records()
                .shard_iterator(it)
                .limit(source.batch_size)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    tracing::warn!(shard = %shard, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "reading the stream failed");
                    cursor.iterator = None;
                    failed = true;
                    continue;
                }
            };
            cursor.iterator = out.next_shard_iterator().map(str::to_owned);
            let records = out.records();
            if records.is_empty() {
                // moto quirk: a cancelled transaction replaces the table with a snapshot copy, and
                // iterators keep reading the orphaned stream of the old copy. Re-anchoring from
                // the last delivered record now and then keeps the pump on the live stream (on
                // AWS it merely costs one GetShardIterator a second while idle).
                if cursor
                    .anchored_at
                    .is_none_or(|t| t.elapsed() > REANCHOR_IDLE_EVERY)
                {
                    cursor.iterator = None;
                }
                continue;
            }
            delivered = true;
            let again = records
                .iter()
                .filter_map(seq_of)
                .filter(|seq| {
                    cursor
                        .high_water
                        .as_deref()
                        .is_some_and(|hw| seq_cmp(seq, hw).is_le())
                })
                .count();
            if again > 0 {
                tracing::info!(shard = %shard, redelivered = again, records = records.len(), "stream records delivered again");
            }
            if let Some(last) = records
                .iter()
                .filter_map(seq_of)
                .max_by(|a, b| seq_cmp(a, b))
                && cursor
                    .high_water
                    .as_deref()
                    .is_none_or(|hw| seq_cmp(last, hw).is_gt())
            {
                cursor.high_water = Some(last.to_owned());
            }
            let failed_seqs = pump
                .consumer
                .handle_stream(stream_event(records, &stream_arn, &pump.region))
                .await;
            match failed_seqs.into_iter().min_by(|a, b| seq_cmp(a, b)) {
                None if pump.consumer.drops(pump.faults.as_deref(), records.len()) => {
                    // Handled but never acknowledged: read again after the last acknowledged.
                    cursor.iterator = None;
                }
                None => cursor.last_delivered = records.last().and_then(seq_of).map(str::to_owned),
                Some(seq) => {
                    // Like Lambda: retry the batch from the first failed record.
                    tracing::warn!(shard = %shard, sequence_number = %seq, "batch item failure; retrying from it");
                    pump.pause(RETRY_BACKOFF).await;
                    cursor.iterator = iterator(
                        &client,
                        &stream_arn,
                        shard,
                        ShardIteratorType::AtSequenceNumber,
                        Some(seq),
                    )
                    .await;
                    cursor.anchored_at = Some(std::time::Instant::now());
                }
            }
        }
        if failed {
            let pause = backoff.failed();
            pump.pause(pause).await;
        } else {
            let failures = backoff.recovered();
            if failures > 0 {
                tracing::info!(stream = %stream.arn, failures, "reading the stream again");
                // After an outage the table may be a new one (moto even answers for the old
                // stream ARN then, with the new table's records under old sequence numbers).
                if stream.follow_replacement(&tables).await {
                    continue;
                }
            }
            if !delivered {
                pump.pause(IDLE).await;
            }
        }
    }
}

async fn iterator(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    sequence_number: Option<String>,
) -> Option<String> {
    match client
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_sequence_number(sequence_number)
        .send()
        .await
    {
        Ok(out) => out.shard_iterator().map(str::to_owned),
        Err(e) => {
            tracing::warn!(shard, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e), "getting a shard iterator failed");
            None
        }
    }
}

async fn discover_shards(
    client: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    shards: &mut HashMap<String, ShardCursor>,
) -> anyhow::Result<()> {
    let out = client
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await?;
    for shard in out
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default()
    {
        if let Some(id) = shard.shard_id() {
            shards.entry(id.to_owned()).or_default();
        }
    }
    Ok(())
}

/// A batch of stream records in the JSON shape Lambda hands a DynamoDB-stream function.
pub fn stream_event(records: &[Record], stream_arn: &str, region: &str) -> StreamEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let d = r.dynamodb();
            let image = |m: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                m.map(|m| serde_json::to_value(serde_dynamo::Item::from(m.clone())).expect("items serialise"))
            };
            json!({
                "eventID": r.event_id(),
                "eventName": r.event_name().map(|n| n.as_str().to_owned()),
                "eventVersion": r.event_version(),
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time()).map(|t| t.secs()).unwrap_or_default(),
                    "Keys": image(d.and_then(|d| d.keys.as_ref())),
                    "NewImage": image(d.and_then(|d| d.new_image.as_ref())),
                    "OldImage": image(d.and_then(|d| d.old_image.as_ref())),
                    "SequenceNumber": d.and_then(|d| d.sequence_number()),
                    "SizeBytes": d.and_then(|d| d.size_bytes()).unwrap_or_default(),
                    "StreamViewType": d.and_then(|d| d.stream_view_type()).map(|v| v.as_str().to_owned()),
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
        .expect("the stream event shape matches aws_lambda_events")
}

async fn pump_queue(client: aws_sdk_sqs::Client, mut pump: Pump, source: QueueSource) {
    let mut backoff = Backoff::default();
    loop {
        if pump.stopping() {
            return;
        }
        let received = tokio::select! {
            r = client
                .receive_message()
                .queue_url(&source.url)
                .max_number_of_messages(source.batch_size.clamp(1, 10))
                .wait_time_seconds(LONG_POLL.as_secs() as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .customize()
                .config_override(
                    aws_sdk_sqs::config::Builder::default().timeout_config(long_poll_timeouts()),
                )
                .send() => r,
            _ = pump.shutdown.changed() => return,
        };
        let messages = match received {
            Ok(out) => {
                let failures = backoff.recovered();
                if failures > 0 {
                    tracing::info!(queue = %source.url, failures, "receiving again");
                }
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                let pause = backoff.failed();
                tracing::warn!(queue = %source.url, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), retry_in = ?pause, "receiving failed");
                pump.pause(pause).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let again = messages
            .iter()
            .filter(|m| {
                m.attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n > 1)
            })
            .count();
        if again > 0 {
            tracing::info!(queue = %source.url, redelivered = again, messages = messages.len(), "messages delivered again");
        }
        let event: SqsEvent = serde_json::from_value(json!({
            "Records": messages.iter().map(|m| json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect::<HashMap<_, _>>()).unwrap_or_default(),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": source.arn,
                "awsRegion": pump.region,
            })).collect::<Vec<_>>()
        }))
        .expect("the SQS event shape matches aws_lambda_events");
        let failed = pump.consumer.handle_sqs(event).await;
        if pump.consumer.drops(pump.faults.as_deref(), messages.len()) {
            // Handled but never acknowledged: all of it comes back after the visibility timeout.
            continue;
        }
        // Delete what succeeded; failures become visible again after the visibility timeout,
        // and the queue's redrive policy moves a repeat offender to its DLQ.
        let entries: Vec<_> = messages
            .iter()
            .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty()
            && let Err(e) = client
                .delete_message_batch()
                .queue_url(&source.url)
                .set_entries(Some(entries))
                .send()
                .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "deleting handled messages failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;

    #[test]
    fn rate_expressions() {
        let secs = |e| rate_period(e).map(|d| d.as_secs());
        assert_eq!(secs("rate(1 minute)"), Some(60));
        assert_eq!(secs("rate(5 minutes)"), Some(300));
        assert_eq!(secs("rate(1 hour)"), Some(3600));
        assert_eq!(secs("rate(12 hours)"), Some(43_200));
        assert_eq!(secs("rate(1 day)"), Some(86_400));
        assert_eq!(secs("rate(7 days)"), Some(604_800));
        assert_eq!(secs("rate(0 minutes)"), None);
        assert_eq!(secs("rate(10 seconds)"), None);
        assert_eq!(secs("cron(0 12 * * ? *)"), None);
    }

    #[test]
    fn a_failing_source_is_read_again_less_and_less_often_up_to_a_bound() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..6).map(|_| backoff.failed().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 5, 5, 5]);
        assert_eq!(backoff.recovered(), 6);
        assert_eq!(backoff.failed().as_secs(), 1);
    }

    #[test]
    fn sequence_numbers_order_as_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(seq_cmp("900", "1000"), Less);
        assert_eq!(seq_cmp("1000", "1000"), Equal);
        assert_eq!(
            seq_cmp("100000000000000000002", "100000000000000000001"),
            Greater
        );
    }

    #[test]
    fn scheduled_event_has_eventbridge_shape() {
        let arn = "arn:aws:events:us-east-1:123456789012:rule/r";
        let event = scheduled_event(arn, "123456789012", "us-east-1", &event_time());
        let parsed: EventBridgeEvent = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.detail_type, "Scheduled Event");
        assert_eq!(parsed.source, "aws.events");
        assert_eq!(parsed.resources, Some(vec![arn.to_owned()]));
        assert!(parsed.time.is_some());
        assert_eq!(event["detail"], json!({}));
        let id = parsed.id.unwrap();
        assert_eq!(
            id.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_ne!(id, event_id());
    }
}
