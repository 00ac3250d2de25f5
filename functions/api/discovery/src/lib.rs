//! `/api/v1/behavior/*`, `popular/*`, `recent/*`, `trending/*`, `recommendations/*` and
//! `price-alerts`: what buyers look at, search for and open (counted in time-bucketed trend
//! counters and kept in per-caller recent lists), trending products, shops and categories,
//! "for you" recommendations, and price alerts. Storage and scoring live in
//! `shared::discovery` (its module documentation lists every key shape); sales, co-purchases
//! and price checks come from `consumer-recommender`.
//!
//! Callers: a signed-in user is counted as the user. An anonymous caller is counted by its
//! `X-Device-Id` header (required on the behaviour routes without a token); when a signed-in
//! request carries one, the device's recent lists are folded into the user's once
//! (`shared::discovery::recent::fold_device`). Behaviour routes are POSTs, so the shared write
//! limiter (`shared::ratelimit`, per address and per user) applies to them.

pub mod model;
pub mod recommend;

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::discovery::alerts::{self, PriceAlertRecord};
use shared::discovery::cards::{self, CategoryCard, ShopCard};
use shared::discovery::counters::{self, CATEGORY, PRODUCT, QUERY, SHOP, Tally};
use shared::discovery::recent::{self, Entry};
use shared::discovery::scoring::{self, Counts, Window};
use shared::http::{AuthUser, ListResponse, MaybeAuthUser, PageQuery, Query, ValidJson};
use shared::products::{ProductCard, ProductStatus};
use shared::store::{QuerySpec, StoreError, classify, key, keys};
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use model::*;

pub const TAG: &str = "discovery";

/// Co-view pairs one view batch adds, at most.
const MAX_VIEW_PAIRS: usize = 10;
/// How many of the caller's earlier views pair with the new ones.
const EARLIER_VIEWS_PAIRED: usize = 3;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(view_products))
        .routes(routes!(record_searches))
        .routes(routes!(record_clicks))
        .routes(routes!(popular_searches))
        .routes(routes!(recent_searches, clear_recent_searches))
        .routes(routes!(forget_recent_search))
        .routes(routes!(recent_products))
        .routes(routes!(trending_products))
        .routes(routes!(trending_shops))
        .routes(routes!(trending_categories))
        .routes(routes!(recommended_products))
        .routes(routes!(recommended_shops))
        .routes(routes!(list_price_alerts, create_price_alert))
        .routes(routes!(delete_price_alert))
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}

// ------------------------------------------------------------------ OpenAPI response sets

/// The problems of a route open to anonymous callers: a bad query string, an invalid token
/// (when one is sent), an invalid `X-Device-Id` or limit.
pub struct VisitorErrors;

impl utoipa::IntoResponses for VisitorErrors {
    fn responses() -> shared::openapi::Responses {
        [
            ("400", "Malformed query string"),
            ("401", "An Authorization header was sent but is invalid"),
            (
                "422",
                "Invalid X-Device-Id, limit, window or path value; `errors` names it",
            ),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_owned(), shared::openapi::problem(d)))
        .collect()
    }
}

/// The write limiter's answer (`shared::ratelimit`), stated for the behaviour routes.
pub struct WriteLimited;

impl utoipa::IntoResponses for WriteLimited {
    fn responses() -> shared::openapi::Responses {
        [(
            "429".to_owned(),
            shared::openapi::problem(
                "Too many writes from this address (WriteLimitPerIp a minute) or, signed in, this user (WriteLimitPerUser); see Retry-After",
            ),
        )]
        .into()
    }
}

// ------------------------------------------------------------------ callers

/// Who is calling: a user, a device, both (then the device folds into the user) or nobody.
pub struct Visitor {
    pub user: Option<AuthUser>,
    pub device: Option<String>,
}

impl Visitor {
    /// The owner of the caller's recent lists (`keys::recent_owner_*`).
    pub fn owner(&self) -> Option<String> {
        match (&self.user, &self.device) {
            (Some(u), _) => Some(keys::recent_owner_user(u.id())),
            (None, Some(d)) => Some(keys::recent_owner_device(d)),
            (None, None) => None,
        }
    }

    /// The owner, which a route that records something requires.
    pub fn require_owner(&self) -> Result<String, ApiError> {
        self.owner().ok_or_else(|| {
            ApiError::field(
                "X-Device-Id",
                "is required when no Authorization header is sent",
            )
        })
    }
}

/// Reads and checks `X-Device-Id`, and folds the device's history into the signed-in user's.
pub async fn visitor(
    state: &AppState,
    user: Option<AuthUser>,
    headers: &HeaderMap,
) -> Result<Visitor, ApiError> {
    let device = match headers.get("x-device-id") {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                ApiError::field("X-Device-Id", "must be 8-64 letters, digits, '-' or '_'")
            })?;
            check_device_id(v).map_err(|e| ApiError::Validation(vec![e]))?;
            Some(v.to_owned())
        }
    };
    if let (Some(u), Some(d)) = (&user, &device)
        && let Err(e) = recent::fold_device(&state.db, u.id(), d).await
    {
        // Not this request's business: the next signed-in request folds it.
        tracing::warn!(error = %e, "device history not folded yet");
    }
    Ok(Visitor { user, device })
}

fn now_ms() -> i64 {
    (shared::now().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339_ms(ms: i64) -> String {
    shared::format_epoch(ms.div_euclid(1000)).unwrap_or_default()
}

/// Entries for values in the order they happened (the last is the newest), stamped `now`.
fn entries(values: &[String], now: i64) -> Vec<Entry> {
    let last = values.len() as i64 - 1;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Entry {
            value: v.clone(),
            at: now - (last - i as i64),
        })
        .collect()
}

fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn accepted(accepted: u32, ignored: u32) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(BehaviorAccepted { accepted, ignored }),
    )
        .into_response()
}

// ------------------------------------------------------------------ behaviour

/// Record products the caller viewed: counted per product, shop and category in the trend
/// counters, pushed to the caller's recently viewed list, and paired with the caller's previous
/// views ("viewed together"). Products not on sale are skipped (`ignored`).
#[utoipa::path(post, path = "/api/v1/behavior/view-product", tag = TAG,
    params(DeviceHeader),
    request_body = ViewBatch,
    responses(
        (status = 202, description = "Counted", body = BehaviorAccepted),
        shared::openapi::BodyErrors,
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        WriteLimited,
    ))]
#[tracing::instrument(skip_all, fields(events = batch.events.len()))]
async fn view_products(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    ValidJson(batch): ValidJson<ViewBatch>,
) -> Result<Response, ApiError> {
    let visitor = visitor(&state, caller, &headers).await?;
    let owner = visitor.require_owner()?;
    let ids: Vec<String> = batch.events.into_iter().map(|e| e.product_id).collect();
    let products = cards::products(&state.db, &distinct(ids.clone())).await?;
    let mut tally = Tally::default();
    let view = Counts {
        views: 1,
        ..Counts::default()
    };
    let mut seen = Vec::new();
    for id in &ids {
        if let Some(p) = products
            .get(id)
            .filter(|p| p.status == ProductStatus::Active)
        {
            tally.add(PRODUCT, id, view);
            tally.add(SHOP, &p.shop_id, view);
            tally.add(CATEGORY, &p.category_id, view);
            seen.push(id.clone());
        }
    }
    let (count, ignored) = (seen.len() as u32, (ids.len() - seen.len()) as u32);
    if seen.is_empty() {
        return Ok(accepted(0, ignored));
    }
    let added = entries(&seen, now_ms());
    let fresh = distinct(seen.iter().rev().cloned());
    let (listed, counted) = tokio::join!(
        recent::record(&state.db, &owner, keys::RECENT_PRODUCTS, &added),
        counters::apply(&state.db, tally.updates(shared::now_epoch())),
    );
    let after = listed?;
    counted?;
    // The new views (newest first) then the earlier ones: pairs with at least one new product.
    let sequence: Vec<String> = after
        .iter()
        .take(fresh.len() + EARLIER_VIEWS_PAIRED)
        .map(|e| e.value.clone())
        .collect();
    let pairs: Vec<(String, String)> = scoring::capped_pairs(&sequence, sequence.len(), usize::MAX)
        .into_iter()
        .filter(|(a, b)| fresh.contains(a) || fresh.contains(b))
        .take(MAX_VIEW_PAIRS)
        .collect();
    counters::add_cooccurrences(&state.db, keys::COOC_VIEWED, &pairs).await?;
    tracing::info!(
        accepted = count,
        ignored,
        pairs = pairs.len(),
        "views recorded"
    );
    Ok(accepted(count, ignored))
}

/// Record searches the caller ran: counted per normalised query (popular searches) and pushed
/// to the caller's recent searches.
#[utoipa::path(post, path = "/api/v1/behavior/search", tag = TAG,
    params(DeviceHeader),
    request_body = SearchBatch,
    responses(
        (status = 202, description = "Counted", body = BehaviorAccepted),
        shared::openapi::BodyErrors,
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        WriteLimited,
    ))]
#[tracing::instrument(skip_all, fields(events = batch.events.len()))]
async fn record_searches(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    ValidJson(batch): ValidJson<SearchBatch>,
) -> Result<Response, ApiError> {
    let visitor = visitor(&state, caller, &headers).await?;
    let owner = visitor.require_owner()?;
    let queries: Vec<String> = batch.events.into_iter().map(|e| e.query).collect();
    let mut tally = Tally::default();
    for q in &queries {
        tally.add(
            QUERY,
            q,
            Counts {
                searches: 1,
                ..Counts::default()
            },
        );
    }
    let added = entries(&queries, now_ms());
    let (listed, counted) = tokio::join!(
        recent::record(&state.db, &owner, keys::RECENT_SEARCHES, &added),
        counters::apply(&state.db, tally.updates(shared::now_epoch())),
    );
    listed?;
    counted?;
    Ok(accepted(queries.len() as u32, 0))
}

/// Record search results the caller opened: a click counts for the product (and its shop and
/// category) and for the query.
#[utoipa::path(post, path = "/api/v1/behavior/click", tag = TAG,
    params(DeviceHeader),
    request_body = ClickBatch,
    responses(
        (status = 202, description = "Counted", body = BehaviorAccepted),
        shared::openapi::BodyErrors,
        (status = 401, description = "An Authorization header was sent but is invalid", body = shared::error::Problem, content_type = "application/problem+json"),
        WriteLimited,
    ))]
#[tracing::instrument(skip_all, fields(events = batch.events.len()))]
async fn record_clicks(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    ValidJson(batch): ValidJson<ClickBatch>,
) -> Result<Response, ApiError> {
    let visitor = visitor(&state, caller, &headers).await?;
    visitor.require_owner()?;
    let ids = distinct(batch.events.iter().map(|e| e.product_id.clone()));
    let products = cards::products(&state.db, &ids).await?;
    let click = Counts {
        clicks: 1,
        ..Counts::default()
    };
    let mut tally = Tally::default();
    let mut count = 0;
    for e in &batch.events {
        if let Some(p) = products
            .get(&e.product_id)
            .filter(|p| p.status == ProductStatus::Active)
        {
            tally.add(PRODUCT, &p.id, click);
            tally.add(SHOP, &p.shop_id, click);
            tally.add(CATEGORY, &p.category_id, click);
            tally.add(QUERY, &e.query, click);
            count += 1;
        }
    }
    counters::apply(&state.db, tally.updates(shared::now_epoch())).await?;
    Ok(accepted(count, batch.events.len() as u32 - count))
}

// ------------------------------------------------------------------ searches

/// The most searched normalised queries of the last 24 hours.
#[utoipa::path(get, path = "/api/v1/popular/searches", tag = TAG,
    params(LimitQuery),
    responses(
        (status = 200, description = "Queries, most searched first", body = ListResponse<PopularSearch>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn popular_searches(
    State(state): State<AppState>,
    MaybeAuthUser(_caller): MaybeAuthUser,
    Query(q): Query<LimitQuery>,
) -> Result<Json<ListResponse<PopularSearch>>, ApiError> {
    let limit = limit(q.limit)?;
    let rows = counters::read_window(&state.db, QUERY, Window::Day, shared::now_epoch()).await?;
    let mut totals: HashMap<String, i64> = HashMap::new();
    for (_, query, counts) in rows {
        *totals.entry(query).or_default() += counts.searches;
    }
    let mut items: Vec<PopularSearch> = totals
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(query, searches)| PopularSearch { query, searches })
        .collect();
    items.sort_by(|a, b| {
        b.searches
            .cmp(&a.searches)
            .then_with(|| a.query.cmp(&b.query))
    });
    items.truncate(limit);
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

/// The caller's recent searches, newest first (empty for an anonymous caller without a device id).
#[utoipa::path(get, path = "/api/v1/recent/searches", tag = TAG,
    params(DeviceHeader),
    responses(
        (status = 200, description = "Recent searches, newest first (at most 20)", body = ListResponse<RecentSearch>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn recent_searches(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
) -> Result<Json<ListResponse<RecentSearch>>, ApiError> {
    let visitor = visitor(&state, caller, &headers).await?;
    let items = match visitor.owner() {
        None => Vec::new(),
        Some(owner) => recent::load(&state.db, &owner, keys::RECENT_SEARCHES)
            .await?
            .into_iter()
            .map(|e| RecentSearch {
                query: e.value,
                searched_at: rfc3339_ms(e.at),
            })
            .collect(),
    };
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

/// Forget all of the caller's recent searches.
#[utoipa::path(delete, path = "/api/v1/recent/searches", tag = TAG,
    params(DeviceHeader),
    responses(
        (status = 204, description = "Forgotten"),
        VisitorErrors,
        WriteLimited,
    ))]
#[tracing::instrument(skip_all)]
async fn clear_recent_searches(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let visitor = visitor(&state, caller, &headers).await?;
    let owner = visitor.require_owner()?;
    state
        .db
        .delete(keys::recent_list(&owner, keys::RECENT_SEARCHES))
        .await?;
    Ok(shared::http::no_content())
}

/// Forget one recent search (matched after normalisation; forgetting one that is not there is
/// not an error).
#[utoipa::path(delete, path = "/api/v1/recent/searches/{query}", tag = TAG,
    params(("query" = String, Path, description = "The search text (URL-encoded)"), DeviceHeader),
    responses(
        (status = 204, description = "Forgotten"),
        VisitorErrors,
        WriteLimited,
    ))]
#[tracing::instrument(skip_all)]
async fn forget_recent_search(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    Path(query): Path<String>,
) -> Result<Response, ApiError> {
    let query = normalise_query(&query).map_err(|m| ApiError::field("query", m))?;
    let visitor = visitor(&state, caller, &headers).await?;
    let owner = visitor.require_owner()?;
    recent::update(&state.db, &owner, keys::RECENT_SEARCHES, |before| {
        before
            .iter()
            .filter(|e| e.value != query)
            .cloned()
            .collect()
    })
    .await?;
    Ok(shared::http::no_content())
}

/// The products the caller viewed last, newest first; products no longer on sale are left out.
#[utoipa::path(get, path = "/api/v1/recent/products", tag = TAG,
    params(DeviceHeader, LimitQuery),
    responses(
        (status = 200, description = "Recently viewed products, newest first", body = ListResponse<RecentProduct>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn recent_products(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> Result<Json<ListResponse<RecentProduct>>, ApiError> {
    let limit = limit(q.limit)?;
    let visitor = visitor(&state, caller, &headers).await?;
    let Some(owner) = visitor.owner() else {
        return Ok(Json(ListResponse {
            items: Vec::new(),
            next_cursor: None,
        }));
    };
    let list = recent::load(&state.db, &owner, keys::RECENT_PRODUCTS).await?;
    let ids: Vec<String> = list.iter().map(|e| e.value.clone()).collect();
    let cards = cards::product_cards(&state.db, &ids).await?;
    let items = list
        .into_iter()
        .filter_map(|e| {
            cards.get(&e.value).map(|c| RecentProduct {
                product: c.clone(),
                viewed_at: rfc3339_ms(e.at),
            })
        })
        .take(limit)
        .collect();
    Ok(Json(ListResponse {
        items,
        next_cursor: None,
    }))
}

// ------------------------------------------------------------------ trending

fn window_name(w: Window) -> String {
    match w {
        Window::Day => "24h",
        Window::Week => "7d",
    }
    .to_owned()
}

/// The ranked ids of `kind` in `window` now.
async fn ranked(
    state: &AppState,
    kind: &str,
    window: Window,
) -> Result<Vec<(String, f64)>, ApiError> {
    let now = shared::now_epoch();
    let rows = counters::read_window(&state.db, kind, window, now).await?;
    Ok(scoring::rank(window, now, &rows))
}

/// The top `limit` products on sale of `window`, skipping `exclude`.
pub async fn top_products(
    state: &AppState,
    window: Window,
    limit: usize,
    exclude: &[String],
) -> Result<Vec<(ProductCard, f64)>, ApiError> {
    let ranked: Vec<(String, f64)> = ranked(state, PRODUCT, window)
        .await?
        .into_iter()
        .filter(|(id, _)| !exclude.contains(id))
        .take(limit * 2 + 10)
        .collect();
    let ids: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let cards = cards::product_cards(&state.db, &ids).await?;
    Ok(ranked
        .into_iter()
        .filter_map(|(id, score)| cards.get(&id).map(|c| (c.clone(), score)))
        .take(limit)
        .collect())
}

/// The top `limit` active shops of `window`.
pub async fn top_shops(
    state: &AppState,
    window: Window,
    limit: usize,
) -> Result<Vec<(ShopCard, f64)>, ApiError> {
    let ranked: Vec<(String, f64)> = ranked(state, SHOP, window)
        .await?
        .into_iter()
        .take(limit * 2 + 10)
        .collect();
    let ids: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let cards = cards::shop_cards(&state.db, &ids).await?;
    Ok(ranked
        .into_iter()
        .filter_map(|(id, score)| cards.get(&id).map(|c| (c.clone(), score)))
        .take(limit)
        .collect())
}

/// Products by recent views, clicks and sales, decayed by age (`window=24h|7d`). Archived
/// products and products of suspended shops are left out.
#[utoipa::path(get, path = "/api/v1/trending/products", tag = TAG,
    params(TrendingQuery),
    responses(
        (status = 200, description = "Hottest first", body = Trending<TrendingProduct>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn trending_products(
    State(state): State<AppState>,
    MaybeAuthUser(_caller): MaybeAuthUser,
    Query(q): Query<TrendingQuery>,
) -> Result<Json<Trending<TrendingProduct>>, ApiError> {
    let (w, limit) = (window(q.window.as_deref())?, limit(q.limit)?);
    let items = top_products(&state, w, limit, &[])
        .await?
        .into_iter()
        .map(|(product, score)| TrendingProduct { product, score })
        .collect();
    Ok(Json(Trending {
        window: window_name(w),
        items,
    }))
}

/// Shops by the views, clicks and sales of their products, decayed by age. Suspended shops are
/// left out.
#[utoipa::path(get, path = "/api/v1/trending/shops", tag = TAG,
    params(TrendingQuery),
    responses(
        (status = 200, description = "Hottest first", body = Trending<TrendingShop>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn trending_shops(
    State(state): State<AppState>,
    MaybeAuthUser(_caller): MaybeAuthUser,
    Query(q): Query<TrendingQuery>,
) -> Result<Json<Trending<TrendingShop>>, ApiError> {
    let (w, limit) = (window(q.window.as_deref())?, limit(q.limit)?);
    let items = top_shops(&state, w, limit)
        .await?
        .into_iter()
        .map(|(shop, score)| TrendingShop { shop, score })
        .collect();
    Ok(Json(Trending {
        window: window_name(w),
        items,
    }))
}

/// Categories by the views, clicks and sales of their products, decayed by age.
#[utoipa::path(get, path = "/api/v1/trending/categories", tag = TAG,
    params(TrendingQuery),
    responses(
        (status = 200, description = "Hottest first", body = Trending<TrendingCategory>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn trending_categories(
    State(state): State<AppState>,
    MaybeAuthUser(_caller): MaybeAuthUser,
    Query(q): Query<TrendingQuery>,
) -> Result<Json<Trending<TrendingCategory>>, ApiError> {
    let (w, limit) = (window(q.window.as_deref())?, limit(q.limit)?);
    let ranked: Vec<(String, f64)> = ranked(&state, CATEGORY, w)
        .await?
        .into_iter()
        .take(limit * 2 + 10)
        .collect();
    let ids: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let found: HashMap<String, CategoryCard> = cards::category_cards(&state.db, &ids).await?;
    let items = ranked
        .into_iter()
        .filter_map(|(id, score)| {
            found.get(&id).map(|c| TrendingCategory {
                category: c.clone(),
                score,
            })
        })
        .take(limit)
        .collect();
    Ok(Json(Trending {
        window: window_name(w),
        items,
    }))
}

// ------------------------------------------------------------------ recommendations

/// "For you": products bought or viewed together with what the caller bought and viewed,
/// blended with similar products (same category, nearby price); what the caller bought and the
/// products they just viewed are left out. A caller without history gets trending products.
#[utoipa::path(get, path = "/api/v1/recommendations/products", tag = TAG,
    params(DeviceHeader, LimitQuery),
    responses(
        (status = 200, description = "Best first, with why", body = Recommendations<RecommendedProduct>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn recommended_products(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Recommendations<RecommendedProduct>>, ApiError> {
    let limit = limit(q.limit)?;
    let visitor = visitor(&state, caller, &headers).await?;
    Ok(Json(
        recommend::products(&state, visitor.owner().as_deref(), limit).await?,
    ))
}

/// Shops of the products recommended to the caller (trending shops for a caller without
/// history).
#[utoipa::path(get, path = "/api/v1/recommendations/shops", tag = TAG,
    params(DeviceHeader, LimitQuery),
    responses(
        (status = 200, description = "Best first", body = Recommendations<RecommendedShop>),
        VisitorErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn recommended_shops(
    State(state): State<AppState>,
    MaybeAuthUser(caller): MaybeAuthUser,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Recommendations<RecommendedShop>>, ApiError> {
    let limit = limit(q.limit)?;
    let visitor = visitor(&state, caller, &headers).await?;
    Ok(Json(
        recommend::shops(&state, visitor.owner().as_deref(), limit).await?,
    ))
}

// ------------------------------------------------------------------ price alerts

/// The caller's price alerts (active and notified), by product.
#[utoipa::path(get, path = "/api/v1/price-alerts", tag = TAG, security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's alerts", body = ListResponse<PriceAlert>),
        (status = 400, description = "Malformed query string", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn list_price_alerts(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<ListResponse<PriceAlert>>, ApiError> {
    let page = page.pagination()?;
    let result = state
        .db
        .query_page::<PriceAlertRecord>(QuerySpec {
            index: None,
            pk: keys::user_pk(caller.id()),
            sk_prefix: Some(keys::PRICE_ALERT_PREFIX.to_owned()),
            ascending: true,
            limit: page.limit,
            start: page.start,
        })
        .await?;
    Ok(Json(ListResponse {
        items: result.items.into_iter().map(PriceAlert::from).collect(),
        next_cursor: result.next_cursor,
    }))
}

/// Ask to be e-mailed once when the product's lowest in-stock price (discounts included) falls
/// to `target_price` or below. One active alert per product: a notified alert may be replaced
/// by a new one.
#[utoipa::path(post, path = "/api/v1/price-alerts", tag = TAG, security(("bearer" = [])),
    request_body = CreatePriceAlert,
    responses(
        (status = 201, description = "The alert, active", body = PriceAlert),
        (status = 409, description = "The caller already has an active alert on this product", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::BodyErrors,
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn create_price_alert(
    State(state): State<AppState>,
    caller: AuthUser,
    ValidJson(req): ValidJson<CreatePriceAlert>,
) -> Result<Response, ApiError> {
    let not_on_sale = || ApiError::field("product_id", "is not a product on sale");
    let (product, variants) = shared::products::load_product(&state.db, &req.product_id)
        .await?
        .filter(|(p, _)| p.status == ProductStatus::Active)
        .ok_or_else(not_on_sale)?;
    let list_price = variants
        .iter()
        .map(|v| v.price)
        .min_by_key(|p| p.amount)
        .ok_or_else(not_on_sale)?;
    if let Some(now) = alerts::lowest_price(&variants, shared::now_epoch())
        && req.target_price >= now.amount
    {
        return Err(ApiError::field(
            "target_price",
            format!("must be below the current price ({now})"),
        ));
    }
    let (pk, sk) = keys::price_alert(caller.id(), &product.id);
    let target = shared::domain::Money::new(req.target_price, list_price.currency);
    let record = PriceAlertRecord {
        pk,
        sk,
        gsi1pk: Some(keys::gsi1_price_alerts(&product.id)),
        gsi1sk: Some(keys::gsi1_price_alert_sort(req.target_price, caller.id())),
        entity_type: alerts::ENTITY.into(),
        id: product.id.clone(),
        user_id: caller.id().to_owned(),
        product_id: product.id.clone(),
        product_name: product.name.clone(),
        target_price: target,
        created_at: shared::now_rfc3339(),
        notified_at: None,
        notified_price: None,
    };
    let put = state
        .db
        .client
        .put_item()
        .table_name(&state.db.table)
        .set_item(Some(shared::store::to_item(&record)?))
        .condition_expression("attribute_not_exists(PK) OR attribute_exists(notified_at)")
        .send()
        .await
        .map_err(classify);
    match put {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::Conflict(
                "you already have an active price alert on this product".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(product_id = %record.product_id, "price alert created");
    Ok((StatusCode::CREATED, Json(PriceAlert::from(record))).into_response())
}

/// Delete one of the caller's price alerts (its id is its product's id).
#[utoipa::path(delete, path = "/api/v1/price-alerts/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = String, Path, description = "The alert's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "The caller has no such alert", body = shared::error::Problem, content_type = "application/problem+json"),
        shared::openapi::AuthErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn delete_price_alert(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("you have no price alert with this id".into());
    let mut id = id;
    shared::validate::id("id", &mut id).map_err(|_| not_found())?;
    let deleted = state
        .db
        .client
        .delete_item()
        .table_name(&state.db.table)
        .set_key(Some(key(keys::price_alert(caller.id(), &id))))
        .condition_expression("attribute_exists(PK)")
        .send()
        .await
        .map_err(classify);
    match deleted {
        Ok(_) => Ok(shared::http::no_content()),
        Err(StoreError::ConditionFailed) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}
