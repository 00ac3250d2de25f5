//! Pieces of the OpenAPI document common to every route group: API info, the bearer security
//! scheme and the problem-JSON schema. Route groups add their paths with utoipa-axum.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Commerce marketplace API",
        version = "1.0.0",
        description = "Marketplace backend: identity, catalog, orders, payments, shipping. Errors are RFC 9457 problem JSON (application/problem+json)."
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct BaseDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The base document every route group's `OpenApiRouter` starts from.
pub fn base() -> utoipa::openapi::OpenApi {
    BaseDoc::openapi()
}

/// A problem-JSON response with `description`, for a route group's own `IntoResponses` sets.
pub fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::response::Response> {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::error::PROBLEM_CONTENT_TYPE,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
        .into()
}

pub type Responses =
    std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>>;

/// The problems any route with a JSON body can answer (the `ValidJson` extractor's).
pub struct BodyErrors;

impl utoipa::IntoResponses for BodyErrors {
    fn responses() -> Responses {
        [
            ("400", "Malformed JSON or an empty body"),
            ("413", "The body is larger than 64 KiB"),
            ("415", "The body is not application/json"),
            (
                "422",
                "A field is missing, unknown, of the wrong type or invalid; `errors` names it",
            ),
        ]
        .into_iter()
        .map(|(status, d)| (status.to_owned(), problem(d)))
        .collect()
    }
}

/// The problem any route behind `Authorization: Bearer` can answer (the `AuthUser` extractor's).
pub struct AuthErrors;

impl utoipa::IntoResponses for AuthErrors {
    fn responses() -> Responses {
        [(
            "401".to_owned(),
            problem("Missing, malformed, expired or revoked access token"),
        )]
        .into()
    }
}

/// The problem a seller route answers when the caller's organisation role does not reach the
/// shop (`shared::catalog::authorize_shop`).
pub struct ShopRoleErrors;

impl utoipa::IntoResponses for ShopRoleErrors {
    fn responses() -> Responses {
        [(
            "403".to_owned(),
            problem("The caller's role in the organisation does not cover this shop or action"),
        )]
        .into()
    }
}

/// Answers every route can give whatever its handler does, added to each operation of the
/// finished document: 429 on writes (`crate::ratelimit`; webhooks are exempt) and 503 when
/// storage is throttled or unreachable (`ApiError::Unavailable`, with `Retry-After`).
pub fn add_common_responses(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in writes.into_iter().flatten() {
            if !crate::ratelimit::is_exempt(path) {
                op.responses
                    .responses
                    .entry("429".into())
                    .or_insert_with(|| {
                        problem("Too many writes from this address or user; see Retry-After")
                    });
            }
        }
        let all = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in all.into_iter().flatten() {
            op.responses
                .responses
                .entry("503".into())
                .or_insert_with(|| problem("Storage is busy or unreachable; see Retry-After"));
        }
    }
}
