//! Lambda entrypoint for discovery (behaviour, trending, recommendations, price alerts):
//! tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_discovery::router(state)).await
}
