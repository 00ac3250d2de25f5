//! Products and their variants as stored in the table, the buyer-facing listing cards derived
//! from them, and the single-query read of a product with its variants.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{Discount, Money, effective_price};
use crate::store::{Db, StoreError, classify, from_item, keys, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    Active,
    Archived,
}

/// `PRODUCT#<id>/PRODUCT`; GSI2 lists a shop's products of any status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    pub entity_type: String,
    pub id: String,
    pub shop_id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    pub category_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<String>,
    pub status: ProductStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped on every write; writes are conditional on it (optimistic concurrency).
    pub version: u64,
    /// Processed images in display order; the first is the cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaItem>,
}

/// A SKU as the catalogue stores it (trimmed, upper-case): 1–64 ASCII letters, digits, `-` and
/// `_`, checked before upper-casing (`ß` would become `SS`); `None` if it cannot be one.
pub fn normalise_sku(sku: &str) -> Option<String> {
    let sku = sku.trim();
    let ok = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| sku.to_ascii_uppercase())
}

/// JPEG, PNG and WebP are accepted uploads.
pub const MEDIA_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
/// Largest accepted upload.
pub const MAX_MEDIA_BYTES: u64 = 10 * 1024 * 1024;
/// Thumbnail sizes (longest side, px).
pub const THUMBNAIL_SIZES: [u32; 2] = [200, 800];

/// A processed product image: the verified original and its thumbnails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaItem {
    pub id: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub original_url: String,
    /// `"200"` and `"800"` → JPEG thumbnail URL.
    pub thumbnails: BTreeMap<String, String>,
}

/// `PRODUCT#<id>/VARIANT#<sku>`: a sellable unit with its own price and stock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub product_id: String,
    pub sku: String,
    pub attributes: BTreeMap<String, String>,
    pub price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    pub weight_grams: u32,
    pub stock: i64,
    pub reserved: i64,
    /// `stock - reserved`, kept in the item so conditions can guard it.
    pub available: i64,
    pub low_stock_threshold: i64,
    /// Set while `available <= low_stock_threshold` (one `StockLow` per crossing).
    #[serde(default)]
    pub low_stock: bool,
    /// Bumped (`ADD rev :one`) by every write that changes `available`, so the search
    /// document's version grows with the stock it shows (see `product_search::doc`).
    #[serde(default)]
    pub rev: u64,
}

/// `PRODUCT#<id>/STATS`: counters the search document shows, kept by the search indexer (units
/// sold from placed orders, each order counted once). Sorts after the product item, so
/// [`load_product`]'s query reads it too; `rev` is bumped with every change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProductStats {
    #[serde(default)]
    pub sales: i64,
    #[serde(default)]
    pub rev: u64,
}

/// A product card as listings show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductCard {
    pub id: String,
    pub shop_id: String,
    pub category_id: String,
    pub name: String,
    /// The lowest list price among the variants (listing order uses it).
    pub price: Money,
    pub created_at: String,
}

/// One listing row: a card under one listing partition and one ordering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListingItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub price_amount: i64,
    #[serde(flatten)]
    pub card: ProductCard,
}

impl ProductRecord {
    pub fn card(&self, variants: &[VariantRecord]) -> Option<ProductCard> {
        let price = variants.iter().map(|v| v.price).min_by_key(|p| p.amount)?;
        Some(ProductCard {
            id: self.id.clone(),
            shop_id: self.shop_id.clone(),
            category_id: self.category_id.clone(),
            name: self.name.clone(),
            price,
            created_at: self.created_at.clone(),
        })
    }
}

/// The listing rows of a product: six while it is active (all / category / shop × newest /
/// price), none otherwise.
pub fn listing_items(product: &ProductRecord, variants: &[VariantRecord]) -> Vec<ListingItem> {
    if product.status != ProductStatus::Active {
        return Vec::new();
    }
    let Some(card) = product.card(variants) else {
        return Vec::new();
    };
    let partitions = [
        keys::listing_all(),
        keys::listing_category(&product.category_id),
        keys::listing_shop(&product.shop_id),
    ];
    let sort_keys = [
        keys::listing_newest_sk(&card.created_at, &card.id),
        keys::listing_price_sk(card.price.amount, &card.id),
    ];
    partitions
        .iter()
        .flat_map(|pk| {
            sort_keys.iter().map(|sk| ListingItem {
                pk: pk.clone(),
                sk: sk.clone(),
                entity_type: "listing".into(),
                price_amount: card.price.amount,
                card: card.clone(),
            })
        })
        .collect()
}

/// A product and its variants in one strongly consistent query (`SK >= "PRODUCT"`).
pub async fn load_product(
    db: &Db,
    product_id: &str,
) -> Result<Option<(ProductRecord, Vec<VariantRecord>)>, StoreError> {
    Ok(load_product_with_stats(db, product_id)
        .await?
        .map(|(p, v, _)| (p, v)))
}

/// [`load_product`] with the product's search counters (the same query reads them).
pub async fn load_product_with_stats(
    db: &Db,
    product_id: &str,
) -> Result<Option<(ProductRecord, Vec<VariantRecord>, ProductStats)>, StoreError> {
    let out = db
        .client
        .query()
        .table_name(&db.table)
        .key_condition_expression("PK = :pk AND SK >= :product")
        .expression_attribute_values(":pk", s(keys::product_pk(product_id)))
        .expression_attribute_values(":product", s(keys::PRODUCT_SK))
        .consistent_read(true)
        .send()
        .await
        .map_err(classify)?;
    let mut product = None;
    let mut variants = Vec::new();
    let mut stats = ProductStats::default();
    for item in out.items.unwrap_or_default() {
        match item.get("SK") {
            Some(AttributeValue::S(sk)) if sk == keys::PRODUCT_SK => {
                product = Some(from_item::<ProductRecord>(item)?)
            }
            Some(AttributeValue::S(sk)) if sk.starts_with(keys::VARIANT_PREFIX) => {
                variants.push(from_item::<VariantRecord>(item)?)
            }
            Some(AttributeValue::S(sk)) if sk == keys::PRODUCT_STATS_SK => {
                stats = from_item::<ProductStats>(item)?
            }
            _ => {}
        }
    }
    Ok(product.map(|p| (p, variants, stats)))
}

/// A variant as the API shows it, with the price a buyer pays now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variant {
    pub sku: String,
    pub attributes: BTreeMap<String, String>,
    pub price: Money,
    pub discount: Option<Discount>,
    /// `price` less an active discount, now.
    pub effective_price: Money,
    pub weight_grams: u32,
    /// Units that can be bought now.
    pub available: i64,
    pub in_stock: bool,
}

impl From<&VariantRecord> for Variant {
    fn from(v: &VariantRecord) -> Self {
        Self {
            sku: v.sku.clone(),
            attributes: v.attributes.clone(),
            price: v.price,
            discount: v.discount.clone(),
            effective_price: effective_price(v.price, v.discount.as_ref(), crate::now_epoch()),
            weight_grams: v.weight_grams,
            available: v.available.max(0),
            in_stock: v.available > 0,
        }
    }
}

/// One entry of a variant's stock ledger (`LEDGER#<product>#<sku>`). The variant's `stock` is
/// always the sum of its ledger: both are written in one transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub sku: String,
    pub delta: i64,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

impl LedgerRecord {
    pub fn new(product_id: &str, sku: &str, delta: i64, reason: &str, actor: &str) -> Self {
        let at = crate::now_rfc3339();
        let (pk, sk) = keys::ledger_entry(product_id, sku, &at, &ulid::Ulid::new().to_string());
        Self {
            pk,
            sk,
            entity_type: "stock_ledger".into(),
            sku: sku.into(),
            delta,
            reason: reason.into(),
            actor: actor.into(),
            at,
        }
    }
}

/// A product with its variants for a seller route: loaded in one query, then the caller must
/// be able to manage its shop's catalogue. A product of another organisation is simply not
/// there for the caller (404); a member whose role does not reach the shop gets 403.
pub async fn load_for_seller(
    db: &Db,
    caller: &crate::http::AuthUser,
    product_id: &str,
) -> Result<
    (
        ProductRecord,
        Vec<VariantRecord>,
        crate::catalog::ShopAccess,
    ),
    crate::ApiError,
> {
    let not_found = || crate::ApiError::NotFound("no such product in your shops".into());
    let (product, variants) = load_product(db, product_id).await?.ok_or_else(not_found)?;
    let access = crate::catalog::authorize_shop(
        db,
        caller,
        &product.shop_id,
        crate::catalog::Capability::ManageCatalog,
    )
    .await
    .map_err(|e| match e {
        crate::ApiError::NotFound(_) => not_found(),
        other => other,
    })?;
    Ok((product, variants, access))
}
