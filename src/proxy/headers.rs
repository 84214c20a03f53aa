//! Header hygiene between client, gate and upstream.
//!
//! Three jobs: drop hop-by-hop headers (they describe one connection, not the message);
//! make sure no identity header the client sent reaches the upstream, in any spelling
//! (`X_Auth_Request_User` reaches CGI-style upstreams as `HTTP_X_AUTH_REQUEST_USER`,
//! exactly like `X-Auth-Request-User`); and set the `X-Forwarded-*` headers, trusting
//! the client's own only when the peer is a configured proxy.
//!
//! Order matters: [`prepare_request`] runs first and strips, then [`add_identity`] adds
//! ours, so a `Connection: x-auth-request-user` sent by a client removes only its own copy.
//!
//! Which names are identity headers is the configuration's business
//! ([`crate::config::identity_headers`]: a built-in list of the common conventions,
//! extensible there); which upgrades may pass is decided here: only a well-formed
//! websocket handshake (see [`is_websocket_upgrade`]); every other `Upgrade` is dropped.

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{
    CONNECTION, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use smallvec::SmallVec;

/// The identity headers the gate sets.
pub const AUTH_REQUEST_USER: HeaderName = HeaderName::from_static("x-auth-request-user");
pub const AUTH_REQUEST_EMAIL: HeaderName = HeaderName::from_static("x-auth-request-email");
pub const AUTH_REQUEST_GROUPS: HeaderName = HeaderName::from_static("x-auth-request-groups");
pub const SCIMGATE_ASSERTION: HeaderName = HeaderName::from_static("x-scimgate-assertion");

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

pub mod request_trailers;

pub use crate::config::identity_headers::IdentityStrip;

const SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
const SEC_WEBSOCKET_VERSION: HeaderName = HeaderName::from_static("sec-websocket-version");

/// Forwarding headers only a trusted proxy may send (besides every `x-forwarded-*`).
const FORWARDING_NAMES: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
];

/// Who the gate is talking to on the client side.
#[derive(Debug, Clone)]
pub struct ClientContext {
    /// The TCP peer.
    pub peer: IpAddr,
    /// The peer is one of the configured trusted proxies.
    pub trusted_proxy: bool,
    /// The client connection is TLS.
    pub tls: bool,
    /// The Host (or `:authority`) as received.
    pub host: Arc<str>,
}

/// Who the gate says the caller is.
#[derive(Debug, Clone, Default)]
pub struct IdentityHeaders {
    pub user: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// The signed assertion (a JWT).
    pub assertion: Option<String>,
}

/// What a trusted proxy says about the original request (for forward-auth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarded {
    pub method: Option<Method>,
    /// The original request target (path and query).
    pub uri: Option<String>,
    pub host: Option<String>,
}

/// Whether a header carries identity (by the built-in list), in any spelling.
pub fn is_identity_header(name: &HeaderName) -> bool {
    IdentityStrip::builtin().matches(name)
}

/// Whether a name is spelled other than in plain `-` form (`_`, `.` and the like), a
/// spelling CGI-style upstreams read as the `-` one.
fn is_odd_spelling(name: &HeaderName) -> bool {
    name.as_str()
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
}

/// Whether a header describes the original request, which only trusted proxies may say.
fn is_forwarding_header(name: &HeaderName) -> bool {
    use crate::config::identity_headers::{canonical_eq, canonical_starts_with};
    let name = name.as_str().as_bytes();
    canonical_starts_with(name, b"x-forwarded-")
        || FORWARDING_NAMES
            .iter()
            .any(|f| canonical_eq(name, f.as_bytes()))
}

/// Removes every client-sent identity header (by the built-in list).
pub fn strip_identity_headers(headers: &mut HeaderMap) {
    strip_identity_headers_with(headers, IdentityStrip::builtin());
}

/// Removes every client-sent identity header `strip` names.
pub fn strip_identity_headers_with(headers: &mut HeaderMap, strip: &IdentityStrip) {
    remove_matching(headers, |name| strip.matches(name));
}

fn remove_matching(headers: &mut HeaderMap, pred: impl Fn(&HeaderName) -> bool) {
    let doomed: Vec<HeaderName> = headers.keys().filter(|n| pred(n)).cloned().collect();
    for name in doomed {
        headers.remove(&name);
    }
}

/// Whether the message is a websocket handshake the gate forwards as an upgrade:
/// HTTP/1.1, `Connection: upgrade`, `Upgrade: websocket` and nothing else (an offer such
/// as `h2c, websocket` lets the upstream pick a protocol that would carry further
/// requests past the gate), one `Sec-WebSocket-Key` of 16 base64 bytes and
/// `Sec-WebSocket-Version: 13` (RFC 6455 §4.1). Anything else loses its `Upgrade`.
pub fn is_websocket_upgrade(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
        && only_websocket(headers)
        && single_text(headers, &SEC_WEBSOCKET_VERSION) == Some("13")
        && single_text(headers, &SEC_WEBSOCKET_KEY).is_some_and(|key| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .is_ok_and(|k| k.len() == 16)
        })
}

/// Whether the `Upgrade` header is exactly one value, `websocket` (any case).
pub fn only_websocket(headers: &HeaderMap) -> bool {
    single_text(headers, &UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The value of a header that occurs exactly once, trimmed.
fn single_text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok().map(str::trim)
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The hop-by-hop headers removed whatever `Connection` says (`Upgrade` apart).
const HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
];

/// Removes hop-by-hop headers: the fixed set and every header `Connection` names. With
/// `upgrade`, `Upgrade` stays and `Connection` becomes exactly `upgrade`.
///
/// One pass over the names present (a request has a handful) instead of a lookup per
/// name that could be there: only the names found are removed.
fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let doomed = hop_by_hop_present(headers, upgrade);
    for name in doomed {
        headers.remove(&name);
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// The hop-by-hop names present in `headers` (see [`strip_hop_by_hop`]): one pass over
/// the names present for the fixed set, one lookup per `Connection` token for the
/// names it lists, so the work grows with the headers plus the tokens, never with
/// their product (a client may send thousands of tokens).
fn hop_by_hop_present(headers: &HeaderMap, upgrade: bool) -> SmallVec<[HeaderName; 4]> {
    let mut present: SmallVec<[HeaderName; 4]> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(name) || (*name == UPGRADE && !upgrade))
        .cloned()
        .collect();
    // A listed name is looked up without case (`HeaderMap` keys are lower case); a
    // token that is no header name, or names no header present, matches none.
    for token in connection_tokens(headers) {
        if !headers.contains_key(token) {
            continue;
        }
        match HeaderName::from_bytes(token.as_bytes()) {
            Ok(name) if !(upgrade && name == UPGRADE) => present.push(name),
            _ => {}
        }
    }
    // A name listed many times is removed once.
    present.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    present.dedup();
    present
}

/// Cleans a client request for the upstream: hop-by-hop headers, client identity
/// headers (by the built-in list), forwarding headers from untrusted peers (and odd
/// spellings from anyone), then sets `X-Forwarded-For`, `-Proto` and `-Host`.
pub fn prepare_request(headers: &mut HeaderMap, ctx: &ClientContext, upgrade: bool) {
    sanitise_request(headers, ctx, upgrade, IdentityStrip::builtin());
}

/// [`prepare_request`] with the configured identity header list.
pub fn sanitise_request(
    headers: &mut HeaderMap,
    ctx: &ClientContext,
    upgrade: bool,
    strip: &IdentityStrip,
) {
    strip_hop_by_hop(headers, upgrade);
    strip_identity_headers_with(headers, strip);
    remove_matching(headers, |name| {
        // `_` (or `.`) spellings are never ours to pass on: CGI-style upstreams would
        // read them as the real header next to the one we set.
        is_forwarding_header(name) && (!ctx.trusted_proxy || is_odd_spelling(name))
    });

    let earlier: Vec<&str> = if ctx.trusted_proxy {
        headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    if earlier.is_empty() {
        // The peer alone, written on the stack (an address is at most 45 bytes).
        let mut buf = [0u8; 64];
        match peer_text(ctx.peer, &mut buf).map(HeaderValue::from_bytes) {
            Some(Ok(value)) => {
                headers.insert(X_FORWARDED_FOR, value);
            }
            Some(Err(_)) => {
                headers.remove(X_FORWARDED_FOR);
            }
            None => set_text(headers, X_FORWARDED_FOR, &ctx.peer.to_string()),
        }
    } else {
        let for_list = format!("{}, {}", earlier.join(", "), ctx.peer);
        set_text(headers, X_FORWARDED_FOR, &for_list);
    }

    let proto = if ctx.tls { "https" } else { "http" };
    if !(ctx.trusted_proxy && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if !(ctx.trusted_proxy && headers.contains_key(&X_FORWARDED_HOST)) {
        // The client's Host value itself when it is the host as received: shared with
        // the request, not copied.
        let received = headers
            .get(HOST)
            .filter(|v| v.as_bytes() == ctx.host.as_bytes())
            .cloned();
        match received {
            Some(value) => {
                headers.insert(X_FORWARDED_HOST, value);
            }
            None => set_text(headers, X_FORWARDED_HOST, &ctx.host),
        }
    }
}

/// The peer's address as text in `buf` (`None` if it does not fit). An IPv4 address,
/// the common case, is written digit by digit: the formatting machinery costs more
/// than the rest of the header's work.
fn peer_text(peer: IpAddr, buf: &mut [u8; 64]) -> Option<&[u8]> {
    let mut len = 0;
    match peer {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    buf[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    buf[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                buf[len] = b'0' + octet % 10;
                len += 1;
            }
        }
        IpAddr::V6(v6) => {
            let mut out = &mut buf[..];
            std::io::Write::write_fmt(&mut out, format_args!("{v6}")).ok()?;
            len = 64 - out.len();
        }
    }
    buf.get(..len)
}

/// Sets a header from text; text that is not a valid header value is dropped (the
/// header is then absent rather than wrong).
fn set_text(headers: &mut HeaderMap, name: HeaderName, text: &str) {
    match HeaderValue::from_str(text) {
        Ok(value) => {
            headers.insert(name, value);
        }
        Err(_) => {
            headers.remove(name);
        }
    }
}

/// Escapes `%`, bytes outside visible ASCII, and (for list items) `,`, so any
/// name fits a header value and a comma-joined list splits back unambiguously.
fn header_text(text: &str, escape_comma: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        let plain = (0x20..0x7F).contains(&b) && b != b'%' && !(escape_comma && b == b',');
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sensitive(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Adds the gate's identity headers (replacing any of the same name).
///
/// `X-Auth-Request-User` and `-Email` are the values with `%` and bytes outside visible
/// ASCII percent-encoded; `X-Auth-Request-Groups` joins group names with `,`, each with
/// `,` and `%` (and non-ASCII) percent-encoded, so a group named `a,b` is sent as
/// `a%2Cb` and never splits into two. `X-Scimgate-Assertion` is the signed JWT.
pub fn add_identity(headers: &mut HeaderMap, id: &IdentityHeaders) {
    let pairs = [
        (AUTH_REQUEST_USER, Some(header_text(&id.user, false))),
        (
            AUTH_REQUEST_EMAIL,
            id.email.as_deref().map(|e| header_text(e, false)),
        ),
        (
            AUTH_REQUEST_GROUPS,
            Some(
                id.groups
                    .iter()
                    .map(|g| header_text(g, true))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        (SCIMGATE_ASSERTION, id.assertion.clone()),
    ];
    for (name, text) in pairs {
        match text.as_deref().and_then(sensitive) {
            Some(value) => {
                headers.insert(name, value);
            }
            None => {
                headers.remove(name);
            }
        }
    }
}

/// Cleans an upstream response for the client: hop-by-hop headers go (with `upgrade`,
/// for a 101, `Upgrade` stays with `Connection: upgrade`).
pub fn prepare_response(headers: &mut HeaderMap, upgrade: bool) {
    strip_hop_by_hop(headers, upgrade);
}

/// The original method, URI and host a trusted proxy reports (`X-Forwarded-Method`,
/// `X-Forwarded-Uri` or nginx's `X-Original-URI`, `X-Forwarded-Host`). From an untrusted
/// peer every field is `None`: those headers are the client's word only.
pub fn forwarded_values(headers: &HeaderMap, ctx: &ClientContext) -> Forwarded {
    if !ctx.trusted_proxy {
        return Forwarded::default();
    }
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Forwarded {
        method: text(&X_FORWARDED_METHOD).and_then(|m| Method::from_bytes(m.as_bytes()).ok()),
        uri: text(&X_FORWARDED_URI).or_else(|| text(&X_ORIGINAL_URI)),
        host: text(&X_FORWARDED_HOST),
    }
}

#[cfg(test)]
mod tests;
