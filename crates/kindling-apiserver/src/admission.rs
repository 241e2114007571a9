//! Admission that needs other objects, run on create before validation as upstream's mutating
//! admission chain: today the ServiceAccount plugin
//! (plugin/pkg/admission/serviceaccount). A pod gets `spec.serviceAccountName: default` when it
//! names none, is refused when its service account does not exist, and, unless the pod or the
//! service account opts out, gets the `kube-api-access-<random>` projected volume (token, cluster
//! CA, namespace) mounted read-only in every container and init container.

use crate::registry::{meta_str, Registry};
use kindling_api::catalog::Admission;
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Where every container finds its service account credentials.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the projected volume's name.
const VOLUME_PREFIX: &str = "kube-api-access-";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The `default` service account is made by a controller moments after its namespace: a pod
/// created right after the namespace waits for it a little, as upstream (10 tries).
const DEFAULT_SA_ATTEMPTS: u32 = 10;

/// Runs the create-time admission of `obj` (of resource `rt`) in `ns`.
pub async fn admit_create(
    registry: &Registry,
    rt: &kindling_api::ResourceType,
    ns: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    match (rt.admission, ns) {
        (Some(Admission::Pod), Some(ns)) => {
            if obj["metadata"]["annotations"]
                .get(MIRROR_ANNOTATION)
                .is_none()
            {
                crate::admission_limits::default_pod(registry, ns, obj).await?;
            }
            admit_pod(registry, ns, obj).await?;
            default_toleration_seconds(&mut obj["spec"]);
            Ok(())
        }
        (Some(Admission::PersistentVolumeClaim), Some(_)) => {
            crate::admission_storage::admit_claim(registry, obj).await
        }
        (Some(Admission::PersistentVolume), None) => {
            crate::admission_storage::admit_volume(obj);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Validating admission of a new object, after its validation and just before it is stored:
/// LimitRanges (pods, claims), then ResourceQuota, which charges the quota (unless `dry_run`).
/// Boxed: charging a quota is a write, and a write may create (server-side apply), whose
/// admission comes back here.
pub fn validate_create<'a>(
    registry: &'a Registry,
    rt: &'a Arc<kindling_api::ResourceType>,
    ns: Option<&'a str>,
    obj: &'a Value,
    dry_run: bool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>> {
    Box::pin(validate_create_now(registry, rt, ns, obj, dry_run))
}

async fn validate_create_now(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    ns: Option<&str>,
    obj: &Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let Some(ns) = ns.filter(|_| rt.namespaced) else {
        return Ok(());
    };
    let mirror = obj["metadata"]["annotations"]
        .get(MIRROR_ANNOTATION)
        .is_some();
    if !mirror {
        crate::admission_limits::validate(registry, rt, ns, obj).await?;
    }
    crate::admission_quota::admit_create(registry, rt, ns, obj, dry_run).await
}

/// Validating admission of an update (after its validation): LimitRanges for claims, then
/// ResourceQuota for what the update adds. Boxed, as [`validate_create`].
pub fn validate_update<'a>(
    registry: &'a Registry,
    rt: &'a Arc<kindling_api::ResourceType>,
    ns: Option<&'a str>,
    new: &'a Value,
    old: &'a Value,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>> {
    Box::pin(validate_update_now(registry, rt, ns, new, old))
}

async fn validate_update_now(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    ns: Option<&str>,
    new: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    let Some(ns) = ns.filter(|_| rt.namespaced) else {
        return Ok(());
    };
    if rt.admission == Some(Admission::PersistentVolumeClaim) {
        crate::admission_storage::validate_claim_resize(registry, new, old).await?;
        crate::admission_limits::validate(registry, rt, ns, new).await?;
    }
    crate::admission_quota::admit_update(registry, rt, ns, new, old).await
}

async fn admit_pod(registry: &Registry, ns: &str, pod: &mut Value) -> Result<(), ApiError> {
    let name = meta_str(pod, "name").unwrap_or_default().to_string();
    let forbidden =
        |why: String| ApiError::forbidden(format!("pods \"{name}\" is forbidden: {why}"));
    if pod["metadata"]["annotations"]
        .get(MIRROR_ANNOTATION)
        .is_some()
    {
        return check_mirror_pod(pod).map_err(|why| forbidden(why.into()));
    }
    let spec = &mut pod["spec"];
    let sa_name = match spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        Some(sa) => sa.to_string(),
        None => {
            spec["serviceAccountName"] = json!("default");
            "default".to_string()
        }
    };
    // The deprecated alias follows the real field.
    spec["serviceAccount"] = json!(sa_name);
    let sa = service_account(registry, ns, &sa_name).await.map_err(|e| {
        forbidden(format!(
            "error looking up service account {ns}/{sa_name}: {}",
            e.message
        ))
    })?;
    if should_automount(&sa, spec) {
        mount_token(spec);
    }
    if spec["imagePullSecrets"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        if let Some(secrets) = sa["imagePullSecrets"].as_array().filter(|s| !s.is_empty()) {
            let names: Vec<Value> = secrets.iter().map(|s| json!({"name": s["name"]})).collect();
            spec["imagePullSecrets"] = Value::Array(names);
        }
    }
    Ok(())
}

/// The DefaultTolerationSeconds plugin: a pod that does not say otherwise tolerates a node
/// turning not-ready or unreachable for 300 s before the taint eviction would remove it.
fn default_toleration_seconds(spec: &mut Value) {
    const TAINTS: [&str; 2] = [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ];
    for key in TAINTS {
        let tolerated = spec["tolerations"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                let effect = t["effect"].as_str().unwrap_or("");
                let key_matches = match t["key"].as_str().unwrap_or("") {
                    "" => t["operator"] == "Exists",
                    k => k == key,
                };
                key_matches && (effect.is_empty() || effect == "NoExecute")
            })
        });
        if tolerated {
            continue;
        }
        let toleration = json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300});
        match spec["tolerations"].as_array_mut() {
            Some(ts) => ts.push(toleration),
            None => spec["tolerations"] = json!([toleration]),
        }
    }
}

/// The service account, retried for `default` (its controller may not have made it yet).
async fn service_account(registry: &Registry, ns: &str, name: &str) -> Result<Value, ApiError> {
    let sas = kindling_api::catalog::builtin("", "v1", "serviceaccounts");
    let attempts = if name == "default" {
        DEFAULT_SA_ATTEMPTS
    } else {
        1
    };
    for attempt in 0..attempts {
        if attempt > 0 {
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100;
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
        match registry.get(sas, Some(ns), name).await {
            Ok(sa) => return Ok(sa),
            Err(e) if e.code == 404 => continue,
            Err(e) => return Err(e),
        }
    }
    // Upstream names the resource in the singular here.
    Err(ApiError::not_found("", "serviceaccount", name))
}

/// The pod's `automountServiceAccountToken` wins, then the service account's; default yes.
fn should_automount(sa: &Value, spec: &Value) -> bool {
    spec["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| sa["automountServiceAccountToken"].as_bool())
        .unwrap_or(true)
}

/// Mounts the token volume in every (init) container without something at the mount path
/// already, adding the volume if any container took it.
fn mount_token(spec: &mut Value) {
    let existing = spec["volumes"].as_array().and_then(|vs| {
        vs.iter()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with(VOLUME_PREFIX))
            .map(str::to_string)
    });
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", random_suffix()));
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec[list].as_array_mut() else {
            continue;
        };
        for c in containers {
            let taken = c["volumeMounts"].as_array().is_some_and(|ms| {
                ms.iter()
                    .any(|m| m["mountPath"].as_str() == Some(TOKEN_MOUNT_PATH))
            });
            if taken {
                continue;
            }
            let mount =
                json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
            match c["volumeMounts"].as_array_mut() {
                Some(ms) => ms.push(mount),
                None => c["volumeMounts"] = json!([mount]),
            }
            mounted = true;
        }
    }
    if mounted && existing.is_none() {
        let volume = json!({"name": volume_name, "projected": token_volume_source()});
        match spec["volumes"].as_array_mut() {
            Some(vs) => vs.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
}

/// Upstream's `TokenVolumeSource()`: token, cluster CA, namespace.
pub fn token_volume_source() -> Value {
    json!({
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": crate::tokens::WARN_ONLY_EXPIRATION_SECONDS}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    })
}

/// Five characters of upstream's name generator alphabet.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Mirror pods (static pods shown by a node) may reference neither service accounts nor
/// secrets nor token projections.
fn check_mirror_pod(pod: &Value) -> Result<(), &'static str> {
    let spec = &pod["spec"];
    if spec["serviceAccountName"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        return Err("a mirror pod may not reference service accounts");
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        if v.get("secret").is_some_and(|s| !s.is_null()) {
            return Err("a mirror pod may not reference secrets");
        }
        let sources = v["projected"]["sources"].as_array();
        if sources
            .into_iter()
            .flatten()
            .any(|s| s.get("serviceAccountToken").is_some_and(|t| !t.is_null()))
        {
            return Err("a mirror pod may not use ServiceAccountToken volume projections");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_tolerate_not_ready_and_unreachable_for_300s_unless_they_say_otherwise() {
        let mut spec = json!({"containers": [{"name": "a"}]});
        default_toleration_seconds(&mut spec);
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
        let mut own = json!({"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]});
        default_toleration_seconds(&mut own);
        assert_eq!(own["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(own["tolerations"][0]["tolerationSeconds"], 5);
        let mut everything = json!({"tolerations": [{"operator": "Exists"}]});
        default_toleration_seconds(&mut everything);
        assert_eq!(everything["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn every_container_gets_one_shared_volume_unless_its_path_is_taken() {
        let mut spec = json!({
            "initContainers": [{"name": "i"}],
            "containers": [
                {"name": "a"},
                {"name": "b", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]},
            ],
            "volumes": [{"name": "mine", "emptyDir": {}}],
        });
        mount_token(&mut spec);
        let vols = spec["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 2);
        let name = vols[1]["name"].as_str().unwrap();
        assert!(
            name.starts_with("kube-api-access-") && name.len() == 21,
            "{name}"
        );
        assert_eq!(spec["initContainers"][0]["volumeMounts"][0]["name"], name);
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["readOnly"], true);
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Admitting again (a re-created object) does not add a second volume.
        mount_token(&mut spec);
        assert_eq!(spec["volumes"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn pod_preference_wins_over_the_service_account() {
        let sa_off = json!({"automountServiceAccountToken": false});
        assert!(!should_automount(&sa_off, &json!({})));
        assert!(should_automount(
            &sa_off,
            &json!({"automountServiceAccountToken": true})
        ));
        assert!(should_automount(&json!({}), &json!({})));
        assert!(!should_automount(
            &json!({}),
            &json!({"automountServiceAccountToken": false})
        ));
    }

    #[test]
    fn mirror_pods_may_not_use_tokens() {
        let pod = json!({"spec": {"volumes": [{"name": "t", "projected": token_volume_source()}]}});
        assert_eq!(
            check_mirror_pod(&pod),
            Err("a mirror pod may not use ServiceAccountToken volume projections")
        );
    }
}
