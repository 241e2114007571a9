//! Resource quantities (`500m`, `1.5Gi`, `2e3`) as exact integers, the way the scheduler reads
//! them upstream: CPU in millicores rounded up, everything else in whole units rounded up.

/// The value of a quantity times `scale` (1 for `Value()`, 1000 for `MilliValue()`), rounded up.
/// `None` when the text is not a quantity; values beyond `i64` saturate.
fn scaled(text: &str, scale: i128) -> Option<i64> {
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    // number = digits / 10^frac_len
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Some(if negative { i64::MIN } else { i64::MAX });
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut num = mantissa * scale;
    let mut den: i128 = 10i128.pow(frac.len() as u32);
    // Multiply by base^exp, exact for the rational forms involved.
    let (base, exp): (i128, i32) = match suffix {
        "" => (10, 0),
        "n" => (10, -9),
        "u" => (10, -6),
        "m" => (10, -3),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (1024, 1),
        "Mi" => (1024, 2),
        "Gi" => (1024, 3),
        "Ti" => (1024, 4),
        "Pi" => (1024, 5),
        "Ei" => (1024, 6),
        e if e.starts_with(['e', 'E']) => (10, e[1..].parse().ok()?),
        _ => return None,
    };
    let saturated = Some(if negative { i64::MIN } else { i64::MAX });
    if exp >= 0 {
        for _ in 0..exp {
            match num.checked_mul(base) {
                Some(n) => num = n,
                None => return saturated,
            }
        }
    } else {
        for _ in 0..(-exp) {
            match den.checked_mul(base) {
                Some(d) => den = d,
                None => return Some(0),
            }
        }
    }
    // Round away from zero, as resource.Quantity's Value/MilliValue do for positive values.
    let value = (num + den - 1) / den;
    let value = if negative { -value } else { value };
    Some(value.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Whole units, rounded up (`Quantity.Value()`): bytes, pods, extended resources.
pub fn value(text: &str) -> Option<i64> {
    scaled(text, 1)
}

/// Thousandths, rounded up (`Quantity.MilliValue()`): CPU.
pub fn milli_value(text: &str) -> Option<i64> {
    scaled(text, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(milli_value("1"), Some(1000));
        assert_eq!(milli_value("500m"), Some(500));
        assert_eq!(milli_value("0.5"), Some(500));
        assert_eq!(milli_value("2.25"), Some(2250));
        assert_eq!(milli_value("100u"), Some(1), "rounded up");
        assert_eq!(milli_value("1k"), Some(1_000_000));
        assert_eq!(milli_value("0"), Some(0));
        assert_eq!(milli_value(".5"), Some(500));
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(value("1Ki"), Some(1024));
        assert_eq!(value("1.5Gi"), Some(1536 * 1024 * 1024));
        assert_eq!(value("128974848"), Some(128_974_848));
        assert_eq!(value("129e6"), Some(129_000_000));
        assert_eq!(value("129M"), Some(129_000_000));
        assert_eq!(value("123Mi"), Some(123 * 1024 * 1024));
        assert_eq!(value("1E"), Some(1_000_000_000_000_000_000));
        assert_eq!(value("10Ei"), Some(i64::MAX), "saturates");
        assert_eq!(value("1m"), Some(1), "fractions round up");
        assert_eq!(value("110"), Some(110));
        assert_eq!(value("-1"), Some(-1));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1x", "1.2.3", "Gi", "1 Gi", "1e"] {
            assert_eq!(value(bad), None, "{bad}");
        }
    }
}
