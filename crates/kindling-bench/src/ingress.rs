//! `kindling-bench ingress`: HTTP through the ingress controller beside the same requests
//! straight to the pod, in one run, from the same place (the node's own network namespace:
//! `http-load` runs there through `docker exec`): a busybox httpd pod on a one-node cluster,
//! its Service and an Ingress for it; requests/s and p99 latency of 16 clients for 5 s, each
//! request on a new connection (busybox httpd closes every connection, so the direct figure is
//! the pod's own floor). Then the controller's memory: the same controller alone in a process
//! of its own in the node (`ingress-alone`, the controller's own kubeconfig, other ports),
//! synced and under the same load, its VmRSS read from /proc. A Gateway line: the same requests through
//! an HTTPRoute (`/gw` rewritten to `/`) on the same proxy, removed again before the memory step.
//! Last, the controller's cost where it runs, inside `kindling node`: a second cluster of a
//! control plane (with the backend pod) and two workers alike but for `ingress-ready=true` on
//! one; the difference of the two workers' node processes' VmRSS, synced and after the same
//! load through the ingress worker (the standalone process above also holds the code pages of
//! a whole binary, which in a node are the node's anyway).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "busybox:latest";
const CLIENTS: usize = 16;
const SECONDS: u64 = 5;
/// The standalone controller's ports inside the node.
const ALONE_HTTP: u16 = 8081;
const ALONE_HTTPS: u16 = 8444;

pub async fn run(kindling: &std::path::Path) -> Result<()> {
    println!(
        "kindling ingress benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    kindling_image::build_test_image(IMAGE).await?;
    let home = tempfile::tempdir()?;
    let cluster = crate::pods::BenchCluster::create(kindling, home.path(), "ingbench", 0)?;
    cluster.load(kindling, IMAGE)?;
    let client = cluster.client().await?;
    let node = format!("{}-control-plane", cluster.name);
    let pod_ip = backend(&client, None).await?;
    crate::pods::copy_bench_into(&node)?;
    let node_ip = ipv4_of(&node)?;
    // The Ingress answers once the controller has synced it.
    let through = format!("http://{node_ip}:80/index.html");
    let direct = format!("http://{pod_ip}:8080/index.html");
    wait_for_200(&node, &through)?;
    let direct_result = load(&node, &direct)?;
    let ingress_result = load(&node, &through)?;
    println!("direct to the pod  {direct}: {direct_result}");
    println!("through the ingress {through}: {ingress_result}");
    let ratio = ingress_result.rate / direct_result.rate;
    println!(
        "ingress throughput = {:.0}% of direct (target ≥ 60%)",
        ratio * 100.0
    );
    // The same pod through a Gateway API HTTPRoute on the same proxy (a prefix rewritten).
    let gateway = format!("http://{node_ip}:80/gw/index.html");
    wait_for_200(&node, &gateway)?;
    let gateway_result = load(&node, &gateway)?;
    println!("through an HTTPRoute {gateway}: {gateway_result}");
    println!(
        "HTTPRoute throughput = {:.0}% of direct",
        gateway_result.rate / direct_result.rate * 100.0
    );
    remove_gateway_route(&client).await?;
    controller_memory(&node, &node_ip)?;
    drop(cluster);
    cost_in_a_node(kindling, home.path()).await
}

/// Two workers alike but for the ingress controller on one (see the module's documentation).
const COST_CLUSTER: &str = "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  labels:
    ingress-ready: \"true\"
- role: worker
";

async fn cost_in_a_node(kindling: &std::path::Path, home: &std::path::Path) -> Result<()> {
    let config = home.join("ingcost.yaml");
    std::fs::write(&config, COST_CLUSTER)?;
    let cluster =
        crate::pods::BenchCluster::create_from(kindling, home, "ingcost".into(), &config)?;
    cluster.load(kindling, IMAGE)?;
    let client = cluster.client().await?;
    let control_plane = format!("{}-control-plane", cluster.name);
    let (with, without) = (
        format!("{}-worker", cluster.name),
        format!("{}-worker2", cluster.name),
    );
    backend(&client, Some(&control_plane)).await?;
    crate::pods::copy_bench_into(&control_plane)?;
    let url = format!("http://{}:80/index.html", ipv4_of(&with)?);
    wait_for_200(&control_plane, &url)?;
    let synced = node_rss(&with)? - node_rss(&without)?;
    let busy = load(&control_plane, &url)?;
    let loaded = node_rss(&with)? - node_rss(&without)?;
    println!(
        "ingress controller in a node (the ingress worker's `kindling node` VmRSS minus a plain worker's): {:.1} MB synced, {:.1} MB after {SECONDS} s of load ({busy}) (target ≤ 30 MB)",
        synced / 1e6,
        loaded / 1e6
    );
    Ok(())
}

/// The node's IPv4 address (`hostname -i` lists the IPv6 one too).
fn ipv4_of(node: &str) -> Result<String> {
    let addresses = docker_exec(node, &["hostname", "-i"])?;
    addresses
        .split_whitespace()
        .find(|a| a.contains('.'))
        .map(str::to_string)
        .with_context(|| format!("{node} has no IPv4 address"))
}

/// VmRSS (bytes) of a node's `kindling node` process (PID 1 of the container).
fn node_rss(node: &str) -> Result<f64> {
    vm_rss(node, "1")
}

/// The busybox httpd pod (on `node`, its taints tolerated, when given), its Service and an
/// Ingress and HTTPRoute for it; the pod's IP once it is Running.
async fn backend(client: &kube::Client, node: Option<&str>) -> Result<String> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c",
            "image": IMAGE, "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"]}]}
    }))?;
    if let (Some(node), Some(spec)) = (node, pod.spec.as_mut()) {
        spec.node_name = Some(node.to_string());
        spec.tolerations = Some(vec![serde_json::from_value(
            serde_json::json!({"operator": "Exists"}),
        )?]);
    }
    pods.create(&PostParams::default(), &pod).await?;
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::default_namespaced(client.clone());
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
            }))?,
        )
        .await?;
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::default_namespaced(client.clone());
    ingresses
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web"},
                "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
            }))?,
        )
        .await?;
    gateway_route(client).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p = pods.get("web").await?;
        let status = p.status.unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if let (true, Some(ip)) = (ready, status.pod_ip) {
            return Ok(ip);
        }
        anyhow::ensure!(Instant::now() < deadline, "the backend pod never got ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Gateway of the class `kindling` on port 80 and an HTTPRoute `/gw` → the same Service.
async fn gateway_route(client: &kube::Client) -> Result<()> {
    let group = kindling_ingress::gateway::types::GROUP;
    for (kind, plural, body) in [
        (
            "Gateway",
            "gateways",
            serde_json::json!({
                "apiVersion": format!("{group}/v1"), "kind": "Gateway",
                "metadata": {"name": "bench"},
                "spec": {"gatewayClassName": "kindling",
                         "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
            }),
        ),
        (
            "HTTPRoute",
            "httproutes",
            serde_json::json!({
                "apiVersion": format!("{group}/v1"), "kind": "HTTPRoute",
                "metadata": {"name": "bench"},
                "spec": {"parentRefs": [{"name": "bench"}], "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": "/gw"}}],
                    "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {
                        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                    "backendRefs": [{"name": "web", "port": 80}]}]},
            }),
        ),
    ] {
        gateway_api(client, kind, plural)
            .create(&PostParams::default(), &serde_json::from_value(body)?)
            .await?;
    }
    Ok(())
}

/// Removes the Gateway and HTTPRoute before the memory step: the standalone controller listens
/// on other ports, so it would find the Gateway's port-80 listener `PortUnavailable` while the
/// node's controller finds it `Accepted`, and the two would rewrite its status in turn.
async fn remove_gateway_route(client: &kube::Client) -> Result<()> {
    for (kind, plural) in [("HTTPRoute", "httproutes"), ("Gateway", "gateways")] {
        gateway_api(client, kind, plural)
            .delete("bench", &kube::api::DeleteParams::default())
            .await?;
    }
    Ok(())
}

fn gateway_api(client: &kube::Client, kind: &str, plural: &str) -> Api<kube::api::DynamicObject> {
    let group = kindling_ingress::gateway::types::GROUP;
    let resource = kube::discovery::ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::default_namespaced_with(client.clone(), &resource)
}

fn docker_exec(node: &str, argv: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .arg("exec")
        .arg(node)
        .args(argv)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{argv:?} in {node}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_for_200(node: &str, url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = docker_exec(
            node,
            &["/usr/local/bin/kindling-bench", "http-load", url, "1", "1"],
        );
        if out.is_ok_and(|o| o.contains(" 0 errors")) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{url} never answered 200");
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct LoadResult {
    rate: f64,
    line: String,
}

impl std::fmt::Display for LoadResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

fn load(node: &str, url: &str) -> Result<LoadResult> {
    let out = docker_exec(
        node,
        &[
            "/usr/local/bin/kindling-bench",
            "http-load",
            url,
            &SECONDS.to_string(),
            &CLIENTS.to_string(),
        ],
    )?;
    let line = out.trim().to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    let rate = words
        .windows(2)
        .find(|w| w[1] == "req/s")
        .and_then(|w| w[0].parse().ok())
        .with_context(|| format!("no rate in {line:?}"))?;
    Ok(LoadResult { rate, line })
}

/// The controller alone in a process of its own, synced and under load: its VmRSS.
fn controller_memory(node: &str, node_ip: &str) -> Result<()> {
    let mut alone = Command::new("docker")
        .args([
            "exec",
            node,
            "/usr/local/bin/kindling-bench",
            "ingress-alone",
            &ALONE_HTTP.to_string(),
            &ALONE_HTTPS.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let url = format!("http://{node_ip}:{ALONE_HTTP}/index.html");
    let synced = wait_for_200(node, &url);
    let result = synced.and_then(|()| {
        let idle = rss_of_alone(node)?;
        let busy = load(node, &url)?;
        let loaded = rss_of_alone(node)?;
        println!(
            "ingress controller alone (own process): VmRSS {:.1} MB synced, {:.1} MB after {SECONDS} s of load ({busy}) (target ≤ 30 MB)",
            idle / 1e6,
            loaded / 1e6
        );
        Ok(())
    });
    if let Ok(pid) = alone_pid(node) {
        let _ = docker_exec(node, &["kill", &pid]);
    }
    let _ = alone.kill();
    let _ = alone.wait();
    result
}

/// The pid of the `ingress-alone` process in the node (the node image has no procps; the
/// pattern's `[e]` keeps the searching shell from matching itself).
fn alone_pid(node: &str) -> Result<String> {
    let out = docker_exec(
        node,
        &[
            "sh",
            "-c",
            "for p in /proc/[0-9]*; do grep -q 'ingress-alon[e]' $p/cmdline 2>/dev/null && echo ${p#/proc/}; done; true",
        ],
    )?;
    out.split_whitespace()
        .next()
        .map(str::to_string)
        .context("the ingress-alone process is not running")
}

/// VmRSS (bytes) of the `ingress-alone` process in the node.
fn rss_of_alone(node: &str) -> Result<f64> {
    vm_rss(node, &alone_pid(node)?)
}

/// VmRSS (bytes) of process `pid` in the node.
fn vm_rss(node: &str, pid: &str) -> Result<f64> {
    let out = docker_exec(node, &["grep", "VmRSS", &format!("/proc/{pid}/status")])?;
    let kb: f64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no VmRSS in {out:?}"))?;
    Ok(kb * 1024.0)
}

/// `ingress-alone HTTP HTTPS`: the ingress controller with the node's identity on other ports.
pub async fn alone(http: u16, https: u16) -> Result<()> {
    // The controller's own credential (`ingress-kindling/ingress-nginx`), as `kindling node`
    // gives it: the kubelet's node identity may not list Ingresses or Services.
    let kubeconfig =
        std::path::Path::new("/kindling").join(kindling_node::identities::Part::Ingress.file());
    let client = crate::kubeconfig_client(&kubeconfig).await?;
    kindling_ingress::run(
        client,
        kindling_ingress::Config {
            node_name: "bench".into(),
            http: std::net::SocketAddr::from(([0, 0, 0, 0], http)),
            https: std::net::SocketAddr::from(([0, 0, 0, 0], https)),
            status_address: "localhost".into(),
        },
    )
    .await
}

/// `http-load URL SECONDS CLIENTS`: GET `url` from `clients` loops for `seconds`, each request
/// on a new connection; prints requests/s, p50 and p99.
pub async fn http_load(url: &str, seconds: u64, clients: usize) -> Result<()> {
    let rest = url.strip_prefix("http://").context("http:// only")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let request = format!("GET /{path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    let authority = authority.to_string();
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (authority, request) = (authority.clone(), request.clone());
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                loop {
                    let t = Instant::now();
                    let ok = async {
                        let mut s = tokio::net::TcpStream::connect(&authority).await?;
                        s.write_all(request.as_bytes()).await?;
                        let mut body = Vec::new();
                        s.read_to_end(&mut body).await?;
                        Ok::<bool, std::io::Error>(
                            body.starts_with(b"HTTP/1.1 200") || body.starts_with(b"HTTP/1.0 200"),
                        )
                    }
                    .await;
                    match ok {
                        Ok(true) => latencies.push(t.elapsed()),
                        _ => errors += 1,
                    }
                    if Instant::now() >= until {
                        return (latencies, errors);
                    }
                }
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} requests in {elapsed:.1} s: {:.0} req/s p50 {:.2} ms p99 {:.2} ms, {errors} errors",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
