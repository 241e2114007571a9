//! Keeps the authorizer's RBAC snapshot current: a [`Follower`] of the four RBAC kinds holding
//! their objects in memory, a new [`Policy`] installed after each burst of changes — upstream's
//! informers and listers behind the RBAC authorizer. Start-up waits for the first snapshot, so
//! no request is decided on an empty policy.

use super::follow::{self, Change, Follower};
use super::graph_refs::Named;
use super::rbac::Policy;
use super::Authorizer;
use crate::registry::Registry;
use kindling_api::ResourceType;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Starts keeping `authorizer`'s policy current; returns once the first snapshot is in place.
pub async fn start(registry: Registry, authorizer: Arc<Authorizer>) {
    if !authorizer.uses_rbac() {
        return;
    }
    let keeper = PolicyKeeper {
        authorizer,
        held: Default::default(),
    };
    follow::start(registry, keeper).await;
}

struct PolicyKeeper {
    authorizer: Arc<Authorizer>,
    /// The objects of each kind (in `kinds()` order) by namespace/name.
    held: [HashMap<String, Value>; 4],
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl Follower for PolicyKeeper {
    const WHAT: &'static str = "RBAC";

    /// ClusterRoles, Roles, ClusterRoleBindings, RoleBindings (the order `Policy::build` takes).
    fn kinds(&self) -> Vec<&'static Arc<ResourceType>> {
        let rbac =
            |plural| kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", plural);
        vec![
            rbac("clusterroles"),
            rbac("roles"),
            rbac("clusterrolebindings"),
            rbac("rolebindings"),
        ]
    }

    fn restart(&mut self) {
        self.held = Default::default();
    }

    fn apply(&mut self, kind: usize, change: Change) {
        let Some(held) = self.held.get_mut(kind) else {
            return;
        };
        let done = match change {
            Change::Set(b) => b.decode::<Value>().map(|o| {
                let meta = &o["metadata"];
                let k = key(
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default(),
                );
                held.insert(k, o);
            }),
            Change::Deleted(b) => b.decode::<Named>().map(|o| {
                held.remove(&key(o.namespace(), o.name()));
            }),
        };
        if let Err(e) = done {
            tracing::warn!("RBAC: {e}");
        }
    }

    fn settled(&mut self) {
        let [a, b, c, d] = self.held.each_ref().map(|h| h.values().collect::<Vec<_>>());
        self.authorizer.set_policy(Policy::build(&a, &b, &c, &d));
    }
}
