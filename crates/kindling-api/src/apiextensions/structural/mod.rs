//! A CRD version's structural schema compiled once, when the definition is stored or changed,
//! into a typed tree: node kinds, required sets, enums as sets, compiled regexes, list and map
//! types, defaults as ready values. The walks over custom objects (`walk.rs`: pruning with
//! defaulting in one pass, unknown-field detection; `validate.rs`: kube-openapi's validation)
//! read this tree instead of looking keys up in the schema's JSON at every node. Pure.
//!
//! The tree keeps every quirk of reading the JSON directly (a `type` that is not a string, an
//! `additionalProperties: false`, a pattern that does not compile and so checks nothing), so
//! results and messages are those of the schema as written.

mod validate;
mod walk;

use crate::meta::go_quote;
use serde_json::{Map, Value};

/// One version's compiled schema (its `openAPIV3Schema`).
pub struct Structural {
    root: Node,
}

impl Structural {
    pub fn compile(schema: &Value) -> Structural {
        Structural {
            root: Node::compile(schema),
        }
    }

    /// Whether the root is an embedded resource (its `apiVersion`, `kind` and `metadata` are
    /// kept by pruning, like a resource's).
    pub fn embedded(&self) -> bool {
        self.root.embedded
    }
}

/// The JSON types a schema's `type` names, as kube-openapi names them in its errors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
    /// A name that is none of these: no value has it.
    Unknown,
}

impl Kind {
    fn named(name: &str) -> Kind {
        match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "string" => Kind::String,
            "array" => Kind::Array,
            "object" => Kind::Object,
            _ => Kind::Unknown,
        }
    }

    fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
            Kind::Unknown => "",
        }
    }

    /// Whether a value of kind `self` has the schema type `want` (an integer is a number too).
    fn fits(self, want: Kind) -> bool {
        want != Kind::Unknown && (self == want || (want == Kind::Number && self == Kind::Integer))
    }
}

/// What `type` says.
enum Type {
    Absent,
    /// Present but not a string: null values are refused (naming no type), others pass.
    NotString,
    Named(Kind, Box<str>),
}

/// `additionalProperties`.
enum Additional {
    Absent,
    /// `true`: any field is kept as it is.
    Any,
    Schema(Box<Node>),
    /// `false` or anything else: unknown fields are dropped as without it.
    Other,
}

/// `properties`, in the schema's order (defaults are inserted in it), with a sorted index
/// for lookups by name.
#[derive(Default)]
struct Properties {
    ordered: Vec<(String, Node)>,
    by_name: Vec<usize>,
}

impl Properties {
    fn compile(props: &Map<String, Value>) -> Properties {
        let ordered: Vec<(String, Node)> = props
            .iter()
            .map(|(k, s)| (k.clone(), Node::compile(s)))
            .collect();
        let mut by_name: Vec<usize> = (0..ordered.len()).collect();
        by_name.sort_by(|a, b| ordered[*a].0.cmp(&ordered[*b].0));
        Properties { ordered, by_name }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        self.by_name
            .binary_search_by(|i| self.ordered[*i].0.as_str().cmp(key))
            .ok()
            .map(|at| &self.ordered[self.by_name[at]].1)
    }
}

/// `enum`: strings in a sorted set, other values compared as JSON; the texts its error lists.
struct Enum {
    strings: Vec<String>,
    others: Vec<Value>,
    texts: Vec<String>,
}

impl Enum {
    fn compile(values: &[Value]) -> Enum {
        let mut strings: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        strings.sort();
        strings.dedup();
        Enum {
            strings,
            others: values.iter().filter(|v| !v.is_string()).cloned().collect(),
            texts: values
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        }
    }

    fn allows(&self, v: &Value) -> bool {
        match v {
            Value::String(s) => self.strings.binary_search(s).is_ok(),
            other => self.others.contains(other),
        }
    }
}

/// `minimum`/`maximum` with its exclusive flag and the number as messages print it.
struct Bound {
    limit: f64,
    exclusive: bool,
    text: String,
}

/// `pattern`, compiled; its source for the message.
struct Pattern {
    regex: regex::Regex,
    source: String,
}

/// One schema node.
struct Node {
    ty: Type,
    nullable: bool,
    int_or_string: bool,
    preserve_unknown: bool,
    embedded: bool,
    properties: Option<Properties>,
    /// Indexes (into `properties.ordered`) of the properties with a `default`.
    defaulted: Vec<usize>,
    /// Whether any `default` lies below this node (through properties, additional, items).
    defaults_below: bool,
    additional: Additional,
    items: Option<Box<Node>>,
    required: Vec<String>,
    enumeration: Option<Enum>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    multiple_of: Option<(f64, String)>,
    format: Option<String>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Pattern>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    /// `uniqueItems`, or `x-kubernetes-list-type: set`.
    unique: bool,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    default: Option<Value>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    all_of: Vec<Node>,
    not: Option<Box<Node>>,
}

impl Node {
    fn compile(s: &Value) -> Node {
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        let count = |k: &str| s.get(k).and_then(Value::as_u64);
        let nodes = |k: &str| -> Vec<Node> {
            s.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(Node::compile)
                .collect()
        };
        let bound = |k: &str, exclusive: &str| {
            s.get(k).and_then(Value::as_f64).map(|limit| Bound {
                limit,
                exclusive: flag(exclusive),
                text: number_text(&s[k]),
            })
        };
        let properties = s
            .get("properties")
            .and_then(Value::as_object)
            .map(Properties::compile);
        let additional = match s.get("additionalProperties") {
            None => Additional::Absent,
            Some(Value::Bool(true)) => Additional::Any,
            Some(a) if a.is_object() => Additional::Schema(Box::new(Node::compile(a))),
            Some(_) => Additional::Other,
        };
        let items = s.get("items").map(|i| Box::new(Node::compile(i)));
        let defaulted: Vec<usize> = properties
            .iter()
            .flat_map(|p| p.ordered.iter().enumerate())
            .filter(|(_, (_, n))| n.default.is_some())
            .map(|(i, _)| i)
            .collect();
        let defaults_below = !defaulted.is_empty()
            || properties
                .iter()
                .flat_map(|p| p.ordered.iter())
                .any(|(_, n)| n.defaults_below)
            || matches!(&additional, Additional::Schema(a) if a.defaults_below)
            || items.as_ref().is_some_and(|i| i.defaults_below);
        Node {
            ty: match s.get("type") {
                None => Type::Absent,
                Some(Value::String(t)) => Type::Named(Kind::named(t), t.as_str().into()),
                Some(_) => Type::NotString,
            },
            nullable: flag("nullable"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            embedded: flag("x-kubernetes-embedded-resource"),
            properties,
            defaulted,
            defaults_below,
            additional,
            items,
            required: s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            enumeration: s
                .get("enum")
                .and_then(Value::as_array)
                .map(|e| Enum::compile(e)),
            minimum: bound("minimum", "exclusiveMinimum"),
            maximum: bound("maximum", "exclusiveMaximum"),
            multiple_of: s
                .get("multipleOf")
                .and_then(Value::as_f64)
                .map(|m| (m, number_text(&s["multipleOf"]))),
            format: s.get("format").and_then(Value::as_str).map(str::to_string),
            min_length: count("minLength"),
            max_length: count("maxLength"),
            // A pattern that does not compile checks nothing (CRD validation refuses it).
            pattern: s.get("pattern").and_then(Value::as_str).and_then(|p| {
                regex::Regex::new(p).ok().map(|regex| Pattern {
                    regex,
                    source: p.to_string(),
                })
            }),
            min_items: count("minItems"),
            max_items: count("maxItems"),
            unique: flag("uniqueItems") || s["x-kubernetes-list-type"] == "set",
            min_properties: count("minProperties"),
            max_properties: count("maxProperties"),
            default: s.get("default").cloned(),
            any_of: nodes("anyOf"),
            one_of: nodes("oneOf"),
            all_of: nodes("allOf"),
            not: s.get("not").map(|n| Box::new(Node::compile(n))),
        }
    }
}

/// A number as kube-openapi's messages print a limit.
fn number_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

/// Where a walk is, rendered (`a.b`, `a[0]`) only when an error or a dropped field names it:
/// most objects have neither, so most walks build no path at all.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(p) => (*p).to_string(),
            Path::Field(parent, key) => {
                let p = parent.render();
                if p.is_empty() {
                    (*key).to_string()
                } else {
                    format!("{p}.{key}")
                }
            }
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// The message of a field pruning drops.
fn unknown_field(path: &Path) -> String {
    format!("unknown field {}", go_quote(&path.render()))
}

#[cfg(test)]
mod tests;
