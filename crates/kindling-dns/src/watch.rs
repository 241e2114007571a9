//! The zone kept current: reflectors (kube::runtime) of Services, EndpointSlices and Pods; after
//! a change (and a short pause that gathers a burst of them) the zone is computed again from the
//! stores and published to the server.

use crate::zone::{Zone, ZoneConfig};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::watcher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};

/// Changes closer together than this make one new zone.
const SETTLE: Duration = Duration::from_millis(20);

/// Keeps `zone` current until the client's API server goes away for good (never returns).
pub async fn run(client: kube::Client, config: ZoneConfig, zone: watch::Sender<Arc<Zone>>) {
    let changed = Arc::new(Notify::new());
    let services = kindling_reflect::store::<Service>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "dns",
    );
    let slices = kindling_reflect::store::<EndpointSlice>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "dns",
    );
    let pods = kindling_reflect::store::<Pod>(
        Api::all(client),
        watcher::Config::default(),
        changed.clone(),
        "dns",
    );
    for (kind, ready) in [
        ("services", kindling_reflect::ready(&services).await),
        ("endpointslices", kindling_reflect::ready(&slices).await),
        ("pods", kindling_reflect::ready(&pods).await),
    ] {
        if ready.is_err() {
            tracing::error!("dns: the {kind} reflector stopped");
            return;
        }
    }
    tracing::info!("dns: zone {} synced", config.domain);
    loop {
        let (s, e, p) = (services.state(), slices.state(), pods.state());
        let serial = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        let next = Zone::build(
            config.clone(),
            serial,
            &s.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
            &e.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
            &p.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
        );
        zone.send_replace(Arc::new(next));
        changed.notified().await;
        tokio::time::sleep(SETTLE).await;
    }
}
