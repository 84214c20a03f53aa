//! The dbt-platform permission sets against dbt's documented tables: every set ×
//! area × read/write decided through a real policy and compared with the
//! transcription's cell, the over- and under-grants an earlier table had, user-scoped
//! operations, and the README's table.

use http::Method;

use super::super::dbt::permissions::TABLES;
use super::super::dbt::{catalogue, Access, Area, Operation, PermissionSet, Verb};
use super::{set, verdict, Who};

/// One route granting each set to a group named after it, on every project.
fn policy() -> String {
    let mut yaml = String::from(
        "routes:\n  - name: dbt\n    preset: dbt-platform\n    upstream: https://cloud.example.com\n    grants:\n",
    );
    for s in PermissionSet::ALL {
        yaml.push_str(&format!(
            "      - {{ group: g-{name}, permission_set: {name} }}\n",
            name = s.name()
        ));
    }
    yaml
}

/// A request path for an operation's template.
fn path_of(op: &Operation) -> String {
    op.path
        .split('/')
        .map(|seg| match seg {
            "{remainder}" => "manifest.json",
            s if s.starts_with('{') => "7",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn method_of(verb: Verb) -> Method {
    Method::from_bytes(verb.name().as_bytes()).unwrap()
}

/// What the transcription says a column allows on a row, read from the raw table
/// text: `W` writes; `R`, `R*` (environment write access, which grants cannot
/// express) and `W#` (personal overrides, which paths cannot tell apart) read;
/// anything else (`-`, `v`) nothing.
fn documented(column: Option<&str>, area: Area, access: Access) -> bool {
    let Some(column) = column else { return false };
    let text = TABLES
        .iter()
        .filter(|t| t.scope == area.scope())
        .find_map(|t| {
            let at = t.columns.iter().position(|c| *c == column)?;
            let (_, cells) = t.rows.iter().find(|(r, _)| *r == area.row())?;
            cells.split_whitespace().nth(at)
        })
        .unwrap_or("-");
    matches!((text, access), ("W", _) | ("R" | "R*" | "W#", Access::Read))
}

#[test]
fn every_set_area_and_access_decides_as_the_documented_cell() {
    let s = set(&policy());
    let mut wrong = Vec::new();
    let mut compared = 0;
    for set_ in PermissionSet::ALL {
        let group: &'static str = Box::leak(format!("g-{}", set_.name()).into_boxed_str());
        let who = Who::named("u", &[group]);
        for &area in Area::ALL {
            for access in [Access::Read, Access::Write] {
                let expect = documented(set_.column(), area, access);
                // Every operation of the area and access (not the user-scoped ones,
                // which are decided on the caller's own user; tested below).
                for op in catalogue::all()
                    .filter(|op| op.area == area && op.access == access && op.own_user.is_none())
                {
                    compared += 1;
                    let path = path_of(op);
                    let got = verdict(&s, method_of(op.verb), "h", &path, &who);
                    if got.starts_with("allow") != expect {
                        wrong.push(format!(
                            "{} × {} ({access}): documented {}, {} {path}: {got}",
                            set_.name(),
                            area.row(),
                            if expect { "allow" } else { "deny" },
                            op.verb.name()
                        ));
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "only {compared} decisions compared");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `(set, method, path, allowed)`: the cases issue reports named, each checked
/// against dbt's table.
const NAMED: &[(&str, Method, &str, bool)] = &[
    // Over-grants of the earlier table.
    (
        "developer",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        false,
    ),
    ("admin", Method::POST, "/api/v3/accounts/1/projects/", false),
    (
        "analyst",
        Method::POST,
        "/api/v2/accounts/1/projects/",
        false,
    ),
    (
        "database_admin",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        false,
    ),
    (
        "git_admin",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        false,
    ),
    (
        "team_admin",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        false,
    ),
    (
        "project_creator",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        true,
    ),
    (
        "account_admin",
        Method::POST,
        "/api/v3/accounts/1/projects/",
        true,
    ),
    (
        "job_admin",
        Method::POST,
        "/api/v3/accounts/1/webhooks/subscriptions",
        false,
    ),
    (
        "admin",
        Method::POST,
        "/api/v3/accounts/1/webhooks/subscriptions",
        true,
    ),
    (
        "admin",
        Method::POST,
        "/api/v3/accounts/1/connections/",
        false,
    ),
    (
        "admin",
        Method::GET,
        "/api/v3/accounts/1/connections/",
        true,
    ),
    (
        "database_admin",
        Method::PATCH,
        "/api/v3/accounts/1/connections/3/",
        false,
    ),
    (
        "database_admin",
        Method::POST,
        "/api/v3/accounts/1/projects/3/connections/",
        true,
    ),
    (
        "admin",
        Method::POST,
        "/api/v2/accounts/1/encryptions/",
        false,
    ),
    (
        "developer",
        Method::POST,
        "/api/v3/accounts/1/projects/3/",
        false,
    ),
    (
        "analyst",
        Method::POST,
        "/api/v3/accounts/1/projects/3/",
        false,
    ),
    (
        "developer",
        Method::GET,
        "/api/v3/accounts/1/projects/3/",
        true,
    ),
    (
        "developer",
        Method::PATCH,
        "/api/v3/accounts/1/projects/3/credentials/4/",
        false,
    ),
    (
        "analyst",
        Method::POST,
        "/api/v3/accounts/1/projects/3/credentials/",
        false,
    ),
    (
        "developer",
        Method::POST,
        "/api/v3/accounts/1/projects/3/environment-variables/bulk/",
        false,
    ),
    (
        "developer",
        Method::GET,
        "/api/v3/accounts/1/projects/3/environment-variables/user/",
        true,
    ),
    (
        "developer",
        Method::POST,
        "/api/v2/accounts/1/jobs/5/run/",
        false,
    ),
    (
        "analyst",
        Method::POST,
        "/api/v2/accounts/1/runs/9/cancel/",
        false,
    ),
    (
        "developer",
        Method::POST,
        "/api/v2/accounts/1/runs/9/retry/",
        false,
    ),
    (
        "job_runner",
        Method::POST,
        "/api/v2/accounts/1/jobs/5/run/",
        true,
    ),
    // Under-grants of the earlier table.
    ("admin", Method::POST, "/api/v3/accounts/1/invites/", true),
    (
        "admin",
        Method::POST,
        "/api/v3/accounts/1/license-maps/",
        true,
    ),
    (
        "admin",
        Method::PATCH,
        "/api/v3/accounts/1/scim/v2/Users/u1",
        true,
    ),
    (
        "admin",
        Method::POST,
        "/api/v3/accounts/1/group-permissions/3/",
        true,
    ),
    ("admin", Method::GET, "/api/v2/accounts/1/", true),
    ("admin", Method::POST, "/api/v2/accounts/1/", false),
    ("developer", Method::GET, "/api/v3/accounts/1/groups/", true),
    (
        "stakeholder",
        Method::GET,
        "/api/v3/accounts/1/users/",
        true,
    ),
    (
        "job_admin",
        Method::PATCH,
        "/api/v3/accounts/1/projects/3/credentials/4/",
        true,
    ),
    (
        "project_creator",
        Method::POST,
        "/api/v3/accounts/1/group-permissions/3/",
        true,
    ),
    (
        "security_admin",
        Method::POST,
        "/api/v3/accounts/1/group-permissions/3/",
        true,
    ),
    (
        "security_admin",
        Method::GET,
        "/api/v2/accounts/1/jobs/",
        false,
    ),
    // dbt's names.
    ("readonly", Method::GET, "/api/v2/accounts/1/jobs/", true),
    ("readonly", Method::POST, "/api/v2/accounts/1/jobs/", false),
    (
        "owner",
        Method::POST,
        "/api/v3/accounts/1/service-tokens/",
        true,
    ),
    (
        "cost_insights_viewer",
        Method::GET,
        "/api/v3/accounts/1/projects/3/environments/",
        true,
    ),
    (
        "cost_insights_viewer",
        Method::POST,
        "/api/v3/accounts/1/projects/3/environments/",
        false,
    ),
    (
        "job_creator",
        Method::GET,
        "/api/v2/accounts/1/jobs/",
        false,
    ),
    (
        "scim_only",
        Method::GET,
        "/api/v3/accounts/1/scim/v2/Users",
        false,
    ),
];

#[test]
fn the_named_over_and_under_grants_follow_the_documented_table() {
    let s = set(&policy());
    let mut wrong = Vec::new();
    for (name, method, path, expect) in NAMED {
        let group: &'static str = Box::leak(format!("g-{name}").into_boxed_str());
        let got = verdict(&s, method.clone(), "h", path, &Who::named("u", &[group]));
        if got.starts_with("allow") != *expect {
            wrong.push(format!("{name}: {method} {path}: {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn dbt_names_and_the_earlier_spelling_are_accepted() {
    for name in [
        "readonly",
        "read-only",
        "analyst_read",
        "job_creator",
        "notification_manager",
        "fusion_admin",
        "manage_marketplace_apps",
        "cost_insights_admin",
        "cost_insights_viewer",
        "owner",
        "member",
        "scim_only",
    ] {
        assert!(PermissionSet::parse(name).is_ok(), "{name}");
    }
    assert_eq!(
        PermissionSet::parse("read-only"),
        PermissionSet::parse("readonly")
    );
    // Every name of the v3 spec's PermissionSetEnum is a set.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = std::fs::read_to_string(root.join("tests/data/dbt-cloud-api/v3.yaml")).unwrap();
    let at = spec.find("    PermissionSetEnum:\n      enum:\n").unwrap();
    let names: Vec<&str> = spec[at..]
        .lines()
        .skip(2)
        .map_while(|l| l.strip_prefix("      - "))
        .collect();
    assert!(names.len() > 20, "{names:?}");
    for n in names {
        assert!(PermissionSet::parse(n).is_ok(), "{n} from the spec");
    }
}

fn own(groups: &[&'static str], license: Option<&'static str>, dbt_id: &'static str) -> Who {
    Who {
        license,
        external_id: Some(dbt_id),
        ..Who::named("u", groups)
    }
}

#[test]
fn user_scoped_operations_are_the_callers_own_unless_they_manage_users() {
    let s = set(&policy());
    let dev = own(&["g-developer"], None, "42");
    let mine = "/api/v3/users/42/credentials/";
    let theirs = "/api/v3/users/43/credentials/";
    assert_eq!(
        verdict(&s, Method::GET, "h", mine, &dev),
        "allow by own-user"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", mine, &dev),
        "allow by own-user"
    );
    assert_eq!(
        verdict(&s, Method::GET, "h", theirs, &dev),
        "deny by default-deny"
    );
    assert_eq!(
        verdict(&s, Method::POST, "h", theirs, &dev),
        "deny by default-deny"
    );
    // API keys: any license with API access, for themselves.
    let keys = "/api/v3/accounts/1/users/42/account-apikeys/";
    let job_admin = own(&["g-job_admin"], None, "42");
    assert_eq!(
        verdict(&s, Method::POST, "h", keys, &job_admin),
        "allow by own-user"
    );
    // Development credentials need the Develop permission.
    assert_eq!(
        verdict(&s, Method::POST, "h", mine, &job_admin),
        "deny by default-deny"
    );
    // No dbt user id in the directory: nothing is the caller's own.
    let anon = Who::named("u", &["g-developer"]);
    assert_eq!(
        verdict(&s, Method::GET, "h", mine, &anon),
        "deny by default-deny"
    );
    // Read-only licenses have no API access of their own.
    let ro = own(&["g-developer"], Some("read_only"), "42");
    assert_eq!(
        verdict(&s, Method::POST, "h", keys, &ro),
        "deny by default-deny"
    );
    // User management (members write) reaches every user's; members read does not.
    let admin = own(&["g-account_admin"], None, "1");
    assert_eq!(
        verdict(&s, Method::GET, "h", theirs, &admin),
        "allow by grant[0]:g-account_admin:account_admin"
    );
    let viewer = own(&["g-account_viewer"], None, "1");
    assert_eq!(
        verdict(&s, Method::GET, "h", theirs, &viewer),
        "deny by default-deny"
    );
}

/// The permission set × area table as `policies/README.md` shows it: dbt's cells as
/// the transcription writes them.
fn reference_table() -> String {
    let mut out = String::from("| set |");
    for a in Area::ALL {
        out.push_str(&format!(" {} |", a.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Area::COUNT));
    out.push('\n');
    for s in PermissionSet::ALL {
        out.push_str(&format!("| `{}` |", s.name()));
        for &a in Area::ALL {
            let cell = s.cell(a).map_or("-", |c| c.cell.text());
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_readme_table_is_the_transcription() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("policies/README.md")).unwrap();
    let table = reference_table();
    assert!(
        readme.contains(&table),
        "policies/README.md should hold this table:\n{table}"
    );
    // And each area's row as dbt names it.
    for a in Area::ALL {
        let line = format!("| {} | {} |", a.name(), a.row());
        assert!(readme.contains(&line), "policies/README.md lacks `{line}`");
    }
}
