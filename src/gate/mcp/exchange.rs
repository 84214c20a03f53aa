//! One POST on a `preset: mcp` route: read the body within its bound, judge every
//! message, answer refusals here, and say how the server's answer must be filtered.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::jsonrpc::{self, BodyError, Kind, Message, MAX_BODY_BYTES};
use super::lists::{EventSplitter, ListKind, Lists, MAX_EVENT_BYTES};
use crate::audit::mcp::{entry, McpRecord};
use crate::audit::records::RequestOrigin;
use crate::audit::Auditor;
use crate::policy::mcp::{Operation, UNKNOWN_METHOD};
use crate::policy::{Decision, DirectorySubject, PolicySet, RequestFacts, Route, RouteMatch};

/// The JSON-RPC error code of a message the policy refuses.
pub const REFUSED: i64 = -32003;

/// Everything a message is judged on: the policy the request was allowed under, its
/// route and the caller.
pub struct Judge {
    policy: Arc<PolicySet>,
    route: Arc<Route>,
    params: Vec<(Arc<str>, String)>,
    subject: DirectorySubject,
    method: Method,
    path: String,
}

impl Judge {
    /// The judge of a request allowed on `route` (`path`: its normalised matching form).
    pub fn new(
        policy: Arc<PolicySet>,
        route: Arc<Route>,
        method: Method,
        path: &str,
        subject: DirectorySubject,
    ) -> Self {
        Judge {
            params: route.path_pattern().captures(path).unwrap_or_default(),
            policy,
            route,
            subject,
            method,
            path: path.to_owned(),
        }
    }

    /// The decision on one operation (`None`: a method MCP does not define, refused to
    /// everyone).
    pub fn decide(&self, op: Option<&Operation<'_>>) -> Decision {
        let Some(op) = op else {
            return self.route.deny_by(UNKNOWN_METHOD);
        };
        let m = RouteMatch {
            route: &self.route,
            params: self.params.clone(),
        };
        let facts = RequestFacts {
            method: &self.method,
            path: &self.path,
        };
        self.policy.decide_mcp(&m, facts, &self.subject, op)
    }
}

/// How the server's answer is to be filtered: the listing requests forwarded.
pub struct Plan {
    lists: Vec<(Value, ListKind)>,
    judge: Judge,
}

/// Reads and judges the body of `req`. `Ok`: the request to forward (its body the
/// bytes read, unchanged) and the plan for its answer; `Err`: the answer, given here.
pub async fn admit(
    judge: Judge,
    req: Request<Incoming>,
    audit: &Auditor,
    origin: &RequestOrigin,
    read_timeout: Duration,
) -> Result<(Request<Body>, Plan), Response<Body>> {
    let (mut parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, read_timeout)
        .await
        .map_err(|e| body_refusal(&e))?;
    let parsed = jsonrpc::parse(&bytes).map_err(|e| body_refusal(&e))?;
    let mut refused: Vec<(usize, Value)> = Vec::new();
    let mut lists = Vec::new();
    for (i, message) in parsed.messages.iter().enumerate() {
        let op = message.operation().map_err(|e| body_refusal(&e))?;
        let decision = judge.decide(op.as_ref());
        let user = judge.subject.record();
        if !decision.allow || op.is_some_and(|o| o.name().is_some()) {
            audit.record(entry(&McpRecord {
                at: audit.now_ms(),
                allow: decision.allow,
                user_name: &user.user_name,
                user_id: &user.id,
                route: &judge.route.name,
                method: message.method(),
                kind: op.map_or("unknown", |o| o.kind()),
                name: op.as_ref().and_then(Operation::name),
                rule: &decision.by.rule,
                rule_location: &decision.by.location,
                origin,
            }));
        }
        if !decision.allow {
            tracing::info!(
                user = %user.user_name,
                route = %judge.route.name,
                method = message.method().unwrap_or("-"),
                name = op.as_ref().and_then(Operation::name).unwrap_or("-"),
                rule = %decision.by.rule,
                "mcp message denied"
            );
            refused.push((i, refusal_error(message, op.as_ref(), &decision)));
            continue;
        }
        if let Kind::Request { id, method } = &message.kind {
            if let Some(kind) = ListKind::of(method) {
                lists.push((id.clone(), kind));
            }
        }
    }
    if !refused.is_empty() {
        return Err(refusals(&parsed, refused));
    }
    // The upstream answers in plain text, so that listing answers can be filtered.
    parts.headers.remove(header::ACCEPT_ENCODING);
    Ok((
        Request::from_parts(parts, Body::from(bytes)),
        Plan { lists, judge },
    ))
}

/// How much of a body past [`MAX_BODY_BYTES`] is read and discarded before the 413,
/// and for how long at most: a client still sending gets to read the answer instead of
/// a reset connection (as nginx's lingering close does); a larger body is cut.
const LINGER_BYTES: usize = 16 << 20;
const LINGER_TIME: Duration = Duration::from_secs(5);

/// Reads the whole body within [`MAX_BODY_BYTES`] and `timeout`. A body over the cap
/// (declared or read) is drained within [`LINGER_BYTES`] and [`LINGER_TIME`], then
/// refused.
async fn read_body(
    mut body: Incoming,
    headers: &http::HeaderMap,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut too_large = declared.is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    loop {
        let limit = if too_large {
            deadline.min(started + LINGER_TIME)
        } else {
            deadline
        };
        let frame = match tokio::time::timeout_at(limit, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(_) if too_large => return Err(BodyError::TooLarge),
            Ok(Some(Err(_))) | Err(_) => {
                return Err(BodyError::Invalid(
                    "the body could not be read in full".to_owned(),
                ))
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > MAX_BODY_BYTES {
            too_large = true;
            kept = bytes::BytesMut::new();
        }
        if too_large {
            if seen > MAX_BODY_BYTES.saturating_add(LINGER_BYTES) {
                break;
            }
            continue;
        }
        kept.extend_from_slice(&data);
    }
    if too_large {
        Err(BodyError::TooLarge)
    } else {
        Ok(kept.freeze())
    }
}

/// The error object of a refused message.
fn refusal_error(message: &Message, op: Option<&Operation<'_>>, decision: &Decision) -> Value {
    let what = match op {
        Some(op) => match op.name() {
            Some(name) => format!("{} `{name}`", op.kind()),
            None => format!("method `{}`", message.method().unwrap_or("-")),
        },
        None => format!(
            "method `{}` (not an MCP method)",
            message.method().unwrap_or("-")
        ),
    };
    error_object(
        message.id().cloned().unwrap_or(Value::Null),
        REFUSED,
        format!("{what} is not allowed for this caller"),
        Some(json!({"route": &*decision.by.route, "rule": &*decision.by.rule})),
    )
}

/// The answer to a body with refused messages: a single request gets its error; a
/// batch gets an error for every request in it (the refused ones, and the others,
/// which were not forwarded either); refused messages without an id get 403.
fn refusals(parsed: &jsonrpc::Body, refused: Vec<(usize, Value)>) -> Response<Body> {
    let first_refused = refused.first().map_or(0, |(i, _)| *i);
    let mut answers = Vec::new();
    for (i, message) in parsed.messages.iter().enumerate() {
        let Some(id) = message.id() else {
            continue;
        };
        match refused.iter().find(|(r, _)| *r == i) {
            Some((_, error)) => answers.push(error.clone()),
            None => answers.push(error_object(
                id.clone(),
                REFUSED,
                format!(
                    "not forwarded: message {first_refused} of this batch is not allowed; send the others without it"
                ),
                None,
            )),
        }
    }
    match (parsed.batch, answers.len()) {
        (_, 0) => {
            let error = refused.into_iter().next().map_or(Value::Null, |(_, e)| e);
            json_response(StatusCode::FORBIDDEN, &error)
        }
        (false, _) => json_response(StatusCode::OK, &answers[0]),
        (true, _) => json_response(StatusCode::OK, &Value::Array(answers)),
    }
}

/// The answer to a body that is not judged at all: 400 (413 when too large), with a
/// JSON-RPC error without an id.
fn body_refusal(e: &BodyError) -> Response<Body> {
    tracing::info!(error = %e, "mcp body refused");
    let status = match e {
        BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    json_response(
        status,
        &error_object(Value::Null, e.code(), e.to_string(), None),
    )
}

fn error_object(id: Value, code: i64, message: String, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(value.to_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl Plan {
    /// The server's answer, with listing answers filtered: a JSON body is read (within
    /// [`MAX_EVENT_BYTES`]) and rewritten; an event stream is filtered event by event
    /// as it flows. Without listing requests the answer passes untouched.
    pub async fn apply(self, resp: Response<Body>) -> Response<Body> {
        if self.lists.is_empty() {
            return resp;
        }
        let (mut parts, body) = resp.into_parts();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let encoded = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        let judge = self.judge;
        let lists = Lists {
            ids: self.lists,
            allowed: move |op: &Operation<'_>| judge.decide(Some(op)).allow,
        };
        if encoded {
            // Nothing here can be read to be filtered: refuse rather than pass it.
            return json_response(
                StatusCode::BAD_GATEWAY,
                &error_object(
                    Value::Null,
                    -32603,
                    "the MCP server answered with a content coding".to_owned(),
                    None,
                ),
            );
        }
        if content_type.starts_with("text/event-stream") {
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::from_stream(filter_events(body, lists)));
        }
        if !content_type.starts_with("application/json") {
            return Response::from_parts(parts, body);
        }
        let Ok(collected) = Limited::new(body, MAX_EVENT_BYTES).collect().await else {
            return json_response(
                StatusCode::BAD_GATEWAY,
                &error_object(
                    Value::Null,
                    -32603,
                    "the MCP server's answer could not be read".to_owned(),
                    None,
                ),
            );
        };
        let bytes = collected.to_bytes();
        let out = lists.filter_json(&bytes).unwrap_or(bytes);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, out.len().into());
        Response::from_parts(parts, Body::from(out))
    }
}

/// The event stream `body`, each event filtered as it completes.
fn filter_events<F>(
    body: Body,
    lists: Lists<F>,
) -> impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Send
where
    F: Fn(&Operation<'_>) -> bool + Send + 'static,
{
    struct State<F> {
        inner: axum::body::BodyDataStream,
        split: EventSplitter,
        lists: Lists<F>,
        pending: VecDeque<Bytes>,
        done: bool,
    }
    let state = State {
        inner: body.into_data_stream(),
        split: EventSplitter::default(),
        lists,
        pending: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok(b), st));
            }
            if st.done {
                return None;
            }
            if let Some(event) = st.split.next_event() {
                let body = st.lists.filter_event(&event.body).unwrap_or(event.body);
                st.pending.push_back(body);
                st.pending.push_back(event.end);
                continue;
            }
            if st.split.overflowed() {
                st.done = true;
                return Some((
                    Err(axum::Error::new(format!(
                        "an event of the MCP server is larger than {MAX_EVENT_BYTES} bytes"
                    ))),
                    st,
                ));
            }
            match st.inner.next().await {
                Some(Ok(bytes)) => st.split.push(&bytes),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    let rest = st.split.rest();
                    if !rest.is_empty() {
                        st.pending.push_back(rest);
                    }
                }
            }
        }
    })
}
