//! The controllers' own identities (`--use-service-account-credentials`): a controller's
//! client is its service account `kube-system/<controller>`, allowed what upstream's
//! `system:controller:<controller>` role grants and refused the rest with upstream's 403.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ListParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_is_refused_outside_its_role() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
        .await
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let admin = kube::Client::try_from(config.clone()).unwrap();
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
