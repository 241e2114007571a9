//! The node agent's pod runner: runs the pods bound to this node through the container runtime
//! (`crate::runtime`, CRI v1 on the node's containerd), as the kubelet does.
//!
//! - A watch on pods with `spec.nodeName=<node>` feeds one worker per pod (`worker.rs`, the
//!   kubelet's SyncPod): `actions.rs` decides what to do for the pod (a pure function, upstream's
//!   computePodActions: sandbox, init containers and sidecars, containers, restarts, in-place
//!   resizes, termination), the worker does it through the `Runtime` trait and reports the
//!   status.
//! - A relist of the runtime every second (the kubelet's PLEG) wakes the workers whose
//!   containers changed state, and removes sandboxes of pods the API no longer has.
//! - `spec.rs` turns specs into CRI configs, `env.rs` resolves environments, `volumes.rs` lays
//!   volumes out on the node, `status.rs` computes the status kubectl shows, `probes.rs` runs
//!   probes (exec, httpGet, tcpSocket, gRPC), `lifecycle.rs` postStart/preStop hooks,
//!   `backoff.rs` the crash-loop and image-pull back-offs, `cgroup.rs` nests pod cgroups under
//!   the node container's own, `resize.rs` decides what a node allocates to a resized pod and
//!   what its running containers must change.

mod actions;
mod backoff;
mod cgroup;
pub(crate) mod dns;
mod env;
mod events;
mod lifecycle;
mod probes;
mod resize;
pub(crate) mod spec;
mod status;
mod tokens;
mod volumes;
mod worker;

use crate::runtime::{CriRuntime, Runtime, Seen, SeenState, State};
use crate::Config;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use worker::{Shared, Worker};

const RELIST: Duration = Duration::from_secs(1);

struct Handle {
    pod: watch::Sender<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
}

/// The workers, by pod UID.
struct Manager {
    shared: Arc<Shared>,
    workers: Mutex<HashMap<String, Handle>>,
    /// Set once the first list of pods arrived: before it, unknown sandboxes are not orphans.
    synced: std::sync::atomic::AtomicBool,
    removing: Mutex<HashSet<String>>,
}

impl Manager {
    fn update(self: &Arc<Self>, pod: Pod) {
        // Mirror pods stand for parts of kindling itself: nothing to run.
        if crate::mirror::is_mirror(&pod) {
            return;
        }
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let mut workers = self.workers.lock().expect("workers lock");
        if let Some(h) = workers.get(&uid) {
            h.pod.send_replace(Some(Arc::new(pod)));
            return;
        }
        let (tx, rx) = watch::channel(Some(Arc::new(pod)));
        let wake = Arc::new(Notify::new());
        workers.insert(
            uid.clone(),
            Handle {
                pod: tx,
                wake: wake.clone(),
            },
        );
        let worker = Worker::new(self.shared.clone(), uid.clone(), wake);
        let me = self.clone();
        tokio::spawn(async move {
            worker.run(rx).await;
            me.workers.lock().expect("workers lock").remove(&uid);
        });
    }

    fn remove(&self, uid: &str) {
        if let Some(h) = self.workers.lock().expect("workers lock").get(uid) {
            h.pod.send_replace(None);
        }
    }

    fn known(&self) -> HashSet<String> {
        self.workers
            .lock()
            .expect("workers lock")
            .keys()
            .cloned()
            .collect()
    }

    fn wake(&self, uid: &str) -> bool {
        match self.workers.lock().expect("workers lock").get(uid) {
            Some(h) => {
                h.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// The runtime's view every second: wake workers whose pod changed, remove orphans.
    async fn relist(self: Arc<Self>) {
        let mut previous: HashMap<String, Vec<Seen>> = HashMap::new();
        loop {
            tokio::time::sleep(RELIST).await;
            let mut current = match self.shared.runtime.list_managed().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("relist: {e:#}");
                    continue;
                }
            };
            for v in current.values_mut() {
                v.sort();
            }
            self.shared
                .metrics
                .relisted(running_pods(&current), container_states(&current));
            let synced = self.synced.load(std::sync::atomic::Ordering::SeqCst);
            let known = self.known();
            for (uid, fingerprint) in &current {
                let changed = previous.get(uid) != Some(fingerprint);
                let has_worker = if changed {
                    self.wake(uid)
                } else {
                    known.contains(uid)
                };
                if !has_worker && synced {
                    self.remove_orphan(uid.clone());
                }
            }
            previous = current;
        }
    }

    fn remove_orphan(self: &Arc<Self>, uid: String) {
        if !self
            .removing
            .lock()
            .expect("removing lock")
            .insert(uid.clone())
        {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            tracing::info!("removing the sandboxes of pod {uid}, which the API no longer has");
            worker::remove_pod(&me.shared, &uid, Duration::from_secs(2)).await;
            me.removing.lock().expect("removing lock").remove(&uid);
        });
    }
}

/// Pods with a ready sandbox, as upstream's `kubelet_running_pods` counts them.
fn running_pods(current: &HashMap<String, Vec<Seen>>) -> usize {
    current
        .values()
        .filter(|seen| {
            seen.iter()
                .any(|s| s.state == SeenState::Sandbox { ready: true })
        })
        .count()
}

/// Containers by state, in `metrics::CONTAINER_STATES`' order.
fn container_states(current: &HashMap<String, Vec<Seen>>) -> [usize; 4] {
    let mut counts = [0; 4];
    for s in current.values().flatten() {
        if let SeenState::Container(state) = s.state {
            counts[match state {
                State::Created => 0,
                State::Running => 1,
                State::Exited => 2,
                State::Unknown => 3,
            }] += 1;
        }
    }
    counts
}

impl spec::NodeFacts {
    /// This machine's facts: pod cgroups under the node container's own, its memory.
    pub fn detect(node_name: &str, resolv_conf: &str) -> spec::NodeFacts {
        spec::NodeFacts {
            node_name: node_name.to_string(),
            resolv_conf: resolv_conf.to_string(),
            cluster_dns: dns::ClusterDns::default(),
            cgroup_root: cgroup::pods_root(),
            memory_bytes: crate::sysinfo::memory_bytes(),
        }
    }
}

/// Runs the pods bound to this node, forever.
pub async fn run(client: kube::Client, config: Config, metrics: Arc<crate::metrics::Metrics>) {
    let node = config.node_name.clone();
    let node_ip = config.node_ip;
    cgroup::prepare();
    let runtime: Arc<dyn Runtime> = match CriRuntime::new(&config.runtime_endpoint) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!("pod runner disabled: {e:#}");
            return;
        }
    };
    runtime.wait_ready().await;
    let mut facts = spec::NodeFacts::detect(&node, &config.pod_resolv_conf);
    facts.cluster_dns = dns::ClusterDns {
        servers: config.cluster_dns.iter().map(ToString::to_string).collect(),
        domain: config.cluster_domain.clone(),
    };
    tracing::info!(
        "pod runner for {node}: pod cgroups under {}",
        facts.cgroup_root
    );
    let shared = Arc::new(Shared {
        runtime,
        client: client.clone(),
        facts,
        node_ip: node_ip.to_string(),
        node_cpus: crate::sysinfo::cpus(),
        recorder: events::Recorder::new(client.clone(), &node),
        pods_dir: PathBuf::from(volumes::PODS_DIR),
        tokens: Arc::new(tokens::TokenManager::default()),
        allocations: resize::Allocations::default(),
        metrics,
    });
    let manager = Arc::new(Manager {
        shared,
        workers: Mutex::new(HashMap::new()),
        synced: std::sync::atomic::AtomicBool::new(false),
        removing: Mutex::new(HashSet::new()),
    });
    tokio::spawn(manager.clone().relist());

    let pods: Api<Pod> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut events = watcher(pods, config).boxed();
    let mut listing: Option<BTreeMap<String, Pod>> = None;
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!("pod watch: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        match event {
            watcher::Event::Init => listing = Some(BTreeMap::new()),
            watcher::Event::InitApply(pod) => {
                if let (Some(l), Some(uid)) = (listing.as_mut(), pod.metadata.uid.clone()) {
                    l.insert(uid, pod);
                }
            }
            watcher::Event::InitDone => {
                let listed = listing.take().unwrap_or_default();
                for uid in manager.known() {
                    if !listed.contains_key(&uid) {
                        manager.remove(&uid);
                    }
                }
                for (_, pod) in listed {
                    manager.update(pod);
                }
                manager
                    .synced
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            watcher::Event::Apply(pod) => manager.update(pod),
            watcher::Event::Delete(pod) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    manager.remove(uid);
                }
            }
        }
    }
}
