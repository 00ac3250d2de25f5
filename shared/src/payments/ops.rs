//! Every state change of money, each ONE `TransactWriteItems`: the change (payment, orders,
//! escrow, refund, dispute), its balanced ledger transfer, the webhook's dedupe record when a
//! provider event caused it, and its events in the outbox. Conditions decide races and
//! out-of-order events, never arrival order: a payment is captured only while `pending`, an
//! order confirmed only while `pending_payment`, refunds take from `refundable` only while it
//! covers them, a protected balance is debited only while it covers the debit.
//!
//! Refunds we ask a provider for take two transactions around the provider call:
//! [`reserve_refund`] moves the amount out of the shop's balance into refunds in flight, then
//! [`settle_refund`] (the provider agreed) or [`release_refund`] (it refused) finishes it. A
//! refund the provider reports on its own (dashboard, bank) is one transaction:
//! [`book_provider_refund`].

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::ledger::{self, Transfer, TransferKind};
use super::*;
use crate::domain::Money;
use crate::domain::order_state::OrderStatus;
use crate::events::{self, DomainEvent};
use crate::orders::{self, Actor, OrderRecord};
use crate::store::{Db, StoreError, keys, n, s, tx};

/// The provider event that causes a change, remembered so a redelivery changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct Dedupe<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("this provider event was already applied")]
    Duplicate,
    /// The payment, refund, dispute or escrow is no longer in the state this change starts from.
    #[error("already settled")]
    AlreadyFinal,
    /// Something this change read moved meanwhile (an order expired, a balance changed): read
    /// again and retry.
    #[error("changed concurrently")]
    Raced,
    #[error("amount {got} {currency} does not match the payment's {expected}")]
    AmountMismatch {
        expected: i64,
        got: i64,
        currency: String,
    },
    #[error("at most {refundable} can be refunded")]
    NotRefundable { refundable: i64 },
    #[error("the balance does not cover {0}")]
    InsufficientBalance(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ledger::LedgerError> for OpError {
    fn from(e: ledger::LedgerError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<orders::TransitionError> for OpError {
    fn from(e: orders::TransitionError) -> Self {
        match e {
            orders::TransitionError::Illegal { .. } | orders::TransitionError::Raced => Self::Raced,
            orders::TransitionError::Store(e) => Self::Store(e),
        }
    }
}

/// What a failed condition at some action means.
#[derive(Debug, Clone, PartialEq)]
enum Tag {
    Dedupe,
    /// The payment / refund / dispute / escrow the change starts from.
    State,
    /// A guard item that exists once (provider refund id, COD collection).
    Guard,
    Order,
    /// A balance or status read before the change moved: read again.
    Raced,
    Refundable(i64),
    Account(String),
    Other,
}

/// A transaction under construction, each action tagged with what its condition means.
#[derive(Default)]
struct Batch {
    actions: Vec<TransactWriteItem>,
    tags: Vec<Tag>,
}

impl Batch {
    fn push(&mut self, tag: Tag, action: TransactWriteItem) {
        self.actions.push(action);
        self.tags.push(tag);
    }

    fn dedupe(&mut self, table: &str, dedupe: Option<Dedupe<'_>>) -> Result<(), StoreError> {
        if let Some(d) = dedupe {
            let (pk, sk) = keys::webhook_event(d.provider, d.event_id);
            let now = crate::now_epoch();
            self.push(
                Tag::Dedupe,
                tx::put_new(
                    table,
                    &WebhookRecord {
                        pk,
                        sk,
                        entity_type: "webhook_event".into(),
                        provider: d.provider.into(),
                        event_id: d.event_id.into(),
                        received_at: crate::now_rfc3339(),
                        expires_at: now + WEBHOOK_DEDUPE_SECS,
                    },
                )?,
            );
        }
        Ok(())
    }

    fn transfer(&mut self, table: &str, t: &Transfer) -> Result<(), StoreError> {
        let actions = t.actions(table)?;
        // Actions: the transfer item, then per leg an entry and the balance update.
        for (i, action) in actions.into_iter().enumerate() {
            let tag = if i > 0 && i % 2 == 0 {
                Tag::Account(t.legs[i / 2 - 1].account.clone())
            } else {
                Tag::Other
            };
            self.push(tag, action);
        }
        Ok(())
    }

    fn order_move(&mut self, m: orders::Move) {
        for (i, action) in m.actions.into_iter().enumerate() {
            self.push(if i == 0 { Tag::Order } else { Tag::Other }, action);
        }
    }

    /// A reserved refund's amount leaves `refund_pending` for `payment_to` on the payment and,
    /// when it is charged to an order, for `escrow_to` on that order's escrow.
    fn end_reservation(
        &mut self,
        table: &str,
        refund: &RefundRecord,
        payment_to: &str,
        escrow_to: &str,
    ) -> Result<(), StoreError> {
        let mut targets = vec![(keys::payment(&refund.payment_id), payment_to)];
        if let Some(order_id) = &refund.order_id {
            targets.push((keys::escrow(order_id), escrow_to));
        }
        for (key, to) in targets {
            self.push(
                Tag::Other,
                update(
                    table,
                    key,
                    "ADD refund_pending :minus, #to :amount",
                    None,
                    &[("#to", to)],
                    vec![(":minus", n(-refund.amount)), (":amount", n(refund.amount))],
                )?,
            );
        }
        Ok(())
    }

    /// Several orders' moves and, once, their buyer's counters.
    fn order_moves(&mut self, (moves, stats): (Vec<orders::Move>, Option<TransactWriteItem>)) {
        for m in moves {
            self.order_move(m);
        }
        if let Some(stats) = stats {
            self.push(Tag::Other, stats);
        }
    }

    fn event(&mut self, table: &str, event: &DomainEvent) -> Result<(), StoreError> {
        self.push(Tag::Other, events::outbox_put(table, event)?);
        Ok(())
    }

    async fn run(self, db: &Db) -> Result<(), OpError> {
        debug_assert!(self.actions.len() <= crate::store::MAX_TRANSACTION_ITEMS);
        match db.transact(self.actions).await {
            Ok(()) => Ok(()),
            Err(e) => Err(
                match e.failed_condition_index().and_then(|i| self.tags.get(i)) {
                    Some(Tag::Dedupe) => OpError::Duplicate,
                    Some(Tag::State) | Some(Tag::Guard) => OpError::AlreadyFinal,
                    Some(Tag::Order) | Some(Tag::Raced) => OpError::Raced,
                    Some(Tag::Refundable(r)) => OpError::NotRefundable { refundable: *r },
                    Some(Tag::Account(a)) => OpError::InsufficientBalance(a.clone()),
                    Some(Tag::Other) | None => match e {
                        StoreError::TransactionCanceled(_) => OpError::Raced,
                        e => OpError::Store(e),
                    },
                },
            ),
        }
    }
}

fn update(
    table: &str,
    key: (String, String),
    update: &str,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    tx::update(
        table,
        tx::UpdateSpec {
            key,
            update,
            condition,
            names,
            values,
        },
    )
}

fn new_escrow(order_id: &str, shop_id: &str, payment: &PaymentRecord, amount: i64) -> EscrowRecord {
    let (pk, sk) = keys::escrow(order_id);
    EscrowRecord {
        pk,
        sk,
        entity_type: ESCROW_ENTITY.into(),
        order_id: order_id.into(),
        shop_id: shop_id.into(),
        payment_id: payment.id.clone(),
        method: payment.method,
        currency: payment.currency,
        amount,
        balance: amount,
        refunded: 0,
        on_hold: 0,
        refund_pending: 0,
        lost: 0,
        status: EscrowStatus::Held,
        released_gross: 0,
        commission: 0,
        created_at: crate::now_rfc3339(),
        released_at: None,
    }
}

/// What a capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Orders it confirmed.
    pub confirmed: Vec<String>,
    /// The part that found its orders no longer waiting (expired, cancelled): in suspense,
    /// to be refunded.
    pub late_amount: i64,
}

/// A provider (or an admin, for a bank transfer) says the payment was captured: confirm the
/// orders still waiting for it, move the money into their escrow, and hold the part of orders
/// that expired meanwhile in suspense (refunded by the escrow consumer).
pub async fn capture(
    db: &Db,
    payment: &PaymentRecord,
    orders_read: &[OrderRecord],
    amount: Money,
    capture_ref: Option<String>,
    dedupe: Option<Dedupe<'_>>,
) -> Result<Captured, OpError> {
    // A success after a failure (the buyer retried at the provider) is still money received:
    // its orders are gone, so all of it is late and refunded.
    if payment.status == PaymentStatus::Succeeded {
        return Err(OpError::AlreadyFinal);
    }
    if amount.amount != payment.amount || amount.currency != payment.currency {
        return Err(OpError::AmountMismatch {
            expected: payment.amount,
            got: amount.amount,
            currency: format!("{:?}", amount.currency),
        });
    }
    let table = &db.table;
    let cur = payment.currency;
    let mut batch = Batch::default();
    batch.dedupe(table, dedupe)?;
    let mut legs = vec![(
        ledger::external(payment.method.as_str(), cur),
        -payment.amount,
    )];
    let mut confirmed = Vec::new();
    let mut paid = Vec::new();
    let mut late = 0;
    let mut waiting: Vec<&OrderRecord> = Vec::new();
    for share in &payment.orders {
        let order = orders_read
            .iter()
            .find(|o| o.id == share.order_id && o.status == OrderStatus::PendingPayment);
        let Some(order) = order else {
            late += share.amount;
            continue;
        };
        batch.push(
            Tag::Guard,
            tx::put_new(
                table,
                &new_escrow(&order.id, &order.shop_id, payment, share.amount),
            )?,
        );
        legs.push((ledger::shop_escrow(&order.shop_id, cur), share.amount));
        confirmed.push(order.id.clone());
        paid.push(share.clone());
        waiting.push(order);
    }
    batch.order_moves(orders::plan_transitions(
        table,
        &waiting,
        OrderStatus::Confirmed,
        Actor::System,
        Some(format!("paid ({})", payment.method.as_str())),
    )?);
    if late > 0 {
        legs.push((ledger::suspense(cur), late));
    }
    batch.transfer(
        table,
        &Transfer::new(TransferKind::Capture, cur, &payment.id, legs)?,
    )?;
    let now = crate::now_rfc3339();
    let mut values = vec![
        (":succeeded", s(PaymentStatus::Succeeded.as_str())),
        (":pending", s(PaymentStatus::Pending.as_str())),
        (":failed", s(PaymentStatus::Failed.as_str())),
        (":amount", n(payment.amount)),
        (":late", n(late)),
        (":now", s(now.clone())),
    ];
    let mut set = "#status = :succeeded, captured = :amount, refundable = :amount, late_amount = :late, succeeded_at = :now, updated_at = :now".to_owned();
    if let Some(r) = &capture_ref {
        set.push_str(", capture_ref = :capture");
        values.push((":capture", s(r.clone())));
    }
    batch.push(
        Tag::State,
        update(
            table,
            keys::payment(&payment.id),
            &format!("SET {set}"),
            Some("#status IN (:pending, :failed)"),
            &[("#status", "status")],
            values,
        )?,
    );
    batch.event(
        table,
        &DomainEvent::PaymentSucceeded(events::PaymentSucceeded {
            payment_id: payment.id.clone(),
            checkout_id: payment.checkout_id.clone(),
            buyer_id: payment.buyer_id.clone(),
            provider: payment.method.as_str().into(),
            amount,
            orders: paid,
            late_amount: late,
        }),
    )?;
    batch.run(db).await?;
    Ok(Captured {
        confirmed,
        late_amount: late,
    })
}

/// Cash on delivery collected: the order's money enters escrow (once: the COD payment's id is
/// derived from the order, so a second collection finds it).
pub async fn collect_cod(db: &Db, order: &OrderRecord) -> Result<PaymentRecord, OpError> {
    let table = &db.table;
    let id = format!("COD{}", order.id);
    let now = crate::now_rfc3339();
    let (pk, sk) = keys::payment(&id);
    let share = events::PaidOrder {
        order_id: order.id.clone(),
        shop_id: order.shop_id.clone(),
        amount: order.total,
    };
    let payment = PaymentRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_buyer_payments(&order.buyer_id),
        gsi1sk: format!("{now}#{id}"),
        entity_type: PAYMENT_ENTITY.into(),
        id: id.clone(),
        checkout_id: order.checkout_id.clone(),
        buyer_id: order.buyer_id.clone(),
        method: Method::Cod,
        status: PaymentStatus::Succeeded,
        currency: order.currency,
        amount: order.total,
        orders: vec![share.clone()],
        provider_ref: None,
        capture_ref: None,
        redirect_url: None,
        client_secret: None,
        captured: order.total,
        refunded: 0,
        refundable: order.total,
        refund_pending: 0,
        disputed: 0,
        late_amount: 0,
        failure_reason: None,
        created_at: now.clone(),
        updated_at: now.clone(),
        expires_at: 0,
        succeeded_at: Some(now),
    };
    let mut batch = Batch::default();
    batch.push(Tag::Guard, tx::put_new(table, &payment)?);
    batch.push(
        Tag::Guard,
        tx::put_new(
            table,
            &new_escrow(&order.id, &order.shop_id, &payment, order.total),
        )?,
    );
    batch.transfer(
        table,
        &Transfer::new(
            TransferKind::CodCollected,
            order.currency,
            &id,
            [
                (
                    ledger::external(Method::Cod.as_str(), order.currency),
                    -order.total,
                ),
                (
                    ledger::shop_escrow(&order.shop_id, order.currency),
                    order.total,
                ),
            ],
        )?,
    )?;
    batch.event(
        table,
        &DomainEvent::PaymentSucceeded(events::PaymentSucceeded {
            payment_id: id,
            checkout_id: order.checkout_id.clone(),
            buyer_id: order.buyer_id.clone(),
            provider: Method::Cod.as_str().into(),
            amount: order.money(order.total),
            orders: vec![share],
            late_amount: 0,
        }),
    )?;
    batch.run(db).await?;
    Ok(payment)
}

/// The provider says the payment failed: its orders still waiting move to `payment_failed`
/// (releasing their stock). A failure after a success changes nothing (`AlreadyFinal`).
pub async fn fail(
    db: &Db,
    payment: &PaymentRecord,
    orders_read: &[OrderRecord],
    reason: &str,
    dedupe: Option<Dedupe<'_>>,
) -> Result<(), OpError> {
    if payment.status != PaymentStatus::Pending {
        return Err(OpError::AlreadyFinal);
    }
    let table = &db.table;
    let mut batch = Batch::default();
    batch.dedupe(table, dedupe)?;
    let waiting: Vec<&OrderRecord> = orders_read
        .iter()
        .filter(|o| o.status == OrderStatus::PendingPayment)
        .collect();
    batch.order_moves(orders::plan_transitions(
        table,
        &waiting,
        OrderStatus::PaymentFailed,
        Actor::System,
        Some(format!("payment failed: {reason}")),
    )?);
    batch.push(
        Tag::State,
        update(
            table,
            keys::payment(&payment.id),
            "SET #status = :failed, failure_reason = :reason, updated_at = :now",
            Some("#status = :pending"),
            &[("#status", "status")],
            vec![
                (":failed", s(PaymentStatus::Failed.as_str())),
                (":pending", s(PaymentStatus::Pending.as_str())),
                (":reason", s(reason)),
                (":now", s(crate::now_rfc3339())),
            ],
        )?,
    );
    batch.event(
        table,
        &DomainEvent::PaymentFailed(events::PaymentFailed {
            payment_id: payment.id.clone(),
            checkout_id: payment.checkout_id.clone(),
            buyer_id: payment.buyer_id.clone(),
            provider: payment.method.as_str().into(),
            amount: Money::new(payment.amount, payment.currency),
            reason: reason.into(),
        }),
    )?;
    batch.run(db).await
}

/// Only records a provider event (so a redelivery is recognised) without changing anything:
/// events that arrive after the state they would set (a failure after a success).
pub async fn acknowledge(db: &Db, dedupe: Dedupe<'_>) -> Result<(), OpError> {
    let mut batch = Batch::default();
    batch.dedupe(&db.table, Some(dedupe))?;
    batch.run(db).await
}

/// Where an order's refund or hold is taken from: its escrow while held; once released, the
/// shop's available balance and the platform's commission in the proportion of the release.
fn source_legs(escrow: &EscrowRecord, amount: i64) -> Vec<(String, i64)> {
    let cur = escrow.currency;
    match escrow.status {
        EscrowStatus::Held => vec![(ledger::shop_escrow(&escrow.shop_id, cur), -amount)],
        EscrowStatus::Released => {
            let (shop, platform) =
                refund_split_after_release(amount, escrow.released_gross, escrow.commission);
            vec![
                (ledger::shop_available(&escrow.shop_id, cur), -shop),
                (ledger::commission(cur), -platform),
            ]
        }
    }
}

/// Phase 1 of a refund we ask a provider for: reserves `amount` of the payment (and of the
/// order's escrow, when it is charged to an order; else of the late part in suspense) and moves
/// it into refunds in flight. Returns the refund record to settle or release.
pub async fn reserve_refund(
    db: &Db,
    payment: &PaymentRecord,
    escrow: Option<&EscrowRecord>,
    amount: i64,
    reason: &str,
) -> Result<RefundRecord, OpError> {
    if amount <= 0 {
        return Err(OpError::Invalid("a refund must be positive".into()));
    }
    if payment.status != PaymentStatus::Succeeded {
        return Err(OpError::NotRefundable { refundable: 0 });
    }
    let table = &db.table;
    let cur = payment.currency;
    let mut legs = match escrow {
        Some(e) => source_legs(e, amount),
        None => vec![(ledger::suspense(cur), -amount)],
    };
    legs.push((ledger::refunds_in_flight(cur), amount));
    let transfer = Transfer::new(TransferKind::RefundReserved, cur, &payment.id, legs)?;
    let id = ulid::Ulid::new().to_string();
    let now = crate::now_rfc3339();
    let (pk, sk) = keys::refund(&id);
    let record = RefundRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_payment_refunds(&payment.id),
        gsi1sk: format!("{now}#{id}"),
        entity_type: REFUND_ENTITY.into(),
        id,
        payment_id: payment.id.clone(),
        buyer_id: payment.buyer_id.clone(),
        method: payment.method,
        order_id: escrow.map(|e| e.order_id.clone()),
        amount,
        currency: cur,
        reason: reason.into(),
        status: RefundStatus::Pending,
        reserved_legs: transfer.legs.clone(),
        provider_refund_ref: None,
        failure: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let mut batch = Batch::default();
    batch.push(Tag::Other, tx::put_new(table, &record)?);
    batch.push(
        Tag::Refundable(payment.refundable),
        update(
            table,
            keys::payment(&payment.id),
            "ADD refundable :minus, refund_pending :amount",
            Some("refundable >= :amount"),
            &[],
            vec![(":minus", n(-amount)), (":amount", n(amount))],
        )?,
    );
    if let Some(e) = escrow {
        batch.push(
            Tag::Refundable(e.balance),
            update(
                table,
                keys::escrow(&e.order_id),
                "ADD balance :minus, refund_pending :amount",
                Some("balance >= :amount"),
                &[],
                vec![(":minus", n(-amount)), (":amount", n(amount))],
            )?,
        );
    }
    batch.transfer(table, &transfer)?;
    batch.run(db).await?;
    Ok(record)
}

/// Phase 2: the provider refunded. Books it (once per provider refund id), and moves the order
/// on when the refund finishes it (an accepted return becomes `refunded`).
pub async fn settle_refund(
    db: &Db,
    refund: &RefundRecord,
    provider_refund_ref: &str,
    order_move: Option<orders::Move>,
) -> Result<(), OpError> {
    let table = &db.table;
    let cur = refund.currency;
    let mut batch = Batch::default();
    batch.push(
        Tag::State,
        update(
            table,
            keys::refund(&refund.id),
            "SET #status = :done, provider_refund_ref = :ref, updated_at = :now",
            Some("#status = :pending"),
            &[("#status", "status")],
            vec![
                (":done", s(RefundStatus::Succeeded.as_str())),
                (":pending", s(RefundStatus::Pending.as_str())),
                (":ref", s(provider_refund_ref)),
                (":now", s(crate::now_rfc3339())),
            ],
        )?,
    );
    batch.push(
        Tag::Guard,
        tx::put_new(
            table,
            &Guard::new(
                keys::provider_refund(refund.method.as_str(), provider_refund_ref),
                &refund.id,
            ),
        )?,
    );
    // Refunded now: the reservation becomes refunded on the payment and the escrow.
    batch.end_reservation(table, refund, "refunded", "refunded")?;
    batch.transfer(
        table,
        &Transfer::new(
            TransferKind::Refund,
            cur,
            &refund.payment_id,
            [
                (ledger::refunds_in_flight(cur), -refund.amount),
                (ledger::external(refund.method.as_str(), cur), refund.amount),
            ],
        )?,
    )?;
    if let Some(m) = order_move {
        batch.order_move(m);
    }
    batch.event(
        table,
        &DomainEvent::RefundIssued(events::RefundIssued {
            refund_id: refund.id.clone(),
            payment_id: refund.payment_id.clone(),
            buyer_id: refund.buyer_id.clone(),
            provider: refund.method.as_str().into(),
            order_id: refund.order_id.clone(),
            amount: Money::new(refund.amount, cur),
            reason: refund.reason.clone(),
        }),
    )?;
    batch.run(db).await
}

/// Phase 2 when the provider refused: the reservation goes back where it came from.
pub async fn release_refund(db: &Db, refund: &RefundRecord, failure: &str) -> Result<(), OpError> {
    let table = &db.table;
    let mut batch = Batch::default();
    batch.push(
        Tag::State,
        update(
            table,
            keys::refund(&refund.id),
            "SET #status = :failed, failure = :why, updated_at = :now",
            Some("#status = :pending"),
            &[("#status", "status")],
            vec![
                (":failed", s(RefundStatus::Failed.as_str())),
                (":pending", s(RefundStatus::Pending.as_str())),
                (":why", s(failure)),
                (":now", s(crate::now_rfc3339())),
            ],
        )?,
    );
    // Refused: the reservation goes back to what may be refunded, and to the escrow's balance.
    batch.end_reservation(table, refund, "refundable", "balance")?;
    batch.transfer(
        table,
        &Transfer::new(
            TransferKind::RefundReleased,
            refund.currency,
            &refund.payment_id,
            refund
                .reserved_legs
                .iter()
                .map(|l| (l.account.clone(), -l.amount)),
        )?,
    )?;
    batch.run(db).await
}

/// A guard item: exists once.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Guard {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    owner: String,
    created_at: String,
}

impl Guard {
    fn new((pk, sk): (String, String), owner: &str) -> Self {
        Self {
            pk,
            sk,
            entity_type: "guard".into(),
            owner: owner.into(),
            created_at: crate::now_rfc3339(),
        }
    }
}

/// Spreads `amount` over the escrows that can cover it, in order (`(escrow, part)`).
fn allocate(escrows: &[EscrowRecord], amount: i64) -> Vec<(&EscrowRecord, i64)> {
    let mut left = amount;
    let mut parts = Vec::new();
    for e in escrows {
        if left == 0 {
            break;
        }
        let part = left.min(e.balance);
        if part > 0 {
            parts.push((e, part));
            left -= part;
        }
    }
    parts
}

/// A refund the provider reports that we did not ask for (its dashboard, a bank): booked once
/// per provider refund id, charged to the payment's orders in order. While one of our own
/// refunds is in flight the caller answers "retry later" instead (its id is not known yet).
pub async fn book_provider_refund(
    db: &Db,
    payment: &PaymentRecord,
    escrows: &[EscrowRecord],
    provider_refund_ref: &str,
    amount: i64,
    dedupe: Option<Dedupe<'_>>,
) -> Result<(), OpError> {
    if payment.status != PaymentStatus::Succeeded {
        return Err(OpError::NotRefundable { refundable: 0 });
    }
    let table = &db.table;
    let cur = payment.currency;
    let parts = allocate(escrows, amount);
    let covered: i64 = parts.iter().map(|(_, p)| p).sum();
    // What no order holds any more is the late part in suspense (or nothing: refused).
    let from_suspense = amount - covered;
    if from_suspense > payment.late_amount {
        return Err(OpError::NotRefundable {
            refundable: covered + payment.late_amount,
        });
    }
    let mut batch = Batch::default();
    batch.dedupe(table, dedupe)?;
    batch.push(
        Tag::Guard,
        tx::put_new(
            table,
            &Guard::new(
                keys::provider_refund(payment.method.as_str(), provider_refund_ref),
                &payment.id,
            ),
        )?,
    );
    batch.push(
        Tag::Refundable(payment.refundable),
        update(
            table,
            keys::payment(&payment.id),
            "ADD refundable :minus, refunded :amount",
            Some("refundable >= :amount"),
            &[],
            vec![(":minus", n(-amount)), (":amount", n(amount))],
        )?,
    );
    let mut legs = vec![(ledger::external(payment.method.as_str(), cur), amount)];
    for (e, part) in &parts {
        batch.push(
            Tag::Raced,
            update(
                table,
                keys::escrow(&e.order_id),
                "ADD balance :minus, refunded :amount",
                Some("balance >= :amount AND #status = :status"),
                &[("#status", "status")],
                vec![
                    (":minus", n(-part)),
                    (":amount", n(*part)),
                    (":status", s(e.status.as_str())),
                ],
            )?,
        );
        legs.extend(source_legs(e, *part));
    }
    if from_suspense > 0 {
        legs.push((ledger::suspense(cur), -from_suspense));
    }
    batch.transfer(
        table,
        &Transfer::new(TransferKind::Refund, cur, &payment.id, legs)?,
    )?;
    let refund_id = ulid::Ulid::new().to_string();
    let now = crate::now_rfc3339();
    let (pk, sk) = keys::refund(&refund_id);
    batch.push(
        Tag::Other,
        tx::put_new(
            table,
            &RefundRecord {
                pk,
                sk,
                gsi1pk: keys::gsi1_payment_refunds(&payment.id),
                gsi1sk: format!("{now}#{refund_id}"),
                entity_type: REFUND_ENTITY.into(),
                id: refund_id.clone(),
                payment_id: payment.id.clone(),
                buyer_id: payment.buyer_id.clone(),
                method: payment.method,
                order_id: parts.first().map(|(e, _)| e.order_id.clone()),
                amount,
                currency: cur,
                reason: "refunded at the provider".into(),
                status: RefundStatus::Succeeded,
                reserved_legs: Vec::new(),
                provider_refund_ref: Some(provider_refund_ref.into()),
                failure: None,
                created_at: now.clone(),
                updated_at: now,
            },
        )?,
    );
    batch.event(
        table,
        &DomainEvent::RefundIssued(events::RefundIssued {
            refund_id,
            payment_id: payment.id.clone(),
            buyer_id: payment.buyer_id.clone(),
            provider: payment.method.as_str().into(),
            order_id: parts.first().map(|(e, _)| e.order_id.clone()),
            amount: Money::new(amount, cur),
            reason: "refunded at the provider".into(),
        }),
    )?;
    batch.run(db).await
}

/// A dispute was opened: the disputed amount (at most what is still refundable) moves from the
/// orders' balances to the shop's hold until the outcome.
pub async fn open_dispute(
    db: &Db,
    payment: &PaymentRecord,
    escrows: &[EscrowRecord],
    dispute_ref: &str,
    amount: i64,
    dedupe: Option<Dedupe<'_>>,
) -> Result<DisputeRecord, OpError> {
    if payment.status != PaymentStatus::Succeeded {
        return Err(OpError::NotRefundable { refundable: 0 });
    }
    let table = &db.table;
    let cur = payment.currency;
    let parts = allocate(escrows, amount.min(payment.refundable));
    let held: i64 = parts.iter().map(|(_, p)| p).sum();
    let now = crate::now_rfc3339();
    let (pk, sk) = keys::dispute(payment.method.as_str(), dispute_ref);
    let record = DisputeRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_payment_disputes(&payment.id),
        gsi1sk: format!("{now}#{dispute_ref}"),
        gsi2pk: keys::GSI2_DISPUTES.into(),
        gsi2sk: format!("{now}#{dispute_ref}"),
        entity_type: DISPUTE_ENTITY.into(),
        provider: payment.method,
        dispute_ref: dispute_ref.into(),
        payment_id: payment.id.clone(),
        buyer_id: payment.buyer_id.clone(),
        currency: cur,
        amount: held,
        parts: parts
            .iter()
            .map(|(e, p)| DisputePart {
                order_id: e.order_id.clone(),
                shop_id: e.shop_id.clone(),
                amount: *p,
            })
            .collect(),
        status: DisputeStatus::Open,
        evidence: Vec::new(),
        opened_at: now,
        closed_at: None,
    };
    let mut batch = Batch::default();
    batch.dedupe(table, dedupe)?;
    batch.push(Tag::Guard, tx::put_new(table, &record)?);
    if held > 0 {
        batch.push(
            Tag::Refundable(payment.refundable),
            update(
                table,
                keys::payment(&payment.id),
                "ADD refundable :minus, disputed :amount",
                Some("refundable >= :amount"),
                &[],
                vec![(":minus", n(-held)), (":amount", n(held))],
            )?,
        );
        let mut legs = Vec::new();
        for (e, part) in &parts {
            batch.push(
                Tag::Raced,
                update(
                    table,
                    keys::escrow(&e.order_id),
                    "ADD balance :minus, on_hold :amount",
                    Some("balance >= :amount AND #status = :status"),
                    &[("#status", "status")],
                    vec![
                        (":minus", n(-part)),
                        (":amount", n(*part)),
                        (":status", s(e.status.as_str())),
                    ],
                )?,
            );
            legs.extend(source_legs(e, *part));
            legs.push((ledger::shop_hold(&e.shop_id, cur), *part));
        }
        batch.transfer(
            table,
            &Transfer::new(TransferKind::DisputeHold, cur, dispute_ref, legs)?,
        )?;
    }
    for part in &record.parts {
        batch.event(table, &dispute_event(&record, part, None))?;
    }
    batch.run(db).await?;
    Ok(record)
}

fn dispute_event(record: &DisputeRecord, part: &DisputePart, won: Option<bool>) -> DomainEvent {
    let e = events::DisputeChanged {
        provider: record.provider.as_str().into(),
        dispute_ref: record.dispute_ref.clone(),
        payment_id: record.payment_id.clone(),
        buyer_id: record.buyer_id.clone(),
        order_id: part.order_id.clone(),
        shop_id: part.shop_id.clone(),
        amount: Money::new(part.amount, record.currency),
        won,
    };
    match won {
        None => DomainEvent::DisputeOpened(e),
        Some(_) => DomainEvent::DisputeClosed(e),
    }
}

/// A dispute closed: won, the hold goes back to the orders' balances (the escrow, or the
/// shop's available balance if the order was released meanwhile); lost, it leaves to the buyer.
pub async fn close_dispute(
    db: &Db,
    dispute: &DisputeRecord,
    escrows: &[EscrowRecord],
    won: bool,
    dedupe: Option<Dedupe<'_>>,
) -> Result<(), OpError> {
    if dispute.status != DisputeStatus::Open {
        return Err(OpError::AlreadyFinal);
    }
    let table = &db.table;
    let cur = dispute.currency;
    let mut batch = Batch::default();
    batch.dedupe(table, dedupe)?;
    batch.push(
        Tag::State,
        update(
            table,
            (dispute.pk.clone(), dispute.sk.clone()),
            "SET #status = :to, closed_at = :now",
            Some("#status = :open"),
            &[("#status", "status")],
            vec![
                (
                    ":to",
                    s(if won {
                        DisputeStatus::Won
                    } else {
                        DisputeStatus::Lost
                    }
                    .as_str()),
                ),
                (":open", s(DisputeStatus::Open.as_str())),
                (":now", s(crate::now_rfc3339())),
            ],
        )?,
    );
    if dispute.amount > 0 {
        let (payment_update, payment_values) = if won {
            (
                "ADD refundable :amount, disputed :minus",
                vec![
                    (":amount", n(dispute.amount)),
                    (":minus", n(-dispute.amount)),
                ],
            )
        } else {
            ("ADD disputed :minus", vec![(":minus", n(-dispute.amount))])
        };
        batch.push(
            Tag::Other,
            update(
                table,
                keys::payment(&dispute.payment_id),
                payment_update,
                None,
                &[],
                payment_values,
            )?,
        );
        let mut legs = Vec::new();
        for part in &dispute.parts {
            let escrow = escrows
                .iter()
                .find(|e| e.order_id == part.order_id)
                .ok_or_else(|| {
                    OpError::Invalid(format!("no escrow for order {}", part.order_id))
                })?;
            legs.push((ledger::shop_hold(&part.shop_id, cur), -part.amount));
            let (escrow_update, back_to) = if won {
                (
                    "ADD on_hold :minus, balance :amount",
                    match escrow.status {
                        EscrowStatus::Held => ledger::shop_escrow(&part.shop_id, cur),
                        EscrowStatus::Released => ledger::shop_available(&part.shop_id, cur),
                    },
                )
            } else {
                (
                    "ADD on_hold :minus, lost :amount",
                    ledger::external(dispute.provider.as_str(), cur),
                )
            };
            legs.push((back_to, part.amount));
            batch.push(
                Tag::Raced,
                update(
                    table,
                    keys::escrow(&part.order_id),
                    escrow_update,
                    Some("#status = :status"),
                    &[("#status", "status")],
                    vec![
                        (":minus", n(-part.amount)),
                        (":amount", n(part.amount)),
                        (":status", s(escrow.status.as_str())),
                    ],
                )?,
            );
        }
        batch.transfer(
            table,
            &Transfer::new(
                if won {
                    TransferKind::DisputeWon
                } else {
                    TransferKind::DisputeLost
                },
                cur,
                &dispute.dispute_ref,
                legs,
            )?,
        )?;
    }
    for part in &dispute.parts {
        batch.event(table, &dispute_event(dispute, part, Some(won)))?;
    }
    batch.run(db).await
}

/// A completed order's escrow goes to the shop's available balance less commission (once: the
/// escrow moves `held → released` on the balance it was read with, and waits while a refund is
/// in flight).
pub async fn release_escrow(
    db: &Db,
    escrow: &EscrowRecord,
    commission_bps: u32,
) -> Result<(i64, i64), OpError> {
    if escrow.status != EscrowStatus::Held {
        return Err(OpError::AlreadyFinal);
    }
    if escrow.refund_pending > 0 {
        return Err(OpError::Raced);
    }
    let table = &db.table;
    let cur = escrow.currency;
    let gross = escrow.balance;
    let fee = commission_of(gross, commission_bps);
    let now = crate::now_rfc3339();
    let mut batch = Batch::default();
    batch.push(
        Tag::State,
        update(
            table,
            keys::escrow(&escrow.order_id),
            "SET #status = :released, released_gross = :gross, commission = :fee, released_at = :now",
            Some("#status = :held AND balance = :gross AND refund_pending = :zero"),
            &[("#status", "status")],
            vec![
                (":released", s(EscrowStatus::Released.as_str())),
                (":held", s(EscrowStatus::Held.as_str())),
                (":gross", n(gross)),
                (":fee", n(fee)),
                (":zero", n(0)),
                (":now", s(now)),
            ],
        )?,
    );
    if gross > 0 {
        batch.transfer(
            table,
            &Transfer::new(
                TransferKind::Release,
                cur,
                &escrow.order_id,
                [
                    (ledger::shop_escrow(&escrow.shop_id, cur), -gross),
                    (ledger::shop_available(&escrow.shop_id, cur), gross - fee),
                    (ledger::commission(cur), fee),
                ],
            )?,
        )?;
    }
    batch.event(
        table,
        &DomainEvent::EscrowReleased(events::EscrowReleased {
            order_id: escrow.order_id.clone(),
            shop_id: escrow.shop_id.clone(),
            amount: Money::new(gross, cur),
            commission: fee,
            net: gross - fee,
        }),
    )?;
    match batch.run(db).await {
        // The balance or status changed since it was read: the caller reads again.
        Err(OpError::AlreadyFinal) => Err(OpError::Raced),
        other => other.map(|()| (gross - fee, fee)),
    }
}

/// A payout of the shop's available balance (never more than it holds).
pub async fn request_payout(
    db: &Db,
    shop_id: &str,
    org_id: &str,
    amount: Money,
    requested_by: &str,
) -> Result<PayoutRecord, OpError> {
    if amount.amount <= 0 {
        return Err(OpError::Invalid("a payout must be positive".into()));
    }
    let table = &db.table;
    let cur = amount.currency;
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::payout(&id);
    let record = PayoutRecord {
        pk,
        sk,
        entity_type: "payout".into(),
        id: id.clone(),
        shop_id: shop_id.into(),
        amount: amount.amount,
        currency: cur,
        requested_by: requested_by.into(),
        status: "requested".into(),
        created_at: crate::now_rfc3339(),
    };
    let mut batch = Batch::default();
    batch.push(Tag::Other, tx::put_new(table, &record)?);
    batch.transfer(
        table,
        &Transfer::new(
            TransferKind::Payout,
            cur,
            &id,
            [
                (ledger::shop_available(shop_id, cur), -amount.amount),
                (ledger::payouts(cur), amount.amount),
            ],
        )?,
    )?;
    batch.event(
        table,
        &DomainEvent::PayoutRequested(events::PayoutRequested {
            payout_id: id,
            shop_id: shop_id.into(),
            org_id: org_id.into(),
            amount,
        }),
    )?;
    batch.run(db).await?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn escrow(order: &str, balance: i64, status: EscrowStatus) -> EscrowRecord {
        let payment = PaymentRecord {
            pk: String::new(),
            sk: String::new(),
            gsi1pk: String::new(),
            gsi1sk: String::new(),
            entity_type: String::new(),
            id: "P".into(),
            checkout_id: "C".into(),
            buyer_id: "B".into(),
            method: Method::Stripe,
            status: PaymentStatus::Succeeded,
            currency: Currency::VND,
            amount: balance,
            orders: Vec::new(),
            provider_ref: None,
            capture_ref: None,
            redirect_url: None,
            client_secret: None,
            captured: balance,
            refunded: 0,
            refundable: balance,
            refund_pending: 0,
            disputed: 0,
            late_amount: 0,
            failure_reason: None,
            created_at: String::new(),
            updated_at: String::new(),
            expires_at: 0,
            succeeded_at: None,
        };
        let mut e = new_escrow(order, "S", &payment, balance);
        e.status = status;
        if status == EscrowStatus::Released {
            e.released_gross = balance;
            e.commission = commission_of(balance, 500);
        }
        e
    }

    #[test]
    fn a_refund_is_spread_over_the_orders_that_still_hold_money() {
        let escrows = [
            escrow("A", 100, EscrowStatus::Held),
            escrow("B", 0, EscrowStatus::Held),
            escrow("C", 50, EscrowStatus::Held),
        ];
        let parts: Vec<(&str, i64)> = allocate(&escrows, 120)
            .into_iter()
            .map(|(e, p)| (e.order_id.as_str(), p))
            .collect();
        assert_eq!(parts, [("A", 100), ("C", 20)]);
        assert_eq!(
            allocate(&escrows, 500).iter().map(|(_, p)| p).sum::<i64>(),
            150
        );
    }

    #[test]
    fn after_release_a_refund_comes_from_the_shop_and_the_commission() {
        let e = escrow("A", 10_000, EscrowStatus::Released);
        let legs = source_legs(&e, 1_000);
        assert_eq!(
            legs,
            [
                (ledger::shop_available("S", Currency::VND), -950),
                (ledger::commission(Currency::VND), -50)
            ]
        );
        let held = escrow("A", 10_000, EscrowStatus::Held);
        assert_eq!(
            source_legs(&held, 1_000),
            [(ledger::shop_escrow("S", Currency::VND), -1_000)]
        );
    }
}
