//! Defaults of pod specs, as core/v1's defaulting functions set them on every `PodSpec` (pods and
//! the templates of workloads alike): `SetDefaults_PodSpec`, `_Container`, `_Probe`, `_Volume`,
//! the volume sources' modes, `_HTTPGetAction`, `_ObjectFieldSelector`, port protocols, and the
//! `serviceAccount`/`serviceAccountName` pairing that v1 conversion keeps. Pod-only defaults
//! (`SetDefaults_Pod`) are in [`default_pod_only`].

use super::util::{each_mut, set_default, set_default_str};
use crate::json_path::object_mut;
use serde_json::{json, Value};

/// The pull policy a container gets when it sets none: `Always` for `:latest` or an untagged
/// image without a digest, `IfNotPresent` otherwise (and for an image that does not parse).
pub fn image_pull_policy_for(image: &str) -> &'static str {
    let image = image.trim();
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    match (tag, digest) {
        (Some("latest"), _) => "Always",
        (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default_str(spec, "schedulerName", "default-scheduler");
    // v1 conversion: the deprecated `serviceAccount` mirrors `serviceAccountName`.
    let sa_name = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let sa_old = spec
        .get("serviceAccount")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let sa = if sa_name.is_empty() { sa_old } else { sa_name };
    if !sa.is_empty() {
        spec["serviceAccountName"] = json!(sa);
        spec["serviceAccount"] = json!(sa);
    }
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        each_mut(spec, key, default_container);
    }
    each_mut(spec, "volumes", default_volume);
}

/// The defaults of a pod template (`spec.template` of a workload): those of its pod spec.
pub fn default_pod_template(template: &mut Value) {
    if !template.is_object() {
        *template = json!({});
    }
    default_pod_spec(object_mut(template, &["spec"]));
}

/// `SetDefaults_Container` and what is nested in a container.
pub fn default_container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set_default_str(c, "imagePullPolicy", image_pull_policy_for(&image));
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    set_default(c, "resources", json!({}));
    each_mut(c, "ports", |p| set_default_str(p, "protocol", "TCP"));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            default_probe(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").filter(|l| l.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook).filter(|h| h.is_object()) {
                default_handler(h);
            }
        }
    }
    each_mut(c, "env", |e| {
        if let Some(fr) = e
            .get_mut("valueFrom")
            .and_then(|vf| vf.get_mut("fieldRef"))
            .filter(|f| f.is_object())
        {
            set_default_str(fr, "apiVersion", "v1");
        }
    });
}

fn default_handler(h: &mut Value) {
    if let Some(http) = h.get_mut("httpGet").filter(|v| v.is_object()) {
        set_default_str(http, "path", "/");
        set_default_str(http, "scheme", "HTTP");
    }
    if let Some(grpc) = h.get_mut("grpc").filter(|v| v.is_object()) {
        set_default(grpc, "service", json!(""));
    }
}

/// `SetDefaults_Probe` (zero counts mean unset) and its handler's defaults.
pub fn default_probe(p: &mut Value) {
    for (key, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if p.get(key).and_then(Value::as_i64).unwrap_or(0) == 0 {
            p[key] = json!(value);
        }
    }
    default_handler(p);
}

/// The mode files of a configMap, secret, downwardAPI or projected volume get.
pub const DEFAULT_VOLUME_MODE: i64 = 0o644;

fn default_field_refs(items_holder: &mut Value) {
    each_mut(items_holder, "items", |item| {
        if let Some(fr) = item.get_mut("fieldRef").filter(|f| f.is_object()) {
            set_default_str(fr, "apiVersion", "v1");
        }
    });
}

/// `SetDefaults_Volume` (an `emptyDir` when no source is given) and the sources' defaults.
pub fn default_volume(v: &mut Value) {
    let Some(map) = v.as_object() else { return };
    let has_source = map.iter().any(|(k, val)| k != "name" && !val.is_null());
    if !has_source {
        v["emptyDir"] = json!({});
        return;
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = v.get_mut(key).filter(|s| s.is_object()) {
            set_default(src, "defaultMode", json!(DEFAULT_VOLUME_MODE));
        }
    }
    if let Some(src) = v.get_mut("downwardAPI").filter(|s| s.is_object()) {
        default_field_refs(src);
    }
    if let Some(src) = v.get_mut("projected").filter(|s| s.is_object()) {
        each_mut(src, "sources", |s| {
            if let Some(t) = s.get_mut("serviceAccountToken").filter(|t| t.is_object()) {
                set_default(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = s.get_mut("downwardAPI").filter(|d| d.is_object()) {
                default_field_refs(d);
            }
        });
    }
    if let Some(src) = v.get_mut("hostPath").filter(|s| s.is_object()) {
        set_default(src, "type", json!(""));
    }
    if let Some(spec) = v
        .get_mut("ephemeral")
        .and_then(|e| e.get_mut("volumeClaimTemplate"))
        .and_then(|t| t.get_mut("spec"))
        .filter(|s| s.is_object())
    {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
}

/// `SetDefaults_Pod`: what only pods (not templates) get: requests copied from limits,
/// `enableServiceLinks`, and host ports on the host network.
pub fn default_pod_only(spec: &mut Value) {
    for key in ["containers", "initContainers"] {
        each_mut(spec, key, |c| {
            let Some(res) = c.get_mut("resources").filter(|r| r.is_object()) else {
                return;
            };
            let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
                return;
            };
            let requests = object_mut(res, &["requests"]);
            for (k, v) in limits {
                set_default(requests, &k, v);
            }
        });
    }
    set_default(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            each_mut(spec, key, |c| {
                each_mut(c, "ports", |p| {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p["hostPort"] = cp;
                        }
                    }
                });
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_by_tag() {
        assert_eq!(image_pull_policy_for("nginx"), "Always");
        assert_eq!(image_pull_policy_for("nginx:latest"), "Always");
        assert_eq!(image_pull_policy_for("nginx:1.27"), "IfNotPresent");
        assert_eq!(image_pull_policy_for("localhost:5000/nginx"), "Always");
        assert_eq!(
            image_pull_policy_for("localhost:5000/nginx:1"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy_for("nginx@sha256:abcd"), "IfNotPresent");
        assert_eq!(image_pull_policy_for(""), "IfNotPresent");
    }

    #[test]
    fn template_spec_defaults() {
        let mut t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
            "ports": [{"containerPort": 80}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "cfg"}}]}});
        default_pod_template(&mut t);
        let spec = &t["spec"];
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert!(spec.get("enableServiceLinks").is_none());
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["resources"], json!({}));
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            spec["volumes"][0],
            json!({"name": "scratch", "emptyDir": {}})
        );
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn service_account_pairing_and_pod_only() {
        let mut spec = json!({"serviceAccount": "builder", "containers": [{"name": "a", "image": "x",
            "resources": {"limits": {"cpu": "1"}}}]});
        default_pod_spec(&mut spec);
        default_pod_only(&mut spec);
        assert_eq!(spec["serviceAccountName"], "builder");
        assert_eq!(spec["serviceAccount"], "builder");
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["containers"][0]["resources"]["requests"]["cpu"], "1");
    }
}
