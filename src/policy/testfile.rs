//! `policy test` files: fixture users and cases, so a policy can be tested without a
//! live directory.
//!
//! ```yaml
//! users:
//!   - { userName: alice, groups: [finance-analysts], license: developer }
//! cases:
//!   - { name: analysts read, who: alice, request: "GET https://docs.example.com/", expect: allow }
//! ```
//! A fixture user's `groups` are their effective groups (nesting is not modelled).

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::Subject;
use super::rule::eq_lower;

/// A whole test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestFile {
    #[serde(default)]
    pub users: Vec<Spanned<FixtureUser>>,
    #[serde(default)]
    pub cases: Vec<Spanned<TestCase>>,
}

/// A user as a test file describes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixtureUser {
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(rename = "userType", default)]
    pub user_type: Option<String>,
    /// The SCIM `externalId` (on a dbt-platform route, the user's dbt user id).
    #[serde(rename = "externalId", default)]
    pub external_id: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub emails: Vec<String>,
}

fn yes() -> bool {
    true
}

/// What a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Expect {
    Allow,
    Deny,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestCase {
    pub name: String,
    /// A fixture `userName`.
    pub who: String,
    /// `METHOD URL`.
    pub request: String,
    pub expect: Expect,
    /// The deciding rule expected (`deny[0]`, a rule name, `default-deny`, ...).
    #[serde(default)]
    pub rule: Option<String>,
    /// The route expected to be chosen.
    #[serde(default)]
    pub route: Option<String>,
    /// The groups `who` could request that would allow the request (any order;
    /// `[]`: none).
    #[serde(default)]
    pub requestable: Option<Vec<String>>,
}

/// A fixture user presented to the rules.
#[derive(Debug)]
pub(crate) struct FixtureSubject {
    pub user_name: String,
    pub emails: Vec<Box<str>>,
    pub license: Option<String>,
    pub user_type: Option<String>,
    pub external_id: Option<String>,
    /// Caseless keys ([`crate::ident`]).
    pub groups: Vec<String>,
    pub active: bool,
}

impl From<&FixtureUser> for FixtureSubject {
    fn from(u: &FixtureUser) -> Self {
        FixtureSubject {
            user_name: u.user_name.clone(),
            emails: u.emails.iter().map(|e| e.to_lowercase().into()).collect(),
            license: u.license.clone(),
            user_type: u.user_type.clone(),
            external_id: u.external_id.clone(),
            groups: u
                .groups
                .iter()
                .map(|g| crate::ident::caseless_key(g))
                .collect(),
            active: u.active,
        }
    }
}

impl Subject for FixtureSubject {
    fn id(&self) -> &str {
        &self.user_name
    }

    fn user_name(&self) -> &str {
        &self.user_name
    }

    fn emails(&self) -> &[Box<str>] {
        &self.emails
    }

    fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }

    fn user_type(&self) -> Option<&str> {
        self.user_type.as_deref()
    }

    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    fn in_group(&self, display_name: &str) -> bool {
        self.groups.iter().any(|g| eq_lower(display_name, g))
    }
}
