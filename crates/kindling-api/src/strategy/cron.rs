//! Cron schedules, as robfig/cron v3's `ParseStandard` reads them (what the CronJob validation
//! and controller upstream call), with its error messages: five fields or a descriptor, an
//! optional `TZ=`/`CRON_TZ=` prefix. [`parse`] gives the fields as bit sets; when the schedule
//! fires is the CronJob controller's business.

/// Set in a day-of-month or day-of-week field that was `*` or `?` (robfig's starBit): then
/// both day fields must match, otherwise either.
pub const STAR: u64 = 1 << 63;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Bit sets of the matching minutes, hours, days of month (1–31), months (1–12) and days
    /// of week (0 = Sunday), each possibly with [`STAR`].
    Fields {
        /// The `TZ=`/`CRON_TZ=` zone, if any.
        zone: Option<String>,
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
    },
    /// `@every <duration>`: seconds between runs (rounded down to whole seconds, at least 1).
    Every { zone: Option<String>, seconds: u64 },
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

fn atoi(expr: &str) -> Result<u32, String> {
    let invalid = || {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: invalid syntax",
            crate::meta::go_quote(expr)
        )
    };
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: i64 = expr.parse().map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: value out of range",
            crate::meta::go_quote(expr)
        )
    })?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    u32::try_from(n).map_err(|_| format!("end of range ({n}) above maximum: {expr}"))
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    atoi(expr)
}

fn parse_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end);
    let mut extra = 0;
    if low_high[0] == "*" || low_high[0] == "?" {
        start = b.min;
        end = b.max;
        extra = STAR;
    } else {
        start = int_or_name(low_high[0], b)?;
        end = match low_high.len() {
            1 => start,
            2 => int_or_name(low_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = atoi(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if s > 1 {
                extra = 0;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |bits, i| bits | (1 << i));
    Ok(bits | extra)
}

/// Go's `time.ParseDuration`, in seconds (negative durations are taken as they are signed).
fn go_duration_seconds(s: &str) -> Option<f64> {
    let negative = s.starts_with('-');
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return Some(0.0);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let units = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("μs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ];
        let (u, factor) = units.iter().find(|(u, _)| rest.starts_with(*u))?;
        rest = &rest[u.len()..];
        total += value * factor;
    }
    Some(if negative { -total } else { total })
}

/// Checks a cron schedule: five fields or a descriptor (`@hourly`, `@every 1h`, …), with an
/// optional `TZ=`/`CRON_TZ=` prefix. The error is robfig/cron's message.
pub fn parse_cron_schedule(spec: &str) -> Result<(), String> {
    parse(spec).map(|_| ())
}

/// Parses a schedule as robfig/cron's standard parser does.
pub fn parse(spec: &str) -> Result<Schedule, String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec;
    let mut zone = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let Some(sp) = spec.find(' ') else {
            return Err(format!(
                "provided bad location {}: unknown time zone {}",
                &spec[eq + 1..],
                &spec[eq + 1..]
            ));
        };
        zone = Some(spec[eq + 1..sp].to_string());
        spec = spec[sp..].trim();
    }
    let all = |b: &Bounds| (b.min..=b.max).fold(STAR, |bits, i| bits | (1 << i));
    let fields = |minute: u64, hour: u64, dom: u64, month: u64, dow: u64| Schedule::Fields {
        zone: zone.clone(),
        minute,
        hour,
        dom,
        month,
        dow,
    };
    if let Some(desc) = spec.strip_prefix('@') {
        let (m, h) = (1u64, 1u64);
        return match desc {
            "yearly" | "annually" => Ok(fields(m, h, 1 << 1, 1 << 1, all(&DOW))),
            "monthly" => Ok(fields(m, h, 1 << 1, all(&MONTHS), all(&DOW))),
            "weekly" => Ok(fields(m, h, all(&DOM), all(&MONTHS), 1)),
            "daily" | "midnight" => Ok(fields(m, h, all(&DOM), all(&MONTHS), all(&DOW))),
            "hourly" => Ok(fields(m, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW))),
            d if d.starts_with("every ") => {
                let dur = &spec["@every ".len()..];
                match go_duration_seconds(dur) {
                    Some(secs) => Ok(Schedule::Every {
                        zone,
                        seconds: (secs.max(1.0)) as u64,
                    }),
                    None => Err(format!(
                        "failed to parse duration {spec}: time: invalid duration {}",
                        crate::meta::go_quote(dur)
                    )),
                }
            }
            _ => Err(format!("unrecognized descriptor: {spec}")),
        };
    }
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            parts.len(),
            parts.join(" ")
        ));
    }
    let mut bits = [0u64; 5];
    for (n, (field, bounds)) in parts
        .iter()
        .zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW])
        .enumerate()
    {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            bits[n] |= parse_range(expr, bounds)?;
        }
    }
    Ok(fields(bits[0], bits[1], bits[2], bits[3], bits[4]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_syntax() {
        for ok in [
            "0 * * * *",
            "*/15 0-6 1,15 jan-mar mon-fri",
            "@hourly",
            "@every 1h30m",
            "0 0 ? * SUN",
            "TZ=UTC 0 * * * *",
        ] {
            assert_eq!(parse_cron_schedule(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            parse_cron_schedule("60 * * * *").unwrap_err(),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            parse_cron_schedule("@fortnightly").unwrap_err(),
            "unrecognized descriptor: @fortnightly"
        );
        assert_eq!(
            parse_cron_schedule("x * * * *").unwrap_err(),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_cron_schedule("0 0 0 * *").unwrap_err(),
            "beginning of range (0) below minimum (1): 0"
        );
    }

    #[test]
    fn schedules_parse_to_bit_sets() {
        let Ok(Schedule::Fields {
            zone,
            minute,
            hour,
            dom,
            month,
            dow,
        }) = parse("TZ=Europe/Paris */15 9-17/4 1,15 * mon")
        else {
            panic!("not parsed");
        };
        assert_eq!(zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(minute, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(hour, 1 << 9 | 1 << 13 | 1 << 17);
        assert_eq!(dom, 1 << 1 | 1 << 15);
        assert_eq!(month & STAR, STAR);
        assert_eq!(dow, 1 << 1);
        assert_eq!(
            parse("@every 1h30m"),
            Ok(Schedule::Every {
                zone: None,
                seconds: 5400
            })
        );
        let Ok(Schedule::Fields {
            minute, hour, dom, ..
        }) = parse("@daily")
        else {
            panic!("not parsed");
        };
        assert_eq!((minute, hour, dom & STAR), (1, 1, STAR));
        assert_eq!(
            parse_cron_schedule("*/0 * * * *").unwrap_err(),
            "step of range should be a positive number: */0"
        );
    }
}
