//! End to end, with Docker: a cluster that lives (issue 16, lifecycle). One control plane and
//! two workers running a Deployment behind a Service and a StatefulSet whose claim holds a
//! file, then, in order on that one cluster:
//! - a host reboot, simulated: every node container stopped, the Docker daemon restarted (as
//!   scripts/docker.sh starts it), the nodes started in reverse order so Docker hands out other
//!   addresses → nodes Ready at their new InternalIPs, the file back, the Service answering,
//!   as many objects as before;
//! - `kindling stop cluster` / `start cluster` (Ready time printed), `get clusters -o wide`;
//! - `kindling create node` (kind's next name, a label) and its refusals, `kindling delete
//!   node` held by a PodDisruptionBudget, then done once the budget allows;
//! - `kindling edit cluster --port-add` of a NodePort (to the control plane and to a worker by
//!   short name) → the host's port answers; a port in use, an unknown node and a malformed
//!   spec refused with nothing changed; `--port-remove` → connection refused; the kept port
//!   answers again after `stop`/`start cluster`;
//! - `kindling upgrade cluster --image` to a rebuilt node image (a `docker commit` of it: new ID)
//!   → every node container and the port proxy (made again, same ports) on it, the Deployment
//!   serving, the PV file still there, the added port still answering through the new proxy;
//!   an image that does not exist refused. Then the last port removed
//!   (the proxy goes), one added again, and `delete cluster` leaves no container behind.
//!
//! Restarting the daemon stops every container on it: the test holds the machine's e2e lock
//! (scripts and helpers run Docker tests under /tmp/kindling-e2e.lock) and is the only test of
//! this file, so nothing of its own runs meanwhile. Without a daemon this process can restart
//! (not root, no /var/run/docker.pid), or with `KINDLING_E2E_KEEP_DOCKERD` set (an engine
//! other people's containers run on), the reboot is simulated without that step.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::survival::{
    self, container_ip, docker, nodes, object_count, running_web_pods, service_answer, volume_file,
};
use common::{docker_available, ok, run, text, unique, Env};
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-lifecycle";
const IMAGE: &str = "busybox:latest";

fn wait_until(what: &str, timeout: Duration, check: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    started.elapsed()
}

/// The cluster's node containers, by name.
fn containers(cluster: &str) -> Vec<String> {
    let label = format!("label=io.x-k8s.kind.cluster={cluster}");
    let out = docker(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// Every node container has a Ready Node whose InternalIP is the container's address now.
fn nodes_ready_at_their_addresses(env: &Env, cluster: &str) -> bool {
    // The port proxy (edit cluster) is a container of the cluster but no node.
    let names: Vec<String> = containers(cluster)
        .into_iter()
        .filter(|c| !c.ends_with("-port-proxy"))
        .collect();
    survival::nodes_ready_at_their_addresses(env, &names)
}

/// Restarts the Docker daemon the way scripts/docker.sh starts it; false when this process
/// cannot (not root, or no daemon pid file: an engine someone else runs) or must not
/// (`KINDLING_E2E_KEEP_DOCKERD` set: an engine shared with other people's containers, which a
/// restart would stop too).
fn restart_docker_daemon() -> bool {
    if std::env::var_os("KINDLING_E2E_KEEP_DOCKERD").is_some() {
        return false;
    }
    let Ok(pid) = std::fs::read_to_string("/var/run/docker.pid") else {
        return false;
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    if !root {
        return false;
    }
    let pid = pid.trim().to_string();
    let killed = Command::new("kill").arg(&pid).status().unwrap();
    assert!(killed.success(), "kill dockerd {pid}");
    wait_until("dockerd to exit", Duration::from_secs(60), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/docker.sh");
    let out = Command::new("bash").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "restarting dockerd: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    true
}

fn kindling_ok(env: &Env, args: &[&str]) -> String {
    let started = Instant::now();
    let out = env.kindling(args);
    eprintln!(
        "$ kindling {} ({:.1?})\n{}{}",
        args.join(" "),
        started.elapsed(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.status.success(), "kindling {args:?} failed");
    text(&out.stdout)
}

fn kindling_fails(env: &Env, args: &[&str]) -> String {
    let out = env.kindling(args);
    let stderr = text(&out.stderr);
    eprintln!("$ kindling {} (refused)\n{stderr}", args.join(" "));
    assert!(!out.status.success(), "kindling {args:?} should fail");
    stderr
}

/// `kindling edit cluster --name <name>` with `changes` (`--port-add SPEC`, `--port-remove SPEC` …).
fn edit_cluster<'a>(name: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<&'a str> {
    let mut args = vec!["edit", "cluster", "--name", name];
    args.extend(changes.iter().flat_map(|(flag, spec)| [*flag, *spec]));
    args
}

/// Nothing answers on the host's `port` any more: the connection is refused.
fn assert_refused(port: u16) {
    let err = host_get(port).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

/// A TCP port nothing listens on now (the kernel's pick).
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What an HTTP GET to the host's port answers, or the connection's error.
fn host_get(port: u16) -> Result<String, std::io::Error> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

fn label_of(container: &str, label: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        &format!("{{{{index .Config.Labels \"{label}\"}}}}"),
        container,
    ])
    .trim()
    .to_string()
}

#[test]
fn a_cluster_survives_reboot_stop_start_and_node_changes() {
    if !docker_available() {
        return;
    }
    common::runtime()
        .block_on(kindling_image::build_test_image(IMAGE))
        .unwrap();
    common::ensure_node_image(NODE_IMAGE);
    let mut env = Env::new();
    let name = unique("life");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&name, Some(NODE_IMAGE), Some(config));
    kindling_ok(&env, &["load", "docker-image", IMAGE, "--name", &name]);
    let (cp, worker, worker2) = (
        format!("{name}-control-plane"),
        format!("{name}-worker"),
        format!("{name}-worker2"),
    );
    // Docker's restart policy: back after a daemon restart, not after `docker stop`.
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", &cp]).trim(),
        "unless-stopped"
    );

    env.apply(&survival::serving_workloads(IMAGE, &worker));
    ok(&env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    ok(&env, &["rollout", "status", "sts/data", "--timeout=60s"]);
    let first = volume_file(&env, "first").unwrap();
    assert_eq!(service_answer(&env).trim(), "hello-from-web");
    // Counted once the cluster's own objects are all there: the endpoints controller writes
    // kube-dns's Endpoints some seconds after create (a cold CI run counted before it did).
    wait_until("kube-dns's Endpoints", Duration::from_secs(30), || {
        env.kubectl(&["get", "endpoints", "-n", "kube-system", "kube-dns"])
            .status
            .success()
    });
    let objects = object_count(&env);
    let web_pods = running_web_pods(&env);
    assert_eq!(web_pods.len(), 2, "{web_pods:?}");
    let before: Vec<(String, String)> = containers(&name)
        .into_iter()
        .map(|c| (c.clone(), container_ip(&c)))
        .collect();

    // The host reboots: every node stops, the engine restarts, the nodes start in reverse order of their addresses.
    let names = containers(&name);
    let mut stop = vec!["stop"];
    stop.extend(names.iter().map(String::as_str));
    docker(&stop);
    let daemon = restart_docker_daemon();
    if !daemon {
        eprintln!(
            "NOTE: the Docker daemon is not this process's to restart (or KINDLING_E2E_KEEP_DOCKERD \
             is set); reboot simulated without it"
        );
    }
    let started = Instant::now();
    // Docker hands a starting container the lowest free address: started from the highest
    // address they had to the lowest, the first and the last swap theirs whatever order the
    // create gave them (started by name, they could all get their old ones back).
    let mut by_address = before.clone();
    by_address.sort_by_key(|(_, ip)| ip.parse::<std::net::Ipv4Addr>().ok());
    for (c, _) in by_address.iter().rev() {
        docker(&["start", c]);
    }
    let after: Vec<(String, String)> = names.iter().map(|c| (c.clone(), container_ip(c))).collect();
    assert_ne!(before, after, "Docker gave every node its old address");
    let ready = wait_until(
        "nodes Ready at their new addresses",
        Duration::from_secs(90),
        || nodes_ready_at_their_addresses(&env, &name),
    );
    run(&env, &["get", "nodes", "-o", "wide"]);
    wait_until(
        "the StatefulSet's pod back",
        Duration::from_secs(60),
        || volume_file(&env, "boots").is_some_and(|b| b.lines().count() == 2),
    );
    assert_eq!(volume_file(&env, "first").unwrap(), first);
    ok(&env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    // The same pods, restarted where they were (none replaced).
    wait_until(
        "the web pods of before the reboot Running (and no others)",
        Duration::from_secs(60),
        || running_web_pods(&env) == web_pods,
    );
    wait_until("the Service answering", Duration::from_secs(30), || {
        service_answer(&env).trim() == "hello-from-web"
    });
    eprintln!(
        "reboot recovery (daemon restarted: {daemon}): nodes Ready at new IPs {:.1?}, workloads serving {:.1?}",
        ready,
        started.elapsed()
    );
    assert_eq!(object_count(&env), objects, "objects lost or added");

    // stop / start.
    assert_eq!(
        kindling_ok(&env, &["get", "clusters"])
            .lines()
            .filter(|l| *l == name)
            .count(),
        1
    );
    let wide = kindling_ok(&env, &["get", "clusters", "-o", "wide"]);
    assert!(
        wide.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [name.as_str(), "Running", "3/3"]),
        "{wide}"
    );
    kindling_ok(&env, &["stop", "cluster", "--name", &name]);
    let wide = kindling_ok(&env, &["get", "clusters", "-o", "wide"]);
    assert!(
        wide.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [name.as_str(), "Stopped", "0/3"]),
        "{wide}"
    );
    let t = Instant::now();
    kindling_ok(&env, &["start", "cluster", "--name", &name]);
    eprintln!(
        "start cluster (3 nodes) → every node Ready: {:.1?}",
        t.elapsed()
    );
    assert!(nodes_ready_at_their_addresses(&env, &name));
    wait_until(
        "the StatefulSet's pod back after start",
        Duration::from_secs(60),
        || volume_file(&env, "boots").is_some_and(|b| b.lines().count() == 3),
    );
    assert_eq!(volume_file(&env, "first").unwrap(), first);

    // create node: kind's next name, a label; refusals change nothing.
    let refused = kindling_fails(&env, &["create", "node", &worker, "--cluster", &name]);
    assert!(refused.contains("already exists"), "{refused}");
    let refused = kindling_fails(
        &env,
        &[
            "create",
            "node",
            "--role",
            "control-plane",
            "--cluster",
            &name,
        ],
    );
    assert!(
        refused.contains("keeps its objects in SQLite on its only control plane"),
        "{refused}"
    );
    let refused = kindling_fails(&env, &["delete", "node", &cp, "--cluster", &name]);
    assert!(refused.contains("last control-plane node"), "{refused}");
    assert_eq!(containers(&name).len(), 3);
    assert_eq!(nodes(&env).len(), 3);
    kindling_ok(
        &env,
        &[
            "create",
            "node",
            "--cluster",
            &name,
            "--label",
            "tier=extra",
        ],
    );
    let worker3 = format!("{name}-worker3");
    assert!(containers(&name).contains(&worker3));
    let labelled = ok(&env, &["get", "nodes", "-l", "tier=extra", "-o", "name"]);
    assert_eq!(labelled.trim(), format!("node/{worker3}"));
    kindling_ok(
        &env,
        &[
            "load",
            "docker-image",
            IMAGE,
            "--name",
            &name,
            "--nodes",
            &worker3,
        ],
    );

    // delete node: three pods on the new worker under a budget that allows none to go, so the
    // drain gives up and the node stays (cordoned); once the budget allows one at a time, the
    // drain moves them and the node goes.
    ok(&env, &["cordon", &worker, &worker2]);
    env.apply(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: moved}}\nspec:\n  replicas: 3\n  selector: {{matchLabels: {{app: moved}}}}\n  template:\n    metadata: {{labels: {{app: moved}}}}\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - {{name: main, image: {IMAGE}, imagePullPolicy: IfNotPresent, command: [sleep, '3600']}}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: moved}}\nspec:\n  minAvailable: 3\n  selector: {{matchLabels: {{app: moved}}}}\n"
    ));
    ok(
        &env,
        &["rollout", "status", "deploy/moved", "--timeout=60s"],
    );
    ok(&env, &["uncordon", &worker, &worker2]);
    let on_worker3 = ok(
        &env,
        &[
            "get",
            "pods",
            "-l",
            "app=moved",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ],
    );
    assert!(
        on_worker3.split_whitespace().all(|n| n == worker3),
        "{on_worker3}"
    );
    wait_until(
        "the budget to count 3 healthy pods",
        Duration::from_secs(30),
        || {
            text(
                &env.kubectl(&[
                    "get",
                    "pdb",
                    "moved",
                    "-o",
                    "jsonpath={.status.currentHealthy}",
                ])
                .stdout,
            ) == "3"
        },
    );
    let refused = kindling_fails(
        &env,
        &[
            "delete",
            "node",
            &worker3,
            "--cluster",
            &name,
            "--timeout",
            "3s",
        ],
    );
    assert!(refused.contains("drain did not complete"), "{refused}");
    assert!(containers(&name).contains(&worker3));
    assert_eq!(nodes(&env).len(), 4);
    env.apply("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: moved}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: moved}}\n");
    let t = Instant::now();
    kindling_ok(&env, &["delete", "node", &worker3, "--cluster", &name]);
    eprintln!(
        "delete node (3 pods moved one at a time): {:.1?}",
        t.elapsed()
    );
    assert!(!containers(&name).contains(&worker3));
    assert!(nodes(&env).iter().all(|(n, _, _)| *n != worker3));
    ok(
        &env,
        &["rollout", "status", "deploy/moved", "--timeout=60s"],
    );
    let moved = ok(
        &env,
        &[
            "get",
            "pods",
            "-l",
            "app=moved",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ],
    );
    assert_eq!(moved.split_whitespace().count(), 3, "{moved}");
    assert!(
        moved
            .split_whitespace()
            .all(|n| n == worker || n == worker2),
        "{moved}"
    );
    let left = ok(
        &env,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            &format!("spec.nodeName={worker3}"),
            "-o",
            "name",
        ],
    );
    assert_eq!(left.trim(), "", "pods left on the deleted node");

    // edit cluster: host ports added to a live cluster through its port proxy.
    let t = Instant::now();
    ok(
        &env,
        &[
            "expose",
            "deploy/web",
            "--name",
            "web-np",
            "--type",
            "NodePort",
            "--port",
            "80",
        ],
    );
    let node_port = ok(
        &env,
        &[
            "get",
            "svc",
            "web-np",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    );
    let (to_cp, to_worker) = (free_port(), free_port());
    let proxy = format!("{name}-port-proxy");
    kindling_ok(
        &env,
        &edit_cluster(
            &name,
            &[
                ("--port-add", &format!("{to_cp}:{node_port}")),
                ("--port-add", &format!("{to_worker}:{node_port}@worker")),
            ],
        ),
    );
    for port in [to_cp, to_worker] {
        wait_until(
            "the added host port answering",
            Duration::from_secs(20),
            || host_get(port).is_ok_and(|b| b.contains("hello-from-web")),
        );
    }
    let recorded = label_of(&proxy, "io.kindling.port-proxy.ports");
    assert_eq!(recorded, {
        let mut want = [
            (to_cp, format!("{to_cp}:{node_port}@{cp}")),
            (to_worker, format!("{to_worker}:{node_port}@{worker}")),
        ];
        want.sort();
        want.map(|(_, s)| s).join(",")
    });
    // Refusals change nothing: a port in use, an unknown node, a malformed spec.
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let refused = kindling_fails(
        &env,
        &edit_cluster(
            &name,
            &[("--port-add", &format!("{busy_port}:{node_port}"))],
        ),
    );
    assert!(
        refused.contains(&format!("host port {busy_port} is already in use")),
        "{refused}"
    );
    drop(busy);
    let refused = kindling_fails(
        &env,
        &edit_cluster(
            &name,
            &[(
                "--port-add",
                &format!("{}:{node_port}@worker9", free_port()),
            )],
        ),
    );
    assert!(refused.contains("unknown node \"worker9\""), "{refused}");
    let refused = kindling_fails(&env, &edit_cluster(&name, &[("--port-add", "80:http")]));
    assert!(refused.contains("invalid port spec"), "{refused}");
    assert_eq!(label_of(&proxy, "io.kindling.port-proxy.ports"), recorded);
    assert!(host_get(to_cp).is_ok_and(|b| b.contains("hello-from-web")));
    kindling_ok(
        &env,
        &edit_cluster(&name, &[("--port-remove", &to_worker.to_string())]),
    );
    assert_refused(to_worker);
    wait_until("the kept port answering", Duration::from_secs(20), || {
        host_get(to_cp).is_ok_and(|b| b.contains("hello-from-web"))
    });
    // The proxy stops and starts with the cluster.
    kindling_ok(&env, &["stop", "cluster", "--name", &name]);
    assert!(host_get(to_cp).is_err());
    kindling_ok(&env, &["start", "cluster", "--name", &name]);
    ok(&env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    wait_until(
        "the kept port answering after start",
        Duration::from_secs(60),
        || host_get(to_cp).is_ok_and(|b| b.contains("hello-from-web")),
    );
    eprintln!(
        "edit cluster (add 2, refusals, remove 1, stop/start): {:.1?}",
        t.elapsed()
    );

    // upgrade cluster: a rebuilt node image (a commit of it: same content, a new ID).
    let kept_ports = label_of(&proxy, "io.kindling.port-proxy.ports");
    assert_eq!(kept_ports, format!("{to_cp}:{node_port}@{cp}"));
    let refused = kindling_fails(
        &env,
        &[
            "upgrade",
            "cluster",
            "--name",
            &name,
            "--image",
            "kindling/node:no-such-image",
        ],
    );
    assert!(refused.contains("is not present locally"), "{refused}");
    let upgraded = "kindling/node:e2e-lifecycle-upgrade";
    let scratch = docker(&["create", NODE_IMAGE]).trim().to_string();
    docker(&[
        "commit",
        "--change",
        "LABEL io.kindling.e2e=upgrade",
        &scratch,
        upgraded,
    ]);
    docker(&["rm", &scratch]);
    let t = Instant::now();
    kindling_ok(
        &env,
        &[
            "upgrade", "cluster", "--name", &name, "--image", upgraded, "--wait", "90s",
        ],
    );
    eprintln!(
        "upgrade cluster (3 nodes, one at a time): {:.1?}",
        t.elapsed()
    );
    // Every node and the port proxy (made again with the same ports) on the new image.
    assert!(containers(&name).contains(&proxy));
    for c in containers(&name) {
        assert_eq!(
            docker(&["inspect", "-f", "{{.Config.Image}}", &c]).trim(),
            upgraded,
            "{c}"
        );
    }
    assert_eq!(label_of(&proxy, "io.kindling.port-proxy.ports"), kept_ports);
    assert!(nodes_ready_at_their_addresses(&env, &name));
    let unschedulable = ok(
        &env,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].spec.unschedulable}",
        ],
    );
    assert_eq!(unschedulable.trim(), "", "a node left cordoned");
    ok(&env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    ok(&env, &["rollout", "status", "sts/data", "--timeout=60s"]);
    wait_until(
        "the PV file after the upgrade",
        Duration::from_secs(60),
        || volume_file(&env, "first").is_some_and(|f| f == first),
    );
    wait_until(
        "the Service answering after the upgrade",
        Duration::from_secs(30),
        || service_answer(&env).trim() == "hello-from-web",
    );
    wait_until(
        "the added port answering after the upgrade",
        Duration::from_secs(20),
        || host_get(to_cp).is_ok_and(|b| b.contains("hello-from-web")),
    );
    kindling_ok(
        &env,
        &edit_cluster(&name, &[("--port-remove", &to_cp.to_string())]),
    );
    assert_refused(to_cp);
    assert!(
        !containers(&name).contains(&proxy),
        "no ports left, no proxy"
    );
    // delete cluster takes a port proxy with it.
    kindling_ok(
        &env,
        &edit_cluster(&name, &[("--port-add", &format!("{to_cp}:{node_port}"))]),
    );
    assert!(containers(&name).contains(&proxy));
    kindling_ok(&env, &["delete", "cluster", "--name", &name]);
    assert_eq!(containers(&name), Vec::<String>::new());
    assert!(host_get(to_cp).is_err());
    let _ = Command::new("docker").args(["rmi", upgraded]).output();
}
