//! The sender: takes events from the queue one at a time, in order, and POSTs each
//! through the outbound client. A network error, a timeout, a 5xx or a 429 is tried
//! again after an exponential backoff with jitter (a `Retry-After`, in seconds or as
//! an HTTP date, is honoured within `retry_max`), up to `max_attempts`; any other answer but 2xx gives
//! the event up at once. Each event ends counted: delivered, failed or (when the
//! server stops first) dropped.

use std::sync::Arc;
use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use tokio_util::sync::CancellationToken;

use super::body::{body, Links};
use super::event::Event;
use super::queue::Queue;
use crate::config::access_requests::WebhookConfig;
use crate::metrics::Metrics;
use crate::outbound::{error_chain, HttpClient};

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Worth trying again, after at least this long when the receiver said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again would not help (a 4xx other than 408 and 429).
    GiveUp(String),
}

/// The sender's side of the webhook.
pub struct Sender {
    pub(super) queue: Arc<Queue>,
    pub(super) config: WebhookConfig,
    pub(super) links: Links,
    pub(super) client: HttpClient,
    pub(super) metrics: Arc<Metrics>,
}

impl Sender {
    /// Delivers until `stop` is cancelled; what still waits then is counted dropped.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => break,
                event = self.queue.pop() => event,
            };
            let kind = event.kind.as_str();
            let span = tracing::info_span!("access_webhook", kind, request_id = %event.request_id);
            let outcome = tokio::select! {
                () = stop.cancelled() => None,
                outcome = tracing::Instrument::instrument(self.deliver(&event), span) => Some(outcome),
            };
            match outcome {
                Some(true) => self.metrics.webhook("delivered", 1),
                Some(false) => self.metrics.webhook("failed", 1),
                None => {
                    self.metrics.webhook("dropped", 1);
                    break;
                }
            }
        }
        let left = self.queue.len() as u64;
        if left > 0 {
            self.metrics.webhook("dropped", left);
            tracing::warn!(
                left,
                "access-request webhook stopped with events not delivered"
            );
        }
    }

    /// Tries `event` until it is delivered or given up; whether it was delivered.
    async fn deliver(&self, event: &Event) -> bool {
        let payload = match serde_json::to_vec(&body(event, &self.links)) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an access-request event");
                return false;
            }
        };
        let mut backoff = self.config.retry_initial;
        for attempt in 1..=self.config.max_attempts {
            match self.attempt(&payload).await {
                Attempt::Delivered => return true,
                Attempt::GiveUp(reason) => {
                    tracing::warn!(%reason, attempt, "access-request webhook refused the event; given up");
                    return false;
                }
                Attempt::Retry { reason, after } => {
                    if attempt == self.config.max_attempts {
                        tracing::warn!(%reason, attempt, "access-request webhook delivery failed; given up");
                        return false;
                    }
                    let wait = after
                        .map(|a| a.min(self.config.retry_max))
                        .unwrap_or_else(|| jitter(backoff));
                    tracing::info!(%reason, attempt, retry_in_ms = wait.as_millis() as u64, "access-request webhook delivery failed; retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.config.retry_max);
                }
            }
        }
        false
    }

    async fn attempt(&self, payload: &[u8]) -> Attempt {
        let req = Request::builder()
            .method(Method::POST)
            .uri(&self.config.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(payload.to_vec());
        let mut req = match req {
            Ok(r) => r,
            Err(e) => return Attempt::GiveUp(format!("cannot build the request: {e}")),
        };
        for (name, value) in &self.config.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        match self.client.send(req).await {
            Ok(resp) => judge(&resp),
            Err(e) => Attempt::Retry {
                reason: error_chain(&e),
                after: None,
            },
        }
    }
}

/// What an answer means for the event.
fn judge(resp: &Response<Vec<u8>>) -> Attempt {
    let status = resp.status();
    if status.is_success() {
        return Attempt::Delivered;
    }
    let reason = format!("the receiver answered {status}");
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Attempt::Retry {
            reason,
            after: retry_after(resp),
        }
    } else {
        Attempt::GiveUp(reason)
    }
}

/// A `Retry-After` in seconds, or as an HTTP date (how long until then; a date passed
/// means now).
fn retry_after(resp: &Response<Vec<u8>>) -> Option<Duration> {
    let value = resp
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// `base` spread over its upper half at random, so receivers coming back are not met
/// by every sender at once.
fn jitter(base: Duration) -> Duration {
    let half = base / 2;
    half + half.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>) -> Response<Vec<u8>> {
        let mut b = Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header(header::RETRY_AFTER, r);
        }
        b.body(Vec::new()).unwrap()
    }

    #[test]
    fn server_errors_and_throttling_are_retried_other_refusals_are_not() {
        assert!(matches!(judge(&answer(204, None)), Attempt::Delivered));
        assert!(matches!(
            judge(&answer(503, None)),
            Attempt::Retry { after: None, .. }
        ));
        assert!(matches!(
            judge(&answer(429, Some("7"))),
            Attempt::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        // A date: how long until then; one passed means now; nonsense means the backoff.
        assert!(matches!(
            judge(&answer(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"))),
            Attempt::Retry { after: Some(d), .. } if d == Duration::ZERO
        ));
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(90);
        let soon = soon
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        assert!(matches!(
            judge(&answer(503, Some(&soon))),
            Attempt::Retry { after: Some(d), .. }
                if d > Duration::from_secs(80) && d <= Duration::from_secs(90)
        ));
        assert!(matches!(
            judge(&answer(503, Some("soon"))),
            Attempt::Retry { after: None, .. }
        ));
        assert!(matches!(judge(&answer(404, None)), Attempt::GiveUp(_)));
        assert!(matches!(judge(&answer(400, None)), Attempt::GiveUp(_)));
    }

    #[test]
    fn jitter_stays_within_the_upper_half() {
        let base = Duration::from_millis(1000);
        for _ in 0..100 {
            let d = jitter(base);
            assert!(d >= base / 2 && d <= base, "{d:?}");
        }
    }
}
