//! HTTP plumbing shared by every route group: the validated-JSON body extractor, the
//! authenticated-user extractor, pagination, Idempotency-Key, and the common router finish
//! (body limit, problem-JSON fallbacks, request-id tracing).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Role, TokenError};
use crate::error::{ApiError, FieldError};
use crate::identity::{UserRecord, load_user};
use crate::state::AppState;
use crate::store::{Item, decode_cursor};
use crate::validate::Validate;

/// Largest request body accepted by any JSON route.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body that was parsed strictly (unknown fields rejected) and validated.
pub struct ValidJson<T>(pub T);

impl<T, S> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })?;
        let mut value: T = parse_json(&bytes)?;
        value.validate().map_err(ApiError::Validation)?;
        Ok(Self(value))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Parses JSON, turning serde's error into a problem that names the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty; a JSON object is required".into(),
        ));
    }
    // Syntax first (400), then shape (422): serde_json classifies some shape errors inside enums
    // as syntax errors when deserialising straight from bytes.
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    whole_floats_to_integers(&mut value);
    // serde reads a struct from a JSON array too (`[null, null]` would fill its fields in
    // order); every request body of this API is an object.
    if !value.is_object() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let (field, message) = field_and_message(&path, &err.into_inner().to_string());
        ApiError::Validation(vec![FieldError::new(field, message)])
    })
}

/// JSON Schema (and so the OpenAPI document) counts `2.0` as an integer; serde would refuse it
/// for an integer field. Whole numbers written as floats become integers (a float field still
/// reads them).
fn whole_floats_to_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Strictly inside the i64 range: 2^63 as f64 is not an i64.
            if f.fract() == 0.0 && f > -9.2e18 && f < 9.2e18 {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// Turns serde's message into (field path, message). "missing field `x`" and "unknown field
/// `x`" name the field inside the message, so it is lifted into the path.
fn field_and_message(path: &str, msg: &str) -> (String, String) {
    let msg = msg.rfind(" at line ").map_or(msg, |i| &msg[..i]);
    let join = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    // serde_path_to_error already ends the path with an unknown field's name, not a missing one's.
    if msg.starts_with("unknown field `") {
        return (path.to_owned(), "is not an accepted field".to_owned());
    }
    if let Some(name) = msg
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return (join(name), "is required".to_owned());
    }
    let field = if path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    (field, msg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: u8,
    }

    fn problem(json: &str) -> crate::error::Problem {
        parse_json::<Body>(json.as_bytes()).unwrap_err().problem()
    }

    #[test]
    fn json_errors_name_the_field() {
        let p = problem(r#"{"email":"a@b.co"}"#);
        assert_eq!(
            (
                p.status,
                p.errors[0].field.as_str(),
                p.errors[0].message.as_str()
            ),
            (422, "age", "is required")
        );
        let p = problem(r#"{"email":"a@b.co","age":1,"admin":true}"#);
        assert_eq!(p.errors[0].field, "admin");
        let p = problem(r#"{"email":5,"age":1}"#);
        assert_eq!(p.errors[0].field, "email");
        assert!(
            p.errors[0].message.contains("expected a string"),
            "{}",
            p.errors[0].message
        );
        let p = problem(r#"{"email":"x","age":300}"#);
        assert_eq!(p.errors[0].field, "age");
        // a whole number written as a float is an integer (as JSON Schema counts it), a
        // fraction is not
        let b: Body = parse_json(br#"{"email":"x","age":7.0}"#).unwrap();
        assert_eq!(b.age, 7);
        assert_eq!(problem(r#"{"email":"x","age":7.5}"#).errors[0].field, "age");
        assert_eq!(
            problem(r#"{"email":"x","age":1e300}"#).errors[0].field,
            "age"
        );
    }

    async fn idempotency_key(value: Option<&str>) -> Result<IdempotencyKey, ApiError> {
        let mut req = axum::http::Request::builder().uri("/");
        if let Some(v) = value {
            req = req.header("idempotency-key", v);
        }
        let (mut parts, _) = req.body(()).unwrap().into_parts();
        IdempotencyKey::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn idempotency_keys_are_required_and_bounded() {
        assert_eq!(
            idempotency_key(Some("checkout-7f3a9c")).await.unwrap().0,
            "checkout-7f3a9c"
        );
        for bad in [
            None,
            Some("short"),
            Some("has space in it"),
            Some(&"k".repeat(256)[..]),
        ] {
            let err = idempotency_key(bad).await.unwrap_err();
            assert_eq!(err.problem().errors[0].field, "Idempotency-Key", "{bad:?}");
        }
    }

    #[test]
    fn page_queries_bound_the_limit_and_reject_foreign_cursors() {
        let ok = PageQuery {
            limit: None,
            cursor: None,
        }
        .pagination()
        .unwrap();
        assert_eq!((ok.limit, ok.start.is_none()), (20, true));
        assert!(
            PageQuery {
                limit: Some(0),
                cursor: None
            }
            .pagination()
            .is_err()
        );
        assert!(
            PageQuery {
                limit: Some(101),
                cursor: None
            }
            .pagination()
            .is_err()
        );
        let err = PageQuery {
            limit: Some(5),
            cursor: Some("garbage".into()),
        }
        .pagination()
        .err()
        .unwrap();
        assert_eq!(err.problem().errors[0].field, "cursor");
        let cursor =
            crate::store::encode_cursor(&crate::store::key(crate::store::keys::user_profile("u1")));
        assert!(
            PageQuery {
                limit: Some(5),
                cursor: Some(cursor)
            }
            .pagination()
            .unwrap()
            .start
            .is_some()
        );
    }

    #[test]
    fn syntax_errors_and_empty_bodies_are_400() {
        assert_eq!(problem("{not json").status, 400);
        assert_eq!(problem("   ").status, 400);
        assert_eq!(problem("[1]").status, 422);
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_problem_500_with_the_request_id() {
        use tower::ServiceExt;
        let app = Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async {
                    let v: Vec<i64> = Vec::new();
                    v[3].to_string()
                }),
            )
            .layer(axum::middleware::from_fn(catch_panic))
            .layer(axum::middleware::from_fn(trace_request));
        let req = axum::http::Request::builder()
            .uri("/boom")
            .header("x-request-id", "req-123")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert_eq!(resp.headers()["x-request-id"], "req-123");
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (problem["status"].as_i64(), problem["request_id"].as_str()),
            (Some(500), Some("req-123"))
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_422_even_when_serde_would_take_them() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Loose {
            a: Option<String>,
            b: Option<String>,
        }
        for body in ["[null, null]", "[]", "null", "7", "\"text\"", "true"] {
            let p = parse_json::<Loose>(body.as_bytes()).unwrap_err().problem();
            assert_eq!(
                (p.status, p.errors[0].field.as_str()),
                (422, "body"),
                "{body}"
            );
        }
        assert!(parse_json::<Loose>(b"{}").is_ok());
    }
}

/// The caller, authenticated by a verified access token and checked against the current user
/// record (a disabled user or a token older than the last password change is rejected).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: UserRecord,
}

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.user.id
    }

    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        if self.user.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this action requires the {} role",
                serde_json::to_value(role).unwrap().as_str().unwrap_or("?")
            )))
        }
    }
}

pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("missing Authorization: Bearer <token> header".into())
        })?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "the Authorization header must be 'Bearer <token>'".into(),
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        let claims = state.keys.verify(token).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::Unauthorized("the access token has expired; refresh it".into())
            }
            TokenError::Invalid => ApiError::Unauthorized("the access token is invalid".into()),
        })?;
        let user = load_user(&state.db, &claims.sub)
            .await?
            .filter(|u| u.is_active() && u.session_version == claims.sv)
            .ok_or_else(|| {
                ApiError::Unauthorized("the session is no longer valid; log in again".into())
            })?;
        tracing::Span::current().record("user_id", user.id.as_str());
        Ok(Self { user })
    }
}

/// The caller if an `Authorization` header is sent (and then it must be valid), else nobody:
/// for public routes that show more to some callers.
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeAuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(Self(Some(
                AuthUser::from_request_parts(parts, state).await?,
            )))
        } else {
            Ok(Self(None))
        }
    }
}

/// `?limit=&cursor=` for list routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

pub struct Pagination {
    pub limit: u32,
    pub start: Option<Item>,
}

impl PageQuery {
    pub fn pagination(&self) -> Result<Pagination, ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 100"));
        }
        let start = match &self.cursor {
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
            ),
            None => None,
        };
        Ok(Pagination { limit, start })
    }
}

/// Query-string extractor whose rejection is problem JSON.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_query(query).map(Query)
    }
}

fn serde_urlencoded_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::BadRequest("invalid query string".into()))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))
}

/// A list response: `{ "items": [...], "next_cursor": "..." | null }`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The `Idempotency-Key` header: 8–255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_headers(&parts.headers)
    }
}

impl IdempotencyKey {
    /// Reads the header. Routes with a JSON body call this after the body is validated, so a
    /// bad body is reported first (an extractor would run before the body's).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let value = headers.get("idempotency-key").ok_or_else(|| {
            ApiError::field("Idempotency-Key", "header is required for this route")
        })?;
        let key = value
            .to_str()
            .map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII"))?;
        if !(8..=255).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::field(
                "Idempotency-Key",
                "must be 8-255 visible ASCII characters",
            ));
        }
        Ok(Self(key.to_owned()))
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no route matches this path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Request-scoped span with the request id (API Gateway's, else a fresh one), echoed back as
/// `x-request-id`.
async fn trace_request(mut req: Request, next: axum::middleware::Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .or_else(|| req.headers().get("x-amzn-requestid"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| lambda_request_id(&req))
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path(), user_id = tracing::field::Empty);
    // The route template, never the raw path (ids would make one metric per path).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms,
            "request finished"
        )
    });
    crate::metrics::latency_ms(
        route.as_deref().unwrap_or(crate::metrics::UNMATCHED_ROUTE),
        latency_ms,
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// The request id `trace_request` chose, for inner layers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Turns a panic in a handler into a logged problem 500 that carries the request id, instead of
/// a dropped connection (the dev server) or a failed invocation (Lambda). Needs `panic = "unwind"`
/// in the profile; the panic hook of `telemetry` has logged the message and location already.
async fn catch_panic(req: Request, next: axum::middleware::Next) -> Response {
    use futures::FutureExt;
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("the handler panicked; answering 500");
            let error = ApiError::Internal(anyhow::anyhow!("handler panicked"));
            let mut problem = error.problem();
            problem.request_id = request_id;
            let mut response = (error.status(), axum::Json(problem)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::error::PROBLEM_CONTENT_TYPE),
            );
            response
        }
    }
}

/// API Gateway's request id, present when the request came through the Lambda entrypoint.
fn lambda_request_id(req: &Request) -> Option<String> {
    match req
        .extensions()
        .get::<lambda_http::request::RequestContext>()?
    {
        lambda_http::request::RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Bodies declared larger than this are not even read before the 413.
const DRAIN_LIMIT: u64 = 2 * 1024 * 1024;

/// Answers 413 for a declared `Content-Length` over the limit before any handler runs. A
/// moderately oversized body is read and dropped first, so the client (still writing) gets the
/// problem response instead of a reset connection.
async fn reject_oversized(req: Request, next: axum::middleware::Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => {
            if len <= DRAIN_LIMIT {
                let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT as usize).await;
            }
            ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(req).await,
    }
}

/// The common finish every route group's router gets: body limit, problem-JSON 404/405,
/// write rate limits, panic catching, request tracing.
pub fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(reject_oversized))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::limit_writes,
        ))
        .layer(axum::middleware::from_fn(catch_panic))
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(state)
}

/// `204 No Content`.
pub fn no_content() -> Response {
    axum::http::StatusCode::NO_CONTENT.into_response()
}
