//! The operation catalogue: every operation of the dbt platform's Admin API v2 and v3,
//! and the GraphQL endpoints, each with the permission area it touches and whether it
//! reads or writes it.
//!
//! The table is the reference: one line per (method, path template), as the OpenAPI
//! specs write them (`tests/data/dbt-cloud-api/`; a test walks both specs and fails
//! on an operation missing here or an entry the specs do not have). A method alone
//! does not classify: object edits are `POST .../{id}/`, `POST .../jobs/{job_id}/run/`
//! triggers a run (a write of *runs*, not of *jobs*), an audit-log export is a read,
//! and GraphQL `POST`s are reads of the metadata or Semantic Layer areas. Areas are
//! the rows of dbt's documented tables (`permissions`); where no row names an
//! operation's object the choice is written in `policies/README.md` (job
//! notifications are *jobs*, private endpoints *ip-restrictions*, other users'
//! credentials and API keys *members*, Semantic Layer queries *semantic-layer-config*).

use super::area::{Access, Area};

use Access::{Read, Write};
use Area::*;
use Verb::*;

/// The HTTP method of an operation (HEAD is matched as GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl Verb {
    /// Every verb, in index order.
    pub const ALL: [Verb; 5] = [GET, POST, PUT, PATCH, DELETE];

    /// The verb of an HTTP method (`HEAD` reads as `GET`); `None` for others.
    pub fn of(method: &http::Method) -> Option<Verb> {
        Some(match *method {
            http::Method::GET | http::Method::HEAD => GET,
            http::Method::POST => POST,
            http::Method::PUT => PUT,
            http::Method::PATCH => PATCH,
            http::Method::DELETE => DELETE,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            GET => "GET",
            POST => "POST",
            PUT => "PUT",
            PATCH => "PATCH",
            DELETE => "DELETE",
        }
    }

    /// The verb's position in [`Verb::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a user-scoped operation (`/users/{user_id}/...`) is decided when the path's
/// user is the caller's own dbt user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnUser {
    /// Their own development credentials: needs the Develop (IDE or CLI) permission.
    Develop,
    /// Their own profile and API keys: any license with API access.
    Any,
}

/// One operation: method, path template (`{param}` is any one segment; a last
/// `{remainder}` is the rest of the path), area and access. A user-scoped operation
/// (`own_user` set) on another user than the caller needs write on its area
/// (members: user management) whatever its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub verb: Verb,
    pub path: &'static str,
    pub area: Area,
    pub access: Access,
    pub own_user: Option<OwnUser>,
}

const fn op(verb: Verb, path: &'static str, area: Area, access: Access) -> Operation {
    Operation {
        verb,
        path,
        area,
        access,
        own_user: None,
    }
}

const fn user_op(
    verb: Verb,
    path: &'static str,
    area: Area,
    access: Access,
    own: OwnUser,
) -> Operation {
    Operation {
        verb,
        path,
        area,
        access,
        own_user: Some(own),
    }
}

/// The Discovery API (metadata) GraphQL endpoints: queries are reads.
pub const DISCOVERY_GRAPHQL: &[Operation] = &[
    op(POST, "/graphql", Metadata, Read),
    op(POST, "/beta/graphql", Metadata, Read),
    op(GET, "/graphql", Metadata, Read),
];

/// The Semantic Layer GraphQL endpoint: queries are reads.
pub const SEMANTIC_LAYER_GRAPHQL: &[Operation] = &[
    op(POST, "/api/graphql", SemanticLayerConfig, Read),
    op(GET, "/api/graphql", SemanticLayerConfig, Read),
];

/// Admin API v2 (jobs, runs and the account objects it still carries).
#[rustfmt::skip]
pub const ADMIN_V2: &[Operation] = &[
    op(GET, "/api/v2/accounts/", AccountSettings, Read),
    op(GET, "/api/v2/accounts/{account_id}/", AccountSettings, Read),
    op(POST, "/api/v2/accounts/{account_id}/", AccountSettings, Write),
    op(PATCH, "/api/v2/accounts/{account_id}/", AccountSettings, Write),
    op(GET, "/api/v2/accounts/{account_id}/encryptions/", AccountConnections, Read),
    op(POST, "/api/v2/accounts/{account_id}/encryptions/", AccountConnections, Write),
    op(GET, "/api/v2/accounts/{account_id}/encryptions/{id}/", AccountConnections, Read),
    op(POST, "/api/v2/accounts/{account_id}/encryptions/{id}/", AccountConnections, Write),
    op(DELETE, "/api/v2/accounts/{account_id}/encryptions/{id}/", AccountConnections, Write),
    op(GET, "/api/v2/accounts/{account_id}/environments/", Environments, Read),
    op(POST, "/api/v2/accounts/{account_id}/environments/", Environments, Write),
    op(GET, "/api/v2/accounts/{account_id}/environments/{id}/", Environments, Read),
    op(POST, "/api/v2/accounts/{account_id}/environments/{id}/", Environments, Write),
    op(DELETE, "/api/v2/accounts/{account_id}/environments/{id}/", Environments, Write),
    op(GET, "/api/v2/accounts/{account_id}/invites/", Invitations, Read),
    op(GET, "/api/v2/accounts/{account_id}/invites/{id}/", Invitations, Read),
    op(GET, "/api/v2/accounts/{account_id}/jobs/", Jobs, Read),
    op(POST, "/api/v2/accounts/{account_id}/jobs/", Jobs, Write),
    op(GET, "/api/v2/accounts/{account_id}/jobs/{job_id}/artifacts/{remainder}", Runs, Read),
    op(POST, "/api/v2/accounts/{account_id}/jobs/{job_id}/rerun/", Runs, Write),
    op(POST, "/api/v2/accounts/{account_id}/jobs/{job_id}/run/", Runs, Write),
    op(GET, "/api/v2/accounts/{account_id}/jobs/{id}/", Jobs, Read),
    op(POST, "/api/v2/accounts/{account_id}/jobs/{id}/", Jobs, Write),
    op(DELETE, "/api/v2/accounts/{account_id}/jobs/{id}/", Jobs, Write),
    op(GET, "/api/v2/accounts/{account_id}/licenses/", Licenses, Read),
    op(GET, "/api/v2/accounts/{account_id}/notifications/", Jobs, Read),
    op(POST, "/api/v2/accounts/{account_id}/notifications/", Jobs, Write),
    op(GET, "/api/v2/accounts/{account_id}/notifications/{id}/", Jobs, Read),
    op(POST, "/api/v2/accounts/{account_id}/notifications/{id}/", Jobs, Write),
    op(DELETE, "/api/v2/accounts/{account_id}/notifications/{id}/", Jobs, Write),
    op(POST, "/api/v2/accounts/{account_id}/permissions/{id}/", Permissions, Write),
    op(GET, "/api/v2/accounts/{account_id}/projects/", Projects, Read),
    op(POST, "/api/v2/accounts/{account_id}/projects/", ProjectCreate, Write),
    op(GET, "/api/v2/accounts/{account_id}/projects/{id}/", Projects, Read),
    op(POST, "/api/v2/accounts/{account_id}/projects/{id}/", Projects, Write),
    op(DELETE, "/api/v2/accounts/{account_id}/projects/{id}/", Projects, Write),
    op(GET, "/api/v2/accounts/{account_id}/repositories/", Repositories, Read),
    op(POST, "/api/v2/accounts/{account_id}/repositories/", Repositories, Write),
    op(GET, "/api/v2/accounts/{account_id}/repositories/{id}/", Repositories, Read),
    op(DELETE, "/api/v2/accounts/{account_id}/repositories/{id}/", Repositories, Write),
    op(GET, "/api/v2/accounts/{account_id}/runs/", Runs, Read),
    op(GET, "/api/v2/accounts/{account_id}/runs/{id}/", Runs, Read),
    op(GET, "/api/v2/accounts/{account_id}/runs/{run_id}/artifacts/", Runs, Read),
    op(GET, "/api/v2/accounts/{account_id}/runs/{run_id}/artifacts/{remainder}", Runs, Read),
    op(POST, "/api/v2/accounts/{account_id}/runs/{run_id}/cancel/", Runs, Write),
    op(GET, "/api/v2/accounts/{account_id}/runs/{run_id}/retry/", Runs, Read),
    op(POST, "/api/v2/accounts/{account_id}/runs/{run_id}/retry/", Runs, Write),
    op(GET, "/api/v2/accounts/{account_id}/steps/{id}/", Runs, Read),
    op(GET, "/api/v2/accounts/{account_id}/users/", Members, Read),
    op(POST, "/api/v2/notifications/unsubscribe/", Jobs, Write),
    user_op(GET, "/api/v2/users/{id}/", Members, Read, OwnUser::Any),
    user_op(POST, "/api/v2/users/{id}/", Members, Write, OwnUser::Any),
];

/// Admin API v3.
#[rustfmt::skip]
pub const ADMIN_V3: &[Operation] = &[
    op(GET, "/api/v3/accounts/", AccountSettings, Read),
    op(POST, "/api/v3/accounts/{account_id}/assign-groups/", Members, Write),
    op(GET, "/api/v3/accounts/{account_id}/audit-logs/", AuditLogs, Read),
    op(GET, "/api/v3/accounts/{account_id}/audit-logs/download/", AuditLogs, Read),
    op(GET, "/api/v3/accounts/{account_id}/audit-logs/export/", AuditLogs, Read),
    op(POST, "/api/v3/accounts/{account_id}/audit-logs/export/", AuditLogs, Read),
    op(GET, "/api/v3/accounts/{account_id}/audit-logs/export/{job_identifier}/download/", AuditLogs, Read),
    op(GET, "/api/v3/accounts/{account_id}/connections/", AccountConnections, Read),
    op(POST, "/api/v3/accounts/{account_id}/connections/", AccountConnections, Write),
    op(GET, "/api/v3/accounts/{account_id}/connections/{id}/", AccountConnections, Read),
    op(PATCH, "/api/v3/accounts/{account_id}/connections/{id}/", AccountConnections, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/connections/{id}/", AccountConnections, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/environments/{environment_id}/sao-cache/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/favorite-assets/", Metadata, Read),
    op(POST, "/api/v3/accounts/{account_id}/group-permissions/{group_id}/", Permissions, Write),
    op(GET, "/api/v3/accounts/{account_id}/groups/", Groups, Read),
    op(POST, "/api/v3/accounts/{account_id}/groups/", Groups, Write),
    op(GET, "/api/v3/accounts/{account_id}/groups/{id}/", Groups, Read),
    op(POST, "/api/v3/accounts/{account_id}/groups/{id}/", Groups, Write),
    op(POST, "/api/v3/accounts/{account_id}/invites/", Invitations, Write),
    op(GET, "/api/v3/accounts/{account_id}/ip-restrictions/", IpRestrictions, Read),
    op(POST, "/api/v3/accounts/{account_id}/ip-restrictions/", IpRestrictions, Write),
    op(POST, "/api/v3/accounts/{account_id}/ip-restrictions-set/", IpRestrictions, Write),
    op(GET, "/api/v3/accounts/{account_id}/ip-restrictions-set/{id}/validate/", IpRestrictions, Read),
    op(GET, "/api/v3/accounts/{account_id}/ip-restrictions-set/{id}/validate/{rule_id}", IpRestrictions, Read),
    op(GET, "/api/v3/accounts/{account_id}/ip-restrictions/{id}", IpRestrictions, Read),
    op(PUT, "/api/v3/accounts/{account_id}/ip-restrictions/{id}", IpRestrictions, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/ip-restrictions/{id}", IpRestrictions, Write),
    op(GET, "/api/v3/accounts/{account_id}/license-maps/", Licenses, Read),
    op(POST, "/api/v3/accounts/{account_id}/license-maps/", Licenses, Write),
    op(GET, "/api/v3/accounts/{account_id}/license-maps/{id}/", Licenses, Read),
    op(POST, "/api/v3/accounts/{account_id}/license-maps/{id}/", Licenses, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/license-maps/{id}/", Licenses, Write),
    op(GET, "/api/v3/accounts/{account_id}/oauth-configurations/", AuthProvider, Read),
    op(POST, "/api/v3/accounts/{account_id}/oauth-configurations/", AuthProvider, Write),
    op(GET, "/api/v3/accounts/{account_id}/oauth-configurations/{id}/", AuthProvider, Read),
    op(POST, "/api/v3/accounts/{account_id}/oauth-configurations/{id}/", AuthProvider, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/oauth-configurations/{id}/", AuthProvider, Write),
    op(GET, "/api/v3/accounts/{account_id}/private-endpoints/", IpRestrictions, Read),
    op(POST, "/api/v3/accounts/{account_id}/private-endpoints/", IpRestrictions, Write),
    op(GET, "/api/v3/accounts/{account_id}/private-endpoints/{pl_endpoint_ksuid}/", IpRestrictions, Read),
    op(PATCH, "/api/v3/accounts/{account_id}/private-endpoints/{pl_endpoint_ksuid}/", IpRestrictions, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/private-endpoints/{pl_endpoint_ksuid}/", IpRestrictions, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/", Projects, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/", ProjectCreate, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{id}/", Projects, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{id}/", Projects, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{id}/", Projects, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/adapters/", DataPlatformConfigs, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/adapters/{id}/", DataPlatformConfigs, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/adapters/{id}/", DataPlatformConfigs, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/adapters/{id}/", DataPlatformConfigs, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/connections/", DataPlatformConfigs, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/connections/", DataPlatformConfigs, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/connections/{id}/", DataPlatformConfigs, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/connections/{id}/", DataPlatformConfigs, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/connections/{id}/", DataPlatformConfigs, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/", EnvironmentCredentials, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/", EnvironmentCredentials, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/{id}/", EnvironmentCredentials, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/{id}/", EnvironmentCredentials, Write),
    op(PATCH, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/{id}/", EnvironmentCredentials, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/credentials/{id}/", EnvironmentCredentials, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/", CustomEnvVariables, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/{id}/", CustomEnvVariables, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/{id}/", CustomEnvVariables, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/bulk/", CustomEnvVariables, Write),
    op(PUT, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/bulk/", CustomEnvVariables, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/bulk/", CustomEnvVariables, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/environment/", CustomEnvVariables, Read),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/job/", CustomEnvVariables, Read),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/environment-variables/user/", CustomEnvVariables, Read),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/environments/", Environments, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/environments/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/environments/{id}/", Environments, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/environments/{id}/", Environments, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/environments/{id}/", Environments, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/extended-attributes/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/extended-attributes/{id}/", Environments, Read),
    op(PATCH, "/api/v3/accounts/{account_id}/projects/{project_id}/extended-attributes/{id}/", Environments, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/extended-attributes/{id}/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/", Projects, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/", Projects, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/", Projects, Read),
    op(PATCH, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/", Projects, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/", Projects, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/collections/", Projects, Read),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/collections/{collection_id}/", Projects, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/integrations/lineage/{id}/selections", Projects, Write),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/managed-repositories/", Repositories, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/managed-repositories/{repository_id}/download/", Repositories, Read),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/profiles/", Environments, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/profiles/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/profiles/{id}/", Environments, Read),
    op(PATCH, "/api/v3/accounts/{account_id}/projects/{project_id}/profiles/{id}/", Environments, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/profiles/{id}/", Environments, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/repositories/", Repositories, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/repositories/", Repositories, Write),
    op(GET, "/api/v3/accounts/{account_id}/projects/{project_id}/repositories/{id}/", Repositories, Read),
    op(POST, "/api/v3/accounts/{account_id}/projects/{project_id}/repositories/{id}/", Repositories, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/projects/{project_id}/repositories/{id}/", Repositories, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim-config/", AuthProvider, Read),
    op(POST, "/api/v3/accounts/{account_id}/scim-config/", AuthProvider, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim-config/tokens/", AuthProvider, Read),
    op(POST, "/api/v3/accounts/{account_id}/scim-config/tokens/", AuthProvider, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim-config/tokens/{id}/", AuthProvider, Read),
    op(DELETE, "/api/v3/accounts/{account_id}/scim-config/tokens/{id}/", AuthProvider, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Groups", Groups, Read),
    op(POST, "/api/v3/accounts/{account_id}/scim/v2/Groups", Groups, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Groups/{group_id}", Groups, Read),
    op(PUT, "/api/v3/accounts/{account_id}/scim/v2/Groups/{group_id}", Groups, Write),
    op(PATCH, "/api/v3/accounts/{account_id}/scim/v2/Groups/{group_id}", Groups, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/scim/v2/Groups/{group_id}", Groups, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/ResourceTypes", AuthProvider, Read),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/ResourceTypes/{resource_type}", AuthProvider, Read),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Schemas", AuthProvider, Read),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Schemas/{schema_uri}", AuthProvider, Read),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/ServiceProviderConfig", AuthProvider, Read),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Users", Members, Read),
    op(POST, "/api/v3/accounts/{account_id}/scim/v2/Users", Members, Write),
    op(GET, "/api/v3/accounts/{account_id}/scim/v2/Users/{user_id}", Members, Read),
    op(PUT, "/api/v3/accounts/{account_id}/scim/v2/Users/{user_id}", Members, Write),
    op(PATCH, "/api/v3/accounts/{account_id}/scim/v2/Users/{user_id}", Members, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/scim/v2/Users/{user_id}", Members, Write),
    op(GET, "/api/v3/accounts/{account_id}/semantic-layer-credentials/", SemanticLayerConfig, Read),
    op(GET, "/api/v3/accounts/{account_id}/service-tokens/", ServiceTokens, Read),
    op(POST, "/api/v3/accounts/{account_id}/service-tokens/", ServiceTokens, Write),
    op(GET, "/api/v3/accounts/{account_id}/service-tokens/{id}/", ServiceTokens, Read),
    op(PUT, "/api/v3/accounts/{account_id}/service-tokens/{id}/", ServiceTokens, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/service-tokens/{id}/", ServiceTokens, Write),
    op(GET, "/api/v3/accounts/{account_id}/service-tokens/{service_token_id}/permissions/", ServiceTokens, Read),
    op(GET, "/api/v3/accounts/{account_id}/users/", Members, Read),
    op(GET, "/api/v3/accounts/{account_id}/users/{id}/", Members, Read),
    user_op(GET, "/api/v3/accounts/{account_id}/users/{user_id}/account-apikeys/", Members, Read, OwnUser::Any),
    user_op(POST, "/api/v3/accounts/{account_id}/users/{user_id}/account-apikeys/", Members, Write, OwnUser::Any),
    user_op(GET, "/api/v3/accounts/{account_id}/users/{user_id}/account-apikeys/{id}/", Members, Read, OwnUser::Any),
    user_op(POST, "/api/v3/accounts/{account_id}/users/{user_id}/account-apikeys/{id}/", Members, Write, OwnUser::Any),
    user_op(DELETE, "/api/v3/accounts/{account_id}/users/{user_id}/account-apikeys/{id}/", Members, Write, OwnUser::Any),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/event/{event_id}", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/event/{event_id}/receipts", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/receipt/{receipt_id}", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}", Webhooks, Read),
    op(PUT, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}", Webhooks, Write),
    op(DELETE, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}", Webhooks, Write),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}/event/{event_id}/receipt", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}/events", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/subscription/{subscription_id}/test", Webhooks, Read),
    op(GET, "/api/v3/accounts/{account_id}/webhooks/subscriptions", Webhooks, Read),
    op(POST, "/api/v3/accounts/{account_id}/webhooks/subscriptions", Webhooks, Write),
    op(GET, "/api/v3/adapter-schema/", AccountConnections, Read),
    user_op(GET, "/api/v3/users/{user_id}/credentials/", Members, Read, OwnUser::Develop),
    user_op(POST, "/api/v3/users/{user_id}/credentials/", Members, Write, OwnUser::Develop),
    user_op(GET, "/api/v3/users/{user_id}/credentials/{id}/", Members, Read, OwnUser::Develop),
    user_op(POST, "/api/v3/users/{user_id}/credentials/{id}/", Members, Write, OwnUser::Develop),
    user_op(DELETE, "/api/v3/users/{user_id}/credentials/{id}/", Members, Write, OwnUser::Develop),
];

/// Every operation the preset knows: Admin v2, Admin v3, then the GraphQL endpoints.
pub fn all() -> impl Iterator<Item = &'static Operation> {
    ADMIN_V2
        .iter()
        .chain(ADMIN_V3)
        .chain(DISCOVERY_GRAPHQL)
        .chain(SEMANTIC_LAYER_GRAPHQL)
}
