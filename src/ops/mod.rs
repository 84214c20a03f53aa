//! Operations surfaces: the operations listener with `/metrics` (Prometheus), `/healthz`
//! and `/readyz`; the readiness registry; the admin API's decision endpoint; and
//! `scimgate doctor`, the sync canary. The metrics themselves are recorded into
//! [`crate::metrics`], a leaf every layer may use; this module only serves them.
//!
//! What the composition root connects at start-up (`server::compose`):
//! [`Metrics`](crate::metrics::Metrics) is one per instance, held by the gate, the
//! dispatcher and the SCIM state; the directory is connected with
//! `metrics.sources.set_directory`; the audit log's queue with
//! `metrics.sources.set_audit` (anything implementing
//! [`crate::metrics::collect::AuditStatsSource`]); readiness conditions are added to
//! [`Readiness`].

pub mod decide;
pub mod doctor;
pub mod listener;
pub mod readiness;

pub use readiness::Readiness;
