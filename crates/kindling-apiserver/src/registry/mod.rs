//! The generic registry: one implementation of create/get/list/update/patch/delete/watch for every
//! resource of the catalog, as upstream's `generic/registry.Store`. Per-resource rules come from
//! the resource's strategy; the few that need state (service IP allocation, with its IPAddress
//! records: `addresses.rs`; node ports, in a record shared by every server: `nodeports.rs`)
//! are hooks.
//!
//! Objects are stored as JSON under `/registry/<group>/<plural>/[<namespace>/]<name>`, without
//! `metadata.resourceVersion`: the store's revision of the key is the resourceVersion, set on read.
//! A resource served in one version and stored in another's form (its catalog entry's
//! `storage`) lives under the storage version's keys and is converted on its way in
//! ([`encode`]) and out ([`decode`]): both versions see the same objects.

mod addresses;
mod count;
mod create;
mod delete;
mod list;
pub(crate) mod nodeports;
mod update;
mod watch;

pub use create::WriteContext;
pub use delete::DeleteOptions;
pub use list::{ListOptions, Scan};
pub use update::UpdateKind;
pub use watch::{WatchEvent, WatchItem, WatchOptions};

use crate::cacher::{Cacher, Object};
use crate::services::ServiceAllocator;
use kindling_api::catalog::Allocation;
use kindling_api::proto::order_like_upstream;
use kindling_api::{ApiError, LiveCatalog, ResourceType};
use kindling_store::{KeyValue, Revision, SharedStore, StoreError};
use serde_json::Value;
use std::sync::Arc;

/// Everything the generic REST path needs.
#[derive(Clone)]
pub struct Registry {
    store: SharedStore,
    /// Every stored object in memory: reads and watches are served from it.
    cache: Arc<Cacher>,
    pub services: Arc<ServiceAllocator>,
    /// The resources served now: the built-in ones and those of CustomResourceDefinitions.
    pub catalog: Arc<LiveCatalog>,
    /// The admission plugins writes go through (upstream's default set unless configured).
    admission: Arc<crate::admission::Chain>,
    /// Who may do what: the escalation checks on role and binding writes read it.
    authorizer: Arc<crate::authz::Authorizer>,
}

impl Registry {
    /// A registry over `store`; starts its watch cache, whose watchers may each have
    /// `watch_queue` events waiting.
    pub fn new(
        store: SharedStore,
        services: ServiceAllocator,
        watch_queue: usize,
    ) -> std::io::Result<Registry> {
        Ok(Registry {
            cache: Cacher::start(store.clone(), watch_queue)?,
            store,
            services: Arc::new(services),
            catalog: Arc::new(LiveCatalog::new()),
            admission: Arc::default(),
            authorizer: Arc::new(crate::authz::Authorizer::new(vec![
                crate::authz::Mode::AlwaysAllow,
            ])),
        })
    }

    /// The registry with this authorizer.
    pub fn with_authorizer(mut self, authorizer: Arc<crate::authz::Authorizer>) -> Registry {
        self.authorizer = authorizer;
        self
    }

    pub fn authorizer(&self) -> &Arc<crate::authz::Authorizer> {
        &self.authorizer
    }

    /// The registry with this admission chain.
    pub fn with_admission(mut self, chain: crate::admission::Chain) -> Registry {
        self.admission = Arc::new(chain);
        self
    }

    pub fn admission(&self) -> &crate::admission::Chain {
        &self.admission
    }

    /// The store itself, for readers that must not wait on anything else (a conversion
    /// webhook's Service, looked up while an object is being decoded).
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The allocator a write of this resource must go through, as its catalog entry says.
    fn allocator(&self, rt: &ResourceType) -> Option<&ServiceAllocator> {
        match rt.allocation? {
            Allocation::ServiceAddresses => Some(self.services.as_ref()),
        }
    }

    /// Whether the store answers a consistent read within `within` (the `etcd` check of
    /// `/readyz`: an API server cut from its etcd quorum reports not ready, and load balancers
    /// stop sending it clients).
    pub async fn store_answers(&self, within: std::time::Duration) -> bool {
        let read = self.blocking(kindling_store::Store::current_revision);
        matches!(tokio::time::timeout(within, read).await, Ok(Ok(_)))
    }

    /// Writes `value` at `ROOT` + `name`, a key outside every resource (`masterleases.rs`),
    /// creating it or replacing what is there (last writer wins: each key has one writer). It
    /// stays under the watch cache's root, which must see every write (see [`cacher::ROOT`]).
    pub(crate) async fn put_raw(&self, name: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let key = format!("{}{name}", crate::cacher::ROOT);
        self.blocking(move |store| match store.get(&key)? {
            Some(kv) => store.update(&key, value, kv.mod_revision).map(|_| ()),
            None => store.create(&key, value).map(|_| ()),
        })
        .await
    }

    /// Every key (and value) under `ROOT` + `prefix`, outside every resource.
    pub(crate) async fn list_raw(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let prefix = format!("{}{prefix}", crate::cacher::ROOT);
        self.blocking(move |store| Ok(store.list(&prefix, None, 0, None)?.items))
            .await
    }

    /// Runs a (blocking) store call off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn kindling_store::Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .unwrap_or_else(|e| Err(StoreError::Internal(format!("store task failed: {e}"))))
    }

    /// The current object, with its resourceVersion.
    pub async fn get(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        match self.read(rt, ns, name).await? {
            Some((obj, _)) => Ok(obj),
            None => Err(not_found(rt, name)),
        }
    }

    /// The current object, as stored, for a client that wants it as it is: the cached bytes.
    pub async fn get_cached(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Arc<Object>, ApiError> {
        let key = object_key(rt, ns, name);
        if self.cache.wait_fresh().await {
            if let (Some(object), _) = self.cache.get(&key) {
                return Ok(object);
            }
            return Err(not_found(rt, name));
        }
        let kv = self
            .blocking(move |s| s.get(&key))
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(rt, name))?;
        Ok(Arc::new(Object::from_kv(&kv, kv.mod_revision)))
    }

    /// The current object and its revision: read from the cache once it holds everything the
    /// store has committed (a consistent read), else from the store.
    async fn read(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, Revision)>, ApiError> {
        let key = object_key(rt, ns, name);
        if self.cache.wait_fresh().await {
            let (object, _) = self.cache.get(&key);
            return object
                .map(|o| decode_cached(rt, &o).map(|obj| (obj, o.revision)))
                .transpose();
        }
        let kv = self
            .blocking(move |s| s.get(&key))
            .await
            .map_err(store_error)?;
        kv.map(|kv| decode(rt, &kv).map(|obj| (obj, kv.mod_revision)))
            .transpose()
    }
}

/// `/registry/apps/deployments/default/web`; core resources use the group name `core`.
pub fn object_key(rt: &ResourceType, ns: Option<&str>, name: &str) -> String {
    format!("{}{name}", key_prefix(rt, ns))
}

/// The prefix of every key of `rt` in `ns` (or in all namespaces, or cluster-scoped): its
/// storage version's keys.
pub fn key_prefix(rt: &ResourceType, ns: Option<&str>) -> String {
    let (group, plural) = match rt.storage {
        Some(s) => (s.group, s.plural),
        None => (rt.group.as_str(), rt.plural.as_str()),
    };
    let group = if group.is_empty() { "core" } else { group };
    match ns {
        Some(ns) if rt.namespaced => format!("/registry/{group}/{plural}/{ns}/"),
        _ => format!("/registry/{group}/{plural}/"),
    }
}

/// A stored value back to an object of `rt` (converted from its storage version), its revision
/// as resourceVersion.
pub fn decode(rt: &ResourceType, kv: &KeyValue) -> Result<Value, ApiError> {
    let obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    let mut obj = rt.from_stored(obj)?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// A cached object back to an object of `rt` (its resourceVersion is already in it).
pub fn decode_cached(rt: &ResourceType, object: &Object) -> Result<Value, ApiError> {
    if !object.served {
        return Err(ApiError::internal(format!(
            "stored object {} is corrupt: not a JSON object",
            object.key
        )));
    }
    let obj: Value = serde_json::from_slice(&object.json)
        .map_err(|e| ApiError::internal(format!("stored object {} is corrupt: {e}", object.key)))?;
    rt.from_stored(obj)
}

pub fn set_resource_version(obj: &mut Value, rev: Revision) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let rv = Value::String(rev.to_string());
    if let Some(slot) = meta.get_mut("resourceVersion") {
        *slot = rv;
        return;
    }
    // Where ObjectMeta has it: before the first field that follows it in the struct.
    let at = meta
        .keys()
        .position(|k| AFTER_RESOURCE_VERSION.contains(&k.as_str()))
        .unwrap_or(meta.len());
    meta.shift_insert(at, "resourceVersion".into(), rv);
}

/// The fields of ObjectMeta after `resourceVersion`, in struct order.
const AFTER_RESOURCE_VERSION: [&str; 9] = [
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// The object as stored: in its storage version's form, without its resourceVersion. Also
/// returns the object as `rt` shows what was stored (the conversion may fill in fields).
fn encode(rt: &ResourceType, obj: &Value) -> Result<(Vec<u8>, Value), ApiError> {
    encode_owned(rt, obj.clone())
}

/// [`encode`] of an object the caller has no further use for (no copy made).
fn encode_owned(rt: &ResourceType, obj: Value) -> Result<(Vec<u8>, Value), ApiError> {
    // Stored (and so served) in upstream's field order, whatever order the writer used.
    let mut stored = rt.to_stored(obj)?;
    order_like_upstream(&mut stored);
    if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("resourceVersion");
    }
    let bytes = serde_json::to_vec(&stored).unwrap_or_default();
    let mut shown = if rt.converts() {
        rt.from_stored(stored)?
    } else {
        stored
    };
    if rt.storage.is_some() {
        order_like_upstream(&mut shown);
    }
    Ok((bytes, shown))
}

pub fn not_found(rt: &ResourceType, name: &str) -> ApiError {
    ApiError::not_found(&rt.group, &rt.qualified_plural(), name)
}

/// Store failures that reach a client. Precondition failures are mapped by the caller, which knows
/// the resource; anything reaching here unmapped is the server's fault.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::gone(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::too_many_requests(
            format!("Too large resource version: {requested}, current: {current}"),
            1,
        ),
        other => ApiError::internal(other.to_string()),
    }
}

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Mutable `metadata`, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Default::default());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// RFC 3339 at second precision, as Kubernetes timestamps are written.
pub fn timestamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
