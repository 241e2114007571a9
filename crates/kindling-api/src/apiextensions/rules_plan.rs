//! Where a schema's rules are, decided once when the rules are compiled (not per object): the
//! schema nodes with rules or with descendants that have some (a walk over an object visits
//! only those), what each node's rules read of `self`/`oldSelf` in each pass, and whether the
//! definition's worst case fits upstream's cost limits (then no evaluation needs charging).
//! No IO.

use super::super::cel::cost::{self, Shape};
use super::super::cel::reach::Reach;
use super::Pass;
use crate::json_path::str_at;
use ::cel::Program;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A schema node on the way to rules.
#[derive(Default)]
pub(super) struct Plan {
    /// The node's rules, by their index in its `x-kubernetes-validations` (None: it did not
    /// compile).
    pub rules: Vec<Option<Compiled>>,
    /// What the rules of each pass (Plain, Create, Update) read of `self` and `oldSelf`.
    pub reach: [(Reach, Reach); 3],
    pub properties: HashMap<String, Plan>,
    pub items: Option<Box<Plan>>,
    pub additional: Option<Box<Plan>>,
}

/// One rule and its message expression, compiled.
pub(super) struct Compiled {
    pub program: Arc<Program>,
    pub message: Option<Arc<Program>>,
    pub uses_old: bool,
    pub optional: bool,
}

impl Compiled {
    /// Whether the rule runs in `pass` (`has_old`: the node has a correlated old value).
    pub fn runs(&self, pass: Pass, has_old: bool) -> bool {
        match pass {
            Pass::Plain => !self.uses_old,
            Pass::Create => self.uses_old && self.optional,
            Pass::Update => self.uses_old && (has_old || self.optional),
        }
    }
}

impl Plan {
    /// Whether no rules are below this node.
    pub fn is_leaf(&self) -> bool {
        self.properties.is_empty() && self.items.is_none() && self.additional.is_none()
    }

    /// The plan of `schema`, None when neither it nor a descendant has rules.
    pub fn of(schema: &Value, programs: &HashMap<String, Arc<Program>>) -> Option<Plan> {
        let mut plan = Plan::default();
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let compiled = programs.get(str_at(rule, &["rule"])).map(|p| Compiled {
                program: p.clone(),
                message: programs.get(str_at(rule, &["messageExpression"])).cloned(),
                uses_old: p.references().has_variable("oldSelf"),
                optional: rule["optionalOldSelf"].as_bool() == Some(true),
            });
            plan.rules.push(compiled);
        }
        plan.reach = [Pass::Plain, Pass::Create, Pass::Update].map(|pass| {
            let mut reach = (Reach::none(), Reach::none());
            for c in plan.rules.iter().flatten().filter(|c| c.runs(pass, true)) {
                for p in std::iter::once(&c.program).chain(&c.message) {
                    reach.0.add(p.expression(), "self");
                    reach.1.add(p.expression(), "oldSelf");
                }
            }
            reach
        });
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            plan.properties = props
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), Plan::of(s, programs)?)))
                .collect();
        }
        let child = |key: &str| {
            let s = schema.get(key).filter(|s| s.is_object())?;
            Plan::of(s, programs).map(Box::new)
        };
        plan.items = child("items");
        plan.additional = child("additionalProperties");
        (!plan.rules.is_empty() || !plan.is_leaf()).then_some(plan)
    }
}

/// Whether no evaluation of `schema`'s rules can exceed the per-call limit, nor all of them
/// an object's budget: every node's count is bounded (maxItems/maxProperties) and the rules'
/// static estimates (schema sizes: an upper bound of any value's cost, as cel-go's estimate
/// bounds its tracked cost), times those counts, sum to within the budget.
pub(super) fn within_budget(schema: &Value, programs: &HashMap<String, Arc<Program>>) -> bool {
    let mut total = 0u64;
    fits(schema, Some(1), true, programs, &mut total)
}

fn fits(
    schema: &Value,
    count: Option<u64>,
    resource_root: bool,
    programs: &HashMap<String, Arc<Program>>,
    total: &mut u64,
) -> bool {
    let rules = schema["x-kubernetes-validations"].as_array();
    if rules.is_some_and(|r| !r.is_empty()) {
        let Some(count) = count else {
            return false;
        };
        let shape = Shape::of_schema(schema, resource_root);
        let shapes = [("self", shape.clone()), ("oldSelf", shape)];
        for rule in rules.into_iter().flatten() {
            for key in ["rule", "messageExpression"] {
                let Some(p) = programs.get(str_at(rule, &[key])) else {
                    continue;
                };
                let c = cost::estimate(p.expression(), &shapes);
                *total = total.saturating_add(c.saturating_mul(count));
                if c > cost::PER_CALL_LIMIT || *total > cost::RUNTIME_CEL_COST_BUDGET {
                    return false;
                }
            }
        }
    }
    let child_count = cost::cardinality_child(count, schema);
    let embedded = |s: &Value| s["x-kubernetes-embedded-resource"] == true;
    let props = schema.get("properties").and_then(Value::as_object);
    let others = ["items", "additionalProperties"]
        .into_iter()
        .filter_map(|k| schema.get(k).filter(|s| s.is_object()));
    props
        .into_iter()
        .flat_map(|p| p.values())
        .chain(others)
        .all(|s| fits(s, child_count, embedded(s), programs, total))
}
