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
//! the level the operation needs. read_only and it licenses ignore grants (their
//! fixed grant decides); a user-scoped operation on the caller's own dbt user is
//! decided by the own-user right.

use std::sync::Arc;

use serde_saphyr::Spanned;

use super::area::{Access, Area, Level};
use super::catalogue::OwnUser;
use super::license::{Effect, License};
use super::matcher::Matched;
use super::permission_set::PermissionSet;
use super::permissions::CellRef;
use crate::policy::error::{file_line, Problems};
use crate::policy::groups::{GroupTable, Membership};
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
    /// The group's id in the policy set's group table (see [`DbtPlatformPolicy::intern_groups`]).
    group_id: Option<u32>,
    pub set: PermissionSet,
    /// `None`: every project and the account's own surfaces.
    projects: Option<Box<[u64]>>,
    levels: [Level; Area::COUNT],
}

impl Grant {
    /// Whether the grant covers an operation with this project id in its path.
    pub fn covers(&self, project_id: Option<&str>) -> bool {
        self.covers_project(Project::of(project_id))
    }

    fn covers_project(&self, project: Project) -> bool {
        match (&self.projects, project) {
            (None, _) => true,
            (Some(ids), Project::Id(id)) => ids.contains(&id),
            (Some(_), Project::Account | Project::Unreadable) => false,
        }
    }

    /// The set's level on `area`.
    pub fn level(&self, area: Area) -> Level {
        self.levels[area.index()]
    }

    /// Whether this grant (before any license) allows the operation to another user
    /// than the one a user-scoped operation names.
    pub fn allows(&self, m: &Matched<'_>) -> bool {
        let access = if m.op.own_user.is_some() {
            Access::Write
        } else {
            m.op.access
        };
        self.covers(m.project_id) && self.level(m.op.area) >= access.needs()
    }

    /// The documented cell that gives the grant's set its level on `area`.
    pub fn cell(&self, area: Area, access: Access) -> Option<CellRef> {
        self.set
            .cell(area)
            .filter(|c| c.cell.level() >= access.needs())
    }

    /// Whether `who` is in the grant's group, through one decision's membership checks.
    fn held_in(&self, who: &dyn Subject, groups: &Membership<'_>) -> bool {
        match self.group_id {
            Some(id) => groups.contains(id, &self.group_lower),
            None => who.in_group(&self.group_lower),
        }
    }
}

/// The project of an operation, read once per decision.
#[derive(Debug, Clone, Copy)]
enum Project {
    /// The path names no project: an account-level operation.
    Account,
    Id(u64),
    /// The path's project segment is not a project id: only account-wide grants.
    Unreadable,
}

impl Project {
    fn of(project_id: Option<&str>) -> Project {
        match project_id {
            None => Project::Account,
            Some(p) => p.parse().map_or(Project::Unreadable, Project::Id),
        }
    }
}

/// A `preset: dbt-platform` route's grants and default license.
#[derive(Debug)]
pub struct DbtPlatformPolicy {
    pub grants: Box<[Grant]>,
    pub default_license: License,
    /// What decisions by a read_only or it license's fixed grant report.
    read_only: RuleRef,
    it: RuleRef,
    /// What a decision by the caller's right on their own user reports.
    own_user: RuleRef,
    /// Per area and access (`area * 2 + access`), the indexes of the grants whose set
    /// holds that level, in file order: a decision looks only at these.
    candidates: Box<[Box<[u16]>]>,
}

/// Whether the user of a user-scoped operation is the caller: the path's user id
/// equals the caller's dbt user id (their SCIM `externalId`).
fn is_own(m: &Matched<'_>, who: &dyn Subject) -> bool {
    match (m.user_id, who.external_id()) {
        (Some(path), Some(mine)) => !mine.is_empty() && path == mine,
        _ => false,
    }
}

/// The area and access an operation needs of a grant: its own, except that a
/// user-scoped operation on another user needs write on its area (user management).
fn needs(m: &Matched<'_>, who: &dyn Subject) -> (Area, Access) {
    if m.op.own_user.is_some() && !is_own(m, who) {
        (m.op.area, Access::Write)
    } else {
        (m.op.area, m.op.access)
    }
}

fn slot(area: Area, access: Access) -> usize {
    area.index() * 2 + usize::from(access == Access::Write)
}

impl DbtPlatformPolicy {
    /// What lets `who` do the operation, if anything does: their own-user right on a
    /// user-scoped operation, their license's fixed grant (read_only, it), or a grant
    /// (capped by an analyst license); group membership is checked through the
    /// decision's `groups` (names resolved once per directory state).
    ///
    /// The analyst cap is monotone, so a grant's capped level suffices exactly when
    /// its own level does and the cap lets the access through at all: the cap is
    /// checked once, then only the grants whose set holds the level are looked at.
    pub(crate) fn granting(
        &self,
        m: &Matched<'_>,
        who: &dyn Subject,
        groups: &Membership<'_>,
    ) -> Option<&RuleRef> {
        let license = License::of_user(who.license(), self.default_license);
        let (area, access) = needs(m, who);
        if let (Some(own), true) = (m.op.own_user, is_own(m, who)) {
            let allowed = match own {
                OwnUser::Any => license.api_access(),
                OwnUser::Develop => {
                    license.api_access()
                        && self
                            .by_grants(license, Area::Develop, m.op.access, None, who, groups)
                            .is_some()
                }
            };
            if allowed {
                return Some(&self.own_user);
            }
        }
        self.by_grants(license, area, access, Some(m), who, groups)
    }

    /// What grants `area`/`access` to `who` on `m`'s project, or (`m` `None`) on any
    /// project: a user's development credentials are not a project's.
    fn by_grants(
        &self,
        license: License,
        area: Area,
        access: Access,
        m: Option<&Matched<'_>>,
        who: &dyn Subject,
        groups: &Membership<'_>,
    ) -> Option<&RuleRef> {
        match license.effect() {
            Effect::Fixed => {
                let rule = match license {
                    License::ReadOnly => &self.read_only,
                    _ => &self.it,
                };
                return (license.level(area) >= access.needs()).then_some(rule);
            }
            Effect::Capped if license.level(area) < access.needs() => return None,
            Effect::Capped | Effect::Grants => {}
        }
        let project = m.map(|m| Project::of(m.project_id));
        self.candidates
            .get(slot(area, access))?
            .iter()
            .filter_map(|&i| self.grants.get(usize::from(i)))
            .find(|g| project.is_none_or(|p| g.covers_project(p)) && g.held_in(who, groups))
            .map(|g| &g.by)
    }

    /// The documented cell behind a decision this policy made by `by` on `m` for
    /// `who` (for `policy explain`).
    pub fn cell_of(&self, by: &RuleRef, m: &Matched<'_>, who: &dyn Subject) -> Option<CellRef> {
        let license = License::of_user(who.license(), self.default_license);
        let (area, access) = if Arc::ptr_eq(&by.rule, &self.own_user.rule) {
            (Area::Develop, m.op.access)
        } else {
            needs(m, who)
        };
        if Arc::ptr_eq(&by.rule, &self.read_only.rule) || Arc::ptr_eq(&by.rule, &self.it.rule) {
            return license.cell(area, access.needs());
        }
        let grant = self
            .grants
            .iter()
            .find(|g| Arc::ptr_eq(&g.by.rule, &by.rule))?;
        grant.cell(area, access)
    }
    /// Records the ids of the grants' group names in the set's table.
    pub(crate) fn intern_groups(&mut self, table: &mut GroupTable) {
        for g in self.grants.iter_mut() {
            g.group_id = Some(table.intern(&g.group_lower));
        }
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
        } else {
            problems.check(
                at(&g.group),
                crate::policy::values::identifier("group", &g.group.value),
            );
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
            group_lower: crate::ident::caseless_key(&g.group.value).into(),
            group_id: None,
            group,
            set,
            projects,
            levels: set.levels(),
        });
    }
    if let Some(g) = grants.filter(|g| g.value.len() > usize::from(u16::MAX)) {
        problems.at(at(g), "more than 65535 grants on one route");
    }
    if problems.list.len() > before {
        return None;
    }
    let mut candidates = vec![Vec::new(); Area::COUNT * 2];
    for (i, g) in out.iter().enumerate() {
        let Ok(i) = u16::try_from(i) else { continue };
        for &area in Area::ALL {
            for access in [Access::Read, Access::Write] {
                if g.level(area) >= access.needs() {
                    candidates[slot(area, access)].push(i);
                }
            }
        }
    }
    let location: Arc<str> = Arc::from(match grants {
        Some(g) => file_line(problems.file, at(g)),
        None => problems.file.to_owned(),
    });
    let rule = |name: &str| RuleRef {
        route: route.clone(),
        rule: Arc::from(name),
        location: location.clone(),
    };
    Some(DbtPlatformPolicy {
        grants: out.into(),
        default_license,
        read_only: rule("license:read_only"),
        it: rule("license:it"),
        own_user: rule("own-user"),
        candidates: candidates.into_iter().map(Vec::into_boxed_slice).collect(),
    })
}
