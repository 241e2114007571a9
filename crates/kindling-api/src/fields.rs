//! Strict field validation (`fieldValidation=Strict|Warn`): unknown and duplicate fields of a
//! request body, reported as upstream's strict JSON decoding (sigs.k8s.io/json) reports them:
//! `unknown field "spec.template.spec.containers[0].imagex"`, `duplicate field "metadata.name"`.
//!
//! The server joins them into `strict decoding error: <e1>, <e2>` ([`strict_decoding_error`]):
//! 400 BadRequest on create and update; on patch, upstream wraps that text in a 422 Invalid on the
//! field `patch`. With `Warn`, each becomes a warning header instead.
//!
//! Unknown fields are found by walking the OpenAPI definitions ([`crate::schema`]): objects with
//! `properties` are structs (any other key is unknown); objects with `additionalProperties` are
//! maps (any key); IntOrString, Quantity, RawExtension, FieldsV1 and anything marked
//! `x-kubernetes-preserve-unknown-fields` accept anything. As upstream, the value of an unknown
//! field is not looked into, and at most 100 problems are reported.

use crate::meta::go_quote;
use crate::schema::definitions;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Upstream keeps at most this many strict errors.
const MAX_ERRORS: usize = 100;

/// The unknown fields of `obj`, an object of the definition `type_name`
/// (`io.k8s.api.apps.v1.Deployment`), as `unknown field "<path>"`, in document order. Empty for
/// a type the definitions do not have.
pub fn unknown_fields(type_name: &str, obj: &Value) -> Vec<String> {
    let Some(schema) = definitions().get(type_name) else {
        return Vec::new();
    };
    run(Mode::typed(schema), false, |w| {
        obj.deserialize_any(w).map_err(|e| e.to_string())
    })
}

/// The duplicate keys of a JSON body, as `duplicate field "<path>"`, in document order, for any
/// object at any depth (as upstream's strict decoding of a patch into a plain map finds them).
/// Empty if the body is not valid JSON (decoding it reports that).
pub fn duplicate_fields(body: &[u8]) -> Vec<String> {
    run(Mode::Untyped, true, |w| {
        let mut de = serde_json::Deserializer::from_slice(body);
        de.deserialize_any(w).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())
    })
}

/// Unknown and duplicate fields of a JSON request body for `type_name`, interleaved in document
/// order as upstream's strict decoding of a create or update body lists them. Duplicate keys are
/// checked where upstream's typed decoding checks them (struct fields and map keys, not inside
/// unknown fields or free-form values). Empty if the body is not valid JSON.
pub fn strict_errors(type_name: &str, body: &[u8]) -> Vec<String> {
    let Some(schema) = definitions().get(type_name) else {
        return duplicate_fields(body);
    };
    run(Mode::typed(schema), true, |w| {
        let mut de = serde_json::Deserializer::from_slice(body);
        de.deserialize_any(w).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())
    })
}

/// `strict decoding error: unknown field "spec.foo", duplicate field "metadata.name"`: the
/// message of the 400 upstream answers a strict create or update with.
pub fn strict_decoding_error(errors: &[String]) -> String {
    format!("strict decoding error: {}", errors.join(", "))
}

fn run(
    mode: Mode,
    duplicates: bool,
    drive: impl FnOnce(Walk<'_>) -> Result<(), String>,
) -> Vec<String> {
    let out = RefCell::new(Collected::default());
    let walk = Walk {
        mode,
        duplicates,
        path: Path::Root,
        out: &out,
    };
    match drive(walk) {
        Ok(()) => out.into_inner().errors,
        Err(_) => Vec::new(),
    }
}

#[derive(Default)]
struct Collected {
    errors: Vec<String>,
    seen: HashSet<String>,
}

impl Collected {
    fn push(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS && self.seen.insert(e.clone()) {
            self.errors.push(e);
        }
    }
}

#[derive(Clone, Copy)]
enum Mode {
    /// A plain map: no unknown fields, duplicates checked throughout.
    Untyped,
    /// A schema, resolved: what the walk reads of it.
    Typed(Facts),
    /// Anything goes, nothing checked (free-form values, unknown fields).
    Opaque,
}

/// What the walk reads of a resolved schema, read once per schema.
#[derive(Clone, Copy)]
struct Facts {
    items: Option<&'static Value>,
    properties: Option<&'static serde_json::Map<String, Value>>,
    /// `additionalProperties` when it is a schema (a map's values).
    additional: Option<&'static Value>,
}

impl Mode {
    /// The mode of the schema `raw` (a `$ref` or inline), by its address: the definitions are
    /// built once and never freed, so an address always means the same schema. The keys are
    /// addresses, never a client's text, so a fast unkeyed hash is safe here.
    fn typed(raw: &'static Value) -> Mode {
        type Cache = HashMap<usize, Mode, foldhash::fast::FixedState>;
        thread_local! {
            static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
        }
        let key = std::ptr::from_ref(raw) as usize;
        CACHE.with(|cache| {
            if let Some(m) = cache.borrow().get(&key) {
                return *m;
            }
            let m = Mode::read(raw);
            cache.borrow_mut().insert(key, m);
            m
        })
    }

    fn read(raw: &'static Value) -> Mode {
        let s = definitions().resolve(raw);
        let free = |k: &str| s.get(k).and_then(Value::as_bool) == Some(true);
        if free("x-kubernetes-preserve-unknown-fields") || free("x-kubernetes-int-or-string") {
            return Mode::Opaque;
        }
        Mode::Typed(Facts {
            items: s.get("items"),
            properties: s.get("properties").and_then(Value::as_object),
            additional: s.get("additionalProperties").filter(|v| v.is_object()),
        })
    }
}

/// Where the walk is, spelled only when a problem is reported: `spec.containers[0].image`.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn spell(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.spell(out);
                if !matches!(parent, Path::Root) {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Index(parent, i) => {
                parent.spell(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }

    fn quoted(&self) -> String {
        let mut s = String::new();
        self.spell(&mut s);
        go_quote(&s)
    }
}

struct Walk<'a> {
    mode: Mode,
    duplicates: bool,
    path: Path<'a>,
    out: &'a RefCell<Collected>,
}

impl<'a> Walk<'a> {
    fn child<'b>(&self, mode: Mode, path: Path<'b>) -> Walk<'b>
    where
        'a: 'b,
    {
        Walk {
            mode,
            duplicates: self.duplicates,
            path,
            out: self.out,
        }
    }
}

/// A map key, borrowed from the body when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// The keys of one object seen so far: a short list, a set once the object is large (so a
/// huge object costs no quadratic scan).
#[derive(Default)]
struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    const FEW: usize = 16;

    /// Whether `key` is new.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if !self.many.is_empty() {
            return self.many.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        self.few.push(key);
        if self.few.len() > Self::FEW {
            self.many.extend(self.few.drain(..));
        }
        true
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let items = match self.mode {
            Mode::Typed(f) => f.items.map_or(Mode::Opaque, Mode::typed),
            other => other,
        };
        let mut i = 0usize;
        loop {
            let path = Path::Index(&self.path, i);
            if seq.next_element_seed(self.child(items, path))?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        enum Shape {
            Struct(&'static serde_json::Map<String, Value>),
            Map(Mode),
            Free,
        }
        let shape = match self.mode {
            Mode::Untyped => Shape::Map(Mode::Untyped),
            Mode::Opaque => Shape::Free,
            Mode::Typed(f) => match (f.properties, f.additional) {
                (Some(props), _) => Shape::Struct(props),
                (None, Some(v)) => Shape::Map(Mode::typed(v)),
                _ => Shape::Free,
            },
        };
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let child_mode = match &shape {
                Shape::Free => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Shape::Map(m) => *m,
                Shape::Struct(props) => match props.get(key.as_ref()) {
                    Some(p) => Mode::typed(p),
                    None => {
                        let path = Path::Key(&self.path, &key);
                        self.out
                            .borrow_mut()
                            .push(format!("unknown field {}", path.quoted()));
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                },
            };
            if self.duplicates && !seen.insert(key.clone()) {
                let path = Path::Key(&self.path, &key);
                self.out
                    .borrow_mut()
                    .push(format!("duplicate field {}", path.quoted()));
            }
            map.next_value_seed(self.child(child_mode, Path::Key(&self.path, &key)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "anything.example.com/goes": "x"},
                         "annotations": {"a": "b"},
                         "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "1", "memory": 128}}},
                        {"name": "b", "image": "busybox", "ports": [{"containerPort": 80}]}
                    ]}
                }
            }
        })
    }

    #[test]
    fn a_clean_deployment_has_no_unknown_fields() {
        assert!(unknown_fields(DEPLOYMENT, &deployment()).is_empty());
    }

    #[test]
    fn typo_deep_inside_a_container() {
        let mut d = deployment();
        d["spec"]["template"]["spec"]["containers"][1]["imagex"] = json!("oops");
        d["spec"]["template"]["spec"]["containers"][1]["ports"][0]["protocl"] = json!("TCP");
        d["spec"]["foo"] = json!({"bar": 1});
        assert_eq!(
            unknown_fields(DEPLOYMENT, &d),
            vec![
                "unknown field \"spec.template.spec.containers[1].ports[0].protocl\"",
                "unknown field \"spec.template.spec.containers[1].imagex\"",
                "unknown field \"spec.foo\"",
            ]
        );
        assert_eq!(
            strict_decoding_error(&unknown_fields(DEPLOYMENT, &d)[2..]),
            "strict decoding error: unknown field \"spec.foo\""
        );
    }

    #[test]
    fn top_level_unknown_field() {
        let obj =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dat": {}});
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.ConfigMap", &obj),
            vec!["unknown field \"dat\""]
        );
    }

    #[test]
    fn maps_accept_any_key() {
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"spec": "1", "image": "2"}, "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"spec": "x", "imagex": "y", "config.yaml": "a: b"},
            "binaryData": {"k": "AAAA"}
        });
        assert!(unknown_fields("io.k8s.api.core.v1.ConfigMap", &cm).is_empty());
        let mut bad = cm.clone();
        bad["metadata"]["lables"] = json!({});
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.ConfigMap", &bad),
            vec!["unknown field \"metadata.lables\""]
        );
    }

    #[test]
    fn int_or_string_accepts_both() {
        let svc = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"selector": {"app": "web"}, "ports": [
                {"port": 80, "targetPort": 8080},
                {"port": 443, "targetPort": "https", "name": "https"}
            ]}
        });
        assert!(unknown_fields("io.k8s.api.core.v1.Service", &svc).is_empty());
        let mut bad = svc.clone();
        bad["spec"]["ports"][1]["targetport"] = json!(1);
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.Service", &bad),
            vec!["unknown field \"spec.ports[1].targetport\""]
        );
    }

    #[test]
    fn unknown_types_report_nothing() {
        assert!(unknown_fields("io.example.v1.Widget", &json!({"x": 1})).is_empty());
    }

    #[test]
    fn duplicates_at_any_depth() {
        let body = br#"{"metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},
                        "spec":{"containers":[{"name":"c","image":"i","image":"j"}]},
                        "kind":"Pod","kind":"Pod","kind":"Pod"}"#;
        assert_eq!(
            duplicate_fields(body),
            vec![
                "duplicate field \"metadata.name\"",
                "duplicate field \"metadata.labels.x\"",
                "duplicate field \"spec.containers[0].image\"",
                "duplicate field \"kind\"",
            ]
        );
        assert!(duplicate_fields(br#"{"a":1,"b":{"a":1}}"#).is_empty());
        assert!(duplicate_fields(b"{\"a\":1,\"a\":").is_empty());
    }

    #[test]
    fn strict_errors_interleave_in_document_order() {
        let body = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"p"},
                        "spec":{"containers":[{"name":"c","imagex":"i","imagex":"j"}]},"extra":{"a":1,"a":2}}"#;
        assert_eq!(
            strict_errors("io.k8s.api.core.v1.Pod", body),
            vec![
                "duplicate field \"metadata.name\"",
                "unknown field \"spec.containers[0].imagex\"",
                "unknown field \"extra\"",
            ]
        );
    }

    #[test]
    fn at_most_one_hundred() {
        let mut obj = serde_json::Map::new();
        for i in 0..150 {
            obj.insert(format!("f{i}"), json!(i));
        }
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.ConfigMap", &Value::Object(obj)).len(),
            100
        );
    }
}
