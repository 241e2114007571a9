//! A store of every object of one kind, kept by a kube-runtime reflector on a task of its own,
//! and a shared [`Notify`] woken after each event: a component holds one store per kind it reads
//! and rebuilds what it serves when the signal fires (several kinds, one signal, so a burst
//! across kinds makes one rebuild). Objects are stored without their managedFields.

use futures::{Stream, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use tokio::sync::Notify;

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
    // managedFields are kept by no reader of these stores and are often the largest part of an
    // object: dropped before storing (as client-go's informers do with a strip transform).
    let events = watcher(api, config).modify(|object: &mut K| {
        object.meta_mut().managed_fields = None;
    });
    let stream = reflector::reflector(writer, events).default_backoff();
    tokio::spawn(signal_changes(stream, changed, component));
    store
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
