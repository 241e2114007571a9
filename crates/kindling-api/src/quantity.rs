//! Resource quantities (`500m`, `1.5Gi`, `2e3`): upstream's `resource.Quantity`
//! (k8s.io/apimachinery/pkg/api/resource), the one quantity type every crate uses.
//!
//! A [`Quantity`] is an exact integer count of nano-units (10⁻⁹) and the [`Format`] it was
//! written in, so parsing, comparing, adding and printing never go through floating point:
//!
//! - [`Quantity::parse`] is upstream's `ParseQuantity`: the same grammar (`1.`, `.5`, `+1e3`,
//!   `0.5Gi` are quantities; `1 `, `1Gb`, `1e` are not), the same three error messages, values
//!   rounded up (away from zero) to the nano, BinarySI values capped at 2⁶³−1.
//! - [`Display`](std::fmt::Display) is upstream's `String()`: the canonical form (`1.5` →
//!   `1500m`, `1.5Gi` → `1536Mi`, `1000M` → `1G`).
//! - [`Quantity::value`], [`Quantity::milli_value`], [`Quantity::scaled_value`] round away
//!   from zero and saturate at the `i64` bounds, as upstream's `Value()`/`MilliValue()` do.
//!
//! Difference from upstream: upstream keeps decimal quantities of any size exactly (`inf.Dec`);
//! here magnitudes beyond about 1.7×10²⁹ saturate, and quantities built from values below a
//! nano (which no parse produces) are rounded up to one.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

/// Upstream's `ErrFormatWrong` message (the regular expression it quotes is only a rough guide,
/// as upstream's own comment says; the scanner decides).
pub const QUANTITY_FORMAT_MSG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Nano-units per unit.
const NANO: i128 = 1_000_000_000;
/// Upstream's `maxAllowed` (2⁶³−1) for BinarySI quantities, in nano-units.
const MAX_BINARY_SI: i128 = i64::MAX as i128 * NANO;

/// How a quantity was written, and so how it is printed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `12Mi` (12 × 2²⁰)
    BinarySI,
    /// `12M` (12 × 10⁶)
    DecimalSI,
}

/// Why a string is not a quantity; `Display` gives upstream's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// `ErrFormatWrong`
    Format,
    /// `ErrNumeric`
    Numeric,
    /// `ErrSuffix`
    Suffix,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantityError::Format => QUANTITY_FORMAT_MSG,
            QuantityError::Numeric => "unable to parse numeric part of quantity",
            QuantityError::Suffix => "unable to parse quantity's suffix",
        })
    }
}

impl std::error::Error for QuantityError {}

/// A fixed-point quantity: an exact number of nano-units and its [`Format`]. Equality and order
/// are by value only (`1Ki` == `1024`), as upstream's `Cmp`/`Equal`.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Default for Quantity {
    fn default() -> Quantity {
        Quantity::ZERO
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

/// The pieces upstream's `parseQuantityString` cuts a quantity into.
struct Parts<'a> {
    positive: bool,
    /// Digits before the point, leading zeros removed (`"0"` when none are left).
    num: &'a str,
    /// Digits after the point.
    denom: &'a str,
    suffix: &'a str,
    /// Whether the numeric part (sign, digits, point) has a digit at all: `.` and `-` have none.
    has_digit: bool,
}

/// Upstream's `parseQuantityString`, byte for byte.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    let digits_from = pos;
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    let whole = |suffix_start: usize, num, denom, suffix| Parts {
        positive,
        num,
        denom,
        suffix,
        has_digit: b[digits_from..suffix_start].iter().any(u8::is_ascii_digit),
    };
    if pos >= end {
        return Ok(Parts {
            positive,
            num: "0",
            denom: "",
            suffix: "",
            has_digit: true,
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = match &s[num_start..pos] {
        "" => "0",
        n => n,
    };
    if pos >= end {
        return Ok(whole(end, num, "", ""));
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
        if pos >= end {
            return Ok(whole(end, num, denom, ""));
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    Ok(whole(suffix_start, num, denom, &s[suffix_start..]))
}

/// Upstream's suffixer: `(base, exponent, format)` of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i64, Format)> {
    use Format::*;
    Some(match suffix {
        "" => (10, 0, DecimalSI),
        "n" => (10, -9, DecimalSI),
        "u" => (10, -6, DecimalSI),
        "m" => (10, -3, DecimalSI),
        "k" => (10, 3, DecimalSI),
        "M" => (10, 6, DecimalSI),
        "G" => (10, 9, DecimalSI),
        "T" => (10, 12, DecimalSI),
        "P" => (10, 15, DecimalSI),
        "E" => (10, 18, DecimalSI),
        "Ki" => (2, 10, BinarySI),
        "Mi" => (2, 20, BinarySI),
        "Gi" => (2, 30, BinarySI),
        "Ti" => (2, 40, BinarySI),
        "Pi" => (2, 50, BinarySI),
        "Ei" => (2, 60, BinarySI),
        s if s.len() > 1 && s.starts_with(['e', 'E']) => {
            // Parsed at 64 bits, accepted only within ±MaxInt32 (never truncated).
            let exp: i64 = s[1..].parse().ok()?;
            if exp.abs() > i64::from(i32::MAX) {
                return None;
            }
            (10, exp, DecimalExponent)
        }
        _ => return None,
    })
}

/// `digits × 2^pow2 × 10^pow10` rounded up to an integer, saturating at `i128::MAX`. `digits` is
/// a non-empty string of ASCII digits.
fn scale_up(digits: &str, pow2: u32, pow10: i64) -> i128 {
    let mut d: Vec<u8> = digits
        .trim_start_matches('0')
        .bytes()
        .map(|c| c - b'0')
        .collect();
    if d.is_empty() {
        return 0;
    }
    let mut pow10 = pow10;
    while d.last() == Some(&0) {
        d.pop();
        pow10 += 1;
    }
    let n = d.len() as i64;
    // 2^60 adds at most 19 digits; i128::MAX has 39.
    if n + pow10 > 39 {
        return i128::MAX;
    }
    if n + pow10 + 19 < 0 {
        return 1; // below one unit, rounded up
    }
    for _ in 0..pow2 {
        let mut carry = 0;
        for digit in d.iter_mut().rev() {
            let x = *digit * 2 + carry;
            *digit = x % 10;
            carry = x / 10;
        }
        if carry > 0 {
            d.insert(0, carry);
        }
    }
    let (int_part, round_up) = if pow10 >= 0 {
        d.extend(std::iter::repeat_n(0, pow10 as usize));
        (&d[..], false)
    } else {
        let cut = d.len().saturating_sub((-pow10) as usize);
        (&d[..cut], d[cut..].iter().any(|&x| x != 0))
    };
    let mut v: i128 = 0;
    for &digit in int_part {
        v = match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(digit)))
        {
            Some(v) => v,
            None => return i128::MAX,
        };
    }
    if round_up {
        v.saturating_add(1)
    } else {
        v
    }
}

impl Quantity {
    /// Zero (`0`, DecimalSI).
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSI,
    };

    /// Upstream's `ParseQuantity`: no surrounding whitespace allowed.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let p = split(s)?;
        let (base, exp, mut format) = interpret(p.suffix).ok_or(QuantityError::Suffix)?;
        // Upstream reads the numeric part as a decimal only off its int64 fast path; a part with
        // no digit (`.`, `-`) only fails there.
        let fast_path = match format {
            Format::BinarySI => exp * 3 / 10 <= 13,
            _ => exp >= -9,
        };
        if !p.has_digit && !fast_path {
            return Err(QuantityError::Numeric);
        }
        let digits = format!("{}{}", p.num, p.denom);
        let (pow2, pow10) = if base == 2 {
            (exp as u32, 9 - p.denom.len() as i64)
        } else {
            (0, 9 - p.denom.len() as i64 + exp)
        };
        let mut nanos = scale_up(&digits, pow2, pow10);
        if format == Format::BinarySI {
            nanos = nanos.min(MAX_BINARY_SI);
            if nanos > 0 && nanos < NANO {
                format = Format::DecimalSI;
            }
        }
        if !p.positive {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }

    /// A quantity field of a JSON object, as upstream's `UnmarshalJSON` reads it: a string
    /// (surrounding whitespace ignored) or a number.
    pub fn from_json(v: &Value) -> Result<Quantity, QuantityError> {
        match v {
            Value::String(s) => Quantity::parse(s.trim()),
            other => Quantity::parse(other.to_string().trim()),
        }
    }

    /// `value` units (upstream's `NewQuantity`).
    pub fn new(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANO,
            format,
        }
    }

    /// `value` thousandths (upstream's `NewMilliQuantity`).
    pub fn new_milli(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * 1_000_000,
            format,
        }
    }

    /// `value × 10^scale`, DecimalSI (upstream's `NewScaledQuantity`); values below a nano are
    /// rounded up (away from zero) to one.
    pub fn new_scaled(value: i64, scale: i32) -> Quantity {
        let magnitude = scale_up(&value.unsigned_abs().to_string(), 0, i64::from(scale) + 9);
        Quantity {
            nanos: if value < 0 { -magnitude } else { magnitude },
            format: Format::DecimalSI,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1.
    pub fn sign(&self) -> i32 {
        self.nanos.signum() as i32
    }

    /// `⌈q / 10^scale⌉`, rounded away from zero and saturated at the `i64` bounds (upstream's
    /// `ScaledValue`; scale 0 is `Value()`, -3 `MilliValue()`).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let shift = i64::from(scale) + 9;
        let magnitude = self.nanos.unsigned_abs();
        let scaled: u128 = if shift >= 0 {
            match 10u128.checked_pow(shift as u32) {
                Some(d) => magnitude.div_ceil(d),
                None => u128::from(magnitude != 0),
            }
        } else {
            match 10u128
                .checked_pow((-shift) as u32)
                .and_then(|m| magnitude.checked_mul(m))
            {
                Some(v) => v,
                None if magnitude == 0 => 0,
                None => u128::MAX,
            }
        };
        if self.nanos < 0 {
            i64::try_from(scaled).map_or(i64::MIN, |v| -v)
        } else {
            i64::try_from(scaled).unwrap_or(i64::MAX)
        }
    }

    /// Whole units, rounded away from zero (upstream's `Value()`): bytes, pods, extended
    /// resources.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// Thousandths, rounded away from zero (upstream's `MilliValue()`): CPU.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// The value as a float, possibly inexact (upstream's `AsApproximateFloat64`).
    pub fn as_approximate_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// The canonical text without the sign: digits and suffix.
    fn canonical_magnitude(&self) -> String {
        let magnitude = self.nanos.unsigned_abs();
        let mut format = self.format;
        if format == Format::BinarySI {
            if magnitude < 1024 * NANO as u128 || !magnitude.is_multiple_of(NANO as u128) {
                format = Format::DecimalSI;
            } else {
                let mut amount = magnitude / NANO as u128;
                let mut exp = 0;
                while amount >= 1024 && amount.is_multiple_of(1024) {
                    amount /= 1024;
                    exp += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].get(exp);
                match suffix {
                    Some(suffix) => return format!("{amount}{suffix}"),
                    // Past `Ei` there is no binary suffix: exact decimal instead.
                    None => format = Format::DecimalExponent,
                }
            }
        }
        // Base 10: factors of ten into the exponent, then the exponent down to a multiple of
        // three (Go's truncated remainder, as upstream).
        let mut amount = magnitude;
        let mut exp: i64 = -9;
        while amount >= 10 && amount.is_multiple_of(10) {
            amount /= 10;
            exp += 1;
        }
        let mut digits = amount.to_string();
        match exp % 3 {
            1 | -2 => {
                digits.push('0');
                exp -= 1;
            }
            2 | -1 => {
                digits.push_str("00");
                exp -= 2;
            }
            _ => {}
        }
        let suffix = match (format, exp) {
            (Format::DecimalSI, -9) => "n".to_string(),
            (Format::DecimalSI, -6) => "u".to_string(),
            (Format::DecimalSI, -3) => "m".to_string(),
            (_, 0) => String::new(),
            (Format::DecimalSI, 3) => "k".to_string(),
            (Format::DecimalSI, 6) => "M".to_string(),
            (Format::DecimalSI, 9) => "G".to_string(),
            (Format::DecimalSI, 12) => "T".to_string(),
            (Format::DecimalSI, 15) => "P".to_string(),
            (Format::DecimalSI, 18) => "E".to_string(),
            // DecimalExponent, and DecimalSI past `E`.
            (_, e) => format!("e{e}"),
        };
        digits + &suffix
    }
}

impl fmt::Display for Quantity {
    /// Upstream's `String()`: the canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        if self.nanos < 0 {
            f.write_str("-")?;
        }
        f.write_str(&self.canonical_magnitude())
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        Quantity::parse(s)
    }
}

/// A typed API object's quantity (decoded from JSON, so surrounding whitespace is ignored).
impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = QuantityError;

    fn try_from(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Quantity, QuantityError> {
        Quantity::parse(q.0.trim())
    }
}

impl Add for Quantity {
    type Output = Quantity;

    /// Exact (saturating); a zero takes the other side's format, as upstream's `Add`.
    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    /// Exact (saturating); a zero takes the other side's format, as upstream's `Sub`.
    fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        *self = *self + other;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, other: Quantity) {
        *self = *self - other;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_neg(),
            format: self.format,
        }
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests;
