//! `scimgate audit verify` and `scimgate audit search`, on the data directory's store.

use std::io::Write;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::verify::verify_store;
use super::wire;
use crate::clock::{rfc3339_millis, to_millis};
use crate::record::AuditQuery;
use crate::store::{Store, StoreError};

/// Why a command line value was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuditCliError {
    #[error(
        "{0:?} is neither an RFC 3339 time (2026-01-31T08:00:00Z) nor a relative one (15m, 2h, 7d)"
    )]
    BadTime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Parses `T` as RFC 3339 or as a duration before `now` (`30s`, `15m`, `2h`, `7d`);
/// Unix milliseconds.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, AuditCliError> {
    let bad = || AuditCliError::BadTime(text.to_owned());
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(to_millis(t));
    }
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    if n < 0 {
        return Err(bad());
    }
    Ok(now_ms.saturating_sub(n.saturating_mul(ms)))
}

/// `audit verify`: prints a summary; `Ok(false)` (and the reason on stderr) when broken.
pub fn verify(store: &dyn Store, out: &mut dyn Write) -> Result<bool, AuditCliError> {
    match verify_store(store)? {
        Ok(intact) => {
            writeln!(
                out,
                "audit chain intact: {} records, last seq {}, head {}",
                intact.records, intact.last_seq, intact.head
            )?;
            if intact.checkpoints > 0 {
                writeln!(
                    out,
                    "retention: {} checkpoints; decisions pruned up to seq {}",
                    intact.checkpoints, intact.pruned_through
                )?;
            }
            Ok(true)
        }
        Err(broken) => {
            eprintln!("audit chain BROKEN at seq {}: {broken}", broken.seq());
            Ok(false)
        }
    }
}

/// What `audit search` looks for.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub user: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub route: Option<String>,
    pub action: Option<String>,
    pub limit: usize,
    pub json: bool,
}

/// `audit search`: the newest `limit` matching records, printed oldest first.
pub fn search(
    store: &dyn Store,
    s: &Search,
    now_ms: i64,
    out: &mut dyn Write,
) -> Result<usize, AuditCliError> {
    let since = s
        .since
        .as_deref()
        .map(|t| parse_time(t, now_ms))
        .transpose()?;
    let until = s
        .until
        .as_deref()
        .map(|t| parse_time(t, now_ms))
        .transpose()?;
    let mut rows = store.audit_query(&AuditQuery {
        since,
        until,
        user: s.user.clone(),
        route: s.route.clone(),
        action_prefix: s.action.clone(),
        newest_first: true,
        limit: s.limit,
        ..AuditQuery::default()
    })?;
    rows.reverse();
    for row in &rows {
        if s.json {
            writeln!(out, "{}", wire::to_line(row))?;
        } else {
            let e = &row.entry;
            write!(
                out,
                "{:>8}  {}  {:<24} {:<22} {}",
                row.seq,
                rfc3339_millis(e.at),
                e.actor,
                e.action,
                e.target
            )?;
            if let Some(d) = &e.detail {
                write!(out, "  {d}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_absolute_or_relative() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_time("15m", now).unwrap(), now - 15 * 60_000);
        assert_eq!(parse_time("7d", now).unwrap(), 3 * 86_400_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z", now).unwrap(), 1000);
        for bad in ["", "15", "m", "-1h", "5w", "yesterday"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
