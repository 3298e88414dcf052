//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517), as
//! configured; during a rotation, the old key and the new one.

use crate::HandlerResult;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "Documentation",
    responses((status = 200, description = "The JWK set: Ed25519 keys (`kty: OKP`, `crv: Ed25519`, `alg: EdDSA`, `use: sig`), each with its `kid`.", content_type = "application/json", body = Object)))]
pub async fn jwks(key_set: &str) -> HandlerResult {
    let mut response = Response::new(Body::from(key_set.to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Keys change only with a rotation, which keeps the old key published for 15 minutes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Answer;

    #[tokio::test]
    async fn the_key_set_is_served_as_configured_and_cacheable() {
        let set = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1","alg":"EdDSA","use":"sig"}]}"#;
        let answer = Answer::of(jwks(set).await);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["keys"][0]["kid"], "k1");
        assert_eq!(answer.header("content-type"), Some("application/json"));
    }
}
