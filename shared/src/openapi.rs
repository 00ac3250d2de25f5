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
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The base document every route group's `OpenApiRouter` starts from.
pub fn base() -> utoipa::openapi::OpenApi {
    BaseDoc::openapi()
}
