//! Checks for single values of a policy file: names, durations, methods, upstream
//! URLs and injected headers. Each returns the compiled value or the reason it is wrong.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};

/// Rule names the engine itself uses in decisions.
pub const RESERVED_RULE_NAMES: &[&str] = &[
    super::DEFAULT_DENY,
    super::UNKNOWN_USER,
    super::INACTIVE_USER,
    super::NO_ROUTE,
    super::BAD_PATH,
];

/// The dbt license types a `licenses:` condition may name.
pub const LICENSE_TYPES: &[&str] = &["developer", "analyst", "read_only", "it"];

/// A route or rule name: `[a-z0-9_.-]+`.
pub fn name(what: &str, text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} `{text}` may hold only a-z, 0-9, `_`, `.` and `-`"
        ))
    }
}

/// A user or group name a rule names: it must follow the directory's identifier rules
/// ([`crate::ident`]), else it could never match (and a deny naming it would deny no one).
pub fn identifier(what: &str, text: &str) -> Result<(), String> {
    crate::ident::check(text).map_err(|e| format!("{what} `{}`: {e}", text.escape_debug()))
}

/// `500ms`, `5s`, `2m`, `1h`; more than zero.
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{text}` (write e.g. 500ms, 5s, 2m)");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(format!("duration `{text}` must be more than zero"));
    }
    Ok(d)
}

/// An HTTP method, written in upper case (`GET`).
pub fn method(text: &str) -> Result<Method, String> {
    let upper = !text.is_empty() && text.bytes().all(|b| b.is_ascii_uppercase() || b == b'-');
    if !upper {
        return Err(format!(
            "bad method `{text}` (methods are upper-case tokens such as GET, HEAD, POST)"
        ));
    }
    Method::from_bytes(text.as_bytes()).map_err(|_| format!("bad method `{text}`"))
}

/// An upstream base URL: `http://` or `https://`, a host, maybe a base path; no query,
/// fragment or credentials.
pub fn upstream(text: &str) -> Result<Uri, String> {
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("upstream `{text}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!(
                "upstream `{text}` must start with http:// or https://"
            ))
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("upstream `{text}` has no host"));
    };
    if authority.as_str().contains('@') {
        return Err(format!(
            "upstream `{text}`: no credentials in the URL (use inject: with ${{env:...}})"
        ));
    }
    if uri.query().is_some() || text.contains('#') {
        return Err(format!(
            "upstream `{text}`: no query or fragment (only a base path)"
        ));
    }
    Ok(uri)
}

/// Headers the proxy manages itself; injecting them would break framing or routing.
const MANAGED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// An injected header name.
pub fn header_name(text: &str) -> Result<HeaderName, String> {
    let name = HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| format!("inject: `{text}` is not a valid header name"))?;
    if MANAGED_HEADERS.contains(&name.as_str()) {
        return Err(format!(
            "inject: `{text}` is managed by the proxy and cannot be injected"
        ));
    }
    Ok(name)
}

/// An injected header value: secret references expanded, marked sensitive. Errors
/// name the header and the reference, never the value.
pub fn header_value(name: &str, text: &str) -> Result<HeaderValue, String> {
    let expanded = crate::secret::expand(text).map_err(|e| format!("inject.{name}: {e}"))?;
    let mut value = HeaderValue::from_str(&expanded).map_err(|_| {
        format!("inject.{name}: the value (after expansion) is not a valid header value")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(identifier("user", "ΟΔΥΣΣΕΥΣ").is_ok());
        assert!(identifier("group", "Data Engineers").is_ok());
        let e = identifier("user", "bob\u{a0}").unwrap_err();
        assert!(
            e.starts_with("user `bob\\u{a0}`: must not begin or end"),
            "{e}"
        );
        assert!(identifier("group", "\u{212a}elvin").is_err());
        assert!(identifier("group", "ops\u{200b}").is_err());
    }

    #[test]
    fn rules_refuse_names_no_one_can_have() {
        let rule = "routes:\n  - name: a\n    upstream: http://127.0.0.1:1\n    allow:\n      - { everyone: true }\n    deny:\n      - { users: [\"bob \"] }\n";
        let got = crate::policy::tests::refused(rule);
        assert!(
            got.contains("user `bob `: must not begin or end with white space"),
            "{got}"
        );
        let group = rule.replace("users: [\"bob \"]", "groups: [\"ops\\u00a0\"]");
        let got = crate::policy::tests::refused(&group);
        assert!(got.contains("group `ops\\u{a0}`"), "{got}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["5", "s", "5 s", "-1s", "1.5s", "5sec", ""] {
            assert!(duration(bad).unwrap_err().contains("bad duration"), "{bad}");
        }
        assert!(duration("0s").unwrap_err().contains("more than zero"));
    }

    #[test]
    fn methods() {
        assert_eq!(method("GET").unwrap(), Method::GET);
        assert_eq!(method("PROPFIND").unwrap().as_str(), "PROPFIND");
        for bad in ["get", "G ET", "", "GET/"] {
            assert!(method(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upstreams() {
        assert_eq!(
            upstream("http://127.0.0.1:8081").unwrap().to_string(),
            "http://127.0.0.1:8081/"
        );
        assert_eq!(
            upstream("https://cloud.getdbt.com/base").unwrap().path(),
            "/base"
        );
        for (bad, why) in [
            ("ftp://x", "http:// or https://"),
            ("127.0.0.1:8081", "http:// or https://"),
            ("/just/a/path", "http:// or https://"),
            ("http://u:p@host", "credentials"),
            ("http://host/?a=1", "query"),
            ("http://ho st", "not a URL"),
        ] {
            let e = upstream(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn headers() {
        assert_eq!(
            header_name("Authorization").unwrap().as_str(),
            "authorization"
        );
        assert!(header_name("bad header").is_err());
        assert!(header_name("Content-Length")
            .unwrap_err()
            .contains("managed"));
        std::env::set_var("SCIMGATE_POLICY_VALUES_TOKEN", "t0k");
        let v = header_value("authorization", "Token ${env:SCIMGATE_POLICY_VALUES_TOKEN}").unwrap();
        assert_eq!(v.to_str().unwrap(), "Token t0k");
        assert!(v.is_sensitive());
        let e = header_value("authorization", "${env:SCIMGATE_POLICY_VALUES_UNSET}").unwrap_err();
        assert!(e.contains("SCIMGATE_POLICY_VALUES_UNSET"), "{e}");
        std::env::set_var("SCIMGATE_POLICY_VALUES_NEWLINE", "a\nsecret");
        let e = header_value("x-a", "${env:SCIMGATE_POLICY_VALUES_NEWLINE}").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn names() {
        assert!(name("route name", "finance-docs.v2_x").is_ok());
        assert!(name("route name", "Finance").is_err());
        assert!(name("route name", "").is_err());
        assert!(name("route name", "a b").is_err());
    }
}
