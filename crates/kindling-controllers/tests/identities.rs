//! The controllers' own identities (`--use-service-account-credentials`): a controller's
//! client is its service account `kube-system/<controller>`, allowed what upstream's
//! `system:controller:<controller>` role grants and refused the rest with upstream's 403.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ListParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_is_refused_outside_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let (server, config, admin) = common::start_local(dir.path()).await;
    let clients = kindling_controllers::credentials::Clients::service_accounts(
        admin.clone(),
        &config,
        &dir.path().join("tokens"),
        &["job-controller"],
    )
    .await
    .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(admin, "kube-system");
    assert!(accounts.get_opt("job-controller").await.unwrap().is_some());

    let jobs = clients.of("job-controller");
    Api::<Job>::all(jobs.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let refused = Api::<Secret>::all(jobs)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match refused {
        kube::Error::Api(e) => {
            assert_eq!(e.code, 403);
            assert_eq!(
                e.message,
                "secrets is forbidden: User \"system:serviceaccount:kube-system:job-controller\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
            );
        }
        other => panic!("{other}"),
    }
    drop(server);
}

/// Every account the controller manager's controllers talk as.
fn all_accounts() -> Vec<&'static str> {
    let mut all = kindling_controllers::OWN_IDENTITIES.to_vec();
    all.push("certificate-controller");
    all
}

/// A client as `user` (a client certificate of the test server's CA), as kubeadm writes
/// `controller-manager.conf`.
async fn client_as(
    dir: &std::path::Path,
    server: &kindling_apiserver::RunningServer,
    user: &str,
) -> kube::Client {
    let ca = kindling_pki::Ca::load_or_create(&dir.join("pki")).unwrap();
    let cert = ca.client_cert(user, &[]).unwrap();
    let url = format!("https://{}", server.address);
    let rendered =
        kindling_apiserver::kubeconfig::render("kindling", &url, &ca.pair.cert_pem, &cert);
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&rendered).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Makes `obj` through `api`.
async fn make<K>(api: Api<K>, obj: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(obj).unwrap();
    api.create(&Default::default(), &obj).await.unwrap()
}

/// Waits (at most 30 s) until `check` is true.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// With every controller as its own account (and the shared informers as
/// `system:kube-controller-manager`), each does its job; writes upstream's controllers do not
/// make (patches where their roles allow only updates, reads outside their informers) would
/// be refused and the job would not be done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_controller_does_its_job_as_its_own_account() {
    use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
    use k8s_openapi::api::core::v1::{
        ConfigMap, Endpoints, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
        ResourceQuota, Service,
    };
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let (server, config, admin) = common::start_local(dir.path()).await;
    let manager = client_as(dir.path(), &server, "system:kube-controller-manager").await;
    let clients = kindling_controllers::credentials::Clients::service_accounts(
        manager,
        &config,
        &dir.path().join("tokens"),
        &all_accounts(),
    )
    .await
    .unwrap();
    tokio::spawn(kindling_controllers::run_as(
        clients.clone(),
        kindling_controllers::Config {
            root_ca_pem: server.ca_pem.clone(),
        },
    ));

    // service-account-controller and root-ca-cert-publisher: a new namespace's account and CA.
    make(
        Api::<Namespace>::all(admin.clone()),
        json!({"metadata": {"name": "team"}}),
    )
    .await;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "team");
    eventually("the default account", || async {
        accounts.get_opt("default").await.unwrap().is_some()
    })
    .await;
    let maps: Api<ConfigMap> = Api::namespaced(admin.clone(), "team");
    eventually("kube-root-ca.crt", || async {
        maps.get_opt("kube-root-ca.crt").await.unwrap().is_some()
    })
    .await;

    // daemon-set-controller: a pod for the node, and the status (an update).
    make(
        Api::<Node>::all(admin.clone()),
        json!({"metadata": {"name": "n1"}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}]}}),
    )
    .await;
    let template = json!({"metadata": {"labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    make(
        Api::<DaemonSet>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "ds", "namespace": "team"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template}}),
    )
    .await;
    let sets: Api<DaemonSet> = Api::namespaced(admin.clone(), "team");
    eventually("the daemon set's status", || async {
        let ds = sets.get("ds").await.unwrap();
        ds.status
            .is_some_and(|s| s.desired_number_scheduled == 1 && s.current_number_scheduled == 1)
    })
    .await;

    // statefulset-controller: pod and claim, and the status (an update).
    let template = json!({"metadata": {"labels": {"app": "s"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    make(
        Api::<StatefulSet>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "web", "namespace": "team"},
        "spec": {"serviceName": "web", "replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                 "template": template,
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                     "accessModes": ["ReadWriteOnce"], "storageClassName": "none",
                     "resources": {"requests": {"storage": "1Gi"}}}}]}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "team");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(admin.clone(), "team");
    let stateful: Api<StatefulSet> = Api::namespaced(admin.clone(), "team");
    eventually("web-0 with its claim and the set's status", || async {
        pods.get_opt("web-0").await.unwrap().is_some()
            && claims.get_opt("data-web-0").await.unwrap().is_some()
            && stateful
                .get("web")
                .await
                .unwrap()
                .status
                .is_some_and(|s| s.replicas == 1)
    })
    .await;

    // endpoint-, endpointslice-controller: a Service's Endpoints and EndpointSlice.
    make(
        Api::<Service>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "web", "namespace": "team"},
        "spec": {"selector": {"app": "s"}, "ports": [{"port": 80}]}}),
    )
    .await;
    let endpoints: Api<Endpoints> = Api::namespaced(admin.clone(), "team");
    let slices: Api<EndpointSlice> = Api::namespaced(admin.clone(), "team");
    eventually("the Service's Endpoints and EndpointSlice", || async {
        let of_web = ListParams::default().labels("kubernetes.io/service-name=web");
        endpoints.get_opt("web").await.unwrap().is_some()
            && !slices.list(&of_web).await.unwrap().items.is_empty()
    })
    .await;

    // persistent-volume-binder: a claim binds to a volume (updates of both and their status).
    make(
        Api::<PersistentVolume>::all(admin.clone()),
        json!({"metadata": {"name": "pv1"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "storageClassName": "manual", "hostPath": {"path": "/tmp/pv1"}}}),
    )
    .await;
    make(
        Api::<PersistentVolumeClaim>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "c1", "namespace": "team"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    let volumes: Api<PersistentVolume> = Api::all(admin.clone());
    eventually("c1 and pv1 Bound", || async {
        let claim = claims.get("c1").await.unwrap();
        let volume = volumes.get("pv1").await.unwrap();
        claim.status.and_then(|s| s.phase).as_deref() == Some("Bound")
            && volume.status.and_then(|s| s.phase).as_deref() == Some("Bound")
    })
    .await;

    // pvc-protection-controller: a deleted claim no pod uses goes (its finalizer removed by
    // an update).
    make(
        Api::<PersistentVolumeClaim>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "loose", "namespace": "team"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "none",
                 "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    claims.delete("loose", &Default::default()).await.unwrap();
    eventually("the deleted claim gone", || async {
        claims.get_opt("loose").await.unwrap().is_none()
    })
    .await;

    // ephemeral-volume-controller: a pod's generic ephemeral volume gets its claim.
    make(
        Api::<Pod>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "eph", "namespace": "team"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "none",
            "resources": {"requests": {"storage": "1Gi"}}}}}}]}}),
    )
    .await;
    eventually("the ephemeral claim", || async {
        claims.get_opt("eph-scratch").await.unwrap().is_some()
    })
    .await;

    // resourcequota-controller: the quota's usage.
    make(
        Api::<ResourceQuota>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "q", "namespace": "team"},
        "spec": {"hard": {"pods": "10"}}}),
    )
    .await;
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), "team");
    eventually("the quota's usage", || async {
        quotas
            .get("q")
            .await
            .unwrap()
            .status
            .and_then(|s| s.used)
            .is_some_and(|u| u.contains_key("pods"))
    })
    .await;

    // generic-garbage-collector: the dependent of a deleted owner goes.
    let owner: ConfigMap = make(
        Api::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "owner", "namespace": "team"}}),
    )
    .await;
    make(
        Api::<ConfigMap>::namespaced(admin.clone(), "team"),
        json!({"metadata": {"name": "dependent", "namespace": "team",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                             "uid": owner.metadata.uid}]}}),
    )
    .await;
    maps.delete("owner", &Default::default()).await.unwrap();
    eventually("the dependent collected", || async {
        maps.get_opt("dependent").await.unwrap().is_none()
    })
    .await;
    drop(server);
}

/// What upstream's controllers never do, their accounts may not: the requests kindling's
/// controllers made before they were confined (patches where their roles allow updates,
/// reads upstream's make through the shared informers) are refused with upstream's 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_are_refused_what_upstreams_do_not_do() {
    use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::{ConfigMap, Node, PersistentVolume};
    use kube::api::{Patch, PatchParams};
    let dir = tempfile::tempdir().unwrap();
    let (_server, config, admin) = common::start_local(dir.path()).await;
    let clients = kindling_controllers::credentials::Clients::service_accounts(
        admin,
        &config,
        &dir.path().join("tokens"),
        &all_accounts(),
    )
    .await
    .unwrap();
    let patch = Patch::Merge(serde_json::json!({"status": {}}));
    let pp = PatchParams::default();
    let code = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(e)) => e.code,
        Err(e) => panic!("{e}"),
        Ok(()) => 200,
    };
    let of = |name: &str| clients.of(name);
    let refused = [
        (
            "statefulset-controller patches statefulsets/status",
            code(
                Api::<StatefulSet>::namespaced(of("statefulset-controller"), "default")
                    .patch_status("x", &pp, &patch)
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "daemon-set-controller patches daemonsets/status",
            code(
                Api::<DaemonSet>::namespaced(of("daemon-set-controller"), "default")
                    .patch_status("x", &pp, &patch)
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "persistent-volume-binder patches persistentvolumes",
            code(
                Api::<PersistentVolume>::all(of("persistent-volume-binder"))
                    .patch("x", &pp, &patch)
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "service-account-controller gets serviceaccounts",
            code(
                Api::<ServiceAccount>::namespaced(of("service-account-controller"), "default")
                    .get("default")
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "root-ca-cert-publisher gets configmaps",
            code(
                Api::<ConfigMap>::namespaced(of("root-ca-cert-publisher"), "default")
                    .get("kube-root-ca.crt")
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "node-controller lists leases",
            code(
                Api::<Lease>::namespaced(of("node-controller"), "kube-node-lease")
                    .list(&ListParams::default())
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "certificate-controller gets nodes",
            code(
                Api::<Node>::all(of("certificate-controller"))
                    .get("n1")
                    .await
                    .map(|_| ()),
            ),
        ),
    ];
    for (what, code) in refused {
        assert_eq!(code, 403, "{what}");
    }
}
