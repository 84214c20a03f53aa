//! scimgate's own credentials, kept from upstreams: the session and login-flow
//! cookies, and the bearer JWT the gate verified.
//!
//! An upstream learns who is calling from the identity headers and the signed
//! assertion; it never needs, and must not be able to replay, the credential the
//! caller proved that with. A route that fronts an API checking the same IdP's tokens
//! may keep the bearer token (`forward_bearer_token: true`).

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};

use crate::authn::jwt::bearer_token;

/// The prefix browsers require of cookies set under TLS with `Path=/` and no domain.
const HOST_PREFIX: &str = "__Host-";

/// Removes the cookies named `own` (with or without the `__Host-` prefix) from every
/// `Cookie` header, keeping the others in order, and a bearer `Authorization` unless
/// `keep_bearer`.
pub fn strip_own_credentials(headers: &mut HeaderMap, own: &[&str], keep_bearer: bool) {
    if !keep_bearer && bearer_token(headers).is_some() {
        headers.remove(AUTHORIZATION);
    }
    if !headers.contains_key(COOKIE) {
        return;
    }
    let is_own = |name: &str| {
        let name = name.trim();
        let bare = name.strip_prefix(HOST_PREFIX).unwrap_or(name);
        own.contains(&bare)
    };
    let mentions_own = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| is_own(pair.split_once('=').map_or(pair, |(n, _)| n)));
    if !mentions_own {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !is_own(pair.split_once('=').map_or(pair, |(n, _)| n)))
        .map(str::to_owned)
        .collect();
    headers.remove(COOKIE);
    if kept.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        headers.insert(COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(h: &HeaderMap) -> Vec<&str> {
        h.get_all(COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn own_cookies_go_others_stay_in_order() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; __Host-scimgate_session=s3cr3t; b=2"),
        );
        h.append(COOKIE, HeaderValue::from_static("scimgate_flow=f; c=3"));
        strip_own_credentials(&mut h, &["scimgate_session", "scimgate_flow"], false);
        assert_eq!(cookies(&h), vec!["a=1; b=2; c=3"]);
    }

    #[test]
    fn a_header_of_only_own_cookies_is_dropped_and_others_are_untouched() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("scimgate_session=s"));
        strip_own_credentials(&mut h, &["scimgate_session"], false);
        assert!(h.get(COOKIE).is_none());
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("x=1;y=2"));
        strip_own_credentials(&mut h, &["scimgate_session"], false);
        assert_eq!(cookies(&h), vec!["x=1;y=2"], "not rewritten");
        // A look-alike name is not ours.
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("my_scimgate_session=1"));
        strip_own_credentials(&mut h, &["scimgate_session"], false);
        assert_eq!(cookies(&h), vec!["my_scimgate_session=1"]);
    }

    #[test]
    fn bearer_goes_unless_kept_other_schemes_stay() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        strip_own_credentials(&mut h, &[], false);
        assert!(h.get(AUTHORIZATION).is_none());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        strip_own_credentials(&mut h, &[], true);
        assert!(h.get(AUTHORIZATION).is_some());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic dTpw"));
        strip_own_credentials(&mut h, &[], false);
        assert!(h.get(AUTHORIZATION).is_some());
    }
}
