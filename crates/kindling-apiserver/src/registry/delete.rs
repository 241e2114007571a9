//! Delete: preconditions, graceful deletion (pods on a node, namespaces, finalizers), removal.

use super::create::WriteContext;
use super::list::ListOptions;
use super::update::UpdateKind;
use super::{decode, meta_mut, meta_str, not_found, object_key, store_error, timestamp, Registry};
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};

/// DeleteOptions from the body and the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation_policy: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (may be empty) over what the query already set.
    pub fn merge_body(&mut self, body: &Value) -> Result<(), ApiError> {
        if let Some(g) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
            self.grace_period_seconds = Some(g);
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation_policy = Some(p.to_string());
        }
        if let Some(pre) = body.get("preconditions") {
            self.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
            self.precondition_resource_version = pre
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(d) = body.get("dryRun").and_then(Value::as_array) {
            self.dry_run |= d.iter().any(|v| v == "All");
        }
        match self.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => Ok(()),
            Some(other) => Err(ApiError::invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                vec![kindling_api::Cause::not_supported(
                    "propagationPolicy",
                    other,
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            )),
        }
    }
}

impl Registry {
    /// Deletes the object, or marks it for deletion when something must finish first (finalizers,
    /// a pod's grace period on its node, a namespace's content). Returns the object as it was
    /// deleted or as marked.
    pub async fn delete(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let Some((obj, rev)) = self.read(rt, ns, name).await? else {
            return Err(not_found(rt, name));
        };
        check_preconditions(rt, name, &obj, opts)?;
        if opts.dry_run {
            return Ok(obj);
        }
        let grace = grace_period(rt, &obj, opts);
        let has_finalizers = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let is_namespace = rt.kind == "Namespace" && rt.group.is_empty();
        let namespace_content = is_namespace
            && obj["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
        if !(has_finalizers || grace > 0 || namespace_content) {
            return self.remove(rt, ns, name, Some(rev), &obj).await;
        }
        if obj["metadata"].get("deletionTimestamp").is_some() {
            // Already being deleted; a shorter grace period for a pod is the only change allowed.
            let current = obj["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0);
            if grace >= current {
                return Ok(obj);
            }
        }
        let ctx = WriteContext::default();
        let now = jiff::Timestamp::now();
        let deadline = now + jiff::SignedDuration::from_secs(grace);
        let marked = self
            .update_with(rt, ns, name, UpdateKind::Everything, &ctx, |current| {
                let Some(current) = current else {
                    return Ok(None);
                };
                let mut next = current.clone();
                let meta = meta_mut(&mut next);
                meta.remove("resourceVersion");
                meta.insert("deletionTimestamp".into(), json!(timestamp(deadline)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                if is_namespace {
                    next["status"]["phase"] = json!("Terminating");
                }
                Ok(Some(next))
            })
            .await?;
        Ok(marked)
    }

    /// Removes the key (the end of every deletion).
    pub(crate) async fn remove(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        expected: Option<Revision>,
        last: &Value,
    ) -> Result<Value, ApiError> {
        let key = object_key(rt, ns, name);
        match self.blocking(move |s| s.delete(&key, expected)).await {
            Ok((rev, kv)) => {
                if let Some(allocator) = self.allocator(rt) {
                    allocator.release(last);
                    self.release_addresses(last).await;
                }
                let mut obj = decode(rt, &kv)?;
                super::set_resource_version(&mut obj, rev);
                Ok(obj)
            }
            Err(StoreError::NotFound(_)) => Err(not_found(rt, name)),
            Err(StoreError::Conflict { .. }) => Err(super::update::modified(rt, name)),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Deletes every object matching the list options; returns them as a list.
    pub async fn delete_collection(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let mut listed = self
            .list(
                rt,
                ns,
                &ListOptions {
                    limit: None,
                    continue_token: None,
                    ..list.clone()
                },
            )
            .await?;
        let items = listed["items"]
            .as_array_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut deleted = Vec::new();
        for item in items {
            let name = meta_str(&item, "name").unwrap_or_default().to_string();
            let item_ns = meta_str(&item, "namespace").map(str::to_string);
            match self.delete(rt, item_ns.as_deref(), &name, opts).await {
                Ok(obj) => deleted.push(obj),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        listed["items"] = Value::Array(deleted);
        Ok(listed)
    }
}

fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    obj: &Value,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta_str(obj, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict(
                rt.group,
                &rt.qualified_plural(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        let actual = meta_str(obj, "resourceVersion").unwrap_or_default();
        if rv != actual {
            return Err(ApiError::conflict(
                rt.group,
                &rt.qualified_plural(),
                name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"),
            ));
        }
    }
    Ok(())
}

/// Seconds to wait before the object may go. Only pods bound to a node and not yet finished get
/// a grace period: their node agent stops the containers and then deletes them for good.
fn grace_period(rt: &ResourceType, obj: &Value, opts: &DeleteOptions) -> i64 {
    if !(rt.kind == "Pod" && rt.group.is_empty()) {
        return 0;
    }
    let on_node = obj["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if !on_node || finished {
        return 0;
    }
    let default = obj["spec"]["terminationGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(30);
    opts.grace_period_seconds.unwrap_or(default).max(0)
}
