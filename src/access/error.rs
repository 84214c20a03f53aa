//! Why an access request, vote or revocation was refused. Each surface maps these to
//! its own answer in one place (the JSON API: `admin::access_api::error`).

use crate::store::StoreError;

/// A refused access operation.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("that group is not requestable on that route")]
    NotRequestable,
    #[error("you are in no group that may request this")]
    NotRequester,
    #[error("the duration is longer than this grant allows ({max})")]
    TooLong { max: String },
    #[error("the duration is shorter than a second")]
    TooShort,
    #[error("this grant needs a reason")]
    ReasonRequired,
    #[error("the {what} is longer than {max} bytes")]
    TextTooLong { what: &'static str, max: usize },
    #[error("no such access request")]
    NotFound,
    #[error("you cannot approve or deny your own request")]
    SelfApproval,
    #[error("you are in no group that may approve this")]
    NotApprover,
    #[error("you have already approved this request")]
    AlreadyVoted,
    #[error("the request is no longer pending")]
    NotPending,
    #[error("the grant is not active")]
    NotActive,
    #[error("you already have a pending request or an active grant for this group")]
    Duplicate,
    #[error("too many requests: at most {limit} {per}; retry later")]
    TooMany { limit: usize, per: &'static str },
    #[error("the access request store failed")]
    Store(#[from] StoreError),
    #[error("the store could not be reached")]
    Join,
}
