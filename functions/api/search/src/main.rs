//! Lambda entrypoint of the search routes: tracing, config, clients and the engine (built
//! once, SigV4-signed), then the router.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    let sdk = shared::state::aws_config().await;
    let engine = Arc::new(product_search::Engine::from_env(&sdk)?);
    lambda_http::run(api_search::router(state, engine)).await
}
