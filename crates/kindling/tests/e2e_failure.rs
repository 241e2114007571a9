//! End to end, with Docker: a node whose agent stops (S6 of the requirements). One control
//! plane and two workers; `systemctl stop kubelet` in a worker, as the books do it with kind →
//! the node turns NotReady within the grace period, its pod keeps running but is not Ready,
//! new pods go elsewhere; a Deployment's pod with a host port, tolerating the unreachable taint
//! for 10 s, is evicted and replaced on the other worker; `systemctl start kubelet` brings the
//! node back Ready and the evicted pod goes.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, text, unique, Env};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-failure";
const IMAGE: &str = "busybox:latest";

fn node_condition(env: &Env, node: &str, field: &str) -> String {
    let out = env.kubectl(&[
        "get",
        "node",
        node,
        "-o",
        &format!("jsonpath={{.status.conditions[?(@.type==\"Ready\")].{field}}}"),
    ]);
    text(&out.stdout)
}

fn taints(env: &Env, node: &str) -> String {
    text(
        &env.kubectl(&[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={range .spec.taints[*]}{.key}:{.effect} {end}",
        ])
        .stdout,
    )
}

fn wait_until(what: &str, timeout: Duration, check: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    started.elapsed()
}

#[test]
fn a_node_whose_agent_stops_turns_not_ready_and_comes_back() {
    if !docker_available() {
        return;
    }
    common::runtime()
        .block_on(kindling_image::build_test_image(IMAGE))
        .unwrap();
    common::ensure_node_image(NODE_IMAGE);
    let mut env = Env::new();
    let name = unique("s6");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&name, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", IMAGE, "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (worker, worker2) = (format!("{name}-worker"), format!("{name}-worker2"));

    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: keeper\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: {worker2}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {IMAGE}\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n"
    ));
    env.wait_for("keeper", "Ready", Duration::from_secs(60), |e| {
        e.jsonpath(
            "keeper",
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "True"
    });

    // S6's Deployment with a host port, on worker2 (worker cordoned while it is placed), its
    // pods tolerating an unreachable or not-ready node for 10 s only.
    env.ok_kubectl(&["cordon", &worker]);
    env.apply(&format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 10}}
      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 10}}
      containers:
      - name: main
        image: {IMAGE}
        imagePullPolicy: IfNotPresent
        command: ["httpd", "-f", "-p", "80"]
        ports:
        - {{containerPort: 80, hostPort: 80}}
"#
    ));
    env.ok_kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(web_pods_running_on(&env), vec![worker2.clone()]);
    env.ok_kubectl(&["uncordon", &worker]);

    // The books' way to break a kind node.
    let out = std::process::Command::new("docker")
        .args(["exec", &worker2, "systemctl", "stop", "kubelet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        node_exec(&worker2, &["systemctl", "is-active", "kubelet"]).trim(),
        "inactive"
    );
    let took = wait_until("worker2 NotReady", Duration::from_secs(90), || {
        node_condition(&env, &worker2, "status") == "Unknown"
    });
    eprintln!(
        "worker2 NotReady {:.0} s after its agent stopped",
        took.as_secs_f64()
    );
    let nodes = env.ok_kubectl(&["get", "nodes"]);
    let row = nodes.lines().find(|l| l.starts_with(&worker2)).unwrap();
    assert!(row.contains(" NotReady "), "{nodes}");
    assert_eq!(
        node_condition(&env, &worker2, "message"),
        "Kubelet stopped posting node status."
    );
    wait_until("unreachable taints", Duration::from_secs(15), || {
        let t = taints(&env, &worker2);
        t.contains("node.kubernetes.io/unreachable:NoSchedule")
            && t.contains("node.kubernetes.io/unreachable:NoExecute")
    });
    let describe = env.ok_kubectl(&["describe", "node", &worker2]);
    assert!(describe.contains("NodeNotReady"), "{describe}");

    // The pod keeps running in the node, but is not Ready any more.
    let tasks = node_exec(&worker2, &["ctr", "-n", "k8s.io", "tasks", "ls"]);
    assert!(tasks.matches("RUNNING").count() >= 2, "{tasks}");
    env.wait_for("keeper", "Ready=False", Duration::from_secs(15), |e| {
        e.jsonpath(
            "keeper",
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "False"
    });

    // The Deployment's pod is evicted once its 10 s toleration is over and replaced on worker.
    let took = wait_until("web replaced on worker", Duration::from_secs(40), || {
        web_pods_running_on(&env) == vec![worker.clone()]
    });
    eprintln!(
        "web's replacement Running on {worker} {:.0} s after the unreachable taint",
        took.as_secs_f64()
    );
    let describe = env.ok_kubectl(&["describe", "pods", "-l", "app=web"]);
    assert!(describe.contains("TaintManagerEviction"), "{describe}");

    for i in 0..3 {
        env.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: newbie{i}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {IMAGE}\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n"
        ));
    }
    for i in 0..3 {
        let pod = format!("newbie{i}");
        env.wait_for(&pod, "scheduled", Duration::from_secs(30), |e| {
            !e.jsonpath(&pod, "{.spec.nodeName}").is_empty()
        });
        assert_eq!(env.jsonpath(&pod, "{.spec.nodeName}"), worker);
    }

    // Back: Ready, untainted, and the pod Ready again.
    let out = std::process::Command::new("docker")
        .args(["exec", &worker2, "systemctl", "start", "kubelet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let took = wait_until("worker2 Ready again", Duration::from_secs(30), || {
        node_condition(&env, &worker2, "status") == "True"
    });
    eprintln!(
        "worker2 Ready {:.1} s after its agent started",
        took.as_secs_f64()
    );
    wait_until("taints removed", Duration::from_secs(15), || {
        !taints(&env, &worker2).contains("node.kubernetes.io/")
    });
    env.wait_for("keeper", "Ready again", Duration::from_secs(30), |e| {
        e.jsonpath(
            "keeper",
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "True"
    });
    assert_eq!(
        env.jsonpath("keeper", "{.status.containerStatuses[0].restartCount}"),
        "0"
    );
    // The evicted pod, Terminating while its node was away, is gone once the node is back.
    wait_until("the evicted web pod gone", Duration::from_secs(30), || {
        env.ok_kubectl(&["get", "pods", "-l", "app=web", "-o", "name"])
            .lines()
            .count()
            == 1
    });
}

/// The nodes of the Deployment's pods that run and are not being deleted.
fn web_pods_running_on(env: &Env) -> Vec<String> {
    let out = env.ok_kubectl(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        r#"jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.deletionTimestamp}|{.spec.nodeName}{"\n"}{end}"#,
    ]);
    out.lines()
        .filter_map(|l| l.strip_prefix('|'))
        .map(str::to_string)
        .collect()
}
