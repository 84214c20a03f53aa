//! Notifications of just-in-time access requests as webhook POSTs: each event
//! (requested, approved, denied, started, expired, revoked, cancelled) becomes one
//! JSON POST to `access_requests.webhook.url`, Slack-compatible with the structured
//! event beside it ([`body`]).
//!
//! Reporting an event never waits: [`Webhook::notify`] puts it on a bounded queue
//! ([`queue`]) and a sender task on the server's shutdown tree delivers it through the
//! one outbound client, retrying with backoff ([`deliver`]). Counted in
//! `scimgate_access_webhook_events_total` by outcome: delivered, failed, dropped.
//!
//! Over `outbound`, `config`, `metrics` and `clock`; the access service's events are
//! adapted into [`Event`] where the service is wired (`server::compose`).

pub mod body;
pub mod deliver;
pub mod event;
pub mod queue;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use body::Links;
pub use event::{Event, EventKind};

use crate::config::access_requests::WebhookConfig;
use crate::metrics::Metrics;
use crate::outbound::{HttpClient, HttpError};
use deliver::Sender;
use queue::{Pushed, Queue};

/// The reporting side: cheap to clone, never waits.
#[derive(Clone)]
pub struct Webhook {
    queue: Arc<Queue>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("waiting", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The webhook of `config`, and the sender to run on the shutdown tree
    /// ([`Sender::run`]); links in messages start with `links.base`.
    pub fn new(
        config: &WebhookConfig,
        links: Links,
        metrics: Arc<Metrics>,
    ) -> Result<(Webhook, Sender), HttpError> {
        let queue = Arc::new(Queue::new(config.queue_capacity, config.on_queue_full));
        let client = HttpClient::with_limits(config.timeout, 64 * 1024)?;
        Ok((
            Webhook {
                queue: queue.clone(),
                metrics: metrics.clone(),
            },
            Sender {
                queue,
                config: config.clone(),
                links,
                client,
                metrics,
            },
        ))
    }

    /// Queues `event` for delivery; a full queue drops one (counted).
    pub fn notify(&self, event: Event) {
        if self.queue.push(event) == Pushed::DroppedOne {
            self.metrics.webhook("dropped", 1);
        }
    }
}
