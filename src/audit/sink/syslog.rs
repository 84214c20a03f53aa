//! The syslog sink: each record as one RFC 5424 message (over UDP or TCP, through the
//! `fasyslog` crate). MSGID is the action; the structured data element
//! `scimgate@32473` carries `seq` and `hash`; the message is the record's JSON line.
//! A send that fails drops the connection and leaves the cursor where it was, so the
//! records are sent again (from the chain) on the next pass.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fasyslog::sender::{TcpSender, UdpSender};
use fasyslog::{Facility, SDElement, Severity};

use super::{Sink, SinkCounters, SinkError};
use crate::audit::config::{SyslogSinkConfig, SyslogTransport};
use crate::audit::{wire, AuditRow};

/// The structured-data id of scimgate's element (32473 is the documentation PEN).
const SD_ID: &str = "scimgate@32473";

enum Connection {
    Udp(UdpSender),
    Tcp(TcpSender),
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
        let mut conn = match self.config.transport {
            SyslogTransport::Udp => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                Connection::Udp(fasyslog::sender::udp(local, addr)?)
            }
            SyslogTransport::Tcp => Connection::Tcp(fasyslog::sender::tcp(addr)?),
        };
        let ctx = match &mut conn {
            Connection::Udp(s) => s.mut_context(),
            Connection::Tcp(s) => s.mut_context(),
        };
        ctx.facility(self.facility).appname("scimgate");
        Ok(conn)
    }

    fn send(&mut self, rows: &[AuditRow]) -> std::io::Result<()> {
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
                Connection::Tcp(s) => s.send_rfc5424(severity, msgid, vec![sd], line)?,
            }
        }
        if let Connection::Tcp(s) = conn {
            s.flush()?;
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
