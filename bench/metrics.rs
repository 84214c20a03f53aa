//! What counting a request costs on the request path, and what a scrape costs:
//!
//! ```text
//! cargo bench --bench metrics
//! ```
//!
//! Per request the gate looks up its route's handles (an `ArcSwap`ped map keyed by the
//! route name), counts the decision, observes the decision time and the total time. That
//! sequence is timed over 2,000,000 requests spread over 20 routes, on one thread and on
//! two threads at once (the same routes, so the same atomics are contended). Then a
//! scrape (`Metrics::render`) with those 20 routes and 100 SCIM tokens is timed. Figures
//! print as ns per request and µs per scrape.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scimgate::metrics::routes::DenyReason;
use scimgate::metrics::Metrics;

const REQUESTS: usize = 2_000_000;

fn record(metrics: &Metrics, routes: &[Arc<str>], n: usize) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        let route = &routes[i % routes.len()];
        let m = metrics.routes.get(route);
        if i % 10 == 0 {
            m.denied(DenyReason::Forbidden, Duration::from_micros(40));
        } else {
            m.allowed(Duration::from_micros(25));
        }
        m.finished(black_box(Duration::from_micros(300 + (i % 1000) as u64)));
    }
    started.elapsed()
}

fn main() {
    let metrics = Arc::new(Metrics::new());
    let routes: Vec<Arc<str>> = (0..20).map(|i| Arc::from(format!("route-{i}"))).collect();
    metrics.routes.prepare(routes.iter().cloned());
    // Warm-up.
    record(&metrics, &routes, 100_000);

    let one = record(&metrics, &routes, REQUESTS);
    println!(
        "record, 1 thread:  {:>6.1} ns/request ({REQUESTS} requests, {} routes)",
        one.as_nanos() as f64 / REQUESTS as f64,
        routes.len()
    );
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let metrics = metrics.clone();
            let routes = routes.clone();
            std::thread::spawn(move || record(&metrics, &routes, REQUESTS))
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let took = t.join().unwrap_or_default();
        println!(
            "record, 2 threads: {:>6.1} ns/request (thread {i})",
            took.as_nanos() as f64 / REQUESTS as f64
        );
    }

    for t in 0..100 {
        metrics.scim_operation("scim", &format!("token-{t}"), "patch_user", 200);
    }
    let scrapes = 200;
    let mut bytes = 0;
    let started = Instant::now();
    for _ in 0..scrapes {
        bytes = metrics.render().map(|s| s.len()).unwrap_or(0);
    }
    let per = started.elapsed() / scrapes;
    println!(
        "scrape: {:>8.1} µs ({bytes} bytes; 20 routes, 100 SCIM tokens)",
        per.as_secs_f64() * 1e6
    );
}
