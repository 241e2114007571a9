//! The catalog: every resource the API server serves, as data.
//!
//! One entry per resource (group, version, kind, plural, short names, categories, scope,
//! subresources) plus the strategy that holds its rules. The server has one generic REST path for
//! all of them, as the upstream apiserver's generic registry does, so a new resource is one line
//! here (and a strategy if it has rules of its own).

use crate::strategy::{self, Strategy};
use crate::{computed, convert};
use k8s_openapi::api;
use serde_json::Value;

/// A subresource a resource offers beyond its main endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`: writes only the status; main-resource writes leave status alone.
    Status,
    /// `/scale`: an autoscaling/v1 Scale view of `spec.replicas`.
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
    pub fn kind(self, rt: &ResourceType) -> (&'static str, &'static str, &'static str) {
        match self {
            Subresource::Scale => ("autoscaling", "v1", "Scale"),
            Subresource::Binding => ("", "v1", "Binding"),
            Subresource::Eviction => ("policy", "v1", "Eviction"),
            Subresource::Token => ("authentication.k8s.io", "v1", "TokenRequest"),
            Subresource::Exec => ("", "v1", "PodExecOptions"),
            Subresource::Attach => ("", "v1", "PodAttachOptions"),
            Subresource::PortForward => ("", "v1", "PodPortForwardOptions"),
            Subresource::Proxy => ("", "v1", "NodeProxyOptions"),
            _ => (rt.group, rt.version, rt.kind),
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
    /// The catalog entry whose form is stored.
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

/// One served resource.
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub list_kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.Pod`.
    pub schema_name: fn() -> String,
    /// Adds the type's schema (and every schema it refers to) to a generator.
    pub add_schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
    /// Decodes the object into the typed struct, so that a value of the wrong JSON type is caught
    /// with a message naming the field.
    pub decode_check: fn(&Value) -> Result<(), String>,
    pub strategy: &'static dyn Strategy,
    /// The verbs served. Stored resources have them all; reviews (access checks, whoami) are
    /// create-only and computed, never stored.
    pub verbs: &'static [&'static str],
    /// How requests are answered.
    pub serving: Serving,
    /// Set when objects are stored in another entry's form.
    pub storage: Option<&'static Storage>,
    /// What deleting an object without a propagation policy does to its dependents.
    pub default_propagation: DefaultPropagation,
}

/// The verbs of a stored resource.
pub const STORED_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

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
    pub fn stored_as(&'static self) -> &'static ResourceType {
        match self.storage {
            Some(s) => s.resource(),
            None => self,
        }
    }

    /// `obj` (in this resource's form) as the store holds it.
    pub fn to_stored(&self, obj: Value) -> Result<Value, String> {
        match self.storage {
            Some(s) => (s.to_stored)(obj),
            None => Ok(obj),
        }
    }

    /// A stored object in this resource's form.
    pub fn from_stored(&self, obj: Value) -> Value {
        match self.storage {
            Some(s) => (s.from_stored)(obj),
            None => obj,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_version(&self) -> (&'static str, &'static str) {
        (self.group, self.version)
    }

    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// `pods` or `deployments.apps`: how kubectl and error messages name the resource.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.plural)
    }
}

/// Scope marker to bool, so the macro can read a type's scope.
pub trait ScopeFlag {
    const NAMESPACED: bool;
}
impl ScopeFlag for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl ScopeFlag for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn decode_check<T: serde::de::DeserializeOwned>(value: &Value) -> Result<(), String> {
    T::deserialize(value).map(|_| ()).map_err(|e| e.to_string())
}

fn schema_name<T: schemars::JsonSchema>() -> String {
    T::schema_name().into_owned()
}

fn add_schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

macro_rules! resource {
    ($ty:ty, $singular:literal, [$($short:literal),*], [$($cat:literal),*], [$($sub:ident),*], $strategy:expr) => {
        ResourceType {
            group: <$ty as k8s_openapi::Resource>::GROUP,
            version: <$ty as k8s_openapi::Resource>::VERSION,
            kind: <$ty as k8s_openapi::Resource>::KIND,
            list_kind: <$ty as k8s_openapi::ListableResource>::LIST_KIND,
            plural: <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT,
            singular: $singular,
            namespaced: <<$ty as k8s_openapi::Resource>::Scope as ScopeFlag>::NAMESPACED,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            subresources: &[$(Subresource::$sub),*],
            schema_name: schema_name::<$ty>,
            add_schema: add_schema::<$ty>,
            decode_check: decode_check::<$ty>,
            strategy: $strategy,
            verbs: STORED_VERBS,
            serving: Serving::Stored,
            storage: None,
            default_propagation: DefaultPropagation::Background,
        }
    };
}

/// A create-only resource whose answer the server computes (SelfSubjectAccessReview, …).
macro_rules! review {
    ($ty:ty, $singular:literal) => {
        review!($ty, $singular, Serving::Review)
    };
    ($ty:ty, $singular:literal, $serving:expr) => {
        ResourceType {
            group: <$ty as k8s_openapi::Resource>::GROUP,
            version: <$ty as k8s_openapi::Resource>::VERSION,
            kind: <$ty as k8s_openapi::Resource>::KIND,
            list_kind: "",
            plural: <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT,
            singular: $singular,
            namespaced: <<$ty as k8s_openapi::Resource>::Scope as ScopeFlag>::NAMESPACED,
            short_names: &[],
            categories: &[],
            subresources: &[],
            schema_name: schema_name::<$ty>,
            add_schema: add_schema::<$ty>,
            decode_check: decode_check::<$ty>,
            strategy: D,
            verbs: &["create"],
            serving: $serving,
            storage: None,
            default_propagation: DefaultPropagation::Background,
        }
    };
}

use strategy::DEFAULT as D;

/// Every served resource, in the order discovery lists them.
pub static CATALOG: &[ResourceType] = &[
    // core/v1
    resource!(
        api::core::v1::Namespace,
        "namespace",
        ["ns"],
        [],
        [Status, Finalize],
        &strategy::NAMESPACE
    ),
    resource!(
        api::core::v1::Pod,
        "pod",
        ["po"],
        ["all"],
        [
            Status,
            Binding,
            EphemeralContainers,
            Log,
            Exec,
            Attach,
            PortForward,
            Resize,
            Eviction
        ],
        &strategy::POD
    ),
    review!(api::core::v1::Binding, "binding", Serving::PodBinding),
    ResourceType {
        verbs: &["get", "list"],
        serving: Serving::Computed(
            computed::component_statuses,
            Some("v1 ComponentStatus is deprecated in v1.19+"),
        ),
        ..resource!(
            api::core::v1::ComponentStatus,
            "componentstatus",
            ["cs"],
            [],
            [],
            D
        )
    },
    resource!(
        api::core::v1::Service,
        "service",
        ["svc"],
        ["all"],
        [Status],
        &strategy::SERVICE
    ),
    resource!(api::core::v1::Endpoints, "endpoints", ["ep"], [], [], D),
    resource!(
        api::core::v1::ConfigMap,
        "configmap",
        ["cm"],
        [],
        [],
        &strategy::CONFIG_DATA
    ),
    resource!(
        api::core::v1::Secret,
        "secret",
        [],
        [],
        [],
        &strategy::SECRET
    ),
    resource!(
        api::core::v1::ServiceAccount,
        "serviceaccount",
        ["sa"],
        [],
        [Token],
        D
    ),
    resource!(
        api::core::v1::Node,
        "node",
        ["no"],
        [],
        [Proxy, Status],
        &strategy::NODE
    ),
    resource!(
        api::core::v1::Event,
        "event",
        ["ev"],
        [],
        [],
        &strategy::EVENT
    ),
    resource!(
        api::core::v1::PersistentVolume,
        "persistentvolume",
        ["pv"],
        [],
        [Status],
        &strategy::PERSISTENT_VOLUME
    ),
    resource!(
        api::core::v1::PersistentVolumeClaim,
        "persistentvolumeclaim",
        ["pvc"],
        [],
        [Status],
        &strategy::PERSISTENT_VOLUME_CLAIM
    ),
    resource!(
        api::core::v1::LimitRange,
        "limitrange",
        ["limits"],
        [],
        [],
        &strategy::LIMIT_RANGE
    ),
    resource!(
        api::core::v1::ResourceQuota,
        "resourcequota",
        ["quota"],
        [],
        [Status],
        D
    ),
    // core/v1 keeps the orphaning default it had before server-side garbage collection.
    ResourceType {
        default_propagation: DefaultPropagation::Orphan,
        ..resource!(
            api::core::v1::ReplicationController,
            "replicationcontroller",
            ["rc"],
            ["all"],
            [Status, Scale],
            &strategy::REPLICATED
        )
    },
    resource!(api::core::v1::PodTemplate, "podtemplate", [], [], [], D),
    // apps/v1
    resource!(
        api::apps::v1::Deployment,
        "deployment",
        ["deploy"],
        ["all"],
        [Status, Scale],
        &strategy::DEPLOYMENT
    ),
    resource!(
        api::apps::v1::ReplicaSet,
        "replicaset",
        ["rs"],
        ["all"],
        [Status, Scale],
        &strategy::REPLICATED
    ),
    resource!(
        api::apps::v1::StatefulSet,
        "statefulset",
        ["sts"],
        ["all"],
        [Status, Scale],
        &strategy::STATEFUL_SET
    ),
    resource!(
        api::apps::v1::DaemonSet,
        "daemonset",
        ["ds"],
        ["all"],
        [Status],
        &strategy::DAEMON_SET
    ),
    resource!(
        api::apps::v1::ControllerRevision,
        "controllerrevision",
        [],
        [],
        [],
        D
    ),
    // batch/v1
    resource!(
        api::batch::v1::Job,
        "job",
        [],
        ["all"],
        [Status],
        &strategy::JOB
    ),
    resource!(
        api::batch::v1::CronJob,
        "cronjob",
        ["cj"],
        ["all"],
        [Status],
        &strategy::CRON_JOB
    ),
    // autoscaling/v2 (the preferred and stored version), autoscaling/v1
    resource!(
        api::autoscaling::v2::HorizontalPodAutoscaler,
        "horizontalpodautoscaler",
        ["hpa"],
        ["all"],
        [Status],
        &strategy::HORIZONTAL_POD_AUTOSCALER
    ),
    ResourceType {
        storage: Some(&convert::HPA_V1),
        ..resource!(
            api::autoscaling::v1::HorizontalPodAutoscaler,
            "horizontalpodautoscaler",
            ["hpa"],
            ["all"],
            [Status],
            &strategy::HORIZONTAL_POD_AUTOSCALER_V1
        )
    },
    // coordination.k8s.io/v1
    resource!(api::coordination::v1::Lease, "lease", [], [], [], D),
    // discovery.k8s.io/v1
    resource!(
        api::discovery::v1::EndpointSlice,
        "endpointslice",
        [],
        [],
        [],
        D
    ),
    // networking.k8s.io/v1
    resource!(
        api::networking::v1::Ingress,
        "ingress",
        ["ing"],
        [],
        [Status],
        D
    ),
    resource!(
        api::networking::v1::IngressClass,
        "ingressclass",
        [],
        [],
        [],
        D
    ),
    resource!(
        api::networking::v1::NetworkPolicy,
        "networkpolicy",
        ["netpol"],
        [],
        [],
        D
    ),
    resource!(
        api::networking::v1::IPAddress,
        "ipaddress",
        ["ip"],
        [],
        [],
        &strategy::IP_ADDRESS
    ),
    resource!(
        api::networking::v1::ServiceCIDR,
        "servicecidr",
        [],
        [],
        [Status],
        &strategy::SERVICE_CIDR
    ),
    // storage.k8s.io/v1
    resource!(
        api::storage::v1::StorageClass,
        "storageclass",
        ["sc"],
        [],
        [],
        &strategy::STORAGE_CLASS
    ),
    resource!(api::storage::v1::CSINode, "csinode", [], [], [], D),
    resource!(api::storage::v1::CSIDriver, "csidriver", [], [], [], D),
    resource!(
        api::storage::v1::VolumeAttachment,
        "volumeattachment",
        [],
        [],
        [Status],
        D
    ),
    resource!(
        api::storage::v1::CSIStorageCapacity,
        "csistoragecapacity",
        [],
        [],
        [],
        &strategy::CSI_STORAGE_CAPACITY
    ),
    resource!(
        api::storage::v1::VolumeAttributesClass,
        "volumeattributesclass",
        ["vac"],
        [],
        [],
        &strategy::VOLUME_ATTRIBUTES_CLASS
    ),
    // rbac.authorization.k8s.io/v1
    resource!(api::rbac::v1::Role, "role", [], [], [], D),
    resource!(api::rbac::v1::RoleBinding, "rolebinding", [], [], [], D),
    resource!(api::rbac::v1::ClusterRole, "clusterrole", [], [], [], D),
    resource!(
        api::rbac::v1::ClusterRoleBinding,
        "clusterrolebinding",
        [],
        [],
        [],
        D
    ),
    // policy/v1
    resource!(
        api::policy::v1::PodDisruptionBudget,
        "poddisruptionbudget",
        ["pdb"],
        [],
        [Status],
        &strategy::POD_DISRUPTION_BUDGET
    ),
    // scheduling.k8s.io/v1
    resource!(
        api::scheduling::v1::PriorityClass,
        "priorityclass",
        ["pc"],
        [],
        [],
        D
    ),
    // events.k8s.io/v1, stored as core/v1 Events
    ResourceType {
        storage: Some(&convert::EVENTS_V1),
        ..resource!(
            api::events::v1::Event,
            "event",
            ["ev"],
            [],
            [],
            &strategy::EVENTS_V1
        )
    },
    // certificates.k8s.io/v1
    resource!(
        api::certificates::v1::CertificateSigningRequest,
        "certificatesigningrequest",
        ["csr"],
        [],
        [Status, Approval],
        &strategy::CERTIFICATE_SIGNING_REQUEST
    ),
    // node.k8s.io/v1
    resource!(
        api::node::v1::RuntimeClass,
        "runtimeclass",
        [],
        [],
        [],
        &strategy::RUNTIME_CLASS
    ),
    // flowcontrol.apiserver.k8s.io/v1
    resource!(
        api::flowcontrol::v1::FlowSchema,
        "flowschema",
        [],
        [],
        [Status],
        &strategy::FLOW_SCHEMA
    ),
    resource!(
        api::flowcontrol::v1::PriorityLevelConfiguration,
        "prioritylevelconfiguration",
        [],
        [],
        [Status],
        &strategy::PRIORITY_LEVEL_CONFIGURATION
    ),
    // admissionregistration.k8s.io/v1: stored and validated; webhooks are not called and
    // policies not enforced (see docs/STATUS.md).
    resource!(
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        "mutatingwebhookconfiguration",
        [],
        ["api-extensions"],
        [],
        &strategy::WEBHOOK_CONFIGURATION
    ),
    resource!(
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        "validatingadmissionpolicy",
        [],
        ["api-extensions"],
        [Status],
        &strategy::VALIDATING_ADMISSION_POLICY
    ),
    resource!(
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        "validatingadmissionpolicybinding",
        [],
        ["api-extensions"],
        [],
        &strategy::VALIDATING_ADMISSION_POLICY_BINDING
    ),
    resource!(
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        "validatingwebhookconfiguration",
        [],
        ["api-extensions"],
        [],
        &strategy::WEBHOOK_CONFIGURATION
    ),
    // resource.k8s.io/v1 (dynamic resource allocation): served and validated; no driver
    // publishes devices and nothing allocates claims.
    resource!(
        api::resource::v1::DeviceClass,
        "deviceclass",
        [],
        [],
        [],
        &strategy::DEVICE_CLASS
    ),
    resource!(
        api::resource::v1::ResourceClaim,
        "resourceclaim",
        [],
        [],
        [Status],
        &strategy::RESOURCE_CLAIM
    ),
    resource!(
        api::resource::v1::ResourceClaimTemplate,
        "resourceclaimtemplate",
        [],
        [],
        [],
        &strategy::RESOURCE_CLAIM_TEMPLATE
    ),
    resource!(
        api::resource::v1::ResourceSlice,
        "resourceslice",
        [],
        [],
        [],
        &strategy::RESOURCE_SLICE
    ),
    // Reviews: computed answers to "may I?" and "who am I?", never stored.
    review!(
        api::authorization::v1::SelfSubjectAccessReview,
        "selfsubjectaccessreview"
    ),
    review!(
        api::authorization::v1::SelfSubjectRulesReview,
        "selfsubjectrulesreview"
    ),
    review!(
        api::authorization::v1::SubjectAccessReview,
        "subjectaccessreview"
    ),
    review!(
        api::authorization::v1::LocalSubjectAccessReview,
        "localsubjectaccessreview"
    ),
    review!(
        api::authentication::v1::SelfSubjectReview,
        "selfsubjectreview"
    ),
    review!(api::authentication::v1::TokenReview, "tokenreview"),
];

/// The resource served at `group`/`version` under `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    CATALOG
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource with this apiVersion and kind.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    let (group, version) = split_api_version(api_version);
    CATALOG
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The group/versions served, in discovery order, without duplicates.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in CATALOG {
        if !out.contains(&r.group_version()) {
            out.push(r.group_version());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_per_group_version() {
        for (i, a) in CATALOG.iter().enumerate() {
            for b in &CATALOG[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "duplicate {a:?}"
                );
            }
        }
    }

    #[test]
    fn scope_and_names_come_from_the_types() {
        let pods = find("", "v1", "pods").unwrap();
        assert!(pods.namespaced);
        assert_eq!(pods.kind, "Pod");
        assert_eq!(pods.list_kind, "PodList");
        assert_eq!((pods.schema_name)(), "io.k8s.api.core.v1.Pod");
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
        let err = (deploy.decode_check)(&bad).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }
}
