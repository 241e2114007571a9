//! Validation of pod specs and pod templates (core validation's `ValidatePodSpec`,
//! `ValidatePodTemplateSpec` and what they call), with upstream's field paths and messages.
//! Covered: volumes and their common sources, containers and init containers (names, images,
//! ports, env, envFrom, volume mounts, pull policy, resources, probes, lifecycle, security
//! context ids), ephemeral containers (upstream's allow list of their fields, unique names,
//! targets), restart and DNS policies, node selector, tolerations, names of service account,
//! node, priority class, hostname/subdomain, active deadline, OS. Not covered: affinity, topology
//! spread, host aliases, sysctls, seccomp/AppArmor, resource claims, volume devices' details.

pub use super::containers::{
    is_valid_port_num, port_name_errors, validate_port_num_or_name, validate_protocol,
    validate_quantity, validate_resources,
};
pub use super::volumes::validate_volumes;

use super::containers::{
    host_port_conflicts, validate_container_common, validate_lifecycle_and_probes,
    validate_security_context, MAX_INT32,
};
use super::util::{arr_of, spec_of, str_of};
use crate::meta::{
    duplicate_str, inclusive_range_error, invalid_str, label_value_errors, not_found,
    not_supported_str, required, validate_annotations, validate_dns1123_label,
    validate_dns1123_subdomain, validate_labels, validate_qualified_name,
};
use crate::status::Cause;
use serde_json::Value;

fn validate_tolerations(tols: &[Value], field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let idx = format!("{field}[{i}]");
        let key = str_of(t, "key");
        let op = str_of(t, "operator");
        let effect = str_of(t, "effect");
        if !key.is_empty() {
            errs.extend(validate_qualified_name(key, &format!("{idx}.key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(invalid_str(
                format!("{idx}.operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.get("tolerationSeconds").is_some_and(|v| !v.is_null()) && effect != "NoExecute" {
            errs.push(invalid_str(
                format!("{idx}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_of(t, "value");
        match op {
            "Equal" | "" => {
                let msgs = label_value_errors(value);
                if !msgs.is_empty() {
                    errs.push(invalid_str(
                        format!("{idx}.operator"),
                        value,
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid_str(
                        format!("{idx}.operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported_str(
                format!("{idx}.operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(validate_taint_effect(
                effect,
                true,
                &format!("{idx}.effect"),
            ));
        }
    }
    errs
}

/// A taint effect: NoSchedule, PreferNoSchedule or NoExecute.
pub fn validate_taint_effect(effect: &str, allow_empty: bool, field: &str) -> Vec<Cause> {
    if effect.is_empty() && !allow_empty {
        return vec![required(field, "")];
    }
    if ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        Vec::new()
    } else {
        vec![not_supported_str(
            field,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )]
    }
}

/// `ValidatePodSpec`: `spec` at `path` (`spec` of a pod, `spec.template.spec` of a workload).
/// `is_pod` adds the checks upstream makes only for pods.
pub fn validate_pod_spec(spec: &Value, path: &str, is_pod: bool) -> Vec<Cause> {
    let mut errs = Vec::new();
    let grace = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if spec
        .get("terminationGracePeriodSeconds")
        .is_none_or(Value::is_null)
    {
        errs.push(required(
            format!("{path}.terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (verrs, volumes) = validate_volumes(arr_of(spec, "volumes"), &format!("{path}.volumes"));
    errs.extend(verrs);

    // Containers.
    let containers = arr_of(spec, "containers");
    let cpath = format!("{path}.containers");
    if containers.is_empty() {
        errs.push(required(&cpath, ""));
    } else {
        let mut names: Vec<&str> = Vec::new();
        for (i, c) in containers.iter().enumerate() {
            let p = format!("{cpath}[{i}]");
            errs.extend(validate_container_common(c, &volumes, &p));
            let name = str_of(c, "name");
            if names.contains(&name) {
                errs.push(duplicate_str(format!("{p}.name"), name));
            } else {
                names.push(name);
            }
            errs.extend(validate_lifecycle_and_probes(c, &p, grace));
            if c.get("restartPolicy").is_some_and(|v| !v.is_null()) {
                errs.push(Cause::forbidden(
                    format!("{p}.restartPolicy"),
                    "may not be set for non-init containers",
                ));
            }
        }
        let refs: Vec<&Value> = containers.iter().collect();
        errs.extend(host_port_conflicts(&refs, &cpath, &mut Vec::new()));
    }

    // Init containers.
    let ipath = format!("{path}.initContainers");
    let mut all_names: Vec<&str> = containers.iter().map(|c| str_of(c, "name")).collect();
    for (i, c) in arr_of(spec, "initContainers").iter().enumerate() {
        let p = format!("{ipath}[{i}]");
        errs.extend(validate_container_common(c, &volumes, &p));
        let mut restart_always = false;
        if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
            if rp == "Always" {
                restart_always = true;
            } else {
                errs.push(not_supported_str(
                    format!("{p}.restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        let name = str_of(c, "name");
        if all_names.contains(&name) {
            errs.push(duplicate_str(format!("{p}.name"), name));
        } else if !name.is_empty() {
            all_names.push(name);
        }
        errs.extend(host_port_conflicts(&[c], &ipath, &mut Vec::new()));
        if restart_always {
            errs.extend(validate_lifecycle_and_probes(c, &p, grace));
        } else {
            for key in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if c.get(key).is_some_and(|v| !v.is_null()) {
                    errs.push(Cause::forbidden(
                        format!("{p}.{key}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }

    // Ephemeral containers (added through `pods/<name>/ephemeralcontainers`).
    errs.extend(validate_ephemeral_containers(spec, &volumes, path, is_pod));

    // Host network: host ports must match container ports.
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for (i, c) in containers.iter().enumerate() {
            for (j, p) in arr_of(c, "ports").iter().enumerate() {
                let hp = p.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
                let cp = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
                if (is_pod || hp != 0) && hp != cp {
                    errs.push(Cause::invalid(
                        format!("{cpath}[{i}].ports[{j}].hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }

    match str_of(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(required(format!("{path}.restartPolicy"), "")),
        other => errs.push(not_supported_str(
            format!("{path}.restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns = str_of(spec, "dnsPolicy");
    match dns {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(required(format!("{path}.dnsPolicy"), "")),
        other => errs.push(not_supported_str(
            format!("{path}.dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        spec.get("nodeSelector"),
        &format!("{path}.nodeSelector"),
    ));
    errs.extend(validate_security_context(
        spec.get("securityContext"),
        &format!("{path}.securityContext"),
    ));
    if dns == "None" {
        match spec.get("dnsConfig").filter(|v| v.is_object()) {
            None => errs.push(required(
                format!("{path}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )),
            Some(cfg) if arr_of(cfg, "nameservers").is_empty() => errs.push(required(
                format!("{path}.dnsConfig.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )),
            _ => {}
        }
    }
    for (key, rule) in [
        ("serviceAccountName", true),
        ("nodeName", true),
        ("priorityClassName", true),
    ] {
        let v = str_of(spec, key);
        if rule && !v.is_empty() {
            errs.extend(validate_dns1123_subdomain(v, &format!("{path}.{key}")));
        }
    }
    if let Some(ads) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=MAX_INT32).contains(&ads) {
            errs.push(Cause::invalid(
                format!("{path}.activeDeadlineSeconds"),
                ads,
                &inclusive_range_error(1, MAX_INT32),
            ));
        }
    }
    for key in ["hostname", "subdomain"] {
        let v = str_of(spec, key);
        if !v.is_empty() {
            errs.extend(validate_dns1123_label(v, &format!("{path}.{key}")));
        }
    }
    errs.extend(validate_tolerations(
        arr_of(spec, "tolerations"),
        &format!("{path}.tolerations"),
    ));
    if let Some(pp) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if !["PreemptLowerPriority", "Never"].contains(&pp) {
            errs.push(not_supported_str(
                format!("{path}.preemptionPolicy"),
                pp,
                &["PreemptLowerPriority", "Never"],
            ));
        }
    }
    if let Some(os) = spec.get("os").filter(|v| v.is_object()) {
        let name = str_of(os, "name");
        if name.is_empty() {
            errs.push(required(format!("{path}.os.name"), "cannot be empty"));
        } else if !["linux", "windows"].contains(&name) {
            errs.push(not_supported_str(
                format!("{path}.os"),
                name,
                &["linux", "windows"],
            ));
        }
    }

    if is_pod {
        if str_of(spec, "serviceAccountName").is_empty() {
            for (vi, vol) in arr_of(spec, "volumes").iter().enumerate() {
                for (si, src) in vol
                    .get("projected")
                    .map_or(&[][..], |p| arr_of(p, "sources"))
                    .iter()
                    .enumerate()
                {
                    if src.get("serviceAccountToken").is_some_and(|v| !v.is_null()) {
                        errs.push(Cause::forbidden(
                            format!(
                                "{path}.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                            ),
                            "must not be specified when serviceAccountName is not set",
                        ));
                    }
                }
            }
        }
        for key in ["containers", "initContainers"] {
            for (i, c) in arr_of(spec, key).iter().enumerate() {
                let image = str_of(c, "image");
                if image.len() != image.trim().len() {
                    errs.push(invalid_str(
                        format!("{path}.{key}[{i}].image"),
                        image,
                        "must not have leading or trailing whitespace",
                    ));
                }
            }
        }
    }
    errs
}

/// The fields of an ephemeral container (in `EphemeralContainerCommon`'s order) that it may
/// not set: upstream's allow list, inverted (`validateFieldAllowList`).
const EPHEMERAL_FORBIDDEN: &[&str] = &[
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
];

/// Whether a field is set in Go's sense (differs from its zero value): present and not null;
/// a list, map or string must not be empty. `resources` is a struct value: `{}` is its zero.
fn is_set(key: &str, v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(m)) if key == "resources" => m.values().any(|v| is_set("", Some(v))),
        Some(_) => true,
    }
}

/// `validateEphemeralContainers`: each ephemeral container is a container (name, image, env,
/// mounts…), its name unique among every container of the pod, its target an existing
/// (init) container, and none of the fields that would make the pod rely on it.
fn validate_ephemeral_containers(
    spec: &Value,
    volumes: &[(String, &'static str)],
    path: &str,
    is_pod: bool,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    let others: Vec<&str> = arr_of(spec, "containers")
        .iter()
        .chain(arr_of(spec, "initContainers"))
        .map(|c| str_of(c, "name"))
        .collect();
    let mut all_names = others.clone();
    for (i, ec) in arr_of(spec, "ephemeralContainers").iter().enumerate() {
        let p = format!("{path}.ephemeralContainers[{i}]");
        errs.extend(validate_container_common(ec, volumes, &p));
        let image = str_of(ec, "image");
        if is_pod && image.len() != image.trim().len() {
            errs.push(invalid_str(
                format!("{p}.image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
        let name = str_of(ec, "name");
        if all_names.contains(&name) {
            errs.push(duplicate_str(format!("{p}.name"), name));
        } else {
            all_names.push(name);
        }
        let target = str_of(ec, "targetContainerName");
        if !target.is_empty() && !others.contains(&target) {
            errs.push(not_found(format!("{p}.targetContainerName"), target));
        }
        for key in EPHEMERAL_FORBIDDEN {
            if is_set(key, ec.get(*key)) {
                errs.push(Cause::forbidden(
                    format!("{p}.{key}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in arr_of(ec, "volumeMounts").iter().enumerate() {
            for key in ["subPath", "subPathExpr"] {
                if !str_of(m, key).is_empty() {
                    errs.push(Cause::forbidden(
                        format!("{p}.volumeMounts[{j}].{key}"),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
    errs
}

/// `ValidatePodTemplateSpec`: a workload's `spec.template` at `path` (`spec.template`). Its labels
/// and annotations are reported at `path.labels`/`path.annotations`, as upstream does.
pub fn validate_pod_template(template: Option<&Value>, path: &str) -> Vec<Cause> {
    let Some(t) = template.filter(|t| t.is_object()) else {
        return vec![required(path, "")];
    };
    let meta = t.get("metadata");
    let mut errs = validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{path}.labels"),
    );
    errs.extend(validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{path}.annotations"),
    ));
    let spec = spec_of(t);
    errs.extend(validate_pod_spec(spec, &format!("{path}.spec"), false));
    if !arr_of(spec, "ephemeralContainers").is_empty() {
        errs.push(Cause::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::podspec::default_pod_spec;
    use serde_json::json;

    fn check(mut spec: Value) -> Vec<String> {
        default_pod_spec(&mut spec);
        validate_pod_spec(&spec, "spec", true)
            .iter()
            .map(Cause::summary)
            .collect()
    }

    #[test]
    fn minimal_spec_is_valid() {
        assert!(check(json!({"containers": [{"name": "web", "image": "nginx"}]})).is_empty());
    }

    #[test]
    fn typical_mistakes() {
        assert_eq!(check(json!({})), vec!["spec.containers: Required value"]);
        assert_eq!(
            check(json!({"containers": [{"name": "web"}]})),
            vec!["spec.containers[0].image: Required value"]
        );
        let errs = check(json!({"containers": [{"name": "Web_1", "image": "x"}]}));
        assert!(errs[0].starts_with(
            "spec.containers[0].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label"
        ));
        assert_eq!(
            check(
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]})
            ),
            vec!["spec.containers[1].name: Duplicate value: \"a\""]
        );
        assert_eq!(
            check(
                json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "a", "image": "y"}]})
            ),
            vec!["spec.initContainers[0].name: Duplicate value: \"a\""]
        );
        assert_eq!(
            check(json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}]}]})),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
        assert_eq!(
            check(json!({"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]})),
            vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""]
        );
    }

    #[test]
    fn volumes_and_mounts() {
        let errs = check(
            json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cfg", "mountPath": "/d"}]}],
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}, "secret": {"secretName": "s"}}, {"name": "cfg", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[2].name: Duplicate value: \"cfg\"",
                "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ]
        );
    }

    #[test]
    fn env_and_resources() {
        let errs = check(json!({"containers": [{"name": "a", "image": "x",
            "env": [{"name": "A=B"}, {"name": "C", "valueFrom": {}}],
            "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1"}}}]}));
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ]
        );
        let errs = check(
            json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpus": "1"}}}]}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].resources.limits[cpus]: Invalid value: \"cpus\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[cpus]: Invalid value: \"cpus\": must be a standard resource for containers",
            ]
        );
    }

    #[test]
    fn probes_and_tolerations() {
        let errs = check(
            json!({"containers": [{"name": "a", "image": "x", "livenessProbe": {"periodSeconds": 5}, "readinessProbe": {"tcpSocket": {"port": "http-port-too-long"}}}],
            "tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "effect": "Sometimes"}]}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                "spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: \"http-port-too-long\": must be no more than 15 characters",
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ]
        );
    }

    #[test]
    fn template_paths() {
        let t = json!({"metadata": {"labels": {"bad key": "x"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let mut t2 = t.clone();
        crate::strategy::podspec::default_pod_template(&mut t2);
        let errs = validate_pod_template(Some(&t2), "spec.template");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.template.labels");
    }
}
