//! `GET /openapi.json`, `GET /docs` and `GET /docs/passkeys`: the document, the page that
//! renders it and a page to try passkeys with, all answered by one function.

use crate::HandlerResult;
use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use std::sync::LazyLock;

/// The passkey page, static: it calls the API of the origin it is served from.
const PASSKEY_PAGE: &str = include_str!("../passkey_page.html");

/// What the passkey page may do: run its own inline script and styles, call its own origin,
/// and nothing else (no other origin to send a credential to, no framing to trick a click).
const PASSKEY_PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'";

/// Answers each route from the document and the pages; the docs page is built when first
/// asked for.
pub async fn documentation(
    document: &str,
    page: &LazyLock<String>,
    request: Request,
) -> HandlerResult {
    let path = request.uri().path();
    Ok(if path.ends_with("/openapi.json") {
        openapi_document(document)
    } else if path.ends_with("/docs/passkeys") {
        passkey_page()
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

#[utoipa::path(get, path = "/docs/passkeys", tag = "Documentation",
    responses((status = 200, description = "An HTML page that signs in with a password, registers a passkey and signs in with it through `navigator.credentials`, calling this API from its own origin.", content_type = "text/html", body = String)))]
pub fn passkey_page() -> Response<Body> {
    let mut response = cacheable("text/html; charset=utf-8", PASSKEY_PAGE);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PASSKEY_PAGE_POLICY),
    );
    response
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
        let passkeys = Answer::of(documentation("{}", &page, ask("/docs/passkeys")).await);
        assert_eq!(
            passkeys.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(
            passkeys
                .header("content-security-policy")
                .is_some_and(|policy| policy.contains("connect-src 'self'"))
        );
    }

    #[test]
    fn the_passkey_page_calls_only_its_own_origin() {
        assert!(!PASSKEY_PAGE.contains("http://") && !PASSKEY_PAGE.contains("https://"));
        assert!(PASSKEY_PAGE.contains("navigator.credentials.create("));
    }
}
