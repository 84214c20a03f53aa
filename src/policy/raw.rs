//! The policy file as written: serde structs that refuse unknown keys and keep the
//! position of every value a later check may need to point at.
//!
//! Nothing here is checked beyond its YAML type; [`super::compile`] turns these into
//! routes and rules and reports what is wrong with them.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::requestable::RawRequestable;
use super::yaml::Pairs;

/// A list whose position (and each item's) is kept.
pub(crate) type SpannedList = Spanned<Vec<Spanned<String>>>;

/// One file: `routes: [...]`, maybe `agents: {...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pub agents: Option<Spanned<RawAgents>>,
}

/// `agents: { user_types, access, routes }`: the cap on agent and service accounts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgents {
    pub user_types: SpannedList,
    #[serde(default)]
    pub access: Option<Spanned<String>>,
    #[serde(default)]
    pub routes: Option<SpannedList>,
}

/// One `grants` entry of a `preset: dbt-platform` route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrant {
    pub group: Spanned<String>,
    pub permission_set: Spanned<String>,
    #[serde(default)]
    pub projects: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    pub requestable: Option<Spanned<RawRequestable>>,
}

/// One route as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub name: Spanned<String>,
    #[serde(default)]
    pub preset: Option<Spanned<String>>,
    #[serde(rename = "match", default)]
    pub matcher: Option<Spanned<RawMatch>>,
    pub upstream: Spanned<String>,
    #[serde(default)]
    pub strip_prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub keep_alive: Option<bool>,
    #[serde(default)]
    pub max_concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    pub timeouts: Option<RawTimeouts>,
    #[serde(default)]
    pub compress: Option<bool>,
    #[serde(default)]
    pub preserve_host: Option<bool>,
    #[serde(default)]
    pub allow_ambiguous_paths: Option<bool>,
    #[serde(default)]
    pub upstream_h2c: Option<Spanned<bool>>,
    #[serde(default)]
    pub upstream_ca_file: Option<Spanned<String>>,
    #[serde(default)]
    pub forward_bearer_token: Option<bool>,
    #[serde(default)]
    pub inject: Pairs<Spanned<String>>,
    #[serde(default)]
    pub allow: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub deny: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub grants: Option<Spanned<Vec<Spanned<RawGrant>>>>,
    #[serde(default)]
    pub default_license: Option<Spanned<String>>,
    #[serde(default)]
    pub require_fresh_directory: Option<bool>,
    #[serde(default)]
    pub cache: Option<Spanned<String>>,
    #[serde(default)]
    pub rate_limit: Option<Spanned<super::rate_limit::RawRateLimit>>,
    #[serde(default)]
    pub step_up: Vec<Spanned<super::step_up::RawStepUp>>,
    #[serde(default)]
    pub session: Option<Spanned<super::step_up::RawSessionLimits>>,
    /// `preset: mcp`: tools that only read (what `agents: { access: read-only }` may call).
    #[serde(default)]
    pub read_only_tools: Option<SpannedList>,
    #[serde(default)]
    pub requests: Option<Spanned<Vec<Spanned<RawRequestable>>>>,
}

/// `match: { host, path }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    #[serde(default)]
    pub path: Option<Spanned<String>>,
}

/// `timeouts: { connect, response, stream_idle, websocket_idle }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    #[serde(default)]
    pub connect: Option<Spanned<String>>,
    #[serde(default)]
    pub response: Option<Spanned<String>>,
    #[serde(default)]
    pub stream_idle: Option<Spanned<String>>,
    #[serde(default)]
    pub websocket_idle: Option<Spanned<String>>,
}

/// One `allow` or `deny` rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub groups: Option<SpannedList>,
    #[serde(default)]
    pub users: Option<SpannedList>,
    #[serde(default)]
    pub licenses: Option<SpannedList>,
    #[serde(default)]
    pub user_types: Option<SpannedList>,
    #[serde(default)]
    pub everyone: Option<Spanned<bool>>,
    #[serde(default)]
    pub methods: Option<SpannedList>,
    #[serde(default)]
    pub paths: Option<SpannedList>,
    #[serde(default)]
    pub params: Option<Spanned<Pairs<SpannedList>>>,
    /// `preset: mcp`: the tools, resources and prompts the rule covers.
    #[serde(default)]
    pub tools: Option<SpannedList>,
    #[serde(default)]
    pub resources: Option<SpannedList>,
    #[serde(default)]
    pub prompts: Option<SpannedList>,
}
