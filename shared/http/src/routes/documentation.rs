//! `GET /openapi.json` and `GET /docs`: the document and the page that renders it, both
//! answered by one function.

use crate::HandlerResult;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use std::sync::LazyLock;

/// Answers either route from the document and the page, which is built when first asked for.
pub async fn documentation(
    document: &str,
    page: &LazyLock<String>,
    request: Request,
) -> HandlerResult {
    Ok(if request.uri().path().ends_with("/openapi.json") {
        openapi_document(document)
    } else {
        docs_page(page)
    })
}

#[utoipa::path(get, path = "/openapi.json", tag = "Documentation",
    responses((status = 200, description = "This document.", content_type = "application/json", body = Object)))]
pub fn openapi_document(document: &str) -> Response<Body> {
    cacheable("application/json", document)
}

#[utoipa::path(get, path = "/docs", tag = "Documentation",
    responses((status = 200, description = "An HTML page that renders this document, with no internet access needed.", content_type = "text/html", body = String)))]
pub fn docs_page(page: &str) -> Response<Body> {
    cacheable("text/html; charset=utf-8", page)
}

fn cacheable(content_type: &'static str, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_owned()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The document changes only with a deployment.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest};

    #[tokio::test]
    async fn each_path_gets_its_own_content_type_and_both_are_cacheable() {
        let ask = |path: &str| TestRequest::new("GET", path).build();
        let page: LazyLock<String> = LazyLock::new(|| "<html>".to_owned());
        let document =
            Answer::of(documentation("{\"openapi\":\"3.1.0\"}", &page, ask("/openapi.json")).await);
        assert_eq!(
            (document.status, document.header("content-type")),
            (200, Some("application/json"))
        );
        assert_eq!(document.body["openapi"], "3.1.0");
        let html = Answer::of(documentation("{}", &page, ask("/docs")).await);
        assert_eq!(
            html.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(html.header("cache-control"), Some("public, max-age=300"));
    }
}
