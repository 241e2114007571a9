//! The LimitRanger admission plugin (upstream plugin/pkg/admission/limitranger): a new pod gets
//! its namespace's LimitRange defaults (mutating, before validation), and pods on create and
//! claims on create and update must then fit every LimitRange (validating, after it: 403
//! `<resource> "<name>" is forbidden: …`). What to do is `kindling_api::limitrange`'s; this
//! module lists the LimitRanges.

use crate::registry::{meta_str, ListOptions, Registry};
use kindling_api::catalog::Admission;
use kindling_api::{limitrange, ApiError, ResourceType};
use serde_json::Value;

/// The namespace's LimitRanges, in name order (the store's).
async fn ranges(registry: &Registry, ns: &str) -> Result<Vec<Value>, ApiError> {
    let rt = kindling_api::catalog::builtin("", "v1", "limitranges");
    let list = registry.list(rt, Some(ns), &ListOptions::default()).await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// Mutating: defaults into a new pod's containers.
pub async fn default_pod(registry: &Registry, ns: &str, pod: &mut Value) -> Result<(), ApiError> {
    for range in ranges(registry, ns).await? {
        limitrange::apply_defaults(pod, &range);
    }
    Ok(())
}

/// Validating: a new pod, or a new or changed claim, against every LimitRange.
pub async fn validate(
    registry: &Registry,
    rt: &ResourceType,
    ns: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let check: fn(&Value, &Value) -> Vec<String> = match rt.admission {
        Some(Admission::Pod) => limitrange::validate_pod,
        Some(Admission::PersistentVolumeClaim) => limitrange::validate_claim,
        _ => return Ok(()),
    };
    for range in ranges(registry, ns).await? {
        let errs = check(obj, &range);
        if !errs.is_empty() {
            return Err(ApiError::forbidden(format!(
                "{} \"{}\" is forbidden: {}",
                rt.plural,
                meta_str(obj, "name").unwrap_or_default(),
                limitrange::aggregate(&errs)
            )));
        }
    }
    Ok(())
}
