//! What the tests of clusters that live (e2e_lifecycle, e2e_ha) put in a cluster before a
//! restart and check after it: a Deployment serving through its Service, a StatefulSet whose
//! volume holds a file, the number of objects, Nodes Ready at their containers' addresses.

use super::{ok, text, Env};
use std::process::Command;

/// `docker ARGS`' stdout; a failure fails the test with Docker's stderr.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The container's IPv4 address on its network now (empty while it is stopped).
pub fn container_ip(name: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ])
    .trim()
    .to_string()
}

/// A Deployment `web` (2 replicas of the busybox `image` answering `hello-from-web` on port 80)
/// behind a Service `web`, and a StatefulSet `data` on `node` whose claim holds `first` (written
/// once) and `boots` (a line per start), behind a headless Service `data`.
pub fn serving_workloads(image: &str, node: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {image}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo hello-from-web > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: data}}
spec:
  clusterIP: None
  selector: {{app: data}}
  ports: [{{port: 80}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: data}}
spec:
  serviceName: data
  replicas: 1
  selector: {{matchLabels: {{app: data}}}}
  template:
    metadata: {{labels: {{app: data}}}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {{kubernetes.io/hostname: {node}}}
      containers:
      - name: main
        image: {image}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "[ -f /data/first ] || cat /proc/sys/kernel/random/uuid > /data/first; echo boot >> /data/boots; exec httpd -f -p 80 -h /data"]
        volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 10Mi}}}}
"#
    )
}

/// What the StatefulSet's volume holds (`first` is written once, `boots` once per start).
pub fn volume_file(env: &Env, file: &str) -> Option<String> {
    let out = env.kubectl(&["exec", "data-0", "--", "cat", &format!("/data/{file}")]);
    out.status.success().then(|| text(&out.stdout))
}

/// The web Service's answer, asked from the StatefulSet's pod by ClusterIP (busybox's static
/// wget cannot resolve names; `timeout` bounds it, its `-T` crashes).
pub fn service_answer(env: &Env) -> String {
    let ip = text(
        &env.kubectl(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])
            .stdout,
    );
    let url = format!("http://{ip}/");
    text(
        &env.kubectl(&["exec", "data-0", "--", "timeout", "3", "wget", "-qO-", &url])
            .stdout,
    )
}

/// (name, node) of every Running web pod, by name (terminating ones too: they still run).
pub fn running_web_pods(env: &Env) -> Vec<(String, String)> {
    let out = env.ok_kubectl(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "--field-selector=status.phase=Running",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    let mut pods: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| {
            let (name, node) = l.split_once(' ')?;
            Some((name.to_string(), node.to_string()))
        })
        .collect();
    pods.sort();
    pods
}

/// Objects that must all be back after a restart (pods are left out: mirror pods come and go;
/// Leases and Events too: they are written all the time).
pub fn object_count(env: &Env) -> usize {
    let out = ok(
        env,
        &[
            "get",
            "deploy,rs,sts,svc,endpoints,pvc,pv,cm,secrets,sa,roles,rolebindings,clusterroles,storageclass,namespaces",
            "-A",
            "--no-headers",
        ],
    );
    out.lines().count()
}

/// (name, Ready status, InternalIP) of every Node.
pub fn nodes(env: &Env) -> Vec<(String, String, String)> {
    let out = env.kubectl(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status} {.status.addresses[?(@.type==\"InternalIP\")].address}{\"\\n\"}{end}",
    ]);
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(str::to_string);
            Some((w.next()?, w.next()?, w.next()?))
        })
        .collect()
}

/// There are as many Nodes as `node_containers`, and each container has a Ready Node whose
/// InternalIP is the container's address now.
pub fn nodes_ready_at_their_addresses(env: &Env, node_containers: &[String]) -> bool {
    let nodes = nodes(env);
    nodes.len() == node_containers.len()
        && node_containers.iter().all(|c| {
            let ip = container_ip(c);
            nodes
                .iter()
                .any(|(n, ready, addr)| n == c && ready == "True" && *addr == ip)
        })
}
