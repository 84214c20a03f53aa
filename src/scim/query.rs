//! Listing and searching: `GET /Users`, `GET /Groups`, `POST /.search` (RFC 7644 §3.4).
//!
//! Each listing is planned first ([`plan`]). `sortBy=userName` (a Group's displayName)
//! and `userName sw "x"` are pages of the directory's name order, no sort and no scan; an
//! equality filter on an indexed attribute (userName, externalId, id, e-mail, group
//! displayName) reads the index, then re-checks the whole filter; anything else (`co`,
//! `ew`, complex filters, sorts on other attributes) is a scan, which the handlers run
//! through [`super::scan`] (off the async workers, bounded in number and time); the
//! others the handlers run on the page pool ([`super::pages`]), also off the async
//! workers, since rendering a page still costs the page. A scan
//! keeps only the page it returns (or, sorted, the best `startIndex + count` so far).
//! Lists are in creation order unless `sortBy` is given (ties broken by creation order),
//! so pages stay stable while new resources are added.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use serde_json::{json, Value};

use super::filter::{parse_filter, AttrPath, AttrTest, CompValue, CompareOp, EqTarget, Filter};
use super::render::{group_json, user_json, Ctx};
use super::scan::Deadline;
use super::schema::{self, ResourceKind};
use super::scim_type::ScimType;
use super::ScimError;
use crate::config::ScimConfig;
use crate::directory::Directory;
use crate::ident::caseless_key;
use crate::record::Member;

pub(super) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(super) const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The parameters of a list or search.
#[derive(Debug, Default, Clone)]
pub(super) struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_int(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim().parse::<i64>().map_err(|_| {
        ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must be an integer, not {v:?}"),
        )
    })
}

fn sort_order(v: &str) -> Result<bool, ScimError> {
    match v.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("sortOrder must be ascending or descending, not {v:?}"),
        )),
    }
}

impl ListParams {
    /// From query parameters (names matched case-insensitively).
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ScimError> {
        let mut p = ListParams::default();
        for (k, v) in q {
            match k.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(v.clone()),
                "startindex" => p.start_index = Some(parse_int("startIndex", v)?),
                "count" => p.count = Some(parse_int("count", v)?),
                "sortby" => p.sort_by = Some(v.clone()),
                "sortorder" => p.descending = sort_order(v)?,
                "attributes" => p.attributes = split_list(v),
                "excludedattributes" => p.excluded = split_list(v),
                _ => {}
            }
        }
        Ok(p)
    }

    /// From a `POST .search` body.
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                "a SearchRequest must be a JSON object",
            )
        })?;
        let schemas_ok = obj
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_SCHEMA)));
        if !schemas_ok {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                format!("schemas must contain {SEARCH_SCHEMA}"),
            ));
        }
        let mut p = ListParams::default();
        let names = |v: &Value| -> Result<Vec<String>, ScimError> {
            match v {
                Value::String(s) => Ok(split_list(s)),
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::bad(
                                ScimType::InvalidValue,
                                "attribute names must be strings",
                            )
                        })
                    })
                    .collect(),
                _ => Err(ScimError::bad(
                    ScimType::InvalidValue,
                    "attributes must be an array",
                )),
            }
        };
        for (k, v) in obj {
            let as_int = |name: &str| -> Result<i64, ScimError> {
                match v {
                    Value::Number(n) => n.as_i64().ok_or_else(|| {
                        ScimError::bad(ScimType::InvalidValue, format!("{name} must be an integer"))
                    }),
                    Value::String(s) => parse_int(name, s),
                    _ => Err(ScimError::bad(
                        ScimType::InvalidValue,
                        format!("{name} must be an integer"),
                    )),
                }
            };
            let as_str = |name: &str| -> Result<String, ScimError> {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ScimError::bad(ScimType::InvalidValue, format!("{name} must be a string"))
                })
            };
            match k.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(as_str("filter")?),
                "startindex" => p.start_index = Some(as_int("startIndex")?),
                "count" => p.count = Some(as_int("count")?),
                "sortby" => p.sort_by = Some(as_str("sortBy")?),
                "sortorder" => p.descending = sort_order(&as_str("sortOrder")?)?,
                "attributes" => p.attributes = names(v)?,
                "excludedattributes" => p.excluded = names(v)?,
                _ => {}
            }
        }
        Ok(p)
    }

    /// Whether the response should carry `attr` (a top-level attribute such as
    /// `members` or `groups`), judged from `attributes` / `excludedAttributes`.
    pub fn wants(&self, attr: &str) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                let a = a.rsplit_once(':').map(|(_, n)| n.to_owned()).unwrap_or(a);
                a == attr.to_ascii_lowercase()
                    || a.starts_with(&format!("{}.", attr.to_ascii_lowercase()))
            })
        };
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !named(&self.excluded)
    }

    /// Applies `attributes` / `excludedAttributes` to a rendered resource.
    pub fn project(&self, kind: ResourceKind, resource: Value) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return resource;
        }
        schema::project(kind, &resource, &self.attributes, &self.excluded)
    }
}

/// Renders one resource by ord, with the attributes a filter or response needs.
fn render(ctx: &Ctx<'_>, kind: ResourceKind, ord: u32, full: bool) -> Option<Value> {
    match kind {
        ResourceKind::User => ctx.dir.user(ord).map(|u| user_json(ctx, &u, full)),
        ResourceKind::Group => ctx.dir.group(ord).map(|g| group_json(ctx, &g, full)),
    }
}

/// Renders only the kind's name attribute (`{"userName": …}` or `{"displayName": …}`):
/// what a scan needs when the filter and the sort test nothing else, at a fraction of
/// the cost of rendering the stored body.
fn render_name(ctx: &Ctx<'_>, kind: ResourceKind, ord: u32) -> Option<Value> {
    let (attr, _) = name_attr(kind);
    let name = match kind {
        ResourceKind::User => ctx.dir.user(ord).map(|u| Value::from(&*u.user_name)),
        ResourceKind::Group => ctx.dir.group(ord).map(|g| Value::from(&*g.display_name)),
    }?;
    let mut out = serde_json::Map::with_capacity(1);
    out.insert(attr.to_owned(), name);
    Some(Value::Object(out))
}

/// Whether every attribute `filter` tests is the kind's name attribute, so that
/// [`render_name`] gives the filter all it reads.
fn tests_only_name(kind: ResourceKind, filter: &Filter) -> bool {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => parts.iter().all(|f| tests_only_name(kind, f)),
        Filter::Not(inner) => tests_only_name(kind, inner),
        Filter::Attr { path, .. } => is_name_path(kind, path),
        Filter::ValuePath { .. } => false,
    }
}

/// Most resources an index-bounded listing may render (to re-check a filter or read
/// sort keys); a listing with more candidates is a scan.
const INLINE_RENDER_LIMIT: usize = 256;
/// Most ords an index-answered listing may put back in creation order without a scan.
const INLINE_ORDS_LIMIT: usize = 65_536;
/// How many ords a scan reads from the directory at a time.
const SCAN_CHUNK: usize = 4096;

/// Where a listing's resources come from.
#[derive(Debug)]
enum Source {
    /// Every resource in creation order (no filter, no sort): a page is a slice.
    Creation,
    /// The name index (User userName, Group displayName): the resources whose name
    /// starts with `prefix` (every one for ""), in name order: a page is a slice.
    Names { prefix: String, descending: bool },
    /// The `count` resources whose name starts with `prefix`, in creation order: the
    /// index answers the filter, only the order is changed.
    NamePrefix { prefix: String, count: usize },
    /// These candidates (from an equality index), in creation order, to re-check
    /// against the filter and sort.
    Candidates(Vec<u32>),
    /// Every resource, in creation order, to check and sort.
    Everything,
}

/// How a listing of one resource type will be answered.
#[derive(Debug)]
pub(super) struct Plan {
    kind: ResourceKind,
    source: Source,
    filter: Option<Filter>,
}

impl Plan {
    /// Whether the listing is bounded by an index, so it needs no scan slot (it runs
    /// on the page pool, [`super::pages`]); otherwise it is a scan ([`super::scan`]).
    pub fn inline(&self) -> bool {
        match &self.source {
            Source::Creation | Source::Names { .. } => true,
            Source::NamePrefix { count, .. } => *count <= INLINE_ORDS_LIMIT,
            Source::Candidates(c) => c.len() <= INLINE_RENDER_LIMIT,
            Source::Everything => false,
        }
    }
}

/// The attribute the directory keeps a name order for.
fn name_attr(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::User => ("userName", schema::USER_SCHEMA),
        ResourceKind::Group => ("displayName", schema::GROUP_SCHEMA),
    }
}

/// Whether `path` is the kind's name attribute (unqualified or core-qualified).
fn is_name_path(kind: ResourceKind, path: &AttrPath) -> bool {
    let (attr, urn) = name_attr(kind);
    path.sub.is_none()
        && path.attr.eq_ignore_ascii_case(attr)
        && path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(urn))
}

/// The prefix of a `name sw "prefix"` filter.
fn name_prefix(kind: ResourceKind, filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Attr {
            path,
            test: AttrTest::Compare(CompareOp::Sw, CompValue::String(prefix)),
        } if is_name_path(kind, path) => Some(prefix),
        _ => None,
    }
}

/// Candidates from an equality index, in creation order; `None` when the filter is not
/// an indexed equality.
fn equality_candidates(dir: &Directory, kind: ResourceKind, filter: &Filter) -> Option<Vec<u32>> {
    let (target, value) = filter.as_equality()?;
    let mut ords: Vec<u32> = match (kind, target) {
        (ResourceKind::User, EqTarget::UserName) => {
            dir.user_by_name(value).map(|u| u.ord).into_iter().collect()
        }
        (ResourceKind::User, EqTarget::ExternalId) => dir.users_by_external_id(value),
        (ResourceKind::User, EqTarget::Email { .. }) => dir.users_by_email(value),
        (ResourceKind::Group, EqTarget::DisplayName) => dir
            .group_by_name(value)
            .map(|g| g.ord)
            .into_iter()
            .collect(),
        (ResourceKind::Group, EqTarget::ExternalId) => dir.groups_by_external_id(value),
        (_, EqTarget::Id) => match (kind, dir.resolve(value)) {
            (ResourceKind::User, Some(Member::User(o)))
            | (ResourceKind::Group, Some(Member::Group(o))) => vec![o],
            _ => Vec::new(),
        },
        _ => return None,
    };
    ords.sort_unstable();
    Some(ords)
}

/// Plans a listing of `kind`: parses the filter and picks the cheapest source.
pub(super) fn plan(
    dir: &Directory,
    cfg: &ScimConfig,
    kind: ResourceKind,
    p: &ListParams,
) -> Result<Plan, ScimError> {
    let filter = p
        .filter
        .as_deref()
        .map(|f| parse_filter(f, cfg.max_filter_depth))
        .transpose()?;
    let sort = p.sort_by.as_deref().map(AttrPath::parse);
    let by_name = matches!(&sort, Some(Some(path)) if is_name_path(kind, path));
    let prefix = filter.as_ref().and_then(|f| name_prefix(kind, f));
    let source = match (&filter, prefix, &sort) {
        (None, _, None) => Source::Creation,
        (None, _, Some(_)) if by_name => Source::Names {
            prefix: String::new(),
            descending: p.descending,
        },
        (Some(_), Some(prefix), _) if by_name => Source::Names {
            prefix: prefix.to_owned(),
            descending: p.descending,
        },
        (Some(_), Some(prefix), None) => Source::NamePrefix {
            prefix: prefix.to_owned(),
            count: name_page(dir, kind, prefix, 0, 0, false).0,
        },
        (Some(f), _, _) => match equality_candidates(dir, kind, f) {
            Some(ords) => Source::Candidates(ords),
            None => Source::Everything,
        },
        (None, _, Some(_)) => Source::Everything,
    };
    Ok(Plan {
        kind,
        source,
        filter,
    })
}

fn name_page(
    dir: &Directory,
    kind: ResourceKind,
    prefix: &str,
    skip: usize,
    take: usize,
    descending: bool,
) -> (usize, Vec<u32>) {
    match kind {
        ResourceKind::User => dir.user_name_page(prefix, skip, take, descending),
        ResourceKind::Group => dir.group_name_page(prefix, skip, take, descending),
    }
}

/// Every ord of one type in creation order, read from the directory a chunk at a time.
struct Walk<'a> {
    dir: &'a Directory,
    kind: ResourceKind,
    chunk: std::vec::IntoIter<u32>,
    last: Option<u32>,
    done: bool,
}

impl<'a> Walk<'a> {
    fn new(dir: &'a Directory, kind: ResourceKind) -> Self {
        Walk {
            dir,
            kind,
            chunk: Vec::new().into_iter(),
            last: None,
            done: false,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(ord) = self.chunk.next() {
                self.last = Some(ord);
                return Some(ord);
            }
            if self.done {
                return None;
            }
            let chunk = match self.kind {
                ResourceKind::User => self.dir.user_ords_after(self.last, SCAN_CHUNK),
                ResourceKind::Group => self.dir.group_ords_after(self.last, SCAN_CHUNK),
            };
            self.done = chunk.len() < SCAN_CHUNK;
            self.chunk = chunk.into_iter();
        }
    }
}

/// The value a resource sorts by: the attribute at `path` (for a multi-valued one, its
/// primary or first value).
fn sort_key(resource: &Value, path: &str) -> Option<Value> {
    let (urn, rest) = schema::split_urn(path);
    // Core attributes sit at the top level; an extension's under its URN.
    let core = |u: &str| {
        u.eq_ignore_ascii_case(schema::USER_SCHEMA) || u.eq_ignore_ascii_case(schema::GROUP_SCHEMA)
    };
    let mut cur = match urn {
        Some(u) if !core(u) => resource.as_object().and_then(|o| schema::get_ci(o, u))?,
        _ => resource,
    };
    for part in rest.split('.') {
        if let Value::Array(items) = cur {
            cur = items
                .iter()
                .find(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
                .or_else(|| items.first())?;
        }
        cur = cur.as_object().and_then(|o| schema::get_ci(o, part))?;
    }
    if let Value::Array(items) = cur {
        let first = items
            .iter()
            .find(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| items.first())?;
        return Some(first.get("value").cloned().unwrap_or_else(|| first.clone()));
    }
    Some(cur.clone())
}

fn compare_keys(a: &Option<Value>, b: &Option<Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => match (x, y) {
            (Value::Number(m), Value::Number(n)) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Bool(m), Value::Bool(n)) => m.cmp(n),
            (Value::String(m), Value::String(n)) => caseless_key(m).cmp(&caseless_key(n)),
            _ => x.to_string().cmp(&y.to_string()),
        },
    }
}

/// A resource's sort key, with strings as caseless keys (computed once, not at every
/// comparison), the order of the name index.
fn prepared_key(resource: &Value, path: &str) -> Option<Value> {
    sort_key(resource, path).map(|v| match v {
        Value::String(s) => Value::String(caseless_key(&s)),
        other => other,
    })
}

/// A match kept by a sorted scan: ordered by key (reversed when descending), then ord.
struct Ranked {
    key: Option<Value>,
    ord: u32,
    descending: bool,
}

impl Ranked {
    fn rank(&self, other: &Self) -> Ordering {
        let o = match (&self.key, &other.key) {
            (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
            (a, b) => compare_keys(a, b),
        };
        let o = if self.descending { o.reverse() } else { o };
        o.then(self.ord.cmp(&other.ord))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// Checks `ords` (in creation order) against the filter and returns the total and the
/// window `skip..skip+take` in list order. Memory is bounded by the window: unsorted, only
/// the window's ords are kept; sorted, the best `skip + take` so far (a heap).
#[allow(clippy::too_many_arguments)]
fn collect(
    ctx: &Ctx<'_>,
    plan: &Plan,
    p: &ListParams,
    ords: impl Iterator<Item = u32>,
    skip: usize,
    take: usize,
    deadline: &Deadline,
) -> Result<(usize, Vec<u32>), ScimError> {
    let kind = plan.kind;
    let filter = plan.filter.as_ref();
    // Rendering a group's members (or a user's groups) is costly: only when the filter
    // or the sort key tests them.
    let heavy = match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    };
    let full_for_match = filter.is_some_and(|f| f.references(heavy))
        || p.sort_by
            .as_deref()
            .and_then(AttrPath::parse)
            .is_some_and(|path| path.attr.eq_ignore_ascii_case(heavy));
    // A filter (and sort) on the name alone reads the name alone.
    let sort_path = p.sort_by.as_deref().map(AttrPath::parse);
    let name_only = filter.is_some_and(|f| tests_only_name(kind, f))
        && match &sort_path {
            None => true,
            Some(Some(path)) => is_name_path(kind, path),
            Some(None) => false,
        };
    let keep = skip.saturating_add(take);
    let mut total = 0usize;
    let mut window: Vec<u32> = Vec::new();
    let mut best: BinaryHeap<Ranked> = BinaryHeap::new();
    for ord in ords {
        deadline.tick()?;
        let rendered = if name_only {
            render_name(ctx, kind, ord)
        } else {
            render(ctx, kind, ord, full_for_match)
        };
        let Some(res) = rendered else {
            continue;
        };
        if filter.is_some_and(|f| !f.matches(kind, &res)) {
            continue;
        }
        total += 1;
        match p.sort_by.as_deref() {
            None => {
                if total > skip && window.len() < take {
                    window.push(ord);
                }
            }
            Some(path) => {
                if keep == 0 {
                    continue;
                }
                let r = Ranked {
                    key: prepared_key(&res, path),
                    ord,
                    descending: p.descending,
                };
                if best.len() < keep {
                    best.push(r);
                } else if best.peek().is_some_and(|worst| r < *worst) {
                    best.pop();
                    best.push(r);
                }
            }
        }
    }
    if p.sort_by.is_some() {
        window = best
            .into_sorted_vec()
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|r| r.ord)
            .collect();
    }
    Ok((total, window))
}

/// The resources a plan selects: the total, and the ords of the window
/// `skip..skip+take` in list order.
fn select(
    ctx: &Ctx<'_>,
    plan: &Plan,
    p: &ListParams,
    skip: usize,
    take: usize,
    deadline: &Deadline,
) -> Result<(usize, Vec<u32>), ScimError> {
    let dir = ctx.dir;
    match &plan.source {
        Source::Creation => Ok(match plan.kind {
            ResourceKind::User => dir.user_page(skip, take),
            ResourceKind::Group => dir.group_page(skip, take),
        }),
        Source::Names { prefix, descending } => {
            Ok(name_page(dir, plan.kind, prefix, skip, take, *descending))
        }
        Source::NamePrefix { prefix, .. } => {
            let mut ords = match plan.kind {
                ResourceKind::User => dir.users_with_name_prefix(prefix),
                ResourceKind::Group => dir.groups_with_name_prefix(prefix),
            };
            deadline.tick()?;
            ords.sort_unstable();
            let total = ords.len();
            let start = skip.min(total);
            let end = start.saturating_add(take).min(total);
            Ok((total, ords[start..end].to_vec()))
        }
        Source::Candidates(ords) => {
            collect(ctx, plan, p, ords.iter().copied(), skip, take, deadline)
        }
        Source::Everything => collect(
            ctx,
            plan,
            p,
            Walk::new(dir, plan.kind),
            skip,
            take,
            deadline,
        ),
    }
}

/// The page bounds: 1-based start, and how many to return.
fn page(cfg: &ScimConfig, p: &ListParams) -> (usize, usize) {
    let start = p.start_index.unwrap_or(1).max(1) as usize;
    let count = p
        .count
        .map(|c| c.max(0) as usize)
        .unwrap_or(cfg.max_results)
        .min(cfg.max_results);
    (start, count)
}

fn render_page(ctx: &Ctx<'_>, kind: ResourceKind, p: &ListParams, ords: Vec<u32>) -> Vec<Value> {
    let full = match kind {
        ResourceKind::User => p.wants("groups"),
        ResourceKind::Group => p.wants("members"),
    };
    ords.into_iter()
        .filter_map(|o| render(ctx, kind, o, full))
        .map(|r| p.project(kind, r))
        .collect()
}

/// Answers a list or search for one resource type.
pub(super) fn list(
    ctx: &Ctx<'_>,
    cfg: &ScimConfig,
    plan: &Plan,
    p: &ListParams,
    deadline: &Deadline,
) -> Result<Value, ScimError> {
    let (start, count) = page(cfg, p);
    let (total, ords) = select(ctx, plan, p, start - 1, count, deadline)?;
    Ok(list_response(
        total,
        start,
        render_page(ctx, plan.kind, p, ords),
    ))
}

/// Answers a search across Users and Groups (`POST /.search`): Users first, then
/// Groups, paged as one list.
pub(super) fn list_all(
    ctx: &Ctx<'_>,
    cfg: &ScimConfig,
    (users_plan, groups_plan): (&Plan, &Plan),
    p: &ListParams,
    deadline: &Deadline,
) -> Result<Value, ScimError> {
    let (start, count) = page(cfg, p);
    let skip = start - 1;
    let (users_total, users) = select(ctx, users_plan, p, skip, count, deadline)?;
    let group_skip = skip.saturating_sub(users_total);
    let group_take = count - users.len();
    let (groups_total, groups) = select(ctx, groups_plan, p, group_skip, group_take, deadline)?;
    let mut resources = render_page(ctx, ResourceKind::User, p, users);
    resources.extend(render_page(ctx, ResourceKind::Group, p, groups));
    Ok(list_response(users_total + groups_total, start, resources))
}

/// A ListResponse body.
pub(super) fn list_response(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start,
        "Resources": resources,
    })
}
