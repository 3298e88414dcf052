//! AWS X-Ray traces, sent over the X-Ray daemon's documented UDP protocol (a header line
//! `{"format": "json", "version": 1}`, then one segment document per datagram) to
//! `AWS_XRAY_DAEMON_ADDRESS`: the daemon Lambda runs beside a function with active tracing,
//! or the local stack's sink.
//!
//! The code marks what to trace with `tracing` spans of target [`TARGET`]; [`XrayLayer`]
//! turns them into documents when they close:
//! - `invocation`: one invocation of the function. In Lambda, Lambda records the function's
//!   segment itself and this span only stands for it (its id is the `Parent` of
//!   `_X_AMZN_TRACE_ID`); with `XRAY_FUNCTION_SEGMENT=true` (the local stack, where nothing
//!   plays that part) it is sent as the function's segment.
//! - a span with a `trace_header` field: work done later for another trace (the mailer's or
//!   the publisher's work for an outbox item), sent as a segment of that trace under the
//!   header's parent.
//! - any other span: a subsegment of the span it runs in (`name` names it; `operation`,
//!   `resource`, `status`, `retries` and `failed` describe an AWS call).
//!
//! A span outside every trace (no header, or `Sampled=0`) is sent nowhere.

use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::net::UdpSocket;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of the spans that become segments and subsegments.
pub const TARGET: &str = "xray";
/// The name of the span that stands for one invocation of the function.
pub const INVOCATION: &str = "invocation";
/// The environment variable Lambda sets to the trace header of the current invocation.
pub const TRACE_ID_VARIABLE: &str = "_X_AMZN_TRACE_ID";
const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
const FUNCTION_SEGMENT: &str = "XRAY_FUNCTION_SEGMENT";
const PROTOCOL_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// An X-Ray trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    /// `None` when the header leaves the decision open (`Sampled=?` or no `Sampled`).
    pub sampled: Option<bool>,
}

impl TraceHeader {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        for part in raw.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", value)) => root = Some(value.to_owned()),
                Some(("Parent", value)) => parent = Some(value.to_owned()),
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                _ => {}
            }
        }
        let root = root.filter(|root| root.starts_with("1-") && root.len() == 35)?;
        Some(Self {
            root,
            parent,
            sampled,
        })
    }

    /// The header of the current invocation, as Lambda sets it.
    pub fn of_invocation() -> Option<Self> {
        std::env::var(TRACE_ID_VARIABLE)
            .ok()
            .and_then(|raw| Self::parse(&raw))
    }

    fn recorded(&self) -> bool {
        self.sampled != Some(false)
    }
}

impl std::fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(parent) = &self.parent {
            write!(f, ";Parent={parent}")?;
        }
        match self.sampled {
            Some(true) => write!(f, ";Sampled=1"),
            Some(false) => write!(f, ";Sampled=0"),
            None => Ok(()),
        }
    }
}

/// The span of one invocation of this function: in a trace, the function's segment, in which
/// the use case and the AWS calls nest.
pub fn invocation_span() -> tracing::Span {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    tracing::info_span!(target: TARGET, INVOCATION, name = function)
}

thread_local! {
    /// The open segments and subsegments entered on this thread, innermost last.
    static POSITION: RefCell<Vec<TraceHeader>> = const { RefCell::new(Vec::new()) };
}

/// Where the running code is in its trace, as the header that work done later for it joins
/// (the outbox items carry it): the trace, and the innermost entered segment or subsegment as
/// the parent. Outside every traced span, the invocation's own header.
pub fn current() -> Option<TraceHeader> {
    POSITION
        .with(|position| position.borrow().last().cloned())
        .or_else(TraceHeader::of_invocation)
}

/// A document as separate segments and subsegments: each nested subsegment on its own, with
/// the trace and the parent its place implied, as X-Ray shows them.
pub fn flatten(document: &Value) -> Vec<Value> {
    let mut flat = Vec::new();
    let mut pending = vec![document.clone()];
    while let Some(mut document) = pending.pop() {
        if let Some(Value::Array(nested)) = document
            .as_object_mut()
            .and_then(|fields| fields.remove("subsegments"))
        {
            for mut child in nested {
                child["trace_id"] = document["trace_id"].clone();
                child["parent_id"] = document["id"].clone();
                child["type"] = "subsegment".into();
                pending.push(child);
            }
        }
        flat.push(document);
    }
    flat
}

/// A new 64-bit id in 16 hex digits, as X-Ray wants segment ids.
fn new_id() -> String {
    thread_local! {
        /// An id, not a secret: seeded once from the OS (or the clock, should it refuse), then
        /// SplitMix64, so a span costs no system call.
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut seed = [0u8; 8];
            if getrandom::fill(&mut seed).is_err() {
                seed = now_nanos().to_be_bytes();
            }
            u64::from_be_bytes(seed)
        });
    }
    let next = STATE.with(|state| {
        let value = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(value);
        let mut mixed = value;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    });
    format!("{next:016x}")
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// The fields of a span, as recorded so far.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The function's own segment: recorded by Lambda, or here locally.
    Invocation {
        send: bool,
    },
    /// A segment of another trace, joined for later work.
    Joined,
    Subsegment,
}

/// A span being recorded.
struct Open {
    kind: Kind,
    id: String,
    header: TraceHeader,
    start: f64,
    fields: Fields,
    name: &'static str,
    /// The documents of the subsegments closed inside it, sent with it.
    nested: Vec<Value>,
}

impl Open {
    /// Where spans inside this one hang: this trace, this id as their parent.
    fn as_parent(&self) -> TraceHeader {
        TraceHeader {
            parent: Some(self.id.clone()),
            ..self.header.clone()
        }
    }

    fn document(&self, end: f64) -> Value {
        let fields = &self.fields.0;
        let text = |name: &str| fields.get(name).and_then(Value::as_str);
        let name = text("name").unwrap_or(self.name);
        let mut document = json!({
            "name": name,
            "id": self.id,
            "trace_id": self.header.root,
            "start_time": self.start,
            "end_time": end,
        });
        if let Some(parent) = &self.header.parent {
            document["parent_id"] = parent.clone().into();
        }
        match self.kind {
            Kind::Subsegment => document["type"] = "subsegment".into(),
            Kind::Invocation { .. } | Kind::Joined => {
                document["origin"] = "AWS::Lambda::Function".into();
            }
        }
        if let Some(operation) = text("operation") {
            document["namespace"] = "aws".into();
            let mut aws = json!({"operation": operation});
            if let Some(resource) = text("resource") {
                aws["resource"] = resource.into();
            }
            if let Some(retries) = fields.get("retries") {
                aws["retries"] = retries.clone();
            }
            if let Some(request_id) = text("request_id") {
                aws["request_id"] = request_id.into();
            }
            document["aws"] = aws;
        }
        if let Some(status) = fields.get("status").and_then(Value::as_u64) {
            document["http"] = json!({"response": {"status": status}});
            if (400..500).contains(&status) {
                document["error"] = true.into();
            } else if status >= 500 {
                document["fault"] = true.into();
            }
        }
        if fields.get("failed").and_then(Value::as_bool) == Some(true)
            && document.get("error").is_none()
        {
            document["fault"] = true.into();
        }
        document
    }
}

/// Sends the spans of target [`TARGET`] to the X-Ray daemon; see the crate's documentation.
pub struct XrayLayer {
    socket: UdpSocket,
    /// Locally, where no Lambda records the function's segment, the layer does.
    function_segment: bool,
    /// The header of the invocation under way.
    invocation: fn() -> Option<TraceHeader>,
}

impl XrayLayer {
    /// The layer for the daemon at `AWS_XRAY_DAEMON_ADDRESS` (`host:port`); `None` when the
    /// variable is not set (tracing is off) or no socket can be had.
    pub fn from_env() -> Option<Self> {
        let address = std::env::var(DAEMON_ADDRESS).ok()?;
        // Lambda's value may name the UDP and TCP addresses: `127.0.0.1:2000 127.0.0.1:2000`
        // or `udp:127.0.0.1:2000 tcp:127.0.0.1:2000`.
        let address = address
            .split_whitespace()
            .find(|part| !part.starts_with("tcp:"))?
            .trim_start_matches("udp:")
            .to_owned();
        let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
        socket.connect(address).ok()?;
        Some(Self {
            socket,
            function_segment: std::env::var(FUNCTION_SEGMENT).is_ok_and(|value| value == "true"),
            invocation: TraceHeader::of_invocation,
        })
    }

    fn send(&self, document: &Value) {
        let datagram = format!("{PROTOCOL_HEADER}{document}");
        // Tracing never fails a request: a datagram the daemon misses is a gap in a trace.
        let _ = self.socket.send(datagram.as_bytes());
    }

    fn open<S>(
        &self,
        attributes: &Attributes<'_>,
        id: &Id,
        context: &Context<'_, S>,
    ) -> Option<Open>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let name = attributes.metadata().name();
        let explicit = fields
            .0
            .get("trace_header")
            .and_then(Value::as_str)
            .and_then(TraceHeader::parse);
        let enclosing = context.span(id).and_then(|span| {
            span.scope()
                .skip(1)
                .find_map(|ancestor| ancestor.extensions().get::<Open>().map(Open::as_parent))
        });
        let (kind, header, own_id) = if let Some(header) = explicit {
            (Kind::Joined, header, new_id())
        } else if name == INVOCATION && enclosing.is_none() {
            let header = (self.invocation)()?;
            // Lambda's segment is the header's parent: spans inside it hang there.
            let own_id = header.parent.clone().unwrap_or_else(new_id);
            let header = TraceHeader {
                parent: None,
                ..header
            };
            let send = self.function_segment;
            (Kind::Invocation { send }, header, own_id)
        } else {
            let header = enclosing.or_else(self.invocation)?;
            (Kind::Subsegment, header, new_id())
        };
        Some(Open {
            kind,
            id: own_id,
            header,
            start: now_seconds(),
            fields,
            name,
            nested: Vec::new(),
        })
    }
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        if let Some(open) = self.open(attributes, id, &context)
            && let Some(span) = context.span(id)
        {
            span.extensions_mut().insert(open);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            values.record(&mut open.fields);
        }
    }

    fn on_enter(&self, id: &Id, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && let Some(open) = span.extensions().get::<Open>()
        {
            let here = open.as_parent();
            POSITION.with(|position| position.borrow_mut().push(here));
        }
    }

    fn on_exit(&self, id: &Id, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && span.extensions().get::<Open>().is_some()
        {
            POSITION.with(|position| position.borrow_mut().pop());
        }
    }

    /// A closed subsegment goes into its enclosing segment or subsegment of the same trace,
    /// which sends it with its own document: one datagram per use case (or per joined
    /// segment), not one per call. Only what hangs directly under Lambda's own segment, or
    /// starts a part of another trace, is sent on its own.
    fn on_close(&self, id: span::Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else {
            return;
        };
        let Some(mut open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        if !open.header.recorded() || open.kind == (Kind::Invocation { send: false }) {
            return;
        }
        let mut document = open.document(now_seconds());
        if !open.nested.is_empty() {
            document["subsegments"] = Value::Array(std::mem::take(&mut open.nested));
        }
        if open.kind == Kind::Subsegment {
            for ancestor in span.scope().skip(1) {
                let mut extensions = ancestor.extensions_mut();
                let Some(enclosing) = extensions.get_mut::<Open>() else {
                    continue;
                };
                if enclosing.kind != (Kind::Invocation { send: false })
                    && enclosing.header.root == open.header.root
                {
                    // Inside its parent's document the trace and the parent go without saying.
                    if let Some(fields) = document.as_object_mut() {
                        for implied in ["trace_id", "parent_id", "type"] {
                            fields.remove(implied);
                        }
                    }
                    enclosing.nested.push(document);
                    return;
                }
                break;
            }
        }
        self.send(&document);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn a_header_reads_and_writes_back_the_same() {
        let raw = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let header = TraceHeader::parse(&raw).unwrap();
        assert_eq!(header.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled, Some(true));
        assert_eq!(header.to_string(), raw);
        assert_eq!(TraceHeader::parse("Root=nonsense;Sampled=1"), None);
        assert_eq!(
            TraceHeader::parse(&format!("Root={ROOT};Sampled=?"))
                .unwrap()
                .sampled,
            None
        );
    }

    /// The layer with a daemon on a loopback socket of the test's own; the documents it sent.
    fn traced(work: impl FnOnce()) -> Vec<Value> {
        traced_with(true, work)
    }

    fn traced_with(function_segment: bool, work: impl FnOnce()) -> Vec<Value> {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(daemon.local_addr().unwrap()).unwrap();
        let layer = XrayLayer {
            socket,
            function_segment,
            invocation: lambdas_header,
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, work);
        let mut documents = Vec::new();
        let mut buffer = [0u8; 65_536];
        while let Ok(size) = daemon.recv(&mut buffer) {
            let text = std::str::from_utf8(&buffer[..size]).unwrap();
            let (header, document) = text.split_once('\n').unwrap();
            assert_eq!(format!("{header}\n"), PROTOCOL_HEADER);
            documents.extend(flatten(&serde_json::from_str(document).unwrap()));
        }
        documents
    }

    fn lambdas_header() -> Option<TraceHeader> {
        TraceHeader::parse(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"))
    }

    #[test]
    fn an_invocation_is_the_functions_segment_with_its_use_case_and_calls_nested_inside() {
        let mut inside = None;
        let documents = traced(|| {
            let invocation = tracing::info_span!(target: TARGET, INVOCATION, name = "create-user");
            let _invocation = invocation.enter();
            let use_case = tracing::info_span!(target: TARGET, "use case", name = "CreateUser");
            let _use_case = use_case.enter();
            inside = current();
            let call = tracing::info_span!(target: TARGET, "aws", name = "DynamoDB",
                operation = "TransactWriteItems", resource = "users",
                status = tracing::field::Empty, retries = tracing::field::Empty);
            call.record("status", 200u64);
            call.record("retries", 1u64);
        });
        let [function, use_case, call] = documents.as_slice() else {
            panic!("three documents: {documents:?}");
        };
        assert_eq!(function["name"], "create-user");
        assert_eq!(
            function["id"], "53995c3f42cd8ad8",
            "the segment Lambda's header names"
        );
        assert_eq!(function["origin"], "AWS::Lambda::Function");
        assert_eq!(use_case["name"], "CreateUser");
        assert_eq!(use_case["parent_id"], function["id"]);
        assert_eq!(call["parent_id"], use_case["id"]);
        assert_eq!(call["namespace"], "aws");
        assert_eq!(
            call["aws"],
            json!({"operation": "TransactWriteItems", "resource": "users", "retries": 1})
        );
        assert_eq!(call["http"]["response"]["status"], 200);
        assert!(
            documents
                .iter()
                .all(|document| document["trace_id"] == ROOT)
        );
        assert_eq!(
            inside.unwrap().parent.as_deref(),
            use_case["id"].as_str(),
            "what is recorded inside the use case (an outbox item) hangs under it"
        );
    }

    #[test]
    fn in_lambda_the_use_case_is_sent_with_its_calls_under_lambdas_own_segment() {
        let documents = traced_with(false, || {
            let invocation = tracing::info_span!(target: TARGET, INVOCATION, name = "get-user");
            let _invocation = invocation.enter();
            let use_case = tracing::info_span!(target: TARGET, "use case", name = "GetUser");
            let _use_case = use_case.enter();
            drop(
                tracing::info_span!(target: TARGET, "aws", name = "DynamoDB", operation = "BatchGetItem"),
            );
        });
        let [use_case, call] = documents.as_slice() else {
            panic!("the use case and its call: {documents:?}");
        };
        assert_eq!(
            use_case["parent_id"], "53995c3f42cd8ad8",
            "Lambda's segment"
        );
        assert_eq!(use_case["type"], "subsegment");
        assert_eq!(call["parent_id"], use_case["id"]);
    }

    #[test]
    fn a_joined_segment_and_its_subsegments_carry_the_trace_they_join() {
        let joined = format!("Root={ROOT};Parent=aaaaaaaaaaaaaaaa;Sampled=1");
        let mut inside = None;
        let documents = traced(|| {
            let later = tracing::info_span!(target: TARGET, "item", name = "send-email",
                trace_header = joined.as_str());
            let _later = later.enter();
            inside = current();
            let call = tracing::info_span!(target: TARGET, "aws", name = "SESv2",
                operation = "SendEmail", status = tracing::field::Empty);
            call.record("status", 503u64);
        });
        let [segment, call] = documents.as_slice() else {
            panic!("two documents: {documents:?}");
        };
        assert_eq!(segment["name"], "send-email");
        assert_eq!(segment["trace_id"], ROOT);
        assert_eq!(segment["parent_id"], "aaaaaaaaaaaaaaaa");
        assert!(segment.get("type").is_none(), "a segment");
        assert_eq!(call["type"], "subsegment");
        assert_eq!(call["parent_id"], segment["id"]);
        assert_eq!(call["trace_id"], ROOT);
        assert_eq!(call["name"], "SESv2");
        assert_eq!(call["aws"]["operation"], "SendEmail");
        assert_eq!(call["fault"], true, "a 503 is a fault");
        assert!(call["end_time"].as_f64() >= call["start_time"].as_f64());
        let inside = inside.unwrap();
        assert_eq!(
            (inside.root.as_str(), inside.parent.as_deref()),
            (ROOT, segment["id"].as_str()),
            "work recorded inside hangs under the segment"
        );
    }

    #[test]
    fn an_unsampled_trace_sends_nothing() {
        let joined = format!("Root={ROOT};Parent=aaaaaaaaaaaaaaaa;Sampled=0");
        let documents = traced(|| {
            let later = tracing::info_span!(target: TARGET, "item", trace_header = joined.as_str());
            let _later = later.enter();
            drop(tracing::info_span!(target: TARGET, "aws", name = "SESv2"));
        });
        assert!(documents.is_empty(), "{documents:?}");
    }
}
