//! `GET /openapi.json` and `GET /docs`: the OpenAPI document and a page that renders it offline.
use http_api::auth::NoTokens;
use http_api::{docs, openapi, routes};

const VIEWER_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js"));
const VIEWER_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/swagger-ui.css"));

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let document = openapi::document_json();
    let page = docs::page(VIEWER_CSS, VIEWER_JS, &document);
    http_api::serve(NoTokens, |request| {
        routes::documentation::documentation(&document, &page, request)
    })
    .await
}
