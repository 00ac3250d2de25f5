//! The query DSL of every search route, pure: a validated request in, the JSON body of one
//! `_search` out, and the engine's answer parsed back. Golden tests (`tests/golden.rs`) pin
//! every body, so a change in relevance logic is a visible diff.
//!
//! # Relevance
//!
//! Text is matched with `multi_match` (`best_fields`, `operator: and`, `fuzziness: AUTO`,
//! `prefix_length: 1`) over the name (×4), brand and category names (×2), shop name and
//! description: every word must match, as shops do, one typo per word of 3–5 letters, two from
//! 6. Bonuses: the words with their exact diacritics in the name (`name.exact`, ×2) and the
//! phrase in order (×2). Popularity (units sold) multiplies the score gently
//! (`log10(2 + sales/1000)`). The text is always a `multi_match` *value*: OpenSearch syntax in
//! `q` (`name:*`, JSON) is searched as words, never parsed.
//!
//! # Facets
//!
//! Facets are aggregations over the same query and filters as the hits, so a bucket's count is
//! the total a search with that filter added returns.
//!
//! # Paging
//!
//! Every sort ends with the product id, and the cursor is the last hit's sort values
//! (`search_after`), base64url-encoded JSON tagged with the sort it belongs to.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::domain::{Currency, Money};
use utoipa::ToSchema;

use crate::doc::ProductDoc;

/// Result orderings (the schema is `SearchSort`: `Sort` is the product listings').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SearchSort)]
pub enum Sort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    BestSelling,
    Rating,
}

impl Sort {
    fn spec(self) -> Value {
        let id = json!({"id": "asc"});
        match self {
            Self::Relevance => json!([{"_score": "desc"}, id]),
            Self::PriceAsc => json!([{"price_min": "asc"}, id]),
            Self::PriceDesc => json!([{"price_min": "desc"}, id]),
            Self::Newest => json!([{"created_at": "desc"}, id]),
            Self::BestSelling => json!([{"sales": "desc"}, id]),
            Self::Rating => json!([{"rating": "desc"}, {"rating_count": "desc"}, id]),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Relevance => "r",
            Self::PriceAsc => "pa",
            Self::PriceDesc => "pd",
            Self::Newest => "n",
            Self::BestSelling => "b",
            Self::Rating => "s",
        }
    }

    /// How many values a cursor of this sort holds.
    fn arity(self) -> usize {
        match self {
            Self::Rating => 3,
            _ => 2,
        }
    }
}

/// Around a point: shops within `radius_km` of (`lat`, `lng`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Near {
    pub lat: f64,
    pub lng: f64,
    pub radius_km: f64,
}

/// Filters, already validated. Prices are minor units of the product's currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// A category id: the category and everything under it.
    pub category: Option<String>,
    pub brand: Option<String>,
    pub shop: Option<String>,
    /// The product's lowest effective price is at least / at most this.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Average stars at least this.
    pub rating: Option<f64>,
    pub in_stock: Option<bool>,
    pub near: Option<Near>,
    /// Attribute name → accepted values (`size` → [`m`, `l`]): any value of a name, every name.
    /// Names and values as [`crate::doc::attribute`] writes them.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A validated search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    /// Normalised, non-empty text, or none (browse by filters).
    pub q: Option<String>,
    pub filters: Filters,
    pub sort: Sort,
    pub limit: u32,
    /// Sort values of the last hit of the previous page.
    pub after: Option<Vec<Value>>,
}

/// Lowest price bucket bounds (VND-sized; minor units): `[0, 100k)`, `[100k, 200k)`, …
pub const PRICE_BUCKETS: [i64; 5] = [100_000, 200_000, 500_000, 1_000_000, 5_000_000];
/// Rating facet thresholds: "4 stars and up", …
pub const RATING_BUCKETS: [u8; 4] = [4, 3, 2, 1];

const HIT_FIELDS: [&str; 15] = [
    "id",
    "name",
    "brand_id",
    "brand",
    "category_id",
    "shop_id",
    "shop_name",
    "shop_city",
    "currency",
    "price_min",
    "price_max",
    "in_stock",
    "rating",
    "rating_count",
    "sales",
];

fn hit_source() -> Value {
    let mut fields: Vec<&str> = HIT_FIELDS.to_vec();
    fields.push("image_url");
    json!(fields)
}

fn text_query(q: &str) -> Value {
    json!({
        "multi_match": {
            "query": q,
            "type": "best_fields",
            "fields": ["name^4", "brand^2", "category_names^2", "shop_name", "description"],
            "operator": "and",
            "fuzziness": "AUTO",
            "prefix_length": 1,
            "max_expansions": 20
        }
    })
}

fn filter_clauses(f: &Filters) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(c) = &f.category {
        out.push(json!({"term": {"category_path": c}}));
    }
    if let Some(b) = &f.brand {
        out.push(json!({"term": {"brand_id": b}}));
    }
    if let Some(s) = &f.shop {
        out.push(json!({"term": {"shop_id": s}}));
    }
    if f.min_price.is_some() || f.max_price.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(min) = f.min_price {
            range.insert("gte".into(), json!(min));
        }
        if let Some(max) = f.max_price {
            range.insert("lte".into(), json!(max));
        }
        out.push(json!({"range": {"price_min": range}}));
    }
    if let Some(r) = f.rating {
        out.push(json!({"range": {"rating": {"gte": r}}}));
    }
    if let Some(s) = f.in_stock {
        out.push(json!({"term": {"in_stock": s}}));
    }
    if let Some(n) = f.near {
        out.push(json!({"geo_distance": {
            "distance": format!("{}km", n.radius_km),
            "shop_location": {"lat": n.lat, "lon": n.lng}
        }}));
    }
    for (name, values) in &f.attributes {
        let terms: Vec<String> = values.iter().map(|v| format!("{name}={v}")).collect();
        out.push(json!({"terms": {"attributes": terms}}));
    }
    out
}

/// The scored query of a search: text (or everything) under the filters, times popularity.
fn scored_query(q: Option<&str>, filters: &Filters) -> Value {
    let mut bool_query = json!({"filter": filter_clauses(filters)});
    if let Some(q) = q {
        bool_query["must"] = json!([text_query(q)]);
        bool_query["should"] = json!([
            {"match": {"name.exact": {"query": q, "operator": "and", "boost": 2}}},
            {"match_phrase": {"name": {"query": q, "boost": 2}}}
        ]);
    }
    json!({
        "function_score": {
            "query": {"bool": bool_query},
            "field_value_factor": {"field": "sales", "modifier": "log2p", "factor": 0.001, "missing": 0},
            "boost_mode": "multiply"
        }
    })
}

fn named_terms(id_field: &str, name_field: &str, size: u32) -> Value {
    json!({
        "terms": {"field": id_field, "size": size},
        "aggs": {"name": {"terms": {"field": name_field, "size": 1}}}
    })
}

fn facet_aggs() -> Value {
    let mut prices = Vec::new();
    let mut from: Option<i64> = None;
    for to in PRICE_BUCKETS {
        prices.push(match from {
            None => json!({"key": format!("*-{to}"), "to": to}),
            Some(f) => json!({"key": format!("{f}-{to}"), "from": f, "to": to}),
        });
        from = Some(to);
    }
    let last = PRICE_BUCKETS[PRICE_BUCKETS.len() - 1];
    prices.push(json!({"key": format!("{last}-*"), "from": last}));
    let ratings: Vec<Value> = RATING_BUCKETS
        .iter()
        .map(|r| json!({"key": format!("{r}+"), "from": r}))
        .collect();
    json!({
        "categories": named_terms("category_id", "category_name", 20),
        "brands": named_terms("brand_id", "brand.kw", 20),
        "prices": {"range": {"field": "price_min", "ranges": prices}},
        "ratings": {"range": {"field": "rating", "ranges": ratings}},
        "in_stock": {"filter": {"term": {"in_stock": true}}}
    })
}

/// `GET search` / `POST search/advanced`: hits with highlights, facets and the total.
pub fn search_body(s: &Search) -> Value {
    let mut body = json!({
        "size": s.limit,
        "track_total_hits": true,
        "_source": hit_source(),
        "query": scored_query(s.q.as_deref(), &s.filters),
        "sort": s.sort.spec(),
        "aggs": facet_aggs()
    });
    if s.q.is_some() {
        body["highlight"] = json!({
            "encoder": "html",
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "fields": {"name": {"number_of_fragments": 0}, "description": {"fragment_size": 120, "number_of_fragments": 1}}
        });
    }
    if let Some(after) = &s.after {
        body["search_after"] = json!(after);
    }
    body
}

/// `GET search/filters/available`: which facets and ranges exist for a query (no hits).
pub fn filters_body(q: Option<&str>) -> Value {
    let mut aggs = facet_aggs();
    aggs["attributes"] = json!({"terms": {"field": "attributes", "size": 100}});
    aggs["price_low"] = json!({"min": {"field": "price_min"}});
    aggs["price_high"] = json!({"max": {"field": "price_max"}});
    json!({
        "size": 0,
        "track_total_hits": true,
        "query": scored_query(q, &Filters::default()),
        "aggs": aggs
    })
}

fn prefix_match(field: &str, q: &str) -> Value {
    json!({"match": {field: {"query": q, "operator": "and"}}})
}

/// `GET search/suggestions` and `GET search/autocomplete`: products whose name starts with the
/// typed words (diacritics ignored), and the categories and shops whose names do.
pub fn suggest_body(q: &str, limit: u32) -> Value {
    let name = prefix_match("name.ac", q);
    let category = prefix_match("category_names.ac", q);
    let shop = prefix_match("shop_name.ac", q);
    json!({
        "size": limit,
        "_source": ["id", "name", "shop_id", "currency", "price_min", "image_url"],
        "query": {"bool": {"should": [name, category, shop], "minimum_should_match": 1}},
        "post_filter": name,
        "sort": [{"_score": "desc"}, {"sales": "desc"}, {"id": "asc"}],
        "aggs": {
            "categories": {"filter": category, "aggs": {"ids": named_terms("category_id", "category_name", limit)}},
            "shops": {"filter": shop, "aggs": {"ids": named_terms("shop_id", "shop_name.kw", limit)}}
        }
    })
}

/// `GET products/{id}/similar`: content-based, like a more-like-this over category, attributes,
/// price band and name words; at least two of those must agree.
pub fn similar_body(doc: &ProductDoc, limit: u32) -> Value {
    let mut should = vec![
        json!({"term": {"category_id": {"value": doc.category_id, "boost": 3}}}),
        json!({"terms": {"category_path": doc.category_path, "boost": 1}}),
        json!({"range": {"price_min": {"gte": doc.price_min / 2, "lte": doc.price_min.saturating_mul(2), "boost": 2}}}),
        json!({"match": {"name": {"query": doc.name, "minimum_should_match": "30%", "boost": 2}}}),
    ];
    if !doc.attributes.is_empty() {
        should.push(json!({"terms": {"attributes": doc.attributes, "boost": 1}}));
    }
    if let Some(b) = &doc.brand_id {
        should.push(json!({"term": {"brand_id": {"value": b, "boost": 1}}}));
    }
    json!({
        "size": limit,
        "_source": hit_source(),
        "query": {"bool": {
            "should": should,
            "minimum_should_match": 2,
            "filter": [{"term": {"currency": doc.currency}}],
            "must_not": [{"term": {"id": doc.id}}]
        }},
        "sort": [{"_score": "desc"}, {"id": "asc"}]
    })
}

/// `GET products/{id}/price-comparison`: the same product (most of its name's words, same
/// category and currency) in other shops, cheapest first.
pub fn comparison_body(doc: &ProductDoc, limit: u32) -> Value {
    json!({
        "size": limit,
        "_source": hit_source(),
        "query": {"bool": {
            "must": [{"match": {"name": {"query": doc.name, "minimum_should_match": "75%"}}}],
            "filter": [{"term": {"category_id": doc.category_id}}, {"term": {"currency": doc.currency}}],
            "must_not": [{"term": {"shop_id": doc.shop_id}}]
        }},
        "sort": [{"price_min": "asc"}, {"id": "asc"}]
    })
}

// ------------------------------------------------------------------ cursor

#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    a: Vec<Value>,
}

/// The cursor after a hit with these sort values.
pub fn encode_cursor(sort: Sort, values: &[Value]) -> String {
    let data = CursorData {
        s: sort.tag().into(),
        a: values.to_vec(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).expect("cursor data serialises"))
}

/// The `search_after` values of a cursor issued for `sort`; `None` for anything else (another
/// sort's cursor, a tampered one, values that are not scalars).
pub fn decode_cursor(sort: Sort, cursor: &str) -> Option<Vec<Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let data: CursorData = serde_json::from_slice(&bytes).ok()?;
    let scalar = |v: &Value| v.is_number() || v.is_string() || v.is_boolean();
    (data.s == sort.tag() && data.a.len() == sort.arity() && data.a.iter().all(scalar))
        .then_some(data.a)
}

// ------------------------------------------------------------------ answers

/// A product as search results show it. Prices are effective prices (after an active
/// discount), as on the product page.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Hit {
    pub id: String,
    pub name: String,
    pub brand_id: Option<String>,
    pub brand: Option<String>,
    pub category_id: String,
    pub shop_id: String,
    pub shop_name: String,
    pub shop_city: String,
    /// The lowest and highest effective price over the variants.
    pub price_min: Money,
    pub price_max: Money,
    pub in_stock: bool,
    pub rating: f64,
    pub rating_count: u64,
    pub sales: i64,
    pub image_url: Option<String>,
    /// Matched words wrapped in `<em>` (the rest HTML-escaped): `name`, `description`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub highlights: BTreeMap<String, Vec<String>>,
}

/// A facet value with its count (the total a search with it as a filter returns).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bucket {
    /// The filter value: a category or brand id, a price range `from-to` (minor units, `*`
    /// open), a rating `4+`, an attribute `size=m`.
    pub key: String,
    /// What to show (a category or brand name), when the key is an id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Facets {
    pub categories: Vec<Bucket>,
    pub brands: Vec<Bucket>,
    pub prices: Vec<Bucket>,
    pub ratings: Vec<Bucket>,
    /// Hits with units available.
    pub in_stock: u64,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchPage {
    pub total: u64,
    pub items: Vec<Hit>,
    pub facets: Facets,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The engine answered something this code cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unexpected search engine answer: {0}")]
pub struct ParseError(pub String);

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn currency_of(source: &Value) -> Result<Currency, ParseError> {
    serde_json::from_value(source.get("currency").cloned().unwrap_or(Value::Null))
        .map_err(|e| ParseError(format!("currency: {e}")))
}

/// A hit's `_source` (and highlights) as the API shows it.
pub fn parse_hit(hit: &Value) -> Result<Hit, ParseError> {
    let src = hit
        .get("_source")
        .ok_or_else(|| ParseError("a hit without _source".into()))?;
    let currency = currency_of(src)?;
    let int = |k: &str| src.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut highlights = BTreeMap::new();
    if let Some(h) = hit.get("highlight").and_then(Value::as_object) {
        for (field, frags) in h {
            let frags: Vec<String> = frags
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            highlights.insert(field.clone(), frags);
        }
    }
    Ok(Hit {
        id: str_of(src, "id").ok_or_else(|| ParseError("a hit without id".into()))?,
        name: str_of(src, "name").unwrap_or_default(),
        brand_id: str_of(src, "brand_id"),
        brand: str_of(src, "brand"),
        category_id: str_of(src, "category_id").unwrap_or_default(),
        shop_id: str_of(src, "shop_id").unwrap_or_default(),
        shop_name: str_of(src, "shop_name").unwrap_or_default(),
        shop_city: str_of(src, "shop_city").unwrap_or_default(),
        price_min: Money::new(int("price_min"), currency),
        price_max: Money::new(int("price_max"), currency),
        in_stock: src
            .get("in_stock")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        rating: src.get("rating").and_then(Value::as_f64).unwrap_or(0.0),
        rating_count: src.get("rating_count").and_then(Value::as_u64).unwrap_or(0),
        sales: int("sales"),
        image_url: str_of(src, "image_url"),
        highlights,
    })
}

/// The hits of an answer.
pub fn hits(answer: &Value) -> Result<Vec<&Value>, ParseError> {
    answer
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .ok_or_else(|| ParseError("no hits.hits".into()))
}

/// `hits.total.value`.
pub fn total(answer: &Value) -> u64 {
    answer
        .pointer("/hits/total/value")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn bucket_key(b: &Value) -> String {
    match b.get("key") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Buckets of a `terms` (with a `name` sub-aggregation) or `range` aggregation; empty range
/// buckets are left out.
pub fn buckets(agg: Option<&Value>) -> Vec<Bucket> {
    let Some(list) = agg.and_then(|a| a.get("buckets")).and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|b| Bucket {
            key: bucket_key(b),
            label: b
                .pointer("/name/buckets/0/key")
                .and_then(Value::as_str)
                .map(str::to_owned),
            count: b.get("doc_count").and_then(Value::as_u64).unwrap_or(0),
        })
        .filter(|b| b.count > 0)
        .collect()
}

/// The facets of an answer to [`search_body`] or [`filters_body`].
pub fn facets(answer: &Value) -> Facets {
    let aggs = answer.get("aggregations");
    let agg = |name: &str| aggs.and_then(|a| a.get(name));
    Facets {
        categories: buckets(agg("categories")),
        brands: buckets(agg("brands")),
        prices: buckets(agg("prices")),
        ratings: buckets(agg("ratings")),
        in_stock: agg("in_stock")
            .and_then(|a| a.get("doc_count"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
    }
}

/// A search answer as one page: a next cursor when the page is full.
pub fn parse_search(answer: &Value, search: &Search) -> Result<SearchPage, ParseError> {
    let raw = hits(answer)?;
    let items = raw
        .iter()
        .map(|h| parse_hit(h))
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match raw.last() {
        Some(last) if raw.len() as u32 >= search.limit => {
            let values = last
                .get("sort")
                .and_then(Value::as_array)
                .ok_or_else(|| ParseError("a hit without sort values".into()))?;
            Some(encode_cursor(search.sort, values))
        }
        _ => None,
    };
    Ok(SearchPage {
        total: total(answer),
        items,
        facets: facets(answer),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_own_sort_and_only_with_scalars() {
        let c = encode_cursor(Sort::PriceAsc, &[json!(120000), json!("P1")]);
        assert_eq!(
            decode_cursor(Sort::PriceAsc, &c),
            Some(vec![json!(120000), json!("P1")])
        );
        assert_eq!(decode_cursor(Sort::Newest, &c), None);
        assert_eq!(decode_cursor(Sort::PriceAsc, "not-a-cursor"), None);
        let nested = encode_cursor(Sort::PriceAsc, &[json!({"script": "x"}), json!("P1")]);
        assert_eq!(decode_cursor(Sort::PriceAsc, &nested), None);
        let short = encode_cursor(Sort::Rating, &[json!(4.5), json!("P1")]);
        assert_eq!(decode_cursor(Sort::Rating, &short), None);
    }

    #[test]
    fn query_syntax_in_the_text_stays_a_value() {
        let s = Search {
            q: Some(r#"name:* {"script":{"source":"x"}}"#.into()),
            limit: 10,
            ..Search::default()
        };
        let body = search_body(&s);
        let text = &body["query"]["function_score"]["query"]["bool"]["must"][0]["multi_match"];
        assert_eq!(text["query"], json!(r#"name:* {"script":{"source":"x"}}"#));
        assert!(!body.to_string().contains("query_string"));
    }

    #[test]
    fn range_buckets_without_hits_are_left_out_and_names_label_ids() {
        let answer = json!({"aggregations": {
            "brands": {"buckets": [{"key": "B1", "doc_count": 2, "name": {"buckets": [{"key": "Coolmate", "doc_count": 2}]}}]},
            "prices": {"buckets": [{"key": "*-100000", "doc_count": 0}, {"key": "100000-200000", "doc_count": 3}]},
            "in_stock": {"doc_count": 4}
        }});
        let f = facets(&answer);
        assert_eq!(
            f.brands,
            vec![Bucket {
                key: "B1".into(),
                label: Some("Coolmate".into()),
                count: 2
            }]
        );
        assert_eq!(f.prices.len(), 1);
        assert_eq!(f.in_stock, 4);
    }
}
