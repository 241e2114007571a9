//! The Node authorizer and NodeRestriction admission with the real kubectl, as a node's
//! client certificate (`system:node:<name>` in `system:nodes`, as kubeadm issues it): reads
//! follow the pods bound to the node (the graph, kept from watches), writes are narrowed to the
//! node itself, refusals are upstream's 403s word for word.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A server as kubeadm runs it: `--enable-admission-plugins=NodeRestriction`.
fn server(kubectl: &Kubectl) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.admission =
        kindling_api::admission::AdmissionFlags::parse(Some("NodeRestriction"), None);
    let mut s = TestServer::start_with(dir, config);
    s.kubectl = kubectl.clone();
    s
}

/// A kubeconfig of node `name`, a client certificate of the cluster CA.
fn node_kubeconfig(s: &TestServer, name: &str) -> PathBuf {
    let ca = kindling_pki::Ca::load_or_create(&s.dir.path().join("pki")).unwrap();
    let cert = ca
        .client_cert(&format!("system:node:{name}"), &["system:nodes"])
        .unwrap();
    let path = s.dir.path().join(format!("node-{name}.kubeconfig"));
    let url = format!("https://{}", s.address);
    let config = kindling_apiserver::kubeconfig::render("kindling", &url, &ca.pair.cert_pem, &cert);
    std::fs::write(&path, config).unwrap();
    path
}

/// The stderr of kubectl as the node, which must fail.
fn refused(s: &TestServer, node: &Path, args: &[&str]) -> String {
    let out = s.kubectl.run(node, args, None, &[]);
    assert!(!out.status.success(), "{args:?}: {}", text(&out.stdout));
    text(&out.stderr).trim().to_string()
}

fn allowed(s: &TestServer, node: &Path, args: &[&str]) -> String {
    let out = s.kubectl.run(node, args, None, &[]);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Waits (≤ 5 s) until the node may run `args` (the graph follows the watch).
fn eventually_allowed(s: &TestServer, node: &Path, args: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = s.kubectl.run(node, args, None, &[]);
        if out.status.success() {
            return;
        }
        assert!(Instant::now() < deadline, "{args:?}: {}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(20));
    }
}

const OBJECTS: &str = r"
apiVersion: v1
kind: Node
metadata: {name: a}
---
apiVersion: v1
kind: Node
metadata: {name: b}
---
apiVersion: v1
kind: Secret
metadata: {name: for-a}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: for-b}
stringData: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: on-a}
spec:
  nodeName: a
  containers: [{name: c, image: busybox, envFrom: [{secretRef: {name: for-a}}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: on-b}
spec:
  nodeName: b
  containers: [{name: c, image: busybox}]
  volumes: [{name: s, secret: {secretName: for-b}}]
";

fn nodes_read_only_what_their_pods_use(kubectl: &Kubectl) {
    let s = server(kubectl);
    s.apply(OBJECTS);
    let a = node_kubeconfig(&s, "a");
    eventually_allowed(&s, &a, &["get", "secret", "for-a"]);
    assert_eq!(
        refused(&s, &a, &["get", "secret", "for-b"]),
        r#"Error from server (Forbidden): secrets "for-b" is forbidden: User "system:node:a" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'a' and this object"#
    );
    assert_eq!(
        refused(&s, &a, &["get", "secrets"]),
        r#"Error from server (Forbidden): secrets is forbidden: User "system:node:a" cannot list resource "secrets" in API group "" in the namespace "default": No Object name found"#
    );
    // Its own pods by selector, its own Node, no one else's.
    allowed(
        &s,
        &a,
        &["get", "pods", "-A", "--field-selector", "spec.nodeName=a"],
    );
    assert_eq!(
        refused(&s, &a, &["get", "pods"]),
        r#"Error from server (Forbidden): pods is forbidden: User "system:node:a" cannot list resource "pods" in API group "" in the namespace "default": can only list/watch pods with spec.nodeName field selector"#
    );
    allowed(&s, &a, &["get", "node", "a"]);
    assert_eq!(
        refused(&s, &a, &["get", "node", "b"]),
        r#"Error from server (Forbidden): nodes "b" is forbidden: User "system:node:a" cannot get resource "nodes" in API group "" at the cluster scope: node 'a' cannot read 'b', only its own Node object"#
    );
    // The graph follows the pods: once a pod on a uses for-b, a may read it.
    s.ok(&["delete", "pod", "on-a", "--wait=false"]);
    s.ok(&["run", "uses-b", "--image=busybox", "--overrides",
        r#"{"spec": {"nodeName": "a", "volumes": [{"name": "s", "secret": {"secretName": "for-b"}}]}}"#]);
    eventually_allowed(&s, &a, &["get", "secret", "for-b"]);
    // A pod no node runs relates nothing (upstream's graph leaves it out); once bound to a,
    // what it uses is a's to read.
    s.apply(PENDING);
    assert!(
        refused(&s, &a, &["get", "secret", "for-pending"]).contains("no relationship found"),
        "an unbound pod's secret"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], BIND_PENDING_TO_A);
    assert!(
        out.status.success(),
        "binding: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually_allowed(&s, &a, &["get", "secret", "for-pending"]);
}

const PENDING: &str = r"
apiVersion: v1
kind: Secret
metadata: {name: for-pending}
stringData: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: pending}
spec:
  containers: [{name: c, image: busybox, envFrom: [{secretRef: {name: for-pending}}]}]
";

const BIND_PENDING_TO_A: &str = r"
apiVersion: v1
kind: Binding
metadata: {name: pending}
target: {kind: Node, name: a}
";

fn node_restriction_keeps_writes_to_the_node_itself(kubectl: &Kubectl) {
    let s = server(kubectl);
    s.apply(OBJECTS);
    let a = node_kubeconfig(&s, "a");
    allowed(&s, &a, &["label", "node", "a", "team=x"]);
    assert_eq!(
        refused(
            &s,
            &a,
            &[
                "label",
                "node",
                "a",
                "node-restriction.kubernetes.io/trusted=yes"
            ]
        ),
        r#"Error from server (Forbidden): nodes "a" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/trusted"#
    );
    assert_eq!(
        refused(
            &s,
            &a,
            &[
                "label",
                "node",
                "a",
                "node-role.kubernetes.io/control-plane="
            ]
        ),
        r#"Error from server (Forbidden): nodes "a" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/control-plane"#
    );
    assert_eq!(
        refused(&s, &a, &["taint", "node", "a", "k=v:NoSchedule"]),
        r#"Error from server (Forbidden): nodes "a" is forbidden: node "a" is not allowed to modify taints"#
    );
    // Patching another Node: the authorizer lets it try, admission refuses.
    assert_eq!(
        refused(&s, &a, &["label", "node", "b", "team=x"]),
        r#"Error from server (Forbidden): nodes "b" is forbidden: User "system:node:a" cannot get resource "nodes" in API group "" at the cluster scope: node 'a' cannot read 'b', only its own Node object"#
    );
    // A write without a read first (older kubectl GETs before patching).
    let out = s.kubectl.run(
        &a,
        &["replace", "--raw", "/api/v1/nodes/b", "-f", "-"],
        Some(r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "b", "labels": {"team": "x"}}}"#),
        &[],
    );
    assert!(!out.status.success());
    let replace = text(&out.stderr);
    assert!(
        replace.contains(
            r#"nodes \"b\" is forbidden: node \"a\" is not allowed to modify node \"b\""#
        ) || replace
            .contains(r#"nodes "b" is forbidden: node "a" is not allowed to modify node "b""#),
        "{replace}"
    );
    // Pods: only delete its own; create only mirror pods.
    assert_eq!(
        refused(&s, &a, &["delete", "pod", "on-b"]),
        r#"Error from server (Forbidden): pods "on-b" is forbidden: node "a" can only delete pods with spec.nodeName set to itself"#
    );
    let run = refused(&s, &a, &["run", "x", "--image=busybox"]);
    assert_eq!(
        run,
        r#"Error from server (Forbidden): pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "a" can only create mirror pods"#
    );
    // Tokens only for the service accounts of its pods (on-a runs as `default`), bound to them.
    assert_eq!(
        refused(&s, &a, &["create", "token", "default"]),
        r#"error: failed to create token: serviceaccounts "default" is forbidden: node requested token not bound to a pod"#
    );
    assert!(
        refused(&s, &a, &["create", "token", "other", "-n", "kube-system"])
            .contains("no relationship found between node 'a' and this object")
    );
    allowed(&s, &a, &["delete", "pod", "on-a", "--wait=false"]);
}

const ON_NODES: &str = r"
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va-a}
spec: {attacher: csi.example.com, nodeName: a, source: {persistentVolumeName: pv-a}}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va-b}
spec: {attacher: csi.example.com, nodeName: b, source: {persistentVolumeName: pv-b}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: slice-a}
spec: {driver: gpu.example.com, nodeName: a, pool: {name: a, resourceSliceCount: 1, generation: 1}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: slice-b}
spec: {driver: gpu.example.com, nodeName: b, pool: {name: b, resourceSliceCount: 1, generation: 1}}
";

fn slice(name: &str, node: &str) -> String {
    format!(
        "apiVersion: resource.k8s.io/v1\nkind: ResourceSlice\nmetadata: {{name: {name}}}\n\
         spec: {{driver: gpu.example.com, nodeName: {node}, pool: {{name: {name}, resourceSliceCount: 1, generation: 1}}}}\n"
    )
}

/// VolumeAttachments and ResourceSlices are reached through their `spec.nodeName`, and a
/// node's rules review says it is incomplete, as upstream's union of authorizers answers.
fn nodes_reach_their_attachments_and_slices(kubectl: &Kubectl) {
    let s = server(kubectl);
    s.apply(OBJECTS);
    s.apply(ON_NODES);
    let a = node_kubeconfig(&s, "a");
    eventually_allowed(&s, &a, &["get", "volumeattachment", "va-a"]);
    assert_eq!(
        refused(&s, &a, &["get", "volumeattachment", "va-b"]),
        r#"Error from server (Forbidden): volumeattachments.storage.k8s.io "va-b" is forbidden: User "system:node:a" cannot get resource "volumeattachments" in API group "storage.k8s.io" at the cluster scope: no relationship found between node 'a' and this object"#
    );
    assert_eq!(
        refused(&s, &a, &["get", "volumeattachments"]),
        r#"Error from server (Forbidden): volumeattachments.storage.k8s.io is forbidden: User "system:node:a" cannot list resource "volumeattachments" in API group "storage.k8s.io" at the cluster scope: can only get individual resources of this type"#
    );
    eventually_allowed(&s, &a, &["get", "resourceslice", "slice-a"]);
    allowed(
        &s,
        &a,
        &[
            "get",
            "resourceslices",
            "--field-selector",
            "spec.nodeName=a",
        ],
    );
    assert_eq!(
        refused(&s, &a, &["get", "resourceslices"]),
        r#"Error from server (Forbidden): resourceslices.resource.k8s.io is forbidden: User "system:node:a" cannot list resource "resourceslices" in API group "resource.k8s.io" at the cluster scope: can only list/watch/deletecollection resourceslices with nodeName field selector"#
    );
    assert_eq!(
        refused(&s, &a, &["delete", "resourceslice", "slice-b"]),
        r#"Error from server (Forbidden): resourceslices.resource.k8s.io "slice-b" is forbidden: User "system:node:a" cannot delete resource "resourceslices" in API group "resource.k8s.io" at the cluster scope: no relationship found between node 'a' and this object"#
    );
    // Creates: the authorizer cannot see the body; NodeRestriction checks spec.nodeName.
    // (`--validate=false`: kubectl's schema check lists CRDs, which a node may not.)
    let out = s.kubectl.run(
        &a,
        &["create", "--validate=false", "-f", "-"],
        Some(&slice("new-b", "b")),
        &[],
    );
    assert_eq!(
        text(&out.stderr).trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": resourceslices.resource.k8s.io "new-b" is forbidden: can only create ResourceSlice with the same NodeName as the requesting node"#
    );
    let out = s.kubectl.run(
        &a,
        &["create", "--validate=false", "-f", "-"],
        Some(&slice("new-a", "a")),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually_allowed(&s, &a, &["delete", "resourceslice", "new-a"]);
    // What a node may do cannot be listed: the review says so.
    let review = r#"{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": "default"}}"#;
    let out = s.kubectl.run(
        &a,
        &["create", "--validate=false", "-f", "-", "-o", "json"],
        Some(review),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["status"]["incomplete"], true, "{status}");
    assert_eq!(
        status["status"]["evaluationError"],
        "node authorizer does not support user rule resolution"
    );
    // Another user's list is complete.
    let out = s.kubectl_stdin(&["create", "-f", "-", "-o", "json"], review);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["status"]["incomplete"], false, "{status}");
}

common::kubectl_tests!(
    nodes_reach_their_attachments_and_slices,
    nodes_read_only_what_their_pods_use,
    node_restriction_keeps_writes_to_the_node_itself,
);
