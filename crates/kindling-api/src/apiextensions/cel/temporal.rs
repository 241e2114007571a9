//! String formats that rules see as other CEL types, as upstream's `UnstructuredToVal`
//! (k8s.io/apiserver/pkg/cel/common) converts them: `date-time` and `date` strings are
//! timestamps, `duration` strings durations, `byte` strings bytes. The parsers accept what
//! upstream's (kube-openapi `strfmt`) accept:
//!
//! - `date-time`: RFC 3339 (any fraction of a second), or without an offset (UTC); the empty
//!   string is the Unix epoch.
//! - `date`: `YYYY-MM-DD`, midnight UTC.
//! - `duration`: Go's `time.ParseDuration` (`1h2m3.5s`, `-1.5h`, `300ms`, `0`), else strfmt's
//!   looser form: numbers with unit words (`1 day`, `2w`, `3 hours`), summed.
//! - `byte`: standard base64.
//!
//! A value that does not parse stays a string (the schema's format check refuses it already).
//! No IO.

use ::cel::common::types::{CelBytes, CelDuration, CelTimestamp};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta};

/// The value a string of `format` is to rules, if the format makes it another type and the
/// string parses.
pub fn typed_string(s: &str, format: &str) -> Option<super::CelVal> {
    match format {
        "date-time" => parse_date_time(s).map(|t| Box::new(CelTimestamp::from(t)) as _),
        "date" => parse_date(s).map(|t| Box::new(CelTimestamp::from(t)) as _),
        "duration" => parse_duration(s).map(|d| Box::new(CelDuration::from(d)) as _),
        "byte" => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
            Some(Box::new(CelBytes::from(bytes)))
        }
        _ => None,
    }
}

/// strfmt's `ParseDateTime`: RFC 3339, else a local time without offset, taken as UTC.
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    if s.is_empty() {
        return Some(DateTime::UNIX_EPOCH.fixed_offset());
    }
    if s.as_bytes().get(10).is_none_or(|b| *b != b'T') {
        // Go's layouts take only an upper-case `T` (chrono also takes `t` and a space).
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc().fixed_offset())
    })
}

/// A `date` (RFC 3339's full-date) as midnight UTC.
pub fn parse_date(s: &str) -> Option<DateTime<FixedOffset>> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    // chrono takes a year without its leading zeros; the format has four digits.
    (s.len() == 10)
        .then(|| d.and_hms_opt(0, 0, 0))?
        .map(|t| t.and_utc().fixed_offset())
}

/// strfmt's `ParseDuration`: Go's syntax first, then numbers with unit words.
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    go_duration(s).or_else(|| word_duration(s))
}

/// Go's `time.ParseDuration`: an optional sign, then decimal numbers each with a unit
/// (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`); `0` alone needs none.
pub fn go_duration(s: &str) -> Option<TimeDelta> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(TimeDelta::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_end);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(end)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_end = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let nanos_per: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut value = whole.checked_mul(nanos_per)?;
        if !frac.is_empty() {
            // The fraction's digits beyond nanoseconds do not count.
            let digits = &frac[..frac.len().min(18)];
            let scale = 10i128.pow(digits.len() as u32);
            value += digits.parse::<i128>().ok()? * nanos_per / scale;
        }
        total = total.checked_add(value)?;
        if total > i128::from(i64::MAX) {
            return None;
        }
        rest = after;
    }
    let nanos = if negative { -total } else { total };
    Some(TimeDelta::nanoseconds(i64::try_from(nanos).ok()?))
}

/// strfmt's fallback: every `<digits><spaces><letters>` in the text whose letters name a unit
/// (exactly, ignoring case, or starting with the unit's longest name: `hours`, `days`), summed.
fn word_duration(s: &str) -> Option<TimeDelta> {
    const UNITS: [(&[&str], i64); 8] = [
        (&["ns", "nano"], 1),
        (&["us", "\u{b5}s", "micro"], 1_000),
        (&["ms", "milli"], 1_000_000),
        (&["s", "sec"], 1_000_000_000),
        (&["m", "min"], 60_000_000_000),
        (&["h", "hr", "hour"], 3_600_000_000_000),
        (&["d", "day"], 86_400_000_000_000),
        (&["w", "wk", "week"], 604_800_000_000_000),
    ];
    let mut total: i64 = 0;
    let mut matched = false;
    let mut rest = s;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let after_digits = &rest[start..];
        let digits_end = after_digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_digits.len());
        let factor: i64 = after_digits[..digits_end].parse().ok()?;
        let after = after_digits[digits_end..].trim_start();
        let word_end = after
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '\u{b5}'))
            .unwrap_or(after.len());
        let unit = after[..word_end].to_lowercase();
        rest = &after[word_end..];
        if unit.is_empty() {
            continue;
        }
        for (names, nanos) in UNITS {
            let last = names.len() - 1;
            for (i, name) in names.iter().enumerate() {
                if (i == last && unit.starts_with(name)) || unit.eq_ignore_ascii_case(name) {
                    matched = true;
                    total = total.wrapping_add(factor.wrapping_mul(nanos));
                }
            }
        }
    }
    matched.then(|| TimeDelta::nanoseconds(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_upstream() {
        let cases: [(&str, Option<i64>); 14] = [
            ("1h2m3s4ms", Some(3_723_004_000_000)),
            ("1.5h", Some(5_400_000_000_000)),
            ("-30m", Some(-1_800_000_000_000)),
            ("300ms", Some(300_000_000)),
            ("1\u{b5}s", Some(1_000)),
            ("0", Some(0)),
            ("3723.004s", Some(3_723_004_000_000)),
            ("1d", Some(86_400_000_000_000)),
            ("2 weeks", Some(1_209_600_000_000_000)),
            ("3 hours 10 min", Some(11_400_000_000_000)),
            ("", None),
            ("1", None),
            ("h", None),
            ("soon", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                parse_duration(s).map(|d| d.num_nanoseconds().unwrap_or_default()),
                want,
                "{s}"
            );
        }
        assert_eq!(go_duration("1d"), None, "Go's syntax has no days");
    }

    #[test]
    fn date_times_parse_as_upstream() {
        let ok = |s: &str| parse_date_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            ok("2011-08-18T19:03:37.010000000+01:00").as_deref(),
            Some("2011-08-18T19:03:37.010+01:00")
        );
        assert_eq!(
            ok("2011-08-18T19:03:37Z").as_deref(),
            Some("2011-08-18T19:03:37+00:00")
        );
        assert_eq!(
            ok("2011-08-18T19:03:37").as_deref(),
            Some("2011-08-18T19:03:37+00:00"),
            "no offset: UTC"
        );
        assert_eq!(ok("").as_deref(), Some("1970-01-01T00:00:00+00:00"));
        for bad in [
            "2011-08-18",
            "2011-08-18 19:03:37Z",
            "yesterday",
            "2011-13-01T00:00:00Z",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date("1997-07-16").map(|t| t.to_rfc3339()).as_deref(),
            Some("1997-07-16T00:00:00+00:00")
        );
        assert_eq!(parse_date("97-07-16"), None);
        assert_eq!(parse_date("1997-07-16T00:00:00Z"), None);
    }
}
