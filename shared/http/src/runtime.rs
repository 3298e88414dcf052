//! Start-up shared by every function: logging, metrics, and the Lambda run loop.

use crate::HandlerResult;
use crate::auth::Authentication;
use crate::request_record::{RequestRecord, WriteAfterResponse};
use application::audit::{self, Origin};
use application::ports::AccessTokenVerifier;
use lambda_http::http::HeaderValue;
use lambda_http::lambda_runtime::Runtime;
use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::request::RequestContext;
use lambda_http::{Adapter, Body, Error, Request, RequestExt, Response, service_fn};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tracing::Instrument;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Our crates log at this level; dependencies only warn, so production logs stay quiet.
const OUR_CRATES: [&str; 4] = ["http_api", "application", "infrastructure", "domain"];

/// JSON log lines for CloudWatch, one object per line with the fields at the top level.
/// The level comes from `RUST_LOG` (`level` or `target=level` directives, comma-separated,
/// e.g. `debug` to see every AWS SDK call), else from Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by
/// the template's `ApplicationLogLevel`) for our crates, else `info`. A `Targets` filter
/// rather than `EnvFilter`: it needs no regex engine, which keeps every binary smaller.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map_or(LevelFilter::INFO, |level| lambda_level(&level));
            Targets::new()
                .with_default(LevelFilter::WARN)
                .with_targets(OUR_CRATES.map(|krate| (krate, level)))
                // The audit trail is kept whatever the level: operators rely on it.
                .with_target(audit::TARGET, LevelFilter::INFO)
        });
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_current_span(false)
        .with_span_list(false)
        .without_time()
        .with_filter(filter);
    // Traces, when the X-Ray daemon's address is set: only the spans meant for them.
    let traces = xray::XrayLayer::from_env().map(|layer| {
        layer.with_filter(Targets::new().with_target(xray::TARGET, LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
}

/// Lambda's log levels (`TRACE` to `FATAL`) as a filter; anything unknown logs at `info`.
fn lambda_level(level: &str) -> LevelFilter {
    if level.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    level.parse().unwrap_or(LevelFilter::INFO)
}

/// The response header naming the request's X-Ray trace.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// True for the first invocation of this process only.
static COLD_START: AtomicBool = AtomicBool::new(true);

/// Runs the Lambda loop with `handler`. Each request's bearer token is verified first (its
/// `Authentication` rides in the request's extensions); problems become problem-JSON
/// responses; every request leaves one log line and one metrics record, written once its
/// response is on its way.
pub async fn serve<V, F, Fut>(verifier: V, handler: F) -> Result<(), Error>
where
    V: AccessTokenVerifier,
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = HandlerResult> + Send,
{
    let (handler, verifier) = (&handler, &verifier);
    let admin_mfa = crate::auth::admin_mfa_setting();
    let service = service_fn(move |mut request: Request| async move {
        let authentication = Authentication::of(&request, verifier);
        request.extensions_mut().insert(authentication);
        request.extensions_mut().insert(admin_mfa);
        let started = Instant::now();
        let cold_start = COLD_START.swap(false, Ordering::Relaxed);
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone());
        let method = request.method().to_string();
        let route = route_of(&request);
        let origin = Origin {
            request_id: request_id.clone(),
            source_ip: source_ip_of(&request),
        };

        let mut response: Response<Body> = audit::within(origin, handler(request))
            .instrument(xray::invocation_span())
            .await
            .unwrap_or_else(|problem| problem.into_response());
        let trace = xray::TraceHeader::of_invocation();
        // The request's trace, for a client to quote (`make trace ID=...` shows it locally).
        if let Some(root) = trace
            .as_ref()
            .and_then(|trace| HeaderValue::from_str(&trace.root).ok())
        {
            response.headers_mut().insert(TRACE_ID_HEADER, root);
        }

        RequestRecord {
            request_id,
            method,
            route,
            status: response.status().as_u16(),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            cold_start,
            trace_id: trace.map(|header| header.root),
        }
        .write_after_response();
        Ok::<_, Infallible>(response)
    });
    // `lambda_http::run`'s runtime, with each request's record written after its response.
    Runtime::new(Adapter::from(service))
        .layer(WriteAfterResponse)
        .layer(TracingLayer::new())
        .run()
        .await
}

/// The client's address as API Gateway saw it.
pub(crate) fn source_ip_of(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        _ => None,
    }
}

/// The route template (`POST /users/{id}/suspend`) rather than the path, so log lines carry
/// no ids and group by route: API Gateway's route key, else the path with each path
/// parameter's value put back as `{name}`.
fn route_of(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
        && let Some(key) = context
            .route_key
            .as_deref()
            .filter(|key| key.contains(" /"))
    {
        return key.to_owned();
    }
    let mut segments: Vec<String> = request.uri().path().split('/').map(str::to_owned).collect();
    if let Some(parameters) = request.path_parameters_ref() {
        for (name, value) in parameters.iter() {
            for segment in segments.iter_mut().filter(|segment| *segment == value) {
                *segment = format!("{{{name}}}");
            }
        }
    }
    format!("{} {}", request.method(), segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use std::collections::HashMap;

    #[test]
    fn lambda_log_levels_map_to_filters() {
        assert_eq!(lambda_level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(lambda_level("WARN"), LevelFilter::WARN);
        assert_eq!(lambda_level("FATAL"), LevelFilter::ERROR);
        assert_eq!(lambda_level("loud"), LevelFilter::INFO);
    }

    #[test]
    fn a_route_carries_parameter_names_not_their_values() {
        let id = "01938f7e-5a6b-7c3d-8e9f-0a1b2c3d4e5f";
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("/users/{id}/suspend"))
            .body(Body::Empty)
            .unwrap()
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_owned())]));
        assert_eq!(route_of(&request), "POST /users/{id}/suspend");
    }
}
