//! End to end, with Docker: a PodDisruptionBudget holding back `kubectl drain` on a real
//! cluster (one control plane, two workers). A Deployment of 2 busybox pods with a budget of
//! minAvailable 2: draining the worker that runs one keeps being refused (429, retried by
//! kubectl every 5 s) until the budget is relaxed to 1; then the drain completes and the
//! evicted pods come back on the other worker. Without a Docker engine the test fails when
//! `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, runtime, text, unique, Env};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-policy";
const BUSYBOX: &str = "busybox:latest";

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: web\n        image: busybox:latest\n        command: [httpd, -f, -p, \"8080\"]\n";

const PDB: &str = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels:\n      app: web\n";

fn jsonpath(env: &Env, what: &str, path: &str) -> String {
    text(
        &env.kubectl(&["get", what, "-o", &format!("jsonpath={path}")])
            .stdout,
    )
}

fn eventually(env: &Env, what: &str, timeout: Duration, check: impl Fn(&Env) -> bool) {
    common::eventually(
        env,
        what,
        timeout,
        &["get", "pdb,deploy,pods", "-o", "wide"],
        check,
    );
}

/// (pod, node) of the web pods Running and ready, terminating ones left out.
fn web_pods(env: &Env) -> Vec<(String, String)> {
    let out = text(
        &env.kubectl(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"])
            .stdout,
    );
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|r| r.len() > 6 && r[2] == "Running" && r[1] == "1/1")
        .map(|r| (r[0].to_string(), r[6].to_string()))
        .collect()
}

#[test]
fn drain_waits_for_the_disruption_budget_on_real_nodes() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut env = Env::new();
    let cluster = unique("pol");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", BUSYBOX, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    eprintln!("cluster ready after {:.1?}", started.elapsed());

    env.apply(DEPLOYMENT);
    env.apply(PDB);
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=120s"],
    );
    eventually(&env, "2 web pods running", Duration::from_secs(60), |e| {
        web_pods(e).len() == 2
    });
    eventually(
        &env,
        "the budget counts 2 healthy pods",
        Duration::from_secs(30),
        |e| {
            jsonpath(
                e,
                "pdb/web",
                "{.status.currentHealthy}/{.status.disruptionsAllowed}",
            ) == "2/0"
        },
    );
    let table = ok(&env, &["get", "pdb", "web"]);
    assert!(
        table.contains("MIN AVAILABLE") && table.contains("ALLOWED DISRUPTIONS"),
        "{table}"
    );

    // Drain the worker that runs the first pod.
    let pods = web_pods(&env);
    let worker = pods[0].1.clone();
    let other = if worker.ends_with("worker") {
        format!("{cluster}-worker2")
    } else {
        format!("{cluster}-worker")
    };
    let drain_started = Instant::now();
    let mut drain = Command::new("kubectl")
        .args([
            "drain",
            &worker,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=150s",
        ])
        .env("HOME", env.kubeconfig().parent().unwrap().parent().unwrap())
        .env("KUBECONFIG", env.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Refused while the budget needs both pods: kubectl says so and retries every 5 s.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        drain.try_wait().unwrap().is_none(),
        "drain finished despite the budget"
    );
    assert_eq!(web_pods(&env).len(), 2, "a pod went despite the budget");
    ok(
        &env,
        &[
            "patch",
            "pdb",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"minAvailable":1}}"#,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(150);
    let status = loop {
        if let Some(s) = drain.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = drain.kill();
            let _ = drain.wait();
            panic!("kubectl drain did not finish");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let (mut out, mut err) = (String::new(), String::new());
    drain
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    drain
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    eprintln!(
        "$ kubectl drain {worker} ({:.1?})\n{out}{err}",
        drain_started.elapsed()
    );
    assert!(status.success(), "drain failed");
    assert!(
        err.contains("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    assert!(out.contains(&format!("node/{worker} drained")), "{out}");

    // The evicted pods come back on the other worker.
    eventually(
        &env,
        "2 web pods on the other worker",
        Duration::from_secs(90),
        |e| {
            let pods = web_pods(e);
            pods.len() == 2 && pods.iter().all(|(_, node)| *node == other)
        },
    );
    ok(&env, &["get", "pods", "-o", "wide"]);
    ok(&env, &["uncordon", &worker]);
    eprintln!("whole test {:.1?}", started.elapsed());
}
