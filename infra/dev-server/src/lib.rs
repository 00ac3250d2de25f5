//! The local dev server: every API route group on one port (as API Gateway would route them
//! to their Lambdas), the OpenAPI document at `/openapi.json`, a docs page at `/docs`, and the
//! event pump that feeds the consumers.

pub mod faults;
pub mod pump;
pub mod seed;
pub mod stack;
pub mod websocket;

use std::sync::Arc;

use axum::Json;
use axum::response::Html;
use axum::routing::get;
use shared::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every route group, as one OpenAPI-described router. Add new groups here.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .merge(api_auth::api())
        .merge(api_users::api())
        .merge(api_shops::api())
        .merge(api_products::api())
        .merge(api_inventory::api())
        .merge(api_cart::api())
        .merge(api_vouchers::api())
        .merge(api_orders::api())
        .merge(api_payments::api())
        .merge(api_webhooks::api())
        .merge(api_search::api())
        .merge(api_discovery::api())
        .merge(api_shipping::api())
        .merge(api_notifications::api())
}

/// What some route groups need besides the state: the payment provider and carrier adapters
/// (pointed at the provider sandbox locally), the search engine client (the local
/// OpenSearch-compatible server) and the push client (SNS with the emulator's platform
/// applications).
#[derive(Clone)]
pub struct Services {
    pub providers: payment_providers::registry::Providers,
    pub search: Arc<product_search::Engine>,
    pub carriers: shipping_carriers::Carriers,
    pub push: api_notifications::Push,
}

impl Services {
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        Ok(Self {
            providers: payment_providers::registry::Providers::from_env(sdk).await?,
            search: Arc::new(product_search::Engine::from_env(sdk)?),
            carriers: shipping_carriers::Carriers::from_env(sdk).await?,
            push: api_notifications::Push::from_env(sdk),
        })
    }
}

/// No provider configured, a search engine that is never there (search answers 503) and no
/// push platform (registering a device answers 503).
impl Default for Services {
    fn default() -> Self {
        let nowhere = product_search::Engine::new(
            "http://127.0.0.1:9",
            product_search::index::ALIAS,
            std::time::Duration::from_secs(1),
            None,
        )
        .expect("a loopback URL makes an engine");
        Self {
            providers: Default::default(),
            search: Arc::new(nowhere),
            carriers: Default::default(),
            push: Default::default(),
        }
    }
}

/// The OpenAPI document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_and_doc().1
}

fn routes_and_doc() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = api().split_for_parts();
    shared::openapi::add_common_responses(&mut doc);
    (routes, doc)
}

/// The whole HTTP surface: API routes plus `/openapi.json`, `/docs` and `/health`.
pub fn app(state: AppState, public_url: Option<&str>, services: Services) -> axum::Router {
    let (routes, mut doc) = routes_and_doc();
    if let Some(url) = public_url {
        doc.servers = Some(vec![utoipa::openapi::Server::new(url)]);
    }
    let doc = std::sync::Arc::new(doc);
    let routes = routes
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route(
            "/docs",
            get(|| async { Html(include_str!("../static/docs.html")) }),
        )
        .route("/health", get(|| async { "ok" }))
        .layer(api_payments::extension(
            services.providers.clone(),
            api_payments::Settings::from_env().expect("payment settings have defaults"),
        ))
        .layer(api_webhooks::extension(services.providers))
        .layer(api_search::extension(services.search))
        .layer(api_shipping::handover::extension(services.carriers))
        .layer(api_notifications::push::extension(services.push));
    shared::http::finish(routes, state)
}
