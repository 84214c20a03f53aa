//! What a route's `rate_limit:` costs and how exactly it holds:
//!
//! ```text
//! cargo bench --bench rate_limit
//! PROXY_RPS=15600 CORES=2 cargo bench --bench rate_limit   # also as a share of a request
//! ```
//!
//! 1. **Accuracy**: one caller offers 10× its limit (per-user 200/s, burst 10) for 5 s,
//!    paced by the clock; the admitted count is compared with what the limit allows
//!    over the time it actually ran (rate × elapsed + burst). The same for two
//!    replicas' limiters (`replicas: 2`) taking alternate requests, and for the
//!    service-token budget (dbt's Discovery API, 500/min, scaled to 500/s).
//! 2. **Cost when not triggered**: `Limiter::admit` on a route with a per-user, a route
//!    and a service-token bucket that never run dry, over 100,000 users, on one thread
//!    and on two at once; ns per request, against a route without limits (no call).
//!    With `PROXY_RPS` (the proxy's requests/s from `bench/proxy/run`) and `CORES`, it
//!    also prints that cost as a share of one proxied request's CPU time.
//! 3. **Noisy neighbour**: one thread admits for a quiet caller at 2,000/s and records
//!    each call's latency (p50, p99, max), alone, then while another thread hammers the
//!    same route as fast as it can as a noisy caller who is refused nearly every time.
//!
//! Every figure is measured on the run; none is asserted.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scimgate::gate::limits::Limiter;
use scimgate::policy::rate_limit::{Rate, RateLimits};

fn rate(text: &str, burst: i64) -> Rate {
    Rate::parse(text, Some(burst)).unwrap_or_else(|e| panic!("{e}"))
}

/// Offers `offered_per_s` requests per second for `secs` to `limiters` in turn; the
/// admitted count and the time it took.
fn offer(limiters: &[&Limiter], limits: &RateLimits, offered_per_s: f64, secs: f64) -> (u64, f64) {
    let started = Instant::now();
    let total = (offered_per_s * secs) as u64;
    let mut admitted = 0;
    for i in 0..total {
        let due = Duration::from_secs_f64(i as f64 / offered_per_s);
        while started.elapsed() < due {
            std::hint::spin_loop();
        }
        let l = limiters[(i as usize) % limiters.len()];
        if l.admit("api", limits, "caller", None).is_ok() {
            admitted += 1;
        }
    }
    (admitted, started.elapsed().as_secs_f64())
}

fn accuracy(name: &str, limiters: &[&Limiter], limits: &RateLimits, r: &Rate) {
    let allowed_per_s = r.per_second();
    let (admitted, took) = offer(limiters, limits, allowed_per_s * 10.0, 5.0);
    let expected = allowed_per_s * took + f64::from(r.burst);
    let error = (admitted as f64 - expected) / expected * 100.0;
    println!(
        "accuracy {name:<28} offered {:>6.0}/s for {took:.2} s: admitted {admitted:>5}, limit allows {expected:>7.1} ({error:+.2} %)",
        allowed_per_s * 10.0
    );
}

fn cost(limiter: &Limiter, limits: Option<&RateLimits>, users: &[String], n: usize) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        let user = &users[i % users.len()];
        match limits {
            Some(l) => {
                black_box(limiter.admit("api", l, user, None).is_ok());
            }
            None => {
                black_box(user);
            }
        }
    }
    started.elapsed()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// The quiet caller's admit latencies (ns) at 2,000/s for 2 s, and how many of its
/// calls were refused (none, unless the thread was kept off the CPU and caught up in
/// a burst past its own bucket).
fn quiet(limiter: &Limiter, limits: &RateLimits) -> (Vec<u64>, u64) {
    let mut out = Vec::with_capacity(4000);
    let mut refused = 0;
    let started = Instant::now();
    for i in 0..4000u32 {
        let due = Duration::from_micros(u64::from(i) * 500);
        while started.elapsed() < due {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        let ok = limiter.admit("api", limits, "quiet", None).is_ok();
        out.push(t.elapsed().as_nanos() as u64);
        refused += u64::from(!ok);
    }
    out.sort_unstable();
    (out, refused)
}

fn main() {
    // 1. Accuracy.
    let per_user = rate("200/s", 10);
    let user_limits = RateLimits {
        per_user: Some(per_user),
        ..RateLimits::default()
    };
    let one = Limiter::new(100_000, 1);
    accuracy("per user, 1 replica", &[&one], &user_limits, &per_user);
    let (a, b) = (Limiter::new(100_000, 2), Limiter::new(100_000, 2));
    accuracy(
        "per user, 2 replicas (1/2)",
        &[&a, &b],
        &user_limits,
        &per_user,
    );
    let token = rate("500/s", 25);
    let token_limits = RateLimits {
        service_token: Some((token, Arc::from("bench-token"))),
        ..RateLimits::default()
    };
    let t = Limiter::new(100_000, 1);
    accuracy("service token", &[&t], &token_limits, &token);

    // 2. Cost when not triggered.
    let never = RateLimits {
        per_user: Some(rate("1000000/s", 1_000_000)),
        route: Some(rate("1000000/s", 1_000_000)),
        service_token: Some((rate("1000000/s", 1_000_000), Arc::from("bench-token"))),
        ..RateLimits::default()
    };
    let users: Vec<String> = (0..100_000).map(|i| format!("user-{i:06}")).collect();
    let limiter = Arc::new(Limiter::new(200_000, 1));
    const N: usize = 2_000_000;
    cost(&limiter, Some(&never), &users, 200_000); // warm-up: every user's bucket exists
    let base = cost(&limiter, None, &users, N);
    let one_thread = cost(&limiter, Some(&never), &users, N);
    let ns = |d: Duration| d.as_nanos() as f64 / N as f64;
    println!(
        "cost 1 thread:  {:>6.1} ns/request with 3 buckets ({:.1} ns without limits), {} users",
        ns(one_thread),
        ns(base),
        users.len()
    );
    let users = Arc::new(users);
    let never = Arc::new(never);
    let threads: Vec<_> = (0..2)
        .map(|k| {
            let (limiter, users, never) = (limiter.clone(), users.clone(), never.clone());
            std::thread::spawn(move || {
                let mine: Vec<String> = users.iter().skip(k).step_by(2).cloned().collect();
                cost(&limiter, Some(&never), &mine, N)
            })
        })
        .collect();
    let mut worst = 0.0f64;
    for (k, t) in threads.into_iter().enumerate() {
        let took = t.join().unwrap_or_default();
        worst = worst.max(ns(took));
        println!("cost 2 threads: {:>6.1} ns/request (thread {k})", ns(took));
    }
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    if let (Some(rps), Some(cores)) = (env("PROXY_RPS"), env("CORES")) {
        let per_request_ns = cores / rps * 1e9;
        println!(
            "cost share: {:.3} % of one proxied request's CPU ({:.0} ns at {rps:.0} req/s on {cores:.0} cores), 2-thread figure",
            worst / per_request_ns * 100.0,
            per_request_ns
        );
    }

    // 3. Noisy neighbour.
    let limits = RateLimits {
        per_user: Some(rate("5000/s", 500)),
        route: Some(rate("1000000/s", 1_000_000)),
        ..RateLimits::default()
    };
    let limiter = Arc::new(Limiter::new(100_000, 1));
    let alone = quiet(&limiter, &limits);
    let stop = Arc::new(AtomicBool::new(false));
    let noisy_calls = Arc::new(AtomicU64::new(0));
    let noisy_admitted = Arc::new(AtomicU64::new(0));
    let noisy = {
        let (limiter, limits, stop) = (limiter.clone(), limits.clone(), stop.clone());
        let (calls, admitted) = (noisy_calls.clone(), noisy_admitted.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if limiter.admit("api", &limits, "noisy", None).is_ok() {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let beside = quiet(&limiter, &limits);
    stop.store(true, Ordering::Relaxed);
    let _ = noisy.join();
    let show = |name: &str, (s, refused): &(Vec<u64>, u64)| {
        println!(
            "quiet caller {name:<14} p50 {:>5} ns  p99 {:>6} ns  max {:>8} ns  refused {refused}",
            percentile(s, 0.5),
            percentile(s, 0.99),
            s[s.len() - 1]
        );
    };
    show("alone:", &alone);
    show("beside noisy:", &beside);
    let calls = noisy_calls.load(Ordering::Relaxed);
    println!(
        "noisy caller: {calls} calls in the same 2 s, {} admitted ({:.2} %)",
        noisy_admitted.load(Ordering::Relaxed),
        noisy_admitted.load(Ordering::Relaxed) as f64 / calls.max(1) as f64 * 100.0
    );
}
