//! The dbt platform's permission sets: dbt's names (those of the v3 API's
//! `PermissionSetEnum`), each read from its column of dbt's documented tables
//! ([`permissions`]).

use std::fmt;

use super::area::{Area, Level};
use super::permissions::{self, CellRef};

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
    Analyst => "analyst";
    AnalystRead => "analyst_read";
    BillingAdmin => "billing_admin";
    CostInsightsAdmin => "cost_insights_admin";
    CostInsightsViewer => "cost_insights_viewer";
    CostManagementAdmin => "cost_management_admin";
    CostManagementViewer => "cost_management_viewer";
    DatabaseAdmin => "database_admin";
    Developer => "developer";
    FusionAdmin => "fusion_admin";
    GitAdmin => "git_admin";
    JobAdmin => "job_admin";
    JobCreator => "job_creator";
    JobRunner => "job_runner";
    JobViewer => "job_viewer";
    ManageMarketplaceApps => "manage_marketplace_apps";
    Member => "member";
    MetadataOnly => "metadata_only";
    NotificationManager => "notification_manager";
    Owner => "owner";
    ProjectCreator => "project_creator";
    ReadOnly => "readonly";
    ScimOnly => "scim_only";
    SecurityAdmin => "security_admin";
    SemanticLayerOnly => "semantic_layer_only";
    Stakeholder => "stakeholder";
    TeamAdmin => "team_admin";
    WebhooksOnly => "webhooks_only";
}

/// Other spellings a policy file may write: `read-only` (the preset's earlier name).
const ALIASES: &[(&str, PermissionSet)] = &[("read-only", PermissionSet::ReadOnly)];

impl PermissionSet {
    /// Parses a policy file's `permission_set`: dbt's name of a set, or an alias.
    pub fn parse(text: &str) -> Result<PermissionSet, String> {
        PermissionSet::ALL
            .iter()
            .copied()
            .find(|s| s.name() == text)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == text).map(|(_, s)| *s))
            .ok_or_else(|| {
                let names: Vec<&str> = PermissionSet::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown permission_set `{text}` (one of: {}; `read-only` for readonly)",
                    names.join(", ")
                )
            })
    }

    /// The column of dbt's tables that documents this set, if one does: its own, or
    /// the one dbt's documentation gives it (`owner`: the Owner group's Account Admin;
    /// `readonly`: the "Stakeholder/Read-Only" column; `cost_insights_*`: the Cost
    /// Management columns, the sets' earlier names). `None` for sets dbt's tables
    /// do not document (`analyst_read`, `job_creator`, `notification_manager`,
    /// `member`, `scim_only`): they grant nothing.
    pub fn column(self) -> Option<&'static str> {
        use PermissionSet::*;
        match self {
            Owner => Some("account_admin"),
            ReadOnly => Some("stakeholder"),
            CostInsightsAdmin => Some("cost_management_admin"),
            CostInsightsViewer => Some("cost_management_viewer"),
            AnalystRead | JobCreator | NotificationManager | Member | ScimOnly => None,
            other => Some(other.name()),
        }
    }

    /// The documented cell that gives this set its level on `area`.
    pub fn cell(self, area: Area) -> Option<CellRef> {
        permissions::cell(self.column()?, area)
    }

    /// The set's level on every area, indexed by [`Area::index`], read from dbt's
    /// documented tables.
    pub fn levels(self) -> [Level; Area::COUNT] {
        match self.column() {
            Some(column) => permissions::levels(column),
            None => [Level::None; Area::COUNT],
        }
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
