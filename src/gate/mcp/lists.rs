//! Filtering the server's answers to `tools/list`, `prompts/list`, `resources/list`
//! and `resources/templates/list` down to what the caller may use, in a JSON body or in
//! a stream of server-sent events.
//!
//! A resource template (`file:///docs/{name}`) is listed when its text, expressions
//! and all, is a URI the caller may read: `file:///docs/*` allows it, a deny of
//! `file:///*` hides it. Each read is judged on its own URI anyway.
//!
//! Only answers whose `id` is one of the listing requests forwarded are touched; every
//! other message and event passes as it came. An entry without a string name (or
//! URI) is dropped. Events are read one at a time (an event is at most
//! [`MAX_EVENT_BYTES`]), so a stream stays a stream.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use crate::policy::mcp::Operation;

/// The most bytes of one server-sent event (or of a JSON answer) held for filtering.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// What a listing request lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    ResourceTemplates,
}

impl ListKind {
    /// The listing method's kind, if it is one.
    pub fn of(method: &str) -> Option<ListKind> {
        match method {
            "tools/list" => Some(ListKind::Tools),
            "prompts/list" => Some(ListKind::Prompts),
            "resources/list" => Some(ListKind::Resources),
            "resources/templates/list" => Some(ListKind::ResourceTemplates),
            _ => None,
        }
    }

    /// The member of `result` holding the list, and each entry's name member.
    fn members(self) -> (&'static str, &'static str) {
        match self {
            ListKind::Tools => ("tools", "name"),
            ListKind::Prompts => ("prompts", "name"),
            ListKind::Resources => ("resources", "uri"),
            ListKind::ResourceTemplates => ("resourceTemplates", "uriTemplate"),
        }
    }

    fn operation(self, name: &str) -> Operation<'_> {
        match self {
            ListKind::Tools => Operation::Tool(name),
            ListKind::Prompts => Operation::Prompt(name),
            ListKind::Resources | ListKind::ResourceTemplates => Operation::Resource(name),
        }
    }
}

/// The listing requests of one body, and whether the caller may use a named entry.
pub struct Lists<F> {
    pub ids: Vec<(Value, ListKind)>,
    pub allowed: F,
}

impl<F: Fn(&Operation<'_>) -> bool> Lists<F> {
    /// Filters `message` (one answer, or a batch of them) in place; whether it changed.
    pub fn filter_message(&self, message: &mut Value) -> bool {
        match message {
            Value::Array(items) => {
                // Every answer of the batch is filtered (no short circuit).
                let mut changed = false;
                for m in items.iter_mut() {
                    changed |= self.filter_one(m);
                }
                changed
            }
            one => self.filter_one(one),
        }
    }

    fn filter_one(&self, message: &mut Value) -> bool {
        let Some(kind) = message
            .get("id")
            .and_then(|id| self.ids.iter().find(|(i, _)| i == id))
            .map(|(_, k)| *k)
        else {
            return false;
        };
        let (list, key) = kind.members();
        let Some(entries) = message
            .get_mut("result")
            .and_then(|r| r.get_mut(list))
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let before = entries.len();
        entries.retain(|e| {
            e.get(key)
                .and_then(Value::as_str)
                .is_some_and(|name| (self.allowed)(&kind.operation(name)))
        });
        entries.len() != before
    }

    /// A JSON body, filtered (`None`: not JSON, left as it is).
    pub fn filter_json(&self, body: &[u8]) -> Option<Bytes> {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        if !self.filter_message(&mut value) {
            return None;
        }
        serde_json::to_vec(&value).ok().map(Bytes::from)
    }

    /// One server-sent event (its lines, without the blank line that ends it),
    /// filtered (`None`: left as it is).
    pub fn filter_event(&self, event: &[u8]) -> Option<Bytes> {
        let text = std::str::from_utf8(event).ok()?;
        let mut data = String::new();
        let mut others = Vec::new();
        for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
            match line.strip_prefix("data:") {
                Some(d) => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
                None => others.push(line),
            }
        }
        let mut value: Value = serde_json::from_str(&data).ok()?;
        if !self.filter_message(&mut value) {
            return None;
        }
        let json = serde_json::to_string(&value).ok()?;
        let mut out = String::with_capacity(json.len() + 64);
        for line in others {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("data: ");
        out.push_str(&json);
        Some(Bytes::from(out))
    }
}

/// Splits server-sent events off the front of a buffer.
#[derive(Default)]
pub struct EventSplitter {
    buf: BytesMut,
}

/// One piece of the stream: an event (without its terminating blank line) and the
/// terminator, to be written back after it.
pub struct Event {
    pub body: Bytes,
    pub end: Bytes,
}

impl EventSplitter {
    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether the unfinished event has grown past [`MAX_EVENT_BYTES`].
    pub fn overflowed(&self) -> bool {
        self.buf.len() > MAX_EVENT_BYTES
    }

    /// The next complete event, if one is buffered.
    pub fn next_event(&mut self) -> Option<Event> {
        let (at, len) = find_blank_line(&self.buf)?;
        let body = self.buf.split_to(at).freeze();
        let end = self.buf.split_to(len).freeze();
        Some(Event { body, end })
    }

    /// What is left when the stream ends (an unfinished event, passed as it is).
    pub fn rest(&mut self) -> Bytes {
        self.buf.split().freeze()
    }
}

/// Where the first blank line (an event's end) starts and its length.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    const ENDS: [&[u8]; 4] = [b"\r\n\r\n", b"\n\n", b"\r\r", b"\n\r\n"];
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' || buf[i] == b'\r' {
            for end in ENDS {
                if buf[i..].starts_with(end) {
                    return Some((i, end.len()));
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists() -> Lists<impl Fn(&Operation<'_>) -> bool> {
        Lists {
            ids: vec![(json!(2), ListKind::Tools), (json!("p"), ListKind::Prompts)],
            allowed: |op: &Operation<'_>| {
                matches!(op, Operation::Tool("show") | Operation::Tool("list"))
            },
        }
    }

    #[test]
    fn only_listing_answers_are_filtered() {
        let l = lists();
        let mut answer = json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [
            {"name": "show"}, {"name": "run"}, {"name": "list"}, {"title": "no name"}
        ]}});
        assert!(l.filter_message(&mut answer));
        assert_eq!(
            answer["result"]["tools"],
            json!([{"name": "show"}, {"name": "list"}])
        );
        let mut other = json!({"jsonrpc": "2.0", "id": 3, "result": {"tools": [{"name": "run"}]}});
        assert!(!l.filter_message(&mut other));
        let mut prompts =
            json!([{"jsonrpc": "2.0", "id": "p", "result": {"prompts": [{"name": "x"}]}}]);
        assert!(l.filter_message(&mut prompts));
        assert_eq!(prompts[0]["result"]["prompts"], json!([]));
    }

    #[test]
    fn resource_templates_are_listed_when_their_text_may_be_read() {
        let docs = crate::policy::mcp::NamePattern::parse("file:///docs/*", false).unwrap();
        let l = Lists {
            ids: vec![(json!(4), ListKind::ResourceTemplates)],
            allowed: move |op: &Operation<'_>| match op {
                Operation::Resource(uri) => docs.matches(uri),
                _ => false,
            },
        };
        let mut answer = json!({"jsonrpc": "2.0", "id": 4, "result": {"resourceTemplates": [
            {"uriTemplate": "file:///docs/{name}", "name": "docs"},
            {"uriTemplate": "file:///etc/{name}", "name": "etc"},
            {"name": "no template"}
        ]}});
        assert!(l.filter_message(&mut answer));
        assert_eq!(
            answer["result"]["resourceTemplates"],
            json!([{"uriTemplate": "file:///docs/{name}", "name": "docs"}])
        );
        assert_eq!(
            ListKind::of("resources/templates/list"),
            Some(ListKind::ResourceTemplates)
        );
    }

    #[test]
    fn json_bodies_are_rewritten_only_when_filtered() {
        let l = lists();
        let body = br#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"run"},{"name":"list"}],"nextCursor":"c"}}"#;
        let out: Value = serde_json::from_slice(&l.filter_json(body).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": [{"name": "list"}], "nextCursor": "c"}})
        );
        assert!(l
            .filter_json(br#"{"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"run"}]}}"#)
            .is_none());
        assert!(l.filter_json(b"not json").is_none());
    }

    #[test]
    fn events_are_split_and_filtered_one_by_one() {
        let l = lists();
        let mut s = EventSplitter::default();
        s.push(b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"run\"},");
        assert!(s.next_event().is_none());
        s.push(b"{\"name\":\"show\"}]}}\r\n\r\n: ping\n\n");
        let e = s.next_event().unwrap();
        assert_eq!(&e.end[..], b"\r\n\r\n");
        let out = l.filter_event(&e.body).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("event: message\ndata: "), "{text}");
        assert!(text.contains("show") && !text.contains("run"), "{text}");
        let ping = s.next_event().unwrap();
        assert_eq!(&ping.body[..], b": ping");
        assert!(l.filter_event(&ping.body).is_none());
        assert!(s.next_event().is_none());
        assert!(s.rest().is_empty());
    }
}
