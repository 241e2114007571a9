//! Keeps the Node authorizer's graph current (upstream's graph populator on informers): a
//! [`Follower`] of pods, PVs, VolumeAttachments and ResourceSlices. Until both watches have sent their initial events the new
//! graph is built aside, then installed whole; after that each change edits it in place. Each
//! pod or PV is read for the fields that name other objects only (`graph_refs.rs`); a pod's
//! deletion for its name.

use super::follow::{self, Change, Follower};
use super::graph::{Graph, Kind};
use super::graph_refs::{Named, OnNode, PodRefs, VolumeRefs};
use super::Authorizer;
use crate::registry::Registry;
use kindling_api::ResourceType;
use std::sync::Arc;

/// Starts keeping `authorizer`'s node graph current; returns once the first graph is in place.
pub async fn start(registry: Registry, authorizer: Arc<Authorizer>) {
    if !authorizer.uses_node() {
        return;
    }
    let keeper = GraphKeeper {
        authorizer,
        building: None,
    };
    follow::start(registry, keeper).await;
}

const PODS: usize = 0;
const VOLUMES: usize = 1;
const ATTACHMENTS: usize = 2;
const SLICES: usize = 3;

struct GraphKeeper {
    authorizer: Arc<Authorizer>,
    /// The graph of a round whose initial events are not all in yet.
    building: Option<Graph>,
}

impl Follower for GraphKeeper {
    const WHAT: &'static str = "Node authorizer";

    fn kinds(&self) -> Vec<&'static Arc<ResourceType>> {
        vec![
            kindling_api::catalog::builtin("", "v1", "pods"),
            kindling_api::catalog::builtin("", "v1", "persistentvolumes"),
            kindling_api::catalog::builtin("storage.k8s.io", "v1", "volumeattachments"),
            kindling_api::catalog::builtin("resource.k8s.io", "v1", "resourceslices"),
        ]
    }

    fn restart(&mut self) {
        self.building = Some(Graph::default());
    }

    fn apply(&mut self, kind: usize, change: Change) {
        match self.building.as_mut() {
            Some(g) => edit(g, kind, &change),
            None => self.authorizer.update_graph(|g| edit(g, kind, &change)),
        }
    }

    fn settled(&mut self) {
        if let Some(g) = self.building.take() {
            let (p, v) = g.size();
            tracing::debug!("Node authorizer: graph of {p} pods and {v} volumes");
            self.authorizer.update_graph(|current| *current = g);
        }
    }
}

fn on_node_kind(kind: usize) -> Kind {
    match kind {
        ATTACHMENTS => Kind::VolumeAttachment,
        _ => Kind::ResourceSlice,
    }
}

/// One change's edit of the graph. An object that does not decode is left as it was (stored
/// objects passed validation; the warning says which).
fn edit(g: &mut Graph, kind: usize, change: &Change) {
    let done = match (kind, change) {
        // Most pod writes are of pods no node runs yet (every create). A pod whose JSON has no
        // `"nodeName"` anywhere has no spec.nodeName, and all the graph does with an unbound
        // pod is forget it: that needs its key, not its decoding.
        (PODS, Change::Set(b)) => match b
            .namespaced_key()
            .filter(|_| !b.may_contain(b"\"nodeName\""))
        {
            Some((namespace, name)) => {
                g.delete_pod(namespace, name);
                Ok(())
            }
            None => b.decode::<PodRefs>().map(|p| g.set_pod(&p)),
        },
        (PODS, Change::Deleted(b)) => b
            .decode::<Named>()
            .map(|p| g.delete_pod(p.namespace(), p.name())),
        (VOLUMES, Change::Set(b)) => b.decode::<VolumeRefs>().map(|v| g.set_volume(&v)),
        (VOLUMES, Change::Deleted(b)) => b.decode::<Named>().map(|v| g.delete_volume(v.name())),
        (ATTACHMENTS | SLICES, Change::Set(b)) => b
            .decode::<OnNode>()
            .map(|o| g.set_on_node(on_node_kind(kind), o.name(), o.node())),
        (ATTACHMENTS | SLICES, Change::Deleted(b)) => b
            .decode::<Named>()
            .map(|o| g.delete_on_node(on_node_kind(kind), o.name())),
        _ => Ok(()),
    };
    if let Err(e) = done {
        tracing::warn!("Node authorizer: {e}");
    }
}
