//! The built-in resources: one entry per k8s-openapi type the server serves, in the order
//! discovery lists them, with what differs between them (strategy, printer, field labels,
//! admission plugins, allocations, scale paths).

use super::{
    Admission, Allocation, DefaultPropagation, ResourceType, ScalePaths, ScaleSelector, Serving,
    StrategyRef, Subresource, TypeInfo,
};
use crate::selector::FieldLabels;
use crate::strategy::{self, Strategy};
use crate::table::Printer;
use crate::{computed, convert};
use k8s_openapi::api;
use serde_json::Value;

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

fn type_info<T: schemars::JsonSchema + serde::de::DeserializeOwned>() -> TypeInfo {
    TypeInfo::Builtin {
        schema_name: schema_name::<T>,
        add_schema: add_schema::<T>,
        decode_check: decode_check::<T>,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

/// `spec.replicas`/`status.replicas` with the apps/v1 LabelSelector at `spec.selector`.
fn apps_scale() -> Option<ScalePaths> {
    Some(ScalePaths::replicas(ScaleSelector::LabelSelector(strings(
        &["spec", "selector"],
    ))))
}

macro_rules! resource {
    ($ty:ty, $singular:literal, [$($short:literal),*], [$($cat:literal),*], [$($sub:ident),*], $strategy:expr, $printer:ident) => {{
        let subresources = vec![$(Subresource::$sub),*];
        let scale = if subresources.contains(&Subresource::Scale) { apps_scale() } else { None };
        let strategy: &'static dyn Strategy = $strategy;
        ResourceType {
            group: <$ty as k8s_openapi::Resource>::GROUP.to_string(),
            version: <$ty as k8s_openapi::Resource>::VERSION.to_string(),
            kind: <$ty as k8s_openapi::Resource>::KIND.to_string(),
            list_kind: <$ty as k8s_openapi::ListableResource>::LIST_KIND.to_string(),
            plural: <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT.to_string(),
            singular: $singular.to_string(),
            namespaced: <<$ty as k8s_openapi::Resource>::Scope as ScopeFlag>::NAMESPACED,
            short_names: strings(&[$($short),*]),
            categories: strings(&[$($cat),*]),
            subresources,
            type_info: type_info::<$ty>(),
            strategy: StrategyRef::Static(strategy),
            verbs: STORED_VERBS,
            serving: Serving::Stored,
            storage: None,
            default_propagation: DefaultPropagation::Background,
            printer: Printer::$printer,
            field_labels: FieldLabels::Default,
            admission: None,
            allocation: None,
            scale,
            custom: false,
        }
    }};
}

/// A create-only resource whose answer the server computes (SelfSubjectAccessReview, …).
macro_rules! review {
    ($ty:ty, $singular:literal) => {
        review!($ty, $singular, Serving::Review)
    };
    ($ty:ty, $singular:literal, $serving:expr) => {
        ResourceType {
            group: <$ty as k8s_openapi::Resource>::GROUP.to_string(),
            version: <$ty as k8s_openapi::Resource>::VERSION.to_string(),
            kind: <$ty as k8s_openapi::Resource>::KIND.to_string(),
            list_kind: String::new(),
            plural: <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT.to_string(),
            singular: $singular.to_string(),
            namespaced: <<$ty as k8s_openapi::Resource>::Scope as ScopeFlag>::NAMESPACED,
            short_names: Vec::new(),
            categories: Vec::new(),
            subresources: Vec::new(),
            type_info: type_info::<$ty>(),
            strategy: StrategyRef::Static(D),
            verbs: &["create"],
            serving: $serving,
            storage: None,
            default_propagation: DefaultPropagation::Background,
            printer: Printer::Default,
            field_labels: FieldLabels::Default,
            admission: None,
            allocation: None,
            scale: None,
            custom: false,
        }
    };
}

use strategy::DEFAULT as D;

/// Every built-in resource, in the order discovery lists them.
pub(super) fn entries() -> Vec<ResourceType> {
    vec![
        // core/v1
        ResourceType {
            field_labels: FieldLabels::Namespace,
            ..resource!(
                api::core::v1::Namespace,
                "namespace",
                ["ns"],
                [],
                [Status, Finalize],
                &strategy::NAMESPACE,
                Namespace
            )
        },
        ResourceType {
            field_labels: FieldLabels::Pod,
            admission: Some(Admission::Pod),
            ..resource!(
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
                &strategy::POD,
                Pod
            )
        },
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
                D,
                ComponentStatus
            )
        },
        ResourceType {
            allocation: Some(Allocation::ServiceAddresses),
            ..resource!(
                api::core::v1::Service,
                "service",
                ["svc"],
                ["all"],
                [Status],
                &strategy::SERVICE,
                Service
            )
        },
        resource!(
            api::core::v1::Endpoints,
            "endpoints",
            ["ep"],
            [],
            [],
            D,
            Endpoints
        ),
        resource!(
            api::core::v1::ConfigMap,
            "configmap",
            ["cm"],
            [],
            [],
            &strategy::CONFIG_DATA,
            ConfigMap
        ),
        ResourceType {
            field_labels: FieldLabels::Secret,
            ..resource!(
                api::core::v1::Secret,
                "secret",
                [],
                [],
                [],
                &strategy::SECRET,
                Secret
            )
        },
        resource!(
            api::core::v1::ServiceAccount,
            "serviceaccount",
            ["sa"],
            [],
            [Token],
            D,
            ServiceAccount
        ),
        ResourceType {
            field_labels: FieldLabels::Node,
            ..resource!(
                api::core::v1::Node,
                "node",
                ["no"],
                [],
                [Proxy, Status],
                &strategy::NODE,
                Node
            )
        },
        ResourceType {
            field_labels: FieldLabels::Event,
            ..resource!(
                api::core::v1::Event,
                "event",
                ["ev"],
                [],
                [],
                &strategy::EVENT,
                Event
            )
        },
        ResourceType {
            admission: Some(Admission::PersistentVolume),
            ..resource!(
                api::core::v1::PersistentVolume,
                "persistentvolume",
                ["pv"],
                [],
                [Status],
                &strategy::PERSISTENT_VOLUME,
                PersistentVolume
            )
        },
        ResourceType {
            admission: Some(Admission::PersistentVolumeClaim),
            ..resource!(
                api::core::v1::PersistentVolumeClaim,
                "persistentvolumeclaim",
                ["pvc"],
                [],
                [Status],
                &strategy::PERSISTENT_VOLUME_CLAIM,
                PersistentVolumeClaim
            )
        },
        resource!(
            api::core::v1::LimitRange,
            "limitrange",
            ["limits"],
            [],
            [],
            &strategy::LIMIT_RANGE,
            Default
        ),
        resource!(
            api::core::v1::ResourceQuota,
            "resourcequota",
            ["quota"],
            [],
            [Status],
            D,
            ResourceQuota
        ),
        // core/v1 keeps the orphaning default it had before server-side garbage collection.
        ResourceType {
            field_labels: FieldLabels::ReplicationController,
            scale: Some(ScalePaths::replicas(ScaleSelector::LabelMap(strings(&[
                "spec", "selector",
            ])))),
            default_propagation: DefaultPropagation::Orphan,
            ..resource!(
                api::core::v1::ReplicationController,
                "replicationcontroller",
                ["rc"],
                ["all"],
                [Status, Scale],
                &strategy::REPLICATED,
                ReplicationController
            )
        },
        resource!(
            api::core::v1::PodTemplate,
            "podtemplate",
            [],
            [],
            [],
            D,
            PodTemplate
        ),
        // apps/v1
        resource!(
            api::apps::v1::Deployment,
            "deployment",
            ["deploy"],
            ["all"],
            [Status, Scale],
            &strategy::DEPLOYMENT,
            Deployment
        ),
        resource!(
            api::apps::v1::ReplicaSet,
            "replicaset",
            ["rs"],
            ["all"],
            [Status, Scale],
            &strategy::REPLICATED,
            ReplicaSet
        ),
        resource!(
            api::apps::v1::StatefulSet,
            "statefulset",
            ["sts"],
            ["all"],
            [Status, Scale],
            &strategy::STATEFUL_SET,
            StatefulSet
        ),
        resource!(
            api::apps::v1::DaemonSet,
            "daemonset",
            ["ds"],
            ["all"],
            [Status],
            &strategy::DAEMON_SET,
            DaemonSet
        ),
        resource!(
            api::apps::v1::ControllerRevision,
            "controllerrevision",
            [],
            [],
            [],
            D,
            ControllerRevision
        ),
        // batch/v1
        ResourceType {
            field_labels: FieldLabels::Job,
            ..resource!(
                api::batch::v1::Job,
                "job",
                [],
                ["all"],
                [Status],
                &strategy::JOB,
                Job
            )
        },
        resource!(
            api::batch::v1::CronJob,
            "cronjob",
            ["cj"],
            ["all"],
            [Status],
            &strategy::CRON_JOB,
            CronJob
        ),
        // autoscaling/v2 (the preferred and stored version), autoscaling/v1
        resource!(
            api::autoscaling::v2::HorizontalPodAutoscaler,
            "horizontalpodautoscaler",
            ["hpa"],
            ["all"],
            [Status],
            &strategy::HORIZONTAL_POD_AUTOSCALER,
            HorizontalPodAutoscaler
        ),
        ResourceType {
            storage: Some(&convert::HPA_V1),
            ..resource!(
                api::autoscaling::v1::HorizontalPodAutoscaler,
                "horizontalpodautoscaler",
                ["hpa"],
                ["all"],
                [Status],
                &strategy::HORIZONTAL_POD_AUTOSCALER_V1,
                HorizontalPodAutoscaler
            )
        },
        // coordination.k8s.io/v1
        resource!(api::coordination::v1::Lease, "lease", [], [], [], D, Lease),
        // discovery.k8s.io/v1
        resource!(
            api::discovery::v1::EndpointSlice,
            "endpointslice",
            [],
            [],
            [],
            D,
            EndpointSlice
        ),
        // networking.k8s.io/v1
        ResourceType {
            admission: Some(Admission::Ingress),
            ..resource!(
                api::networking::v1::Ingress,
                "ingress",
                ["ing"],
                [],
                [Status],
                &strategy::INGRESS,
                Ingress
            )
        },
        resource!(
            api::networking::v1::IngressClass,
            "ingressclass",
            [],
            [],
            [],
            &strategy::INGRESS_CLASS,
            IngressClass
        ),
        resource!(
            api::networking::v1::NetworkPolicy,
            "networkpolicy",
            ["netpol"],
            [],
            [],
            D,
            NetworkPolicy
        ),
        resource!(
            api::networking::v1::IPAddress,
            "ipaddress",
            ["ip"],
            [],
            [],
            &strategy::IP_ADDRESS,
            IpAddress
        ),
        resource!(
            api::networking::v1::ServiceCIDR,
            "servicecidr",
            [],
            [],
            [Status],
            &strategy::SERVICE_CIDR,
            ServiceCidr
        ),
        // storage.k8s.io/v1
        resource!(
            api::storage::v1::StorageClass,
            "storageclass",
            ["sc"],
            [],
            [],
            &strategy::STORAGE_CLASS,
            StorageClass
        ),
        resource!(api::storage::v1::CSINode, "csinode", [], [], [], D, CsiNode),
        resource!(
            api::storage::v1::CSIDriver,
            "csidriver",
            [],
            [],
            [],
            D,
            CsiDriver
        ),
        resource!(
            api::storage::v1::VolumeAttachment,
            "volumeattachment",
            [],
            [],
            [Status],
            D,
            VolumeAttachment
        ),
        resource!(
            api::storage::v1::CSIStorageCapacity,
            "csistoragecapacity",
            [],
            [],
            [],
            &strategy::CSI_STORAGE_CAPACITY,
            CsiStorageCapacity
        ),
        resource!(
            api::storage::v1::VolumeAttributesClass,
            "volumeattributesclass",
            ["vac"],
            [],
            [],
            &strategy::VOLUME_ATTRIBUTES_CLASS,
            VolumeAttributesClass
        ),
        // rbac.authorization.k8s.io/v1
        ResourceType {
            admission: Some(Admission::RbacRole),
            ..resource!(api::rbac::v1::Role, "role", [], [], [], &strategy::ROLE, Default)
        },
        ResourceType {
            admission: Some(Admission::RbacBinding),
            ..resource!(
                api::rbac::v1::RoleBinding,
                "rolebinding",
                [],
                [],
                [],
                &strategy::ROLE_BINDING,
                RoleBinding
            )
        },
        ResourceType {
            admission: Some(Admission::RbacRole),
            ..resource!(
                api::rbac::v1::ClusterRole,
                "clusterrole",
                [],
                [],
                [],
                &strategy::CLUSTER_ROLE,
                Default
            )
        },
        ResourceType {
            admission: Some(Admission::RbacBinding),
            ..resource!(
                api::rbac::v1::ClusterRoleBinding,
                "clusterrolebinding",
                [],
                [],
                [],
                &strategy::CLUSTER_ROLE_BINDING,
                ClusterRoleBinding
            )
        },
        // policy/v1
        resource!(
            api::policy::v1::PodDisruptionBudget,
            "poddisruptionbudget",
            ["pdb"],
            [],
            [Status],
            &strategy::POD_DISRUPTION_BUDGET,
            PodDisruptionBudget
        ),
        // scheduling.k8s.io/v1
        resource!(
            api::scheduling::v1::PriorityClass,
            "priorityclass",
            ["pc"],
            [],
            [],
            D,
            PriorityClass
        ),
        // events.k8s.io/v1, stored as core/v1 Events
        ResourceType {
            field_labels: FieldLabels::EventsV1,
            storage: Some(&convert::EVENTS_V1),
            ..resource!(
                api::events::v1::Event,
                "event",
                ["ev"],
                [],
                [],
                &strategy::EVENTS_V1,
                EventsV1
            )
        },
        // certificates.k8s.io/v1
        ResourceType {
            field_labels: FieldLabels::CertificateSigningRequest,
            ..resource!(
                api::certificates::v1::CertificateSigningRequest,
                "certificatesigningrequest",
                ["csr"],
                [],
                [Status, Approval],
                &strategy::CERTIFICATE_SIGNING_REQUEST,
                CertificateSigningRequest
            )
        },
        // node.k8s.io/v1
        resource!(
            api::node::v1::RuntimeClass,
            "runtimeclass",
            [],
            [],
            [],
            &strategy::RUNTIME_CLASS,
            RuntimeClass
        ),
        // flowcontrol.apiserver.k8s.io/v1
        resource!(
            api::flowcontrol::v1::FlowSchema,
            "flowschema",
            [],
            [],
            [Status],
            &strategy::FLOW_SCHEMA,
            FlowSchema
        ),
        resource!(
            api::flowcontrol::v1::PriorityLevelConfiguration,
            "prioritylevelconfiguration",
            [],
            [],
            [Status],
            &strategy::PRIORITY_LEVEL_CONFIGURATION,
            PriorityLevelConfiguration
        ),
        // apiextensions.k8s.io/v1: definitions of custom resources, served as catalog entries
    // made at run time (see crate::apiextensions).
    resource!(
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        "customresourcedefinition",
        ["crd", "crds"],
        ["api-extensions"],
        [Status],
        &crate::apiextensions::CustomResourceDefinitionStrategy,
        Default
    ),
    // admissionregistration.k8s.io/v1: stored and validated; webhooks are not called and
        // policies not enforced (see docs/STATUS.md).
        resource!(
            api::admissionregistration::v1::MutatingWebhookConfiguration,
            "mutatingwebhookconfiguration",
            [],
            ["api-extensions"],
            [],
            &strategy::WEBHOOK_CONFIGURATION,
            WebhookConfiguration
        ),
        resource!(
            api::admissionregistration::v1::ValidatingAdmissionPolicy,
            "validatingadmissionpolicy",
            [],
            ["api-extensions"],
            [Status],
            &strategy::VALIDATING_ADMISSION_POLICY,
            ValidatingAdmissionPolicy
        ),
        resource!(
            api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
            "validatingadmissionpolicybinding",
            [],
            ["api-extensions"],
            [],
            &strategy::VALIDATING_ADMISSION_POLICY_BINDING,
            ValidatingAdmissionPolicyBinding
        ),
        resource!(
            api::admissionregistration::v1::ValidatingWebhookConfiguration,
            "validatingwebhookconfiguration",
            [],
            ["api-extensions"],
            [],
            &strategy::WEBHOOK_CONFIGURATION,
            WebhookConfiguration
        ),
        // resource.k8s.io/v1 (dynamic resource allocation): served and validated; no driver
        // publishes devices and nothing allocates claims.
        resource!(
            api::resource::v1::DeviceClass,
            "deviceclass",
            [],
            [],
            [],
            &strategy::DEVICE_CLASS,
            DeviceClass
        ),
        resource!(
            api::resource::v1::ResourceClaim,
            "resourceclaim",
            [],
            [],
            [Status],
            &strategy::RESOURCE_CLAIM,
            ResourceClaim
        ),
        resource!(
            api::resource::v1::ResourceClaimTemplate,
            "resourceclaimtemplate",
            [],
            [],
            [],
            &strategy::RESOURCE_CLAIM_TEMPLATE,
            ResourceClaimTemplate
        ),
        ResourceType {
            field_labels: FieldLabels::ResourceSlice,
            ..resource!(
                api::resource::v1::ResourceSlice,
                "resourceslice",
                [],
                [],
                [],
                &strategy::RESOURCE_SLICE,
                ResourceSlice
            )
        },
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
    ]
}
