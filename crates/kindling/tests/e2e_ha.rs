//! End to end, with Docker: a cluster with three control planes and three workers (REQUIREMENTS
//! S3, kind's HA shape),
//! used the way users use one — through `<cluster>-external-load-balancer` with real kubectl.
//! Nodes Ready with kind's names; the controller manager and the scheduler each have one leader
//! (`kubectl get leases -n kube-system`); every control plane's etcd member is healthy; a
//! Deployment behind a Service and a StatefulSet whose volume holds a file run on the workers;
//! `docker stop` of the leader's control plane: kubectl keeps reading and writing through the
//! balancer, a Deployment still scales, the leases move within 15 s; `docker start`: the member
//! rejoins (3 healthy); `kill -9` of an etcd member, then `docker kill` of the etcd leader's
//! whole control-plane container, each during a stream of writes, lose none that was
//! acknowledged; `kindling create node --role control-plane` adds a 4th control plane (4
//! healthy etcd members, Ready, a backend of the balancer, kubectl keeps working while another
//! control plane is stopped) and `kindling delete node` takes it out again (3 members, gone from
//! the balancer); two workers leave (drained); a host reboot of the 3 control planes + 1 worker
//! is simulated (every container stopped, started so that each gets another address; the
//! daemon is not restarted, see [`reboot`]) and the Nodes, etcd, the objects, the file and the
//! Service come back; `kindling upgrade cluster` moves the 3 control planes,
//! the worker and the balancer to a rebuilt image one at a time while kubectl writes through
//! the balancer (failures counted; nothing acknowledged lost; 3 healthy members after); then
//! the first control plane is deleted and the other two keep kubectl, the admin kubeconfig and
//! the LoadBalancer Service controller; `kindling delete cluster` removes the balancer too. One cluster for the
//! whole file (the 3 + 3 shape of S3 first, then the 3 + 1 of the reboot and the upgrade: one
//! create instead of two keeps the file within its CI time). Without a Docker engine the test
//! fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::survival::{
    container_ip, docker, nodes_ready_at_their_addresses, object_count, running_web_pods,
    service_answer, serving_workloads, volume_file,
};
use common::{docker_available, node_exec, ok, run, text, unique, Env, TestImage};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-ha";
const CONFIG: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: control-plane\n- role: control-plane\n- role: worker\n- role: worker\n- role: worker\n";

fn eventually(env: &Env, what: &str, timeout: Duration, check: impl Fn(&Env) -> bool) {
    common::eventually(
        env,
        what,
        timeout,
        &["get", "nodes,leases,deploy,pods", "-A"],
        check,
    );
}

/// The etcd member's own verdict (`/health` on its local metrics port), from inside the node.
fn etcd_healthy(node: &str) -> bool {
    let script = "exec 3<>/dev/tcp/127.0.0.1/2381 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";
    node_exec(node, &["bash", "-c", script]).contains("\"health\":\"true\"")
}

/// Whether the etcd member on `node` leads its cluster now (its `etcd_server_is_leader` metric).
fn etcd_leader(node: &str) -> bool {
    let script = "exec 3<>/dev/tcp/127.0.0.1/2381 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";
    node_exec(node, &["bash", "-c", script])
        .lines()
        .any(|l| l.trim() == "etcd_server_is_leader 1")
}

/// etcd's member list as the member on `node` knows it: one `ID NAME PEER-URLS` line each.
fn etcd_members(node: &str) -> Vec<String> {
    node_exec(node, &["kindling", "etcd-member", "list"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The API server backends the external load balancer is configured with.
fn balancer_backends(lb: &str) -> String {
    node_exec(lb, &["cat", "/kindling/lb.json"])
}

fn ready_nodes(env: &Env) -> usize {
    let out = text(&env.kubectl(&["get", "nodes", "--no-headers"]).stdout);
    out.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
        .count()
}

/// The holder identity of `kube-system/<lease>` (`<node>_<uuid>`), empty if unreadable.
fn holder(env: &Env, lease: &str) -> String {
    text(
        &env.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            lease,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .stdout,
    )
}

/// The addresses of the `kubernetes` Endpoints (every live API server).
fn api_endpoints(env: &Env) -> usize {
    text(
        &env.kubectl(&[
            "get",
            "endpoints",
            "kubernetes",
            "-o",
            "jsonpath={.subsets[0].addresses[*].ip}",
        ])
        .stdout,
    )
    .split_whitespace()
    .count()
}

fn ready_replicas(env: &Env, deploy: &str) -> String {
    text(
        &env.kubectl(&[
            "get",
            "deploy",
            deploy,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .stdout,
    )
}

#[test]
fn three_control_planes_survive_the_loss_of_the_leader() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    let busybox = TestImage::build(&common::runtime(), "kindling/busybox:e2e-ha");
    let mut env = Env::new();
    let cluster = unique("ha");
    let create = Instant::now();
    env.create_with(&cluster, Some(NODE_IMAGE), Some(CONFIG));
    eprintln!(
        "3 control planes + 3 workers created in {:.1?}",
        create.elapsed()
    );
    let cp = |n: &str| format!("{cluster}-control-plane{n}");
    let control_planes = [cp(""), cp("2"), cp("3")];
    let worker = format!("{cluster}-worker");
    let workers = [worker.clone(), format!("{worker}2"), format!("{worker}3")];
    let lb = format!("{cluster}-external-load-balancer");

    // kind's names; the kubeconfig points at the balancer's published port.
    let names = docker(&[
        "ps",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={cluster}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort_unstable();
    let mut want: Vec<&str> = control_planes.iter().map(String::as_str).collect();
    want.push(lb.as_str());
    want.extend(workers.iter().map(String::as_str));
    want.sort_unstable();
    assert_eq!(names, want);
    let lb_port = docker(&["port", &lb, "6443/tcp"]);
    let server = ok(
        &env,
        &[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
    );
    let port = lb_port.lines().next().unwrap().rsplit(':').next().unwrap();
    assert!(
        server.ends_with(&format!(":{port}")),
        "{server} vs {lb_port}"
    );
    let exported = env.kindling(&["get", "kubeconfig", "--name", &cluster]);
    assert!(
        text(&exported.stdout).contains(&format!("server: {server}")),
        "`kindling get kubeconfig`: {}{}",
        text(&exported.stdout),
        text(&exported.stderr)
    );
    let internal = env.kindling(&["get", "kubeconfig", "--internal", "--name", &cluster]);
    assert!(
        text(&internal.stdout).contains(&format!("server: https://{lb}:6443")),
        "{}",
        text(&internal.stderr)
    );

    eventually(&env, "6 Ready nodes", Duration::from_secs(60), |env| {
        let out = text(&env.kubectl(&["get", "nodes", "--no-headers"]).stdout);
        out.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
            .count()
            == 6
    });
    let nodes = ok(&env, &["get", "nodes"]);
    for name in control_planes.iter().chain(&workers) {
        assert!(nodes.contains(name.as_str()), "{name} missing:\n{nodes}");
    }

    // One leader per component, a control plane.
    eventually(&env, "both leases held", Duration::from_secs(30), |env| {
        ["kube-controller-manager", "kube-scheduler"]
            .iter()
            .all(|l| !holder(env, l).is_empty())
    });
    let leases = ok(&env, &["get", "leases", "-n", "kube-system"]);
    let leader = holder(&env, "kube-controller-manager");
    let leader_node = leader.rsplit_once('_').unwrap().0.to_string();
    assert!(control_planes.contains(&leader_node), "{leader}\n{leases}");
    for node in &control_planes {
        assert!(etcd_healthy(node), "etcd on {node} is not healthy");
    }
    eventually(
        &env,
        "3 API servers in the kubernetes Endpoints",
        Duration::from_secs(20),
        |env| api_endpoints(env) == 3,
    );

    // A Deployment behind a Service on the workers (the control planes keep their taint) and
    // a StatefulSet whose volume holds a file on the worker that stays to the end.
    let out = env.kindling(&["load", "docker-image", &busybox, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    env.apply(&serving_workloads(&busybox, &worker));
    eventually(&env, "2 web pods ready", Duration::from_secs(60), |env| {
        ready_replicas(env, "web") == "2"
    });
    ok(&env, &["rollout", "status", "sts/data", "--timeout=60s"]);
    eprintln!("cluster checked after {:.1?}", started.elapsed());

    // NodePorts through the balancer, so spread over the three API servers: 30 Services
    // created at once get 30 distinct ports; one port asked for twice at once is given once.
    let node_ports = Instant::now();
    std::thread::scope(|s| {
        for i in 0..30 {
            let env = &env;
            s.spawn(move || {
                let name = format!("np-{i}");
                ok(env, &["create", "service", "nodeport", &name, "--tcp=80"]);
            });
        }
    });
    let ports = ok(
        &env,
        &[
            "get",
            "services",
            "-o",
            "jsonpath={.items[*].spec.ports[*].nodePort}",
        ],
    );
    let ports: std::collections::BTreeSet<&str> = ports.split_whitespace().collect();
    assert_eq!(ports.len(), 30, "{ports:?}");
    let twice: Vec<_> = std::thread::scope(|s| {
        let asks: Vec<_> = ["np-x", "np-y"]
            .into_iter()
            .map(|name| {
                let env = &env;
                s.spawn(move || {
                    env.kubectl(&[
                        "create",
                        "service",
                        "nodeport",
                        name,
                        "--tcp=80",
                        "--node-port=30050",
                    ])
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    assert_eq!(twice.iter().filter(|o| o.status.success()).count(), 1);
    let refused = twice.iter().find(|o| !o.status.success()).unwrap();
    assert!(
        text(&refused.stderr).contains(
            "spec.ports[0].nodePort: Invalid value: 30050: provided port is already allocated"
        ),
        "{}",
        text(&refused.stderr)
    );
    eprintln!(
        "NodePorts through 3 API servers checked in {:.1?}",
        node_ports.elapsed()
    );

    // The leader's control plane goes away.
    let stopped = Instant::now();
    docker(&["stop", &leader_node]);
    let stop_took = stopped.elapsed();
    // Reads and writes through the balancer, at once.
    let nodes = ok(&env, &["get", "nodes"]);
    assert!(nodes.contains(&worker), "{nodes}");
    ok(
        &env,
        &["create", "configmap", "after-stop", "--from-literal=k=v"],
    );
    ok(&env, &["scale", "deployment", "web", "--replicas=3"]);
    // Both leases move to a control plane that runs.
    eventually(&env, "the leases to move", Duration::from_secs(30), |env| {
        ["kube-controller-manager", "kube-scheduler"]
            .iter()
            .all(|l| {
                let h = holder(env, l);
                !h.is_empty() && !h.starts_with(&format!("{leader_node}_"))
            })
    });
    let failover = stopped.elapsed();
    eprintln!("leases moved {failover:.1?} after `docker stop` (which took {stop_took:.1?})");
    run(&env, &["get", "leases", "-n", "kube-system"]);
    assert!(
        failover <= Duration::from_secs(15),
        "failover took {failover:?}"
    );
    eventually(
        &env,
        "the Deployment to scale to 3",
        Duration::from_secs(60),
        |env| ready_replicas(env, "web") == "3",
    );
    // The stopped server leaves the kubernetes Service once its lease runs out (15 s).
    eventually(
        &env,
        "2 API servers in the kubernetes Endpoints",
        Duration::from_secs(40),
        |env| api_endpoints(env) == 2,
    );
    eprintln!(
        "kubernetes Endpoints down to 2 addresses {:.1?} after the stop",
        stopped.elapsed()
    );

    // It comes back and its member rejoins.
    let back = Instant::now();
    docker(&["start", &leader_node]);
    eventually(
        &env,
        "3 healthy etcd members",
        Duration::from_secs(60),
        |_| control_planes.iter().all(|n| etcd_healthy(n)),
    );
    eventually(
        &env,
        "6 Ready nodes again",
        Duration::from_secs(60),
        |env| {
            let out = text(&env.kubectl(&["get", "nodes", "--no-headers"]).stdout);
            out.lines()
                .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
                .count()
                == 6
        },
    );
    eventually(
        &env,
        "3 API servers in the kubernetes Endpoints again",
        Duration::from_secs(30),
        |env| api_endpoints(env) == 3,
    );
    eprintln!(
        "{leader_node} back, 3 healthy members, in {:.1?}",
        back.elapsed()
    );
    // kill -9 of an etcd member during a stream of writes: every acknowledged write is there.
    let victim = control_planes
        .iter()
        .find(|n| **n != leader_node)
        .unwrap()
        .clone();
    let writer = write_storm(&env, "storm", Duration::from_secs(8));
    std::thread::sleep(Duration::from_secs(2));
    let kill = "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = etcd ] && kill -9 ${p#/proc/}; done; true";
    node_exec(&victim, &["bash", "-c", kill]);
    let (acknowledged, attempted) = writer.join().unwrap();
    assert_kept(&env, "kill -9 of an etcd member", &acknowledged, attempted);
    eventually(
        &env,
        "the killed member back",
        Duration::from_secs(30),
        |_| etcd_healthy(&victim),
    );

    // The whole container of the etcd leader's control plane killed (API server, member,
    // controllers at once, no SIGTERM) during a stream of writes: nothing acknowledged lost.
    let killed = control_planes
        .iter()
        .find(|n| etcd_leader(n))
        .expect("no etcd member says it leads")
        .clone();
    let writer = write_storm(&env, "killed", Duration::from_secs(8));
    std::thread::sleep(Duration::from_secs(2));
    docker(&["kill", &killed]);
    let (acknowledged, attempted) = writer.join().unwrap();
    assert_kept(
        &env,
        &format!("docker kill of {killed} (the etcd leader)"),
        &acknowledged,
        attempted,
    );
    let back = Instant::now();
    docker(&["start", &killed]);
    eventually(
        &env,
        "3 healthy etcd members after the kill",
        Duration::from_secs(60),
        |_| control_planes.iter().all(|n| etcd_healthy(n)),
    );
    eventually(
        &env,
        "6 Ready nodes after the kill",
        Duration::from_secs(60),
        |env| ready_nodes(env) == 6,
    );
    eprintln!(
        "{killed} back after `docker kill` in {:.1?}",
        back.elapsed()
    );

    // A 4th control plane joins the live cluster: etcd member, API server, balancer backend.
    let cp4 = cp("4");
    let fourth = Instant::now();
    let joined = Instant::now();
    let out = env.kindling(&[
        "create",
        "node",
        "--role",
        "control-plane",
        "--cluster",
        &cluster,
    ]);
    assert!(out.status.success(), "create node: {}", text(&out.stderr));
    let join_took = joined.elapsed();
    eprintln!("control plane {cp4} created (Ready, a balancer backend) in {join_took:.1?}");
    let members = etcd_members(&control_planes[0]);
    assert_eq!(members.len(), 4, "{members:?}");
    assert!(
        members.iter().any(|m| m.contains(&format!(" {cp4} "))),
        "{members:?}"
    );
    eventually(
        &env,
        "4 healthy etcd members",
        Duration::from_secs(30),
        |_| control_planes.iter().chain([&cp4]).all(|n| etcd_healthy(n)),
    );
    eventually(&env, "7 Ready nodes", Duration::from_secs(20), |env| {
        ready_nodes(env) == 7
    });
    let labels = ok(
        &env,
        &["get", "node", &cp4, "--show-labels", "--no-headers"],
    );
    assert!(
        labels.contains("node-role.kubernetes.io/control-plane="),
        "{labels}"
    );
    assert!(balancer_backends(&lb).contains(&format!("\"{cp4}:6443\"")));
    eventually(
        &env,
        "4 API servers in the kubernetes Endpoints",
        Duration::from_secs(20),
        |env| api_endpoints(env) == 4,
    );
    // Another control plane stops: 3 of 4 members are a quorum, kubectl keeps working.
    let other = control_planes[1].clone();
    docker(&["stop", "-t", "2", &other]);
    let nodes = ok(&env, &["get", "nodes"]);
    assert!(nodes.contains(&cp4), "{nodes}");
    ok(
        &env,
        &["create", "configmap", "with-four", "--from-literal=k=v"],
    );
    ok(&env, &["get", "configmap", "with-four"]);
    docker(&["start", &other]);

    // It leaves again: member removed first, then the balancer's backend, the Node, the container.
    let left = Instant::now();
    let out = env.kindling(&["delete", "node", &cp4, "--cluster", &cluster]);
    assert!(out.status.success(), "delete node: {}", text(&out.stderr));
    eprintln!("control plane {cp4} deleted in {:.1?}", left.elapsed());
    let members = etcd_members(&control_planes[0]);
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(!members.iter().any(|m| m.contains(&cp4)), "{members:?}");
    assert!(!balancer_backends(&lb).contains(&cp4));
    assert!(!ok(&env, &["get", "nodes", "-o", "name"]).contains(&cp4));
    eventually(
        &env,
        "3 healthy etcd members again",
        Duration::from_secs(60),
        |_| control_planes.iter().all(|n| etcd_healthy(n)),
    );
    ok(
        &env,
        &["create", "configmap", "after-four", "--from-literal=k=v"],
    );
    eprintln!(
        "4th control plane joined, checked and deleted in {:.1?}",
        fourth.elapsed()
    );

    two_workers_leave(&env, &cluster, &worker);
    reboot(&env, &control_planes, &worker, &lb);
    upgrade_then_delete_the_first_control_plane(&env, &cluster, &control_planes, &lb);

    // Delete removes every container, the balancer included.
    let out = env.kindling(&["delete", "cluster", "--name", &cluster]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let left = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={cluster}"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(left.trim(), "", "left behind: {left}");
    let _ = Command::new("docker")
        .args(["rmi", UPGRADED_IMAGE])
        .output();
    eprintln!("e2e_ha done in {:.1?}", started.elapsed());
}

/// kubectl creates of ConfigMaps `<prefix>-<i>` through the balancer, one after another, for
/// `length`; the thread returns the names acknowledged and how many creates were tried.
fn write_storm(
    env: &Env,
    prefix: &str,
    length: Duration,
) -> std::thread::JoinHandle<(Vec<String>, usize)> {
    let (kubeconfig, home, prefix) = (
        env.kubeconfig(),
        env.home.path().to_path_buf(),
        prefix.to_string(),
    );
    std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let until = Instant::now() + length;
        let mut i = 0;
        while Instant::now() < until {
            let name = format!("{prefix}-{i}");
            let out = Command::new("kubectl")
                .args(["create", "configmap", &name, "--from-literal=i=1"])
                .args(["--request-timeout=5s"])
                .env("HOME", &home)
                .env("KUBECONFIG", &kubeconfig)
                .output()
                .unwrap();
            if out.status.success() {
                acknowledged.push(name);
            }
            i += 1;
        }
        (acknowledged, i)
    })
}

/// Every ConfigMap a storm had acknowledged is there now (the counts are printed).
fn assert_kept(env: &Env, what: &str, acknowledged: &[String], attempted: usize) {
    let present = env.ok_kubectl(&["get", "configmaps", "-o", "name"]);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|n| !present.contains(&format!("configmap/{n}\n")))
        .collect();
    eprintln!(
        "write storm, {what}: {} of {attempted} creates acknowledged, {} missing",
        acknowledged.len(),
        missing.len()
    );
    assert!(acknowledged.len() > 5, "too few writes to mean anything");
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

/// 3 control planes + 1 worker: `kindling delete node` of two workers, each drained (the web
/// pods on them move to the worker that stays).
fn two_workers_leave(env: &Env, cluster: &str, worker: &str) {
    let t = Instant::now();
    for w in ["2", "3"] {
        let name = format!("{cluster}-worker{w}");
        let out = env.kindling(&["delete", "node", &name, "--cluster", cluster]);
        assert!(out.status.success(), "delete node: {}", text(&out.stderr));
        let left = ok(
            env,
            &[
                "get",
                "pods",
                "-A",
                "--field-selector",
                &format!("spec.nodeName={name}"),
                "-o",
                "name",
            ],
        );
        assert_eq!(left.trim(), "", "pods left on the deleted {name}");
    }
    eventually(env, "4 Ready nodes", Duration::from_secs(30), |env| {
        ready_nodes(env) == 4
    });
    ok(env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    eventually(
        env,
        "the 3 web pods Running on the worker left",
        Duration::from_secs(30),
        |env| {
            running_web_pods(env).iter().all(|(_, n)| n == worker)
                && running_web_pods(env).len() == 3
        },
    );
    eprintln!("two workers deleted (drained) in {:.1?}", t.elapsed());
}

/// The IPv4 address a running container holds on its network, parsed.
fn address_of(container: &str) -> Ipv4Addr {
    let ip = container_ip(container);
    ip.parse()
        .unwrap_or_else(|_| panic!("{container}'s address {ip:?}"))
}

/// The `n` lowest addresses of Docker network `network`'s IPv4 subnet that no running
/// container holds and that are not its gateway: what the engine hands the next `n`
/// containers started on it, in that order.
fn lowest_free_addresses(network: &str, n: usize) -> Vec<Ipv4Addr> {
    let ipam = docker(&[
        "network",
        "inspect",
        network,
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}\n{{end}}",
    ]);
    let (base, bits, gateway) = ipam
        .lines()
        .find_map(|l| {
            let (subnet, gateway) = l.split_once(' ')?;
            let (base, bits) = subnet.split_once('/')?;
            Some((
                base.parse::<Ipv4Addr>().ok()?,
                bits.parse::<u32>().ok()?,
                gateway.parse::<Ipv4Addr>().ok(),
            ))
        })
        .unwrap_or_else(|| panic!("no IPv4 subnet on network {network}: {ipam}"));
    let taken = docker(&[
        "network",
        "inspect",
        network,
        "-f",
        "{{range .Containers}}{{.IPv4Address}} {{end}}",
    ]);
    let taken: Vec<Ipv4Addr> = taken
        .split_whitespace()
        .filter_map(|a| a.split('/').next()?.parse().ok())
        .collect();
    (1..(1u32 << (32 - bits)) - 1)
        .map(|i| Ipv4Addr::from(u32::from(base) + i))
        .filter(|a| Some(*a) != gateway && !taken.contains(a))
        .take(n)
        .collect()
}

/// The order to start `stopped` containers (name, address before) in so that none gets its
/// address back when the engine hands each the lowest free one (`free`, ascending): they are
/// sorted by their old address and rotated until no one lands on its own. `None` if no
/// rotation does (one container, or too few free addresses).
fn start_order(stopped: &[(String, Ipv4Addr)], free: &[Ipv4Addr]) -> Option<Vec<String>> {
    let mut sorted = stopped.to_vec();
    sorted.sort_by_key(|(_, ip)| *ip);
    let n = sorted.len();
    if free.len() < n {
        return None;
    }
    (1..=n).find_map(|shift| {
        let order: Vec<&(String, Ipv4Addr)> = (0..n).map(|k| &sorted[(k + shift) % n]).collect();
        order
            .iter()
            .zip(free)
            .all(|((_, old), new)| old != new)
            .then(|| order.iter().map(|(name, _)| name.clone()).collect())
    })
}

#[test]
fn start_order_gives_every_container_another_address() {
    let ip = |last: u8| Ipv4Addr::new(172, 18, 0, last);
    let named = |v: &[(&str, u8)]| -> Vec<(String, Ipv4Addr)> {
        v.iter().map(|(n, l)| (n.to_string(), ip(*l))).collect()
    };
    // The same addresses free again: a rotation by one.
    let stopped = named(&[("cp", 2), ("cp2", 3), ("cp3", 4), ("lb", 5)]);
    let order = start_order(&stopped, &[ip(2), ip(3), ip(4), ip(5)]).unwrap();
    assert_eq!(order, ["cp2", "cp3", "lb", "cp"]);
    // A gap left by a deleted node below them: the next rotation when the first would give
    // a container its own address back (cp3 would get .4 again with a shift of one).
    let stopped = named(&[("cp", 2), ("cp3", 4), ("w", 5)]);
    let free = [ip(2), ip(3), ip(4)];
    let order = start_order(&stopped, &free).unwrap();
    for (name, new) in order.iter().zip(free) {
        let old = stopped.iter().find(|(n, _)| n == name).unwrap().1;
        assert_ne!(old, new, "{name} {order:?}");
    }
    assert_eq!(start_order(&named(&[("cp", 2)]), &[ip(2)]), None);
    assert_eq!(start_order(&stopped, &free[..2]), None);
}

/// A host reboot of 3 control planes + 1 worker, simulated: every container of the cluster (the
/// nodes and the external load balancer) stopped, then started in an order that makes Docker
/// hand each another address. The Docker daemon itself is not restarted: other people's
/// containers may run on this engine (e2e_lifecycle restarts it where it may). After it:
/// every Node Ready at its new InternalIP, 3 healthy etcd members, the API servers' new
/// addresses in the `kubernetes` Endpoints, the StatefulSet's file, the Deployment's pods
/// Running and answering through the Service, as many objects as before, kubectl writing
/// through the balancer.
fn reboot(env: &Env, control_planes: &[String; 3], worker: &str, lb: &str) {
    ok(env, &["rollout", "status", "sts/data", "--timeout=60s"]);
    let first = volume_file(env, "first").unwrap();
    let boots = volume_file(env, "boots").unwrap().lines().count();
    assert_eq!(service_answer(env).trim(), "hello-from-web");
    let objects = object_count(env);
    let web_pods = running_web_pods(env);
    assert_eq!(web_pods.len(), 3, "{web_pods:?}");
    let nodes: Vec<String> = control_planes
        .iter()
        .cloned()
        .chain([worker.to_string()])
        .collect();
    let all: Vec<String> = nodes.iter().cloned().chain([lb.to_string()]).collect();
    let before: Vec<(String, Ipv4Addr)> = all.iter().map(|c| (c.clone(), address_of(c))).collect();

    let mut stop = vec!["stop"];
    stop.extend(all.iter().map(String::as_str));
    docker(&stop);
    let free = lowest_free_addresses(kindling_provider::DEFAULT_NETWORK, all.len());
    let order = start_order(&before, &free)
        .unwrap_or_else(|| panic!("no start order moves every address: {before:?} {free:?}"));
    let started = Instant::now();
    for c in &order {
        docker(&["start", c]);
    }
    for (c, old) in &before {
        let new = address_of(c);
        assert_ne!(
            new, *old,
            "Docker gave {c} its old address back (started {order:?}; lowest free were {free:?})"
        );
    }
    eventually(
        env,
        "4 Nodes Ready at their new addresses",
        Duration::from_secs(90),
        |env| nodes_ready_at_their_addresses(env, &nodes),
    );
    let ready = started.elapsed();
    run(env, &["get", "nodes", "-o", "wide"]);
    eventually(
        env,
        "3 healthy etcd members",
        Duration::from_secs(60),
        |_| control_planes.iter().all(|n| etcd_healthy(n)),
    );
    let health = node_exec(&control_planes[0], &["kindling", "etcd-member", "health"]);
    assert_eq!(health.matches(" healthy").count(), 3, "{health}");
    eventually(
        env,
        "the StatefulSet's pod back",
        Duration::from_secs(60),
        |env| volume_file(env, "boots").is_some_and(|b| b.lines().count() == boots + 1),
    );
    assert_eq!(volume_file(env, "first").unwrap(), first);
    ok(env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    // The same pods, restarted where they were (none replaced).
    eventually(
        env,
        "the web pods of before the reboot Running (and no others)",
        Duration::from_secs(60),
        |env| running_web_pods(env) == web_pods,
    );
    eventually(
        env,
        "the Service answering",
        Duration::from_secs(30),
        |env| service_answer(env).trim() == "hello-from-web",
    );
    let serving = started.elapsed();
    assert_eq!(object_count(env), objects, "objects lost or added");
    ok(
        env,
        &["create", "configmap", "after-reboot", "--from-literal=k=v"],
    );
    ok(env, &["get", "configmap", "after-reboot"]);
    // The servers' leases at their old addresses run out; the new ones take their place.
    let mut want: Vec<String> = control_planes.iter().map(|c| container_ip(c)).collect();
    want.sort();
    eventually(
        env,
        "the kubernetes Endpoints at the new addresses",
        Duration::from_secs(60),
        |env| {
            let ips = text(
                &env.kubectl(&[
                    "get",
                    "endpoints",
                    "kubernetes",
                    "-o",
                    "jsonpath={.subsets[0].addresses[*].ip}",
                ])
                .stdout,
            );
            let mut ips: Vec<String> = ips.split_whitespace().map(str::to_string).collect();
            ips.sort();
            ips == want
        },
    );
    eprintln!(
        "reboot recovery (3 cp + 1 worker, daemon not restarted): Nodes Ready at new IPs \
         {ready:.1?}, workloads serving {serving:.1?}, Endpoints moved {:.1?} after the first start",
        started.elapsed()
    );
}

/// The rebuilt node image the cluster is upgraded to (a commit of the node image: same
/// content, a new ID); removed at the end of the test.
const UPGRADED_IMAGE: &str = "kindling/node:e2e-ha-upgrade";

/// The container of a LoadBalancer Service's balancer (by its Service label), if any.
fn service_balancer(cluster: &str, service: &str) -> Option<String> {
    let names = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=io.x-k8s.kind.cluster={cluster}"),
        "--filter",
        &format!("label=io.kindling.service-lb=default/{service}"),
        "--format",
        "{{.Names}}",
    ]);
    names.lines().next().map(str::to_string)
}

fn external_ip(env: &Env, service: &str) -> String {
    text(
        &env.kubectl(&[
            "get",
            "service",
            service,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ])
        .stdout,
    )
}

fn image_of(container: &str) -> String {
    docker(&["inspect", "-f", "{{.Config.Image}}", container])
        .trim()
        .to_string()
}

/// 3 control planes + 1 worker upgraded to a rebuilt image one node at a time while kubectl
/// writes through the balancer (every acknowledged write kept; failed requests counted and
/// reported), then the first control plane deleted: kubectl, `get kubeconfig` and the
/// LoadBalancer Service controller go on with the other two.
fn upgrade_then_delete_the_first_control_plane(
    env: &Env,
    cluster: &str,
    control_planes: &[String; 3],
    lb: &str,
) {
    let t = Instant::now();
    ok(
        env,
        &["create", "service", "loadbalancer", "lb-before", "--tcp=80"],
    );
    eventually(
        env,
        "lb-before's EXTERNAL-IP",
        Duration::from_secs(30),
        |env| !external_ip(env, "lb-before").is_empty(),
    );
    let scratch = docker(&["create", NODE_IMAGE]).trim().to_string();
    docker(&[
        "commit",
        "--change",
        "LABEL io.kindling.e2e=ha-upgrade",
        &scratch,
        UPGRADED_IMAGE,
    ]);
    docker(&["rm", &scratch]);
    eprintln!(
        "3 cp + 1 worker, a LoadBalancer Service, the image: {:.1?}",
        t.elapsed()
    );

    // kubectl writes through the balancer the whole time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (kubeconfig, home, stop) = (
            env.kubeconfig(),
            env.home.path().to_path_buf(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let (mut acknowledged, mut failed) = (Vec::new(), Vec::new());
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("during-upgrade-{i}");
                let out = Command::new("kubectl")
                    .args(["create", "configmap", &name, "--request-timeout=5s"])
                    .env("HOME", &home)
                    .env("KUBECONFIG", &kubeconfig)
                    .output()
                    .unwrap();
                match out.status.success() {
                    true => acknowledged.push(name),
                    false => failed.push(format!("{name}: {}", text(&out.stderr).trim())),
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            (acknowledged, failed, i)
        })
    };
    let upgrade = Instant::now();
    let out = env.kindling(&[
        "upgrade",
        "cluster",
        "--name",
        cluster,
        "--image",
        UPGRADED_IMAGE,
        "--wait",
        "120s",
    ]);
    let upgrade_took = upgrade.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acknowledged, failed, attempted) = writer.join().unwrap();
    eprintln!("{}", text(&out.stderr));
    assert!(
        out.status.success(),
        "upgrade cluster: {}",
        text(&out.stderr)
    );
    eprintln!(
        "upgrade cluster (3 control planes, 1 worker, the balancer): {upgrade_took:.1?}; kubectl \
         meanwhile: {} of {attempted} creates acknowledged, {} failed: {failed:#?}",
        acknowledged.len(),
        failed.len()
    );
    let worker = format!("{cluster}-worker");
    for c in control_planes.iter().chain([&worker, &lb.to_string()]) {
        assert_eq!(image_of(c), UPGRADED_IMAGE, "{c}");
    }
    let present = env.ok_kubectl(&["get", "configmaps", "-o", "name"]);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|n| !present.contains(&format!("configmap/{n}\n")))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    for kept in ["after-stop", "with-four", "after-four", "after-reboot"] {
        assert!(
            present.contains(&format!("configmap/{kept}\n")),
            "{kept} lost"
        );
    }
    for node in control_planes {
        assert!(
            etcd_healthy(node),
            "etcd on {node} is not healthy after the upgrade"
        );
    }
    let health = node_exec(&control_planes[1], &["kindling", "etcd-member", "health"]);
    assert_eq!(health.matches(" healthy").count(), 3, "{health}");
    assert_eq!(ready_nodes(env), 4);
    let unschedulable = ok(
        env,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].spec.unschedulable}",
        ],
    );
    assert_eq!(unschedulable.trim(), "", "a node left cordoned");
    ok(env, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    assert_eq!(ready_replicas(env, "web"), "3");
    // The Service's balancer is made again from the new image by its controller.
    eventually(
        env,
        "lb-before's balancer on the new image",
        Duration::from_secs(60),
        |env| {
            service_balancer(cluster, "lb-before").is_some_and(|c| image_of(&c) == UPGRADED_IMAGE)
                && !external_ip(env, "lb-before").is_empty()
        },
    );
    eprintln!("upgrade checked after {:.1?}", upgrade.elapsed());

    // The first control plane goes: the other two keep everything, the admin kubeconfig too.
    let first = &control_planes[0];
    let gone = Instant::now();
    let out = env.kindling(&["delete", "node", first, "--cluster", cluster]);
    assert!(
        out.status.success(),
        "delete node {first}: {}",
        text(&out.stderr)
    );
    eprintln!(
        "first control plane {first} deleted in {:.1?}",
        gone.elapsed()
    );
    let members = etcd_members(&control_planes[1]);
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(!balancer_backends(lb).contains(&format!("\"{first}:6443\"")));
    ok(
        env,
        &[
            "create",
            "configmap",
            "without-the-first",
            "--from-literal=k=v",
        ],
    );
    assert!(!ok(env, &["get", "nodes", "-o", "name"]).contains(&format!("node/{first}\n")));
    let exported = env.kindling(&["get", "kubeconfig", "--name", cluster]);
    assert!(
        exported.status.success() && text(&exported.stdout).contains("server: https://"),
        "`kindling get kubeconfig` without the first control plane: {}",
        text(&exported.stderr)
    );
    ok(
        env,
        &["create", "service", "loadbalancer", "lb-after", "--tcp=80"],
    );
    eventually(
        env,
        "lb-after's EXTERNAL-IP (the controller on another control plane)",
        Duration::from_secs(60),
        |env| !external_ip(env, "lb-after").is_empty(),
    );
    let holder = holder(env, "cloud-controller-manager");
    assert!(!holder.starts_with(&format!("{first}_")), "{holder}");
    eprintln!(
        "without the first control plane: kubectl, kubeconfig, LoadBalancer Services ({holder}) in {:.1?}",
        gone.elapsed()
    );
    eprintln!("upgrade part: {:.1?}", t.elapsed());
}
