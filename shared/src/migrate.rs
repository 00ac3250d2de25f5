//! `make migrate`: brings data written before the current release to its shape. Idempotent
//! (every write is conditional; a second run changes nothing) and safe while the API serves
//! (a write that races a live one fails its condition and is read and tried again).
//!
//! 1. Every shop gets its main warehouse (`<shop>-main`, at the shop's address, serving it) and
//!    its list of serving warehouses, as new shops get them.
//! 2. Every variant whose stock predates warehouses gets its stock row in that warehouse
//!    (`stock` and `reserved` as the variant holds them, so orders in flight release or sell
//!    from it) and its per-warehouse map, in one transaction conditional on the values read.
//! 3. Every product is relisted (`products::relist_product`): listing rows move to their
//!    shards, and the prices they sort by become effective prices.
//!
//! Until it has run after a deploy, a checkout of a product not yet migrated answers 503
//! (nothing to reserve from) and its stock moves fail; run it right after `sam deploy`.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::catalog::ShopRecord;
use crate::store::{Db, StoreError, classify, keys, n, tx};

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub shops: usize,
    pub warehouses_created: usize,
    pub products: usize,
    pub variants_moved_into_warehouses: usize,
    pub products_relisted: usize,
}

/// The `id` of every item of `entity_type` (a scan projected to ids).
pub async fn entity_ids(db: &Db, entity_type: &str) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let out = db
            .client
            .scan()
            .table_name(&db.table)
            .filter_expression("entity_type = :e")
            .projection_expression("id")
            .expression_attribute_values(":e", AttributeValue::S(entity_type.into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        for item in out.items.unwrap_or_default() {
            if let Some(AttributeValue::S(id)) = item.get("id") {
                ids.push(id.clone());
            }
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(ids),
        }
    }
}

/// Runs the migration over the whole table; see the module docs.
pub async fn run(db: &Db) -> Result<Report, StoreError> {
    let mut report = Report::default();
    for shop_id in entity_ids(db, "shop").await? {
        report.shops += 1;
        report.warehouses_created += usize::from(shop(db, &shop_id).await?);
    }
    for product_id in entity_ids(db, "product").await? {
        report.products += 1;
        report.variants_moved_into_warehouses += product(db, &product_id).await?;
        report.products_relisted += 1;
        if report.products % 100 == 0 {
            tracing::info!(products = report.products, "migrating");
        }
    }
    tracing::info!(?report, "migrated");
    Ok(report)
}

/// Step 1 for one shop: whether it got its main warehouse now (false: it had it).
pub async fn shop(db: &Db, shop_id: &str) -> Result<bool, StoreError> {
    let Some(shop) = db.get::<ShopRecord>(keys::shop_profile(shop_id)).await? else {
        return Ok(false);
    };
    let actions = crate::warehouses::default_warehouse_actions(&db.table, &shop)?;
    match db.transact(actions).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Steps 2 and 3 for one product: how many of its variants moved into a warehouse now.
pub async fn product(db: &Db, product_id: &str) -> Result<usize, StoreError> {
    let moved = move_into_warehouse(db, product_id).await?;
    crate::products::relist_product(db, product_id).await?;
    Ok(moved)
}

/// Step 2 for one product: the variants without a per-warehouse map. Returns how many moved.
async fn move_into_warehouse(db: &Db, product_id: &str) -> Result<usize, StoreError> {
    let mut moved = 0;
    for _ in 0..8 {
        let Some(parts) = crate::products::load_product_parts(db, product_id).await? else {
            return Ok(moved);
        };
        let main = keys::default_warehouse_id(&parts.product.shop_id);
        let pending: Vec<_> = parts
            .variants
            .iter()
            .filter(|v| v.warehouses.is_empty() && parts.stock_row(&v.sku, &main).is_none())
            .collect();
        if pending.is_empty() {
            return Ok(moved);
        }
        let mut raced = false;
        for v in pending {
            let row = crate::stock::opening_row(&parts.product, v, &main);
            let map = AttributeValue::M([(main.clone(), n(row.available))].into());
            let actions = vec![
                tx::put_new(&db.table, &row)?,
                tx::update(
                    &db.table,
                    tx::UpdateSpec {
                        key: keys::variant(product_id, &v.sku),
                        update: "SET warehouses = :map",
                        condition: Some(
                            "attribute_exists(PK) AND (attribute_not_exists(warehouses) OR size(warehouses) = :zero) \
                             AND stock = :stock AND reserved = :reserved",
                        ),
                        names: &[],
                        values: vec![
                            (":map", map),
                            (":zero", n(0)),
                            (":stock", n(v.stock)),
                            (":reserved", n(v.reserved)),
                        ],
                    },
                )?,
            ];
            match db.transact(actions).await {
                Ok(()) => moved += 1,
                // A live write moved the variant meanwhile: read it again.
                Err(StoreError::TransactionCanceled(_)) => raced = true,
                Err(e) => return Err(e),
            }
        }
        if !raced {
            return Ok(moved);
        }
    }
    Err(StoreError::Other(anyhow::anyhow!(
        "product {product_id}: its variants kept changing while moving them into a warehouse"
    )))
}
