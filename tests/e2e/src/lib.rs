//! Helpers for end-to-end tests: a client for the dev server that `make test` started
//! (`E2E_BASE_URL`), and access to the emulator it runs against (`AWS_ENDPOINT_URL`) for
//! reading sent e-mail and arranging state that has no API (granting the first admin).

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
        .collect()
}

/// Waits up to 90 s for an e-mail to `to` whose subject contains `subject`; returns its body.
pub async fn wait_for_mail(to: &str, subject: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
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
            "no e-mail '{subject}' to {to} arrived within 90 s"
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
