//! End to end, with Docker: Services on a cluster of one control plane and two workers. Two
//! busybox `httpd` pods labelled `app=web` (one per worker) serve their name; a third pod is the
//! client. Checked with the real kubectl, from the client pod and from the host: a ClusterIP
//! Service balances over both backends (its targetPort is the pods' named port), a NodePort
//! answers through a kind extraPortMapping and on every node's IP, sessionAffinity ClientIP
//! sticks, external and internal traffic policy Local keep traffic on the node, a pod reaches
//! itself through its Service (hairpin), a deleted backend leaves the Endpoints and EndpointSlices within a second and gets no
//! more traffic, and a Service without endpoints refuses connections at once. Rule sync
//! latencies are measured and printed. Without a Docker engine the test fails when
//! `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, runtime, text, unique, Env, TestImage};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-services";
const NODE_PORT: u16 = 30080;

/// A free port on the host's loopback for the extraPortMapping.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A pod on `node`: `web` pods serve their name on :8080 (port `http`), others sleep.
fn pod_yaml(name: &str, node: &str, image: &str, web: bool) -> String {
    let (labels, script, ports) = if web {
        (
            "\n  labels:\n    app: web",
            format!(
                "mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p 8080 -h /www"
            ),
            "\n    ports:\n    - name: http\n      containerPort: 8080",
        )
    } else {
        ("", "exec sleep 3600".to_string(), "")
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}{labels}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", {script:?}]{ports}\n"
    )
}

const SERVICES: &str = r"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
    nodePort: 30080
---
apiVersion: v1
kind: Service
metadata:
  name: web-sticky
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web-local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
    nodePort: 30081
---
apiVersion: v1
kind: Service
metadata:
  name: web-itp
spec:
  internalTrafficPolicy: Local
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: nobody
spec:
  selector:
    app: nobody
  ports:
  - port: 80
    targetPort: 8080
";

/// The body of `GET /` at `addr`, or why not.
fn http_get(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (head, body) = out.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(head.lines().next().unwrap_or_default().to_string());
    }
    Ok(body.trim().to_string())
}

/// Runs `sh -c script` in the client pod; (success, stdout, stderr). (busybox 1.35's
/// `wget -T` crashes, so requests are bounded with `timeout`.)
fn in_client(env: &Env, script: &str) -> (bool, String, String) {
    let out = env.kubectl(&["exec", "client", "--", "sh", "-c", script]);
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// How many times each backend answered `count` wgets of `url` from the client pod.
fn hits(env: &Env, url: &str, count: usize) -> BTreeMap<String, usize> {
    let script =
        format!("for i in $(seq {count}); do timeout 3 wget -qO- {url} || echo FAIL; done");
    let (_, out, err) = in_client(env, &script);
    let mut seen = BTreeMap::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *seen.entry(line.to_string()).or_insert(0) += 1;
    }
    assert!(!seen.is_empty(), "no answers from {url}: {err}");
    seen
}

fn cluster_ip(env: &Env, svc: &str) -> String {
    env.ok_kubectl(&["get", "svc", svc, "-o", "jsonpath={.spec.clusterIP}"])
}

/// Polls until `check` holds; how long that took.
fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// Whether `check` holds within `timeout`.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !check() {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// What a failed request leaves to look at: the client's view, the objects, the nodes' rules.
fn diagnose(env: &Env, nodes: &[&str], url: &str) {
    let (_, out, err) = in_client(env, &format!("timeout 3 wget -O- {url}; ip addr; ip route"));
    eprintln!("--- client: wget {url}\n{out}\n{err}");
    for args in [
        &["get", "pods", "-A", "-o", "wide"][..],
        &["get", "svc,endpoints", "-o", "wide"],
        &["get", "endpointslices", "-o", "yaml"],
    ] {
        let o = env.kubectl(args);
        eprintln!(
            "--- kubectl {}\n{}{}",
            args.join(" "),
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    for node in nodes {
        eprintln!(
            "--- {node}: iptables-save\n{}",
            node_exec(node, &["iptables-save"])
        );
        eprintln!(
            "--- {node}: ip route\n{}",
            node_exec(node, &["ip", "route"])
        );
        let logs = std::process::Command::new("docker")
            .args(["logs", "--tail", "80", node])
            .output()
            .unwrap();
        eprintln!(
            "--- {node}: logs\n{}{}",
            text(&logs.stdout),
            text(&logs.stderr)
        );
    }
}

/// A kube client with the test's kubeconfig, for timing what kubectl would be too slow for.
async fn client(kubeconfig: &std::path::Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

#[test]
fn services_balance_stick_follow_their_pods_and_refuse_without_endpoints() {
    if !docker_available() {
        return;
    }
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/busybox:services");
    let mut env = Env::new();
    let name = unique("svc");
    let host_port = free_port();
    let config = format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: {NODE_PORT}\n    hostPort: {host_port}\n    listenAddress: 127.0.0.1\n- role: worker\n"
    );
    env.create_with(&name, Some(NODE_IMAGE), Some(&config));
    let (worker, worker2) = (format!("{name}-worker"), format!("{name}-worker2"));
    let load = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(load.status.success(), "{}", text(&load.stderr));

    // Every node runs the proxy, shown as a mirror pod (once its Node is registered).
    let nodes = [
        format!("{name}-control-plane"),
        worker.clone(),
        worker2.clone(),
    ];
    until("kube-proxy mirror pods", Duration::from_secs(60), || {
        let system = text(
            &env.kubectl(&["get", "pods", "-n", "kube-system", "-o", "name"])
                .stdout,
        );
        nodes
            .iter()
            .all(|node| system.contains(&format!("pod/kube-proxy-{node}")))
    });

    for (pod, node, web) in [
        ("web-1", &worker, true),
        ("web-2", &worker2, true),
        ("client", &worker, false),
    ] {
        env.apply(&pod_yaml(pod, node, &image, web));
    }
    for pod in ["web-1", "web-2", "client"] {
        env.wait_for(pod, "Ready", Duration::from_secs(60), |e| {
            e.jsonpath(pod, "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
        });
    }
    let ip_of = |pod: &str| env.jsonpath(pod, "{.status.podIP}");
    let (ip1, ip2) = (ip_of("web-1"), ip_of("web-2"));

    // Services; how long until a worker's proxy has the rules for the first one.
    let applied = Instant::now();
    env.apply(SERVICES);
    let web_ip = cluster_ip(&env, "web");
    let took = until("web's rules on the worker", Duration::from_secs(10), || {
        node_exec(&worker2, &["iptables-save", "-t", "nat"]).contains(&format!("-d {web_ip}/32"))
    });
    eprintln!(
        "rule sync: Service created → its KUBE-SERVICES rule on {worker2}: {:?} (kubectl apply included: {:?})",
        took,
        applied.elapsed()
    );

    // ClusterIP from a pod: both backends over 20 requests.
    let url = format!("http://{web_ip}:80");
    if !eventually(Duration::from_secs(20), || {
        in_client(&env, &format!("timeout 3 wget -qO- {url}")).0
    }) {
        diagnose(&env, &[&worker, &worker2], &url);
        panic!("{url} never answered");
    }
    let seen = hits(&env, &url, 20);
    eprintln!("ClusterIP {url}, 20 requests: {seen:?}");
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        ["web-1", "web-2"],
        "{seen:?}"
    );

    // kubectl shows the Endpoints and the slices.
    let eps = env.ok_kubectl(&["get", "endpoints", "web"]);
    eprintln!("{eps}");
    for ip in [&ip1, &ip2] {
        assert!(eps.contains(&format!("{ip}:8080")), "{eps}");
    }
    let describe = env.ok_kubectl(&["describe", "svc", "web"]);
    eprintln!("{describe}");
    let line = describe
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_else(|| panic!("no Endpoints line:\n{describe}"));
    assert!(line.contains(&ip1) && line.contains(&ip2), "{line}");
    let slices = env.ok_kubectl(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
    ]);
    eprintln!("{slices}");
    assert!(
        slices.contains("IPv4") && slices.contains("8080"),
        "{slices}"
    );

    // NodePort from the host: through the extraPortMapping, and on every node's IP.
    let mapped: SocketAddr = format!("127.0.0.1:{host_port}").parse().unwrap();
    until(
        "the mapped node port answers",
        Duration::from_secs(20),
        || http_get(mapped).is_ok(),
    );
    let mut from_host = BTreeMap::new();
    for _ in 0..10 {
        *from_host.entry(http_get(mapped).unwrap()).or_insert(0) += 1;
    }
    eprintln!("NodePort via 127.0.0.1:{host_port} (→ {worker}:{NODE_PORT}): {from_host:?}");
    assert!(
        from_host.keys().all(|k| k == "web-1" || k == "web-2"),
        "{from_host:?}"
    );
    let node_ips = env.ok_kubectl(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.status.addresses[?(@.type==\"InternalIP\")].address} {end}",
    ]);
    for ip in node_ips.split_whitespace() {
        let addr: SocketAddr = format!("{ip}:{NODE_PORT}").parse().unwrap();
        let body = http_get(addr).unwrap_or_else(|e| panic!("NodePort on {addr}: {e}"));
        eprintln!("NodePort via {addr}: {body}");
        assert!(body == "web-1" || body == "web-2", "{body}");
    }

    // externalTrafficPolicy Local: a node port answers only from the node's own pod.
    for (node, pod) in [(&worker, "web-1"), (&worker2, "web-2")] {
        let ip = env.ok_kubectl(&[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
        ]);
        let addr: SocketAddr = format!("{ip}:30081").parse().unwrap();
        until(
            "the Local node port answers",
            Duration::from_secs(20),
            || http_get(addr).is_ok(),
        );
        let answers: Vec<String> = (0..6).map(|_| http_get(addr).unwrap()).collect();
        eprintln!("externalTrafficPolicy Local via {addr}: {answers:?}");
        assert!(answers.iter().all(|a| a == pod), "{answers:?}");
    }

    // internalTrafficPolicy Local: the client on the first worker reaches web-1 only.
    let itp = format!("http://{}:80", cluster_ip(&env, "web-itp"));
    until("web-itp answers", Duration::from_secs(20), || {
        in_client(&env, &format!("timeout 3 wget -qO- {itp}")).0
    });
    let seen = hits(&env, &itp, 6);
    eprintln!("internalTrafficPolicy Local, 6 requests: {seen:?}");
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        ["web-1"],
        "{seen:?}"
    );

    // sessionAffinity ClientIP: the same backend 10 times out of 10.
    let sticky = format!("http://{}:80", cluster_ip(&env, "web-sticky"));
    until("web-sticky answers", Duration::from_secs(20), || {
        in_client(&env, &format!("timeout 3 wget -qO- {sticky}")).0
    });
    let seen = hits(&env, &sticky, 10);
    eprintln!("sessionAffinity ClientIP, 10 requests: {seen:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen.values().sum::<usize>(), 10);

    // No endpoints: refused at once, not a hang.
    let nobody = format!("http://{}:80", cluster_ip(&env, "nobody"));
    let started = Instant::now();
    let (ok, _, err) = in_client(&env, &format!("timeout 10 wget -qO- {nobody}"));
    let took = started.elapsed();
    eprintln!(
        "no endpoints: wget failed after {took:?} (kubectl exec included): {}",
        err.trim()
    );
    assert!(!ok, "a Service without endpoints answered");
    assert!(err.contains("refused"), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A backend goes: Endpoints and EndpointSlices follow within a second, then the rules.
    let kubeconfig = env.kubeconfig();
    let (api_took, proxy_took) = rt.block_on(async {
        use k8s_openapi::api::core::v1::Endpoints;
        use k8s_openapi::api::discovery::v1::EndpointSlice;
        use kube::api::{Api, DeleteParams, ListParams};
        let client = client(&kubeconfig).await;
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "default");
        let deleted = Instant::now();
        pods.delete("web-2", &DeleteParams::default())
            .await
            .unwrap();
        let (mut ep_at, mut slice_at) = (None, None);
        while ep_at.is_none() || slice_at.is_none() {
            assert!(
                deleted.elapsed() < Duration::from_secs(10),
                "endpoints never followed"
            );
            if ep_at.is_none() {
                let ep = endpoints.get("web").await.unwrap();
                let ready: Vec<String> = ep
                    .subsets
                    .iter()
                    .flatten()
                    .flat_map(|s| s.addresses.iter().flatten().map(|a| a.ip.clone()))
                    .collect();
                if !ready.contains(&ip2) {
                    ep_at = Some(deleted.elapsed());
                }
            }
            if slice_at.is_none() {
                let list = slices
                    .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                    .await
                    .unwrap();
                let still_ready = list.items.iter().flat_map(|s| &s.endpoints).any(|e| {
                    e.addresses.contains(&ip2)
                        && e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
                });
                if !still_ready {
                    slice_at = Some(deleted.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let api_took = ep_at.unwrap().max(slice_at.unwrap());
        eprintln!(
            "pod deleted → Endpoints without it after {:?}, EndpointSlice not ready after {:?}",
            ep_at.unwrap(),
            slice_at.unwrap()
        );
        let proxy_took = loop {
            let nat = node_exec(&worker, &["iptables-save", "-t", "nat"]);
            if !nat.contains(&format!("--to-destination {ip2}:8080")) {
                break deleted.elapsed();
            }
            assert!(
                deleted.elapsed() < Duration::from_secs(10),
                "rules never followed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        eprintln!("pod deleted → no DNAT to it on {worker} after {proxy_took:?}");
        (api_took, proxy_took)
    });
    assert!(api_took < Duration::from_secs(1), "{api_took:?}");
    assert!(proxy_took < Duration::from_secs(2), "{proxy_took:?}");
    let eps = env.ok_kubectl(&["get", "endpoints", "web"]);
    eprintln!("{eps}");
    assert!(!eps.contains(&ip2), "{eps}");
    let slices = env.ok_kubectl(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
        "-o",
        "wide",
    ]);
    eprintln!("{slices}");
    let seen = hits(&env, &url, 10);
    eprintln!("after deleting web-2, 10 requests: {seen:?}");
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        ["web-1"],
        "{seen:?}"
    );

    // Hairpin: web-1 reaches itself through its Service (masqueraded back to itself).
    let out = env.kubectl(&[
        "exec",
        "web-1",
        "--",
        "sh",
        "-c",
        &format!("timeout 3 wget -qO- {url}"),
    ]);
    eprintln!(
        "hairpin web-1 → {url}: {}{}",
        text(&out.stdout).trim(),
        text(&out.stderr).trim()
    );
    assert_eq!(text(&out.stdout).trim(), "web-1");
}
