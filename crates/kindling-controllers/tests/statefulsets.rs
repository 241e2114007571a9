//! The StatefulSet and DaemonSet controllers against a real API server on 127.0.0.1, with the real kubectl
//! (the machine's and 1.35 from tools/bin when installed). No node runs the pods: a fake
//! kubelet marks every new pod Running and Ready, as a node agent would report it.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{text, Cluster, Kubelet, Server};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A server with the StatefulSet, DaemonSet and garbage collector controllers, and a fake
/// kubelet that reports every new pod Running and Ready after 100 ms and logs pod arrivals
/// and departures (`ADDED web-0` / `DELETED web-2`, in the order the watch saw them).
impl Cluster {
    fn start() -> Cluster {
        let server = Server::start();
        server.add_default_account();
        let kubelet = Kubelet::default();
        kubelet.ready_delay.store(100, Ordering::SeqCst);
        server.runtime.block_on(async {
            let client = server.client.clone();
            let mut pods = kindling_controllers::informer::PodInformer::new();
            tokio::spawn(kindling_controllers::statefulset::run(
                client.clone(),
                &mut pods,
            ));
            tokio::spawn(kindling_controllers::daemonset::run(
                client.clone(),
                &mut pods,
            ));
            tokio::spawn(pods.run(client.clone()));
            tokio::spawn(kindling_controllers::garbagecollector::run(client.clone()));
            tokio::spawn(kubelet.clone().run(client));
        });
        Cluster { server, kubelet }
    }

    /// `kubectl apply`, which may fail.
    fn apply(&self, yaml: &str) -> Output {
        self.kubectl(&["apply", "-f", "-"], Some(yaml))
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), "default")
    }

    fn set(&self, name: &str) -> StatefulSet {
        self.runtime
            .block_on(self.api::<StatefulSet>().get(name))
            .unwrap()
    }

    fn list<K>(&self) -> Vec<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        self.runtime
            .block_on(self.api::<K>().list(&ListParams::default()))
            .unwrap()
            .items
    }

    /// Pods not being deleted, by name.
    fn pods(&self) -> Vec<Pod> {
        let mut pods: Vec<Pod> = self
            .list::<Pod>()
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        pods.sort_by_key(ResourceExt::name_any);
        pods
    }

    fn eventually(&self, what: &str, check: impl Fn(&Cluster) -> bool) {
        common::wait_until(
            what,
            Duration::from_secs(30),
            || check(self),
            || {
                let state = self.ok(&["get", "sts,pods,controllerrevisions", "-o", "wide"]);
                format!("{state}\n{:?}", self.kubelet.log.lock().unwrap())
            },
        );
    }

    /// Waits until the set reports `n` ready replicas, all at the update revision, observed.
    fn wait_ready(&self, name: &str, n: i32) {
        self.eventually(&format!("{name} ready with {n}"), |c| {
            let s = c.set(name);
            let st = s.status.clone().unwrap_or_default();
            st.observed_generation == s.metadata.generation
                && st.replicas == n
                && st.ready_replicas.unwrap_or(0) == n
                && st.updated_replicas.unwrap_or(0) == n
                && st.current_revision == st.update_revision
                && c.pods().len() == n as usize
        });
    }

    fn events_of_log(&self, prefix: &str) -> Vec<String> {
        self.kubelet
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .cloned()
            .collect()
    }
}

fn sts_yaml(name: &str, replicas: i32, image: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  serviceName: {name}\n  selector:\n    matchLabels:\n      app: {name}\n{extra_spec}  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap()
}

#[test]
fn ordered_pods_with_claims_identities_status_and_events() {
    let c = Cluster::start();
    let claims = "  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n";
    let out = c.apply(&sts_yaml("web", 3, "busybox:1", claims));
    assert!(out.status.success(), "{}", text(&out.stderr));
    c.wait_ready("web", 3);

    // Created one at a time, in ordinal order, each after the previous one was ready.
    assert_eq!(
        c.events_of_log("ADDED"),
        ["ADDED web-0", "ADDED web-1", "ADDED web-2"]
    );
    let pods = c.pods();
    let revision = c.set("web").status.unwrap().update_revision.unwrap();
    for (i, p) in pods.iter().enumerate() {
        let name = format!("web-{i}");
        assert_eq!(p.name_any(), name);
        let l = p.labels();
        assert_eq!(l["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(l["apps.kubernetes.io/pod-index"], i.to_string());
        assert_eq!(l["controller-revision-hash"], revision);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let claim = spec.volumes.as_ref().unwrap()[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap();
        assert_eq!(claim.claim_name, format!("data-web-{i}"));
        let owner = &p.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("StatefulSet", "web")
        );
    }
    // Each claim exists (Pending: no provisioner) and was made before its pod.
    let claims = c.list::<PersistentVolumeClaim>();
    assert_eq!(claims.len(), 3);
    for (i, p) in pods.iter().enumerate() {
        let claim = claims
            .iter()
            .find(|cl| cl.name_any() == format!("data-web-{i}"))
            .unwrap();
        assert_eq!(claim.labels()["app"], "web");
        let rv = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.resource_version.clone().unwrap().parse::<u64>().unwrap()
        };
        assert!(
            rv(&claim.metadata) < rv(&p.metadata)
                || claim.metadata.creation_timestamp <= p.metadata.creation_timestamp
        );
        // Retain/Retain: nobody owns the claims.
        assert!(claim.owner_references().is_empty());
    }

    // The revision: `<set>-<hash>`, owned by the set, labelled with its hash.
    let revisions = c.list::<ControllerRevision>();
    assert_eq!(revisions.len(), 1);
    let r = &revisions[0];
    assert_eq!(r.name_any(), revision);
    assert_eq!(r.revision, 1);
    let hash = &r.labels()["controller.kubernetes.io/hash"];
    assert_eq!(revision, format!("web-{hash}"));
    assert_eq!(r.owner_references()[0].kind, "StatefulSet");

    // What users read.
    let table = c.ok(&["get", "sts", "web"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["web", "3/3"], "{table}");
    let status = c.set("web").status.unwrap();
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.collision_count, Some(0));
    c.eventually("the set's events", |c| {
        let d = c.ok(&["describe", "sts", "web"]);
        d.contains("SuccessfulCreate")
            && d.contains("create Pod web-0 in StatefulSet web successful")
            && d.contains("create Claim data-web-2 Pod web-2 in StatefulSet web success")
    });

    // Scale down: the highest ordinal goes first, one at a time.
    c.ok(&["scale", "sts", "web", "--replicas=1"]);
    c.wait_ready("web", 1);
    assert_eq!(
        c.events_of_log("DELETED"),
        ["DELETED web-2", "DELETED web-1"]
    );
    assert_eq!(
        c.list::<PersistentVolumeClaim>().len(),
        3,
        "claims are retained"
    );
    c.eventually("the delete events", |c| {
        c.ok(&["describe", "sts", "web"])
            .contains("delete Pod web-2 in StatefulSet web successful")
    });
}

#[test]
fn rolling_update_partition_history_and_undo_with_kubectl() {
    let c = Cluster::start();
    let out = c.apply(&sts_yaml("db", 3, "busybox:1", ""));
    assert!(out.status.success(), "{}", text(&out.stderr));
    c.wait_ready("db", 3);
    let mut kubectls = vec!["kubectl".to_string()];
    let v135 = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/bin/kubectl-1.35");
    if std::path::Path::new(v135).exists() {
        kubectls.push(v135.to_string());
    }
    for k in &kubectls {
        let out = c.ok_with(k, &["rollout", "status", "sts/db", "--timeout=20s"]);
        assert!(
            out.contains("partitioned roll out complete: 3 new pods have been updated"),
            "{out}"
        );
    }

    // A partition of 2: only db-2 is updated.
    c.ok(&[
        "patch",
        "sts",
        "db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#,
    ]);
    c.kubelet.log.lock().unwrap().clear();
    c.ok(&["set", "image", "sts/db", "main=busybox:2"]);
    c.eventually("db-2 updated", |c| {
        let s = c.set("db").status.unwrap_or_default();
        s.updated_replicas == Some(1)
            && s.ready_replicas == Some(3)
            && c.pods()
                .iter()
                .all(|p| (p.name_any() == "db-2") == (image(p) == "busybox:2"))
    });
    let out = c.ok(&["rollout", "status", "sts/db", "--timeout=20s"]);
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        c.events_of_log("DELETED"),
        ["DELETED db-2"],
        "the partition holds"
    );

    // Partition 0: the rest roll, in reverse order.
    c.ok(&[
        "patch",
        "sts",
        "db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
    ]);
    c.wait_ready("db", 3);
    assert!(c.pods().iter().all(|p| image(p) == "busybox:2"));
    assert_eq!(
        c.events_of_log("DELETED"),
        ["DELETED db-2", "DELETED db-1", "DELETED db-0"]
    );

    // History and undo through the ControllerRevisions.
    for k in &kubectls {
        let history = c.ok_with(k, &["rollout", "history", "sts/db"]);
        let revisions: Vec<&str> = history
            .lines()
            .skip_while(|l| !l.starts_with("REVISION"))
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(revisions, ["1", "2"], "{history}");
        let one = c.ok_with(k, &["rollout", "history", "sts/db", "--revision=1"]);
        assert!(one.contains("busybox:1"), "{one}");
    }
    let out = c.ok(&["rollout", "undo", "sts/db"]);
    assert!(out.contains("rolled back"), "{out}");
    c.wait_ready("db", 3);
    assert!(c.pods().iter().all(|p| image(p) == "busybox:1"));
    // The old revision is reused with the next number.
    let mut revisions: Vec<i64> = c
        .list::<ControllerRevision>()
        .iter()
        .map(|r| r.revision)
        .collect();
    revisions.sort_unstable();
    assert_eq!(revisions, [2, 3]);
    let out = c.ok(&["rollout", "status", "sts/db", "--timeout=20s"]);
    assert!(out.contains("roll out complete"), "{out}");
}

#[test]
fn parallel_on_delete_and_the_retention_policy() {
    let c = Cluster::start();
    let spec = "  podManagementPolicy: Parallel\n  updateStrategy:\n    type: OnDelete\n  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Retain\n    whenScaled: Delete\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: 1Gi\n";
    let out = c.apply(&sts_yaml("par", 3, "busybox:1", spec));
    assert!(out.status.success(), "{}", text(&out.stderr));
    c.wait_ready("par", 3);
    // OnDelete: a new template changes nothing until a pod is deleted.
    c.ok(&["set", "image", "sts/par", "main=busybox:2"]);
    c.eventually("the update revision", |c| {
        let s = c.set("par").status.unwrap_or_default();
        s.update_revision != s.current_revision && s.observed_generation == Some(2)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.pods().iter().all(|p| image(p) == "busybox:1"));
    c.ok(&["delete", "pod", "par-1"]);
    c.eventually("par-1 recreated at the new template", |c| {
        c.pods()
            .iter()
            .any(|p| p.name_any() == "par-1" && image(p) == "busybox:2")
    });
    // whenScaled Delete: a scaled-away pod's claim is handed to the pod, and goes with it.
    c.ok(&["scale", "sts", "par", "--replicas=1"]);
    c.eventually("the scaled-away claims deleted", |c| {
        let names: Vec<String> = c
            .list::<PersistentVolumeClaim>()
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(ResourceExt::name_any)
            .collect();
        names == ["data-par-0"]
    });
}

#[test]
fn bad_stateful_sets_are_refused_with_upstream_messages() {
    let c = Cluster::start();
    let mismatch = sts_yaml("bad", 1, "busybox:1", "")
        .replace("        app: bad\n    spec", "        app: other\n    spec");
    let out = c.apply(&mismatch);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{err}"
    );
    let out = c.apply(&sts_yaml("ok", 1, "busybox:1", ""));
    assert!(out.status.success());
    let out = c.kubectl_with(
        "kubectl",
        &[
            "patch",
            "sts",
            "ok",
            "-p",
            r#"{"spec":{"serviceName":"other"}}"#,
        ],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"), "{err}");
}

#[test]
fn a_daemon_set_runs_on_every_eligible_node_and_rolls() {
    use k8s_openapi::api::core::v1::Node;
    let c = Cluster::start();
    let nodes: Api<Node> = Api::all(c.client.clone());
    for (name, taints) in [
        ("n1", json!([])),
        ("n2", json!([])),
        (
            "n3",
            json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]),
        ),
    ] {
        let node =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"taints": taints}}))
                .unwrap();
        c.runtime
            .block_on(nodes.create(&PostParams::default(), &node))
            .unwrap();
    }
    let yaml = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      containers:\n      - name: main\n        image: busybox:1\n";
    let out = c.apply(yaml);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let on_nodes = |c: &Cluster| -> Vec<String> {
        let mut v: Vec<String> = c
            .pods()
            .iter()
            .filter(|p| p.labels().get("app").map(String::as_str) == Some("agent"))
            .map(|p| {
                let terms = &p
                    .spec
                    .as_ref()
                    .unwrap()
                    .affinity
                    .as_ref()
                    .unwrap()
                    .node_affinity
                    .as_ref()
                    .unwrap()
                    .required_during_scheduling_ignored_during_execution
                    .as_ref()
                    .unwrap()
                    .node_selector_terms;
                terms[0].match_fields.as_ref().unwrap()[0]
                    .values
                    .as_ref()
                    .unwrap()[0]
                    .clone()
            })
            .collect();
        v.sort();
        v
    };
    c.eventually("a pod on each untainted node", |c| {
        on_nodes(c) == ["n1", "n2"]
    });
    let out = c.ok(&["rollout", "status", "ds/agent", "--timeout=20s"]);
    assert!(
        out.contains("daemon set \"agent\" successfully rolled out"),
        "{out}"
    );
    let table = c.ok(&["get", "ds", "agent"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..6], ["agent", "2", "2", "2", "2", "2"], "{table}");
    // Untainted, n3 gets its pod; a new node gets one too.
    c.ok(&["taint", "nodes", "n3", "dedicated-"]);
    let n4 = serde_json::from_value(json!({"metadata": {"name": "n4"}})).unwrap();
    c.runtime
        .block_on(nodes.create(&PostParams::default(), &n4))
        .unwrap();
    c.eventually("pods follow the nodes", |c| {
        on_nodes(c) == ["n1", "n2", "n3", "n4"]
    });
    // A deleted node's pod goes.
    c.runtime
        .block_on(nodes.delete("n4", &Default::default()))
        .unwrap();
    c.eventually("the deleted node's pod gone", |c| {
        on_nodes(c) == ["n1", "n2", "n3"]
    });
    // A new image rolls out; the history has two revisions.
    c.ok(&["set", "image", "ds/agent", "main=busybox:2"]);
    let out = c.ok(&["rollout", "status", "ds/agent", "--timeout=30s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    c.eventually("every pod at the new image", |c| {
        let p = c.pods();
        p.len() == 3 && p.iter().all(|p| image(p) == "busybox:2")
    });
    let history = c.ok(&["rollout", "history", "ds/agent"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    c.eventually("the events", |c| {
        let d = c.ok(&["describe", "ds", "agent"]);
        d.contains("SuccessfulCreate") && d.contains("Created pod: agent-")
    });
}
