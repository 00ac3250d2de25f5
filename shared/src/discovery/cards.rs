//! What discovery lists show: product, shop and category cards, read with BatchGetItem. Only
//! what a buyer may see comes back: active products of active shops (an archived product or a
//! suspended shop's product is dropped), active shops, existing categories.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::{ShopRecord, ShopStatus};
use crate::products::{ListingItem, ProductCard, ProductRecord, ProductStatus};
use crate::store::{Db, Item, StoreError, from_item, keys};

/// A shop as discovery lists show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopCard {
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
}

/// A category as discovery lists show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CategoryCard {
    pub id: String,
    pub name: String,
}

fn sk_of(item: &Item) -> &str {
    item.get("SK").and_then(|v| v.as_s().ok()).map_or("", |s| s)
}

/// The product items of `ids` (any status), by id.
pub async fn products(
    db: &Db,
    ids: &[String],
) -> Result<HashMap<String, ProductRecord>, StoreError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::product(id)).collect();
    let mut out = HashMap::new();
    for item in db.batch_get(&keys).await? {
        let p: ProductRecord = from_item(item)?;
        out.insert(p.id.clone(), p);
    }
    Ok(out)
}

/// Cards of the products of `ids` a buyer may see, by id: two BatchGetItems (the products, then
/// their listing rows, which carry the lowest price and exist only while a product is active,
/// with their shops).
pub async fn product_cards(
    db: &Db,
    ids: &[String],
) -> Result<HashMap<String, ProductCard>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let active: Vec<ProductRecord> = products(db, ids)
        .await?
        .into_values()
        .filter(|p| p.status == ProductStatus::Active)
        .collect();
    let mut wanted: Vec<(String, String)> = active
        .iter()
        .map(|p| {
            (
                keys::listing_all_shard(keys::listing_shard(&p.id)),
                keys::listing_newest_sk(&p.created_at, &p.id),
            )
        })
        .collect();
    wanted.extend(active.iter().map(|p| keys::shop_profile(&p.shop_id)));
    let mut cards = HashMap::new();
    let mut open_shops = std::collections::HashSet::new();
    for item in db.batch_get(&wanted).await? {
        if sk_of(&item) == keys::PROFILE {
            let shop: ShopRecord = from_item(item)?;
            if shop.status == ShopStatus::Active {
                open_shops.insert(shop.id);
            }
        } else {
            let row: ListingItem = from_item(item)?;
            cards.insert(row.card.id.clone(), row.card);
        }
    }
    cards.retain(|_, c| open_shops.contains(&c.shop_id));
    Ok(cards)
}

/// Cards of the active shops of `ids`, by id.
pub async fn shop_cards(db: &Db, ids: &[String]) -> Result<HashMap<String, ShopCard>, StoreError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::shop_profile(id)).collect();
    let mut out = HashMap::new();
    for item in db.batch_get(&keys).await? {
        let shop: ShopRecord = from_item(item)?;
        if shop.status == ShopStatus::Active {
            out.insert(
                shop.id.clone(),
                ShopCard {
                    id: shop.id,
                    name: shop.name,
                    logo_url: shop.logo_url,
                },
            );
        }
    }
    Ok(out)
}

/// Cards of the categories of `ids`, by id.
pub async fn category_cards(
    db: &Db,
    ids: &[String],
) -> Result<HashMap<String, CategoryCard>, StoreError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::category(id)).collect();
    let mut out = HashMap::new();
    for item in db.batch_get(&keys).await? {
        let c: CategoryCard = from_item(item)?;
        out.insert(c.id.clone(), c);
    }
    Ok(out)
}
