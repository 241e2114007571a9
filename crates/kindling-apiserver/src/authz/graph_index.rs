//! Keeps the Node authorizer's graph current: one watch of pods and one of PVs from the watch
//! cache (upstream's graph populator on informers). Until both watches have sent their initial
//! events the new graph is built aside, then installed whole; after that each event changes it
//! in place. A decision never reads the store.

use super::graph::Graph;
use super::Authorizer;
use crate::registry::{Registry, WatchEvent, WatchOptions};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

const RETRY: Duration = Duration::from_secs(1);

/// How long start-up waits for the first graph.
const FIRST_SYNC: Duration = Duration::from_secs(30);

/// Starts keeping `authorizer`'s node graph current; returns once the first graph is in place.
pub async fn start(registry: Registry, authorizer: Arc<Authorizer>) {
    if !authorizer.uses_node() {
        return;
    }
    let (ready, synced) = oneshot::channel();
    tokio::spawn(run(registry, authorizer, Some(ready)));
    if tokio::time::timeout(FIRST_SYNC, synced).await.is_err() {
        tracing::warn!("Node authorizer: no graph within {FIRST_SYNC:?}");
    }
}

#[derive(Clone, Copy)]
enum Source {
    Pods,
    Volumes,
}

/// An event's change to the graph; whether it ends the initial events.
fn apply(graph: &mut Graph, source: Source, ev: WatchEvent) -> bool {
    let name = |o: &Value, f: &str| o["metadata"][f].as_str().unwrap_or_default().to_string();
    match (source, ev) {
        (Source::Pods, WatchEvent::Added(o) | WatchEvent::Modified(o)) => graph.set_pod(&o),
        (Source::Pods, WatchEvent::Deleted(o)) => {
            graph.delete_pod(&name(&o, "namespace"), &name(&o, "name"));
        }
        (Source::Volumes, WatchEvent::Added(o) | WatchEvent::Modified(o)) => graph.set_volume(&o),
        (Source::Volumes, WatchEvent::Deleted(o)) => graph.delete_volume(&name(&o, "name")),
        (_, WatchEvent::Bookmark(b)) => {
            return b["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true";
        }
        (_, WatchEvent::Error(_)) => {}
    }
    false
}

async fn run(
    registry: Registry,
    authorizer: Arc<Authorizer>,
    mut ready: Option<oneshot::Sender<()>>,
) {
    let opts = WatchOptions {
        send_initial_events: Some(true),
        allow_bookmarks: true,
        ..WatchOptions::default()
    };
    let pods = kindling_api::catalog::builtin("", "v1", "pods");
    let volumes = kindling_api::catalog::builtin("", "v1", "persistentvolumes");
    loop {
        let watches = tokio::try_join!(
            registry.watch(pods, None, opts.clone()),
            registry.watch(volumes, None, opts.clone()),
        );
        let (mut rp, mut rv) = match watches {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("Node authorizer: watch failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Built aside until both initial listings are in, then installed whole.
        let mut building = Some(Graph::default());
        let mut synced = [false, false];
        loop {
            let (source, ev) = tokio::select! {
                ev = rp.recv() => (Source::Pods, ev),
                ev = rv.recv() => (Source::Volumes, ev),
            };
            let Some(ev) = ev else {
                break; // A watch ended: watch both again.
            };
            match building.as_mut() {
                Some(g) => {
                    if apply(g, source, ev) {
                        synced[source as usize] = true;
                    }
                }
                None => authorizer.update_graph(|g| {
                    apply(g, source, ev);
                }),
            }
            if synced == [true, true] {
                if let Some(g) = building.take() {
                    let (p, v) = g.size();
                    tracing::debug!("Node authorizer: graph of {p} pods and {v} volumes");
                    authorizer.update_graph(|current| *current = g);
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}
