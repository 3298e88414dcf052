//! Each request's log line and metrics record, written once its response has been handed to
//! Lambda's Runtime API: the caller does not wait for them (formatting and two writes, about
//! 15 µs). They are still written before the runtime asks for the next event, which is when
//! Lambda may freeze the process, so none is lost.

use crate::metrics::RequestMetrics;
use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::tower::{Layer, Service};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::task::futures::TaskLocalFuture;

/// What one request leaves in the log and in the metrics.
#[derive(Debug)]
pub(crate) struct RequestRecord {
    pub request_id: Option<String>,
    pub method: String,
    pub route: String,
    pub status: u16,
    pub latency_ms: f64,
    pub cold_start: bool,
    /// The request's X-Ray trace (`make trace ID=...` shows it locally).
    pub trace_id: Option<String>,
}

/// The record of the invocation being answered, held until its response is sent.
type Slot = Arc<Mutex<Option<RequestRecord>>>;

tokio::task_local! {
    static UNWRITTEN: Slot;
}

impl RequestRecord {
    /// Holds the record until the response is sent when [`WriteAfterResponse`] wraps the
    /// runtime; otherwise (a handler called directly) writes it now.
    pub(crate) fn write_after_response(self) {
        let mut record = Some(self);
        let _ = UNWRITTEN.try_with(|slot| *lock(slot) = record.take());
        if let Some(record) = record {
            record.write();
        }
    }

    fn write(self) {
        tracing::info!(
            request_id = self.request_id.as_deref().unwrap_or("-"),
            method = self.method,
            route = self.route,
            status = self.status,
            latency_ms = self.latency_ms,
            cold_start = self.cold_start,
            trace_id = self.trace_id.as_deref().unwrap_or("-"),
            "request"
        );
        RequestMetrics {
            status: self.status,
            latency_ms: self.latency_ms,
            cold_start: self.cold_start,
        }
        .emit();
    }
}

fn lock(slot: &Slot) -> MutexGuard<'_, Option<RequestRecord>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The Runtime layer that writes each invocation's record after its response is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteAfterResponse;

impl<S> Layer<S> for WriteAfterResponse {
    type Service = RecordsAfterResponse<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordsAfterResponse(inner)
    }
}

pub(crate) struct RecordsAfterResponse<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RecordsAfterResponse<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Answered<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let slot = Slot::default();
        Answered {
            answering: Box::pin(UNWRITTEN.scope(slot.clone(), self.0.call(invocation))),
            slot,
        }
    }
}

/// An invocation being answered (its response computed, then sent); once it is, its record
/// is written.
pub(crate) struct Answered<F: Future> {
    answering: Pin<Box<TaskLocalFuture<Slot, F>>>,
    slot: Slot,
}

impl<F: Future> Future for Answered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<F::Output> {
        let outcome = ready!(self.answering.as_mut().poll(context));
        if let Some(record) = lock(&self.slot).take() {
            record.write();
        }
        Poll::Ready(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::lambda_runtime::Context as LambdaContext;
    use lambda_http::{Error, http, service_fn};
    use std::io::Write;

    fn record() -> RequestRecord {
        RequestRecord {
            request_id: Some("req-1".to_owned()),
            method: "POST".to_owned(),
            route: "POST /users".to_owned(),
            status: 201,
            latency_ms: 1.5,
            cold_start: false,
            trace_id: None,
        }
    }

    /// The log lines written while it is the default subscriber.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Log {
        fn capture(&self) -> tracing::subscriber::DefaultGuard {
            let log = self.clone();
            tracing::subscriber::set_default(
                tracing_subscriber::fmt()
                    .json()
                    .with_writer(move || log.clone())
                    .finish(),
            )
        }

        fn lines(&self) -> usize {
            let text = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            text.iter().filter(|byte| **byte == b'\n').count()
        }
    }

    impl Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut text = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            text.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn invocation() -> LambdaInvocation {
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: Default::default(),
            context: LambdaContext::default(),
        }
    }

    #[tokio::test]
    async fn the_record_is_written_once_the_response_is_sent_not_before() {
        let log = Log::default();
        let _capturing = log.capture();
        let answer = {
            let log = log.clone();
            // Stands for the rest of the runtime: the handler, then the POST of its response.
            service_fn(move |_: LambdaInvocation| {
                let log = log.clone();
                async move {
                    record().write_after_response();
                    Ok::<usize, Error>(log.lines())
                }
            })
        };
        let mut runtime = WriteAfterResponse.layer(answer);
        let lines_while_sending = runtime.call(invocation()).await.unwrap();
        assert_eq!(lines_while_sending, 0);
        assert_eq!(log.lines(), 1);
    }

    #[tokio::test]
    async fn an_invocation_without_a_record_writes_nothing() {
        let log = Log::default();
        let _capturing = log.capture();
        let mut runtime = WriteAfterResponse.layer(service_fn(|_: LambdaInvocation| async {
            Ok::<(), Error>(())
        }));
        runtime.call(invocation()).await.unwrap();
        assert_eq!(log.lines(), 0);
    }

    #[test]
    fn outside_the_layer_a_record_is_written_at_once() {
        let log = Log::default();
        let _capturing = log.capture();
        record().write_after_response();
        assert_eq!(log.lines(), 1);
    }
}
