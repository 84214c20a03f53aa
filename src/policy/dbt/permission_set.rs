//! The dbt platform's permission sets, each as a table of area → none/read/write.
//!
//! Account-level sets (account_admin, account_viewer, security_admin, billing_admin,
//! project_creator) cover the account's own surfaces (account settings, groups, users,
//! licenses, invites, tokens, audit log, security, billing) and, for admin and viewer,
//! every project; project-level sets cover only project surfaces. The rows follow the dbt
//! platform's permission documentation; where it is silent or ambiguous the choice is
//! written in `policies/README.md` (developers read jobs but do not edit them; a team
//! admin's team management has no project-scoped API surface; billing has no
//! Admin API operation, so billing_admin reaches only the account's settings).

use std::fmt;

use super::area::{Area, Level};

use Area::*;
use Level::{Read as R, Write as W};

macro_rules! sets {
    ($($variant:ident => $name:literal;)*) => {
        /// A dbt permission set.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum PermissionSet {
            $($variant,)*
        }

        impl PermissionSet {
            /// Every set, in the reference table's order.
            pub const ALL: &'static [PermissionSet] = &[$(PermissionSet::$variant,)*];

            /// The name written in a policy file.
            pub fn name(self) -> &'static str {
                match self {
                    $(PermissionSet::$variant => $name,)*
                }
            }
        }
    };
}

sets! {
    AccountAdmin => "account_admin";
    AccountViewer => "account_viewer";
    Admin => "admin";
    Developer => "developer";
    Analyst => "analyst";
    DatabaseAdmin => "database_admin";
    GitAdmin => "git_admin";
    TeamAdmin => "team_admin";
    JobAdmin => "job_admin";
    JobRunner => "job_runner";
    JobViewer => "job_viewer";
    Stakeholder => "stakeholder";
    MetadataOnly => "metadata_only";
    SemanticLayerOnly => "semantic_layer_only";
    WebhooksOnly => "webhooks_only";
    SecurityAdmin => "security_admin";
    BillingAdmin => "billing_admin";
    ProjectCreator => "project_creator";
    ReadOnly => "read-only";
}

/// account_viewer: read on every area but credentials and personal tokens (secrets).
#[rustfmt::skip]
const ACCOUNT_VIEWER: &[(Area, Level)] = &[
    (AccountSettings, R), (Projects, R), (Environments, R), (EnvironmentVariables, R),
    (Connections, R), (Repositories, R), (Jobs, R), (Runs, R), (Groups, R), (Users, R),
    (Licenses, R), (Invites, R), (ServiceTokens, R), (Webhooks, R), (AuditLogs, R),
    (Notifications, R), (Security, R), (Billing, R), (SemanticLayerConfig, R),
    (Metadata, R), (SemanticLayer, R),
];

impl PermissionSet {
    /// Parses a policy file's `permission_set`.
    pub fn parse(text: &str) -> Result<PermissionSet, String> {
        PermissionSet::ALL
            .iter()
            .copied()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = PermissionSet::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown permission_set `{text}` (one of: {})",
                    names.join(", ")
                )
            })
    }

    /// The areas this set reaches and how; an area not listed is `none`.
    #[rustfmt::skip]
    pub fn table(self) -> &'static [(Area, Level)] {
        match self {
            PermissionSet::AccountAdmin => &[
                (AccountSettings, W), (Projects, W), (Environments, W), (EnvironmentVariables, W),
                (Connections, W), (Credentials, W), (Repositories, W), (Jobs, W), (Runs, W),
                (Groups, W), (Users, W), (Licenses, W), (Invites, W), (ServiceTokens, W),
                (PersonalTokens, W), (Webhooks, W), (AuditLogs, R), (Notifications, W),
                (Security, W), (Billing, W), (SemanticLayerConfig, W), (Metadata, R),
                (SemanticLayer, R),
            ],
            PermissionSet::AccountViewer => ACCOUNT_VIEWER,
            PermissionSet::Admin => &[
                (Projects, W), (Environments, W), (EnvironmentVariables, W), (Connections, W),
                (Credentials, W), (Repositories, W), (Jobs, W), (Runs, W), (Webhooks, W),
                (Notifications, W), (SemanticLayerConfig, W), (Metadata, R), (SemanticLayer, R),
            ],
            PermissionSet::Developer => &[
                (Projects, W), (Environments, R), (EnvironmentVariables, W), (Connections, R),
                (Credentials, W), (Repositories, R), (Jobs, R), (Runs, W), (Webhooks, W),
                (Notifications, W), (SemanticLayerConfig, R), (Metadata, R), (SemanticLayer, R),
            ],
            PermissionSet::Analyst => &[
                (Projects, W), (Environments, R), (EnvironmentVariables, W), (Connections, R),
                (Credentials, W), (Jobs, R), (Runs, W), (Notifications, W),
                (SemanticLayerConfig, R), (Metadata, R), (SemanticLayer, R),
            ],
            PermissionSet::DatabaseAdmin => &[
                (Projects, W), (Environments, R), (EnvironmentVariables, W), (Connections, W),
                (Credentials, W), (Repositories, R), (Jobs, R), (Runs, W),
                (SemanticLayerConfig, W), (Metadata, R), (SemanticLayer, R),
            ],
            PermissionSet::GitAdmin => &[
                (Projects, W), (Environments, R), (EnvironmentVariables, W), (Connections, R),
                (Credentials, R), (Repositories, W), (Jobs, R), (Runs, R),
                (SemanticLayerConfig, R), (Metadata, R),
            ],
            PermissionSet::TeamAdmin => &[
                (Projects, W), (Environments, R), (EnvironmentVariables, W), (Connections, R),
                (Credentials, R), (Repositories, R), (Jobs, R), (Runs, R),
                (SemanticLayerConfig, R), (Metadata, R),
            ],
            PermissionSet::JobAdmin => &[
                (Projects, R), (Environments, W), (EnvironmentVariables, W), (Connections, R),
                (Credentials, R), (Jobs, W), (Runs, W), (Webhooks, W), (Notifications, W),
                (SemanticLayerConfig, R), (Metadata, R),
            ],
            PermissionSet::JobRunner => &[(Jobs, R), (Runs, W)],
            PermissionSet::JobViewer => &[
                (Projects, R), (Environments, R), (EnvironmentVariables, R), (Jobs, R),
                (Runs, R), (Metadata, R),
            ],
            PermissionSet::Stakeholder => &[
                (Projects, R), (Environments, R), (EnvironmentVariables, R), (Connections, R),
                (Credentials, R), (Repositories, R), (Jobs, R), (Runs, R),
                (SemanticLayerConfig, R), (Metadata, R), (SemanticLayer, R),
            ],
            PermissionSet::MetadataOnly => &[(Metadata, R)],
            PermissionSet::SemanticLayerOnly => &[(SemanticLayer, R)],
            PermissionSet::WebhooksOnly => &[(Webhooks, W)],
            PermissionSet::SecurityAdmin => &[
                (AccountSettings, R), (AuditLogs, R), (Security, W), (Groups, W), (Users, W),
                (Licenses, W), (Invites, W), (ServiceTokens, R), (Projects, R),
            ],
            PermissionSet::BillingAdmin => &[(Billing, W), (AccountSettings, R)],
            PermissionSet::ProjectCreator => &[
                (AccountSettings, R), (Projects, W), (Environments, W), (EnvironmentVariables, W),
                (Connections, W), (Credentials, W), (Repositories, W), (Jobs, W), (Runs, W),
                (Notifications, W), (SemanticLayerConfig, W), (Metadata, R), (Groups, R),
                (Users, W), (Licenses, W), (Invites, W),
            ],
            PermissionSet::ReadOnly => &[
                (Projects, R), (Environments, R), (EnvironmentVariables, R),
                (Connections, R), (Repositories, R), (Jobs, R), (Runs, R),
                (SemanticLayerConfig, R), (Metadata, R), (SemanticLayer, R),
            ],
        }
    }

    /// The set's level on every area, indexed by [`Area::index`].
    pub fn levels(self) -> [Level; Area::COUNT] {
        let mut out = [Level::None; Area::COUNT];
        for &(area, level) in self.table() {
            out[area.index()] = level;
        }
        out
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
