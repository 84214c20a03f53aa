//! Operations surfaces: the operations listener with `/metrics` (Prometheus), `/healthz`
//! and `/readyz`; the metrics every other part records into; the readiness registry;
//! the admin API's decision endpoint; and `scimgate doctor`, the sync canary.
//!
//! What the composition root connects at start-up (`server::compose`):
//! [`Metrics`] is one per instance, held by the gate, the dispatcher and the SCIM
//! state; the directory is connected with `metrics.sources.set_directory`; the audit
//! log's queue with `metrics.sources.set_audit` (anything implementing
//! [`collect::AuditStatsSource`]); readiness conditions are added to [`Readiness`].

pub mod collect;
pub mod connections;
pub mod decide;
pub mod doctor;
pub mod histogram;
pub mod listener;
pub mod metrics;
pub mod readiness;
pub mod routes;

pub use metrics::Metrics;
pub use readiness::Readiness;
