//! kindling's scheduler: binds pending pods of `default-scheduler` to nodes, with the filters
//! and scores of upstream kube-scheduler's default profile.
//!
//! - [`types`], [`labels`]: what a pod and a node mean to scheduling, computed once from the
//!   API objects (quantities and label selectors are `kindling_api`'s).
//! - [`plugins`]: the filters and scores, pure functions (one module per upstream plugin).
//! - [`framework`]: one scheduling cycle over a snapshot, and the `FailedScheduling` wording.
//! - [`cache`] and [`queue`]: the scheduler's view of the cluster (bound and assumed pods per
//!   node) and the queue of pending pods (active, back-off, unschedulable), both without IO.
//! - [`run`]: the thin loop against the API server (watches, binding, events, conditions).
//! - [`metrics`]: kube-scheduler's metrics as the loop measures them (served on :10259 by
//!   `kindling node`).
//!
//! Entry point: `tokio::spawn(kindling_scheduler::run(client))` with a client allowed to watch
//! pods, nodes and namespaces, create `pods/binding` and events, and patch `pods/status`.
//!
//! Deliberate differences from upstream (v1.35):
//! - Ties between equally scored nodes are broken at random, as upstream does
//!   ([`Options::seed`] makes it reproducible).
//! - Preemption runs only as a dry run to word `FailedScheduling` exactly; nothing is evicted.
//! - A NotReady node is treated as carrying `node.kubernetes.io/not-ready:NoSchedule`
//!   (`unreachable` when Unknown), the taint upstream's node lifecycle controller would add.
//! - The system default spreading constraints select "pods of the same controller" instead of
//!   the selectors of the Services/ReplicaSets/StatefulSets that own the pod.
//! - No leader election: run one scheduler per cluster.
//! - Not implemented: volume plugins (VolumeBinding, VolumeZone, limits), ImageLocality,
//!   DynamicResources, nominated nodes, extenders, multiple profiles.

pub mod cache;
pub mod framework;
pub mod labels;
pub mod metrics;
pub mod plugins;
pub mod queue;
pub mod types;

mod events;
mod run;
mod volumes;

pub use run::{run, run_with, Options, SCHEDULER_NAME};
