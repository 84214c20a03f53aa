//! Admin UI: policy status. The files in force, when they were last loaded, the
//! digest, the routes, and the last refused reload with its `file:line: reason` (the
//! last good set stays in force until the file is fixed), and the warnings of the set in
//! force (groups it names that do not exist or have no members), and the shadow set's
//! differences ([`super::shadow`]).

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
<tbody>{routes}</tbody></table>{shadow}",
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
