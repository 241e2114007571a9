//! `string(timestamp)` as cel-go writes it: Go's `time.RFC3339Nano` layout of the value in the
//! offset it carries (`2024-01-01T10:00:00+01:00`; `Z` for a zero offset; the fraction of a
//! second without trailing zeros, none when zero). cel-rust's own conversion writes every
//! timestamp in UTC, and an environment cannot replace a declared overload, so a macro turns
//! each one-argument `string(x)` into a call of [`STRING_FN`], whose overload converts
//! timestamps here and hands every other argument to the standard `string` overloads
//! (same results, same errors). No IO.

use ::cel::common::ast::{CallExpr, Expr};
use ::cel::common::types::{CelTimestamp, DYN_TYPE};
use ::cel::common::value::CowVal;
use ::cel::parser::Macro;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;

/// The function `string(x)` is expanded to (not an identifier: no rule can name it).
pub const STRING_FN: &str = "@string";

pub fn extension(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::global("string", 1, |helper, _target, args| {
        let arg = std::mem::take(args);
        Ok(Some(helper.next_expr(Expr::Call(CallExpr {
            func_name: STRING_FN.to_string(),
            target: None,
            args: arg,
        }))))
    }))?;
    env.add_overload(STRING_FN, "kindling_string_dyn", vec![DYN_TYPE], string)
}

fn string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if let [arg] = args.as_slice() {
        if let Some(t) = arg.as_ref().downcast_ref::<CelTimestamp>() {
            return super::ret(Value::String(Arc::new(go_rfc3339_nano(t.inner()))));
        }
    }
    match super::env().find_overload("string", &args) {
        Some(standard) => standard(args),
        None => {
            let values = super::values(&args)?;
            Err(super::no_overload("string", &values))
        }
    }
}

/// Go's `t.Format(time.RFC3339Nano)`.
pub fn go_rfc3339_nano(t: &DateTime<FixedOffset>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    let nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{}", format!("{nanos:09}").trim_end_matches('0'))
    };
    let offset = t.offset().local_minus_utc();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.abs() / 60;
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!("{base}{fraction}{zone}")
}

#[cfg(test)]
mod tests {
    use super::super::{compile, context, to_cel};
    use ::cel::Value;
    use serde_json::json;

    fn eval(rule: &str) -> Result<Value, String> {
        let program = compile(rule)?;
        let ctx = context(vec![("self", to_cel(&json!({"n": 3, "s": "x"})))]);
        program
            .execute(&ctx)
            .map_err(|e| super::super::error_text(&e))
    }

    /// cel-go's results (common/types `ConvertToType(StringType)` of each type).
    #[test]
    fn string_converts_as_cel_go() {
        let cases = [
            (
                "string(timestamp('2011-08-18T19:03:37.01+01:00'))",
                "2011-08-18T19:03:37.01+01:00",
            ),
            (
                "string(timestamp('1970-01-01T02:07:34.000000321Z'))",
                "1970-01-01T02:07:34.000000321Z",
            ),
            (
                "string(timestamp('2024-02-29T23:59:59-08:00'))",
                "2024-02-29T23:59:59-08:00",
            ),
            ("string(duration('1h2m3s4ms'))", "3723.004s"),
            ("string(self.n)", "3"),
            ("string(10.5)", "10.5"),
            ("string(true)", "true"),
            ("string(b'abc')", "abc"),
            ("string(self.s)", "x"),
        ];
        for (rule, want) in cases {
            assert_eq!(
                eval(rule),
                Ok(Value::String(want.to_string().into())),
                "{rule}"
            );
        }
    }

    #[test]
    fn string_of_what_has_no_conversion_fails_as_before() {
        let err = eval("string([1])").unwrap_err();
        assert!(err.starts_with("no such overload"), "{err}");
        assert!(err.contains("string"), "{err}");
    }
}
