//! `scimgate doctor`: the sync canary. Runs a staging-user cycle against a running
//! instance through its real HTTP APIs and reports each step with its timing and a
//! verdict.
//!
//! The cycle: find the group (it proves the token works), create a user
//! `scimgate-doctor-<random>`, add it to the group (creating the group if it does not
//! exist), ask the admin API's `/decide` for the decision (allowed), deactivate the
//! user, ask again (denied), then delete the user and a group the doctor created. The
//! clean-up runs whatever failed before it. With `--request "METHOD URL"` the decisions
//! are about that request; without, they check that the directory sees the user active
//! and in the group, then inactive.
//!
//! Users and groups are written through the admin API with the admin token, or through
//! the SCIM API when `--scim-token` is given (needed when the group is managed by the
//! identity provider and manual updates are off: the admin API may not change it).

mod api;
mod decision;
mod report;

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;

use self::api::{Api, CallError};
pub use self::report::{Report, Step};
use crate::web::url_encode;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Where the admin API lives on an instance.
pub const ADMIN_PREFIX: &str = "/.scimgate/admin/v1";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The instance's base URL, e.g. `https://gate.example.com`.
    pub url: String,
    /// An admin token (for `/decide`, and for the changes unless `scim_token`).
    pub token: String,
    /// A SCIM token: make the changes through the SCIM API, as an identity provider.
    pub scim_token: Option<String>,
    /// The group the staging user joins.
    pub group: String,
    /// `METHOD URL` of a request the group should be allowed to make.
    pub request: Option<String>,
    /// Time allowed for each call.
    pub timeout: Duration,
}

/// What the run created, so the clean-up knows what to remove.
#[derive(Default)]
struct Created {
    user_id: Option<String>,
    group_id: Option<String>,
}

/// Runs the cycle; never fails as a whole: every problem is a failed step.
pub async fn run(opts: &Options) -> Report {
    let user_name = format!("scimgate-doctor-{:08x}", rand::random::<u32>());
    let mut report = Report::new(&opts.url, &user_name, &opts.group);
    let http = match api::client(opts.timeout) {
        Ok(h) => h,
        Err(e) => {
            report.push(Step::failed(
                "set up an HTTP client",
                Duration::ZERO,
                e.to_string(),
            ));
            return report;
        }
    };
    let base = opts.url.trim_end_matches('/').to_owned();
    let admin = Api::new(
        http.clone(),
        format!("{base}{ADMIN_PREFIX}"),
        opts.token.clone(),
        "admin",
    );
    let resources = match &opts.scim_token {
        Some(t) => Api::new(http, format!("{base}/scim/v2"), t.clone(), "SCIM"),
        None => admin.clone(),
    };
    let request = match opts.request.as_deref().map(parse_request).transpose() {
        Ok(r) => r,
        Err(e) => {
            report.push(Step::failed("read --request", Duration::ZERO, e));
            return report;
        }
    };
    let mut created = Created::default();
    let cycle = Cycle {
        admin: &admin,
        resources: &resources,
        user_name: &user_name,
        group: &opts.group,
        request: request.as_ref(),
    };
    cycle.steps(&mut report, &mut created).await;
    cycle.clean_up(&mut report, &created).await;
    report
}

/// `METHOD URL`, e.g. `GET https://docs.example.com/`.
fn parse_request(text: &str) -> Result<(String, String), String> {
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(url), None) => Ok((method.to_ascii_uppercase(), url.to_owned())),
        _ => Err(format!(
            "--request {text:?}: write \"METHOD https://host/path\""
        )),
    }
}

struct Cycle<'a> {
    admin: &'a Api,
    resources: &'a Api,
    user_name: &'a str,
    group: &'a str,
    /// `(METHOD, URL)` from `--request`.
    request: Option<&'a (String, String)>,
}

impl Cycle<'_> {
    /// The steps up to the clean-up; stops at the first that does not hold.
    async fn steps(&self, report: &mut Report, created: &mut Created) {
        // 1. The group (a read: a wrong token fails here, before anything is written).
        let started = Instant::now();
        let existing = match self.find_group().await {
            Ok(found) => {
                let note = match &found {
                    Some(id) => format!("exists (id {id})"),
                    None => "does not exist: it will be created".to_owned(),
                };
                report.push(Step::ok(
                    format!("find group {}", self.group),
                    started.elapsed(),
                    note,
                ));
                found
            }
            Err(e) => {
                return report.push(Step::failed(
                    format!("find group {}", self.group),
                    started.elapsed(),
                    e.to_string(),
                ))
            }
        };
        // 2. The user.
        let started = Instant::now();
        let body = json!({ "schemas": [USER_SCHEMA], "userName": self.user_name, "active": true });
        match self
            .resources
            .call(Method::POST, "/Users", Some(&body), &[StatusCode::CREATED])
            .await
        {
            Ok(v) => match v["id"].as_str() {
                Some(id) => {
                    created.user_id = Some(id.to_owned());
                    report.push(Step::ok(
                        "create user",
                        started.elapsed(),
                        format!("id {id}"),
                    ));
                }
                None => {
                    return report.push(Step::failed(
                        "create user",
                        started.elapsed(),
                        "the answer has no id",
                    ))
                }
            },
            Err(e) => {
                return report.push(Step::failed(
                    "create user",
                    started.elapsed(),
                    e.to_string(),
                ))
            }
        }
        let Some(user_id) = created.user_id.clone() else {
            return;
        };
        // 3. Membership.
        let started = Instant::now();
        let joined = match &existing {
            Some(gid) => {
                let patch = json!({ "schemas": [PATCH_SCHEMA], "Operations": [
                    { "op": "add", "path": "members", "value": [{ "value": user_id }] }
                ]});
                self.resources
                    .call(
                        Method::PATCH,
                        &format!("/Groups/{gid}"),
                        Some(&patch),
                        &[StatusCode::OK, StatusCode::NO_CONTENT],
                    )
                    .await
                    .map(|_| format!("added to {}", self.group))
            }
            None => {
                let body = json!({ "schemas": [GROUP_SCHEMA], "displayName": self.group, "members": [{ "value": user_id }] });
                match self
                    .resources
                    .call(Method::POST, "/Groups", Some(&body), &[StatusCode::CREATED])
                    .await
                {
                    Ok(v) => {
                        created.group_id = v["id"].as_str().map(str::to_owned);
                        Ok(format!("created {} with the user in it", self.group))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match joined {
            Ok(note) => report.push(Step::ok("add user to group", started.elapsed(), note)),
            Err(e) => {
                return report.push(Step::failed(
                    "add user to group",
                    started.elapsed(),
                    e.to_string(),
                ))
            }
        }
        // 4. Allowed.
        if !self.check_decision(report, true).await {
            return;
        }
        // 5. Deactivate.
        let started = Instant::now();
        let patch = json!({ "schemas": [PATCH_SCHEMA], "Operations": [
            { "op": "replace", "value": { "active": false } }
        ]});
        match self
            .resources
            .call(
                Method::PATCH,
                &format!("/Users/{user_id}"),
                Some(&patch),
                &[StatusCode::OK, StatusCode::NO_CONTENT],
            )
            .await
        {
            Ok(_) => report.push(Step::ok(
                "deactivate user",
                started.elapsed(),
                "active: false",
            )),
            Err(e) => {
                return report.push(Step::failed(
                    "deactivate user",
                    started.elapsed(),
                    e.to_string(),
                ))
            }
        }
        // 6. Denied.
        self.check_decision(report, false).await;
    }

    /// Removes what the run created (always runs).
    async fn clean_up(&self, report: &mut Report, created: &Created) {
        if let Some(id) = &created.user_id {
            let started = Instant::now();
            match self
                .resources
                .call(
                    Method::DELETE,
                    &format!("/Users/{id}"),
                    None,
                    &[StatusCode::NO_CONTENT],
                )
                .await
            {
                Ok(_) => report.push(Step::ok(
                    "clean up: delete user",
                    started.elapsed(),
                    "deleted",
                )),
                Err(e) => report.push(Step::failed(
                    "clean up: delete user",
                    started.elapsed(),
                    format!("{e}; delete {} by hand", self.user_name),
                )),
            }
        }
        if let Some(id) = &created.group_id {
            let started = Instant::now();
            match self
                .resources
                .call(
                    Method::DELETE,
                    &format!("/Groups/{id}"),
                    None,
                    &[StatusCode::NO_CONTENT],
                )
                .await
            {
                Ok(_) => report.push(Step::ok(
                    "clean up: delete group",
                    started.elapsed(),
                    "deleted (the doctor created it)",
                )),
                Err(e) => report.push(Step::failed(
                    "clean up: delete group",
                    started.elapsed(),
                    format!("{e}; delete group {} by hand", self.group),
                )),
            }
        }
    }

    /// The id of the group named `self.group`, if it exists.
    async fn find_group(&self) -> Result<Option<String>, CallError> {
        let filter = format!(
            "displayName eq \"{}\"",
            self.group.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let path = format!(
            "/Groups?filter={}&excludedAttributes=members",
            url_encode(&filter)
        );
        let list = self
            .resources
            .call(Method::GET, &path, None, &[StatusCode::OK])
            .await?;
        Ok(list["Resources"]
            .as_array()
            .and_then(|r| r.first())
            .and_then(|g| g["id"].as_str())
            .map(str::to_owned))
    }
}
