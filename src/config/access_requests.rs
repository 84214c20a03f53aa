//! The `access_requests:` section: where notifications of just-in-time access
//! requests go, and the base URL their links point at.
//!
//! ```yaml
//! access_requests:
//!   public_url: https://gate.example.com   # links in notifications (default: public_url)
//!   pending_max_age_seconds: 604800   # a request not approved in 7 days expires
//!   webhook:
//!     url: https://hooks.slack.com/services/T000/B000/XXXX
//!     headers: { authorization: "Bearer ${env:HOOK_TOKEN}" }   # secrets, never logged
//!     timeout_seconds: 5        # one attempt, from connecting to the answer's end
//!     max_attempts: 6           # then the event is given up and counted as failed
//!     retry_initial_ms: 500     # the first retry's wait, doubling (with jitter)
//!     retry_max_ms: 60000       # the longest wait between attempts
//!     queue_capacity: 1000      # events waiting to be sent; past it one is dropped
//!     on_queue_full: drop_oldest  # or drop_newest
//! ```
//!
//! The URL must be `https://`, or `http://` to a loopback address (a receiver on the
//! same host): events name people and their reasons, so they never cross a network in
//! the clear.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// How long a request waits for approvals by default
/// (`access_requests.pending_max_age_seconds`).
pub const DEFAULT_PENDING_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// `access_requests:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessRequests {
    public_url: Option<String>,
    pending_max_age_seconds: Option<u64>,
    webhook: Option<RawWebhook>,
}

/// `access_requests.webhook` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout_seconds: Option<f64>,
    max_attempts: Option<u32>,
    retry_initial_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    queue_capacity: Option<usize>,
    on_queue_full: Option<String>,
}

/// The validated `access_requests:` section.
#[derive(Debug, Clone)]
pub struct AccessRequestsConfig {
    /// The base URL of links in notifications (`access_requests.public_url`, else the
    /// top-level `public_url`); `None`: notifications carry no links.
    pub public_url: Option<String>,
    /// How long a request may wait for its approvals before it expires.
    pub pending_max_age: Duration,
    /// Where events are POSTed, when configured.
    pub webhook: Option<WebhookConfig>,
}

impl Default for AccessRequestsConfig {
    fn default() -> Self {
        AccessRequestsConfig {
            public_url: None,
            pending_max_age: DEFAULT_PENDING_MAX_AGE,
            webhook: None,
        }
    }
}

/// Which event a full queue gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFull {
    /// The oldest waiting event makes room for the new one.
    DropOldest,
    /// The new event is dropped.
    DropNewest,
}

/// Where and how access-request events are delivered.
#[derive(Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// Extra request headers (secrets allowed: `${env:NAME}`, marked sensitive).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// One attempt's limit.
    pub timeout: Duration,
    /// Attempts per event, the first included.
    pub max_attempts: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub queue_capacity: usize,
    pub on_queue_full: QueueFull,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a secret (Slack's incoming webhooks do): only its origin.
        let origin = self
            .url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        f.debug_struct("WebhookConfig")
            .field("host", &origin)
            .field("headers", &self.headers.len())
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("queue_capacity", &self.queue_capacity)
            .field("on_queue_full", &self.on_queue_full)
            .finish_non_exhaustive()
    }
}

impl RawAccessRequests {
    /// Checks the section; `public_url` is the top-level one (already checked).
    pub fn validate(
        self,
        check: Checker<'_>,
        public_url: Option<&str>,
    ) -> Result<AccessRequestsConfig, ConfigError> {
        let own = self
            .public_url
            .map(|u| check.http_url("access_requests.public_url", &u))
            .transpose()?;
        let pending_max_age = Duration::from_secs(check.between(
            "access_requests.pending_max_age_seconds",
            self.pending_max_age_seconds,
            (1, 30 * 86_400),
            DEFAULT_PENDING_MAX_AGE.as_secs(),
        )?);
        Ok(AccessRequestsConfig {
            public_url: own.or_else(|| public_url.map(str::to_owned)),
            pending_max_age,
            webhook: self.webhook.map(|w| w.validate(check)).transpose()?,
        })
    }
}

impl RawWebhook {
    fn validate(self, check: Checker<'_>) -> Result<WebhookConfig, ConfigError> {
        const URL: &str = "access_requests.webhook.url";
        const HEADERS: &str = "access_requests.webhook.headers";
        let url = check.secret(URL, &self.url)?;
        let uri: http::Uri = url.parse().map_err(|_| check.invalid(URL, "not a URL"))?;
        let host = uri.host().unwrap_or_default();
        match uri.scheme_str() {
            Some("https") if !host.is_empty() => {}
            Some("http") if is_loopback(host) => {}
            Some("http") if !host.is_empty() => {
                return Err(check.invalid(
                    URL,
                    format!("http:// only to a loopback address, not {host:?}: use https://"),
                ))
            }
            _ => return Err(check.invalid(URL, "must be an https:// URL")),
        }
        let headers = check.secret_headers(HEADERS, self.headers)?;
        let on_queue_full = match self.on_queue_full.as_deref() {
            None | Some("drop_oldest") => QueueFull::DropOldest,
            Some("drop_newest") => QueueFull::DropNewest,
            Some(other) => {
                return Err(check.invalid(
                    "access_requests.webhook.on_queue_full",
                    format!("{other:?}: expected drop_oldest or drop_newest"),
                ))
            }
        };
        let retry_initial = Duration::from_millis(check.between(
            "access_requests.webhook.retry_initial_ms",
            self.retry_initial_ms,
            (1, 3_600_000),
            500,
        )?);
        let retry_max = Duration::from_millis(check.between(
            "access_requests.webhook.retry_max_ms",
            self.retry_max_ms,
            (1, 3_600_000),
            60_000,
        )?);
        Ok(WebhookConfig {
            url,
            headers,
            timeout: check.seconds(
                "access_requests.webhook.timeout_seconds",
                self.timeout_seconds,
                Duration::from_secs(5),
            )?,
            max_attempts: check.between(
                "access_requests.webhook.max_attempts",
                self.max_attempts,
                (1, 100),
                6,
            )?,
            retry_initial,
            retry_max: retry_max.max(retry_initial),
            queue_capacity: check.between(
                "access_requests.webhook.queue_capacity",
                self.queue_capacity,
                (1, 100_000),
                1000,
            )?,
            on_queue_full,
        })
    }
}

/// Whether `host` (as a URI writes it) names this machine: `localhost` or a loopback
/// address.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<AccessRequestsConfig, ConfigError> {
        let raw: RawAccessRequests = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("test.yaml"), Some("https://gate.example"))
    }

    #[test]
    fn defaults_and_links() {
        let c = parse("{}").unwrap();
        assert!(c.webhook.is_none());
        assert_eq!(c.public_url.as_deref(), Some("https://gate.example"));
        let c = parse("public_url: https://other.example/").unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://other.example"));
        let w = parse("webhook: { url: 'https://hooks.example/x' }")
            .unwrap()
            .webhook
            .unwrap();
        assert_eq!(w.max_attempts, 6);
        assert_eq!(w.queue_capacity, 1000);
        assert_eq!(w.on_queue_full, QueueFull::DropOldest);
    }

    #[test]
    fn pending_requests_wait_seven_days_unless_told() {
        let c = parse("{}").unwrap();
        assert_eq!(c.pending_max_age, DEFAULT_PENDING_MAX_AGE);
        let c = parse("pending_max_age_seconds: 3600").unwrap();
        assert_eq!(c.pending_max_age, Duration::from_secs(3600));
        for bad in [
            "pending_max_age_seconds: 0",
            "pending_max_age_seconds: 2592001",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("access_requests.pending_max_age_seconds"), "{e}");
        }
    }

    #[test]
    fn the_url_is_https_or_loopback_http() {
        for ok in [
            "https://hooks.example/x",
            "http://127.0.0.1:9/x",
            "http://[::1]:9/x",
            "http://localhost:9/",
        ] {
            parse(&format!("webhook: {{ url: '{ok}' }}")).unwrap();
        }
        for (bad, why) in [
            ("http://hooks.example/x", "only to a loopback address"),
            ("ftp://hooks.example/x", "https://"),
            ("hooks.example", "https://"),
        ] {
            let e = parse(&format!("webhook: {{ url: '{bad}' }}"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("access_requests.webhook.url") && e.contains(why),
                "{e}"
            );
        }
    }

    #[test]
    fn header_values_are_sensitive_and_bounds_checked() {
        let w = parse("webhook: { url: 'https://h.example/', headers: { x-key: abc } }")
            .unwrap()
            .webhook
            .unwrap();
        assert!(w.headers[0].1.is_sensitive());
        assert!(!format!("{w:?}").contains("abc"));
        let e = parse("webhook: { url: 'https://h.example/', max_attempts: 0 }").unwrap_err();
        assert!(e.to_string().contains("max_attempts"), "{e}");
        let e = parse("webhook: { url: 'https://h.example/', on_queue_full: block }").unwrap_err();
        assert!(e.to_string().contains("drop_oldest or drop_newest"), "{e}");
    }
}
