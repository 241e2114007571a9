//! End to end, with Docker: the API server's watch cache under a real cluster's load (one
//! control plane, one worker). Twenty `kubectl get pods --watch` clients (tables, as users
//! watch) and the cluster's own watchers (scheduler, controllers, node agents) follow a
//! Deployment of 20 busybox pods scaling up and down: every watcher sees every pod arrive,
//! run and go; lists and gets agree with what writes acknowledged; a watch-list
//! (`sendInitialEvents`) ends its initial state with upstream's bookmark; after `docker
//! restart` of the control plane a watch resumes from a revision of before the restart. One
//! cluster for the whole file. Without a Docker engine the test fails when
//! `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, runtime, text, unique, Env};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-watch";
const BUSYBOX: &str = "busybox:latest";
const WATCHERS: usize = 20;
const REPLICAS: usize = 20;

/// A `kubectl get pods --watch` in the background, its lines collected by a thread.
struct Watcher {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watcher {
    fn start(env: &Env) -> Watcher {
        let mut child = Command::new("kubectl")
            .args([
                "get",
                "pods",
                "-l",
                "app=web",
                "--watch",
                "--output-watch-events",
                "--no-headers",
            ])
            .env("HOME", env.home.path())
            .env("KUBECONFIG", env.kubeconfig())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watcher { child, lines }
    }

    /// The lines so far: `EVENT NAME READY STATUS RESTARTS AGE`.
    fn drain(&self, into: &mut Vec<Vec<String>>) {
        while let Ok(line) = self.lines.try_recv() {
            into.push(line.split_whitespace().map(str::to_string).collect());
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pods some watch line showed with `status`, and pods it showed DELETED.
fn seen(lines: &[Vec<String>], status: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let running = lines
        .iter()
        .filter(|l| l.len() > 3 && l[3] == status)
        .map(|l| l[1].clone())
        .collect();
    let deleted = lines
        .iter()
        .filter(|l| l.len() > 1 && l[0] == "DELETED")
        .map(|l| l[1].clone())
        .collect();
    (running, deleted)
}

fn pod_names(env: &Env) -> BTreeSet<String> {
    text(
        &env.kubectl(&["get", "pods", "-l", "app=web", "-o", "name"])
            .stdout,
    )
    .lines()
    .map(|l| l.trim_start_matches("pod/").to_string())
    .collect()
}

#[test]
fn watchers_follow_a_deployment_through_scale_up_down_and_a_restart() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut env = Env::new();
    let cluster = unique("watch");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", BUSYBOX, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    eprintln!("cluster ready after {:.1?}", started.elapsed());

    // Twenty users watching, then a Deployment scaled up to 20 pods.
    let watchers: Vec<Watcher> = (0..WATCHERS).map(|_| Watcher::start(&env)).collect();
    std::thread::sleep(Duration::from_secs(2));
    let phase = Instant::now();
    ok(
        &env,
        &[
            "create",
            "deployment",
            "web",
            "--image=busybox:latest",
            "--replicas=1",
            "--",
            "httpd",
            "-f",
            "-p",
            "8080",
        ],
    );
    ok(
        &env,
        &[
            "scale",
            "deployment",
            "web",
            &format!("--replicas={REPLICAS}"),
        ],
    );
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=120s"],
    );
    eprintln!("{REPLICAS} pods available after {:.1?}", phase.elapsed());
    // What the rollout's end acknowledged, every read sees: the list has all the pods Running.
    let pods = pod_names(&env);
    assert_eq!(pods.len(), REPLICAS, "{pods:?}");
    let running = ok(&env, &["get", "pods", "-l", "app=web", "--no-headers"]);
    assert_eq!(
        running.lines().filter(|l| l.contains(" Running ")).count(),
        REPLICAS,
        "{running}"
    );

    // Every watcher saw every pod Running (the lines of a busy cluster arrive within seconds).
    let mut lines: Vec<Vec<Vec<String>>> = vec![Vec::new(); WATCHERS];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (w, l) in watchers.iter().zip(lines.iter_mut()) {
            w.drain(l);
        }
        let behind: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !pods.is_subset(&seen(l, "Running").0))
            .map(|(i, _)| i)
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watchers {behind:?} missed pods Running: {:?}",
            lines[behind[0]]
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Scaled to zero: every watcher sees every pod go.
    ok(&env, &["scale", "deployment", "web", "--replicas=0"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for (w, l) in watchers.iter().zip(lines.iter_mut()) {
            w.drain(l);
        }
        let behind = lines
            .iter()
            .filter(|l| !pods.is_subset(&seen(l, "Running").1))
            .count();
        if behind == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{behind} watchers did not see every pod deleted"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(pod_names(&env).is_empty());
    drop(watchers);
    eprintln!(
        "scale up and down seen by {WATCHERS} watchers after {:.1?}",
        phase.elapsed()
    );

    // A watch-list: the initial state, then upstream's bookmark ending it.
    let raw = env.ok_kubectl(&["get", "--raw", "/api/v1/namespaces/kube-system/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=3"]);
    let events: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = events
        .iter()
        .position(|e| e["type"] == "BOOKMARK")
        .expect("a bookmark");
    assert!(end > 0, "kube-system has pods: {raw}");
    assert!(events[..end].iter().all(|e| e["type"] == "ADDED"));
    assert_eq!(
        events[end]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );

    // A watch from before a restart of the control plane resumes after it: no 410, the change.
    let list = env.ok_kubectl(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let before = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(before.parse::<u64>().is_ok(), "{list}");
    ok(
        &env,
        &["create", "configmap", "after-restart", "--from-literal=a=b"],
    );
    let restarted = Command::new("docker")
        .args(["restart", &format!("{cluster}-control-plane")])
        .output()
        .unwrap();
    assert!(restarted.status.success(), "{}", text(&restarted.stderr));
    eprintln!("control plane restarted after {:.1?}", started.elapsed());
    let deadline = Instant::now() + Duration::from_secs(60);
    let resumed = loop {
        let out = env.kubectl(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={before}&timeoutSeconds=2")]);
        if out.status.success() {
            break text(&out.stdout);
        }
        assert!(
            Instant::now() < deadline,
            "the API server did not come back: {}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let first: serde_json::Value =
        serde_json::from_str(resumed.lines().next().unwrap_or("null")).unwrap();
    assert_eq!(first["type"], "ADDED", "{resumed}");
    assert_eq!(
        first["object"]["metadata"]["name"], "after-restart",
        "{resumed}"
    );
    eprintln!("done after {:.1?}", started.elapsed());
}
