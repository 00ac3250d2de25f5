//! Lambda entrypoint of the payment routes: tracing, config, clients and the providers, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    let sdk = shared::state::aws_config().await;
    let providers = payment_providers::registry::Providers::from_env(&sdk).await?;
    let settings = api_payments::Settings::from_env()?;
    lambda_http::run(api_payments::router(state, providers, settings)).await
}
