//! A compiled route: where it matches, how it forwards, and its rules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::dbt::{self, DbtPlatformPolicy};
use super::docs_preset::{self, DocsPaths};
use super::error::{file_line, Problems};
use super::host::HostPattern;
use super::index::RuleIndex;
use super::model::{Decision, RequestFacts, RouteSettings, RuleRef};
use super::pattern::PathPattern;
use super::preset::Preset;
use super::raw::RawRoute;
use super::requestable::{self, Requestable};
use super::rule::{self, Rule, RuleContext, RuleKind};
use super::step_up::{self, AuthRequirements};
use super::values;
use super::yaml::at;
use super::DEFAULT_DENY;

/// Default time to connect to an upstream.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time from request to response head.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// One route of the policy set.
#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    /// What the route fronts, when it says (`preset:`).
    pub preset: Option<Preset>,
    pub settings: RouteSettings,
    /// `file:line` of the route.
    pub location: Arc<str>,
    pub(crate) file: Arc<str>,
    /// Line and column of the route in its file.
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) host: HostPattern,
    pub(crate) path: PathPattern,
    pub(crate) deny: Box<[Rule]>,
    pub(crate) allow: Box<[Rule]>,
    /// Which deny and allow rules a request may match (`super::index`).
    pub(crate) deny_index: RuleIndex,
    pub(crate) allow_index: RuleIndex,
    pub(crate) default_deny: RuleRef,
    /// With `preset: dbt-docs`, the only requests the route may pass.
    pub(crate) docs: Option<DocsPaths>,
    /// Grants and default license of a `preset: dbt-platform` route.
    pub(crate) dbt: Option<DbtPlatformPolicy>,
    /// `require_fresh_directory: true`: on a replica cut off from the shared store for
    /// longer than `store.postgres.max_stale_seconds`, answer 503 instead of deciding
    /// on possibly stale groups.
    pub require_fresh_directory: bool,
    /// What shared caches may do with the route's responses (`cache:`).
    pub cache: CacheMode,
    /// The token buckets of `rate_limit:` (none: unlimited).
    pub rate_limit: Option<super::rate_limit::RateLimits>,
    /// Step-up rules and session limits (`step_up:`, `session:`).
    pub auth: AuthRequirements,
    /// With `preset: mcp`, the tools a read-only agent may call (`read_only_tools:`).
    pub(crate) read_only_tools: Box<[super::mcp::NamePattern]>,
    /// With `preset: mcp`, what a refusal of a method the transport does not use reports.
    pub(crate) mcp_methods: Option<RuleRef>,
    /// Extra groups users may request on this route (`requests:`, `requestable:`).
    pub(crate) requests: Box<[Requestable]>,
}

/// `cache:` of a route: how the upstream's caching headers reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The default: responses are `private` (no shared cache keeps what only some
    /// users may see): `public` and `s-maxage` are dropped, `private` added.
    #[default]
    Private,
    /// The upstream's `Cache-Control` passes as it is (for content everyone may see).
    Upstream,
}

impl CacheMode {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "private" => Ok(CacheMode::Private),
            "upstream" => Ok(CacheMode::Upstream),
            other => Err(format!("cache `{other}`: expected private or upstream")),
        }
    }
}

impl Route {
    /// The `match.host` it answers.
    pub fn host_pattern(&self) -> &HostPattern {
        &self.host
    }

    /// The `match.path` it answers.
    pub fn path_pattern(&self) -> &PathPattern {
        &self.path
    }

    /// The file it was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// A denial on this route by a reason outside its rules (`unknown-user`,
    /// `inactive-user`), located at the route.
    pub fn deny_by(&self, reason: &str) -> Decision {
        Decision {
            allow: false,
            by: RuleRef {
                route: self.name.clone(),
                rule: Arc::from(reason),
                location: self.location.clone(),
            },
        }
    }

    /// The preset's refusal of this request to everyone, if it refuses it.
    pub(crate) fn preset_refusal(&self, req: RequestFacts<'_>) -> Option<&RuleRef> {
        let relative = || relative_path(self.settings.strip_prefix.as_deref(), req.path);
        let mcp = self
            .mcp_methods
            .as_ref()
            .filter(|_| !super::mcp::transport_method(req.method));
        self.docs
            .as_ref()
            .filter(|d| d.refuses(req.method, relative()))
            .map(|d| &d.by)
            .or(mcp)
    }

    /// With `preset: dbt-docs`, where a request for the bare `strip_prefix` should be
    /// redirected (`/finance` to `/finance/`, the query kept).
    pub fn docs_redirect(
        &self,
        matching: &str,
        forward: &str,
        query: Option<&str>,
    ) -> Option<String> {
        self.docs.as_ref()?;
        docs_preset::slash_redirect(
            self.settings.strip_prefix.as_deref(),
            matching,
            forward,
            query,
        )
    }

    /// The dbt-platform grants, on a `preset: dbt-platform` route.
    pub fn dbt_platform(&self) -> Option<&DbtPlatformPolicy> {
        self.dbt.as_ref()
    }

    /// The path a preset classifies: the normalised path less `strip_prefix`.
    pub fn preset_path<'p>(&self, path: &'p str) -> &'p str {
        relative_path(self.settings.strip_prefix.as_deref(), path).unwrap_or(path)
    }

    /// The extra groups users may request on this route, in file order.
    pub fn requestable(&self) -> &[Requestable] {
        &self.requests
    }

    /// Every rule: deny rules first, then allow rules.
    pub(crate) fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.deny.iter().chain(self.allow.iter())
    }
}

/// `path` less `prefix` (`/` for the bare prefix); `None` when `path` is not under
/// `prefix` (whole segments). Without a prefix, `path` itself.
pub(crate) fn relative_path<'p>(prefix: Option<&str>, path: &'p str) -> Option<&'p str> {
    let Some(prefix) = prefix else {
        return Some(path);
    };
    match path.strip_prefix(prefix)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// Compiles one route of `file`; problems go to `problems`.
pub(crate) fn compile(
    raw: &Spanned<RawRoute>,
    file: &Arc<str>,
    problems: &mut Problems<'_>,
) -> Option<Route> {
    let before = problems.list.len();
    let r = &raw.value;
    problems.check(at(&r.name), values::name("route name", &r.name.value));
    let name: Arc<str> = Arc::from(r.name.value.as_str());
    let preset = r
        .preset
        .as_ref()
        .map(|p| problems.check(at(p), Preset::parse(&p.value)));
    let dbt_platform = matches!(preset, Some(Some(Preset::DbtPlatform)));
    if !dbt_platform {
        if let Some(g) = &r.grants {
            problems.at(at(g), "`grants` are for routes with `preset: dbt-platform`");
        }
        if let Some(d) = &r.default_license {
            problems.at(
                at(d),
                "`default_license` is for routes with `preset: dbt-platform`",
            );
        }
    }
    let dbt = if dbt_platform {
        dbt::grant::compile(
            &name,
            r.grants.as_ref(),
            r.default_license.as_ref(),
            problems,
        )
    } else {
        None
    };
    let matcher = r.matcher.as_ref().map(|m| &m.value);
    let host = match matcher.and_then(|m| m.host.as_ref()) {
        Some(h) => problems.check(at(h), HostPattern::parse(&h.value)),
        None => Some(HostPattern::Any),
    };
    let path = match matcher.and_then(|m| m.path.as_ref()) {
        Some(p) => problems.check(at(p), PathPattern::parse(&p.value, false)),
        None => PathPattern::parse("/**", false).ok(),
    };
    let upstream = problems.check(at(&r.upstream), values::upstream(&r.upstream.value));
    let https = upstream
        .as_ref()
        .is_some_and(|u| u.scheme_str() == Some("https"));
    let strip_prefix = match (&r.strip_prefix, &path) {
        (Some(s), Some(p)) => problems.check(at(s), strip_prefix(&s.value, p)),
        _ => None,
    };
    let max_concurrency = match &r.max_concurrency {
        Some(m) if m.value <= 0 => {
            problems.at(at(m), "max_concurrency must be more than zero");
            None
        }
        Some(m) => usize::try_from(m.value).ok(),
        None => None,
    };
    let timeouts = r.timeouts.as_ref();
    let connect_timeout = timeouts
        .and_then(|t| t.connect.as_ref())
        .map_or(Some(DEFAULT_CONNECT_TIMEOUT), |d| {
            problems.check(at(d), values::duration(&d.value))
        });
    let response_timeout = timeouts
        .and_then(|t| t.response.as_ref())
        .map_or(Some(DEFAULT_RESPONSE_TIMEOUT), |d| {
            problems.check(at(d), values::duration(&d.value))
        });
    let stream_idle_timeout = timeouts
        .and_then(|t| t.stream_idle.as_ref())
        .map(|d| problems.check(at(d), values::duration(&d.value)));
    let websocket_idle_timeout = timeouts
        .and_then(|t| t.websocket_idle.as_ref())
        .map(|d| problems.check(at(d), values::duration(&d.value)));
    let upstream_h2c = r.upstream_h2c.as_ref().is_some_and(|h| h.value);
    if let Some(h) = &r.upstream_h2c {
        if h.value && https {
            problems.at(
                at(h),
                "upstream_h2c is for http:// upstreams (https negotiates HTTP/2 itself)",
            );
        }
    }
    if let Some(ca) = &r.upstream_ca_file {
        if ca.value.trim().is_empty() {
            problems.at(at(ca), "upstream_ca_file is empty");
        } else if upstream.is_some() && !https {
            problems.at(at(ca), "upstream_ca_file is for https:// upstreams");
        }
    }
    let cache = match &r.cache {
        Some(c) => problems.check(at(c), CacheMode::parse(&c.value)),
        None => Some(CacheMode::Private),
    };
    let docs = preset == Some(Some(Preset::DbtDocs));
    if let (true, Some(p), Some(raw_preset)) = (docs, &path, &r.preset) {
        // A strip_prefix that was itself refused is reported once, above.
        if strip_prefix.is_some() || r.strip_prefix.is_none() {
            problems.check(
                at(raw_preset),
                docs_preset::check_shape(p, strip_prefix.as_deref()),
            );
        }
    }
    let mut inject = Vec::new();
    for (key, value) in &r.inject.0 {
        let Some(header) = problems.check(at(key), values::header_name(&key.value)) else {
            continue;
        };
        if inject.iter().any(|(h, _)| *h == header) {
            problems.at(at(key), format!("inject: `{}` is given twice", key.value));
            continue;
        }
        if let Some(v) = problems.check(
            at(value),
            values::header_value(header.as_str(), &value.value),
        ) {
            inject.push((header, v));
        }
    }
    let rate_limit = r
        .rate_limit
        .as_ref()
        .map(|raw| super::rate_limit::compile(raw, &inject, problems));
    let auth = step_up::compile(&r.step_up, r.session.as_ref(), problems);
    let path = path?;
    let mcp = preset == Some(Some(Preset::Mcp));
    let ctx = RuleContext {
        route: &name,
        route_path: &path,
        mcp,
    };
    let read_only_tools = super::mcp::read_only_tools(r.read_only_tools.as_ref(), mcp, problems);
    let deny = compile_rules(&r.deny, RuleKind::Deny, &ctx, problems);
    let allow = compile_rules(&r.allow, RuleKind::Allow, &ctx, problems);
    let mut seen: Vec<(&Arc<str>, u64)> = Vec::new();
    for (rule, rule_at) in deny.iter().chain(allow.iter()) {
        match seen.iter().find(|(label, _)| **label == rule.by.rule) {
            Some((_, first_line)) => {
                let reason = format!(
                    "rule name `{}` is used twice in route `{name}` (also at line {first_line})",
                    rule.by.rule
                );
                problems.at(rule_at, reason);
            }
            None => seen.push((&rule.by.rule, rule_at.line())),
        }
    }
    let named: Vec<&str> = allow
        .iter()
        .flat_map(|(rule, _)| rule.group_names.iter())
        .chain(dbt.iter().flat_map(|d| d.grants.iter().map(|g| &g.group)))
        .map(|g| &**g)
        .collect();
    // Grants that were refused are reported already; their groups are unknown here.
    let named = (!dbt_platform || dbt.is_some()).then_some(named.as_slice());
    let requests = requestable::compile_route(&name, r, named, problems);
    if problems.list.len() > before {
        return None;
    }
    let deny: Box<[Rule]> = deny.into_iter().map(|(r, _)| r).collect();
    let allow: Box<[Rule]> = allow.into_iter().map(|(r, _)| r).collect();
    let location: Arc<str> = Arc::from(file_line(file, at(raw)));
    let docs = match (&r.preset, docs) {
        (Some(p), true) => Some(DocsPaths::new(
            name.clone(),
            Arc::from(file_line(file, at(p))),
        )),
        _ => None,
    };
    // (An invalid `max_concurrency` was reported above, so `None` here means unset.)
    let max_concurrency =
        max_concurrency.or_else(|| docs.as_ref().map(|_| docs_preset::DEFAULT_MAX_CONCURRENCY));
    Some(Route {
        require_fresh_directory: r.require_fresh_directory.unwrap_or(false),
        cache: cache?,
        rate_limit: rate_limit.flatten(),
        auth,
        read_only_tools,
        mcp_methods: match (&r.preset, mcp) {
            (Some(p), true) => Some(RuleRef {
                route: name.clone(),
                rule: Arc::from(super::mcp::METHODS_RULE),
                location: Arc::from(file_line(file, at(p))),
            }),
            _ => None,
        },
        requests,
        dbt,
        preset: preset.flatten(),
        settings: RouteSettings {
            upstream: upstream?,
            strip_prefix,
            inject,
            keep_alive: r.keep_alive.unwrap_or(docs.is_none()),
            max_concurrency,
            connect_timeout: connect_timeout?,
            response_timeout: response_timeout?,
            stream_idle_timeout: stream_idle_timeout.flatten(),
            websocket_idle_timeout: websocket_idle_timeout.flatten(),
            compress: r.compress.unwrap_or(docs.is_some()),
            preserve_host: r.preserve_host.unwrap_or(false),
            allow_ambiguous_paths: r.allow_ambiguous_paths.unwrap_or(false),
            upstream_h2c,
            upstream_ca_file: r.upstream_ca_file.as_ref().map(|c| PathBuf::from(&c.value)),
            forward_bearer_token: r.forward_bearer_token.unwrap_or(false),
        },
        default_deny: RuleRef {
            route: name.clone(),
            rule: Arc::from(DEFAULT_DENY),
            location: location.clone(),
        },
        name,
        location,
        file: file.clone(),
        line: at(raw).line(),
        column: at(raw).column(),
        host: host?,
        path,
        deny_index: RuleIndex::new(&deny, true),
        allow_index: RuleIndex::new(&allow, false),
        deny,
        allow,
        docs,
    })
}

fn compile_rules(
    raws: &[Spanned<super::raw::RawRule>],
    kind: RuleKind,
    ctx: &RuleContext<'_>,
    problems: &mut Problems<'_>,
) -> Vec<(Rule, serde_saphyr::Location)> {
    raws.iter()
        .enumerate()
        .filter_map(|(i, raw)| Some((rule::compile(raw, kind, i, ctx, problems)?, *at(raw))))
        .collect()
}

/// `strip_prefix` must be whole leading literal segments of `match.path`.
fn strip_prefix(text: &str, path: &PathPattern) -> Result<String, String> {
    let bad = || {
        format!(
            "strip_prefix `{text}` must be a literal prefix of match.path `{}` (whole segments, e.g. `/finance` for `/finance/**`)",
            path.as_str()
        )
    };
    let body = text.strip_prefix('/').ok_or_else(bad)?;
    if body.is_empty() || body.ends_with('/') {
        return Err(bad());
    }
    let prefix = path.literal_prefix();
    let segments: Vec<&str> = body.split('/').collect();
    if segments.len() > prefix.len() || segments.iter().zip(&prefix).any(|(a, b)| a != b) {
        return Err(bad());
    }
    Ok(text.to_owned())
}
