//! Subresources with rules of their own, driven by the clients that use them:
//! `pods/ephemeralcontainers` (`kubectl debug`; GET, PUT and PATCH through kube-rs, only
//! ephemeral containers change, upstream's validation) and CertificateSigningRequests (the
//! requester recorded on create, with `--as` too, `kubectl certificate approve|deny`,
//! `approval` GET/PATCH/PUT).
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn client(s: &TestServer) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(&s.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: target}
spec:
  containers:
  - {name: app, image: busybox, command: [sleep, '3600']}
";

/// `kubectl debug` adds an ephemeral container through the subresource, once per call.
fn kubectl_debug_adds_ephemeral_containers(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(POD);
    let out = s.kubectl(&[
        "debug",
        "target",
        "--image=busybox",
        "--target=app",
        "--profile=general",
        "--",
        "sleep",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = s.kubectl(&[
        "debug",
        "target",
        "--image=busybox",
        "--profile=general",
        "--",
        "sleep",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = s.ok(&[
        "get",
        "pod",
        "target",
        "-o",
        "jsonpath={range .spec.ephemeralContainers[*]}{.name} {.image} {.targetContainerName}|{end}",
    ]);
    let entries: Vec<&str> = list.split('|').filter(|e| !e.is_empty()).collect();
    assert_eq!(entries.len(), 2, "{list}");
    assert!(entries[0].starts_with("debugger-"), "{list}");
    assert!(entries[0].ends_with(" busybox app"), "{list}");
    assert!(entries[1].ends_with(" busybox "), "{list}");
}

#[test]
fn ephemeral_containers_serve_get_put_and_patch_and_change_nothing_else() {
    let s = TestServer::start();
    s.apply(POD);
    s.runtime().block_on(async {
        let pods: Api<Pod> = Api::namespaced(client(&s).await, "default");
        // PATCH: only the ephemeral containers of the patch are taken.
        let patch = json!({"metadata": {"labels": {"sneaky": "yes"}},
            "spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox",
                "stdin": true, "tty": true}]}});
        let pod = pods
            .patch_subresource(
                "ephemeralcontainers",
                "target",
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
            .unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.ephemeral_containers.as_ref().unwrap().len(), 1);
        assert!(pod.metadata.labels.is_none());
        let managers: Vec<(String, Option<String>)> = pod
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .map(|m| (m.operation.clone().unwrap(), m.subresource.clone()))
            .collect();
        assert!(
            managers.contains(&("Update".into(), Some("ephemeralcontainers".into()))),
            "{managers:?}"
        );
        // GET answers the pod.
        let got: Pod = pods
            .get_subresource("ephemeralcontainers", "target")
            .await
            .unwrap();
        assert_eq!(got.metadata.name.as_deref(), Some("target"));

        // PUT: removing one is refused with upstream's message.
        let mut removed = got.clone();
        removed.spec.as_mut().unwrap().ephemeral_containers = Some(vec![]);
        let err = pods
            .replace_subresource(
                "ephemeralcontainers",
                "target",
                &PostParams::default(),
                &removed,
            )
            .await
            .unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err}")
        };
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            "Pod \"target\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be removed\n"
        );
        // PUT that adds one more works.
        let mut added = got.clone();
        let mut second = added.spec.as_ref().unwrap().ephemeral_containers.clone().unwrap();
        let mut c = second[0].clone();
        c.name = "second".into();
        c.target_container_name = Some("app".into());
        second.push(c);
        added.spec.as_mut().unwrap().ephemeral_containers = Some(second);
        let pod = pods
            .replace_subresource(
                "ephemeralcontainers",
                "target",
                &PostParams::default(),
                &added,
            )
            .await
            .unwrap();
        assert_eq!(
            pod.spec.unwrap().ephemeral_containers.unwrap()[1].target_container_name,
            Some("app".into())
        );
        // A field an ephemeral container may not have.
        let patch = json!({"spec": {"ephemeralContainers": [{"name": "probed", "image": "busybox",
            "ports": [{"containerPort": 80}]}]}});
        let err = pods
            .patch_subresource(
                "ephemeralcontainers",
                "target",
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
            .unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err}")
        };
        assert_eq!(
            status.message,
            "Pod \"target\" is invalid: spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container"
        );
        // The pod itself does not take ephemeral containers.
        let patch = json!({"spec": {"ephemeralContainers": [{"name": "sideways", "image": "busybox"}]}});
        let err = pods
            .patch("target", &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err}")
        };
        assert!(
            status
                .message
                .starts_with("Pod \"target\" is invalid: spec: Forbidden: pod updates may not change fields other than"),
            "{}",
            status.message
        );
    });
}

/// A PEM certificate request for `cn`.
fn certificate_request(cn: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.serialize_request(&key).unwrap().pem().unwrap()
}

fn csr_yaml(name: &str) -> String {
    use base64::Engine;
    let request = base64::engine::general_purpose::STANDARD.encode(certificate_request(name));
    format!(
        "apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {{name: {name}}}
spec:
  request: {request}
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
  username: mallory
  groups: [system:masters]
status:
  conditions: [{{type: Approved, status: 'True'}}]
"
    )
}

/// A create records who asked; `kubectl certificate approve|deny` go through `approval`.
fn kubectl_certificate_approve_and_deny(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&csr_yaml("alice"));
    s.apply(&csr_yaml("bob"));
    let me = s.ok(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    let who = s.ok(&[
        "get",
        "csr",
        "alice",
        "-o",
        "jsonpath={.spec.username} {.spec.groups} {.status}",
    ]);
    assert_eq!(
        who,
        format!("{me} [\"system:masters\",\"system:authenticated\"] {{}}")
    );
    // With --as, the impersonated user is the requester (bound to a role that may ask).
    s.grant(
        &[
            "clusterrolebinding",
            "devs-csr",
            "--clusterrole=system:node-bootstrapper",
            "--group=devs",
        ],
        &["create", "csr", "--as=dave", "--as-group=devs"],
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-", "--as=dave", "--as-group=devs"],
        &csr_yaml("dave"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let who = s.ok(&[
        "get",
        "csr",
        "dave",
        "-o",
        "jsonpath={.spec.username} {.spec.groups}",
    ]);
    assert_eq!(who, "dave [\"devs\",\"system:authenticated\"]");
    let out = s.ok(&["certificate", "approve", "alice"]);
    assert_eq!(
        out.trim(),
        "certificatesigningrequest.certificates.k8s.io/alice approved"
    );
    let out = s.ok(&["certificate", "deny", "bob"]);
    assert_eq!(
        out.trim(),
        "certificatesigningrequest.certificates.k8s.io/bob denied"
    );
    let conditions = s.ok(&[
        "get",
        "csr",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[0].type}/{.status.conditions[0].reason}/{.status.conditions[0].status} {end}",
    ]);
    assert_eq!(
        conditions.trim(),
        "alice=Approved/KubectlApprove/True bob=Denied/KubectlDeny/True dave=//"
    );
    let table = s.ok(&["get", "csr", "alice"]);
    assert!(table.contains("Approved"), "{table}");
}

common::kubectl_tests!(
    kubectl_debug_adds_ephemeral_containers,
    kubectl_certificate_approve_and_deny,
);

#[test]
fn approval_serves_get_patch_and_put() {
    let s = TestServer::start();
    s.apply(&csr_yaml("carol"));
    s.runtime().block_on(async {
        let csrs: Api<CertificateSigningRequest> = Api::all(client(&s).await);
        let got: CertificateSigningRequest =
            csrs.get_subresource("approval", "carol").await.unwrap();
        assert_eq!(got.spec.username.as_deref(), Some("kubernetes-admin"));
        // PATCH: the conditions change, timestamps are filled in; the spec does not change.
        let patch = json!({"spec": {"username": "mallory"}, "status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}]}});
        let csr = csrs
            .patch_subresource(
                "approval",
                "carol",
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .unwrap();
        assert_eq!(csr.spec.username.as_deref(), Some("kubernetes-admin"));
        let condition = &csr.status.as_ref().unwrap().conditions.as_ref().unwrap()[0];
        assert_eq!(condition.reason.as_deref(), Some("ByHand"));
        assert!(condition.last_update_time.is_some());
        assert!(condition.last_transition_time.is_some());
        // Approved and Denied exclude each other.
        let patch = json!({"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "ByHand"},
            {"type": "Denied", "status": "True", "reason": "ByHand"}]}});
        let err = csrs
            .patch_subresource(
                "approval",
                "carol",
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err}")
        };
        assert!(
            status.message.contains("status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"),
            "{}",
            status.message
        );
        // PUT that removes the approval is refused.
        let mut removed = csr.clone();
        removed.status.as_mut().unwrap().conditions = Some(vec![]);
        let err = csrs
            .replace_subresource(
                "approval",
                "carol",
                &PostParams::default(),
                &removed,
            )
            .await
            .unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err}")
        };
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            "CertificateSigningRequest.certificates.k8s.io \"carol\" is invalid: status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""
        );
        // The main resource changes neither spec nor status.
        let patch = json!({"spec": {"username": "mallory"}, "status": {"conditions": []}});
        let csr = csrs
            .patch("carol", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
        assert_eq!(csr.spec.username.as_deref(), Some("kubernetes-admin"));
        assert_eq!(csr.status.unwrap().conditions.unwrap().len(), 1);
    });
}
