//! Cases from upstream's quantity_test.go (TestQuantityParse, TestQuantityString,
//! TestQuantityParseEmit, TestNewSet, TestNewScaledSet, TestScaledValue,
//! TestNegativeValueRoundsAwayFromZero, …) within this type's range, plus the cases the
//! scheduler and the strategies relied on before they shared this type.

use super::*;
use serde_json::json;
use Format::{BinarySI, DecimalExponent, DecimalSI};

/// Upstream's `decQuantity(i, exponent, format)`: `i × 10^exponent`.
fn dec(i: i64, exponent: i32, format: Format) -> Quantity {
    let mut q = Quantity::new_scaled(i, exponent);
    q.format = format;
    q
}

fn q(s: &str) -> Quantity {
    Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn parse_values_and_formats() {
    let table: &[(&str, Quantity)] = &[
        ("0", dec(0, 0, DecimalSI)),
        ("0n", dec(0, 0, DecimalSI)),
        ("0u", dec(0, 0, DecimalSI)),
        ("0m", dec(0, 0, DecimalSI)),
        ("0Ki", dec(0, 0, BinarySI)),
        ("0k", dec(0, 0, DecimalSI)),
        ("0Mi", dec(0, 0, BinarySI)),
        ("0M", dec(0, 0, DecimalSI)),
        ("0Gi", dec(0, 0, BinarySI)),
        ("0G", dec(0, 0, DecimalSI)),
        ("0Ti", dec(0, 0, BinarySI)),
        ("0T", dec(0, 0, DecimalSI)),
        // Quantity-less numbers are allowed
        ("1", dec(1, 0, DecimalSI)),
        // Binary suffixes
        ("1Ki", dec(1024, 0, BinarySI)),
        ("8Ki", dec(8 * 1024, 0, BinarySI)),
        ("7Mi", dec(7 * 1024 * 1024, 0, BinarySI)),
        ("6Gi", dec(6 * 1024 * 1024 * 1024, 0, BinarySI)),
        ("5Ti", dec(5 << 40, 0, BinarySI)),
        ("4Pi", dec(4 << 50, 0, BinarySI)),
        ("3Ei", dec(3 << 60, 0, BinarySI)),
        ("10Ti", dec(10 << 40, 0, BinarySI)),
        ("100Ti", dec(100 << 40, 0, BinarySI)),
        // Decimal suffixes
        ("5n", dec(5, -9, DecimalSI)),
        ("4u", dec(4, -6, DecimalSI)),
        ("3m", dec(3, -3, DecimalSI)),
        ("9", dec(9, 0, DecimalSI)),
        ("8k", dec(8, 3, DecimalSI)),
        ("50k", dec(5, 4, DecimalSI)),
        ("7M", dec(7, 6, DecimalSI)),
        ("6G", dec(6, 9, DecimalSI)),
        ("5T", dec(5, 12, DecimalSI)),
        ("40T", dec(4, 13, DecimalSI)),
        ("300T", dec(3, 14, DecimalSI)),
        ("2P", dec(2, 15, DecimalSI)),
        ("1E", dec(1, 18, DecimalSI)),
        // Decimal exponents
        ("1E-3", dec(1, -3, DecimalExponent)),
        ("1e3", dec(1, 3, DecimalExponent)),
        ("1E6", dec(1, 6, DecimalExponent)),
        ("1e9", dec(1, 9, DecimalExponent)),
        ("1E12", dec(1, 12, DecimalExponent)),
        ("1e15", dec(1, 15, DecimalExponent)),
        ("1E18", dec(1, 18, DecimalExponent)),
        // Nonstandard but still parsable
        ("1e14", dec(1, 14, DecimalExponent)),
        ("1e13", dec(1, 13, DecimalExponent)),
        ("100.035k", dec(100035, 0, DecimalSI)),
        // Things that look like floating point
        ("0.001", dec(1, -3, DecimalSI)),
        ("0.0005k", dec(5, -1, DecimalSI)),
        ("0.005", dec(5, -3, DecimalSI)),
        ("0.05", dec(5, -2, DecimalSI)),
        ("0.5", dec(5, -1, DecimalSI)),
        ("0.00050k", dec(5, -1, DecimalSI)),
        ("0.00500", dec(5, -3, DecimalSI)),
        ("0.05000", dec(5, -2, DecimalSI)),
        ("0.50000", dec(5, -1, DecimalSI)),
        ("0.5e0", dec(5, -1, DecimalExponent)),
        ("0.5e-1", dec(5, -2, DecimalExponent)),
        ("0.5e-2", dec(5, -3, DecimalExponent)),
        ("10.035M", dec(10035, 3, DecimalSI)),
        ("1.2e3", dec(12, 2, DecimalExponent)),
        ("1.3E+6", dec(13, 5, DecimalExponent)),
        ("1.40e9", dec(14, 8, DecimalExponent)),
        ("1.53E12", dec(153, 10, DecimalExponent)),
        ("1.6e15", dec(16, 14, DecimalExponent)),
        ("1.7E18", dec(17, 17, DecimalExponent)),
        ("9.01", dec(901, -2, DecimalSI)),
        ("8.1k", dec(81, 2, DecimalSI)),
        ("7.123456M", dec(7123456, 0, DecimalSI)),
        ("6.987654321G", dec(6987654321, 0, DecimalSI)),
        ("5.444T", dec(5444, 9, DecimalSI)),
        ("40.1T", dec(401, 11, DecimalSI)),
        ("300.2T", dec(3002, 11, DecimalSI)),
        ("2.5P", dec(25, 14, DecimalSI)),
        ("1.01E", dec(101, 16, DecimalSI)),
        // Things that saturate/round
        ("3.001n", dec(4, -9, DecimalSI)),
        ("1.1E-9", dec(2, -9, DecimalExponent)),
        ("0.0000000001", dec(1, -9, DecimalSI)),
        ("0.0000000005", dec(1, -9, DecimalSI)),
        ("0.00000000050", dec(1, -9, DecimalSI)),
        ("0.5e-9", dec(1, -9, DecimalExponent)),
        ("0.9n", dec(1, -9, DecimalSI)),
        ("0.00000012345", dec(124, -9, DecimalSI)),
        ("0.00000012354", dec(124, -9, DecimalSI)),
        ("9Ei", dec(i64::MAX, 0, BinarySI)),
        ("9223372036854775807Ki", dec(i64::MAX, 0, BinarySI)),
        ("12E", dec(12, 18, DecimalSI)),
        // Fractional binary quantities
        ("100.035Ki", dec(10243584, -2, BinarySI)),
        ("0.5Mi", dec(512 * 1024, 0, BinarySI)),
        ("0.05Gi", dec(536870912, -1, BinarySI)),
        ("0.025Ti", dec(274877906944, -1, BinarySI)),
        // Things written by trolls
        ("0.000000000001Ki", dec(2, -9, DecimalSI)), // rounds up, changes format
        (".001", dec(1, -3, DecimalSI)),
        (".0001k", dec(100, -3, DecimalSI)),
        ("1.", dec(1, 0, DecimalSI)),
        ("1.G", dec(1, 9, DecimalSI)),
        // What upstream's scanner accepts beyond its regular expression
        (".", dec(0, 0, DecimalSI)),
        ("-.", dec(0, 0, DecimalSI)),
        ("Gi", dec(0, 0, BinarySI)),
    ];
    for (input, want) in table {
        let got = q(input);
        assert_eq!(got, *want, "{input}: {got} != {want}");
        assert_eq!(got.format(), want.format(), "{input}");
        // The negative and the explicitly positive version of everything.
        if !input.starts_with('-') {
            let neg = q(&format!("-{input}"));
            assert_eq!(neg, -*want, "-{input}");
            assert_eq!(neg.format(), want.format(), "-{input}");
            let pos = q(&format!("+{input}"));
            assert_eq!(pos, *want, "+{input}");
            assert_eq!(pos.format(), want.format(), "+{input}");
        }
    }
}

#[test]
fn parse_errors_are_upstreams() {
    assert_eq!(Quantity::parse(""), Err(QuantityError::Format));
    for bad in [
        "1.1.M", "1+1.0M", "0.1am", "aoeu", " 1", "1 ", "1x", "1.2.3", "1 Gi", "1Gb", "abc",
    ] {
        assert_eq!(Quantity::parse(bad), Err(QuantityError::Format), "{bad}");
    }
    for bad in [
        "0.1mi",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        "1e",
        "1e4294967297",
        "1mi",
    ] {
        assert_eq!(Quantity::parse(bad), Err(QuantityError::Suffix), "{bad}");
    }
    for bad in [".e-10", "-.e-12", "Pi", ".Ei"] {
        assert_eq!(Quantity::parse(bad), Err(QuantityError::Numeric), "{bad}");
    }
    assert_eq!(
        QuantityError::Format.to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    assert_eq!(
        QuantityError::Suffix.to_string(),
        "unable to parse quantity's suffix"
    );
    assert_eq!(
        QuantityError::Numeric.to_string(),
        "unable to parse numeric part of quantity"
    );
}

#[test]
fn exponent_bounds() {
    assert!(Quantity::parse("1E2147483647").is_ok());
    assert!(Quantity::parse("1E-2147483647").is_ok());
    assert_eq!(Quantity::parse("1E2147483648"), Err(QuantityError::Suffix));
    assert_eq!(Quantity::parse("1E-2147483648"), Err(QuantityError::Suffix));
    // Far below a nano rounds up to one; far beyond the range saturates.
    assert_eq!(q("1E-2147483647"), dec(1, -9, DecimalExponent));
    assert_eq!(q("1E2147483647").value(), i64::MAX);
}

#[test]
fn canonical_strings() {
    let table: &[(Quantity, &str, &str)] = &[
        (dec(1024 * 1024 * 1024, 0, BinarySI), "1Gi", "1024Mi"),
        (dec(300 * 1024 * 1024, 0, BinarySI), "300Mi", "307200Ki"),
        (dec(6 * 1024, 0, BinarySI), "6Ki", ""),
        (
            dec(1001 * 1024 * 1024 * 1024, 0, BinarySI),
            "1001Gi",
            "1025024Mi",
        ),
        (dec(1 << 40, 0, BinarySI), "1Ti", "1024Gi"),
        (dec(5, 0, BinarySI), "5", "5000m"),
        (dec(500, -3, BinarySI), "500m", "0.5"),
        (dec(1, 9, DecimalSI), "1G", "1000M"),
        (dec(1000, 6, DecimalSI), "1G", "0.001T"),
        (dec(1000000, 3, DecimalSI), "1G", ""),
        (dec(1000000000, 0, DecimalSI), "1G", ""),
        (dec(1, -3, DecimalSI), "1m", "1000u"),
        (dec(80, -3, DecimalSI), "80m", ""),
        (dec(1080, -3, DecimalSI), "1080m", "1.08"),
        (dec(108, -2, DecimalSI), "1080m", "1080000000n"),
        (dec(10800, -4, DecimalSI), "1080m", ""),
        (dec(300, 6, DecimalSI), "300M", ""),
        (dec(1, 12, DecimalSI), "1T", ""),
        (dec(1, 18, DecimalSI), "1E", ""),
        (dec(1, 21, DecimalSI), "1e21", "1000E"),
        (dec(5, 21, DecimalSI), "5e21", "5000E"),
        (dec(1, 24, DecimalSI), "1e24", "1000000E"),
        (dec(1234567, 6, DecimalSI), "1234567M", ""),
        (dec(1234567, -3, BinarySI), "1234567m", ""),
        (dec(3, 3, DecimalSI), "3k", ""),
        (dec(1025, 0, BinarySI), "1025", ""),
        (dec(0, 0, DecimalSI), "0", ""),
        (dec(0, 0, BinarySI), "0", ""),
        (dec(1, 9, DecimalExponent), "1e9", ".001e12"),
        (dec(1, -3, DecimalExponent), "1e-3", "0.001e0"),
        (dec(1, -9, DecimalExponent), "1e-9", "1000e-12"),
        (dec(80, -3, DecimalExponent), "80e-3", ""),
        (dec(300, 6, DecimalExponent), "300e6", ""),
        (dec(1, 12, DecimalExponent), "1e12", ""),
        (dec(1, 3, DecimalExponent), "1e3", ""),
        (dec(3, 3, DecimalExponent), "3e3", ""),
        (dec(0, 0, DecimalExponent), "0", "00"),
        (dec(1, -9, DecimalSI), "1n", ""),
        (dec(80, -9, DecimalSI), "80n", ""),
        (dec(1080, -9, DecimalSI), "1080n", ""),
        (dec(108, -8, DecimalSI), "1080n", ""),
        (dec(10800, -10, DecimalSI), "1080n", ""),
        (dec(1, -6, DecimalSI), "1u", ""),
        (dec(80, -6, DecimalSI), "80u", ""),
        (dec(1080, -6, DecimalSI), "1080u", ""),
    ];
    for (value, canonical, alternate) in table {
        assert_eq!(value.to_string(), *canonical, "{value:?}");
        assert_eq!(q(canonical).to_string(), *canonical);
        if !alternate.is_empty() {
            assert_eq!(q(alternate).to_string(), *canonical, "{alternate}");
        }
        if !value.is_zero() {
            assert_eq!((-*value).to_string(), format!("-{canonical}"));
        }
    }
    // BinarySI past `Ei` has no suffix: the exact decimal.
    let big: Quantity = std::iter::repeat_n(q("1Ei"), 1024).sum();
    assert_eq!(big.to_string(), "1180591620717411303424");
    assert_eq!(Quantity::new(2000, BinarySI).to_string(), "2000");
    assert_eq!(Quantity::new(-2000, BinarySI).to_string(), "-2000");
}

#[test]
fn parse_then_emit() {
    for (input, canonical) in [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("1.5Ki", "1536"),
    ] {
        assert_eq!(q(input).to_string(), canonical, "{input}");
        assert_eq!(
            q(&format!("-{input}")).to_string(),
            format!("-{canonical}"),
            "-{input}"
        );
    }
}

#[test]
fn constructors() {
    for (value, format, canonical) in [
        (1, DecimalSI, "1"),
        (1000, DecimalSI, "1k"),
        (1234000, DecimalSI, "1234k"),
        (1024, BinarySI, "1Ki"),
        (1000000, DecimalExponent, "1e6"),
        (1024 * 1024, BinarySI, "1Mi"),
    ] {
        let x = Quantity::new(value, format);
        assert_eq!(x.to_string(), canonical);
        assert_eq!(q(canonical).value(), value);
    }
    for (value, format, canonical) in [
        (1, DecimalSI, "1m"),
        (1000, DecimalSI, "1"),
        (1234000, DecimalSI, "1234"),
        (1024, BinarySI, "1024m"),
        (1000000, DecimalExponent, "1e3"),
        (1024 * 1024, BinarySI, "1048576m"),
    ] {
        let x = Quantity::new_milli(value, format);
        assert_eq!(x.to_string(), canonical);
        assert_eq!(q(canonical).milli_value(), value);
    }
    for (value, scale, canonical) in [
        (1, -9, "1n"),
        (1000, -9, "1u"),
        (1, -6, "1u"),
        (1000, -6, "1m"),
        (1, -3, "1m"),
        (1000, -3, "1"),
        (1, 0, "1"),
        (0, -9, "0"),
        (0, -6, "0"),
        (0, -3, "0"),
        (0, 0, "0"),
    ] {
        let x = Quantity::new_scaled(value, scale);
        assert_eq!(x.to_string(), canonical);
        assert_eq!(q(canonical).scaled_value(scale), value);
    }
}

#[test]
fn scaled_values() {
    for (from, to, want) in [
        (-9, -9, 1),
        (-9, -6, 1),
        (-9, -3, 1),
        (-9, 0, 1),
        (-6, -9, 1000),
        (-6, -6, 1),
        (-6, -3, 1),
        (-6, 0, 1),
        (-3, -9, 1000 * 1000),
        (-3, -6, 1000),
        (-3, -3, 1),
        (-3, 0, 1),
        (0, -9, 1000 * 1000 * 1000),
        (0, -6, 1000 * 1000),
        (0, -3, 1000),
        (0, 0, 1),
        (2, -2, 100 * 100),
    ] {
        assert_eq!(
            Quantity::new_scaled(1, from).scaled_value(to),
            want,
            "{from} → {to}"
        );
    }
}

#[test]
fn values_round_away_from_zero() {
    for (input, value, milli) in [
        ("-.484785E-7466", -1, -1),
        (".484785E-7466", 1, 1),
        ("-.484785E-1", -1, -49),
        (".484785E-1", 1, 49),
        ("-0.0005", -1, -1),
        ("0.0005", 1, 1),
        ("-1500m", -2, -1500),
        ("1500m", 2, 1500),
        ("-9.5000000001Gi", -10200547329, -10200547328108),
        ("9.5000000001Gi", 10200547329, 10200547328108),
        ("-1", -1, -1000),
        ("1", 1, 1000),
        ("0", 0, 0),
    ] {
        assert_eq!(q(input).value(), value, "{input}");
        assert_eq!(q(input).milli_value(), milli, "{input}");
    }
}

/// What the scheduler read quantities as (CPU in millicores, the rest in whole units).
#[test]
fn scheduler_units() {
    for (input, milli) in [
        ("1", 1000),
        ("500m", 500),
        ("0.5", 500),
        ("2.25", 2250),
        ("100u", 1),
        ("1k", 1_000_000),
        ("0", 0),
        (".5", 500),
    ] {
        assert_eq!(q(input).milli_value(), milli, "{input}");
    }
    for (input, value) in [
        ("1Ki", 1024),
        ("1.5Gi", 1536 * 1024 * 1024),
        ("128974848", 128_974_848),
        ("129e6", 129_000_000),
        ("129M", 129_000_000),
        ("123Mi", 123 * 1024 * 1024),
        ("1E", 1_000_000_000_000_000_000),
        ("10Ei", i64::MAX),
        ("1m", 1),
        ("110", 110),
        ("-1", -1),
    ] {
        assert_eq!(q(input).value(), value, "{input}");
    }
    assert_eq!(q("500m").as_approximate_f64(), 0.5);
    assert_eq!(q("1Gi").as_approximate_f64(), 1073741824.0);
    assert_eq!(q("1e3").as_approximate_f64(), 1000.0);
}

#[test]
fn compare_and_add() {
    for (x, y, want) in [
        ("0", "0", Ordering::Equal),
        ("100m", "50m", Ordering::Greater),
        ("50m", "100m", Ordering::Less),
        ("10000T", "100Gi", Ordering::Greater),
        ("1Ki", "1024", Ordering::Equal),
        ("1", "1000m", Ordering::Equal),
    ] {
        assert_eq!(q(x).cmp(&q(y)), want, "{x} vs {y}");
    }
    // A zero takes the other side's format, so suffixes survive.
    for v in ["100m", "1Gi"] {
        assert_eq!((q(v) + Quantity::ZERO).to_string(), v);
        assert_eq!((Quantity::ZERO + q(v)).to_string(), v);
        assert_eq!((q(v) - Quantity::ZERO).to_string(), v);
        assert_eq!((Quantity::ZERO - q(v)).to_string(), (-q(v)).to_string());
    }
    assert_eq!(dec(10, 0, DecimalSI) - dec(1, 1, DecimalSI), Quantity::ZERO);
    let mut x = dec(10, 0, BinarySI);
    x -= dec(1, 0, DecimalSI);
    assert_eq!((x, x.format()), (dec(9, 0, BinarySI), BinarySI));
    assert_eq!((-dec(901, -2, DecimalSI)).to_string(), "-9010m");
    let total: Quantity = ["100m", "0.2", "700m"].iter().map(|s| q(s)).sum();
    assert_eq!(total.to_string(), "1");
    assert!(q("1Gi") > q("1G"));
    assert_eq!(q("-1").sign(), -1);
}

#[test]
fn json_values() {
    assert_eq!(Quantity::from_json(&json!(" 1")), Ok(q("1")));
    assert_eq!(Quantity::from_json(&json!("1 ")), Ok(q("1")));
    assert_eq!(Quantity::from_json(&json!(10)), Ok(q("10")));
    assert_eq!(Quantity::from_json(&json!(-1)), Ok(q("-1")));
    assert_eq!(
        Quantity::from_json(&json!(0.5)).map(|x| x.milli_value()),
        Ok(500)
    );
    assert_eq!(
        Quantity::from_json(&json!("1Gb")),
        Err(QuantityError::Format)
    );
    let typed = k8s_openapi::apimachinery::pkg::api::resource::Quantity(" 2Gi ".into());
    assert_eq!(Quantity::try_from(&typed), Ok(q("2Gi")));
}
