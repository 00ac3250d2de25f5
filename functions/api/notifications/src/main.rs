//! Lambda entrypoint of the notification centre's routes: tracing, config, the table and SNS
//! clients, then the router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = shared::config::Config::from_env()?;
    let sdk = shared::state::aws_config().await;
    let secret = shared::state::load_jwt_secret(&sdk, &config.jwt_secret_arn).await?;
    let state = shared::AppState::new(config, &sdk, &secret);
    let push = api_notifications::Push::from_env(&sdk);
    lambda_http::run(api_notifications::router(state, push)).await
}
