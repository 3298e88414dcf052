//! `GET /openapi.json` and `GET /docs`: the OpenAPI document and a page that renders it offline.
use http_api::auth::NoTokens;
use http_api::{docs, routes};
use std::sync::LazyLock;

const VIEWER_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js"));
const VIEWER_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/swagger-ui.css"));

/// The document as checked in, which a test keeps identical to what the code generates:
/// nothing to build at start-up.
const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The page (1.5 MB with the viewer) is built by the first `GET /docs`, not at start-up,
/// where `GET /openapi.json` would pay for it too.
static PAGE: LazyLock<String> = LazyLock::new(|| docs::page(VIEWER_CSS, VIEWER_JS, DOCUMENT));

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    http_api::serve(NoTokens, |request| {
        routes::documentation::documentation(DOCUMENT, &PAGE, request)
    })
    .await
}
