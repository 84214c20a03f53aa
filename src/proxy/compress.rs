//! Response compression for routes with `compress` (on by default for `preset: dbt-docs`).
//!
//! `dbt docs serve` sends a manifest of tens of MB uncompressed; JSON compresses about
//! 9×. The coding is chosen from the client's `Accept-Encoding` ([`negotiate`]: q-values
//! honoured, br preferred on a tie, gzip otherwise) before the request is forwarded;
//! the response is then compressed ([`compress_response`]) only when it is worth it and
//! safe: a full (non-partial) success, not already encoded, not `no-transform`, a
//! compressible type, and not tiny. The body is streamed through the encoder in bounded
//! chunks, never buffered, so a 60 MB manifest passes in flat memory; cancellation of
//! the upstream body (revocation) still ends it. Levels are fast ones (br 4, gzip 6):
//! a large manifest must not keep a core busy for long.
//!
//! The encoders are async-compression's; this module only decides and rewires headers.
//! Validators are adjusted in [`super::validators`]. Routes without `compress` never
//! reach this code.

use std::io;

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder};
use async_compression::Level;
use axum::body::Body;
use futures_util::TryStreamExt;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, VARY,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use super::validators;

/// Brotli quality: fast, and still far smaller than gzip on JSON.
const BROTLI_QUALITY: i32 = 4;
/// gzip level: zlib's default balance.
const GZIP_LEVEL: i32 = 6;
/// Bodies known to be smaller than this are sent as they are.
pub const MIN_SIZE: u64 = 1024;
/// The most compressed bytes read into one frame.
const CHUNK: usize = 64 * 1024;

/// A content coding scimgate produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to answer a request with, if any: none for HEAD (the headers would
/// describe a body never sent) or when the client accepts neither br nor gzip.
pub fn for_request(method: &Method, headers: &HeaderMap) -> Option<Coding> {
    if *method == Method::HEAD {
        return None;
    }
    negotiate(headers)
}

/// The preferred coding of `Accept-Encoding` (RFC 9110 §12.5.3): the highest q-value
/// among `br` and `gzip` (`x-gzip`), `*` standing for those not named, q=0 meaning
/// "not acceptable"; br wins a tie. No header, or nothing acceptable: `None`.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut br: Option<u16> = None;
    let mut gzip: Option<u16> = None;
    let mut star: Option<u16> = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let Some(q) = parts.find_map(q_param).unwrap_or(Some(1000)) else {
                continue;
            };
            let slot = if name.eq_ignore_ascii_case("br") {
                &mut br
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if name == "*" {
                &mut star
            } else {
                continue;
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }
    let br = br.or(star).unwrap_or(0);
    let gzip = gzip.or(star).unwrap_or(0);
    match (br, gzip) {
        (0, 0) => None,
        (b, g) if b >= g => Some(Coding::Brotli),
        _ => Some(Coding::Gzip),
    }
}

/// `q=...` as thousandths: `Some(Some(q))` for a valid q-value, `Some(None)` for an
/// invalid one (the item is ignored), `None` for another parameter.
fn q_param(param: &str) -> Option<Option<u16>> {
    let (key, value) = param.split_once('=')?;
    if !key.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    Some(parse_q(value.trim()))
}

/// A qvalue (`0`, `0.5`, `1`, `1.000`, at most three decimals) in thousandths.
fn parse_q(text: &str) -> Option<u16> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether a `Content-Type` is worth compressing (text, JSON, JavaScript, XML, SVG).
pub fn compressible_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => sub != "event-stream",
        "application" => {
            matches!(
                sub,
                "json" | "javascript" | "x-javascript" | "ecmascript" | "xml" | "wasm"
            ) || sub.ends_with("+json")
                || sub.ends_with("+xml")
        }
        "image" => sub == "svg+xml",
        _ => false,
    }
}

/// Whether this response may be compressed at all, whatever the client accepts.
fn eligible(status: StatusCode, headers: &HeaderMap) -> bool {
    let success = status.is_success()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::PARTIAL_CONTENT;
    let encoded = headers
        .get(CONTENT_ENCODING)
        .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
    let no_transform = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-transform"));
    let tiny = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n < MIN_SIZE);
    let typed = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(compressible_type);
    success && !encoded && !no_transform && !tiny && typed && !headers.contains_key(CONTENT_RANGE)
}

/// Compresses `resp` with `coding` when it is eligible; adds `Vary: Accept-Encoding`
/// to every eligible response (compressed or not, so caches keep the forms apart) and
/// weakens the ETag of a compressed one. A 304 answering a client that would have got
/// a compressed body keeps the same weak ETag.
pub fn compress_response(resp: Response<Body>, coding: Option<Coding>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    if parts.status == StatusCode::NOT_MODIFIED {
        if coding.is_some() {
            validators::weaken_etag(&mut parts.headers);
        }
        return Response::from_parts(parts, body);
    }
    if !eligible(parts.status, &parts.headers) {
        return Response::from_parts(parts, body);
    }
    add_vary(&mut parts.headers);
    let Some(coding) = coding else {
        return Response::from_parts(parts, body);
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(ACCEPT_RANGES);
    parts
        .headers
        .insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    validators::weaken_etag(&mut parts.headers);
    Response::from_parts(parts, encode(body, coding))
}

/// `body` through the encoder, read back in chunks of at most [`CHUNK`] bytes.
fn encode(body: Body, coding: Coding) -> Body {
    let plain = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let encoded: Box<dyn AsyncRead + Send + Unpin> = match coding {
        Coding::Brotli => Box::new(BrotliEncoder::with_quality(
            plain,
            Level::Precise(BROTLI_QUALITY),
        )),
        Coding::Gzip => Box::new(GzipEncoder::with_quality(plain, Level::Precise(GZIP_LEVEL))),
    };
    Body::from_stream(ReaderStream::with_capacity(encoded, CHUNK))
}

/// Adds `Accept-Encoding` to `Vary` unless it (or `*`) is already there.
fn add_vary(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.eq_ignore_ascii_case("accept-encoding"));
    if !present {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

#[cfg(test)]
mod tests;
