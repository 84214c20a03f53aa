//! The access service's events delivered by the webhook, when
//! `access_requests.webhook` is configured: each [`AccessEvent`] becomes a
//! [`webhook::Event`] queued without waiting, and the sender runs on the shutdown
//! tree's writing branch (events of the last requests are still sent while the
//! listener drains).

use std::sync::Arc;

use crate::access::{AccessEvent, AccessNotifier};
use crate::clock::{to_millis, SharedClock};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::shutdown::ShutdownTree;
use crate::webhook::{self, Links, Webhook};

/// The webhook as the access service's notifier.
struct WebhookNotifier {
    hook: Webhook,
    clock: SharedClock,
}

impl AccessNotifier for WebhookNotifier {
    fn notify(&self, event: AccessEvent) {
        self.hook.notify(adapt(event, to_millis(self.clock.now())));
    }
}

/// The configured webhook's notifier, its sender started on `tree`; `None` when no
/// webhook is configured.
pub(super) fn start(
    config: &Config,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
    tree: &ShutdownTree,
) -> anyhow::Result<Option<Arc<dyn AccessNotifier>>> {
    let Some(hook_config) = &config.access_requests.webhook else {
        return Ok(None);
    };
    let links = Links {
        base: config.access_requests.public_url.clone(),
    };
    let (hook, sender) = Webhook::new(hook_config, links, metrics.clone())?;
    tree.tracker().spawn(sender.run(tree.writing_token()));
    tracing::info!(webhook = ?hook_config, "access-request events go to the webhook");
    Ok(Some(Arc::new(WebhookNotifier {
        hook,
        clock: clock.clone(),
    })))
}

/// `event` as the webhook tells it, at `at_ms`.
fn adapt(event: AccessEvent, at_ms: i64) -> webhook::Event {
    webhook::Event {
        kind: event.kind,
        request_id: event.request_id,
        route: event.route,
        group: event.group,
        requester: event.requester_name,
        // A person is named by their userName; `admin:`, `scim:` and `system` as they are.
        approver: event
            .approver
            .map(|a| a.strip_prefix("user:").map(str::to_owned).unwrap_or(a)),
        comment: event.comment,
        reason: event.reason,
        duration_seconds: event.duration.as_secs(),
        ends_at_ms: event.ends_at,
        at_ms,
    }
}
