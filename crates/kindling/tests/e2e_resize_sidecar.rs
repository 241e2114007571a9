//! End to end, with Docker: sidecar containers (KEP-753) and in-place pod resize (KEP-1287) on a
//! real node agent. One cluster (a control plane and a worker) for the file, the busybox test
//! image loaded, pods bound with `spec.nodeName`, checked with the real kubectl and inside the
//! containers' cgroups.
//!
//! The resize test changes a running pod's resources with `kubectl patch pod …
//! --subresource resize`, a strategic merge patch: containers merge by name, so a patch naming
//! only limits keeps the requests (a JSON merge patch would replace the container's resources
//! and the requests would default to the new limits, as upstream).
//! Without a Docker engine these tests fail when `KINDLING_REQUIRE_DOCKER=1` and are skipped
//! with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, runtime, text, unique, Env};
use std::time::Duration;

/// The node image for these tests, built from this very binary under its own name.
const NODE_IMAGE: &str = "kindling/node:e2e-resize-sidecar";

/// The file's cluster: one control plane and one worker, the test image loaded; deleted when
/// dropped.
struct Cluster {
    env: Env,
    worker: String,
    image: String,
}

impl Cluster {
    fn create() -> Cluster {
        common::ensure_node_image(NODE_IMAGE);
        let image = format!("kindling-e2e/busybox:resize-{}", std::process::id());
        runtime()
            .block_on(kindling_image::build_test_image(&image))
            .unwrap();
        let mut env = Env::new();
        let name = unique("resize");
        let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
        env.create_with(&name, Some(NODE_IMAGE), Some(config));
        let load = env.kindling(&["load", "docker-image", &image, "--name", &name]);
        assert!(load.status.success(), "{}", text(&load.stderr));
        Cluster {
            env,
            worker: format!("{name}-worker"),
            image,
        }
    }
}

/// One part of the file's test.
type Part = fn(&Cluster);

/// One cluster for the file: each part runs against it, a failed part does not stop the next,
/// and the first failure fails the test once the cluster is gone.
#[test]
fn sidecars_and_in_place_resize() {
    if !docker_available() {
        return;
    }
    let cluster = Cluster::create();
    let parts: [(&str, Part); 2] = [
        (
            "sidecar",
            a_sidecar_runs_beside_the_app_and_stops_when_it_completes,
        ),
        ("resize", a_running_pods_cpu_limit_is_resized_in_place),
    ];
    let mut failures = Vec::new();
    for (name, part) in parts {
        let started = std::time::Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| part(&cluster))) {
            Ok(()) => eprintln!("part {name}: ok in {:?}", started.elapsed()),
            Err(e) => {
                eprintln!("part {name}: FAILED");
                failures.push(e);
            }
        }
    }
    let image = cluster.image.clone();
    drop(cluster);
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
    if let Some(first) = failures.into_iter().next() {
        std::panic::resume_unwind(first);
    }
}

/// The READY and STATUS columns of `kubectl get pod`.
fn ready_and_status(env: &Env, pod: &str) -> (String, String) {
    let out = text(&env.kubectl(&["get", "pod", pod, "--no-headers"]).stdout);
    let cols: Vec<&str> = out.split_whitespace().collect();
    if cols.len() < 3 {
        return (String::new(), String::new());
    }
    (cols[1].to_string(), cols[2].to_string())
}

fn a_sidecar_runs_beside_the_app_and_stops_when_it_completes(c: &Cluster) {
    let env = &c.env;
    // A Job's pod, as the sidecar KEP's main use: the Job completes when the app does, the
    // sidecar does not keep it running.
    env.apply(&format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: sidecar
spec:
  backoffLimit: 0
  template:
    spec:
      nodeName: {worker}
      restartPolicy: Never
      terminationGracePeriodSeconds: 2
      initContainers:
      - name: side
        image: {image}
        imagePullPolicy: IfNotPresent
        restartPolicy: Always
        command: ["sh", "-c", "while true; do echo side; sleep 1; done"]
      containers:
      - name: app
        image: {image}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "sleep 5; exit 0"]
"#,
        worker = c.worker,
        image = c.image
    ));
    // `items[*]`, not `items[0]`: kubectl fails on an index into the empty list the get
    // sees before the Job controller has made the pod.
    let job_pod = |e: &Env| {
        let names = e.ok_kubectl(&[
            "get",
            "pods",
            "-l",
            "job-name=sidecar",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        names
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    common::eventually(
        env,
        "the Job's pod",
        Duration::from_secs(20),
        &["get", "jobs,pods", "-o", "wide"],
        |e| !job_pod(e).is_empty(),
    );
    let pod = job_pod(env);
    let pod = pod.as_str();
    // While the app runs, both run and are ready: 2/2 Running.
    env.wait_for(pod, "2/2 Running", Duration::from_secs(60), |e| {
        ready_and_status(e, pod) == ("2/2".into(), "Running".into())
    });
    let get = env.ok_kubectl(&["get", "pod", pod]);
    eprintln!("{get}");
    let side = env.jsonpath(
        pod,
        "{.status.initContainerStatuses[0].started} {.status.initContainerStatuses[0].ready}",
    );
    assert_eq!(side, "true true", "the sidecar's started/ready");
    assert_eq!(env.jsonpath(pod, "{.status.phase}"), "Running");
    let logs = env.ok_kubectl(&["logs", pod, "-c", "side"]);
    eprintln!(
        "kubectl logs sidecar -c side: {} lines",
        logs.lines().count()
    );
    assert!(logs.lines().any(|l| l == "side"), "sidecar logs: {logs}");

    // The app exits 0: the sidecar is stopped and the pod completes from the app alone.
    env.wait_for(pod, "Succeeded", Duration::from_secs(60), |e| {
        e.jsonpath(pod, "{.status.phase}") == "Succeeded"
    });
    let get = env.ok_kubectl(&["get", "pod", pod]);
    eprintln!("{get}");
    assert_eq!(
        ready_and_status(env, pod),
        ("0/2".into(), "Completed".into()),
        "{get}"
    );
    let app_exit = env.jsonpath(
        pod,
        "{.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!(app_exit, "0");
    let side_done = env.jsonpath(
        pod,
        "{.status.initContainerStatuses[0].state.terminated.finishedAt}",
    );
    let app_done = env.jsonpath(
        pod,
        "{.status.containerStatuses[0].state.terminated.finishedAt}",
    );
    assert!(!side_done.is_empty(), "the sidecar is terminated");
    eprintln!("app finished {app_done}, sidecar finished {side_done}");
    assert!(
        side_done >= app_done,
        "the sidecar stops after the app: {side_done} < {app_done}"
    );
    let conditions = env.jsonpath(
        pod,
        "{range .status.conditions[*]}{.type}={.status}/{.reason} {end}",
    );
    assert!(
        conditions.contains("Ready=False/PodCompleted"),
        "{conditions}"
    );
    // The Job is Complete with one success: the sidecar did not hold it up.
    let mut job = String::new();
    for _ in 0..50 {
        job = env.ok_kubectl(&["get", "job", "sidecar", "--no-headers"]);
        if job.contains("Complete") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("kubectl get job sidecar: {job}");
    assert!(job.contains("Complete") && job.contains("1/1"), "{job}");
    env.ok_kubectl(&["delete", "job", "sidecar", "--wait=true"]);
}

/// The container's CFS quota as its cgroup has it (cgroup v2 `cpu.max`'s first field, v1
/// `cpu.cfs_quota_us`), read inside the pod.
fn cpu_quota(env: &Env, pod: &str) -> String {
    let script = "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us";
    let out = env.ok_kubectl(&["exec", pod, "--", "sh", "-c", script]);
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Changes pod `pod`'s resources through `pods/resize`, as the Kubernetes docs do.
fn resize(env: &Env, pod: &str, resources: &str) {
    let patch =
        format!(r#"{{"spec":{{"containers":[{{"name":"main","resources":{resources}}}]}}}}"#);
    env.ok_kubectl(&["patch", "pod", pod, "--subresource", "resize", "-p", &patch]);
}

fn a_running_pods_cpu_limit_is_resized_in_place(c: &Cluster) {
    let env = &c.env;
    env.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: resize
spec:
  nodeName: {worker}
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: {image}
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests: {{cpu: 100m}}
      limits: {{cpu: 200m}}
"#,
        worker = c.worker,
        image = c.image
    ));
    env.wait_for("resize", "Running", Duration::from_secs(60), |e| {
        e.jsonpath("resize", "{.status.phase}") == "Running"
    });
    let before = cpu_quota(env, "resize");
    eprintln!("cgroup CPU quota before: {before}");
    assert_eq!(before, "20000", "200m before the resize");
    let limit = "{.status.containerStatuses[0].resources.limits.cpu}";
    assert_eq!(env.jsonpath("resize", limit), "200m");
    let id = env.jsonpath("resize", "{.status.containerStatuses[0].containerID}");

    resize(env, "resize", r#"{"limits":{"cpu":"400m"}}"#);
    env.wait_for("resize", "limits.cpu 400m", Duration::from_secs(30), |e| {
        e.jsonpath("resize", limit) == "400m"
    });
    let after = cpu_quota(env, "resize");
    eprintln!("cgroup CPU quota after: {after}");
    assert_eq!(after, "40000", "400m after the resize");
    let (_, restarts) = env.status_column("resize");
    assert_eq!(restarts, "0", "resized without a restart");
    eprintln!(
        "status: resources {} allocatedResources {}",
        env.jsonpath("resize", "{.status.containerStatuses[0].resources}"),
        env.jsonpath(
            "resize",
            "{.status.containerStatuses[0].allocatedResources}"
        )
    );
    assert_eq!(
        env.jsonpath("resize", "{.status.containerStatuses[0].containerID}"),
        id,
        "the same container"
    );
    assert_eq!(
        env.jsonpath(
            "resize",
            "{.status.containerStatuses[0].allocatedResources.cpu}"
        ),
        "100m"
    );
    env.wait_for(
        "resize",
        "no resize condition",
        Duration::from_secs(30),
        |e| {
            !e.jsonpath("resize", "{.status.conditions[*].type}")
                .contains("PodResize")
        },
    );

    // More CPU than the node has: Infeasible, and nothing changes.
    resize(
        env,
        "resize",
        r#"{"requests":{"cpu":"1000"},"limits":{"cpu":"1000"}}"#,
    );
    let pending = r#"{.status.conditions[?(@.type=="PodResizePending")].reason}"#;
    env.wait_for("resize", "PodResizePending", Duration::from_secs(30), |e| {
        e.jsonpath("resize", pending) == "Infeasible"
    });
    let message = env.jsonpath(
        "resize",
        r#"{.status.conditions[?(@.type=="PodResizePending")].message}"#,
    );
    eprintln!("PodResizePending Infeasible: {message}");
    assert!(
        message
            .starts_with("Node didn't have enough capacity: cpu, requested: 1000000, capacity: "),
        "{message}"
    );
    assert_eq!(env.jsonpath("resize", limit), "400m");
    assert_eq!(cpu_quota(env, "resize"), "40000");
    env.ok_kubectl(&["delete", "pod", "resize", "--wait=true"]);
}
