//! Requests written by hand, for `policy explain` and `policy test`: `METHOD URL`,
//! split into host and path, and a plain path normaliser for when the proxy's own is
//! not at hand.

use http::Method;

/// A request as a test case or the explain command gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRequest {
    pub method: Method,
    /// The Host (with port, if the URL had one); empty for a bare path.
    pub host: String,
    /// The path as written (not yet normalised), without query or fragment.
    pub path: String,
}

/// Parses `GET https://docs.example.com/finance/index.html` (or `GET /path`).
pub fn parse_request_line(line: &str) -> Result<WrittenRequest, String> {
    let mut words = line.split_whitespace();
    let (Some(method), Some(url), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!(
            "request `{line}`: write `METHOD URL`, e.g. `GET https://docs.example.com/`"
        ));
    };
    let method = method_of(method)?;
    let (host, path) = split_url(url)?;
    Ok(WrittenRequest {
        method,
        host: host.to_owned(),
        path: path.to_owned(),
    })
}

/// An HTTP method; lower case is accepted on the command line.
pub fn method_of(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{text}` is not an HTTP method"))
}

/// `(host, path)` of an absolute `http(s)://` URL or a bare `/path`; the query and
/// fragment are dropped.
pub fn split_url(url: &str) -> Result<(&str, &str), String> {
    let (host, rest) = match url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let host = &after[..end];
            if host.is_empty() || host.contains('@') {
                return Err(format!("URL `{url}` needs a host (and no credentials)"));
            }
            (host, &after[end..])
        }
        None if url.starts_with('/') => ("", url),
        None => return Err(format!("URL `{url}`: write https://host/path or /path")),
    };
    let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    Ok((host, if path.is_empty() { "/" } else { path }))
}

/// A plain normaliser: percent-decodes, drops `.` and empty segments, resolves `..`.
/// Refuses encoded `/`, `\`, NUL and `%23`, and `..` above the root, as the proxy does.
pub fn simple_normalise(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with /"));
    }
    let bytes = path.as_bytes();
    let mut decoded: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("path `{path}` has a bad percent-escape"))?;
            if matches!(hex, b'/' | b'\\' | 0 | b'#') {
                return Err(format!(
                    "path `{path}` is ambiguous (encoded `/`, `\\`, NUL or `#`)"
                ));
            }
            decoded.push(hex);
            i += 3;
        } else {
            if bytes[i] == b'\\' || bytes[i] == 0 {
                return Err(format!("path `{path}` is ambiguous (`\\` or NUL)"));
            }
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).map_err(|_| format!("path `{path}` is not UTF-8"))?;
    let trailing = text.ends_with('/') || text.ends_with("/.") || text.ends_with("/..");
    let mut out: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(format!("path `{path}` climbs above the root"));
                }
            }
            s => out.push(s),
        }
    }
    let mut normal = format!("/{}", out.join("/"));
    if trailing && !out.is_empty() {
        normal.push('/');
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r = parse_request_line("GET https://Docs.example.com:8443/a/b?x=1#f").unwrap();
        assert_eq!(r.method, Method::GET);
        assert_eq!(r.host, "Docs.example.com:8443");
        assert_eq!(r.path, "/a/b");
        let r = parse_request_line("head /x").unwrap();
        assert_eq!(
            (r.method, r.host.as_str(), r.path.as_str()),
            (Method::HEAD, "", "/x")
        );
        assert_eq!(split_url("https://h").unwrap(), ("h", "/"));
        assert_eq!(split_url("https://h?q").unwrap(), ("h", "/"));
        assert!(parse_request_line("GET").is_err());
        assert!(parse_request_line("GET a b").is_err());
        assert!(parse_request_line("GET docs.example.com/x").is_err());
        assert!(parse_request_line("GET https://u@h/x").is_err());
    }

    #[test]
    fn normalising() {
        assert_eq!(simple_normalise("/a/./b/../c").unwrap(), "/a/c");
        assert_eq!(simple_normalise("//a//b/").unwrap(), "/a/b/");
        assert_eq!(simple_normalise("/%66inance/x").unwrap(), "/finance/x");
        assert_eq!(simple_normalise("/a/%2e%2e/b").unwrap(), "/b");
        assert_eq!(simple_normalise("/").unwrap(), "/");
        for bad in ["/a%2fb", "/a%5cb", "/a\\b", "/../x", "/a%2", "/a%23b", "x"] {
            assert!(simple_normalise(bad).is_err(), "{bad}");
        }
    }
}
