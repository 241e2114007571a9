//! networking.k8s.io/v1 Ingress and IngressClass (pkg/registry/networking/{ingress,
//! ingressclass} and pkg/apis/networking/validation): an Ingress's generation follows its
//! spec; rules, paths (an invalid path for its pathType is a 422), backends, TLS entries and
//! the class name are validated with upstream's field paths and messages; an IngressClass's
//! controller is a required, immutable domain-prefixed path.

use super::containers::{is_valid_port_num, port_name_errors};
use super::util::{arr_of, spec_of, str_of};
use super::Strategy;
use crate::meta::{
    dns1035_label_errors, dns1123_subdomain_errors, go_quote, inclusive_range_error, invalid_raw,
    invalid_str, not_supported_str, path_segment_errors, regex_error, required, validate_immutable,
    wildcard_dns1123_subdomain_errors,
};
use crate::status::Cause;
use serde_json::Value;
use std::net::IpAddr;

const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const PATH_TYPES: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: [&str; 2] = ["/..", "/."];

pub struct IngressStrategy;

impl Strategy for IngressStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_spec(spec_of(obj), "spec");
        let annotation = obj["metadata"]["annotations"][CLASS_ANNOTATION].as_str();
        let class = spec_of(obj)["ingressClassName"].as_str();
        if let (Some(a), Some(c)) = (annotation, class) {
            if a != c {
                errs.push(invalid_str(
                    format!("annotations.{CLASS_ANNOTATION}"),
                    a,
                    "must match `ingressClassName` when both are specified",
                ));
            }
        }
        errs
    }
}

fn validate_spec(spec: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let rules = arr_of(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|b| !b.is_null());
    if rules.is_empty() && default_backend.is_none() {
        let value = if spec.get("rules").is_some_and(Value::is_array) {
            "[]"
        } else {
            "null"
        };
        errs.push(invalid_raw(
            path,
            value,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        errs.extend(validate_backend(b, &format!("{path}.defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        errs.extend(validate_rule(rule, &format!("{path}.rules[{i}]")));
    }
    for (i, tls) in arr_of(spec, "tls").iter().enumerate() {
        let at = format!("{path}.tls[{i}]");
        for (j, host) in arr_of(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            let msgs = if host.contains('*') {
                wildcard_dns1123_subdomain_errors(host)
            } else {
                dns1123_subdomain_errors(host)
            };
            for msg in msgs {
                errs.push(invalid_str(format!("{at}.hosts[{j}]"), host, &msg));
            }
        }
        let secret = str_of(tls, "secretName");
        if !secret.is_empty() {
            for msg in dns1123_subdomain_errors(secret) {
                errs.push(invalid_str(format!("{at}.secretName"), secret, &msg));
            }
        }
    }
    if let Some(class) = spec["ingressClassName"].as_str() {
        for msg in dns1123_subdomain_errors(class) {
            errs.push(invalid_str(format!("{path}.ingressClassName"), class, &msg));
        }
    }
    errs
}

fn validate_rule(rule: &Value, at: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let host = str_of(rule, "host");
    if !host.is_empty() {
        if host.parse::<IpAddr>().is_ok() {
            errs.push(invalid_str(
                format!("{at}.host"),
                host,
                "must be a DNS name, not an IP address",
            ));
        }
        let msgs = if host.contains('*') {
            wildcard_dns1123_subdomain_errors(host)
        } else {
            dns1123_subdomain_errors(host)
        };
        for msg in msgs {
            errs.push(invalid_str(format!("{at}.host"), host, &msg));
        }
    }
    if let Some(http) = rule.get("http").filter(|h| !h.is_null()) {
        let paths = arr_of(http, "paths");
        if paths.is_empty() {
            errs.push(required(format!("{at}.http.paths"), ""));
        }
        for (i, p) in paths.iter().enumerate() {
            errs.extend(validate_path(p, &format!("{at}.http.paths[{i}]")));
        }
    }
    errs
}

fn validate_path(p: &Value, at: &str) -> Vec<Cause> {
    let Some(path_type) = p["pathType"].as_str() else {
        return vec![required(
            format!("{at}.pathType"),
            "pathType must be specified",
        )];
    };
    let mut errs = Vec::new();
    let path = str_of(p, "path");
    let field = format!("{at}.path");
    match path_type {
        "Exact" | "Prefix" => {
            if !path.starts_with('/') {
                errs.push(invalid_str(&field, path, "must be an absolute path"));
            }
            if !path.is_empty() {
                for seq in INVALID_PATH_SEQUENCES {
                    if path.contains(seq) {
                        errs.push(invalid_str(
                            &field,
                            path,
                            &format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in INVALID_PATH_SUFFIXES {
                    if path.ends_with(suffix) {
                        errs.push(invalid_str(
                            &field,
                            path,
                            &format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !path.is_empty() && !path.starts_with('/') {
                errs.push(invalid_str(&field, path, "must be an absolute path"));
            }
        }
        other => errs.push(not_supported_str(
            format!("{at}.pathType"),
            other,
            &PATH_TYPES,
        )),
    }
    errs.extend(validate_backend(&p["backend"], &format!("{at}.backend")));
    errs
}

fn validate_backend(b: &Value, at: &str) -> Vec<Cause> {
    let service = b.get("service").filter(|s| !s.is_null());
    let resource = b.get("resource").filter(|r| !r.is_null());
    match (service, resource) {
        (Some(_), Some(_)) => vec![invalid_str(
            at,
            "",
            "cannot set both resource and service backends",
        )],
        (None, Some(r)) => validate_resource_ref(r, &format!("{at}.resource")),
        (Some(svc), None) => {
            let mut errs = Vec::new();
            let name = str_of(svc, "name");
            if name.is_empty() {
                errs.push(required(format!("{at}.service.name"), ""));
            } else {
                for msg in dns1035_label_errors(name) {
                    errs.push(invalid_str(format!("{at}.service.name"), name, &msg));
                }
            }
            let port = &svc["port"];
            let port_name = str_of(port, "name");
            let number = port["number"].as_i64().unwrap_or(0);
            match (!port_name.is_empty(), number != 0) {
                (true, true) => errs.push(invalid_str(
                    at,
                    "",
                    "cannot set both port name & port number",
                )),
                (true, false) => {
                    for msg in port_name_errors(port_name) {
                        errs.push(invalid_str(
                            format!("{at}.service.port.name"),
                            port_name,
                            &msg,
                        ));
                    }
                }
                (false, true) => {
                    if !is_valid_port_num(number) {
                        errs.push(invalid_raw(
                            format!("{at}.service.port.number"),
                            &number.to_string(),
                            &inclusive_range_error(1, 65535),
                        ));
                    }
                }
                (false, false) => errs.push(required(at, "port name or number is required")),
            }
            errs
        }
        (None, None) => vec![invalid_str(
            at,
            "",
            "resource or service backend is required",
        )],
    }
}

/// A TypedLocalObjectReference (a resource backend).
fn validate_resource_ref(r: &Value, at: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(group) = r["apiGroup"].as_str() {
        for msg in dns1123_subdomain_errors(group) {
            errs.push(invalid_str(format!("{at}.apiGroup"), group, &msg));
        }
    }
    for field in ["kind", "name"] {
        let v = str_of(r, field);
        if v.is_empty() {
            errs.push(required(format!("{at}.{field}"), ""));
        } else {
            for msg in path_segment_errors(v, false) {
                errs.push(invalid_str(format!("{at}.{field}"), v, &msg));
            }
        }
    }
    errs
}

pub struct IngressClassStrategy;

/// Upstream's httpPathFmt, the path half of a domain-prefixed path.
const HTTP_PATH_FMT: &str = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+";

impl Strategy for IngressClassStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = Vec::new();
        let controller = str_of(spec, "controller");
        if controller.is_empty() {
            errs.push(required("spec.controller", ""));
        } else if controller.len() > 250 {
            errs.push(crate::meta::too_long("spec.controller", 250));
        } else {
            errs.extend(domain_prefixed_path_errors("spec.controller", controller));
        }
        if let Some(params) = spec.get("parameters").filter(|p| !p.is_null()) {
            errs.extend(validate_parameters(params, "spec.parameters"));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let new_controller = spec_of(new).get("controller");
        validate_immutable(
            new_controller,
            spec_of(old).get("controller"),
            "spec.controller",
            || go_quote(new_controller.and_then(Value::as_str).unwrap_or_default()),
        )
    }
}

/// Upstream's IsDomainPrefixedPath.
fn domain_prefixed_path_errors(field: &str, value: &str) -> Vec<Cause> {
    let Some((host, path)) = value
        .split_once('/')
        .filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        return vec![invalid_str(
            field,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errs: Vec<Cause> = dns1123_subdomain_errors(host)
        .iter()
        .map(|msg| invalid_str(field, host, msg))
        .collect();
    let path_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c));
    if !path_ok {
        errs = vec![invalid_str(
            field,
            path,
            &regex_error("Invalid path", HTTP_PATH_FMT, &[]),
        )];
    }
    errs
}

fn validate_parameters(p: &Value, at: &str) -> Vec<Cause> {
    let mut errs = validate_resource_ref(p, at);
    let Some(scope) = p["scope"].as_str() else {
        errs.push(required(format!("{at}.scope"), ""));
        return errs;
    };
    match scope {
        "Namespace" => match p["namespace"].as_str() {
            None => errs.push(required(
                format!("{at}.namespace"),
                "`parameters.scope` is set to 'Namespace'",
            )),
            Some(ns) => {
                for msg in crate::meta::dns1123_label_errors(ns) {
                    errs.push(invalid_str(format!("{at}.namespace"), ns, &msg));
                }
            }
        },
        "Cluster" => {
            if p.get("namespace").is_some_and(|n| !n.is_null()) {
                errs.push(Cause {
                    reason: "FieldValueForbidden",
                    message: "Forbidden: `parameters.scope` is set to 'Cluster'".into(),
                    field: format!("{at}.namespace"),
                });
            }
        }
        other => errs.push(not_supported_str(
            format!("{at}.scope"),
            other,
            &["Cluster", "Namespace"],
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summaries(errs: Vec<Cause>) -> Vec<String> {
        errs.iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    fn with_path(path: &str, path_type: &str) -> Value {
        json!({"spec": {"rules": [{"http": {"paths": [{"path": path, "pathType": path_type,
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    }

    #[test]
    fn paths_are_checked_against_their_type() {
        let p = "spec.rules[0].http.paths[0]";
        for (path, path_type, want) in [
            ("/foo", "Prefix", vec![]),
            ("/foo(/|$)(.*)", "ImplementationSpecific", vec![]),
            ("", "ImplementationSpecific", vec![]),
            (
                "foo",
                "Prefix",
                vec![format!("{p}.path: Invalid value: \"foo\": must be an absolute path")],
            ),
            (
                "/a//b/..",
                "Exact",
                vec![
                    format!("{p}.path: Invalid value: \"/a//b/..\": must not contain '//'"),
                    format!("{p}.path: Invalid value: \"/a//b/..\": cannot end with '/..'"),
                ],
            ),
            (
                "rel",
                "ImplementationSpecific",
                vec![format!("{p}.path: Invalid value: \"rel\": must be an absolute path")],
            ),
            (
                "/x",
                "Regex",
                vec![format!("{p}.pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"")],
            ),
        ] {
            assert_eq!(
                summaries(IngressStrategy.validate(&with_path(path, path_type))),
                want,
                "{path} {path_type}"
            );
        }
        let mut no_type = with_path("/x", "Prefix");
        no_type["spec"]["rules"][0]["http"]["paths"][0]
            .as_object_mut()
            .unwrap()
            .remove("pathType");
        assert_eq!(
            summaries(IngressStrategy.validate(&no_type)),
            [format!(
                "{p}.pathType: Required value: pathType must be specified"
            )]
        );
    }

    #[test]
    fn spec_backends_hosts_and_tls() {
        let ing = json!({
            "metadata": {"annotations": {CLASS_ANNOTATION: "nginx"}},
            "spec": {
                "ingressClassName": "kindling",
                "defaultBackend": {"service": {"name": "Web", "port": {"name": "http", "number": 80}}},
                "rules": [
                    {"host": "10.0.0.1", "http": {"paths": []}},
                    {"host": "*.ok.example.com"},
                    {"host": "a.*.example.com"},
                ],
                "tls": [{"hosts": ["*.example.com", "Bad_Host"], "secretName": "Not_Valid"}],
            },
        });
        let got = summaries(IngressStrategy.validate(&ing));
        assert_eq!(got[0], "spec.defaultBackend.service.name: Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
        assert_eq!(
            got[1],
            "spec.defaultBackend: Invalid value: \"\": cannot set both port name & port number"
        );
        assert_eq!(
            got[2],
            "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address"
        );
        assert_eq!(got[3], "spec.rules[0].http.paths: Required value");
        assert_eq!(got[4], "spec.rules[2].host: Invalid value: \"a.*.example.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
        assert!(
            got[5].starts_with(
                "spec.tls[0].hosts[1]: Invalid value: \"Bad_Host\": a lowercase RFC 1123 subdomain"
            ),
            "{}",
            got[5]
        );
        assert!(
            got[6].starts_with("spec.tls[0].secretName: Invalid value: \"Not_Valid\""),
            "{}",
            got[6]
        );
        assert_eq!(
            got[7],
            "annotations.kubernetes.io/ingress.class: Invalid value: \"nginx\": must match `ingressClassName` when both are specified"
        );
        assert_eq!(got.len(), 8, "{got:#?}");
        assert_eq!(
            summaries(IngressStrategy.validate(&json!({"spec": {}}))),
            ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]
        );
        let backend =
            |b: Value| summaries(IngressStrategy.validate(&json!({"spec": {"defaultBackend": b}})));
        assert_eq!(
            backend(json!({})),
            ["spec.defaultBackend: Invalid value: \"\": resource or service backend is required"]
        );
        assert_eq!(
            backend(json!({"service": {"name": "web", "port": {"number": 70000}}})),
            ["spec.defaultBackend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"]
        );
        assert_eq!(
            backend(json!({"service": {"name": "web"}})),
            ["spec.defaultBackend: Required value: port name or number is required"]
        );
        assert_eq!(
            backend(json!({"resource": {"kind": "Bucket"}})),
            ["spec.defaultBackend.resource.name: Required value"]
        );
    }

    #[test]
    fn ingress_classes() {
        let class = |controller: &str| json!({"spec": {"controller": controller}});
        assert!(IngressClassStrategy
            .validate(&class("kindling.dev/ingress-controller"))
            .is_empty());
        assert_eq!(
            summaries(IngressClassStrategy.validate(&class("nginx"))),
            ["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        assert_eq!(
            summaries(IngressClassStrategy.validate(&json!({"spec": {}}))),
            ["spec.controller: Required value"]
        );
        assert_eq!(
            summaries(IngressClassStrategy.validate_update(&class("a.io/x"), &class("b.io/x"))),
            ["spec.controller: Invalid value: \"a.io/x\": field is immutable"]
        );
        let params = json!({"spec": {"controller": "a.io/x", "parameters": {
            "kind": "Params", "name": "p", "scope": "Namespace"}}});
        assert_eq!(
            summaries(IngressClassStrategy.validate(&params)),
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
        );
    }
}
