//! Placeholder: routes land here.

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;

pub const TAG: &str = "vouchers";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
}

pub fn router(state: AppState) -> axum::Router {
    shared::http::finish(api().split_for_parts().0, state)
}
