//! Lambda entrypoint of the live-tracking WebSocket routes: one function for `$connect`,
//! `$disconnect`, `subscribe`, `unsubscribe` and `$default`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let connections = &*Box::leak(Box::new(ws_connections::Connections::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            connections
                .handle(event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
