//! Orders as stored in the table, and the one way an order changes status: [`transition`], a
//! single transaction that moves the order conditionally on the status it was read in, appends
//! the move to its timeline, releases or sells its reserved stock, keeps the buyer's counters and
//! writes the event to the outbox. Two racing moves (cancel and expiry, say) cannot both win, so
//! a reservation is released exactly once.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::order_state::{OrderStatus, StockEffect};
use crate::domain::{Currency, Money};
use crate::events::{self, OrderStatusChanged};
use crate::products::LedgerRecord;
use crate::store::{Db, StoreError, keys, n, s, tx};

/// How long an online order waits for its payment.
pub const PAYMENT_WINDOW_SECS: i64 = 15 * 60;
/// How long after delivery a buyer may ask for a return.
pub const RETURN_WINDOW_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash on delivery: the order is confirmed at once.
    Cod,
    /// Card / wallet through a payment provider: the order waits for the payment.
    Online,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cod => "cod",
            Self::Online => "online",
        }
    }
}

/// Where the parcel goes: a copy of the buyer's address at checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShippingAddress {
    pub recipient_name: String,
    pub phone: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    pub country: String,
    /// Province, ward and point, placed when the address was saved (none outside Vietnam,
    /// and none on addresses saved before addresses were placed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<crate::geocode::AddressPlace>,
}

/// One line of an order: a snapshot of what was bought, at the price paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// List price at purchase.
    pub list_price: Money,
    /// Price paid per unit (list price less the product discount active at purchase).
    pub unit_price: Money,
    pub quantity: i64,
    pub line_total: Money,
    pub weight_grams: u32,
    /// The warehouse the units were reserved in (and ship from, and come back to on a
    /// return). Absent on orders placed before warehouses: the shop's default warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
}

impl OrderLine {
    /// Where this line's units are held.
    pub fn warehouse(&self, shop_id: &str) -> String {
        self.warehouse_id
            .clone()
            .unwrap_or_else(|| keys::default_warehouse_id(shop_id))
    }
}

/// One entry of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub status: OrderStatus,
    pub at: String,
    /// `buyer`, `seller`, `admin` or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnRequest {
    pub reason: String,
    /// Keys of the uploaded photos (shown as short-lived download URLs).
    #[serde(default)]
    pub photo_ids: Vec<String>,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_note: Option<String>,
    /// Set when the shop accepted the return with the units damaged: they are not restocked
    /// (a `damage` ledger entry says so).
    #[serde(default)]
    pub damaged: bool,
}

/// `ORDER#<id>/ORDER`: one shop's part of a checkout. GSI1 lists a buyer's orders, GSI2 a
/// shop's; GSI3 holds it while it waits for payment or sits in its return window (the order
/// sweeper's deadlines, see `keys::Due`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    pub entity_type: String,
    pub id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub shop_name: String,
    pub org_id: String,
    pub status: OrderStatus,
    pub payment_method: PaymentMethod,
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    pub shop_discount: i64,
    pub platform_discount: i64,
    pub shipping_fee: i64,
    pub tax_included: i64,
    pub total: i64,
    pub weight_grams: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_voucher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_voucher: Option<String>,
    pub shipping_address: ShippingAddress,
    /// How the parcel travels (orders placed before methods existed are `standard`).
    #[serde(default)]
    pub shipping_method: crate::domain::shipping::Method,
    /// How the shipping fee was reached (zone, distance, weights, days); absent on orders
    /// placed before fees were priced by distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_quote: Option<crate::domain::shipping::Quote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds by which an online order must be paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_due_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<Shipment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_request: Option<ReturnRequest>,
    pub timeline: Vec<TimelineEntry>,
}

pub const ORDER_ENTITY: &str = "order";

impl OrderRecord {
    pub fn money(&self, amount: i64) -> Money {
        Money::new(amount, self.currency)
    }
}

/// `CHECKOUT#<id>/CHECKOUT`: the orders one checkout placed (written in the same transaction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub buyer_id: String,
    pub order_ids: Vec<String>,
    pub payment_method: PaymentMethod,
    pub currency: Currency,
    pub total: i64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_due_at: Option<i64>,
}

/// Who moves an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Buyer,
    Seller,
    Admin,
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::Admin => "admin",
            Self::System => "system",
        }
    }
}

/// Attributes a move sets besides the status (shipment, return request, …).
pub type ExtraSet = Vec<(&'static str, AttributeValue)>;

/// Why a move did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("an order cannot go from {from} to {to}")]
    Illegal { from: OrderStatus, to: OrderStatus },
    /// Someone else moved the order first (its status is no longer the one read).
    #[error("the order changed concurrently")]
    Raced,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TransitionError> for crate::ApiError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::Illegal { from, to } => {
                crate::ApiError::Conflict(format!("an order that is {from} cannot become {to}"))
            }
            TransitionError::Raced => crate::ApiError::Conflict(
                "the order was changed by someone else meanwhile; reload it".into(),
            ),
            TransitionError::Store(e) => e.into(),
        }
    }
}

/// The stats attribute counting orders in a status.
fn count_attr(status: OrderStatus) -> String {
    format!("count_{}", status.as_str())
}

/// The stats attribute summing a buyer's spend in a currency.
pub fn spend_attr(currency: Currency) -> String {
    format!("spend_{currency:?}")
}

/// The buyer's counters after placing `orders` (all of one checkout): one action.
pub fn stats_on_place(
    table: &str,
    buyer_id: &str,
    orders: &[OrderRecord],
) -> Result<TransactWriteItem, StoreError> {
    let mut by_status: std::collections::BTreeMap<OrderStatus, i64> = Default::default();
    for o in orders {
        *by_status.entry(o.status).or_default() += 1;
    }
    let mut names: Vec<(String, String)> = Vec::new();
    let mut values: Vec<(String, AttributeValue)> = Vec::new();
    let mut adds = vec!["orders_placed :placed".to_owned()];
    values.push((":placed".into(), n(orders.len())));
    for (i, (status, count)) in by_status.iter().enumerate() {
        names.push((format!("#c{i}"), count_attr(*status)));
        values.push((format!(":c{i}"), n(count)));
        adds.push(format!("#c{i} :c{i}"));
    }
    if let Some(first) = orders.first() {
        names.push(("#spend".into(), spend_attr(first.currency)));
        values.push((
            ":spend".into(),
            n(orders.iter().map(|o| o.total).sum::<i64>()),
        ));
        adds.push("#spend :spend".into());
    }
    let update = format!("ADD {}", adds.join(", "));
    let name_refs: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::order_stats(buyer_id),
            update: &update,
            condition: None,
            names: &name_refs,
            values: values
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
        },
    )
}

/// The stock writes of a move, per line, in the warehouse the line's units were reserved in
/// (`shared::stock`): releasing gives reserved units back to `available`; selling takes them
/// out of `stock` with a `sale` ledger entry; an accepted return puts them back with a `return`
/// entry, or, when the shop found them damaged (`return_request.damaged`), only writes a
/// `damage` entry of 0 units saying so. Releasing and selling require the units reserved.
fn stock_actions(
    table: &str,
    order: &OrderRecord,
    effect: StockEffect,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut actions = Vec::new();
    let damaged = order.return_request.as_ref().is_some_and(|r| r.damaged);
    for line in &order.lines {
        let (p, sku, q) = (&line.product_id, &line.sku, line.quantity);
        let warehouse = line.warehouse(&order.shop_id);
        match effect {
            StockEffect::None => {}
            StockEffect::Release => {
                actions.extend(crate::stock::release(table, p, sku, &warehouse, q)?)
            }
            StockEffect::Sell => {
                actions.extend(crate::stock::sell(table, p, sku, &warehouse, q, &order.id)?)
            }
            StockEffect::Restock if damaged => actions.push(tx::put_new(
                table,
                &LedgerRecord::new(p, sku, 0, "damage", &format!("order:{}", order.id))
                    .at_warehouse(&warehouse)
                    .with_note(format!("{q} returned units damaged; not restocked")),
            )?),
            StockEffect::Restock => actions.extend(crate::stock::restock(
                table, p, sku, &warehouse, q, &order.id,
            )?),
        }
    }
    Ok(actions)
}

/// A move, built but not yet written: its actions (the order's own conditional update is the
/// first), and the order as it will be once they are. Payments add their own actions (ledger,
/// webhook dedupe) to the same transaction.
pub struct Move {
    pub actions: Vec<TransactWriteItem>,
    pub moved: OrderRecord,
}

/// Moves `order` (as read) to `to`: see the module docs. Returns the order as it now is.
pub async fn transition(
    db: &Db,
    order: &OrderRecord,
    to: OrderStatus,
    actor: Actor,
    note: Option<String>,
    extra: ExtraSet,
) -> Result<OrderRecord, TransitionError> {
    let Move { actions, moved } = plan_transition(&db.table, order, to, actor, note, extra)?;
    match db.transact(actions).await {
        Ok(()) => Ok(moved),
        Err(e) if e.failed_condition_index() == Some(0) => Err(TransitionError::Raced),
        Err(e) => Err(e.into()),
    }
}

/// The actions of moving `order` (as read) to `to`, without writing them.
pub fn plan_transition(
    table: &str,
    order: &OrderRecord,
    to: OrderStatus,
    actor: Actor,
    note: Option<String>,
    extra: ExtraSet,
) -> Result<Move, TransitionError> {
    plan(table, order, to, actor, note, extra, true)
}

/// The moves of several orders of one buyer, all in the same status, to `to` in one
/// transaction (a payment confirming or failing its checkout's orders): one transaction may
/// touch the buyer's counters once, so their update is the second value, for all of them.
pub fn plan_transitions(
    table: &str,
    orders: &[&OrderRecord],
    to: OrderStatus,
    actor: Actor,
    note: Option<String>,
) -> Result<(Vec<Move>, Option<TransactWriteItem>), TransitionError> {
    let moves = orders
        .iter()
        .map(|o| plan(table, o, to, actor, note.clone(), Vec::new(), false))
        .collect::<Result<Vec<_>, _>>()?;
    let stats = match orders.first() {
        None => None,
        Some(first) => {
            if orders
                .iter()
                .any(|o| o.buyer_id != first.buyer_id || o.status != first.status)
            {
                return Err(TransitionError::Store(StoreError::Other(anyhow::anyhow!(
                    "orders moved together must share their buyer and status"
                ))));
            }
            Some(stats_on_move(table, first.status, to, orders)?)
        }
    };
    Ok((moves, stats))
}

/// The buyer's counters when `orders` (one buyer's) leave `from` for `to`; their spend is
/// voided once, by the move that voids it.
fn stats_on_move(
    table: &str,
    from: OrderStatus,
    to: OrderStatus,
    orders: &[&OrderRecord],
) -> Result<TransactWriteItem, StoreError> {
    let first = orders.first().expect("at least one order moves");
    let count = orders.len() as i64;
    let (from_attr, to_attr, spend) =
        (count_attr(from), count_attr(to), spend_attr(first.currency));
    let mut update = "ADD #from :minus, #to :one".to_owned();
    let mut values = vec![(":minus", n(-count)), (":one", n(count))];
    let mut names = vec![("#from", from_attr.as_str()), ("#to", to_attr.as_str())];
    if to.voids_spend() && !from.voids_spend() {
        update.push_str(", #spend :void");
        values.push((":void", n(-orders.iter().map(|o| o.total).sum::<i64>())));
        names.push(("#spend", spend.as_str()));
    }
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::order_stats(&first.buyer_id),
            update: &update,
            condition: None,
            names: &names,
            values,
        },
    )
}

fn plan(
    table: &str,
    order: &OrderRecord,
    to: OrderStatus,
    actor: Actor,
    note: Option<String>,
    extra: ExtraSet,
    with_stats: bool,
) -> Result<Move, TransitionError> {
    let from = order.status;
    if !from.can_become(to) {
        return Err(TransitionError::Illegal { from, to });
    }
    let now = crate::now_rfc3339();
    let entry = TimelineEntry {
        status: to,
        at: now.clone(),
        actor: actor.as_str().into(),
        note: note.clone(),
    };
    let mut set = vec![
        "#status = :to".to_owned(),
        "updated_at = :now".to_owned(),
        "timeline = list_append(timeline, :entry)".to_owned(),
    ];
    let mut values: Vec<(String, AttributeValue)> = vec![
        (":to".into(), s(to.as_str())),
        (":from".into(), s(from.as_str())),
        (":now".into(), s(now.clone())),
        (
            ":entry".into(),
            AttributeValue::L(vec![
                serde_dynamo::to_attribute_value(&entry)
                    .map_err(|e| StoreError::Other(e.into()))?,
            ]),
        ),
    ];
    for (i, (attr, value)) in extra.iter().enumerate() {
        set.push(format!("{attr} = :x{i}"));
        values.push((format!(":x{i}"), value.clone()));
    }
    // The sweeper's deadline (GSI3): a delivered order completes when its return window
    // closes (a rejected return keeps the window of the delivery); leaving `pending_payment`
    // or `delivered` drops the deadline.
    let due = (to == OrderStatus::Delivered).then(|| {
        let delivered_at = order.delivered_at.unwrap_or_else(crate::now_epoch);
        (
            keys::gsi3_due(keys::Due::Completion, &order.id),
            due_sort(delivered_at + RETURN_WINDOW_SECS, &order.id),
        )
    });
    if let Some((pk, sort)) = &due {
        set.push("GSI3PK = :due_pk, GSI3SK = :due_sk".into());
        values.push((":due_pk".into(), s(pk.clone())));
        values.push((":due_sk".into(), s(sort.clone())));
    }
    let drops_due =
        due.is_none() && matches!(from, OrderStatus::PendingPayment | OrderStatus::Delivered);
    let mut update = format!("SET {}", set.join(", "));
    if drops_due {
        update.push_str(" REMOVE GSI3PK, GSI3SK");
    }
    let mut actions = vec![tx::update(
        table,
        tx::UpdateSpec {
            key: keys::order(&order.id),
            update: &update,
            condition: Some("#status = :from"),
            names: &[("#status", "status")],
            values: values
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
        },
    )?];
    // The stock moves with the order as this move leaves it (an accepted return says there
    // whether its units came back damaged).
    let effect = from.stock_effect(to);
    let stocked = if effect == StockEffect::Restock && !extra.is_empty() {
        &with_extra(order, &extra)?
    } else {
        order
    };
    actions.extend(stock_actions(table, stocked, effect)?);
    if with_stats {
        actions.push(stats_on_move(table, from, to, &[order])?);
    }
    actions.push(events::outbox_put(
        table,
        &OrderStatusChanged {
            order_id: order.id.clone(),
            buyer_id: order.buyer_id.clone(),
            shop_id: order.shop_id.clone(),
            shop_name: order.shop_name.clone(),
            org_id: order.org_id.clone(),
            from,
            to,
            total: order.money(order.total),
            reason: note,
            actor: actor.as_str().into(),
        }
        .into_event(),
    )?);
    let mut moved = order.clone();
    moved.status = to;
    moved.updated_at = now;
    moved.timeline.push(entry);
    if let Some((pk, sort)) = due {
        (moved.gsi3pk, moved.gsi3sk) = (Some(pk), Some(sort));
    } else if drops_due {
        (moved.gsi3pk, moved.gsi3sk) = (None, None);
    }
    if !extra.is_empty() {
        moved = with_extra(&moved, &extra)?;
    }
    Ok(Move { actions, moved })
}

/// `order` with the attributes a move `SET` besides its status (a dotted name is a path into
/// a map, as in the update expression), so the caller answers with the order as stored.
fn with_extra(order: &OrderRecord, extra: &ExtraSet) -> Result<OrderRecord, StoreError> {
    let mut item = crate::store::to_item(order)?;
    for (path, value) in extra {
        let mut parts = path.split('.');
        let mut map = &mut item;
        let mut name = parts.next().unwrap_or_default();
        for next in parts {
            let entry = map
                .entry(name.to_owned())
                .or_insert_with(|| AttributeValue::M(Default::default()));
            let AttributeValue::M(inner) = entry else {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "{path}: {name} is not a map"
                )));
            };
            map = inner;
            name = next;
        }
        map.insert(name.to_owned(), value.clone());
    }
    crate::store::from_item(item)
}

/// Orders whose `due` deadline passed before `now`, from every shard (at most `limit` per
/// shard). The index is eventually consistent: callers move each order with [`transition`],
/// which re-checks the status.
pub async fn overdue(
    db: &Db,
    due: keys::Due,
    now: i64,
    limit: i32,
) -> Result<Vec<OrderRecord>, StoreError> {
    let mut found = Vec::new();
    for shard in 0..keys::DUE_SHARDS {
        let out = db
            .client
            .query()
            .table_name(&db.table)
            .index_name("GSI3")
            .key_condition_expression("GSI3PK = :pk AND GSI3SK < :now")
            .expression_attribute_values(":pk", s(keys::gsi3_due_shard(due, shard)))
            .expression_attribute_values(":now", s(due_sort(now, "")))
            .limit(limit)
            .send()
            .await
            .map_err(crate::store::classify)?;
        for item in out.items.unwrap_or_default() {
            found.push(crate::store::from_item(item)?);
        }
    }
    Ok(found)
}

/// GSI3 sort key: the deadline as zero-padded Unix seconds, then the order id.
pub fn due_sort(due_at: i64, order_id: &str) -> String {
    format!("{due_at:012}#{order_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_due_keys_sort_by_deadline() {
        assert!(due_sort(999, "Z") < due_sort(1_000, "A"));
        assert!(due_sort(1_000, "A") < due_sort(1_001, ""));
    }
}
