//! Lambda entrypoint for shop and platform vouchers: tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_vouchers::router(state)).await
}
