//! The "Request access" form for one requestable grant, shown on the 403 page next to
//! the groups that would allow the request, and on `/me` for every grant the user may
//! ask for: the group, how long at most, who approves, a reason (required when the
//! grant says so) and a choice of durations. It posts to [`REQUEST_PATH`] with the
//! session's CSRF token; the handler (`admin::me_requests`) checks it.

use std::time::Duration;

use crate::access::Offer;
use crate::policy::requestable::show_duration;
use crate::web::{csrf_field, E};

/// Where the form posts (a control path, answered on every origin).
pub const REQUEST_PATH: &str = "/.scimgate/me/access-requests";

/// The durations offered, each at most the grant's longest.
const CHOICES: [u64; 9] = [
    15 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    86_400,
    3 * 86_400,
    7 * 86_400,
    14 * 86_400,
];

/// The longest reason the form lets a browser send (the service refuses longer).
const MAX_REASON: usize = 1024;

/// The durations a requester may pick for a grant lasting at most `max`: the usual
/// ones below it, and `max` itself (preselected).
pub fn duration_choices(max: Duration) -> Vec<Duration> {
    let mut out: Vec<Duration> = CHOICES
        .iter()
        .map(|s| Duration::from_secs(*s))
        .filter(|d| *d < max)
        .collect();
    out.push(max);
    out
}

/// The form for `offer`, posting with `csrf`.
pub fn request_form(offer: &Offer, csrf: &str) -> String {
    let approvers: Vec<String> = offer
        .approvers
        .iter()
        .map(|g| format!("<code class=\"group\">{}</code>", E(g)))
        .collect();
    let approvals = match offer.approvals {
        1 => "one approval".to_owned(),
        n => format!("{n} approvals"),
    };
    let options: String = duration_choices(offer.max_duration)
        .iter()
        .map(|d| {
            let selected = if *d == offer.max_duration {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                d.as_secs(),
                E(&show_duration(*d))
            )
        })
        .collect();
    let (required, hint) = if offer.reason_required {
        (" required", "required")
    } else {
        ("", "optional")
    };
    format!(
        "<form class=\"request-access\" method=\"post\" action=\"{REQUEST_PATH}\">{csrf}\
<input type=\"hidden\" name=\"route\" value=\"{route}\">\
<input type=\"hidden\" name=\"group\" value=\"{group}\">\
<p>Request <code class=\"group\">{group}</code> on <code class=\"route\">{route}</code> \
for up to <strong>{max}</strong>; {approvals} from {approvers}.</p>\
<p><label>Reason ({hint})<br><textarea name=\"reason\" rows=\"2\" cols=\"50\" \
maxlength=\"{MAX_REASON}\"{required}></textarea></label></p>\
<p><label>For <select name=\"duration\">{options}</select></label> \
<button type=\"submit\">Request access</button></p></form>",
        csrf = csrf_field(csrf),
        route = E(&offer.route),
        group = E(&offer.group),
        max = E(&show_duration(offer.max_duration)),
        approvers = approvers.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn durations_stop_at_the_grants_longest() {
        let d = |s| Duration::from_secs(s);
        assert_eq!(duration_choices(d(25)), [d(25)]);
        assert_eq!(
            duration_choices(d(4 * 3600)),
            [d(900), d(3600), d(7200), d(4 * 3600)]
        );
    }

    #[test]
    fn the_form_escapes_and_requires_a_reason_when_asked() {
        let offer = Offer {
            route: Arc::from("docs<x>"),
            group: Arc::from("readers\"&"),
            max_duration: Duration::from_secs(3600),
            approvals: 2,
            reason_required: true,
            approvers: vec![Arc::from("leads")].into(),
        };
        let html = request_form(&offer, "tok");
        assert!(html.contains("docs&lt;x&gt;") && !html.contains("docs<x>"));
        assert!(html.contains("readers&quot;&amp;"));
        assert!(html.contains(" required>"));
        assert!(html.contains("2 approvals from <code class=\"group\">leads</code>"));
        assert!(html.contains("name=\"csrf\" value=\"tok\""));
        let html = request_form(
            &Offer {
                reason_required: false,
                ..offer
            },
            "tok",
        );
        assert!(!html.contains(" required>"));
    }
}
