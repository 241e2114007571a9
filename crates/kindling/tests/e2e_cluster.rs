//! End to end, with Docker: `kindling create/get/load/delete` as a user runs them, checked with
//! the real kubectl and the Docker engine. Each test uses its own cluster name and kubeconfig and
//! removes everything it made, also when it fails. Without a Docker engine these tests fail when
//! `KINDLING_REQUIRE_DOCKER=1` (CI) and are skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::survival::{
    docker, object_count, running_web_pods, service_answer, serving_workloads, volume_file,
};
use common::{docker_available, ok, runtime, text, unique, Env, TestImage};
use kindling_provider::{DockerProvider, Provider, Stdin};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Clusters are created one at a time: the machine has two cores and the `kind` network is shared.
static SERIAL: Mutex<()> = Mutex::new(());

/// What the engine still holds of a cluster: containers and their volumes.
fn leftovers(cluster: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={cluster}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    text(&out.stdout).lines().map(str::to_string).collect()
}

fn node_ready(env: &Env, node: &str) -> bool {
    let out = env.kubectl(&[
        "get",
        "node",
        node,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    text(&out.stdout) == "True"
}

#[test]
fn quick_cluster_s1() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Env::new();
    let name = unique("s1");
    let err = env.create(&name, None);
    for step in [
        "Creating cluster",
        "Ensuring node image",
        "Preparing nodes",
        "Writing configuration",
        "Starting control-plane",
        "Installing StorageClass",
    ] {
        assert!(err.contains(step), "missing {step:?} in:\n{err}");
    }
    assert!(
        err.contains(&format!("Set kubectl context to \"kind-{name}\"")),
        "{err}"
    );
    let ctx = format!("kind-{name}");
    let info = env.ok_kubectl(&["cluster-info", "--context", &ctx]);
    assert!(
        info.contains("Kubernetes control plane is running at https://127.0.0.1:"),
        "{info}"
    );
    // The node turns Ready once its agent reports (runtime up, CNI config written).
    let node = format!("{name}-control-plane");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !node_ready(&env, &node) {
        assert!(
            std::time::Instant::now() < deadline,
            "node never Ready: {}",
            env.ok_kubectl(&["describe", "node", &node])
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let nodes = env.ok_kubectl(&["get", "nodes", "--no-headers"]);
    let cols: Vec<&str> = nodes.split_whitespace().collect();
    assert_eq!(
        (cols[0], cols[1], cols[2], cols[4]),
        (node.as_str(), "Ready", "control-plane", "v1.35.0"),
        "{nodes}"
    );
    let sc = env.ok_kubectl(&["get", "sc"]);
    assert!(sc.contains("standard (default)"), "{sc}");
    // What runs shows in kube-system, as kind's static pods do; deleted, it comes back.
    let expected = [
        "kindnet",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
    ];
    let listed = |env: &Env| env.ok_kubectl(&["get", "pods", "-A", "--no-headers"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let all_running = |pods: &str| {
        expected.iter().all(|p| {
            pods.lines().any(|l| {
                l.starts_with("kube-system")
                    && l.contains(&format!("{p}-{node} "))
                    && l.contains(" Running ")
            })
        })
    };
    while !all_running(&listed(&env)) {
        assert!(std::time::Instant::now() < deadline, "{}", listed(&env));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let scheduler = format!("kube-scheduler-{node}");
    env.ok_kubectl(&["delete", "pod", "-n", "kube-system", &scheduler]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !all_running(&listed(&env)) {
        assert!(std::time::Instant::now() < deadline, "{}", listed(&env));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The same name again is refused, and nothing of the first is harmed.
    let again = env.kindling(&["create", "cluster", "--name", &name]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains(&format!(
            "node(s) already exist for a cluster with the name \"{name}\""
        )),
        "{}",
        text(&again.stderr)
    );
    let clusters = text(&env.kindling(&["get", "clusters"]).stdout);
    assert!(clusters.lines().any(|l| l == name), "{clusters}");
    // Delete removes containers, volumes and kubeconfig entries.
    let out = env.kindling(&["delete", "cluster", "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        leftovers(&name).is_empty(),
        "containers left: {:?}",
        leftovers(&name)
    );
    let kubeconfig = std::fs::read_to_string(env.kubeconfig()).unwrap_or_default();
    assert!(
        !kubeconfig.contains(&ctx),
        "kubeconfig still has {ctx}:\n{kubeconfig}"
    );
}

#[test]
fn workers_ports_and_mounts() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Env::new();
    let name = unique("multi");
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("hello.txt"), "from the host").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: 8080\n    hostPort: {port}\n    listenAddress: 127.0.0.1\n  extraMounts:\n  - hostPath: {}\n    containerPath: /shared\n- role: worker\n",
        shared.path().display()
    );
    // `--wait` means usable: every node and every system pod Ready when create returns.
    env.clusters.push(name.clone());
    let out = env.kindling_stdin(
        &[
            "create", "cluster", "--name", &name, "--wait", "90s", "--config", "-",
        ],
        Some(&config),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Joining worker nodes"), "{err}");
    assert!(
        err.contains("Waiting ≤ 1m30s for nodes and system pods = Ready"),
        "{err}"
    );
    assert!(!err.contains("WARNING"), "{err}");
    let statuses = env.ok_kubectl(&[
        "get",
        "nodes,pods",
        "-n",
        "kube-system",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
    ]);
    // 3 nodes; the control plane's 6 system pods (API server, controller manager, scheduler,
    // kindnet, coredns, kube-proxy) and 3 on each worker.
    assert_eq!(statuses.lines().count(), 3 + 6 + 3 + 3, "{statuses}");
    assert!(statuses.lines().all(|l| l.ends_with("=True")), "{statuses}");
    let nodes = env.ok_kubectl(&["get", "nodes", "-o", "name"]);
    for n in [
        format!("{name}-control-plane"),
        format!("{name}-worker"),
        format!("{name}-worker2"),
    ] {
        assert!(
            nodes.contains(&format!("node/{n}")),
            "{n} missing from {nodes}"
        );
    }
    let worker = format!("{name}-worker");
    let rt = runtime();
    let provider = rt.block_on(DockerProvider::connect()).unwrap();
    // The host directory is visible inside the worker.
    let cat = rt
        .block_on(provider.exec(&worker, &["cat", "/shared/hello.txt"], Stdin::None))
        .unwrap();
    assert_eq!(text(&cat.stdout), "from the host");
    // A listener inside the worker answers on the mapped host port.
    let busybox =
        std::fs::read("/bin/busybox").expect("busybox-static is installed (scripts/setup.sh)");
    rt.block_on(provider.copy_files(
        &worker,
        "/usr/local/bin",
        vec![kindling_provider::FileToCopy::new(
            "busybox", busybox, 0o755,
        )],
    ))
    .unwrap();
    rt.block_on(provider.exec(
        &worker,
        &[
            "sh",
            "-c",
            "busybox nc -ll -p 8080 -e echo pong >/dev/null 2>&1 &",
        ],
        Stdin::None,
    ))
    .unwrap();
    let mut answer = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let _ = s.read_to_string(&mut answer);
            if !answer.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(answer.trim(), "pong");
    let listed = text(&env.kindling(&["get", "nodes", "--name", &name]).stdout);
    assert_eq!(listed.lines().count(), 3, "{listed}");
}

#[test]
fn two_clusters_side_by_side() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Env::new();
    let (a, b) = (unique("side-a"), unique("side-b"));
    env.create(&a, None);
    env.create(&b, None);
    for c in [&a, &b] {
        let out = env.ok_kubectl(&[
            "--context",
            &format!("kind-{c}"),
            "get",
            "nodes",
            "-o",
            "name",
        ]);
        assert_eq!(out.trim(), format!("node/{c}-control-plane"));
    }
    let out = env.kindling(&["delete", "clusters", &a, &b]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(leftovers(&a).is_empty() && leftovers(&b).is_empty());
}

#[test]
fn bad_configs_are_named_and_create_nothing() {
    if !docker_available() {
        return;
    }
    let env = Env::new();
    let name = unique("bad");
    let cases = [
        ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n", "unknown field \"nodez\""),
        ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n", "must have at least one control-plane node"),
        ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnet: 10.244.0.0/99\n", "podSubnet"),
        (
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 18080\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 18080\n",
            "18080",
        ),
    ];
    for (config, want) in cases {
        let out = env.kindling_stdin(
            &["create", "cluster", "--name", &name, "--config", "-"],
            Some(config),
        );
        assert!(!out.status.success(), "accepted:\n{config}");
        let err = text(&out.stderr);
        assert!(
            err.contains(want),
            "error for\n{config}\nlacks {want:?}:\n{err}"
        );
        assert!(
            err.contains("<stdin>:") || err.contains("stdin"),
            "no location in {err}"
        );
        assert!(leftovers(&name).is_empty());
    }
}

#[test]
fn load_docker_image_skips_nodes_that_have_it() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/busybox:cluster");
    let mut env = Env::new();
    let name = unique("load");
    env.create(&name, None);
    let first = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    let err = text(&first.stderr);
    assert!(first.status.success(), "{err}");
    assert!(
        err.contains(&format!("Image: \"{image}\" with ID \"sha256:"))
            && err.contains("not yet present on node"),
        "{err}"
    );
    let second = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    let err = text(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert!(
        err.contains("found to be already present on all nodes"),
        "{err}"
    );
    // containerd in the node has it.
    let provider = rt.block_on(DockerProvider::connect()).unwrap();
    let node = format!("{name}-control-plane");
    let ls = rt
        .block_on(provider.exec(
            &node,
            &["ctr", "-n", "k8s.io", "images", "ls", "-q"],
            Stdin::None,
        ))
        .unwrap();
    assert!(text(&ls.stdout).contains(&*image), "{}", text(&ls.stdout));
    let _ = Path::new("/");
}

#[test]
fn cluster_survives_a_restart_of_its_nodes() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Env::new();
    let name = unique("restart");
    env.create(&name, Some("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n"));
    env.ok_kubectl(&["create", "configmap", "keep", "--from-literal=a=b"]);
    let rt = runtime();
    let provider = rt.block_on(DockerProvider::connect()).unwrap();
    for node in [format!("{name}-control-plane"), format!("{name}-worker")] {
        rt.block_on(provider.stop_node(&node, 10)).unwrap();
    }
    for node in [format!("{name}-control-plane"), format!("{name}-worker")] {
        rt.block_on(provider.start_node(&node)).unwrap();
    }
    // Same kubeconfig, same port: the API answers again with everything acknowledged before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = env.kubectl(&["get", "configmap", "keep", "-o", "jsonpath={.data.a}"]);
        if out.status.success() {
            assert_eq!(text(&out.stdout), "b");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "API never came back: {}",
            text(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for node in [format!("{name}-control-plane"), format!("{name}-worker")] {
        while !node_ready(&env, &node) {
            assert!(
                std::time::Instant::now() < deadline,
                "{node} not Ready after restart"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

/// Polls `check` every 250 ms until it holds; after `timeout` the test fails naming `what`.
fn eventually(env: &Env, what: &str, timeout: std::time::Duration, check: impl Fn(&Env) -> bool) {
    common::eventually(
        env,
        what,
        timeout,
        &["get", "nodes,deploy,sts,pods", "-A"],
        check,
    );
}

/// A one-node cluster through `docker restart` of its node (a laptop's Docker restarting one
/// container): every object, the StatefulSet's volume data and the same Deployment pods back,
/// serving through their Service.
#[test]
fn single_node_survives_docker_restart() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let busybox = TestImage::build(&runtime(), "kindling/busybox:e2e-one");
    let mut env = Env::new();
    let name = unique("one");
    env.create(&name, None);
    let node = format!("{name}-control-plane");
    let out = env.kindling(&["load", "docker-image", &busybox, "--name", &name]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    env.apply(&serving_workloads(&busybox, &node));
    ok(&env, &["rollout", "status", "deploy/web", "--timeout=90s"]);
    ok(&env, &["rollout", "status", "sts/data", "--timeout=90s"]);
    eventually(
        &env,
        "the Service answering",
        std::time::Duration::from_secs(30),
        |env| service_answer(env).trim() == "hello-from-web",
    );
    let first = volume_file(&env, "first").unwrap();
    let boots = volume_file(&env, "boots").unwrap().lines().count();
    let objects = object_count(&env);
    let web_pods = running_web_pods(&env);
    assert_eq!(web_pods.len(), 2, "{web_pods:?}");

    let started = std::time::Instant::now();
    docker(&["restart", "-t", "10", &node]);
    eventually(
        &env,
        "the node Ready again",
        std::time::Duration::from_secs(60),
        |env| node_ready(env, &node),
    );
    let ready = started.elapsed();
    eventually(
        &env,
        "the StatefulSet's pod back",
        std::time::Duration::from_secs(60),
        |env| volume_file(env, "boots").is_some_and(|b| b.lines().count() == boots + 1),
    );
    assert_eq!(volume_file(&env, "first").unwrap(), first);
    eventually(
        &env,
        "the web pods of before the restart Running (and no others)",
        std::time::Duration::from_secs(60),
        |env| running_web_pods(env) == web_pods,
    );
    eventually(
        &env,
        "the Service answering",
        std::time::Duration::from_secs(30),
        |env| service_answer(env).trim() == "hello-from-web",
    );
    eprintln!(
        "docker restart of the one node: Ready after {ready:.1?}, serving after {:.1?}",
        started.elapsed()
    );
    assert_eq!(object_count(&env), objects, "objects lost or added");
    let out = env.kindling(&["delete", "cluster", "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(leftovers(&name).is_empty(), "{:?}", leftovers(&name));
}

#[test]
fn clear_errors_for_daemon_image_and_port() {
    if !docker_available() {
        return;
    }
    let env = Env::new();
    // No daemon: one line saying how to start one.
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["get", "clusters"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("Cannot connect to the Docker daemon") && err.contains("dockerd"),
        "{err}"
    );
    // A missing image is named, and nothing is created.
    let name = unique("noimg");
    let out = env.kindling(&[
        "create",
        "cluster",
        "--name",
        &name,
        "--image",
        "kindling/does-not-exist:v0",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("kindling/does-not-exist:v0"),
        "{}",
        text(&out.stderr)
    );
    assert!(leftovers(&name).is_empty());
    // A host port in use is named before anything is created.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = format!("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: {port}\n");
    let out = env.kindling_stdin(
        &["create", "cluster", "--name", &name, "--config", "-"],
        Some(&config),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&port.to_string()) && text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
    assert!(leftovers(&name).is_empty());
}

#[test]
fn kubeconfig_and_logs_export() {
    if !docker_available() {
        return;
    }
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut env = Env::new();
    let name = unique("export");
    env.create(&name, None);
    let internal = text(
        &env.kindling(&["get", "kubeconfig", "--name", &name, "--internal"])
            .stdout,
    );
    assert!(
        internal.contains(&format!("server: https://{name}-control-plane:6443")),
        "{internal}"
    );
    let external = text(&env.kindling(&["get", "kubeconfig", "--name", &name]).stdout);
    assert!(
        external.contains("server: https://127.0.0.1:"),
        "{external}"
    );
    // Export into a separate file works like the merged one.
    let other = env.home.path().join("other-config");
    let out = env.kindling(&[
        "export",
        "kubeconfig",
        "--name",
        &name,
        "--kubeconfig",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let nodes = Command::new("kubectl")
        .args(["get", "nodes", "-o", "name"])
        .env("KUBECONFIG", &other)
        .output()
        .unwrap();
    assert_eq!(
        text(&nodes.stdout).trim(),
        format!("node/{name}-control-plane")
    );
    let dir = env.home.path().join("logs");
    let out = env.kindling(&["export", "logs", dir.to_str().unwrap(), "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let node_dir = dir.join(format!("{name}-control-plane"));
    for f in ["inspect.json", "containerd.log"] {
        assert!(
            node_dir.join(f).exists(),
            "{f} missing in {}",
            node_dir.display()
        );
    }
}
