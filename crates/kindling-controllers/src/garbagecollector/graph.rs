//! The garbage collector's view of the cluster, without IO: every object that owns or is owned
//! (upstream's uidToNode graph), what a change to it means (which objects to look at again),
//! and what looking at one requires. The IO half fetches owners live before it deletes
//! anything, so a graph that lags the server can cost work but never a wrong deletion.

use std::collections::{BTreeSet, HashMap, HashSet};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// One ownerReference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// blockOwnerDeletion: a foreground deletion of the owner waits for this dependent.
    pub block: bool,
}

/// An observed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub uid: String,
    /// `group/version/plural` of the watch it came from.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub owners: Vec<Owner>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Node {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Being deleted in the foreground: waiting for its blocking dependents to go.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND)
    }

    /// Being deleted with its dependents orphaned.
    pub fn orphaning(&self) -> bool {
        self.deleting && self.has(ORPHAN)
    }
}

/// What to look at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Should the object go (an owner is gone or waiting for it), or, for an object being
    /// deleted in the foreground, may it go now?
    AttemptDelete(String),
    /// The object is being deleted with the orphan finalizer: free its dependents.
    Orphan(String),
}

impl Work {
    pub fn uid(&self) -> &str {
        match self {
            Work::AttemptDelete(u) | Work::Orphan(u) => u,
        }
    }
}

/// What a piece of work needs done, read off the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    Nothing,
    /// Look at these instead.
    Enqueue(Vec<Work>),
    /// A foreground deletion whose blocking dependents are all gone: remove its finalizer.
    RemoveFinalizer(Node, &'static str),
    /// The owners must be looked up live to decide ([`decide`]).
    CheckOwners {
        node: Node,
        has_dependents: bool,
        /// One of its dependents is itself deleting its dependents (a cycle is possible).
        dependent_deleting_dependents: bool,
    },
    /// Remove the owner's references from these dependents, then its orphan finalizer.
    Orphan {
        owner: Node,
        dependents: Vec<Node>,
    },
}

/// Every owner and dependent the watches have shown.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid → dependents' uids, also for owners not (or no longer) observed.
    dependents: HashMap<String, BTreeSet<String>>,
    /// Per resource being listed again: the uids seen since the list began.
    relisting: HashMap<String, HashSet<String>>,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The observed dependents of `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Dependents whose reference to `uid` blocks its foreground deletion.
    pub fn blocking_dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents_of(uid)
            .into_iter()
            .filter(|d| d.owners.iter().any(|o| o.uid == uid && o.block))
            .collect()
    }

    fn deleting_dependents(&self, uid: &str) -> bool {
        self.nodes.get(uid).is_some_and(Node::deleting_dependents)
    }

    /// An object was added or changed.
    pub fn observe(&mut self, node: Node) -> Vec<Work> {
        let uid = node.uid.clone();
        if let Some(seen) = self.relisting.get_mut(&node.resource) {
            seen.insert(uid.clone());
        }
        let old = self.nodes.insert(uid.clone(), node.clone());
        let old_owners = old.as_ref().map(|o| o.owners.clone()).unwrap_or_default();
        for o in &old_owners {
            if !node.owners.iter().any(|n| n.uid == o.uid) {
                self.unlink(&o.uid, &uid);
            }
        }
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.clone());
        }

        let mut work = Vec::new();
        if node.orphaning() && !old.as_ref().is_some_and(Node::orphaning) {
            work.push(Work::Orphan(uid.clone()));
        }
        if node.deleting_dependents() && !old.as_ref().is_some_and(Node::deleting_dependents) {
            work.push(Work::AttemptDelete(uid.clone()));
            for d in self.dependents.get(&uid).into_iter().flatten() {
                work.push(Work::AttemptDelete(d.clone()));
            }
        }
        if old.is_none() || old_owners != node.owners {
            // An owner not seen (maybe gone) or waiting for its dependents: look at it.
            let suspect = node
                .owners
                .iter()
                .any(|o| self.nodes.get(&o.uid).is_none_or(Node::deleting_dependents));
            if suspect {
                work.push(Work::AttemptDelete(uid.clone()));
            }
            // Owners waiting in the foreground that this object stopped blocking.
            for o in old_owners.iter().filter(|o| o.block) {
                let still = node.owners.iter().any(|n| n.uid == o.uid && n.block);
                if !still && self.deleting_dependents(&o.uid) {
                    work.push(Work::AttemptDelete(o.uid.clone()));
                }
            }
        }
        work
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    /// An object was deleted: its dependents may be orphans now, and an owner waiting for it
    /// may go.
    pub fn forget(&mut self, uid: &str) -> Vec<Work> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut work = Vec::new();
        for o in &node.owners {
            self.unlink(&o.uid, uid);
            if self.deleting_dependents(&o.uid) {
                work.push(Work::AttemptDelete(o.uid.clone()));
            }
        }
        for d in self.dependents.get(uid).into_iter().flatten() {
            work.push(Work::AttemptDelete(d.clone()));
        }
        work
    }

    /// A watch of `resource` starts listing again.
    pub fn relist_start(&mut self, resource: &str) {
        self.relisting.insert(resource.to_string(), HashSet::new());
    }

    /// The list is complete: objects of `resource` it did not show are gone.
    pub fn relist_done(&mut self, resource: &str) -> Vec<Work> {
        let Some(seen) = self.relisting.remove(resource) else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.resource == resource && !seen.contains(&n.uid))
            .map(|n| n.uid.clone())
            .collect();
        gone.iter().flat_map(|uid| self.forget(uid)).collect()
    }

    /// What `work` requires (upstream's attemptToDeleteItem up to its live lookups, and
    /// attemptToOrphan).
    pub fn plan(&self, work: &Work) -> Task {
        let Some(node) = self.nodes.get(work.uid()) else {
            return Task::Nothing;
        };
        match work {
            Work::Orphan(_) if node.orphaning() => Task::Orphan {
                owner: node.clone(),
                dependents: self.dependents_of(&node.uid).into_iter().cloned().collect(),
            },
            Work::Orphan(_) => Task::Nothing,
            Work::AttemptDelete(_) if node.deleting_dependents() => {
                let blocking = self.blocking_dependents_of(&node.uid);
                if blocking.is_empty() {
                    return Task::RemoveFinalizer(node.clone(), FOREGROUND);
                }
                Task::Enqueue(
                    blocking
                        .into_iter()
                        .filter(|d| !d.deleting_dependents())
                        .map(|d| Work::AttemptDelete(d.uid.clone()))
                        .collect(),
                )
            }
            Work::AttemptDelete(_) => {
                if node.deleting || node.owners.is_empty() {
                    return Task::Nothing;
                }
                let all_solid = node.owners.iter().all(|o| {
                    self.nodes
                        .get(&o.uid)
                        .is_some_and(|n| !n.deleting_dependents())
                });
                if all_solid {
                    return Task::Nothing;
                }
                let dependents = self.dependents_of(&node.uid);
                Task::CheckOwners {
                    node: node.clone(),
                    has_dependents: !dependents.is_empty(),
                    dependent_deleting_dependents: dependents
                        .iter()
                        .any(|d| d.deleting_dependents()),
                }
            }
        }
    }
}

/// What a live lookup found of an owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// There, and not waiting for its dependents.
    Solid,
    /// Not there, or another object by that name (a different uid).
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}

/// How a dependent goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// What to do with a dependent once its owners have been looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// It has an owner left: drop the references to gone or waiting ones.
    RemoveOwners(Vec<String>),
    /// No owner left to keep it. `unblock` first makes its own references non-blocking (a
    /// dependent of it waits on it in the foreground: avoid a cycle).
    Delete {
        propagation: Propagation,
        unblock: bool,
    },
}

/// Upstream's decision in attemptToDeleteItem.
pub fn decide(
    node: &Node,
    owners: &[(Owner, OwnerState)],
    has_dependents: bool,
    dependent_deleting_dependents: bool,
) -> Decision {
    if owners.is_empty() {
        return Decision::Nothing;
    }
    let of = |state: OwnerState| -> Vec<String> {
        owners
            .iter()
            .filter(|(_, s)| *s == state)
            .map(|(o, _)| o.uid.clone())
            .collect()
    };
    let (solid, dangling, waiting) = (
        of(OwnerState::Solid),
        of(OwnerState::Dangling),
        of(OwnerState::Waiting),
    );
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return Decision::Nothing;
        }
        return Decision::RemoveOwners(dangling.into_iter().chain(waiting).collect());
    }
    if !waiting.is_empty() && has_dependents {
        return Decision::Delete {
            propagation: Propagation::Foreground,
            unblock: dependent_deleting_dependents,
        };
    }
    let propagation = if node.has(ORPHAN) {
        Propagation::Orphan
    } else if node.has(FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    Decision::Delete {
        propagation,
        unblock: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, block: bool) -> Owner {
        Owner {
            uid: uid.into(),
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: uid.into(),
            block,
        }
    }

    fn node(uid: &str, owners: Vec<Owner>) -> Node {
        Node {
            uid: uid.into(),
            resource: "apps/v1/replicasets".into(),
            namespace: Some("default".into()),
            name: uid.into(),
            owners,
            deleting: false,
            finalizers: vec![],
        }
    }

    fn deleting(mut n: Node, finalizer: &str) -> Node {
        n.deleting = true;
        n.finalizers = vec![finalizer.into()];
        n
    }

    fn attempt(uid: &str) -> Work {
        Work::AttemptDelete(uid.into())
    }

    #[test]
    fn a_dependent_whose_owner_was_not_seen_is_looked_at() {
        let mut g = Graph::default();
        assert_eq!(
            g.observe(node("pod", vec![owner("rs", true)])),
            [attempt("pod")]
        );
        // The owner appears: nothing to do, and the dependent is now known solid.
        assert!(g.observe(node("rs", vec![])).is_empty());
        assert_eq!(g.plan(&attempt("pod")), Task::Nothing);
        // A change that keeps the owners is nothing either.
        let mut changed = node("pod", vec![owner("rs", true)]);
        changed.finalizers = vec!["example.com/x".into()];
        assert!(g.observe(changed).is_empty());
    }

    #[test]
    fn a_deleted_owner_sends_its_dependents_to_be_checked() {
        let mut g = Graph::default();
        g.observe(node("rs", vec![]));
        g.observe(node("a", vec![owner("rs", true)]));
        g.observe(node("b", vec![owner("rs", false)]));
        let mut work = g.forget("rs");
        work.sort_by(|x, y| x.uid().cmp(y.uid()));
        assert_eq!(work, [attempt("a"), attempt("b")]);
        match g.plan(&attempt("a")) {
            Task::CheckOwners {
                node,
                has_dependents,
                ..
            } => {
                assert_eq!(node.uid, "a");
                assert!(!has_dependents);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreground_deletion_waits_for_blocking_dependents() {
        let mut g = Graph::default();
        g.observe(node("rs", vec![]));
        g.observe(node("blocking", vec![owner("rs", true)]));
        g.observe(node("free", vec![owner("rs", false)]));
        let mut work = g.observe(deleting(node("rs", vec![]), FOREGROUND));
        work.sort_by(|x, y| x.uid().cmp(y.uid()));
        assert_eq!(work, [attempt("blocking"), attempt("free"), attempt("rs")]);
        assert_eq!(
            g.plan(&attempt("rs")),
            Task::Enqueue(vec![attempt("blocking")])
        );
        // The non-blocking one does not hold the owner back.
        assert_eq!(g.forget("free"), [attempt("rs")]);
        assert_eq!(
            g.plan(&attempt("rs")),
            Task::Enqueue(vec![attempt("blocking")])
        );
        assert_eq!(g.forget("blocking"), [attempt("rs")]);
        assert!(matches!(
            g.plan(&attempt("rs")),
            Task::RemoveFinalizer(_, FOREGROUND)
        ));
    }

    #[test]
    fn a_dependent_that_stops_blocking_lets_the_owner_go() {
        let mut g = Graph::default();
        g.observe(node("rs", vec![]));
        g.observe(node("pod", vec![owner("rs", true)]));
        g.observe(deleting(node("rs", vec![]), FOREGROUND));
        // Released (its reference removed): the waiting owner is looked at again.
        assert_eq!(g.observe(node("pod", vec![])), [attempt("rs")]);
        assert!(matches!(
            g.plan(&attempt("rs")),
            Task::RemoveFinalizer(_, FOREGROUND)
        ));
    }

    #[test]
    fn orphaning_starts_once_and_lists_the_dependents() {
        let mut g = Graph::default();
        g.observe(node("d", vec![]));
        g.observe(node("rs", vec![owner("d", true)]));
        assert_eq!(
            g.observe(deleting(node("d", vec![]), ORPHAN)),
            [Work::Orphan("d".into())]
        );
        assert!(g.observe(deleting(node("d", vec![]), ORPHAN)).is_empty());
        match g.plan(&Work::Orphan("d".into())) {
            Task::Orphan { owner, dependents } => {
                assert_eq!(owner.uid, "d");
                assert_eq!(dependents.len(), 1);
                assert_eq!(dependents[0].uid, "rs");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relist_forgets_what_it_no_longer_shows() {
        let mut g = Graph::default();
        g.observe(node("rs", vec![]));
        g.observe(node("pod", vec![owner("rs", true)]));
        g.relist_start("apps/v1/replicasets");
        g.observe(node("pod", vec![owner("rs", true)]));
        assert_eq!(g.relist_done("apps/v1/replicasets"), [attempt("pod")]);
        assert!(g.node("rs").is_none());
        assert!(g.node("pod").is_some());
    }

    #[test]
    fn decisions_like_upstream() {
        use OwnerState::*;
        let n = node("x", vec![owner("a", true), owner("b", true)]);
        let owners = |a, b| vec![(owner("a", true), a), (owner("b", true), b)];
        assert_eq!(
            decide(&n, &owners(Solid, Solid), false, false),
            Decision::Nothing
        );
        assert_eq!(
            decide(&n, &owners(Solid, Dangling), false, false),
            Decision::RemoveOwners(vec!["b".into()])
        );
        assert_eq!(
            decide(&n, &owners(Waiting, Solid), true, false),
            Decision::RemoveOwners(vec!["a".into()])
        );
        assert_eq!(
            decide(&n, &owners(Dangling, Dangling), false, false),
            Decision::Delete {
                propagation: Propagation::Background,
                unblock: false
            }
        );
        // Its owner waits in the foreground and it has dependents: it goes in the foreground.
        assert_eq!(
            decide(&n, &owners(Waiting, Dangling), true, true),
            Decision::Delete {
                propagation: Propagation::Foreground,
                unblock: true
            }
        );
        assert_eq!(
            decide(&n, &owners(Waiting, Dangling), false, false),
            Decision::Delete {
                propagation: Propagation::Background,
                unblock: false
            }
        );
        // Its own finalizers choose otherwise.
        let orphaning = Node {
            finalizers: vec![ORPHAN.into()],
            ..n.clone()
        };
        assert_eq!(
            decide(&orphaning, &owners(Dangling, Dangling), false, false),
            Decision::Delete {
                propagation: Propagation::Orphan,
                unblock: false
            }
        );
        assert_eq!(
            decide(&node("y", vec![]), &[], false, false),
            Decision::Nothing
        );
    }
}
