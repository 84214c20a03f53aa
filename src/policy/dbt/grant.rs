//! Grants (`grants: [{ group, permission_set, projects }]`) and the per-route state of
//! the dbt-platform preset: compiled grants, the default license, and the decision
//! a grant makes.
//!
//! A grant applies to an operation when its projects cover the operation's project:
//! a grant without `projects` covers every project and the account's own surfaces; a
//! grant with `projects` covers only operations whose path names one of them (an
//! account-level operation, whose path names no project, is governed by account-wide
//! grants alone). Of the grants whose group the user is in, the most permissive wins:
//! the request is allowed when any one of them, capped by the user's license, holds
//! the level the operation needs.

use std::sync::Arc;

use serde_saphyr::Spanned;

use super::area::{Area, Level};
use super::license::License;
use super::matcher::Matched;
use super::permission_set::PermissionSet;
use crate::policy::error::{file_line, Problems};
use crate::policy::model::{RuleRef, Subject};
use crate::policy::raw::RawGrant;
use crate::policy::yaml::at;

/// One compiled grant.
#[derive(Debug)]
pub struct Grant {
    /// What a decision by this grant reports (`grant[0]:<group>:<set>`).
    pub by: RuleRef,
    /// The group's displayName as written.
    pub group: Arc<str>,
    group_lower: Box<str>,
    pub set: PermissionSet,
    /// `None`: every project and the account's own surfaces.
    projects: Option<Box<[u64]>>,
    levels: [Level; Area::COUNT],
}

impl Grant {
    /// Whether the grant covers an operation with this project id in its path.
    pub fn covers(&self, project_id: Option<&str>) -> bool {
        let Some(projects) = &self.projects else {
            return true;
        };
        project_id
            .and_then(|p| p.parse::<u64>().ok())
            .is_some_and(|p| projects.contains(&p))
    }

    /// The set's level on `area`.
    pub fn level(&self, area: Area) -> Level {
        self.levels[area.index()]
    }

    /// Whether this grant (before any license cap) allows the operation.
    pub fn allows(&self, m: &Matched<'_>) -> bool {
        self.covers(m.project_id) && self.level(m.op.area) >= m.op.access.needs()
    }

    /// Whether `who` is in the grant's group.
    pub fn holds(&self, who: &dyn Subject) -> bool {
        who.in_group(&self.group_lower)
    }
}

/// A `preset: dbt-platform` route's grants and default license.
#[derive(Debug)]
pub struct DbtPlatformPolicy {
    pub grants: Box<[Grant]>,
    pub default_license: License,
}

impl DbtPlatformPolicy {
    /// The grant that lets `who` do the operation, if one does (licenses capping).
    pub fn granting(&self, m: &Matched<'_>, who: &dyn Subject) -> Option<&Grant> {
        let license = License::of_user(who.license(), self.default_license);
        let needs = m.op.access.needs();
        if license.cap(m.op.area, Level::Write) < needs {
            return None;
        }
        self.grants.iter().find(|g| {
            g.covers(m.project_id)
                && license.cap(m.op.area, g.level(m.op.area)) >= needs
                && g.holds(who)
        })
    }

    /// Group names of grants that would allow the operation to a developer-licensed
    /// member (for the 403 page).
    pub fn allowing_groups(&self, m: &Matched<'_>) -> Vec<&Arc<str>> {
        self.grants
            .iter()
            .filter(|g| g.allows(m))
            .map(|g| &g.group)
            .collect()
    }
}

/// Compiles a route's `grants` and `default_license`.
pub(crate) fn compile(
    route: &Arc<str>,
    grants: Option<&Spanned<Vec<Spanned<RawGrant>>>>,
    default_license: Option<&Spanned<String>>,
    problems: &mut Problems<'_>,
) -> Option<DbtPlatformPolicy> {
    let before = problems.list.len();
    let default_license = match default_license {
        None => License::Developer,
        Some(d) => {
            let parsed = License::parse(&d.value).filter(|_| d.value == d.value.to_lowercase());
            problems
                .check(
                    at(d),
                    parsed.ok_or_else(|| {
                        format!(
                            "unknown default_license `{}` (one of developer, analyst, read_only, it)",
                            d.value
                        )
                    }),
                )
                .unwrap_or(License::Developer)
        }
    };
    let mut out = Vec::new();
    for (i, raw) in grants
        .map(|g| g.value.as_slice())
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let g = &raw.value;
        if g.group.value.trim().is_empty() {
            problems.at(at(&g.group), "grant group is empty");
        }
        let set = problems.check(
            at(&g.permission_set),
            PermissionSet::parse(&g.permission_set.value),
        );
        let mut projects = None;
        if let Some(list) = &g.projects {
            if list.value.is_empty() {
                problems.at(
                    at(list),
                    "`projects: []` covers no project; list project ids or remove the key (all projects)",
                );
            }
            let mut ids = Vec::new();
            for p in &list.value {
                match u64::try_from(p.value) {
                    Ok(id) if id > 0 => ids.push(id),
                    _ => problems.at(
                        at(p),
                        format!("project id `{}` is not a positive integer", p.value),
                    ),
                }
            }
            projects = Some(ids.into_boxed_slice());
        }
        let Some(set) = set else { continue };
        let group: Arc<str> = Arc::from(g.group.value.as_str());
        out.push(Grant {
            by: RuleRef {
                route: route.clone(),
                rule: Arc::from(format!("grant[{i}]:{}:{}", g.group.value, set.name())),
                location: Arc::from(file_line(problems.file, at(raw))),
            },
            group_lower: g.group.value.to_lowercase().into(),
            group,
            set,
            projects,
            levels: set.levels(),
        });
    }
    if problems.list.len() > before {
        return None;
    }
    Some(DbtPlatformPolicy {
        grants: out.into(),
        default_license,
    })
}
