//! End to end, with Docker: cluster DNS. One cluster (a control plane and a worker), Services
//! with hand-made EndpointSlices (no endpoints controller needed), busybox pods on both nodes
//! asking through `nslookup` (busybox's own resolver: a dotless name gets every search domain,
//! a dotted one none), and glibc's resolver (`getent` in the node, given the pod's own
//! resolv.conf, so search list and ndots:5 apply as in a glibc pod; busybox's static wget cannot
//! resolve without NSS). Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1`
//! and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, runtime, text, unique, Env, TestImage};
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-dns";

fn client_pod(name: &str, node: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n"
    )
}

/// `sh -c script` in `pod`: (exit success, stdout + stderr).
fn exec(env: &Env, pod: &str, script: &str) -> (bool, String) {
    let out = env.kubectl(&["exec", pod, "--", "sh", "-c", script]);
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// Runs `script` in `pod` until its output satisfies `check` (30 s), returning that output.
fn until(env: &Env, pod: &str, script: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out) = exec(env, pod, script);
        if check(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "in {pod}: `{script}` never gave the expected output; last:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What glibc resolves `name` to on `node` with `resolv_conf` (a pod's) as its resolv.conf,
/// until the answer contains `want` (30 s).
fn glibc_lookup(node: &str, resolv_conf: &str, name: &str, want: &str) -> String {
    let script = format!(
        "printf '%s' \"$CONF\" > /run/pod-resolv.conf && unshare -m sh -c 'mount --bind /run/pod-resolv.conf /etc/resolv.conf && getent ahostsv4 {name}'"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("docker")
            .args([
                "exec",
                "-e",
                &format!("CONF={resolv_conf}"),
                node,
                "sh",
                "-c",
                &script,
            ])
            .output()
            .unwrap();
        let out = format!("{}{}", text(&out.stdout), text(&out.stderr));
        if out.contains(want) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "glibc on {node} never resolved {name} to {want}; last:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn pods_resolve_services_pods_and_outside_names() {
    if !docker_available() {
        return;
    }
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/busybox:dns");
    let mut env = Env::new();
    let name = unique("dns");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(&name, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (cp, worker) = (format!("{name}-control-plane"), format!("{name}-worker"));

    // The kube-dns Service, as kubeadm makes it, and a coredns pod for every node.
    let svc = env.ok_kubectl(&["get", "svc", "-n", "kube-system", "kube-dns"]);
    eprintln!("{svc}");
    let row: Vec<&str> = svc.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..5],
        [
            "kube-dns",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "53/UDP,53/TCP,9153/TCP"
        ]
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pods = env.ok_kubectl(&["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns"]);
        if pods.contains(&format!("coredns-{cp}")) && pods.contains(&format!("coredns-{worker}")) {
            eprintln!("{pods}");
            break;
        }
        assert!(Instant::now() < deadline, "no coredns pods:\n{pods}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Services: a ClusterIP one (no selector: no endpoints needed), one in another namespace,
    // a headless one with a hand-made EndpointSlice, an ExternalName to the control-plane
    // container (which only Docker's DNS knows).
    env.apply(&format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Namespace
metadata: {{name: other}}
---
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: other}}
spec:
  ports: [{{name: https, port: 443}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: default}}
spec:
  clusterIP: None
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: default
  labels: {{kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{{name: pg, port: 5432, protocol: TCP}}]
endpoints:
- addresses: ["10.244.200.1"]
  hostname: db-0
  conditions: {{ready: true}}
- addresses: ["10.244.200.2"]
  conditions: {{ready: true}}
- addresses: ["10.244.200.3"]
  conditions: {{ready: false}}
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: default}}
spec:
  type: ExternalName
  externalName: {cp}
"#
    ));
    let web_ip = env
        .ok_kubectl(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])
        .trim()
        .to_string();
    let api_ip = env
        .ok_kubectl(&[
            "get",
            "svc",
            "api",
            "-n",
            "other",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .trim()
        .to_string();
    assert!(web_ip.starts_with("10.96."), "{web_ip}");

    env.apply(&client_pod("client", &worker, &image));
    env.apply(&client_pod("client-cp", &cp, &image));
    for pod in ["client", "client-cp"] {
        env.wait_for(pod, "Running", Duration::from_secs(60), |e| {
            e.status_column(pod).0 == "Running"
        });
    }

    // ClusterFirst: the kube-dns address, the cluster's search list, ndots:5.
    let (_, resolv) = exec(&env, "client", "cat /etc/resolv.conf");
    eprintln!("client's resolv.conf:\n{resolv}");
    assert!(resolv.contains("nameserver 10.96.0.10"), "{resolv}");
    assert!(
        resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5"), "{resolv}");

    // glibc with the pod's resolv.conf, from each node: <svc>.<ns>, another namespace, and an
    // outside name (the other node's container, which only Docker's DNS knows; /etc/hosts has
    // only the node itself) through every search domain.
    for node in [&worker, &cp] {
        let other = if node == &worker { &cp } else { &worker };
        for (name, want) in [
            ("web", web_ip.as_str()),
            ("web.default", web_ip.as_str()),
            ("web.default.svc", web_ip.as_str()),
            ("api.other", api_ip.as_str()),
            ("db", "10.244.200."),
            (other.as_str(), "172."),
        ] {
            let out = glibc_lookup(node, &resolv, name, want);
            eprintln!(
                "glibc on {node}: {name} → {}",
                out.lines().next().unwrap_or("")
            );
        }
    }

    for pod in ["client", "client-cp"] {
        // A short name (busybox applies the search list to dotless names), the full name.
        let out = until(&env, pod, "nslookup web", |o| o.contains(&web_ip));
        eprintln!("{pod}: nslookup web\n{out}");
        let out = until(&env, pod, "nslookup web.default.svc.cluster.local", |o| {
            o.contains(&web_ip)
        });
        eprintln!("{pod}: nslookup web.default.svc.cluster.local\n{out}");
        // Headless: every ready endpoint; one by its hostname.
        let out = until(&env, pod, "nslookup db.default.svc.cluster.local", |o| {
            o.contains("10.244.200.1") && o.contains("10.244.200.2")
        });
        eprintln!("{pod}: nslookup db.default.svc.cluster.local\n{out}");
        assert!(!out.contains("10.244.200.3"), "not ready: {out}");
        until(
            &env,
            pod,
            "nslookup db-0.db.default.svc.cluster.local",
            |o| o.contains("10.244.200.1"),
        );
        // ExternalName: a CNAME, followed to the address Docker's DNS has for the node.
        let out = until(&env, pod, "nslookup ext.default.svc.cluster.local", |o| {
            o.contains("canonical name") && o.contains("172.")
        });
        eprintln!("{pod}: nslookup ext.default.svc.cluster.local\n{out}");
        // An outside name, forwarded to Docker's DNS.
        let out = until(&env, pod, &format!("nslookup {cp}."), |o| {
            o.contains("172.")
        });
        eprintln!("{pod}: nslookup {cp}.\n{out}");
        // An unknown service: NXDOMAIN.
        let (ok, out) = exec(&env, pod, "nslookup nope.default.svc.cluster.local");
        assert!(
            !ok || out.contains("NXDOMAIN") || out.contains("can't find"),
            "{out}"
        );
    }

    // SRV for a named port, PTR for the service's address.
    let out = until(
        &env,
        "client",
        "nslookup -type=srv _http._tcp.web.default.svc.cluster.local",
        |o| o.contains("web.default.svc.cluster.local") && o.contains(" 80 "),
    );
    eprintln!("SRV:\n{out}");
    let out = until(&env, "client", &format!("nslookup {web_ip}"), |o| {
        o.contains("web.default.svc.cluster.local")
    });
    eprintln!("PTR:\n{out}");

    // The node: the address on its dummy interface (on lo where the host kernel has no dummy
    // module, as here), DNS to it untracked.
    let addr = node_exec(&worker, &["ip", "-4", "-o", "addr", "show"]);
    let line = addr.lines().find(|l| l.contains("10.96.0.10/32"));
    eprintln!("kube-dns address on the worker: {line:?}");
    assert!(line.is_some(), "{addr}");
    let raw = node_exec(&worker, &["iptables-save", "-t", "raw"]);
    assert!(raw.contains("-A PREROUTING -j KINDLING-DNS"), "{raw}");
    // The metrics endpoint counts what was asked.
    let metrics = node_exec(
        &worker,
        &[
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/9153 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
        ],
    );
    eprintln!("{metrics}");
    assert!(
        metrics.contains("kindling_dns_requests_total{proto=\"udp\"}"),
        "{metrics}"
    );
}
