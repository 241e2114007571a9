//! Go's typed decoding of a body into an API type, reduced to what it can refuse: a JSON value
//! of the wrong kind for its field (`json: cannot unmarshal string into Go struct field
//! DeploymentSpec.spec.replicas of type int32`), a number that does not fit, and the custom
//! decoders of Quantity, IntOrString, Time and `[]byte` with their own messages.
//!
//! Like Go's decoder it walks the body in document order, keeps the first kind mismatch and goes
//! on, but stops at once when a custom decoder fails (that error wins). Fields are matched
//! case-sensitively (sigs.k8s.io/json); unknown fields are not looked into. The structure comes
//! from the OpenAPI definitions, the Go type names from the Go sources ([`super::go_types`]).

use super::go_types::GO_TYPES;
use super::values::{self, RFC3339, RFC3339_MICRO};
use crate::patch::go_json_kind;
use crate::schema::{definitions, Definitions};
use crate::Quantity;
use foldhash::fast::FixedState;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The first error Go's decoding of `obj` into the definition `definition` gives, if any.
/// None also for a definition the schema does not have.
pub fn type_error(definition: &str, obj: &Value) -> Option<String> {
    let (name, _) = definitions().schemas.get_key_value(definition)?;
    let mut walk = Walk::default();
    match walk.object(obj, name, "") {
        Err(fatal) => Some(fatal),
        Ok(()) => walk.saved,
    }
}

/// Fields by definition. The tables are fixed (a request only looks up in them, never adds), so a
/// fast unkeyed hash is safe.
type GoTypes = HashMap<&'static str, HashMap<&'static str, &'static str, FixedState>, FixedState>;

fn go_types() -> &'static GoTypes {
    static INDEX: OnceLock<GoTypes> = OnceLock::new();
    INDEX.get_or_init(|| {
        GO_TYPES
            .iter()
            .map(|(def, fields)| (*def, fields.iter().copied().collect()))
            .collect()
    })
}

/// What a schema decodes as.
#[derive(Clone, Copy)]
enum Shape {
    /// Accepts anything (RawExtension, FieldsV1, free-form objects).
    Any,
    Quantity,
    IntOrString,
    Time(&'static str),
    /// A struct: its definition name.
    Struct(&'static str),
    Array,
    Map,
    Bytes,
    String,
    Bool,
    Int {
        bits: u32,
    },
    Float,
}

/// The shape of `schema`, by its address: the definitions are built once and never freed, so
/// an address always means the same schema (read once per thread instead of a handful of map
/// lookups at every value of a body). The keys are addresses, never a client's text, so a fast
/// unkeyed hash is safe here.
fn shape(schema: &'static Value) -> Shape {
    type Cache = HashMap<usize, Shape, FixedState>;
    thread_local! {
        static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::default());
    }
    let key = std::ptr::from_ref(schema) as usize;
    CACHE.with(|cache| {
        if let Some(s) = cache.borrow().get(&key) {
            return *s;
        }
        let s = read_shape(schema);
        cache.borrow_mut().insert(key, s);
        s
    })
}

fn read_shape(schema: &'static Value) -> Shape {
    let defs = definitions();
    if let Some(name) = Definitions::ref_name(schema) {
        match name {
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => return Shape::Quantity,
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => return Shape::IntOrString,
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time" => return Shape::Time(RFC3339),
            "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => return Shape::Time(RFC3339_MICRO),
            _ => {}
        }
        if let Some((name, s)) = defs.schemas.get_key_value(name) {
            if s.get("properties").is_some() {
                return Shape::Struct(name.as_str());
            }
        }
    }
    let s = defs.resolve(schema);
    if s.get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Shape::Any;
    }
    match s.get("type").and_then(Value::as_str) {
        Some("array") => Shape::Array,
        Some("object") if defs.map_values(s).is_some() => Shape::Map,
        Some("string") if s.get("format").and_then(Value::as_str) == Some("byte") => Shape::Bytes,
        Some("string") => Shape::String,
        Some("boolean") => Shape::Bool,
        Some("integer") => match s.get("format").and_then(Value::as_str) {
            Some("int32") => Shape::Int { bits: 32 },
            _ => Shape::Int { bits: 64 },
        },
        Some("number") => Shape::Float,
        _ => Shape::Any,
    }
}

/// The Go type of a schema as reflection prints it, when the Go sources do not say.
fn derived_go_type(schema: &'static Value) -> String {
    let defs = definitions();
    if let Some(name) = Definitions::ref_name(schema) {
        // io.k8s.api.core.v1.PodSpec → v1.PodSpec
        let mut parts = name.rsplit('.');
        if let (Some(short), Some(package)) = (parts.next(), parts.next()) {
            return format!("{package}.{short}");
        }
    }
    let s = defs.resolve(schema);
    match shape(schema) {
        Shape::Array => format!(
            "[]{}",
            s.get("items")
                .map_or("interface {}".into(), derived_go_type)
        ),
        Shape::Map => format!(
            "map[string]{}",
            s.get("additionalProperties")
                .map_or("interface {}".into(), derived_go_type)
        ),
        Shape::Bytes => "[]uint8".into(),
        Shape::String => "string".into(),
        Shape::Bool => "bool".into(),
        Shape::Int { bits } => format!("int{bits}"),
        Shape::Float => "float64".into(),
        _ => "interface {}".into(),
    }
}

/// The element type of a Go slice or map type (`[]v1.Container` → `v1.Container`,
/// `map[string][]uint8` → `[]uint8`); None for a named type.
fn element_type(go: &str) -> Option<&str> {
    if let Some(rest) = go.strip_prefix("[]") {
        return Some(rest);
    }
    let rest = go.strip_prefix("map[")?;
    let mut depth = 1;
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[i + 1..]);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Default)]
struct Walk<'v> {
    /// The first kind mismatch; decoding went on after it.
    saved: Option<String>,
    /// The struct whose field is being decoded (its Go name) and the JSON names from the top.
    strukt: &'static str,
    fields: Vec<&'v str>,
}

impl<'v> Walk<'v> {
    /// Go's UnmarshalTypeError with the decoder's context.
    fn mismatch(&self, what: &str, go: &str) -> String {
        if self.fields.is_empty() {
            format!("json: cannot unmarshal {what} into Go value of type {go}")
        } else {
            format!(
                "json: cannot unmarshal {what} into Go struct field {}.{} of type {go}",
                self.strukt,
                self.fields.join(".")
            )
        }
    }

    fn save(&mut self, message: String) {
        self.saved.get_or_insert(message);
    }

    /// Walks `v` as the struct of the definition `name`.
    fn object(&mut self, v: &'v Value, name: &'static str, go: &str) -> Result<(), String> {
        let map = match v {
            Value::Object(map) => map,
            Value::Null => return Ok(()),
            other => {
                self.save(self.mismatch(go_json_kind(other), go));
                return Ok(());
            }
        };
        let defs = definitions();
        let Some(props) = defs.get(name).and_then(|s| s.get("properties")) else {
            return Ok(());
        };
        let table = go_types().get(name);
        let short = name.rsplit('.').next().unwrap_or(name);
        let outer = std::mem::replace(&mut self.strukt, short);
        for (key, item) in map {
            let Some(field_schema) = props.get(key.as_str()) else {
                continue;
            };
            let field_go = table.and_then(|t| t.get(key.as_str())).map_or_else(
                || Cow::Owned(derived_go_type(field_schema)),
                |g| Cow::Borrowed(*g),
            );
            self.fields.push(key);
            self.strukt = short;
            let result = self.value(item, field_schema, field_go);
            self.fields.pop();
            result?;
        }
        self.strukt = outer;
        Ok(())
    }

    /// Walks `v` as a value of `schema` whose Go type is `go` (empty at the top).
    fn value(
        &mut self,
        v: &'v Value,
        schema: &'static Value,
        go: Cow<'_, str>,
    ) -> Result<(), String> {
        if v.is_null() {
            return Ok(());
        }
        let go = if go.is_empty() {
            Cow::Owned(derived_go_type(schema))
        } else {
            go
        };
        let kind = go_json_kind(v);
        match shape(schema) {
            Shape::Any => Ok(()),
            Shape::Quantity => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Quantity::parse(text.trim())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Shape::IntOrString => match v {
                Value::String(_) => Ok(()),
                Value::Number(n) if fits(n, 32) => Ok(()),
                Value::Number(n) => Err(self.mismatch(&format!("number {n}"), "int32")),
                _ => Err(self.mismatch(kind, "int32")),
            },
            Shape::Time(layout) => match v {
                Value::String(s) => values::time_error(layout, s).map_or(Ok(()), Err),
                _ => Err(self.mismatch(kind, "string")),
            },
            Shape::Struct(name) => self.object(v, name, &go),
            Shape::Array => {
                let Value::Array(items) = v else {
                    self.save(self.mismatch(kind, &go));
                    return Ok(());
                };
                let Some(item_schema) = defs_items(schema) else {
                    return Ok(());
                };
                let item_go =
                    element_type(&go).map_or_else(|| derived_go_type(item_schema), str::to_string);
                for item in items {
                    self.value(item, item_schema, Cow::Borrowed(&item_go))?;
                }
                Ok(())
            }
            Shape::Map => {
                let Value::Object(map) = v else {
                    self.save(self.mismatch(kind, &go));
                    return Ok(());
                };
                let Some(value_schema) = definitions().resolve(schema).get("additionalProperties")
                else {
                    return Ok(());
                };
                let value_go =
                    element_type(&go).map_or_else(|| derived_go_type(value_schema), str::to_string);
                for item in map.values() {
                    self.value(item, value_schema, Cow::Borrowed(&value_go))?;
                }
                Ok(())
            }
            Shape::Bytes => {
                match v {
                    Value::String(s) => {
                        if let Some(e) = values::base64_error(s) {
                            self.save(e);
                        }
                    }
                    // Go decodes an array of numbers into a []byte too.
                    Value::Array(_) => {}
                    _ => self.save(self.mismatch(kind, &go)),
                }
                Ok(())
            }
            Shape::String => {
                if !v.is_string() {
                    self.save(self.mismatch(kind, &go));
                }
                Ok(())
            }
            Shape::Bool => {
                if !v.is_boolean() {
                    self.save(self.mismatch(kind, &go));
                }
                Ok(())
            }
            Shape::Int { bits } => {
                match v {
                    Value::Number(n) if fits(n, bits) => {}
                    Value::Number(n) => self.save(self.mismatch(&format!("number {n}"), &go)),
                    _ => self.save(self.mismatch(kind, &go)),
                }
                Ok(())
            }
            Shape::Float => {
                if !v.is_number() {
                    self.save(self.mismatch(kind, &go));
                }
                Ok(())
            }
        }
    }
}

fn defs_items(schema: &'static Value) -> Option<&'static Value> {
    definitions().resolve(schema).get("items")
}

/// Whether a JSON number is an integer literal that fits a signed integer of `bits` bits.
fn fits(n: &serde_json::Number, bits: u32) -> bool {
    match n.as_i64() {
        Some(i) if bits == 32 => i32::try_from(i).is_ok(),
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::type_error;
    use serde_json::json;

    const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

    /// Go's messages, as kube-apiserver gives them for each body (after its
    /// `<Kind> in version "<v>" cannot be handled as a <Kind>: ` prefix).
    #[test]
    fn messages_are_gos() {
        let cases = [
            (
                DEPLOYMENT,
                json!({"spec": {"replicas": "three"}}),
                "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"replicas": 1.5}}),
                "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"replicas": 3000000000u64}}),
                "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                DEPLOYMENT,
                json!({"metadata": {"labels": {"version": 1}}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
            ),
            (
                DEPLOYMENT,
                json!({"metadata": "x"}),
                "json: cannot unmarshal string into Go struct field Deployment.metadata of type v1.ObjectMeta",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "PORT", "value": 8080}]}]}}}}),
                "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"template": {"spec": {"containers": "nginx"}}}}),
                "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"protocol": 6}]}]}}}}),
                "json: cannot unmarshal number into Go struct field ContainerPort.spec.template.spec.containers.ports.protocol of type v1.Protocol",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}}}}),
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            (
                DEPLOYMENT,
                json!({"spec": {"template": {"spec": {"containers": [{"resources": {"limits": "1"}}]}}}}),
                "json: cannot unmarshal string into Go struct field ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList",
            ),
            (
                "io.k8s.api.core.v1.Service",
                json!({"spec": {"ports": [{"port": 80, "targetPort": true}]}}),
                "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32",
            ),
            (
                "io.k8s.api.core.v1.Secret",
                json!({"data": {"a": "not base64!"}}),
                "illegal base64 data at input byte 3",
            ),
            (
                "io.k8s.api.core.v1.Secret",
                json!({"data": {"a": 1}}),
                "json: cannot unmarshal number into Go struct field Secret.data of type []uint8",
            ),
            (
                "io.k8s.api.core.v1.ConfigMap",
                json!({"metadata": {"creationTimestamp": "yesterday"}}),
                "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"",
            ),
            (
                "io.k8s.api.core.v1.ConfigMap",
                json!({"metadata": {"creationTimestamp": 5}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string",
            ),
            (
                "io.k8s.api.core.v1.ConfigMap",
                json!({"kind": 5}),
                "json: cannot unmarshal number into Go struct field ConfigMap.kind of type string",
            ),
        ];
        for (def, body, want) in cases {
            assert_eq!(type_error(def, &body).as_deref(), Some(want), "{body}");
        }
    }

    #[test]
    fn first_mismatch_wins_unless_a_custom_decoder_fails_later() {
        let body = json!({"spec": {"replicas": "a", "minReadySeconds": "b"}});
        assert!(type_error(DEPLOYMENT, &body)
            .unwrap()
            .contains("spec.replicas"));
        // A Quantity's error ends the decoding at once and is the one reported.
        let body =
            json!({"spec": {"replicas": "a", "template": {"spec": {"overhead": {"cpu": "x"}}}}});
        assert!(type_error(DEPLOYMENT, &body)
            .unwrap()
            .starts_with("quantities must"));
    }

    #[test]
    fn good_bodies_pass() {
        let body = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w", "labels": {"a": "b"}, "creationTimestamp": null},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                    {"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                "unknownField": [1]}
        });
        assert_eq!(type_error(DEPLOYMENT, &body), None);
        assert_eq!(type_error("io.k8s.NoSuchType", &body), None);
    }
}
