//! A store of every object of one kind, kept by a kube-runtime reflector on a task of its own,
//! and a shared [`Notify`] woken after each event: a component holds one store per kind it reads
//! and rebuilds what it serves when the signal fires (several kinds, one signal, so a burst
//! across kinds makes one rebuild). Objects are stored without their managedFields. [`ready`]
//! waits for a store's first list, safely for any number of waiters.

use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often [`ready`] looks again at a store that has not said it is ready.
const READY_RECHECK: Duration = Duration::from_millis(50);

/// A store of every `K` that `config` selects; `changed` is notified after every event. Watch
/// errors are retried with kube's default back-off and logged at debug level under `component`.
pub fn store<K>(
    api: Api<K>,
    config: watcher::Config,
    changed: Arc<Notify>,
    component: &'static str,
) -> Store<K>
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
    let events = watcher(api, config).modify(without_managed_fields);
    let stream = reflector::reflector(writer, events).default_backoff();
    tokio::spawn(signal_changes(stream, changed, component));
    store
}

/// Drops `metadata.managedFields` from a watched object before it is cached: no component
/// that caches objects reads them, and they are often the largest part of one (client-go's
/// informers drop them with a strip transform; kube-controller-manager's do).
pub fn without_managed_fields<K: kube::Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

async fn signal_changes<S, T, E>(stream: S, changed: Arc<Notify>, component: &'static str)
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => changed.notify_one(),
            Err(e) => tracing::debug!("{component}: watch: {e}"),
        }
    }
}

/// Waits until `store` has its first complete list; `Err` when its writer is gone.
///
/// Use this instead of `Store::wait_until_ready`: that future waits on a `futures` oneshot
/// channel, which keeps the waker of the last task that polled it only, so when several tasks
/// wait on one store (two controllers' reconciles, a controller and its clean-up) all but one
/// may never wake — a cold cluster lost kube-dns's Endpoints that way. Looking again every
/// [`READY_RECHECK`] bounds that lost wake-up; once any poll sees the value it is kept.
pub async fn ready<K>(store: &Store<K>) -> Result<(), reflector::store::WriterDropped>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        if let Ok(result) = tokio::time::timeout(READY_RECHECK, store.wait_until_ready()).await {
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    /// Many tasks wait on one store at once: every one of them learns it is ready.
    #[tokio::test]
    async fn every_waiter_wakes_when_the_store_is_ready() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { ready(&store).await.is_ok() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        for waiter in waiters {
            let woke = tokio::time::timeout(Duration::from_secs(2), waiter).await;
            assert!(matches!(woke, Ok(Ok(true))), "a waiter was never woken");
        }
    }
}
