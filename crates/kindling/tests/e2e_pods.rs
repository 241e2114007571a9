//! End to end, with Docker: pods run for real on a worker node through the node agent's CRI
//! pod runner. A cluster with one control plane and one worker, the busybox test image loaded,
//! pods bound with `spec.nodeName` (no scheduler needed), checked with the real kubectl and
//! inside the node (containerd's `ctr`, the CRI log files, the pod volume directories).
//! Without a Docker engine these tests fail when `KINDLING_REQUIRE_DOCKER=1` and are skipped
//! with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, runtime, text, unique, Env, TestImage};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// The node image for these tests: built from this very binary under its own name, so builds
/// of other binaries (other checkouts on the same engine) cannot swap it underneath.
const NODE_IMAGE: &str = "kindling/node:e2e-pods";

/// A cluster of one control plane and one worker from this file's node image.
fn create(env: &mut Env, name: &str) {
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(name, Some(NODE_IMAGE), Some(config));
}

/// A pod on `node` running `script` in the busybox image.
fn pod_yaml(name: &str, node: &str, image: &str, policy: &str, script: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  restartPolicy: {policy}\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", {script:?}]\n"
    )
}

/// The container IDs (and sandbox IDs: the pause containers) containerd holds in the node.
fn node_containers(node: &str) -> String {
    node_exec(node, &["ctr", "-n", "k8s.io", "containers", "ls", "-q"])
}

/// Creates pod `name` through the API and returns how long it took to report Running.
async fn create_to_running(
    kubeconfig: &std::path::Path,
    name: &str,
    node: &str,
    image: &str,
) -> Duration {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, PostParams};
    use kube::runtime::watcher;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"]}]},
    }))
    .unwrap();
    let mut events = watcher(
        pods.clone(),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .boxed();
    // The watch is established (initial list done) before the clock starts.
    while let Some(e) = events.next().await {
        if matches!(e, Ok(watcher::Event::InitDone)) {
            break;
        }
    }
    let started = Instant::now();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let deadline = started + Duration::from_secs(60);
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline.into(), events.next()).await {
        if let Ok(watcher::Event::Apply(p)) = e {
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
                return started.elapsed();
            }
        }
    }
    panic!("pod {name} never reported Running");
}

#[test]
fn pods_run_restart_complete_and_go_away() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/busybox:pods");
    let mut env = Env::new();
    let name = unique("pods");
    create(&mut env, &name);
    let worker = format!("{name}-worker");
    let load = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(load.status.success(), "{}", text(&load.stderr));

    // A server pod: Running, with an IP from the pod subnet, shown by `get -o wide`.
    env.apply(&pod_yaml(
        "web",
        &worker,
        &image,
        "Always",
        "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www",
    ));
    env.wait_for("web", "Running", Duration::from_secs(60), |e| {
        e.jsonpath("web", "{.status.phase}") == "Running"
    });
    let wide = env.ok_kubectl(&["get", "pods", "-o", "wide"]);
    eprintln!("{wide}");
    let row: Vec<&str> = wide
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!((row[1], row[2], row[3]), ("1/1", "Running", "0"), "{wide}");
    assert!(row[5].starts_with("10.244."), "IP column: {wide}");
    assert_eq!(row[6], worker, "NODE column: {wide}");
    let web_ip = row[5].to_string();
    let conditions = env.jsonpath(
        "web",
        "{range .status.conditions[*]}{.type}={.status} {end}",
    );
    for c in [
        "PodReadyToStartContainers=True",
        "Initialized=True",
        "Ready=True",
        "ContainersReady=True",
        "PodScheduled=True",
    ] {
        assert!(conditions.contains(c), "{c} missing from {conditions}");
    }
    let cid = env.jsonpath("web", "{.status.containerStatuses[0].containerID}");
    assert!(cid.starts_with("containerd://"), "{cid}");
    let node_ip = env.ok_kubectl(&[
        "get",
        "node",
        &worker,
        "-o",
        "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    assert_eq!(env.jsonpath("web", "{.status.hostIP}"), node_ip);
    assert_eq!(env.jsonpath("web", "{.status.qosClass}"), "BestEffort");

    // Pod create → Running, measured through the API.
    let latency = rt.block_on(create_to_running(
        &env.kubeconfig(),
        "latency",
        &worker,
        &image,
    ));
    eprintln!("pod create → Running latency (one pod, image present): {latency:?}");

    // A run-to-completion pod reaches the server by its pod IP: Completed, its output in the
    // CRI log file the runtime wrote (what `kubectl logs` will serve).
    env.apply(&pod_yaml(
        "client",
        &worker,
        &image,
        "Never",
        &format!("wget -qO- http://{web_ip}:8080/index.html"),
    ));
    env.wait_for("client", "Completed", Duration::from_secs(60), |e| {
        e.status_column("client").0 == "Completed"
    });
    assert_eq!(env.jsonpath("client", "{.status.phase}"), "Succeeded");
    assert_eq!(
        env.jsonpath(
            "client",
            "{.status.containerStatuses[0].state.terminated.reason}"
        ),
        "Completed"
    );
    let uid = env.jsonpath("client", "{.metadata.uid}");
    let log = node_exec(
        &worker,
        &[
            "cat",
            &format!("/var/log/pods/default_client_{uid}/main/0.log"),
        ],
    );
    assert!(log.contains("stdout F hello-from-web"), "client log: {log}");

    // Crash loop: restarts grow and the back-off shows.
    env.apply(&pod_yaml(
        "crash",
        &worker,
        &image,
        "Always",
        "echo dying; exit 1",
    ));
    env.wait_for("crash", "CrashLoopBackOff", Duration::from_secs(60), |e| {
        e.status_column("crash").0 == "CrashLoopBackOff"
    });
    env.wait_for("crash", "a second restart", Duration::from_secs(60), |e| {
        e.jsonpath("crash", "{.status.containerStatuses[0].restartCount}")
            .parse::<i32>()
            .unwrap_or(0)
            >= 2
    });
    let (status, restarts) = env.status_column("crash");
    eprintln!("crash: {status} {restarts}");
    assert_eq!(
        env.jsonpath(
            "crash",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "1"
    );
    assert_eq!(env.jsonpath("crash", "{.status.phase}"), "Running");
    let events = env.ok_kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=crash",
    ]);
    assert!(events.contains("BackOff"), "{events}");

    // Environment from a configMap, a secret and the downward API, an init container writing
    // into an emptyDir: all visible to the main container, checked in the node.
    env.ok_kubectl(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    env.ok_kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=s3cr3t",
    ]);
    env.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: envtest
  labels: {{app: envtest}}
spec:
  nodeName: {worker}
  restartPolicy: OnFailure
  initContainers:
  - name: init
    image: {image}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo init-ran > /work/init.txt"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: main
    image: {image}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo color=$COLOR password=$PASSWORD pod=$POD greeting=$(GREETING) file=$(cat /etc/settings/color) init=$(cat /work/init.txt) > /work/out.txt"]
    env:
    - {{name: GREETING, value: hi}}
    - {{name: COLOR, valueFrom: {{configMapKeyRef: {{name: settings, key: color}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    volumeMounts:
    - {{name: work, mountPath: /work}}
    - {{name: settings, mountPath: /etc/settings}}
  volumes:
  - {{name: work, emptyDir: {{}}}}
  - {{name: settings, configMap: {{name: settings}}}}
"#
    ));
    env.wait_for("envtest", "Completed", Duration::from_secs(60), |e| {
        e.status_column("envtest").0 == "Completed"
    });
    let uid = env.jsonpath("envtest", "{.metadata.uid}");
    let out = node_exec(
        &worker,
        &[
            "cat",
            &format!("/var/lib/kindling/pods/{uid}/volumes/kubernetes.io~empty-dir/work/out.txt"),
        ],
    );
    assert_eq!(
        out.trim(),
        "color=blue password=s3cr3t pod=envtest greeting=hi file=blue init=init-ran"
    );
    assert_eq!(
        env.jsonpath(
            "envtest",
            "{.status.initContainerStatuses[0].state.terminated.reason}"
        ),
        "Completed"
    );

    // Delete: containers stopped and removed in the node, then the object is gone.
    let web_id = cid.trim_start_matches("containerd://").to_string();
    let web_uid = env.jsonpath("web", "{.metadata.uid}");
    assert!(node_containers(&worker).contains(&web_id));
    let started = Instant::now();
    env.ok_kubectl(&["delete", "pod", "web", "--wait=true"]);
    eprintln!("delete web took {:?}", started.elapsed());
    let gone = env.kubectl(&["get", "pod", "web"]);
    assert!(!gone.status.success() && text(&gone.stderr).contains("NotFound"));
    let left = node_containers(&worker);
    assert!(
        !left.contains(&web_id),
        "web's container still in the node:\n{left}"
    );
    assert!(
        !node_exec(&worker, &["ls", "/var/lib/kindling/pods"]).contains(&web_uid),
        "web's pod directory is still in the node"
    );
    // Forced deletion (the object goes at once): the agent removes the orphaned sandbox.
    let crash_uid = env.jsonpath("crash", "{.metadata.uid}");
    env.ok_kubectl(&["delete", "pod", "crash", "--grace-period=0", "--force"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pods_dir = node_exec(&worker, &["ls", "/var/lib/kindling/pods"]);
        let labels = node_exec(
            &worker,
            &[
                "ctr",
                "-n",
                "k8s.io",
                "containers",
                "ls",
                &format!("labels.\"io.kubernetes.pod.uid\"=={crash_uid}"),
            ],
        );
        if !pods_dir.contains(&crash_uid) && labels.lines().count() <= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "crash's containers remain:\n{labels}\n{pods_dir}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn image_policies_and_late_loaded_images() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/late:pods");
    let mut env = Env::new();
    let name = unique("pullpol");
    create(&mut env, &name);
    let worker = format!("{name}-worker");

    // Not loaded yet, pull policy Never: ErrImageNeverPull with upstream's message.
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: late\nspec:\n  nodeName: {worker}\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"3600\"]\n"
    ));
    env.wait_for("late", "ErrImageNeverPull", Duration::from_secs(60), |e| {
        e.status_column("late").0 == "ErrImageNeverPull"
    });
    let message = env.jsonpath(
        "late",
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert_eq!(
        message,
        format!("Container image \"{image}\" is not present with pull policy of Never")
    );
    // `kindling load docker-image` afterwards: the pod starts, as with kind.
    let load = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(load.status.success(), "{}", text(&load.stderr));
    env.wait_for(
        "late",
        "Running after the load",
        Duration::from_secs(30),
        |e| e.jsonpath("late", "{.status.phase}") == "Running",
    );

    // An image no registry has, pull policy Always: ErrImagePull, then ImagePullBackOff.
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nowhere\nspec:\n  nodeName: {worker}\n  containers:\n  - name: main\n    image: registry.invalid/none:1.0\n    imagePullPolicy: Always\n"
    ));
    env.wait_for(
        "nowhere",
        "ImagePullBackOff",
        Duration::from_secs(90),
        |e| e.status_column("nowhere").0 == "ImagePullBackOff",
    );
    assert_eq!(env.jsonpath("nowhere", "{.status.phase}"), "Pending");
    let events = env.ok_kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=nowhere",
    ]);
    assert!(events.contains("Failed to pull image"), "{events}");
}

/// `kubectl run` is scheduled (no nodeName given) onto the worker, and a pod on the other node
/// reaches it by pod IP across nodes (routes between nodes' podCIDRs).
#[test]
fn scheduled_pod_reachable_across_nodes() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/net:pods");
    let mut env = Env::new();
    let name = unique("net");
    create(&mut env, &name);
    let out = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = env.kubectl(&[
        "run",
        "web",
        &format!("--image={image}"),
        "--image-pull-policy=IfNotPresent",
        "--",
        "sh",
        "-c",
        "echo cross-node > /tmp/index.html; httpd -f -p 8080 -h /tmp",
    ]);
    assert_eq!(
        text(&out.stdout).trim(),
        "pod/web created",
        "{}",
        text(&out.stderr)
    );
    env.wait_for("web", "Running", Duration::from_secs(60), |e| {
        e.status_column("web").0 == "Running"
    });
    let worker = format!("{name}-worker");
    assert_eq!(
        env.jsonpath("web", "{.spec.nodeName}"),
        worker,
        "the control plane is tainted"
    );
    let ip = env.jsonpath("web", "{.status.podIP}");
    assert!(ip.starts_with("10.244."), "{ip}");
    let control_plane = format!("{name}-control-plane");
    env.apply(&pod_yaml(
        "client",
        &control_plane,
        &image,
        "Never",
        &format!("wget -qO- http://{ip}:8080/"),
    ));
    env.wait_for("client", "Completed", Duration::from_secs(60), |e| {
        e.status_column("client").0 == "Completed"
    });
    let log = node_exec(
        &control_plane,
        &["sh", "-c", "cat /var/log/pods/default_client_*/main/0.log"],
    );
    assert!(log.contains("cross-node"), "{log}");
}
