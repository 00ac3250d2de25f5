//! The buyer's cart: one item per buyer (`CART#<user>/CART`) whose attributes are the lines
//! (`L#<product>#<sku>`), the lines saved for later (`S#<product>#<sku>`), the applied shop
//! vouchers (`V#<shop>`) and the platform voucher. One GetItem reads it; edits of different
//! lines are independent updates of one item; checkout removes its lines in one action that
//! is conditional on each quantity it priced, so a cart edited during checkout fails it cleanly.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};

use crate::domain::Money;
use crate::store::{Db, Item, StoreError, keys, n, tx};

/// Most lines a cart holds (saved-for-later lines not counted).
pub const MAX_CART_LINES: i64 = 100;

/// One line of the cart, as stored in its attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLine {
    pub quantity: i64,
    pub shop_id: String,
    /// The price the buyer saw when adding it (to flag a change since).
    pub price_when_added: Money,
    pub added_at: String,
}

/// A line together with what identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: String,
    pub sku: String,
    pub line: StoredLine,
}

/// The cart as read from its item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    /// In the order they were added.
    pub lines: Vec<CartLine>,
    pub saved: Vec<CartLine>,
    /// Shop id → applied code.
    pub shop_vouchers: BTreeMap<String, String>,
    pub platform_voucher: Option<String>,
}

fn split_attr<'a>(name: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    name.strip_prefix(prefix)?.split_once('#')
}

impl Cart {
    /// Reads the cart's attributes; unknown attributes (keys, counters) are ignored.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        let mut cart = Cart::default();
        for (name, value) in item {
            if let Some((product_id, sku)) = split_attr(&name, keys::CART_LINE_PREFIX) {
                cart.lines.push(CartLine {
                    product_id: product_id.into(),
                    sku: sku.into(),
                    line: serde_dynamo::from_attribute_value(value).map_err(|e| {
                        StoreError::Other(anyhow::Error::new(e).context("reading a cart line"))
                    })?,
                });
            } else if let Some((product_id, sku)) = split_attr(&name, keys::CART_SAVED_PREFIX) {
                cart.saved.push(CartLine {
                    product_id: product_id.into(),
                    sku: sku.into(),
                    line: serde_dynamo::from_attribute_value(value).map_err(|e| {
                        StoreError::Other(anyhow::Error::new(e).context("reading a saved line"))
                    })?,
                });
            } else if let Some(shop) = name.strip_prefix(keys::CART_SHOP_VOUCHER_PREFIX) {
                if let AttributeValue::S(code) = value {
                    cart.shop_vouchers.insert(shop.into(), code);
                }
            } else if name == keys::CART_PLATFORM_VOUCHER
                && let AttributeValue::S(code) = value
            {
                cart.platform_voucher = Some(code);
            }
        }
        let by_time = |a: &CartLine, b: &CartLine| {
            (&a.line.added_at, &a.product_id, &a.sku).cmp(&(
                &b.line.added_at,
                &b.product_id,
                &b.sku,
            ))
        };
        cart.lines.sort_by(by_time);
        cart.saved.sort_by(by_time);
        Ok(cart)
    }

    pub fn line(&self, product_id: &str, sku: &str) -> Option<&CartLine> {
        self.lines
            .iter()
            .find(|l| l.product_id == product_id && l.sku == sku)
    }
}

/// The buyer's cart (empty if they never had one).
pub async fn load(db: &Db, user_id: &str) -> Result<Cart, StoreError> {
    db.get_item(keys::cart(user_id))
        .await?
        .map(Cart::from_item)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The checkout's action on the cart: remove exactly the lines it priced, each only if its
/// quantity is still the one priced (else the transaction fails and nothing is placed).
pub fn remove_purchased(
    table: &str,
    user_id: &str,
    purchased: &[CartLine],
) -> Result<TransactWriteItem, StoreError> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut values: Vec<(String, AttributeValue)> =
        vec![(":gone".into(), n(-(purchased.len() as i64)))];
    let mut removes = Vec::new();
    let mut conditions = Vec::new();
    for (i, l) in purchased.iter().enumerate() {
        names.push((
            format!("#l{i}"),
            keys::cart_line_attr(&l.product_id, &l.sku),
        ));
        values.push((format!(":q{i}"), n(l.line.quantity)));
        removes.push(format!("#l{i}"));
        conditions.push(format!("#l{i}.quantity = :q{i}"));
    }
    let update = format!("REMOVE {} ADD line_count :gone", removes.join(", "));
    let condition = conditions.join(" AND ");
    let name_refs: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    tx::update(
        table,
        tx::UpdateSpec {
            key: keys::cart(user_id),
            update: &update,
            condition: Some(&condition),
            names: &name_refs,
            values: values
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
        },
    )
}

/// Why a line could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddLineError {
    #[error("the cart already holds {MAX_CART_LINES} lines")]
    CartFull,
    #[error("the cart holds items priced in another currency")]
    OtherCurrency,
    #[error("a cart line holds at most {max} units", max = crate::domain::checkout::MAX_LINE_QUANTITY)]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AddLineError> for crate::ApiError {
    fn from(e: AddLineError) -> Self {
        match e {
            AddLineError::Store(e) => e.into(),
            other => crate::ApiError::Conflict(other.to_string()),
        }
    }
}

/// Adds `line.quantity` units of a variant to the cart: to its line if there is one (up to
/// [`crate::domain::checkout::MAX_LINE_QUANTITY`]), else as a new line (up to [`MAX_CART_LINES`], and
/// only in the cart's currency). Each case is one conditional UpdateItem; the cart is read only
/// to explain a refusal. A line created by a concurrent add between the two updates is merged
/// into on the next attempt.
pub async fn add_line(
    db: &Db,
    user_id: &str,
    product_id: &str,
    sku: &str,
    line: StoredLine,
) -> Result<(), AddLineError> {
    let attr = keys::cart_line_attr(product_id, sku);
    let names = [("#a", attr.as_str())];
    let room = crate::domain::checkout::MAX_LINE_QUANTITY - line.quantity;
    let currency = crate::store::s(format!("{:?}", line.price_when_added.currency));
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let merged = db
            .update(tx::UpdateSpec {
                key: keys::cart(user_id),
                update: "SET #a.quantity = #a.quantity + :q",
                condition: Some("attribute_exists(#a) AND #a.quantity <= :room"),
                names: &names,
                values: vec![(":q", n(line.quantity)), (":room", n(room))],
            })
            .await;
        match merged {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let created = db
            .update(tx::UpdateSpec {
                key: keys::cart(user_id),
                update: "SET #a = :line, currency = :c ADD line_count :one",
                condition: Some(
                    "attribute_not_exists(#a) AND (attribute_not_exists(line_count) OR line_count < :max) \
                     AND (attribute_not_exists(currency) OR currency = :c OR line_count = :zero)",
                ),
                names: &names,
                values: vec![
                    (":line", crate::store::value(&line)?),
                    (":c", currency.clone()),
                    (":one", n(1)),
                    (":max", n(MAX_CART_LINES)),
                    (":zero", n(0)),
                ],
            })
            .await;
        match created {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let cart = load(db, user_id).await?;
        let refusal = match cart.line(product_id, sku) {
            // created concurrently since the merge was tried: merge again while there is room
            Some(held) if held.line.quantity <= room && attempt < ATTEMPTS => continue,
            Some(_) => AddLineError::TooMany,
            None if cart.lines.len() as i64 >= MAX_CART_LINES => AddLineError::CartFull,
            None => AddLineError::OtherCurrency,
        };
        return Err(refusal);
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn a_cart_item_reads_back_lines_saved_lines_and_vouchers() {
        let line = |q: i64, at: &str| StoredLine {
            quantity: q,
            shop_id: "S1".into(),
            price_when_added: Money::new(1_000, Currency::VND),
            added_at: at.into(),
        };
        let mut item: Item = crate::store::key(keys::cart("u1"));
        item.insert("line_count".into(), n(2));
        for (attr, l) in [
            (keys::cart_line_attr("P2", "B"), line(1, "2026-01-02")),
            (keys::cart_line_attr("P1", "A-1"), line(3, "2026-01-01")),
            (keys::cart_saved_attr("P3", "C"), line(1, "2026-01-03")),
        ] {
            item.insert(attr, serde_dynamo::to_attribute_value(l).unwrap());
        }
        item.insert(
            keys::cart_shop_voucher_attr("S1"),
            AttributeValue::S("SHOP10".into()),
        );
        item.insert(
            keys::CART_PLATFORM_VOUCHER.into(),
            AttributeValue::S("PLAT".into()),
        );
        let cart = Cart::from_item(item).unwrap();
        let ids: Vec<_> = cart
            .lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.sku.as_str(), l.line.quantity))
            .collect();
        assert_eq!(ids, [("P1", "A-1", 3), ("P2", "B", 1)]);
        assert_eq!(cart.saved[0].product_id, "P3");
        assert_eq!(cart.shop_vouchers["S1"], "SHOP10");
        assert_eq!(cart.platform_voucher.as_deref(), Some("PLAT"));
    }
}
