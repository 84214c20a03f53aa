//! The doctor's decision steps: ask the admin API's `/decide` and check the answer.

use std::time::Instant;

use http::{Method, StatusCode};
use serde_json::json;

use super::report::{Report, Step};
use super::Cycle;
use crate::ops::decide::DecideResponse;

impl Cycle<'_> {
    /// Asks `/decide` and checks the answer; whether the step held.
    pub(super) async fn check_decision(&self, report: &mut Report, want_allow: bool) -> bool {
        let started = Instant::now();
        let (method, url) = match self.request {
            Some((m, u)) => (m.as_str(), u.as_str()),
            None => ("GET", "/"),
        };
        let name = match (self.request, want_allow) {
            (Some(_), true) => format!("decision allows {method} {url}"),
            (Some(_), false) => format!("decision denies {method} {url}"),
            (None, true) => "directory: user active and in the group".to_owned(),
            (None, false) => "directory: user inactive".to_owned(),
        };
        let body = json!({ "user": self.user_name, "method": method, "url": url });
        let answer = match self
            .admin
            .call(Method::POST, "/decide", Some(&body), &[StatusCode::OK])
            .await
        {
            Ok(v) => serde_json::from_value::<DecideResponse>(v),
            Err(e) => {
                report.push(Step::failed(name, started.elapsed(), e.to_string()));
                return false;
            }
        };
        let elapsed = started.elapsed();
        let d = match answer {
            Ok(d) => d,
            Err(e) => {
                report.push(Step::failed(
                    name,
                    elapsed,
                    format!("the /decide answer is not understood: {e}"),
                ));
                return false;
            }
        };
        let in_group = d
            .user
            .groups
            .iter()
            .any(|g| crate::ident::same(g, self.group));
        let verdict = match (self.request.is_some(), want_allow) {
            (true, _) if d.allow == want_allow => Ok(describe(&d)),
            (true, _) => Err(describe(&d)),
            (false, true) if d.user.active && in_group => {
                Ok(format!("active, groups: {}", d.user.groups.join(", ")))
            }
            (false, true) => Err(format!(
                "the directory has the user {}, groups: [{}]",
                if d.user.active { "active" } else { "inactive" },
                d.user.groups.join(", ")
            )),
            (false, false) if d.user.found && !d.user.active => Ok("inactive".to_owned()),
            (false, false) => Err("the directory still has the user active".to_owned()),
        };
        match verdict {
            Ok(note) => {
                report.push(Step::ok(name, elapsed, note));
                true
            }
            Err(note) => {
                report.push(Step::failed(name, elapsed, note));
                false
            }
        }
    }
}

/// A decision in words.
fn describe(d: &DecideResponse) -> String {
    let verb = if d.allow { "allowed" } else { "denied" };
    let route = d.route.as_deref().unwrap_or("(no route)");
    let mut s = format!(
        "{verb} by {} on route {route} (directory seq {})",
        d.rule, d.seq
    );
    if !d.allow && !d.allowed_groups.is_empty() {
        s.push_str(&format!(
            "; allowed groups: {}",
            d.allowed_groups.join(", ")
        ));
    }
    s
}
