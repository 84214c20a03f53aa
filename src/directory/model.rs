//! The records the directory holds: users, groups, and who changed them.
//!
//! Records are immutable once built and shared as `Arc`s; a change builds a new record
//! and swaps it in after the store has committed it. `body` is the resource's attributes
//! as the SCIM layer stored them (opaque JSON text here); the fields beside it are the
//! ones the directory indexes or decides on.

use std::sync::Arc;

use super::body::Body;

/// A user in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Internal ordinal: creation order, stable for list paging.
    pub ord: u32,
    pub id: Arc<str>,
    pub user_name: Box<str>,
    pub external_id: Option<Box<str>>,
    pub active: bool,
    /// E-mail addresses, lower-cased, for the e-mail index.
    pub emails: Box<[Box<str>]>,
    /// dbt license type (`developer`, `analyst`, `read_only`, `it`), if pushed.
    pub license: Option<Box<str>>,
    pub user_type: Option<Box<str>>,
    pub body: Body,
    pub created: i64,
    pub modified: i64,
    pub version: u64,
    /// Created or last changed through SCIM (then manual changes are locked).
    pub scim_managed: bool,
}

/// A group in the directory (its members are kept apart, as sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub ord: u32,
    pub id: Arc<str>,
    pub display_name: Box<str>,
    pub external_id: Option<Box<str>>,
    pub body: Body,
    pub created: i64,
    pub modified: i64,
    pub version: u64,
    pub scim_managed: bool,
}

/// What a member id refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Member {
    User(u32),
    Group(u32),
}

/// Who asked for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An identity provider, through a named SCIM token.
    Scim { token: String },
    /// An administrator, through the admin API with a named admin token.
    Admin { token: String },
}

impl Actor {
    pub fn is_scim(&self) -> bool {
        matches!(self, Actor::Scim { .. })
    }

    /// A short label for logs and audit records, e.g. `scim:okta`.
    pub fn label(&self) -> String {
        match self {
            Actor::Scim { token } => format!("scim:{token}"),
            Actor::Admin { token } => format!("admin:{token}"),
        }
    }
}

/// The indexed fields and body of a user, as the SCIM layer extracted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDraft {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub emails: Vec<String>,
    pub license: Option<String>,
    pub user_type: Option<String>,
    pub body: String,
}

/// The indexed fields and body of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDraft {
    pub display_name: String,
    pub external_id: Option<String>,
    pub body: String,
}

/// A change to a group's member set, relative to its current contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    /// Drop every current member first.
    pub replace_all: bool,
    /// Ids to add (users or groups).
    pub add: Vec<String>,
    /// Ids to remove; unknown ids are ignored.
    pub remove: Vec<String>,
}
