//! The dbt platform's permission *areas* (what a permission set grants read or write
//! on) and the access an operation needs.
//!
//! Areas are the rows of the dbt platform's permission tables (see `permissions`),
//! account-level rows and project-level rows apart; an operation of the API belongs
//! to exactly one. [`Level`] is what a permission set holds on an area,
//! ordered so that the most permissive of several grants is their maximum.

use std::fmt;

/// What an operation does to its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// The level a grant must hold for this access.
    pub fn needs(self) -> Level {
        match self {
            Access::Read => Level::Read,
            Access::Write => Level::Write,
        }
    }
}

/// What a permission set holds on an area: none < read < write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    None,
    Read,
    Write,
}

impl Level {
    /// The letter used in the reference table: `-`, `R`, `W`.
    pub fn letter(self) -> &'static str {
        match self {
            Level::None => "-",
            Level::Read => "R",
            Level::Write => "W",
        }
    }
}

/// Which of dbt's tables an area is a row of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// "Account access": rows about the account (account-level operations).
    Account,
    /// "Project access": rows about projects.
    Project,
}

macro_rules! areas {
    ($($variant:ident => $name:literal, $scope:ident, $row:literal, $doc:literal;)*) => {
        /// A dbt permission area: one row of dbt's permission tables.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Area {
            $(#[doc = $doc] $variant,)*
        }

        impl Area {
            /// Every area, in the reference table's order.
            pub const ALL: &'static [Area] = &[$(Area::$variant,)*];
            /// How many areas there are.
            pub const COUNT: usize = Area::ALL.len();

            /// The name shown in decisions, logs and the reference.
            pub fn name(self) -> &'static str {
                match self {
                    $(Area::$variant => $name,)*
                }
            }

            /// The table the area is a row of.
            pub fn scope(self) -> Scope {
                match self {
                    $(Area::$variant => Scope::$scope,)*
                }
            }

            /// The row's name as dbt's table writes it.
            pub fn row(self) -> &'static str {
                match self {
                    $(Area::$variant => $row,)*
                }
            }
        }
    };
}

areas! {
    AccountSettings => "account-settings", Account, "Account settings", "The account and its settings.";
    AuditLogs => "audit-logs", Account, "Audit logs", "The audit log and its exports.";
    AuthProvider => "auth-provider", Account, "Auth provider", "SSO/OAuth configurations, SCIM configuration and discovery.";
    Billing => "billing", Account, "Billing", "Billing (no Admin API operation).";
    AccountConnections => "account-connections", Account, "Connections", "Account-level connections, encryption keys, the adapter schema.";
    Groups => "groups", Account, "Groups", "Groups (including SCIM groups).";
    Invitations => "invitations", Account, "Invitations", "Invitations.";
    IpRestrictions => "ip-restrictions", Account, "IP restrictions", "IP restrictions and private endpoints.";
    Licenses => "licenses", Account, "Licenses", "Licenses and license maps.";
    MarketplaceApp => "marketplace-app", Account, "Marketplace app", "Marketplace apps (no Admin API operation).";
    Members => "members", Account, "Members", "Account members (including SCIM users), group assignment, other users' credentials and API keys.";
    ProjectCreate => "project-create", Account, "Project (create)", "Creating a project.";
    PublicModels => "public-models", Account, "Public models", "Public models (no Admin API operation).";
    ServiceTokens => "service-tokens", Account, "Service tokens", "Service tokens.";
    Webhooks => "webhooks", Account, "Webhooks", "Webhook subscriptions and their deliveries.";
    EnvironmentCredentials => "environment-credentials", Project, "Environment credentials", "Project (deployment) credentials.";
    CostManagement => "cost-management", Project, "Cost Management", "Cost Management (no Admin API operation).";
    CustomEnvVariables => "custom-env-variables", Project, "Custom env. variables", "Custom environment variables (environment-level and personal overrides).";
    DataPlatformConfigs => "data-platform-configs", Project, "Data platform configurations", "A project's connections and adapters.";
    Develop => "develop", Project, "Develop (IDE or CLI)", "Developing; through the API, the caller's own development credentials.";
    Environments => "environments", Project, "Environments", "Environments, extended attributes, profiles, the SAO cache.";
    FusionUpgrade => "fusion-upgrade", Project, "Fusion upgrade", "Fusion upgrades (no Admin API operation).";
    Jobs => "jobs", Project, "Jobs", "Job definitions and job notifications.";
    Metadata => "metadata", Project, "Metadata GraphQL API access", "The Discovery API, catalog favourites.";
    Permissions => "permissions", Project, "Permissions", "Group permissions (what a group may do on which projects).";
    Projects => "projects", Project, "Projects", "Projects (reading, editing, deleting), lineage integrations.";
    Repositories => "repositories", Project, "Repositories", "Git repositories, managed repositories.";
    Runs => "runs", Project, "Runs", "Runs and their artifacts: reading, triggering, cancelling, retrying.";
    SemanticLayerConfig => "semantic-layer-config", Project, "Semantic Layer config", "Semantic Layer configuration, credentials and queries.";
}

impl Area {
    /// The area's position in [`Area::ALL`] (for dense per-area tables).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}
