//! The syslog sink: each record as one RFC 5424 message, over UDP (through the
//! `fasyslog` crate) or TCP (framed by a CRLF trailer, RFC 6587 non-transparent
//! framing). MSGID is the action; the structured data element `scimgate@32473` carries
//! `seq` and `hash`; the message is the record's JSON line.
//! A send that fails drops the connection and leaves the cursor where it was, so the
//! records are sent again (from the chain) on the next pass. A TCP connection the
//! receiver has closed is replaced before a batch is sent on it: a write to it could
//! still succeed locally, and what it carried would be lost.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fasyslog::format::SyslogContext;
use fasyslog::sender::UdpSender;
use fasyslog::{Facility, SDElement, Severity};

use super::{Sink, SinkCounters, SinkError};
use crate::audit::wire;
use crate::config::audit::{SyslogSinkConfig, SyslogTransport};
use crate::record::AuditRow;

/// The structured-data id of scimgate's element (32473 is the documentation PEN).
const SD_ID: &str = "scimgate@32473";

enum Connection {
    Udp(UdpSender),
    Tcp(TcpConnection),
}

/// A TCP connection to the receiver and the messages of the batch being sent.
struct TcpConnection {
    stream: TcpStream,
    context: SyslogContext,
    pending: Vec<u8>,
}

impl TcpConnection {
    /// Whether the receiver closed (or reset) its end since the last batch.
    fn closed_by_peer(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let closed = match self.stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        closed || self.stream.set_nonblocking(false).is_err()
    }

    /// Sends the pending messages.
    fn flush(&mut self) -> std::io::Result<()> {
        let sent = (&self.stream).write_all(&self.pending);
        self.pending.clear();
        sent
    }
}

/// Sends records to a syslog receiver.
pub struct SyslogSink {
    config: SyslogSinkConfig,
    facility: Facility,
    conn: Option<Connection>,
    counters: Arc<SinkCounters>,
}

impl SyslogSink {
    pub fn new(config: &SyslogSinkConfig) -> SyslogSink {
        SyslogSink {
            facility: Facility::try_from(config.facility.as_str()).unwrap_or(Facility::AUTHPRIV),
            config: config.clone(),
            conn: None,
            counters: Arc::default(),
        }
    }

    fn connect(&self) -> std::io::Result<Connection> {
        let addr: SocketAddr = self.config.address;
        Ok(match self.config.transport {
            SyslogTransport::Udp => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let mut sender = fasyslog::sender::udp(local, addr)?;
                sender
                    .mut_context()
                    .facility(self.facility)
                    .appname("scimgate");
                Connection::Udp(sender)
            }
            SyslogTransport::Tcp => {
                let mut context = SyslogContext::new();
                context.facility(self.facility).appname("scimgate");
                Connection::Tcp(TcpConnection {
                    stream: TcpStream::connect(addr)?,
                    context,
                    pending: Vec::new(),
                })
            }
        })
    }

    fn send(&mut self, rows: &[AuditRow]) -> std::io::Result<()> {
        if let Some(Connection::Tcp(c)) = &self.conn {
            if c.closed_by_peer() {
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        for row in rows {
            let mut sd = SDElement::new(SD_ID).map_err(std::io::Error::other)?;
            sd.add_param("seq", row.seq.to_string())
                .map_err(std::io::Error::other)?;
            sd.add_param("hash", row.hash.as_str())
                .map_err(std::io::Error::other)?;
            let severity =
                if row.entry.action == "access.deny" || row.entry.action.starts_with("audit.") {
                    Severity::WARNING
                } else {
                    Severity::NOTICE
                };
            let msgid = Some(row.entry.action.as_str());
            let line = wire::to_line(row);
            match conn {
                Connection::Udp(s) => s.send_rfc5424(severity, msgid, vec![sd], line)?,
                Connection::Tcp(c) => {
                    let message = c
                        .context
                        .format_rfc5424(severity, msgid, vec![sd], Some(line));
                    write!(c.pending, "{message}\r\n")?;
                }
            }
        }
        if let Connection::Tcp(c) = conn {
            c.flush()?;
        }
        Ok(())
    }
}

impl Sink for SyslogSink {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        if let Err(source) = self.send(rows) {
            self.conn = None;
            return Err(SinkError::Io {
                sink: "syslog",
                path: self.config.address.to_string(),
                source,
            });
        }
        let n = rows.len() as u64;
        self.counters.taken.fetch_add(n, Ordering::Relaxed);
        self.counters.delivered.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }
}
