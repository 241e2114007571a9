//! Values Go's decoding parses further than JSON, with Go's messages: `[]byte` fields are
//! standard base64 (`illegal base64 data at input byte 4`), metav1.Time and MicroTime are
//! `time.Parse` with RFC 3339 layouts (`parsing time "x" as "2006-01-02T15:04:05Z07:00":
//! cannot parse "x" as "2006"`).

use crate::meta::go_quote;

/// Where standard (padded) base64 decoding of `s` fails, as Go's `base64.StdEncoding.Decode`
/// reports it: `illegal base64 data at input byte N`. Line breaks are skipped, as Go skips them.
pub fn base64_error(s: &str) -> Option<String> {
    corrupt_at(s.as_bytes()).map(|at| format!("illegal base64 data at input byte {at}"))
}

fn is_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

fn skip_breaks(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && (src[i] == b'\n' || src[i] == b'\r') {
        i += 1;
    }
    i
}

/// Decodes quantum after quantum of four symbols; the offset of the first corrupt byte.
fn corrupt_at(src: &[u8]) -> Option<usize> {
    let mut si = 0;
    loop {
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                // Input ends inside a quantum: padding was required.
                return (j != 0).then_some(si - j);
            }
            let c = src[si];
            si += 1;
            if is_base64(c) {
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' || j < 2 {
                return Some(si - 1);
            }
            if j == 2 {
                // `==` expected; the first was just read.
                si = skip_breaks(src, si);
                if si == src.len() {
                    return Some(src.len());
                }
                if src[si] != b'=' {
                    return Some(si - 1);
                }
                si += 1;
            }
            si = skip_breaks(src, si);
            // Padding ends the data: anything after it is corrupt.
            return (si < src.len()).then_some(si);
        }
    }
}

/// The layouts metav1.Time and metav1.MicroTime parse with.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
pub const RFC3339_MICRO: &str = "2006-01-02T15:04:05.000000Z07:00";

/// One element of a layout: a literal to match or a field to parse.
#[derive(Clone, Copy)]
enum Chunk {
    Literal(&'static str),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// `.000000`: exactly six fraction digits.
    Micros,
    Zone,
}

impl Chunk {
    fn layout(self) -> &'static str {
        match self {
            Chunk::Literal(s) => s,
            Chunk::Year => "2006",
            Chunk::Month => "01",
            Chunk::Day => "02",
            Chunk::Hour => "15",
            Chunk::Minute => "04",
            Chunk::Second => "05",
            Chunk::Micros => ".000000",
            Chunk::Zone => "Z07:00",
        }
    }
}

/// Go's `time.Parse(layout, s)` error for the two RFC 3339 layouts, or None if `s` parses.
pub fn time_error(layout: &'static str, s: &str) -> Option<String> {
    use Chunk::*;
    let mut chunks = vec![
        Year,
        Literal("-"),
        Month,
        Literal("-"),
        Day,
        Literal("T"),
        Hour,
        Literal(":"),
        Minute,
        Literal(":"),
        Second,
    ];
    if layout == RFC3339_MICRO {
        chunks.push(Micros);
    }
    chunks.push(Zone);
    let cannot = |elem: &str, rest: &str| {
        Some(format!(
            "parsing time {} as {}: cannot parse {} as {}",
            go_quote(s),
            go_quote(layout),
            go_quote(rest),
            go_quote(elem)
        ))
    };
    let out_of_range =
        |what: &str| Some(format!("parsing time {}: {what} out of range", go_quote(s)));
    let (mut year, mut month, mut day) = (0, 0, 0);
    let mut value = s;
    for (i, chunk) in chunks.iter().enumerate() {
        let hold = value;
        let bad = match *chunk {
            Literal(lit) => match value.strip_prefix(lit) {
                Some(rest) => {
                    value = rest;
                    false
                }
                None => true,
            },
            Year => match value.get(..4).map(|p| (p, p.parse::<i64>())) {
                Some((p, Ok(y))) if p.starts_with(|c: char| c.is_ascii_digit()) => {
                    year = y;
                    value = &value[4..];
                    false
                }
                _ => true,
            },
            Month | Day | Hour | Minute | Second => {
                let fixed = !matches!(chunk, Hour);
                match number(value, fixed) {
                    None => true,
                    Some((n, rest)) => {
                        value = rest;
                        let range = match chunk {
                            Month if !(1..=12).contains(&n) => Some("month"),
                            Hour if n >= 24 => Some("hour"),
                            Minute if n >= 60 => Some("minute"),
                            Second if n >= 60 => Some("second"),
                            _ => None,
                        };
                        if let Some(what) = range {
                            return out_of_range(what);
                        }
                        match chunk {
                            Month => month = n,
                            Day => day = n,
                            _ => {}
                        }
                        // A fraction the layout does not name is read with the seconds.
                        if matches!(chunk, Second)
                            && !matches!(chunks.get(i + 1), Some(Micros))
                            && fraction_follows(value)
                        {
                            let digits = value[1..].bytes().take_while(u8::is_ascii_digit).count();
                            value = &value[1 + digits..];
                        }
                        false
                    }
                }
            }
            Micros => {
                let b = value.as_bytes();
                if b.len() >= 7
                    && (b[0] == b'.' || b[0] == b',')
                    && b[1..7].iter().all(u8::is_ascii_digit)
                {
                    value = &value[7..];
                    false
                } else {
                    true
                }
            }
            Zone => match zone(value) {
                Ok(rest) => {
                    value = rest;
                    false
                }
                Err(Some(what)) => return out_of_range(what),
                Err(None) => true,
            },
        };
        if bad {
            return match chunk {
                Literal(lit) => cannot(lit, value),
                other => cannot(other.layout(), hold),
            };
        }
    }
    if !value.is_empty() {
        return Some(format!(
            "parsing time {}: extra text: {}",
            go_quote(s),
            go_quote(value)
        ));
    }
    if day < 1 || day > days_in(month, year) {
        return out_of_range("day");
    }
    None
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn number(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let first = digit(0)?;
    match digit(1) {
        Some(second) => Some((first * 10 + second, &s[2..])),
        None if fixed => None,
        None => Some((first, &s[1..])),
    }
}

fn fraction_follows(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit()
}

/// `Z` or `±hh:mm`; Err(Some(what)) for an offset out of range, Err(None) for a bad one.
fn zone(s: &str) -> Result<&str, Option<&'static str>> {
    if let Some(rest) = s.strip_prefix('Z') {
        return Ok(rest);
    }
    let b = s.as_bytes();
    if b.len() < 6 || b[3] != b':' {
        return Err(None);
    }
    let hour = number(&s[1..3], true).ok_or(None)?.0;
    let minute = number(&s[4..6], true).ok_or(None)?.0;
    if hour > 24 {
        return Err(Some("time zone offset hour"));
    }
    if minute > 60 {
        return Err(Some("time zone offset minute"));
    }
    if b[0] != b'+' && b[0] != b'-' {
        return Err(None);
    }
    Ok(&s[6..])
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_errors_are_gos() {
        for ok in [
            "",
            "aGVsbG8=",
            "aGVsbA==",
            "aGVs",
            "aGVs\nbG8=",
            "aGVsbA=\n=",
        ] {
            assert_eq!(base64_error(ok), None, "{ok:?}");
        }
        for (bad, at) in [
            ("not base64!", 3),
            ("abc", 0),
            ("abcde", 4),
            ("ab=c", 2),
            ("a===", 1),
            ("abc=d", 4),
            ("ab=", 3),
            ("aGVsbG8=x", 8),
            ("aGVs*", 4),
        ] {
            assert_eq!(
                base64_error(bad),
                Some(format!("illegal base64 data at input byte {at}")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn time_errors_are_gos() {
        for ok in [
            "2024-02-29T10:00:00Z",
            "2024-01-01T00:00:00+02:00",
            "2024-01-01T00:00:00.123Z",
            "2024-01-01T9:00:00Z",
        ] {
            assert_eq!(time_error(RFC3339, ok), None, "{ok}");
        }
        assert_eq!(
            time_error(RFC3339_MICRO, "2024-01-01T00:00:00.123456Z"),
            None
        );
        let cases = [
            (RFC3339, "yesterday", "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""),
            (RFC3339, "2024-01-01", "parsing time \"2024-01-01\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\" as \"T\""),
            (RFC3339, "2024-1-01T00:00:00Z", "parsing time \"2024-1-01T00:00:00Z\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"1-01T00:00:00Z\" as \"01\""),
            (RFC3339, "2024-13-01T00:00:00Z", "parsing time \"2024-13-01T00:00:00Z\": month out of range"),
            (RFC3339, "2023-02-29T00:00:00Z", "parsing time \"2023-02-29T00:00:00Z\": day out of range"),
            (RFC3339, "2024-01-01T00:00:00", "parsing time \"2024-01-01T00:00:00\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\" as \"Z07:00\""),
            (RFC3339, "2024-01-01T00:00:00Zx", "parsing time \"2024-01-01T00:00:00Zx\": extra text: \"x\""),
            (RFC3339_MICRO, "2024-01-01T00:00:00Z", "parsing time \"2024-01-01T00:00:00Z\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \"Z\" as \".000000\""),
        ];
        for (layout, input, want) in cases {
            assert_eq!(time_error(layout, input).as_deref(), Some(want), "{input}");
        }
    }
}
