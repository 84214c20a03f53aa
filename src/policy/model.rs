//! The compiled policy model: routes, their upstream settings, rules, and decisions.
//!
//! These types are what the rest of scimgate reads: the proxy forwards by
//! [`RouteSettings`], the gate asks [`crate::policy::PolicySet::decide`] and gets a
//! [`Decision`] naming the rule that made it. Parsing and compiling live beside this file.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};

use crate::directory::Directory;

/// How a route forwards (everything but who may use it).
#[derive(Clone)]
pub struct RouteSettings {
    /// Base URI of the upstream (`http://127.0.0.1:8081`, `https://cloud.getdbt.com/base`);
    /// the request path (after `strip_prefix`) is appended to its path.
    pub upstream: Uri,
    /// Removed from the front of the normalised path before forwarding.
    pub strip_prefix: Option<String>,
    /// Headers set on every upstream request (values resolved from `${env:..}` /
    /// `${file:..}`, marked sensitive). When one is `authorization`, the client's own
    /// `Authorization` is removed.
    pub inject: Vec<(HeaderName, HeaderValue)>,
    /// Keep idle upstream connections for reuse (false for `dbt docs serve`).
    pub keep_alive: bool,
    /// Most requests in flight to the upstream at once (`None`: unbounded).
    pub max_concurrency: Option<usize>,
    /// Time to connect to the upstream.
    pub connect_timeout: Duration,
    /// Time from sending the request to receiving the response head.
    pub response_timeout: Duration,
    /// How long a body may make no progress (the client reads nothing of the response
    /// or sends nothing of the request) before it is cut and its permit released
    /// (`timeouts.stream_idle`; `None`: the server's `stream_idle_timeout_seconds`).
    pub stream_idle_timeout: Option<Duration>,
    /// How long a websocket tunnel may carry nothing before it is closed
    /// (`timeouts.websocket_idle`; `None`: the server's default).
    pub websocket_idle_timeout: Option<Duration>,
    /// Compress eligible responses (br or gzip) for clients that accept it
    /// (`compress:`; on by default for `preset: dbt-docs`).
    pub compress: bool,
    /// Send the client's Host upstream instead of the upstream's authority.
    pub preserve_host: bool,
    /// Let ambiguous paths (encoded `/` or `\`, NUL, `%23`, `;`) through instead of 400.
    pub allow_ambiguous_paths: bool,
    /// Speak HTTP/2 without TLS to an `http://` upstream (prior knowledge).
    pub upstream_h2c: bool,
    /// Extra PEM file of CA certificates trusted for an `https://` upstream.
    pub upstream_ca_file: Option<std::path::PathBuf>,
    /// Pass the caller's bearer JWT upstream (by default it is removed, like the
    /// session cookie: the upstream gets the identity headers and the assertion).
    pub forward_bearer_token: bool,
}

impl std::fmt::Debug for RouteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSettings")
            .field("upstream", &self.upstream)
            .field("strip_prefix", &self.strip_prefix)
            .field(
                "inject",
                &self
                    .inject
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("keep_alive", &self.keep_alive)
            .field("max_concurrency", &self.max_concurrency)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("stream_idle_timeout", &self.stream_idle_timeout)
            .field("websocket_idle_timeout", &self.websocket_idle_timeout)
            .field("compress", &self.compress)
            .field("preserve_host", &self.preserve_host)
            .field("allow_ambiguous_paths", &self.allow_ambiguous_paths)
            .field("upstream_h2c", &self.upstream_h2c)
            .field("forward_bearer_token", &self.forward_bearer_token)
            .finish()
    }
}

/// Who is asking, as the policy sees them. Groups are the directory's effective groups
/// (never token claims).
pub trait Subject {
    /// The SCIM `id`.
    fn id(&self) -> &str;
    /// The SCIM `userName`.
    fn user_name(&self) -> &str;
    /// E-mail addresses (lower-cased).
    fn emails(&self) -> &[Box<str>];
    /// The dbt license type, if the IdP pushed one.
    fn license(&self) -> Option<&str>;
    /// The SCIM `userType`, if any.
    fn user_type(&self) -> Option<&str>;
    /// The SCIM `externalId`, if any: on a dbt-platform route, the user's dbt user id.
    fn external_id(&self) -> Option<&str> {
        None
    }
    /// Whether the user is (directly or through nesting) in the group with this
    /// displayName (case-insensitive).
    fn in_group(&self, display_name: &str) -> bool;

    /// The directory state the user's groups were read from, when the subject comes
    /// from the live directory and was read between changes: lets a decision resolve
    /// the policy's group names once per state instead of once per rule. `None` (the
    /// default) makes every group check go through [`Subject::in_group`].
    fn directory_groups(&self) -> Option<DirectoryGroups<'_>> {
        None
    }
}

/// A subject's effective groups as one directory state holds them.
pub struct DirectoryGroups<'a> {
    pub directory: &'a Directory,
    /// The directory's change epoch the groups were read at (even).
    pub epoch: u64,
    /// Effective group ords, sorted.
    pub ords: &'a [u32],
}

/// What is being asked for: the method and the normalised path (never the query).
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub method: &'a Method,
    /// The normalised, decoded path used for matching (see `crate::path`).
    pub path: &'a str,
}

/// Where a decision came from, for logs, the audit record, `policy explain` and the
/// 403 page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// The route's name.
    pub route: Arc<str>,
    /// `allow[0]`, `deny[2]`, or the rule's own `name`; `default-deny` when no rule matched.
    pub rule: Arc<str>,
    /// `file:line` of the rule (or of the route for default deny).
    pub location: Arc<str>,
}

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    pub by: RuleRef,
}
