//! Lambda entrypoint for `stock adjustments, ledgers and inventory views`: tracing, config, clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_inventory::router(state)).await
}
