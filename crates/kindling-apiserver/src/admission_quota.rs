//! The ResourceQuota admission plugin (upstream plugin/pkg/admission/resourcequota), the last
//! validating step before an object is stored: every quota of the namespace that tracks what
//! the object uses must have room for it (else 403 `exceeded quota: …`), and each is charged
//! by a compare-and-swap of its `status.used` before the object is written — concurrent creates
//! can never take a quota past its hard limit (one that loses a race is decided again on the
//! quota as it now is). A create that fails afterwards leaves the quota overcharged until the
//! quota controller recomputes it, as upstream. Decisions are `kindling_api::quota`'s.

use crate::registry::{meta_str, ListOptions, Registry, UpdateKind, WriteContext};
use kindling_api::quota::{self, ResourceList};
use kindling_api::{ApiError, ResourceType};
use serde_json::Value;
use std::sync::Arc;

fn quotas_rt() -> &'static Arc<ResourceType> {
    kindling_api::catalog::builtin("", "v1", "resourcequotas")
}

/// A new object: charged its whole usage.
pub async fn admit_create(
    registry: &Registry,
    rt: &Arc<ResourceType>,
    ns: &str,
    obj: &Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let requested = quota::usage(&rt.group, &rt.plural, obj, jiff::Timestamp::now());
    admit(registry, rt, ns, obj, &requested, dry_run).await
}

/// An update of a pod, service or claim: charged what it grows by.
pub async fn admit_update(
    registry: &Registry,
    rt: &Arc<ResourceType>,
    ns: &str,
    new: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    // Updates are charged only for what upstream's evaluators track on update: pods, claims
    // (the kinds with admission plugins of their own) and Services (the kind that allocates).
    if rt.admission.is_none() && rt.allocation.is_none() {
        return Ok(());
    }
    let now = jiff::Timestamp::now();
    let grows = quota::growth(
        &quota::usage(&rt.group, &rt.plural, new, now),
        &quota::usage(&rt.group, &rt.plural, old, now),
    );
    if grows.is_empty() {
        return Ok(());
    }
    admit(registry, rt, ns, new, &grows, false).await
}

async fn admit(
    registry: &Registry,
    rt: &Arc<ResourceType>,
    ns: &str,
    obj: &Value,
    requested: &ResourceList,
    dry_run: bool,
) -> Result<(), ApiError> {
    let list = registry
        .list(quotas_rt(), Some(ns), &ListOptions::default())
        .await?;
    let quotas = list["items"].as_array().cloned().unwrap_or_default();
    let forbidden = |why: String| {
        ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: {why}",
            rt.plural,
            meta_str(obj, "name").unwrap_or_default()
        ))
    };
    // Every quota must take it before any is charged.
    let mut charged = Vec::new();
    for q in &quotas {
        if quota::charge(q, &rt.group, &rt.plural, obj, requested)
            .map_err(forbidden)?
            .is_some()
        {
            charged.push(meta_str(q, "name").unwrap_or_default().to_string());
        }
    }
    if dry_run {
        return Ok(());
    }
    let ctx = WriteContext::default();
    for name in charged {
        registry
            .update_with(
                quotas_rt(),
                Some(ns),
                &name,
                UpdateKind::Status,
                &ctx,
                |current| {
                    let Some(current) = current else {
                        return Ok(None);
                    };
                    let mut next = current.clone();
                    if let Some(used) =
                        quota::charge(current, &rt.group, &rt.plural, obj, requested)
                            .map_err(forbidden)?
                    {
                        next["status"]["used"] = quota::to_json(&used);
                    }
                    // Decided on this version; a lost race decides again on the next.
                    next["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("resourceVersion"));
                    Ok(Some(next))
                },
            )
            .await?;
    }
    Ok(())
}
