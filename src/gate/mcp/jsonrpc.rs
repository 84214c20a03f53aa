//! Reading an MCP request body as JSON-RPC 2.0, strictly: one message or a batch,
//! every element a request, a notification or an answer to the server's own request,
//! and nothing two parsers could read two ways.
//!
//! Refused: a body over [`MAX_BODY_BYTES`]; text that is not JSON (or not UTF-8, or
//! has trailing bytes); a key given twice in any object at any depth (one parser
//! keeps the first, another the last); in the envelope, `params` and `params.ref`, two
//! keys that differ only in ASCII case, and members JSON-RPC does not define; a method
//! that differs only in case from one MCP defines (a server that folds case would run
//! what the policy did not judge); an empty batch. A method MCP does not define is not
//! refused here: the policy refuses it ([`Operation`] is only built for known ones).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::policy::mcp::Operation;

/// The most bytes of a request body read before judging it (4 MiB). A larger body is
/// refused with 413 and never reaches the server.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Why a body is not a JSON-RPC message scimgate will judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is ambiguous: {0}")]
    Ambiguous(String),
    #[error("not a JSON-RPC 2.0 message: {0}")]
    Invalid(String),
}

impl BodyError {
    /// The JSON-RPC error code of the refusal.
    pub fn code(&self) -> i64 {
        match self {
            BodyError::NotJson(_) => -32700,
            BodyError::TooLarge | BodyError::Ambiguous(_) | BodyError::Invalid(_) => -32600,
        }
    }
}

/// What one message of the body is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A request: it has an `id` and expects an answer.
    Request { id: Value, method: String },
    /// A notification: a method without an `id`.
    Notification { method: String },
    /// An answer to a request the server sent (sampling, elicitation, roots).
    Response,
}

/// One message of the body.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: Kind,
    /// Its `params` (an empty object when it has none).
    pub params: Map<String, Value>,
}

impl Message {
    /// The method, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        match &self.kind {
            Kind::Request { method, .. } | Kind::Notification { method } => Some(method),
            Kind::Response => None,
        }
    }

    /// The request's `id`, if it is a request.
    pub fn id(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Request { id, .. } => Some(id),
            _ => None,
        }
    }

    /// What it asks of the server, as the policy judges it; `Ok(None)` for a method
    /// MCP does not define.
    pub fn operation(&self) -> Result<Option<Operation<'_>>, BodyError> {
        let Some(method) = self.method() else {
            return Ok(Some(Operation::Session));
        };
        let text = |key: &str| -> Result<&str, BodyError> {
            self.params
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| BodyError::Invalid(format!("{method} needs params.{key}")))
        };
        Ok(Some(match method {
            "tools/call" => Operation::Tool(text("name")?),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                Operation::Resource(text("uri")?)
            }
            "prompts/get" => Operation::Prompt(text("name")?),
            "completion/complete" => completion_target(&self.params)?,
            m if SESSION_METHODS.contains(&m) => Operation::Session,
            _ => return Ok(None),
        }))
    }
}

/// The body: one message, or a batch (a JSON array) of them.
#[derive(Debug, Clone)]
pub struct Body {
    pub batch: bool,
    pub messages: Vec<Message>,
}

/// Methods that hold the session and name no tool, resource or prompt.
pub const SESSION_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "logging/setLevel",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/tasks/status",
];

/// Methods that name a tool, resource or prompt.
const NAMED_METHODS: &[&str] = &[
    "tools/call",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "completion/complete",
];

/// The members a JSON-RPC 2.0 message may have.
const ENVELOPE: &[&str] = &["jsonrpc", "id", "method", "params", "result", "error"];

/// Parses a whole body (already read within [`MAX_BODY_BYTES`]).
pub fn parse(bytes: &[u8]) -> Result<Body, BodyError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    let Strict(value) = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix(DUPLICATE) {
            Some(rest) => BodyError::Ambiguous(format!("{DUPLICATE}{rest}")),
            None => BodyError::NotJson(text),
        }
    })?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(BodyError::Invalid("an empty batch".to_owned()));
            }
            let messages = items
                .into_iter()
                .map(message)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Body {
                batch: true,
                messages,
            })
        }
        other => Ok(Body {
            batch: false,
            messages: vec![message(other)?],
        }),
    }
}

/// One element: an object with `jsonrpc: "2.0"` and the members of its kind.
fn message(value: Value) -> Result<Message, BodyError> {
    let Value::Object(mut obj) = value else {
        return Err(BodyError::Invalid(
            "a message must be a JSON object".to_owned(),
        ));
    };
    caseless_unique(&obj, "the message")?;
    if let Some(k) = obj.keys().find(|k| !ENVELOPE.contains(&k.as_str())) {
        return Err(BodyError::Invalid(format!("unknown member `{k}`")));
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(BodyError::Invalid("`jsonrpc` must be \"2.0\"".to_owned()));
    }
    let id = obj.remove("id");
    if let Some(id) = &id {
        if !(id.is_string() || id.is_i64() || id.is_u64()) {
            return Err(BodyError::Invalid(
                "`id` must be a string or an integer".to_owned(),
            ));
        }
    }
    let params = match obj.remove("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(BodyError::Invalid("`params` must be an object".to_owned())),
    };
    caseless_unique(&params, "params")?;
    if let Some(Value::Object(r)) = params.get("ref") {
        caseless_unique(r, "params.ref")?;
    }
    let answer = obj.contains_key("result") || obj.contains_key("error");
    let kind = match (obj.remove("method"), id) {
        (Some(Value::String(method)), id) => {
            if answer {
                return Err(BodyError::Invalid(
                    "a message with a method has no result or error".to_owned(),
                ));
            }
            known_spelling(&method)?;
            match id {
                Some(id) => Kind::Request { id, method },
                None => Kind::Notification { method },
            }
        }
        (Some(_), _) => return Err(BodyError::Invalid("`method` must be a string".to_owned())),
        (None, Some(_)) => {
            if obj.contains_key("result") == obj.contains_key("error") {
                return Err(BodyError::Invalid(
                    "an answer has exactly one of result and error".to_owned(),
                ));
            }
            Kind::Response
        }
        (None, None) => {
            return Err(BodyError::Invalid(
                "a message needs a method or an id".to_owned(),
            ))
        }
    };
    Ok(Message { kind, params })
}

/// Refuses a method that is a known one in another case (`Tools/Call`).
fn known_spelling(method: &str) -> Result<(), BodyError> {
    let known = SESSION_METHODS.iter().chain(NAMED_METHODS);
    for m in known {
        if *m != method && m.eq_ignore_ascii_case(method) {
            return Err(BodyError::Ambiguous(format!(
                "method `{method}` is `{m}` spelled another way"
            )));
        }
    }
    Ok(())
}

/// Refuses two keys of `obj` that differ only in ASCII case.
fn caseless_unique(obj: &Map<String, Value>, what: &str) -> Result<(), BodyError> {
    let mut seen = BTreeSet::new();
    for k in obj.keys() {
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(BodyError::Ambiguous(format!(
                "{what} has `{k}` twice, in different case"
            )));
        }
    }
    Ok(())
}

/// What `completion/complete` completes for: a prompt or a resource.
fn completion_target(params: &Map<String, Value>) -> Result<Operation<'_>, BodyError> {
    let bad = || {
        BodyError::Invalid(
            "completion/complete needs params.ref of type ref/prompt (with name) or ref/resource (with uri)"
                .to_owned(),
        )
    };
    let r = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(bad)?;
    let field = |k: &str| r.get(k).and_then(Value::as_str).ok_or_else(bad);
    match field("type")? {
        "ref/prompt" => Ok(Operation::Prompt(field("name")?)),
        "ref/resource" => Ok(Operation::Resource(field("uri")?)),
        _ => Err(bad()),
    }
}

/// How a duplicate key is reported by [`Strict`] (and recognised by [`parse`]).
const DUPLICATE: &str = "duplicate key ";

/// A JSON value whose objects have no key twice, at any depth.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE}`{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
