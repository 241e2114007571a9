//! The schema side of server-side apply: what each position of an object is (a scalar, a struct or
//! map, a list of which kind), read from the OpenAPI definitions plus the generated
//! [`super::list_types`] tables, as kube-openapi's schema conversion feeds structured-merge-diff.

use super::list_types::{KEY_DEFAULTS, LIST_TYPES, MAP_TYPES};
use super::zero_values::ZERO_FIELDS;
use crate::patch::patch_meta;
use crate::schema::{definitions, Definitions};
use foldhash::fast::FixedState;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A position in the schema: the (resolved) schema there, the definition it is when it is a named
/// one, and the field of the enclosing definition it was reached by (list and map types are
/// properties of that field). `schema: None` is an unknown position: its shape is deduced from
/// the value (maps granular, lists atomic), as upstream's "deduced" type.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ty {
    def: Option<&'static str>,
    schema: Option<&'static Value>,
    owner: Option<(&'static str, &'static str)>,
    /// A position in a CustomResourceDefinition's schema: list and map types are the schema's
    /// own `x-kubernetes-list-type`/`-list-map-keys`/`-map-type` (lists atomic without one).
    custom: bool,
    /// The root of a custom resource (or of an embedded one): `metadata` is ObjectMeta.
    resource_root: bool,
}

/// How list items are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// The list is one value.
    Atomic,
    /// Items are scalars, identified by value.
    Set,
    /// Items are objects, identified by these key fields.
    Map(Keys),
}

/// The key fields of a map list: from the list-type table, the one patch merge key, or a
/// custom resource schema's `x-kubernetes-list-map-keys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    Many(&'static [&'static str]),
    One(&'static str),
    Schema(&'static [Value]),
}

impl Keys {
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Keys::Many(keys) => keys.to_vec(),
            Keys::One(key) => vec![key],
            Keys::Schema(keys) => keys.iter().filter_map(Value::as_str).collect(),
        }
    }
}

/// A CustomResourceDefinition schema with the `'static` lifetime positions have: one copy per
/// distinct schema for the life of the process (definitions change rarely; identical schemas,
/// as every re-installation of a definition's entries makes, share it).
pub fn intern(schema: &Value) -> &'static Value {
    static SCHEMAS: OnceLock<std::sync::Mutex<HashMap<String, &'static Value>>> = OnceLock::new();
    let text = schema.to_string();
    let mut schemas = SCHEMAS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    schemas
        .entry(text)
        .or_insert_with(|| Box::leak(Box::new(schema.clone())))
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// What a position is, once its value is known.
#[derive(Clone, Copy, Debug)]
pub enum Atom {
    /// A scalar, or anything handled as one value (atomic maps and lists, values whose shape does
    /// not fit the schema).
    Leaf,
    /// A struct (declared fields) or a map (any key), merged key by key.
    Map(Ty),
    /// A list whose items are merged one by one.
    List { items: Ty, kind: ListKind },
}

impl Ty {
    /// The definition named `name` (an unknown position if there is none).
    pub fn root(name: &str) -> Ty {
        match definitions().schemas.get_key_value(name) {
            Some((n, s)) => Ty {
                def: Some(n.as_str()),
                schema: Some(s),
                ..Ty::default()
            },
            None => Ty::default(),
        }
    }

    /// The root of a custom resource whose (interned) schema is `schema`.
    pub fn custom(schema: &'static Value) -> Ty {
        Ty {
            schema: Some(schema),
            custom: true,
            resource_root: true,
            ..Ty::default()
        }
    }

    /// A position below this one in a custom schema.
    fn custom_child(raw: &'static Value) -> Ty {
        Ty {
            schema: Some(raw),
            custom: true,
            resource_root: raw.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)),
            ..Ty::default()
        }
    }

    fn of(raw: &'static Value, owner: Option<(&'static str, &'static str)>) -> Ty {
        match facts(raw).refers_to {
            Some((n, s)) => Ty {
                def: Some(n),
                schema: Some(s),
                owner,
                ..Ty::default()
            },
            None => Ty {
                def: None,
                schema: Some(raw),
                owner,
                ..Ty::default()
            },
        }
    }

    fn is_deduced(&self) -> bool {
        self.schema.is_none()
    }

    fn properties(&self) -> Option<&'static serde_json::Map<String, Value>> {
        facts(self.schema?).properties
    }

    /// The type of the field or map key `key`, and whether it is a declared struct field.
    pub fn field(&self, key: &str) -> (Ty, bool) {
        let Some(schema) = self.schema else {
            return (Ty::default(), false);
        };
        if self.custom {
            if self.resource_root && key == "metadata" {
                return (Ty::root(OBJECT_META), true);
            }
            if let Some(raw) = self.properties().and_then(|p| p.get(key)) {
                return (Ty::custom_child(raw), true);
            }
            return match facts(schema).additional {
                Some(v) => (Ty::custom_child(v), false),
                None => (Ty::default(), false),
            };
        }
        if let Some(props) = self.properties() {
            if let Some((name, raw)) = props.get_key_value(key) {
                let owner = self.def.map(|d| (d, name.as_str()));
                return (Ty::of(raw, owner), true);
            }
            // An undeclared field of a struct: unknown, deduced from its value.
            return (Ty::default(), false);
        }
        match facts(schema).additional {
            Some(v) => (Ty::of(v, None), false),
            None => (Ty::default(), false),
        }
    }

    /// Whether `key` is a declared field of this struct.
    pub fn has_field(&self, key: &str) -> bool {
        (self.custom && self.resource_root && key == "metadata")
            || self.properties().is_some_and(|p| p.contains_key(key))
    }

    /// The type of the items of a list.
    pub fn items(&self) -> Ty {
        match self.schema.and_then(|s| s.get("items")) {
            Some(raw) if self.custom => Ty::custom_child(raw),
            Some(raw) => Ty::of(raw, None),
            None => Ty::default(),
        }
    }

    /// The default of the key field `field` of the items of a map list, if upstream has one.
    pub fn key_default(&self, field: &str) -> Option<Value> {
        if self.custom {
            return self.schema?["properties"][field].get("default").cloned();
        }
        let def = self.def?;
        KEY_DEFAULTS
            .iter()
            .find(|(d, f, _)| *d == def && *f == field)
            .and_then(|(_, _, v)| serde_json::from_str(v).ok())
    }

    /// The fields the Go zero value of this definition has in JSON, with their zero values as
    /// JSON (`{}`: the zero value of the field's own definition).
    pub fn zero_fields(&self) -> &'static [(&'static str, &'static str)] {
        type Index = HashMap<&'static str, Vec<(&'static str, &'static str)>, FixedState>;
        static INDEX: OnceLock<Index> = OnceLock::new();
        let index = INDEX.get_or_init(|| {
            let mut m = Index::default();
            for (d, f, z) in ZERO_FIELDS {
                m.entry(d).or_default().push((f, z));
            }
            m
        });
        self.def
            .and_then(|d| index.get(d))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn map_type(&self) -> Option<&'static str> {
        if self.custom {
            return self.schema?.get("x-kubernetes-map-type")?.as_str();
        }
        let index = map_types();
        self.owner
            .and_then(|owner| index.get(&owner))
            .or_else(|| index.get(&(self.def?, "")))
            .copied()
    }

    fn list_kind(&self) -> ListKind {
        if self.custom {
            let schema = self.schema.unwrap_or(&Value::Null);
            return match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map(Keys::Schema(
                    schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map_or(&[], Vec::as_slice),
                )),
                _ => ListKind::Atomic,
            };
        }
        let Some((d, f)) = self.owner else {
            return ListKind::Atomic;
        };
        if let Some((t, keys)) = list_types().get(&(d, f)) {
            return match *t {
                "set" => ListKind::Set,
                "map" => ListKind::Map(Keys::Many(keys)),
                _ => ListKind::Atomic,
            };
        }
        // No list type: the patch strategy decides, as upstream's schema conversion falls back.
        match patch_meta(d, f) {
            Some(m) if m.list_strategy() == "merge" => {
                if m.merge_key.is_empty() {
                    ListKind::Set
                } else {
                    ListKind::Map(Keys::One(m.merge_key))
                }
            }
            _ => ListKind::Atomic,
        }
    }

    /// What this position is for `value` (`None`: absent). A value whose shape the schema does not
    /// expect is a leaf.
    pub fn atom(&self, value: Option<&Value>) -> Atom {
        let shape = value.map(shape_of);
        if self.is_deduced() {
            return match shape {
                Some(Shape::Map) => Atom::Map(Ty::default()),
                _ => Atom::Leaf,
            };
        }
        let schema = facts(self.schema.expect("not deduced"));
        if schema.int_or_string {
            return Atom::Leaf;
        }
        let ty = schema.type_name;
        let is_list = ty == Some("array") || schema.has_items;
        let is_struct = schema.properties.is_some();
        let is_map = !is_struct && schema.additional.is_some();
        let fits = |want: Shape| matches!(shape, None | Some(Shape::Null)) || shape == Some(want);
        if is_list {
            if !fits(Shape::List) {
                return Atom::Leaf;
            }
            return match self.list_kind() {
                ListKind::Atomic => Atom::Leaf,
                kind => Atom::List {
                    items: self.items(),
                    kind,
                },
            };
        }
        if is_struct || is_map {
            if !fits(Shape::Map) || self.map_type() == Some("atomic") {
                return Atom::Leaf;
            }
            return Atom::Map(*self);
        }
        if ty == Some("object") || ty.is_none() {
            // A free-form object (RawExtension, JSON): deduced from the value.
            return match shape {
                Some(Shape::Map) => Atom::Map(Ty::default()),
                _ => Atom::Leaf,
            };
        }
        Atom::Leaf
    }
}

/// What [`Ty`] asks of a schema, read once per schema (per thread) rather than looked up in its
/// JSON again at every position of every object walked.
#[derive(Clone, Copy)]
struct Facts {
    int_or_string: bool,
    type_name: Option<&'static str>,
    has_items: bool,
    /// Declared fields (none: not a struct).
    properties: Option<&'static serde_json::Map<String, Value>>,
    /// `additionalProperties`, when it is a schema (a map's values).
    additional: Option<&'static Value>,
    /// The definition a `$ref` (or `allOf: [$ref]`) names, with its schema.
    refers_to: Option<(&'static str, &'static Value)>,
}

impl Facts {
    fn read(schema: &'static Value) -> Facts {
        let defs = definitions();
        Facts {
            int_or_string: schema.get("x-kubernetes-int-or-string").is_some(),
            type_name: schema.get("type").and_then(Value::as_str),
            has_items: schema.get("items").is_some(),
            properties: schema
                .get("properties")
                .and_then(Value::as_object)
                .filter(|p| !p.is_empty()),
            additional: schema.get("additionalProperties").filter(|v| v.is_object()),
            refers_to: Definitions::ref_name(schema)
                .and_then(|n| defs.schemas.get_key_value(n))
                .map(|(n, s)| (n.as_str(), s)),
        }
    }
}

/// The facts of `schema`, by its address: schemas are `'static` (built-in definitions, or
/// interned custom ones that are never freed), so an address always means the same schema. The
/// keys are addresses, never a client's text, so a fast unkeyed hash is safe here.
fn facts(schema: &'static Value) -> Facts {
    type Cache = HashMap<usize, Facts, foldhash::fast::FixedState>;
    thread_local! {
        static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::default());
    }
    let key = std::ptr::from_ref(schema) as usize;
    CACHE.with(|cache| {
        if let Some(f) = cache.borrow().get(&key) {
            return *f;
        }
        let f = Facts::read(schema);
        cache.borrow_mut().insert(key, f);
        f
    })
}

type Pair = (&'static str, &'static str);

/// [`LIST_TYPES`] by (definition, field): list type and key fields. A fixed table (looked up,
/// never added to, by requests), so a fast unkeyed hash is safe.
type ListTypes = HashMap<Pair, (&'static str, &'static [&'static str]), FixedState>;

fn list_types() -> &'static ListTypes {
    static INDEX: OnceLock<ListTypes> = OnceLock::new();
    INDEX.get_or_init(|| {
        LIST_TYPES
            .iter()
            .map(|(d, f, t, k)| ((*d, *f), (*t, *k)))
            .collect()
    })
}

/// [`MAP_TYPES`] by (definition, field or "").
fn map_types() -> &'static HashMap<Pair, &'static str, FixedState> {
    static INDEX: OnceLock<HashMap<Pair, &'static str, FixedState>> = OnceLock::new();
    INDEX.get_or_init(|| MAP_TYPES.iter().map(|(d, f, t)| ((*d, *f), *t)).collect())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Null,
    Scalar,
    List,
    Map,
}

fn shape_of(v: &Value) -> Shape {
    match v {
        Value::Null => Shape::Null,
        Value::Array(_) => Shape::List,
        Value::Object(_) => Shape::Map,
        _ => Shape::Scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn walk(root: &str, fields: &[&str]) -> Ty {
        let mut t = Ty::root(root);
        for f in fields {
            t = if *f == "[]" { t.items() } else { t.field(f).0 };
        }
        t
    }

    #[test]
    fn list_kinds_come_from_the_table_and_the_patch_fallback() {
        let containers = walk(
            "io.k8s.api.apps.v1.Deployment",
            &["spec", "template", "spec", "containers"],
        );
        match containers.atom(Some(&json!([]))) {
            Atom::List { kind, .. } => assert_eq!(kind, ListKind::Map(Keys::Many(&["name"]))),
            other => panic!("{other:?}"),
        }
        let ports = walk("io.k8s.api.core.v1.PodSpec", &["containers", "[]", "ports"]);
        match ports.atom(None) {
            Atom::List { kind, items } => {
                assert_eq!(
                    kind,
                    ListKind::Map(Keys::Many(&["containerPort", "protocol"]))
                );
                assert_eq!(items.key_default("protocol"), Some(json!("TCP")));
            }
            other => panic!("{other:?}"),
        }
        let args = walk("io.k8s.api.core.v1.PodSpec", &["containers", "[]", "args"]);
        assert!(matches!(args.atom(None), Atom::Leaf));
        let finalizers = walk("io.k8s.api.core.v1.Pod", &["metadata", "finalizers"]);
        assert!(matches!(
            finalizers.atom(None),
            Atom::List {
                kind: ListKind::Set,
                ..
            }
        ));
    }

    #[test]
    fn atomic_structs_and_maps() {
        let selector = walk("io.k8s.api.apps.v1.Deployment", &["spec", "selector"]);
        assert!(matches!(selector.atom(Some(&json!({}))), Atom::Leaf));
        let node_selector = walk("io.k8s.api.core.v1.PodSpec", &["nodeSelector"]);
        assert!(matches!(node_selector.atom(None), Atom::Leaf));
        let labels = walk("io.k8s.api.core.v1.Pod", &["metadata", "labels"]);
        assert!(matches!(labels.atom(None), Atom::Map(_)));
        assert!(!labels.has_field("app"));
        let spec = walk("io.k8s.api.apps.v1.Deployment", &["spec"]);
        assert!(spec.has_field("replicas"));
        // Int-or-string and shapes that do not fit are leaves.
        let port = walk(
            "io.k8s.api.core.v1.ServiceSpec",
            &["ports", "[]", "targetPort"],
        );
        assert!(matches!(port.atom(Some(&json!(80))), Atom::Leaf));
        assert!(matches!(spec.atom(Some(&json!("x"))), Atom::Leaf));
        // Unknown positions are deduced from the value.
        let unknown = walk("io.k8s.api.apps.v1.Deployment", &["spec", "nonsense"]);
        assert!(matches!(unknown.atom(Some(&json!({"a": 1}))), Atom::Map(_)));
        assert!(matches!(unknown.atom(Some(&json!([1]))), Atom::Leaf));
    }
}
