//! The search indexer: keeps the products index equal to the catalogue. An SQS consumer of
//! bus events (the SQS body is the EventBridge event) that re-reads the products an event
//! names and writes their documents with one `_bulk` per batch, reporting partial batch
//! failures.
//!
//! | event | products re-read |
//! |---|---|
//! | `ProductUpserted`, `ProductDeleted`, `StockChanged` | that product |
//! | `OrderPlaced` | its items (stock was reserved); their units sold are counted first |
//! | `OrderCancelled`, `OrderPaymentFailed` | the order's lines (stock was released) |
//! | `ShopUpdated` | every product of the shop (a suspended shop's leave the index) |
//! | `Scheduled Event` (the template's `SearchDueScheduleRule`, every minute) | the products whose discount window opened or closed since their document was built |
//!
//! # Correctness
//!
//! - The document is built from a strongly consistent read of the product, its variants and
//!   its stats, never from the event, so any delivery of any event leaves the newest state.
//! - Writes carry the state's external version (`product_search::doc::version`): an indexer
//!   holding an older read gets a version conflict and the newer document stays. So events
//!   delivered twice or in reverse order are harmless.
//! - Units sold are counted once per order: the count and a claim
//!   (`keys::processed_event("search-sales", order_id)`) are one transaction.
//! - While a reindex builds a new generation, every change is written to every generation.
//! - Prices change with time alone when a discount window opens or closes. Each document write
//!   records the product's next boundary (`keys::search_due`); the scheduled tick rebuilds the
//!   products whose boundary has passed and then deletes those records (a failed rebuild keeps
//!   its record, so the next tick tries again). The version counts passed boundaries, so the
//!   rebuilt document wins over the one built before the boundary.
//!
//! # Reindex
//!
//! [`Indexer::reindex`] builds a new generation from a scan of the table's products, then moves
//! the alias to it in one `_aliases` call and deletes the older generations. `make reindex`
//! runs it locally (the dev server also runs it at start); in AWS, invoke the function with
//! `{"reindex": true}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::join_all;
use product_search::Engine;
use product_search::doc::{self, Source};
use product_search::engine::{BulkOp, BulkReport};
use serde::{Deserialize, Serialize};
use shared::catalog::ShopRecord;
use shared::events::{BusEvent, DomainEvent};
use shared::orders::OrderRecord;
use shared::products::load_product_with_stats;
use shared::store::{Db, StoreError, keys, n, s, tx};

pub const CONSUMER: &str = "search-indexer";
/// The claim consumer name of sales counts.
pub const SALES_CLAIM: &str = "search-sales";
/// How long a sales claim is kept (SQS keeps a message at most 14 days).
const CLAIM_TTL_SECS: i64 = 30 * 24 * 3600;
/// Products re-read concurrently.
const READ_CONCURRENCY: usize = 16;
/// Documents per `_bulk` call.
const REINDEX_CHUNK: usize = 500;

/// What one message asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    pub products: BTreeSet<String>,
    pub shops: BTreeSet<String>,
    /// Orders whose lines to re-read (their stock was released).
    pub orders: BTreeSet<String>,
    /// `(order id, [(product id, units)])`: sales to count once.
    pub sales: Option<(String, Vec<(String, i64)>)>,
    /// The scheduled tick: rebuild the documents whose price boundary has passed.
    pub due: bool,
}

/// How far back the tick looks for passed boundaries (ticks are a minute apart; this covers
/// an indexer that could not run for a while).
const DUE_LOOKBACK_HOURS: i64 = 6;
/// How long a due record is kept after its boundary.
const DUE_TTL_SECS: i64 = 7 * 24 * 3600;

#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
}

/// Parses a message body. A body that is not a bus event, or a handled event whose data does
/// not parse, is an error (the message fails and ends in the DLQ); any other event is no work.
pub fn parse_message(body: &str) -> anyhow::Result<Work> {
    let kind: Kind = serde_json::from_str(body)
        .map_err(|e| anyhow::anyhow!("the message body is not a bus event: {e}"))?;
    if kind.source == "aws.events" && kind.detail_type == "Scheduled Event" {
        return Ok(Work {
            due: true,
            ..Work::default()
        });
    }
    let bus: BusEvent = serde_json::from_str(body)
        .map_err(|e| anyhow::anyhow!("the message body is not a bus event: {e}"))?;
    let handled = [
        "ProductUpserted",
        "ProductDeleted",
        "StockChanged",
        "OrderPlaced",
        "OrderCancelled",
        "OrderPaymentFailed",
        "ShopUpdated",
    ];
    if !handled.contains(&bus.detail_type.as_str()) {
        return Ok(Work::default());
    }
    let event = DomainEvent::from_parts(&bus.detail_type, bus.detail.data)
        .map_err(|e| anyhow::anyhow!("malformed {} event data: {e}", bus.detail_type))?;
    Ok(route(&event))
}

/// The work an event calls for. Pure.
pub fn route(event: &DomainEvent) -> Work {
    let mut work = Work::default();
    match event {
        DomainEvent::ProductUpserted(e) => {
            work.products.insert(e.product_id.clone());
        }
        DomainEvent::ProductDeleted(e) => {
            work.products.insert(e.product_id.clone());
        }
        DomainEvent::StockChanged(e) => {
            work.products.insert(e.product_id.clone());
        }
        DomainEvent::ShopUpdated(e) => {
            work.shops.insert(e.shop_id.clone());
        }
        DomainEvent::OrderPlaced(e) => {
            let mut units: HashMap<&str, i64> = HashMap::new();
            for item in &e.items {
                *units.entry(item.product_id.as_str()).or_default() += item.quantity;
                work.products.insert(item.product_id.clone());
            }
            let mut units: Vec<(String, i64)> =
                units.into_iter().map(|(p, q)| (p.to_owned(), q)).collect();
            units.sort();
            if !units.is_empty() {
                work.sales = Some((e.order_id.clone(), units));
            }
        }
        DomainEvent::OrderCancelled(e) | DomainEvent::OrderPaymentFailed(e) => {
            work.orders.insert(e.order_id.clone());
        }
        _ => {}
    }
    work
}

#[derive(Serialize)]
struct SalesClaim<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    order_id: &'a str,
    expires_at: i64,
}

/// What a message expands to: the products to rebuild, and the due records to delete once
/// they are rebuilt.
struct Expanded {
    products: BTreeSet<String>,
    due: Vec<(String, (String, String))>,
}

/// `SEARCHDUE#<hour>` / `<at>#<product>`: the product's document must be rebuilt at `at`.
#[derive(Serialize, Deserialize)]
struct DueRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    product_id: String,
    at: i64,
    expires_at: i64,
}

/// What a reindex did.
#[derive(Debug, Clone, Serialize)]
pub struct ReindexReport {
    pub index: String,
    pub indexed: usize,
    /// Products not searchable (drafts, archived, suspended shops).
    pub skipped: usize,
    pub deleted_generations: Vec<String>,
    pub seconds: f64,
}

/// A category's name and parent.
type Category = (String, Option<String>);

/// Shops, categories and brands, read once per batch (products are read concurrently; two
/// reads racing for the same id both read it, harmlessly).
#[derive(Default)]
struct Names {
    categories: Mutex<HashMap<String, Option<Category>>>,
    brands: Mutex<HashMap<String, Option<String>>>,
    shops: Mutex<HashMap<String, Option<ShopRecord>>>,
}

fn cached<T: Clone>(map: &Mutex<HashMap<String, T>>, id: &str) -> Option<T> {
    map.lock().expect("cache lock").get(id).cloned()
}

fn remember<T>(map: &Mutex<HashMap<String, T>>, id: &str, value: T) {
    map.lock().expect("cache lock").insert(id.to_owned(), value);
}

#[derive(Deserialize)]
struct CategoryItem {
    name: String,
    #[serde(default)]
    parent_id: Option<String>,
}

#[derive(Deserialize)]
struct BrandItem {
    name: String,
}

#[derive(Deserialize)]
struct IdItem {
    id: String,
}

pub struct Indexer {
    pub db: Db,
    pub engine: Engine,
}

impl Indexer {
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        Ok(Self {
            db: Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            engine: Engine::from_env(&sdk)?,
        })
    }

    /// Handles a batch: counts sales, gathers the products its messages name, re-reads them,
    /// writes them in one `_bulk`, and fails the messages whose work did not complete.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut failed: Vec<String> = Vec::new();
        let mut wanted: Vec<(String, Expanded)> = Vec::new();
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            let work = match message.body.as_deref().map(parse_message) {
                Some(Ok(work)) => work,
                Some(Err(e)) => {
                    tracing::error!(message_id = %id, error = %e, "unreadable message");
                    failed.push(id);
                    continue;
                }
                None => {
                    failed.push(id);
                    continue;
                }
            };
            match self.expand(&work).await {
                Ok(products) => wanted.push((id, products)),
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "could not gather the message's products");
                    failed.push(id);
                }
            }
        }
        let all: BTreeSet<String> = wanted
            .iter()
            .flat_map(|(_, e)| e.products.iter().cloned())
            .collect();
        let bad = match self.index_products(&all).await {
            Ok(bad) => bad,
            Err(e) => {
                tracing::warn!(error = %e, products = all.len(), "indexing failed; the batch is retried");
                all.clone()
            }
        };
        for (id, expanded) in wanted {
            if expanded.products.iter().any(|p| bad.contains(p)) {
                failed.push(id);
            } else if let Err(e) = self.clear_due(&expanded.due).await {
                tracing::warn!(message_id = %id, error = %e, "could not clear the rebuilt due records");
                failed.push(id);
            }
        }
        let mut response = SqsBatchResponse::default();
        for id in failed {
            response.add_failure(id);
        }
        response
    }

    /// The products a message's work touches, after counting its sales.
    async fn expand(&self, work: &Work) -> anyhow::Result<Expanded> {
        if let Some((order_id, units)) = &work.sales {
            self.count_sales(order_id, units).await?;
        }
        let mut products = work.products.clone();
        let due = if work.due {
            self.due_now(shared::now_epoch()).await?
        } else {
            Vec::new()
        };
        products.extend(due.iter().map(|(p, _)| p.clone()));
        for shop_id in &work.shops {
            products.extend(self.shop_products(shop_id).await?);
        }
        for order_id in &work.orders {
            if let Some(order) = self.db.get::<OrderRecord>(keys::order(order_id)).await? {
                products.extend(order.lines.into_iter().map(|l| l.product_id));
            }
        }
        Ok(Expanded { products, due })
    }

    /// The due records whose boundary is at or before `now`: (product id, record key).
    pub async fn due_now(&self, now: i64) -> Result<Vec<(String, (String, String))>, StoreError> {
        let hour = now.div_euclid(3600);
        let until = keys::search_due(now, "\u{10ffff}").1;
        let mut found = Vec::new();
        for h in hour - DUE_LOOKBACK_HOURS..=hour {
            let rows: Vec<DueRecord> = self
                .db
                .query_all(
                    None,
                    "PK = :pk AND SK <= :until",
                    &[
                        (":pk", s(keys::search_due_pk(h))),
                        (":until", s(until.clone())),
                    ],
                )
                .await?;
            found.extend(rows.into_iter().map(|r| (r.product_id, (r.pk, r.sk))));
        }
        Ok(found)
    }

    /// Deletes the due records of rebuilt products.
    async fn clear_due(&self, due: &[(String, (String, String))]) -> Result<(), StoreError> {
        for (_, key) in due {
            self.db.delete(key.clone()).await?;
        }
        Ok(())
    }

    /// Records when each product's document must be rebuilt (its next price boundary).
    async fn schedule_due(&self, next: &[(String, i64)]) -> Result<(), StoreError> {
        let writes = next.iter().map(|(product_id, at)| async move {
            let (pk, sk) = keys::search_due(*at, product_id);
            let record = DueRecord {
                pk,
                sk,
                entity_type: "search_due".into(),
                product_id: product_id.clone(),
                at: *at,
                expires_at: at + DUE_TTL_SECS,
            };
            self.db
                .client
                .put_item()
                .table_name(&self.db.table)
                .set_item(Some(shared::store::to_item(&record)?))
                .send()
                .await
                .map(|_| ())
                .map_err(shared::store::classify)
        });
        join_all(writes).await.into_iter().collect()
    }

    /// Adds an order's units to its products' sales, once per order.
    async fn count_sales(&self, order_id: &str, units: &[(String, i64)]) -> anyhow::Result<()> {
        let table = &self.db.table;
        let (pk, sk) = keys::processed_event(SALES_CLAIM, order_id);
        let mut actions = vec![tx::put_new(
            table,
            &SalesClaim {
                pk,
                sk,
                entity_type: "processed_event",
                order_id,
                expires_at: shared::now_epoch() + CLAIM_TTL_SECS,
            },
        )?];
        // A transaction holds 100 actions; an order's distinct products beyond 99 are not
        // counted (orders are far smaller; the cart caps its lines).
        for (product_id, q) in units.iter().take(99) {
            actions.push(tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::product_stats(product_id),
                    update: "ADD sales :q, rev :one",
                    condition: None,
                    names: &[],
                    values: vec![(":q", n(*q)), (":one", n(1))],
                },
            )?);
        }
        match self.db.transact(actions).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_condition_index() == Some(0) => Ok(()), // counted before
            Err(e) => Err(e.into()),
        }
    }

    /// Every product of a shop, any status (GSI2).
    async fn shop_products(&self, shop_id: &str) -> Result<Vec<String>, StoreError> {
        let items: Vec<IdItem> = self
            .db
            .query_all(
                Some("GSI2"),
                "GSI2PK = :pk",
                &[(":pk", s(keys::gsi2_shop_products(shop_id)))],
            )
            .await?;
        Ok(items.into_iter().map(|i| i.id).collect())
    }

    /// Writes the current documents of `products` to every generation; the ids that failed.
    pub async fn index_products(
        &self,
        products: &BTreeSet<String>,
    ) -> anyhow::Result<BTreeSet<String>> {
        if products.is_empty() {
            return Ok(BTreeSet::new());
        }
        let names = Names::default();
        let ids: Vec<&String> = products.iter().collect();
        let mut read = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CONCURRENCY) {
            let ops = join_all(chunk.iter().map(|id| self.op(id, &names))).await;
            read.extend(chunk.iter().copied().zip(ops));
        }
        let mut ops = Vec::new();
        let mut next = Vec::new();
        let mut bad = BTreeSet::new();
        for (id, op) in read {
            match op {
                Ok((op, edge)) => {
                    ops.push(op);
                    next.extend(edge.map(|at| (id.clone(), at)));
                }
                Err(e) => {
                    tracing::warn!(product_id = %id, error = %e, "could not read the product");
                    bad.insert(id.clone());
                }
            }
        }
        // Products are read before the generations are listed: a reindex that started after a
        // read is listed here (so this write reaches its new generation too), and one that
        // started before it scans the table after creating its generation.
        let indexes = self.engine.ensure().await?;
        for chunk in ops.chunks(REINDEX_CHUNK) {
            let report = self.engine.bulk(chunk, &indexes, true).await?;
            log_report(&report, chunk.len());
            bad.extend(report.failed.into_iter().map(|(id, _)| id));
        }
        next.retain(|(id, _)| !bad.contains(id));
        self.schedule_due(&next).await?;
        Ok(bad)
    }

    /// The write that brings a product's document up to date, and when its price next changes
    /// by itself (a discount boundary) if it is indexed.
    async fn op(&self, product_id: &str, names: &Names) -> anyhow::Result<(BulkOp, Option<i64>)> {
        let Some((product, variants, stats)) =
            load_product_with_stats(&self.db, product_id).await?
        else {
            let gone = BulkOp::Delete {
                id: product_id.to_owned(),
                version: None,
            };
            return Ok((gone, None));
        };
        let now = shared::now_epoch();
        let shop = self.shop(&product.shop_id, names).await?;
        let version = doc::version(&product, &variants, stats.rev, shop.as_ref(), now);
        let categories = self.category_path(&product.category_id, names).await?;
        let brand = match &product.brand_id {
            Some(b) => self.brand(b, names).await?,
            None => None,
        };
        let source = Source {
            product: &product,
            variants: &variants,
            shop: shop.as_ref(),
            categories: &categories,
            brand: brand.as_deref(),
            sales: stats.sales,
        };
        Ok(match doc::build(&source, now) {
            Some(d) => (
                BulkOp::Index {
                    doc: Box::new(d),
                    version,
                },
                doc::price_edges(&variants, now).1,
            ),
            None => (
                BulkOp::Delete {
                    id: product.id,
                    version: Some(version),
                },
                None,
            ),
        })
    }

    async fn shop(&self, id: &str, names: &Names) -> Result<Option<ShopRecord>, StoreError> {
        if let Some(s) = cached(&names.shops, id) {
            return Ok(s);
        }
        let shop: Option<ShopRecord> = self.db.get(keys::shop_profile(id)).await?;
        remember(&names.shops, id, shop.clone());
        Ok(shop)
    }

    async fn brand(&self, id: &str, names: &Names) -> Result<Option<String>, StoreError> {
        if let Some(b) = cached(&names.brands, id) {
            return Ok(b);
        }
        let brand = self
            .db
            .get::<BrandItem>(keys::brand(id))
            .await?
            .map(|b| b.name);
        remember(&names.brands, id, brand.clone());
        Ok(brand)
    }

    /// `(id, name)` from the root down to `leaf` (at most 8 levels; a missing category ends
    /// the walk).
    async fn category_path(
        &self,
        leaf: &str,
        names: &Names,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut path = Vec::new();
        let mut next = Some(leaf.to_owned());
        while let Some(id) = next.take() {
            if path.len() >= 8 || path.iter().any(|(seen, _)| *seen == id) {
                break;
            }
            let entry = match cached(&names.categories, &id) {
                Some(e) => e,
                None => {
                    let item = self.db.get::<CategoryItem>(keys::category(&id)).await?;
                    let e = item.map(|c| (c.name, c.parent_id));
                    remember(&names.categories, &id, e.clone());
                    e
                }
            };
            if let Some((name, parent)) = entry {
                path.push((id, name));
                next = parent;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// Rebuilds the index from the table into a new generation, then moves the alias to it.
    pub async fn reindex(&self) -> anyhow::Result<ReindexReport> {
        let started = Instant::now();
        let before = self.engine.generations().await?;
        let index = self.engine.create_generation(&generation_now()).await?;
        tracing::info!(index = %index, "reindex: new generation created");
        let ids = self.all_product_ids().await?;
        let target = vec![index.clone()];
        let names = Names::default();
        let (mut indexed, mut skipped) = (0, 0);
        for chunk in ids.chunks(REINDEX_CHUNK) {
            let mut ops = Vec::with_capacity(chunk.len());
            for part in chunk.chunks(READ_CONCURRENCY) {
                ops.extend(join_all(part.iter().map(|id| self.op(id, &names))).await);
            }
            let mut next = Vec::new();
            let ops: Vec<BulkOp> = ops
                .into_iter()
                .collect::<anyhow::Result<Vec<_>>>()?
                .into_iter()
                .zip(chunk)
                .filter_map(|((op, edge), id)| match op {
                    BulkOp::Index { .. } => {
                        next.extend(edge.map(|at| (id.clone(), at)));
                        Some(op)
                    }
                    BulkOp::Delete { .. } => {
                        skipped += 1;
                        None
                    }
                })
                .collect();
            let report = self.engine.bulk(&ops, &target, false).await?;
            anyhow::ensure!(
                report.failed.is_empty(),
                "reindex: {} documents failed, e.g. {:?}",
                report.failed.len(),
                report.failed.first()
            );
            indexed += report.applied + report.stale;
            self.schedule_due(&next).await?;
            tracing::info!(indexed, skipped, total = ids.len(), "reindex: progress");
        }
        self.engine.refresh(&index).await?;
        let aliased: Vec<String> = before
            .iter()
            .filter(|(_, a)| *a)
            .map(|(n, _)| n.clone())
            .collect();
        self.engine.point_alias(&index, &aliased).await?;
        let mut deleted = Vec::new();
        for (old, _) in before {
            self.engine.delete_index(&old).await?;
            deleted.push(old);
        }
        let report = ReindexReport {
            index,
            indexed,
            skipped,
            deleted_generations: deleted,
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(index = %report.index, indexed, skipped, seconds = report.seconds, "reindex: alias moved");
        Ok(report)
    }

    /// Every product id in the table (a scan of `entity_type = product`, projected to ids).
    async fn all_product_ids(&self) -> Result<Vec<String>, StoreError> {
        shared::migrate::entity_ids(&self.db, "product").await
    }
}

fn log_report(report: &BulkReport, ops: usize) {
    tracing::info!(
        ops,
        applied = report.applied,
        stale = report.stale,
        absent = report.absent,
        failed = report.failed.len(),
        "indexed"
    );
    for (id, reason) in &report.failed {
        tracing::warn!(product_id = %id, reason = %reason, "document write failed");
    }
}

/// A generation name from the clock (`20261201t150405123`), lower case as index names must be.
pub fn generation_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}t{:02}{:02}{:02}{:03}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::{OrderPlaced, OrderedItem, ProductUpserted};

    #[test]
    fn an_order_names_its_products_and_sums_units_per_product() {
        let item = |p: &str, q| OrderedItem {
            product_id: p.into(),
            sku: format!("{p}-{q}"),
            quantity: q,
        };
        let event = DomainEvent::OrderPlaced(OrderPlaced {
            order_id: "O1".into(),
            checkout_id: "C".into(),
            buyer_id: "b".into(),
            shop_id: "s".into(),
            shop_name: String::new(),
            org_id: String::new(),
            status: shared::domain::order_state::OrderStatus::Confirmed,
            payment_method: "cod".into(),
            total: shared::domain::Money::new(1, shared::domain::Currency::VND),
            payment_due_at: None,
            items: vec![item("P1", 2), item("P2", 1), item("P1", 3)],
        });
        let work = route(&event);
        assert_eq!(
            work.products.iter().map(String::as_str).collect::<Vec<_>>(),
            ["P1", "P2"]
        );
        assert_eq!(
            work.sales,
            Some(("O1".into(), vec![("P1".into(), 5), ("P2".into(), 1)]))
        );
    }

    #[test]
    fn other_events_are_no_work_and_garbage_is_an_error() {
        assert!(parse_message("not json").is_err());
        let body = serde_json::json!({
            "detail-type": "UserRegistered", "source": "commerce.identity",
            "detail": {"id": "E", "occurred_at": "2026-12-01T00:00:00Z", "version": 1, "data": {}}
        });
        assert_eq!(parse_message(&body.to_string()).unwrap(), Work::default());
        let event = DomainEvent::ProductUpserted(ProductUpserted {
            product_id: "P9".into(),
            shop_id: "s".into(),
            category_id: "c".into(),
            name: "n".into(),
            status: shared::products::ProductStatus::Active,
            version: 3,
        });
        assert!(route(&event).products.contains("P9"));
    }

    #[test]
    fn generation_names_are_lower_case_and_sortable() {
        let g = generation_now();
        assert_eq!(g.len(), 18);
        assert_eq!(g, g.to_lowercase());
    }
}
