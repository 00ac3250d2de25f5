//! Presigned image uploads to the media bucket (product images, return photos): the one
//! request shape, its validation, and the presigned PUT the client performs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
use crate::products::{MAX_MEDIA_BYTES, MEDIA_TYPES};
use crate::state::AppState;
use crate::validate::{Errors, Validate};

/// How long a presigned upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);

/// What the client is about to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageUploadRequest {
    /// `image/jpeg`, `image/png` or `image/webp`.
    #[schema(
        example = "image/jpeg",
        pattern = "^(?:image/jpeg|image/png|image/webp)$"
    )]
    pub content_type: String,
    /// Exact size of the file to upload, at most 10 MiB.
    #[schema(example = 482113, minimum = 1, maximum = 10485760)]
    pub size_bytes: u64,
}

impl Validate for ImageUploadRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        self.content_type = self.content_type.trim().to_lowercase();
        if !MEDIA_TYPES.contains(&self.content_type.as_str()) {
            e.push(
                "content_type",
                "must be image/jpeg, image/png or image/webp",
            );
        }
        if self.size_bytes == 0 || self.size_bytes > MAX_MEDIA_BYTES {
            e.push("size_bytes", "must be 1 byte to 10 MiB");
        }
        e.finish()
    }
}

/// A presigned `PUT`: the URL, the headers it must carry exactly, and its lifetime.
#[derive(Debug)]
pub struct PresignedPut {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_in: u64,
}

/// A presigned upload of a private photo (a return's or a delivery's), and the id to cite it by.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoUpload {
    pub photo_id: String,
    pub upload_url: String,
    #[schema(example = "PUT")]
    pub method: String,
    /// Headers the PUT must carry exactly.
    pub headers: BTreeMap<String, String>,
    pub expires_in: u64,
}

impl PresignedPut {
    pub fn for_photo(self, photo_id: String) -> PhotoUpload {
        PhotoUpload {
            photo_id,
            upload_url: self.url,
            method: "PUT".into(),
            headers: self.headers,
            expires_in: self.expires_in,
        }
    }
}

impl AppState {
    /// Presigns a `PUT` of `req` to `key` in the media bucket (type and length are signed).
    pub async fn presign_image_put(
        &self,
        key: String,
        req: &ImageUploadRequest,
    ) -> Result<PresignedPut, ApiError> {
        let bucket =
            self.config.media_bucket.as_deref().ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("MEDIA_BUCKET is not configured"))
            })?;
        let presigned = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(&req.content_type)
            .content_length(req.size_bytes as i64)
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(UPLOAD_URL_TTL)
                    .map_err(ApiError::internal)?,
            )
            .await
            .map_err(ApiError::internal)?;
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers: [
                ("content-type".to_owned(), req.content_type.clone()),
                ("content-length".to_owned(), req.size_bytes.to_string()),
            ]
            .into(),
            expires_in: UPLOAD_URL_TTL.as_secs(),
        })
    }
}

impl AppState {
    /// Whether a photo sits at `key` in the media bucket as an accepted image type within the
    /// size limit (the media processor deletes any upload whose bytes are not an image).
    /// Without a configured bucket there is nothing to check: `true`.
    pub async fn photo_uploaded(&self, key: String) -> bool {
        let Some(bucket) = self.config.media_bucket.as_deref() else {
            return true;
        };
        let head = self.s3.head_object().bucket(bucket).key(key).send().await;
        head.as_ref().is_ok_and(|h| {
            h.content_length().unwrap_or(0) as u64 <= MAX_MEDIA_BYTES
                && h.content_type().is_some_and(|t| MEDIA_TYPES.contains(&t))
        })
    }
}
