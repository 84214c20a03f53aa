//! A taken operations port, with the real binary: the *default* address
//! (`127.0.0.1:9090`, e.g. another instance on the host) is a warning and the server
//! starts without an operations listener (health and readiness stay on the main
//! listener); an address written in `ops.listen` that cannot be bound stops the start.
//! Beside an ephemeral main port on every address, the ops listener takes an ephemeral
//! port on loopback.

use crate::binary;

#[tokio::test]
async fn a_taken_default_ops_address_is_a_warning_and_the_server_starts_without_it() {
    // Held here, unless another process on the host holds it already: taken either way.
    let _held = std::net::TcpListener::bind("127.0.0.1:9090").ok();
    assert!(
        std::net::TcpListener::bind("127.0.0.1:9090").is_err(),
        "127.0.0.1:9090 is taken"
    );
    let dir = tempfile::tempdir().unwrap();
    // A fixed main port: with an ephemeral one the ops listener would take one too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = binary::config(dir.path(), "")
        .replace("listen: 127.0.0.1:0", &format!("listen: 127.0.0.1:{port}"));
    let mut serve = binary::spawn(dir.path(), "gate", &config);
    let base = serve.base().await;
    assert_eq!(base, format!("http://127.0.0.1:{port}"));

    let warned = serve.events_at("WARN", "no operations listener (set ops.listen)");
    assert_eq!(warned.len(), 1, "{}", serve.log_text());
    let error = warned[0]["fields"]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot listen on 127.0.0.1:9090 (ops.listen)"),
        "{error}"
    );
    assert!(serve
        .events()
        .iter()
        .all(|e| e["fields"]["message"] != "operations listener (metrics, health) listening"));
    // The main listener still answers health and readiness.
    let h = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(h.status(), 200);
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("policies: no routes"));
}

#[tokio::test]
async fn a_taken_ops_address_written_in_the_file_stops_the_start() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = binary::config(dir.path(), &format!("ops:\n  listen: {taken}\n"));
    let mut serve = binary::spawn(dir.path(), "gate", &config);
    let status = serve.exit().await;
    assert_eq!(status.code(), Some(1), "{}", serve.log_text());
    let log = serve.log_text();
    assert!(
        log.contains(&format!("scimgate: cannot listen on {taken} (ops.listen)")),
        "{log}"
    );
    assert!(
        serve
            .events()
            .iter()
            .all(|e| e["fields"]["message"] != "scimgate listening"),
        "{log}"
    );
}

#[tokio::test]
async fn beside_an_ephemeral_main_port_on_every_address_the_ops_port_is_ephemeral_loopback() {
    for (listen, loopback) in [("0.0.0.0:0", "127.0.0.1"), ("[::]:0", "::1")] {
        let gate = crate::support::start_at(listen, "", &[]).await;
        let ops = gate.running.ops_addr.expect("an operations listener");
        assert_eq!(ops.ip().to_string(), loopback, "main {listen}");
        assert_ne!(ops.port(), 0);
        let h = reqwest::get(format!("http://{ops}/healthz")).await.unwrap();
        assert_eq!(h.status(), 200);
    }
}
