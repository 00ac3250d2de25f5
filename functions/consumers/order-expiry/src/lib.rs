//! The order sweeper: on every scheduled tick (EventBridge schedule → SQS) it cancels the
//! online orders whose payment window has closed, releasing their reserved stock, and completes
//! the delivered orders whose 7-day return window has closed. Each move is the shared
//! conditional transition, so an order that was paid, cancelled or returned meanwhile is left
//! alone and stock is released exactly once, however ticks and buyers race. The same tick
//! rebuilds the listing rows of products whose discount window opened or closed
//! (`shared::products::relist_due`), so listings sorted by effective price stay right.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::domain::order_state::OrderStatus;
use shared::orders::{self, Actor, TransitionError};
use shared::store::{Db, StoreError, keys, s};

/// Orders read per payment-due shard per pass.
const PAGE: i32 = 100;
/// A tick stops starting new passes after this long (the queue's visibility timeout is 120 s).
const TICK_BUDGET: Duration = Duration::from_secs(40);
pub const EXPIRY_REASON: &str = "payment window expired";
pub const COMPLETION_NOTE: &str = "return window closed";

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unpaid orders this sweep cancelled.
    pub expired: usize,
    /// Delivered orders this sweep completed.
    pub completed: usize,
    /// Overdue candidates someone else moved first (paid, cancelled, or another sweep).
    pub skipped: usize,
}

/// The sweeper's two kinds of deadline.
#[derive(Debug, Clone, Copy)]
enum Pass {
    Expire,
    Complete,
}

impl Pass {
    fn due(self) -> keys::Due {
        match self {
            Self::Expire => keys::Due::Payment,
            Self::Complete => keys::Due::Completion,
        }
    }

    /// From, to, the timeline note and what the move sets besides the status.
    fn r#move(self) -> (OrderStatus, OrderStatus, &'static str, orders::ExtraSet) {
        match self {
            Self::Expire => (
                OrderStatus::PendingPayment,
                OrderStatus::Cancelled,
                EXPIRY_REASON,
                vec![("cancel_reason", s(EXPIRY_REASON))],
            ),
            Self::Complete => (
                OrderStatus::Delivered,
                OrderStatus::Completed,
                COMPLETION_NOTE,
                Vec::new(),
            ),
        }
    }
}

pub struct Expiry {
    db: Db,
}

impl Expiry {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The handler `main` builds: the table from `TABLE_NAME`, clients from the environment.
    pub async fn from_env() -> anyhow::Result<Self> {
        let table = std::env::var("TABLE_NAME")
            .map_err(|_| anyhow::anyhow!("missing environment variable TABLE_NAME"))?;
        let sdk = shared::state::aws_config().await;
        Ok(Self::new(Db::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            table,
        )))
    }

    /// Cancels every order whose payment was due before `now`, then completes every delivered
    /// order whose return window closed before `now`.
    pub async fn sweep(&self, now: i64) -> Result<SweepReport, StoreError> {
        let started = Instant::now();
        let mut report = SweepReport::default();
        for pass in [Pass::Expire, Pass::Complete] {
            loop {
                let overdue = orders::overdue(&self.db, pass.due(), now, PAGE).await?;
                let full_page = overdue.len() >= PAGE as usize;
                let before = report;
                for order in overdue {
                    let (from, to, note, extra) = pass.r#move();
                    let due_at = match pass {
                        Pass::Expire => order.payment_due_at,
                        Pass::Complete => {
                            order.delivered_at.map(|d| d + orders::RETURN_WINDOW_SECS)
                        }
                    };
                    if order.status != from || due_at.is_none_or(|due| due > now) {
                        report.skipped += 1;
                        continue;
                    }
                    match orders::transition(
                        &self.db,
                        &order,
                        to,
                        Actor::System,
                        Some(note.into()),
                        extra,
                    )
                    .await
                    {
                        Ok(_) => {
                            tracing::info!(order_id = %order.id, status = %to, "overdue order moved");
                            match pass {
                                Pass::Expire => report.expired += 1,
                                Pass::Complete => report.completed += 1,
                            }
                        }
                        Err(TransitionError::Raced | TransitionError::Illegal { .. }) => {
                            report.skipped += 1
                        }
                        Err(TransitionError::Store(e)) => return Err(e),
                    }
                }
                // Another page only if a shard was full and this one made progress.
                if !full_page || report == before || started.elapsed() > TICK_BUDGET {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Relists the products whose discount boundary passed by `now`, page after page within
    /// the tick's budget (a relisted product's due item moves past `now` or goes away, so a
    /// page that finds nothing ends it). Returns how many were relisted.
    pub async fn relist(&self, now: i64) -> Result<usize, StoreError> {
        let started = Instant::now();
        let mut total = 0;
        loop {
            let relisted = shared::products::relist_due(&self.db, now, PAGE).await?;
            total += relisted;
            if relisted == 0 || started.elapsed() > TICK_BUDGET {
                return Ok(total);
            }
        }
    }

    /// One SQS batch of ticks: each tick runs a sweep; a failed sweep reports its message so
    /// SQS redelivers it (and the DLQ catches a sweeper that keeps failing).
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let now = shared::now_epoch();
            let swept = match self.sweep(now).await {
                Ok(report) => {
                    tracing::info!(
                        expired = report.expired,
                        completed = report.completed,
                        skipped = report.skipped,
                        "expiry sweep done"
                    );
                    true
                }
                Err(e) => {
                    tracing::error!(error = ?e, "expiry sweep failed");
                    false
                }
            };
            // Listing rows sorted by effective price whose discount window opened or closed.
            let relisted = match self.relist(now).await {
                Ok(relisted) => {
                    tracing::info!(relisted, "listing rows rebuilt at discount boundaries");
                    true
                }
                Err(e) => {
                    tracing::error!(error = ?e, "relisting failed");
                    false
                }
            };
            if !(swept && relisted) {
                response.add_failure(message.message_id.unwrap_or_default());
            }
        }
        response
    }
}
