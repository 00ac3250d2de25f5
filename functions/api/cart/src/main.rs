//! Lambda entrypoint for the buyer's cart, saved items and applied vouchers: tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_cart::router(state)).await
}
