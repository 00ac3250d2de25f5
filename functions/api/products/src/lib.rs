//! `/api/v1/products/*`, `/api/v1/shops/{id}/products`, `/api/v1/categories`, `/api/v1/brands`:
//! the catalogue. A product and its variants are written in one transaction together with
//! their SKU guards, price history, opening stock ledger, listing rows and outbox event.

pub mod model;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::catalog::{Capability, ShopRecord, ShopStatus, authorize_shop};
use shared::events::{self, DomainEvent, ProductDeleted, ProductUpserted};
use shared::http::{
    AuthUser, ListResponse, MaybeAuthUser, PageQuery, Query, ValidJson, no_content,
};
use shared::products::{
    LedgerRecord, Listing, ListingError, ListingQuery, ListingSort, ProductCard, ProductRecord,
    ProductStatus, Variant, VariantRecord, listing_page, load_product,
};
use shared::store::{QuerySpec, StoreError, keys, n, tx};
use shared::uploads::ImageUploadRequest;
use shared::{ApiError, AppState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "catalog";
const DEFAULT_LOW_STOCK_THRESHOLD: i64 = 5;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(list_categories, create_category))
        .routes(routes!(list_brands, create_brand))
        .routes(routes!(create_product, list_shop_products))
        .routes(routes!(list_products))
        .routes(routes!(get_product, update_product, archive_product))
        .routes(routes!(set_price))
        .routes(routes!(price_history))
        .routes(routes!(related_products))
        .routes(routes!(media_upload_url))
        .routes(routes!(media_order))
        .routes(routes!(delete_media))
        .routes(routes!(media_cover))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

fn product_not_found() -> ApiError {
    ApiError::NotFound("no such product".into())
}

// ------------------------------------------------------------------ categories and brands

#[derive(Serialize, Deserialize)]
struct CategoryRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    entity_type: String,
    id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
}

/// The category tree (roots with their subcategories), sorted by name.
#[utoipa::path(get, path = "/api/v1/categories", tag = TAG,
    responses((status = 200, description = "Root categories with their children", body = ListResponse<Category>)))]
#[tracing::instrument(skip_all)]
async fn list_categories(
    State(state): State<AppState>,
) -> Result<Json<ListResponse<Category>>, ApiError> {
    let all = state
        .db
        .query_page::<CategoryRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::GSI1_CATEGORIES.into(),
            sk_prefix: None,
            ascending: true,
            limit: 1000,
            start: None,
        })
        .await?
        .items;
    let view = |c: &CategoryRecord| Category {
        id: c.id.clone(),
        name: c.name.clone(),
        parent_id: c.parent_id.clone(),
        children: Vec::new(),
    };
    let mut roots: Vec<Category> = all
        .iter()
        .filter(|c| c.parent_id.is_none())
        .map(view)
        .collect();
    for root in &mut roots {
        root.children = all
            .iter()
            .filter(|c| c.parent_id.as_deref() == Some(root.id.as_str()))
            .map(view)
            .collect();
    }
    Ok(Json(ListResponse {
        items: roots,
        next_cursor: None,
    }))
}

/// Admin: add a category, or a subcategory under a root category.
#[utoipa::path(post, path = "/api/v1/categories", tag = TAG, security(("bearer" = [])),
    request_body = CategoryInput,
    responses(
        (status = 201, description = "The category", body = Category),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A category of that name (any case) already exists at that level", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_category(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<CategoryInput>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Admin)?;
    if let Some(parent) = &req.parent_id {
        let p: Option<CategoryRecord> = state.db.get(keys::category(parent)).await?;
        match p {
            None => return Err(ApiError::field("parent_id", "no such category")),
            Some(p) if p.parent_id.is_some() => {
                return Err(ApiError::field(
                    "parent_id",
                    "categories have two levels; pick a root category",
                ));
            }
            Some(_) => {}
        }
    }
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::category(&id);
    let record = CategoryRecord {
        pk,
        sk,
        gsi1pk: keys::GSI1_CATEGORIES.into(),
        gsi1sk: format!("{}\u{1}{id}", req.name.to_lowercase()),
        entity_type: "category".into(),
        id: id.clone(),
        name: req.name.clone(),
        parent_id: req.parent_id.clone(),
    };
    let (gpk, gsk) = keys::category_name_guard(req.parent_id.as_deref(), &req.name);
    let table = &state.db.table;
    let guard = CategoryNameGuard {
        pk: gpk,
        sk: gsk,
        entity_type: "category_name_guard",
        category_id: id.clone(),
    };
    match state
        .db
        .transact(vec![
            tx::put_new(table, &guard)?,
            tx::put_new(table, &record)?,
        ])
        .await
    {
        Ok(()) => {}
        Err(e) if e.failed_condition_index() == Some(0) => {
            return Err(ApiError::Conflict(format!(
                "a category named {:?} already exists {}",
                req.name,
                if req.parent_id.is_some() {
                    "under this parent"
                } else {
                    "at the top level"
                }
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((
        StatusCode::CREATED,
        Json(Category {
            id,
            name: req.name,
            parent_id: req.parent_id,
            children: Vec::new(),
        }),
    )
        .into_response())
}

/// `CATEGORYNAME#<parent|ROOT>#<lower-case name>/GUARD`: one category of a name per level.
#[derive(Serialize)]
struct CategoryNameGuard {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    category_id: String,
}

#[derive(Serialize, Deserialize)]
struct BrandRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    entity_type: String,
    id: String,
    name: String,
}

/// All brands, by name.
#[utoipa::path(get, path = "/api/v1/brands", tag = TAG,
    responses((status = 200, description = "Brands", body = ListResponse<Brand>)))]
#[tracing::instrument(skip_all)]
async fn list_brands(State(state): State<AppState>) -> Result<Json<ListResponse<Brand>>, ApiError> {
    let all = state
        .db
        .query_page::<BrandRecord>(QuerySpec {
            index: Some("GSI1"),
            pk: keys::GSI1_BRANDS.into(),
            sk_prefix: None,
            ascending: true,
            limit: 1000,
            start: None,
        })
        .await?
        .items;
    Ok(Json(ListResponse {
        items: all
            .into_iter()
            .map(|b| Brand {
                id: b.id,
                name: b.name,
            })
            .collect(),
        next_cursor: None,
    }))
}

/// Admin: add a brand.
#[utoipa::path(post, path = "/api/v1/brands", tag = TAG, security(("bearer" = [])),
    request_body = BrandInput,
    responses(
        (status = 201, description = "The brand", body = Brand),
        (status = 403, description = "The caller is not an admin", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_brand(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<BrandInput>,
) -> Result<Response, ApiError> {
    caller.require_role(Role::Admin)?;
    let id = ulid::Ulid::new().to_string();
    let (pk, sk) = keys::brand(&id);
    let record = BrandRecord {
        pk,
        sk,
        gsi1pk: keys::GSI1_BRANDS.into(),
        gsi1sk: format!("{}\u{1}{id}", req.name.to_lowercase()),
        entity_type: "brand".into(),
        id: id.clone(),
        name: req.name.clone(),
    };
    state.db.put_new(&record).await?;
    Ok((StatusCode::CREATED, Json(Brand { id, name: req.name })).into_response())
}

async fn check_classification(
    state: &AppState,
    category_id: &str,
    brand_id: Option<&str>,
) -> Result<(), ApiError> {
    if state
        .db
        .get::<CategoryRecord>(keys::category(category_id))
        .await?
        .is_none()
    {
        return Err(ApiError::field("category_id", "no such category"));
    }
    if let Some(b) = brand_id
        && state.db.get::<BrandRecord>(keys::brand(b)).await?.is_none()
    {
        return Err(ApiError::field("brand_id", "no such brand"));
    }
    Ok(())
}

// ------------------------------------------------------------------ products

#[derive(Serialize)]
struct SkuGuard {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: &'static str,
    product_id: String,
}

#[derive(Serialize, Deserialize)]
struct PriceRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity_type: String,
    #[serde(flatten)]
    change: PriceChange,
}

impl PriceRecord {
    fn new(product_id: &str, v: &VariantRecord, by: &str) -> Self {
        let at = shared::now_rfc3339();
        let (pk, sk) = keys::price_change(product_id, &v.sku, &at, &ulid::Ulid::new().to_string());
        Self {
            pk,
            sk,
            entity_type: "price_change".into(),
            change: PriceChange {
                sku: v.sku.clone(),
                price: v.price,
                discount: v.discount.clone(),
                changed_at: at,
                changed_by: by.into(),
            },
        }
    }
}

fn view(product: &ProductRecord, variants: &[VariantRecord]) -> Product {
    Product {
        id: product.id.clone(),
        shop_id: product.shop_id.clone(),
        name: product.name.clone(),
        description: product.description.clone(),
        category_id: product.category_id.clone(),
        brand_id: product.brand_id.clone(),
        status: product.status,
        variants: variants.iter().map(Variant::from).collect(),
        media: product.media.clone(),
        created_at: product.created_at.clone(),
        updated_at: product.updated_at.clone(),
        version: product.version,
    }
}

fn upserted(p: &ProductRecord) -> DomainEvent {
    DomainEvent::ProductUpserted(ProductUpserted {
        product_id: p.id.clone(),
        shop_id: p.shop_id.clone(),
        category_id: p.category_id.clone(),
        name: p.name.clone(),
        status: p.status,
        version: p.version,
    })
}

/// Seller (owner, or manager/staff of the shop): create a product with its variants.
#[utoipa::path(post, path = "/api/v1/shops/{id}/products", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id")),
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "The product with its variants", body = Product),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A SKU already exists in this shop, or the shop is suspended", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_product(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    ValidJson(req): ValidJson<CreateProductRequest>,
) -> Result<Response, ApiError> {
    let access = authorize_shop(&state.db, &caller, &shop_id, Capability::ManageCatalog).await?;
    if access.shop.status != ShopStatus::Active {
        return Err(ApiError::Conflict("the shop is suspended".into()));
    }
    check_classification(&state, &req.category_id, req.brand_id.as_deref()).await?;
    let id = ulid::Ulid::new().to_string();
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::product(&id);
    let mut product = ProductRecord {
        pk,
        sk,
        gsi2pk: keys::gsi2_shop_products(&shop_id),
        gsi2sk: format!("{now}#{id}"),
        entity_type: "product".into(),
        id: id.clone(),
        shop_id: shop_id.clone(),
        org_id: access.shop.org_id.clone(),
        name: req.name,
        description: req.description,
        category_id: req.category_id,
        brand_id: req.brand_id,
        status: req.status.unwrap_or(ProductStatus::Draft),
        created_at: now.clone(),
        updated_at: now.clone(),
        version: 1,
        media: Vec::new(),
        summary: None,
    };
    // Opening stock goes into the shop's default warehouse (moved on by transfers).
    let warehouse = keys::default_warehouse_id(&shop_id);
    let variants: Vec<VariantRecord> = req
        .variants
        .into_iter()
        .map(|v| {
            let (pk, sk) = keys::variant(&id, &v.sku);
            VariantRecord {
                pk,
                sk,
                entity_type: "variant".into(),
                product_id: id.clone(),
                sku: v.sku,
                attributes: v.attributes,
                price: v.price,
                discount: v.discount,
                weight_grams: v.weight_grams,
                stock: v.stock,
                reserved: 0,
                available: v.stock,
                low_stock_threshold: v.low_stock_threshold.unwrap_or(DEFAULT_LOW_STOCK_THRESHOLD),
                rev: 0,
                warehouses: BTreeMap::from([(warehouse.clone(), v.stock)]),
            }
        })
        .collect();
    let table = &state.db.table;
    // Sets `product.summary`, so it is computed before the product is put below.
    let listing = shared::products::relist_actions(
        table,
        None,
        &mut product,
        &variants,
        shared::now_epoch(),
    )?;
    // Guards first so a duplicate SKU is identified by its index in `variants`.
    let mut actions: Vec<TransactWriteItem> = Vec::new();
    for v in &variants {
        let (gpk, gsk) = keys::sku_guard(&shop_id, &v.sku);
        actions.push(tx::put_new(
            table,
            &SkuGuard {
                pk: gpk,
                sk: gsk,
                entity_type: "sku_guard",
                product_id: id.clone(),
            },
        )?);
    }
    actions.push(tx::put_new(table, &product)?);
    for v in &variants {
        actions.push(tx::put_new(table, v)?);
        actions.push(tx::put_new(
            table,
            &shared::stock::opening_row(&product, v, &warehouse),
        )?);
        actions.push(tx::put_new(table, &PriceRecord::new(&id, v, caller.id()))?);
        if v.stock > 0 {
            actions.push(tx::put_new(
                table,
                &LedgerRecord::new(&id, &v.sku, v.stock, "initial", caller.id())
                    .at_warehouse(&warehouse),
            )?);
        }
    }
    actions.extend(listing);
    actions.push(events::outbox_put(table, &upserted(&product))?);
    match state.db.transact(actions).await {
        Ok(()) => {}
        Err(e)
            if e.failed_condition_index()
                .is_some_and(|i| i < variants.len()) =>
        {
            let i = e.failed_condition_index().unwrap_or_default();
            return Err(ApiError::Conflict(format!(
                "variants[{i}].sku: SKU {} already exists in this shop",
                variants[i].sku
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((StatusCode::CREATED, Json(view(&product, &variants))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopProductsQuery {
    /// Only products with this status.
    pub status: Option<ProductStatus>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Seller: every product of a shop, any status, newest first, as summaries (variant count,
/// price range, effective price; no stock: see `GET shops/{id}/inventory`). One Query per page;
/// with a `status` filter a page may be short (even empty) and still have a cursor.
#[utoipa::path(get, path = "/api/v1/shops/{id}/products", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Shop id"), ShopProductsQuery),
    responses(
        (status = 200, description = "A page of product summaries", body = ListResponse<ShopProductSummary>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such shop in the caller's organisations", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_shop_products(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(shop_id): Path<String>,
    Query(q): Query<ShopProductsQuery>,
) -> Result<Json<ListResponse<ShopProductSummary>>, ApiError> {
    authorize_shop(&state.db, &caller, &shop_id, Capability::ManageCatalog).await?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .pagination()?;
    let status = q
        .status
        .map(|st| serde_dynamo::to_attribute_value(st).map_err(ApiError::internal))
        .transpose()?;
    let result = state
        .db
        .query_page_filtered::<ProductRecord>(
            QuerySpec {
                index: Some("GSI2"),
                pk: keys::gsi2_shop_products(&shop_id),
                sk_prefix: None,
                ascending: false,
                limit: page.limit,
                start: page.start,
            },
            status.map(|st| shared::store::Filter {
                expression: "#status = :status",
                names: &[("#status", "status")],
                values: vec![(":status", st)],
            }),
        )
        .await?;
    let items = result
        .items
        .into_iter()
        .map(|p| ShopProductSummary {
            variant_count: p.summary.as_ref().map(|s| s.variant_count),
            min_price: p.summary.as_ref().map(|s| s.min_price),
            max_price: p.summary.as_ref().map(|s| s.max_price),
            effective_price: p.summary.as_ref().map(|s| s.listed_price),
            cover: p.media.first().cloned(),
            id: p.id,
            name: p.name,
            category_id: p.category_id,
            brand_id: p.brand_id,
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        })
        .collect();
    Ok(Json(ListResponse {
        items,
        next_cursor: result.next_cursor,
    }))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    Newest,
    PriceAsc,
    PriceDesc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListProductsQuery {
    pub category_id: Option<String>,
    pub shop_id: Option<String>,
    /// Lowest effective price (after active discounts), minor units.
    #[param(minimum = 0)]
    pub min_price: Option<i64>,
    /// Highest effective price, minor units (not below `min_price`).
    #[param(minimum = 0)]
    pub max_price: Option<i64>,
    /// `newest` (default), `price_asc` or `price_desc`.
    #[param(inline)]
    pub sort: Option<Sort>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Public: active products by shop and/or category, with an effective-price range, newest first
/// or by effective price (after active discounts). The all-products and category listings are
/// sharded: a page is at most `keys::LISTING_SHARDS` Queries, run concurrently and merged; a
/// shop's listing is one Query. With a filter (a price range with `newest`, or `category_id`
/// with `shop_id`) a page may be short and still have a cursor.
#[utoipa::path(get, path = "/api/v1/products", tag = TAG,
    params(ListProductsQuery),
    responses(
        (status = 200, description = "A page of product cards", body = ListResponse<ProductCard>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid price range, limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn list_products(
    State(state): State<AppState>,
    Query(q): Query<ListProductsQuery>,
) -> Result<Json<ListResponse<ProductCard>>, ApiError> {
    // The listing cursor is its own (every shard's position); only the limit is checked here.
    let page = PageQuery {
        limit: q.limit,
        cursor: None,
    }
    .pagination()?;
    let (min, max) = (
        q.min_price.unwrap_or(0),
        q.max_price.unwrap_or(shared::domain::MAX_AMOUNT),
    );
    if min < 0 || max < 0 {
        return Err(ApiError::field(
            "min_price",
            "prices are non-negative minor units",
        ));
    }
    if min > max {
        return Err(ApiError::field("max_price", "must not be below min_price"));
    }
    let listing = match (&q.shop_id, &q.category_id) {
        (Some(shop), _) => Listing::Shop(shop.clone()),
        (None, Some(cat)) => Listing::Category(cat.clone()),
        (None, None) => Listing::All,
    };
    let query = ListingQuery {
        listing,
        sort: match q.sort.unwrap_or(Sort::Newest) {
            Sort::Newest => ListingSort::Newest,
            Sort::PriceAsc => ListingSort::PriceAsc,
            Sort::PriceDesc => ListingSort::PriceDesc,
        },
        min_price: q.min_price,
        max_price: q.max_price,
        category_id: q.shop_id.as_ref().and(q.category_id.clone()),
        limit: page.limit,
        cursor: q.cursor,
    };
    let (items, next_cursor) = listing_page(&state.db, &query).await.map_err(|e| match e {
        ListingError::Cursor(_) => {
            ApiError::field("cursor", "is not a cursor of this listing and sort")
        }
        ListingError::Store(e) => e.into(),
    })?;
    Ok(Json(ListResponse { items, next_cursor }))
}

/// [`shared::products::load_for_seller`], with the shop record as the routes here use it.
async fn load_for_seller(
    state: &AppState,
    caller: &AuthUser,
    id: &str,
) -> Result<(ProductRecord, Vec<VariantRecord>, ShopRecord), ApiError> {
    let (product, variants, access) =
        shared::products::load_for_seller(&state.db, caller, id).await?;
    Ok((product, variants, access.shop))
}

/// A product with its variants (one query). Drafts and archived products are visible only to
/// the shop's members and admins.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = TAG,
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product visible to the caller", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn get_product(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let (product, variants) = load_product(&state.db, &id)
        .await?
        .ok_or_else(product_not_found)?;
    if product.status != ProductStatus::Active {
        let Some(caller) = caller else {
            return Err(product_not_found());
        };
        authorize_shop(
            &state.db,
            &caller,
            &product.shop_id,
            Capability::ManageCatalog,
        )
        .await
        .map_err(|_| product_not_found())?;
    }
    Ok(Json(view(&product, &variants)))
}

/// The product write, conditional on the version that was read.
fn put_product(
    table: &str,
    product: &ProductRecord,
    read_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(shared::store::to_item(product)?))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", n(read_version))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn stale() -> ApiError {
    ApiError::Conflict("the product changed while you were editing it; reload and retry".into())
}

/// Seller: change name, description, classification or status (draft ↔ active ↔ archived).
#[utoipa::path(put, path = "/api/v1/products/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, description = "The product", body = Product),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn update_product(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<UpdateProductRequest>,
) -> Result<Json<Product>, ApiError> {
    let (old, variants, _) = load_for_seller(&state, &caller, &id).await?;
    check_classification(&state, &req.category_id, req.brand_id.as_deref()).await?;
    let mut product = old.clone();
    product.name = req.name;
    product.description = req.description;
    product.category_id = req.category_id;
    product.brand_id = req.brand_id;
    product.status = req.status;
    save(&state, &old, &variants, product, &variants, Vec::new())
        .await
        .map(Json)
}

/// Writes a changed product (plus `extra` actions) with its listing rows and event.
/// `before` are the variants as read, `variants` as they will be after the write.
async fn save(
    state: &AppState,
    old: &ProductRecord,
    before: &[VariantRecord],
    mut product: ProductRecord,
    variants: &[VariantRecord],
    extra: Vec<TransactWriteItem>,
) -> Result<Product, ApiError> {
    let table = &state.db.table;
    product.version = old.version + 1;
    product.updated_at = shared::now_rfc3339();
    // Sets `product.summary`, so it is computed before the product is put.
    let relist = shared::products::relist_actions(
        table,
        Some((old, before)),
        &mut product,
        variants,
        shared::now_epoch(),
    )?;
    let mut actions = vec![put_product(table, &product, old.version)?];
    actions.extend(extra);
    actions.extend(relist);
    let event = if product.status == ProductStatus::Archived {
        DomainEvent::ProductDeleted(ProductDeleted {
            product_id: product.id.clone(),
            shop_id: product.shop_id.clone(),
        })
    } else {
        upserted(&product)
    };
    actions.push(events::outbox_put(table, &event)?);
    match state.db.transact(actions).await {
        Ok(()) => Ok(view(&product, variants)),
        Err(e) if e.failed_condition_index() == Some(0) => Err(stale()),
        Err(e) => Err(e.into()),
    }
}

/// Seller: archive a product; it disappears for buyers.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 204, description = "Archived"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn archive_product(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (old, variants, _) = load_for_seller(&state, &caller, &id).await?;
    if old.status == ProductStatus::Archived {
        return Ok(no_content());
    }
    let mut product = old.clone();
    product.status = ProductStatus::Archived;
    save(&state, &old, &variants, product, &variants, Vec::new()).await?;
    Ok(no_content())
}

/// Seller: change a variant's price and/or discount. Every change is kept in the price history.
#[utoipa::path(put, path = "/api/v1/products/{id}/variants/{sku}/price", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("sku" = String, Path, description = "Variant SKU")),
    request_body = SetPriceRequest,
    responses(
        (status = 200, description = "The product with the new price", body = Product),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product or variant in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn set_price(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, sku)): Path<(String, String)>,
    ValidJson(req): ValidJson<SetPriceRequest>,
) -> Result<Json<Product>, ApiError> {
    let (old, before, _) = load_for_seller(&state, &caller, &id).await?;
    let mut variants = before.clone();
    let sku = sku.to_uppercase();
    let variant = variants
        .iter_mut()
        .find(|v| v.sku == sku)
        .ok_or_else(|| ApiError::NotFound("no such variant".into()))?;
    if req.price.currency != variant.price.currency {
        return Err(ApiError::field(
            "price.currency",
            "must stay the product's currency",
        ));
    }
    variant.price = req.price;
    variant.discount = req.discount;
    let table = &state.db.table;
    let price = serde_dynamo::to_attribute_value(variant.price).map_err(ApiError::internal)?;
    let update = match &variant.discount {
        Some(d) => tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(&id, &sku),
                update: "SET price = :p, discount = :d",
                condition: Some("attribute_exists(PK)"),
                names: &[],
                values: vec![
                    (":p", price),
                    (
                        ":d",
                        serde_dynamo::to_attribute_value(d).map_err(ApiError::internal)?,
                    ),
                ],
            },
        )?,
        None => tx::update(
            table,
            tx::UpdateSpec {
                key: keys::variant(&id, &sku),
                update: "SET price = :p REMOVE discount",
                condition: Some("attribute_exists(PK)"),
                names: &[],
                values: vec![(":p", price)],
            },
        )?,
    };
    let history = tx::put_new(table, &PriceRecord::new(&id, variant, caller.id()))?;
    let mut product = old.clone();
    product.updated_at = shared::now_rfc3339();
    let saved = save(
        &state,
        &old,
        &before,
        product,
        &variants,
        vec![update, history],
    )
    .await?;
    Ok(Json(saved))
}

/// Every price change of a product's variants, newest first.
#[utoipa::path(get, path = "/api/v1/products/{id}/price-history", tag = TAG,
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Price changes, newest first", body = ListResponse<PriceChange>),
        (status = 404, description = "No such (active) product", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn price_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<PriceChange>>, ApiError> {
    let product: ProductRecord = state
        .db
        .get(keys::product(&id))
        .await?
        .filter(|p: &ProductRecord| p.status == ProductStatus::Active)
        .ok_or_else(product_not_found)?;
    let mut changes = state
        .db
        .query_page::<PriceRecord>(QuerySpec {
            index: None,
            pk: keys::product_pk(&product.id),
            sk_prefix: Some(keys::PRICE_PREFIX.into()),
            ascending: true,
            limit: 1000,
            start: None,
        })
        .await?
        .items
        .into_iter()
        .map(|r| r.change)
        .collect::<Vec<_>>();
    changes.sort_by(|a, b| b.changed_at.cmp(&a.changed_at));
    Ok(Json(ListResponse {
        items: changes,
        next_cursor: None,
    }))
}

/// Up to 10 active products of the same category, nearest in price.
#[utoipa::path(get, path = "/api/v1/products/{id}/related", tag = TAG,
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Related product cards, nearest price first", body = ListResponse<ProductCard>),
        (status = 404, description = "No such (active) product", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn related_products(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ListResponse<ProductCard>>, ApiError> {
    let (product, variants) = load_product(&state.db, &id)
        .await?
        .filter(|(p, _)| p.status == ProductStatus::Active)
        .ok_or_else(product_not_found)?;
    let card = product.card(&variants).ok_or_else(product_not_found)?;
    let price = card.effective_price.amount;
    let (lo, hi) = (price * 7 / 10, price * 13 / 10);
    let mut cards: Vec<ProductCard> =
        shared::products::category_price_band(&state.db, &product.category_id, lo, hi, 50)
            .await?
            .into_iter()
            .map(|l| l.card)
            .filter(|c| c.id != product.id && c.price.currency == card.price.currency)
            .collect();
    cards.sort_by_key(|c| (c.effective_price.amount - price).abs());
    cards.truncate(10);
    Ok(Json(ListResponse {
        items: cards,
        next_cursor: None,
    }))
}

// ------------------------------------------------------------------ media

/// Seller: a presigned S3 PUT for one product image (JPEG, PNG or WebP, at most 10 MiB). The
/// media processor verifies the file, makes 200 and 800 px thumbnails and adds it to the
/// product; a file that is not such an image is deleted.
#[utoipa::path(post, path = "/api/v1/products/{id}/media/upload-url", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = ImageUploadRequest,
    responses(
        (status = 201, description = "Upload with a PUT to `upload_url` and the given headers within `expires_in` seconds", body = UploadUrl),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product already has 12 images", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn media_upload_url(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<ImageUploadRequest>,
) -> Result<Response, ApiError> {
    let (product, _, _) = load_for_seller(&state, &caller, &id).await?;
    if product.media.len() >= 12 {
        return Err(ApiError::Conflict(
            "a product has at most 12 images; delete one first".into(),
        ));
    }
    let media_id = ulid::Ulid::new().to_string();
    let put = state
        .presign_image_put(keys::upload_object(&product.id, &media_id), &req)
        .await?;
    let url = UploadUrl {
        media_id,
        upload_url: put.url,
        method: "PUT".into(),
        headers: put.headers,
        expires_in: put.expires_in,
    };
    Ok((StatusCode::CREATED, Json(url)).into_response())
}

/// Seller: put the product's images in a new order (the first becomes the cover).
#[utoipa::path(put, path = "/api/v1/products/{id}/media/order", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id")),
    request_body = MediaOrderRequest,
    responses(
        (status = 200, description = "The product", body = Product),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn media_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ValidJson(req): ValidJson<MediaOrderRequest>,
) -> Result<Json<Product>, ApiError> {
    let (old, variants, _) = load_for_seller(&state, &caller, &id).await?;
    let mut current: Vec<&str> = old.media.iter().map(|m| m.id.as_str()).collect();
    let mut wanted: Vec<&str> = req.media_ids.iter().map(String::as_str).collect();
    current.sort_unstable();
    wanted.sort_unstable();
    if current != wanted {
        return Err(ApiError::field(
            "media_ids",
            "must list every image of the product exactly once",
        ));
    }
    let mut product = old.clone();
    product.media = req
        .media_ids
        .iter()
        .filter_map(|mid| old.media.iter().find(|m| &m.id == mid).cloned())
        .collect();
    save(&state, &old, &variants, product, &variants, Vec::new())
        .await
        .map(Json)
}

/// Seller: make an image the cover (moves it first).
#[utoipa::path(put, path = "/api/v1/products/{id}/media/{media_id}/cover", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("media_id" = String, Path, description = "Media id")),
    responses(
        (status = 200, description = "The product", body = Product),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product or image in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn media_cover(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, media_id)): Path<(String, String)>,
) -> Result<Json<Product>, ApiError> {
    let (old, variants, _) = load_for_seller(&state, &caller, &id).await?;
    let pos = old
        .media
        .iter()
        .position(|m| m.id == media_id)
        .ok_or_else(|| ApiError::NotFound("no such image".into()))?;
    let mut product = old.clone();
    let cover = product.media.remove(pos);
    product.media.insert(0, cover);
    save(&state, &old, &variants, product, &variants, Vec::new())
        .await
        .map(Json)
}

/// Seller: remove an image (and its files).
#[utoipa::path(delete, path = "/api/v1/products/{id}/media/{media_id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "Product id"), ("media_id" = String, Path, description = "Media id")),
    responses(
        (status = 204, description = "Removed"),
        shared::openapi::ShopRoleErrors,
        (status = 404, description = "No such product or image in the caller's shops", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product changed concurrently", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn delete_media(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((id, media_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (old, variants, _) = load_for_seller(&state, &caller, &id).await?;
    if !old.media.iter().any(|m| m.id == media_id) {
        return Err(ApiError::NotFound("no such image".into()));
    }
    let mut product = old.clone();
    product.media.retain(|m| m.id != media_id);
    save(&state, &old, &variants, product, &variants, Vec::new()).await?;
    if let Some(bucket) = state.config.media_bucket.as_deref() {
        // The product no longer points at the files; failing to delete them only leaves garbage.
        let mut names = vec!["original".to_owned()];
        names.extend(
            shared::products::THUMBNAIL_SIZES
                .iter()
                .map(|s| format!("{s}.jpg")),
        );
        for name in names {
            if let Err(e) = state
                .s3
                .delete_object()
                .bucket(bucket)
                .key(keys::media_object(&id, &media_id, &name))
                .send()
                .await
            {
                tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "media object not deleted");
            }
        }
    }
    Ok(no_content())
}
