//! The CustomResourceDefinition controller, as upstream's apiextensions-apiserver runs it in the
//! server: the naming controller (NamesAccepted, acceptedNames, name conflicts), the
//! establishing controller (Established), the CRD handler's registration (the definition's
//! versions become catalog entries, so discovery and requests see them at once) and the
//! finalizer controller (a deleted definition's objects are deleted, then the
//! `customresourcecleanup.apiextensions.k8s.io` finalizer is removed). What to do is
//! `kindling_api::apiextensions`'s; this module reads and writes.

use crate::registry::{
    DeleteOptions, ListOptions, Registry, UpdateKind, WatchOptions, WriteContext,
};
use kindling_api::apiextensions::{
    self, accepted_names, condition, names_accepted, CLEANUP_FINALIZER,
};
use kindling_api::catalog::TypeInfo;
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const RETRY: Duration = Duration::from_secs(2);

fn crds() -> &'static Arc<ResourceType> {
    kindling_api::catalog::builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions")
}

/// The entries made from each definition, kept while its spec (and whether it is being
/// deleted) is unchanged (so an unchanged
/// definition keeps the same entries, and documents made from them stay valid).
#[derive(Default)]
struct Installed {
    by_crd: BTreeMap<String, (Value, Vec<Arc<ResourceType>>)>,
}

/// Installs the entries of the definitions already stored (before the server serves), then
/// follows every change.
pub async fn start(registry: &Registry) {
    let mut installed = Installed::default();
    if let Err(e) = pass(registry, &mut installed).await {
        tracing::warn!("custom resource definitions: {e}");
    }
    tokio::spawn(run(registry.clone(), installed));
}

async fn run(registry: Registry, mut installed: Installed) {
    loop {
        let mut events = match registry.watch(crds(), None, WatchOptions::default()).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("custom resource definitions: watch failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        while events.recv().await.is_some() {
            while events.try_recv().is_ok() {}
            // A pass that has objects left to delete runs again until they are gone.
            loop {
                match pass(&registry, &mut installed).await {
                    Ok(false) => break,
                    Ok(true) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Err(e) => {
                        tracing::warn!("custom resource definitions: {e}");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        }
    }
}

/// One pass over every definition; `true` when deletions are still under way.
async fn pass(registry: &Registry, installed: &mut Installed) -> Result<bool, ApiError> {
    let listed = registry.list(crds(), None, &ListOptions::default()).await?;
    let all: Vec<Value> = listed["items"].as_array().cloned().unwrap_or_default();
    let mut busy = false;
    let mut keep = BTreeMap::new();
    for crd in &all {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let crd = update_status(registry, crd, &all).await?;
        let accepted = crd["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True");
        if !accepted {
            continue;
        }
        // Entries are made again only when what they are made of changed (a deletion makes
        // them refuse new objects).
        let made_of = json!([
            crd["spec"],
            crd["metadata"].get("deletionTimestamp").is_some()
        ]);
        let entries = match installed.by_crd.remove(&name) {
            Some((from, entries)) if from == made_of => entries,
            _ => {
                // Conversion `Webhook`: every version's entry converts through one client.
                let converter = crate::conversion::WebhookConverter::of(registry.store(), &crd);
                apiextensions::entries(&crd)
                    .into_iter()
                    .map(|mut e| {
                        if let TypeInfo::Custom { converter: c, .. } = &mut e.type_info {
                            c.clone_from(&converter);
                        }
                        Arc::new(e)
                    })
                    .collect()
            }
        };
        if crd["metadata"].get("deletionTimestamp").is_some() {
            busy |= finalize(registry, &crd, &entries).await?;
        }
        keep.insert(name, (made_of, entries));
    }
    let serving: Vec<Arc<ResourceType>> = keep.values().flat_map(|(_, e)| e.clone()).collect();
    let current = registry.catalog.load();
    let now_custom: Vec<&Arc<ResourceType>> = current.iter().filter(|r| r.custom).collect();
    let same = now_custom.len() == serving.len()
        && now_custom
            .iter()
            .zip(&serving)
            .all(|(a, b)| Arc::ptr_eq(a, b));
    if !same {
        registry
            .catalog
            .update(|c| c.changed(|r| r.custom, serving.clone()));
    }
    installed.by_crd = keep;
    Ok(busy)
}

fn now() -> String {
    crate::registry::timestamp(jiff::Timestamp::now())
}

/// NamesAccepted, acceptedNames and Established as upstream's naming and establishing
/// controllers set them; returns the definition as stored afterwards.
async fn update_status(registry: &Registry, crd: &Value, all: &[Value]) -> Result<Value, ApiError> {
    let verdict = names_accepted(crd, all);
    let mut next = crd.clone();
    let now = now();
    match &verdict {
        Ok(()) => {
            next["status"]["acceptedNames"] = accepted_names(crd);
            set(
                &mut next,
                condition(
                    "NamesAccepted",
                    true,
                    "NoConflicts",
                    "no conflicts found",
                    &now,
                ),
            );
            set(
                &mut next,
                condition(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    &now,
                ),
            );
        }
        Err((reason, message)) => {
            if next["status"].get("acceptedNames").is_none() {
                next["status"]["acceptedNames"] = json!({"plural": "", "kind": ""});
            }
            set(
                &mut next,
                condition("NamesAccepted", false, reason, message, &now),
            );
            set(
                &mut next,
                condition(
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                    &now,
                ),
            );
        }
    }
    if next["status"] == crd["status"] {
        return Ok(crd.clone());
    }
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let status = next["status"].clone();
    registry
        .update_with(
            crds(),
            None,
            name,
            UpdateKind::Status,
            &WriteContext::default(),
            |cur| {
                Ok(cur.map(|cur| {
                    let mut out = cur.clone();
                    out["status"] = status.clone();
                    if let Some(m) = out["metadata"].as_object_mut() {
                        m.shift_remove("resourceVersion");
                    }
                    out
                }))
            },
        )
        .await
}

fn set(crd: &mut Value, cond: Value) {
    apiextensions::set_condition(crd, cond);
}

/// A deleted definition: its objects are deleted; once none is left, the cleanup finalizer
/// goes (and with it the definition). Returns whether objects remain.
async fn finalize(
    registry: &Registry,
    crd: &Value,
    entries: &[Arc<ResourceType>],
) -> Result<bool, ApiError> {
    let finalizers: Vec<String> = crd["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
        return Ok(false);
    }
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(rt) = entries.first() {
        let opts = DeleteOptions {
            propagation_policy: Some("Background".into()),
            ..Default::default()
        };
        registry
            .delete_collection(rt, None, &ListOptions::default(), &opts)
            .await?;
        let left = registry.list(rt, None, &ListOptions::default()).await?;
        let remaining = left["items"].as_array().map_or(0, Vec::len);
        if remaining > 0 {
            let message = format!("could not confirm zero CustomResources remaining: {remaining}");
            set_status_condition(
                registry,
                name,
                condition(
                    "Terminating",
                    true,
                    "InstanceDeletionCheck",
                    &message,
                    &now(),
                ),
            )
            .await?;
            return Ok(true);
        }
    }
    registry
        .update_with(
            crds(),
            None,
            name,
            UpdateKind::Everything,
            &WriteContext::default(),
            |cur| {
                Ok(cur.map(|cur| {
                    let mut out = cur.clone();
                    apiextensions::set_condition(
                        &mut out,
                        condition(
                            "Terminating",
                            false,
                            "InstanceDeletionCompleted",
                            "removed all instances",
                            &now(),
                        ),
                    );
                    if let Some(list) = out["metadata"]["finalizers"].as_array_mut() {
                        list.retain(|f| f != CLEANUP_FINALIZER);
                    }
                    if let Some(m) = out["metadata"].as_object_mut() {
                        m.shift_remove("resourceVersion");
                    }
                    out
                }))
            },
        )
        .await
        .map(|_| false)
        .or_else(|e| if e.code == 404 { Ok(false) } else { Err(e) })
}

async fn set_status_condition(
    registry: &Registry,
    name: &str,
    cond: Value,
) -> Result<(), ApiError> {
    registry
        .update_with(
            crds(),
            None,
            name,
            UpdateKind::Status,
            &WriteContext::default(),
            |cur| {
                Ok(cur.map(|cur| {
                    let mut out = cur.clone();
                    apiextensions::set_condition(&mut out, cond.clone());
                    if let Some(m) = out["metadata"].as_object_mut() {
                        m.shift_remove("resourceVersion");
                    }
                    out
                }))
            },
        )
        .await
        .map(|_| ())
}
