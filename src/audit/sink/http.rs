//! The HTTP sink for SIEMs: records are spooled on disk (see [`super::spool`]), and a
//! sender task POSTs them in batches as a JSON array, retrying with exponential backoff
//! (from `retry_initial` doubling to `retry_max`) until the SIEM answers 2xx. Records a
//! full spool discarded are counted and written to the chain as `audit.sink_dropped`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{header, Method, Request};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::spool::{Batch, Spool};
use super::{Sink, SinkCounters, SinkError};
use crate::audit::{records, wire, Auditor};
use crate::config::audit::HttpSinkConfig;
use crate::outbound::HttpClient;
use crate::record::AuditRow;

/// The tailer's side: spools records.
pub struct HttpSink {
    spool: Arc<Mutex<Spool>>,
    counters: Arc<SinkCounters>,
    wake: Arc<Notify>,
    auditor: Auditor,
    policy: &'static str,
}

/// The sender's side: delivers what is spooled.
pub struct HttpSender {
    spool: Arc<Mutex<Spool>>,
    counters: Arc<SinkCounters>,
    wake: Arc<Notify>,
    config: HttpSinkConfig,
    client: HttpClient,
}

/// Opens the spool under `dir` and returns both halves.
pub fn open(
    config: &HttpSinkConfig,
    dir: &std::path::Path,
    auditor: Auditor,
) -> Result<(HttpSink, HttpSender), SinkError> {
    let io = |source| SinkError::Io {
        sink: "http",
        path: dir.display().to_string(),
        source,
    };
    let spool = Spool::open(dir, config.spool_max_bytes, config.on_spool_full).map_err(io)?;
    let counters = Arc::new(SinkCounters::default());
    counters
        .backlog_bytes
        .store(spool.backlog(), Ordering::Relaxed);
    let spool = Arc::new(Mutex::new(spool));
    let wake = Arc::new(Notify::new());
    let client = HttpClient::with_limits(config.timeout, 1 << 20)
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    Ok((
        HttpSink {
            spool: spool.clone(),
            counters: counters.clone(),
            wake: wake.clone(),
            auditor,
            policy: config.on_spool_full.as_str(),
        },
        HttpSender {
            spool,
            counters,
            wake,
            config: config.clone(),
            client,
        },
    ))
}

impl Sink for HttpSink {
    fn name(&self) -> &'static str {
        "http"
    }

    fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        let lines: Vec<String> = rows.iter().map(wire::to_line).collect();
        let mut spool = self.spool.lock();
        let discarded = spool.append(&lines).map_err(|source| SinkError::Io {
            sink: "http",
            path: "spool".into(),
            source,
        })?;
        self.counters
            .backlog_bytes
            .store(spool.backlog(), Ordering::Relaxed);
        drop(spool);
        // Waiting lines skipped to make room were counted when they were taken.
        self.counters
            .taken
            .fetch_add(rows.len() as u64 - discarded.incoming, Ordering::Relaxed);
        let dropped = discarded.total();
        if dropped > 0 {
            let total = self.counters.dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
            tracing::warn!(
                dropped,
                total,
                policy = self.policy,
                "audit HTTP sink spool full; records discarded"
            );
            // A loss caused only by spooling our own loss records is counted (and in
            // the next record's total) but not recorded again: each record would
            // otherwise displace another and beget the next, for as long as the
            // SIEM is away.
            if !rows.iter().all(is_own_loss_record) {
                self.auditor.record(records::sink_dropped(
                    self.auditor.now_ms(),
                    "http",
                    dropped,
                    total,
                    self.policy,
                ));
            }
        }
        self.wake.notify_one();
        Ok(())
    }

    fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }
}

/// Whether `row` is this sink's own `audit.sink_dropped` record.
fn is_own_loss_record(row: &AuditRow) -> bool {
    row.entry.action == records::SINK_DROPPED && row.entry.target == records::sink_target("http")
}

impl HttpSender {
    /// Delivers until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = self.config.retry_initial;
        loop {
            let spool = self.spool.clone();
            let max = self.config.batch_max;
            let batch = tokio::task::spawn_blocking(move || spool.lock().peek(max)).await;
            let batch = match batch {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "audit HTTP sink cannot read its spool");
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(_) => None,
            };
            let Some(batch) = batch else {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            match self.post(&batch).await {
                Ok(()) => {
                    backoff = self.config.retry_initial;
                    let n = batch.lines.len() as u64;
                    let spool = self.spool.clone();
                    let end = batch.end;
                    let acked = tokio::task::spawn_blocking(move || {
                        let mut spool = spool.lock();
                        spool.ack(end).map(|()| spool.backlog())
                    })
                    .await;
                    match acked {
                        Ok(Ok(backlog)) => self
                            .counters
                            .backlog_bytes
                            .store(backlog, Ordering::Relaxed),
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "audit HTTP sink cannot record a delivery")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "audit HTTP sink acknowledgement failed")
                        }
                    }
                    self.counters.delivered.fetch_add(n, Ordering::Relaxed);
                }
                Err(reason) => {
                    self.spool.lock().nack();
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%reason, retry_in_ms = backoff.as_millis() as u64, "audit HTTP sink delivery failed");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.retry_max);
                }
            }
        }
    }

    async fn post(&self, batch: &Batch) -> Result<(), String> {
        let mut body =
            Vec::with_capacity(batch.lines.iter().map(|l| l.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, l) in batch.lines.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(l.as_bytes());
        }
        body.push(b']');
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(&self.config.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| e.to_string())?;
        for (name, value) in &self.config.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        let resp = self.client.send(req).await.map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the SIEM answered {}", resp.status()))
        }
    }
}
