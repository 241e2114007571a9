//! `x-kubernetes-validations`: CEL rules on a custom resource's schema, as upstream's
//! apiextensions-apiserver evaluates them (apiserver/schema/cel). Each rule sees the value of its
//! schema node as `self` and, in a transition rule, the stored value as `oldSelf`: on updates,
//! the old value correlated with the new one (object fields by name, items of
//! `x-kubernetes-list-type: map` lists by their keys, of `set` lists by value; items of atomic
//! lists have none); with `optionalOldSelf`, `oldSelf` is an optional (none on create). A false
//! result is the rule's error at the node (plus its `fieldPath`), with the value of
//! `messageExpression` (if it evaluates to a usable string), else its `message`, else upstream's
//! `failed rule: <rule>`, of its `reason` (Invalid by default).
//!
//! Costs as upstream's (`cel/cost.rs`): a definition's rules are refused when one's estimate
//! (times how often its node can occur) exceeds the per-expression limit or all of them the
//! per-definition one; each evaluation is charged its cost (the estimate over the actual
//! values), against the per-call limit and the object's budget.
//!
//! Rules are type checked when the definition is written (`cel/check.rs`, from
//! `rules_check.rs`); on updates, errors of unchanged values are ratcheted (`ratchet.rs`).
//! Not done: rules under `allOf`.

use super::cel::cost::{self, Shape};
use super::cel::reach::Reach;
use crate::json_path::str_at;
use crate::meta::go_quote;
use crate::status::Cause;
use ::cel::{Program, Value as CelValue};
use plan::{Compiled, Plan};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The compiled rules and message expressions of a schema, by source text.
#[derive(Default)]
pub struct Rules {
    programs: HashMap<String, Arc<Program>>,
    /// Whether any rule looks at `oldSelf` (else creates and updates have no second pass).
    transitions: bool,
    /// The nodes of the schema a walk visits (None: no rules).
    plan: Option<Plan>,
    /// No evaluation can go over the cost limits (`rules_plan.rs`): none is charged.
    uncharged: bool,
}

/// Which rules a pass runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Rules that do not look at `oldSelf` (every write).
    Plain,
    /// Rules with `optionalOldSelf`, `oldSelf` none (creates).
    Create,
    /// Rules that look at `oldSelf`, with the correlated old value (updates).
    Update,
}

/// A pass over one object: what is left of its budget, and its errors.
struct Run<'r> {
    rules: &'r Rules,
    pass: Pass,
    budget: u64,
    stopped: bool,
    /// Ratcheting (plain rules of an update): a node whose value equals its correlated old
    /// value is not validated, nor anything below it.
    ratchet: bool,
    out: Vec<Cause>,
}

/// Where the walk is: the node's schema, its new and (correlated) old value, their shapes.
struct Node<'a> {
    schema: &'a Value,
    new: &'a Value,
    old: Option<&'a Value>,
    path: String,
    /// The root of a resource (the object, or an embedded resource).
    resource_root: bool,
}

impl Rules {
    /// Compiles every rule and message expression of `schema` (those that do not compile are
    /// left out: the definition's validation refused them already).
    pub fn compile(schema: &Value) -> Rules {
        let mut programs = HashMap::new();
        walk_rules(schema, &mut |rule| {
            for key in ["rule", "messageExpression"] {
                let text = str_at(rule, &[key]);
                if !text.trim().is_empty() {
                    if let Ok(p) = super::cel::compile(text) {
                        programs.insert(text.to_string(), Arc::new(p));
                    }
                }
            }
        });
        let transitions = programs
            .values()
            .any(|p| p.references().has_variable("oldSelf"));
        Rules {
            plan: Plan::of(schema, &programs),
            uncharged: plan::within_budget(schema, &programs),
            programs,
            transitions,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }

    /// Whether a rule looks at `oldSelf` (creates and updates have a pass of their own).
    pub fn has_transitions(&self) -> bool {
        self.transitions
    }

    /// The errors of `obj` against the rules that do not look at `oldSelf`.
    pub fn validate(&self, schema: &Value, obj: &Value) -> Vec<Cause> {
        self.run(Pass::Plain, schema, obj, None)
    }

    /// The errors of an update against the rules that do not look at `oldSelf`, ratcheted as
    /// upstream's: the rules of a node whose value is unchanged from its correlated old value
    /// (and of the nodes below it) do not run.
    pub fn validate_ratcheting(&self, schema: &Value, new: &Value, old: &Value) -> Vec<Cause> {
        self.run_with(Pass::Plain, schema, new, Some(old), true, true)
    }

    /// The errors of a new object against its `optionalOldSelf` rules (`oldSelf` none).
    pub fn validate_create(&self, schema: &Value, obj: &Value) -> Vec<Cause> {
        self.run(Pass::Create, schema, obj, None)
    }

    /// The errors of an update against the transition rules (those that look at `oldSelf`).
    pub fn validate_transitions(&self, schema: &Value, new: &Value, old: &Value) -> Vec<Cause> {
        self.run(Pass::Update, schema, new, Some(old))
    }

    /// The errors of a value that is not a resource (a schema's `default`), with its rules
    /// as plain rules and transition rules seeing it as its own old value (as upstream
    /// validates defaults).
    pub fn validate_value(&self, schema: &Value, v: &Value) -> Vec<Cause> {
        let mut out = self.run_at(Pass::Plain, schema, v, None, false);
        out.extend(self.run_at(Pass::Update, schema, v, Some(v), false));
        out
    }

    fn run(&self, pass: Pass, schema: &Value, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
        self.run_at(pass, schema, obj, old, true)
    }

    fn run_at(
        &self,
        pass: Pass,
        schema: &Value,
        obj: &Value,
        old: Option<&Value>,
        resource_root: bool,
    ) -> Vec<Cause> {
        self.run_with(pass, schema, obj, old, resource_root, false)
    }

    fn run_with(
        &self,
        pass: Pass,
        schema: &Value,
        obj: &Value,
        old: Option<&Value>,
        resource_root: bool,
        ratchet: bool,
    ) -> Vec<Cause> {
        if pass != Pass::Plain && !self.transitions {
            return Vec::new();
        }
        let Some(plan) = &self.plan else {
            return Vec::new();
        };
        let mut run = Run {
            rules: self,
            pass,
            budget: cost::RUNTIME_CEL_COST_BUDGET,
            stopped: false,
            ratchet,
            out: Vec::new(),
        };
        run.node(
            Node {
                schema,
                new: obj,
                old,
                path: String::new(),
                resource_root,
            },
            plan,
        );
        run.out
    }
}

impl Run<'_> {
    /// The rules at `n` and below (`plan`: where they are).
    fn node(&mut self, n: Node<'_>, plan: &Plan) {
        if self.stopped || n.new.is_null() {
            return;
        }
        if self.ratchet && n.old == Some(n.new) {
            return;
        }
        let runnable: Vec<(&Value, &Compiled)> = n.schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(&plan.rules)
            .filter_map(|(rule, c)| Some((rule, c.as_ref()?)))
            .filter(|(_, c)| c.runs(self.pass, n.old.is_some()))
            .collect();
        if !runnable.is_empty() {
            // What the node's rules see, made once for all of them, of only what they read.
            let reach = &plan.reach[self.pass as usize];
            let seen = Seen::of(&n, self.pass != Pass::Plain, reach);
            for (rule, compiled) in runnable {
                self.check(&n, &seen, rule, compiled);
                if self.stopped {
                    return;
                }
            }
        }
        if plan.is_leaf() {
            return;
        }
        match n.new {
            Value::Object(map) => {
                let props = n.schema.get("properties").and_then(Value::as_object);
                let additional = n
                    .schema
                    .get("additionalProperties")
                    .filter(|a| a.is_object());
                for (k, child) in map {
                    let (s, child_plan, path) = match (props.and_then(|p| p.get(k)), additional) {
                        (Some(s), _) => match plan.properties.get(k) {
                            Some(cp) => (s, cp, join(&n.path, k)),
                            None => continue,
                        },
                        (None, Some(s)) => match &plan.additional {
                            Some(cp) => (s, &**cp, format!("{}[{k}]", n.path)),
                            None => continue,
                        },
                        _ => continue,
                    };
                    let embedded = s["x-kubernetes-embedded-resource"] == true;
                    self.node(
                        Node {
                            schema: s,
                            new: child,
                            old: n.old.and_then(|o| o.get(k)),
                            path,
                            resource_root: embedded,
                        },
                        child_plan,
                    );
                    if self.stopped {
                        return;
                    }
                }
            }
            Value::Array(items) => {
                let (Some(s), Some(item_plan)) = (n.schema.get("items"), &plan.items) else {
                    return;
                };
                let old_items = n.old.and_then(Value::as_array).map(Vec::as_slice);
                let embedded = s["x-kubernetes-embedded-resource"] == true;
                for (i, item) in items.iter().enumerate() {
                    self.node(
                        Node {
                            schema: s,
                            new: item,
                            old: old_items.and_then(|o| correlated(n.schema, item, o)),
                            path: format!("{}[{i}]", n.path),
                            resource_root: embedded,
                        },
                        item_plan,
                    );
                    if self.stopped {
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    /// One rule at one node.
    fn check(&mut self, n: &Node<'_>, seen: &Seen, rule: &Value, compiled: &Compiled) {
        let program = &*compiled.program;
        let text = str_at(rule, &["rule"]);
        let optional = compiled.uses_old && compiled.optional;
        let type_name = type_name(n.schema);
        let shown = || rule_error_string(rule);
        if !self.charge(program, seen, &n.path, type_name, || {
            format!("'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {}", shown())
        }) {
            return;
        }
        let ctx = seen.context(optional);
        let field = match str_at(rule, &["fieldPath"]).trim_start_matches('.') {
            "" => n.path.clone(),
            fp => join(&n.path, &normalize_field_path(fp)),
        };
        match program.execute(ctx) {
            Ok(CelValue::Bool(true)) => {}
            Ok(CelValue::Bool(false)) => {
                let detail = self
                    .message_expression(rule, compiled, ctx, seen, &field, type_name)
                    .unwrap_or_else(|| match str_at(rule, &["message"]).trim() {
                        "" => format!("failed rule: {}", text.trim()),
                        m => m.to_string(),
                    });
                if self.stopped {
                    return;
                }
                self.out.push(failure(n.new, rule, &field, &detail));
            }
            Ok(_) => self.out.push(Cause::invalid(
                &n.path,
                go_quote(type_name),
                &format!(
                    "cel expression must evaluate to a bool evaluating rule: {}",
                    shown()
                ),
            )),
            Err(e) => {
                let err = super::cel::error_text(&e);
                let detail = if err.starts_with("no such overload") {
                    format!("'{err}': call arguments did not match a supported operator, function or macro signature for rule: {}", shown())
                } else {
                    format!("{err} evaluating rule: {}", shown())
                };
                self.out
                    .push(Cause::invalid(&n.path, go_quote(type_name), &detail));
            }
        }
    }

    /// Charges one evaluation of `program`; false (and the walk stopped, with the error) when
    /// it is over the per-call limit or the object's budget.
    fn charge(
        &mut self,
        program: &Program,
        seen: &Seen,
        path: &str,
        type_name: &str,
        over_call: impl FnOnce() -> String,
    ) -> bool {
        if self.rules.uncharged {
            return true;
        }
        let spent = cost::estimate(program.expression(), seen.shapes());
        let detail = if spent > cost::PER_CALL_LIMIT {
            over_call()
        } else if spent > self.budget {
            "validation failed due to running out of cost budget, no further validation rules will be run".to_string()
        } else {
            self.budget -= spent;
            return true;
        };
        self.out
            .push(Cause::invalid(path, go_quote(type_name), &detail));
        self.stopped = true;
        false
    }

    /// The message a failed rule's `messageExpression` gives, if it gives a usable one.
    fn message_expression(
        &mut self,
        rule: &Value,
        compiled: &Compiled,
        ctx: &::cel::Context<'static, 'static>,
        seen: &Seen,
        field: &str,
        type_name: &str,
    ) -> Option<String> {
        let program = compiled.message.as_deref()?;
        if !self.charge(program, seen, field, type_name, || {
            let quoted = go_quote(str_at(rule, &["messageExpression"]));
            format!("no further validation rules will be run due to call cost exceeds limit for messageExpression: {quoted}")
        }) {
            return None;
        }
        // A messageExpression that fails (or gives no usable text) falls back to the message,
        // as upstream's (which only logs why).
        match program.execute(ctx) {
            Ok(CelValue::String(s)) => {
                let s = s.trim();
                (!s.is_empty() && !s.contains('\n') && s.len() <= MAX_MESSAGE_BYTES)
                    .then(|| s.to_string())
            }
            _ => None,
        }
    }
}

/// A node's values as its rules see them (`self`, `oldSelf`), their shapes, and the contexts
/// made of them (made at most once for all the node's rules: converting values is what costs).
struct Seen<'a> {
    new: &'a Value,
    old: Option<&'a Value>,
    schema: &'a Value,
    resource_root: bool,
    reach: &'a (Reach, Reach),
    /// Made only when an evaluation is charged.
    shapes: std::cell::OnceCell<[(&'static str, Shape); 2]>,
    plain: std::cell::OnceCell<::cel::Context<'static, 'static>>,
    optional: std::cell::OnceCell<::cel::Context<'static, 'static>>,
}

impl<'a> Seen<'a> {
    /// `with_old`: whether the pass's rules can look at `oldSelf`.
    /// `reach`: what the rules read of `self` and of `oldSelf`.
    fn of(n: &Node<'a>, with_old: bool, reach: &'a (Reach, Reach)) -> Seen<'a> {
        Seen {
            new: n.new,
            old: n.old.filter(|_| with_old),
            schema: n.schema,
            resource_root: n.resource_root,
            reach,
            shapes: Default::default(),
            plain: Default::default(),
            optional: Default::default(),
        }
    }

    /// The shapes of what the rules see, for their costs.
    fn shapes(&self) -> &[(&'static str, Shape)] {
        self.shapes.get_or_init(|| {
            let old = self
                .old
                .map(|o| visible(o, self.resource_root, &self.reach.1));
            [
                (
                    "self",
                    Shape::of_value(&visible(self.new, self.resource_root, &self.reach.0)),
                ),
                (
                    "oldSelf",
                    old.as_deref().map_or(Shape::Scalar, Shape::of_value),
                ),
            ]
        })
    }

    /// The context of a rule: `oldSelf` as it is, or as an optional (`optionalOldSelf`).
    fn context(&self, optional: bool) -> &::cel::Context<'static, 'static> {
        let cell = if optional {
            &self.optional
        } else {
            &self.plain
        };
        cell.get_or_init(|| {
            let seen =
                |v: &Value, reach: &Reach| visible_cel(v, self.schema, self.resource_root, reach);
            let old = self.old.map(|o| seen(o, &self.reach.1));
            let old = if optional {
                Some(super::cel::optional(old))
            } else {
                old
            };
            let mut vars = vec![("self", seen(self.new, &self.reach.0))];
            vars.extend(old.map(|o| ("oldSelf", o)));
            super::cel::context(vars)
        })
    }
}

/// `visible(v)` as a CEL value, made without copying the JSON first: the fields read are
/// picked from the object (by their names, escaped or not), then converted.
fn visible_cel(
    v: &Value,
    schema: &Value,
    resource_root: bool,
    reach: &Reach,
) -> super::cel::CelVal {
    let Value::Object(map) = v else {
        return super::cel::to_cel_typed(v, schema);
    };
    let meta;
    let mut picked: Vec<(&String, &Value)> = match reach {
        Reach::Fields(fields) => {
            let mut picked = Vec::with_capacity(fields.len());
            for f in fields {
                picked.extend(map.get_key_value(f.as_str()));
                // Only a name with `__` can be the escape of another.
                if f.contains("__") {
                    let name = super::cel::unescape(f);
                    if let Some((k, v)) = map.get_key_value(name.as_str()) {
                        let escapes_to_f = super::cel::escape(k).as_deref() == Some(f.as_str());
                        if escapes_to_f && k != f {
                            picked.push((k, v));
                        }
                    }
                }
            }
            picked
        }
        Reach::Whole => map.iter().collect(),
    };
    if resource_root {
        if let Some(entry) = picked.iter_mut().find(|(k, _)| *k == "metadata") {
            if let Value::Object(m) = entry.1 {
                meta = Value::Object(
                    m.iter()
                        .filter(|(k, _)| *k == "name" || *k == "generateName")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                entry.1 = &meta;
            }
        }
    }
    super::cel::object_to_cel(picked.into_iter(), schema)
}

/// upstream's MaxEvaluatedMessageExpressionSizeBytes.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// What rules see of a value: of an object only the fields they read (`reach`), and of a
/// resource root's metadata only name and generateName (upstream's WithTypeAndObjectMeta).
/// Borrowed when that is all of it: copying a subtree costs as much as converting it.
fn visible<'v>(v: &'v Value, resource_root: bool, reach: &Reach) -> Cow<'v, Value> {
    let mut seen = match (v, reach) {
        (Value::Object(map), Reach::Fields(fields)) => {
            let read = |k: &String| {
                fields.contains(k) || super::cel::escape(k).is_some_and(|e| fields.contains(&e))
            };
            Value::Object(
                map.iter()
                    .filter(|(k, _)| read(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        _ if !resource_root => return Cow::Borrowed(v),
        _ => v.clone(),
    };
    if resource_root {
        if let Some(meta) = seen.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| k == "name" || k == "generateName");
        }
    }
    Cow::Owned(seen)
}

/// The old item an item of a list is correlated with: by its keys in a map list, by value in
/// a set; none in an atomic list.
pub(super) fn correlated<'a>(
    list_schema: &Value,
    item: &Value,
    old: &'a [Value],
) -> Option<&'a Value> {
    match str_at(list_schema, &["x-kubernetes-list-type"]) {
        "map" => {
            let keys: Vec<&str> = list_schema["x-kubernetes-list-map-keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let defaults = &list_schema["items"]["properties"];
            let key_of = |v: &'a Value| -> Vec<Value> {
                keys.iter()
                    .map(|k| {
                        v.get(*k)
                            .cloned()
                            .unwrap_or_else(|| defaults[*k]["default"].clone())
                    })
                    .collect()
            };
            let wanted: Vec<Value> = keys
                .iter()
                .map(|k| {
                    item.get(*k)
                        .cloned()
                        .unwrap_or_else(|| defaults[*k]["default"].clone())
                })
                .collect();
            old.iter().find(|o| key_of(o) == wanted)
        }
        "set" => old.iter().find(|o| *o == item),
        _ => None,
    }
}

/// A rule's `fieldPath` (`.a.b`, `.a['b']`) as a field path (`a.b`, `a[b]`).
fn normalize_field_path(fp: &str) -> String {
    let mut out = String::new();
    let mut rest = fp;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']").unwrap_or(after.len());
            out.push_str(&format!("[{}]", &after[..end]));
            rest = after.get(end + 2..).unwrap_or_default();
        } else {
            let rest_trim = rest.trim_start_matches('.');
            let end = rest_trim.find(['.', '[']).unwrap_or(rest_trim.len());
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&rest_trim[..end]);
            rest = &rest_trim[end..];
        }
    }
    out
}

/// upstream's `ruleErrorString`: the message, else the rule.
fn rule_error_string(rule: &Value) -> String {
    match str_at(rule, &["message"]).trim() {
        "" => str_at(rule, &["rule"]).trim().to_string(),
        m => m.to_string(),
    }
}

fn type_name(schema: &Value) -> &str {
    match str_at(schema, &["type"]) {
        "" => "object",
        t => t,
    }
}

/// The error of a failed rule. Objects and lists are not shown (upstream's OmitValueType);
/// scalars are.
fn failure(value: &Value, rule: &Value, field: &str, detail: &str) -> Cause {
    let shown = match value {
        Value::Object(_) | Value::Array(_) => None,
        Value::String(s) => Some(go_quote(s)),
        other => Some(other.to_string()),
    };
    match str_at(rule, &["reason"]) {
        "FieldValueForbidden" => Cause::forbidden(field, detail),
        "FieldValueRequired" => crate::meta::required(field, detail),
        "FieldValueDuplicate" => Cause {
            reason: "FieldValueDuplicate",
            message: match shown {
                Some(v) => format!("Duplicate value: {v}"),
                None => "Duplicate value".to_string(),
            },
            field: field.to_string(),
        },
        _ => Cause {
            reason: "FieldValueInvalid",
            message: match shown {
                Some(v) => format!("Invalid value: {v}: {detail}"),
                None => format!("Invalid value: {detail}"),
            },
            field: field.to_string(),
        },
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

#[path = "rules_check.rs"]
mod check;
#[path = "rules_plan.rs"]
mod plan;
pub use check::rule_errors;

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "rules_time_tests.rs"]
mod time_tests;
