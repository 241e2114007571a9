//! Keeps the authorizer's RBAC snapshot current: one watch of each RBAC kind (its initial
//! events, then its changes), the objects held in memory, and a new [`Policy`] installed after
//! each burst of events — upstream's informers and listers behind the RBAC authorizer. A
//! decision never reads the store.

use super::rbac::Policy;
use super::Authorizer;
use crate::registry::{Registry, WatchEvent, WatchOptions};
use kindling_api::ResourceType;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const RETRY: Duration = Duration::from_secs(1);

/// How long start-up waits for the first snapshot.
const FIRST_SYNC: Duration = Duration::from_secs(30);

/// ClusterRoles, Roles, ClusterRoleBindings, RoleBindings (the order `Policy::build` takes).
fn kinds() -> [&'static Arc<ResourceType>; 4] {
    let rbac = |plural| kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", plural);
    [
        rbac("clusterroles"),
        rbac("roles"),
        rbac("clusterrolebindings"),
        rbac("rolebindings"),
    ]
}

/// Starts keeping `authorizer`'s policy current; returns once the first snapshot is in place
/// (so no request is decided on an empty policy).
pub async fn start(registry: Registry, authorizer: Arc<Authorizer>) {
    if !authorizer.uses_rbac() {
        return;
    }
    let (ready, synced) = oneshot::channel();
    tokio::spawn(run(registry, authorizer, Some(ready)));
    if tokio::time::timeout(FIRST_SYNC, synced).await.is_err() {
        tracing::warn!("RBAC: no policy loaded within {FIRST_SYNC:?}");
    }
}

/// The objects of one kind by namespace/name, and whether its initial events are all in.
#[derive(Default)]
struct Held {
    objects: HashMap<String, Value>,
    synced: bool,
}

impl Held {
    fn apply(&mut self, ev: WatchEvent) {
        let key = |o: &Value| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        };
        match ev {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                self.objects.insert(key(&o), o);
            }
            WatchEvent::Deleted(o) => {
                self.objects.remove(&key(&o));
            }
            WatchEvent::Bookmark(b) => {
                if b["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true" {
                    self.synced = true;
                }
            }
            WatchEvent::Error(_) => {}
        }
    }
}

fn policy_of(held: &[Held; 4]) -> Policy {
    fn values(h: &Held) -> Vec<&Value> {
        h.objects.values().collect()
    }
    Policy::build(
        &values(&held[0]),
        &values(&held[1]),
        &values(&held[2]),
        &values(&held[3]),
    )
}

async fn run(
    registry: Registry,
    authorizer: Arc<Authorizer>,
    mut ready: Option<oneshot::Sender<()>>,
) {
    let opts = WatchOptions {
        send_initial_events: Some(true),
        // The bookmark that ends the initial events comes only to watchers that allow them.
        allow_bookmarks: true,
        ..WatchOptions::default()
    };
    loop {
        let [a, b, c, d] = kinds();
        let watches = tokio::try_join!(
            registry.watch(a, None, opts.clone()),
            registry.watch(b, None, opts.clone()),
            registry.watch(c, None, opts.clone()),
            registry.watch(d, None, opts.clone()),
        );
        let mut rx: [mpsc::Receiver<WatchEvent>; 4] = match watches {
            Ok((a, b, c, d)) => [a, b, c, d],
            Err(e) => {
                tracing::warn!("RBAC: watch failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let mut held: [Held; 4] = Default::default();
        loop {
            let [ra, rb, rc, rd] = &mut rx;
            let (i, ev) = tokio::select! {
                ev = ra.recv() => (0, ev),
                ev = rb.recv() => (1, ev),
                ev = rc.recv() => (2, ev),
                ev = rd.recv() => (3, ev),
            };
            let Some(ev) = ev else {
                break; // A watch ended: watch everything again.
            };
            held[i].apply(ev);
            // One snapshot for everything already queued.
            for (h, r) in held.iter_mut().zip(rx.iter_mut()) {
                while let Ok(ev) = r.try_recv() {
                    h.apply(ev);
                }
            }
            if held.iter().all(|h| h.synced) {
                authorizer.set_policy(policy_of(&held));
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}
