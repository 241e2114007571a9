//! The columns of every table (`metav1.TableColumnDefinition`s), as upstream's printers define
//! them (k8s.io/kubernetes/pkg/printers/internalversion/printers.go). A column that shows one
//! field is described by that field's OpenAPI description (upstream's
//! `ObjectMeta{}.SwaggerDoc()["name"]` and the like), read from [`crate::schema`]; the others
//! carry upstream's own words.

use super::Printer;
use crate::schema;
use serde_json::{json, Value};

/// One column of a table (`metav1.TableColumnDefinition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// As upstream names it (`Name`, `Ready`, `Port(s)`, …); kubectl upper-cases it.
    pub name: &'static str,
    /// `string`, `integer`, `boolean`, `date`, …
    pub type_: &'static str,
    /// `""`, or `name` for the column holding the object's name.
    pub format: &'static str,
    /// Where the column's description comes from.
    pub doc: Doc,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

/// A column's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doc {
    /// The OpenAPI description of the field `field` of the definition `package.kind`.
    Field {
        package: &'static str,
        kind: &'static str,
        field: &'static str,
    },
    /// Upstream's words, for a column that shows no single field.
    Text(&'static str),
}

impl Column {
    /// The column's description: its field's documentation, or upstream's text.
    pub fn description(&self) -> &'static str {
        match self.doc {
            Doc::Text(text) => text,
            Doc::Field {
                package,
                kind,
                field,
            } => schema::definitions()
                .field_description(&format!("{package}.{kind}"), field)
                .unwrap_or_default(),
        }
    }

    /// The column definition as it appears in a `Table`'s `columnDefinitions`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description(),
            "priority": self.priority,
        })
    }
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";
const CORE: &str = "io.k8s.api.core.v1";
const APPS: &str = "io.k8s.api.apps.v1";
const BATCH: &str = "io.k8s.api.batch.v1";
const AUTOSCALING: &str = "io.k8s.api.autoscaling.v2";
const NETWORKING: &str = "io.k8s.api.networking.v1";
const RBAC: &str = "io.k8s.api.rbac.v1";
const CERTIFICATES: &str = "io.k8s.api.certificates.v1";
const COORDINATION: &str = "io.k8s.api.coordination.v1";
const STORAGE: &str = "io.k8s.api.storage.v1";
const SCHEDULING: &str = "io.k8s.api.scheduling.v1";
const DISCOVERY: &str = "io.k8s.api.discovery.v1";
const FLOWCONTROL: &str = "io.k8s.api.flowcontrol.v1";
const RESOURCE: &str = "io.k8s.api.resource.v1";

const fn field(package: &'static str, kind: &'static str, field: &'static str) -> Doc {
    Doc::Field {
        package,
        kind,
        field,
    }
}

const fn text(text: &'static str) -> Doc {
    Doc::Text(text)
}

const fn col(name: &'static str, type_: &'static str, doc: Doc) -> Column {
    Column {
        name,
        type_,
        format: "",
        doc,
        priority: 0,
    }
}

const fn wide(name: &'static str, type_: &'static str, doc: Doc) -> Column {
    Column {
        name,
        type_,
        format: "",
        doc,
        priority: 1,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    doc: field(META, "ObjectMeta", "name"),
    priority: 0,
};
const AGE: Column = col(
    "Age",
    "string",
    field(META, "ObjectMeta", "creationTimestamp"),
);
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    text("Names of each container in the template."),
);
const IMAGES: Column = wide(
    "Images",
    "string",
    text("Images referenced by each container in the template."),
);

static POD_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", text("The aggregate readiness state of this pod for accepting traffic.")),
    col("Status", "string", text("The aggregate status of the containers in this pod.")),
    col(
        "Restarts",
        "string",
        text("The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    ),
    AGE,
    wide("IP", "string", field(CORE, "PodStatus", "podIP")),
    wide("Node", "string", field(CORE, "PodSpec", "nodeName")),
    wide("Nominated Node", "string", field(CORE, "PodStatus", "nominatedNodeName")),
    wide("Readiness Gates", "string", field(CORE, "PodSpec", "readinessGates")),
];

static POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Containers",
        "string",
        text("Names of each container in the template."),
    ),
    col(
        "Images",
        "string",
        text("Images referenced by each container in the template."),
    ),
    col(
        "Pod Labels",
        "string",
        text("The labels for the pod template."),
    ),
];

static PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        text("The minimum number of pods that must be available."),
    ),
    col(
        "Max Unavailable",
        "string",
        text("The maximum number of pods that may be unavailable."),
    ),
    col(
        "Allowed Disruptions",
        "integer",
        text("Calculated number of pods that may be disrupted at this time."),
    ),
    AGE,
];

static RC_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        field(CORE, "ReplicationControllerSpec", "replicas"),
    ),
    col(
        "Current",
        "integer",
        field(CORE, "ReplicationControllerStatus", "replicas"),
    ),
    col(
        "Ready",
        "integer",
        field(CORE, "ReplicationControllerStatus", "readyReplicas"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        field(CORE, "ReplicationControllerSpec", "selector"),
    ),
];

static RS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        field(APPS, "ReplicaSetSpec", "replicas"),
    ),
    col(
        "Current",
        "integer",
        field(APPS, "ReplicaSetStatus", "replicas"),
    ),
    col(
        "Ready",
        "integer",
        field(APPS, "ReplicaSetStatus", "readyReplicas"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        field(APPS, "ReplicaSetSpec", "selector"),
    ),
];

static DS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        field(APPS, "DaemonSetStatus", "desiredNumberScheduled"),
    ),
    col(
        "Current",
        "integer",
        field(APPS, "DaemonSetStatus", "currentNumberScheduled"),
    ),
    col(
        "Ready",
        "integer",
        field(APPS, "DaemonSetStatus", "numberReady"),
    ),
    col(
        "Up-to-date",
        "integer",
        field(APPS, "DaemonSetStatus", "updatedNumberScheduled"),
    ),
    col(
        "Available",
        "integer",
        field(APPS, "DaemonSetStatus", "numberAvailable"),
    ),
    col(
        "Node Selector",
        "string",
        field(CORE, "PodSpec", "nodeSelector"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        field(APPS, "DaemonSetSpec", "selector"),
    ),
];

static JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", text("Status of the job.")),
    col(
        "Completions",
        "string",
        field(BATCH, "JobStatus", "succeeded"),
    ),
    col(
        "Duration",
        "string",
        text("Time required to complete the job."),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", field(BATCH, "JobSpec", "selector")),
];

static CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Schedule",
        "string",
        field(BATCH, "CronJobSpec", "schedule"),
    ),
    col(
        "Timezone",
        "string",
        field(BATCH, "CronJobSpec", "timeZone"),
    ),
    col("Suspend", "boolean", field(BATCH, "CronJobSpec", "suspend")),
    col("Active", "integer", field(BATCH, "CronJobStatus", "active")),
    col(
        "Last Schedule",
        "string",
        field(BATCH, "CronJobStatus", "lastScheduleTime"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", field(BATCH, "JobSpec", "selector")),
];

static SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", field(CORE, "ServiceSpec", "type")),
    col(
        "Cluster-IP",
        "string",
        field(CORE, "ServiceSpec", "clusterIP"),
    ),
    col(
        "External-IP",
        "string",
        field(CORE, "ServiceSpec", "externalIPs"),
    ),
    col("Port(s)", "string", field(CORE, "ServiceSpec", "ports")),
    AGE,
    wide("Selector", "string", field(CORE, "ServiceSpec", "selector")),
];

static INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        text("The name of the IngressClass resource that should be used for additional configuration"),
    ),
    col(
        "Hosts",
        "string",
        text("Hosts that incoming requests are matched against before the ingress rule"),
    ),
    col(
        "Address",
        "string",
        text("Address is a list containing ingress points for the load-balancer"),
    ),
    col("Ports", "string", text("Ports of TLS configurations that open")),
    AGE,
];

static INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        text("Controller that is responsible for handling this class"),
    ),
    col(
        "Parameters",
        "string",
        text("A reference to a resource with additional parameters"),
    ),
    AGE,
];

static STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        text("Number of the pod with ready state"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
];

static ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col("Endpoints", "string", field(CORE, "Endpoints", "subsets")),
    AGE,
];

static NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", text("The status of the node")),
    col("Roles", "string", text("The roles of the node")),
    AGE,
    col(
        "Version",
        "string",
        field(CORE, "NodeSystemInfo", "kubeletVersion"),
    ),
    wide(
        "Internal-IP",
        "string",
        field(CORE, "NodeStatus", "addresses"),
    ),
    wide(
        "External-IP",
        "string",
        field(CORE, "NodeStatus", "addresses"),
    ),
    wide(
        "OS-Image",
        "string",
        field(CORE, "NodeSystemInfo", "osImage"),
    ),
    wide(
        "Kernel-Version",
        "string",
        field(CORE, "NodeSystemInfo", "kernelVersion"),
    ),
    wide(
        "Container-Runtime",
        "string",
        field(CORE, "NodeSystemInfo", "containerRuntimeVersion"),
    ),
];

static EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", field(CORE, "Event", "lastTimestamp")),
    col("Type", "string", field(CORE, "Event", "type")),
    col("Reason", "string", field(CORE, "Event", "reason")),
    col("Object", "string", field(CORE, "Event", "involvedObject")),
    wide(
        "Subobject",
        "string",
        field(CORE, "ObjectReference", "fieldPath"),
    ),
    wide("Source", "string", field(CORE, "Event", "source")),
    col("Message", "string", field(CORE, "Event", "message")),
    wide(
        "First Seen",
        "string",
        field(CORE, "Event", "firstTimestamp"),
    ),
    wide("Count", "string", field(CORE, "Event", "count")),
    Column {
        name: "Name",
        type_: "string",
        format: "name",
        doc: field(META, "ObjectMeta", "name"),
        priority: 1,
    },
];

static NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", text("The status of the namespace")),
    AGE,
];

static SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", field(CORE, "Secret", "type")),
    col("Data", "string", field(CORE, "Secret", "data")),
    AGE,
];

static SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        field(CORE, "ServiceAccount", "secrets"),
    ),
    AGE,
];

static PV_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Capacity",
        "string",
        field(CORE, "PersistentVolumeSpec", "capacity"),
    ),
    col(
        "Access Modes",
        "string",
        field(CORE, "PersistentVolumeSpec", "accessModes"),
    ),
    col(
        "Reclaim Policy",
        "string",
        field(
            CORE,
            "PersistentVolumeSpec",
            "persistentVolumeReclaimPolicy",
        ),
    ),
    col(
        "Status",
        "string",
        field(CORE, "PersistentVolumeStatus", "phase"),
    ),
    col(
        "Claim",
        "string",
        field(CORE, "PersistentVolumeSpec", "claimRef"),
    ),
    col("StorageClass", "string", text("StorageClass of the pv")),
    col(
        "VolumeAttributesClass",
        "string",
        text("VolumeAttributesClass of the pv"),
    ),
    col(
        "Reason",
        "string",
        field(CORE, "PersistentVolumeStatus", "reason"),
    ),
    AGE,
    wide(
        "VolumeMode",
        "string",
        field(CORE, "PersistentVolumeSpec", "volumeMode"),
    ),
];

static PVC_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        field(CORE, "PersistentVolumeClaimStatus", "phase"),
    ),
    col(
        "Volume",
        "string",
        field(CORE, "PersistentVolumeClaimSpec", "volumeName"),
    ),
    col(
        "Capacity",
        "string",
        field(CORE, "PersistentVolumeClaimStatus", "capacity"),
    ),
    col(
        "Access Modes",
        "string",
        field(CORE, "PersistentVolumeClaimStatus", "accessModes"),
    ),
    col("StorageClass", "string", text("StorageClass of the pvc")),
    col(
        "VolumeAttributesClass",
        "string",
        text("VolumeAttributesClass of the pvc"),
    ),
    AGE,
    wide(
        "VolumeMode",
        "string",
        field(CORE, "PersistentVolumeClaimSpec", "volumeMode"),
    ),
];

static DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        text("Number of the pod with ready state"),
    ),
    col(
        "Up-to-date",
        "string",
        field(APPS, "DeploymentStatus", "updatedReplicas"),
    ),
    col(
        "Available",
        "string",
        field(APPS, "DeploymentStatus", "availableReplicas"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        field(APPS, "DeploymentSpec", "selector"),
    ),
];

static HPA_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Reference",
        "string",
        field(AUTOSCALING, "HorizontalPodAutoscalerSpec", "scaleTargetRef"),
    ),
    col(
        "Targets",
        "string",
        field(AUTOSCALING, "HorizontalPodAutoscalerSpec", "metrics"),
    ),
    col(
        "MinPods",
        "string",
        field(AUTOSCALING, "HorizontalPodAutoscalerSpec", "minReplicas"),
    ),
    col(
        "MaxPods",
        "string",
        field(AUTOSCALING, "HorizontalPodAutoscalerSpec", "maxReplicas"),
    ),
    col(
        "Replicas",
        "string",
        field(
            AUTOSCALING,
            "HorizontalPodAutoscalerStatus",
            "currentReplicas",
        ),
    ),
    AGE,
];

static CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    col("Data", "string", field(CORE, "ConfigMap", "data")),
    AGE,
];

static NETWORK_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Pod-Selector",
        "string",
        field(NETWORKING, "NetworkPolicySpec", "podSelector"),
    ),
    AGE,
];

static ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", field(RBAC, "RoleBinding", "roleRef")),
    AGE,
    wide("Users", "string", text("Users in the roleBinding")),
    wide("Groups", "string", text("Groups in the roleBinding")),
    wide(
        "ServiceAccounts",
        "string",
        text("ServiceAccounts in the roleBinding"),
    ),
];

static CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Role",
        "string",
        field(RBAC, "ClusterRoleBinding", "roleRef"),
    ),
    AGE,
    wide("Users", "string", text("Users in the clusterRoleBinding")),
    wide("Groups", "string", text("Groups in the clusterRoleBinding")),
    wide(
        "ServiceAccounts",
        "string",
        text("ServiceAccounts in the clusterRoleBinding"),
    ),
];

static CSR_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    col(
        "SignerName",
        "string",
        field(CERTIFICATES, "CertificateSigningRequestSpec", "signerName"),
    ),
    col(
        "Requestor",
        "string",
        field(CERTIFICATES, "CertificateSigningRequestSpec", "request"),
    ),
    col(
        "RequestedDuration",
        "string",
        field(
            CERTIFICATES,
            "CertificateSigningRequestSpec",
            "expirationSeconds",
        ),
    ),
    col(
        "Condition",
        "string",
        field(
            CERTIFICATES,
            "CertificateSigningRequestStatus",
            "conditions",
        ),
    ),
];

static LEASE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        field(COORDINATION, "LeaseSpec", "holderIdentity"),
    ),
    AGE,
];

static STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        field(STORAGE, "StorageClass", "provisioner"),
    ),
    col(
        "ReclaimPolicy",
        "string",
        field(STORAGE, "StorageClass", "reclaimPolicy"),
    ),
    col(
        "VolumeBindingMode",
        "string",
        field(STORAGE, "StorageClass", "volumeBindingMode"),
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        field(STORAGE, "StorageClass", "allowVolumeExpansion"),
    ),
    AGE,
];

static CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", text("Controller of the object")),
    col(
        "Revision",
        "string",
        field(APPS, "ControllerRevision", "revision"),
    ),
    AGE,
];

static RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col("Request", "string", text("Request represents a minimum amount of cpu/memory that a container may consume.")),
    col(
        "Limit",
        "string",
        text("Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    ),
    AGE,
];

static PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Value",
        "integer",
        field(SCHEDULING, "PriorityClass", "value"),
    ),
    col(
        "Global-Default",
        "boolean",
        field(SCHEDULING, "PriorityClass", "globalDefault"),
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        field(SCHEDULING, "PriorityClass", "preemptionPolicy"),
    ),
];

static VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    NAME,
    Column {
        name: "Attacher",
        type_: "string",
        format: "name",
        doc: field(STORAGE, "VolumeAttachmentSpec", "attacher"),
        priority: 0,
    },
    col(
        "PV",
        "string",
        field(STORAGE, "VolumeAttachmentSource", "persistentVolumeName"),
    ),
    col(
        "Node",
        "string",
        field(STORAGE, "VolumeAttachmentSpec", "nodeName"),
    ),
    col(
        "Attached",
        "boolean",
        field(STORAGE, "VolumeAttachmentStatus", "attached"),
    ),
    AGE,
];

static ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        field(DISCOVERY, "EndpointSlice", "addressType"),
    ),
    col(
        "Ports",
        "string",
        field(DISCOVERY, "EndpointSlice", "ports"),
    ),
    col(
        "Endpoints",
        "string",
        field(DISCOVERY, "EndpointSlice", "endpoints"),
    ),
    AGE,
];

static CSI_NODE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Drivers",
        "integer",
        text("Drivers indicates the number of CSI drivers registered on the node"),
    ),
    AGE,
];

static CSI_DRIVER_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AttachRequired",
        "boolean",
        field(STORAGE, "CSIDriverSpec", "attachRequired"),
    ),
    col(
        "PodInfoOnMount",
        "boolean",
        field(STORAGE, "CSIDriverSpec", "podInfoOnMount"),
    ),
    col(
        "StorageCapacity",
        "boolean",
        field(STORAGE, "CSIDriverSpec", "storageCapacity"),
    ),
    col(
        "TokenRequests",
        "string",
        field(STORAGE, "CSIDriverSpec", "tokenRequests"),
    ),
    col(
        "RequiresRepublish",
        "boolean",
        field(STORAGE, "CSIDriverSpec", "requiresRepublish"),
    ),
    col(
        "Modes",
        "string",
        field(STORAGE, "CSIDriverSpec", "volumeLifecycleModes"),
    ),
    AGE,
];

static CSI_STORAGE_CAPACITY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "StorageClassName",
        "string",
        field(STORAGE, "CSIStorageCapacity", "storageClassName"),
    ),
    col(
        "Capacity",
        "string",
        field(STORAGE, "CSIStorageCapacity", "capacity"),
    ),
];

static VOLUME_ATTRIBUTES_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "DriverName",
        "string",
        field(STORAGE, "VolumeAttributesClass", "driverName"),
    ),
    AGE,
];

static COMPONENT_STATUS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        text("Status of the component conditions"),
    ),
    col(
        "Message",
        "string",
        text("Message of the component conditions"),
    ),
    col("Error", "string", text("Error of the component conditions")),
];

/// Upstream describes the column with `ObjectMeta{}.SwaggerDoc()["handler"]`, which is empty.
static RUNTIME_CLASS_COLUMNS: &[Column] = &[NAME, col("Handler", "string", text("")), AGE];

static FLOW_SCHEMA_COLUMNS: &[Column] = &[
    NAME,
    col(
        "PriorityLevel",
        "string",
        field(FLOWCONTROL, "PriorityLevelConfigurationReference", "name"),
    ),
    col(
        "MatchingPrecedence",
        "string",
        field(FLOWCONTROL, "FlowSchemaSpec", "matchingPrecedence"),
    ),
    col(
        "DistinguisherMethod",
        "string",
        field(FLOWCONTROL, "FlowSchemaSpec", "distinguisherMethod"),
    ),
    AGE,
    col(
        "MissingPL",
        "string",
        text("references a broken or non-existent PriorityLevelConfiguration"),
    ),
];

static PRIORITY_LEVEL_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        field(FLOWCONTROL, "PriorityLevelConfigurationSpec", "type"),
    ),
    col(
        "NominalConcurrencyShares",
        "string",
        field(
            FLOWCONTROL,
            "LimitedPriorityLevelConfiguration",
            "nominalConcurrencyShares",
        ),
    ),
    col(
        "Queues",
        "string",
        field(FLOWCONTROL, "QueuingConfiguration", "queues"),
    ),
    col(
        "HandSize",
        "string",
        field(FLOWCONTROL, "QueuingConfiguration", "handSize"),
    ),
    col(
        "QueueLengthLimit",
        "string",
        field(FLOWCONTROL, "QueuingConfiguration", "queueLengthLimit"),
    ),
    AGE,
];

static SERVICE_CIDR_COLUMNS: &[Column] = &[
    NAME,
    col(
        "CIDRs",
        "string",
        field(NETWORKING, "ServiceCIDRSpec", "cidrs"),
    ),
    AGE,
];

/// Upstream defines no Age column for IP addresses (its rows carry the age as a third cell that
/// no column shows).
static IP_ADDRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "ParentRef",
        "string",
        field(NETWORKING, "IPAddressSpec", "parentRef"),
    ),
];

static NAME_AGE_COLUMNS: &[Column] = &[NAME, AGE];

static RESOURCE_CLAIM_COLUMNS: &[Column] = &[
    NAME,
    col(
        "State",
        "string",
        text("A summary of the current state (allocated, pending, reserved, etc.)."),
    ),
    AGE,
];

static RESOURCE_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Node",
        "string",
        field(RESOURCE, "ResourceSliceSpec", "nodeName"),
    ),
    col(
        "Driver",
        "string",
        field(RESOURCE, "ResourceSliceSpec", "driver"),
    ),
    col("Pool", "string", field(RESOURCE, "ResourcePool", "name")),
    AGE,
];

static WEBHOOK_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        "integer",
        text("Webhooks indicates the number of webhooks registered in this configuration"),
    ),
    AGE,
];

static VALIDATING_ADMISSION_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Validations",
        "integer",
        text("Validations indicates the number of validation rules defined in this configuration"),
    ),
    col(
        "ParamKind",
        "string",
        text("ParamKind specifies the kind of resources used to parameterize this policy"),
    ),
    AGE,
];

static VALIDATING_ADMISSION_POLICY_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "PolicyName",
        "string",
        text("PolicyName indicates the policy definition which the policy binding binded to"),
    ),
    col(
        "ParamRef",
        "string",
        text("ParamRef indicates the param resource which sets the configration param"),
    ),
    AGE,
];

static DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Created At",
        "date",
        field(META, "ObjectMeta", "creationTimestamp"),
    ),
];

impl Printer {
    pub(super) fn columns(&self) -> &'static [Column] {
        match self {
            // Custom resources' columns are data, written by `table_in` directly.
            Printer::Custom(_) => &[],
            Printer::Pod => POD_COLUMNS,
            Printer::PodTemplate => POD_TEMPLATE_COLUMNS,
            Printer::PodDisruptionBudget => PDB_COLUMNS,
            Printer::ReplicationController => RC_COLUMNS,
            Printer::ReplicaSet => RS_COLUMNS,
            Printer::DaemonSet => DS_COLUMNS,
            Printer::Job => JOB_COLUMNS,
            Printer::CronJob => CRON_JOB_COLUMNS,
            Printer::Service => SERVICE_COLUMNS,
            Printer::Ingress => INGRESS_COLUMNS,
            Printer::IngressClass => INGRESS_CLASS_COLUMNS,
            Printer::StatefulSet => STATEFUL_SET_COLUMNS,
            Printer::Endpoints => ENDPOINTS_COLUMNS,
            Printer::Node => NODE_COLUMNS,
            Printer::Event | Printer::EventsV1 => EVENT_COLUMNS,
            Printer::Namespace => NAMESPACE_COLUMNS,
            Printer::Secret => SECRET_COLUMNS,
            Printer::ServiceAccount => SERVICE_ACCOUNT_COLUMNS,
            Printer::PersistentVolume => PV_COLUMNS,
            Printer::PersistentVolumeClaim => PVC_COLUMNS,
            Printer::Deployment => DEPLOYMENT_COLUMNS,
            Printer::HorizontalPodAutoscaler => HPA_COLUMNS,
            Printer::ConfigMap => CONFIG_MAP_COLUMNS,
            Printer::NetworkPolicy => NETWORK_POLICY_COLUMNS,
            Printer::RoleBinding => ROLE_BINDING_COLUMNS,
            Printer::ClusterRoleBinding => CLUSTER_ROLE_BINDING_COLUMNS,
            Printer::CertificateSigningRequest => CSR_COLUMNS,
            Printer::Lease => LEASE_COLUMNS,
            Printer::StorageClass => STORAGE_CLASS_COLUMNS,
            Printer::ControllerRevision => CONTROLLER_REVISION_COLUMNS,
            Printer::ResourceQuota => RESOURCE_QUOTA_COLUMNS,
            Printer::PriorityClass => PRIORITY_CLASS_COLUMNS,
            Printer::VolumeAttachment => VOLUME_ATTACHMENT_COLUMNS,
            Printer::EndpointSlice => ENDPOINT_SLICE_COLUMNS,
            Printer::CsiNode => CSI_NODE_COLUMNS,
            Printer::CsiDriver => CSI_DRIVER_COLUMNS,
            Printer::CsiStorageCapacity => CSI_STORAGE_CAPACITY_COLUMNS,
            Printer::VolumeAttributesClass => VOLUME_ATTRIBUTES_CLASS_COLUMNS,
            Printer::ComponentStatus => COMPONENT_STATUS_COLUMNS,
            Printer::RuntimeClass => RUNTIME_CLASS_COLUMNS,
            Printer::FlowSchema => FLOW_SCHEMA_COLUMNS,
            Printer::PriorityLevelConfiguration => PRIORITY_LEVEL_COLUMNS,
            Printer::ServiceCidr => SERVICE_CIDR_COLUMNS,
            Printer::IpAddress => IP_ADDRESS_COLUMNS,
            Printer::DeviceClass | Printer::ResourceClaimTemplate => NAME_AGE_COLUMNS,
            Printer::ResourceClaim => RESOURCE_CLAIM_COLUMNS,
            Printer::ResourceSlice => RESOURCE_SLICE_COLUMNS,
            Printer::WebhookConfiguration => WEBHOOK_COLUMNS,
            Printer::ValidatingAdmissionPolicy => VALIDATING_ADMISSION_POLICY_COLUMNS,
            Printer::ValidatingAdmissionPolicyBinding => {
                VALIDATING_ADMISSION_POLICY_BINDING_COLUMNS
            }
            Printer::Default => DEFAULT_COLUMNS,
        }
    }
}
