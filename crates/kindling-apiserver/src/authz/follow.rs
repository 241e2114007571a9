//! Keeps something in memory current from watches of a few kinds, read from the watch cache:
//! what the RBAC snapshot's keeper (`index.rs`) and the node graph's (`graph_index.rs`) share,
//! upstream's informers behind those two authorizers. A decision never reads the store.
//!
//! Each round watches every kind from its current state (initial events, each ended by the
//! bookmark upstream marks `k8s.io/initial-events-end`). The follower sees every change as the
//! cache holds it, the stored JSON, so it decodes only what it keeps (the graph reads a dozen
//! fields of a pod, not the pod). Once every kind's initial events are in it is told after each
//! burst of changes ([`Follower::settled`]); start-up waits for the first time. When a watch ends
//! (the cache dropped a watcher that fell behind, a reload) the round ends and the next begins
//! from nothing.

use crate::cacher::{EventType, Object};
use crate::registry::{Registry, WatchEvent, WatchItem, WatchOptions};
use futures::{FutureExt, StreamExt};
use kindling_api::ResourceType;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

const RETRY: Duration = Duration::from_secs(1);

/// How long start-up waits for the first settled state.
const FIRST_SYNC: Duration = Duration::from_secs(30);

/// Upstream's annotation on the bookmark that ends a watch's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// What keeps a view of some kinds current.
pub trait Follower: Send + 'static {
    /// What the logs call it.
    const WHAT: &'static str;
    /// The kinds it watches; [`Follower::apply`] gets an index into them.
    fn kinds(&self) -> Vec<&'static Arc<ResourceType>>;
    /// A round begins: the initial events that follow are every object there is.
    fn restart(&mut self);
    /// One change of an object of `kinds()[kind]`.
    fn apply(&mut self, kind: usize, change: Change);
    /// Every kind's initial events are in and nothing more is queued.
    fn settled(&mut self);
}

/// An object's new state, or its last one when it was deleted.
pub enum Change {
    Set(Body),
    Deleted(Body),
}

/// An object as the watch delivered it.
pub enum Body {
    /// The cache's bytes: the stored JSON in the form clients are sent.
    Cached(Arc<Object>),
    /// Already decoded (an event the watch made for this watcher alone).
    Decoded(Value),
}

impl Body {
    /// Whether the object's JSON may contain `needle`: false only when the cache's bytes do
    /// not (a decoded object may, for all this knows).
    pub fn may_contain(&self, needle: &[u8]) -> bool {
        match self {
            Body::Cached(o) => memchr::memmem::find(&o.json, needle).is_some(),
            Body::Decoded(_) => true,
        }
    }

    /// The namespace and name the store key of an object of a namespaced kind names
    /// (`/registry/<group>/<plural>/<namespace>/<name>`; neither may hold a `/`), when the
    /// cache delivered it.
    pub fn namespaced_key(&self) -> Option<(&str, &str)> {
        let Body::Cached(o) = self else {
            return None;
        };
        let (rest, name) = o.key.rsplit_once('/')?;
        let (_, namespace) = rest.rsplit_once('/')?;
        Some((namespace, name))
    }

    /// The object, or the part of it `T` reads (serde ignores the rest without building it).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        match self {
            Body::Cached(o) => serde_json::from_slice(&o.json)
                .map_err(|e| format!("stored object {} is corrupt: {e}", o.key)),
            Body::Decoded(v) => T::deserialize(v).map_err(|e| e.to_string()),
        }
    }
}

/// Starts keeping `follower`'s view current; returns once it first settled.
pub async fn start<F: Follower>(registry: Registry, follower: F) {
    let (ready, synced) = oneshot::channel();
    tokio::spawn(run(registry, follower, ready));
    if tokio::time::timeout(FIRST_SYNC, synced).await.is_err() {
        tracing::warn!("{}: not in place within {FIRST_SYNC:?}", F::WHAT);
    }
}

async fn run<F: Follower>(registry: Registry, mut follower: F, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let opts = WatchOptions {
        send_initial_events: Some(true),
        // The bookmark that ends the initial events comes only to watchers that allow them.
        allow_bookmarks: true,
        ..WatchOptions::default()
    };
    loop {
        let kinds = follower.kinds();
        let watches = futures::future::try_join_all(
            kinds
                .iter()
                .map(|rt| registry.watch_items(rt, None, opts.clone())),
        )
        .await;
        let watches = match watches {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("{}: watch failed: {e}", F::WHAT);
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Each watch's items tagged with its kind, and None when it ends.
        let mut items =
            futures::stream::select_all(watches.into_iter().enumerate().map(|(i, watch)| {
                watch
                    .map(move |item| (i, Some(item)))
                    .chain(futures::stream::once(async move { (i, None) }))
                    .boxed()
            }));
        follower.restart();
        let mut synced = vec![false; kinds.len()];
        'round: while let Some(first) = items.next().await {
            // Everything already queued goes in before the follower is told.
            let mut next = Some(first);
            while let Some((i, item)) = next {
                let Some(item) = item else {
                    break 'round; // A watch ended: watch everything again.
                };
                if deliver(&mut follower, kinds[i], i, item) {
                    synced[i] = true;
                }
                next = items.next().now_or_never().flatten();
            }
            if synced.iter().all(|s| *s) {
                follower.settled();
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Hands one item to the follower; whether it ends the kind's initial events.
fn deliver<F: Follower>(follower: &mut F, rt: &ResourceType, kind: usize, item: WatchItem) -> bool {
    let change = match item {
        WatchItem::Shared(event_type, shared) => {
            let object = shared.shown(event_type);
            let body = if object.served && rt.serves_stored_form() {
                Body::Cached(object)
            } else {
                // Stored in another form, or not a JSON object: the registry's decoding
                // converts it or reports it.
                match crate::registry::decode_cached(rt, &object) {
                    Ok(v) => Body::Decoded(v),
                    Err(e) => {
                        tracing::warn!("{}: {e}", F::WHAT);
                        return false;
                    }
                }
            };
            match event_type {
                EventType::Added | EventType::Modified => Change::Set(body),
                EventType::Deleted => Change::Deleted(body),
            }
        }
        WatchItem::Own(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
            Change::Set(Body::Decoded(o))
        }
        WatchItem::Own(WatchEvent::Deleted(o)) => Change::Deleted(Body::Decoded(o)),
        WatchItem::Own(WatchEvent::Bookmark(b)) => {
            return b["metadata"]["annotations"][INITIAL_EVENTS_END] == "true";
        }
        WatchItem::Own(WatchEvent::Error(_)) => return false,
    };
    follower.apply(kind, change);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(key: &str, json: &str) -> Body {
        Body::Cached(Arc::new(Object {
            key: key.into(),
            json: bytes::Bytes::from(json.to_string()),
            served: true,
            revision: 7,
        }))
    }

    #[test]
    fn a_cached_body_tells_its_key_and_what_its_bytes_hold() {
        let pod = cached(
            "/registry/core/pods/ns/web",
            r#"{"metadata":{"name":"web"},"spec":{"nodeName":"a"}}"#,
        );
        assert_eq!(pod.namespaced_key(), Some(("ns", "web")));
        assert!(pod.may_contain(b"\"nodeName\""));
        assert!(!pod.may_contain(b"\"schedulerName\""));
        let decoded = Body::Decoded(serde_json::json!({"metadata": {"name": "web"}}));
        assert_eq!(decoded.namespaced_key(), None);
        assert!(decoded.may_contain(b"\"nodeName\""), "unknown: decode it");
        let named: super::super::graph_refs::Named = pod.decode().unwrap();
        assert_eq!((named.namespace(), named.name()), ("", "web"));
    }
}
