//! Lambda entrypoint for `/api/v1/products/*, categories, brands`: tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_products::router(state)).await
}
