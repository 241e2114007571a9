//! The Gateway API's CustomResourceDefinitions (standard channel: GatewayClass, Gateway,
//! HTTPRoute, GRPCRoute in `v1`, ReferenceGrant in `v1beta1`), installed by `kindling create
//! cluster`. Written here rather than rendered from the `gateway-api` crate: that crate is
//! built against an older kube / k8s-openapi, and its derived schemas carry neither the
//! defaults nor the CEL rules of upstream's CRDs. The schemas type and default the fields
//! kindling acts on (so `kubectl get -o yaml` shows upstream's defaults) and keep every other
//! field as given (`x-kubernetes-preserve-unknown-fields`), so manifests written for other
//! implementations apply unchanged; a few of upstream's validation rules are carried as CEL.

use super::types::GROUP;
use serde_json::{json, Value};

fn string() -> Value {
    json!({"type": "string"})
}

fn int() -> Value {
    json!({"type": "integer", "format": "int32"})
}

fn enum_of(values: &[&str], default: Option<&str>) -> Value {
    let mut v = json!({"type": "string", "enum": values});
    if let Some(d) = default {
        v["default"] = json!(d);
    }
    v
}

/// An object with these typed properties that keeps any other field.
fn open(props: Value) -> Value {
    json!({"type": "object", "properties": props, "x-kubernetes-preserve-unknown-fields": true})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An array of at most `max` items (upstream's bounds; they keep CEL cost estimates low).
fn bounded(items: Value, max: u32) -> Value {
    json!({"type": "array", "items": items, "maxItems": max})
}

fn pending_status(types: &[&str]) -> Value {
    let conditions: Vec<Value> = types
        .iter()
        .map(|t| {
            json!({"type": t, "status": "Unknown", "reason": "Pending",
                   "message": "Waiting for controller",
                   "lastTransitionTime": "1970-01-01T00:00:00Z"})
        })
        .collect();
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
           "default": {"conditions": conditions}})
}

fn parent_ref() -> Value {
    let mut v = open(json!({
        "group": {"type": "string", "default": GROUP},
        "kind": {"type": "string", "default": "Gateway"},
        "namespace": string(),
        "name": string(),
        "sectionName": string(),
        "port": int(),
    }));
    v["required"] = json!(["name"]);
    v
}

fn backend_ref() -> Value {
    let mut v = open(json!({
        "group": {"type": "string", "default": "", "maxLength": 253},
        "kind": {"type": "string", "default": "Service", "maxLength": 63},
        "name": {"type": "string", "maxLength": 253},
        "namespace": {"type": "string", "maxLength": 63},
        "port": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535},
        "weight": {"type": "integer", "format": "int32", "default": 1, "minimum": 0, "maximum": 1000000},
        "filters": bounded(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}), 16),
    }));
    v["required"] = json!(["name"]);
    v["x-kubernetes-validations"] = json!([{
        "rule": "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true",
        "message": "Must have port for Service reference",
    }]);
    v
}

fn value_match(types: &[&str]) -> Value {
    let mut v = open(json!({
        "type": enum_of(types, Some("Exact")),
        "name": string(),
        "value": string(),
    }));
    v["required"] = json!(["name", "value"]);
    v
}

fn header_modifier() -> Value {
    let pair = {
        let mut p = open(json!({"name": string(), "value": string()}));
        p["required"] = json!(["name", "value"]);
        p
    };
    open(json!({
        "set": array(pair.clone()),
        "add": array(pair),
        "remove": array(string()),
    }))
}

fn filter() -> Value {
    let mut v = open(json!({
        "type": string(),
        "requestHeaderModifier": header_modifier(),
        "responseHeaderModifier": header_modifier(),
        "requestRedirect": open(json!({
            "scheme": enum_of(&["http", "https"], None),
            "hostname": string(),
            "path": open(json!({"type": enum_of(&["ReplaceFullPath", "ReplacePrefixMatch"], None)})),
            "port": int(),
            "statusCode": {"type": "integer", "enum": [301, 302], "default": 302},
        })),
        "urlRewrite": open(json!({
            "hostname": string(),
            "path": open(json!({"type": enum_of(&["ReplaceFullPath", "ReplacePrefixMatch"], None)})),
        })),
    }));
    v["required"] = json!(["type"]);
    v
}

fn route_status() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// What names a CRD: plural, kind, scope, short names, version.
struct Names<'a>(&'a str, &'a str, &'a str, &'a [&'a str], &'a str);

fn crd(names_of: Names<'_>, spec: Value, status: Value, columns: Value) -> Value {
    let Names(plural, kind, scope, short_names, version) = names_of;
    let mut names = json!({
        "plural": plural, "singular": kind.to_ascii_lowercase(), "kind": kind,
        "listKind": format!("{kind}List"), "categories": ["gateway-api"],
    });
    if !short_names.is_empty() {
        names["shortNames"] = json!(short_names);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{GROUP}"),
            "annotations": {
                "gateway.networking.k8s.io/bundle-version": super::BUNDLE_VERSION,
                "gateway.networking.k8s.io/channel": "standard",
            },
            "labels": {"app.kubernetes.io/managed-by": "kindling"},
        },
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": scope,
            "versions": [{
                "name": version, "served": true, "storage": true,
                "subresources": if status.is_null() { json!({}) } else { json!({"status": {}}) },
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "apiVersion": string(), "kind": string(), "metadata": {"type": "object"},
                        "spec": spec,
                        "status": if status.is_null() { json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}) } else { status },
                    },
                    "required": ["spec"],
                }},
            }],
        },
    })
}

fn age() -> Value {
    json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
}

fn gateway_class() -> Value {
    let mut spec = open(json!({
        "controllerName": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "Value is immutable"}]},
        "description": {"type": "string", "maxLength": 64},
        "parametersRef": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    }));
    spec["required"] = json!(["controllerName"]);
    crd(
        Names("gatewayclasses", "GatewayClass", "Cluster", &["gc"], "v1"),
        spec,
        pending_status(&["Accepted"]),
        json!([
            {"name": "Controller", "type": "string", "jsonPath": ".spec.controllerName"},
            {"name": "Accepted", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Accepted\")].status"},
            age(),
            {"name": "Description", "type": "string", "jsonPath": ".spec.description", "priority": 1},
        ]),
    )
}

fn gateway() -> Value {
    let mut listener = open(json!({
        "name": string(),
        "hostname": string(),
        "port": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535},
        "protocol": {"type": "string", "maxLength": 255},
        "tls": open(json!({
            "mode": enum_of(&["Terminate", "Passthrough"], Some("Terminate")),
            "certificateRefs": array(open(json!({
                "group": {"type": "string", "default": ""},
                "kind": {"type": "string", "default": "Secret"},
                "name": string(), "namespace": string(),
            }))),
        })),
        "allowedRoutes": {
            "type": "object",
            "default": {"namespaces": {"from": "Same"}},
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {
                "namespaces": open(json!({
                    "from": enum_of(&["All", "Selector", "Same"], Some("Same")),
                    "selector": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                })),
                "kinds": array(open(json!({
                    "group": {"type": "string", "default": GROUP},
                    "kind": string(),
                }))),
            },
        },
    }));
    listener["required"] = json!(["name", "port", "protocol"]);
    listener["x-kubernetes-validations"] = json!([
        {"rule": "self.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(self.tls) : true",
         "message": "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"},
        {"rule": "self.protocol in ['HTTPS', 'TLS'] ? has(self.tls) : true",
         "message": "tls mode must be set for protocols ['HTTPS', 'TLS']"},
    ]);
    let mut listeners = array(listener);
    listeners["minItems"] = json!(1);
    listeners["maxItems"] = json!(64);
    listeners["x-kubernetes-list-type"] = json!("map");
    listeners["x-kubernetes-list-map-keys"] = json!(["name"]);
    let mut spec = open(json!({
        "gatewayClassName": string(),
        "listeners": listeners,
        "addresses": array(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})),
    }));
    spec["required"] = json!(["gatewayClassName", "listeners"]);
    crd(
        Names("gateways", "Gateway", "Namespaced", &["gtw"], "v1"),
        spec,
        pending_status(&["Accepted", "Programmed"]),
        json!([
            {"name": "Class", "type": "string", "jsonPath": ".spec.gatewayClassName"},
            {"name": "Address", "type": "string", "jsonPath": ".status.addresses[*].value"},
            {"name": "Programmed", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Programmed\")].status"},
            age(),
        ]),
    )
}

fn http_route() -> Value {
    let mut path = open(json!({
        "type": enum_of(&["Exact", "PathPrefix", "RegularExpression"], Some("PathPrefix")),
        "value": {"type": "string", "default": "/", "maxLength": 1024},
    }));
    path["default"] = json!({"type": "PathPrefix", "value": "/"});
    path["x-kubernetes-validations"] = json!([{
        "rule": "(self.type in ['Exact','PathPrefix']) ? self.value.startsWith('/') : true",
        "message": "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
    }]);
    let matches = json!({
        "type": "array",
        "maxItems": 64,
        "default": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "items": open(json!({
            "path": path,
            "headers": bounded(value_match(&["Exact", "RegularExpression"]), 16),
            "queryParams": bounded(value_match(&["Exact", "RegularExpression"]), 16),
            "method": enum_of(&["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"], None),
        })),
    });
    let rule = open(json!({
        "name": string(),
        "matches": matches,
        "filters": bounded(filter(), 16),
        "backendRefs": bounded(backend_ref(), 16),
    }));
    let spec = open(json!({
        "parentRefs": bounded(parent_ref(), 32),
        "hostnames": bounded(json!({"type": "string", "maxLength": 253}), 16),
        "rules": {
            "type": "array",
            "maxItems": 16,
            "default": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
            "items": rule,
        },
    }));
    crd(
        Names("httproutes", "HTTPRoute", "Namespaced", &[], "v1"),
        spec,
        route_status(),
        json!([
            {"name": "Hostnames", "type": "string", "jsonPath": ".spec.hostnames"},
            age(),
        ]),
    )
}

fn grpc_route() -> Value {
    let method = open(json!({
        "type": enum_of(&["Exact", "RegularExpression"], Some("Exact")),
        "service": string(),
        "method": string(),
    }));
    let rule = open(json!({
        "name": string(),
        "matches": bounded(open(json!({
            "method": method,
            "headers": bounded(value_match(&["Exact", "RegularExpression"]), 16),
        })), 64),
        "filters": bounded(filter(), 16),
        "backendRefs": bounded(backend_ref(), 16),
    }));
    let spec = open(json!({
        "parentRefs": bounded(parent_ref(), 32),
        "hostnames": bounded(json!({"type": "string", "maxLength": 253}), 16),
        "rules": bounded(rule, 16),
    }));
    crd(
        Names("grpcroutes", "GRPCRoute", "Namespaced", &[], "v1"),
        spec,
        route_status(),
        json!([
            {"name": "Hostnames", "type": "string", "jsonPath": ".spec.hostnames"},
            age(),
        ]),
    )
}

fn reference_grant() -> Value {
    let mut from = open(json!({"group": string(), "kind": string(), "namespace": string()}));
    from["required"] = json!(["group", "kind", "namespace"]);
    let mut to = open(json!({"group": string(), "kind": string(), "name": string()}));
    to["required"] = json!(["group", "kind"]);
    let mut spec = open(json!({
        "from": {"type": "array", "items": from, "minItems": 1, "maxItems": 16},
        "to": {"type": "array", "items": to, "minItems": 1, "maxItems": 16},
    }));
    spec["required"] = json!(["from", "to"]);
    let mut v = crd(
        Names(
            "referencegrants",
            "ReferenceGrant",
            "Namespaced",
            &["refgrant"],
            "v1beta1",
        ),
        spec,
        Value::Null,
        json!([age()]),
    );
    // A ReferenceGrant has no status.
    if let Some(props) = v.pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties") {
        if let Some(p) = props.as_object_mut() {
            p.remove("status");
        }
    }
    v
}

/// Every CRD, in the order they are installed.
pub fn all() -> Vec<Value> {
    vec![
        gateway_class(),
        gateway(),
        http_route(),
        grpc_route(),
        reference_grant(),
    ]
}
