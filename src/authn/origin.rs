//! Same-origin checks for state-changing requests of the login surface (sign-out).
//!
//! A request is from our own origin when its `Origin` (else its `Referer`) is
//! `{scheme}://{Host}` of the request itself, the scheme being `https` when browsers
//! reach scimgate over HTTPS. Browsers set both headers themselves; a page on another
//! site cannot make them name us. A request with neither is refused.

use http::{header, HeaderMap};

/// Why a request is not from our own origin (safe to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("the request's Host is missing")]
    NoHost,
    #[error("it came from another origin")]
    Foreign,
    #[error("it carries neither Origin nor Referer")]
    Unknown,
}

/// `{scheme}://{host}` of the request, as browsers write an origin.
pub fn own_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?.trim();
    if host.is_empty() {
        return None;
    }
    let scheme = if secure { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// Checks that the request comes from `own` (`scheme://authority`, no path).
pub fn check_from(headers: &HeaderMap, own: &str) -> Result<(), OriginError> {
    let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header_str(header::ORIGIN) {
        return if origin.eq_ignore_ascii_case(own) {
            Ok(())
        } else {
            Err(OriginError::Foreign)
        };
    }
    if let Some(referer) = header_str(header::REFERER) {
        let same = referer.len() > own.len()
            && referer.is_char_boundary(own.len())
            && referer[..own.len()].eq_ignore_ascii_case(own)
            && referer.as_bytes()[own.len()] == b'/';
        return if same {
            Ok(())
        } else {
            Err(OriginError::Foreign)
        };
    }
    Err(OriginError::Unknown)
}

/// Checks that the request comes from its own Host's origin.
pub fn check_same_origin(headers: &HeaderMap, secure: bool) -> Result<(), OriginError> {
    let own = own_origin(headers, secure).ok_or(OriginError::NoHost)?;
    check_from(headers, &own)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn origin_then_referer_must_name_the_request_host() {
        let ok = h(&[("host", "gate.test"), ("origin", "https://gate.test")]);
        assert_eq!(check_same_origin(&ok, true), Ok(()));
        assert_eq!(check_same_origin(&ok, false), Err(OriginError::Foreign));
        let evil = h(&[("host", "gate.test"), ("origin", "https://evil.test")]);
        assert_eq!(check_same_origin(&evil, true), Err(OriginError::Foreign));
        let null = h(&[("host", "gate.test"), ("origin", "null")]);
        assert_eq!(check_same_origin(&null, true), Err(OriginError::Foreign));
        let referer = h(&[("host", "gate.test"), ("referer", "https://gate.test/x")]);
        assert_eq!(check_same_origin(&referer, true), Ok(()));
        let lookalike = h(&[
            ("host", "gate.test"),
            ("referer", "https://gate.test.evil/x"),
        ]);
        assert_eq!(
            check_same_origin(&lookalike, true),
            Err(OriginError::Foreign)
        );
        let none = h(&[("host", "gate.test")]);
        assert_eq!(check_same_origin(&none, true), Err(OriginError::Unknown));
        assert_eq!(
            check_same_origin(&HeaderMap::new(), true),
            Err(OriginError::NoHost)
        );
    }
}
