//! End to end, with Docker: StatefulSets (and DaemonSets) on a real cluster (one control plane,
//! two workers) with busybox pods, driven by the real kubectl: pods `web-0,1,2` created in
//! order, each resolvable as `web-N.web` through the headless Service from another pod, scaled
//! down from the top, rolled from the top down, a partition respected, `rollout
//! status|history`. One cluster for the whole file. Without a Docker engine the test fails
//! when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, runtime, text, unique, Env};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-statefulset";
const BUSYBOX: &str = "busybox:latest";
const BUSYBOX_OLDER: &str = "busybox:1.36";

/// The pods labelled `app=<app>`: name → (image, terminating, node, pod IP, created, ready since).
#[derive(Clone, Debug, Default)]
struct PodView {
    image: String,
    terminating: bool,
    ip: String,
    created: String,
    ready_since: Option<String>,
}

fn pods(env: &Env, app: &str) -> BTreeMap<String, PodView> {
    let out = env.kubectl(&["get", "pods", "-l", &format!("app={app}"), "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut pods = BTreeMap::new();
    for p in list["items"].as_array().into_iter().flatten() {
        let ready = p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready" && c["status"] == "True")
            .map(|c| c["lastTransitionTime"].as_str().unwrap_or("").to_string());
        pods.insert(
            p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            PodView {
                image: p["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("")
                    .into(),
                terminating: !p["metadata"]["deletionTimestamp"].is_null(),
                ip: p["status"]["podIP"].as_str().unwrap_or("").into(),
                created: p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .into(),
                ready_since: ready,
            },
        );
    }
    pods
}

/// Polls the pods until `done`, noting the order in which pods first start to go (terminating
/// or gone) among `watched`.
fn order_of_leaving(
    env: &Env,
    app: &str,
    watched: &[&str],
    timeout: Duration,
    done: impl Fn(&BTreeMap<String, PodView>) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut order: Vec<String> = Vec::new();
    let first = pods(env, app);
    let uid_of = |p: &BTreeMap<String, PodView>, n: &str| p.get(n).map(|v| v.created.clone());
    let original: BTreeMap<&str, Option<String>> =
        watched.iter().map(|n| (*n, uid_of(&first, n))).collect();
    loop {
        let now = pods(env, app);
        for name in watched {
            let left = match now.get(*name) {
                None => true,
                Some(v) => v.terminating || Some(v.created.clone()) != original[name],
            };
            if left && !order.iter().any(|o| o == name) {
                order.push(name.to_string());
            }
        }
        if done(&now) {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "not done in {timeout:?}: {now:?}, left so far {order:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `sh -c script` in `pod` until its output contains `want` (30 s).
fn until_exec(env: &Env, pod: &str, script: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = env.kubectl(&["exec", pod, "--", "sh", "-c", script]);
        let out = format!("{}{}", text(&out.stdout), text(&out.stderr));
        if out.contains(want) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "in {pod}: `{script}` never gave {want}; last:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn web_yaml(image: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {image}
        command: ["httpd", "-f", "-p", "80"]
"#
    )
}

#[test]
fn stateful_sets_and_daemon_sets_on_real_nodes() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    for image in [BUSYBOX, BUSYBOX_OLDER] {
        runtime()
            .block_on(kindling_image::build_test_image(image))
            .expect("building the busybox image");
    }
    let mut env = Env::new();
    let cluster = unique("sts");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    for image in [BUSYBOX, BUSYBOX_OLDER] {
        let out = env.kindling(&["load", "docker-image", image, "--name", &cluster]);
        assert!(out.status.success(), "load: {}", text(&out.stderr));
    }
    eprintln!("cluster ready after {:.1?}", started.elapsed());

    stateful_set(&env);
    eprintln!("statefulset part done after {:.1?}", started.elapsed());
    daemon_set(&env, &cluster);
    eprintln!("daemonset part done after {:.1?}", started.elapsed());
}

/// Node name → pods of `app` on it (not terminating).
fn pods_by_node(env: &Env, app: &str) -> BTreeMap<String, Vec<String>> {
    let out = env.kubectl(&["get", "pods", "-l", &format!("app={app}"), "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in list["items"].as_array().into_iter().flatten() {
        if !p["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        map.entry(node)
            .or_default()
            .push(p["metadata"]["name"].as_str().unwrap_or("").to_string());
    }
    map
}

fn wait(env: &Env, what: &str, check: impl Fn(&Env) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check(env) {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen: {:?}",
            pods_by_node(env, "agent")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn daemon_set(env: &Env, cluster: &str) {
    let phase = Instant::now();
    let (cp, w1, w2) = (
        format!("{cluster}-control-plane"),
        format!("{cluster}-worker"),
        format!("{cluster}-worker2"),
    );
    let all = [cp.clone(), w1.clone(), w2.clone()];
    env.apply(&format!(
        r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}}
      containers:
      - name: main
        image: {BUSYBOX}
        command: ["httpd", "-f", "-p", "8080"]
"#
    ));
    let out = ok(env, &["rollout", "status", "ds/agent", "--timeout=120s"]);
    assert!(
        out.contains("daemon set \"agent\" successfully rolled out"),
        "{out}"
    );
    let on = pods_by_node(env, "agent");
    assert_eq!(
        on.keys().cloned().collect::<Vec<_>>(),
        all,
        "one pod per node: {on:?}"
    );
    assert!(on.values().all(|p| p.len() == 1));
    let table = ok(env, &["get", "ds", "agent"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..6], ["agent", "3", "3", "3", "3", "3"], "{table}");
    eprintln!("daemon set on every node after {:.1?}", phase.elapsed());

    // A NoSchedule taint keeps the pod there but makes no new one; untainted, it comes back.
    ok(env, &["taint", "nodes", &w2, "e2e=x:NoSchedule"]);
    let pod = on[&w2][0].clone();
    ok(env, &["delete", "pod", &pod, "--wait=false"]);
    wait(env, "the tainted node's pod gone", |e| {
        !pods_by_node(e, "agent").contains_key(&w2)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !pods_by_node(env, "agent").contains_key(&w2),
        "no pod on the tainted node"
    );
    let desired = text(
        &env.kubectl(&[
            "get",
            "ds",
            "agent",
            "-o",
            "jsonpath={.status.desiredNumberScheduled}",
        ])
        .stdout,
    );
    assert_eq!(desired, "2");
    ok(env, &["taint", "nodes", &w2, "e2e=x:NoSchedule-"]);
    wait(env, "a pod back on the untainted node", |e| {
        pods_by_node(e, "agent").contains_key(&w2)
    });
    ok(env, &["rollout", "status", "ds/agent", "--timeout=60s"]);

    // A new image rolls one node at a time.
    ok(
        env,
        &["set", "image", "ds/agent", &format!("main={BUSYBOX_OLDER}")],
    );
    let out = ok(env, &["rollout", "status", "ds/agent", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let images = ok(
        env,
        &[
            "get",
            "pods",
            "-l",
            "app=agent",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
    );
    assert!(
        images.split_whitespace().all(|i| i == BUSYBOX_OLDER),
        "{images}"
    );
    let history = ok(env, &["rollout", "history", "ds/agent"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );
    eprintln!("daemonset phase took {:.1?}", phase.elapsed());
}

fn stateful_set(env: &Env) {
    let phase = Instant::now();
    env.apply(&web_yaml(BUSYBOX));
    env.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox:latest, command: [sleep, '3600']}\n");
    let out = ok(env, &["rollout", "status", "sts/web", "--timeout=120s"]);
    assert!(out.contains("partitioned roll out complete: 3 new pods have been updated"));
    eprintln!("3 pods ready after {:.1?}", phase.elapsed());

    // In order: each pod created once the one before it was ready.
    let p = pods(env, "web");
    assert_eq!(p.keys().collect::<Vec<_>>(), ["web-0", "web-1", "web-2"]);
    for (before, after) in [("web-0", "web-1"), ("web-1", "web-2")] {
        let ready = p[before].ready_since.clone().unwrap();
        assert!(
            p[after].created >= ready && p[after].created >= p[before].created,
            "{after} created {} before {before} was ready ({ready})",
            p[after].created
        );
    }
    let table = ok(env, &["get", "sts", "web"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["web", "3/3"]);

    // Each pod by name through the headless Service.
    env.wait_for("client", "client running", Duration::from_secs(60), |e| {
        e.status_column("client").0 == "Running"
    });
    for (name, view) in &p {
        // busybox's nslookup applies the search list to dotless names only: the full name.
        let fqdn = format!("{name}.web.default.svc.cluster.local");
        let out = until_exec(env, "client", &format!("nslookup {fqdn}"), &view.ip);
        eprintln!("nslookup {fqdn}\n{out}");
    }

    // Scale down: web-2 goes before web-1.
    ok(env, &["scale", "sts", "web", "--replicas=1"]);
    let order = order_of_leaving(
        env,
        "web",
        &["web-1", "web-2"],
        Duration::from_secs(60),
        |p| p.len() == 1,
    );
    assert_eq!(order, ["web-2", "web-1"]);
    ok(env, &["scale", "sts", "web", "--replicas=3"]);
    ok(env, &["rollout", "status", "sts/web", "--timeout=120s"]);

    // A new image rolls from the top down.
    ok(
        env,
        &["set", "image", "sts/web", &format!("main={BUSYBOX_OLDER}")],
    );
    let order = order_of_leaving(
        env,
        "web",
        &["web-0", "web-1", "web-2"],
        Duration::from_secs(120),
        |p| {
            p.len() == 3
                && p.values()
                    .all(|v| v.image == BUSYBOX_OLDER && v.ready_since.is_some() && !v.terminating)
        },
    );
    assert_eq!(order, ["web-2", "web-1", "web-0"]);
    ok(env, &["rollout", "status", "sts/web", "--timeout=60s"]);

    // A partition of 2: only web-2 moves.
    ok(
        env,
        &[
            "patch",
            "sts",
            "web",
            "-p",
            r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#,
        ],
    );
    ok(
        env,
        &["set", "image", "sts/web", &format!("main={BUSYBOX}")],
    );
    let out = ok(env, &["rollout", "status", "sts/web", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated"),
        "{out}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let p = pods(env, "web");
    assert_eq!(p["web-2"].image, BUSYBOX);
    assert_eq!(
        (p["web-0"].image.as_str(), p["web-1"].image.as_str()),
        (BUSYBOX_OLDER, BUSYBOX_OLDER)
    );

    // The history kubectl reads from the ControllerRevisions.
    let history = ok(env, &["rollout", "history", "sts/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // busybox:latest again reuses revision 1's template, renumbered 3.
    assert_eq!(revisions, ["2", "3"], "{history}");
    let describe = ok(env, &["describe", "sts", "web"]);
    assert!(
        describe.contains("create Pod web-0 in StatefulSet web successful"),
        "{describe}"
    );
    ok(env, &["delete", "sts", "web"]);
    eprintln!("statefulset phase took {:.1?}", phase.elapsed());
}
