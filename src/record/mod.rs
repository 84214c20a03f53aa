//! The shared records: what the directory holds, what a change writes, what the store
//! keeps for tokens and sessions, and what the audit log chains.
//!
//! This module is a leaf: every layer may use it and it uses no other module of the
//! crate (only the identifier rules of the SCIM crate, for [`name_key`]). Records are
//! plain data with the few pure functions that belong to them: the caseless name key,
//! the audit chain's hash ([`chain`]) and the retention checkpoints ([`checkpoint`]).
//! Who stores, caches, serves or ships them is decided above (see ARCHITECTURE.md).

pub mod access;
mod audit;
mod body;
pub mod chain;
mod change;
pub mod checkpoint;
mod credential;
pub mod digest;
mod name;
mod resource;

pub use access::{AccessRequest, RequestState, Verdict};
pub use audit::{grant_detail_key, AuditEntry, AuditQuery, AuditRow, EntryView, GRANT_ACTIONS};
pub use body::Body;
pub use change::{Change, Snapshot, SnapshotSink, StoreOp};
pub use credential::{SessionRow, TokenRow};
pub use name::name_key;
pub use resource::{Actor, GroupDraft, GroupRecord, Member, MemberChange, UserDraft, UserRecord};
