//! Host patterns of `match.host`: an exact name, `*.suffix`, or any host.
//!
//! Hosts compare without case and without the request's port. Matching never
//! allocates: the request's Host is trimmed and compared in place.

/// A compiled `match.host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Absent or `*`.
    Any,
    /// One name, lower-cased (`docs.example.com`, `10.0.0.5`, `[::1]`).
    Exact(Box<str>),
    /// `*.example.com`, kept as `.example.com`: one or more labels before it.
    Suffix(Box<str>),
}

impl HostPattern {
    /// Compiles a `match.host` value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        if lower.is_empty() || lower == "*" {
            return Ok(HostPattern::Any);
        }
        if let Some(rest) = lower.strip_prefix("*.") {
            check_name(text, rest)?;
            return Ok(HostPattern::Suffix(format!(".{rest}").into()));
        }
        if lower.starts_with('[') {
            let ok = lower.ends_with(']')
                && lower[1..lower.len() - 1]
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok();
            if !ok {
                return Err(format!(
                    "match.host `{text}`: an IPv6 address is written `[addr]`, without a port"
                ));
            }
            return Ok(HostPattern::Exact(lower.into()));
        }
        check_name(text, lower)?;
        Ok(HostPattern::Exact(lower.into()))
    }

    /// Whether a request's Host (any case, maybe with `:port`) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = request_host(host);
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(name) => name.eq_ignore_ascii_case(host),
            HostPattern::Suffix(suffix) => {
                host.len() > suffix.len()
                    && host.as_bytes()[host.len() - suffix.len()..]
                        .eq_ignore_ascii_case(suffix.as_bytes())
            }
        }
    }

    /// Routing preference: exact (0) before wildcard (1) before any host (2).
    pub fn rank(&self) -> u8 {
        match self {
            HostPattern::Exact(_) => 0,
            HostPattern::Suffix(_) => 1,
            HostPattern::Any => 2,
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Suffix(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// A request's Host without its port and trailing dot.
pub fn request_host(host: &str) -> &str {
    let host = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    host.strip_suffix('.').unwrap_or(host)
}

fn check_name(text: &str, name: &str) -> Result<(), String> {
    if name.contains(':') {
        return Err(format!(
            "match.host `{text}`: leave the port out (ports are ignored when matching)"
        ));
    }
    if name.contains('*') {
        return Err(format!(
            "match.host `{text}`: `*` is allowed only as the whole first label (`*.example.com`)"
        ));
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !labels_ok {
        return Err(format!("match.host `{text}` is not a host name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_ignore_case_port_and_trailing_dot() {
        let h = HostPattern::parse("Docs.Example.com").unwrap();
        assert!(h.matches("docs.example.com"));
        assert!(h.matches("DOCS.EXAMPLE.COM:8443"));
        assert!(h.matches("docs.example.com."));
        assert!(!h.matches("docs.example.com.evil.net"));
        assert!(!h.matches("xdocs.example.com"));
        let v6 = HostPattern::parse("[::1]").unwrap();
        assert!(v6.matches("[::1]:8080"));
        assert!(!v6.matches("[::2]"));
    }

    #[test]
    fn wildcards_need_at_least_one_label() {
        let h = HostPattern::parse("*.example.com").unwrap();
        assert!(h.matches("a.example.com"));
        assert!(h.matches("a.b.Example.COM:443"));
        assert!(!h.matches("example.com"));
        assert!(!h.matches(".example.com"));
        assert!(!h.matches("badexample.com"));
        assert_eq!(h.to_string(), "*.example.com");
    }

    #[test]
    fn any_host() {
        assert_eq!(HostPattern::parse("*").unwrap(), HostPattern::Any);
        assert!(HostPattern::Any.matches(""));
        assert!(HostPattern::Any.matches("whatever:1"));
    }

    #[test]
    fn bad_hosts_are_refused() {
        for (bad, why) in [
            ("docs.example.com:8443", "port"),
            ("a.*.example.com", "first label"),
            ("**.example.com", "first label"),
            ("docs..example.com", "not a host name"),
            ("docs example.com", "not a host name"),
            ("[::1]:80", "IPv6"),
        ] {
            let e = HostPattern::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
