//! The AWS Lambda Runtime API on loopback, as a function's bootstrap sees it in Lambda:
//! `GET /2018-06-01/runtime/invocation/next` long-polls for an event, and
//! `POST .../invocation/{id}/response` or `.../error` returns its outcome. Durations are taken
//! where Lambda takes them: from handing out the event to receiving the outcome.

use crate::http1::read_message;
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify, mpsc};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";

/// One finished invocation: how long it took and the API Gateway response it returned.
#[derive(Debug)]
pub struct Invocation {
    pub duration: Duration,
    pub response: Value,
}

enum Outcome {
    Response {
        request_id: String,
        finished: Instant,
        body: Vec<u8>,
    },
    Error {
        request_id: String,
        body: Vec<u8>,
    },
    InitError(Vec<u8>),
}

struct Shared {
    function_arn: String,
    /// `BENCH_TRACED=true`: every invocation is in a sampled trace, as with active tracing.
    traced: bool,
    events: Mutex<mpsc::UnboundedReceiver<(String, Vec<u8>)>>,
    first_poll: std::sync::Mutex<Option<Instant>>,
    polled: Notify,
    sent_at: std::sync::Mutex<HashMap<String, Instant>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// A Runtime API for one function process.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Vec<u8>)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    invocations: u64,
}

impl RuntimeApi {
    pub async fn start(function: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let (events, pending) = mpsc::unbounded_channel();
        let (outcome_sender, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
            traced: std::env::var("BENCH_TRACED").is_ok_and(|value| value == "true"),
            events: Mutex::new(pending),
            first_poll: std::sync::Mutex::new(None),
            polled: Notify::new(),
            sent_at: std::sync::Mutex::new(HashMap::new()),
            outcomes: outcome_sender,
        });
        let address = listener.local_addr()?;
        let accepting = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, Arc::clone(&accepting)));
            }
        });
        Ok(Self {
            address,
            shared,
            events,
            outcomes,
            invocations: 0,
        })
    }

    /// What `AWS_LAMBDA_RUNTIME_API` holds: `host:port`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// When the function first asked for an event: the end of its init phase.
    pub async fn initialized(&mut self, limit: Duration) -> anyhow::Result<Instant> {
        let deadline = tokio::time::sleep(limit);
        tokio::pin!(deadline);
        loop {
            let notified = self.shared.polled.notified();
            if let Some(at) = *lock(&self.shared.first_poll) {
                return Ok(at);
            }
            tokio::select! {
                () = notified => {}
                outcome = self.outcomes.recv() => match outcome {
                    Some(Outcome::InitError(body)) => {
                        bail!("init failed: {}", String::from_utf8_lossy(&body))
                    }
                    _ => bail!("an outcome before any event"),
                },
                () = &mut deadline => bail!("no GET /next within {limit:?}"),
            }
        }
    }

    /// Hands `event` to the function and waits for its outcome.
    pub async fn invoke(&mut self, event: &Value, limit: Duration) -> anyhow::Result<Invocation> {
        self.invocations += 1;
        let request_id = format!("bench-{:08}", self.invocations);
        self.events
            .send((request_id.clone(), serde_json::to_vec(event)?))
            .ok()
            .context("the Runtime API stopped")?;
        let outcome = tokio::time::timeout(limit, self.outcomes.recv())
            .await
            .with_context(|| format!("no outcome within {limit:?}"))?
            .context("the Runtime API stopped")?;
        match outcome {
            Outcome::Response {
                request_id: answered,
                finished,
                body,
            } if answered == request_id => {
                let sent = lock(&self.shared.sent_at)
                    .remove(&request_id)
                    .context("a response to an event never sent")?;
                Ok(Invocation {
                    duration: finished - sent,
                    response: serde_json::from_slice(&body)
                        .context("a response that is not JSON")?,
                })
            }
            Outcome::Response { request_id, .. } => bail!("an unexpected response to {request_id}"),
            Outcome::Error { request_id, body } => bail!(
                "invocation {request_id} failed: {}",
                String::from_utf8_lossy(&body)
            ),
            Outcome::InitError(body) => bail!("init failed: {}", String::from_utf8_lossy(&body)),
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) -> anyhow::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(request) = read_message(&mut reader, false).await? {
        let finished = Instant::now();
        let mut parts = request.start_line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        match (method, path) {
            ("GET", NEXT) => {
                {
                    let mut first_poll = lock(&shared.first_poll);
                    if first_poll.is_none() {
                        *first_poll = Some(finished);
                        shared.polled.notify_waiters();
                    }
                }
                let Some((request_id, event)) = shared.events.lock().await.recv().await else {
                    return Ok(());
                };
                let deadline_ms =
                    SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + 10_000;
                let trace = if shared.traced {
                    let unique = uuid::Uuid::new_v4().simple().to_string();
                    format!(
                        "Root=1-{:08x}-{};Parent={};Sampled=1",
                        deadline_ms / 1000,
                        &unique[..24],
                        &unique[16..]
                    )
                } else {
                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     lambda-runtime-aws-request-id: {request_id}\r\n\
                     lambda-runtime-deadline-ms: {deadline_ms}\r\n\
                     lambda-runtime-invoked-function-arn: {}\r\n\
                     lambda-runtime-trace-id: {trace}\r\n\
                     content-length: {}\r\n\r\n",
                    shared.function_arn,
                    event.len()
                );
                let mut reply = head.into_bytes();
                reply.extend_from_slice(&event);
                lock(&shared.sent_at).insert(request_id, Instant::now());
                writer.write_all(&reply).await?;
            }
            ("POST", INIT_ERROR) => {
                let _ = shared.outcomes.send(Outcome::InitError(request.body));
                accepted(&mut writer).await?;
            }
            ("POST", path) if path.starts_with(INVOCATION) => {
                let rest = &path[INVOCATION.len()..];
                let (request_id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                let request_id = request_id.to_owned();
                let outcome = match kind {
                    "response" => Outcome::Response {
                        request_id,
                        finished,
                        body: request.body,
                    },
                    _ => Outcome::Error {
                        request_id,
                        body: request.body,
                    },
                };
                let _ = shared.outcomes.send(outcome);
                accepted(&mut writer).await?;
            }
            _ => {
                writer
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    .await?;
            }
        }
    }
    Ok(())
}

async fn accepted(writer: &mut tokio::net::tcp::OwnedWriteHalf) -> std::io::Result<()> {
    let body = br#"{"status":"OK"}"#;
    let head = format!(
        "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).await?;
    writer.write_all(body).await
}
