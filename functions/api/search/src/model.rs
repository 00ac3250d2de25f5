//! Requests and answers of the search routes.

use std::collections::BTreeMap;

use product_search::query::{self, Bucket, Facets, Filters, Hit, ParseError, Search, Sort};
use product_search::{ProductDoc, doc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::ApiError;
use shared::domain::Money;
use utoipa::{IntoParams, ToSchema};

/// Longest accepted search text.
pub const MAX_QUERY_CHARS: usize = 200;
/// Longest accepted completion prefix.
pub const MAX_PREFIX_CHARS: usize = 100;
/// Widest "near me" radius.
pub const MAX_RADIUS_KM: f64 = 500.0;
pub const DEFAULT_SUGGESTIONS: u32 = 5;
const MAX_ATTRIBUTE_NAMES: usize = 10;
const MAX_ATTRIBUTE_VALUES: usize = 20;

/// `GET search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (diacritics optional). Absent or blank: browse by the filters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// A category id: that category and everything under it.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub category: Option<String>,
    /// A brand id.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub brand: Option<String>,
    /// A shop id.
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub shop: Option<String>,
    /// Lowest effective price at least this (minor units); at most `max_price`.
    #[param(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub min_price: Option<i64>,
    /// Lowest effective price at most this (minor units).
    #[param(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub max_price: Option<i64>,
    /// Average stars at least this.
    #[param(minimum = 0, maximum = 5)]
    pub rating: Option<f64>,
    /// Only products with units available (`true`) or without (`false`).
    pub in_stock: Option<bool>,
    /// Near a point: `lat` and `lng` together, with `radius_km`.
    #[param(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[param(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// Default 10; needs `lat` and `lng`.
    #[param(minimum = 0.1, maximum = 500)]
    pub radius_km: Option<f64>,
    pub sort: Option<Sort>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (same sort).
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

impl SearchQuery {
    pub fn validate(self) -> Result<Search, ApiError> {
        let filters = Filters {
            category: self.category,
            brand: self.brand,
            shop: self.shop,
            min_price: self.min_price,
            max_price: self.max_price,
            rating: self.rating,
            in_stock: self.in_stock,
            near: crate::near(self.lat, self.lng, self.radius_km)?,
            attributes: BTreeMap::new(),
        };
        crate::validated(
            self.q.as_deref(),
            filters,
            self.sort,
            self.limit,
            self.cursor.as_deref(),
        )
    }
}

/// Near a point.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NearInput {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// Default 10.
    #[schema(minimum = 0.1, maximum = 500)]
    pub radius_km: Option<f64>,
}

/// `POST search/advanced`: the filters of `GET search` as JSON, plus attributes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvancedSearchRequest {
    #[schema(max_length = 200)]
    pub q: Option<String>,
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub category: Option<String>,
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub brand: Option<String>,
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub shop: Option<String>,
    /// At most `max_price`.
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub min_price: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000_000_000i64)]
    pub max_price: Option<i64>,
    #[schema(minimum = 0, maximum = 5)]
    pub rating: Option<f64>,
    pub in_stock: Option<bool>,
    pub near: Option<NearInput>,
    /// Attribute name → accepted values (`{"size": ["M", "L"], "color": ["red"]}`): any value
    /// of a name, every name. Up to 10 names of 20 values, each 1–64 characters; case and
    /// diacritics as the seller wrote them are matched case-insensitively.
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
    pub sort: Option<Sort>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[schema(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// The checks run when the request becomes a [`Search`] ([`AdvancedSearchRequest::into_search`]),
/// which answers the same 422 problems `ValidJson` would.
impl shared::validate::Validate for AdvancedSearchRequest {
    fn validate(&mut self) -> Result<(), Vec<shared::error::FieldError>> {
        Ok(())
    }
}

impl AdvancedSearchRequest {
    pub fn into_search(self) -> Result<Search, ApiError> {
        let near = match self.near {
            Some(n) => crate::near(Some(n.lat), Some(n.lng), n.radius_km).map_err(|e| match e {
                ApiError::Validation(mut errs) => {
                    for err in &mut errs {
                        err.field = format!("near.{}", err.field);
                    }
                    ApiError::Validation(errs)
                }
                other => other,
            })?,
            None => None,
        };
        let mut attributes = BTreeMap::new();
        let given = self.attributes.unwrap_or_default();
        if given.len() > MAX_ATTRIBUTE_NAMES {
            return Err(ApiError::field(
                "attributes",
                format!("at most {MAX_ATTRIBUTE_NAMES} names"),
            ));
        }
        for (name, values) in given {
            let field = format!("attributes.{name}");
            if !(1..=64).contains(&name.chars().count()) || name.contains('=') {
                return Err(ApiError::field(
                    "attributes",
                    "names are 1-64 characters without '='",
                ));
            }
            if values.is_empty() || values.len() > MAX_ATTRIBUTE_VALUES {
                return Err(ApiError::field(
                    field,
                    format!("1 to {MAX_ATTRIBUTE_VALUES} values"),
                ));
            }
            if values
                .iter()
                .any(|v| !(1..=64).contains(&v.chars().count()))
            {
                return Err(ApiError::field(field, "values are 1-64 characters"));
            }
            // Normalised as the indexer writes them (`doc::attribute`).
            let values = values.iter().map(|v| doc::attribute_part(v)).collect();
            attributes.insert(doc::attribute_part(&name), values);
        }
        let filters = Filters {
            category: self.category,
            brand: self.brand,
            shop: self.shop,
            min_price: self.min_price,
            max_price: self.max_price,
            rating: self.rating,
            in_stock: self.in_stock,
            near,
            attributes,
        };
        crate::validated(
            self.q.as_deref(),
            filters,
            self.sort,
            self.limit,
            self.cursor.as_deref(),
        )
    }
}

/// `?q=` (optional).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TextQuery {
    /// Words; absent or blank: the whole catalogue.
    #[param(max_length = 200)]
    pub q: Option<String>,
}

impl TextQuery {
    pub fn validate(self) -> Result<Option<String>, ApiError> {
        match self.q {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => Err(ApiError::field(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            )),
            Some(q) => Ok(Some(product_search::text::normalise(&q)).filter(|t| !t.is_empty())),
            None => Ok(None),
        }
    }
}

/// `?q=&limit=` for completion.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrefixQuery {
    /// What was typed so far (not blank).
    #[param(min_length = 1, max_length = 100, pattern = r"\S")]
    pub q: Option<String>,
    /// Per kind, 1–20 (default 5).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u32>,
}

impl PrefixQuery {
    pub fn validate(&self) -> Result<(String, u32), ApiError> {
        let raw = self.q.as_deref().unwrap_or_default();
        if raw.chars().count() > MAX_PREFIX_CHARS {
            return Err(ApiError::field(
                "q",
                format!("must be at most {MAX_PREFIX_CHARS} characters"),
            ));
        }
        let text = product_search::text::normalise(raw);
        if text.is_empty() {
            return Err(ApiError::field("q", "is required"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_SUGGESTIONS);
        if !(1..=20).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 20"));
        }
        Ok((text, limit))
    }
}

/// `?limit=` (1–50, default 10).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

impl LimitQuery {
    pub fn validate(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 50"));
        }
        Ok(limit)
    }
}

/// The facets and ranges of a query's matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableFilters {
    /// Matching products.
    pub total: u64,
    pub facets: Facets,
    /// `name` → values with counts (`size` → `m` 3, `l` 2), from `name=value` attributes.
    pub attributes: BTreeMap<String, Vec<Bucket>>,
    /// The lowest and highest effective price among the matches (minor units), if any.
    pub price_low: Option<i64>,
    pub price_high: Option<i64>,
}

impl AvailableFilters {
    pub fn from_answer(answer: &Value) -> Self {
        let mut attributes: BTreeMap<String, Vec<Bucket>> = BTreeMap::new();
        for b in query::buckets(answer.pointer("/aggregations/attributes")) {
            if let Some((name, value)) = b.key.split_once('=') {
                attributes.entry(name.to_owned()).or_default().push(Bucket {
                    key: value.to_owned(),
                    label: None,
                    count: b.count,
                });
            }
        }
        let number = |p: &str| {
            answer
                .pointer(p)
                .and_then(Value::as_f64)
                .map(|v| v.round() as i64)
        };
        Self {
            total: query::total(answer),
            facets: query::facets(answer),
            attributes,
            price_low: number("/aggregations/price_low/value"),
            price_high: number("/aggregations/price_high/value"),
        }
    }
}

/// A product suggested for what was typed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuggestedProduct {
    pub id: String,
    pub name: String,
    pub shop_id: String,
    /// The lowest effective price.
    pub price: Money,
    pub image_url: Option<String>,
}

/// Suggestions by kind; `categories` and `shops` buckets carry the id as `key`, the name as
/// `label`, and how many matching products each has.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub products: Vec<SuggestedProduct>,
    pub categories: Vec<Bucket>,
    pub shops: Vec<Bucket>,
}

impl Suggestions {
    pub fn from_answer(answer: &Value) -> Result<Self, ParseError> {
        let products = query::hits(answer)?
            .into_iter()
            .map(|h| {
                query::parse_hit(h).map(|hit| SuggestedProduct {
                    id: hit.id,
                    name: hit.name,
                    shop_id: hit.shop_id,
                    price: hit.price_min,
                    image_url: hit.image_url,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            products,
            categories: query::buckets(answer.pointer("/aggregations/categories/ids")),
            shops: query::buckets(answer.pointer("/aggregations/shops/ids")),
        })
    }

    /// Distinct texts: product names, then category names, then shop names; at most `limit`.
    pub fn completions(self, limit: usize) -> Completions {
        let mut out: Vec<Completion> = Vec::new();
        let mut push = |text: String, kind: CompletionKind, id: String| {
            if !out
                .iter()
                .any(|c| c.text.to_lowercase() == text.to_lowercase())
            {
                out.push(Completion { text, kind, id });
            }
        };
        for p in self.products {
            push(p.name, CompletionKind::Product, p.id);
        }
        for c in self.categories {
            push(c.label.unwrap_or_default(), CompletionKind::Category, c.key);
        }
        for s in self.shops {
            push(s.label.unwrap_or_default(), CompletionKind::Shop, s.key);
        }
        out.retain(|c| !c.text.is_empty());
        out.truncate(limit);
        Completions { completions: out }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompletionKind {
    Product,
    Category,
    Shop,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Completion {
    pub text: String,
    pub kind: CompletionKind,
    /// The product, category or shop id.
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Completions {
    pub completions: Vec<Completion>,
}

/// A list of hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hits {
    pub items: Vec<Hit>,
}

impl Hits {
    pub fn from_answer(answer: &Value) -> Result<Self, ParseError> {
        Ok(Self {
            items: query::hits(answer)?
                .into_iter()
                .map(query::parse_hit)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// An offer of the same product in another shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Offer {
    #[serde(flatten)]
    pub hit: Hit,
    /// This offer's lowest price less the product's (negative: cheaper here).
    pub difference: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceComparison {
    pub product: Hit,
    /// Other shops' offers, cheapest first.
    pub offers: Vec<Offer>,
}

impl PriceComparison {
    pub fn new(doc: &ProductDoc, answer: &Value) -> Result<Self, ParseError> {
        let product = query::parse_hit(&serde_json::json!({ "_source": doc }))?;
        let offers = Hits::from_answer(answer)?
            .items
            .into_iter()
            .map(|hit| Offer {
                difference: Money::new(
                    hit.price_min.amount - product.price_min.amount,
                    product.price_min.currency,
                ),
                hit,
            })
            .collect();
        Ok(Self { product, offers })
    }
}
