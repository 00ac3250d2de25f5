//! The media processor. A seller uploads through a presigned PUT to `uploads/<product>/<media>`;
//! S3 notifies the media queue; this consumer checks that the object really is a JPEG, PNG or
//! WebP image within the size and dimension limits (the presigned URL's declared type is not
//! trusted), writes the original and 200/800 px JPEG thumbnails under `media/`, and appends the
//! image to the product in one transaction with an idempotency guard. Anything else is deleted.
//! Private photos — a buyer's return photos under `returns/`, a shipper's proof-of-delivery
//! photos under `deliveries/` — are only checked the same way and deleted unless they are images.

use std::collections::BTreeMap;
use std::io::Cursor;

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use shared::products::{MAX_MEDIA_BYTES, MediaItem, THUMBNAIL_SIZES};
use shared::store::{Db, StoreError, keys, n, s, tx};

/// Largest accepted width or height (guards against decompression bombs).
pub const MAX_DIMENSION: u32 = 10_000;
/// Images per product.
pub const MAX_MEDIA_PER_PRODUCT: usize = 12;

/// A verified image and its encoded thumbnails.
#[derive(Debug)]
pub struct Processed {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// (longest side, JPEG bytes)
    pub thumbnails: Vec<(u32, Vec<u8>)>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Checks the bytes are an accepted image (JPEG, PNG or WebP that decodes within the size
/// limits) and decodes it. Pure: no I/O.
pub fn check_image(bytes: &[u8]) -> Result<(DynamicImage, &'static str), Rejected> {
    if bytes.len() as u64 > MAX_MEDIA_BYTES {
        return Err(Rejected(format!(
            "{} bytes is over the {} byte limit",
            bytes.len(),
            MAX_MEDIA_BYTES
        )));
    }
    let format = image::guess_format(bytes).map_err(|_| Rejected("not an image".into()))?;
    let content_type = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        other => return Err(Rejected(format!("{other:?} images are not accepted"))),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Rejected(format!("undecodable image: {e}")))?;
    Ok((img, content_type))
}

/// Checks the bytes are an accepted image and makes the thumbnails. Pure: no I/O.
pub fn process_image(bytes: &[u8]) -> Result<Processed, Rejected> {
    let (img, content_type) = check_image(bytes)?;
    let thumbnails = THUMBNAIL_SIZES
        .iter()
        .map(|&size| Ok((size, jpeg(&fit(&img, size))?)))
        .collect::<Result<Vec<_>, Rejected>>()?;
    Ok(Processed {
        content_type,
        width: img.width(),
        height: img.height(),
        thumbnails,
    })
}

/// Scales down to fit `size`×`size`, keeping the aspect ratio; never scales up.
fn fit(img: &DynamicImage, size: u32) -> DynamicImage {
    if img.width() <= size && img.height() <= size {
        img.clone()
    } else {
        img.thumbnail(size, size)
    }
}

fn jpeg(img: &DynamicImage) -> Result<Vec<u8>, Rejected> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    img.to_rgb8()
        .write_with_encoder(encoder)
        .map_err(|e| Rejected(format!("thumbnail encoding failed: {e}")))?;
    Ok(out)
}

/// The object keys of an S3 event notification. Typed parsing (`aws_lambda_events`' S3Event)
/// is tried first; emulators that omit fields S3 always sends (moto leaves out `userIdentity`)
/// fall back to reading `Records[].s3.object.key` only.
pub fn object_keys(body: &serde_json::Value) -> anyhow::Result<Vec<String>> {
    if let Ok(event) = serde_json::from_value::<S3Event>(body.clone()) {
        return Ok(event
            .records
            .into_iter()
            .filter_map(|r| r.s3.object.key)
            .collect());
    }
    let records = body
        .get("Records")
        .and_then(|r| r.as_array())
        .ok_or_else(|| anyhow::anyhow!("not an S3 event notification"))?;
    Ok(records
        .iter()
        .filter_map(|r| {
            r.pointer("/s3/object/key")
                .and_then(|k| k.as_str())
                .map(str::to_owned)
        })
        .collect())
}

/// `uploads/<product>/<media>` → (product, media). S3 notifications URL-encode keys.
pub fn parse_upload_key(raw: &str) -> Option<(String, String)> {
    let key = percent_decode(&raw.replace('+', " "));
    let rest = key.strip_prefix(keys::UPLOAD_PREFIX)?;
    let (product, media) = rest.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(product) && ok(media)).then(|| (product.to_owned(), media.to_owned()))
}

/// `returns/<order>/<photo>` → (order, photo). S3 notifications URL-encode keys.
pub fn parse_return_photo_key(raw: &str) -> Option<(String, String)> {
    parse_private_photo_key(raw, keys::RETURN_PHOTO_PREFIX)
}

/// `<prefix><order>/<photo>` → (order, photo): a private photo (a return's, a delivery's).
fn parse_private_photo_key(raw: &str, prefix: &str) -> Option<(String, String)> {
    let key = percent_decode(&raw.replace('+', " "));
    let rest = key.strip_prefix(prefix)?;
    let (order, photo) = rest.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(order) && ok(photo)).then(|| (order.to_owned(), photo.to_owned()))
}

/// `deliveries/<order>/<photo>` → (order, photo): a shipper's proof of delivery.
pub fn parse_delivery_photo_key(raw: &str) -> Option<(String, String)> {
    parse_private_photo_key(raw, keys::DELIVERY_PROOF_PREFIX)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct MediaProcessor {
    pub s3: aws_sdk_s3::Client,
    pub db: Db,
    pub bucket: String,
    pub public_base: String,
}

/// What an upload notification finds in the bucket.
enum Upload {
    Bytes(Vec<u8>),
    /// Deleted meanwhile (a redelivered notification).
    Gone,
    TooLarge,
}

const TOO_LARGE: &str = "the upload is larger than 10 MiB";

#[derive(Debug)]
#[allow(dead_code)] // the reason is read through Debug, in the log line
enum Outcome {
    Attached,
    /// A return photo whose bytes are an accepted image (it stays where it is).
    Verified,
    AlreadyAttached,
    Rejected(String),
    Ignored,
}

impl MediaProcessor {
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let bucket = config
            .media_bucket
            .clone()
            .ok_or_else(|| anyhow::anyhow!("missing environment variable MEDIA_BUCKET"))?;
        let sdk = shared::state::aws_config().await;
        Ok(Self {
            s3: shared::state::s3_client(&sdk),
            db: Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            public_base: shared::state::media_public_base(&sdk, &bucket),
            bucket,
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            let id = message.message_id.clone().unwrap_or_default();
            match self.process(message).await {
                Ok(outcomes) => {
                    tracing::info!(message_id = %id, ?outcomes, "upload notification handled")
                }
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "upload notification failed; it will be retried");
                    response.add_failure(id);
                }
            }
        }
        response
    }

    async fn process(&self, message: &SqsMessage) -> anyhow::Result<Vec<Outcome>> {
        let body: serde_json::Value =
            serde_json::from_str(message.body.as_deref().unwrap_or_default())?;
        if body.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
            return Ok(vec![Outcome::Ignored]);
        }
        let mut outcomes = Vec::new();
        for raw_key in object_keys(&body)? {
            outcomes.push(self.process_object(&raw_key).await?);
        }
        Ok(outcomes)
    }

    async fn process_object(&self, raw_key: &str) -> anyhow::Result<Outcome> {
        if let Some((order_id, photo_id)) = parse_return_photo_key(raw_key) {
            return self
                .verify_return_photo(&keys::return_photo_object(&order_id, &photo_id))
                .await;
        }
        if let Some((order_id, photo_id)) = parse_delivery_photo_key(raw_key) {
            return self
                .verify_return_photo(&keys::delivery_proof_object(&order_id, &photo_id))
                .await;
        }
        let Some((product_id, media_id)) = parse_upload_key(raw_key) else {
            return Ok(Outcome::Ignored);
        };
        let upload_key = keys::upload_object(&product_id, &media_id);
        if self
            .db
            .get::<serde_json::Value>(keys::media_guard(&media_id))
            .await?
            .is_some()
        {
            self.delete(&upload_key).await?;
            return Ok(Outcome::AlreadyAttached);
        }
        let bytes = match self.read_upload(&upload_key).await? {
            Upload::Bytes(bytes) => bytes,
            Upload::Gone => return Ok(Outcome::Ignored),
            Upload::TooLarge => return self.reject(&upload_key, TOO_LARGE).await,
        };
        let processed =
            match tokio::task::spawn_blocking(move || process_image(&bytes).map(|p| (p, bytes)))
                .await?
            {
                Ok(p) => p,
                Err(Rejected(why)) => return self.reject(&upload_key, &why).await,
            };
        let (processed, original) = processed;
        let original_key = keys::media_object(&product_id, &media_id, "original");
        self.put(&original_key, original, processed.content_type)
            .await?;
        let mut thumbnails = BTreeMap::new();
        for (size, data) in processed.thumbnails {
            let key = keys::media_object(&product_id, &media_id, &format!("{size}.jpg"));
            self.put(&key, data, "image/jpeg").await?;
            thumbnails.insert(size.to_string(), format!("{}/{key}", self.public_base));
        }
        let item = MediaItem {
            id: media_id.clone(),
            content_type: processed.content_type.into(),
            width: processed.width,
            height: processed.height,
            original_url: format!("{}/{original_key}", self.public_base),
            thumbnails,
        };
        match self.attach(&product_id, &item).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled(reasons)) => {
                let why = if reasons.first().is_some_and(Option::is_some) {
                    "already attached"
                } else {
                    "the product is gone or has 12 images"
                };
                return self.reject(&upload_key, why).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.delete(&upload_key).await?;
        Ok(Outcome::Attached)
    }

    async fn attach(&self, product_id: &str, item: &MediaItem) -> Result<(), StoreError> {
        #[derive(serde::Serialize)]
        struct Guard {
            #[serde(rename = "PK")]
            pk: String,
            #[serde(rename = "SK")]
            sk: String,
            entity_type: &'static str,
            product_id: String,
        }
        let (pk, sk) = keys::media_guard(&item.id);
        let table = &self.db.table;
        let media =
            serde_dynamo::to_attribute_value(item).map_err(|e| StoreError::Other(e.into()))?;
        self.db
            .transact(vec![
                tx::put_new(table, &Guard { pk, sk, entity_type: "media_guard", product_id: product_id.into() })?,
                tx::update(table, tx::UpdateSpec {
                    key: keys::product(product_id),
                    update: "SET media = list_append(if_not_exists(media, :empty), :item), updated_at = :now ADD version :one",
                    condition: Some("attribute_exists(PK) AND (attribute_not_exists(media) OR size(media) < :max)"),
                    names: &[],
                    values: vec![
                        (":empty", AttributeValue::L(vec![])),
                        (":item", AttributeValue::L(vec![media])),
                        (":now", s(shared::now_rfc3339())),
                        (":one", n(1)),
                        (":max", n(MAX_MEDIA_PER_PRODUCT)),
                    ],
                })?,
            ])
            .await
    }

    /// An uploaded object's bytes, unless it is gone or (by HEAD, before downloading it) over
    /// the size limit.
    async fn read_upload(&self, key: &str) -> anyhow::Result<Upload> {
        let head = match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(h) => h,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                return Ok(Upload::Gone);
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "HeadObject failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ));
            }
        };
        if head.content_length().unwrap_or_default() as u64 > MAX_MEDIA_BYTES {
            return Ok(Upload::TooLarge);
        }
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(Upload::Bytes(object.body.collect().await?.to_vec()))
    }

    /// Keeps a private photo (return or delivery proof) only if its bytes are an accepted image.
    async fn verify_return_photo(&self, key: &str) -> anyhow::Result<Outcome> {
        let bytes = match self.read_upload(key).await? {
            Upload::Bytes(bytes) => bytes,
            Upload::Gone => return Ok(Outcome::Ignored),
            Upload::TooLarge => return self.reject(key, TOO_LARGE).await,
        };
        match tokio::task::spawn_blocking(move || check_image(&bytes).map(|_| ())).await? {
            Ok(()) => Ok(Outcome::Verified),
            Err(Rejected(why)) => self.reject(key, &why).await,
        }
    }

    async fn reject(&self, upload_key: &str, why: &str) -> anyhow::Result<Outcome> {
        tracing::info!(key = upload_key, why, "upload rejected and removed");
        self.delete(upload_key).await?;
        Ok(Outcome::Rejected(why.into()))
    }

    async fn put(&self, key: &str, data: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .cache_control("public, max-age=31536000, immutable")
            .body(data.into())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "PutObject {key} failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "DeleteObject {key} failed: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_png_gets_two_jpeg_thumbnails_that_keep_its_aspect_ratio() {
        let p = process_image(&png(1600, 900)).unwrap();
        assert_eq!(
            (p.content_type, p.width, p.height),
            ("image/png", 1600, 900)
        );
        let dims: Vec<(u32, (u32, u32))> = p
            .thumbnails
            .iter()
            .map(|(size, bytes)| {
                assert_eq!(image::guess_format(bytes).unwrap(), ImageFormat::Jpeg);
                let t = image::load_from_memory(bytes).unwrap();
                (*size, (t.width(), t.height()))
            })
            .collect();
        assert_eq!(dims, vec![(200, (200, 113)), (800, (800, 450))]);
    }

    #[test]
    fn small_images_are_not_scaled_up() {
        let p = process_image(&png(120, 80)).unwrap();
        let t = image::load_from_memory(&p.thumbnails[1].1).unwrap();
        assert_eq!((t.width(), t.height()), (120, 80));
    }

    #[test]
    fn text_and_other_formats_are_rejected() {
        assert_eq!(
            process_image(b"hello, I am a text file named photo.jpg").unwrap_err(),
            Rejected("not an image".into())
        );
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(process_image(gif).is_err());
        let mut truncated = png(50, 50);
        truncated.truncate(60);
        assert!(
            process_image(&truncated)
                .unwrap_err()
                .0
                .starts_with("undecodable")
        );
    }

    #[test]
    fn return_photo_keys_are_told_apart_from_product_uploads() {
        assert_eq!(
            parse_return_photo_key("returns/01ORDER/01PHOTO"),
            Some(("01ORDER".into(), "01PHOTO".into()))
        );
        assert_eq!(parse_return_photo_key("uploads/01P/01M"), None);
        assert_eq!(parse_upload_key("returns/01ORDER/01PHOTO"), None);
        assert_eq!(parse_return_photo_key("returns/../etc"), None);
        assert_eq!(
            parse_delivery_photo_key("deliveries/01ORDER/01PHOTO"),
            Some(("01ORDER".into(), "01PHOTO".into()))
        );
        assert_eq!(parse_delivery_photo_key("returns/01ORDER/01PHOTO"), None);
    }

    #[test]
    fn upload_keys_are_parsed_and_decoded() {
        assert_eq!(
            parse_upload_key("uploads/01ABC/01DEF"),
            Some(("01ABC".into(), "01DEF".into()))
        );
        assert_eq!(
            parse_upload_key("uploads%2F01ABC%2F01DEF"),
            Some(("01ABC".into(), "01DEF".into()))
        );
        assert_eq!(parse_upload_key("media/01ABC/01DEF/200.jpg"), None);
        assert_eq!(parse_upload_key("uploads/../etc"), None);
    }
}
