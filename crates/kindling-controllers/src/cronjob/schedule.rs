//! When a cron schedule fires next (robfig/cron v3's SpecSchedule.Next, which upstream's
//! CronJob controller uses), in the schedule's time zone from jiff's built-in IANA database.
//! Fields are matched on the zone's wall clock; a wall time that does not exist (a DST gap)
//! runs at the first instant after it. No IO.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use kindling_api::strategy::cron::{Schedule, STAR};

fn has(bits: u64, n: i8) -> bool {
    bits & (1u64 << n) != 0
}

/// The zone a schedule runs in: its `TZ=` prefix, else the CronJob's timeZone, else UTC (the
/// controller manager's local zone upstream; kindling's nodes run in UTC).
pub fn zone(schedule: &Schedule, time_zone: Option<&str>) -> Result<TimeZone, String> {
    let name = match schedule {
        Schedule::Fields { zone, .. } | Schedule::Every { zone, .. } => zone.as_deref(),
    }
    .or(time_zone);
    match name {
        None | Some("UTC") => Ok(TimeZone::UTC),
        Some(n) => jiff::tz::db()
            .get(n)
            .map_err(|_| format!("unknown time zone {n}")),
    }
}

/// The first time strictly after `after` the schedule fires; `None` when it never does within
/// five years (e.g. `0 0 30 2 *`).
pub fn next(schedule: &Schedule, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let (minute, hour, dom, month, dow) = match schedule {
        Schedule::Every { seconds, .. } => {
            let whole = Timestamp::from_second(after.as_second()).ok()?;
            return whole
                .checked_add(SignedDuration::from_secs(*seconds as i64))
                .ok();
        }
        Schedule::Fields {
            minute,
            hour,
            dom,
            month,
            dow,
            ..
        } => (*minute, *hour, *dom, *month, *dow),
    };
    let day_matches = |t: DateTime| {
        let d = has(dom, t.day());
        let w = has(dow, t.weekday().to_sunday_zero_offset());
        if dom & STAR != 0 || dow & STAR != 0 {
            d && w
        } else {
            d || w
        }
    };
    let start = tz.to_datetime(after);
    let mut t = start
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .ok()?
        .checked_add(1.minute())
        .ok()?;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(month, t.month()) {
            t = t
                .first_of_month()
                .start_of_day()
                .checked_add(1.month())
                .ok()?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(t) {
            t = t.start_of_day().checked_add(1.day()).ok()?;
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(hour, t.hour()) {
            t = t
                .with()
                .minute(0)
                .build()
                .ok()?
                .checked_add(1.hour())
                .ok()?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(minute, t.minute()) {
            t = t.checked_add(1.minute()).ok()?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        let at = tz.to_ambiguous_zoned(t).compatible().ok()?.timestamp();
        if at > after {
            return Some(at);
        }
        // A repeated wall time (DST fold) already passed: go on from the next minute.
        t = t.checked_add(1.minute()).ok()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_api::strategy::cron::parse;

    fn next_of(spec: &str, tz: Option<&str>, after: &str) -> Option<String> {
        let s = parse(spec).unwrap();
        let z = zone(&s, tz).unwrap();
        next(&s, &z, after.parse().unwrap()).map(|t| t.to_string())
    }

    #[test]
    fn next_times_like_robfig_cron() {
        // (schedule, time zone, after) → next
        let cases = [
            (
                "*/1 * * * *",
                None,
                "2026-01-01T00:00:00Z",
                Some("2026-01-01T00:01:00Z"),
            ),
            (
                "*/1 * * * *",
                None,
                "2026-01-01T00:00:30.5Z",
                Some("2026-01-01T00:01:00Z"),
            ),
            (
                "*/15 * * * *",
                None,
                "2026-01-01T00:14:59Z",
                Some("2026-01-01T00:15:00Z"),
            ),
            (
                "0 9 * * 1-5",
                None,
                "2026-01-02T10:00:00Z",
                Some("2026-01-05T09:00:00Z"),
            ),
            (
                "@hourly",
                None,
                "2026-01-01T23:30:00Z",
                Some("2026-01-02T00:00:00Z"),
            ),
            (
                "@monthly",
                None,
                "2026-01-15T00:00:00Z",
                Some("2026-02-01T00:00:00Z"),
            ),
            (
                "@yearly",
                None,
                "2026-06-01T00:00:00Z",
                Some("2027-01-01T00:00:00Z"),
            ),
            (
                "@every 90s",
                None,
                "2026-01-01T00:00:00.7Z",
                Some("2026-01-01T00:01:30Z"),
            ),
            // Day of month OR day of week when neither is a star.
            (
                "0 0 13 * 5",
                None,
                "2026-02-01T00:00:00Z",
                Some("2026-02-06T00:00:00Z"),
            ),
            // Both must hold when one is a star.
            (
                "0 0 * * 5",
                None,
                "2026-02-01T00:00:00Z",
                Some("2026-02-06T00:00:00Z"),
            ),
            (
                "0 0 29 2 *",
                None,
                "2026-01-01T00:00:00Z",
                Some("2028-02-29T00:00:00Z"),
            ),
            ("0 0 30 2 *", None, "2026-01-01T00:00:00Z", None),
            // Wall clock of the zone: 09:00 in Paris is 08:00 UTC in winter, 07:00 in summer.
            (
                "0 9 * * *",
                Some("Europe/Paris"),
                "2026-01-10T12:00:00Z",
                Some("2026-01-11T08:00:00Z"),
            ),
            (
                "0 9 * * *",
                Some("Europe/Paris"),
                "2026-07-10T12:00:00Z",
                Some("2026-07-11T07:00:00Z"),
            ),
            (
                "TZ=America/New_York 30 1 * * *",
                None,
                "2026-01-10T00:00:00Z",
                Some("2026-01-10T06:30:00Z"),
            ),
            // 02:30 does not exist in Paris on 2026-03-29: it runs at 03:30 local (01:30 UTC).
            (
                "30 2 * * *",
                Some("Europe/Paris"),
                "2026-03-28T12:00:00Z",
                Some("2026-03-29T01:30:00Z"),
            ),
        ];
        for (spec, tz, after, want) in cases {
            assert_eq!(
                next_of(spec, tz, after).as_deref(),
                want,
                "{spec} {tz:?} after {after}"
            );
        }
        assert!(zone(&parse("* * * * *").unwrap(), Some("Mars/Olympus")).is_err());
    }
}
