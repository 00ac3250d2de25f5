//! Stock movements per (variant, warehouse), as transaction actions.
//!
//! A variant's stock lives in one row per warehouse (`StockRecord`,
//! `PRODUCT#<p>/STOCK#<sku>#<warehouse>`): every movement's condition guards that row. The
//! variant item keeps the sums (`stock`, `reserved`, `available`) and `warehouses`, the
//! available units per warehouse, updated in the same transaction, so the sums always equal the
//! rows and the checkout can choose a warehouse from the variant alone.
//!
//! - reserving (checkout) and releasing (cancel, expiry) move units between `available` and
//!   `reserved` of one row;
//! - selling (delivery) takes reserved units out of `stock`, with a `sale` ledger entry;
//! - [`Change`]s (adjustments, transfers, accepted returns) add or remove stock with a ledger
//!   entry, and put `StockLow` in the same transaction when they cross a threshold downwards:
//!   the crossing is decided from the values read, and the conditions pin those values (a
//!   concurrent write makes the transaction fail, and [`apply`] reads again and retries), so an
//!   alert is never lost between the write and a second step, nor raised twice.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use crate::events::{self, DomainEvent, StockChanged, StockLow};
use crate::products::{LedgerRecord, ProductParts, ProductRecord, VariantRecord};
use crate::store::{Db, StoreError, keys, n, s, tx};
use crate::warehouses::StockRecord;

/// Most units one variant may hold in one warehouse, and over all of them: repeated restocks
/// cannot grow a stock past what every reader's `i64` holds.
pub const MAX_STOCK: i64 = 1_000_000_000;

fn zero() -> AttributeValue {
    n(0)
}

/// Reserves `quantity` of a variant in `warehouse_id`: the row's condition is what keeps the
/// warehouse from overselling.
pub fn reserve(
    table: &str,
    product_id: &str,
    sku: &str,
    warehouse_id: &str,
    quantity: i64,
) -> Result<[TransactWriteItem; 2], StoreError> {
    Ok([
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::warehouse_stock(product_id, sku, warehouse_id),
                update: "ADD reserved :q, available :minus",
                condition: Some("attribute_exists(PK) AND available >= :q"),
                names: &[],
                values: vec![(":q", n(quantity)), (":minus", n(-quantity))],
            },
        )?,
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(product_id, sku),
                update: "SET warehouses.#w = warehouses.#w - :q ADD reserved :q, available :minus, rev :one",
                condition: Some("attribute_exists(PK)"),
                names: &[("#w", warehouse_id)],
                values: vec![
                    (":q", n(quantity)),
                    (":minus", n(-quantity)),
                    (":one", n(1)),
                ],
            },
        )?,
    ])
}

/// Gives `quantity` reserved units back to `available` (cancel, expiry, failed payment).
pub fn release(
    table: &str,
    product_id: &str,
    sku: &str,
    warehouse_id: &str,
    quantity: i64,
) -> Result<[TransactWriteItem; 2], StoreError> {
    Ok([
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::warehouse_stock(product_id, sku, warehouse_id),
                update: "ADD reserved :minus, available :q",
                condition: Some("reserved >= :q"),
                names: &[],
                values: vec![(":q", n(quantity)), (":minus", n(-quantity))],
            },
        )?,
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(product_id, sku),
                update: "SET warehouses.#w = if_not_exists(warehouses.#w, :zero) + :q ADD reserved :minus, available :q, rev :one",
                condition: Some("reserved >= :q"),
                names: &[("#w", warehouse_id)],
                values: vec![
                    (":q", n(quantity)),
                    (":minus", n(-quantity)),
                    (":one", n(1)),
                    (":zero", zero()),
                ],
            },
        )?,
    ])
}

/// Takes `quantity` reserved units out of the stock for good (delivery), with its `sale`
/// ledger entry.
pub fn sell(
    table: &str,
    product_id: &str,
    sku: &str,
    warehouse_id: &str,
    quantity: i64,
    order_id: &str,
) -> Result<[TransactWriteItem; 3], StoreError> {
    let update = |key| {
        tx::update(
            table,
            tx::UpdateSpec {
                key,
                update: "ADD stock :minus, reserved :minus",
                condition: Some("reserved >= :q"),
                names: &[],
                values: vec![(":minus", n(-quantity)), (":q", n(quantity))],
            },
        )
    };
    Ok([
        update(keys::warehouse_stock(product_id, sku, warehouse_id))?,
        update(keys::variant(product_id, sku))?,
        tx::put_new(
            table,
            &LedgerRecord::new(
                product_id,
                sku,
                -quantity,
                "sale",
                &format!("order:{order_id}"),
            )
            .at_warehouse(warehouse_id),
        )?,
    ])
}

/// Puts `quantity` sold units back into the warehouse they left from (an accepted return),
/// with its `return` ledger entry.
pub fn restock(
    table: &str,
    product_id: &str,
    sku: &str,
    warehouse_id: &str,
    quantity: i64,
    order_id: &str,
) -> Result<[TransactWriteItem; 3], StoreError> {
    Ok([
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::warehouse_stock(product_id, sku, warehouse_id),
                update: "ADD stock :q, available :q",
                condition: Some("attribute_exists(PK)"),
                names: &[],
                values: vec![(":q", n(quantity))],
            },
        )?,
        tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(product_id, sku),
                update: "SET warehouses.#w = if_not_exists(warehouses.#w, :zero) + :q ADD stock :q, available :q, rev :one",
                condition: Some("attribute_exists(PK)"),
                names: &[("#w", warehouse_id)],
                values: vec![(":q", n(quantity)), (":one", n(1)), (":zero", zero())],
            },
        )?,
        tx::put_new(
            table,
            &LedgerRecord::new(
                product_id,
                sku,
                quantity,
                "return",
                &format!("order:{order_id}"),
            )
            .at_warehouse(warehouse_id),
        )?,
    ])
}

/// One change of a variant's stock in one warehouse, with the reason its ledger entry gives.
#[derive(Debug, Clone)]
pub struct Change {
    pub product_id: String,
    pub sku: String,
    pub warehouse_id: String,
    /// Units added (positive) or removed (negative); 0 writes only the ledger entry (a damaged
    /// return, a transfer's missing units).
    pub delta: i64,
    pub reason: String,
    pub note: Option<String>,
    /// Emit `StockChanged` (adjustments, returns; a transfer moves stock within the shop's
    /// warehouses and says so with its own events).
    pub announce: bool,
}

/// Whether a removal crosses a threshold downwards (from above it to at or below it), and the
/// range of `available` from which it does: `threshold + 1 ..= threshold - delta`. The write
/// is conditional on the stored value being in (or out of) that range, as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Crossing {
    crosses: bool,
    lo: i64,
    hi: i64,
}

fn crossing(before: i64, delta: i64, threshold: i64) -> Option<Crossing> {
    if delta >= 0 {
        return None;
    }
    let (lo, hi) = (threshold + 1, threshold - delta);
    Some(Crossing {
        crosses: (lo..=hi).contains(&before),
        lo,
        hi,
    })
}

/// Why a change cannot apply, from the values read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The variant (or product) does not exist.
    Unknown,
    /// Not enough available units in that warehouse.
    NotEnough { available: i64 },
    /// The stock would pass [`MAX_STOCK`].
    TooMuch,
    /// The variant's stock predates warehouses and `make migrate` has not moved it yet.
    NotMigrated,
}

/// The actions of `change` given the product as read: row (created if the warehouse has none
/// yet), variant sums, ledger entry, `StockChanged` if announced, and `StockLow` for the
/// warehouse and for the shop total when this change crosses their thresholds.
pub fn change_actions(
    table: &str,
    parts: &ProductParts,
    change: &Change,
    actor: &str,
) -> Result<Result<Vec<TransactWriteItem>, Refusal>, StoreError> {
    let product = &parts.product;
    let Some(variant) = parts.variant(&change.sku) else {
        return Ok(Err(Refusal::Unknown));
    };
    if variant.warehouses.is_empty() {
        return Ok(Err(Refusal::NotMigrated));
    }
    let row = parts.stock_row(&change.sku, &change.warehouse_id);
    let (row_available, row_stock) = row.map_or((0, 0), |r| (r.available, r.stock));
    let row_threshold = row.map_or(variant.low_stock_threshold, |r| r.low_stock_threshold);
    if row_available + change.delta < 0 {
        return Ok(Err(Refusal::NotEnough {
            available: row_available,
        }));
    }
    if row_stock + change.delta > MAX_STOCK || variant.stock + change.delta > MAX_STOCK {
        return Ok(Err(Refusal::TooMuch));
    }
    let mut actions = Vec::new();
    let mut lows = Vec::new();
    if change.delta != 0 {
        let row_cross = crossing(row_available, change.delta, row_threshold);
        let total_cross = crossing(variant.available, change.delta, variant.low_stock_threshold);
        actions.push(row_action(
            table,
            product,
            variant,
            change,
            row_threshold,
            row_cross.as_ref(),
        )?);
        actions.push(variant_action(table, change, total_cross.as_ref())?);
        // With one warehouse its crossing is the total's: one alert says it.
        if row_cross.is_some_and(|c| c.crosses) && variant.warehouses.len() > 1 {
            lows.push((
                Some(change.warehouse_id.clone()),
                row_available + change.delta,
                row_threshold,
            ));
        }
        if total_cross.is_some_and(|c| c.crosses) {
            lows.push((
                None,
                variant.available + change.delta,
                variant.low_stock_threshold,
            ));
        }
    }
    let mut entry = LedgerRecord::new(
        &product.id,
        &change.sku,
        change.delta,
        &change.reason,
        actor,
    )
    .at_warehouse(&change.warehouse_id);
    entry.note = change.note.clone();
    actions.push(tx::put_new(table, &entry)?);
    if change.announce && change.delta != 0 {
        actions.push(events::outbox_put(
            table,
            &DomainEvent::StockChanged(StockChanged {
                product_id: product.id.clone(),
                shop_id: product.shop_id.clone(),
                sku: change.sku.clone(),
                delta: change.delta,
                reason: change.reason.clone(),
            }),
        )?);
    }
    for (warehouse_id, available, threshold) in lows {
        actions.push(events::outbox_put(
            table,
            &DomainEvent::StockLow(StockLow {
                product_id: product.id.clone(),
                shop_id: product.shop_id.clone(),
                org_id: product.org_id.clone(),
                sku: change.sku.clone(),
                available,
                threshold,
                warehouse_id,
            }),
        )?);
    }
    Ok(Ok(actions))
}

/// The guard a crossing decision puts on `available`.
fn crossing_condition(c: Option<&Crossing>) -> Option<&'static str> {
    c.map(|c| {
        if c.crosses {
            "available BETWEEN :lo AND :hi"
        } else {
            "NOT (available BETWEEN :lo AND :hi)"
        }
    })
}

fn row_action(
    table: &str,
    product: &ProductRecord,
    variant: &VariantRecord,
    change: &Change,
    threshold: i64,
    cross: Option<&Crossing>,
) -> Result<TransactWriteItem, StoreError> {
    let fresh = StockRecord::new(
        &product.id,
        &product.name,
        &product.shop_id,
        &product.org_id,
        &change.sku,
        &change.warehouse_id,
        0,
        variant.low_stock_threshold,
    );
    let d = change.delta;
    // Removing needs the row and its units; adding creates the row if the warehouse had none.
    let mut condition = if d < 0 {
        "available >= :need".to_owned()
    } else {
        "(attribute_not_exists(PK) OR stock <= :ceiling)".to_owned()
    };
    if let Some(c) = crossing_condition(cross) {
        condition.push_str(" AND ");
        condition.push_str(c);
    }
    let mut values = vec![
        (":d", n(d)),
        (":zero", zero()),
        (":thr", n(threshold)),
        (":g1", s(fresh.gsi1pk)),
        (":g1s", s(fresh.gsi1sk)),
        (":g2", s(fresh.gsi2pk)),
        (":g2s", s(fresh.gsi2sk)),
        (":entity", s(fresh.entity_type)),
        (":product", s(fresh.product_id)),
        (":name", s(fresh.product_name)),
        (":shop", s(fresh.shop_id)),
        (":org", s(fresh.org_id)),
        (":sku", s(fresh.sku)),
        (":wh", s(fresh.warehouse_id)),
    ];
    if d < 0 {
        values.push((":need", n(-d)));
    } else {
        values.push((":ceiling", n(MAX_STOCK - d)));
    }
    if let Some(c) = cross {
        values.push((":lo", n(c.lo)));
        values.push((":hi", n(c.hi)));
    }
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::warehouse_stock(&product.id, &change.sku, &change.warehouse_id),
            update: "SET stock = if_not_exists(stock, :zero) + :d, \
                     available = if_not_exists(available, :zero) + :d, \
                     reserved = if_not_exists(reserved, :zero), \
                     low_stock_threshold = if_not_exists(low_stock_threshold, :thr), \
                     GSI1PK = :g1, GSI1SK = :g1s, GSI2PK = :g2, GSI2SK = :g2s, \
                     entity_type = :entity, product_id = :product, product_name = :name, \
                     shop_id = :shop, org_id = :org, sku = :sku, warehouse_id = :wh",
            condition: Some(&condition),
            names: &[],
            values,
        },
    )
}

fn variant_action(
    table: &str,
    change: &Change,
    cross: Option<&Crossing>,
) -> Result<TransactWriteItem, StoreError> {
    let d = change.delta;
    let mut condition = "attribute_exists(PK)".to_owned();
    if d > 0 {
        condition.push_str(" AND stock <= :ceiling");
    }
    if let Some(c) = crossing_condition(cross) {
        condition.push_str(" AND ");
        condition.push_str(c);
    }
    let mut values = vec![(":d", n(d)), (":one", n(1)), (":zero", zero())];
    if d > 0 {
        values.push((":ceiling", n(MAX_STOCK - d)));
    }
    if let Some(c) = cross {
        values.push((":lo", n(c.lo)));
        values.push((":hi", n(c.hi)));
    }
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::variant(&change.product_id, &change.sku),
            update: "SET warehouses.#w = if_not_exists(warehouses.#w, :zero) + :d \
                     ADD stock :d, available :d, rev :one",
            condition: Some(&condition),
            names: &[("#w", &change.warehouse_id)],
            values,
        },
    )
}

/// Why [`apply`] wrote nothing.
#[derive(Debug)]
pub enum ApplyError {
    /// `changes[index]` cannot apply to the stock as it now is.
    Refused {
        index: usize,
        refusal: Refusal,
    },
    /// One of the caller's own actions (`extra[index]`) failed its condition.
    Extra {
        index: usize,
    },
    /// Concurrent writes kept changing the stock (after several attempts).
    Busy,
    Store(StoreError),
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// How often [`apply`] reads again after a concurrent write changed what it decided on.
const ATTEMPTS: usize = 8;

/// Applies `changes` (any products) and the caller's `extra` actions (first in the
/// transaction: e.g. a transfer's conditional status change) all or nothing: reads each
/// product (one Query each), builds the actions from what it read, writes them in one
/// transaction; when a concurrent write moved a value a decision rested on, reads again.
/// Returns the products as read before the write that succeeded.
pub async fn apply(
    db: &Db,
    changes: &[Change],
    actor: &str,
    extra: &(dyn Fn() -> Result<Vec<TransactWriteItem>, StoreError> + Sync),
) -> Result<Vec<ProductParts>, ApplyError> {
    // A transaction may write an item once: one moving change per variant.
    let mut moving: Vec<(&str, &str)> = changes
        .iter()
        .filter(|c| c.delta != 0)
        .map(|c| (c.product_id.as_str(), c.sku.as_str()))
        .collect();
    moving.sort_unstable();
    if moving.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApplyError::Store(StoreError::Other(anyhow::anyhow!(
            "a variant's stock moves twice in one transaction"
        ))));
    }
    for _ in 0..ATTEMPTS {
        let mut parts: Vec<ProductParts> = Vec::new();
        for c in changes {
            if parts.iter().any(|p| p.product.id == c.product_id) {
                continue;
            }
            match crate::products::load_product_parts(db, &c.product_id).await? {
                Some(p) => parts.push(p),
                None => {
                    let index = changes.iter().position(|x| x.product_id == c.product_id);
                    return Err(ApplyError::Refused {
                        index: index.unwrap_or_default(),
                        refusal: Refusal::Unknown,
                    });
                }
            }
        }
        let mut actions = extra()?;
        let extra_len = actions.len();
        let mut owner = Vec::new(); // which change each action belongs to
        for (i, c) in changes.iter().enumerate() {
            let product = parts
                .iter()
                .find(|p| p.product.id == c.product_id)
                .expect("loaded above");
            match change_actions(&db.table, product, c, actor)? {
                Ok(a) => {
                    owner.extend(std::iter::repeat_n(i, a.len()));
                    actions.extend(a);
                }
                Err(refusal) => return Err(ApplyError::Refused { index: i, refusal }),
            }
        }
        if actions.len() > crate::store::MAX_TRANSACTION_ITEMS {
            return Err(ApplyError::Store(StoreError::Other(anyhow::anyhow!(
                "{} stock actions do not fit one transaction",
                actions.len()
            ))));
        }
        match db.transact(actions).await {
            Ok(()) => return Ok(parts),
            Err(e) => match e.failed_condition_index() {
                Some(i) if i < extra_len => return Err(ApplyError::Extra { index: i }),
                // A stock condition: the values moved since they were read (or the units are
                // gone, which the next read finds and refuses). Read again.
                Some(_) => continue,
                None => return Err(e.into()),
            },
        }
    }
    Err(ApplyError::Busy)
}

/// The stock row and variant map of an existing variant's stock placed in `warehouse_id`
/// (a new product's opening stock, `make migrate`): puts, conditional on not existing.
pub fn opening_row(
    product: &ProductRecord,
    variant: &VariantRecord,
    warehouse_id: &str,
) -> StockRecord {
    let mut row = StockRecord::new(
        &product.id,
        &product.name,
        &product.shop_id,
        &product.org_id,
        &variant.sku,
        warehouse_id,
        variant.stock,
        variant.low_stock_threshold,
    );
    row.reserved = variant.reserved;
    row.available = variant.stock - variant.reserved;
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crossing_is_from_above_the_threshold_to_at_or_below_it() {
        // threshold 5: 7 - 2 = 5 crosses; 6 - 3 = 3 crosses; 5 - 1 was already low; 9 - 3 = 6
        // stays above; adding never crosses downwards.
        let crosses = |before, delta| crossing(before, delta, 5).map(|c| c.crosses);
        assert_eq!(crosses(7, -2), Some(true));
        assert_eq!(crosses(6, -3), Some(true));
        assert_eq!(crosses(5, -1), Some(false));
        assert_eq!(crosses(9, -3), Some(false));
        assert_eq!(crosses(3, 4), None);
        // the guard's range is exactly the values from which the change crosses
        let c = crossing(7, -2, 5).unwrap();
        assert_eq!((c.lo, c.hi), (6, 7));
    }
}
