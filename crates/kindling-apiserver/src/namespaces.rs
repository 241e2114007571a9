//! Namespace lifecycle, as upstream's namespace controller does it: a terminating namespace has
//! its content deleted, then its `kubernetes` finalizer removed, then goes away. (What every
//! active namespace gets — the `default` ServiceAccount, `kube-root-ca.crt` — comes from the
//! controllers of `kindling-controllers`, which talk to the server like any client.)

use crate::registry::{
    DeleteOptions, ListOptions, Registry, UpdateKind, WatchOptions, WriteContext,
};
use kindling_api::ApiError;
use kindling_api::Catalog;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often terminating namespaces are looked at again while content remains.
const RESYNC: Duration = Duration::from_secs(2);

pub async fn run(registry: Registry) {
    let namespaces = kindling_api::catalog::builtin("", "v1", "namespaces");
    loop {
        let mut events = match registry
            .watch(namespaces, None, WatchOptions::default())
            .await
        {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!("namespace controller: watch failed: {e}");
                tokio::time::sleep(RESYNC).await;
                continue;
            }
        };
        // Passes run on namespace events; the periodic one only while a namespace is still
        // terminating (its content may be waiting on graceful pod deletion).
        let mut terminating = false;
        loop {
            match tokio::time::timeout(RESYNC, events.recv()).await {
                Ok(None) => break, // The watch ended; start another.
                Err(_) if !terminating => continue,
                _ => {}
            }
            // Drain what else is queued: one pass handles them all.
            while events.try_recv().is_ok() {}
            match sync_all(&registry).await {
                Ok(still) => terminating = still,
                Err(e) => {
                    terminating = true; // try again on the next tick
                    tracing::warn!("namespace controller: {e}");
                }
            }
        }
    }
}

/// One pass over every namespace; returns whether any is still terminating.
async fn sync_all(registry: &Registry) -> Result<bool, ApiError> {
    let namespaces = kindling_api::catalog::builtin("", "v1", "namespaces");
    let list = registry
        .list(namespaces, None, &ListOptions::default())
        .await?;
    let mut terminating = false;
    for ns in list["items"].as_array().into_iter().flatten() {
        let name = ns["metadata"]["name"].as_str().unwrap_or_default();
        if ns["metadata"].get("deletionTimestamp").is_some() {
            terminating = true;
            finish_deletion(registry, name, ns).await?;
        }
    }
    Ok(terminating)
}

async fn finish_deletion(registry: &Registry, ns: &str, obj: &Value) -> Result<(), ApiError> {
    let mut remaining = 0;
    for rt in namespaced_stored(&registry.catalog.load()) {
        let deleted = registry
            .delete_collection(
                &rt,
                Some(ns),
                &ListOptions::default(),
                // As upstream's namespace controller: dependents go in the background, so no
                // object waits on the garbage collector to orphan them.
                &DeleteOptions::background(),
            )
            .await?;
        remaining += deleted["items"].as_array().map_or(0, Vec::len);
    }
    if remaining > 0 {
        // Some objects are waiting (graceful pods, finalizers); look again on the next pass.
        let left = registry.list_count_namespace(ns).await?;
        if left > 0 {
            return Ok(());
        }
    }
    let namespaces = kindling_api::catalog::builtin("", "v1", "namespaces");
    let has_spec_finalizers = obj["spec"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if has_spec_finalizers {
        registry
            .update_with(
                namespaces,
                None,
                ns,
                UpdateKind::Everything,
                &WriteContext::default(),
                |cur| {
                    let Some(cur) = cur else { return Ok(None) };
                    let mut next = cur.clone();
                    next["spec"]["finalizers"] = json!([]);
                    next["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("resourceVersion"));
                    Ok(Some(next))
                },
            )
            .await?;
    }
    match registry
        .delete(
            namespaces,
            None,
            ns,
            &DeleteOptions {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every namespaced resource with objects of its own in the store (a version stored in another's
/// form is covered by that one).
fn namespaced_stored(catalog: &Catalog) -> Vec<Arc<kindling_api::ResourceType>> {
    catalog
        .iter()
        .filter(|r| r.namespaced && r.is_stored() && r.is_storage_entry())
        .cloned()
        .collect()
}

impl Registry {
    /// How many namespaced objects remain in `ns`, over every resource.
    pub async fn list_count_namespace(&self, ns: &str) -> Result<usize, ApiError> {
        let mut n = 0;
        for rt in namespaced_stored(&self.catalog.load()) {
            let list = self.list(&rt, Some(ns), &ListOptions::default()).await?;
            n += list["items"].as_array().map_or(0, Vec::len);
        }
        Ok(n)
    }
}
