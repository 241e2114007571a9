//! upstream's CEL cost model for CRD rules: cel-go's estimator (checker/cost.go) with
//! Kubernetes' function costs (k8s.io/apiserver/pkg/cel/library/cost.go), over sizes that come
//! either from the schema (maxLength/maxItems/maxProperties, else what a 3 MiB request could
//! hold: the static estimate checked when a definition is written) or from the value being
//! validated (the cost of one evaluation, checked against the per-call limit and the
//! per-object budget).
//!
//! cel-rust has no type checker and no cost tracker: the types come from the schema (or the
//! value), and the cost of one evaluation is this estimate with the value's own sizes (an upper
//! bound of cel-go's actual cost: short-circuits are not taken into account).

use crate::json_path::str_at;
use ::cel::common::ast::{operators, Expr, IdedExpr, LiteralValue};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// upstream's limits (apiextensions validation and k8s.io/apiserver/pkg/apis/cel).
pub const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
pub const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;
pub const PER_CALL_LIMIT: u64 = 1_000_000;
pub const RUNTIME_CEL_COST_BUDGET: u64 = 10_000_000;
const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;

const STRING_TRAVERSAL: f64 = 0.1;
const REGEX_LENGTH: f64 = 0.25;
const LIST_CREATE: u64 = 10;
const MAP_CREATE: u64 = 30;
const STRUCT_CREATE: u64 = 40;

/// What the estimator knows of a value: its type and the largest size it can have.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Unknown type (dyn, preserved unknown fields): sizes unbounded.
    Unknown,
    /// A number, bool or null (size 1, as cel-go sizes primitives).
    Scalar,
    /// A value reached through the schema whose type has no size (upstream's estimator gives
    /// the DeclType's MaxElements, 0 for numbers, booleans and objects).
    Unsized,
    /// A string or bytes of at most `max` characters.
    Str {
        max: u64,
    },
    List {
        max: u64,
        items: Box<Shape>,
    },
    /// A map (additionalProperties) of at most `max` entries.
    Map {
        max: u64,
        values: Box<Shape>,
    },
    /// An object with declared fields.
    Object {
        fields: BTreeMap<String, Shape>,
        /// An actual value: a field it lacks is absent, not unknown.
        closed: bool,
    },
}

impl Shape {
    /// The shape of values of `schema` (upstream's SchemaDeclType), with the root's (and an
    /// embedded resource's) apiVersion, kind and metadata name/generateName added.
    pub fn of_schema(schema: &Json, resource_root: bool) -> Shape {
        Shape::of_schema_with_size(schema, resource_root).0
    }

    /// The shape and the smallest JSON serialisation of a value of `schema`.
    fn of_schema_with_size(schema: &Json, resource_root: bool) -> (Shape, u64) {
        let flag = |k: &str| schema.get(k).and_then(Json::as_bool) == Some(true);
        let number = |k: &str| schema.get(k).and_then(Json::as_u64);
        if flag("x-kubernetes-int-or-string") {
            let max = number("maxLength").map_or(MAX_REQUEST_SIZE_BYTES - 2, |m| m * 4);
            return (Shape::Str { max }, 1);
        }
        match str_at(schema, &["type"]) {
            "array" => {
                let Some(items) = schema.get("items") else {
                    return (Shape::Unknown, 2);
                };
                let embedded =
                    items.get("x-kubernetes-embedded-resource") == Some(&Json::Bool(true));
                let (item, min) = Shape::of_schema_with_size(items, embedded);
                let max = number("maxItems").unwrap_or((MAX_REQUEST_SIZE_BYTES - 2) / (min + 1));
                (
                    Shape::List {
                        max,
                        items: Box::new(item),
                    },
                    2,
                )
            }
            "object" => {
                if let Some(values) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    let embedded =
                        values.get("x-kubernetes-embedded-resource") == Some(&Json::Bool(true));
                    let (value, min) = Shape::of_schema_with_size(values, embedded);
                    let max =
                        number("maxProperties").unwrap_or((MAX_REQUEST_SIZE_BYTES - 2) / (min + 6));
                    return (
                        Shape::Map {
                            max,
                            values: Box::new(value),
                        },
                        2,
                    );
                }
                let Some(props) = schema.get("properties").and_then(Json::as_object) else {
                    // Preserved unknown fields: nothing known.
                    return (Shape::Unknown, 2);
                };
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                    .collect();
                let mut fields = BTreeMap::new();
                let mut min = 2;
                for (name, prop) in props {
                    let embedded =
                        prop.get("x-kubernetes-embedded-resource") == Some(&Json::Bool(true));
                    let (shape, field_min) = Shape::of_schema_with_size(prop, embedded);
                    if required.contains(&name.as_str()) && prop.get("default").is_none() {
                        min += name.len() as u64 + field_min + 4;
                    }
                    fields.insert(name.clone(), shape);
                }
                if resource_root {
                    let string = || Shape::Str {
                        max: MAX_REQUEST_SIZE_BYTES - 2,
                    };
                    fields.entry("apiVersion".into()).or_insert_with(string);
                    fields.entry("kind".into()).or_insert_with(string);
                    let meta = BTreeMap::from([
                        ("name".to_string(), string()),
                        ("generateName".to_string(), string()),
                    ]);
                    fields.insert(
                        "metadata".into(),
                        Shape::Object {
                            fields: meta,
                            closed: false,
                        },
                    );
                }
                (
                    Shape::Object {
                        fields,
                        closed: false,
                    },
                    min,
                )
            }
            "string" => {
                let max = match (str_at(schema, &["format"]), number("maxLength")) {
                    ("duration", _) => 64,
                    ("date", _) => 12,
                    ("date-time", _) => 64,
                    ("byte", Some(m)) => m,
                    (_, Some(m)) => m * 4,
                    _ => match schema.get("enum").and_then(Json::as_array) {
                        Some(values) if !values.is_empty() => values
                            .iter()
                            .filter_map(Json::as_str)
                            .map(|s| s.len() as u64)
                            .max()
                            .unwrap_or_default(),
                        _ => MAX_REQUEST_SIZE_BYTES - 2,
                    },
                };
                (Shape::Str { max }, 2)
            }
            "boolean" => (Shape::Unsized, 4),
            "integer" | "number" => (Shape::Unsized, 1),
            _ => (Shape::Unknown, 1),
        }
    }

    /// The shape of an actual value: its sizes, list items (and map values) as their union.
    pub fn of_value(v: &Json) -> Shape {
        match v {
            Json::String(s) => Shape::Str {
                max: s.chars().count() as u64,
            },
            Json::Array(items) => Shape::List {
                max: items.len() as u64,
                items: Box::new(
                    items
                        .iter()
                        .map(Shape::of_value)
                        .fold(Shape::Scalar, Shape::union),
                ),
            },
            Json::Object(m) => Shape::Object {
                fields: m
                    .iter()
                    .map(|(k, v)| (k.clone(), Shape::of_value(v)))
                    .collect(),
                closed: true,
            },
            _ => Shape::Scalar,
        }
    }

    /// The smallest shape both fit in.
    pub fn union(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::Scalar | Shape::Unsized, s) | (s, Shape::Scalar | Shape::Unsized) => s,
            (Shape::Str { max: a }, Shape::Str { max: b }) => Shape::Str { max: a.max(b) },
            (Shape::List { max: a, items: x }, Shape::List { max: b, items: y }) => Shape::List {
                max: a.max(b),
                items: Box::new(x.union(*y)),
            },
            (Shape::Map { max: a, values: x }, Shape::Map { max: b, values: y }) => Shape::Map {
                max: a.max(b),
                values: Box::new(x.union(*y)),
            },
            (
                Shape::Object {
                    fields: mut a,
                    closed: x,
                },
                Shape::Object {
                    fields: b,
                    closed: y,
                },
            ) => {
                for (k, s) in b {
                    let merged = match a.remove(&k) {
                        Some(existing) => existing.union(s),
                        None => s,
                    };
                    a.insert(k, merged);
                }
                Shape::Object {
                    fields: a,
                    closed: x && y,
                }
            }
            _ => Shape::Unknown,
        }
    }

    /// The largest size (`size()`) a value of this shape can have.
    fn size(&self) -> u64 {
        match self {
            Shape::Unknown => u64::MAX,
            Shape::Scalar => 1,
            Shape::Unsized => 0,
            Shape::Str { max } | Shape::List { max, .. } | Shape::Map { max, .. } => *max,
            Shape::Object {
                fields,
                closed: true,
            } => fields.len() as u64,
            Shape::Object { closed: false, .. } => 0,
        }
    }

    /// The shape of the field or map value `name`.
    pub fn field(&self, name: &str) -> Shape {
        match self {
            Shape::Object { fields, closed } => match fields.get(&super::unescape(name)) {
                Some(s) => s.clone(),
                // Absent from a value: evaluating it fails at once (or `has()` guards it).
                None if *closed => Shape::Scalar,
                None => Shape::Unknown,
            },
            Shape::Map { values, .. } => (**values).clone(),
            Shape::Unknown => Shape::Unknown,
            // Selecting from a scalar fails when evaluated: it costs nothing more.
            _ => Shape::Scalar,
        }
    }

    /// The shape of list items (or of the keys a comprehension over a map sees).
    pub fn items(&self) -> Shape {
        match self {
            Shape::List { items, .. } => (**items).clone(),
            // Keys: upstream's key type has no size.
            Shape::Map { .. } | Shape::Object { .. } => Shape::Str { max: 0 },
            Shape::Unknown => Shape::Unknown,
            // Iterating a scalar fails when evaluated.
            _ => Shape::Scalar,
        }
    }
}

fn factor(size: u64, f: f64) -> u64 {
    let x = (size as f64) * f;
    if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x.ceil() as u64
    }
}

/// The estimated cost of `expr` with its variables (`self`, `oldSelf`) of the given shapes.
pub fn estimate(expr: &IdedExpr, vars: &[(&str, Shape)]) -> u64 {
    let mut e = Estimator {
        roots: vars,
        scopes: Vec::new(),
    };
    e.cost(expr).0
}

struct Estimator<'a> {
    /// The rule's variables, borrowed (a field path is resolved without copying them).
    roots: &'a [(&'a str, Shape)],
    scopes: Vec<(String, Shape)>,
}

impl Estimator<'_> {
    fn lookup(&self, name: &str) -> Option<&Shape> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
            .or_else(|| self.roots.iter().find(|(n, _)| *n == name).map(|(_, s)| s))
    }

    /// An identifier or a chain of field selections on one: its cost and the shape it reaches,
    /// borrowed.
    fn path(&self, e: &IdedExpr) -> Option<(u64, &Shape)> {
        match &e.expr {
            Expr::Ident(name) => Some((1, self.lookup(name)?)),
            Expr::Select(sel) if !sel.test => {
                let (c, operand) = self.path(&sel.operand)?;
                let Shape::Object { fields, .. } = operand else {
                    return None;
                };
                let field = fields.get(&super::unescape(&sel.field))?;
                Some((c + 1, field))
            }
            _ => None,
        }
    }

    /// The cost of `e` and the shape of its value.
    fn cost(&mut self, e: &IdedExpr) -> (u64, Shape) {
        match &e.expr {
            Expr::Literal(LiteralValue::String(s)) => (
                0,
                Shape::Str {
                    max: s.inner().chars().count() as u64,
                },
            ),
            Expr::Literal(LiteralValue::Bytes(b)) => (
                0,
                Shape::Str {
                    max: b.inner().len() as u64,
                },
            ),
            Expr::Literal(_) => (0, Shape::Scalar),
            Expr::Ident(_) | Expr::Select(_) if self.path(e).is_some() => {
                let (c, shape) = self.path(e).unwrap_or((1, &Shape::Unknown));
                (c, shape.clone())
            }
            Expr::Ident(name) => (1, self.lookup(name).cloned().unwrap_or(Shape::Unknown)),
            Expr::Select(sel) => {
                let (c, operand) = self.cost(&sel.operand);
                if sel.test {
                    return (c.saturating_add(1), Shape::Scalar);
                }
                let extra = u64::from(matches!(
                    operand,
                    Shape::Object { .. } | Shape::Map { .. } | Shape::Unknown
                ));
                (c.saturating_add(extra), operand.field(&sel.field))
            }
            Expr::List(list) => {
                let mut sum = LIST_CREATE;
                let mut items = Shape::Scalar;
                for el in &list.elements {
                    let (c, s) = self.cost(el);
                    sum = sum.saturating_add(c);
                    items = items.union(s);
                }
                (
                    sum,
                    Shape::List {
                        max: list.elements.len() as u64,
                        items: Box::new(items),
                    },
                )
            }
            Expr::Map(map) => {
                let mut sum = MAP_CREATE;
                let mut values = Shape::Scalar;
                for entry in &map.entries {
                    if let ::cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        sum = sum.saturating_add(self.cost(&m.key).0);
                        let (c, s) = self.cost(&m.value);
                        sum = sum.saturating_add(c);
                        values = values.union(s);
                    }
                }
                (
                    sum,
                    Shape::Map {
                        max: map.entries.len() as u64,
                        values: Box::new(values),
                    },
                )
            }
            Expr::Struct(st) => {
                let mut sum = STRUCT_CREATE;
                for entry in &st.entries {
                    if let ::cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        sum = sum.saturating_add(self.cost(&f.value).0);
                    }
                }
                (sum, Shape::Unknown)
            }
            Expr::Comprehension(c) => {
                let (range_cost, range) = self.cost(&c.iter_range);
                let (init_cost, init) = self.cost(&c.accu_init);
                let accumulates = matches!(c.accu_init.expr, Expr::List(_) | Expr::Map(_));
                self.scopes.push((c.accu_var.clone(), init));
                self.scopes.push((c.iter_var.clone(), range.items()));
                if let Some(v2) = &c.iter_var2 {
                    self.scopes.push((v2.clone(), range.field("")));
                }
                let (cond, _) = self.cost(&c.loop_cond);
                let (step, step_shape) = self.cost(&c.loop_step);
                if c.iter_var2.is_some() {
                    self.scopes.pop();
                }
                self.scopes.pop();
                let (result, result_shape) = self.cost(&c.result);
                self.scopes.pop();
                let count = range.size();
                let loop_cost = count.saturating_mul(cond.saturating_add(step));
                let shape = if accumulates {
                    let items = match step_shape {
                        Shape::List { items, .. } => *items,
                        other => other,
                    };
                    Shape::List {
                        max: count,
                        items: Box::new(items),
                    }
                } else {
                    result_shape
                };
                (
                    range_cost
                        .saturating_add(init_cost)
                        .saturating_add(result)
                        .saturating_add(loop_cost),
                    shape,
                )
            }
            Expr::Call(call) => self.call(call),
            Expr::Unspecified => (0, Shape::Unknown),
        }
    }

    fn call(&mut self, call: &::cel::common::ast::CallExpr) -> (u64, Shape) {
        let target = call.target.as_ref().map(|t| self.cost(t));
        let args: Vec<(u64, Shape)> = call.args.iter().map(|a| self.cost(a)).collect();
        let mut sum = target.as_ref().map_or(0, |t| t.0);
        for (c, _) in &args {
            sum = sum.saturating_add(*c);
        }
        let arg = |i: usize| args.get(i).map_or(Shape::Unknown, |a| a.1.clone());
        let this = target.as_ref().map_or(Shape::Unknown, |t| t.1.clone());
        let name = call.func_name.as_str();
        let (cost, shape) = match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR => (0, Shape::Scalar),
            operators::CONDITIONAL => {
                // The condition, then the dearer branch (not both).
                let cond = args.first().map_or(0, |a| a.0);
                let a = args.get(1).map_or(0, |a| a.0);
                let b = args.get(2).map_or(0, |a| a.0);
                return (cond.saturating_add(a.max(b)), arg(1).union(arg(2)));
            }
            operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS => {
                let smallest = arg(0).size().min(arg(1).size());
                (factor(smallest, STRING_TRAVERSAL), Shape::Scalar)
            }
            operators::ADD => match (arg(0), arg(1)) {
                (Shape::Str { max: a }, Shape::Str { max: b }) => {
                    let size = a.saturating_add(b);
                    (factor(size, STRING_TRAVERSAL), Shape::Str { max: size })
                }
                (Shape::List { max: a, items: x }, Shape::List { max: b, items: y }) => (
                    1,
                    Shape::List {
                        max: a.saturating_add(b),
                        items: Box::new(x.union(*y)),
                    },
                ),
                _ => (1, Shape::Scalar),
            },
            operators::INDEX | operators::OPT_INDEX => {
                let shape = match arg(0) {
                    Shape::List { items, .. } => *items,
                    other => other.field(""),
                };
                (1, shape)
            }
            operators::IN => match arg(1) {
                l @ Shape::List { .. } => (l.size(), Shape::Scalar),
                _ => (1, Shape::Scalar),
            },
            "dyn" => (1, arg(0)),
            "size" => (1, Shape::Scalar),
            "startsWith" | "endsWith" => (factor(arg(0).size(), STRING_TRAVERSAL), Shape::Scalar),
            "contains" => (
                factor(this.size(), STRING_TRAVERSAL)
                    .saturating_mul(factor(arg(0).size(), STRING_TRAVERSAL)),
                Shape::Scalar,
            ),
            "matches" | "find" | "findAll" => {
                let s = if target.is_some() {
                    this.clone()
                } else {
                    arg(0)
                };
                let re = if target.is_some() { arg(0) } else { arg(1) };
                let cost = factor(s.size().saturating_add(1), STRING_TRAVERSAL)
                    .saturating_mul(factor(re.size(), REGEX_LENGTH));
                let shape = match name {
                    "find" => Shape::Str { max: s.size() },
                    "findAll" => Shape::List {
                        max: s.size(),
                        items: Box::new(Shape::Str { max: s.size() }),
                    },
                    _ => Shape::Scalar,
                };
                (cost, shape)
            }
            "isSorted" | "sum" | "max" | "min" | "indexOf" | "lastIndexOf" => match &this {
                Shape::List { max, items } => {
                    let per_item = match **items {
                        Shape::Str { max: m } => 1 + factor(m, STRING_TRAVERSAL),
                        _ => 1,
                    };
                    let shape = if matches!(name, "max" | "min") {
                        (**items).clone()
                    } else {
                        Shape::Scalar
                    };
                    (max.saturating_mul(per_item), shape)
                }
                other => (factor(other.size(), STRING_TRAVERSAL), Shape::Scalar),
            },
            "url" | "cidr" | "isIP" | "isCIDR" => {
                (factor(arg(0).size(), STRING_TRAVERSAL), Shape::Unknown)
            }
            "ip" if target.is_none() => (factor(arg(0).size(), STRING_TRAVERSAL), Shape::Unknown),
            "ip.isCanonical" => (factor(arg(0).size(), 2.0 * STRING_TRAVERSAL), Shape::Scalar),
            "containsIP" | "containsCIDR" => {
                let compare = factor(32, STRING_TRAVERSAL);
                let parse = match arg(0) {
                    s @ Shape::Str { .. } => factor(s.size(), STRING_TRAVERSAL),
                    _ => 0,
                };
                (compare.saturating_add(parse), Shape::Scalar)
            }
            "lowerAscii" | "upperAscii" | "substring" | "trim" => (
                factor(this.size(), STRING_TRAVERSAL),
                Shape::Str { max: this.size() },
            ),
            "replace" => (
                factor(this.size(), 2.0 * STRING_TRAVERSAL),
                Shape::Str { max: this.size() },
            ),
            "split" => (
                factor(this.size(), 2.0 * STRING_TRAVERSAL),
                Shape::List {
                    max: this.size(),
                    items: Box::new(Shape::Str { max: this.size() }),
                },
            ),
            "join" => {
                let size = this.size().saturating_mul(this.items().size());
                (factor(size, STRING_TRAVERSAL), Shape::Str { max: size })
            }
            "validate" => (
                factor(arg(0).size().saturating_add(1), STRING_TRAVERSAL)
                    .saturating_mul(factor(60, REGEX_LENGTH)),
                Shape::Unknown,
            ),
            "string" | super::STRING_FN => match arg(0) {
                s @ Shape::Str { .. } => (factor(s.size(), STRING_TRAVERSAL), s),
                _ => (1, Shape::Str { max: 64 }),
            },
            _ => (1, Shape::Scalar),
        };
        (sum.saturating_add(cost), shape)
    }
}

/// How often a rule at a node runs at most: the product of the enclosing lists' maxItems and
/// maps' maxProperties (None: unbounded, as upstream's CELSchemaContext).
pub fn cardinality_child(parent_cardinality: Option<u64>, parent: &Json) -> Option<u64> {
    let parent_cardinality = parent_cardinality?;
    let max = match str_at(parent, &["type"]) {
        "object" if parent.get("additionalProperties").is_some() => {
            parent.get("maxProperties")?.as_u64()?
        }
        "array" => parent.get("maxItems")?.as_u64()?,
        _ => 1,
    };
    Some(parent_cardinality.saturating_mul(max))
}

/// upstream's worst-case number of values of `schema` a request can hold (when an enclosing
/// list or map is unbounded).
pub fn max_cardinality(schema: &Json, resource_root: bool) -> u64 {
    let (_, min) = Shape::of_schema_with_size(schema, resource_root);
    MAX_REQUEST_SIZE_BYTES / (min + 1)
}

/// upstream's `getCostErrorMessage`.
pub fn cost_error_message(name: &str, cost: u64, limit: u64) -> String {
    let f = cost as f64 / limit as f64;
    let by = if f > 100.0 {
        "more than 100x".to_string()
    } else if f < 1.5 {
        format!("{f:.6}x")
    } else {
        format!("{f:.1}x")
    };
    format!("{name} exceeds budget by factor of {by} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
}
