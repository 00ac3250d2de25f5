//! Helpers for end-to-end tests: a client for the dev server that `make test` started
//! (`E2E_BASE_URL`), and access to the emulator it runs against (`AWS_ENDPOINT_URL`) for
//! reading sent e-mail and arranging state that has no API (granting the first admin).

pub mod calls;
pub mod stats;
pub mod ws;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "tulip-river-42";

pub struct Ctx {
    pub http: reqwest::Client,
    pub base: String,
    pub emulator: String,
}

/// A response with its status, headers and body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with this status and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "problem responses use application/problem+json"
        );
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{}",
            self.text
        );
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.text
        );
        &self.body
    }

    /// The field names a validation problem lists.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: end-to-end tests run through `make test`, which starts the emulator and the dev server"))
}

impl Ctx {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: env("E2E_BASE_URL").trim_end_matches('/').to_owned(),
            emulator: env("AWS_ENDPOINT_URL").trim_end_matches('/').to_owned(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("the dev server answers")).await
    }

    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, token, None).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": password, "name": "Test User"}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A registered, logged-in user: (user id, access token, refresh token).
    pub async fn user(&self, prefix: &str) -> (String, String, String) {
        let email = unique_email(prefix);
        let r = self.register(&email, PASSWORD).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let t = self.login(&email, PASSWORD).await;
        assert_eq!(t.status, 200, "{}", t.text);
        (
            id,
            t.body["access_token"].as_str().unwrap().to_owned(),
            t.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// A registered, logged-in seller: (user id, e-mail, access token).
    pub async fn seller(&self, prefix: &str) -> (String, String, String) {
        let email = unique_email(prefix);
        let r = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "name": "Seller", "role": "seller"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let t = self.login(&email, PASSWORD).await;
        assert_eq!(t.status, 200, "{}", t.text);
        (
            r.body["id"].as_str().unwrap().to_owned(),
            email,
            t.body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Waits for an e-mail to `to` whose subject contains `subject`, as the emulator recorded
    /// it, and returns its body. Mail passes outbox → stream → relay → bus → queue → notifier.
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> String {
        wait_for_mail(to, subject).await
    }

    pub async fn mails_to(&self, to: &str) -> Vec<Value> {
        mails_to(to).await
    }

    /// Grants the admin role straight in the table: there is deliberately no API to create
    /// the first admin.
    pub async fn make_admin(&self, user_id: &str) {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        aws_sdk_dynamodb::Client::new(&sdk)
            .update_item()
            .table_name(env("TABLE_NAME"))
            .key("PK", A::S(format!("USER#{user_id}")))
            .key("SK", A::S("PROFILE".into()))
            .update_expression("SET #r = :r")
            .expression_attribute_names("#r", "roles")
            .expression_attribute_values(
                ":r",
                A::L(vec![A::S("buyer".into()), A::S("admin".into())]),
            )
            .send()
            .await
            .expect("granting admin");
    }

    /// The JWT signing secret, read from the emulator's Secrets Manager (to forge tokens).
    pub async fn jwt_secret(&self) -> Vec<u8> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let out = aws_sdk_secretsmanager::Client::new(&sdk)
            .get_secret_value()
            .secret_id(env("JWT_SECRET_ARN"))
            .send()
            .await
            .unwrap();
        out.secret_string().unwrap().as_bytes().to_vec()
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}

/// The `kid` the API puts in (and requires of) its tokens: the first 16 hex digits of
/// SHA-256 of the signing secret.
pub fn jwt_kid(secret: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..16]
        .to_owned()
}

pub fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// The token after `label` in an e-mail body.
pub fn extract_after(body: &str, label: &str) -> String {
    let start = body
        .find(label)
        .unwrap_or_else(|| panic!("'{label}' not in mail: {body}"))
        + label.len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

/// Every e-mail the emulator's SES recorded to `to` (moto keeps them in `/moto-api/data.json`).
pub async fn mails_to(to: &str) -> Vec<Value> {
    let url = format!(
        "{}/moto-api/data.json",
        env("AWS_ENDPOINT_URL").trim_end_matches('/')
    );
    let data: Value = reqwest::get(url)
        .await
        .expect("the emulator answers")
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains(&format!("\"{to}\"")))
        .map(|mut m| {
            // moto keeps the HTML body of a message that has one: tests read its text
            let html = m["body"]
                .as_str()
                .filter(|b| b.starts_with("<!DOCTYPE") || b.starts_with("<html"))
                .map(str::to_owned);
            if let Some(html) = html {
                m["body"] = Value::String(text_of_html(&html));
                m["html"] = Value::String(html);
            }
            m
        })
        .collect()
}

/// The text an HTML e-mail shows: tags dropped (paragraphs and line breaks as new lines),
/// entities decoded.
pub fn text_of_html(html: &str) -> String {
    let body = html.split_once("<body").map_or(html, |(_, rest)| {
        rest.split_once('>').map_or(rest, |(_, b)| b)
    });
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        if tag.starts_with("br") || tag.starts_with("/p") {
            text.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Waits up to 150 s for an e-mail to `to` whose subject contains `subject`; returns its body
/// (a normal-priority message waits for the end of its minute and the next minute tick).
pub async fn wait_for_mail(to: &str, subject: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let found = mails_to(to)
            .await
            .into_iter()
            .rev()
            .find(|m| m["subject"].as_str().is_some_and(|s| s.contains(subject)));
        if let Some(m) = found {
            return m["body"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no e-mail '{subject}' to {to} arrived within 150 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A fixture from `events/`, with placeholders replaced.
pub fn fixture(name: &str, replacements: &[(&str, &str)]) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text
}

/// A shipper of the fleet, approved and online (see [`Ctx::test_shipper`]).
#[derive(Debug, Clone)]
pub struct TestShipper {
    pub id: String,
    pub token: String,
}

/// A seller's shop ready to sell: the seller's token, organisation, shop and a category.
#[derive(Debug, Clone)]
pub struct TestShop {
    pub seller_token: String,
    pub seller_email: String,
    pub org_id: String,
    pub shop_id: String,
    pub category_id: String,
}

/// A checkout of one line: the shop, the buyer's token, the checkout and its (one) order.
pub struct Placed {
    pub shop: TestShop,
    pub buyer: String,
    pub checkout_id: String,
    pub orders: Vec<String>,
    pub total: i64,
}

/// One variant to create: SKU, price (VND), opening stock, weight in grams.
pub struct NewVariant<'a> {
    pub sku: &'a str,
    pub price: i64,
    pub stock: i64,
    pub weight_grams: u32,
}

impl Ctx {
    /// A fresh admin's access token.
    pub async fn admin_token(&self) -> String {
        let (id, token, _) = self.user("admin").await;
        self.make_admin(&id).await;
        token
    }

    /// A shipper of the fleet in `province`: registered, approved by `admin` (which grants the
    /// shipper role), at `at` (lat, lng) and online.
    pub async fn test_shipper(
        &self,
        admin: &str,
        province: &str,
        at: (f64, f64),
        capacity: u32,
    ) -> TestShipper {
        let (id, token, _) = self.user("shipper").await;
        let r = self
            .post(
                "/api/v1/shipping/shippers/register",
                Some(&token),
                json!({"name": "Giao Hang", "phone": "+84912345678", "vehicle": "motorbike", "province": province, "capacity": capacity}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["approval"], "pending");
        // not approved yet: cannot go online
        let early = self
            .put(
                &format!("/api/v1/shipping/shippers/{id}/status"),
                Some(&token),
                json!({"status": "online"}),
            )
            .await;
        assert_eq!(early.status, 409, "{}", early.text);
        let r = self
            .put(
                &format!("/api/v1/shipping/shippers/{id}/approval"),
                Some(admin),
                json!({"decision": "approved"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let me = self.get("/api/v1/users/me", Some(&token)).await;
        assert!(
            me.body["roles"]
                .as_array()
                .unwrap()
                .contains(&json!("shipper")),
            "approval grants the shipper role: {}",
            me.text
        );
        let r = self
            .post(
                &format!("/api/v1/shipping/shippers/{id}/location"),
                Some(&token),
                json!({"lat": at.0, "lng": at.1}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = self
            .put(
                &format!("/api/v1/shipping/shippers/{id}/status"),
                Some(&token),
                json!({"status": "online"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "online");
        TestShipper { id, token }
    }

    /// One product of `shop` (250 000 VND, 800 g) with `stock` units: (product id, sku).
    pub async fn parcel_product(&self, shop: &TestShop, stock: i64) -> (String, String) {
        let (product, skus) = self
            .test_product(
                shop,
                &[NewVariant {
                    sku: "PARCEL",
                    price: 250_000,
                    stock,
                    weight_grams: 800,
                }],
            )
            .await;
        (product, skus[0].clone())
    }

    /// A cash-on-delivery order of one unit of `product` (id, sku), placed by `buyer` to
    /// `address`; its id.
    pub async fn cod_order(
        &self,
        buyer: &str,
        address: &str,
        product: &(String, String),
    ) -> String {
        self.add_to_cart(buyer, &product.0, &product.1, 1).await;
        let placed = self
            .checkout(buyer, address, "cod", &format!("cod-{}", ulid::Ulid::new()))
            .await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        placed.body["orders"][0]["id"].as_str().unwrap().to_owned()
    }

    /// The buyer cancels `order` ("changed my mind").
    pub async fn cancel_order(&self, buyer: &str, order: &str) -> Reply {
        self.post(
            &format!("/api/v1/orders/{order}/cancel"),
            Some(buyer),
            json!({"reason": "changed my mind"}),
        )
        .await
    }

    /// Waits until the shipment of `order` is offered to a shipper (as `admin` sees it) and
    /// returns to whom.
    pub async fn offered_to(&self, admin: &str, order: &str) -> String {
        eventually("the shipment is offered", || async {
            let r = self
                .get(&format!("/api/v1/shipping/{order}/tracking"), Some(admin))
                .await;
            (r.status == 200 && r.body["assignment"] == "offered")
                .then(|| r.body["shipper_id"].as_str().unwrap().to_owned())
        })
        .await
    }

    /// A new seller with an organisation, an active shop and a category to list products in.
    pub async fn test_shop(&self, prefix: &str) -> TestShop {
        self.test_shop_at(prefix, "Hanoi", (21.02, 105.85)).await
    }

    /// [`Ctx::test_shop`] in `city`, at `point` (lat, lng): tests of the delivery fleet put
    /// their shops in a province of their own, so offers of other tests' orders stay away.
    pub async fn test_shop_at(&self, prefix: &str, city: &str, point: (f64, f64)) -> TestShop {
        let admin = self.admin_token().await;
        let category = self
            .post(
                "/api/v1/categories",
                Some(&admin),
                json!({"name": format!("{prefix} {}", ulid::Ulid::new())}),
            )
            .await;
        assert_eq!(category.status, 201, "{}", category.text);
        let (_, seller_email, seller_token) = self.seller(prefix).await;
        let org = self
            .post(
                "/api/v1/organizations",
                Some(&seller_token),
                json!({"name": format!("{prefix} Co")}),
            )
            .await;
        assert_eq!(org.status, 201, "{}", org.text);
        let org_id = org.body["id"].as_str().unwrap().to_owned();
        let shop = self
            .post(&format!("/api/v1/organizations/{org_id}/shops"), Some(&seller_token), json!({
                "name": format!("{prefix} shop"),
                "address": {"line1": "1 Trang Tien", "city": city, "country": "VN", "location": {"lat": point.0, "lng": point.1}}
            }))
            .await;
        assert_eq!(shop.status, 201, "{}", shop.text);
        TestShop {
            seller_token,
            seller_email,
            org_id,
            shop_id: shop.body["id"].as_str().unwrap().to_owned(),
            category_id: category.body["id"].as_str().unwrap().to_owned(),
        }
    }

    /// An active product of `shop` with these variants; returns the product id. SKUs are made
    /// unique per call by a suffix, returned in the same order.
    pub async fn test_product(
        &self,
        shop: &TestShop,
        variants: &[NewVariant<'_>],
    ) -> (String, Vec<String>) {
        self.test_product_in(shop, variants, "VND").await
    }

    /// [`Ctx::test_product`] priced in `currency` (minor units).
    pub async fn test_product_in(
        &self,
        shop: &TestShop,
        variants: &[NewVariant<'_>],
        currency: &str,
    ) -> (String, Vec<String>) {
        let suffix = &ulid::Ulid::new().to_string()[20..];
        let skus: Vec<String> = variants
            .iter()
            .map(|v| format!("{}-{suffix}", v.sku))
            .collect();
        let body = json!({
            "name": format!("Product {suffix}"),
            "description": "For tests",
            "category_id": shop.category_id,
            "status": "active",
            "variants": variants.iter().zip(&skus).map(|(v, sku)| json!({
                "sku": sku,
                "attributes": {"size": "M"},
                "price": {"amount": v.price, "currency": currency},
                "weight_grams": v.weight_grams,
                "stock": v.stock,
            })).collect::<Vec<_>>(),
        });
        let r = self
            .post(
                &format!("/api/v1/shops/{}/products", shop.shop_id),
                Some(&shop.seller_token),
                body,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        (r.body["id"].as_str().unwrap().to_owned(), skus)
    }

    /// A new shop with one product priced `price` (minor units of `currency`), a new buyer with
    /// one unit in the cart, and the checkout placed with `method` (`online` or `cod`).
    pub async fn place_one(
        &self,
        prefix: &str,
        price: i64,
        currency: &str,
        method: &str,
    ) -> Placed {
        let shop = self.test_shop(prefix).await;
        let (product, skus) = self
            .test_product_in(
                &shop,
                &[NewVariant {
                    sku: "ONE",
                    price,
                    stock: 50,
                    weight_grams: 200,
                }],
                currency,
            )
            .await;
        let (_, buyer, _) = self.user(prefix).await;
        let address = self.test_address(&buyer).await;
        self.add_to_cart(&buyer, &product, &skus[0], 1).await;
        let placed = self
            .checkout(
                &buyer,
                &address,
                method,
                &format!("co-{}", ulid::Ulid::new()),
            )
            .await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        Placed {
            shop,
            buyer,
            checkout_id: placed.body["checkout_id"].as_str().unwrap().to_owned(),
            orders: placed.body["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect(),
            total: placed.body["total"]["amount"].as_i64().unwrap(),
        }
    }

    /// `POST /api/v1/payments` for the caller's checkout with a fresh Idempotency-Key.
    pub async fn pay(&self, token: &str, checkout_id: &str, method: &str) -> Reply {
        let req = self
            .http
            .post(format!("{}/api/v1/payments", self.base))
            .bearer_auth(token)
            .header("idempotency-key", format!("pay-{}", ulid::Ulid::new()))
            .json(&json!({"checkout_id": checkout_id, "method": method}));
        Self::read(req.send().await.unwrap()).await
    }

    /// A read of the provider sandbox's control API (`GET /_control/{path}`), e.g. the GHTK
    /// bookings it received.
    pub async fn sandbox_get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/_control/{path}", env("PAYMENT_SANDBOX_URL")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "sandbox {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A call to the payment sandbox's control API (`PAYMENT_SANDBOX_URL`, started by
    /// `make test`): what the backend answered to the delivery it caused.
    pub async fn sandbox(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_control/{path}", env("PAYMENT_SANDBOX_URL")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "sandbox {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A shipping address in the buyer's address book (in Hoàn Kiếm, Hà Nội, by the test
    /// shops); returns its id.
    pub async fn test_address(&self, token: &str) -> String {
        self.test_address_at(token, "Hoàn Kiếm", "Hanoi").await
    }

    /// [`Ctx::test_address`] in `ward` of `city`.
    pub async fn test_address_at(&self, token: &str, ward: &str, city: &str) -> String {
        let r = self
            .post(
                "/api/v1/users/me/addresses",
                Some(token),
                json!({"recipient_name": "Bao Buyer", "phone": "+84901234567", "line1": "12 Hang Bac", "ward": ward, "city": city, "country": "VN"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Waits (up to 90 s) until `key` is gone from the media bucket, e.g. after the media
    /// processor rejected an upload; `what` names it in the failure.
    pub async fn wait_until_media_object_is_gone(&self, key: &str, what: &str) {
        let bucket = env("MEDIA_BUCKET");
        let url = format!("{}/{bucket}/{key}", self.emulator);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        // only a 404 says it is gone: a loaded emulator's passing 5xx must not end the wait
        // while the object is still there
        while self.http.get(&url).send().await.unwrap().status() != StatusCode::NOT_FOUND {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} was not removed"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `POST /api/v1/cart/items`; asserts it succeeded and returns the cart.
    pub async fn add_to_cart(&self, token: &str, product: &str, sku: &str, quantity: i64) -> Value {
        let r = self
            .post(
                "/api/v1/cart/items",
                Some(token),
                json!({"product_id": product, "sku": sku, "quantity": quantity}),
            )
            .await;
        assert_eq!(
            r.status, 200,
            "adding {product}/{sku} to the cart: {}",
            r.text
        );
        r.body
    }

    /// `POST /api/v1/orders` of the caller's cart with an `Idempotency-Key`.
    pub async fn checkout(&self, token: &str, address: &str, method: &str, key: &str) -> Reply {
        let req = self
            .http
            .post(format!("{}/api/v1/orders", self.base))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({"payment_method": method, "address_id": address}));
        Self::read(req.send().await.unwrap()).await
    }

    /// Stock figures of one variant summed over the warehouses holding it, as the shop's
    /// inventory view (every page of it) shows them: `stock`, `reserved`, `available`, and
    /// `warehouses` (warehouse id → its row).
    pub async fn stock_of(&self, shop: &TestShop, product_id: &str, sku: &str) -> Value {
        let rows = self.inventory_rows(shop).await;
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|i| i["product_id"] == product_id && i["sku"] == sku)
            .collect();
        assert!(!mine.is_empty(), "{product_id}/{sku} not in the inventory");
        let sum = |field: &str| mine.iter().map(|r| r[field].as_i64().unwrap()).sum::<i64>();
        json!({
            "stock": sum("stock"),
            "reserved": sum("reserved"),
            "available": sum("available"),
            "low_stock": mine.iter().any(|r| r["low_stock"] == true),
            "warehouses": mine
                .iter()
                .map(|r| (r["warehouse_id"].as_str().unwrap().to_owned(), (*r).clone()))
                .collect::<serde_json::Map<String, Value>>(),
        })
    }

    /// The shop takes a confirmed order through `process`, `ship` (GHN) and `deliver`,
    /// asserting each step succeeded.
    pub async fn deliver_order(&self, seller: &str, order: &str) {
        for (action, body) in [
            ("process", json!({})),
            (
                "ship",
                json!({"carrier": "GHN", "tracking_number": "GHN123456789VN"}),
            ),
            ("deliver", json!({})),
        ] {
            let r = self
                .post(
                    &format!("/api/v1/orders/{order}/{action}"),
                    Some(seller),
                    body,
                )
                .await;
            assert_eq!(r.status, 200, "{action}: {}", r.text);
        }
    }

    /// Every row of `GET shops/{id}/inventory`, following the cursor.
    pub async fn inventory_rows(&self, shop: &TestShop) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/shops/{}/inventory?limit=100", shop.shop_id);
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = self.get(&path, Some(&shop.seller_token)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            rows.extend(r.body["items"].as_array().unwrap().iter().cloned());
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return rows,
            }
        }
    }
}

impl Ctx {
    /// `POST /api/v1/organizations/{org}/members` by an owner; asserts it succeeded and returns
    /// the member.
    pub async fn add_member(
        &self,
        owner: &str,
        org_id: &str,
        email: &str,
        role: &str,
        shop_ids: &[&str],
    ) -> Value {
        let r = self
            .post(
                &format!("/api/v1/organizations/{org_id}/members"),
                Some(owner),
                json!({"email": email, "role": role, "shop_ids": shop_ids}),
            )
            .await;
        assert_eq!(r.status, 201, "adding {email} as {role}: {}", r.text);
        r.body
    }

    /// Uploads an image of a product as a seller's client does (a presigned PUT with the headers
    /// it names) and returns its media id. The media processor attaches it to the product a
    /// little later.
    pub async fn upload_image(
        &self,
        seller: &str,
        product_id: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let grant = self
            .post(
                &format!("/api/v1/products/{product_id}/media/upload-url"),
                Some(seller),
                json!({"content_type": content_type, "size_bytes": bytes.len()}),
            )
            .await;
        assert_eq!(grant.status, 201, "{}", grant.text);
        let mut put = self
            .http
            .put(grant.body["upload_url"].as_str().unwrap())
            .body(bytes);
        for (k, v) in grant.body["headers"].as_object().unwrap() {
            put = put.header(k.as_str(), v.as_str().unwrap());
        }
        let stored = Self::read(put.send().await.unwrap()).await;
        assert!(stored.status.is_success(), "upload: {}", stored.text);
        grant.body["media_id"].as_str().unwrap().to_owned()
    }
}

/// A PNG of `width` × `height` pixels (a gradient, so it is not trivially compressible).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Polls `check` (every 300 ms, up to 60 s) until it returns Some; `what` names it in the
/// failure. For effects of the event pipeline (invoices, media, e-mail).
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(60), what, check).await
}

/// [`eventually`] with its own deadline, for outcomes that may wait for a scheduled tick.
pub async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The emulator's recorded state (`/moto-api/data.json`): sent e-mail, SMS, push messages.
pub async fn emulator_data() -> Value {
    let url = format!(
        "{}/moto-api/data.json",
        env("AWS_ENDPOINT_URL").trim_end_matches('/')
    );
    reqwest::get(url)
        .await
        .expect("the emulator answers")
        .json()
        .await
        .unwrap()
}

/// Every SMS the emulator's SNS recorded to `phone` (oldest first).
pub async fn sms_to(phone: &str) -> Vec<String> {
    emulator_data().await["sns"]["SMS"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["phone_number"] == phone)
        .filter_map(|m| m["message"].as_str().map(str::to_owned))
        .collect()
}

/// Every push message the emulator's SNS recorded for the device `token` (the JSON message
/// with its APNs / FCM payloads).
pub async fn pushes_to(token: &str) -> Vec<String> {
    emulator_data().await["sns"]["PlatformEndpoint"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["token"] == token)
        .flat_map(|e| {
            e["messages"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Waits up to 150 s until `read` returns at least one item; returns them.
pub async fn wait_for<F, Fut>(what: &str, read: F) -> Vec<String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    eventually_within(Duration::from_secs(150), what, || async {
        let found = read().await;
        (!found.is_empty()).then_some(found)
    })
    .await
}
