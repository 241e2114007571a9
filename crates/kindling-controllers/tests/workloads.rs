//! The workload controllers against a real API server on 127.0.0.1, with the real kubectl.
//! No node runs the pods, so each test's fake kubelet marks every new pod Running and Ready
//! (after `ready_delay`), as a node agent would report it; that is the test's doing, nothing in
//! the controllers knows it.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{text, Cluster, Kubelet, Server};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A server with every controller, and a fake kubelet that reports each new pod Running and
/// Ready after `kubelet.ready_delay`.
impl Cluster {
    fn start() -> Cluster {
        let server = Server::start();
        server.run_all_controllers();
        let kubelet = Kubelet::default();
        server
            .runtime
            .spawn(kubelet.clone().run(server.client.clone()));
        Cluster { server, kubelet }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), "default")
    }

    fn deployment(&self, name: &str) -> Deployment {
        self.runtime
            .block_on(self.api::<Deployment>().get(name))
            .unwrap()
    }

    fn replica_sets(&self) -> Vec<ReplicaSet> {
        self.runtime
            .block_on(self.api::<ReplicaSet>().list(&ListParams::default()))
            .unwrap()
            .items
    }

    /// Pods not being deleted.
    fn pods(&self) -> Vec<Pod> {
        self.runtime
            .block_on(self.api::<Pod>().list(&ListParams::default()))
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    fn eventually(&self, what: &str, timeout: Duration, check: impl Fn(&Cluster) -> bool) {
        common::wait_until(
            what,
            timeout,
            || check(self),
            || self.ok(&["get", "deploy,rs,pods", "-o", "wide"]),
        );
    }

    /// Waits until the Deployment reports `n` updated, ready and available replicas and no
    /// old ones.
    fn wait_rolled_out(&self, name: &str, n: i32) {
        self.eventually(
            &format!("{name} rolled out to {n}"),
            Duration::from_secs(30),
            |c| {
                let d = c.deployment(name);
                let s = d.status.unwrap_or_default();
                s.observed_generation == d.metadata.generation
                    && s.updated_replicas.unwrap_or(0) == n
                    && s.replicas.unwrap_or(0) == n
                    && s.available_replicas.unwrap_or(0) == n
                    && c.pods().len() == n as usize
            },
        );
    }
}

fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn owner_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String, bool, bool) {
    let r = meta
        .owner_references
        .as_ref()
        .and_then(|o| o.first())
        .expect("an owner reference");
    (
        r.kind.clone(),
        r.name.clone(),
        r.controller == Some(true),
        r.block_owner_deletion == Some(true),
    )
}

fn deployment_yaml(
    name: &str,
    replicas: i32,
    image: &str,
    surge: &str,
    unavailable: &str,
) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  strategy:\n    rollingUpdate:\n      maxSurge: {surge}\n      maxUnavailable: {unavailable}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

#[test]
fn a_deployment_makes_one_replica_set_whose_pods_it_owns() {
    let c = Cluster::start();
    assert_eq!(
        c.ok(&[
            "create",
            "deployment",
            "web",
            "--image=busybox:1",
            "--replicas=3"
        ])
        .trim(),
        "deployment.apps/web created"
    );
    c.wait_rolled_out("web", 3);

    let rss = c.replica_sets();
    assert_eq!(rss.len(), 1, "{rss:?}");
    let rs = &rss[0];
    let hash = rs.labels()["pod-template-hash"].clone();
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert!(
        hash.bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)),
        "{hash}"
    );
    assert_eq!(
        rs.spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()["pod-template-hash"],
        hash
    );
    assert_eq!(
        owner_of(&rs.metadata),
        ("Deployment".into(), "web".into(), true, true)
    );
    let a = rs.annotations();
    assert_eq!(a["deployment.kubernetes.io/revision"], "1");
    assert_eq!(a["deployment.kubernetes.io/desired-replicas"], "3");
    assert_eq!(a["deployment.kubernetes.io/max-replicas"], "4");
    assert_eq!(
        c.deployment("web").annotations()["deployment.kubernetes.io/revision"],
        "1"
    );

    let pods = c.pods();
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(
            owner_of(&p.metadata),
            ("ReplicaSet".into(), rs.name_any(), true, true)
        );
        assert!(
            p.name_any().starts_with(&format!("web-{hash}-")),
            "{}",
            p.name_any()
        );
        assert_eq!(p.labels()["pod-template-hash"], hash);
    }

    let status = c.deployment("web").status.unwrap();
    let conditions = status.conditions.unwrap();
    let available = conditions.iter().find(|c| c.type_ == "Available").unwrap();
    assert_eq!(
        (
            available.status.as_str(),
            available.reason.as_deref(),
            available.message.as_deref()
        ),
        (
            "True",
            Some("MinimumReplicasAvailable"),
            Some("Deployment has minimum availability.")
        )
    );
    let progressing = conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    assert_eq!(
        progressing.message.as_deref(),
        Some(format!("ReplicaSet \"web-{hash}\" has successfully progressed.").as_str())
    );

    // What users read.
    let table = rows(&c.ok(&["get", "deploy", "web"]));
    assert_eq!(table[0][..4], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE"]);
    assert_eq!(table[1][..4], ["web", "3/3", "3", "3"]);
    let table = rows(&c.ok(&["get", "rs"]));
    assert_eq!(
        table[1][..4],
        [format!("web-{hash}").as_str(), "3", "3", "3"]
    );
    c.eventually("the deployment's events", Duration::from_secs(10), |c| {
        let describe = c.ok(&["describe", "deploy", "web"]);
        describe.contains("ScalingReplicaSet")
            && describe.contains(&format!("Scaled up replica set web-{hash} from 0 to 3"))
    });
    c.eventually("the replica set's events", Duration::from_secs(10), |c| {
        let describe = c.ok(&["describe", "rs", &format!("web-{hash}")]);
        describe.contains("SuccessfulCreate")
            && describe.contains(&format!("Created pod: web-{hash}-"))
    });
}

/// How many times the bounds were checked (by any test of this process).
static CHECKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Watches replica sets and pods; after every event checks the rollout's bounds: the replica
/// sets' sizes add up to at most `max_total`, and at least `min_ready` pods are ready.
fn watch_bounds(
    c: &Cluster,
    max_total: i32,
    min_ready: usize,
) -> (Arc<Mutex<Vec<String>>>, Arc<AtomicBool>) {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (rs_store, rs_writer) = reflector::store::<ReplicaSet>();
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    // Each stream says when its initial list is complete; checks start once both are.
    let rs_events = watcher(c.api::<ReplicaSet>(), watcher::Config::default())
        .reflect(rs_writer)
        .map(|e| matches!(e, Ok(watcher::Event::InitDone)));
    let pod_events = watcher(c.api::<Pod>(), watcher::Config::default())
        .reflect(pod_writer)
        .map(|e| matches!(e, Ok(watcher::Event::InitDone)));
    let mut events = futures::stream::select(rs_events, pod_events).boxed();
    let (v, s) = (violations.clone(), stop.clone());
    c.runtime.spawn(async move {
        let mut listed = 0;
        while !s.load(Ordering::SeqCst) {
            let Some(init_done) = events.next().await else {
                return;
            };
            listed += usize::from(init_done);
            if listed < 2 {
                continue;
            }
            let total: i32 = rs_store
                .state()
                .iter()
                .map(|rs| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0))
                .sum();
            let ready = pod_store
                .state()
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .count();
            CHECKS.fetch_add(1, Ordering::SeqCst);
            if total > max_total {
                v.lock()
                    .unwrap()
                    .push(format!("replica sets add up to {total}"));
            }
            if ready < min_ready {
                v.lock().unwrap().push(format!("only {ready} pods ready"));
            }
        }
    });
    (violations, stop)
}

#[test]
fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    let c = Cluster::start();
    c.apply(&deployment_yaml("web", 4, "busybox:1", "1", "1"));
    c.wait_rolled_out("web", 4);
    let first = c.replica_sets()[0].name_any();
    // New pods take a moment to turn ready, so the rollout goes step by step.
    c.kubelet.ready_delay.store(150, Ordering::SeqCst);
    let (violations, stop) = watch_bounds(&c, 5, 3);
    std::thread::sleep(Duration::from_millis(300));
    c.ok(&["set", "image", "deployment/web", "main=busybox:2"]);
    c.eventually("the new replica set", Duration::from_secs(10), |c| {
        c.replica_sets().len() == 2
    });
    c.eventually("the rollout", Duration::from_secs(60), |c| {
        let d = c.deployment("web");
        let s = d.status.unwrap_or_default();
        s.updated_replicas == Some(4)
            && s.replicas == Some(4)
            && s.available_replicas == Some(4)
            && c.pods().iter().all(|p| {
                p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("busybox:2")
            })
            && c.pods().len() == 4
    });
    stop.store(true, Ordering::SeqCst);
    let violations = violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:?}");
    assert!(
        CHECKS.load(Ordering::SeqCst) > 10,
        "the bounds were checked"
    );
    let old = c
        .replica_sets()
        .into_iter()
        .find(|rs| rs.name_any() == first)
        .unwrap();
    assert_eq!(old.spec.unwrap().replicas, Some(0));
    assert_eq!(
        c.deployment("web").annotations()["deployment.kubernetes.io/revision"],
        "2"
    );
    let describe = c.ok(&["describe", "deploy", "web"]);
    assert!(
        describe.contains(&format!("Scaled down replica set {first} from 4 to 3")),
        "{describe}"
    );
}

#[test]
fn recreate_empties_the_old_replica_set_first() {
    let c = Cluster::start();
    let yaml = deployment_yaml("web", 3, "busybox:1", "1", "1").replace(
        "  strategy:\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 1\n",
        "  strategy:\n    type: Recreate\n",
    );
    c.apply(&yaml);
    c.wait_rolled_out("web", 3);
    let (violations, stop) = watch_bounds(&c, 3, 0);
    c.ok(&["set", "image", "deployment/web", "main=busybox:2"]);
    c.eventually("the rollout", Duration::from_secs(30), |c| {
        let s = c.deployment("web").status.unwrap_or_default();
        s.updated_replicas == Some(3) && s.available_replicas == Some(3) && c.pods().len() == 3
    });
    stop.store(true, Ordering::SeqCst);
    let violations = violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn scale_rollout_undo_history_restart_pause_with_kubectl() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox:1",
        "--replicas=2",
    ]);
    let status = c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(
        status.contains("deployment \"web\" successfully rolled out"),
        "{status}"
    );

    assert_eq!(
        c.ok(&["scale", "deploy", "web", "--replicas=5"]).trim(),
        "deployment.apps/web scaled"
    );
    c.wait_rolled_out("web", 5);
    assert_eq!(c.replica_sets().len(), 1);

    c.ok(&["set", "image", "deployment/web", "busybox=busybox:2"]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.wait_rolled_out("web", 5);
    let history = rows(&c.ok(&["rollout", "history", "deployment/web"]));
    let revisions: Vec<&str> = history
        .iter()
        .skip(2)
        .filter_map(|r| r.first().map(String::as_str))
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history:?}");

    assert_eq!(
        c.ok(&["rollout", "undo", "deployment/web"]).trim(),
        "deployment.apps/web rolled back"
    );
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.wait_rolled_out("web", 5);
    let image = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "busybox:1");
    // The first replica set is the new one again, with the next revision.
    assert_eq!(c.replica_sets().len(), 2);
    let back = c
        .replica_sets()
        .into_iter()
        .find(|rs| {
            rs.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("3")
        })
        .expect("revision 3");
    assert_eq!(
        back.annotations()["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(back.spec.as_ref().unwrap().replicas, Some(5));
    let history = rows(&c.ok(&["rollout", "history", "deployment/web"]));
    let revisions: Vec<&str> = history
        .iter()
        .skip(2)
        .filter_map(|r| r.first().map(String::as_str))
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history:?}");

    assert_eq!(
        c.ok(&["rollout", "restart", "deployment/web"]).trim(),
        "deployment.apps/web restarted"
    );
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.wait_rolled_out("web", 5);
    assert_eq!(c.replica_sets().len(), 3);
    assert_eq!(
        c.deployment("web").annotations()["deployment.kubernetes.io/revision"],
        "4"
    );

    // Paused: a template change makes no replica set until resumed.
    assert_eq!(
        c.ok(&["rollout", "pause", "deployment/web"]).trim(),
        "deployment.apps/web paused"
    );
    c.ok(&["set", "image", "deployment/web", "busybox=busybox:3"]);
    c.eventually("the paused condition", Duration::from_secs(10), |c| {
        let s = c.deployment("web").status.unwrap_or_default();
        s.conditions.unwrap_or_default().iter().any(|c| {
            c.type_ == "Progressing"
                && c.status == "Unknown"
                && c.reason.as_deref() == Some("DeploymentPaused")
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.replica_sets().len(), 3);
    let out = c.kubectl(&["rollout", "undo", "deployment/web"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
        || text(&out.stderr).contains("you cannot rollback a paused deployment"), "{}", text(&out.stderr));
    assert_eq!(
        c.ok(&["rollout", "resume", "deployment/web"]).trim(),
        "deployment.apps/web resumed"
    );
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.wait_rolled_out("web", 5);
    assert_eq!(c.replica_sets().len(), 4);

    c.ok(&["scale", "deploy", "web", "--replicas=1"]);
    c.wait_rolled_out("web", 1);
}

#[test]
fn revision_history_limit_deletes_the_oldest_empty_replica_sets() {
    let c = Cluster::start();
    let yaml = deployment_yaml("web", 1, "busybox:1", "1", "0").replace(
        "spec:\n  replicas",
        "spec:\n  revisionHistoryLimit: 1\n  replicas",
    );
    c.apply(&yaml);
    c.wait_rolled_out("web", 1);
    for tag in ["2", "3", "4"] {
        c.ok(&[
            "set",
            "image",
            "deployment/web",
            &format!("main=busybox:{tag}"),
        ]);
        c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    }
    c.eventually("two replica sets left", Duration::from_secs(20), |c| {
        c.replica_sets().len() == 2
    });
}

#[test]
fn a_replica_set_adopts_a_matching_orphan_and_releases_a_relabeled_pod() {
    let c = Cluster::start();
    c.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: orphan\n  labels:\n    app: solo\nspec:\n  containers:\n  - name: main\n    image: busybox\n");
    c.eventually("the orphan ready", Duration::from_secs(10), |c| {
        c.pods()
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    });
    c.apply("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: solo\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: solo\n  template:\n    metadata:\n      labels:\n        app: solo\n    spec:\n      containers:\n      - name: main\n        image: busybox\n");
    c.eventually(
        "two pods, the orphan adopted",
        Duration::from_secs(20),
        |c| {
            let pods = c.pods();
            pods.len() == 2
                && pods.iter().all(|p| {
                    p.metadata
                        .owner_references
                        .as_ref()
                        .is_some_and(|o| o[0].name == "solo")
                })
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.pods().len(), 2, "no third pod");
    let rs = c
        .runtime
        .block_on(c.api::<ReplicaSet>().get("solo"))
        .unwrap();
    let s = rs.status.unwrap();
    assert_eq!((s.replicas, s.fully_labeled_replicas), (2, Some(2)));

    // Relabeled, it no longer belongs; a replacement is made.
    c.ok(&["label", "pod", "orphan", "app=other", "--overwrite"]);
    c.eventually("released and replaced", Duration::from_secs(20), |c| {
        let pods = c.pods();
        let orphan = pods.iter().find(|p| p.name_any() == "orphan").unwrap();
        pods.len() == 3
            && orphan
                .metadata
                .owner_references
                .as_ref()
                .is_none_or(std::vec::Vec::is_empty)
    });

    // Scaled down, the not-ready pod goes first.
    c.kubelet.paused.store(true, Ordering::SeqCst);
    c.ok(&["scale", "rs", "solo", "--replicas=3"]);
    c.eventually("a third, unready pod", Duration::from_secs(20), |c| {
        c.pods()
            .iter()
            .filter(|p| p.labels()["app"] == "solo")
            .count()
            == 3
    });
    let unready: Vec<String> = c
        .pods()
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Running"))
        .map(|p| p.name_any())
        .collect();
    assert_eq!(unready.len(), 1);
    c.ok(&["scale", "rs", "solo", "--replicas=2"]);
    c.eventually("the unready pod deleted", Duration::from_secs(20), |c| {
        !c.pods().iter().any(|p| p.name_any() == unready[0])
    });
    assert_eq!(
        c.pods()
            .iter()
            .filter(|p| p.labels()["app"] == "solo")
            .count(),
        2
    );
    let describe = c.ok(&["describe", "rs", "solo"]);
    assert!(
        describe.contains(&format!("Deleted pod: {}", unready[0])),
        "{describe}"
    );
}

#[test]
fn a_replication_controller_keeps_its_pods() {
    let c = Cluster::start();
    c.apply("apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: rc\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels:\n        app: rc\n    spec:\n      containers:\n      - name: main\n        image: busybox\n");
    c.eventually("two pods", Duration::from_secs(20), |c| {
        let pods = c.pods();
        pods.len() == 2
            && pods
                .iter()
                .all(|p| owner_of(&p.metadata).0 == "ReplicationController")
    });
    c.eventually("ready replicas", Duration::from_secs(20), |c| {
        let rc = c.ok(&[
            "get",
            "rc",
            "rc",
            "-o",
            "jsonpath={.status.readyReplicas}/{.status.availableReplicas}",
        ]);
        rc == "2/2"
    });
    // A deleted pod is replaced.
    let victim = c.pods()[0].name_any();
    c.ok(&["delete", "pod", &victim]);
    c.eventually("a replacement", Duration::from_secs(20), |c| {
        let pods = c.pods();
        pods.len() == 2 && pods.iter().all(|p| p.name_any() != victim)
    });
}

#[test]
fn a_selector_that_does_not_match_the_template_is_invalid() {
    let c = Cluster::start();
    let yaml = deployment_yaml("web", 1, "busybox", "1", "0").replace(
        "      labels:\n        app: web",
        "      labels:\n        app: other",
    );
    let out = c.kubectl(&["create", "-f", "-"], Some(&yaml));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{err}"
    );
}

#[test]
fn a_replica_set_whose_pods_are_refused_reports_replica_failure() {
    // Pods naming a ServiceAccount that does not exist are refused by admission.
    let c = Cluster::start();
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "fails"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fails"}},
                 "template": {"metadata": {"labels": {"app": "fails"}},
                              "spec": {"serviceAccountName": "missing",
                                       "containers": [{"name": "main", "image": "busybox"}]}}},
    }))
    .unwrap();
    c.runtime
        .block_on(c.api::<ReplicaSet>().create(&PostParams::default(), &rs))
        .unwrap();
    c.eventually("ReplicaFailure", Duration::from_secs(20), |c| {
        let rs = c
            .runtime
            .block_on(c.api::<ReplicaSet>().get("fails"))
            .unwrap();
        rs.status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "ReplicaFailure" && c.reason.as_deref() == Some("FailedCreate"))
    });
    let describe = c.ok(&["describe", "rs", "fails"]);
    assert!(
        describe.contains("FailedCreate") && describe.contains("Error creating: "),
        "{describe}"
    );
}

/// A Deployment of 2 rolled out; the names of its replica set and pods.
fn rolled_out_deployment(c: &Cluster, name: &str) -> (String, Vec<String>) {
    c.ok(&[
        "create",
        "deployment",
        name,
        "--image=busybox:1",
        "--replicas=2",
    ]);
    c.wait_rolled_out(name, 2);
    let rs = c
        .replica_sets()
        .into_iter()
        .find(|rs| rs.name_any().starts_with(&format!("{name}-")))
        .unwrap()
        .name_any();
    let pods = c
        .pods()
        .into_iter()
        .map(|p| p.name_any())
        .filter(|p| p.starts_with(&rs))
        .collect();
    (rs, pods)
}

#[test]
fn kubectl_delete_cascades_in_the_background_by_default() {
    let c = Cluster::start();
    let (rs, _) = rolled_out_deployment(&c, "web");
    assert_eq!(
        c.ok(&["delete", "deploy", "web"]).trim(),
        "deployment.apps \"web\" deleted"
    );
    c.eventually(
        "replica set and pods collected",
        Duration::from_secs(20),
        |c| c.replica_sets().is_empty() && c.pods().is_empty(),
    );
    let out = c.kubectl(&["get", "rs", &rs], None);
    assert!(
        text(&out.stderr).contains("NotFound"),
        "{}",
        text(&out.stderr)
    );
}

/// Records, in order, the deletions a watch of `K` shows.
fn record_deletions<K>(c: &Cluster, kind: &'static str, log: Arc<Mutex<Vec<String>>>)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let api = c.api::<K>();
    c.runtime.spawn(async move {
        let mut events = watcher(api, watcher::Config::default()).boxed();
        while let Some(e) = events.next().await {
            if let Ok(watcher::Event::Delete(o)) = e {
                log.lock().unwrap().push(format!("{kind}/{}", o.name_any()));
            }
        }
    });
}

#[test]
fn kubectl_delete_cascade_foreground_deletes_dependents_first() {
    let c = Cluster::start();
    let (rs, pods) = rolled_out_deployment(&c, "web");
    let log = Arc::new(Mutex::new(Vec::new()));
    record_deletions::<Deployment>(&c, "deployment", log.clone());
    record_deletions::<ReplicaSet>(&c, "replicaset", log.clone());
    record_deletions::<Pod>(&c, "pod", log.clone());
    std::thread::sleep(Duration::from_millis(500));
    let out = c.ok(&["delete", "deploy", "web", "--cascade=foreground"]);
    assert_eq!(out.trim(), "deployment.apps \"web\" deleted");
    // kubectl waits for the Deployment to go, which it does only after its dependents.
    c.eventually("the deletions seen", Duration::from_secs(10), |_| {
        log.lock().unwrap().len() == 4
    });
    let log = log.lock().unwrap().clone();
    let at = |what: &str| {
        log.iter()
            .position(|l| l == what)
            .unwrap_or_else(|| panic!("{what} in {log:?}"))
    };
    for p in &pods {
        assert!(
            at(&format!("pod/{p}")) < at(&format!("replicaset/{rs}")),
            "{log:?}"
        );
    }
    assert!(
        at(&format!("replicaset/{rs}")) < at("deployment/web"),
        "{log:?}"
    );
}

#[test]
fn kubectl_delete_cascade_orphan_keeps_dependents_without_the_owner() {
    let c = Cluster::start();
    let (rs, pods) = rolled_out_deployment(&c, "web");
    assert_eq!(
        c.ok(&["delete", "deploy", "web", "--cascade=orphan"])
            .trim(),
        "deployment.apps \"web\" deleted"
    );
    assert!(c
        .runtime
        .block_on(c.api::<Deployment>().get_opt("web"))
        .unwrap()
        .is_none());
    let left = c.runtime.block_on(c.api::<ReplicaSet>().get(&rs)).unwrap();
    assert!(
        left.metadata
            .owner_references
            .as_ref()
            .is_none_or(std::vec::Vec::is_empty),
        "{left:?}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let names: Vec<String> = c.pods().into_iter().map(|p| p.name_any()).collect();
    for p in &pods {
        assert!(names.contains(p), "{p} kept");
    }
    // Its pods still belong to the replica set.
    for p in c.pods() {
        assert_eq!(owner_of(&p.metadata).1, rs);
    }
}

#[test]
fn replication_controllers_orphan_by_default_through_the_api() {
    let c = Cluster::start();
    c.apply("apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: rc\nspec:\n  replicas: 1\n  template:\n    metadata:\n      labels:\n        app: rc\n    spec:\n      containers:\n      - name: main\n        image: busybox\n");
    c.eventually("a pod", Duration::from_secs(20), |c| c.pods().len() == 1);
    // No propagation policy: core/v1's default for replication controllers is Orphan.
    c.runtime
        .block_on(
            Api::<k8s_openapi::api::core::v1::ReplicationController>::namespaced(
                c.client.clone(),
                "default",
            )
            .delete("rc", &Default::default()),
        )
        .unwrap();
    c.eventually("the controller gone", Duration::from_secs(20), |c| {
        c.ok(&["get", "rc", "-o", "name"]).trim().is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    let pods = c.pods();
    assert_eq!(pods.len(), 1);
    assert!(pods[0]
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(std::vec::Vec::is_empty));
}

#[test]
fn a_dangling_owner_reference_gets_its_dependent_deleted() {
    let c = Cluster::start();
    c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: ghost\n    uid: 00000000-0000-0000-0000-000000000000\ndata:\n  k: v\n");
    c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owner\ndata:\n  k: v\n");
    let uid = c.ok(&["get", "cm", "owner", "-o", "jsonpath={.metadata.uid}"]);
    c.apply(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\ndata:\n  k: v\n"));
    c.eventually("the dangling one deleted", Duration::from_secs(20), |c| {
        !c.ok(&["get", "cm", "-o", "name"])
            .contains("configmap/owned")
    });
    assert!(c
        .ok(&["get", "cm", "-o", "name"])
        .contains("configmap/kept"));
    // Its owner goes: so does it.
    c.ok(&["delete", "cm", "owner"]);
    c.eventually(
        "the dependent of a deleted owner deleted",
        Duration::from_secs(20),
        |c| {
            !c.ok(&["get", "cm", "-o", "name"])
                .contains("configmap/kept")
        },
    );
}
