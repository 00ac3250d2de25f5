//! Lambda entrypoint of the shipping routes: tracing, config, the outside carriers whose
//! secrets are configured, then the router. The gazetteer is compiled in.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = shared::config::Config::from_env()?;
    let sdk = shared::state::aws_config().await;
    let (secret, carriers) = tokio::try_join!(
        shared::state::load_jwt_secret(&sdk, &config.jwt_secret_arn),
        shipping_carriers::Carriers::from_env(&sdk),
    )?;
    let state = shared::AppState::new(config, &sdk, &secret);
    lambda_http::run(api_shipping::router(state, carriers)).await
}
