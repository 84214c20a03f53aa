//! The JSON an event is POSTed as: Slack-compatible (`text`, a readable one-line
//! summary, and `blocks`, Slack section blocks) with the structured event under
//! `scimgate` for receivers that are not Slack.
//!
//! What people wrote (names, reasons, comments) is escaped for Slack's markup (`&`,
//! `<`, `>`) in `text` and `blocks`, so a reason cannot mention `<!channel>` or forge
//! a link; the `scimgate` object carries it as written.

use serde_json::{json, Value};

use super::event::{Event, EventKind};
use crate::clock::rfc3339_millis;

/// Where the page links of a message point (`None`: no links).
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// `https://gate.example.com`, without a trailing `/`.
    pub base: Option<String>,
}

/// The page approvers decide on.
pub const APPROVE_PATH: &str = "/.scimgate/admin/access-requests";
/// The page requesters follow their requests on.
pub const ME_PATH: &str = "/.scimgate/me";

/// The body of the POST for `event`.
pub fn body(event: &Event, links: &Links) -> Value {
    let summary = summary(event, links);
    let mut fields = vec![
        field("Route", &event.route),
        field("Group", &event.group),
        field("Requester", &event.requester),
        field("Duration", &duration(event.duration_seconds)),
    ];
    if let Some(reason) = &event.reason {
        fields.push(field("Reason", reason));
    }
    if let Some(approver) = &event.approver {
        fields.push(field("By", approver));
    }
    if let Some(comment) = &event.comment {
        fields.push(field("Comment", comment));
    }
    if let Some(ends) = event.ends_at_ms {
        fields
            .push(json!({ "type": "mrkdwn", "text": format!("*Ends*\n{}", rfc3339_millis(ends)) }));
    }
    json!({
        "text": summary,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": summary } },
            // Slack allows at most 10 fields per section.
            { "type": "section", "fields": fields.into_iter().take(10).collect::<Vec<_>>() },
        ],
        "scimgate": {
            "kind": event.kind.as_str(),
            "request_id": event.request_id,
            "route": event.route,
            "group": event.group,
            "requester": event.requester,
            "approver": event.approver,
            "comment": event.comment,
            "reason": event.reason,
            "duration_seconds": event.duration_seconds,
            "ends_at": event.ends_at_ms.map(rfc3339_millis),
            "at": rfc3339_millis(event.at_ms),
        },
    })
}

/// One labelled field of the details section.
fn field(label: &str, value: &str) -> Value {
    json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", escape(value)) })
}

/// The one-line summary: `ana requested dbt-job-admins on dbt-platform for 4h: fix
/// prod job — approve at <https://…>`.
pub fn summary(event: &Event, links: &Links) -> String {
    let who = escape(&event.requester);
    let what = format!("{} on {}", escape(&event.group), escape(&event.route));
    let by = escape(event.approver.as_deref().unwrap_or("someone"));
    let span = duration(event.duration_seconds);
    let mut line = match event.kind {
        EventKind::Requested => format!("{who} requested {what} for {span}"),
        EventKind::Approved => format!("{by} approved {who}'s request for {what} ({span})"),
        EventKind::Denied => format!("{by} denied {who}'s request for {what}"),
        EventKind::Started => match event.ends_at_ms {
            Some(ends) => format!("{who} now has {what} until {}", rfc3339_millis(ends)),
            None => format!("{who} now has {what} for {span}"),
        },
        EventKind::Expired => format!("{who}'s {what} has expired"),
        EventKind::Revoked => format!("{by} revoked {who}'s {what}"),
        EventKind::Cancelled => format!("{who} cancelled their request for {what}"),
    };
    let said = match event.kind {
        EventKind::Requested => event.reason.as_deref(),
        EventKind::Approved | EventKind::Denied | EventKind::Revoked => event.comment.as_deref(),
        _ => None,
    };
    if let Some(said) = said.filter(|s| !s.trim().is_empty()) {
        line.push_str(": ");
        line.push_str(&escape(&one_line(said)));
    }
    if let Some(base) = &links.base {
        let (verb, path) = match event.kind {
            EventKind::Requested => ("approve at", APPROVE_PATH),
            _ => ("details at", ME_PATH),
        };
        line.push_str(&format!(" — {verb} <{base}{path}>"));
    }
    line
}

/// `4h`, `1h30m`, `25s`, `2d`.
pub fn duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// Slack's markup escapes: `&`, `<`, `>`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` with its line breaks as spaces, for the one-line summary.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> Event {
        Event {
            kind,
            request_id: "r1".into(),
            route: "dbt-platform".into(),
            group: "dbt-job-admins".into(),
            requester: "ana".into(),
            approver: None,
            comment: None,
            reason: Some("fix prod job".into()),
            duration_seconds: 4 * 3600,
            ends_at_ms: None,
            at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_request_reads_as_one_line_with_the_link() {
        let links = Links {
            base: Some("https://gate.example".into()),
        };
        assert_eq!(
            summary(&event(EventKind::Requested), &links),
            "ana requested dbt-job-admins on dbt-platform for 4h: fix prod job — approve at <https://gate.example/.scimgate/admin/access-requests>"
        );
        let mut approved = event(EventKind::Approved);
        approved.approver = Some("bo".into());
        approved.comment = Some("ok\ngo".into());
        assert_eq!(
            summary(&approved, &Links::default()),
            "bo approved ana's request for dbt-job-admins on dbt-platform (4h): ok go"
        );
    }

    #[test]
    fn what_people_wrote_cannot_mention_or_link_in_slack() {
        let mut e = event(EventKind::Requested);
        e.reason = Some("<!channel> see <https://evil|here> & more".into());
        let b = body(&e, &Links::default());
        let text = b["text"].as_str().unwrap();
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert_eq!(b["scimgate"]["reason"], e.reason.unwrap().as_str());
    }

    #[test]
    fn the_body_carries_slack_blocks_and_the_structured_event() {
        let mut e = event(EventKind::Started);
        e.ends_at_ms = Some(1_700_000_030_000);
        let b = body(&e, &Links::default());
        assert_eq!(b["blocks"][0]["type"], "section");
        assert_eq!(b["blocks"][0]["text"]["text"], b["text"]);
        assert!(b["blocks"][1]["fields"].as_array().unwrap().len() >= 4);
        let s = &b["scimgate"];
        assert_eq!(s["kind"], "started");
        assert_eq!(s["duration_seconds"], 14_400);
        assert_eq!(s["ends_at"], "2023-11-14T22:13:50.000Z");
        assert_eq!(s["approver"], Value::Null);
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(4 * 3600), "4h");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(25), "25s");
        assert_eq!(duration(2 * 86_400 + 60), "2d1m");
    }
}
