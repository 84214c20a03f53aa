//! Minimal RFC 3339 / xsd:dateTime parsing into comparable instants, used to
//! validate `dateTime` attributes and to compare them in filters.

/// An instant: seconds since the Unix epoch and nanoseconds.
pub type Instant = (i64, u32);

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    let mut v: u32 = 0;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` (a missing offset is
/// taken as UTC, as xsd:dateTime allows). Returns `None` when invalid.
pub fn parse_datetime(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    let year = i64::from(digits(b, 0, 4)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if b.get(i + 3) != Some(&b':') || oh > 23 || om > 59 {
                return None;
            }
            i += 6;
            let off = i64::from(oh * 3600 + om * 60);
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
        - offset_secs;
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_datetime("2011-05-13T04:42:34Z"),
            parse_datetime("2011-05-13T06:42:34+02:00")
        );
        assert_eq!(
            parse_datetime("2011-05-13T04:42:34.5Z").map(|t| t.1),
            Some(500_000_000)
        );
        assert_eq!(
            parse_datetime("2000-02-29T00:00:00Z"),
            Some((951_782_400, 0))
        );
        assert!(parse_datetime("2011-05-13T04:42:34").is_some());
        assert!(parse_datetime("1969-12-31T23:59:59Z").is_some_and(|t| t.0 == -1));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2011",
            "2011-13-01T00:00:00Z",
            "2011-02-29T00:00:00Z",
            "2011-05-13X04:42:34Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34Zjunk",
            "2011-05-13T04:42:34+0200",
            "２０１１-05-13T04:42:34Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
