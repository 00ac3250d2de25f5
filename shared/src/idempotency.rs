//! Idempotent POSTs: the first response to a request is remembered under the caller's
//! `Idempotency-Key` (written in the same transaction as the change), and a retry with the same
//! key and body gets it back with `idempotent-replayed: true`; the same key with another body is
//! refused.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// How long a response is replayed for its key.
pub const TTL_SECS: i64 = 24 * 3600;

/// `IDEMPOTENCY#<scope>#<key>/RESPONSE`: the first response to a request.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub request_hash: String,
    pub status: u16,
    /// The JSON response body.
    pub response: String,
    pub created_at: String,
    pub expires_at: i64,
}

impl IdempotencyRecord {
    pub fn new(
        (pk, sk): (String, String),
        request_hash: &str,
        status: StatusCode,
        response: &str,
    ) -> Self {
        Self {
            pk,
            sk,
            entity_type: "idempotency".into(),
            request_hash: request_hash.into(),
            status: status.as_u16(),
            response: response.into(),
            created_at: crate::now_rfc3339(),
            expires_at: crate::now_epoch() + TTL_SECS,
        }
    }

    /// The remembered response, or a 422 when `hash` is another request's.
    pub fn replay(&self, hash: &str) -> Result<Response, ApiError> {
        if self.request_hash != hash {
            return Err(ApiError::field(
                "Idempotency-Key",
                "was already used for a different request; use a new key",
            ));
        }
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::CREATED),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.response.clone(),
        )
            .into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        Ok(response)
    }
}

/// SHA-256 (hex) of a request as it will be compared on a retry.
pub fn request_hash<T: Serialize>(req: &T) -> String {
    let body = serde_json::to_vec(req).expect("a request serialises");
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
