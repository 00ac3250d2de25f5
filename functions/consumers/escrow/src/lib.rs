//! The escrow consumer: moves order money through the ledger as orders and payments move.
//! An SQS consumer of bus events (the SQS body is the EventBridge event), handling a batch's
//! messages concurrently and reporting the failed ones (partial batch failure), so one bad
//! message does not redeliver the batch; a message that keeps failing goes to the DLQ.
//!
//! | event | what it does |
//! |---|---|
//! | `OrderCompleted` | releases the order's escrow to the shop less commission (`COMMISSION_BPS`) |
//! | `OrderDelivered` of a COD order | books the cash collected into the order's escrow |
//! | `OrderReturned` | refunds the escrow balance and moves the order `returned → refunded` in the same booking |
//! | `OrderCancelled` of a paid order | refunds the escrow balance |
//! | `PaymentSucceeded` with a late part | refunds the late part out of suspense |
//!
//! # Idempotency
//!
//! Redelivery is safe because every action is conditional on the state it starts from (see
//! `shared::payments::ops`): a release needs the escrow `held` at the balance read, a COD
//! collection creates items that exist once, an order refund takes from the escrow balance
//! it read (a second one finds it spent) and its order move needs `returned`. So
//! `AlreadyFinal`/`Duplicate` mean "done before" (success), `Raced` means "read again later"
//! (the message fails and SQS redelivers it; a release first re-reads and retries three
//! times in-process), and a balance that cannot cover the move (`InsufficientBalance`,
//! `NotRefundable`) is an inconsistency no retry fixes: acknowledged, logged with
//! `incident = true`.
//!
//! The late-payment refund is the exception: it starts from the suspense account, which is
//! shared by every late payment, so nothing in its own state says it was already refunded.
//! It is guarded by a claim item, `keys::processed_event("escrow-late-refund", payment_id)`,
//! put (`put_new`) before the refund:
//!
//! - the claim exists → skipped. If no refund outside an order is listed for the payment
//!   (GSI1), an earlier attempt stopped between the claim and the reservation (a crash or a
//!   timeout there, or a failed read after a failed refund): the late money is still in
//!   suspense, and this is logged as an incident for a manual refund. We accept that rare case
//!   rather than risk a second refund: a taking-over retry cannot tell a dead attempt from a
//!   slow one.
//! - the refund fails retryably → the claim is deleted before the message fails, so the
//!   redelivery refunds, but only once the payment shows that nothing stayed reserved (its
//!   `refund_pending` and `refunded` are as read before the refund). `refunds::refund` returns
//!   the same errors from its reservation and from its booking after the provider paid out;
//!   when the payment moved, the refund may be reserved or even paid, so the claim stays and an
//!   incident is logged instead of retrying.
//!
//! The same check protects the order refunds: a retryable error after a reservation that
//! stands is acknowledged with an incident, never retried into a second provider call.
//!
//! # Refund outcomes
//!
//! - provider refused (`Refused`): the reservation was given back, so retrying is safe; the
//!   message fails (logged as an incident) and ends in the DLQ if the provider keeps refusing.
//! - not confirmed (`Unconfirmed`) or no adapter configured (`NotConfigured`): the refund stays
//!   reserved (`pending`) for reconciliation; acknowledged, incident.
//!
//! Logs carry ids and amounts only, never personal data (names, addresses, free-text reasons).

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use payment_providers::refunds::{self, RefundError};
use payment_providers::registry::Providers;
use serde::Serialize;
use shared::domain::order_state::OrderStatus;
use shared::events::DomainEvent;
use shared::orders::{self, Actor, Move, OrderRecord, PaymentMethod, TransitionError};
use shared::payments::ops::{self, OpError};
use shared::payments::{EscrowRecord, EscrowStatus, PaymentRecord, RefundRecord, RefundStatus};
use shared::store::{Db, QuerySpec, StoreError, keys};

pub const CONSUMER: &str = "escrow";
/// The consumer name of the late-refund claims (`keys::processed_event`).
pub const LATE_REFUND_CLAIM: &str = "escrow-late-refund";
pub const DEFAULT_COMMISSION_BPS: u32 = 500;
pub const RETURN_REASON: &str = "return accepted";
pub const CANCEL_REASON: &str = "order cancelled";
pub const LATE_REASON: &str = "paid after the order expired";
/// The detail-types this consumer acts on; any other is acknowledged untouched.
pub const HANDLED: [&str; 5] = [
    "OrderCompleted",
    "OrderDelivered",
    "OrderReturned",
    "OrderCancelled",
    "PaymentSucceeded",
];
/// In-process attempts of a release that races a balance change.
const RELEASE_ATTEMPTS: u32 = 3;
/// How long a late-refund claim is kept: far beyond any redelivery (SQS keeps a message at
/// most 14 days).
const LATE_CLAIM_TTL_SECS: i64 = 90 * 24 * 3600;

pub use shared::events::BusEvent;

/// What an event asks of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The order completed: its escrow goes to the shop.
    Release { order_id: String },
    /// The order was delivered: if it is COD, the cash was collected.
    CollectCod { order_id: String },
    /// The shop accepted the return: refund and move the order to `refunded`.
    RefundReturn { order_id: String },
    /// The order was cancelled: refund what it was paid, if anything.
    RefundCancelled { order_id: String },
    /// Part of the payment arrived after its orders expired: refund it out of suspense.
    RefundLate { payment_id: String },
}

/// The action an event calls for, if any. Pure.
pub fn route(event: &DomainEvent) -> Option<Action> {
    match event {
        DomainEvent::OrderCompleted(e) => Some(Action::Release {
            order_id: e.order_id.clone(),
        }),
        DomainEvent::OrderDelivered(e) => Some(Action::CollectCod {
            order_id: e.order_id.clone(),
        }),
        DomainEvent::OrderReturned(e) => Some(Action::RefundReturn {
            order_id: e.order_id.clone(),
        }),
        DomainEvent::OrderCancelled(e) => Some(Action::RefundCancelled {
            order_id: e.order_id.clone(),
        }),
        DomainEvent::PaymentSucceeded(e) if e.late_amount > 0 => Some(Action::RefundLate {
            payment_id: e.payment_id.clone(),
        }),
        _ => None,
    }
}

/// A message body, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub event_id: String,
    pub detail_type: String,
    /// `None`: nothing for this consumer.
    pub action: Option<Action>,
}

/// Parses a message body. A body that is not a bus event, or an event of a handled type whose
/// data does not parse, is an error (the message fails and ends in the DLQ); an event of
/// another type is `action: None`.
pub fn parse_message(body: &str) -> anyhow::Result<Parsed> {
    let bus: BusEvent = serde_json::from_str(body)
        .map_err(|e| anyhow::anyhow!("the message body is not a bus event: {e}"))?;
    let action = if HANDLED.contains(&bus.detail_type.as_str()) {
        let event = DomainEvent::from_parts(&bus.detail_type, bus.detail.data)
            .map_err(|e| anyhow::anyhow!("malformed {} event data: {e}", bus.detail_type))?;
        route(&event)
    } else {
        None
    };
    Ok(Parsed {
        event_id: bus.detail.id,
        detail_type: bus.detail_type,
        action,
    })
}

/// `COMMISSION_BPS` (basis points of a release kept as commission): default 500; anything but
/// an integer in 0..=10000 stops the cold start.
pub fn commission_bps(value: Option<&str>) -> anyhow::Result<u32> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_COMMISSION_BPS);
    };
    match raw.parse::<u32>() {
        Ok(bps) if bps <= 10_000 => Ok(bps),
        _ => anyhow::bail!("COMMISSION_BPS must be an integer from 0 to 10000, got {raw:?}"),
    }
}

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not an event this consumer acts on.
    Ignored,
    Released {
        net: i64,
        commission: i64,
    },
    Collected,
    Refunded {
        refund_id: String,
        amount: i64,
    },
    /// A returned order with nothing left to refund moved to `refunded`.
    OrderMoved,
    /// A previous delivery did it.
    AlreadyDone,
    /// The event needs no money move (an unpaid order cancelled, an online order delivered).
    NothingToDo,
    /// Logged with `incident = true`; not retried.
    Incident,
}

/// How to answer a failed refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    AlreadyDone,
    /// Fail the message (SQS redelivers) — if nothing stayed reserved.
    Retry,
    /// Acknowledge and log an incident.
    Incident,
}

/// Pure: what a refund error means for the message (see the module docs).
pub fn disposition(e: &RefundError) -> Disposition {
    match e {
        RefundError::Op(OpError::AlreadyFinal | OpError::Duplicate) => Disposition::AlreadyDone,
        RefundError::Op(OpError::Raced | OpError::Store(_)) | RefundError::Refused(_) => {
            Disposition::Retry
        }
        RefundError::Op(
            OpError::InsufficientBalance(_)
            | OpError::NotRefundable { .. }
            | OpError::AmountMismatch { .. }
            | OpError::Invalid(_),
        )
        | RefundError::Unconfirmed(_)
        | RefundError::NotConfigured(_) => Disposition::Incident,
    }
}

/// Pure: whether a payment read after a failed refund shows a reservation or booking since
/// `before` was read (conservatively: any refund of the payment moved).
pub fn refund_moved(before: &PaymentRecord, after: Option<&PaymentRecord>) -> bool {
    after.is_none_or(|a| a.refund_pending != before.refund_pending || a.refunded != before.refunded)
}

/// The late-refund claim item.
#[derive(Debug, Serialize)]
struct Claim {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    payment_id: String,
    claimed_at: String,
    expires_at: i64,
}

pub struct Escrow {
    db: Db,
    providers: Providers,
    commission_bps: u32,
}

impl Escrow {
    pub fn new(db: Db, providers: Providers, commission_bps: u32) -> Self {
        Self {
            db,
            providers,
            commission_bps,
        }
    }

    /// The table from the shared config, the providers' secrets and `COMMISSION_BPS` from the
    /// environment; anything unusable stops the cold start.
    pub async fn from_env() -> anyhow::Result<Self> {
        let commission_bps = commission_bps(std::env::var("COMMISSION_BPS").ok().as_deref())?;
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        let providers = Providers::from_env(&sdk).await?;
        Ok(Self::new(
            Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            providers,
            commission_bps,
        ))
    }

    /// Handles the batch's messages concurrently (each touches its own order or payment; the
    /// conditions settle any overlap) and reports the failed ones.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        shared::consumer::each_message(&event, |m| self.process(m)).await
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        let parsed = parse_message(message.body.as_deref().unwrap_or_default())?;
        let Some(action) = parsed.action else {
            return Ok(Outcome::Ignored);
        };
        tracing::debug!(event_id = %parsed.event_id, detail_type = %parsed.detail_type, "handling");
        match action {
            Action::Release { order_id } => self.release(&order_id).await,
            Action::CollectCod { order_id } => self.collect_cod(&order_id).await,
            Action::RefundReturn { order_id } => self.refund_return(&order_id).await,
            Action::RefundCancelled { order_id } => self.refund_cancelled(&order_id).await,
            Action::RefundLate { payment_id } => self.refund_late(&payment_id).await,
        }
    }

    async fn escrow(&self, order_id: &str) -> Result<Option<EscrowRecord>, StoreError> {
        self.db.get(keys::escrow(order_id)).await
    }

    async fn order(&self, order_id: &str) -> anyhow::Result<OrderRecord> {
        self.db
            .get(keys::order(order_id))
            .await?
            .ok_or_else(|| anyhow::anyhow!("order {order_id} not found"))
    }

    async fn payment(&self, payment_id: &str) -> anyhow::Result<PaymentRecord> {
        self.db
            .get(keys::payment(payment_id))
            .await?
            .ok_or_else(|| anyhow::anyhow!("payment {payment_id} not found"))
    }

    /// `OrderCompleted`: the escrow goes to the shop's available balance less commission.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    async fn release(&self, order_id: &str) -> anyhow::Result<Outcome> {
        let Some(mut escrow) = self.escrow(order_id).await? else {
            let order = self.order(order_id).await?;
            if order.payment_method == PaymentMethod::Cod {
                // The delivery's collection has not been booked yet: release after it.
                anyhow::bail!("COD order {order_id} completed before its collection was booked");
            }
            tracing::warn!("completed order has no escrow; nothing to release");
            return Ok(Outcome::NothingToDo);
        };
        let mut attempt = 1;
        loop {
            match ops::release_escrow(&self.db, &escrow, self.commission_bps).await {
                Ok((net, commission)) => {
                    tracing::info!(net, commission, "escrow released");
                    return Ok(Outcome::Released { net, commission });
                }
                Err(OpError::AlreadyFinal | OpError::Duplicate) => return Ok(Outcome::AlreadyDone),
                Err(OpError::Raced) if attempt < RELEASE_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    attempt += 1;
                    escrow = self
                        .escrow(order_id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("escrow of order {order_id} vanished"))?;
                }
                Err(OpError::Raced) => anyhow::bail!(
                    "escrow of order {order_id} still changing (a refund in flight?) after {RELEASE_ATTEMPTS} attempts"
                ),
                Err(e @ (OpError::InsufficientBalance(_) | OpError::NotRefundable { .. })) => {
                    tracing::error!(incident = true, error = %e, "escrow release refused by the ledger");
                    return Ok(Outcome::Incident);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `OrderDelivered`: a COD order's cash enters its escrow.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    async fn collect_cod(&self, order_id: &str) -> anyhow::Result<Outcome> {
        let order = self.order(order_id).await?;
        if order.payment_method != PaymentMethod::Cod {
            return Ok(Outcome::NothingToDo);
        }
        match ops::collect_cod(&self.db, &order).await {
            Ok(payment) => {
                tracing::info!(payment_id = %payment.id, amount = payment.amount, "COD collection booked");
                Ok(Outcome::Collected)
            }
            Err(OpError::AlreadyFinal | OpError::Duplicate) => Ok(Outcome::AlreadyDone),
            Err(e @ (OpError::InsufficientBalance(_) | OpError::NotRefundable { .. })) => {
                tracing::error!(incident = true, error = %e, "COD collection refused by the ledger");
                Ok(Outcome::Incident)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `OrderReturned`: refund the escrow balance and move the order `returned → refunded` in
    /// the refund's booking.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    async fn refund_return(&self, order_id: &str) -> anyhow::Result<Outcome> {
        let order = self.order(order_id).await?;
        match order.status {
            OrderStatus::Returned => {}
            OrderStatus::Refunded => return Ok(Outcome::AlreadyDone),
            other => {
                tracing::warn!(status = %other, "returned order is no longer returned; left alone");
                return Ok(Outcome::NothingToDo);
            }
        }
        let Some(escrow) = self.escrow(order_id).await? else {
            if order.payment_method == PaymentMethod::Cod {
                anyhow::bail!("COD order {order_id} returned before its collection was booked");
            }
            tracing::error!(
                incident = true,
                "returned online order has no escrow; nothing refunded"
            );
            return Ok(Outcome::Incident);
        };
        if escrow.balance <= 0 {
            if escrow.refund_pending > 0 {
                // Its refund is in flight; that refund's booking moves the order.
                anyhow::bail!("a refund of order {order_id} is in flight");
            }
            return match orders::transition(
                &self.db,
                &order,
                OrderStatus::Refunded,
                Actor::System,
                Some("refunded".into()),
                Vec::new(),
            )
            .await
            {
                Ok(_) => {
                    tracing::info!("nothing left to refund; order moved to refunded");
                    Ok(Outcome::OrderMoved)
                }
                Err(e) => Err(e.into()),
            };
        }
        let payment = self.payment(&escrow.payment_id).await?;
        let order_move = plan_refunded(&self.db.table, &order)?;
        self.refund(
            &payment,
            Some(&escrow),
            escrow.balance,
            RETURN_REASON,
            Some(order_move),
            None,
        )
        .await
    }

    /// `OrderCancelled`: a paid order's escrow balance goes back to the buyer.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    async fn refund_cancelled(&self, order_id: &str) -> anyhow::Result<Outcome> {
        let Some(escrow) = self.escrow(order_id).await? else {
            return Ok(Outcome::NothingToDo); // never paid
        };
        if escrow.status != EscrowStatus::Held {
            tracing::warn!("cancelled order's escrow was already released; left alone");
            return Ok(Outcome::NothingToDo);
        }
        if escrow.balance <= 0 {
            if escrow.refund_pending > 0 {
                tracing::warn!(
                    pending = escrow.refund_pending,
                    "a refund of the order is still pending"
                );
            }
            return Ok(Outcome::AlreadyDone);
        }
        let payment = self.payment(&escrow.payment_id).await?;
        self.refund(
            &payment,
            Some(&escrow),
            escrow.balance,
            CANCEL_REASON,
            None,
            None,
        )
        .await
    }

    /// `PaymentSucceeded` with a late part: refund it out of suspense, once (the claim).
    #[tracing::instrument(skip_all, fields(payment_id = %payment_id))]
    async fn refund_late(&self, payment_id: &str) -> anyhow::Result<Outcome> {
        let payment = self.payment(payment_id).await?;
        if payment.late_amount <= 0 {
            return Ok(Outcome::NothingToDo);
        }
        let claim_key = keys::processed_event(LATE_REFUND_CLAIM, payment_id);
        let claim = Claim {
            pk: claim_key.0.clone(),
            sk: claim_key.1.clone(),
            entity_type: "processed_event",
            payment_id: payment_id.into(),
            claimed_at: shared::now_rfc3339(),
            expires_at: shared::now_epoch() + LATE_CLAIM_TTL_SECS,
        };
        match self.db.put_new(&claim).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                if !self.late_refund_listed(payment_id).await? {
                    tracing::error!(
                        incident = true,
                        late_amount = payment.late_amount,
                        "late refund claimed but no refund is listed for the payment: an earlier attempt stopped before reserving it; refund it manually"
                    );
                    return Ok(Outcome::Incident);
                }
                return Ok(Outcome::AlreadyDone);
            }
            Err(e) => return Err(e.into()),
        }
        self.refund(
            &payment,
            None,
            payment.late_amount,
            LATE_REASON,
            None,
            Some(claim_key),
        )
        .await
    }

    /// Whether the payment lists a refund charged to no order (the late part's), reserved or
    /// paid (a refused one gave its reservation back).
    async fn late_refund_listed(&self, payment_id: &str) -> anyhow::Result<bool> {
        let mut start = None;
        loop {
            let page = self
                .db
                .query_page::<RefundRecord>(QuerySpec {
                    index: Some("GSI1"),
                    pk: keys::gsi1_payment_refunds(payment_id),
                    sk_prefix: None,
                    ascending: true,
                    limit: 100,
                    start,
                })
                .await?;
            if page
                .items
                .iter()
                .any(|r| r.order_id.is_none() && r.status != RefundStatus::Failed)
            {
                return Ok(true);
            }
            match page
                .next_cursor
                .as_deref()
                .and_then(shared::store::decode_cursor)
            {
                Some(next) => start = Some(next),
                None => return Ok(false),
            }
        }
    }

    /// One refund through the payment's provider, its error answered per the module docs;
    /// `claim` is released when the message is to be retried.
    async fn refund(
        &self,
        payment: &PaymentRecord,
        escrow: Option<&EscrowRecord>,
        amount: i64,
        reason: &str,
        order_move: Option<Move>,
        claim: Option<(String, String)>,
    ) -> anyhow::Result<Outcome> {
        let result = refunds::refund(
            &self.db,
            &self.providers,
            payment,
            escrow,
            amount,
            reason,
            order_move,
        )
        .await;
        let e = match result {
            Ok(record) => {
                tracing::info!(refund_id = %record.id, payment_id = %payment.id, amount, "refunded");
                return Ok(Outcome::Refunded {
                    refund_id: record.id,
                    amount,
                });
            }
            Err(e) => e,
        };
        match disposition(&e) {
            Disposition::AlreadyDone => Ok(Outcome::AlreadyDone),
            Disposition::Incident => {
                tracing::error!(incident = true, payment_id = %payment.id, amount, error = %e, "refund not made; needs a manual look");
                Ok(Outcome::Incident)
            }
            Disposition::Retry => {
                let after = self
                    .db
                    .get::<PaymentRecord>(keys::payment(&payment.id))
                    .await?;
                if refund_moved(payment, after.as_ref()) {
                    // Reserved (maybe paid out) but not booked: a retry would refund again.
                    tracing::error!(incident = true, payment_id = %payment.id, amount, error = %e, "refund reserved but not booked; not retried, reconcile it");
                    return Ok(Outcome::Incident);
                }
                if let RefundError::Refused(_) = e {
                    tracing::error!(incident = true, payment_id = %payment.id, amount, error = %e, "the provider refused the refund; retrying the message");
                }
                if let Some(claim) = claim {
                    self.db.delete(claim).await?;
                }
                Err(e.into())
            }
        }
    }
}

/// The `returned → refunded` move written with the refund's booking.
fn plan_refunded(table: &str, order: &OrderRecord) -> Result<Move, TransitionError> {
    orders::plan_transition(
        table,
        order,
        OrderStatus::Refunded,
        Actor::System,
        Some("refunded".into()),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsEvent;
    use shared::domain::{Currency, Money};
    use shared::events::{OrderStatusChanged, PaidOrder, PaymentSucceeded};

    fn change(from: OrderStatus, to: OrderStatus) -> DomainEvent {
        OrderStatusChanged {
            order_id: "O1".into(),
            buyer_id: "B".into(),
            shop_id: "S".into(),
            shop_name: "Shop".into(),
            org_id: "G".into(),
            from,
            to,
            total: Money::new(465_000, Currency::VND),
            reason: None,
            actor: "system".into(),
        }
        .into_event()
    }

    fn paid(late_amount: i64) -> DomainEvent {
        DomainEvent::PaymentSucceeded(PaymentSucceeded {
            payment_id: "P1".into(),
            checkout_id: "C1".into(),
            buyer_id: "B".into(),
            provider: "stripe".into(),
            amount: Money::new(100_000, Currency::VND),
            orders: vec![PaidOrder {
                order_id: "O1".into(),
                shop_id: "S".into(),
                amount: 100_000 - late_amount,
            }],
            late_amount,
        })
    }

    fn body(event: &DomainEvent) -> String {
        serde_json::json!({
            "version": "0",
            "id": "eb-1",
            "detail-type": event.detail_type(),
            "source": event.source(),
            "account": "1",
            "time": "2026-12-01T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "id": "01JEVENT",
                "occurred_at": "2026-12-01T10:00:00Z",
                "version": 1,
                "data": serde_json::to_value(event).unwrap()["data"],
            }
        })
        .to_string()
    }

    #[test]
    fn order_and_payment_events_route_to_their_money_moves() {
        use OrderStatus::*;
        let order = |s: &str| s.to_owned();
        assert_eq!(
            route(&change(Delivered, Completed)),
            Some(Action::Release {
                order_id: order("O1")
            })
        );
        assert_eq!(
            route(&change(Shipped, Delivered)),
            Some(Action::CollectCod {
                order_id: order("O1")
            })
        );
        assert_eq!(
            route(&change(ReturnRequested, Returned)),
            Some(Action::RefundReturn {
                order_id: order("O1")
            })
        );
        assert_eq!(
            route(&change(Confirmed, Cancelled)),
            Some(Action::RefundCancelled {
                order_id: order("O1")
            })
        );
        assert_eq!(
            route(&paid(20_000)),
            Some(Action::RefundLate {
                payment_id: "P1".into()
            })
        );
    }

    #[test]
    fn other_events_need_nothing() {
        use OrderStatus::*;
        for e in [
            change(PendingPayment, Confirmed),
            change(Confirmed, Processing),
            change(Processing, Shipped),
            change(Delivered, ReturnRequested),
            change(ReturnRequested, Delivered), // return rejected
            change(Returned, Refunded),
            change(PendingPayment, PaymentFailed),
            paid(0),
        ] {
            assert_eq!(route(&e), None, "{}", e.detail_type());
        }
    }

    #[test]
    fn every_routed_event_is_a_handled_type() {
        use OrderStatus::*;
        let routed = [
            change(Delivered, Completed),
            change(Shipped, Delivered),
            change(ReturnRequested, Returned),
            change(Processing, Cancelled),
            paid(1),
        ];
        for e in routed {
            assert!(route(&e).is_some());
            assert!(HANDLED.contains(&e.detail_type()), "{}", e.detail_type());
        }
    }

    #[test]
    fn message_bodies_parse_into_actions() {
        let parsed = parse_message(&body(&change(
            OrderStatus::Delivered,
            OrderStatus::Completed,
        )))
        .unwrap();
        assert_eq!(parsed.event_id, "01JEVENT");
        assert_eq!(parsed.detail_type, "OrderCompleted");
        assert_eq!(
            parsed.action,
            Some(Action::Release {
                order_id: "O1".into()
            })
        );

        let late = parse_message(&body(&paid(5))).unwrap();
        assert_eq!(
            late.action,
            Some(Action::RefundLate {
                payment_id: "P1".into()
            })
        );
        assert_eq!(parse_message(&body(&paid(0))).unwrap().action, None);
    }

    #[test]
    fn unparsable_messages_are_errors_and_foreign_events_are_not() {
        assert!(parse_message("").is_err());
        assert!(parse_message("not json").is_err());
        assert!(parse_message(r#"{"detail-type":"OrderCompleted"}"#).is_err());
        // a handled type with data that is not its shape: an error (to the DLQ)
        let bad = r#"{"detail-type":"OrderCompleted","source":"commerce.orders","detail":{"id":"e","occurred_at":"2026-12-01T10:00:00Z","version":1,"data":{"order_id":42}}}"#;
        assert!(parse_message(bad).is_err());
        // another consumer's event, even one this crate cannot parse: acknowledged untouched
        let foreign = r#"{"detail-type":"SomethingNew","source":"commerce.x","detail":{"id":"e","occurred_at":"2026-12-01T10:00:00Z","version":1,"data":{"whatever":true}}}"#;
        let parsed = parse_message(foreign).unwrap();
        assert_eq!(parsed.action, None);
        assert_eq!(parsed.detail_type, "SomethingNew");
    }

    #[test]
    fn the_fixture_is_an_order_completed_release() {
        let raw = include_str!("../../../../events/sqs-escrow-order-completed.json");
        let event: SqsEvent = serde_json::from_str(raw).unwrap();
        assert_eq!(event.records.len(), 1);
        let parsed = parse_message(event.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(parsed.detail_type, "OrderCompleted");
        assert_eq!(
            parsed.action,
            Some(Action::Release {
                order_id: "01JFIXTUREORDER00000000000".into()
            })
        );
    }

    #[test]
    fn commission_defaults_to_500_bps_and_rejects_garbage() {
        assert_eq!(commission_bps(None).unwrap(), 500);
        assert_eq!(commission_bps(Some("")).unwrap(), 500);
        assert_eq!(commission_bps(Some(" 250 ")).unwrap(), 250);
        assert_eq!(commission_bps(Some("0")).unwrap(), 0);
        assert_eq!(commission_bps(Some("10000")).unwrap(), 10_000);
        for bad in ["5%", "-1", "10001", "2.5", "abc"] {
            assert!(commission_bps(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn refund_errors_map_to_retry_done_or_incident() {
        use Disposition::*;
        let op = |e: OpError| disposition(&RefundError::Op(e));
        assert_eq!(op(OpError::AlreadyFinal), AlreadyDone);
        assert_eq!(op(OpError::Duplicate), AlreadyDone);
        assert_eq!(op(OpError::Raced), Retry);
        assert_eq!(op(OpError::Store(StoreError::Throttled)), Retry);
        assert_eq!(
            op(OpError::InsufficientBalance("shop:escrow".into())),
            Incident
        );
        assert_eq!(op(OpError::NotRefundable { refundable: 0 }), Incident);
        assert_eq!(disposition(&RefundError::Refused("declined".into())), Retry);
        assert_eq!(
            disposition(&RefundError::Unconfirmed("timeout".into())),
            Incident
        );
        assert_eq!(disposition(&RefundError::NotConfigured("stripe")), Incident);
    }

    fn payment(refund_pending: i64, refunded: i64) -> PaymentRecord {
        serde_json::from_value(serde_json::json!({
            "PK": "PAYMENT#P1", "SK": "PAYMENT", "GSI1PK": "x", "GSI1SK": "y",
            "entity_type": "payment", "id": "P1", "checkout_id": "C1", "buyer_id": "B",
            "method": "stripe", "status": "succeeded", "currency": "VND", "amount": 100000,
            "orders": [], "captured": 100000, "refunded": refunded, "refundable": 100000,
            "refund_pending": refund_pending, "late_amount": 20000,
            "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z",
            "expires_at": 0
        }))
        .unwrap()
    }

    #[test]
    fn a_retry_is_safe_only_while_the_payments_refunds_did_not_move() {
        let before = payment(0, 0);
        assert!(!refund_moved(&before, Some(&payment(0, 0))));
        assert!(
            refund_moved(&before, Some(&payment(20_000, 0))),
            "reserved, not booked"
        );
        assert!(refund_moved(&before, Some(&payment(0, 20_000))), "booked");
        assert!(refund_moved(&before, None), "unknown: assume it moved");
    }

    /// A consumer whose table cannot be reached (nothing listens on port 9), for the paths that
    /// never get to the table or fail there.
    fn offline() -> Escrow {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        Escrow::new(
            Db::new(aws_sdk_dynamodb::Client::from_conf(conf), "table"),
            Providers::default(),
            DEFAULT_COMMISSION_BPS,
        )
    }

    fn sqs(bodies: &[(&str, String)]) -> SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .map(|(id, body)| serde_json::json!({ "messageId": id, "body": body }))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn only_the_messages_that_fail_are_reported() {
        let foreign = body(&change(OrderStatus::Confirmed, OrderStatus::Processing));
        let completed = body(&change(OrderStatus::Delivered, OrderStatus::Completed));
        let response = offline()
            .handle(sqs(&[
                ("garbage", "{not json".into()),
                ("ignored", foreign),
                ("no-late-part", body(&paid(0))),
                ("table-down", completed),
            ]))
            .await;
        let failed: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(failed, ["garbage", "table-down"]);
    }
}
