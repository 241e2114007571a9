//! upstream's literal checks when a rule is compiled (cel-go's timestamp and duration literal
//! validators, which Kubernetes' environment enables): `timestamp('…')`/`timestamp(<int>)` and
//! `duration('…')` whose argument is a literal that does not convert are compile errors,
//! `ERROR: <input>:<line>:<column>: invalid timestamp` (`invalid duration argument`), with
//! cel-go's snippet of the line and a caret under the argument. No IO.

use ::cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use ::cel::Program;
use chrono::DateTime;

/// The first bad literal argument of `program` (compiled from `source`), as cel-go reports it.
pub fn literal_error(program: &Program, source: &str) -> Option<String> {
    let mut found = None;
    visit(program.expression(), &mut |e| {
        if found.is_some() {
            return;
        }
        let Expr::Call(call) = &e.expr else {
            return;
        };
        let [arg] = call.args.as_slice() else {
            return;
        };
        let Expr::Literal(lit) = &arg.expr else {
            return;
        };
        let message = match (call.func_name.as_str(), lit, &call.target) {
            ("timestamp", LiteralValue::String(s), None) if !timestamp_ok(s.inner()) => {
                "invalid timestamp"
            }
            ("timestamp", LiteralValue::Int(i), None) if !seconds_ok(*i.inner()) => {
                "invalid timestamp"
            }
            ("duration", LiteralValue::String(s), None)
                if super::temporal::go_duration(s.inner()).is_none() =>
            {
                "invalid duration argument"
            }
            _ => return,
        };
        let mut start = program
            .source_info()
            .offset_for(arg.id)
            .map_or(0, |(start, _)| start as usize);
        // cel-rust places a negative number at its digits; cel-go at its sign.
        if matches!(lit, LiteralValue::Int(_))
            && source.get(..start).is_some_and(|b| b.ends_with('-'))
        {
            start -= 1;
        }
        found = Some(located(source, start, message));
    });
    found
}

/// RFC 3339 within years 1 to 9999 (CEL's timestamp range).
fn timestamp_ok(s: &str) -> bool {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp().checked_add(0))
        .is_some_and(seconds_ok)
}

/// Unix seconds of 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
fn seconds_ok(secs: i64) -> bool {
    (-62_135_596_800..=253_402_300_799).contains(&secs)
}

/// cel-go's error text: position (1-based line and column, in characters), message, the
/// line, and a caret under the column.
pub(crate) fn located(source: &str, offset: usize, message: &str) -> String {
    let before = source.get(..offset).unwrap_or(source);
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset.min(source.len())].chars().count() + 1;
    let line = source[line_start..].lines().next().unwrap_or_default();
    format!(
        "ERROR: <input>:{line_no}:{column}: {message}\n | {line}\n | {}^",
        ".".repeat(column - 1)
    )
}

fn visit(e: &IdedExpr, f: &mut dyn FnMut(&IdedExpr)) {
    f(e);
    match &e.expr {
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                visit(t, f);
            }
            for a in &call.args {
                visit(a, f);
            }
        }
        Expr::Select(sel) => visit(&sel.operand, f),
        Expr::List(list) => list.elements.iter().for_each(|x| visit(x, f)),
        Expr::Map(map) => map.entries.iter().for_each(|x| entry(x, f)),
        Expr::Struct(st) => st.entries.iter().for_each(|x| entry(x, f)),
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                visit(x, f);
            }
        }
        _ => {}
    }
}

fn entry(e: &::cel::common::ast::IdedEntryExpr, f: &mut dyn FnMut(&IdedExpr)) {
    match &e.expr {
        EntryExpr::MapEntry(m) => {
            visit(&m.key, f);
            visit(&m.value, f);
        }
        EntryExpr::StructField(s) => visit(&s.value, f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(rule: &str) -> Option<String> {
        let p = super::super::compile(rule).ok()?;
        literal_error(&p, rule)
    }

    #[test]
    fn bad_literals_as_upstream() {
        // upstream's cases (apiextensions-apiserver validation_test.go).
        let cases = [
            (
                "timestamp('1000-00-00T00:00:00Z')",
                "ERROR: <input>:1:11: invalid timestamp",
            ),
            (
                "timestamp('1000-01-01T00:00:00ZZ')",
                "ERROR: <input>:1:11: invalid timestamp",
            ),
            (
                "timestamp(-62135596801)",
                "ERROR: <input>:1:11: invalid timestamp",
            ),
            (
                "duration('1')",
                "ERROR: <input>:1:10: invalid duration argument",
            ),
            (
                "duration('1d')",
                "ERROR: <input>:1:10: invalid duration argument",
            ),
            (
                "duration('1us') < duration('1nns')",
                "ERROR: <input>:1:28: invalid duration argument",
            ),
        ];
        for (rule, want) in cases {
            let got = error(rule).unwrap_or_default();
            assert!(got.starts_with(want), "{rule}: {got}");
        }
        assert_eq!(
            error("timestamp('x')").as_deref(),
            Some("ERROR: <input>:1:11: invalid timestamp\n | timestamp('x')\n | ..........^")
        );
        for fine in [
            "timestamp('2011-08-18T19:03:37.01+01:00') < timestamp(0)",
            "duration('1h2m3s4ms') > duration('0')",
            "timestamp(self.x) > timestamp(self.y)",
        ] {
            assert_eq!(error(fine), None, "{fine}");
        }
    }
}
