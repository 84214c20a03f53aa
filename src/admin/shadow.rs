//! Admin UI: the shadow policy set's section of the policy page. Where the candidate
//! set is read from, its status (a refused reload keeps the last good one), and every
//! kind of difference it would make on the traffic seen since it was loaded: would
//! allow / would deny, with both deciding rules, how often, when last, and for whom.

use crate::clock::rfc3339_millis;
use crate::gate::pages::public_location;
use crate::policy::shadow::{BoardRow, Shadow, BOARD_KEYS};
use crate::web::E;

/// The section's HTML (empty when no shadow set is configured).
pub fn section(shadow: Option<&Shadow>) -> String {
    let Some(shadow) = shadow else {
        return "<h2>Shadow policies</h2><p class=\"muted\">No shadow set: put candidate \
policies in <code>policies/shadow/</code> (or set <code>shadow_policies:</code>) to see whom \
a change would let in or lock out before it goes live.</p>"
            .to_owned();
    };
    let handle = shadow.handle();
    let status = handle.status();
    let error = match &status.last_error {
        Some(e) => format!(
            "<div class=\"error shadow-error\"><strong>The last reload of the shadow set was \
refused</strong>; the last good one stays.<pre>{}</pre></div>",
            E(e)
        ),
        None => String::new(),
    };
    let (rows, overflow) = shadow.board();
    let table = if rows.is_empty() {
        "<p class=\"ok shadow-none\">No differences yet: on the traffic seen, the shadow set \
decides as the live one.</p>"
            .to_owned()
    } else {
        let body: String = rows.iter().map(row).collect();
        format!(
            "<table class=\"shadow-differences\"><thead><tr><th>Difference</th><th>Live rule</th>\
<th>Shadow rule</th><th>Count</th><th>Last</th><th>Users</th></tr></thead><tbody>{body}</tbody></table>"
        )
    };
    let more = if overflow > 0 {
        format!(
            "<p class=\"muted\">{overflow} further differences of other kinds (past the first \
{BOARD_KEYS}) were only counted.</p>"
        )
    } else {
        String::new()
    };
    format!(
        "<h2>Shadow policies</h2>{error}<p>Judged beside the live set on every signed-in \
request, deciding nothing. Directory <code>{dir}</code>, digest <code>{digest}</code>, \
{routes} routes.</p>{table}{more}",
        dir = E(&handle.dir().display().to_string()),
        digest = E(&status.digest),
        routes = handle.current().routes().len(),
    )
}

fn row(r: &BoardRow) -> String {
    let rule = |by: &crate::policy::RuleRef| {
        format!(
            "<code>{}</code> {} <span class=\"muted\">{}</span>",
            E(&by.route),
            E(&by.rule),
            E(public_location(&by.location))
        )
    };
    let what = match r.kind {
        crate::policy::shadow::DiffKind::WouldAllow => "would allow",
        crate::policy::shadow::DiffKind::WouldDeny => "would deny",
    };
    let users: Vec<String> = r.users.iter().map(|u| E(u).to_string()).collect();
    format!(
        "<tr class=\"{kind}\"><td>{what}</td><td>{live}</td><td>{shadow}</td><td>{count}</td>\
<td>{last}</td><td>{users}</td></tr>",
        kind = r.kind.label(),
        live = rule(&r.live),
        shadow = rule(&r.shadow),
        count = r.count,
        last = E(&rfc3339_millis(r.last_ms)),
        users = users.join(", "),
    )
}
