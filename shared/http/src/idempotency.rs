//! `Idempotency-Key`, with the semantics of AWS Lambda Powertools' idempotency utility: the
//! first request with a key takes an in-progress record; a repeat with the same key and the
//! same body gets the stored status and body again; a repeat with another body is a 422; a
//! repeat while the first still runs is a 409; records expire after an hour; and a request
//! that fails on the service's side (5xx) gives its key up, so a retry runs.

use crate::HandlerResult;
use crate::Problem;
use crate::auth::Authentication;
use application::error_chain;
use application::ports::Clock;
use idempotency::{IdempotencyClaim, IdempotencyStore, StoredResponse};
use lambda_http::http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::future::Future;
use utoipa::IntoParams;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a replayed response, so clients and logs can tell.
pub const REPLAYED: &str = "idempotency-replayed";
const MAX_KEY_LENGTH: usize = 255;
/// The response headers a replay carries along with status and body.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// The header, on the routes that honour it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes a retry safe: a repeat with the same key and body gets the first answer again (with `Idempotency-Replayed: true`) for an hour; another body is a 422, a repeat while the first runs a 409. 1 to 255 printable ASCII characters.
    #[param(rename = "Idempotency-Key")]
    pub key: Option<String>,
}

impl IdempotencyKeyHeader {
    /// The key, if sent; a key that is not 1 to 255 printable ASCII characters is a 400.
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let key = request
            .headers()
            .get(IDEMPOTENCY_KEY)
            .map(validated_key)
            .transpose()?;
        Ok(Self { key })
    }
}

pub struct Idempotency<S, C> {
    store: S,
    clock: C,
}

impl<S: IdempotencyStore, C: Clock> Idempotency<S, C> {
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Runs `handler` once per idempotency key (when the request has one).
    pub async fn run<F, Fut>(&self, request: Request, handler: F) -> HandlerResult
    where
        F: FnOnce(Request) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        let Some(key) = IdempotencyKeyHeader::read(&request)?.key else {
            return handler(request).await;
        };
        // Keys are scoped to the caller, the route and its path (another user's orders are
        // another scope) and hashed, so a client's key text never becomes part of a table key.
        let caller = match Authentication::of_request(&request) {
            Authentication::Bearer(claims) => claims.user_id.to_string(),
            Authentication::Anonymous | Authentication::Refused => "anonymous".to_owned(),
        };
        let scoped_key = hex(Sha256::digest(format!(
            "{caller} {} {}\n{key}",
            request.method(),
            request.uri().path()
        )));
        let request_hash = hex(Sha256::digest(canonical_body(request.body().as_ref())));

        match self
            .store
            .claim(&scoped_key, &request_hash, self.clock.now())
            .await?
        {
            IdempotencyClaim::Acquired => {}
            IdempotencyClaim::Replay(stored) => return Ok(replay(stored)),
            IdempotencyClaim::InProgress => {
                return Err(Problem::conflict(
                    "idempotency-in-progress",
                    "Request in progress",
                    "a request with this Idempotency-Key is still running; retry shortly",
                ));
            }
            IdempotencyClaim::Mismatch => {
                return Err(Problem::unprocessable(
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used with a different request body",
                ));
            }
        }

        let response = handler(request)
            .await
            .unwrap_or_else(Problem::into_response);
        if response.status().is_server_error() {
            if let Err(error) = self.store.release(&scoped_key, &request_hash).await {
                tracing::warn!(error = %error_chain(&error), "idempotency key not released");
            }
        } else if let Err(error) = self
            .store
            .complete(
                &scoped_key,
                &request_hash,
                &stored(&response),
                self.clock.now(),
            )
            .await
        {
            // The request itself succeeded; only a replay of it is lost.
            tracing::warn!(error = %error_chain(&error), "idempotent response not stored");
        }
        Ok(response)
    }
}

fn validated_key(value: &HeaderValue) -> Result<String, Problem> {
    let key = value.to_str().ok().map(str::trim).filter(|key| {
        (1..=MAX_KEY_LENGTH).contains(&key.len())
            && key
                .bytes()
                .all(|byte| byte.is_ascii_graphic() || byte == b' ')
    });
    key.map(str::to_owned).ok_or_else(|| {
        Problem::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        ))
    })
}

/// The same JSON sent with other spacing or key order is the same request.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => value.to_string().into_bytes(),
        Err(_) => body.to_vec(),
    }
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn stored(response: &Response<Body>) -> StoredResponse {
    StoredResponse {
        status: response.status().as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
    }
}

fn replay(stored: StoredResponse) -> Response<Body> {
    let mut response = Response::new(if stored.body.is_empty() {
        Body::Empty
    } else {
        Body::from(stored.body)
    });
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert(
        HeaderName::from_static(REPLAYED),
        HeaderValue::from_static("true"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Timestamp;
    use idempotency::InMemoryIdempotencyStore as MemoryStore;
    use lambda_http::http::Request as HttpRequest;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Now;
    impl Clock for Now {
        fn now(&self) -> Timestamp {
            Timestamp::now()
        }
    }

    fn request(key: Option<&str>, body: &str) -> Request {
        let mut builder = HttpRequest::builder().method("POST").uri("/users");
        if let Some(key) = key {
            builder = builder.header(IDEMPOTENCY_KEY, key);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    /// A handler that counts its runs and answers `status` with the run number in the body.
    fn handler(
        runs: &AtomicUsize,
        status: u16,
    ) -> impl FnOnce(Request) -> std::future::Ready<HandlerResult> + '_ {
        move |_| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let mut response = Response::new(Body::from(format!("{{\"run\":{run}}}")));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/users/1"));
            std::future::ready(Ok(response))
        }
    }

    async fn run(
        idempotency: &Idempotency<MemoryStore, Now>,
        key: Option<&str>,
        body: &str,
        runs: &AtomicUsize,
        status: u16,
    ) -> Response<Body> {
        idempotency
            .run(request(key, body), handler(runs, status))
            .await
            .unwrap_or_else(Problem::into_response)
    }

    #[tokio::test]
    async fn a_repeat_replays_the_first_answer_without_running_again() {
        let idempotency = Idempotency::new(MemoryStore::default(), Now);
        let runs = AtomicUsize::new(0);
        let first = run(&idempotency, Some("k1"), r#"{"a": 1, "b": 2}"#, &runs, 201).await;
        let again = run(&idempotency, Some("k1"), r#"{"b":2,"a":1}"#, &runs, 201).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            (again.status(), again.body()),
            (first.status(), first.body())
        );
        assert_eq!(again.headers()[header::LOCATION], "/users/1");
        assert_eq!(again.headers()[REPLAYED], "true");
        assert!(first.headers().get(REPLAYED).is_none());
    }

    #[tokio::test]
    async fn the_same_key_from_two_callers_is_two_keys() {
        use crate::testing::token_of;
        use application::fakes::user_with_email;
        let idempotency = Idempotency::new(MemoryStore::default(), Now);
        let runs = AtomicUsize::new(0);
        for _ in 0..2 {
            let mut sent = request(Some("shared-key"), "{}");
            sent.extensions_mut()
                .insert(token_of(&user_with_email("ada@example.com")));
            let response = idempotency
                .run(sent, handler(&runs, 201))
                .await
                .unwrap_or_else(Problem::into_response);
            assert!(response.headers().get(REPLAYED).is_none());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2, "each caller's request ran");
    }

    #[tokio::test]
    async fn another_body_under_the_same_key_is_a_422_and_another_key_runs() {
        let idempotency = Idempotency::new(MemoryStore::default(), Now);
        let runs = AtomicUsize::new(0);
        run(&idempotency, Some("k1"), r#"{"a":1}"#, &runs, 201).await;
        assert_eq!(
            run(&idempotency, Some("k1"), r#"{"a":2}"#, &runs, 201)
                .await
                .status(),
            422
        );
        assert_eq!(
            run(&idempotency, Some("k2"), r#"{"a":2}"#, &runs, 201)
                .await
                .status(),
            201
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_repeat_while_the_first_runs_is_a_409() {
        let store = MemoryStore::default();
        let idempotency = Idempotency::new(store.clone(), Now);
        let request = request(Some("k1"), "{}");
        let scoped = hex(Sha256::digest("anonymous POST /users\nk1"));
        let hash = hex(Sha256::digest(canonical_body(b"{}")));
        store.claim(&scoped, &hash, Timestamp::now()).await.unwrap();
        let runs = AtomicUsize::new(0);
        let response = idempotency
            .run(request, handler(&runs, 201))
            .await
            .unwrap_or_else(Problem::into_response);
        assert_eq!(
            (response.status().as_u16(), runs.load(Ordering::SeqCst)),
            (409, 0)
        );
    }

    #[tokio::test]
    async fn a_server_error_gives_the_key_up_and_a_client_error_is_kept() {
        let idempotency = Idempotency::new(MemoryStore::default(), Now);
        let runs = AtomicUsize::new(0);
        assert_eq!(
            run(&idempotency, Some("k1"), "{}", &runs, 503)
                .await
                .status(),
            503
        );
        assert_eq!(
            run(&idempotency, Some("k1"), "{}", &runs, 201)
                .await
                .status(),
            201
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "the retry ran");

        assert_eq!(
            run(&idempotency, Some("k2"), "{}", &runs, 409)
                .await
                .status(),
            409
        );
        assert_eq!(
            run(&idempotency, Some("k2"), "{}", &runs, 201)
                .await
                .status(),
            409,
            "replayed"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn without_a_key_every_request_runs_and_a_bad_key_is_a_400() {
        let idempotency = Idempotency::new(MemoryStore::default(), Now);
        let runs = AtomicUsize::new(0);
        run(&idempotency, None, "{}", &runs, 201).await;
        run(&idempotency, None, "{}", &runs, 201).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let too_long = "k".repeat(256);
        assert_eq!(
            run(&idempotency, Some(&too_long), "{}", &runs, 201)
                .await
                .status(),
            400
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
