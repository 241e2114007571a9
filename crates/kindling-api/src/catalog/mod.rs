//! The catalog: every resource the API server serves, as data.
//!
//! One entry per resource (group, version, kind, plural, short names, categories, scope,
//! subresources) plus what differs between resources: its strategy (defaults, validation,
//! update and delete rules), its Table printer, its field labels, its admission plugins, its
//! scale paths. The server has one generic REST path for all of them, as the upstream
//! apiserver's generic registry does, so a new resource is one entry (and a strategy if it has
//! rules of its own).
//!
//! The built-in entries ([`builtin`], made once from the k8s-openapi types) are the start of a
//! server's [`LiveCatalog`], which CustomResourceDefinitions extend and shrink while it runs.
//! Requests read the live catalog without a lock (an `ArcSwap` of an immutable [`Catalog`]);
//! a change installs a new catalog that every later request sees.

mod builtin;

use crate::selector::FieldLabels;
use crate::strategy::Strategy;
use crate::table::Printer;
use crate::ApiError;
use arc_swap::ArcSwap;
use serde_json::Value;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

pub use builtin::STORED_VERBS;

/// A subresource a resource offers beyond its main endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`: writes only the status; main-resource writes leave status alone.
    Status,
    /// `/scale`: an autoscaling/v1 Scale view of the entry's [`ScalePaths`].
    Scale,
    /// `pods/binding`: assigns a pod to a node.
    Binding,
    /// `pods/ephemeralcontainers`: writes only `spec.ephemeralContainers` (upstream's
    /// ephemeral containers strategy); the strategy's subresource rules decide what changes.
    EphemeralContainers,
    /// `namespaces/finalize`.
    Finalize,
    /// `certificatesigningrequests/approval`: writes only the status's conditions (upstream's
    /// approval strategy), through the strategy's subresource rules.
    Approval,
    /// `pods/log`: the container's output, read from the node's agent.
    Log,
    /// `serviceaccounts/token`: a TokenRequest, answered with a signed token (create-only).
    Token,
    /// `pods/exec`, `pods/attach`, `pods/portforward`: streams upgraded through to the node.
    Exec,
    Attach,
    PortForward,
    /// `pods/resize`: writes only the containers' resources and resize policies (upstream's
    /// pod resize strategy); the strategy's subresource rules decide what changes.
    Resize,
    /// `pods/eviction`: a policy/v1 Eviction deletes the pod unless a PodDisruptionBudget
    /// forbids it (create-only).
    Eviction,
    /// `nodes/proxy[/<path>]`: the request, proxied to the node's agent (:10250).
    Proxy,
}

impl Subresource {
    pub fn path(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::EphemeralContainers => "ephemeralcontainers",
            Subresource::Finalize => "finalize",
            Subresource::Approval => "approval",
            Subresource::Log => "log",
            Subresource::Token => "token",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
            Subresource::Resize => "resize",
            Subresource::Eviction => "eviction",
            Subresource::Proxy => "proxy",
        }
    }

    /// The (group, version, kind) the subresource speaks, for discovery.
    pub fn kind(self, rt: &ResourceType) -> (&str, &str, &str) {
        match self {
            Subresource::Scale => ("autoscaling", "v1", "Scale"),
            Subresource::Binding => ("", "v1", "Binding"),
            Subresource::Eviction => ("policy", "v1", "Eviction"),
            Subresource::Token => ("authentication.k8s.io", "v1", "TokenRequest"),
            Subresource::Exec => ("", "v1", "PodExecOptions"),
            Subresource::Attach => ("", "v1", "PodAttachOptions"),
            Subresource::PortForward => ("", "v1", "PodPortForwardOptions"),
            Subresource::Proxy => ("", "v1", "NodeProxyOptions"),
            _ => (&rt.group, &rt.version, &rt.kind),
        }
    }

    /// The verbs the subresource serves.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Subresource::Binding | Subresource::Token | Subresource::Eviction => &["create"],
            Subresource::Log => &["get"],
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                &["create", "get"]
            }
            Subresource::Finalize => &["update"],
            Subresource::Proxy => &["create", "delete", "get", "patch", "update"],
            Subresource::Status
            | Subresource::Scale
            | Subresource::Resize
            | Subresource::EphemeralContainers
            | Subresource::Approval => &["get", "patch", "update"],
        }
    }
}

/// How the server answers a resource's requests.
#[derive(Clone, Copy)]
pub enum Serving {
    /// Objects in the store, every verb through the generic registry.
    Stored,
    /// Create-only, answered from the request and never stored (access reviews, whoami,
    /// TokenReview).
    Review,
    /// Create-only `bindings` (core/v1): binds the pod the body names, as `pods/binding` does.
    PodBinding,
    /// Read-only (get, list), computed on each read (`componentstatuses`), with the warning
    /// upstream sends with every answer, if any.
    Computed(fn() -> Vec<Value>, Option<&'static str>),
}

/// A resource served in one version and stored in the form of another (autoscaling/v1
/// HorizontalPodAutoscalers are stored as autoscaling/v2, events.k8s.io/v1 Events as core/v1
/// Events), as upstream stores every version of a resource in one storage version. Objects are
/// converted on their way to the store and back, so both versions see the same objects.
pub struct Storage {
    /// group, version and plural of the catalog entry whose form is stored.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    /// The served form to the stored form (a conversion that can fail: bad round-trip
    /// annotations).
    pub to_stored: fn(Value) -> Result<Value, String>,
    /// The stored form to the served form.
    pub from_stored: fn(Value) -> Value,
}

impl Storage {
    /// The catalog entry whose form is stored (a built-in one).
    pub fn resource(&self) -> &'static ResourceType {
        find(self.group, self.version, self.plural).expect("a storage version is in the catalog")
    }
}

/// What a delete that names no propagation policy does to the object's dependents: upstream's
/// `DefaultGarbageCollectionPolicy` of the resource's strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPropagation {
    /// The object goes at once; the garbage collector deletes its dependents afterwards.
    Background,
    /// The object gets the `orphan` finalizer: its dependents lose their reference to it and
    /// stay (core/v1 ReplicationControllers, for backward compatibility).
    Orphan,
}

/// The OpenAPI type of a resource: a k8s-openapi type (built-in), or a schema a
/// CustomResourceDefinition carries.
#[derive(Clone)]
pub enum TypeInfo {
    Builtin {
        /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.Pod`.
        schema_name: fn() -> String,
        /// Adds the type's schema (and every schema it refers to) to a generator.
        add_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
        /// Decodes the object into the typed struct, so that a value of the wrong JSON type is
        /// caught with a message naming the field.
        decode_check: fn(&Value) -> Result<(), String>,
    },
    /// A custom resource: its definition name (upstream's reversed group, version, kind:
    /// `com.example.v1.Widget`), its OpenAPI v3 schema as the CRD declares it, and the version
    /// objects are stored in (conversion `None`: only `apiVersion` differs between versions).
    Custom {
        schema_name: String,
        schema: Arc<Value>,
        /// The schema compiled (pruning and defaults of stored objects on every read).
        structural: Arc<crate::apiextensions::structural::Structural>,
        /// The schema as server-side apply reads it (interned once per distinct schema).
        ssa_schema: &'static Value,
        storage_version: String,
        /// Conversion `Webhook`: the API server's client of the definition's webhook (`None`:
        /// conversion `None`, only `apiVersion` differs between versions).
        converter: Option<Arc<dyn crate::apiextensions::conversion::Converter>>,
    },
}

/// Writes that hold allocations outside the object (upstream's BeginCreate/BeginUpdate with
/// commit/revert): the registry keeps what is reserved only if the object is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// Cluster IPs and node ports of core/v1 Services (and their IPAddress records).
    ServiceAddresses,
}

/// The admission plugins that look at a resource (upstream registers each plugin for the kinds
/// it handles; here the entry names the plugins that handle it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// ServiceAccount, LimitRanger defaults/validation, DefaultTolerationSeconds (pods).
    Pod,
    /// DefaultStorageClass, pvc-protection, LimitRanger, PersistentVolumeClaimResize (claims).
    PersistentVolumeClaim,
    /// pv-protection (volumes).
    PersistentVolume,
    /// Roles and ClusterRoles: RBAC escalation prevention (upstream's policy-based storage,
    /// always on): only rules the writer holds, unless it may `escalate`.
    RbacRole,
    /// RoleBindings and ClusterRoleBindings: only to roles whose rules the writer holds,
    /// unless it may `bind` them.
    RbacBinding,
    /// DefaultIngressClass (ingresses).
    Ingress,
}

/// Where the `/scale` subresource reads and writes (upstream's scale subresource paths; a
/// CustomResourceDefinition's `specReplicasPath`/`statusReplicasPath`/`labelSelectorPath`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: Vec<String>,
    pub status_replicas: Vec<String>,
    pub selector: ScaleSelector,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScaleSelector {
    /// A metav1.LabelSelector at the path (apps/v1).
    LabelSelector(Vec<String>),
    /// A plain label map at the path (core/v1 ReplicationControllers).
    LabelMap(Vec<String>),
    /// A string in query form at the path (custom resources' `labelSelectorPath`); none:
    /// the Scale's selector stays empty.
    Text(Option<Vec<String>>),
}

fn path_of(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

impl ScalePaths {
    /// The autoscaling/v1 Scale view of `obj`.
    pub fn scale_of(&self, obj: &Value) -> Value {
        use crate::json_path::{at, i64_at};
        use crate::selector::LabelSelector;
        let meta = &obj["metadata"];
        // The query-string form (`app=web,tier in (a,b)`) of the object's selector.
        let selector = match &self.selector {
            ScaleSelector::LabelSelector(p) => LabelSelector::from_metav1(at(obj, &path_of(p)))
                .map(|s| s.to_string())
                .unwrap_or_default(),
            ScaleSelector::LabelMap(p) => at(obj, &path_of(p))
                .and_then(Value::as_object)
                .map(|m| LabelSelector::from_map(m).to_string())
                .unwrap_or_default(),
            ScaleSelector::Text(Some(p)) => crate::json_path::str_at(obj, &path_of(p)).to_string(),
            ScaleSelector::Text(None) => String::new(),
        };
        serde_json::json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": i64_at(obj, &path_of(&self.spec_replicas))},
            "status": {"replicas": i64_at(obj, &path_of(&self.status_replicas)), "selector": selector},
        })
    }

    /// Writes `replicas` where the object keeps its desired replicas.
    pub fn set_replicas(&self, obj: &mut Value, replicas: i64) {
        let Some((last, parents)) = self.spec_replicas.split_last() else {
            return;
        };
        let parent = crate::json_path::object_mut(obj, &path_of(parents));
        parent[last.as_str()] = Value::from(replicas);
    }

    /// `spec.replicas`, `status.replicas` and a selector of the given form.
    pub fn replicas(selector: ScaleSelector) -> ScalePaths {
        ScalePaths {
            spec_replicas: vec!["spec".into(), "replicas".into()],
            status_replicas: vec!["status".into(), "replicas".into()],
            selector,
        }
    }
}

/// A resource's strategy: a static one (built-in) or a shared one (made at run time for a
/// CustomResourceDefinition's schema).
#[derive(Clone)]
pub enum StrategyRef {
    Static(&'static dyn Strategy),
    Shared(Arc<dyn Strategy>),
}

impl Deref for StrategyRef {
    type Target = dyn Strategy;
    fn deref(&self) -> &(dyn Strategy + 'static) {
        match self {
            StrategyRef::Static(s) => *s,
            StrategyRef::Shared(s) => s.as_ref(),
        }
    }
}

/// One served resource.
#[derive(Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub subresources: Vec<Subresource>,
    pub type_info: TypeInfo,
    pub strategy: StrategyRef,
    /// The verbs served. Stored resources have them all; reviews (access checks, whoami) are
    /// create-only and computed, never stored.
    pub verbs: &'static [&'static str],
    /// How requests are answered.
    pub serving: Serving,
    /// Set when objects are stored in another entry's form.
    pub storage: Option<&'static Storage>,
    /// What deleting an object without a propagation policy does to its dependents.
    pub default_propagation: DefaultPropagation,
    /// How `kubectl get` prints it.
    pub printer: Printer,
    /// The fields a field selector may name, and how they are read.
    pub field_labels: FieldLabels,
    /// The admission plugins that handle it.
    pub admission: Option<Admission>,
    /// Allocations its writes hold.
    pub allocation: Option<Allocation>,
    /// The paths `/scale` reads and writes, when it has that subresource.
    pub scale: Option<ScalePaths>,
    /// Whether discovery lists it among the built-in groups' resources (custom resources come
    /// after every built-in group, as upstream's discovery orders them).
    pub custom: bool,
}

impl ResourceType {
    /// A computed, create-only resource (a review): nothing is stored.
    pub fn is_review(&self) -> bool {
        matches!(self.serving, Serving::Review)
    }

    /// Whether objects of this resource live in the store.
    pub fn is_stored(&self) -> bool {
        matches!(self.serving, Serving::Stored)
    }

    /// The entry whose form and keys the store holds: this one, or its storage version's.
    pub fn stored_as(&self) -> &ResourceType {
        match self.storage {
            Some(s) => s.resource(),
            None => self,
        }
    }

    /// The version a custom resource is stored in, when this entry serves another one.
    fn custom_storage_version(&self) -> Option<&str> {
        match &self.type_info {
            TypeInfo::Custom {
                storage_version, ..
            } if *storage_version != self.version => Some(storage_version),
            _ => None,
        }
    }

    /// Whether objects change form on their way to the store and back.
    pub fn converts(&self) -> bool {
        self.storage.is_some() || self.custom_storage_version().is_some()
    }

    /// Whether clients are sent exactly what the store holds (no conversion, and no defaults
    /// applied on read as custom resources get), so cached bytes can be served as they are.
    pub fn serves_stored_form(&self) -> bool {
        !self.converts() && !matches!(self.type_info, TypeInfo::Custom { .. })
    }

    /// Whether this entry is the one whose form the store holds (so listing every entry that
    /// is sees each stored object once).
    pub fn is_storage_entry(&self) -> bool {
        !self.converts()
    }

    /// The group, version and kind of the stored form (upstream's storageVersionHash input).
    pub fn storage_gvk(&self) -> (String, String, String) {
        match self.custom_storage_version() {
            Some(v) => (self.group.clone(), v.to_string(), self.kind.clone()),
            None => {
                let s = self.stored_as();
                (s.group.clone(), s.version.clone(), s.kind.clone())
            }
        }
    }

    /// `obj` (in this resource's form) as the store holds it: a conversion's bad input is a
    /// 400, a conversion webhook's failure a 500 with upstream's message.
    #[allow(clippy::result_large_err)] // the error the server sends, returned as is
    pub fn to_stored(&self, obj: Value) -> Result<Value, ApiError> {
        if let Some(v) = self.custom_storage_version() {
            let storage = format!("{}/{v}", self.group);
            return match self.converter() {
                Some(c) => convert_one(c, obj, &storage),
                None => Ok(with_api_version(obj, storage)),
            };
        }
        match self.storage {
            Some(s) => (s.to_stored)(obj)
                .map_err(|e| ApiError::bad_request(format!("{} in body: {e}", self.kind))),
            None => Ok(obj),
        }
    }

    fn converter(&self) -> Option<&Arc<dyn crate::apiextensions::conversion::Converter>> {
        match &self.type_info {
            TypeInfo::Custom { converter, .. } => converter.as_ref(),
            TypeInfo::Builtin { .. } => None,
        }
    }

    /// A stored object in this resource's form. Custom objects are pruned and get their
    /// version's defaults on every read too, as upstream's storage decoder does (a field
    /// dropped from the schema, or a default added to it, shows on objects stored before).
    #[allow(clippy::result_large_err)] // the error the server sends, returned as is
    pub fn from_stored(&self, obj: Value) -> Result<Value, ApiError> {
        if let TypeInfo::Custom { structural, .. } = &self.type_info {
            let mut obj = match (self.custom_storage_version(), self.converter()) {
                (Some(_), Some(c)) => convert_one(c, obj, &self.api_version())?,
                (Some(_), None) => with_api_version(obj, self.api_version()),
                (None, _) => obj,
            };
            structural.prune_and_default(&mut obj);
            return Ok(obj);
        }
        Ok(match self.storage {
            Some(s) => (s.from_stored)(obj),
            None => obj,
        })
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_version(&self) -> (&str, &str) {
        (&self.group, &self.version)
    }

    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// `pods` or `deployments.apps`: how kubectl and error messages name the resource.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The OpenAPI definition name of its objects.
    pub fn schema_name(&self) -> String {
        match &self.type_info {
            TypeInfo::Builtin { schema_name, .. } => schema_name(),
            TypeInfo::Custom { schema_name, .. } => schema_name.clone(),
        }
    }

    /// Whether `obj` decodes into the resource's type (built-ins: the typed struct; custom
    /// resources are checked against their schema by their strategy instead).
    pub fn decode_check(&self, obj: &Value) -> Result<(), String> {
        match &self.type_info {
            TypeInfo::Builtin { decode_check, .. } => decode_check(obj),
            TypeInfo::Custom { .. } => Ok(()),
        }
    }

    /// The patches it accepts, as upstream's handler lists them: a custom resource has no Go
    /// struct to take strategic merge patch's merge keys from.
    pub fn patch_types(&self) -> &'static [crate::patch::PatchType] {
        use crate::patch::PatchType::{Apply, Json, Merge, StrategicMerge};
        match self.type_info {
            TypeInfo::Builtin { .. } => &[Json, Merge, StrategicMerge, Apply],
            TypeInfo::Custom { .. } => &[Json, Merge, Apply],
        }
    }

    /// Whether this entry serves (group, version, plural).
    pub fn is(&self, group: &str, version: &str, plural: &str) -> bool {
        self.group == group && self.version == version && self.plural == plural
    }
}

/// Conversion `None` between custom resource versions: the object with another apiVersion.
fn with_api_version(mut obj: Value, api_version: String) -> Value {
    if let Some(m) = obj.as_object_mut() {
        if m.contains_key("apiVersion") {
            m.insert("apiVersion".into(), Value::String(api_version));
        }
    }
    obj
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.plural)
    }
}

/// An immutable set of served resources, in discovery order.
#[derive(Clone, Default)]
pub struct Catalog {
    entries: Vec<Arc<ResourceType>>,
}

impl Catalog {
    pub fn new(entries: Vec<Arc<ResourceType>>) -> Catalog {
        Catalog { entries }
    }

    pub fn entries(&self) -> &[Arc<ResourceType>] {
        &self.entries
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.entries.iter()
    }

    /// The resource served at `group`/`version` under `plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceType>> {
        self.entries.iter().find(|r| r.is(group, version, plural))
    }

    /// The resource with this apiVersion and kind.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<&Arc<ResourceType>> {
        let (group, version) = split_api_version(api_version);
        self.entries
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// The group/versions served, in discovery order, without duplicates.
    pub fn group_versions(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for r in &self.entries {
            if !out.contains(&r.group_version()) {
                out.push(r.group_version());
            }
        }
        out
    }

    /// Whether both hold the very same entries (documents made from one serve the other).
    pub fn same_entries(&self, other: &Catalog) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// This catalog without the entries `remove` picks and with `add` at the end.
    pub fn changed(
        &self,
        remove: impl Fn(&ResourceType) -> bool,
        add: Vec<Arc<ResourceType>>,
    ) -> Catalog {
        let mut entries: Vec<Arc<ResourceType>> = self
            .entries
            .iter()
            .filter(|r| !remove(r))
            .cloned()
            .collect();
        entries.extend(add);
        Catalog { entries }
    }
}

/// The catalog a server serves now, changed at run time (CustomResourceDefinitions). Reads
/// take no lock: each request loads the current immutable [`Catalog`].
pub struct LiveCatalog {
    current: ArcSwap<Catalog>,
}

impl LiveCatalog {
    /// Starts with the built-in resources.
    pub fn new() -> LiveCatalog {
        LiveCatalog {
            current: ArcSwap::from_pointee(builtin_catalog().clone()),
        }
    }

    /// The catalog as it is now.
    pub fn load(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// The resource served at `group`/`version` under `plural`, now.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.current.load().find(group, version, plural).cloned()
    }

    /// The resource with this apiVersion and kind, now.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.current.load().find_kind(api_version, kind).cloned()
    }

    /// Installs the catalog `change` makes of the current one (retried if another change
    /// won the race, so `change` must be a pure function of its input).
    pub fn update(&self, change: impl Fn(&Catalog) -> Catalog) {
        self.current.rcu(|c| change(c));
    }
}

impl Default for LiveCatalog {
    fn default() -> Self {
        LiveCatalog::new()
    }
}

/// The built-in resources, made once.
pub fn builtin_catalog() -> &'static Catalog {
    static BUILTIN: LazyLock<Catalog> =
        LazyLock::new(|| Catalog::new(builtin::entries().into_iter().map(Arc::new).collect()));
    &BUILTIN
}

/// The built-in resource served at `group`/`version` under `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    builtin_catalog()
        .find(group, version, plural)
        .map(Arc::as_ref)
}

/// The built-in resource with this apiVersion and kind.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    builtin_catalog()
        .find_kind(api_version, kind)
        .map(Arc::as_ref)
}

/// The built-in entry of a resource the server itself reads and writes (namespaces, pods, …).
pub fn builtin(group: &str, version: &str, plural: &str) -> &'static Arc<ResourceType> {
    builtin_catalog()
        .find(group, version, plural)
        .expect("a built-in resource the server uses is in the catalog")
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// One object through a conversion webhook; its failure is upstream's 500.
#[allow(clippy::result_large_err)] // the error the server sends, returned as is
fn convert_one(
    c: &Arc<dyn crate::apiextensions::conversion::Converter>,
    obj: Value,
    api_version: &str,
) -> Result<Value, ApiError> {
    if obj["apiVersion"] == api_version {
        return Ok(obj);
    }
    c.convert(vec![obj], api_version)
        .map_err(ApiError::internal)?
        .pop()
        .ok_or_else(|| ApiError::internal("conversion webhook returned no object"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_per_group_version() {
        let all = builtin_catalog().entries();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(!b.is(&a.group, &a.version, &a.plural), "duplicate {a:?}");
            }
        }
    }

    #[test]
    fn scope_and_names_come_from_the_types() {
        let pods = find("", "v1", "pods").unwrap();
        assert!(pods.namespaced);
        assert_eq!(pods.kind, "Pod");
        assert_eq!(pods.list_kind, "PodList");
        assert_eq!(pods.schema_name(), "io.k8s.api.core.v1.Pod");
        let nodes = find("", "v1", "nodes").unwrap();
        assert!(!nodes.namespaced);
        assert_eq!(
            find_kind("apps/v1", "Deployment").unwrap().plural,
            "deployments"
        );
    }

    #[test]
    fn decode_check_names_the_bad_field() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let bad = serde_json::json!({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":"three"}});
        let err = deploy.decode_check(&bad).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn a_live_catalog_changes_without_touching_earlier_snapshots() {
        let live = LiveCatalog::new();
        let before = live.load();
        let mut widget = find("", "v1", "configmaps").unwrap().clone();
        widget.group = "example.com".into();
        widget.plural = "widgets".into();
        widget.custom = true;
        live.update(|c| c.changed(|_| false, vec![Arc::new(widget.clone())]));
        assert!(live.find("example.com", "v1", "widgets").is_some());
        assert!(before.find("example.com", "v1", "widgets").is_none());
        assert!(live
            .load()
            .group_versions()
            .contains(&("example.com", "v1")));
        live.update(|c| c.changed(|r| r.group == "example.com", vec![]));
        assert!(live.find("example.com", "v1", "widgets").is_none());
    }
}
