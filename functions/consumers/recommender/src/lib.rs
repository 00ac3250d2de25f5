//! The recommender: the event-driven half of discovery (`shared::discovery`). An SQS consumer
//! of bus events, handling a batch's messages concurrently and reporting the failed ones
//! (partial batch failure); a message that keeps failing goes to the DLQ.
//!
//! | event | what it does |
//! |---|---|
//! | `OrderPlaced` | units sold per product, shop and category in the trend counters; "bought together" for every pair of distinct products of the order (capped); the product ids pushed to the buyer's recent purchases |
//! | `ProductUpserted`, `StockChanged` | the product's lowest in-stock price now, and every active price alert it meets triggered: one `PriceAlertTriggered` each |
//!
//! # Exactly once
//!
//! An `OrderPlaced` is counted in ONE `TransactWriteItems`: a dedupe marker
//! `keys::processed_event("recommender", event id)` that must not exist, and every counter
//! `ADD`. A redelivery finds the marker and changes nothing; a failure changes nothing either,
//! and SQS redelivers. Counters are bucketed by the event's `occurred_at`, so a late
//! redelivery counts in the hour the order happened. [`plan_order`] keeps the transaction under
//! DynamoDB's 100 actions: at most [`MAX_PRODUCTS`] products (the order's largest lines) and
//! [`MAX_PAIRS`] pairs. The recent-purchases list is updated before the transaction; it is a
//! set by product, so doing it again is harmless.
//!
//! A price alert is triggered in one transaction that marks it notified (condition: not
//! notified yet, target still met) and writes the event to the outbox: whichever delivery of
//! whichever product event gets there first e-mails the buyer, once.

use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::discovery::alerts::{self, PriceAlertRecord};
use shared::discovery::counters::{CATEGORY, PRODUCT, SHOP, Tally};
use shared::discovery::recent::{self, Entry};
use shared::discovery::scoring::{self, Counts};
use shared::domain::Money;
use shared::events::{BusEvent, DomainEvent, OrderPlaced, PriceAlertTriggered};
use shared::products::{ProductRecord, ProductStatus};
use shared::store::tx::{self, UpdateSpec};
use shared::store::{Db, StoreError, keys, n, s, value};

pub const CONSUMER: &str = "recommender";
/// The detail-types acted on; any other is acknowledged untouched.
pub const HANDLED: [&str; 3] = ["OrderPlaced", "ProductUpserted", "StockChanged"];
/// Products of one order counted, at most (its largest lines).
pub const MAX_PRODUCTS: usize = 10;
/// Products of one order paired, and pairs counted, at most.
pub const MAX_PAIRED_PRODUCTS: usize = 5;
pub const MAX_PAIRS: usize = 10;
/// How long an order's dedupe marker is kept (beyond any redelivery: SQS keeps 14 days).
const DEDUPE_TTL_SECS: i64 = 30 * 24 * 3600;
/// How long a co-occurrence counter is kept after its last increment.
/// In-process attempts of a transaction that conflicts with a concurrent one on a hot counter.
const ATTEMPTS: u32 = 4;

pub struct Recommender {
    pub db: Db,
}

/// What handling a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ignored,
    Counted {
        products: usize,
        pairs: usize,
    },
    Duplicate,
    /// Alerts triggered by a price check (possibly none).
    AlertsTriggered(usize),
}

/// The transaction an order asks for, before the dedupe marker. Pure.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPlan {
    /// Distinct products counted.
    pub products: usize,
    pub counters: Vec<shared::discovery::counters::CounterAdd>,
    pub pairs: Vec<(String, String)>,
}

/// Units per product, shop and category at `at` (epoch seconds) and the bought-together pairs,
/// capped so that marker + counters + both directions of every pair fit one transaction.
/// `categories` maps product ids to their category (a product not found counts without one).
pub fn plan_order(
    order: &OrderPlaced,
    categories: &std::collections::HashMap<String, String>,
    at: i64,
) -> OrderPlan {
    // Units per product, largest lines first (stable by first appearance).
    let mut units: Vec<(String, i64)> = Vec::new();
    for item in &order.items {
        match units.iter_mut().find(|(id, _)| *id == item.product_id) {
            Some((_, q)) => *q += item.quantity.max(0),
            None => units.push((item.product_id.clone(), item.quantity.max(0))),
        }
    }
    units.retain(|(_, q)| *q > 0);
    units.sort_by_key(|u| std::cmp::Reverse(u.1));
    units.truncate(MAX_PRODUCTS);
    let mut tally = Tally::default();
    for (product, q) in &units {
        let sold = Counts {
            units: *q,
            ..Counts::default()
        };
        tally.add(PRODUCT, product, sold);
        tally.add(SHOP, &order.shop_id, sold);
        if let Some(category) = categories.get(product) {
            tally.add(CATEGORY, category, sold);
        }
    }
    let ids: Vec<String> = units.into_iter().map(|(id, _)| id).collect();
    OrderPlan {
        products: ids.len(),
        counters: tally.updates(at),
        pairs: scoring::capped_pairs(&ids, MAX_PAIRED_PRODUCTS, MAX_PAIRS),
    }
}

/// A message body, understood: the event id, when it happened, and the event if handled here.
pub fn parse_message(body: &str) -> anyhow::Result<(String, i64, Option<DomainEvent>)> {
    let bus: BusEvent =
        serde_json::from_str(body).context("the message body is not a bus event")?;
    let at = bus.detail.occurred_at.unix_timestamp();
    let event = if HANDLED.contains(&bus.detail_type.as_str()) {
        Some(
            DomainEvent::from_parts(&bus.detail_type, bus.detail.data)
                .with_context(|| format!("malformed {} event data", bus.detail_type))?,
        )
    } else {
        None
    };
    Ok((bus.detail.id, at, event))
}

impl Recommender {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self::new(Db::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.table_name,
        )))
    }

    /// Handles the batch's messages concurrently and reports the failed ones.
    #[tracing::instrument(skip_all, fields(messages = event.records.len()))]
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        shared::consumer::each_message(&event, |m| self.process(m)).await
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Outcome> {
        let (event_id, at, event) = parse_message(message.body.as_deref().unwrap_or_default())?;
        match event {
            Some(DomainEvent::OrderPlaced(order)) => self.order_placed(&event_id, at, &order).await,
            Some(DomainEvent::ProductUpserted(e)) => self.check_price_alerts(&e.product_id).await,
            Some(DomainEvent::StockChanged(e)) => self.check_price_alerts(&e.product_id).await,
            _ => Ok(Outcome::Ignored),
        }
    }

    /// Counts an order once (see the module documentation).
    pub async fn order_placed(
        &self,
        event_id: &str,
        at: i64,
        order: &OrderPlaced,
    ) -> anyhow::Result<Outcome> {
        if order.items.is_empty() {
            return Ok(Outcome::Ignored);
        }
        let ids: Vec<String> = order.items.iter().map(|i| i.product_id.clone()).collect();
        let products = shared::discovery::cards::products(&self.db, &ids).await?;
        let categories = products
            .values()
            .map(|p| (p.id.clone(), p.category_id.clone()))
            .collect();
        let plan = plan_order(order, &categories, at);

        let purchased: Vec<Entry> = ids
            .iter()
            .map(|id| Entry {
                value: id.clone(),
                at: at * 1000,
            })
            .collect();
        recent::record(
            &self.db,
            &keys::recent_owner_user(&order.buyer_id),
            keys::RECENT_PURCHASES,
            &purchased,
        )
        .await?;

        let table = &self.db.table;
        let (pk, sk) = keys::processed_event(CONSUMER, event_id);
        let marker = serde_json::json!({
            "PK": pk, "SK": sk, "entity_type": "processed_event",
            "expires_at": shared::now_epoch() + DEDUPE_TTL_SECS,
        });
        let cooc_expires = shared::now_epoch() + shared::discovery::counters::COOCCURRENCE_TTL_SECS;
        let mut actions = vec![tx::put_new(table, &marker)?];
        for add in &plan.counters {
            actions.push(add.action(table)?);
        }
        for (a, b) in &plan.pairs {
            for (from, to) in [(a, b), (b, a)] {
                actions.push(tx::update(
                    table,
                    UpdateSpec {
                        key: keys::cooccurrence(from, keys::COOC_BOUGHT, to),
                        update: "ADD n :one SET expires_at = :expires, entity_type = :entity",
                        condition: None,
                        names: &[],
                        values: vec![
                            (":one", n(1)),
                            (":expires", n(cooc_expires)),
                            (":entity", s("cooccurrence")),
                        ],
                    },
                )?);
            }
        }
        for attempt in 1..=ATTEMPTS {
            match self.db.transact(actions.clone()).await {
                Ok(()) => {
                    tracing::info!(order_id = %order.order_id, products = products.len(), pairs = plan.pairs.len(), "order counted");
                    return Ok(Outcome::Counted {
                        products: plan.products,
                        pairs: plan.pairs.len(),
                    });
                }
                Err(e) if e.failed_condition_index() == Some(0) => {
                    tracing::info!(order_id = %order.order_id, "order counted before; duplicate delivery absorbed");
                    return Ok(Outcome::Duplicate);
                }
                // A concurrent order's transaction on the same hot counter: try again shortly.
                Err(StoreError::Throttled) if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Triggers every active alert the product's price now meets.
    pub async fn check_price_alerts(&self, product_id: &str) -> anyhow::Result<Outcome> {
        let Some((product, variants)) =
            shared::products::load_product(&self.db, product_id).await?
        else {
            return Ok(Outcome::AlertsTriggered(0));
        };
        if product.status != ProductStatus::Active {
            return Ok(Outcome::AlertsTriggered(0));
        }
        let Some(price) = alerts::lowest_price(&variants, shared::now_epoch()) else {
            return Ok(Outcome::AlertsTriggered(0));
        };
        let met = self.alerts_met(product_id, price).await?;
        let mut triggered = 0;
        for alert in met {
            if self.trigger(&product, &alert, price).await? {
                triggered += 1;
            }
        }
        if triggered > 0 {
            tracing::info!(product_id, triggered, "price alerts triggered");
        }
        Ok(Outcome::AlertsTriggered(triggered))
    }

    /// Active alerts of the product whose target is at or above `price` (GSI1, sparse).
    async fn alerts_met(
        &self,
        product_id: &str,
        price: Money,
    ) -> anyhow::Result<Vec<PriceAlertRecord>> {
        let alerts: Vec<PriceAlertRecord> = self
            .db
            .query_all(
                Some("GSI1"),
                "GSI1PK = :pk AND GSI1SK >= :min",
                &[
                    (":pk", s(keys::gsi1_price_alerts(product_id))),
                    (":min", s(format!("{:013}", price.amount))),
                ],
            )
            .await?;
        Ok(alerts
            .into_iter()
            .filter(|a| a.notified_at.is_none() && a.target_price.currency == price.currency)
            .collect())
    }

    /// Marks one alert notified and writes its event, in one transaction; `false` if another
    /// delivery did it first (or the alert changed).
    async fn trigger(
        &self,
        product: &ProductRecord,
        alert: &PriceAlertRecord,
        price: Money,
    ) -> anyhow::Result<bool> {
        let table = &self.db.table;
        let mark = tx::update(
            table,
            UpdateSpec {
                key: keys::price_alert(&alert.user_id, &alert.product_id),
                update: "SET notified_at = :now, notified_price = :price REMOVE GSI1PK, GSI1SK",
                condition: Some(
                    "attribute_exists(PK) AND attribute_not_exists(notified_at) AND #target.#amount >= :amount",
                ),
                names: &[("#target", "target_price"), ("#amount", "amount")],
                values: vec![
                    (":now", s(shared::now_rfc3339())),
                    (":price", value(&price)?),
                    (":amount", n(price.amount)),
                ],
            },
        )?;
        let event = DomainEvent::PriceAlertTriggered(PriceAlertTriggered {
            user_id: alert.user_id.clone(),
            product_id: product.id.clone(),
            product_name: product.name.clone(),
            target_price: alert.target_price,
            price,
        });
        match self
            .db
            .transact(vec![mark, shared::events::outbox_put(table, &event)?])
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.failed_condition_index() == Some(0) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::OrderedItem;

    fn order(items: &[(&str, i64)]) -> OrderPlaced {
        serde_json::from_value(serde_json::json!({
            "order_id": "o1", "checkout_id": "c1", "buyer_id": "b1", "shop_id": "s1",
            "status": "confirmed", "payment_method": "cod",
            "total": {"amount": 1000, "currency": "VND"}, "payment_due_at": null,
            "items": items.iter().map(|(p, q)| OrderedItem { product_id: p.to_string(), sku: "SKU".into(), quantity: *q }).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn an_order_counts_units_per_product_shop_and_category_and_pairs_its_products() {
        let categories = [("p1", "c1"), ("p2", "c1"), ("p3", "c2")]
            .map(|(p, c)| (p.to_owned(), c.to_owned()))
            .into();
        let plan = plan_order(
            &order(&[("p1", 2), ("p2", 1), ("p1", 1), ("p3", 4)]),
            &categories,
            1_795_996_800,
        );
        // p1, p2, p3, shop s1, categories c1 and c2: six items × two grains
        assert_eq!(plan.counters.len(), 12);
        let units = |id: &str| {
            plan.counters
                .iter()
                .find(|c| c.key.1 == id)
                .unwrap()
                .counts
                .units
        };
        assert_eq!(
            (units("p1"), units("p3"), units("s1"), units("c1")),
            (3, 4, 8, 4)
        );
        assert_eq!(plan.pairs.len(), 3, "{:?}", plan.pairs);
    }

    #[test]
    fn a_big_order_fits_one_transaction() {
        let items: Vec<(String, i64)> = (0..40).map(|i| (format!("p{i}"), i + 1)).collect();
        let refs: Vec<(&str, i64)> = items.iter().map(|(p, q)| (p.as_str(), *q)).collect();
        let categories = items
            .iter()
            .map(|(p, _)| (p.clone(), format!("cat-{p}")))
            .collect();
        let plan = plan_order(&order(&refs), &categories, 1_795_996_800);
        let actions = 1 + plan.counters.len() + 2 * plan.pairs.len();
        assert!(actions <= shared::store::MAX_TRANSACTION_ITEMS, "{actions}");
        assert_eq!(plan.pairs.len(), MAX_PAIRS);
        // the largest lines are the ones counted
        assert!(plan.counters.iter().any(|c| c.key.1 == "p39"));
        assert!(!plan.counters.iter().any(|c| c.key.1 == "p0"));
    }

    #[test]
    fn other_events_are_ignored_and_garbage_fails() {
        let foreign = r#"{"detail-type":"OrderShipped","source":"commerce.orders","detail":{"id":"e","occurred_at":"2026-12-01T10:00:00Z","version":1,"data":{"whatever":true}}}"#;
        assert!(parse_message(foreign).unwrap().2.is_none());
        assert!(parse_message("not json").is_err());
        let bad = r#"{"detail-type":"OrderPlaced","source":"commerce.orders","detail":{"id":"e","occurred_at":"2026-12-01T10:00:00Z","version":1,"data":{"order_id":42}}}"#;
        assert!(parse_message(bad).is_err());
    }

    #[test]
    fn the_fixture_is_an_order_placed_with_two_products() {
        let fixture = include_str!("../../../../events/sqs-recommender-order-placed.json");
        let event: SqsEvent = serde_json::from_str(fixture).unwrap();
        let body = event.records[0].body.as_deref().unwrap();
        let (event_id, at, parsed) = parse_message(body).unwrap();
        assert_eq!(event_id, "01JFIXTUREEVENT0000000000R");
        assert_eq!(at, 1_796_119_200);
        let Some(DomainEvent::OrderPlaced(order)) = parsed else {
            panic!("not an OrderPlaced: {parsed:?}")
        };
        let plan = plan_order(&order, &Default::default(), at);
        assert_eq!((plan.products, plan.pairs.len()), (2, 1));
    }
}
