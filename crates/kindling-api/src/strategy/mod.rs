//! Strategies: the rules of each resource (defaults, what a create or update may set, validation),
//! as the upstream registry's `RESTCreateStrategy`/`RESTUpdateStrategy` hold them. The generic
//! REST path in the API server calls these; a resource without rules of its own uses [`DEFAULT`].
//!
//! Objects are `serde_json::Value`s in their wire form (camelCase), already checked to decode into
//! their typed struct, so a strategy may assume fields have the right JSON types.

mod admissionregistration;
mod autoscaling;
mod batch;
mod certificates;
mod containers;
mod core;
pub mod cron;
mod csrspec;
mod dra;
mod events;
pub mod flowcontrol;
mod ingress;
mod limitrange;
mod networking;
mod nodeapi;
mod pod;
pub mod podspec;
pub mod podvalidation;
mod policy;
mod rbac;
mod service;
mod storage;
pub mod util;
mod volumes;
mod workloads;

use crate::catalog::Subresource;
use crate::status::Cause;
use crate::user::UserInfo;
use serde_json::Value;

pub use self::admissionregistration::{
    ValidatingAdmissionPolicyBindingStrategy, ValidatingAdmissionPolicyStrategy,
    WebhookConfigurationStrategy,
};
pub use self::autoscaling::{HpaStrategy, HpaV1Strategy};
pub use self::dra::{
    DeviceClassStrategy, ResourceClaimStrategy, ResourceClaimTemplateStrategy,
    ResourceSliceStrategy,
};
pub use self::events::{EventStrategy, EventsV1Strategy};
pub use self::flowcontrol::{FlowSchemaStrategy, PriorityLevelConfigurationStrategy};
pub use self::ingress::{IngressClassStrategy, IngressStrategy};
pub use self::networking::{IpAddressStrategy, ServiceCidrStrategy};
pub use self::nodeapi::RuntimeClassStrategy;

pub use self::batch::{CronJobStrategy, JobStrategy};
pub use self::certificates::CertificateSigningRequestStrategy;
pub use self::core::{ConfigData, NamespaceStrategy, NodeStrategy, SecretStrategy};
pub use self::cron::parse_cron_schedule;
pub use self::limitrange::LimitRangeStrategy;
pub use self::pod::{qos_class, PodStrategy};
pub use self::policy::PodDisruptionBudgetStrategy;
pub use self::rbac::{RoleBindingStrategy, RoleStrategy};
pub use self::service::ServiceStrategy;
pub use self::storage::{
    CsiStorageCapacityStrategy, PersistentVolumeClaimStrategy, PersistentVolumeStrategy,
    StorageClassStrategy, VolumeAttributesClassStrategy,
};
pub use self::workloads::{
    DaemonSetStrategy, DeploymentStrategy, ReplicatedStrategy, StatefulSetStrategy,
};

/// Which rule `metadata.name` must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: lower-case alphanumerics, '-' and '.', at most 253 characters.
    Subdomain,
    /// RFC 1123 label: lower-case alphanumerics and '-', at most 63 characters (namespaces).
    Label,
    /// RFC 1035 label: like Label but must start with a letter (services).
    Rfc1035Label,
    /// Path segment: anything but '/', '%', '.' and '..' (RBAC objects, events).
    PathSegment,
    /// An IP address in canonical form (IPAddress objects).
    IpAddress,
}

pub trait Strategy: Sync + Send {
    /// Fills in defaults, as upstream's defaulting functions do; runs on create and on every update.
    fn default(&self, _obj: &mut Value) {}

    /// Clears what a client may not set when creating (e.g. status of a resource with a status
    /// subresource is reset by the generic path already; this is for the rest).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Whether a create keeps the client's `status` although the resource has a status
    /// subresource (upstream resets it, except for Nodes: a node registers with its capacity,
    /// allocatable and conditions).
    fn keeps_status_on_create(&self) -> bool {
        false
    }

    /// What a create records of the user who sent it (upstream's PrepareForCreate reading the
    /// user from the request's context: a CertificateSigningRequest names its requester). Runs
    /// after [`Strategy::prepare_for_create`], for requests only (the server's own creates have
    /// no user).
    fn prepare_for_create_by(&self, _obj: &mut Value, _user: &UserInfo) {}

    /// Adjusts an update given the stored object (e.g. keeps fields only a controller may set).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Validation of a new object; an empty list means valid.
    fn validate(&self, _obj: &Value) -> Vec<Cause> {
        Vec::new()
    }

    /// Validation of a create only, on top of `validate` (custom resources' `optionalOldSelf`
    /// rules, which see no old object then).
    fn validate_create(&self, _obj: &Value) -> Vec<Cause> {
        Vec::new()
    }

    /// Validation of an update (immutable fields and the like), on top of `validate`.
    fn validate_update(&self, _new: &Value, _old: &Value) -> Vec<Cause> {
        Vec::new()
    }

    /// All the validation of an update: `validate` of the new object, then `validate_update`.
    /// Custom resources override it to weigh the two against the old object together (errors
    /// of unchanged values are ratcheted).
    fn validate_whole_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut causes = self.validate(new);
        causes.extend(self.validate_update(new, old));
        causes
    }

    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// Whether `metadata.generation` tracks changes of everything outside metadata and status.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Why no object may be created now, as the message of a 405 MethodNotAllowed (the objects
    /// of a CustomResourceDefinition being deleted); `None`: creates go ahead.
    fn refuse_create(&self) -> Option<&'static str> {
        None
    }

    /// Why the object named `name` may never be deleted (upstream refuses it in admission), as
    /// the detail of a 403 Forbidden; `None`: it may be.
    fn refuse_delete(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// Seconds a delete waits before the object goes (upstream's `CheckGracefulDelete`), given
    /// the grace period the client asked for; 0 removes it at once.
    fn grace_period(&self, _obj: &Value, _requested: Option<i64>) -> i64 {
        0
    }

    /// What a delete does to the object beyond the generic path (upstream's own `Delete` of
    /// namespaces and CustomResourceDefinitions): changes `obj` as it is marked for deletion
    /// and returns whether it must stay (marked) rather than go at once.
    fn prepare_for_delete(&self, _obj: &mut Value) -> bool {
        false
    }

    /// Whether a deleted object whose finalizers are all gone must still wait (a namespace
    /// with `spec.finalizers` left).
    fn deletion_pending(&self, _obj: &Value) -> bool {
        false
    }

    /// The fields of `obj` its schema does not know, as strict decoding reports them, when the
    /// strategy holds the schema (custom resources); `None`: the OpenAPI definitions decide.
    fn unknown_fields(&self, _obj: &Value) -> Option<Vec<String>> {
        None
    }

    /// A write through a subresource with rules of its own (`pods/resize`, upstream's
    /// per-subresource strategies): makes `new` what the write may change of `old`, and nothing
    /// else. Runs instead of [`Strategy::prepare_for_update`].
    fn prepare_for_subresource_update(&self, _sub: Subresource, _new: &mut Value, _old: &Value) {}

    /// Validation of such a write, instead of [`Strategy::validate`] and
    /// [`Strategy::validate_update`].
    fn validate_subresource_update(
        &self,
        _sub: Subresource,
        _new: &Value,
        _old: &Value,
    ) -> Vec<Cause> {
        Vec::new()
    }
}

/// The strategy of resources with no rules of their own.
pub struct DefaultStrategy;
impl Strategy for DefaultStrategy {}

pub static DEFAULT: &DefaultStrategy = &DefaultStrategy;
pub static NAMESPACE: NamespaceStrategy = NamespaceStrategy;
pub static POD: PodStrategy = PodStrategy;
pub static LIMIT_RANGE: LimitRangeStrategy = LimitRangeStrategy;
pub static POD_DISRUPTION_BUDGET: PodDisruptionBudgetStrategy = PodDisruptionBudgetStrategy;
pub static SERVICE: ServiceStrategy = ServiceStrategy;
pub static CONFIG_DATA: ConfigData = ConfigData;
pub static SECRET: SecretStrategy = SecretStrategy;
pub static NODE: NodeStrategy = NodeStrategy;
pub static PERSISTENT_VOLUME: PersistentVolumeStrategy = PersistentVolumeStrategy;
pub static PERSISTENT_VOLUME_CLAIM: PersistentVolumeClaimStrategy = PersistentVolumeClaimStrategy;
pub static STORAGE_CLASS: StorageClassStrategy = StorageClassStrategy;
pub static REPLICATED: ReplicatedStrategy = ReplicatedStrategy;
pub static DEPLOYMENT: DeploymentStrategy = DeploymentStrategy;
pub static STATEFUL_SET: StatefulSetStrategy = StatefulSetStrategy;
pub static DAEMON_SET: DaemonSetStrategy = DaemonSetStrategy;
pub static JOB: JobStrategy = JobStrategy;
pub static CRON_JOB: CronJobStrategy = CronJobStrategy;
pub static CERTIFICATE_SIGNING_REQUEST: CertificateSigningRequestStrategy =
    CertificateSigningRequestStrategy;
pub static EVENT: EventStrategy = EventStrategy;
pub static EVENTS_V1: EventsV1Strategy = EventsV1Strategy;
pub static HORIZONTAL_POD_AUTOSCALER: HpaStrategy = HpaStrategy;
pub static HORIZONTAL_POD_AUTOSCALER_V1: HpaV1Strategy = HpaV1Strategy;
pub static INGRESS: IngressStrategy = IngressStrategy;
pub static INGRESS_CLASS: IngressClassStrategy = IngressClassStrategy;
pub static IP_ADDRESS: IpAddressStrategy = IpAddressStrategy;
pub static SERVICE_CIDR: ServiceCidrStrategy = ServiceCidrStrategy;
pub static CSI_STORAGE_CAPACITY: CsiStorageCapacityStrategy = CsiStorageCapacityStrategy;
pub static VOLUME_ATTRIBUTES_CLASS: VolumeAttributesClassStrategy = VolumeAttributesClassStrategy;
pub static RUNTIME_CLASS: RuntimeClassStrategy = RuntimeClassStrategy;
pub static ROLE: RoleStrategy = RoleStrategy { namespaced: true };
pub static CLUSTER_ROLE: RoleStrategy = RoleStrategy { namespaced: false };
pub static ROLE_BINDING: RoleBindingStrategy = RoleBindingStrategy { namespaced: true };
pub static CLUSTER_ROLE_BINDING: RoleBindingStrategy = RoleBindingStrategy { namespaced: false };
pub static FLOW_SCHEMA: FlowSchemaStrategy = FlowSchemaStrategy;
pub static PRIORITY_LEVEL_CONFIGURATION: PriorityLevelConfigurationStrategy =
    PriorityLevelConfigurationStrategy;
pub static WEBHOOK_CONFIGURATION: WebhookConfigurationStrategy = WebhookConfigurationStrategy;
pub static VALIDATING_ADMISSION_POLICY: ValidatingAdmissionPolicyStrategy =
    ValidatingAdmissionPolicyStrategy;
pub static VALIDATING_ADMISSION_POLICY_BINDING: ValidatingAdmissionPolicyBindingStrategy =
    ValidatingAdmissionPolicyBindingStrategy;
pub static DEVICE_CLASS: DeviceClassStrategy = DeviceClassStrategy;
pub static RESOURCE_CLAIM: ResourceClaimStrategy = ResourceClaimStrategy;
pub static RESOURCE_CLAIM_TEMPLATE: ResourceClaimTemplateStrategy = ResourceClaimTemplateStrategy;
pub static RESOURCE_SLICE: ResourceSliceStrategy = ResourceSliceStrategy;
