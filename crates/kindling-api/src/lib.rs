//! kindling-api: the Kubernetes API as data and rules, with no IO.
//!
//! - [`catalog`]: every served resource and its strategy, as data at run time.
//! - [`apiextensions`]: CustomResourceDefinitions and custom objects' schemas and rules.
//! - [`admission`]: kube-apiserver's admission plugin names, defaults and flags.
//! - [`body`]: create/update bodies decoded as kube-apiserver's serializer does (its 400s).
//! - [`convert`]: conversions between versions that share one storage version.
//! - [`computed`]: resources computed on each read (component statuses).
//! - [`disruption`]: PodDisruptionBudget rules (coverage, condition, evictions).
//! - [`strategy`]: defaults, validation and update rules per resource.
//! - [`status`]: errors as `Status` objects.
//! - [`schema`]: OpenAPI definitions generated from the k8s-openapi types.
//! - [`meta`]: object metadata rules (names, labels) shared by every resource.
//! - [`selector`]: label and field selectors.
//! - [`quota`]: ResourceQuota usage, scopes and admission decisions.
//! - [`quantity`]: resource quantities (`500m`, `1Gi`), exact.
//! - [`limitrange`]: LimitRange admission (defaults, min/max/ratio).
//! - [`json_path`]: reading and writing JSON values by path.
//! - [`patch`]: JSON patch, merge patch and strategic merge patch.
//! - [`managed`]: managed fields and server-side apply.
//! - [`table`]: `kubectl get` columns of every resource.

pub mod admission;
pub mod apiextensions;
pub mod body;
pub mod catalog;
pub mod computed;
pub mod convert;
pub mod disruption;
pub mod fields;
pub mod json_path;
pub mod limitrange;
pub mod managed;
pub mod meta;
pub mod node_labels;
pub mod nodeselector;
pub mod patch;
pub mod proto;
pub mod quantity;
pub mod quota;
pub mod schema;
pub mod selector;
pub mod status;
pub mod strategy;
pub mod table;
pub mod taints;
pub mod user;
pub mod volumes;

pub use catalog::{Catalog, LiveCatalog, ResourceType, Subresource};
pub use quantity::Quantity;

/// The Kubernetes version kindling speaks: the API server's `/version`, the kubelet's
/// `nodeInfo.kubeletVersion`.
pub const KUBERNETES_VERSION: &str = "v1.35.0";
pub use status::{ApiError, Cause};
