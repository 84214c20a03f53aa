//! Listing and searching: `GET /Users`, `GET /Groups`, `POST /.search` (RFC 7644 §3.4).
//!
//! An equality filter on an indexed attribute (userName, externalId, id, e-mail, group
//! displayName) reads the index, then re-checks the whole filter; any other filter scans
//! in creation order. Lists are in creation order unless `sortBy` is given (ties broken
//! by creation order), so pages stay stable while new resources are added.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};

use super::filter::{parse_filter, AttrPath, EqTarget, Filter};
use super::render::{group_json, user_json, Ctx};
use super::schema::{self, ResourceKind};
use super::scim_type::ScimType;
use super::ScimError;
use crate::config::ScimConfig;
use crate::directory::Member;

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

/// Ords to consider for `filter`, in creation order: from an index when the filter allows.
fn candidates(ctx: &Ctx<'_>, kind: ResourceKind, filter: Option<&Filter>) -> Vec<u32> {
    let dir = ctx.dir;
    let indexed = filter
        .and_then(|f| f.as_equality())
        .and_then(|(target, value)| {
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
        });
    indexed.unwrap_or_else(|| match kind {
        ResourceKind::User => dir.user_ords(),
        ResourceKind::Group => dir.group_ords(),
    })
}

/// The value a resource sorts by: the attribute at `path` (for a multi-valued one, its
/// primary or first value).
fn sort_key(resource: &Value, path: &str) -> Option<Value> {
    let (urn, rest) = schema::split_urn(path);
    let mut cur = match urn {
        Some(u) => resource.as_object().and_then(|o| schema::get_ci(o, u))?,
        None => resource,
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
            (Value::String(m), Value::String(n)) => m.to_lowercase().cmp(&n.to_lowercase()),
            _ => x.to_string().cmp(&y.to_string()),
        },
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

/// The resources of one type that a list selects: the total, and the ords of the
/// window `skip..skip+take` in list order.
fn select(
    ctx: &Ctx<'_>,
    cfg: &ScimConfig,
    kind: ResourceKind,
    p: &ListParams,
    skip: usize,
    take: usize,
) -> Result<(usize, Vec<u32>), ScimError> {
    let filter = p
        .filter
        .as_deref()
        .map(|f| parse_filter(f, cfg.max_filter_depth))
        .transpose()?;
    if filter.is_none() && p.sort_by.is_none() {
        return Ok(match kind {
            ResourceKind::User => ctx.dir.user_page(skip, take),
            ResourceKind::Group => ctx.dir.group_page(skip, take),
        });
    }
    // Rendering a group's members (or a user's groups) is costly: only when the filter
    // or the sort key tests them.
    let heavy = match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    };
    let full_for_match = filter.as_ref().is_some_and(|f| f.references(heavy))
        || p.sort_by
            .as_deref()
            .and_then(AttrPath::parse)
            .is_some_and(|path| path.attr.eq_ignore_ascii_case(heavy));
    let mut matched: Vec<(u32, Option<Value>)> = Vec::new();
    for ord in candidates(ctx, kind, filter.as_ref()) {
        let Some(res) = render(ctx, kind, ord, full_for_match) else {
            continue;
        };
        if filter.as_ref().is_some_and(|f| !f.matches(kind, &res)) {
            continue;
        }
        let key = p.sort_by.as_deref().and_then(|s| sort_key(&res, s));
        matched.push((ord, key));
    }
    if p.sort_by.is_some() {
        matched.sort_by(|a, b| {
            let o = compare_keys(&a.1, &b.1);
            let o = if p.descending { o.reverse() } else { o };
            o.then(a.0.cmp(&b.0))
        });
    }
    let total = matched.len();
    let page = matched
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|(o, _)| o)
        .collect();
    Ok((total, page))
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
    kind: ResourceKind,
    p: &ListParams,
) -> Result<Value, ScimError> {
    let (start, count) = page(cfg, p);
    let (total, ords) = select(ctx, cfg, kind, p, start - 1, count)?;
    Ok(list_response(total, start, render_page(ctx, kind, p, ords)))
}

/// Answers a search across Users and Groups (`POST /.search`): Users first, then
/// Groups, paged as one list.
pub(super) fn list_all(
    ctx: &Ctx<'_>,
    cfg: &ScimConfig,
    p: &ListParams,
) -> Result<Value, ScimError> {
    let (start, count) = page(cfg, p);
    let skip = start - 1;
    let (users_total, users) = select(ctx, cfg, ResourceKind::User, p, skip, count)?;
    let group_skip = skip.saturating_sub(users_total);
    let group_take = count - users.len();
    let (groups_total, groups) = select(ctx, cfg, ResourceKind::Group, p, group_skip, group_take)?;
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
