//! The storage controllers (PV controller with claim/volume protection, the local-path
//! provisioner's control-plane half, ephemeral volumes) against a real API server on
//! 127.0.0.1. No scheduler and no node: the tests set `volume.kubernetes.io/selected-node` as
//! the scheduler would, and move pods' phases themselves.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{Cluster, Kubelet, Server};
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A server with the storage controllers and the garbage collector.
impl Cluster {
    fn start() -> Cluster {
        let server = Server::start();
        server.add_default_account();
        server.runtime.block_on(async {
            let client = server.client.clone();
            let mut pods = kindling_controllers::informer::PodInformer::new();
            tokio::spawn(kindling_controllers::run_storage(client.clone(), &mut pods));
            tokio::spawn(pods.run(client.clone()));
            tokio::spawn(kindling_controllers::garbagecollector::run(client));
        });
        Cluster {
            server,
            kubelet: Kubelet::default(),
        }
    }

    fn claims(&self) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn volumes(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn create<K>(&self, api: &Api<K>, obj: Value) -> K
    where
        K: kube::Resource
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let typed: K = serde_json::from_value(obj).unwrap();
        self.runtime
            .block_on(api.create(&PostParams::default(), &typed))
            .unwrap()
    }

    fn claim(&self, name: &str) -> Option<Value> {
        self.runtime
            .block_on(self.claims().get_opt(name))
            .unwrap()
            .map(|c| serde_json::to_value(c).unwrap())
    }

    fn volume(&self, name: &str) -> Option<Value> {
        self.runtime
            .block_on(self.volumes().get_opt(name))
            .unwrap()
            .map(|c| serde_json::to_value(c).unwrap())
    }

    /// Polls `check` until it gives a value (10 s).
    fn until<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn until_claim(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.until(what, || self.claim(name).filter(|c| check(c)))
    }

    fn until_volume(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.until(what, || self.volume(name).filter(|c| check(c)))
    }

    fn events_of(&self, name: &str) -> Vec<(String, String)> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
        self.runtime
            .block_on(events.list(&params))
            .unwrap()
            .items
            .into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    fn delete_claim(&self, name: &str) {
        self.runtime
            .block_on(self.claims().delete(name, &DeleteParams::default()))
            .unwrap();
    }
}

fn phase(v: &Value) -> &str {
    v["status"]["phase"].as_str().unwrap_or("")
}

fn static_pv(name: &str, class: &str, size: &str) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain", "storageClassName": class,
                    "hostPath": {"path": format!("/tmp/{name}")}}})
}

fn claim(name: &str, class: Option<&str>, size: &str) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                    "resources": {"requests": {"storage": size}}}})
}

#[test]
fn a_static_pair_binds_and_retain_leaves_the_volume_released() {
    let c = Cluster::start();
    c.create(&c.volumes(), static_pv("static-pv", "manual", "100Mi"));
    c.create(&c.claims(), claim("static-claim", Some("manual"), "50Mi"));
    let bound = c.until_claim("static-claim", "claim Bound", |v| phase(v) == "Bound");
    assert_eq!(bound["spec"]["volumeName"], "static-pv");
    assert_eq!(bound["status"]["capacity"]["storage"], "100Mi");
    assert_eq!(bound["status"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(
        bound["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );
    let annotations = &bound["metadata"]["annotations"];
    assert_eq!(annotations["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(annotations["pv.kubernetes.io/bound-by-controller"], "yes");
    let pv = c.until_volume("static-pv", "volume Bound", |v| phase(v) == "Bound");
    assert_eq!(pv["spec"]["claimRef"]["uid"], bound["metadata"]["uid"]);
    assert_eq!(
        pv["metadata"]["finalizers"],
        json!(["kubernetes.io/pv-protection"])
    );

    c.delete_claim("static-claim");
    c.until("claim gone", || {
        c.claim("static-claim").is_none().then_some(())
    });
    let released = c.until_volume("static-pv", "volume Released", |v| phase(v) == "Released");
    assert_eq!(released["spec"]["claimRef"]["name"], "static-claim");
    // Released volumes are not bound again.
    c.create(&c.claims(), claim("second", Some("manual"), "50Mi"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(phase(&c.claim("second").unwrap()), "Pending");
}

#[test]
fn the_default_class_is_provisioned_on_the_selected_node() {
    let c = Cluster::start();
    let classes: Api<StorageClass> = Api::all(c.client.clone());
    c.create(
        &classes,
        json!({"metadata": {"name": "standard",
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
               "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
               "volumeBindingMode": "WaitForFirstConsumer"}),
    );
    let created = c.create(&c.claims(), claim("test-claim", None, "1Mi"));
    assert_eq!(
        created.spec.unwrap().storage_class_name.as_deref(),
        Some("standard"),
        "DefaultStorageClass admission"
    );
    c.until("WaitForFirstConsumer event", || {
        c.events_of("test-claim")
            .contains(&(
                "WaitForFirstConsumer".into(),
                "waiting for first consumer to be created before binding".into(),
            ))
            .then_some(())
    });
    // The scheduler picked a node.
    let patch =
        json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "kind-worker"}}});
    c.runtime
        .block_on(
            c.claims()
                .patch("test-claim", &PatchParams::default(), &Patch::Merge(&patch)),
        )
        .unwrap();
    let bound = c.until_claim("test-claim", "claim Bound", |v| phase(v) == "Bound");
    let uid = bound["metadata"]["uid"].as_str().unwrap().to_string();
    let name = format!("pvc-{uid}");
    assert_eq!(bound["spec"]["volumeName"], name.as_str());
    assert_eq!(
        bound["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"],
        "rancher.io/local-path"
    );
    let pv = c.until_volume(&name, "volume Bound", |v| phase(v) == "Bound");
    assert_eq!(
        pv["spec"]["hostPath"],
        json!({"path": format!("/var/local-path-provisioner/{name}_default_test-claim"), "type": "DirectoryOrCreate"})
    );
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
            ["values"],
        json!(["kind-worker"])
    );
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "rancher.io/local-path"
    );
    let reasons: Vec<String> = c
        .events_of("test-claim")
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    for want in [
        "ExternalProvisioning",
        "Provisioning",
        "ProvisioningSucceeded",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
    // Deleted: the volume is Released, for the node's half to remove with its directory.
    c.delete_claim("test-claim");
    c.until_volume(&name, "volume Released", |v| phase(v) == "Released");
}

#[test]
fn a_claim_in_use_waits_for_its_pod_and_a_missing_class_is_reported() {
    let c = Cluster::start();
    c.create(&c.volumes(), static_pv("pv-a", "manual", "1Gi"));
    c.create(&c.claims(), claim("used", Some("manual"), "1Gi"));
    c.until_claim("used", "claim Bound", |v| phase(v) == "Bound");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    c.create(
        &pods,
        json!({"metadata": {"name": "user"}, "spec": {"nodeName": "kind-worker",
               "containers": [{"name": "c", "image": "busybox"}],
               "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "used"}}]}}),
    );
    let running = json!({"status": {"phase": "Running"}});
    c.runtime
        .block_on(pods.patch_status("user", &PatchParams::default(), &Patch::Merge(&running)))
        .unwrap();
    c.delete_claim("used");
    std::thread::sleep(Duration::from_millis(700));
    let held = c.claim("used").expect("kept while its pod runs");
    assert!(!held["metadata"]["deletionTimestamp"].is_null());
    let done = json!({"status": {"phase": "Succeeded"}});
    c.runtime
        .block_on(pods.patch_status("user", &PatchParams::default(), &Patch::Merge(&done)))
        .unwrap();
    c.until("claim gone once its pod finished", || {
        c.claim("used").is_none().then_some(())
    });
    c.until_volume("pv-a", "volume Released", |v| phase(v) == "Released");

    c.create(&c.claims(), claim("no-class", Some("nope"), "1Mi"));
    c.until("ProvisioningFailed event", || {
        c.events_of("no-class")
            .contains(&(
                "ProvisioningFailed".into(),
                "storageclass.storage.k8s.io \"nope\" not found".into(),
            ))
            .then_some(())
    });
    assert_eq!(phase(&c.claim("no-class").unwrap()), "Pending");
}

#[test]
fn bound_claims_grow_when_their_class_allows_it_and_ephemeral_volumes_get_claims() {
    let c = Cluster::start();
    let classes: Api<StorageClass> = Api::all(c.client.clone());
    c.create(
        &classes,
        json!({"metadata": {"name": "growing"}, "provisioner": "kubernetes.io/no-provisioner",
               "volumeBindingMode": "Immediate", "allowVolumeExpansion": true}),
    );
    c.create(&c.volumes(), static_pv("pv-g", "growing", "1Gi"));
    c.create(&c.claims(), claim("grow", Some("growing"), "1Gi"));
    c.until_claim("grow", "claim Bound", |v| phase(v) == "Bound");
    let patch = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
    c.runtime
        .block_on(
            c.claims()
                .patch("grow", &PatchParams::default(), &Patch::Merge(&patch)),
        )
        .unwrap();
    // A class without allowVolumeExpansion: upstream's PersistentVolumeClaimResize refuses.
    c.create(&c.volumes(), static_pv("pv-m", "manual", "1Gi"));
    c.create(&c.claims(), claim("fixed", Some("manual"), "1Gi"));
    c.until_claim("fixed", "claim Bound", |v| phase(v) == "Bound");
    let err = c
        .runtime
        .block_on(
            c.claims()
                .patch("fixed", &PatchParams::default(), &Patch::Merge(&patch)),
        )
        .unwrap_err();
    match err {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 403);
            assert_eq!(e.message, "persistentvolumeclaims \"fixed\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize");
        }
        other => panic!("{other}"),
    }
    c.until_claim("grow", "claim capacity 2Gi", |v| {
        v["status"]["capacity"]["storage"] == "2Gi"
    });
    assert_eq!(
        c.volume("pv-g").unwrap()["spec"]["capacity"]["storage"],
        "2Gi"
    );

    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod = c.create(
        &pods,
        json!({"metadata": {"name": "web"}, "spec": {
               "containers": [{"name": "c", "image": "busybox"}],
               "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
                   "accessModes": ["ReadWriteOnce"], "storageClassName": "growing",
                   "resources": {"requests": {"storage": "1Mi"}}}}}}]}}),
    );
    let made = c.until_claim("web-scratch", "ephemeral claim", |_| true);
    assert_eq!(
        made["metadata"]["ownerReferences"][0]["uid"],
        json!(pod.metadata.uid)
    );
    assert_eq!(made["metadata"]["ownerReferences"][0]["controller"], true);
}
