//! Fault injection into the local event pipeline, for tests that crash the outbox relay and
//! the notifier at random points and check that nothing is lost or repeated. Off unless
//! `LOCAL_FAULTS` is set, e.g.
//! `LOCAL_FAULTS=relay_drop=0.2,relay_error=0.1,notifier_drop=0.1,notifier_error=0.05,seed=7`:
//!
//! - `relay_drop`, `notifier_drop`: the probability that the pump, after the consumer handled
//!   a batch, drops it without acknowledging it, as if the Lambda had died just before
//!   returning. The stream batch is read again from the last acknowledged record (the relay
//!   publishes it again); none of the queue batch is deleted (SQS delivers it all again after
//!   the visibility timeout, counting a receive towards the DLQ).
//! - `relay_error`, `notifier_error`: the probability that each AWS call the consumer makes
//!   fails, half of them before the request is sent and half after the service answered (the
//!   answer is lost, as a timeout loses it: the write happened, the handler does not know). The
//!   handler fails part-way through its work and reports those records as batch item
//!   failures: the stream is retried from the first, the messages come back (and after the
//!   queue's `maxReceiveCount` receives go to its DLQ).
//!
//!   The exception is SES `SendEmail`, which fails only before it is sent: SES takes no
//!   idempotency key, so a sent e-mail whose answer is lost is the one case where a retry
//!   cannot know, and the notifier sends it again (see `shared::store::claim`).
//! - `seed`: seeds the random choices (default 0), so a failing run can be looked at again
//!   (the order of concurrent batches still varies).
//!
//! Every injected fault is logged (`fault`, `consumer`, and the operation for call faults).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The environment variable holding the fault settings.
pub const FAULTS_ENV: &str = "LOCAL_FAULTS";

/// The consumers faults can be injected into, by the name their settings use.
pub const CONSUMERS: [&str; 2] = ["relay", "notifier"];

/// What to break, and the dice.
#[derive(Debug)]
pub struct Faults {
    /// `<consumer>_drop` and `<consumer>_error` probabilities.
    rates: BTreeMap<String, f64>,
    rng: Mutex<StdRng>,
}

impl Faults {
    /// The settings in `LOCAL_FAULTS`; `None` when it is unset or empty.
    pub fn from_env() -> anyhow::Result<Option<Arc<Self>>> {
        match std::env::var(FAULTS_ENV) {
            Ok(spec) if !spec.trim().is_empty() => Ok(Some(Arc::new(Self::parse(&spec)?))),
            _ => Ok(None),
        }
    }

    /// Parses `key=value,...` (see the module documentation).
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut rates = BTreeMap::new();
        let mut seed = 0;
        for setting in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("{FAULTS_ENV}: '{setting}' is not key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "seed" {
                seed = value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{FAULTS_ENV}: seed={value} is not a number"))?;
                continue;
            }
            let known = CONSUMERS
                .iter()
                .any(|c| key == format!("{c}_drop") || key == format!("{c}_error"));
            anyhow::ensure!(
                known,
                "{FAULTS_ENV}: unknown setting '{key}' (known: seed and <consumer>_drop / <consumer>_error for {CONSUMERS:?})"
            );
            let rate: f64 = value
                .parse()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    anyhow::anyhow!("{FAULTS_ENV}: {key}={value} is not a probability in [0, 1]")
                })?;
            rates.insert(key.to_owned(), rate);
        }
        Ok(Self {
            rates,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    fn rate(&self, consumer: &str, kind: &str) -> f64 {
        self.rates
            .get(&format!("{consumer}_{kind}"))
            .copied()
            .unwrap_or(0.0)
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0
            && self
                .rng
                .lock()
                .expect("the dice are not poisoned")
                .random_bool(p)
    }

    /// Whether the pump drops this batch of `consumer` unacknowledged (logged when it does).
    pub fn drop_batch(&self, consumer: &str, records: usize) -> bool {
        let drop = self.roll(self.rate(consumer, "drop"));
        if drop {
            tracing::info!(
                fault = "drop",
                consumer,
                records,
                "injected fault: batch handled but not acknowledged"
            );
        }
        drop
    }

    /// An SDK interceptor failing `consumer`'s calls at its `_error` rate; `answer_may_be_lost`
    /// false fails them only before they are sent.
    pub fn calls(self: &Arc<Self>, consumer: &'static str, answer_may_be_lost: bool) -> FailCalls {
        FailCalls {
            faults: self.clone(),
            consumer,
            answer_may_be_lost,
        }
    }
}

/// Fails a fraction of a client's calls (see [`Faults::calls`]).
#[derive(Debug, Clone)]
pub struct FailCalls {
    faults: Arc<Faults>,
    consumer: &'static str,
    answer_may_be_lost: bool,
}

impl FailCalls {
    /// Half the error rate before sending and half after the answer, or all of it before.
    fn rate_at(&self, after_answer: bool) -> f64 {
        let p = self.faults.rate(self.consumer, "error");
        match (self.answer_may_be_lost, after_answer) {
            (true, _) => p / 2.0,
            (false, false) => p,
            (false, true) => 0.0,
        }
    }

    fn maybe_fail(&self, cfg: &ConfigBag, after_answer: bool) -> Result<(), BoxError> {
        if !self.faults.roll(self.rate_at(after_answer)) {
            return Ok(());
        }
        let operation = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_default();
        let point = if after_answer {
            "answer lost"
        } else {
            "before sending"
        };
        tracing::info!(fault = "error", consumer = self.consumer, operation = %operation, point, "injected fault: call failed");
        Err(format!("injected fault: {operation} failed ({point})").into())
    }
}

impl Intercept for FailCalls {
    fn name(&self) -> &'static str {
        "local-fault-injection"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.maybe_fail(cfg, false)
    }

    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.maybe_fail(cfg, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_bad_ones_are_refused() {
        let f = Faults::parse("relay_drop=0.2, notifier_error=0.05,seed=7").unwrap();
        assert_eq!(f.rate("relay", "drop"), 0.2);
        assert_eq!(f.rate("notifier", "error"), 0.05);
        assert_eq!(f.rate("notifier", "drop"), 0.0);
        for bad in [
            "relay_drop",
            "relay_drop=1.5",
            "relay_drop=x",
            "escrow_drop=0.1",
            "seed=-1",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_same_seed_rolls_the_same_dice() {
        let rolls = |seed: u64| {
            let f = Faults::parse(&format!("relay_drop=0.5,seed={seed}")).unwrap();
            (0..64)
                .map(|_| f.drop_batch("relay", 1))
                .collect::<Vec<_>>()
        };
        assert_eq!(rolls(7), rolls(7));
        assert_ne!(rolls(7), rolls(8));
        let dropped = rolls(7).iter().filter(|d| **d).count();
        assert!((16..=48).contains(&dropped), "{dropped} of 64 at p = 0.5");
    }

    #[test]
    fn an_email_is_failed_only_before_it_is_sent() {
        let f = Arc::new(Faults::parse("notifier_error=0.2").unwrap());
        let ses = f.calls("notifier", false);
        assert_eq!((ses.rate_at(false), ses.rate_at(true)), (0.2, 0.0));
        let db = f.calls("notifier", true);
        assert_eq!((db.rate_at(false), db.rate_at(true)), (0.1, 0.1));
    }
}
