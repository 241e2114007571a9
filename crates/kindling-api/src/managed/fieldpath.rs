//! Field paths and sets of them, as structured-merge-diff's `fieldpath` package defines them, and
//! their `FieldsV1` serialization (`{"f:spec":{"f:replicas":{}}}`).
//!
//! A [`PathElement`] names a step into a value: a struct field or map key (`f:`), an item of a map
//! list by its key fields (`k:{"name":"web"}`), an item of a set list by its value (`v:"a"`), or
//! an item of an atomic list by its index (`i:0`, never produced by the walks here). A [`Set`] is a
//! tree of them: `members` are the paths that end at this level, `children` the subtrees.

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A struct field or a map key.
    Field(String),
    /// An item of a map list: its key fields and their values, sorted by name.
    Key(Vec<(String, Value)>),
    /// An item of a set list: its value.
    Value(Value),
    /// An item of a list by position.
    Index(i64),
}

impl PathElement {
    pub fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key of this element: `f:name`, `k:{"name":"web"}`, `v:"a"`, `i:0`.
    pub fn serialize(&self) -> String {
        match self {
            PathElement::Field(name) => {
                let mut key = String::with_capacity(name.len() + 2);
                key.push_str("f:");
                key.push_str(name);
                key
            }
            PathElement::Key(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    m.insert(k.clone(), v.clone());
                }
                format!("k:{}", Value::Object(m))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key. `Ok(None)` for an element type this version does not know (upstream
    /// skips those).
    pub fn deserialize(s: &str) -> Result<Option<PathElement>, String> {
        if s.len() < 2 {
            return Err(format!("key must be 2 characters long: {s:?}"));
        }
        let (kind, rest) = s.split_at(1);
        let Some(rest) = rest.strip_prefix(':') else {
            return Err(format!("missing colon: {s}"));
        };
        Ok(Some(match kind {
            "f" => PathElement::Field(rest.to_string()),
            "v" => PathElement::Value(
                serde_json::from_str(rest).map_err(|e| format!("parsing {s:?}: {e}"))?,
            ),
            "k" => {
                let v: Value =
                    serde_json::from_str(rest).map_err(|e| format!("parsing {s:?}: {e}"))?;
                let Value::Object(m) = v else {
                    return Err(format!("key {s:?} is not an object"));
                };
                let mut fields: Vec<(String, Value)> = m.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                PathElement::Key(fields)
            }
            "i" => PathElement::Index(rest.parse().map_err(|e| format!("parsing {s:?}: {e}"))?),
            _ => return Ok(None),
        }))
    }
}

impl fmt::Display for PathElement {
    /// As upstream prints paths in conflicts: `.spec`, `[name="web"]`, `[="a"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Upstream's `value.ToString`: strings quoted, numbers and booleans bare.
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(value_to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathElement {
    /// Upstream's order: fields, then keys, then values, then indexes; within a kind by name, key
    /// fields, value or position.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A total order of JSON values, as upstream's `value.Compare`: numbers (ints and floats compared
/// numerically), then strings, booleans, lists, maps, and null last.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                f.partial_cmp(&g).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let c = compare_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<(&String, &Value)> = x.iter().collect();
            let mut ys: Vec<(&String, &Value)> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((kx, vx), (ky, vy)) in xs.iter().zip(ys.iter()) {
                let c = kx.cmp(ky).then_with(|| compare_values(vx, vy));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Equality of JSON values with numbers compared numerically (`1` equals `1.0`).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A path from the root of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    pub fn child(&self, pe: PathElement) -> Path {
        let mut p = self.0.clone();
        p.push(pe);
        Path(p)
    }

    /// A path of field names: `Path::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Path {
        Path(names.iter().map(|n| PathElement::field(n)).collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

/// A set of field paths, as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    pub members: BTreeSet<PathElement>,
    pub children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Set {
        let mut s = Set::new();
        for p in paths {
            s.insert(p);
        }
        s
    }

    /// Adds a path (its parents are not added). The empty path (the whole object) is not tracked.
    pub fn insert(&mut self, path: &Path) {
        self.insert_elements(&path.0);
    }

    pub fn insert_elements(&mut self, p: &[PathElement]) {
        match p {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self
                .children
                .entry(first.clone())
                .or_default()
                .insert_elements(rest),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    pub fn has(&self, path: &Path) -> bool {
        let mut s = self;
        match path.0.split_last() {
            None => false,
            Some((last, parents)) => {
                for pe in parents {
                    match s.children.get(pe) {
                        Some(c) => s = c,
                        None => return false,
                    }
                }
                s.members.contains(last)
            }
        }
    }

    /// The subtree under `pe` (empty if none).
    pub fn with_prefix(&self, pe: &PathElement) -> Set {
        self.children.get(pe).cloned().unwrap_or_default()
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (pe, c) in &self.children {
            if let Some(d) = other.children.get(pe) {
                let i = c.intersection(d);
                if !i.is_empty() {
                    out.children.insert(pe.clone(), i);
                }
            }
        }
        out
    }

    /// Members of `self` not in `other`, level by level (a member of `other` does not remove the
    /// children of `self` under it), as upstream's `Difference`.
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, c) in &self.children {
            let d = match other.children.get(pe) {
                Some(o) => c.difference(o),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    /// Like [`Set::difference`], but a member of `other` also removes everything under it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, c) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let d = match other.children.get(pe) {
                Some(o) => c.recursive_difference(o),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    /// Every path of the set: the members of a level, then its subtrees, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(Path(p));
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` form of the set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        // Members and children merged in element order (both are sorted); an element that is
        // both is written once, with "." inside.
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            let next = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(m), Some((c, _))) => (*m).cmp(c),
            };
            let (pe, member, child) = match next {
                Ordering::Less => match members.next() {
                    Some(m) => (m, true, None),
                    None => break,
                },
                Ordering::Greater => match children.next() {
                    Some((c, set)) => (c, false, Some(set)),
                    None => break,
                },
                Ordering::Equal => match (members.next(), children.next()) {
                    (Some(m), Some((_, set))) => (m, true, Some(set)),
                    _ => break,
                },
            };
            let value = match child.filter(|c| !c.is_empty()) {
                Some(c) => Value::Object(c.emit(member)),
                None => Value::Object(Map::new()),
            };
            out.insert(pe.serialize(), value);
        }
        out
    }

    /// Parses `FieldsV1`.
    pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
        match v {
            Value::Object(m) => Ok(Set::read(m).0.unwrap_or_default()),
            Value::Null => Ok(Set::new()),
            other => Err(format!("FieldsV1 must be an object, not {other}")),
        }
    }

    /// (children, is this node a member): an empty object is a member without children.
    fn read(m: &Map<String, Value>) -> (Option<Set>, bool) {
        let mut children: Option<Set> = None;
        let mut is_member = false;
        for (key, v) in m {
            if key == "." {
                is_member = true;
                continue;
            }
            let Ok(Some(pe)) = PathElement::deserialize(key) else {
                continue;
            };
            let (grand, child_member) = match v {
                Value::Object(cm) => Set::read(cm),
                _ => (None, true),
            };
            let set = children.get_or_insert_with(Set::new);
            if child_member {
                set.members.insert(pe.clone());
            }
            if let Some(g) = grand {
                set.children.insert(pe, g);
            }
        }
        if children.is_none() {
            is_member = true;
        }
        (children, is_member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> PathElement {
        PathElement::Key(vec![("name".into(), json!(name))])
    }

    #[test]
    fn fields_v1_round_trip() {
        let mut s = Set::new();
        s.insert(&Path::fields(&["spec", "replicas"]));
        s.insert(&Path::fields(&["metadata", "labels", "app"]));
        s.insert(&Path::fields(&["metadata", "labels"]));
        let c = Path::fields(&["spec", "template", "spec", "containers"]);
        s.insert(&c.child(key("web")));
        s.insert(&c.child(key("web")).child(PathElement::field("image")));
        s.insert(&Path::fields(&["metadata", "finalizers"]).child(PathElement::Value(json!("a"))));
        let v = s.to_fields_v1();
        assert_eq!(
            v,
            json!({
                "f:metadata": {"f:finalizers": {"v:\"a\"": {}}, "f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}
            })
        );
        let text = serde_json::to_string(&v).unwrap();
        assert!(
            text.starts_with(r#"{"f:metadata":{"f:finalizers""#),
            "{text}"
        );
        assert_eq!(Set::from_fields_v1(&v).unwrap(), s);
        assert!(s.has(&Path::fields(&["metadata", "labels"])));
        assert!(!s.has(&Path::fields(&["spec"])));
    }

    #[test]
    fn paths_print_as_upstream() {
        let p = Path::fields(&["spec", "containers"])
            .child(PathElement::Key(vec![
                ("containerPort".into(), json!(80)),
                ("protocol".into(), json!("TCP")),
            ]))
            .child(PathElement::field("name"));
        assert_eq!(
            p.to_string(),
            r#".spec.containers[containerPort=80,protocol="TCP"].name"#
        );
        assert_eq!(
            Path(vec![PathElement::Value(json!("x")), PathElement::Index(2)]).to_string(),
            r#"[="x"][2]"#
        );
    }

    #[test]
    fn set_operations() {
        let a = Set::from_paths(&[
            Path::fields(&["a", "b"]),
            Path::fields(&["a", "c"]),
            Path::fields(&["d"]),
        ]);
        let b = Set::from_paths(&[Path::fields(&["a", "b"]), Path::fields(&["a"])]);
        assert_eq!(
            a.difference(&b),
            Set::from_paths(&[Path::fields(&["a", "c"]), Path::fields(&["d"])])
        );
        assert_eq!(
            a.recursive_difference(&b),
            Set::from_paths(&[Path::fields(&["d"])])
        );
        assert_eq!(
            a.intersection(&b),
            Set::from_paths(&[Path::fields(&["a", "b"])])
        );
        assert_eq!(a.union(&b).paths().len(), 4);
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn element_order_is_upstreams() {
        let mut v = [
            PathElement::Index(0),
            PathElement::Value(json!("a")),
            key("b"),
            PathElement::field("z"),
            key("a"),
            PathElement::Value(json!(1)),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(std::string::ToString::to_string).collect();
        assert_eq!(
            s,
            [
                ".z",
                "[name=\"a\"]",
                "[name=\"b\"]",
                "[=1]",
                "[=\"a\"]",
                "[0]"
            ]
        );
    }
}
