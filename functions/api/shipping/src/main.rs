//! Lambda entrypoint of the shipping routes (prices, methods, address validation and
//! geocoding): tracing, config, then the router. The gazetteer is compiled in.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(api_shipping::router(state)).await
}
