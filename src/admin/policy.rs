//! Admin UI: policy status. The files in force, when they were last loaded, the
//! digest, the routes, and the last refused reload with its `file:line: reason` (the
//! last good set stays in force until the file is fixed), and the warnings of the set in
//! force (groups it names that do not exist or have no members), the shadow set's
//! differences ([`super::shadow`]), and what users may request on each route
//! (requestable grants).

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::error::PageError;
use super::layout::page as layout;
use super::AdminState;
use crate::clock::rfc3339_millis;
use crate::web::{html, E};

/// `GET /.scimgate/admin/policy`.
#[tracing::instrument(skip_all)]
pub async fn status(
    State(s): State<Arc<AdminState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    let viewer = s.admin(&headers, &uri).await?;
    let status = s.live.policy.status();
    let set = s.live.policy.current();
    let error = match &status.last_error {
        Some(e) => format!(
            "<div class=\"error last-error\"><strong>The last reload was refused</strong>; \
the policies below stay in force.<pre>{}</pre></div>",
            E(e)
        ),
        None => "<p class=\"ok\">The last reload succeeded.</p>".to_owned(),
    };
    let warnings: String = s
        .live
        .policy
        .warnings()
        .iter()
        .map(|w| {
            let what = if w.missing {
                "does not exist in the directory"
            } else {
                "has no members"
            };
            format!(
                "<li>Group <code>{}</code> ({}) {what}: the rules naming it let nobody in.</li>",
                E(&w.group),
                E(crate::gate::pages::public_location(&w.location)),
            )
        })
        .collect();
    let warnings = if warnings.is_empty() {
        String::new()
    } else {
        format!("<h2>Warnings</h2><ul class=\"warnings\">{warnings}</ul>")
    };
    let files: String = set
        .files()
        .iter()
        .map(|f| format!("<li><code>{}</code></li>", E(f)))
        .collect();
    let routes: String = set
        .routes()
        .iter()
        .map(|r| {
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
<td>{}</td><td class=\"muted\">{}</td></tr>",
                E(&r.name),
                E(&r.host_pattern().to_string()),
                E(r.path_pattern().as_str()),
                E(r.preset.map(|p| p.name()).unwrap_or("")),
                E(crate::gate::pages::public_location(&r.location)),
            )
        })
        .collect();
    let main = format!(
        "<h1>Policy status</h1>{error}{warnings}\
<dl><dt>Directory</dt><dd><code>{dir}</code></dd>\
<dt>Last loaded</dt><dd class=\"last-load\">{loaded}</dd>\
<dt>Digest</dt><dd><code>{digest}</code></dd><dt>Generation</dt><dd>{generation}</dd></dl>\
<h2>Files in force</h2><ul>{files}</ul>\
<h2>Routes</h2><table><thead><tr><th>Name</th><th>Host</th><th>Path</th><th>Preset</th><th>Where</th></tr></thead>\
<tbody>{routes}</tbody></table>{requestable}{shadow}",
        requestable = requestable_table(&set),
        shadow = super::shadow::section(s.live.shadow.as_deref()),
        dir = E(&s.live.policy.dir().display().to_string()),
        loaded = E(&rfc3339_millis(status.last_success_ms)),
        digest = E(&status.digest),
        generation = status.generation,
    );
    Ok(html(
        StatusCode::OK,
        layout("Policy status", Some(&viewer.nav()), &main),
    ))
}

/// The requestable grants of every route, or nothing when the set has none.
fn requestable_table(set: &crate::policy::PolicySet) -> String {
    let join = |names: &[Arc<str>]| {
        names
            .iter()
            .map(|n| format!("<code>{}</code>", E(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows: String = set
        .routes()
        .iter()
        .flat_map(|r| r.requestable())
        .map(|q| {
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                E(&q.route),
                E(&q.group),
                join(&q.requesters),
                join(&q.approvers),
                E(&crate::policy::requestable::show_duration(q.max_duration)),
                q.approvals,
                if q.reason_required {
                    "required"
                } else {
                    "optional"
                },
                E(crate::gate::pages::public_location(&q.location)),
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Requestable grants</h2><table class=\"requestable\"><thead><tr><th>Route</th><th>Group</th>\
<th>Requesters</th><th>Approvers</th><th>At most</th><th>Approvals</th><th>Reason</th><th>Where</th></tr></thead>\
<tbody>{rows}</tbody></table>"
    )
}
