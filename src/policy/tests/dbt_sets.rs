//! The dbt-platform permission sets, table-driven: for each set, representative
//! operations it allows and operations it denies, as the dbt platform documents them.

use http::Method;

use super::super::dbt::PermissionSet;
use super::{set, verdict, Who};

const JOB_READ: (Method, &str) = (Method::GET, "/api/v2/accounts/1/jobs/5/");
const JOB_EDIT: (Method, &str) = (Method::POST, "/api/v2/accounts/1/jobs/5/");
const JOB_CREATE: (Method, &str) = (Method::POST, "/api/v2/accounts/1/jobs/");
const JOB_TRIGGER: (Method, &str) = (Method::POST, "/api/v2/accounts/1/jobs/5/run/");
const RUN_READ: (Method, &str) = (Method::GET, "/api/v2/accounts/1/runs/9/");
const RUN_CANCEL: (Method, &str) = (Method::POST, "/api/v2/accounts/1/runs/9/cancel/");
const ENV_READ: (Method, &str) = (
    Method::GET,
    "/api/v3/accounts/1/projects/123/environments/4/",
);
const ENV_EDIT: (Method, &str) = (
    Method::POST,
    "/api/v3/accounts/1/projects/123/environments/4/",
);
const CRED_READ: (Method, &str) = (
    Method::GET,
    "/api/v3/accounts/1/projects/123/credentials/4/",
);
const CRED_EDIT: (Method, &str) = (
    Method::PATCH,
    "/api/v3/accounts/1/projects/123/credentials/4/",
);
const CONN_EDIT: (Method, &str) = (
    Method::POST,
    "/api/v3/accounts/1/projects/123/connections/4/",
);
const REPO_EDIT: (Method, &str) = (
    Method::POST,
    "/api/v3/accounts/1/projects/123/repositories/4/",
);
const PROJECT_READ: (Method, &str) = (Method::GET, "/api/v3/accounts/1/projects/123/");
const PROJECT_CREATE: (Method, &str) = (Method::POST, "/api/v3/accounts/1/projects/");
const GROUPS_READ: (Method, &str) = (Method::GET, "/api/v3/accounts/1/groups/");
const GROUPS_EDIT: (Method, &str) = (Method::POST, "/api/v3/accounts/1/groups/");
const USER_EDIT: (Method, &str) = (Method::PATCH, "/api/v3/accounts/1/scim/v2/Users/u1");
const LICENSE_MAP_EDIT: (Method, &str) = (Method::POST, "/api/v3/accounts/1/license-maps/");
const INVITE: (Method, &str) = (Method::POST, "/api/v3/accounts/1/invites/");
const IP_READ: (Method, &str) = (Method::GET, "/api/v3/accounts/1/ip-restrictions/");
const IP_EDIT: (Method, &str) = (Method::POST, "/api/v3/accounts/1/ip-restrictions/");
const AUDIT: (Method, &str) = (Method::GET, "/api/v3/accounts/1/audit-logs/");
const TOKEN_READ: (Method, &str) = (Method::GET, "/api/v3/accounts/1/service-tokens/");
const TOKEN_CREATE: (Method, &str) = (Method::POST, "/api/v3/accounts/1/service-tokens/");
const HOOK_READ: (Method, &str) = (Method::GET, "/api/v3/accounts/1/webhooks/subscriptions");
const HOOK_CREATE: (Method, &str) = (Method::POST, "/api/v3/accounts/1/webhooks/subscriptions");
const ACCOUNT_READ: (Method, &str) = (Method::GET, "/api/v2/accounts/1/");
const ACCOUNT_EDIT: (Method, &str) = (Method::POST, "/api/v2/accounts/1/");
const DISCOVERY: (Method, &str) = (Method::POST, "/graphql");
const SEMANTIC_LAYER: (Method, &str) = (Method::POST, "/api/graphql");

type Case = (
    &'static str,
    &'static [(Method, &'static str)],
    &'static [(Method, &'static str)],
);

/// (set, allowed, denied).
const CASES: &[Case] = &[
    (
        "account_admin",
        &[
            ACCOUNT_EDIT,
            JOB_EDIT,
            ENV_EDIT,
            CRED_EDIT,
            GROUPS_EDIT,
            USER_EDIT,
            IP_EDIT,
            AUDIT,
            TOKEN_CREATE,
            HOOK_CREATE,
            PROJECT_CREATE,
            DISCOVERY,
            SEMANTIC_LAYER,
        ],
        &[],
    ),
    (
        "account_viewer",
        &[
            ACCOUNT_READ,
            JOB_READ,
            RUN_READ,
            ENV_READ,
            GROUPS_READ,
            IP_READ,
            AUDIT,
            TOKEN_READ,
            HOOK_READ,
            DISCOVERY,
        ],
        &[
            ACCOUNT_EDIT,
            JOB_EDIT,
            JOB_TRIGGER,
            GROUPS_EDIT,
            IP_EDIT,
            CRED_READ,
            TOKEN_CREATE,
        ],
    ),
    (
        "admin",
        &[
            JOB_CREATE,
            JOB_EDIT,
            JOB_TRIGGER,
            ENV_EDIT,
            CRED_EDIT,
            CONN_EDIT,
            REPO_EDIT,
            HOOK_CREATE,
            DISCOVERY,
        ],
        &[
            GROUPS_READ,
            GROUPS_EDIT,
            USER_EDIT,
            IP_EDIT,
            AUDIT,
            TOKEN_CREATE,
            ACCOUNT_READ,
            ACCOUNT_EDIT,
        ],
    ),
    (
        "developer",
        &[
            JOB_READ,
            JOB_TRIGGER,
            RUN_READ,
            RUN_CANCEL,
            CRED_EDIT,
            ENV_READ,
            PROJECT_READ,
            DISCOVERY,
            SEMANTIC_LAYER,
        ],
        &[
            JOB_EDIT,
            JOB_CREATE,
            ENV_EDIT,
            CONN_EDIT,
            REPO_EDIT,
            GROUPS_EDIT,
            IP_READ,
            AUDIT,
            TOKEN_READ,
        ],
    ),
    (
        "analyst",
        &[
            JOB_READ,
            JOB_TRIGGER,
            CRED_EDIT,
            ENV_READ,
            DISCOVERY,
            SEMANTIC_LAYER,
        ],
        &[
            JOB_EDIT,
            ENV_EDIT,
            CONN_EDIT,
            REPO_EDIT,
            HOOK_CREATE,
            GROUPS_READ,
        ],
    ),
    (
        "database_admin",
        &[CONN_EDIT, CRED_EDIT, JOB_READ, ENV_READ, DISCOVERY],
        &[JOB_EDIT, ENV_EDIT, REPO_EDIT, GROUPS_EDIT],
    ),
    (
        "git_admin",
        &[REPO_EDIT, JOB_READ, RUN_READ, ENV_READ, CRED_READ],
        &[CONN_EDIT, CRED_EDIT, JOB_EDIT, JOB_TRIGGER, ENV_EDIT],
    ),
    (
        "team_admin",
        &[JOB_READ, ENV_READ, PROJECT_READ, CRED_READ],
        &[
            GROUPS_EDIT,
            INVITE,
            GROUPS_READ,
            JOB_EDIT,
            JOB_TRIGGER,
            USER_EDIT,
            IP_EDIT,
            CRED_EDIT,
        ],
    ),
    (
        "job_admin",
        &[
            JOB_CREATE,
            JOB_EDIT,
            JOB_TRIGGER,
            RUN_CANCEL,
            ENV_EDIT,
            HOOK_CREATE,
            CRED_READ,
        ],
        &[CRED_EDIT, CONN_EDIT, REPO_EDIT, GROUPS_READ, PROJECT_CREATE],
    ),
    (
        "job_runner",
        &[JOB_READ, JOB_TRIGGER, RUN_CANCEL],
        &[JOB_EDIT, ENV_READ, DISCOVERY, CRED_READ],
    ),
    (
        "job_viewer",
        &[JOB_READ, RUN_READ, ENV_READ, DISCOVERY],
        &[JOB_EDIT, JOB_TRIGGER, RUN_CANCEL, CRED_READ],
    ),
    (
        "stakeholder",
        &[
            JOB_READ,
            RUN_READ,
            ENV_READ,
            CRED_READ,
            DISCOVERY,
            SEMANTIC_LAYER,
        ],
        &[JOB_EDIT, JOB_TRIGGER, CRED_EDIT, ENV_EDIT],
    ),
    (
        "metadata_only",
        &[DISCOVERY],
        &[SEMANTIC_LAYER, JOB_READ, RUN_READ, PROJECT_READ],
    ),
    (
        "semantic_layer_only",
        &[SEMANTIC_LAYER],
        &[DISCOVERY, JOB_READ, PROJECT_READ],
    ),
    (
        "webhooks_only",
        &[HOOK_READ, HOOK_CREATE],
        &[JOB_READ, RUN_READ, DISCOVERY],
    ),
    (
        "security_admin",
        &[
            IP_READ,
            IP_EDIT,
            AUDIT,
            USER_EDIT,
            GROUPS_EDIT,
            LICENSE_MAP_EDIT,
            TOKEN_READ,
        ],
        &[TOKEN_CREATE, JOB_EDIT, JOB_TRIGGER, ACCOUNT_EDIT, CRED_READ],
    ),
    (
        "billing_admin",
        &[ACCOUNT_READ],
        &[ACCOUNT_EDIT, JOB_READ, GROUPS_READ, IP_READ],
    ),
    (
        "project_creator",
        &[
            PROJECT_CREATE,
            CONN_EDIT,
            ENV_EDIT,
            JOB_EDIT,
            INVITE,
            USER_EDIT,
        ],
        &[GROUPS_EDIT, IP_EDIT, AUDIT, TOKEN_CREATE, ACCOUNT_EDIT],
    ),
    (
        "read-only",
        &[
            JOB_READ,
            RUN_READ,
            ENV_READ,
            PROJECT_READ,
            DISCOVERY,
            SEMANTIC_LAYER,
        ],
        &[
            JOB_EDIT,
            JOB_TRIGGER,
            CRED_READ,
            CRED_EDIT,
            AUDIT,
            GROUPS_READ,
            ACCOUNT_READ,
        ],
    ),
];

/// One route granting each set to a group named after it.
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

#[test]
fn every_set_allows_and_denies_as_documented() {
    let s = set(&policy());
    assert_eq!(CASES.len(), PermissionSet::ALL.len(), "a case per set");
    let mut wrong = Vec::new();
    for (set_name, allowed, denied) in CASES {
        let group: &'static str = Box::leak(format!("g-{set_name}").into_boxed_str());
        let who = Who::named("u", &[group]);
        for (expect, ops) in [(true, *allowed), (false, *denied)] {
            for (method, path) in ops {
                let got = verdict(&s, method.clone(), "h", path, &who);
                if got.starts_with("allow") != expect {
                    wrong.push(format!("{set_name}: {method} {path}: {got}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The permission set × area table as `policies/README.md` shows it.
fn reference_table() -> String {
    use super::super::dbt::Area;
    let mut out = String::from("| set |");
    for a in Area::ALL {
        out.push_str(&format!(" {} |", a.name()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Area::COUNT));
    out.push('\n');
    for s in PermissionSet::ALL {
        let levels = s.levels();
        out.push_str(&format!("| `{}` |", s.name()));
        for a in Area::ALL {
            out.push_str(&format!(" {} |", levels[a.index()].letter()));
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_readme_table_is_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("policies/README.md")).unwrap();
    let table = reference_table();
    assert!(
        readme.contains(&table),
        "policies/README.md should hold this table:\n{table}"
    );
}
