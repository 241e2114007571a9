//! One watch of every pod for the controllers that follow pods (upstream's shared informer):
//! one cache instead of one per controller, and every change handed to each subscriber in
//! order, after the cache has it, with what the cache held before (so a controller can tell a
//! pod it sees for the first time from an update, as its own cache used to). Pods are cached
//! [`slim`]: only what some controller reads.

mod slim;
pub use slim::slim;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One change of the pods, as every subscriber gets it.
pub struct PodChange {
    pub event: watcher::Event<Pod>,
    /// The cached pod before this event (`None`: not cached, i.e. first seen).
    pub previous: Option<Arc<Pod>>,
    /// The pod the change concerns as the cache now holds it (for a deletion, its last
    /// state): the one copy every subscriber's trigger shares.
    pub current: Option<Arc<Pod>>,
}

impl PodChange {
    /// The pod an Apply or Delete concerns (what a controller's trigger maps); relist markers
    /// concern none.
    pub fn pod(&self) -> Option<&Pod> {
        match &self.event {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) | watcher::Event::Delete(p) => {
                Some(p)
            }
            watcher::Event::Init | watcher::Event::InitDone => None,
        }
    }
}

/// The shared pod watch: subscribe every controller, then [`PodInformer::run`] it.
pub struct PodInformer {
    store: Store<Pod>,
    writer: reflector::store::Writer<Pod>,
    // Unbounded, as upstream's listeners: a busy controller delays only itself, and what waits
    // is a reference to a change, not a copy of a pod.
    subscribers: Vec<mpsc::UnboundedSender<Arc<PodChange>>>,
}

impl Default for PodInformer {
    fn default() -> Self {
        PodInformer::new()
    }
}

impl PodInformer {
    pub fn new() -> PodInformer {
        let (store, writer) = reflector::store();
        PodInformer {
            store,
            writer,
            subscribers: Vec::new(),
        }
    }

    /// The shared cache (reads see at least every change handed out so far).
    pub fn store(&self) -> Store<Pod> {
        self.store.clone()
    }

    /// Every change from now on, in order.
    pub fn subscribe(&mut self) -> impl Stream<Item = Arc<PodChange>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(tx);
        tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
    }

    /// Watches pods until the process ends.
    pub async fn run(mut self, client: kube::Client) {
        let mut events = watcher(Api::<Pod>::all(client), watcher::Config::default())
            .default_backoff()
            .modify(slim)
            .boxed();
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!("pod informer: {e}");
                    continue;
                }
            };
            let previous = match &event {
                watcher::Event::Apply(p)
                | watcher::Event::InitApply(p)
                | watcher::Event::Delete(p) => self.store.get(&ObjectRef::from_obj(p)),
                watcher::Event::Init | watcher::Event::InitDone => None,
            };
            self.writer.apply_watcher_event(&event);
            let current = match &event {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    self.store.get(&ObjectRef::from_obj(p))
                }
                watcher::Event::Delete(p) => Some(Arc::new(p.clone())),
                watcher::Event::Init | watcher::Event::InitDone => None,
            };
            let change = Arc::new(PodChange {
                event,
                previous,
                current,
            });
            self.subscribers.retain(|s| s.send(change.clone()).is_ok());
        }
    }
}

/// Waits for the shared pod cache's first complete list, as upstream's controllers wait for
/// their informers to sync before they start: reconciled against a cache not filled yet, a
/// ReplicaSet counts none of its pods and makes its replicas again (seen on a rebooted HA
/// cluster: 6 pods for 3 replicas, the extra ones deleted again). `false`: the informer is gone.
pub async fn synced(pods: &Store<Pod>) -> bool {
    kindling_reflect::ready(pods).await.is_ok()
}

/// A subscriber's trigger stream for `Controller::watches_shared_stream`: the pods of the
/// changes (shared, never copied), after `observe` saw each change.
pub fn triggers(
    changes: impl Stream<Item = Arc<PodChange>> + Send + 'static,
    mut observe: impl FnMut(&PodChange) + Send + 'static,
) -> impl Stream<Item = Arc<Pod>> + Send + 'static {
    changes.filter_map(move |change| {
        observe(&change);
        futures::future::ready(change.current.clone())
    })
}
