//! `/api/v1/search…` and the product pages' search-backed lists: full-text product search with
//! filters, facets and `search_after` paging; the filters available for a query; completion as
//! you type; similar products; the same product in other shops.
//!
//! Every route is public and sends exactly one engine request (similar and price comparison:
//! two, the product's own document then the query) and reads no DynamoDB: the index holds
//! what results show (see `product_search::doc`). The query bodies are built by
//! `product_search::query` and pinned by its golden tests.

pub mod model;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path};
use product_search::query::{self, Filters, Near, Search, SearchPage, Sort};
use product_search::{Engine, EngineError, ProductDoc};
use shared::http::{Query, ValidJson};
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "search";

/// The engine, shared by every request of the process.
pub type SearchEngine = Extension<Arc<Engine>>;

pub fn extension(engine: Arc<Engine>) -> SearchEngine {
    Extension(engine)
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(search))
        .routes(routes!(advanced_search))
        .routes(routes!(available_filters))
        .routes(routes!(suggestions))
        .routes(routes!(autocomplete))
        .routes(routes!(similar_products))
        .routes(routes!(price_comparison))
        .route_layer(axum::middleware::from_fn(server_timing))
}

pub fn router(state: AppState, engine: Arc<Engine>) -> axum::Router {
    let (routes, _) = api().split_for_parts();
    shared::http::finish(routes.layer(extension(engine)), state)
}

/// `Server-Timing: engine;dur=<ms>, app;dur=<ms>`: how long the request waited on the engine,
/// and how long the route took in all (the standard header browsers' developer tools and the
/// search benchmark read), so the API's own share of a search's latency is visible from
/// outside.
async fn server_timing(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let (mut response, waited) = product_search::engine::timed(next.run(req)).await;
    let value = format!(
        "engine;dur={:.3}, app;dur={:.3}",
        waited.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Unavailable(reason) => {
            tracing::warn!(reason = %reason, "search engine unavailable");
            ApiError::Unavailable {
                retry_after_secs: 2,
            }
        }
        rejected => ApiError::internal(rejected),
    }
}

fn parse_error(e: query::ParseError) -> ApiError {
    ApiError::internal(e)
}

async fn run_search(engine: &Engine, search: &Search) -> Result<SearchPage, ApiError> {
    let answer = engine
        .search(&query::search_body(search))
        .await
        .map_err(engine_error)?;
    query::parse_search(&answer, search).map_err(parse_error)
}

/// Products matching words (diacritics optional, one typo per word forgiven) and filters, with
/// highlights, facet counts and the total.
#[utoipa::path(get, path = "/api/v1/search", tag = TAG,
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of hits with facets", body = SearchPage),
        (status = 400, description = "Malformed query string (a parameter of the wrong type, an unknown sort)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter out of range: `errors` names it", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn search(
    Extension(engine): SearchEngine,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let search = q.validate()?;
    run_search(&engine, &search).await.map(Json)
}

/// [`search`] with the filters as JSON, plus attribute filters (`{"size": ["M"], "color":
/// ["red"]}`: any value of a name, every name).
#[utoipa::path(post, path = "/api/v1/search/advanced", tag = TAG,
    request_body = AdvancedSearchRequest,
    responses(
        (status = 200, description = "A page of hits with facets", body = SearchPage),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn advanced_search(
    Extension(engine): SearchEngine,
    ValidJson(req): ValidJson<AdvancedSearchRequest>,
) -> Result<Json<SearchPage>, ApiError> {
    let search = req.into_search()?;
    run_search(&engine, &search).await.map(Json)
}

/// Which facets and ranges exist for a query: categories, brands, price and rating buckets,
/// attribute values, the lowest and highest price.
#[utoipa::path(get, path = "/api/v1/search/filters/available", tag = TAG,
    params(TextQuery),
    responses(
        (status = 200, description = "The facets of the query's matches", body = AvailableFilters),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`q` too long", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn available_filters(
    Extension(engine): SearchEngine,
    Query(q): Query<TextQuery>,
) -> Result<Json<AvailableFilters>, ApiError> {
    let text = q.validate()?;
    let answer = engine
        .search(&query::filters_body(text.as_deref()))
        .await
        .map_err(engine_error)?;
    Ok(Json(AvailableFilters::from_answer(&answer)))
}

async fn suggest(engine: &Engine, q: &PrefixQuery) -> Result<Suggestions, ApiError> {
    let (text, limit) = q.validate()?;
    let answer = engine
        .search(&query::suggest_body(&text, limit))
        .await
        .map_err(engine_error)?;
    Suggestions::from_answer(&answer).map_err(parse_error)
}

/// Products, categories and shops whose names start with the typed words (diacritics
/// ignored: "ao th" finds "Áo thun").
#[utoipa::path(get, path = "/api/v1/search/suggestions", tag = TAG,
    params(PrefixQuery),
    responses(
        (status = 200, description = "Suggestions by kind", body = Suggestions),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`q` missing, blank or too long, or `limit` out of range", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn suggestions(
    Extension(engine): SearchEngine,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Suggestions>, ApiError> {
    suggest(&engine, &q).await.map(Json)
}

/// Completions of the typed text: product names, then category and shop names, each once.
#[utoipa::path(get, path = "/api/v1/search/autocomplete", tag = TAG,
    params(PrefixQuery),
    responses(
        (status = 200, description = "Completions, best first", body = Completions),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`q` missing, blank or too long, or `limit` out of range", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn autocomplete(
    Extension(engine): SearchEngine,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Completions>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_SUGGESTIONS);
    suggest(&engine, &q)
        .await
        .map(|s| Json(s.completions(limit as usize)))
}

/// The product's own document, or 404 (not searchable: unknown, draft, archived, or its shop
/// suspended).
async fn indexed(engine: &Engine, id: &str) -> Result<ProductDoc, ApiError> {
    let not_found = || ApiError::NotFound("no such product in the catalogue".into());
    if !valid_id(id) {
        return Err(not_found());
    }
    engine
        .get(id)
        .await
        .map_err(engine_error)?
        .ok_or_else(not_found)
}

/// Content-based: products of the same category, attributes, price band and words.
#[utoipa::path(get, path = "/api/v1/products/{id}/similar", tag = TAG,
    params(("id" = String, Path, description = "Product id"), LimitQuery),
    responses(
        (status = 200, description = "Similar products, most similar first", body = Hits),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such searchable product", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn similar_products(
    Extension(engine): SearchEngine,
    Path(id): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Hits>, ApiError> {
    let limit = q.validate()?;
    let doc = indexed(&engine, &id).await?;
    let answer = engine
        .search(&query::similar_body(&doc, limit))
        .await
        .map_err(engine_error)?;
    Hits::from_answer(&answer).map(Json).map_err(parse_error)
}

/// The same product (most of its name, same category and currency) in other shops, cheapest
/// first, beside the product itself.
#[utoipa::path(get, path = "/api/v1/products/{id}/price-comparison", tag = TAG,
    params(("id" = String, Path, description = "Product id"), LimitQuery),
    responses(
        (status = 200, description = "The product and its offers elsewhere", body = PriceComparison),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such searchable product", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn price_comparison(
    Extension(engine): SearchEngine,
    Path(id): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<PriceComparison>, ApiError> {
    let limit = q.validate()?;
    let doc = indexed(&engine, &id).await?;
    let answer = engine
        .search(&query::comparison_body(&doc, limit))
        .await
        .map_err(engine_error)?;
    PriceComparison::new(&doc, &answer)
        .map(Json)
        .map_err(parse_error)
}

/// Ids are ULIDs; anything that cannot be an id is simply not found (and never reaches a URL).
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Shared by the GET and POST forms: the checks of every filter.
fn validated(
    q: Option<&str>,
    filters: Filters,
    sort: Option<Sort>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Search, ApiError> {
    let q = match q {
        Some(raw) => {
            if raw.chars().count() > MAX_QUERY_CHARS {
                return Err(ApiError::field(
                    "q",
                    format!("must be at most {MAX_QUERY_CHARS} characters"),
                ));
            }
            Some(product_search::text::normalise(raw)).filter(|t| !t.is_empty())
        }
        None => None,
    };
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 100"));
    }
    for (field, price) in [
        ("min_price", filters.min_price),
        ("max_price", filters.max_price),
    ] {
        if let Some(p) = price
            && !(0..=shared::domain::MAX_AMOUNT).contains(&p)
        {
            return Err(ApiError::field(
                field,
                "must be a non-negative amount in minor units",
            ));
        }
    }
    if let (Some(min), Some(max)) = (filters.min_price, filters.max_price)
        && min > max
    {
        return Err(ApiError::field("min_price", "must not be above max_price"));
    }
    if let Some(r) = filters.rating
        && !(0.0..=5.0).contains(&r)
    {
        return Err(ApiError::field("rating", "must be between 0 and 5"));
    }
    for (field, id) in [
        ("category", &filters.category),
        ("brand", &filters.brand),
        ("shop", &filters.shop),
    ] {
        if let Some(id) = id
            && !valid_id(id)
        {
            return Err(ApiError::field(
                field,
                "must be an id (1-64 letters, digits, - or _)",
            ));
        }
    }
    let sort = sort.unwrap_or_default();
    let after = match cursor {
        Some(c) => Some(query::decode_cursor(sort, c).ok_or_else(|| {
            ApiError::field("cursor", "is not a cursor this API issued for this sort")
        })?),
        None => None,
    };
    Ok(Search {
        q,
        filters,
        sort,
        limit,
        after,
    })
}

/// `lat`, `lng` and `radius_km` come together (radius defaulting to 10 km) or not at all.
fn near(
    lat: Option<f64>,
    lng: Option<f64>,
    radius_km: Option<f64>,
) -> Result<Option<Near>, ApiError> {
    match (lat, lng) {
        (None, None) if radius_km.is_none() => Ok(None),
        (None, None) => Err(ApiError::field("lat", "radius_km needs lat and lng")),
        (Some(_), None) => Err(ApiError::field("lng", "is required with lat")),
        (None, Some(_)) => Err(ApiError::field("lat", "is required with lng")),
        (Some(lat), Some(lng)) => {
            if !(-90.0..=90.0).contains(&lat) {
                return Err(ApiError::field("lat", "must be between -90 and 90"));
            }
            if !(-180.0..=180.0).contains(&lng) {
                return Err(ApiError::field("lng", "must be between -180 and 180"));
            }
            let radius_km = radius_km.unwrap_or(10.0);
            if !(0.1..=MAX_RADIUS_KM).contains(&radius_km) {
                return Err(ApiError::field(
                    "radius_km",
                    format!("must be between 0.1 and {MAX_RADIUS_KM}"),
                ));
            }
            Ok(Some(Near {
                lat,
                lng,
                radius_km,
            }))
        }
    }
}
