//! A fake SIEM for the audit HTTP sink tests: it refuses (503) while told to, and
//! keeps every record of every batch it accepted; while holding, it keeps a batch and
//! never answers (the sender is left waiting for its acknowledgement).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use parking_lot::Mutex;
use serde_json::Value;

#[derive(Default)]
pub struct Siem {
    pub refusing: AtomicBool,
    /// While set, a batch is kept and its request never answered.
    pub holding: AtomicBool,
    /// Batches kept and left unanswered so far.
    pub held: AtomicUsize,
    /// Requests refused so far.
    pub refused: AtomicUsize,
    /// Records accepted, in arrival order.
    pub records: Mutex<Vec<Value>>,
}

impl Siem {
    /// The `seq` of every accepted record, in arrival order.
    pub fn seqs(&self) -> Vec<u64> {
        self.records
            .lock()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect()
    }
}

async fn ingest(State(siem): State<Arc<Siem>>, body: String) -> StatusCode {
    if siem.refusing.load(Ordering::SeqCst) {
        siem.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(Value::Array(batch)) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    siem.records.lock().extend(batch);
    if siem.holding.load(Ordering::SeqCst) {
        siem.held.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
    StatusCode::OK
}

/// Starts a SIEM on a loopback port; returns it and its ingest URL.
pub async fn start(refusing: bool) -> (Arc<Siem>, String) {
    let siem = Arc::new(Siem::default());
    siem.refusing.store(refusing, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/ingest", axum::routing::post(ingest))
        .with_state(siem.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (siem, url)
}
