//! The dbt platform's permission *areas* (what a permission set grants read or write
//! on) and the access an operation needs.
//!
//! Areas follow the rows of the dbt platform's permission tables; an operation of the
//! API belongs to exactly one. [`Level`] is what a permission set holds on an area,
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

macro_rules! areas {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// A dbt permission area.
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
        }
    };
}

areas! {
    AccountSettings => "account-settings", "The account itself and its settings.";
    Projects => "projects", "Projects (creating one is an account-level write), lineage integrations.";
    Environments => "environments", "Environments, their extended attributes, profiles and caches.";
    EnvironmentVariables => "environment-variables", "Custom environment variables.";
    Connections => "connections", "Warehouse connections, adapters and encryption keys.";
    Credentials => "credentials", "Warehouse credentials (deployment and development).";
    Repositories => "repositories", "Git repositories, managed repositories.";
    Jobs => "jobs", "Job definitions (create, edit, delete).";
    Runs => "runs", "Runs: reading them and their artifacts, triggering, cancelling, retrying.";
    Groups => "groups", "Groups and their permission assignments.";
    Users => "users", "Account members (including SCIM users).";
    Licenses => "licenses", "Licenses and license mappings.";
    Invites => "invites", "Invitations.";
    ServiceTokens => "service-tokens", "Service tokens.";
    PersonalTokens => "personal-tokens", "Personal (account) API keys.";
    Webhooks => "webhooks", "Webhook subscriptions and their deliveries.";
    AuditLogs => "audit-logs", "The audit log and its exports.";
    Notifications => "notifications", "Job notifications.";
    Security => "security", "IP restrictions, OAuth/SSO configuration, SCIM configuration, private endpoints.";
    Billing => "billing", "Billing (no Admin API operation; kept for the reference table).";
    SemanticLayerConfig => "semantic-layer-config", "Semantic Layer configuration and credentials.";
    Metadata => "metadata", "The Discovery (metadata) API, catalog favourites.";
    SemanticLayer => "semantic-layer", "Semantic Layer queries (GraphQL / JDBC over HTTP).";
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
