//! Posting frames to the WebSocket API's connections (`PostToConnection`), shared by the
//! tracking push (shipment frames) and the notifier (live notifications).

use aws_sdk_apigatewaymanagement::primitives::Blob;

/// The management API endpoint the template gives a function:
/// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
pub const ENDPOINT_ENV: &str = "WS_MANAGEMENT_ENDPOINT";
/// The SDK's own per-service endpoint variable; when set (locally: the dev server) it wins.
pub const SDK_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI";

/// The management endpoint: [`SDK_ENDPOINT_ENV`] if set, else [`ENDPOINT_ENV`].
pub fn endpoint_from_env() -> anyhow::Result<String> {
    [SDK_ENDPOINT_ENV, ENDPOINT_ENV]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "missing or empty environment variable {ENDPOINT_ENV} (see template.yaml)"
            )
        })
}

/// A management API client for `endpoint` (API Gateway resolves no endpoint of its own for it:
/// the API id and stage are part of the URL).
pub fn management_client(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
) -> aws_sdk_apigatewaymanagement::Client {
    aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Why a post did not reach its connection.
#[derive(Debug)]
pub enum PostError {
    /// 410: the connection is closed (its `$disconnect` may never have reached us): forget it.
    Gone,
    Failed(anyhow::Error),
}

/// Posts one frame to one connection.
pub async fn post(
    client: &aws_sdk_apigatewaymanagement::Client,
    connection_id: &str,
    data: Vec<u8>,
) -> Result<(), PostError> {
    match client
        .post_to_connection()
        .connection_id(connection_id)
        .data(Blob::new(data))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_gone_exception()) => {
            Err(PostError::Gone)
        }
        Err(e) => Err(PostError::Failed(anyhow::anyhow!(
            "PostToConnection: {}",
            aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e)
        ))),
    }
}
