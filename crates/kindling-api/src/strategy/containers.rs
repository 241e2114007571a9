//! Validation of containers: name, image, ports, env, envFrom, volume mounts, pull policy,
//! resources, probes, lifecycle handlers, security context ids.

use super::util::{arr_of, quantity_text, str_of};
use super::volumes::validate_local_descending_path;
use crate::meta::{
    dns1123_subdomain_errors, duplicate_str, inclusive_range_error, invalid_raw, invalid_str,
    not_found, not_supported_str, required, validate_dns1123_label, validate_nonnegative,
    validate_qualified_name, IS_NEGATIVE_ERROR_MSG,
};
use crate::quantity::Quantity;
use crate::status::Cause;
use serde_json::Value;

pub(super) const MAX_INT32: i64 = i32::MAX as i64;

/// Whether a port number is in 1..=65535.
pub fn is_valid_port_num(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// IANA service name rules for named ports.
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push(crate::meta::max_len_error(15));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// A port given as a number or a name (`targetPort`, probe ports).
pub fn validate_port_num_or_name(port: Option<&Value>, field: &str) -> Vec<Cause> {
    match port {
        Some(Value::String(name)) => port_name_errors(name)
            .iter()
            .map(|m| invalid_str(field, name, m))
            .collect(),
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            if is_valid_port_num(n) {
                Vec::new()
            } else {
                vec![Cause::invalid(field, n, &inclusive_range_error(1, 65535))]
            }
        }
    }
}

fn validate_container_ports(ports: &[Value], field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                errs.extend(
                    msgs.iter()
                        .map(|m| invalid_str(format!("{idx}.name"), name, m)),
                );
            } else if names.contains(&name) {
                errs.push(duplicate_str(format!("{idx}.name"), name));
            } else {
                names.push(name);
            }
        }
        let cp = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if cp == 0 {
            errs.push(required(format!("{idx}.containerPort"), ""));
        } else if !is_valid_port_num(cp) {
            errs.push(Cause::invalid(
                format!("{idx}.containerPort"),
                cp,
                &inclusive_range_error(1, 65535),
            ));
        }
        let hp = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
        if hp != 0 && !is_valid_port_num(hp) {
            errs.push(Cause::invalid(
                format!("{idx}.hostPort"),
                hp,
                &inclusive_range_error(1, 65535),
            ));
        }
        errs.extend(validate_protocol(
            port.get("protocol"),
            &format!("{idx}.protocol"),
        ));
    }
    errs
}

/// A port protocol: required, TCP, UDP or SCTP.
pub fn validate_protocol(v: Option<&Value>, field: &str) -> Vec<Cause> {
    let p = v.and_then(Value::as_str).unwrap_or("");
    if p.is_empty() {
        vec![required(field, "")]
    } else if !["TCP", "UDP", "SCTP"].contains(&p) {
        vec![not_supported_str(field, p, &["SCTP", "TCP", "UDP"])]
    } else {
        Vec::new()
    }
}

const RELAXED_ENV_NAME_MSG: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

fn env_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_NAME_MSG.to_string());
    }
    errs
}

fn validate_key_selector(sel: &Value, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let name = str_of(sel, "name");
    errs.extend(
        dns1123_subdomain_errors(name)
            .iter()
            .map(|m| invalid_str(format!("{field}.name"), name, m)),
    );
    let key = str_of(sel, "key");
    if key.is_empty() {
        errs.push(required(format!("{field}.key"), ""));
    } else {
        errs.extend(
            crate::meta::config_map_key_errors(key)
                .iter()
                .map(|m| invalid_str(format!("{field}.key"), key, m)),
        );
    }
    errs
}

fn validate_env(env: &[Value], field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (i, ev) in env.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let name = str_of(ev, "name");
        if name.is_empty() {
            errs.push(required(format!("{idx}.name"), ""));
        } else {
            errs.extend(
                env_name_errors(name)
                    .iter()
                    .map(|m| invalid_str(format!("{idx}.name"), name, m)),
            );
        }
        let Some(vf) = ev.get("valueFrom").filter(|v| v.is_object()) else {
            continue;
        };
        let vf_path = format!("{idx}.valueFrom");
        let mut sources = 0;
        if let Some(fr) = vf.get("fieldRef").filter(|v| v.is_object()) {
            sources += 1;
            if str_of(fr, "apiVersion").is_empty() {
                errs.push(required(format!("{vf_path}.fieldRef.apiVersion"), ""));
            } else if str_of(fr, "fieldPath").is_empty() {
                errs.push(required(format!("{vf_path}.fieldRef.fieldPath"), ""));
            }
        }
        if let Some(rf) = vf.get("resourceFieldRef").filter(|v| v.is_object()) {
            sources += 1;
            if str_of(rf, "resource").is_empty() {
                errs.push(required(format!("{vf_path}.resourceFieldRef.resource"), ""));
            }
        }
        if let Some(s) = vf.get("configMapKeyRef").filter(|v| v.is_object()) {
            sources += 1;
            errs.extend(validate_key_selector(
                s,
                &format!("{vf_path}.configMapKeyRef"),
            ));
        }
        if let Some(s) = vf.get("secretKeyRef").filter(|v| v.is_object()) {
            sources += 1;
            errs.extend(validate_key_selector(s, &format!("{vf_path}.secretKeyRef")));
        }
        if sources == 0 {
            errs.push(invalid_str(
                vf_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !str_of(ev, "value").is_empty() {
            errs.push(invalid_str(
                vf_path,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(invalid_str(
                vf_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_env_from(env_from: &[Value], field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (i, ev) in env_from.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let prefix = str_of(ev, "prefix");
        if !prefix.is_empty() {
            errs.extend(
                env_name_errors(prefix)
                    .iter()
                    .map(|m| invalid_str(format!("{idx}.prefix"), prefix, m)),
            );
        }
        let mut sources = 0;
        for key in ["configMapRef", "secretRef"] {
            if let Some(r) = ev.get(key).filter(|v| v.is_object()) {
                sources += 1;
                let name = str_of(r, "name");
                if name.is_empty() {
                    errs.push(required(format!("{idx}.{key}.name"), ""));
                } else {
                    errs.extend(
                        crate::meta::name_errors(super::NameRule::Subdomain, name, true)
                            .iter()
                            .map(|m| invalid_str(format!("{idx}.{key}.name"), name, m)),
                    );
                }
            }
        }
        if sources == 0 {
            errs.push(invalid_str(
                field,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            errs.push(invalid_str(
                field,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(
    mounts: &[Value],
    volumes: &[(String, &'static str)],
    field: &str,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    let mut paths: Vec<&str> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let name = str_of(m, "name");
        if name.is_empty() {
            errs.push(required(format!("{idx}.name"), ""));
        }
        if !volumes.iter().any(|(n, _)| n == name) {
            errs.push(not_found(format!("{idx}.name"), name));
        }
        let path = str_of(m, "mountPath");
        if path.is_empty() {
            errs.push(required(format!("{idx}.mountPath"), ""));
        }
        if paths.contains(&path) {
            errs.push(invalid_str(
                format!("{idx}.mountPath"),
                path,
                "must be unique",
            ));
        }
        paths.push(path);
        let sub = str_of(m, "subPath");
        if !sub.is_empty() {
            errs.extend(validate_local_descending_path(
                sub,
                &format!("{field}.subPath"),
            ));
        }
        let expr = str_of(m, "subPathExpr");
        if !expr.is_empty() {
            if !sub.is_empty() {
                errs.push(invalid_str(
                    format!("{idx}.subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                expr,
                &format!("{field}.subPathExpr"),
            ));
        }
    }
    errs
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
    "storage",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Whether requests of a resource may be below its limit (native resources other than huge pages).
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !is_hugepages(name)
}

fn validate_container_resource_name(name: &str, field: &str) -> Vec<Cause> {
    let mut errs = validate_qualified_name(name, field);
    if errs.is_empty()
        && !name.contains('/')
        && !(STANDARD_RESOURCES.contains(&name)
            || is_hugepages(name)
            || name.starts_with("requests.hugepages-"))
    {
        errs.push(invalid_str(
            field,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !(["cpu", "memory", "ephemeral-storage"].contains(&name) || is_hugepages(name)) {
            errs.push(invalid_str(
                field,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if name.starts_with("requests.")
        || name.contains("kubernetes.io/") && !name.starts_with("kubernetes.io/")
    {
        errs.push(invalid_str(
            field,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// A quantity value: well formed (upstream's parse error otherwise) and not negative.
pub fn validate_quantity(v: &Value, field: &str) -> (Vec<Cause>, Option<Quantity>) {
    let text = quantity_text(v);
    match Quantity::from_json(v) {
        Err(e) => (vec![invalid_str(field, &text, &e.to_string())], None),
        Ok(q) if q.sign() < 0 => (
            vec![invalid_str(field, &text, IS_NEGATIVE_ERROR_MSG)],
            Some(q),
        ),
        Ok(q) => (Vec::new(), Some(q)),
    }
}

/// A container's `resources`: names, quantities, and requests within limits.
pub fn validate_resources(res: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(res) = res.filter(|r| r.is_object()) else {
        return errs;
    };
    let lim_path = format!("{field}.limits");
    let req_path = format!("{field}.requests");
    let limits = res.get("limits").and_then(Value::as_object);
    let mut lim_cpu_mem = false;
    let mut req_cpu_mem = false;
    let mut huge = false;
    for (name, q) in limits.into_iter().flatten() {
        let p = format!("{lim_path}[{name}]");
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity(q, &p).0);
        lim_cpu_mem |= name == "cpu" || name == "memory";
        huge |= is_hugepages(name);
    }
    for (name, q) in res
        .get("requests")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let p = format!("{req_path}[{name}]");
        errs.extend(validate_container_resource_name(name, &p));
        let (qe, request) = validate_quantity(q, &p);
        errs.extend(qe);
        let text = quantity_text(q);
        match limits.and_then(|l| l.get(name)) {
            Some(lq) => {
                let limit_text = quantity_text(lq);
                if let (Some(r), Ok(l)) = (request, Quantity::from_json(lq)) {
                    if r != l && !overcommit_allowed(name) {
                        errs.push(invalid_str(
                            &req_path,
                            &text,
                            &format!("must be equal to {name} limit of {limit_text}"),
                        ));
                    } else if r > l {
                        errs.push(invalid_str(
                            &req_path,
                            &text,
                            &format!("must be less than or equal to {name} limit of {limit_text}"),
                        ));
                    }
                }
            }
            None if !overcommit_allowed(name) => {
                errs.push(required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
        req_cpu_mem |= name == "cpu" || name == "memory";
        huge |= is_hugepages(name);
    }
    if huge && !lim_cpu_mem && !req_cpu_mem {
        errs.push(Cause::forbidden(field, "HugePages require cpu or memory"));
    }
    errs
}

fn validate_id(v: Option<&Value>, field: &str) -> Vec<Cause> {
    match v.and_then(Value::as_i64) {
        Some(n) if !(0..=MAX_INT32).contains(&n) => vec![Cause::invalid(
            field,
            n,
            &inclusive_range_error(0, MAX_INT32),
        )],
        _ => Vec::new(),
    }
}

pub(super) fn validate_security_context(sc: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(sc) = sc.filter(|s| s.is_object()) else {
        return errs;
    };
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        errs.extend(validate_id(sc.get(key), &format!("{field}.{key}")));
    }
    for (i, g) in arr_of(sc, "supplementalGroups").iter().enumerate() {
        errs.extend(validate_id(
            Some(g),
            &format!("{field}.supplementalGroups[{i}]"),
        ));
    }
    errs
}

fn validate_handler(h: &Value, field: &str, grace: Option<i64>, allow_sleep: bool) -> Vec<Cause> {
    let mut errs = Vec::new();
    let mut count = 0;
    let kinds: &[&str] = if allow_sleep {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    for kind in kinds {
        let Some(a) = h.get(*kind).filter(|v| v.is_object()) else {
            continue;
        };
        let p = format!("{field}.{kind}");
        if count > 0 {
            errs.push(Cause::forbidden(
                p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "exec" if arr_of(a, "command").is_empty() => {
                errs.push(required(format!("{p}.command"), ""));
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(required(format!("{p}.path"), ""));
                }
                errs.extend(validate_port_num_or_name(
                    a.get("port"),
                    &format!("{p}.port"),
                ));
                let scheme = str_of(a, "scheme");
                if !["HTTP", "HTTPS"].contains(&scheme) {
                    errs.push(not_supported_str(
                        format!("{p}.scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" | "grpc" => errs.extend(validate_port_num_or_name(
                a.get("port"),
                &format!("{p}.port"),
            )),
            "sleep" => {
                let secs = a.get("seconds").and_then(Value::as_i64).unwrap_or(0);
                if let Some(g) = grace {
                    if secs < 0 || secs > g {
                        errs.push(Cause::invalid(
                            p,
                            secs,
                            &format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(required(field, "must specify a handler type"));
    }
    errs
}

fn validate_probe(
    probe: Option<&Value>,
    field: &str,
    grace: Option<i64>,
    kind: &str,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(p) = probe.filter(|p| p.is_object()) else {
        return errs;
    };
    errs.extend(validate_handler(p, field, grace, false));
    for key in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        errs.extend(validate_nonnegative(p.get(key), &format!("{field}.{key}")));
    }
    if let Some(t) = p
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        if t <= 0 {
            errs.push(Cause::invalid(
                format!("{field}.terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
    }
    let success = p
        .get("successThreshold")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if kind != "readinessProbe" && success != 1 {
        errs.push(Cause::invalid(
            format!("{field}.successThreshold"),
            success,
            "must be 1",
        ));
    }
    if kind == "readinessProbe"
        && p.get("terminationGracePeriodSeconds")
            .is_some_and(|v| !v.is_null())
    {
        errs.push(invalid_raw(
            format!("{field}.terminationGracePeriodSeconds"),
            &p["terminationGracePeriodSeconds"].to_string(),
            "must not be set for readinessProbes",
        ));
    }
    errs
}

/// The lifecycle hooks and the three probes of a container that runs them (a regular container,
/// or a restartable init container).
pub(super) fn validate_lifecycle_and_probes(
    c: &Value,
    field: &str,
    grace: Option<i64>,
) -> Vec<Cause> {
    let mut errs = validate_lifecycle(c, field, grace);
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        errs.extend(validate_probe(
            c.get(probe),
            &format!("{field}.{probe}"),
            grace,
            probe,
        ));
    }
    errs
}

fn validate_lifecycle(c: &Value, field: &str, grace: Option<i64>) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(lc) = c.get("lifecycle").filter(|l| l.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get(hook).filter(|h| h.is_object()) {
                errs.extend(validate_handler(
                    h,
                    &format!("{field}.lifecycle.{hook}"),
                    grace,
                    true,
                ));
            }
        }
    }
    errs
}

pub(super) fn validate_container_common(
    c: &Value,
    volumes: &[(String, &'static str)],
    path: &str,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(required(format!("{path}.name"), ""));
    } else {
        errs.extend(validate_dns1123_label(name, &format!("{path}.name")));
    }
    if str_of(c, "image").is_empty() {
        errs.push(required(format!("{path}.image"), ""));
    }
    let tmp = str_of(c, "terminationMessagePolicy");
    match tmp {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(required(format!("{path}.terminationMessagePolicy"), "")),
        other => errs.push(not_supported_str(
            format!("{path}.terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(
        arr_of(c, "ports"),
        &format!("{path}.ports"),
    ));
    errs.extend(validate_env(arr_of(c, "env"), &format!("{path}.env")));
    errs.extend(validate_env_from(
        arr_of(c, "envFrom"),
        &format!("{path}.envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        arr_of(c, "volumeMounts"),
        volumes,
        &format!("{path}.volumeMounts"),
    ));
    let policy = str_of(c, "imagePullPolicy");
    match policy {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(required(format!("{path}.imagePullPolicy"), "")),
        other => errs.push(not_supported_str(
            format!("{path}.imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    errs.extend(validate_resources(
        c.get("resources"),
        &format!("{path}.resources"),
    ));
    errs.extend(validate_security_context(
        c.get("securityContext"),
        &format!("{path}.securityContext"),
    ));
    errs
}

pub(super) fn host_port_conflicts(
    containers: &[&Value],
    field: &str,
    seen: &mut Vec<String>,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in arr_of(c, "ports").iter().enumerate() {
            let hp = p.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", str_of(p, "protocol"), str_of(p, "hostIP"), hp);
            if seen.contains(&key) {
                errs.push(duplicate_str(
                    format!("{field}[{ci}].ports[{pi}].hostPort"),
                    &key,
                ));
            } else {
                seen.push(key);
            }
        }
    }
    errs
}
