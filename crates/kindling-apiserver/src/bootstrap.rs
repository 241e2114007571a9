//! What every cluster has from its first second: the four system namespaces, the `kubernetes`
//! Service with its Endpoints and EndpointSlice pointing at this API server (upstream's
//! endpoints reconciler writes both; the slice is what service proxies read), the default
//! ServiceCIDR `kubernetes` (the cluster's service range, Ready) and the API priority and
//! fairness configuration (upstream's mandatory and suggested FlowSchemas and
//! PriorityLevelConfigurations, kept when present, recreated when missing), and the bootstrap
//! RBAC policy (`authz::policy`, `authz::namespace_policy`, reconciled).

use crate::registry::{Registry, UpdateKind, WriteContext};
use kindling_api::strategy::flowcontrol;
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn run(registry: &Registry, advertise: SocketAddr) -> Result<(), ApiError> {
    let namespaces = kindling_api::catalog::builtin("", "v1", "namespaces");
    for ns in SYSTEM_NAMESPACES {
        ensure(
            registry,
            namespaces,
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let services = kindling_api::catalog::builtin("", "v1", "services");
    let ip = registry.services.cidr().nth(1);
    registry.services.reserve_ip(ip);
    let svc = json!({
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip.to_string(), "clusterIPs": [ip.to_string()],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": advertise.port()}],
                 "sessionAffinity": "None"},
    });
    let existing = registry.get(services, Some("default"), "kubernetes").await;
    if let Err(e) = existing {
        if e.code != 404 {
            return Err(e);
        }
        registry.services.release(&svc);
        ensure(registry, services, Some("default"), svc).await?;
    }
    let [(endpoints, ep), (slices, slice)] =
        kubernetes_endpoints(&[advertise.ip().to_string()], advertise.port());
    // The address changes when the server moves (e.g. a restarted node gets a new port).
    put(registry, endpoints, ep).await?;
    put(registry, slices, slice).await?;
    Ok(())
}

/// The `kubernetes` Endpoints and EndpointSlice naming the API servers at `ips`.
pub(crate) fn kubernetes_endpoints(
    ips: &[String],
    port: u16,
) -> [(&'static Arc<kindling_api::ResourceType>, Value); 2] {
    let endpoints = kindling_api::catalog::builtin("", "v1", "endpoints");
    let addresses: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    let ep = json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": addresses,
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    let slices = kindling_api::catalog::builtin("discovery.k8s.io", "v1", "endpointslices");
    let slice_endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": slice_endpoints,
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    [(endpoints, ep), (slices, slice)]
}

/// Writes `obj` (named `kubernetes` in `default`) over what is there, keeping its metadata.
async fn put(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    obj: Value,
) -> Result<(), ApiError> {
    replace_kubernetes(registry, rt, obj).await?;
    service_cidr(registry).await?;
    flow_control(registry).await?;
    rbac_policy(registry).await?;
    Ok(())
}

/// Writes `obj` (named `kubernetes` in `default`) over what is there, keeping its metadata.
pub(crate) async fn replace_kubernetes(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    obj: Value,
) -> Result<(), ApiError> {
    let ctx = WriteContext::default();
    registry
        .update_with(
            rt,
            Some("default"),
            "kubernetes",
            UpdateKind::Main,
            &ctx,
            |cur| {
                let mut next = obj.clone();
                if let Some(cur) = cur {
                    next["metadata"] = cur["metadata"].clone();
                    next["metadata"]
                        .as_object_mut()
                        .map(|m| m.remove("resourceVersion"));
                }
                Ok(Some(next))
            },
        )
        .await?;
    Ok(())
}

/// Upstream's bootstrap RBAC policy, reconciled as its `rbac/bootstrap-roles` post-start hook
/// does: missing roles and bindings created (the cluster-wide ones and the Roles and
/// RoleBindings of kube-system and kube-public), missing rules and subjects added back, objects
/// annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` left as they are.
async fn rbac_policy(registry: &Registry) -> Result<(), ApiError> {
    use crate::authz::namespace_policy;
    use crate::authz::policy::{self, Reconcile};
    let rbac = |plural| kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", plural);
    type Reconciler = fn(Option<&Value>, &Value) -> Reconcile;
    let steps: [(_, Vec<Value>, Reconciler); 4] = [
        (
            rbac("clusterroles"),
            policy::cluster_roles(),
            policy::reconcile_role,
        ),
        (
            rbac("clusterrolebindings"),
            policy::cluster_role_bindings(),
            policy::reconcile_binding,
        ),
        (
            rbac("roles"),
            namespace_policy::namespace_roles(),
            policy::reconcile_role,
        ),
        (
            rbac("rolebindings"),
            namespace_policy::namespace_role_bindings(),
            policy::reconcile_binding,
        ),
    ];
    for (rt, expected, reconcile) in steps {
        for want in expected {
            reconcile_one(registry, rt, want, reconcile).await?;
        }
    }
    Ok(())
}

/// Brings the stored form of `want` (by its name and namespace) to what `reconcile` asks.
async fn reconcile_one(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    want: Value,
    reconcile: fn(Option<&Value>, &Value) -> crate::authz::policy::Reconcile,
) -> Result<(), ApiError> {
    use crate::authz::policy::Reconcile;
    let ctx = WriteContext::default();
    let name = want["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ns = want["metadata"]["namespace"].as_str().map(str::to_string);
    let ns = ns.as_deref();
    let existing = match registry.get(rt, ns, &name).await {
        Ok(obj) => Some(obj),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    match reconcile(existing.as_ref(), &want) {
        Reconcile::Keep => {}
        Reconcile::Create(obj) => ensure(registry, rt, ns, obj).await?,
        Reconcile::Update(obj) => {
            registry
                .update_with(rt, ns, &name, UpdateKind::Main, &ctx, |_| {
                    let mut next = obj.clone();
                    if let Some(m) = next["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                    Ok(Some(next))
                })
                .await?;
        }
        Reconcile::Recreate(mut obj) => {
            registry.delete(rt, ns, &name, &Default::default()).await?;
            if let Some(m) = obj["metadata"].as_object_mut() {
                for f in [
                    "resourceVersion",
                    "uid",
                    "creationTimestamp",
                    "managedFields",
                ] {
                    m.remove(f);
                }
            }
            ensure(registry, rt, ns, obj).await?;
        }
    }
    Ok(())
}

/// The default ServiceCIDR, as upstream's default-servicecidr controller keeps it: created with
/// the configured range and marked Ready.
async fn service_cidr(registry: &Registry) -> Result<(), ApiError> {
    let cidrs = kindling_api::catalog::builtin("networking.k8s.io", "v1", "servicecidrs");
    let range = registry.services.cidr().to_string();
    ensure(
        registry,
        cidrs,
        None,
        json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": [range]}}),
    )
    .await?;
    let cidr = registry.get(cidrs, None, "kubernetes").await?;
    let ready = cidr["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready"));
    if ready || cidr["spec"]["cidrs"] != json!([range]) {
        return Ok(());
    }
    let now = crate::registry::timestamp(jiff::Timestamp::now());
    set_status(
        registry,
        cidrs,
        "kubernetes",
        json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now,
            "reason": "", "message": "Kubernetes default Service CIDR is ready"}]}),
    )
    .await
}

/// The API priority and fairness objects every API server starts with. Each FlowSchema's status
/// says whether its priority level exists (the `Dangling` condition).
pub(crate) async fn flow_control(registry: &Registry) -> Result<(), ApiError> {
    let levels = kindling_api::catalog::builtin(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
    );
    let schemas =
        kindling_api::catalog::builtin("flowcontrol.apiserver.k8s.io", "v1", "flowschemas");
    for pl in flowcontrol::mandatory_priority_levels()
        .into_iter()
        .chain(flowcontrol::suggested_priority_levels())
    {
        ensure(registry, levels, None, pl).await?;
    }
    for fs in flowcontrol::mandatory_flow_schemas()
        .into_iter()
        .chain(flowcontrol::suggested_flow_schemas())
    {
        ensure(registry, schemas, None, fs).await?;
    }
    let existing = registry.list(levels, None, &Default::default()).await?;
    let names: Vec<&str> = existing["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    let all = registry.list(schemas, None, &Default::default()).await?;
    let now = crate::registry::timestamp(jiff::Timestamp::now());
    for fs in all["items"].as_array().into_iter().flatten() {
        let pl = fs["spec"]["priorityLevelConfiguration"]["name"]
            .as_str()
            .unwrap_or_default();
        let exists = names.contains(&pl);
        let want = if exists { "False" } else { "True" };
        let current = fs["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Dangling");
        if current.is_some_and(|c| c["status"] == want) {
            continue;
        }
        let name = fs["metadata"]["name"].as_str().unwrap_or_default();
        set_status(
            registry,
            schemas,
            name,
            json!({"conditions": [flowcontrol::dangling_condition(pl, exists, &now)]}),
        )
        .await?;
    }
    Ok(())
}

/// Replaces the status of a cluster-scoped object.
async fn set_status(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    name: &str,
    status: Value,
) -> Result<(), ApiError> {
    let ctx = WriteContext::default();
    registry
        .update_with(rt, None, name, UpdateKind::Status, &ctx, |cur| {
            Ok(cur.map(|cur| {
                let mut next = cur.clone();
                next["status"] = status.clone();
                if let Some(m) = next["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
                next
            }))
        })
        .await
        .map(|_| ())
}

/// Creates the object unless it exists.
/// Makes each of `objects` unless it exists (kept as the cluster's users left them otherwise).
pub async fn addons(registry: &Registry, objects: &[Value]) -> Result<(), ApiError> {
    let catalog = registry.catalog.load();
    for obj in objects {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        let rt = catalog.find_kind(api_version, kind).ok_or_else(|| {
            ApiError::bad_request(format!("addon of unknown kind {api_version} {kind}"))
        })?;
        let ns = obj["metadata"]["namespace"].as_str();
        ensure(registry, rt, ns, obj.clone()).await?;
    }
    Ok(())
}

async fn ensure(
    registry: &Registry,
    rt: &Arc<kindling_api::ResourceType>,
    ns: Option<&str>,
    obj: Value,
) -> Result<(), ApiError> {
    match registry.create(rt, ns, obj, &WriteContext::default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
