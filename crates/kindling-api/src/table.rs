//! What `kubectl get` prints: the `meta.k8s.io/v1` `Table` the server answers when asked
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Columns and cells follow upstream's printers (k8s.io/kubernetes/pkg/printers/internalversion)
//! as the apiserver runs them: always "wide", so every column is present and kubectl hides the
//! ones with priority > 0 unless `-o wide`. Resources without a printer upstream (limit ranges,
//! roles, cluster roles) get the default `Name` / `Created At` table, as the apiserver's default
//! table convertor gives them.
//!
//! Ages are upstream's `duration.HumanDuration` of the time since `creationTimestamp`, computed
//! against the `now` the caller passes (so tests are deterministic).

use crate::catalog::ResourceType;
use crate::json_path::{array_at, at, bool_at, i64_at, object_at, str_at};
use crate::selector::{format_label_selector, format_labels, LabelSelector};
use crate::status::ApiError;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// One column of a table (`metav1.TableColumnDefinition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// As upstream names it (`Name`, `Ready`, `Port(s)`, …); kubectl upper-cases it.
    pub name: &'static str,
    /// `string`, `integer`, `boolean`, `date`, …
    pub type_: &'static str,
    /// `""`, or `name` for the column holding the object's name.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// The column definition as it appears in a `Table`'s `columnDefinitions`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: D_NAME,
    priority: 0,
};
const AGE: Column = col("Age", "string", D_CREATION);
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);

/// What each row's `object` carries (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `null`.
    None,
    /// A `PartialObjectMetadata` with the object's metadata: upstream's default, and what
    /// `kubectl get` gets unless it sorts (`--sort-by` asks for `Object`).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// The `includeObject` query parameter: absent or empty means `Metadata`; an unknown value is
    /// upstream's 400 `unrecognized includeObject value: "x"`.
    #[allow(clippy::result_large_err)] // ApiError is the crate's error type
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, ApiError> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(ApiError::bad_request(format!(
                "unrecognized includeObject value: {}",
                crate::meta::go_quote(other)
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Durations (k8s.io/apimachinery/pkg/util/duration)
// ---------------------------------------------------------------------------------------------

const NS_PER_SEC: i128 = 1_000_000_000;
const NS_PER_MIN: i128 = 60 * NS_PER_SEC;
const NS_PER_HOUR: i128 = 60 * NS_PER_MIN;

/// Upstream's `duration.HumanDuration`: ~2–3 significant figures (`45s`, `3m20s`, `5h`, `2d3h`,
/// `400d`, `3y20d`); `<invalid>` for more than a second in the future.
pub fn human_duration(d: SignedDuration) -> String {
    human_duration_nanos(d.as_nanos())
}

fn human_duration_nanos(d: i128) -> String {
    let seconds = d / NS_PER_SEC;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / NS_PER_MIN;
    if minutes < 10 {
        let s = (d / NS_PER_SEC) % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / NS_PER_HOUR;
    if hours < 8 {
        let m = (d / NS_PER_MIN) % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{}h", hours / 24, h)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{}d", hours / 24 / 365, dy)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Upstream's `duration.ShortHumanDuration`: one unit (`45s`, `3m`, `5h`, `2d`, `1y`).
pub fn short_human_duration(d: SignedDuration) -> String {
    let d = d.as_nanos();
    let seconds = d / NS_PER_SEC;
    if seconds < -1 {
        "<invalid>".into()
    } else if seconds < 0 {
        "0s".into()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if d / NS_PER_MIN < 60 {
        format!("{}m", d / NS_PER_MIN)
    } else if d / NS_PER_HOUR < 24 {
        format!("{}h", d / NS_PER_HOUR)
    } else if d / NS_PER_HOUR < 24 * 365 {
        format!("{}d", d / NS_PER_HOUR / 24)
    } else {
        format!("{}y", d / NS_PER_HOUR / 24 / 365)
    }
}

/// Upstream's `translateTimestampSince`: `<unknown>` for a missing timestamp.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration_nanos(now.as_nanosecond() - t.as_nanosecond()),
        None => "<unknown>".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading wire-form objects
// ---------------------------------------------------------------------------------------------

fn ts(v: &Value, path: &[&str]) -> Option<Timestamp> {
    at(v, path)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

fn name(obj: &Value) -> Value {
    Value::String(str_at(obj, &["metadata", "name"]).to_string())
}

fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(since(ts(obj, &["metadata", "creationTimestamp"]), now))
}

/// A quantity's string (as stored); `<nil>` when absent, as Go prints a nil `*Quantity`.
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<nil>".into(),
    }
}

/// A non-pointer quantity: zero (`0`) when absent.
fn quantity_or_zero(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    }
}

/// An IntOrString's string.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn or(v: &str, default: &str) -> String {
    if v.is_empty() {
        default.to_string()
    } else {
        v.to_string()
    }
}

/// Upstream's `layoutContainerCells`: names and images joined with `,`.
fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (s(names.join(",")), s(images.join(",")))
}

// ---------------------------------------------------------------------------------------------
// The printers
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Printer {
    Pod,
    PodTemplate,
    PodDisruptionBudget,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    EventsV1,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Deployment,
    HorizontalPodAutoscaler,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    CertificateSigningRequest,
    Lease,
    StorageClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    VolumeAttachment,
    EndpointSlice,
    CsiNode,
    CsiDriver,
    /// No printer upstream: the apiserver's default `Name` / `Created At` table.
    Default,
}

fn printer(r: &ResourceType) -> Printer {
    match (r.group, r.kind) {
        ("", "Pod") => Printer::Pod,
        ("", "PodTemplate") => Printer::PodTemplate,
        ("policy", "PodDisruptionBudget") => Printer::PodDisruptionBudget,
        ("", "ReplicationController") => Printer::ReplicationController,
        ("apps", "ReplicaSet") => Printer::ReplicaSet,
        ("apps", "DaemonSet") => Printer::DaemonSet,
        ("batch", "Job") => Printer::Job,
        ("batch", "CronJob") => Printer::CronJob,
        ("", "Service") => Printer::Service,
        ("networking.k8s.io", "Ingress") => Printer::Ingress,
        ("networking.k8s.io", "IngressClass") => Printer::IngressClass,
        ("apps", "StatefulSet") => Printer::StatefulSet,
        ("", "Endpoints") => Printer::Endpoints,
        ("", "Node") => Printer::Node,
        ("", "Event") => Printer::Event,
        ("events.k8s.io", "Event") => Printer::EventsV1,
        ("", "Namespace") => Printer::Namespace,
        ("", "Secret") => Printer::Secret,
        ("", "ServiceAccount") => Printer::ServiceAccount,
        ("", "PersistentVolume") => Printer::PersistentVolume,
        ("", "PersistentVolumeClaim") => Printer::PersistentVolumeClaim,
        ("apps", "Deployment") => Printer::Deployment,
        ("autoscaling", "HorizontalPodAutoscaler") => Printer::HorizontalPodAutoscaler,
        ("", "ConfigMap") => Printer::ConfigMap,
        ("networking.k8s.io", "NetworkPolicy") => Printer::NetworkPolicy,
        ("rbac.authorization.k8s.io", "RoleBinding") => Printer::RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Printer::ClusterRoleBinding,
        ("certificates.k8s.io", "CertificateSigningRequest") => Printer::CertificateSigningRequest,
        ("coordination.k8s.io", "Lease") => Printer::Lease,
        ("storage.k8s.io", "StorageClass") => Printer::StorageClass,
        ("apps", "ControllerRevision") => Printer::ControllerRevision,
        ("", "ResourceQuota") => Printer::ResourceQuota,
        ("scheduling.k8s.io", "PriorityClass") => Printer::PriorityClass,
        ("storage.k8s.io", "VolumeAttachment") => Printer::VolumeAttachment,
        ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
        ("storage.k8s.io", "CSINode") => Printer::CsiNode,
        ("storage.k8s.io", "CSIDriver") => Printer::CsiDriver,
        _ => Printer::Default,
    }
}

static POD_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "string", D_POD_IP),
    wide("Node", "string", D_POD_NODE),
    wide("Nominated Node", "string", D_POD_NOMINATED),
    wide("Readiness Gates", "string", D_POD_READINESS_GATES),
];

static POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Containers",
        "string",
        "Names of each container in the template.",
    ),
    col(
        "Images",
        "string",
        "Images referenced by each container in the template.",
    ),
    col("Pod Labels", "string", "The labels for the pod template."),
];

static PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

static RC_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", D_RC_SPEC_REPLICAS),
    col("Current", "integer", D_RC_STATUS_REPLICAS),
    col("Ready", "integer", D_RC_READY),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_RC_SELECTOR),
];

static RS_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", D_RS_SPEC_REPLICAS),
    col("Current", "integer", D_RS_STATUS_REPLICAS),
    col("Ready", "integer", D_RS_READY),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_RS_SELECTOR),
];

static DS_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", D_DS_DESIRED),
    col("Current", "integer", D_DS_CURRENT),
    col("Ready", "integer", D_DS_READY),
    col("Up-to-date", "integer", D_DS_UPDATED),
    col("Available", "integer", D_DS_AVAILABLE),
    col("Node Selector", "string", D_POD_NODE_SELECTOR),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_DS_SELECTOR),
];

static JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", D_JOB_SUCCEEDED),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_JOB_SELECTOR),
];

static CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", "string", D_CJ_SCHEDULE),
    col("Timezone", "string", D_CJ_TIMEZONE),
    col("Suspend", "boolean", D_CJ_SUSPEND),
    col("Active", "integer", D_CJ_ACTIVE),
    col("Last Schedule", "string", D_CJ_LAST_SCHEDULE),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_JOB_SELECTOR),
];

static SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", D_SVC_TYPE),
    col("Cluster-IP", "string", D_SVC_CLUSTER_IP),
    col("External-IP", "string", D_SVC_EXTERNAL_IPS),
    col("Port(s)", "string", D_SVC_PORTS),
    AGE,
    wide("Selector", "string", D_SVC_SELECTOR),
];

static INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

static INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

static STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

static ENDPOINTS_COLUMNS: &[Column] = &[NAME, col("Endpoints", "string", D_EP_SUBSETS), AGE];

static NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", D_NODE_KUBELET),
    wide("Internal-IP", "string", D_NODE_ADDRESSES),
    wide("External-IP", "string", D_NODE_ADDRESSES),
    wide("OS-Image", "string", D_NODE_OS_IMAGE),
    wide("Kernel-Version", "string", D_NODE_KERNEL),
    wide("Container-Runtime", "string", D_NODE_RUNTIME),
];

static EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", D_EV_LAST),
    col("Type", "string", D_EV_TYPE),
    col("Reason", "string", D_EV_REASON),
    col("Object", "string", D_EV_INVOLVED),
    wide("Subobject", "string", D_EV_FIELD_PATH),
    wide("Source", "string", D_EV_SOURCE),
    col("Message", "string", D_EV_MESSAGE),
    wide("First Seen", "string", D_EV_FIRST),
    wide("Count", "string", D_EV_COUNT),
    Column {
        name: "Name",
        type_: "string",
        format: "name",
        description: D_NAME,
        priority: 1,
    },
];

static NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

static SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", D_SECRET_TYPE),
    col("Data", "string", D_SECRET_DATA),
    AGE,
];

static SERVICE_ACCOUNT_COLUMNS: &[Column] = &[NAME, col("Secrets", "string", D_SA_SECRETS), AGE];

static PV_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", "string", D_PV_CAPACITY),
    col("Access Modes", "string", D_PV_ACCESS),
    col("Reclaim Policy", "string", D_PV_RECLAIM),
    col("Status", "string", D_PV_PHASE),
    col("Claim", "string", D_PV_CLAIM),
    col("StorageClass", "string", "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    col("Reason", "string", D_PV_REASON),
    AGE,
    wide("VolumeMode", "string", D_PV_VOLUME_MODE),
];

static PVC_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", D_PVC_PHASE),
    col("Volume", "string", D_PVC_VOLUME),
    col("Capacity", "string", D_PVC_CAPACITY),
    col("Access Modes", "string", D_PVC_ACCESS),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide("VolumeMode", "string", D_PVC_VOLUME_MODE),
];

static DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", D_DEPLOY_UPDATED),
    col("Available", "string", D_DEPLOY_AVAILABLE),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", D_DEPLOY_SELECTOR),
];

static HPA_COLUMNS: &[Column] = &[
    NAME,
    col("Reference", "string", D_HPA_REF),
    col("Targets", "string", D_HPA_METRICS),
    col("MinPods", "string", D_HPA_MIN),
    col("MaxPods", "string", D_HPA_MAX),
    col("Replicas", "string", D_HPA_CURRENT),
    AGE,
];

static CONFIG_MAP_COLUMNS: &[Column] = &[NAME, col("Data", "string", D_CM_DATA), AGE];

static NETWORK_POLICY_COLUMNS: &[Column] =
    &[NAME, col("Pod-Selector", "string", D_NP_POD_SELECTOR), AGE];

static ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", D_RB_ROLE_REF),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the roleBinding",
    ),
];

static CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", D_CRB_ROLE_REF),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the clusterRoleBinding",
    ),
];

static CSR_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    col("SignerName", "string", D_CSR_SIGNER),
    col("Requestor", "string", D_CSR_REQUEST),
    col("RequestedDuration", "string", D_CSR_EXPIRATION),
    col("Condition", "string", D_CSR_CONDITIONS),
];

static LEASE_COLUMNS: &[Column] = &[NAME, col("Holder", "string", D_LEASE_HOLDER), AGE];

static STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Provisioner", "string", D_SC_PROVISIONER),
    col("ReclaimPolicy", "string", D_SC_RECLAIM),
    col("VolumeBindingMode", "string", D_SC_BINDING),
    col("AllowVolumeExpansion", "string", D_SC_EXPANSION),
    AGE,
];

static CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", D_CR_REVISION),
    AGE,
];

static RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];

static PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Value", "integer", D_PC_VALUE),
    col("Global-Default", "boolean", D_PC_GLOBAL),
    AGE,
    col("PreemptionPolicy", "string", D_PC_PREEMPTION),
];

static VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    NAME,
    Column {
        name: "Attacher",
        type_: "string",
        format: "name",
        description: D_VA_ATTACHER,
        priority: 0,
    },
    col("PV", "string", D_VA_PV),
    col("Node", "string", D_VA_NODE),
    col("Attached", "boolean", D_VA_ATTACHED),
    AGE,
];

static ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", "string", D_EPS_ADDRESS_TYPE),
    col("Ports", "string", D_EPS_PORTS),
    col("Endpoints", "string", D_EPS_ENDPOINTS),
    AGE,
];

static CSI_NODE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

static CSI_DRIVER_COLUMNS: &[Column] = &[
    NAME,
    col("AttachRequired", "boolean", D_CSID_ATTACH),
    col("PodInfoOnMount", "boolean", D_CSID_POD_INFO),
    col("StorageCapacity", "boolean", D_CSID_CAPACITY),
    col("TokenRequests", "string", D_CSID_TOKENS),
    col("RequiresRepublish", "boolean", D_CSID_REPUBLISH),
    col("Modes", "string", D_CSID_MODES),
    AGE,
];

static DEFAULT_COLUMNS: &[Column] = &[NAME, col("Created At", "date", D_CREATION)];

impl Printer {
    fn columns(self) -> &'static [Column] {
        match self {
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
            Printer::Default => DEFAULT_COLUMNS,
        }
    }

    fn row(self, o: &Value, now: Timestamp) -> Vec<Value> {
        match self {
            Printer::Pod => pod_row(o, now),
            Printer::PodTemplate => {
                let (names, images) =
                    container_cells(array_at(o, &["template", "spec", "containers"]));
                vec![
                    name(o),
                    names,
                    images,
                    s(format_labels(object_at(
                        o,
                        &["template", "metadata", "labels"],
                    ))),
                ]
            }
            Printer::PodDisruptionBudget => {
                let min = at(o, &["spec", "minAvailable"])
                    .map(int_or_string)
                    .unwrap_or_else(|| "N/A".into());
                let max = at(o, &["spec", "maxUnavailable"])
                    .map(int_or_string)
                    .unwrap_or_else(|| "N/A".into());
                vec![
                    name(o),
                    s(min),
                    s(max),
                    json!(i64_at(o, &["status", "disruptionsAllowed"])),
                    age(o, now),
                ]
            }
            Printer::ReplicationController => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    json!(i64_at(o, &["spec", "replicas"])),
                    json!(i64_at(o, &["status", "replicas"])),
                    json!(i64_at(o, &["status", "readyReplicas"])),
                    age(o, now),
                    names,
                    images,
                    s(format_labels(object_at(o, &["spec", "selector"]))),
                ]
            }
            Printer::ReplicaSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    json!(i64_at(o, &["spec", "replicas"])),
                    json!(i64_at(o, &["status", "replicas"])),
                    json!(i64_at(o, &["status", "readyReplicas"])),
                    age(o, now),
                    names,
                    images,
                    s(format_label_selector(at(o, &["spec", "selector"]))),
                ]
            }
            Printer::DaemonSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    json!(i64_at(o, &["status", "desiredNumberScheduled"])),
                    json!(i64_at(o, &["status", "currentNumberScheduled"])),
                    json!(i64_at(o, &["status", "numberReady"])),
                    json!(i64_at(o, &["status", "updatedNumberScheduled"])),
                    json!(i64_at(o, &["status", "numberAvailable"])),
                    s(format_labels(object_at(
                        o,
                        &["spec", "template", "spec", "nodeSelector"],
                    ))),
                    age(o, now),
                    names,
                    images,
                    s(format_label_selector(at(o, &["spec", "selector"]))),
                ]
            }
            Printer::Job => job_row(o, now),
            Printer::CronJob => {
                let last = match ts(o, &["status", "lastScheduleTime"]) {
                    Some(t) => since(Some(t), now),
                    None => "<none>".into(),
                };
                let tz = at(o, &["spec", "timeZone"])
                    .and_then(Value::as_str)
                    .unwrap_or("<none>");
                let suspend = match bool_at(o, &["spec", "suspend"]) {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let (names, images) = container_cells(array_at(
                    o,
                    &[
                        "spec",
                        "jobTemplate",
                        "spec",
                        "template",
                        "spec",
                        "containers",
                    ],
                ));
                vec![
                    name(o),
                    s(str_at(o, &["spec", "schedule"])),
                    s(tz),
                    s(suspend),
                    json!(array_at(o, &["status", "active"]).len()),
                    s(last),
                    age(o, now),
                    names,
                    images,
                    s(format_label_selector(at(
                        o,
                        &["spec", "jobTemplate", "spec", "selector"],
                    ))),
                ]
            }
            Printer::Service => service_row(o, now),
            Printer::Ingress => {
                let class = at(o, &["spec", "ingressClassName"])
                    .and_then(Value::as_str)
                    .unwrap_or("<none>");
                let rules = array_at(o, &["spec", "rules"]);
                let mut hosts: Vec<&str> = Vec::new();
                let mut more = false;
                for rule in rules {
                    if hosts.len() == 3 {
                        more = true;
                    }
                    let host = str_at(rule, &["host"]);
                    if !more && !host.is_empty() {
                        hosts.push(host);
                    }
                }
                let hosts = if hosts.is_empty() {
                    "*".to_string()
                } else if more {
                    format!("{} + {} more...", hosts.join(","), rules.len() - 3)
                } else {
                    hosts.join(",")
                };
                let ports = if array_at(o, &["spec", "tls"]).is_empty() {
                    "80"
                } else {
                    "80, 443"
                };
                vec![
                    name(o),
                    s(class),
                    s(hosts),
                    s(load_balancer_ingress(array_at(
                        o,
                        &["status", "loadBalancer", "ingress"],
                    ))),
                    s(ports),
                    age(o, now),
                ]
            }
            Printer::IngressClass => {
                let params = match at(o, &["spec", "parameters"]) {
                    Some(p) => {
                        let mut out = str_at(p, &["kind"]).to_string();
                        if let Some(g) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                            out = format!("{out}.{g}");
                        }
                        format!("{out}/{}", str_at(p, &["name"]))
                    }
                    None => "<none>".into(),
                };
                vec![
                    name(o),
                    s(str_at(o, &["spec", "controller"])),
                    s(params),
                    age(o, now),
                ]
            }
            Printer::StatefulSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                let ready = format!(
                    "{}/{}",
                    i64_at(o, &["status", "readyReplicas"]),
                    i64_at(o, &["spec", "replicas"])
                );
                vec![name(o), s(ready), age(o, now), names, images]
            }
            Printer::Endpoints => vec![name(o), s(format_endpoints(o)), age(o, now)],
            Printer::Node => node_row(o, now),
            Printer::Event => event_row(o, now, false),
            Printer::EventsV1 => event_row(o, now, true),
            Printer::Namespace => vec![name(o), s(str_at(o, &["status", "phase"])), age(o, now)],
            Printer::Secret => vec![
                name(o),
                s(str_at(o, &["type"])),
                json!(object_at(o, &["data"]).map_or(0, Map::len)),
                age(o, now),
            ],
            Printer::ServiceAccount => {
                vec![name(o), json!(array_at(o, &["secrets"]).len()), age(o, now)]
            }
            Printer::PersistentVolume => pv_row(o, now),
            Printer::PersistentVolumeClaim => pvc_row(o, now),
            Printer::Deployment => {
                let selector = match LabelSelector::from_metav1(at(o, &["spec", "selector"])) {
                    Ok(sel) => sel.to_string(),
                    Err(_) => "<invalid>".into(),
                };
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    s(format!(
                        "{}/{}",
                        i64_at(o, &["status", "readyReplicas"]),
                        i64_at(o, &["spec", "replicas"])
                    )),
                    json!(i64_at(o, &["status", "updatedReplicas"])),
                    json!(i64_at(o, &["status", "availableReplicas"])),
                    age(o, now),
                    names,
                    images,
                    s(selector),
                ]
            }
            Printer::HorizontalPodAutoscaler => {
                let reference = format!(
                    "{}/{}",
                    str_at(o, &["spec", "scaleTargetRef", "kind"]),
                    str_at(o, &["spec", "scaleTargetRef", "name"])
                );
                let min = match at(o, &["spec", "minReplicas"]).and_then(Value::as_i64) {
                    Some(n) => n.to_string(),
                    None => "<unset>".into(),
                };
                vec![
                    name(o),
                    s(reference),
                    s(hpa_metrics(
                        array_at(o, &["spec", "metrics"]),
                        array_at(o, &["status", "currentMetrics"]),
                    )),
                    s(min),
                    json!(i64_at(o, &["spec", "maxReplicas"])),
                    json!(i64_at(o, &["status", "currentReplicas"])),
                    age(o, now),
                ]
            }
            Printer::ConfigMap => {
                let n = object_at(o, &["data"]).map_or(0, Map::len)
                    + object_at(o, &["binaryData"]).map_or(0, Map::len);
                vec![name(o), json!(n), age(o, now)]
            }
            Printer::NetworkPolicy => {
                // podSelector is not a pointer upstream: absent is the empty selector.
                let empty = json!({});
                let sel = at(o, &["spec", "podSelector"]).unwrap_or(&empty);
                vec![name(o), s(format_label_selector(Some(sel))), age(o, now)]
            }
            Printer::RoleBinding | Printer::ClusterRoleBinding => {
                let role = format!(
                    "{}/{}",
                    str_at(o, &["roleRef", "kind"]),
                    str_at(o, &["roleRef", "name"])
                );
                let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
                for subject in array_at(o, &["subjects"]) {
                    match str_at(subject, &["kind"]) {
                        "ServiceAccount" => sas.push(format!(
                            "{}/{}",
                            str_at(subject, &["namespace"]),
                            str_at(subject, &["name"])
                        )),
                        "User" => users.push(str_at(subject, &["name"]).to_string()),
                        "Group" => groups.push(str_at(subject, &["name"]).to_string()),
                        _ => {}
                    }
                }
                vec![
                    name(o),
                    s(role),
                    age(o, now),
                    s(users.join(", ")),
                    s(groups.join(", ")),
                    s(sas.join(", ")),
                ]
            }
            Printer::CertificateSigningRequest => {
                let duration = match at(o, &["spec", "expirationSeconds"]).and_then(Value::as_i64) {
                    Some(secs) => human_duration_nanos(secs as i128 * NS_PER_SEC),
                    None => "<none>".into(),
                };
                vec![
                    name(o),
                    age(o, now),
                    s(or(str_at(o, &["spec", "signerName"]), "<none>")),
                    s(str_at(o, &["spec", "username"])),
                    s(duration),
                    s(csr_condition(o)),
                ]
            }
            Printer::Lease => vec![
                name(o),
                s(str_at(o, &["spec", "holderIdentity"])),
                age(o, now),
            ],
            Printer::StorageClass => {
                let annotations = object_at(o, &["metadata", "annotations"]);
                let is_default = annotations.is_some_and(|a| {
                    a.get("storageclass.kubernetes.io/is-default-class")
                        .and_then(Value::as_str)
                        == Some("true")
                        || a.get("storageclass.beta.kubernetes.io/is-default-class")
                            .and_then(Value::as_str)
                            == Some("true")
                });
                let mut n = str_at(o, &["metadata", "name"]).to_string();
                if is_default {
                    n.push_str(" (default)");
                }
                vec![
                    s(n),
                    s(str_at(o, &["provisioner"])),
                    s(at(o, &["reclaimPolicy"])
                        .and_then(Value::as_str)
                        .unwrap_or("Delete")),
                    s(at(o, &["volumeBindingMode"])
                        .and_then(Value::as_str)
                        .unwrap_or("Immediate")),
                    json!(bool_at(o, &["allowVolumeExpansion"]).unwrap_or(false)),
                    age(o, now),
                ]
            }
            Printer::ControllerRevision => {
                let controller = array_at(o, &["metadata", "ownerReferences"])
                    .iter()
                    .find(|r| bool_at(r, &["controller"]) == Some(true))
                    .map(|r| {
                        let group = match str_at(r, &["apiVersion"]).split_once('/') {
                            Some((g, _)) => g,
                            None => "",
                        };
                        let kind = str_at(r, &["kind"]);
                        let gk = if group.is_empty() {
                            kind.to_string()
                        } else {
                            format!("{kind}.{group}")
                        };
                        if gk.is_empty() {
                            str_at(r, &["name"]).to_string()
                        } else {
                            format!("{}/{}", gk.to_lowercase(), str_at(r, &["name"]))
                        }
                    })
                    .unwrap_or_else(|| "<none>".into());
                vec![
                    name(o),
                    s(controller),
                    json!(i64_at(o, &["revision"])),
                    age(o, now),
                ]
            }
            Printer::ResourceQuota => {
                let mut resources: Vec<&String> = object_at(o, &["status", "hard"])
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                resources.sort();
                let (mut requests, mut limits) = (Vec::new(), Vec::new());
                for r in resources {
                    let used = quantity_or_zero(
                        object_at(o, &["status", "used"]).and_then(|m| m.get(r.as_str())),
                    );
                    let hard = quantity_or_zero(
                        object_at(o, &["status", "hard"]).and_then(|m| m.get(r.as_str())),
                    );
                    let entry = format!("{r}: {used}/{hard}");
                    let pieces: Vec<&str> = r.split('.').collect();
                    if pieces.len() > 1 && pieces[0] == "limits" {
                        limits.push(entry);
                    } else {
                        requests.push(entry);
                    }
                }
                vec![
                    name(o),
                    s(requests.join(", ")),
                    s(limits.join(", ")),
                    age(o, now),
                ]
            }
            Printer::PriorityClass => vec![
                name(o),
                json!(i64_at(o, &["value"])),
                json!(bool_at(o, &["globalDefault"]).unwrap_or(false)),
                age(o, now),
                s(str_at(o, &["preemptionPolicy"])),
            ],
            Printer::VolumeAttachment => vec![
                name(o),
                s(str_at(o, &["spec", "attacher"])),
                s(str_at(o, &["spec", "source", "persistentVolumeName"])),
                s(str_at(o, &["spec", "nodeName"])),
                json!(bool_at(o, &["status", "attached"]).unwrap_or(false)),
                age(o, now),
            ],
            Printer::EndpointSlice => {
                let ports: Vec<String> = array_at(o, &["ports"])
                    .iter()
                    .map(|p| match at(p, &["port"]).and_then(Value::as_i64) {
                        Some(n) => n.to_string(),
                        None => match at(p, &["name"]).and_then(Value::as_str) {
                            Some(n) => n.to_string(),
                            None => "*".into(),
                        },
                    })
                    .collect();
                let addresses: Vec<String> = array_at(o, &["endpoints"])
                    .iter()
                    .flat_map(|e| {
                        array_at(e, &["addresses"])
                            .iter()
                            .map(|a| a.as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                vec![
                    name(o),
                    s(str_at(o, &["addressType"])),
                    s(list_with_more(ports)),
                    s(list_with_more(addresses)),
                    age(o, now),
                ]
            }
            Printer::CsiNode => vec![
                name(o),
                json!(array_at(o, &["spec", "drivers"]).len()),
                age(o, now),
            ],
            Printer::CsiDriver => {
                let token_requests =
                    match at(o, &["spec", "tokenRequests"]).and_then(Value::as_array) {
                        Some(list) => list
                            .iter()
                            .map(|t| str_at(t, &["audience"]))
                            .collect::<Vec<_>>()
                            .join(","),
                        None => "<unset>".into(),
                    };
                let modes: Vec<&str> = array_at(o, &["spec", "volumeLifecycleModes"])
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                vec![
                    name(o),
                    json!(bool_at(o, &["spec", "attachRequired"]).unwrap_or(true)),
                    json!(bool_at(o, &["spec", "podInfoOnMount"]).unwrap_or(false)),
                    json!(bool_at(o, &["spec", "storageCapacity"]).unwrap_or(false)),
                    s(token_requests),
                    json!(bool_at(o, &["spec", "requiresRepublish"]).unwrap_or(false)),
                    s(or(&modes.join(","), "<none>")),
                    age(o, now),
                ]
            }
            Printer::Default => {
                let created = match ts(o, &["metadata", "creationTimestamp"]) {
                    Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    None => "0001-01-01T00:00:00Z".into(),
                };
                vec![name(o), s(created)]
            }
        }
    }
}

/// Upstream's `listWithMoreString` over at most 3 entries: `a,b,c + 2 more...`, `<unset>` when empty.
fn list_with_more(list: Vec<String>) -> String {
    let count = list.len();
    if count > 3 {
        return format!("{} + {} more...", list[..3].join(","), count - 3);
    }
    let ret = list.join(",");
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// Upstream's load balancer status stringer (wide: never clipped): IPs, or hostnames, sorted and
/// deduplicated.
fn load_balancer_ingress(ingress: &[Value]) -> String {
    let mut set = BTreeSet::new();
    for i in ingress {
        let ip = str_at(i, &["ip"]);
        let host = str_at(i, &["hostname"]);
        if !ip.is_empty() {
            set.insert(ip);
        } else if !host.is_empty() {
            set.insert(host);
        }
    }
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn pod_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = array_at(o, &["spec", "initContainers"]);
    let mut total = array_at(o, &["spec", "containers"]).len();
    let mut restartable: HashSet<&str> = HashSet::new();
    for c in init_specs {
        if str_at(c, &["restartPolicy"]) == "Always" {
            restartable.insert(str_at(c, &["name"]));
            total += 1;
        }
    }
    let conditions = array_at(o, &["status", "conditions"]);
    let phase = str_at(o, &["status", "phase"]);
    let mut reason = or(str_at(o, &["status", "reason"]), phase);
    for c in conditions {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let later = |cur: Option<Timestamp>, c: &Value| -> Option<Timestamp> {
        if at(c, &["lastState", "terminated"]).is_none() {
            return cur;
        }
        match (cur, ts(c, &["lastState", "terminated", "finishedAt"])) {
            (None, Some(t)) => Some(t),
            (Some(c), Some(t)) if c < t => Some(t),
            (c, _) => c,
        }
    };

    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_restart: Option<Timestamp> = None;
    let mut initializing = false;
    for (i, c) in array_at(o, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += i64_at(c, &["restartCount"]);
        last_restart = later(last_restart, c);
        let is_restartable = restartable.contains(str_at(c, &["name"]));
        if is_restartable {
            restartable_restarts += i64_at(c, &["restartCount"]);
            last_restartable_restart = later(last_restartable_restart, c);
        }
        let terminated = at(c, &["state", "terminated"]);
        let waiting = at(c, &["state", "waiting"]);
        if terminated.is_some_and(|t| i64_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_restartable && bool_at(c, &["started"]) == Some(true) {
            if bool_at(c, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = if str_at(t, &["reason"]).is_empty() {
                if i64_at(t, &["signal"]) != 0 {
                    format!("Init:Signal:{}", i64_at(t, &["signal"]))
                } else {
                    format!("Init:ExitCode:{}", i64_at(t, &["exitCode"]))
                }
            } else {
                format!("Init:{}", str_at(t, &["reason"]))
            };
        } else if let Some(w) = waiting.filter(|w| {
            !str_at(w, &["reason"]).is_empty() && str_at(w, &["reason"]) != "PodInitializing"
        }) {
            reason = format!("Init:{}", str_at(w, &["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == "Initialized")
        .is_some_and(|c| str_at(c, &["status"]) == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for c in array_at(o, &["status", "containerStatuses"]).iter().rev() {
            restarts += i64_at(c, &["restartCount"]);
            last_restart = later(last_restart, c);
            let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = at(c, &["state", "terminated"]) {
                reason = if !str_at(t, &["reason"]).is_empty() {
                    str_at(t, &["reason"]).to_string()
                } else if i64_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", i64_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", i64_at(t, &["exitCode"]))
                };
                if i64_at(t, &["exitCode"]) != 0 {
                    error_reason = reason.clone();
                }
            } else if bool_at(c, &["ready"]) == Some(true) && at(c, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" {
            let pod_ready = conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
            if has_running && pod_ready {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    let deleting = at(o, &["metadata", "deletionTimestamp"]).is_some();
    if deleting && str_at(o, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let pod_ip = {
        let ip = str_at(o, &["status", "podIP"]);
        if ip.is_empty() {
            str_at(o, &["status", "podIPs", "0", "ip"])
        } else {
            ip
        }
    };
    let gates = array_at(o, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == t)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_conditions}/{}", gates.len())
    };
    vec![
        name(o),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_str),
        age(o, now),
        s(or(pod_ip, "<none>")),
        s(or(str_at(o, &["spec", "nodeName"]), "<none>")),
        s(or(str_at(o, &["status", "nominatedNodeName"]), "<none>")),
        s(readiness_gates),
    ]
}

/// The first condition of `type_` decides (upstream's `hasJobCondition`).
fn has_condition(o: &Value, type_: &str) -> bool {
    array_at(o, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = i64_at(o, &["status", "succeeded"]);
    let completions = match at(o, &["spec", "completions"]).and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = i64_at(o, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let duration = match (
        ts(o, &["status", "startTime"]),
        ts(o, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), now),
        (Some(start), Some(done)) => {
            human_duration_nanos(done.as_nanosecond() - start.as_nanosecond())
        }
    };
    let status = if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
    vec![
        name(o),
        s(status),
        s(completions),
        s(duration),
        age(o, now),
        names,
        images,
        s(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn service_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let svc_type = str_at(o, &["spec", "type"]);
    // clusterIPs[0]; upstream's defaulting copies a lone clusterIP into clusterIPs.
    let cluster_ip = at(o, &["spec", "clusterIPs", "0"])
        .or_else(|| at(o, &["spec", "clusterIP"]))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = array_at(o, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(array_at(o, &["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external_ips.iter().copied());
                results.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = array_at(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = i64_at(p, &["port"]);
            let protocol = str_at(p, &["protocol"]);
            let node_port = i64_at(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    vec![
        name(o),
        s(svc_type),
        s(cluster_ip),
        s(external),
        s(or(&ports.join(","), "<none>")),
        age(o, now),
        s(format_labels(object_at(o, &["spec", "selector"]))),
    ]
}

/// Upstream's `formatEndpoints` over all ports: at most 3 `ip:port`, then `+ N more...`.
fn format_endpoints(o: &Value) -> String {
    let subsets = array_at(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = array_at(ss, &["addresses"]);
        let ports = array_at(ss, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = str_at(a, &["ip"]);
                let p = i64_at(port, &["port"]);
                if ip.contains(':') {
                    list.push(format!("[{ip}]:{p}"));
                } else {
                    list.push(format!("{ip}:{p}"));
                }
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

fn node_row(o: &Value, now: Timestamp) -> Vec<Value> {
    // The last condition of each type wins, as upstream builds a map; only Ready is shown.
    let mut by_type: HashMap<&str, &Value> = HashMap::new();
    for c in array_at(o, &["status", "conditions"]) {
        by_type.insert(str_at(c, &["type"]), c);
    }
    let mut status: Vec<String> = Vec::new();
    if let Some(c) = by_type.get("Ready") {
        if str_at(c, &["status"]) == "True" {
            status.push("Ready".into());
        } else {
            status.push("NotReady".into());
        }
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if bool_at(o, &["spec", "unschedulable"]) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = object_at(o, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or_default();
                if !v.is_empty() {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let address = |t: &str| {
        array_at(o, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == t)
            .map(|a| str_at(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    vec![
        name(o),
        s(status.join(",")),
        s(or(&roles, "<none>")),
        age(o, now),
        s(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        s(address("InternalIP")),
        s(address("ExternalIP")),
        s(or(
            str_at(o, &["status", "nodeInfo", "osImage"]),
            "<unknown>",
        )),
        s(or(
            str_at(o, &["status", "nodeInfo", "kernelVersion"]),
            "<unknown>",
        )),
        s(or(
            str_at(o, &["status", "nodeInfo", "containerRuntimeVersion"]),
            "<unknown>",
        )),
    ]
}

/// Core v1 events and events.k8s.io/v1 events print alike: upstream converts both to the internal
/// event (`regarding` → `involvedObject`, `note` → `message`, `deprecated*` → the old fields).
fn event_row(o: &Value, now: Timestamp, v1: bool) -> Vec<Value> {
    let (involved, source, message, first_field, last_field, count_field, reporting) = if v1 {
        (
            "regarding",
            "deprecatedSource",
            "note",
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
            "deprecatedCount",
            "reportingController",
        )
    } else {
        (
            "involvedObject",
            "source",
            "message",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "reportingComponent",
        )
    };
    let first = match ts(o, &[first_field]) {
        Some(t) => since(Some(t), now),
        None => since(ts(o, &["eventTime"]), now),
    };
    let mut last = match ts(o, &[last_field]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = i64_at(o, &[count_field]);
    if at(o, &["series"]).is_some() {
        last = since(ts(o, &["series", "lastObservedTime"]), now);
        count = i64_at(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, &[involved, "kind"]).to_lowercase();
    let involved_name = str_at(o, &[involved, "name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let component = or(str_at(o, &[source, "component"]), str_at(o, &[reporting]));
    let instance = or(
        str_at(o, &[source, "host"]),
        str_at(o, &["reportingInstance"]),
    );
    let source_str = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        s(last),
        s(str_at(o, &["type"])),
        s(str_at(o, &["reason"])),
        s(target),
        s(str_at(o, &[involved, "fieldPath"])),
        s(source_str),
        s(str_at(o, &[message]).trim()),
        s(first),
        json!(count),
        name(o),
    ]
}

/// Upstream's `GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if has(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn pv_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(o, &["spec", "claimRef"]) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else {
        str_at(o, &["status", "phase"])
    };
    let class = match at(
        o,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .and_then(Value::as_str)
    {
        Some(c) => c,
        None => str_at(o, &["spec", "storageClassName"]),
    };
    vec![
        name(o),
        s(quantity_or_zero(at(o, &["spec", "capacity", "storage"]))),
        s(access_modes(array_at(o, &["spec", "accessModes"]))),
        s(str_at(o, &["spec", "persistentVolumeReclaimPolicy"])),
        s(phase),
        s(claim),
        s(class),
        s(at(o, &["spec", "volumeAttributesClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
        s(str_at(o, &["status", "reason"])),
        age(o, now),
        s(at(o, &["spec", "volumeMode"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
    ]
}

fn pvc_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else {
        str_at(o, &["status", "phase"])
    };
    let volume = str_at(o, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_or_zero(at(o, &["status", "capacity", "storage"])),
            access_modes(array_at(o, &["status", "accessModes"])),
        )
    };
    let class = match at(
        o,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .and_then(Value::as_str)
    {
        Some(c) => c,
        None => str_at(o, &["spec", "storageClassName"]),
    };
    vec![
        name(o),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(at(o, &["spec", "volumeAttributesClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
        age(o, now),
        s(at(o, &["spec", "volumeMode"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
    ]
}

/// Upstream's `formatHPAMetrics` (autoscaling/v2 wire form): at most two targets, then `+ N more...`.
fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let status_of = |field: &str| status.and_then(|s| at(s, &[field]));
        let entry = match str_at(spec, &["type"]) {
            kind @ ("External" | "Object") => {
                let field = if kind == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[field, "target"]);
                match target.and_then(|t| at(t, &["averageValue"])) {
                    Some(avg) => {
                        let current = status_of(field)
                            .and_then(|s| at(s, &["current", "averageValue"]))
                            .map(|q| quantity(Some(q)))
                            .unwrap_or_else(|| "<unknown>".into());
                        format!("{current}/{} (avg)", quantity(Some(avg)))
                    }
                    None => {
                        let current = status_of(field)
                            .map(|s| quantity(at(s, &["current", "value"])))
                            .unwrap_or_else(|| "<unknown>".into());
                        format!(
                            "{current}/{}",
                            quantity(target.and_then(|t| at(t, &["value"])))
                        )
                    }
                }
            }
            "Pods" => {
                let current = status_of("pods")
                    .map(|s| quantity(at(s, &["current", "averageValue"])))
                    .unwrap_or_else(|| "<unknown>".into());
                format!(
                    "{current}/{}",
                    quantity(at(spec, &["pods", "target", "averageValue"]))
                )
            }
            kind @ ("Resource" | "ContainerResource") => {
                let field = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource_name = str_at(spec, &[field, "name"]);
                match at(spec, &[field, "target", "averageValue"]) {
                    Some(avg) => {
                        let current = status_of(field)
                            .map(|s| quantity(at(s, &["current", "averageValue"])))
                            .unwrap_or_else(|| "<unknown>".into());
                        format!("{resource_name}: {current}/{}", quantity(Some(avg)))
                    }
                    None => {
                        let current = status_of(field)
                            .and_then(|s| at(s, &["current", "averageUtilization"]))
                            .and_then(Value::as_i64)
                            .map(|u| format!("{u}%"))
                            .unwrap_or_else(|| "<unknown>".into());
                        let target = at(spec, &[field, "target", "averageUtilization"])
                            .and_then(Value::as_i64)
                            .map(|u| format!("{u}%"))
                            .unwrap_or_else(|| "<auto>".into());
                        format!("{resource_name}: {current}/{target}")
                    }
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > 2 {
        format!("{} + {} more...", list[..2].join(", "), count - 2)
    } else {
        list.join(", ")
    }
}

/// Upstream's `extractCSRStatus`: `Denied`, `Approved` or `Pending`, then `,Failed`, `,Issued`.
fn csr_condition(o: &Value) -> String {
    let (mut approved, mut denied, mut failed) = (false, false, false);
    for c in array_at(o, &["status", "conditions"]) {
        match str_at(c, &["type"]) {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" => failed = true,
            _ => {}
        }
    }
    let mut status = if denied {
        "Denied".to_string()
    } else if approved {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if failed {
        status.push_str(",Failed");
    }
    if !str_at(o, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}

// ---------------------------------------------------------------------------------------------
// The public API
// ---------------------------------------------------------------------------------------------

/// Every column of `resource`'s table, the wide ones (priority 1) included.
pub fn columns(resource: &ResourceType) -> Vec<Column> {
    printer(resource).columns().to_vec()
}

/// The cells of `obj`'s row, one per column of [`columns`] (wide ones included). Ages are computed
/// against `now`.
pub fn row(resource: &ResourceType, obj: &Value, now: Timestamp) -> Vec<Value> {
    printer(resource).row(obj, now)
}

/// The row's `conditions`, when upstream sets any: a finished pod's row carries
/// `{"type":"Completed","status":"True",…}`.
pub fn row_conditions(resource: &ResourceType, obj: &Value) -> Option<Value> {
    if printer(resource) != Printer::Pod {
        return None;
    }
    match str_at(obj, &["status", "phase"]) {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."
        }])),
        _ => None,
    }
}

/// The whole `meta.k8s.io/v1` `Table` for `objects` (a list, or a single object for a get or a
/// watch event). `list_meta` is the list's `metadata` (`resourceVersion`, `continue`,
/// `remainingItemCount`); for a single object pass `{"resourceVersion": <its resourceVersion>}`.
pub fn table(
    resource: &ResourceType,
    objects: &[Value],
    now: Timestamp,
    include_object: IncludeObject,
    list_meta: Value,
) -> Value {
    table_in(
        resource,
        objects,
        now,
        include_object,
        list_meta,
        "meta.k8s.io/v1",
    )
}

/// [`table`] for a given Table group/version (`meta.k8s.io/v1` or `meta.k8s.io/v1beta1`): both the
/// Table's `apiVersion` and that of the rows' `PartialObjectMetadata`.
pub fn table_in(
    resource: &ResourceType,
    objects: &[Value],
    now: Timestamp,
    include_object: IncludeObject,
    list_meta: Value,
    table_api_version: &str,
) -> Value {
    let p = printer(resource);
    let column_definitions: Vec<Value> = p.columns().iter().map(Column::to_json).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut r = Map::new();
            r.insert("cells".into(), Value::Array(p.row(o, now)));
            if let Some(c) = row_conditions(resource, o) {
                r.insert("conditions".into(), c);
            }
            let object = match include_object {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": table_api_version,
                    "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
                IncludeObject::Object => {
                    let mut full = o.clone();
                    if let Some(m) = full.as_object_mut() {
                        m.entry("apiVersion")
                            .or_insert_with(|| Value::String(resource.api_version()));
                        m.entry("kind")
                            .or_insert_with(|| Value::String(resource.kind.to_string()));
                    }
                    full
                }
            };
            r.insert("object".into(), object);
            Value::Object(r)
        })
        .collect();
    let mut metadata = Map::new();
    for key in ["selfLink", "resourceVersion", "continue"] {
        if let Some(v) = list_meta
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            metadata.insert(key.into(), Value::String(v.to_string()));
        }
    }
    if let Some(n) = list_meta
        .get("remainingItemCount")
        .filter(|v| v.is_number())
    {
        metadata.insert("remainingItemCount".into(), n.clone());
    }
    json!({
        "kind": "Table",
        "apiVersion": table_api_version,
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Drops the column definitions (`"columnDefinitions": null`), as upstream does for every watch
/// event after the first when watching as a Table (`TableOptions.NoHeaders`).
pub fn omit_column_definitions(table: &mut Value) {
    if let Some(m) = table.as_object_mut() {
        m.insert("columnDefinitions".into(), Value::Null);
    }
}

// ---------------------------------------------------------------------------------------------
// Column descriptions: the API's field documentation, as upstream's SwaggerDoc gives it
// ---------------------------------------------------------------------------------------------

const D_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const D_CREATION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const D_POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const D_POD_NODE: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const D_POD_NOMINATED: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const D_POD_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
const D_POD_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
const D_RC_SPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_RC_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_RC_READY: &str = "The number of ready replicas for this replication controller.";
const D_RC_SELECTOR: &str = "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_RS_SPEC_REPLICAS: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const D_RS_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const D_RS_READY: &str =
    "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
const D_RS_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_DS_DESIRED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_DS_CURRENT: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_DS_READY: &str = "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.";
const D_DS_UPDATED: &str = "The total number of nodes that are running updated daemon pod";
const D_DS_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
const D_DS_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_JOB_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const D_JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_CJ_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
const D_CJ_TIMEZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
const D_CJ_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
const D_CJ_ACTIVE: &str = "A list of pointers to currently running jobs.";
const D_CJ_LAST_SCHEDULE: &str =
    "Information when was the last time the job was successfully scheduled.";
const D_SVC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const D_SVC_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_SVC_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const D_SVC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_SVC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const D_EP_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
const D_NODE_KUBELET: &str = "Kubelet Version reported by the node.";
const D_NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
const D_NODE_OS_IMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
const D_NODE_KERNEL: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
const D_NODE_RUNTIME: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
const D_EV_LAST: &str = "The time at which the most recent occurrence of this event was recorded.";
const D_EV_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";
const D_EV_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const D_EV_INVOLVED: &str = "The object that this event is about.";
const D_EV_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers\\[2\\]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers\\[2\\]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
const D_EV_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";
const D_EV_MESSAGE: &str = "A human-readable description of the status of this operation.";
const D_EV_FIRST: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const D_EV_COUNT: &str = "The number of times this event has occurred.";
const D_SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const D_SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const D_SA_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
const D_PV_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
const D_PV_ACCESS: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
const D_PV_RECLAIM: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
const D_PV_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
const D_PV_CLAIM: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
const D_PV_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
const D_PV_VOLUME_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
const D_PVC_PHASE: &str = "phase represents the current phase of PersistentVolumeClaim.";
const D_PVC_VOLUME: &str =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";
const D_PVC_CAPACITY: &str = "capacity represents the actual resources of the underlying volume.";
const D_PVC_ACCESS: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
const D_PVC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
const D_DEPLOY_UPDATED: &str = "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
const D_DEPLOY_AVAILABLE: &str = "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
const D_DEPLOY_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.";
const D_HPA_REF: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
const D_HPA_METRICS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.";
const D_HPA_MIN: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.";
const D_HPA_MAX: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
const D_HPA_CURRENT: &str = "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";
const D_CM_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const D_NP_POD_SELECTOR: &str = "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.";
const D_RB_ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.";
const D_CRB_ROLE_REF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.";
const D_CSR_SIGNER: &str = "signerName indicates the requested signer, and is a qualified name.\n\nList/watch requests for CertificateSigningRequests can filter on this field using a \"spec.signerName=NAME\" fieldSelector.\n\nWell-known Kubernetes signers are:\n1. \"kubernetes.io/kube-apiserver-client\": issues client certificates that can be used to authenticate to kube-apiserver.\nRequests for this signer are never auto-approved by kube-controller-manager, can be issued by the \"csrsigning\" controller in kube-controller-manager.\n2. \"kubernetes.io/kube-apiserver-client-kubelet\": issues client certificates that kubelets use to authenticate to kube-apiserver.\nRequests for this signer can be auto-approved by the \"csrapproving\" controller in kube-controller-manager, and can be issued by the \"csrsigning\" controller in kube-controller-manager.\n3. \"kubernetes.io/kubelet-serving\" issues serving certificates that kubelets use to serve TLS endpoints, which kube-apiserver can connect to securely.\nRequests for this signer are never auto-approved by kube-controller-manager, and can be issued by the \"csrsigning\" controller in kube-controller-manager.\n\nMore details are available at https://k8s.io/docs/reference/access-authn-authz/certificate-signing-requests/#kubernetes-signers\n\nCustom signerNames can also be specified. The signer defines:\n1. Trust distribution: how trust (CA bundles) are distributed.\n2. Permitted subjects: and behavior when a disallowed subject is requested.\n3. Required, permitted, or forbidden x509 extensions in the request (including whether subjectAltNames are allowed, which types, restrictions on allowed values) and behavior when a disallowed extension is requested.\n4. Required, permitted, or forbidden key usages / extended key usages.\n5. Expiration/certificate lifetime: whether it is fixed by the signer, configurable by the admin.\n6. Whether or not requests for CA certificates are allowed.";
const D_CSR_REQUEST: &str = "request contains an x509 certificate signing request encoded in a \"CERTIFICATE REQUEST\" PEM block. When serialized as JSON or YAML, the data is additionally base64-encoded.";
const D_CSR_EXPIRATION: &str = "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n1. Old signer that is unaware of the field (such as the in-tree\nimplementations prior to v1.22)\n2. Signer whose configured maximum is shorter than the requested duration\n3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes.";
const D_CSR_CONDITIONS: &str = "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\".";
const D_LEASE_HOLDER: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
const D_SC_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
const D_SC_RECLAIM: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
const D_SC_BINDING: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
const D_SC_EXPANSION: &str =
    "allowVolumeExpansion shows whether the storage class allow volume expand.";
const D_CR_REVISION: &str = "Revision indicates the revision of the state represented by Data.";
const D_PC_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
const D_PC_GLOBAL: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.";
const D_PC_PREEMPTION: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
const D_VA_ATTACHER: &str = "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().";
const D_VA_PV: &str =
    "persistentVolumeName represents the name of the persistent volume to attach.";
const D_VA_NODE: &str = "nodeName represents the node that the volume should be attached to.";
const D_VA_ATTACHED: &str = "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.";
const D_EPS_ADDRESS_TYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type.";
const D_EPS_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list.";
const D_EPS_ENDPOINTS: &str = "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";
const D_CSID_ATTACH: &str = "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.";
const D_CSID_POD_INFO: &str = "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\ndefined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes \\< 1.29 and now is mutable.";
const D_CSID_CAPACITY: &str = "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes \\<= 1.22 and now is mutable.";
const D_CSID_TOKENS: &str = "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n\"\\<audience\\>\": {\n\"token\": \\<token\\>,\n\"expirationTimestamp\": \\<expiration timestamp in RFC3339\\>,\n},\n...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.";
const D_CSID_REPUBLISH: &str = "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.";
const D_CSID_MODES: &str = "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{find, CATALOG};

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    /// `secs` seconds before `now()`, as an RFC 3339 string.
    fn ago(secs: i64) -> String {
        (now() - SignedDuration::from_secs(secs))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    fn cells(group: &str, plural: &str, obj: Value) -> Vec<Value> {
        let r = find(group, "v1", plural)
            .or_else(|| find(group, "v2", plural))
            .unwrap();
        let cells = row(r, &obj, now());
        assert_eq!(
            cells.len(),
            columns(r).len(),
            "{plural}: one cell per column"
        );
        cells
    }

    fn strs(cells: &[Value]) -> Vec<String> {
        cells
            .iter()
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn human_duration_matches_upstream() {
        let d = |secs: i64| human_duration(SignedDuration::from_secs(secs));
        assert_eq!(d(-5), "<invalid>");
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
        assert_eq!(d(0), "0s");
        assert_eq!(d(45), "45s");
        assert_eq!(d(119), "119s");
        assert_eq!(d(120), "2m");
        assert_eq!(d(200), "3m20s");
        assert_eq!(d(600), "10m");
        assert_eq!(d(179 * 60 + 59), "179m");
        assert_eq!(d(3 * 3600), "3h");
        assert_eq!(d(3 * 3600 + 25 * 60), "3h25m");
        assert_eq!(d(5 * 3600), "5h");
        assert_eq!(d(8 * 3600 + 59 * 60), "8h");
        assert_eq!(d(47 * 3600), "47h");
        assert_eq!(d(51 * 3600), "2d3h");
        assert_eq!(d(72 * 3600), "3d");
        assert_eq!(d(8 * 86400), "8d");
        assert_eq!(d(400 * 86400), "400d");
        assert_eq!(d(2 * 365 * 86400), "2y");
        assert_eq!(d(3 * 365 * 86400 + 20 * 86400), "3y20d");
        assert_eq!(d(9 * 365 * 86400), "9y");
        let sd = |secs: i64| short_human_duration(SignedDuration::from_secs(secs));
        assert_eq!(sd(45), "45s");
        assert_eq!(sd(200), "3m");
        assert_eq!(sd(5 * 3600 + 10), "5h");
        assert_eq!(sd(51 * 3600), "2d");
        assert_eq!(sd(400 * 86400), "1y");
    }

    #[test]
    fn every_resource_has_one_cell_per_column() {
        for r in CATALOG {
            let cols = columns(r);
            assert!(!cols.is_empty());
            assert_eq!(
                row(r, &json!({}), now()).len(),
                cols.len(),
                "{r:?} empty object"
            );
            let obj = json!({"metadata": {"name": "x", "creationTimestamp": ago(30)}});
            let cells = row(r, &obj, now());
            assert_eq!(cells.len(), cols.len(), "{r:?}");
            // every printer names the object in a `name`-format column
            let i = cols.iter().position(|c| c.format == "name").unwrap();
            assert_eq!(cells[i], "x", "{r:?}");
        }
    }

    #[test]
    fn default_table_for_resources_without_printers() {
        for plural in ["roles", "clusterroles"] {
            let r = find("rbac.authorization.k8s.io", "v1", plural).unwrap();
            let names: Vec<_> = columns(r).iter().map(|c| (c.name, c.type_)).collect();
            assert_eq!(names, vec![("Name", "string"), ("Created At", "date")]);
        }
        let c = cells(
            "",
            "limitranges",
            json!({"metadata": {"name": "lr", "creationTimestamp": "2024-01-02T03:04:05Z"}}),
        );
        assert_eq!(strs(&c), vec!["lr", "2024-01-02T03:04:05Z"]);
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "web", "creationTimestamp": ago(200)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status
        })
    }

    #[test]
    fn pod_rows() {
        let columns: Vec<_> = columns(find("", "v1", "pods").unwrap())
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            columns,
            vec![
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1)
            ]
        );

        // pending, unscheduled
        let c = cells("", "pods", pod(json!({"phase": "Pending"})));
        assert_eq!(
            strs(&c),
            vec!["web", "0/1", "Pending", "0", "3m20s", "<none>", "<none>", "<none>", "<none>"]
        );

        // creating
        let c = cells(
            "",
            "pods",
            pod(json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]})),
        );
        assert_eq!(c[2], "ContainerCreating");

        // running and ready, on a node, with a restart 5 minutes ago
        let mut p = pod(json!({
            "phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{
                "name": "app", "ready": true, "restartCount": 1, "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}
            }]
        }));
        p["spec"]["nodeName"] = json!("node-1");
        let c = cells("", "pods", p);
        assert_eq!(
            strs(&c),
            vec![
                "web",
                "1/1",
                "Running",
                "1 (5m ago)",
                "3m20s",
                "10.244.0.5",
                "node-1",
                "<none>",
                "<none>"
            ]
        );

        // crash loop
        let c = cells(
            "",
            "pods",
            pod(json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(40)}}
            }]})),
        );
        assert_eq!(
            (c[1].as_str(), c[2].as_str(), c[3].as_str()),
            (Some("0/1"), Some("CrashLoopBackOff"), Some("5 (40s ago)"))
        );

        // completed
        let done = pod(json!({"phase": "Succeeded", "containerStatuses": [{
            "name": "app", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
        }]}));
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(row(pods, &done, now())[2], "Completed");
        assert_eq!(
            row_conditions(pods, &done).unwrap()[0]["reason"],
            "Succeeded"
        );

        // error, and an exit code without a reason
        let c = cells(
            "",
            "pods",
            pod(json!({"phase": "Failed", "containerStatuses": [{
                "name": "app", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}
            }]})),
        );
        assert_eq!(c[2], "Error");
        let c = cells(
            "",
            "pods",
            pod(
                json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137}}}]}),
            ),
        );
        assert_eq!(c[2], "ExitCode:137");

        // one container completed, one failed: the failure shows
        let mut two = pod(json!({"phase": "Failed", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
            {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}));
        two["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        assert_eq!(cells("", "pods", two)[2], "Error");

        // init containers: waiting on the first of two
        let mut init = pod(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"running": {}}},
            {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}
        ]}));
        init["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
        assert_eq!(cells("", "pods", init.clone())[2], "Init:0/2");
        init["status"]["initContainerStatuses"][0]["state"] =
            json!({"terminated": {"exitCode": 0}});
        assert_eq!(cells("", "pods", init.clone())[2], "Init:1/2");
        init["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "ImagePullBackOff"}});
        assert_eq!(cells("", "pods", init.clone())[2], "Init:ImagePullBackOff");
        init["status"]["initContainerStatuses"][1]["state"] =
            json!({"terminated": {"exitCode": 2, "reason": "Error"}});
        assert_eq!(cells("", "pods", init)[2], "Init:Error");

        // sidecar (restartable init container) counts toward READY
        let mut sidecar = pod(json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 0, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]
        }));
        sidecar["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let c = cells("", "pods", sidecar);
        assert_eq!(
            (c[1].as_str(), c[2].as_str()),
            (Some("2/2"), Some("Running"))
        );

        // terminating
        let mut term = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "state": {"running": {}}}
        ]}));
        term["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(cells("", "pods", term)[2], "Terminating");

        // scheduling gated
        let c = cells(
            "",
            "pods",
            pod(
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            ),
        );
        assert_eq!(c[2], "SchedulingGated");

        // readiness gates
        let mut gated = pod(
            json!({"phase": "Running", "conditions": [{"type": "example.com/lb", "status": "True"}]}),
        );
        gated["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/lb"}, {"conditionType": "example.com/other"}]);
        assert_eq!(cells("", "pods", gated)[8], "1/2");
    }

    #[test]
    fn deployment_replicaset_statefulset_daemonset_rows() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(5 * 3600)},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}
            },
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        let c = cells("apps", "deployments", d.clone());
        assert_eq!(
            strs(&c),
            vec![
                "web",
                "2/3",
                "3",
                "2",
                "5h",
                "nginx,log",
                "nginx:1.25,busybox",
                "app=web"
            ]
        );
        assert!(c[2].is_i64());

        let rs = cells("apps", "replicasets", d.clone());
        assert_eq!(
            strs(&rs),
            vec![
                "web",
                "3",
                "0",
                "2",
                "5h",
                "nginx,log",
                "nginx:1.25,busybox",
                "app=web"
            ]
        );
        assert!(rs[1].is_i64());

        let sts = cells("apps", "statefulsets", d);
        assert_eq!(
            strs(&sts),
            vec!["web", "2/3", "5h", "nginx,log", "nginx:1.25,busybox"]
        );

        let ds = cells(
            "apps",
            "daemonsets",
            json!({
                "metadata": {"name": "agent", "creationTimestamp": ago(60)},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "agent:1"}]}}},
                "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}
            }),
        );
        assert_eq!(
            strs(&ds),
            vec![
                "agent",
                "2",
                "2",
                "1",
                "2",
                "1",
                "kubernetes.io/os=linux",
                "60s",
                "a",
                "agent:1",
                "app=agent"
            ]
        );
    }

    fn svc(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "svc", "creationTimestamp": ago(10)}, "spec": spec, "status": status})
    }

    #[test]
    fn service_rows_of_each_type() {
        let c = cells(
            "",
            "services",
            svc(
                json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "selector": {"k8s-app": "kube-dns"}}),
                json!({}),
            ),
        );
        assert_eq!(
            strs(&c),
            vec![
                "svc",
                "ClusterIP",
                "10.96.0.10",
                "<none>",
                "53/UDP,53/TCP",
                "10s",
                "k8s-app=kube-dns"
            ]
        );

        let c = cells(
            "",
            "services",
            svc(
                json!({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
                json!({}),
            ),
        );
        assert_eq!(
            strs(&c),
            vec![
                "svc",
                "NodePort",
                "10.96.1.1",
                "<none>",
                "80:30080/TCP",
                "10s",
                "<none>"
            ]
        );

        let lb = json!({"type": "LoadBalancer", "clusterIPs": ["10.96.2.2"], "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]});
        assert_eq!(
            cells("", "services", svc(lb.clone(), json!({})))[3],
            "<pending>"
        );
        assert_eq!(
            cells(
                "",
                "services",
                svc(
                    lb.clone(),
                    json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "a.example.com"}]}})
                )
            )[3],
            "203.0.113.9,a.example.com"
        );
        let mut lb_ext = lb;
        lb_ext["externalIPs"] = json!(["198.51.100.1"]);
        assert_eq!(
            cells(
                "",
                "services",
                svc(
                    lb_ext,
                    json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}})
                )
            )[3],
            "203.0.113.9,198.51.100.1"
        );

        let c = cells(
            "",
            "services",
            svc(
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({}),
            ),
        );
        assert_eq!(
            strs(&c)[1..5],
            ["ExternalName", "<none>", "db.example.com", "<none>"]
        );

        let c = cells(
            "",
            "services",
            svc(
                json!({"type": "ClusterIP", "clusterIPs": ["None"], "externalIPs": ["1.2.3.4"]}),
                json!({}),
            ),
        );
        assert_eq!(strs(&c)[2..4], ["None", "1.2.3.4"]);
        let c = cells(
            "",
            "services",
            svc(
                json!({"type": "ClusterIP", "clusterIP": "10.96.3.3"}),
                json!({}),
            ),
        );
        assert_eq!(c[2], "10.96.3.3");
    }

    #[test]
    fn node_rows() {
        let n = json!({
            "metadata": {"name": "node-1", "creationTimestamp": ago(3 * 86400),
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "infra"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "node-1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}
            }
        });
        let c = cells("", "nodes", n);
        assert_eq!(
            strs(&c),
            vec![
                "node-1",
                "Ready,SchedulingDisabled",
                "control-plane,infra,master",
                "3d",
                "v1.33.0",
                "172.18.0.2",
                "<none>",
                "Debian GNU/Linux 12",
                "6.1.0",
                "containerd://1.7.0"
            ]
        );
        let c = cells(
            "",
            "nodes",
            json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
        );
        assert_eq!(
            strs(&c),
            vec![
                "n2",
                "NotReady",
                "<none>",
                "<unknown>",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]
        );
        assert_eq!(
            cells("", "nodes", json!({"metadata": {"name": "n3"}}))[1],
            "Unknown"
        );
    }

    #[test]
    fn pv_and_pvc_rows() {
        let pv = json!({
            "metadata": {"name": "pv-1", "creationTimestamp": ago(90)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            strs(&cells("", "persistentvolumes", pv)),
            vec![
                "pv-1",
                "10Gi",
                "RWO,RWX",
                "Retain",
                "Bound",
                "default/data",
                "standard",
                "<unset>",
                "",
                "90s",
                "Filesystem"
            ]
        );
        let pvc = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(90)},
            "spec": {"volumeName": "pv-1", "storageClassName": "standard", "resources": {"requests": {"storage": "5Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}
        });
        assert_eq!(
            strs(&cells("", "persistentvolumeclaims", pvc)),
            vec!["data", "Bound", "pv-1", "10Gi", "RWO", "standard", "<unset>", "90s", "<unset>"]
        );
        let pending = json!({
            "metadata": {"name": "p", "creationTimestamp": ago(5), "deletionTimestamp": ago(1),
                "annotations": {"volume.beta.kubernetes.io/storage-class": "beta"}},
            "spec": {"storageClassName": "standard"},
            "status": {"phase": "Pending"}
        });
        assert_eq!(
            strs(&cells("", "persistentvolumeclaims", pending)),
            vec![
                "p",
                "Terminating",
                "",
                "",
                "",
                "beta",
                "<unset>",
                "5s",
                "<unset>"
            ]
        );
    }

    #[test]
    fn storage_class_rows() {
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": ago(60),
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer"
        });
        let c = cells("storage.k8s.io", "storageclasses", sc);
        assert_eq!(
            strs(&c),
            vec![
                "standard (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                "false",
                "60s"
            ]
        );
        assert_eq!(c[4], json!(false));
        let c = cells(
            "storage.k8s.io",
            "storageclasses",
            json!({"metadata": {"name": "fast"}, "provisioner": "x", "reclaimPolicy": "Retain", "allowVolumeExpansion": true}),
        );
        assert_eq!(
            strs(&c),
            vec!["fast", "x", "Retain", "Immediate", "true", "<unknown>"]
        );
    }

    #[test]
    fn job_and_cronjob_rows() {
        let job = |spec: Value, status: Value| json!({"metadata": {"name": "pi", "creationTimestamp": ago(300)}, "spec": spec, "status": status});
        let c = cells(
            "batch",
            "jobs",
            job(
                json!({"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                    "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}),
                json!({"startTime": ago(290), "completionTime": ago(250), "succeeded": 1,
                    "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
            ),
        );
        assert_eq!(
            strs(&c),
            vec![
                "pi",
                "Complete",
                "1/1",
                "40s",
                "5m",
                "pi",
                "perl",
                "batch.kubernetes.io/controller-uid=u"
            ]
        );
        let c = cells(
            "batch",
            "jobs",
            job(
                json!({"completions": 3}),
                json!({"startTime": ago(200), "succeeded": 1}),
            ),
        );
        assert_eq!(strs(&c)[1..5], ["Running", "1/3", "3m20s", "5m"]);
        let c = cells("batch", "jobs", job(json!({"parallelism": 2}), json!({})));
        assert_eq!(strs(&c)[1..4], ["Running", "0/1 of 2", ""]);
        let c = cells(
            "batch",
            "jobs",
            job(
                json!({"completions": 1}),
                json!({"conditions": [{"type": "Failed", "status": "True"}]}),
            ),
        );
        assert_eq!(c[1], "Failed");
        let c = cells(
            "batch",
            "jobs",
            job(
                json!({"completions": 1, "suspend": true}),
                json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
            ),
        );
        assert_eq!(c[1], "Suspended");
        let c = cells(
            "batch",
            "jobs",
            job(
                json!({"completions": 1}),
                json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
            ),
        );
        assert_eq!(c[1], "FailureTarget");

        let cj = json!({
            "metadata": {"name": "hello", "creationTimestamp": ago(3600)},
            "spec": {"schedule": "*/1 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(30)}
        });
        assert_eq!(
            strs(&cells("batch", "cronjobs", cj)),
            vec![
                "hello",
                "*/1 * * * *",
                "<none>",
                "False",
                "1",
                "30s",
                "60m",
                "hello",
                "busybox",
                "<none>"
            ]
        );
    }

    #[test]
    fn event_rows() {
        let ev = json!({
            "metadata": {"name": "web.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "type": "Normal", "message": "Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(120), "lastTimestamp": ago(30), "count": 3
        });
        let c = cells("", "events", ev);
        assert_eq!(
            strs(&c),
            vec![
                "30s",
                "Normal",
                "Pulled",
                "pod/web",
                "spec.containers{app}",
                "kubelet, node-1",
                "Successfully pulled image \"nginx\"",
                "2m",
                "3",
                "web.17a"
            ]
        );
        let v1 = json!({
            "metadata": {"name": "e2"},
            "regarding": {"kind": "Node", "name": "node-1"},
            "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
            "eventTime": "2024-05-01T11:59:50.000000Z", "reportingController": "kubelet", "reportingInstance": "node-1"
        });
        let c = cells("events.k8s.io", "events", v1);
        assert_eq!(
            strs(&c),
            vec![
                "10s",
                "Normal",
                "Starting",
                "node/node-1",
                "",
                "kubelet, node-1",
                "Starting kubelet.",
                "10s",
                "1",
                "e2"
            ]
        );
    }

    #[test]
    fn small_rows() {
        assert_eq!(
            strs(&cells(
                "",
                "namespaces",
                json!({"metadata": {"name": "default", "creationTimestamp": ago(86400)}, "status": {"phase": "Active"}})
            )),
            vec!["default", "Active", "24h"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "configmaps",
                json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}})
            )),
            vec!["cm", "3", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "secrets",
                json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}})
            )),
            vec!["s", "Opaque", "1", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "serviceaccounts",
                json!({"metadata": {"name": "default"}})
            )),
            vec!["default", "0", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "endpoints",
                json!({"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]})
            )),
            vec![
                "web",
                "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells("", "endpoints", json!({"metadata": {"name": "e"}}))),
            vec!["e", "<none>", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "discovery.k8s.io",
                "endpointslices",
                json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
                "ports": [{"port": 80, "name": "http"}], "endpoints": [{"addresses": ["10.0.0.1"]}]})
            )),
            vec!["web-abc", "IPv4", "80", "10.0.0.1", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "discovery.k8s.io",
                "endpointslices",
                json!({"metadata": {"name": "x"}, "addressType": "IPv4"})
            )),
            vec!["x", "IPv4", "<unset>", "<unset>", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "policy",
                "poddisruptionbudgets",
                json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}})
            )),
            vec!["pdb", "1", "N/A", "0", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "networking.k8s.io",
                "ingresses",
                json!({"metadata": {"name": "ing"},
                "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {}], "tls": [{}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}]}}})
            )),
            vec![
                "ing",
                "nginx",
                "a.example.com",
                "172.18.0.3",
                "80, 443",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells(
                "networking.k8s.io",
                "ingressclasses",
                json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
                "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}})
            )),
            vec![
                "nginx",
                "k8s.io/ingress-nginx",
                "IngressParameters.k8s.example.com/p",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells(
                "networking.k8s.io",
                "networkpolicies",
                json!({"metadata": {"name": "deny"}, "spec": {}})
            )),
            vec!["deny", "<none>", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "rbac.authorization.k8s.io",
                "rolebindings",
                json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "namespace": "kube-system", "name": "sa"}, {"kind": "Group", "name": "devs"}]})
            )),
            vec![
                "rb",
                "Role/r",
                "<unknown>",
                "alice",
                "devs",
                "kube-system/sa"
            ]
        );
        assert_eq!(
            strs(&cells(
                "certificates.k8s.io",
                "certificatesigningrequests",
                json!({"metadata": {"name": "csr"},
                "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
                "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}})
            )),
            vec![
                "csr",
                "<unknown>",
                "kubernetes.io/kube-apiserver-client",
                "alice",
                "24h",
                "Approved,Issued"
            ]
        );
        assert_eq!(
            strs(&cells(
                "coordination.k8s.io",
                "leases",
                json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}})
            )),
            vec!["l", "node-1", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "apps",
                "controllerrevisions",
                json!({"metadata": {"name": "web-7d", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2})
            )),
            vec!["web-7d", "statefulset.apps/web", "2", "<unknown>"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "resourcequotas",
                json!({"metadata": {"name": "q"}, "status": {
                "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "1Gi"},
                "used": {"pods": "2", "requests.cpu": "500m"}}})
            )),
            vec![
                "q",
                "pods: 2/10, requests.cpu: 500m/1",
                "limits.memory: 0/1Gi",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells(
                "scheduling.k8s.io",
                "priorityclasses",
                json!({"metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"})
            )),
            vec![
                "system-cluster-critical",
                "2000000000",
                "false",
                "<unknown>",
                "PreemptLowerPriority"
            ]
        );
        assert_eq!(
            strs(&cells(
                "storage.k8s.io",
                "csidrivers",
                json!({"metadata": {"name": "d"}, "spec": {"volumeLifecycleModes": ["Persistent"]}})
            )),
            vec![
                "d",
                "true",
                "false",
                "false",
                "<unset>",
                "false",
                "Persistent",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells(
                "storage.k8s.io",
                "volumeattachments",
                json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.example.com",
                "source": {"persistentVolumeName": "pv-1"}, "nodeName": "node-1"}, "status": {"attached": true}})
            )),
            vec![
                "va",
                "csi.example.com",
                "pv-1",
                "node-1",
                "true",
                "<unknown>"
            ]
        );
        assert_eq!(
            strs(&cells(
                "",
                "podtemplates",
                json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}})
            )),
            vec!["t", "c", "i", "app=x"]
        );
        assert_eq!(
            strs(&cells(
                "",
                "replicationcontrollers",
                json!({"metadata": {"name": "rc"}, "spec": {"replicas": 2, "selector": {"app": "x"}}})
            )),
            vec!["rc", "2", "0", "0", "<unknown>", "", "", "app=x"]
        );
    }

    #[test]
    fn hpa_rows() {
        let hpa = json!({
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 10, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}
            ]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "60m"}}}
            ]}
        });
        assert_eq!(
            strs(&cells("autoscaling", "horizontalpodautoscalers", hpa)),
            vec![
                "web",
                "Deployment/web",
                "cpu: 12%/50%, memory: <unknown>/100Mi + 1 more...",
                "1",
                "10",
                "2",
                "<unknown>"
            ]
        );
        let none = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}});
        assert_eq!(
            strs(&cells("autoscaling", "horizontalpodautoscalers", none))[2..4],
            ["<none>", "<unset>"]
        );
    }

    #[test]
    fn the_table_object() {
        let pods = find("", "v1", "pods").unwrap();
        let p = pod(json!({"phase": "Succeeded"}));
        let mut with_rv = p.clone();
        with_rv["metadata"]["resourceVersion"] = json!("42");
        let t = table(
            pods,
            &[with_rv.clone()],
            now(),
            IncludeObject::Metadata,
            json!({"resourceVersion": "100", "continue": ""}),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "100"}));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 9);
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": D_NAME, "priority": 0})
        );
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        let r = &t["rows"][0];
        assert_eq!(r["cells"][0], "web");
        assert_eq!(r["conditions"][0]["type"], "Completed");
        assert_eq!(
            r["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": with_rv["metadata"]})
        );

        let t = table(
            pods,
            std::slice::from_ref(&p),
            now(),
            IncludeObject::Object,
            json!({}),
        );
        assert_eq!(t["metadata"], json!({}));
        assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
        assert_eq!(t["rows"][0]["object"]["apiVersion"], "v1");
        assert_eq!(t["rows"][0]["object"]["spec"], p["spec"]);

        let t = table(
            pods,
            &[p],
            now(),
            IncludeObject::None,
            json!({"remainingItemCount": 3}),
        );
        assert!(t["rows"][0]["object"].is_null());
        assert_eq!(t["metadata"]["remainingItemCount"], 3);

        let mut t = table(pods, &[], now(), IncludeObject::Metadata, json!({}));
        assert_eq!(t["rows"], json!([]));
        omit_column_definitions(&mut t);
        assert!(t["columnDefinitions"].is_null());

        let t = table_in(
            pods,
            &[pod(json!({}))],
            now(),
            IncludeObject::Metadata,
            json!({}),
            "meta.k8s.io/v1beta1",
        );
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1beta1");
    }

    #[test]
    fn include_object_parameter() {
        assert_eq!(IncludeObject::parse(None).unwrap(), IncludeObject::Metadata);
        assert_eq!(
            IncludeObject::parse(Some("")).unwrap(),
            IncludeObject::Metadata
        );
        assert_eq!(
            IncludeObject::parse(Some("Object")).unwrap(),
            IncludeObject::Object
        );
        assert_eq!(
            IncludeObject::parse(Some("None")).unwrap(),
            IncludeObject::None
        );
        let e = IncludeObject::parse(Some("All")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (400, "unrecognized includeObject value: \"All\"")
        );
    }
}
