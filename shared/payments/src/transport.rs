//! The HTTP client every adapter uses, and the one mapping of transport failures (network,
//! timeout, 5xx, 429) to `ProviderError::Unavailable`.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::{ProviderError, describe_json_error};

/// The client for all adapters: 3 s to connect, 8 s for a whole call, so a slow provider fails
/// a Lambda invocation fast instead of eating its timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(8))
        .build()
        .expect("the TLS backend initialises")
}

/// A provider's answer that was not a transport failure.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::BadResponse(format!(
                "{what} (HTTP {}): {}",
                self.status.as_u16(),
                describe_json_error(&e)
            ))
        })
    }

    pub fn unexpected(&self, what: &str) -> ProviderError {
        ProviderError::BadResponse(format!("{what}: HTTP {}", self.status.as_u16()))
    }
}

/// Sends a request; a network error, a timeout, a 5xx or a 429 is `Unavailable`.
pub(crate) async fn send(request: RequestBuilder) -> Result<Reply, ProviderError> {
    let unavailable = |e: reqwest::Error| ProviderError::Unavailable(error_chain(e.without_url()));
    let response = request.send().await.map_err(unavailable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unavailable)?.to_vec();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::Unavailable(format!(
            "HTTP {}",
            status.as_u16()
        )));
    }
    Ok(Reply { status, body })
}

/// "error sending request: … : connection refused" (reqwest's own message stops at the first).
fn error_chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
