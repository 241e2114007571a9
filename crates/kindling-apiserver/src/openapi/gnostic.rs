//! A Swagger 2.0 document (JSON) as gnostic's `openapi.v2.Document` protobuf message — what
//! kube-apiserver sends for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
//! and what kubectl parses into its validation models. No maintained crate carries gnostic's
//! messages, so the fields the document uses are written here by hand, with their numbers from
//! gnostic's `openapiv2/OpenAPIv2.proto`, in field-number order as Go's marshaller writes them.
//! Vendor extensions are `Any { yaml }`, their values as YAML (gnostic keeps them so).

use serde_json::{Map, Value};

/// A message being written: protobuf's wire format.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// A proto3 string: written unless empty.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn string_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            self.string(field, s);
        }
    }

    fn strings_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        for s in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(s) = s.as_str() {
                self.bytes(field, s.as_bytes());
            }
        }
    }

    /// A proto3 bool: written when true.
    fn bool_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if obj.get(key).and_then(Value::as_bool) == Some(true) {
            self.key(field, 0);
            self.varint(1);
        }
    }

    /// A present sub-message (even an empty one: presence is meaningful, e.g. `properties: {}`).
    fn message(&mut self, field: u32, m: &Message) {
        self.bytes(field, &m.0);
    }
}

fn build(f: impl FnOnce(&mut Message)) -> Message {
    let mut m = Message::default();
    f(&mut m);
    m
}

fn obj(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

/// `openapi.v2.Document`.
pub fn encode_document(doc: &Value) -> Vec<u8> {
    let Some(d) = obj(doc) else {
        return Vec::new();
    };
    let mut m = Message::default();
    m.string_of(1, d, "swagger");
    if let Some(info) = d.get("info").and_then(obj) {
        m.message(
            2,
            &build(|i| {
                i.string_of(1, info, "title");
                i.string_of(2, info, "version");
                i.string_of(3, info, "description");
            }),
        );
    }
    if let Some(paths) = d.get("paths").and_then(obj) {
        m.message(
            8,
            &build(|p| {
                for (name, item) in paths {
                    p.message(2, &named(name, &path_item(item)));
                }
            }),
        );
    }
    if let Some(defs) = d.get("definitions").and_then(obj) {
        m.message(9, &named_schemas(defs));
    }
    for requirement in d
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(12, &security_requirement(requirement));
    }
    if let Some(defs) = d.get("securityDefinitions").and_then(obj) {
        m.message(
            13,
            &build(|s| {
                for (name, def) in defs {
                    s.message(1, &named(name, &security_definition(def)));
                }
            }),
        );
    }
    vendor_extensions(&mut m, 16, d);
    m.0
}

/// The `Named*` messages: `name = 1`, `value = 2`.
fn named(name: &str, value: &Message) -> Message {
    build(|n| {
        n.string(1, name);
        n.message(2, value);
    })
}

/// `Definitions` / `Properties`: `repeated NamedSchema additional_properties = 1`.
fn named_schemas(schemas: &Map<String, Value>) -> Message {
    build(|m| {
        for (name, s) in schemas {
            m.message(1, &named(name, &schema(s)));
        }
    })
}

/// `repeated NamedAny vendor_extension = field`: every `x-` key, its value as YAML.
fn vendor_extensions(m: &mut Message, field: u32, o: &Map<String, Value>) {
    for (k, v) in o.iter().filter(|(k, _)| k.starts_with("x-")) {
        let yaml = serde_norway::to_string(v).unwrap_or_default();
        let any = build(|a| a.string(2, &yaml));
        m.message(field, &named(k, &any));
    }
}

/// `Schema`.
fn schema(v: &Value) -> Message {
    let Some(s) = obj(v) else {
        return Message::default();
    };
    build(|m| {
        m.string_of(1, s, "$ref");
        m.string_of(2, s, "format");
        m.string_of(3, s, "title");
        m.string_of(4, s, "description");
        m.strings_of(19, s, "required");
        match s.get("additionalProperties") {
            Some(Value::Bool(b)) => m.message(
                21,
                &build(|a| {
                    a.key(2, 0);
                    a.varint(u64::from(*b));
                }),
            ),
            Some(inner @ Value::Object(_)) => {
                m.message(21, &build(|a| a.message(1, &schema(inner))));
            }
            _ => {}
        }
        if let Some(t) = s.get("type") {
            m.message(
                22,
                &build(|ty| match t {
                    Value::String(one) => ty.string(1, one),
                    Value::Array(many) => many
                        .iter()
                        .filter_map(Value::as_str)
                        .for_each(|one| ty.bytes(1, one.as_bytes())),
                    _ => {}
                }),
            );
        }
        if let Some(items) = s.get("items") {
            m.message(
                23,
                &build(|i| match items {
                    Value::Array(many) => many.iter().for_each(|one| i.message(1, &schema(one))),
                    one => i.message(1, &schema(one)),
                }),
            );
        }
        for one in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            m.message(24, &schema(one));
        }
        if let Some(props) = s.get("properties").and_then(obj) {
            m.message(25, &named_schemas(props));
        }
        m.bool_of(27, s, "readOnly");
        vendor_extensions(m, 31, s);
    })
}

/// `PathItem`.
fn path_item(v: &Value) -> Message {
    let Some(p) = obj(v) else {
        return Message::default();
    };
    build(|m| {
        for (field, method) in [
            (2, "get"),
            (3, "put"),
            (4, "post"),
            (5, "delete"),
            (6, "options"),
            (7, "head"),
            (8, "patch"),
        ] {
            if let Some(op) = p.get(method) {
                m.message(field, &operation(op));
            }
        }
        for param in p
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            m.message(9, &parameters_item(param));
        }
        vendor_extensions(m, 10, p);
    })
}

/// `Operation`.
fn operation(v: &Value) -> Message {
    let Some(o) = obj(v) else {
        return Message::default();
    };
    build(|m| {
        m.strings_of(1, o, "tags");
        m.string_of(2, o, "summary");
        m.string_of(3, o, "description");
        m.string_of(5, o, "operationId");
        m.strings_of(6, o, "produces");
        m.strings_of(7, o, "consumes");
        for param in o
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            m.message(8, &parameters_item(param));
        }
        if let Some(responses) = o.get("responses").and_then(obj) {
            m.message(
                9,
                &build(|r| {
                    for (code, resp) in responses {
                        r.message(1, &named(code, &response_value(resp)));
                    }
                }),
            );
        }
        m.strings_of(10, o, "schemes");
        m.bool_of(11, o, "deprecated");
        vendor_extensions(m, 13, o);
    })
}

/// `ResponseValue { Response response = 1 }`.
fn response_value(v: &Value) -> Message {
    let Some(r) = obj(v) else {
        return Message::default();
    };
    let response = build(|m| {
        m.string_of(1, r, "description");
        if let Some(s) = r.get("schema") {
            // SchemaItem { Schema schema = 1 }
            m.message(2, &build(|i| i.message(1, &schema(s))));
        }
        vendor_extensions(m, 5, r);
    });
    build(|m| m.message(1, &response))
}

/// `ParametersItem { Parameter parameter = 1 }`, a body parameter or a query/path one.
fn parameters_item(v: &Value) -> Message {
    let Some(p) = obj(v) else {
        return Message::default();
    };
    let parameter = match p.get("in").and_then(Value::as_str) {
        Some("body") => build(|param| {
            let body = build(|b| {
                b.string_of(1, p, "description");
                b.string_of(2, p, "name");
                b.string_of(3, p, "in");
                b.bool_of(4, p, "required");
                if let Some(s) = p.get("schema") {
                    b.message(5, &schema(s));
                }
                vendor_extensions(b, 6, p);
            });
            param.message(1, &body);
        }),
        location => build(|param| {
            // NonBodyParameter: query = 3, path = 4 (header = 1, formData = 2: not served).
            let (which, sub) = if location == Some("path") {
                (4, non_body(p, 5, 19, 22))
            } else {
                (3, non_body(p, 6, 20, 23))
            };
            param.message(2, &build(|n| n.message(which, &sub)));
        }),
    };
    build(|m| m.message(1, &parameter))
}

/// `QueryParameterSubSchema` / `PathParameterSubSchema`: the same first fields, then `type`,
/// `unique_items` and `vendor_extension` at numbers that differ between the two.
fn non_body(p: &Map<String, Value>, type_field: u32, unique_field: u32, ext_field: u32) -> Message {
    build(|m| {
        m.bool_of(1, p, "required");
        m.string_of(2, p, "in");
        m.string_of(3, p, "description");
        m.string_of(4, p, "name");
        m.string_of(type_field, p, "type");
        m.bool_of(unique_field, p, "uniqueItems");
        vendor_extensions(m, ext_field, p);
    })
}

/// `SecurityRequirement { repeated NamedStringArray additional_properties = 1 }`.
fn security_requirement(v: &Value) -> Message {
    build(|m| {
        for (name, scopes) in obj(v).into_iter().flatten() {
            let array = build(|a| {
                for s in scopes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    a.bytes(1, s.as_bytes());
                }
            });
            m.message(1, &named(name, &array));
        }
    })
}

/// `SecurityDefinitionsItem { ApiKeySecurity api_key_security = 2 }` (the only kind served).
fn security_definition(v: &Value) -> Message {
    let Some(d) = obj(v) else {
        return Message::default();
    };
    let api_key = build(|m| {
        m.string_of(1, d, "type");
        m.string_of(2, d, "name");
        m.string_of(3, d, "in");
        m.string_of(4, d, "description");
    });
    build(|m| m.message(2, &api_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_fields_as_protobuf() {
        let mut m = Message::default();
        m.varint(300);
        assert_eq!(m.0, [0xac, 0x02]);
        let doc = encode_document(&json!({"swagger": "2.0"}));
        assert_eq!(doc, [0x0a, 3, b'2', b'.', b'0']);
    }

    #[test]
    fn an_empty_properties_object_is_present() {
        let s = schema(&json!({"type": "object", "properties": {}}));
        // type (22, TypeItem{"object"}) then properties (25, empty)
        assert_eq!(
            s.0,
            [0xb2, 0x01, 8, 0x0a, 6, b'o', b'b', b'j', b'e', b'c', b't', 0xca, 0x01, 0]
        );
    }

    #[test]
    fn vendor_extensions_are_yaml() {
        let s = schema(&json!({"x-kubernetes-patch-strategy": "merge"}));
        let mut expected = Message::default();
        let any = build(|a| a.string(2, "merge\n"));
        expected.message(31, &named("x-kubernetes-patch-strategy", &any));
        assert_eq!(s.0, expected.0);
    }
}
