//! Origins as the configuration names them (`public_url`, `admin.origin`): an origin
//! parsed from the file, the origin of a URL, and whether a request's `Host` names one.

/// `scheme://authority` of an http(s) URL, lower-cased; a path, query or user part is
/// refused (an origin has none).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} is not an http(s) origin"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        return Err(format!(
            "{text:?}: an origin is scheme://host[:port], without a path"
        ));
    }
    Ok(lower)
}

/// The origin (`scheme://authority`) of a URL that may carry a path.
pub fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..]
        .find('/')
        .map(|i| i + after_scheme)
        .unwrap_or(url.len());
    url[..end].to_ascii_lowercase()
}

/// Whether a URL's scheme is `https` (any case).
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// Whether a request's `Host` names the authority of `origin` (a default port may be
/// written or left out).
pub fn host_is_origin(host: &str, origin: &str) -> bool {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("http", origin));
    let default = if scheme == "https" { ":443" } else { ":80" };
    let strip = |a: &str| -> String {
        let a = a.trim().to_ascii_lowercase();
        a.strip_suffix(default).map(str::to_owned).unwrap_or(a)
    };
    !host.trim().is_empty() && strip(host) == strip(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_origins_with_or_without_default_ports() {
        assert!(host_is_origin(
            "Admin.example.com",
            "https://admin.example.com"
        ));
        assert!(host_is_origin(
            "admin.example.com:443",
            "https://admin.example.com"
        ));
        assert!(!host_is_origin(
            "admin.example.com:8443",
            "https://admin.example.com"
        ));
        assert!(host_is_origin("127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(!host_is_origin(
            "docs.example.com",
            "https://admin.example.com"
        ));
        assert!(!host_is_origin("", "https://admin.example.com"));
        assert_eq!(
            origin_of("https://Gate.example.com/base/"),
            "https://gate.example.com"
        );
    }

    #[test]
    fn origins_are_parsed_without_paths() {
        assert_eq!(
            parse_origin("https://Admin.Example.com/").unwrap(),
            "https://admin.example.com"
        );
        assert!(parse_origin("https://admin.example.com/path").is_err());
        assert!(parse_origin("admin.example.com").is_err());
        assert!(is_https("HTTPS://x") && !is_https("http://x"));
    }
}
