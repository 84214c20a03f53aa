//! The strict JSON-RPC reading of MCP bodies: single messages, batches judged element
//! by element, duplicates, case tricks and bodies that are not JSON-RPC.

use serde_json::json;

use super::jsonrpc::{parse, BodyError, Kind, MAX_BODY_BYTES};
use crate::policy::mcp::Operation;

fn ok(text: &str) -> super::jsonrpc::Body {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> BodyError {
    match parse(text.as_bytes()) {
        Ok(b) => panic!("{text} was accepted: {b:?}"),
        Err(e) => e,
    }
}

#[test]
fn single_messages_name_their_operation() {
    let b = ok(
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"show","arguments":{"sql":"select 1"}}}"#,
    );
    assert!(!b.batch);
    let m = &b.messages[0];
    assert_eq!(m.id(), Some(&json!(7)));
    assert_eq!(m.operation().unwrap(), Some(Operation::Tool("show")));
    let b = ok(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert!(matches!(b.messages[0].kind, Kind::Notification { .. }));
    assert_eq!(b.messages[0].operation().unwrap(), Some(Operation::Session));
    let b = ok(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
    assert_eq!(b.messages[0].kind, Kind::Response);
    let b =
        ok(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///x"}}"#);
    assert_eq!(
        b.messages[0].operation().unwrap(),
        Some(Operation::Resource("file:///x"))
    );
    let b = ok(
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"b"}}}"#,
    );
    assert_eq!(
        b.messages[0].operation().unwrap(),
        Some(Operation::Prompt("p"))
    );
    let b = ok(r#"{"jsonrpc":"2.0","id":1,"method":"dbt/secret"}"#);
    assert_eq!(b.messages[0].operation().unwrap(), None);
}

#[test]
fn batches_keep_every_element() {
    let b = ok(r#"[
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"show"}},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute_sql"}},
        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}
    ]"#);
    assert!(b.batch);
    let ops: Vec<_> = b.messages.iter().map(|m| m.operation().unwrap()).collect();
    assert_eq!(
        ops,
        vec![
            Some(Operation::Tool("show")),
            Some(Operation::Tool("execute_sql")),
            Some(Operation::Session)
        ]
    );
    assert!(matches!(err("[]"), BodyError::Invalid(_)));
    assert!(matches!(
        err(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 3]"#),
        BodyError::Invalid(_)
    ));
}

#[test]
fn duplicate_keys_at_any_depth_are_ambiguous() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"show","name":"execute_sql"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"show","arguments":{"a":1,"a":2}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"show","n\u0061me":"run"}}"#,
        r#"[{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}]"#,
    ] {
        assert!(matches!(err(text), BodyError::Ambiguous(_)), "{text}");
    }
}

#[test]
fn a_method_or_key_spelled_two_ways_is_ambiguous() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"run"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"TOOLS/LIST"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"show","Name":"run"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a","NAME":"b"}}}"#,
    ] {
        assert!(matches!(err(text), BodyError::Ambiguous(_)), "{text}");
    }
}

#[test]
fn bodies_that_are_not_json_rpc_are_refused() {
    for text in [
        "",
        "{",
        "nope",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#,
    ] {
        assert!(matches!(err(text), BodyError::NotJson(_)), "{text:?}");
    }
    for text in [
        r#""tools/call""#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"2.0"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}"#,
    ] {
        assert!(matches!(err(text), BodyError::Invalid(_)), "{text}");
    }
    // A call that names nothing cannot be judged.
    let b = ok(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#);
    assert!(b.messages[0].operation().is_err());
    let b = ok(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#);
    assert!(b.messages[0].operation().is_err());
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    assert_eq!(err(&big), BodyError::TooLarge);
}
