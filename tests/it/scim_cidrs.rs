//! `scim.allowed_cidrs` is judged on the connecting peer's address: on a dual-stack
//! listener an IPv4 client (seen as an IPv4-mapped IPv6 peer, `::ffff:a.b.c.d`) is
//! judged by its IPv4 address, IPv6 peers by theirs; and no forwarding header
//! (`X-Forwarded-For`, `Forwarded`, `X-Real-IP`) moves a client into the list, from
//! any peer, trusted proxies included.

use reqwest::Method;

use crate::support::{self, send, user_body, with_json, Gate};

/// `GET /scim/v2/Users` through `host:port` of the gate, with its token; the status.
async fn list_via(gate: &Gate, host: &str) -> u16 {
    let url = format!("http://{host}:{}/scim/v2/Users", gate.running.addr.port());
    let r = send(gate.req_as(Method::GET, &url, Some(&gate.token))).await;
    r.status
}

#[tokio::test]
async fn an_ipv4_client_of_a_dual_stack_listener_is_judged_by_its_ipv4_address() {
    let gate = support::start_at("[::]:0", "scim:\n  allowed_cidrs: [127.0.0.0/8]\n", &[]).await;
    assert!(gate.running.addr.is_ipv6(), "{}", gate.running.addr);
    // An IPv4 connection to an IPv6 socket: the peer is ::ffff:127.0.0.1.
    assert_eq!(list_via(&gate, "127.0.0.1").await, 200);
    assert_eq!(list_via(&gate, "[::ffff:127.0.0.1]").await, 200);
    // ::1 is loopback too, but not in 127.0.0.0/8.
    assert_eq!(list_via(&gate, "[::1]").await, 403);

    let gate = support::start_at("[::]:0", "scim:\n  allowed_cidrs: [10.0.0.0/8]\n", &[]).await;
    assert_eq!(list_via(&gate, "127.0.0.1").await, 403);
    assert_eq!(list_via(&gate, "[::ffff:127.0.0.1]").await, 403);
}

#[tokio::test]
async fn an_ipv6_network_admits_ipv6_peers_and_not_mapped_ipv4_ones() {
    let gate = support::start_at("[::]:0", "scim:\n  allowed_cidrs: [\"::1/128\"]\n", &[]).await;
    assert_eq!(list_via(&gate, "[::1]").await, 200);
    assert_eq!(list_via(&gate, "127.0.0.1").await, 403);
    assert_eq!(list_via(&gate, "[::ffff:127.0.0.1]").await, 403);
}

/// Headers that claim the client is 10.1.2.3 (inside 10.0.0.0/8).
const SPOOFS: [(&str, &str); 5] = [
    ("x-forwarded-for", "10.1.2.3"),
    ("x-forwarded-for", "10.1.2.3, 10.0.0.1"),
    ("forwarded", "for=10.1.2.3"),
    ("x-real-ip", "10.1.2.3"),
    ("x-original-forwarded-for", "10.1.2.3"),
];

/// Asserts that no spoofed header lets the gate's 127.0.0.1 client read or write.
async fn spoofs_are_refused(gate: &Gate) {
    for (name, value) in SPOOFS {
        let r = send(gate.req(Method::GET, "/Users").header(name, value)).await;
        r.expect_error(403, None);
        let r = send(with_json(
            gate.req(Method::POST, "/Users").header(name, value),
            &user_body("spoofed@example.com"),
        ))
        .await;
        r.expect_error(403, None);
    }
    assert!(gate
        .running
        .directory
        .user_by_name("spoofed@example.com")
        .is_none());
}

#[tokio::test]
async fn a_forwarded_address_never_lets_a_client_outside_the_list_in() {
    let gate = support::start("scim:\n  allowed_cidrs: [10.0.0.0/8]\n").await;
    spoofs_are_refused(&gate).await;
    // Not even from a trusted proxy: the list is about the peer that connects.
    let gate =
        support::start("trusted_proxies: [127.0.0.1/32]\nscim:\n  allowed_cidrs: [10.0.0.0/8]\n")
            .await;
    spoofs_are_refused(&gate).await;
}

#[tokio::test]
async fn a_forwarded_address_never_locks_a_listed_client_out() {
    let gate = support::start("scim:\n  allowed_cidrs: [127.0.0.1/32]\n").await;
    for (name, _) in SPOOFS {
        let r = send(gate.req(Method::GET, "/Users").header(name, "192.0.2.1")).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
    }
}
