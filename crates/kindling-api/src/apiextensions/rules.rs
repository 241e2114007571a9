//! `x-kubernetes-validations`: CEL rules on a custom resource's schema, as upstream's
//! apiextensions-apiserver evaluates them (apiserver/schema/cel). Each rule sees the value of its
//! schema node as `self` and, in a transition rule, the stored value as `oldSelf` (evaluated
//! only on updates where the old value exists, unless `optionalOldSelf`). A false result is the
//! rule's error at the node (plus its `fieldPath`), with its `message` (or upstream's
//! `failed rule: <rule>`), of its `reason` (Invalid by default, with the schema's type as the
//! value). Rules are compiled once per definition version (the cel-rust interpreter); a rule
//! that does not compile is refused when the definition is created.
//!
//! Not done: upstream's cost limits and the Kubernetes CEL libraries beyond cel-rust's standard
//! ones (lists, quantity, url, ip, format); `messageExpression` is not evaluated (the static
//! message or the default is used); array items are not correlated with their old values.

use crate::json_path::str_at;
use crate::meta::go_quote;
use crate::status::Cause;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The compiled rules of a schema, by rule text.
#[derive(Default)]
pub struct Rules {
    programs: HashMap<String, Arc<::cel::Program>>,
}

impl Rules {
    /// Compiles every rule of `schema` (rules that do not compile are left out: the
    /// definition's validation refused them already).
    pub fn compile(schema: &Value) -> Rules {
        let mut programs = HashMap::new();
        walk_rules(schema, &mut |rule| {
            if let Ok(p) = ::cel::Program::compile(str_at(rule, &["rule"])) {
                programs.insert(str_at(rule, &["rule"]).to_string(), Arc::new(p));
            }
        });
        Rules { programs }
    }

    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }

    /// The errors of `obj` against the rules of `schema` that do not look at `oldSelf`.
    pub fn validate(&self, schema: &Value, obj: &Value) -> Vec<Cause> {
        let mut out = Vec::new();
        if !self.is_empty() {
            self.validate_at(schema, obj, None, "", false, &mut out);
        }
        out
    }

    /// The errors of an update against the transition rules (those that look at `oldSelf`).
    pub fn validate_transitions(&self, schema: &Value, new: &Value, old: &Value) -> Vec<Cause> {
        let mut out = Vec::new();
        if !self.is_empty() {
            self.validate_at(schema, new, Some(old), "", true, &mut out);
        }
        out
    }

    fn validate_at(
        &self,
        schema: &Value,
        v: &Value,
        old: Option<&Value>,
        path: &str,
        transitions: bool,
        out: &mut Vec<Cause>,
    ) {
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            self.check(schema, rule, (v, old), path, transitions, out);
        }
        match v {
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                for (k, child) in map {
                    let Some(s) = props.and_then(|p| p.get(k)).or(additional) else {
                        continue;
                    };
                    let old_child = old.and_then(|o| o.get(k));
                    self.validate_at(s, child, old_child, &join(path, k), transitions, out);
                }
            }
            Value::Array(items) => {
                if let Some(s) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate_at(s, item, None, &format!("{path}[{i}]"), transitions, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// One rule at one node: `values` are the node's new and old values.
    fn check(
        &self,
        schema: &Value,
        rule: &Value,
        (v, old): (&Value, Option<&Value>),
        path: &str,
        transitions: bool,
        out: &mut Vec<Cause>,
    ) {
        let text = str_at(rule, &["rule"]);
        let Some(program) = self.programs.get(text) else {
            return;
        };
        let transition = program.references().has_variable("oldSelf");
        let optional = rule["optionalOldSelf"].as_bool() == Some(true);
        // Plain rules run on every write; transition rules on updates where the old value
        // exists (or always, with optionalOldSelf, `oldSelf` null on create).
        let runs = if transitions {
            transition && (old.is_some() || optional)
        } else {
            !transition || (optional && old.is_none())
        };
        if !runs {
            return;
        }
        let mut ctx = ::cel::Context::default();
        ctx.add_variable_from_value("self", to_cel(v));
        if transition {
            ctx.add_variable_from_value("oldSelf", old.map_or(::cel::Value::Null, to_cel));
        }
        let field = match str_at(rule, &["fieldPath"]) {
            "" => path.to_string(),
            fp => format!("{path}{fp}"),
        };
        let message = match str_at(rule, &["message"]) {
            "" => format!("failed rule: {}", rule_text(text)),
            m => m.to_string(),
        };
        match program.execute(&ctx) {
            Ok(::cel::Value::Bool(true)) => {}
            Ok(::cel::Value::Bool(false)) => out.push(failure(schema, rule, &field, &message)),
            Ok(other) => out.push(Cause::invalid(
                field,
                go_quote(type_name(schema)),
                &format!(
                    "rule evaluation error: {} must evaluate to a bool, got {:?}",
                    rule_text(text),
                    other.type_of()
                ),
            )),
            Err(e) => out.push(Cause::invalid(
                field,
                go_quote(type_name(schema)),
                &format!("{}: {e}", rule_text(text)),
            )),
        }
    }
}

/// The rule as upstream quotes it in messages (whitespace collapsed).
fn rule_text(rule: &str) -> String {
    rule.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn type_name(schema: &Value) -> &str {
    match str_at(schema, &["type"]) {
        "" => "object",
        t => t,
    }
}

fn failure(schema: &Value, rule: &Value, field: &str, message: &str) -> Cause {
    match str_at(rule, &["reason"]) {
        "FieldValueForbidden" => Cause::forbidden(field, message),
        "FieldValueRequired" => crate::meta::required(field, message),
        "FieldValueDuplicate" => Cause {
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {}", go_quote(type_name(schema))),
            field: field.to_string(),
        },
        _ => Cause::invalid(field, go_quote(type_name(schema)), message),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk_rules(schema: &Value, f: &mut dyn FnMut(&Value)) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        f(rule);
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for s in props.values() {
            walk_rules(s, f);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = schema.get(key).filter(|s| s.is_object()) {
            walk_rules(s, f);
        }
    }
}

/// A JSON value as CEL sees it: integers as int, other numbers as double, objects as maps.
fn to_cel(v: &Value) -> ::cel::Value {
    match v {
        Value::Null => ::cel::Value::Null,
        Value::Bool(b) => ::cel::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ::cel::Value::Int(i),
            None => match n.as_u64() {
                Some(u) => ::cel::Value::UInt(u),
                None => ::cel::Value::Float(n.as_f64().unwrap_or_default()),
            },
        },
        Value::String(s) => ::cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => ::cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<String, ::cel::Value> =
                m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            ::cel::Value::from(map)
        }
    }
}

/// The errors of every rule of `schema` that does not compile, or is malformed, with upstream's
/// paths (`<path>.x-kubernetes-validations[i].rule`).
pub fn rule_errors(schema: &Value, path: &str, out: &mut Vec<Cause>) {
    for (i, rule) in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{path}.x-kubernetes-validations[{i}]");
        let text = str_at(rule, &["rule"]);
        if text.trim().is_empty() {
            out.push(crate::meta::required(
                format!("{at}.rule"),
                "rule is not specified",
            ));
            continue;
        }
        if let Some(m) = rule.get("message").and_then(Value::as_str) {
            if m.trim().is_empty() {
                out.push(crate::meta::invalid_str(
                    format!("{at}.message"),
                    m,
                    "must be non-empty if specified",
                ));
            } else if m.contains('\n') {
                out.push(crate::meta::invalid_str(
                    format!("{at}.message"),
                    m,
                    "must not contain line breaks",
                ));
            }
        }
        let reason = str_at(rule, &["reason"]);
        let reasons = [
            "FieldValueDuplicate",
            "FieldValueForbidden",
            "FieldValueInvalid",
            "FieldValueRequired",
        ];
        if !reason.is_empty() && !reasons.contains(&reason) {
            out.push(crate::meta::not_supported_str(
                format!("{at}.reason"),
                reason,
                &reasons,
            ));
        }
        if let Err(e) = ::cel::Program::compile(text) {
            out.push(crate::meta::invalid_raw(
                format!("{at}.rule"),
                &go_rule(rule),
                &format!("compilation failed: {}", e.to_string().replace('\n', " ")),
            ));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            rule_errors(s, &format!("{path}.properties[{k}]"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = schema.get(key).filter(|s| s.is_object()) {
            rule_errors(s, &format!("{path}.{key}"), out);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.replicas <= self.maxReplicas", "message": "replicas must not exceed maxReplicas"},
                {"rule": "self.mode == oldSelf.mode", "message": "mode is immutable", "reason": "FieldValueForbidden"},
                {"rule": "self.name.matches('^[a-z]+$')"}],
            "properties": {"replicas": {"type": "integer"}, "maxReplicas": {"type": "integer"},
                "mode": {"type": "string"}, "name": {"type": "string"}}}}})
    }

    fn messages(obj: Value, old: Option<Value>) -> Vec<String> {
        let s = schema();
        let rules = Rules::compile(&s);
        let mut causes = rules.validate(&s, &obj);
        if let Some(old) = old {
            causes.extend(rules.validate_transitions(&s, &obj, &old));
        }
        causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn rules_pass_and_fail_as_upstream() {
        let ok = json!({"spec": {"replicas": 1, "maxReplicas": 2, "mode": "a", "name": "web"}});
        assert!(messages(ok.clone(), None).is_empty());
        let bad = json!({"spec": {"replicas": 3, "maxReplicas": 2, "mode": "b", "name": "Web"}});
        assert_eq!(
            messages(bad.clone(), None),
            [
                "spec: Invalid value: \"object\": replicas must not exceed maxReplicas",
                "spec: Invalid value: \"object\": failed rule: self.name.matches('^[a-z]+$')",
            ]
        );
        let changed = messages(bad, Some(ok));
        assert!(
            changed.contains(&"spec: Forbidden: mode is immutable".to_string()),
            "{changed:?}"
        );
    }

    #[test]
    fn rules_that_do_not_compile_are_refused() {
        let mut out = Vec::new();
        let s = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a =="}]});
        rule_errors(&s, "spec.validation.openAPIV3Schema", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].field,
            "spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule"
        );
        assert!(
            out[0]
                .message
                .starts_with("Invalid value: apiextensions.ValidationRule{Rule:\"self.a ==\""),
            "{}",
            out[0].message
        );
        assert!(
            out[0].message.contains("compilation failed: "),
            "{}",
            out[0].message
        );
    }
}
