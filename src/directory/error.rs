//! Why the directory refused a change.

use std::sync::Arc;

use crate::store::StoreError;

/// A change the directory could not make. The SCIM layer maps each to its HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{attribute} {value:?} is already taken")]
    Uniqueness {
        attribute: &'static str,
        value: String,
    },
    #[error("version {current} does not match If-Match {given}")]
    VersionMismatch { current: String, given: String },
    #[error("member {0} is neither a user nor a group")]
    UnknownMember(String),
    #[error("adding group {member} to {group} would make a cycle")]
    Cycle { group: String, member: String },
    #[error(
        "{kind} {id} is managed by SCIM and manual updates are off (scim.allow_manual_updates)"
    )]
    ManualUpdateLocked { kind: &'static str, id: String },
    #[error("the change was refused: {0}")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the store failed")]
    Store(#[source] Arc<StoreError>),
    #[error("the directory is shutting down")]
    ShuttingDown,
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        DirectoryError::Store(Arc::new(e))
    }
}
