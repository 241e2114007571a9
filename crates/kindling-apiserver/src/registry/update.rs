//! Update, patch and subresource writes share one loop: read the current object, compute the new
//! one, apply the update rules, compare-and-swap; retry when someone else wrote in between, unless
//! the client pinned a resourceVersion (then it gets 409 Conflict, as upstream).

use super::create::{check_type, validate, validate_meta, WriteContext};
use super::{
    encode, meta_mut, meta_str, not_found, object_key, set_resource_version, store_error, Registry,
};
use kindling_api::catalog::Subresource;
use kindling_api::{ApiError, ResourceType};
use kindling_store::StoreError;
use serde_json::Value;
use std::sync::Arc;

/// Which part of the object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// The main resource: status is kept from the stored object when the resource has a status
    /// subresource.
    Main,
    /// `/status`: only the status changes.
    Status,
    /// Anything (internal callers: finalization, deletion bookkeeping).
    Everything,
    /// A subresource whose rules are its strategy's (`pods/resize`, `pods/ephemeralcontainers`,
    /// `certificatesigningrequests/approval`): the strategy decides what of the write is kept
    /// and validates it.
    Subresource(Subresource),
}

/// How many times a write is retried after losing a compare-and-swap race. Upstream retries
/// without a bound; a hot object with many writers needs many rounds, so the bound is only a
/// guard against a livelock.
pub(crate) const MAX_ATTEMPTS: usize = 1000;

impl Registry {
    /// Updates the object by `mutate(current)`. `mutate` returns the desired object; a
    /// `metadata.resourceVersion` in it is a precondition. With `create_missing`, `mutate(None)`
    /// creates the object (server-side apply); otherwise a missing object is 404.
    pub async fn update_with<F>(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        kind: UpdateKind,
        ctx: &WriteContext,
        mutate: F,
    ) -> Result<Value, ApiError>
    where
        F: Fn(Option<&Value>) -> Result<Option<Value>, ApiError>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.read(rt, ns, name).await?;
            let Some((old, old_rev)) = current else {
                return match mutate(None)? {
                    Some(obj) => self.create(rt, ns, obj, ctx).await,
                    None => Err(not_found(rt, name)),
                };
            };
            let Some(mut new) = mutate(Some(&old))? else {
                return Err(not_found(rt, name));
            };
            let pinned = meta_str(&new, "resourceVersion").map(str::to_string);
            if let Some(rv) = &pinned {
                if rv != &old_rev.to_string() {
                    return Err(modified(rt, name));
                }
            }
            check_type(rt, &mut new)?;
            check_identity(rt, ns, name, &new, &old)?;
            apply_update_rules(rt, kind, &mut new, &old);
            match kind {
                UpdateKind::Subresource(sub) => {
                    let mut causes = validate_meta(rt, &new);
                    causes.extend(rt.strategy.validate_subresource_update(sub, &new, &old));
                    super::create::invalid_if_any(rt, &new, causes)?;
                }
                _ => validate(rt, &new, Some(&old))?,
            }
            if kind == UpdateKind::Main && !same_object(&new, &old) {
                crate::admission::validate_update(self, rt, ns, &new, &old, ctx).await?;
            }
            if kind == UpdateKind::Status && !same_object(&new, &old) {
                crate::admission::validate_status_update(self, rt, &new, &old, ctx).await?;
            }
            let reservation = self
                .allocate_service(rt, &mut new, Some(&old), ctx.dry_run)
                .await?;
            if same_object(&new, &old) {
                self.settle(rt, reservation, false).await;
                return Ok(old);
            }
            if ctx.dry_run {
                set_resource_version(&mut new, old_rev);
                return Ok(new);
            }
            if finalized(rt, &new) {
                self.settle(rt, reservation, false).await;
                match self.remove(rt, ns, name, Some(old_rev), &old).await? {
                    Some(removed) => return Ok(removed),
                    // Written in between: decide again on the new object.
                    None => {
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
            }
            let key = object_key(rt, ns, name);
            let (value, shown) = match encode(rt, &new) {
                Ok(v) => v,
                Err(e) => {
                    self.settle(rt, reservation, false).await;
                    return Err(e);
                }
            };
            let claimed = match self.claim_addresses(&shown, reservation.as_ref()).await {
                Ok(c) => c,
                Err(e) => {
                    self.settle(rt, reservation, false).await;
                    return Err(e);
                }
            };
            new = shown;
            let stored = self.store.update_async(&key, value, old_rev).await;
            if stored.is_err() {
                self.drop_addresses(&claimed).await;
            }
            self.settle(rt, reservation, stored.is_ok()).await;
            match stored {
                Ok(rev) => {
                    set_resource_version(&mut new, rev);
                    return Ok(new);
                }
                // Someone wrote in between: try again on the new object. A resourceVersion the
                // caller pinned (in a replaced body or in a patch) then no longer matches and
                // gives the 409 above; a patch that pinned nothing is re-applied, as upstream's
                // GuaranteedUpdate does (its resourceVersion only came from the object read).
                Err(StoreError::Conflict { .. }) => {
                    // Let the writer that won finish before reading again.
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(StoreError::NotFound(_)) => return Err(not_found(rt, name)),
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(too_many_writers(rt, name))
    }
}

/// After [`MAX_ATTEMPTS`] lost races: a livelock guard, not a state a client sees in practice.
pub(crate) fn too_many_writers(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::conflict(
        &rt.group,
        &rt.qualified_plural(),
        name,
        "too many concurrent writers, try again",
    )
}

pub fn modified(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::conflict(
        &rt.group,
        &rt.qualified_plural(),
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

/// The name and namespace of the body must be the URL's; the uid may not change.
fn check_identity(
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    new: &Value,
    old: &Value,
) -> Result<(), ApiError> {
    match meta_str(new, "name") {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        _ => {}
    }
    if rt.namespaced {
        if let (Some(body_ns), Some(ns)) = (meta_str(new, "namespace"), ns) {
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    }
    if let (Some(new_uid), Some(old_uid)) = (meta_str(new, "uid"), meta_str(old, "uid")) {
        if !new_uid.is_empty() && new_uid != old_uid {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.qualified_plural(),
                name,
                &format!("Precondition failed: UID in precondition: {new_uid}, UID in object meta: {old_uid}"),
            ));
        }
    }
    Ok(())
}

/// System fields come from the stored object; the status/spec split; generation.
fn apply_update_rules(rt: &ResourceType, kind: UpdateKind, new: &mut Value, old: &Value) {
    {
        let meta = meta_mut(new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ] {
            match old["metadata"].get(field) {
                Some(v) if kind != UpdateKind::Everything || field != "deletionTimestamp" => {
                    meta.insert(field.into(), v.clone());
                }
                Some(_) => {}
                None => {
                    if kind != UpdateKind::Everything {
                        meta.remove(field);
                    }
                }
            }
        }
        meta.remove("resourceVersion");
    }
    match kind {
        UpdateKind::Status => {
            let status = new.get("status").cloned();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            merged["metadata"] = new["metadata"].clone();
            // Status writers may not change labels, annotations or finalizers (upstream resets
            // metadata on status updates except for a few fields).
            for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
                match old["metadata"].get(field) {
                    Some(v) => {
                        merged["metadata"][field] = v.clone();
                    }
                    None => {
                        if let Some(m) = merged["metadata"].as_object_mut() {
                            m.remove(field);
                        }
                    }
                }
            }
            *new = merged;
        }
        // A subresource with rules of its own gets the request as it came: its strategy takes
        // from it what the write may change (the approval's conditions are in `status`).
        UpdateKind::Main if rt.has(Subresource::Status) => match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        },
        _ => {}
    }
    if kind != UpdateKind::Status {
        rt.strategy.default(new);
    }
    match kind {
        UpdateKind::Subresource(sub) => rt.strategy.prepare_for_subresource_update(sub, new, old),
        _ => rt.strategy.prepare_for_update(new, old),
    }
    if rt.strategy.tracks_generation() && !same_outside_meta_and_status(new, old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta_mut(new).insert("generation".into(), Value::from(generation));
    }
}

fn same_outside_meta_and_status(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(a) == strip(b)
}

/// Equal but for resourceVersion and managedFields timestamps: such an update writes nothing.
fn same_object(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        v
    };
    strip(new) == strip(old)
}

/// An object being deleted whose last finalizer is gone, with no grace period left to wait for.
fn finalized(rt: &ResourceType, obj: &Value) -> bool {
    let meta = &obj["metadata"];
    meta.get("deletionTimestamp").is_some()
        && meta["finalizers"]
            .as_array()
            .is_none_or(std::vec::Vec::is_empty)
        && meta["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
        && !rt.strategy.deletion_pending(obj)
}
