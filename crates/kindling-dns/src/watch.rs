//! The zone kept current: reflectors (kube::runtime) of Services, EndpointSlices and Pods; after
//! a change (and a short pause that gathers a burst of them) the zone is computed again from the
//! stores and published to the server.

use crate::zone::{Zone, ZoneConfig};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};

/// Changes closer together than this make one new zone.
const SETTLE: Duration = Duration::from_millis(20);

/// Keeps `zone` current until the client's API server goes away for good (never returns).
pub async fn run(client: kube::Client, config: ZoneConfig, zone: watch::Sender<Arc<Zone>>) {
    let changed = Arc::new(Notify::new());
    let services = reflect::<Service>(Api::all(client.clone()), changed.clone());
    let slices = reflect::<EndpointSlice>(Api::all(client.clone()), changed.clone());
    let pods = reflect::<Pod>(Api::all(client), changed.clone());
    for (kind, ready) in [
        ("services", services.wait_until_ready().await),
        ("endpointslices", slices.wait_until_ready().await),
        ("pods", pods.wait_until_ready().await),
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

/// A store of every `K`, filled by a reflector on a task of its own; `changed` is notified
/// after every event.
fn reflect<K>(api: Api<K>, changed: Arc<Notify>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tokio::spawn(drive(stream, changed));
    store
}

async fn drive<S, T, E>(stream: S, changed: Arc<Notify>)
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => changed.notify_one(),
            Err(e) => tracing::debug!("dns: watch: {e}"),
        }
    }
}
