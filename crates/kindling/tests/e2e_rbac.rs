//! End to end, with Docker: RBAC on a real cluster. A pod's own service account token (read
//! from its projected volume; busybox's wget cannot speak TLS with the API server, so the real
//! kubectl sends it) gets upstream's 403 listing pods, and the list once a Role and RoleBinding
//! allow it; a node's credentials (the node agent's kubeconfig,
//! `system:node:<name>`) may not do what the node rules do not allow, read a secret no pod of
//! the node uses, or touch another Node (Node authorizer, NodeRestriction); no component of
//! either node logs a 403 (each runs with its own upstream identity). With `serverTLSBootstrap`
//! and the `kubelet-serving-approver` controller switched on (`controllerManager.extraArgs`)
//! the kubelets' serving CSRs are approved (`AutoApproved`) and issued with no one running
//! `kubectl certificate approve`, and `kubectl exec` (through :10250) works. The workload
//! controllers run as their own service accounts in kube-system (`kubectl get sa -n
//! kube-system` lists every one): a Deployment rolls out and a Job completes. Without a Docker engine
//! the test fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, runtime, text, unique, Env};
use std::process::Command;
use std::time::{Duration, Instant};

/// The node image of this test file, built from this very binary.
const NODE_IMAGE: &str = "kindling/node:e2e-rbac";
const BUSYBOX: &str = "busybox:latest";
const TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const CLIENT: &str = "apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: rbac-e2e
spec:
  containers:
  - name: main
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, '3600']
";

const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: rbac-e2e
rules:
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: default-reads-pods
  namespace: rbac-e2e
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-reader
subjects:
- kind: ServiceAccount
  name: default
";

const WORKLOADS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: rbac-e2e
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sleep, '3600']
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
  namespace: rbac-e2e
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'true']
";

/// kubectl with `kubeconfig` as its only configuration.
fn kubectl_with(env: &Env, kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .args(args)
        .env("HOME", env.home.path())
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap()
}

/// The cluster's published API server address (the user's kubeconfig).
fn server(env: &Env) -> String {
    env.ok_kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ])
}

#[test]
fn service_account_tokens_and_node_credentials_are_authorized() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut cluster = Env::new();
    let name = unique("rbac");
    // Kubelets ask for their serving certificates by CSR (kubeadm's `serverTLSBootstrap`), and
    // the controller manager approves them.
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  serverTLSBootstrap: true\n- |\n  kind: ClusterConfiguration\n  controllerManager:\n    extraArgs:\n      controllers: \"*,kubelet-serving-approver\"\nnodes:\n- role: control-plane\n- role: worker\n";
    cluster.create_with(&name, Some(NODE_IMAGE), Some(config));
    let load = cluster.kindling(&["load", "docker-image", BUSYBOX, "--name", &name]);
    assert!(load.status.success(), "{}", text(&load.stderr));

    // Both kubelets' serving requests are approved by the controller manager and issued.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reasons = cluster.ok_kubectl(&[
            "get",
            "csr",
            "--field-selector",
            "spec.signerName=kubernetes.io/kubelet-serving",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[0].reason}/{.status.certificate}{\"\\n\"}{end}",
        ]);
        let issued = reasons
            .lines()
            .filter(|l| l.starts_with("AutoApproved/") && l.len() > "AutoApproved/".len())
            .count();
        if issued == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "serving certificates: {reasons}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = cluster.ok_kubectl(&["get", "csr"]);
    eprintln!("{listed}");
    assert_eq!(listed.matches("Approved,Issued").count(), 2, "{listed}");
    assert!(
        listed.contains(&format!("system:node:{name}-worker")),
        "{listed}"
    );

    cluster.ok_kubectl(&["create", "namespace", "rbac-e2e"]);
    // The namespace's default service account comes from its controller.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cluster
        .kubectl(&["get", "sa", "default", "-n", "rbac-e2e"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "no default service account");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.apply(CLIENT);
    cluster.ok_kubectl(&[
        "wait",
        "--for=condition=Ready",
        "pod/client",
        "-n",
        "rbac-e2e",
        "--timeout=90s",
    ]);

    // The pod's own token (its projected service account volume) is the only credential.
    // Exec goes through the kubelet's :10250, which listens once it has fetched its issued
    // certificate (it polls its CSR every second); one CI run saw "connection refused" here.
    let exec = ["exec", "-n", "rbac-e2e", "client", "--", "cat", TOKEN];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.kubectl(&exec).status.success() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let token = cluster.ok_kubectl(&exec);
    let ca = cluster.ok_kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let token_config = cluster.home.path().join("token.kubeconfig");
    std::fs::write(
        &token_config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: pod\n  user:\n    token: {token}\ncontexts:\n- name: pod\n  context: {{cluster: c, user: pod, namespace: rbac-e2e}}\ncurrent-context: pod\n",
            server(&cluster)
        ),
    )
    .unwrap();
    let denied = kubectl_with(&cluster, &token_config, &["get", "pods"]);
    assert_eq!(
        text(&denied.stderr).trim(),
        "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:rbac-e2e:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"rbac-e2e\""
    );
    // Allowed once a Role and RoleBinding say so.
    cluster.apply(ROLE);
    let deadline = Instant::now() + Duration::from_secs(10);
    let allowed = loop {
        let got = kubectl_with(&cluster, &token_config, &["get", "pods", "-o", "name"]);
        if got.status.success() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        text(&allowed.stdout).trim(),
        "pod/client",
        "{}",
        text(&allowed.stderr)
    );

    // The worker's own credentials (the node agent's kubeconfig, used from inside the node
    // through the published API server address) may not do what the node rules do not allow.
    let worker = format!("{name}-worker");
    let node_config = node_exec(&worker, &["cat", "/kindling/kubeconfig"]);
    let server = server(&cluster);
    let node_config: String = node_config
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("server:") {
                format!("    server: {server}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = cluster.home.path().join("node.kubeconfig");
    std::fs::write(&path, node_config).unwrap();
    let as_node = |args: &[&str]| kubectl_with(&cluster, &path, args);
    let who = as_node(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(text(&who.stdout), format!("system:node:{worker}"));
    let out = as_node(&[
        "get",
        "pods",
        "-A",
        "-o",
        "name",
        "--field-selector",
        &format!("spec.nodeName={worker}"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = as_node(&["get", "pods", "-A", "-o", "name"]);
    assert!(
        text(&out.stderr).contains("can only list/watch pods with spec.nodeName field selector"),
        "{}",
        text(&out.stderr)
    );
    // A secret no pod of the worker uses.
    cluster.ok_kubectl(&[
        "create",
        "secret",
        "generic",
        "unrelated",
        "-n",
        "rbac-e2e",
        "--from-literal=k=v",
    ]);
    let out = as_node(&["get", "secret", "unrelated", "-n", "rbac-e2e"]);
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "Error from server (Forbidden): secrets \"unrelated\" is forbidden: User \"system:node:{worker}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"rbac-e2e\": no relationship found between node '{worker}' and this object"
        )
    );
    // Its own Node only; no node-restriction labels on itself.
    let out = as_node(&["label", "node", &format!("{name}-control-plane"), "x=y"]);
    assert!(
        text(&out.stderr).contains("only its own Node object"),
        "{}",
        text(&out.stderr)
    );
    let out = as_node(&[
        "label",
        "node",
        &worker,
        "node-restriction.kubernetes.io/x=y",
    ]);
    assert_eq!(
        text(&out.stderr).trim(),
        format!("Error from server (Forbidden): nodes \"{worker}\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/x")
    );
    let out = as_node(&["delete", "node", &format!("{name}-control-plane")]);
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "Error from server (Forbidden): nodes \"{name}-control-plane\" is forbidden: User \"system:node:{worker}\" cannot delete resource \"nodes\" in API group \"\" at the cluster scope"
        )
    );
    let out = as_node(&[
        "create",
        "deployment",
        "x",
        "--image=busybox",
        "-n",
        "rbac-e2e",
    ]);
    assert!(
        text(&out.stderr).contains("cannot create resource \"deployments\" in API group \"apps\""),
        "{}",
        text(&out.stderr)
    );
    // The control plane still carries its role label (set by create, not by the node).
    let roles = cluster.ok_kubectl(&["get", "nodes", &format!("{name}-control-plane")]);
    assert!(roles.contains("control-plane"), "{roles}");
    // The workload controllers, each as its service account in kube-system.
    cluster.apply(WORKLOADS);
    cluster.ok_kubectl(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "rbac-e2e",
        "--timeout=90s",
    ]);
    cluster.ok_kubectl(&[
        "wait",
        "--for=condition=Complete",
        "job/once",
        "-n",
        "rbac-e2e",
        "--timeout=90s",
    ]);
    let accounts = cluster.ok_kubectl(&["get", "sa", "-n", "kube-system", "-o", "name"]);
    // Every controller's account (kube-controller-manager's `--use-service-account-credentials`),
    // kindling's serving approver's and the service load balancer's.
    for controller in [
        "certificate-controller",
        "cronjob-controller",
        "daemon-set-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoint-controller",
        "endpointslice-controller",
        "endpointslicemirroring-controller",
        "ephemeral-volume-controller",
        "expand-controller",
        "generic-garbage-collector",
        "job-controller",
        "kubelet-serving-approver",
        "node-controller",
        "persistent-volume-binder",
        "pv-protection-controller",
        "pvc-protection-controller",
        "replicaset-controller",
        "replication-controller",
        "resourcequota-controller",
        "root-ca-cert-publisher",
        "service-account-controller",
        "service-controller",
        "statefulset-controller",
        "ttl-after-finished-controller",
    ] {
        assert!(
            accounts.contains(&format!("serviceaccount/{controller}")),
            "{accounts}"
        );
    }
    // Every component ran with rights enough: no 403 in either node's log.
    for node in [format!("{name}-control-plane"), worker.clone()] {
        let logs = Command::new("docker")
            .args(["logs", &node])
            .output()
            .unwrap();
        let all = format!("{}{}", text(&logs.stdout), text(&logs.stderr));
        let denied: Vec<&str> = all
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("forbidden"))
            .collect();
        assert!(denied.is_empty(), "{node}: {denied:#?}");
    }
    eprintln!("e2e_rbac checked in {:.1?}", started.elapsed());
}
