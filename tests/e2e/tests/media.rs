//! Product media end to end: presigned upload → S3 notification → queue → media processor →
//! thumbnails on the product; a text file disguised as a JPEG is removed and never attached.

use std::io::Cursor;
use std::time::Duration;

use e2e::{Ctx, Reply};
use serde_json::{Value, json};

async fn setup(ctx: &Ctx) -> (String, String) {
    let (admin_id, admin, _) = ctx.user("media-admin").await;
    ctx.make_admin(&admin_id).await;
    let cat = ctx
        .post(
            "/api/v1/categories",
            Some(&admin),
            json!({"name": format!("Media {}", ulid::Ulid::new())}),
        )
        .await;
    let (_, _, seller) = ctx.seller("media-seller").await;
    let org = ctx
        .post(
            "/api/v1/organizations",
            Some(&seller),
            json!({"name": "Media Co"}),
        )
        .await;
    let shop = ctx
        .post(&format!("/api/v1/organizations/{}/shops", org.body["id"].as_str().unwrap()), Some(&seller), json!({
            "name": "Media shop", "address": {"line1": "1 Le Loi", "city": "Hue", "country": "VN", "location": {"lat": 16.46, "lng": 107.59}}
        }))
        .await;
    let product = ctx
        .post(&format!("/api/v1/shops/{}/products", shop.body["id"].as_str().unwrap()), Some(&seller), json!({
            "name": "Conical hat", "category_id": cat.body["id"], "status": "active",
            "variants": [
                {"sku": format!("HAT-S-{}", ulid::Ulid::new()), "price": {"amount": 90000, "currency": "VND"}, "weight_grams": 200, "stock": 4},
                {"sku": format!("HAT-M-{}", ulid::Ulid::new()), "price": {"amount": 95000, "currency": "VND"}, "weight_grams": 220, "stock": 4},
                {"sku": format!("HAT-L-{}", ulid::Ulid::new()), "price": {"amount": 99000, "currency": "VND"}, "weight_grams": 240, "stock": 4}
            ]
        }))
        .await;
    assert_eq!(product.status, 201, "{}", product.text);
    (seller, product.body["id"].as_str().unwrap().to_owned())
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(
    ctx: &Ctx,
    seller: &str,
    product: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (String, Reply) {
    let grant = ctx
        .post(
            &format!("/api/v1/products/{product}/media/upload-url"),
            Some(seller),
            json!({"content_type": content_type, "size_bytes": bytes.len()}),
        )
        .await;
    assert_eq!(grant.status, 201, "{}", grant.text);
    assert_eq!(grant.body["method"], "PUT");
    let mut put = ctx
        .http
        .put(grant.body["upload_url"].as_str().unwrap())
        .body(bytes);
    for (k, v) in grant.body["headers"].as_object().unwrap() {
        put = put.header(k.as_str(), v.as_str().unwrap());
    }
    let stored = Ctx::read(put.send().await.unwrap()).await;
    (grant.body["media_id"].as_str().unwrap().to_owned(), stored)
}

async fn media_of(ctx: &Ctx, product: &str) -> Vec<Value> {
    ctx.get(&format!("/api/v1/products/{product}"), None)
        .await
        .body["media"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_uploaded_image_gets_thumbnails_on_the_product_and_a_fake_jpeg_is_removed() {
    let ctx = Ctx::new();
    let (seller, product) = setup(&ctx).await;

    let (fake_id, stored) = upload(
        &ctx,
        &seller,
        &product,
        "image/jpeg",
        b"just some text in a file named photo.jpg".to_vec(),
    )
    .await;
    assert!(stored.status.is_success(), "{}", stored.text);
    let (media_id, stored) = upload(&ctx, &seller, &product, "image/png", png()).await;
    assert!(stored.status.is_success(), "{}", stored.text);

    // the real image appears with both thumbnails
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let media = loop {
        let media = media_of(&ctx, &product).await;
        if !media.is_empty() {
            break media;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no media attached within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(media.len(), 1, "{media:?}");
    assert_eq!(
        (media[0]["id"].as_str(), media[0]["content_type"].as_str()),
        (Some(media_id.as_str()), Some("image/png"))
    );
    assert_eq!(
        (media[0]["width"].as_u64(), media[0]["height"].as_u64()),
        (Some(1200), Some(900))
    );
    for (size, dims) in [("200", (200, 150)), ("800", (800, 600))] {
        let url = media[0]["thumbnails"][size].as_str().unwrap();
        let bytes = ctx
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let thumb = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), dims);
    }

    // the fake one is never attached and its upload is deleted
    ctx.wait_until_media_object_is_gone(&format!("uploads/{product}/{fake_id}"), "the fake upload")
        .await;
    assert_eq!(media_of(&ctx, &product).await.len(), 1);

    // a buyer sees the image; the seller can remove it
    let listed = ctx.get(&format!("/api/v1/products/{product}"), None).await;
    assert_eq!(listed.body["variants"].as_array().unwrap().len(), 3);
    assert_eq!(
        ctx.delete(
            &format!("/api/v1/products/{product}/media/{media_id}"),
            Some(&seller)
        )
        .await
        .status,
        204
    );
    assert!(media_of(&ctx, &product).await.is_empty());
}

#[tokio::test]
async fn uploads_are_limited_to_small_images() {
    let ctx = Ctx::new();
    let (seller, product) = setup(&ctx).await;
    let path = format!("/api/v1/products/{product}/media/upload-url");
    let big = ctx
        .post(
            &path,
            Some(&seller),
            json!({"content_type": "image/jpeg", "size_bytes": 20 * 1024 * 1024}),
        )
        .await;
    assert_eq!(big.problem(422)["errors"][0]["field"], "size_bytes");
    let text = ctx
        .post(
            &path,
            Some(&seller),
            json!({"content_type": "text/plain", "size_bytes": 10}),
        )
        .await;
    assert_eq!(text.problem(422)["errors"][0]["field"], "content_type");
    let (_, other, _) = ctx.user("media-stranger").await;
    ctx.post(
        &path,
        Some(&other),
        json!({"content_type": "image/png", "size_bytes": 10}),
    )
    .await
    .problem(404);
}
