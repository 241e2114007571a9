//! Create-time admission of claims and volumes (upstream's DefaultStorageClass and
//! StorageObjectInUseProtection plugins): a claim that names no class (no
//! `storageClassName`, no beta annotation — `""` is a choice) gets the default StorageClass,
//! the newest of those annotated default; claims get the `kubernetes.io/pvc-protection`
//! finalizer and volumes `kubernetes.io/pv-protection`, which the controllers release once
//! nothing uses them. On update, PersistentVolumeClaimResize: a claim may ask for more storage
//! only when it is bound and its class allows volume expansion.

use crate::registry::{ListOptions, Registry};
use kindling_api::volumes::{
    ANN_BETA_CLASS, ANN_DEFAULT_CLASS, PVC_PROTECTION_FINALIZER, PV_PROTECTION_FINALIZER,
};
use kindling_api::ApiError;
use serde_json::{json, Value};

/// The beta form of the default-class annotation, still honoured upstream.
const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// DefaultStorageClass: a claim that names no class gets the default one, if there is one.
pub async fn default_class(registry: &Registry, claim: &mut Value) -> Result<(), ApiError> {
    let named = claim["metadata"]["annotations"]
        .get(ANN_BETA_CLASS)
        .is_some()
        || !claim["spec"]["storageClassName"].is_null();
    if !named {
        if let Some(class) = default_class_name(registry).await? {
            claim["spec"]["storageClassName"] = json!(class);
        }
    }
    Ok(())
}

/// StorageObjectInUseProtection: claims and volumes (`volume`) get their protection finalizer.
pub fn protect(obj: &mut Value, volume: bool) {
    let finalizer = if volume {
        PV_PROTECTION_FINALIZER
    } else {
        PVC_PROTECTION_FINALIZER
    };
    add_finalizer(obj, finalizer);
}

/// Upstream's PersistentVolumeClaimResize validation of a claim update.
pub async fn validate_claim_resize(
    registry: &Registry,
    new: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    let size = |c: &Value| {
        c.pointer("/spec/resources/requests/storage")
            .and_then(|q| kindling_api::Quantity::from_json(q).ok())
    };
    let (Some(grown), Some(before)) = (size(new), size(old)) else {
        return Ok(());
    };
    if grown <= before {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let forbidden = |why: &str| {
        ApiError::forbidden(format!(
            "persistentvolumeclaims \"{name}\" is forbidden: {why}"
        ))
    };
    if old.pointer("/status/phase").and_then(Value::as_str) != Some("Bound") {
        return Err(forbidden(
            "Only bound persistent volume claims can be expanded",
        ));
    }
    let class = new["spec"]["storageClassName"].as_str().unwrap_or_default();
    let classes = kindling_api::catalog::builtin("storage.k8s.io", "v1", "storageclasses");
    let allowed = !class.is_empty()
        && match registry.get(classes, None, class).await {
            Ok(sc) => sc["allowVolumeExpansion"] == true,
            Err(e) if e.code == 404 => false,
            Err(e) => return Err(e),
        };
    if !allowed {
        return Err(forbidden("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"));
    }
    Ok(())
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let meta = &mut obj["metadata"];
    if !meta["finalizers"].is_array() {
        meta["finalizers"] = json!([]);
    }
    if let Some(list) = meta["finalizers"].as_array_mut() {
        if !list.iter().any(|f| f == finalizer) {
            list.push(json!(finalizer));
        }
    }
}

/// The default class: among those annotated default, the newest (then the first by name).
async fn default_class_name(registry: &Registry) -> Result<Option<String>, ApiError> {
    let classes = kindling_api::catalog::builtin("storage.k8s.io", "v1", "storageclasses");
    let list = registry
        .list(classes, None, &ListOptions::default())
        .await?;
    Ok(pick_default(
        list["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    ))
}

fn pick_default(classes: &[Value]) -> Option<String> {
    crate::admission::newest_default_class(classes, |a| {
        a[ANN_DEFAULT_CLASS] == "true" || a[ANN_BETA_DEFAULT_CLASS] == "true"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_default_class_wins() {
        let class = |name: &str, ts: &str, default: bool| {
            json!({"metadata": {"name": name, "creationTimestamp": ts,
                "annotations": {ANN_DEFAULT_CLASS: if default { "true" } else { "false" }}}})
        };
        let classes = [
            class("standard", "2026-01-01T00:00:00Z", true),
            class("fast", "2026-02-01T00:00:00Z", false),
            class("newer", "2026-03-01T00:00:00Z", true),
        ];
        assert_eq!(pick_default(&classes).as_deref(), Some("newer"));
        assert_eq!(pick_default(&classes[1..2]), None);
    }

    #[test]
    fn finalizers_are_added_once() {
        let mut pv = json!({"metadata": {"finalizers": [PV_PROTECTION_FINALIZER]}});
        protect(&mut pv, true);
        assert_eq!(
            pv["metadata"]["finalizers"],
            json!([PV_PROTECTION_FINALIZER])
        );
    }
}
