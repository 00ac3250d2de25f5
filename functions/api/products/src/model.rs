//! Request and response bodies of the catalogue routes, with their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::domain::{Discount, Money};
use shared::error::FieldError;
use shared::products::{MediaItem, ProductStatus, Variant, normalise_sku};
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

/// Most variants a product may have (one transaction writes them all).
/// Variants of one product: creating it writes five items per variant (SKU guard, variant,
/// stock row, price history, ledger) in one transaction of at most 100.
pub const MAX_VARIANTS: usize = 16;
/// Most attributes of a variant, and the longest name and value (characters).
pub const MAX_ATTRIBUTES: usize = 10;
pub const MAX_ATTRIBUTE_NAME: usize = 40;
pub const MAX_ATTRIBUTE_VALUE: usize = 100;

/// The documented shape of `VariantInput::attributes` (utoipa has no attributes for a map's
/// keys and values): what `CreateProductRequest::validate` checks.
fn attributes_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "E.g. `{\"size\": \"M\", \"colour\": \"red\"}`: at most 10, names of 1–40 and values of up to 100 characters.",
        ))
        .max_properties(Some(MAX_ATTRIBUTES))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_ATTRIBUTE_NAME)),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_ATTRIBUTE_VALUE))
                .into(),
        )))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    #[schema(
        example = "Women's fashion",
        min_length = 2,
        max_length = 80,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
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
    #[schema(
        example = "Ao Dai House",
        min_length = 1,
        max_length = 80,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
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
    /// Unique within the product (and the shop): 1–64 letters, digits, `-` and `_`; upper-cased.
    #[schema(example = "AODAI-RED-M", pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub sku: String,
    /// E.g. `{"size": "M", "colour": "red"}`: at most 10, names of 1–40 and values of up to 100
    /// characters.
    #[serde(default)]
    #[schema(schema_with = attributes_schema)]
    pub attributes: BTreeMap<String, String>,
    #[schema(value_type = shared::domain::Price)]
    pub price: Money,
    pub discount: Option<Discount>,
    #[schema(example = 350, minimum = 1, maximum = 1_000_000)]
    pub weight_grams: u32,
    /// Opening stock (recorded in the ledger as a restock), 0 to 10^9.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub stock: i64,
    /// `StockLow` fires when available stock falls to this or below (default 5).
    #[schema(minimum = 0)]
    pub low_stock_threshold: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    #[schema(
        example = "Silk ao dai",
        min_length = 2,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(
        max_length = 5000,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub description: String,
    pub category_id: String,
    pub brand_id: Option<String>,
    /// `draft` (default) or `active`.
    pub status: Option<ProductStatus>,
    /// 1 to 16 variants, each SKU once, all in one currency.
    #[schema(min_items = 1, max_items = 16)]
    pub variants: Vec<VariantInput>,
}

pub fn check_sku(field: &str, sku: &mut String) -> Result<(), FieldError> {
    *sku = normalise_sku(sku)
        .ok_or_else(|| FieldError::new(field, "must be 1-64 letters, digits, '-' or '_'"))?;
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
            e.push("variants", "at most 16 variants");
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
            if v.attributes.len() > MAX_ATTRIBUTES
                || v.attributes.iter().any(|(k, val)| {
                    k.is_empty()
                        || k.chars().count() > MAX_ATTRIBUTE_NAME
                        || val.chars().count() > MAX_ATTRIBUTE_VALUE
                })
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
    #[schema(
        min_length = 2,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(
        max_length = 5000,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
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
    /// In the product's currency.
    #[schema(value_type = shared::domain::Price)]
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
    /// Every media id of the product, each once, in the new order.
    #[schema(schema_with = media_ids_schema)]
    pub media_ids: Vec<String>,
}

/// The documented shape of `MediaOrderRequest::media_ids` (utoipa has no `uniqueItems`
/// attribute): what `validate` checks.
fn media_ids_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .description(Some(
            "Every media id of the product, each once, in the new order.",
        ))
        .items(ObjectBuilder::new().schema_type(Type::String))
        .unique_items(true)
        .build()
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

/// A product as the seller's product list shows it: everything comes from the product item
/// (its summary is kept by every write that changes the variants' prices), so a page is one
/// Query. Stock is not shown here: it is written by inventory and order paths that do not
/// touch the product item; `GET shops/{id}/inventory` is the stock view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopProductSummary {
    pub id: String,
    pub name: String,
    pub category_id: String,
    pub brand_id: Option<String>,
    pub status: ProductStatus,
    /// Number of variants (`null` for a product not rewritten since summaries were introduced;
    /// `make migrate` fills them in).
    pub variant_count: Option<u32>,
    /// Lowest and highest list price of the variants.
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    /// Lowest price after active discounts, as of the product's last listing write.
    pub effective_price: Option<Money>,
    /// The cover image (first image), if any.
    pub cover: Option<MediaItem>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}
