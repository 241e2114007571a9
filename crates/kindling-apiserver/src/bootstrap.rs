//! What every cluster has from its first second: the four system namespaces and the `kubernetes`
//! Service with its Endpoints and EndpointSlice pointing at this API server (upstream's
//! endpoints reconciler writes both; the slice is what service proxies read).

use crate::registry::{Registry, UpdateKind, WriteContext};
use kindling_api::catalog::find;
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::net::SocketAddr;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn run(registry: &Registry, advertise: SocketAddr) -> Result<(), ApiError> {
    let namespaces = find("", "v1", "namespaces").expect("catalog has namespaces");
    for ns in SYSTEM_NAMESPACES {
        ensure(
            registry,
            namespaces,
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let services = find("", "v1", "services").expect("catalog has services");
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
    let endpoints = find("", "v1", "endpoints").expect("catalog has endpoints");
    let ep = json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise.ip().to_string()}],
                     "ports": [{"name": "https", "port": advertise.port(), "protocol": "TCP"}]}],
    });
    // The address changes when the server moves (e.g. a restarted node gets a new port).
    put(registry, endpoints, ep).await?;
    let slices =
        find("discovery.k8s.io", "v1", "endpointslices").expect("catalog has endpointslices");
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": advertise.port(), "protocol": "TCP"}],
    });
    put(registry, slices, slice).await?;
    Ok(())
}

/// Writes `obj` (named `kubernetes` in `default`) over what is there, keeping its metadata.
async fn put(
    registry: &Registry,
    rt: &'static kindling_api::ResourceType,
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

/// Creates the object unless it exists.
async fn ensure(
    registry: &Registry,
    rt: &'static kindling_api::ResourceType,
    ns: Option<&str>,
    obj: Value,
) -> Result<(), ApiError> {
    match registry.create(rt, ns, obj, &WriteContext::default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
