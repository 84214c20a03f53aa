//! The records the directory holds: users, groups, and who changed them.
//!
//! Records are immutable once built and shared as `Arc`s; a change builds a new record
//! and swaps it in after the store has committed it. `body` is the resource's attributes
//! as the SCIM layer stored them (opaque JSON text here); the fields beside it are the
//! ones the directory indexes or decides on.

use std::sync::Arc;

use super::Body;

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

impl UserRecord {
    /// A user with only the fields every record needs; the others at their defaults:
    /// active, no e-mails, license or user type, an empty JSON body, created and
    /// modified at 0, version 1, not SCIM-managed. Set others with struct update
    /// syntax (`UserRecord { active: false, ..UserRecord::new(0, "u-0", "ann") }`), so
    /// that a new field is added here and where it is stored, not at every caller.
    pub fn new(ord: u32, id: impl Into<Arc<str>>, user_name: impl Into<Box<str>>) -> Self {
        UserRecord {
            ord,
            id: id.into(),
            user_name: user_name.into(),
            external_id: None,
            active: true,
            emails: Box::default(),
            license: None,
            user_type: None,
            body: Body::new("{}"),
            created: 0,
            modified: 0,
            version: 1,
            scim_managed: false,
        }
    }

    /// The record a change makes from a draft: e-mails lower-cased for the index,
    /// `modified` at `now`.
    pub fn from_draft(
        ord: u32,
        id: Arc<str>,
        draft: &UserDraft,
        created: i64,
        now: i64,
        version: u64,
        scim_managed: bool,
    ) -> Self {
        UserRecord {
            ord,
            id,
            user_name: draft.user_name.clone().into(),
            external_id: draft.external_id.clone().map(Into::into),
            active: draft.active,
            emails: draft
                .emails
                .iter()
                .map(|e| e.to_lowercase().into_boxed_str())
                .collect(),
            license: draft.license.clone().map(Into::into),
            user_type: draft.user_type.clone().map(Into::into),
            body: draft.body.as_str().into(),
            created,
            modified: now,
            version,
            scim_managed,
        }
    }
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

impl GroupRecord {
    /// A group with only the fields every record needs; the others at their defaults
    /// (as for [`UserRecord::new`]).
    pub fn new(ord: u32, id: impl Into<Arc<str>>, display_name: impl Into<Box<str>>) -> Self {
        GroupRecord {
            ord,
            id: id.into(),
            display_name: display_name.into(),
            external_id: None,
            body: Body::new("{}"),
            created: 0,
            modified: 0,
            version: 1,
            scim_managed: false,
        }
    }

    /// The record a change makes from a draft, `modified` at `now`.
    pub fn from_draft(
        ord: u32,
        id: Arc<str>,
        draft: &GroupDraft,
        created: i64,
        now: i64,
        version: u64,
        scim_managed: bool,
    ) -> Self {
        GroupRecord {
            ord,
            id,
            display_name: draft.display_name.clone().into(),
            external_id: draft.external_id.clone().map(Into::into),
            body: draft.body.as_str().into(),
            created,
            modified: now,
            version,
            scim_managed,
        }
    }
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
