//! Lambda entrypoint for `/api/v1/organizations/* and /api/v1/shops/*`: tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_shops::router(state)).await
}
