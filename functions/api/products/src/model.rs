//! Request and response bodies of the catalogue routes, with their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::domain::{Discount, Money};
use shared::error::FieldError;
use shared::products::{MediaItem, ProductStatus, Variant};
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

/// Most variants a product may have (one transaction writes them all).
pub const MAX_VARIANTS: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    #[schema(example = "Women's fashion")]
    pub name: String,
    /// Parent category for a subcategory (two levels).
    pub parent_id: Option<String>,
}

impl Validate for CategoryInput {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::text("name", &mut self.name, 2, 80).map_err(|e| vec![e])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// Subcategories (in the tree listing).
    #[serde(default)]
    #[schema(no_recursion)]
    pub children: Vec<Category>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    #[schema(example = "Ao Dai House")]
    pub name: String,
}

impl Validate for BrandInput {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::text("name", &mut self.name, 1, 80).map_err(|e| vec![e])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Brand {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// Unique within the shop: letters, digits, `-` and `_`.
    #[schema(example = "AODAI-RED-M")]
    pub sku: String,
    /// E.g. `{"size": "M", "colour": "red"}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub price: Money,
    pub discount: Option<Discount>,
    #[schema(example = 350, minimum = 1, maximum = 1_000_000)]
    pub weight_grams: u32,
    /// Opening stock (recorded in the ledger as a restock).
    #[serde(default)]
    pub stock: i64,
    /// `StockLow` fires when available stock falls to this or below (default 5).
    pub low_stock_threshold: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    #[schema(example = "Silk ao dai")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: String,
    pub brand_id: Option<String>,
    /// `draft` (default) or `active`.
    pub status: Option<ProductStatus>,
    /// 1 to 20 variants.
    pub variants: Vec<VariantInput>,
}

pub fn check_sku(field: &str, sku: &mut String) -> Result<(), FieldError> {
    *sku = sku.trim().to_uppercase();
    if sku.is_empty()
        || sku.len() > 64
        || !sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(FieldError::new(
            field,
            "must be 1-64 letters, digits, '-' or '_'",
        ));
    }
    Ok(())
}

fn product_text(e: &mut Errors, name: &mut String, description: &mut String) {
    e.check(validate::text("name", name, 2, 200));
    e.check(validate::text("description", description, 0, 5000));
}

impl Validate for CreateProductRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        product_text(&mut e, &mut self.name, &mut self.description);
        if self.status == Some(ProductStatus::Archived) {
            e.push("status", "a new product is draft or active");
        }
        if self.variants.is_empty() {
            e.push("variants", "a product needs at least one variant");
        }
        if self.variants.len() > MAX_VARIANTS {
            e.push("variants", "at most 20 variants");
        }
        let currency = self.variants.first().map(|v| v.price.currency);
        let mut seen = std::collections::BTreeSet::new();
        for (i, v) in self.variants.iter_mut().enumerate() {
            let f = |name: &str| format!("variants[{i}].{name}");
            e.check(check_sku(&f("sku"), &mut v.sku));
            if !seen.insert(v.sku.clone()) {
                e.push(&f("sku"), "is repeated in this product");
            }
            e.check(v.price.check_price(&f("price")));
            if Some(v.price.currency) != currency {
                e.push(
                    &f("price.currency"),
                    "all variants of a product use one currency",
                );
            }
            if let Some(d) = &v.discount {
                e.check(d.check(&f("discount")));
            }
            if v.stock < 0 {
                e.push(&f("stock"), "must not be negative");
            }
            if v.stock > 1_000_000_000 {
                e.push(&f("stock"), "is too large");
            }
            if v.low_stock_threshold.is_some_and(|t| t < 0) {
                e.push(&f("low_stock_threshold"), "must not be negative");
            }
            if v.weight_grams == 0 || v.weight_grams > 1_000_000 {
                e.push(&f("weight_grams"), "must be 1 to 1 000 000 grams");
            }
            if v.attributes.len() > 10
                || v.attributes
                    .iter()
                    .any(|(k, val)| k.is_empty() || k.len() > 40 || val.len() > 100)
            {
                e.push(
                    &f("attributes"),
                    "at most 10 attributes, names 1-40 and values up to 100 characters",
                );
            }
        }
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: String,
    pub brand_id: Option<String>,
    pub status: ProductStatus,
}

impl Validate for UpdateProductRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        product_text(&mut e, &mut self.name, &mut self.description);
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPriceRequest {
    pub price: Money,
    /// A discount with its time window, or null to remove it.
    pub discount: Option<Discount>,
}

impl Validate for SetPriceRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(self.price.check_price("price"));
        if let Some(d) = &self.discount {
            e.check(d.check("discount"));
        }
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: String,
    pub shop_id: String,
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub brand_id: Option<String>,
    pub status: ProductStatus,
    pub variants: Vec<Variant>,
    /// Images in display order; the first is the cover.
    pub media: Vec<MediaItem>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PriceChange {
    pub sku: String,
    pub price: Money,
    pub discount: Option<Discount>,
    pub changed_at: String,
    pub changed_by: String,
}

/// Where and how to PUT the file. The image appears on the product once processed.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadUrl {
    pub media_id: String,
    pub upload_url: String,
    #[schema(example = "PUT")]
    pub method: String,
    /// Headers the PUT must carry exactly.
    pub headers: BTreeMap<String, String>,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaOrderRequest {
    /// Every media id of the product, in the new order.
    pub media_ids: Vec<String>,
}

impl Validate for MediaOrderRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let unique: std::collections::BTreeSet<_> = self.media_ids.iter().collect();
        if unique.len() != self.media_ids.len() {
            return Err(vec![FieldError::new("media_ids", "must not repeat an id")]);
        }
        Ok(())
    }
}
