//! The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount). A pod gets
//! `spec.serviceAccountName: default` when it names none, is refused when its service account
//! does not exist, and, unless the pod or the service account opts out, gets the
//! `kube-api-access-<random>` projected volume (token, cluster CA, namespace) mounted read-only in
//! every container and init container. Mirror pods may use neither.

use crate::registry::{meta_str, Registry};
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::time::Duration;

/// Where every container finds its service account credentials.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the projected volume's name.
const VOLUME_PREFIX: &str = "kube-api-access-";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The `default` service account is made by a controller moments after its namespace: a pod
/// created right after the namespace waits for it a little, as upstream (10 tries).
const DEFAULT_SA_ATTEMPTS: u32 = 10;

pub async fn admit_pod(registry: &Registry, ns: &str, pod: &mut Value) -> Result<(), ApiError> {
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
