//! Delete: preconditions, graceful deletion (pods on a node, namespaces, finalizers), removal.

use super::create::WriteContext;
use super::list::ListOptions;
use super::update::{too_many_writers, UpdateKind, MAX_ATTEMPTS};
use super::{decode, meta_mut, meta_str, not_found, object_key, store_error, timestamp, Registry};
use kindling_api::catalog::DefaultPropagation;
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;

/// The finalizer that makes the garbage collector orphan an object's dependents before it goes.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that makes the garbage collector delete an object's blocking dependents first.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// DeleteOptions from the body and the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub propagation_policy: Option<String>,
    /// The deprecated `orphanDependents` (true: Orphan, false: not Orphan).
    pub orphan_dependents: Option<bool>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Options that delete the dependents in the background, whatever the resource's default
    /// (what the namespace controller deletes a namespace's content with).
    pub fn background() -> DeleteOptions {
        DeleteOptions {
            propagation_policy: Some("Background".into()),
            ..Default::default()
        }
    }

    /// Reads a `DeleteOptions` body (may be empty) over what the query already set.
    pub fn merge_body(&mut self, body: &Value) -> Result<(), ApiError> {
        if let Some(g) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
            self.grace_period_seconds = Some(g);
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation_policy = Some(p.to_string());
        }
        if let Some(o) = body.get("orphanDependents").and_then(Value::as_bool) {
            self.orphan_dependents = Some(o);
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
        Ok(())
    }

    /// Upstream's ValidateDeleteOptions: a known propagation policy, not both it and
    /// `orphanDependents`.
    pub fn validate(&self) -> Result<(), ApiError> {
        let invalid = |cause| ApiError::invalid("meta.k8s.io", "DeleteOptions", "", vec![cause]);
        match self.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => {}
            Some(other) => {
                return Err(invalid(kindling_api::Cause::not_supported(
                    "propagationPolicy",
                    kindling_api::meta::go_quote(other),
                    &["Foreground", "Background", "Orphan", "nil"],
                )))
            }
        }
        if let (Some(policy), Some(_)) = (&self.propagation_policy, self.orphan_dependents) {
            return Err(invalid(kindling_api::Cause::invalid(
                "propagationPolicy",
                kindling_api::meta::go_quote(policy),
                "orphanDependents and deletionPropagation cannot be both set",
            )));
        }
        Ok(())
    }
}

/// Upstream's deletionFinalizersForGarbageCollection: the finalizers an object being deleted
/// should carry for the garbage collector, from (in this order) the options, the finalizers it
/// already has and the resource's default; `None` when they are already right.
pub fn finalizers_for_deletion(
    default: DefaultPropagation,
    finalizers: &[String],
    opts: &DeleteOptions,
) -> Option<Vec<String>> {
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    // Whichever of the two the object has first decides when the options do not.
    let first_gc = finalizers
        .iter()
        .find(|f| *f == ORPHAN_FINALIZER || *f == FOREGROUND_FINALIZER)
        .map(String::as_str);
    let policy = match (opts.orphan_dependents, opts.propagation_policy.as_deref()) {
        (Some(true), _) => "Orphan",
        (Some(false), _) => "Background",
        (None, Some(p)) => p,
        (None, None) => match first_gc {
            Some(ORPHAN_FINALIZER) => "Orphan",
            Some(_) => "Foreground",
            None if default == DefaultPropagation::Orphan => "Orphan",
            None => "Background",
        },
    };
    let mut wanted: Vec<String> = finalizers
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    match policy {
        "Orphan" => wanted.push(ORPHAN_FINALIZER.into()),
        "Foreground" => wanted.push(FOREGROUND_FINALIZER.into()),
        _ => {}
    }
    let same = wanted.len() == finalizers.len() && wanted.iter().all(|f| has(f));
    (!same).then_some(wanted)
}

fn finalizers_of(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Registry {
    /// Deletes the object, or marks it for deletion when something must finish first (finalizers,
    /// a pod's grace period on its node, a namespace's content). Returns the object as it was
    /// deleted or as marked.
    ///
    /// A write by someone else between the read and the removal is not the client's conflict:
    /// the deletion starts again on the new object (its preconditions checked again), as
    /// upstream's store deletes; only preconditions the client sent give 409.
    pub async fn delete(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        if let Some(why) = rt.strategy.refuse_delete(name) {
            return Err(ApiError::forbidden_object(
                &rt.group,
                &rt.qualified_plural(),
                name,
                why,
            ));
        }
        for _ in 0..MAX_ATTEMPTS {
            if let Some(done) = self.try_delete(rt, ns, name, opts).await? {
                return Ok(done);
            }
            // Let the writer that won finish before reading again.
            tokio::task::yield_now().await;
        }
        Err(too_many_writers(rt, name))
    }

    /// One attempt of [`Registry::delete`]; `None` when the removal lost a race.
    async fn try_delete(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Option<Value>, ApiError> {
        let Some((obj, rev)) = self.read(rt, ns, name).await? else {
            return Err(not_found(rt, name));
        };
        check_preconditions(rt, name, &obj, opts)?;
        if opts.dry_run {
            return Ok(Some(obj));
        }
        let grace = rt.strategy.grace_period(&obj, opts.grace_period_seconds);
        let gc_finalizers =
            finalizers_for_deletion(rt.default_propagation, &finalizers_of(&obj), opts);
        let has_finalizers = match &gc_finalizers {
            Some(f) => !f.is_empty(),
            None => !finalizers_of(&obj).is_empty(),
        };
        let held = rt.strategy.prepare_for_delete(&mut obj.clone());
        if !(has_finalizers || grace > 0 || held) {
            return self.remove(rt, ns, name, Some(rev), &obj).await;
        }
        let deleting = obj["metadata"].get("deletionTimestamp").is_some();
        // A pending graceful deletion (a pod on its node) may only be shortened, and its
        // finalizers are no longer the options' to change; an object waiting on finalizers may
        // have the garbage collector's finalizers changed by another delete.
        let current_grace = obj["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        let shorten = deleting && current_grace > 0 && grace < current_grace;
        if deleting && !shorten && (current_grace > 0 || gc_finalizers.is_none()) {
            return Ok(Some(obj));
        }
        let ctx = WriteContext::default();
        let now = jiff::Timestamp::now();
        let deadline = now + jiff::SignedDuration::from_secs(grace);
        let default = rt.default_propagation;
        let marked = self
            .update_with(rt, ns, name, UpdateKind::Everything, &ctx, |current| {
                let Some(current) = current else {
                    return Ok(None);
                };
                let mut next = current.clone();
                let pending_graceful = current["metadata"].get("deletionTimestamp").is_some()
                    && current["metadata"]["deletionGracePeriodSeconds"]
                        .as_i64()
                        .unwrap_or(0)
                        > 0;
                let finalizers = if pending_graceful {
                    None
                } else {
                    finalizers_for_deletion(default, &finalizers_of(current), opts)
                };
                let meta = meta_mut(&mut next);
                meta.remove("resourceVersion");
                if let Some(f) = finalizers {
                    meta.insert("finalizers".into(), json!(f));
                }
                if !deleting || shorten {
                    meta.insert("deletionTimestamp".into(), json!(timestamp(deadline)));
                    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
                rt.strategy.prepare_for_delete(&mut next);
                Ok(Some(next))
            })
            .await?;
        Ok(Some(marked))
    }

    /// Removes the key (the end of every deletion) if it is still at `expected`; `None` when
    /// someone wrote in between (the caller reads again and decides again).
    pub(crate) async fn remove(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        expected: Option<Revision>,
        last: &Value,
    ) -> Result<Option<Value>, ApiError> {
        let key = object_key(rt, ns, name);
        match self.store.delete_async(&key, expected).await {
            Ok((rev, kv)) => {
                if let Some(allocator) = self.allocator(rt) {
                    allocator.release(last);
                    self.release_addresses(last).await;
                }
                let mut obj = decode(rt, &kv)?;
                super::set_resource_version(&mut obj, rev);
                Ok(Some(obj))
            }
            Err(StoreError::NotFound(_)) => Err(not_found(rt, name)),
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Deletes every object matching the list options; returns them as a list.
    pub async fn delete_collection(
        &self,
        rt: &Arc<ResourceType>,
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
                &rt.group,
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
                &rt.group,
                &rt.qualified_plural(),
                name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(policy: Option<&str>, orphan: Option<bool>) -> DeleteOptions {
        DeleteOptions {
            propagation_policy: policy.map(str::to_string),
            orphan_dependents: orphan,
            ..Default::default()
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn finalizers_follow_options_then_finalizers_then_the_default() {
        use DefaultPropagation::{Background, Orphan};
        let none: &[String] = &[];
        // No policy: the resource's default.
        assert_eq!(
            finalizers_for_deletion(Background, none, &opts(None, None)),
            None
        );
        assert_eq!(
            finalizers_for_deletion(Orphan, none, &opts(None, None)),
            Some(names(&["orphan"]))
        );
        // A policy wins over the default.
        assert_eq!(
            finalizers_for_deletion(Orphan, none, &opts(Some("Background"), None)),
            None
        );
        assert_eq!(
            finalizers_for_deletion(Background, none, &opts(Some("Foreground"), None)),
            Some(names(&["foregroundDeletion"]))
        );
        // Other finalizers stay; the two GC finalizers replace each other.
        let theirs = names(&["example.com/keep", "orphan"]);
        assert_eq!(
            finalizers_for_deletion(Background, &theirs, &opts(Some("Foreground"), None)),
            Some(names(&["example.com/keep", "foregroundDeletion"]))
        );
        assert_eq!(
            finalizers_for_deletion(Background, &theirs, &opts(Some("Background"), None)),
            Some(names(&["example.com/keep"]))
        );
        // Without options, a finalizer the object has wins over the default.
        let fg = names(&["foregroundDeletion"]);
        assert_eq!(
            finalizers_for_deletion(Orphan, &fg, &opts(None, None)),
            None
        );
        // The deprecated orphanDependents.
        assert_eq!(
            finalizers_for_deletion(Background, none, &opts(None, Some(true))),
            Some(names(&["orphan"]))
        );
        assert_eq!(
            finalizers_for_deletion(Orphan, none, &opts(None, Some(false))),
            None
        );
    }

    #[test]
    fn options_are_validated_like_upstream() {
        assert!(opts(Some("Foreground"), None).validate().is_ok());
        let bad = opts(Some("Sideways"), None).validate().unwrap_err();
        assert_eq!(bad.code, 422);
        let both = opts(Some("Orphan"), Some(true)).validate().unwrap_err();
        assert!(
            both.message
                .contains("orphanDependents and deletionPropagation cannot be both set"),
            "{}",
            both.message
        );
    }
}
