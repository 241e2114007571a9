//! The rules of a definition, checked when it is written (upstream's CRD validation of
//! `x-kubernetes-validations`): each rule is specified, compiles, uses `optionalOldSelf` only
//! with `oldSelf` and `oldSelf` only where old values correlate, has a valid `fieldPath`,
//! `reason` and `messageExpression`; and the estimated costs stay within upstream's limits
//! (per expression, times how often its node can occur; and in total for the schema).

use super::super::cel::{self, check, cost};
use crate::json_path::str_at;
use crate::meta::go_quote;
use crate::status::Cause;
use serde_json::Value;

/// Where the walk is in the schema.
#[derive(Clone)]
struct At {
    path: String,
    /// How often a value here can occur; None: unbounded (an enclosing list or map has no max).
    cardinality: Option<u64>,
    /// The atomic list this node is an item of (or inside one): old values do not correlate.
    uncorrelatable: Option<String>,
    resource_root: bool,
}

/// The expressions that cost the most, as upstream's TotalCost keeps them.
#[derive(Default)]
struct Total {
    sum: u64,
    most_expensive: Vec<(String, u64)>,
}

impl Total {
    fn observe(&mut self, path: String, c: u64) {
        self.sum = self.sum.saturating_add(c);
        if c < cost::STATIC_ESTIMATED_CRD_COST_LIMIT / 100 {
            return;
        }
        self.most_expensive.push((path, c));
        self.most_expensive.sort_by_key(|e| std::cmp::Reverse(e.1));
        self.most_expensive.truncate(4);
    }
}

/// The errors of the rules of `schema` (the root of a version's schema at `path`), with
/// upstream's paths (`<path>.x-kubernetes-validations[i].rule`) and messages.
pub fn rule_errors(schema: &Value, path: &str, out: &mut Vec<Cause>) {
    let mut total = Total::default();
    let at = At {
        path: path.to_string(),
        cardinality: Some(1),
        uncorrelatable: None,
        resource_root: true,
    };
    node(schema, &at, &mut total, out);
    if total.sum > cost::STATIC_ESTIMATED_CRD_COST_LIMIT {
        for (p, _) in &total.most_expensive {
            out.push(Cause::forbidden(
                p.clone(),
                "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
            ));
        }
        out.push(Cause::forbidden(
            path,
            cost::cost_error_message(
                "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                total.sum,
                cost::STATIC_ESTIMATED_CRD_COST_LIMIT,
            ),
        ));
    }
}

fn node(schema: &Value, at: &At, total: &mut Total, out: &mut Vec<Cause>) {
    for (i, rule) in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_rule(
            schema,
            rule,
            &format!("{}.x-kubernetes-validations[{i}]", at.path),
            at,
            total,
            out,
        );
    }
    let child = |key: String, resource_root: bool, uncorrelatable: Option<String>| At {
        path: key,
        cardinality: cost::cardinality_child(at.cardinality, schema),
        uncorrelatable,
        resource_root,
    };
    let embedded = |s: &Value| s["x-kubernetes-embedded-resource"] == true;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            let c = child(
                format!("{}.properties[{k}]", at.path),
                embedded(s),
                at.uncorrelatable.clone(),
            );
            node(s, &c, total, out);
        }
    }
    if let Some(s) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        let c = child(
            format!("{}.additionalProperties", at.path),
            embedded(s),
            at.uncorrelatable.clone(),
        );
        node(s, &c, total, out);
    }
    if let Some(s) = schema.get("items").filter(|s| s.is_object()) {
        let items_path = format!("{}.items", at.path);
        let correlates = matches!(str_at(schema, &["x-kubernetes-list-type"]), "map" | "set");
        let uncorrelatable = at
            .uncorrelatable
            .clone()
            .or_else(|| (!correlates).then(|| items_path.clone()));
        let c = child(items_path, embedded(s), uncorrelatable);
        node(s, &c, total, out);
    }
}

fn check_rule(
    schema: &Value,
    rule: &Value,
    at_rule: &str,
    at: &At,
    total: &mut Total,
    out: &mut Vec<Cause>,
) {
    let text = str_at(rule, &["rule"]);
    if text.trim().is_empty() {
        out.push(crate::meta::required(
            format!("{at_rule}.rule"),
            "rule is not specified",
        ));
        return;
    }
    if let Some(m) = rule.get("message").and_then(Value::as_str) {
        if m.trim().is_empty() {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.message"),
                m,
                "must be non-empty if specified",
            ));
        } else if m.contains(['\n', '\r']) {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.message"),
                m,
                "must not contain line breaks",
            ));
        }
    } else if text.trim().contains(['\n', '\r']) {
        out.push(crate::meta::required(
            format!("{at_rule}.message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    let message_expression = rule.get("messageExpression").and_then(Value::as_str);
    if message_expression.is_some_and(|m| !m.is_empty() && m.trim().is_empty()) {
        out.push(crate::meta::required(
            format!("{at_rule}.messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    let reason = str_at(rule, &["reason"]);
    let reasons = [
        "FieldValueDuplicate",
        "FieldValueForbidden",
        "FieldValueInvalid",
        "FieldValueRequired",
    ];
    if rule.get("reason").is_some() && !reasons.contains(&reason) {
        out.push(crate::meta::not_supported_str(
            format!("{at_rule}.reason"),
            reason,
            &reasons,
        ));
    }
    if let Some(fp) = rule.get("fieldPath").and_then(Value::as_str) {
        if !fp.is_empty() && fp.trim().is_empty() {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.fieldPath"),
                fp,
                "must be non-empty if specified",
            ));
        } else if fp.contains('\n') {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.fieldPath"),
                fp,
                "must not contain line breaks",
            ));
        } else if !fp.is_empty() && !field_path_valid(schema, fp) {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.fieldPath"),
                fp,
                "must be a valid path",
            ));
        }
    }
    let program = match cel::compile_checked(text) {
        Ok(p) => p,
        Err(e) => {
            out.push(crate::meta::invalid_raw(
                format!("{at_rule}.rule"),
                &go_rule(rule),
                &format!("compilation failed: {e}"),
            ));
            return;
        }
    };
    let optional_old = rule.get("optionalOldSelf").and_then(Value::as_bool) == Some(true);
    let typed = cel::check::check(&program, text, schema, at.resource_root, optional_old);
    if let Some(detail) = type_error(
        typed,
        &check::Ty::Bool,
        "cel expression must evaluate to a bool",
    ) {
        out.push(crate::meta::invalid_raw(
            format!("{at_rule}.rule"),
            &go_rule(rule),
            &detail,
        ));
        return;
    }
    let self_shape = cost::Shape::of_schema(schema, at.resource_root);
    let shapes = [("self", self_shape.clone()), ("oldSelf", self_shape)];
    let times = at
        .cardinality
        .unwrap_or_else(|| cost::max_cardinality(schema, at.resource_root));
    let rule_cost = cost::estimate(program.expression(), &shapes).saturating_mul(times);
    if rule_cost > cost::STATIC_ESTIMATED_COST_LIMIT {
        out.push(Cause::forbidden(
            format!("{at_rule}.rule"),
            cost::cost_error_message(
                "estimated rule cost",
                rule_cost,
                cost::STATIC_ESTIMATED_COST_LIMIT,
            ),
        ));
    }
    total.observe(format!("{at_rule}.rule"), rule_cost);
    if let Some(m) = message_expression.filter(|m| !m.trim().is_empty()) {
        match cel::compile_checked(m) {
            Err(e) => out.push(crate::meta::invalid_raw(
                format!("{at_rule}.messageExpression"),
                &go_rule(rule),
                &format!("messageExpression compilation failed: {e}"),
            )),
            Ok(p) => {
                let typed = cel::check::check(&p, m, schema, at.resource_root, optional_old);
                let wanted = "messageExpression must evaluate to a string";
                if let Some(detail) = type_error(typed, &check::Ty::String, wanted) {
                    out.push(crate::meta::invalid_raw(
                        format!("{at_rule}.messageExpression"),
                        &go_rule(rule),
                        &detail.replacen(
                            "compilation failed",
                            "messageExpression compilation failed",
                            1,
                        ),
                    ));
                    return;
                }
                // upstream does not multiply a message expression's cost by the cardinality.
                let c = cost::estimate(p.expression(), &shapes);
                if c > cost::STATIC_ESTIMATED_COST_LIMIT {
                    out.push(Cause::forbidden(
                        format!("{at_rule}.messageExpression"),
                        cost::cost_error_message(
                            "estimated messageExpression cost",
                            c,
                            cost::STATIC_ESTIMATED_COST_LIMIT,
                        ),
                    ));
                }
                total.observe(format!("{at_rule}.messageExpression"), c);
            }
        }
    }
    let uses_old = program.references().has_variable("oldSelf");
    if uses_old {
        if let Some(list) = &at.uncorrelatable {
            out.push(crate::meta::invalid_str(
                format!("{at_rule}.rule"),
                text,
                &format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {list}"),
            ));
        }
    } else if let Some(b) = rule.get("optionalOldSelf").and_then(Value::as_bool) {
        out.push(Cause::invalid(
            format!("{at_rule}.optionalOldSelf"),
            b,
            "may not be set if oldSelf is not used in rule",
        ));
    }
}

/// The error of a checked expression, if any: its type errors (as cel-go's compile errors), or
/// `wrong_type` when its type is known and not `wanted` (an unknown type is accepted).
fn type_error(
    typed: Result<check::Ty<'_>, String>,
    wanted: &check::Ty<'_>,
    wrong_type: &str,
) -> Option<String> {
    match typed {
        Err(e) => Some(format!("compilation failed: {}", e.replace('\n', " "))),
        Ok(check::Ty::Dyn | check::Ty::Error) => None,
        Ok(t) if &t == wanted => None,
        Ok(_) => Some(wrong_type.to_string()),
    }
}

/// upstream's ValidFieldPath: `.a.b` and `['a']` steps through properties (or map keys).
fn field_path_valid(schema: &Value, fp: &str) -> bool {
    let mut node = schema;
    let mut rest = fp;
    while !rest.is_empty() {
        let (name, next) = if let Some(after) = rest.strip_prefix("['") {
            match after.find("']") {
                Some(end) => (&after[..end], &after[end + 2..]),
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            (&after[..end], &after[end..])
        } else {
            return false;
        };
        if name.is_empty() {
            return false;
        }
        node = match (
            node.get("properties").and_then(Value::as_object),
            node.get("additionalProperties"),
        ) {
            (Some(props), _) => match props.get(name) {
                Some(s) => s,
                None => return false,
            },
            (None, Some(a)) if a.is_object() => a,
            _ => return false,
        };
        rest = next;
    }
    true
}

/// The rule as Go's `%#v` prints upstream's ValidationRule in its error.
fn go_rule(rule: &Value) -> String {
    let opt = |key: &str, ty: &str| match rule.get(key) {
        Some(Value::String(s)) => format!("(*{ty})({})", go_quote(s)),
        Some(Value::Bool(b)) => format!("(*{ty})({b})"),
        _ => format!("(*{ty})(nil)"),
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{}, FieldPath:{}, OptionalOldSelf:{}}}",
        go_quote(str_at(rule, &["rule"])),
        go_quote(str_at(rule, &["message"])),
        go_quote(str_at(rule, &["messageExpression"])),
        opt("reason", "apiextensions.FieldValueErrorReason"),
        go_quote(str_at(rule, &["fieldPath"])),
        opt("optionalOldSelf", "bool"),
    )
}
