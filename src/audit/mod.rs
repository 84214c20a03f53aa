//! The audit log: what each kind of record says, and getting records into the chain
//! and out to the sinks.
//!
//! Every directory change, access decision, token event, policy reload and admin
//! action becomes an [`AuditEntry`](crate::record::AuditEntry). The store appends
//! entries to one hash chain (each record carries the SHA-256 of the previous one, see
//! [`crate::record::chain`]); sinks ship the stored records
//! ([`AuditRow`](crate::record::AuditRow)) onwards.
//!
//! Record formats are in [`records`]; the [`Auditor`] queues and batches records off
//! the request path ([`auditor`]; the composition root, `server::compose`, starts it
//! and its sinks); the [`tailer`] feeds the chain to the sinks
//! ([`sink`]: stdout, a rotated JSON-lines file, syslog (RFC 5424), an HTTP sink with
//! an on-disk spool);
//! [`verify`] checks the chain and [`cli`] is `scimgate audit verify|search`.
//! What a stranger can make the log spend is bounded: client text is clipped
//! ([`bounds`]), refusals with no authenticated caller are sampled and aggregated per
//! window on their own queue ([`refusals`]), allows may be counted per user, route
//! and window instead of recorded one by one (`audit.decisions`, [`allows`]),
//! signed-in callers' rate-limit refusals and shadow-policy differences are counted
//! per window into one record per key ([`tally`]), and decisions are pruned after
//! `audit.retention` behind checkpoints that keep the chain verifiable ([`retention`],
//! [`crate::record::checkpoint`]).

pub mod allows;
pub mod auditor;
pub mod bounds;
pub mod cli;
pub mod grants;
pub mod mcp;
pub mod packed;
mod queue;
pub mod records;
pub mod refusals;
pub mod retention;
pub mod sink;
mod stats_source;
pub mod tailer;
pub mod tally;
pub mod verify;
pub mod wire;

pub use auditor::{AuditService, AuditStats, Auditor};
