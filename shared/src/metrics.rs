//! Business and latency metrics as CloudWatch Embedded Metric Format: one JSON line per record
//! on stdout, which CloudWatch Logs turns into metrics — no client, no API call, no extra
//! latency. Every record carries the `Function` dimension (`AWS_LAMBDA_FUNCTION_NAME`); a record
//! with more dimensions is published twice, per function and per function and its own
//! dimensions, so alarms can watch the total and dashboards can split it.
//!
//! Outside Lambda (the dev server, tests) a record is a `debug` log line instead: an EMF line
//! holds a 13-digit millisecond timestamp, which the dev server's log scanner
//! (infra/local/scan_logs.py) would take for a card number now and then. `METRICS=off` silences
//! both. Emitting never fails a request: a record that cannot be written is dropped.

use std::io::Write;
use std::sync::{Once, OnceLock};

use serde_json::{Map, Value, json};

/// The CloudWatch unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric value with its dimensions (besides `Function`, which every record gets).
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    pub name: &'static str,
    pub unit: Unit,
    pub value: f64,
    pub dimensions: Vec<(&'static str, &'a str)>,
}

impl<'a> Record<'a> {
    fn count(name: &'static str, n: u64, dimensions: &[(&'static str, &'a str)]) -> Self {
        Record {
            name,
            unit: Unit::Count,
            value: n as f64,
            dimensions: dimensions.to_vec(),
        }
    }
}

/// What became of a payment, as the `Outcome` dimension of `PaymentOutcomes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    Captured,
    Failed,
    Refunded,
}

impl PaymentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentOutcome::Captured => "captured",
            PaymentOutcome::Failed => "failed",
            PaymentOutcome::Refunded => "refunded",
        }
    }
}

/// Why a webhook was refused, as the `Reason` dimension of `WebhookRejections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRejection {
    /// The signature did not verify.
    Signature,
    /// The signed timestamp is outside the tolerance (a replay or a badly late delivery).
    Stale,
    /// Headers, body or encoding could not be read.
    Malformed,
    /// Verified, but the amount differs from the payment's.
    AmountMismatch,
}

impl WebhookRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookRejection::Signature => "signature",
            WebhookRejection::Stale => "stale",
            WebhookRejection::Malformed => "malformed",
            WebhookRejection::AmountMismatch => "amount_mismatch",
        }
    }
}

/// The `Route` of a request that matched no route (never the raw path: ids would make a
/// metric per path).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// `OrdersPlaced`: orders created by one checkout (one per shop).
pub fn orders_placed(n: u64) {
    emit(&orders_placed_record(n));
}

/// `PaymentOutcomes` by `Provider` (the payment method, e.g. `stripe`) and `Outcome`.
pub fn payment(provider: &str, outcome: PaymentOutcome) {
    emit(&payment_record(provider, outcome));
}

/// `WebhookRejections` by `Reason`.
pub fn webhook_rejected(reason: WebhookRejection) {
    emit(&webhook_rejected_record(reason));
}

/// `StockOuts`: a checkout refused because a line's stock ran out.
pub fn stock_out() {
    emit(&stock_out_record());
}

/// `NotificationsSent` by `Channel` (`email`, `sms`, `push`).
pub fn notification_sent(channel: &str) {
    emit(&notification_sent_record(channel));
}

/// `BatchItemFailures`: messages of one SQS batch handed back for redelivery (0 included, so
/// the metric has a value for every batch).
pub fn batch_failures(n: usize) {
    emit(&batch_failures_record(n));
}

/// `Latency` of one HTTP request in milliseconds, by `Route` (the matched route template).
pub fn latency_ms(route: &str, ms: u64) {
    emit(&latency_record(route, ms));
}

/// A count of anything else, with its own dimensions (keep their values a small fixed set).
pub fn count(name: &'static str, n: u64, dimensions: &[(&'static str, &str)]) {
    emit(&Record::count(name, n, dimensions));
}

/// `ColdStart`: this process (a Lambda execution environment) is new. Every API request and
/// every SQS batch writes a record, so each environment counts itself once, with its first.
fn cold_start_record() -> Record<'static> {
    Record::count("ColdStart", 1, &[])
}

fn orders_placed_record(n: u64) -> Record<'static> {
    Record::count("OrdersPlaced", n, &[])
}

fn payment_record(provider: &str, outcome: PaymentOutcome) -> Record<'_> {
    Record::count(
        "PaymentOutcomes",
        1,
        &[("Provider", provider), ("Outcome", outcome.as_str())],
    )
}

fn webhook_rejected_record(reason: WebhookRejection) -> Record<'static> {
    Record::count("WebhookRejections", 1, &[("Reason", reason.as_str())])
}

fn stock_out_record() -> Record<'static> {
    Record::count("StockOuts", 1, &[])
}

fn notification_sent_record(channel: &str) -> Record<'_> {
    Record::count("NotificationsSent", 1, &[("Channel", channel)])
}

fn batch_failures_record(n: usize) -> Record<'static> {
    Record::count("BatchItemFailures", n as u64, &[])
}

fn latency_record(route: &str, ms: u64) -> Record<'_> {
    Record {
        name: "Latency",
        unit: Unit::Milliseconds,
        value: ms as f64,
        dimensions: vec![("Route", route)],
    }
}

/// The EMF document of one record: `_aws` metadata naming the metric and its dimension sets,
/// and the dimension values and the metric value as top-level members.
pub fn emf(namespace: &str, function: &str, record: &Record<'_>, timestamp_ms: i64) -> Value {
    let mut sets = vec![json!(["Function"])];
    if !record.dimensions.is_empty() {
        let mut full = vec!["Function"];
        full.extend(record.dimensions.iter().map(|(k, _)| *k));
        sets.push(json!(full));
    }
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": sets,
                "Metrics": [{ "Name": record.name, "Unit": record.unit.as_str() }],
            }],
        }),
    );
    doc.insert("Function".into(), json!(function));
    for (k, v) in &record.dimensions {
        doc.insert((*k).into(), json!(v));
    }
    doc.insert(record.name.into(), json!(record.value));
    Value::Object(doc)
}

/// Where records go, read once per process.
#[derive(Debug)]
struct Sink {
    namespace: String,
    /// The Lambda function's name; `None` outside Lambda (records become debug logs).
    function: Option<String>,
    enabled: bool,
}

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| Sink {
        namespace: std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "Commerce".into()),
        function: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|v| !v.is_empty()),
        enabled: !std::env::var("METRICS").is_ok_and(|v| v.eq_ignore_ascii_case("off")),
    })
}

/// What becomes of a record in this process.
#[derive(Debug, PartialEq)]
enum Output {
    /// In Lambda: this EMF line on stdout.
    Line(String),
    /// Elsewhere: a debug log line.
    Log,
    /// `METRICS=off`, or a value CloudWatch cannot hold (NaN, infinity).
    Nothing,
}

fn output(sink: &Sink, record: &Record<'_>, timestamp_ms: i64) -> Output {
    if !sink.enabled || !record.value.is_finite() {
        return Output::Nothing;
    }
    match &sink.function {
        Some(function) => {
            Output::Line(emf(&sink.namespace, function, record, timestamp_ms).to_string())
        }
        None => Output::Log,
    }
}

/// Writes one record: an EMF line on stdout in Lambda, a debug log line elsewhere. The first
/// record of a process is preceded by its `ColdStart`.
pub fn emit(record: &Record<'_>) {
    static COLD_START: Once = Once::new();
    let sink = sink();
    COLD_START.call_once(|| write(sink, &cold_start_record()));
    write(sink, record);
}

fn write(sink: &Sink, record: &Record<'_>) {
    let timestamp_ms = (crate::now().unix_timestamp_nanos() / 1_000_000) as i64;
    match output(sink, record, timestamp_ms) {
        // One write per line so concurrent log lines do not interleave with it; a failed write
        // (closed stdout) loses the record, never the request.
        Output::Line(line) => {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        Output::Log => {
            tracing::debug!(metric = record.name, value = record.value, unit = record.unit.as_str(), dimensions = ?record.dimensions, "metric");
        }
        Output::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GIVEN a record WHEN it is rendered as EMF THEN CloudWatch can read it: the metadata
    /// names the namespace, the metric and its unit, every dimension named in a set is a
    /// top-level member, and the value sits under the metric's name.
    fn check(record: &Record<'_>) -> Value {
        let line = emf("Commerce", "api-orders-fn", record, 1_764_700_000_123).to_string();
        let doc: Value = serde_json::from_str(&line).expect("one JSON document");
        assert!(!line.contains('\n'), "one line per record");
        let meta = &doc["_aws"];
        assert_eq!(meta["Timestamp"], 1_764_700_000_123_i64);
        let directives = meta["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], "Commerce");
        assert_eq!(
            d["Metrics"],
            json!([{ "Name": record.name, "Unit": record.unit.as_str() }])
        );
        let sets = d["Dimensions"].as_array().unwrap();
        assert_eq!(sets[0], json!(["Function"]));
        assert_eq!(sets.len(), if record.dimensions.is_empty() { 1 } else { 2 });
        for set in sets {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30, "CloudWatch allows 30 dimensions per set");
            for name in set {
                let name = name.as_str().unwrap();
                assert!(
                    doc[name].is_string(),
                    "dimension {name} is a top-level string"
                );
            }
        }
        assert_eq!(doc["Function"], "api-orders-fn");
        for (k, v) in &record.dimensions {
            assert_eq!(doc[*k], *v);
        }
        assert_eq!(doc[record.name].as_f64(), Some(record.value));
        doc
    }

    #[test]
    fn a_record_without_dimensions_is_published_per_function_only() {
        let doc = check(&Record::count("Anything", 3, &[]));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        assert_eq!(doc["Anything"], 3.0);
    }

    #[test]
    fn a_record_with_dimensions_is_published_per_function_and_per_its_dimensions() {
        let doc = check(&Record::count("Anything", 1, &[("A", "x"), ("B", "y")]));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], ["Function", "A", "B"]])
        );
    }

    #[test]
    fn a_cold_start_is_one_count_per_function() {
        let r = cold_start_record();
        assert_eq!((r.name, r.unit, r.value), ("ColdStart", Unit::Count, 1.0));
        assert!(r.dimensions.is_empty());
        check(&r);
    }

    #[test]
    fn orders_placed_counts_the_orders_of_one_checkout() {
        let r = orders_placed_record(2);
        assert_eq!(
            (r.name, r.unit, r.value),
            ("OrdersPlaced", Unit::Count, 2.0)
        );
        assert!(r.dimensions.is_empty());
        check(&r);
    }

    #[test]
    fn payment_outcomes_are_split_by_provider_and_outcome() {
        let r = payment_record("stripe", PaymentOutcome::Refunded);
        assert_eq!((r.name, r.value), ("PaymentOutcomes", 1.0));
        assert_eq!(
            r.dimensions,
            [("Provider", "stripe"), ("Outcome", "refunded")]
        );
        check(&r);
        let outcomes = [
            PaymentOutcome::Captured,
            PaymentOutcome::Failed,
            PaymentOutcome::Refunded,
        ];
        let names: Vec<_> = outcomes.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, ["captured", "failed", "refunded"]);
    }

    #[test]
    fn webhook_rejections_are_split_by_a_fixed_reason() {
        let r = webhook_rejected_record(WebhookRejection::Stale);
        assert_eq!((r.name, r.value), ("WebhookRejections", 1.0));
        assert_eq!(r.dimensions, [("Reason", "stale")]);
        check(&r);
        let reasons = [
            WebhookRejection::Signature,
            WebhookRejection::Stale,
            WebhookRejection::Malformed,
            WebhookRejection::AmountMismatch,
        ];
        let names: Vec<_> = reasons.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            ["signature", "stale", "malformed", "amount_mismatch"]
        );
    }

    #[test]
    fn a_stock_out_is_one_count() {
        let r = stock_out_record();
        assert_eq!((r.name, r.unit, r.value), ("StockOuts", Unit::Count, 1.0));
        check(&r);
    }

    #[test]
    fn notifications_are_counted_per_channel() {
        let r = notification_sent_record("sms");
        assert_eq!((r.name, r.value), ("NotificationsSent", 1.0));
        assert_eq!(r.dimensions, [("Channel", "sms")]);
        check(&r);
    }

    #[test]
    fn batch_failures_count_the_failed_messages_even_when_none_failed() {
        let r = batch_failures_record(3);
        assert_eq!((r.name, r.value), ("BatchItemFailures", 3.0));
        check(&r);
        assert_eq!(check(&batch_failures_record(0))["BatchItemFailures"], 0.0);
    }

    #[test]
    fn latency_is_in_milliseconds_by_route_template() {
        let r = latency_record("/api/v1/orders/{id}", 42);
        assert_eq!(
            (r.name, r.unit, r.value),
            ("Latency", Unit::Milliseconds, 42.0)
        );
        assert_eq!(r.dimensions, [("Route", "/api/v1/orders/{id}")]);
        let doc = check(&r);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
    }

    fn sink(function: Option<&str>, enabled: bool) -> Sink {
        Sink {
            namespace: "Shop".into(),
            function: function.map(str::to_owned),
            enabled,
        }
    }

    #[test]
    fn in_lambda_a_record_is_an_emf_line_in_the_configured_namespace() {
        let Output::Line(line) = output(&sink(Some("fn-1"), true), &stock_out_record(), 7) else {
            panic!("an EMF line in Lambda");
        };
        let doc: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
        assert_eq!(doc["Function"], "fn-1");
        assert_eq!(doc["_aws"]["Timestamp"], 7);
    }

    #[test]
    fn outside_lambda_a_record_is_only_logged_and_metrics_off_silences_it() {
        assert_eq!(
            output(&sink(None, true), &stock_out_record(), 7),
            Output::Log
        );
        assert_eq!(
            output(&sink(Some("fn-1"), false), &stock_out_record(), 7),
            Output::Nothing
        );
        assert_eq!(
            output(&sink(None, false), &stock_out_record(), 7),
            Output::Nothing
        );
    }

    #[test]
    fn a_value_cloudwatch_cannot_hold_is_dropped_and_emitting_never_panics() {
        let nan = Record {
            name: "NotANumber",
            unit: Unit::Count,
            value: f64::NAN,
            dimensions: vec![],
        };
        assert_eq!(output(&sink(Some("fn-1"), true), &nan, 7), Output::Nothing);
        // The real sink of this test process (no AWS_LAMBDA_FUNCTION_NAME): a debug log.
        emit(&nan);
        emit(&latency_record(UNMATCHED_ROUTE, 1));
    }
}
