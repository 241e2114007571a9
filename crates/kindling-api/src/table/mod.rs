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
//!
//! `columns.rs` holds the column definitions (descriptions from the fields' OpenAPI
//! documentation), `rows.rs` the cells, `duration.rs` upstream's human-readable durations.

mod columns;
mod duration;
mod rows;

pub use columns::{Column, Doc};
pub use duration::{human_duration, short_human_duration};

use crate::catalog::ResourceType;
use crate::json_path::str_at;
use crate::status::ApiError;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

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

/// Which of upstream's printers prints a resource (the catalog entry names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Printer {
    /// A custom resource's additionalPrinterColumns.
    Custom(std::sync::Arc<crate::apiextensions::columns::CustomColumns>),
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
    CsiStorageCapacity,
    VolumeAttributesClass,
    ComponentStatus,
    RuntimeClass,
    FlowSchema,
    PriorityLevelConfiguration,
    ServiceCidr,
    IpAddress,
    DeviceClass,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    WebhookConfiguration,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
    /// No printer upstream: the apiserver's default `Name` / `Created At` table.
    Default,
}

fn printer(r: &ResourceType) -> Printer {
    r.printer.clone()
}

/// Every column of `resource`'s table, the wide ones (priority 1) included.
pub fn columns(resource: &ResourceType) -> Vec<Column> {
    printer(printed(resource)).columns().to_vec()
}

/// The cells of `obj`'s row, one per column of [`columns`] (wide ones included). Ages are computed
/// against `now`.
pub fn row(resource: &ResourceType, obj: &Value, now: Timestamp) -> Vec<Value> {
    printer(printed(resource)).row(&stored_form(resource, obj), now)
}

/// The resource whose printer prints `resource`: a version stored in another's form is printed
/// from that form, as upstream prints every version from its internal form (an autoscaling/v1
/// HorizontalPodAutoscaler shows its targets as autoscaling/v2 would).
fn printed(resource: &ResourceType) -> &ResourceType {
    match resource.storage {
        Some(s) => s.resource(),
        None => resource,
    }
}

fn stored_form(resource: &ResourceType, obj: &Value) -> Value {
    match resource.storage {
        Some(_) => resource
            .to_stored(obj.clone())
            .unwrap_or_else(|_| obj.clone()),
        None => obj.clone(),
    }
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
    let p = printer(printed(resource));
    let column_definitions: Vec<Value> = match &p {
        Printer::Custom(c) => c.definitions(),
        _ => p.columns().iter().map(Column::to_json).collect(),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut r = Map::new();
            r.insert(
                "cells".into(),
                Value::Array(p.row(&stored_form(resource, o), now)),
            );
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
                            .or_insert_with(|| Value::String(resource.kind.clone()));
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

/// Puts a list's rows in the order upstream's list printer gives them: flow schemas by matching
/// precedence, then name (`FlowSchemaSequence`); every other list keeps the store's order.
pub fn order_rows(resource: &ResourceType, rows: &mut [Value]) {
    if printer(printed(resource)) != Printer::FlowSchema {
        return;
    }
    let key = |r: &Value| {
        (
            r["cells"][2].as_i64().unwrap_or(0),
            r["cells"][0].as_str().unwrap_or_default().to_string(),
        )
    };
    rows.sort_by_key(key);
}

/// Drops the column definitions (`"columnDefinitions": null`), as upstream does for every watch
/// event after the first when watching as a Table (`TableOptions.NoHeaders`).
pub fn omit_column_definitions(table: &mut Value) {
    if let Some(m) = table.as_object_mut() {
        m.insert("columnDefinitions".into(), Value::Null);
    }
}

#[cfg(test)]
mod tests;
