//! The syslog sink over TCP, received by a real TCP listener: one RFC 5424 message per
//! record, framed by a CRLF trailer (RFC 6587 non-transparent framing), in chain
//! order, each naming the record's action, sequence number and hash and carrying the
//! record's JSON.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::audit::chain;
use crate::support;

/// Frames read from one syslog TCP connection.
pub struct Frames {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Frames {
    /// Accepts the sink's next connection on `listener` (waits up to 10 s).
    pub async fn accept(listener: &TcpListener) -> Frames {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("the sink connects")
            .unwrap();
        Frames {
            stream,
            buf: Vec::new(),
        }
    }

    /// The next frame, without its CRLF trailer (waits up to 10 s).
    pub async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let frame: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                return String::from_utf8(frame).expect("a frame is UTF-8");
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("a syslog frame arrives")
                .unwrap();
            assert!(n > 0, "the sink closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `(seq, frame's JSON)` of a frame, checked against RFC 5424's header:
/// `<PRI>1 TIMESTAMP HOSTNAME scimgate PROCID MSGID [scimgate@32473 seq hash] MSG`.
pub fn parse_frame(frame: &str, pri: u8) -> (u64, Value) {
    assert!(!frame.contains('\n'), "one line per frame: {frame:?}");
    let fields: Vec<&str> = frame.splitn(7, ' ').collect();
    assert_eq!(fields.len(), 7, "{frame}");
    assert_eq!(fields[0], format!("<{pri}>1"), "{frame}");
    let ts = fields[1];
    assert!(
        ts.len() > 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "an RFC 3339 UTC timestamp: {ts}"
    );
    assert!(
        !fields[2].is_empty() && fields[2] != "-",
        "hostname: {frame}"
    );
    assert_eq!(fields[3], "scimgate", "APP-NAME: {frame}");
    assert_eq!(fields[4], std::process::id().to_string(), "PROCID: {frame}");
    let (sd, msg) = fields[6]
        .split_once("] ")
        .expect("structured data, then the message");
    let body: Value = serde_json::from_str(msg).expect("the message is the record's JSON");
    assert_eq!(
        fields[5],
        body["action"].as_str().unwrap(),
        "MSGID: {frame}"
    );
    let seq = body["seq"].as_u64().unwrap();
    assert_eq!(
        format!("{sd}]"),
        format!(
            "[scimgate@32473 seq=\"{seq}\" hash=\"{}\"]",
            body["hash"].as_str().unwrap()
        )
    );
    (seq, body)
}

/// A syslog sink configuration for `address` over TCP.
pub fn tcp_sink(address: std::net::SocketAddr) -> String {
    format!(
        "audit: {{ tail_interval_ms: 20, sinks: {{ syslog: {{ address: \"{address}\", transport: tcp, facility: local3 }} }} }}\n"
    )
}

#[tokio::test]
async fn each_record_is_one_crlf_framed_rfc5424_message_in_chain_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate = support::start(&tcp_sink(listener.local_addr().unwrap())).await;
    for name in ["tcp-ann", "tcp-bob", "tcp-cat"] {
        gate.create_user(name).await;
    }
    let id = gate.filter("/Users", "userName eq \"tcp-bob\"").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gate.delete(&format!("/Users/{id}")).await.expect(204);
    gate.running.audit.flush().await;

    let rows = chain(gate.dir.path());
    assert_eq!(rows.len(), 4);
    let mut frames = Frames::accept(&listener).await;
    for row in &rows {
        // local3 (19) * 8 + notice (5) = 157 for changes.
        let (seq, body) = parse_frame(&frames.next().await, 157);
        assert_eq!(seq, row.seq, "in chain order");
        assert_eq!(body["hash"], row.hash.as_str());
        assert_eq!(body["prev_hash"], row.prev_hash.as_str());
        assert_eq!(body["actor"], "scim:test-idp");
        assert_eq!(body["target"], row.entry.target.as_str());
    }
    let stats = gate.running.audit.stats();
    let syslog = stats.sinks.iter().find(|s| s.name == "syslog").unwrap();
    assert_eq!((syslog.delivered, syslog.errors, syslog.cursor), (4, 0, 4));
}
