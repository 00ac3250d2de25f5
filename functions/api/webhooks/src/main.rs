//! Lambda entrypoint of the provider webhooks. This function verifies provider signatures and
//! never sees a user's token, so its role cannot read the JWT secret: its state gets a random
//! key that no route uses.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = shared::config::Config::from_env()?;
    let sdk = shared::state::aws_config().await;
    let unused_jwt_key: [u8; 32] = rand::random();
    let state = shared::AppState::new(config, &sdk, &unused_jwt_key);
    let providers = payment_providers::registry::Providers::from_env(&sdk).await?;
    lambda_http::run(api_webhooks::router(state, providers)).await
}
