//! The search document of a product, built from the catalogue's records.
//!
//! A product is in the index while it is `active`, has at least one variant and its shop is
//! active; otherwise [`build`] returns `None` and the indexer deletes the document. Prices are
//! the *effective* prices (list price less an active discount) in minor units, as the product
//! page shows them; `in_stock` is whether any variant has units available.
//!
//! # Versions
//!
//! Documents are written with `version_type=external` and [`version`]: the product's `version`
//! (bumped by every product write, prices included) plus every variant's `rev` (bumped by every
//! write that changes its availability) plus the stats item's `rev` (bumped with its sales
//! count) plus the shop's `rev` (bumped by every shop write: name, city, suspension). Each
//! write to one of those items raises exactly one term, so the sum grows with every change and
//! an indexer holding an older read gets a version conflict instead of overwriting a newer
//! document. Category and brand renames are not versioned: they reach documents with the
//! products' next change or a reindex.
//!
//! Prices also change with time alone, when a discount window opens or closes. So the version
//! is that sum × [`EDGE_SLOTS`] plus the number of discount boundaries (starts and ends) already
//! passed when the document was built ([`price_edges`]): for one state it grows as boundaries
//! pass, and any change of state outgrows every count. The indexer records each document's
//! next boundary, and a scheduled tick rebuilds the documents whose boundary has passed.

use serde::{Deserialize, Serialize};
use shared::catalog::{ShopRecord, ShopStatus};
use shared::domain::effective_price;
use shared::products::{ProductRecord, ProductStatus, VariantRecord};

use crate::text::normalise;

/// `{lat, lon}` as OpenSearch's `geo_point` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

/// One indexed product. Field names are the index mapping's ([`crate::index::settings`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDoc {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// The leaf category.
    pub category_id: String,
    /// Category ids from the root to the leaf (a filter on a parent finds its children's).
    pub category_path: Vec<String>,
    /// Their names, same order (searchable text).
    pub category_names: Vec<String>,
    /// The leaf category's name (facet labels).
    pub category_name: String,
    pub shop_id: String,
    pub shop_name: String,
    pub shop_city: String,
    pub shop_location: GeoPoint,
    /// `name=value` of every variant attribute (`size=M`), lower-cased.
    pub attributes: Vec<String>,
    pub currency: shared::domain::Currency,
    /// Lowest and highest effective price over the variants (minor units).
    pub price_min: i64,
    pub price_max: i64,
    pub in_stock: bool,
    /// Average stars, 0 until reviews exist.
    pub rating: f64,
    pub rating_count: u64,
    /// Units sold (placed orders).
    pub sales: i64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// What a document is built from, as the indexer read it.
pub struct Source<'a> {
    pub product: &'a ProductRecord,
    pub variants: &'a [VariantRecord],
    pub shop: Option<&'a ShopRecord>,
    /// `(id, name)` from the root to the product's category.
    pub categories: &'a [(String, String)],
    pub brand: Option<&'a str>,
    pub sales: i64,
}

/// The document, or `None` when the product must not be searchable (not active, no variant,
/// shop missing or suspended). `now` (epoch seconds) decides which discounts are active.
pub fn build(src: &Source<'_>, now: i64) -> Option<ProductDoc> {
    let p = src.product;
    let shop = src.shop.filter(|s| s.status == ShopStatus::Active)?;
    if p.status != ProductStatus::Active || src.variants.is_empty() {
        return None;
    }
    let prices: Vec<i64> = src
        .variants
        .iter()
        .map(|v| effective_price(v.price, v.discount.as_ref(), now).amount)
        .collect();
    let mut attributes: Vec<String> = src
        .variants
        .iter()
        .flat_map(|v| v.attributes.iter())
        .map(|(k, v)| attribute(k, v))
        .collect();
    attributes.sort();
    attributes.dedup();
    let (category_path, category_names) = if src.categories.is_empty() {
        (vec![p.category_id.clone()], Vec::new())
    } else {
        src.categories
            .iter()
            .map(|(id, name)| (id.clone(), normalise(name)))
            .unzip()
    };
    Some(ProductDoc {
        id: p.id.clone(),
        name: normalise(&p.name),
        description: normalise(&p.description),
        brand_id: p.brand_id.clone(),
        brand: src.brand.map(normalise),
        category_id: p.category_id.clone(),
        category_name: category_names.last().cloned().unwrap_or_default(),
        category_path,
        category_names,
        shop_id: shop.id.clone(),
        shop_name: normalise(&shop.name),
        shop_city: normalise(&shop.address.city),
        shop_location: GeoPoint {
            lat: shop.address.location.lat,
            lon: shop.address.location.lng,
        },
        attributes,
        currency: src.variants[0].price.currency,
        price_min: prices.iter().copied().min().unwrap_or(0),
        price_max: prices.iter().copied().max().unwrap_or(0),
        in_stock: src.variants.iter().any(|v| v.available > 0),
        rating: 0.0,
        rating_count: 0,
        sales: src.sales,
        created_at: p.created_at.clone(),
        image_url: p
            .media
            .first()
            .map(|m| m.thumbnails.get("200").unwrap_or(&m.original_url).clone()),
    })
}

/// `size=m` from `Size`/`M`: how attribute filters name a value.
pub fn attribute(name: &str, value: &str) -> String {
    format!("{}={}", attribute_part(name), attribute_part(value))
}

/// An attribute name or value as indexed: NFC, trimmed, lower case.
pub fn attribute_part(s: &str) -> String {
    normalise(s).to_lowercase()
}

/// Room in a document's version for the discount boundaries of one state.
pub const EDGE_SLOTS: u64 = 1024;

/// The external version of a product's document built at `now` (see the module docs).
pub fn version(
    product: &ProductRecord,
    variants: &[VariantRecord],
    stats_rev: u64,
    shop: Option<&ShopRecord>,
    now: i64,
) -> u64 {
    let state = product.version
        + variants.iter().map(|v| v.rev).sum::<u64>()
        + stats_rev
        + shop.map_or(0, |s| s.rev);
    let (passed, _) = price_edges(variants, now);
    state * EDGE_SLOTS + passed.min(EDGE_SLOTS - 1)
}

/// The variants' discount boundaries (`starts_at` and `ends_at`, a window being
/// `[starts_at, ends_at)`): how many have passed at `now`, and the next one after `now`. Pure.
pub fn price_edges(variants: &[VariantRecord], now: i64) -> (u64, Option<i64>) {
    let mut passed = 0;
    let mut next: Option<i64> = None;
    let edges = variants
        .iter()
        .filter_map(|v| v.discount.as_ref())
        .flat_map(|d| [d.starts_at, d.ends_at]);
    for edge in edges {
        if edge <= now {
            passed += 1;
        } else {
            next = Some(next.map_or(edge, |n| n.min(edge)));
        }
    }
    (passed, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn variant(window: Option<(i64, i64)>, rev: u64) -> VariantRecord {
        let discount = window.map(|(starts_at, ends_at)| {
            json!({"kind": "percentage", "value": 2000, "starts_at": starts_at, "ends_at": ends_at})
        });
        serde_json::from_value(json!({
            "PK": "PRODUCT#p", "SK": "VARIANT#A", "entity_type": "variant", "product_id": "p",
            "sku": "A", "attributes": {}, "price": {"amount": 100_000, "currency": "VND"},
            "discount": discount, "weight_grams": 100, "stock": 5, "reserved": 0, "available": 5,
            "low_stock_threshold": 1, "rev": rev,
        }))
        .unwrap()
    }

    fn product(version: u64) -> ProductRecord {
        serde_json::from_value(json!({
            "PK": "PRODUCT#p", "SK": "PRODUCT", "GSI2PK": "g", "GSI2SK": "g", "entity_type": "product",
            "id": "p", "shop_id": "s", "org_id": "o", "name": "n", "description": "", "category_id": "c",
            "status": "active", "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z",
            "version": version,
        }))
        .unwrap()
    }

    #[test]
    fn discount_boundaries_are_counted_once_passed_and_the_next_one_is_named() {
        let variants = [
            variant(Some((100, 200)), 0),
            variant(Some((150, 300)), 0),
            variant(None, 0),
        ];
        assert_eq!(price_edges(&variants, 99), (0, Some(100)));
        assert_eq!(
            price_edges(&variants, 100),
            (1, Some(150)),
            "a window opens at its start"
        );
        assert_eq!(
            price_edges(&variants, 200),
            (3, Some(300)),
            "and closes at its end"
        );
        assert_eq!(price_edges(&variants, 300), (4, None));
        assert_eq!(price_edges(&[variant(None, 0)], 5), (0, None));
    }

    #[test]
    fn a_passing_boundary_raises_the_version_and_any_change_of_state_outgrows_every_count() {
        let p = product(3);
        let variants = [variant(Some((100, 200)), 2)];
        let before = version(&p, &variants, 0, None, 99);
        let opened = version(&p, &variants, 0, None, 100);
        let closed = version(&p, &variants, 0, None, 250);
        assert!(before < opened && opened < closed);
        // The seller edits the product after the window closed: a newer state, and it wins
        // over the older state's document however many boundaries that one had passed.
        let edited = version(&product(4), &[variant(None, 2)], 0, None, 250);
        assert!(edited > closed);
        assert_eq!(edited, (4 + 2) * EDGE_SLOTS);
    }
}
