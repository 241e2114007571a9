//! More of S7 with the real kubectl: watch, describe, edit, diff, proxy, paging, strict field
//! validation, namespaces.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{rows, text, Kubectl, TestServer};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n  k: v\n";

fn cm(name: &str) -> String {
    CM.replace("NAME", name)
}

/// Kills a background kubectl when the test ends, even on failure.
struct Background(std::process::Child);
impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_kubectl(s: &TestServer, args: &[&str]) -> (Background, mpsc::Receiver<String>) {
    let mut child = s
        .kubectl
        .command(&s.kubeconfig)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Background(child), rx)
}

fn next_line(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(15))
        .expect("kubectl printed a line in time")
}

fn get_watch_prints_changes(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&cm("first"));
    let (_bg, rx) = spawn_kubectl(&s, &["get", "configmaps", "-w", "--output-watch-events"]);
    let header = next_line(&rx);
    assert!(
        header.starts_with("EVENT") && header.contains("NAME") && header.contains("DATA"),
        "{header}"
    );
    let mut seen = vec![next_line(&rx), next_line(&rx)];
    seen.sort();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("ADDED") && l.contains("first")),
        "{seen:?}"
    );
    s.apply(&cm("second"));
    let line = next_line(&rx);
    assert!(
        line.starts_with("ADDED") && line.contains("second"),
        "{line}"
    );
    s.ok(&["label", "cm", "second", "x=y"]);
    let line = next_line(&rx);
    assert!(
        line.starts_with("MODIFIED") && line.contains("second"),
        "{line}"
    );
    s.ok(&["delete", "cm", "second"]);
    let line = next_line(&rx);
    assert!(
        line.starts_with("DELETED") && line.contains("second"),
        "{line}"
    );
}

/// `kubectl wait` watches until a condition holds. kubectl 1.35 does it with a streaming list
/// (`sendInitialEvents=true`, ended by the bookmark annotated `k8s.io/initial-events-end`),
/// older kubectls list then watch.
fn wait_for_conditions(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&cm("conf"));
    let met = "configmap/conf condition met";
    let already = [
        "wait",
        "--for=jsonpath={.data.k}=v",
        "cm/conf",
        "--timeout=10s",
    ];
    assert_eq!(s.ok(&already).trim(), met);
    let not_yet = [
        "wait",
        "--for=jsonpath={.metadata.labels.ready}=yes",
        "cm/conf",
    ];
    let err = s.fails(&[&not_yet[..], &["--timeout=1s"]].concat());
    assert!(err.contains("timed out waiting for the condition"), "{err}");
    let (_bg, rx) = spawn_kubectl(&s, &[&not_yet[..], &["--timeout=20s"]].concat());
    std::thread::sleep(Duration::from_millis(300));
    s.ok(&["label", "cm", "conf", "ready=yes"]);
    assert_eq!(next_line(&rx), met);
    let (_bg, rx) = spawn_kubectl(&s, &["wait", "--for=delete", "cm/conf", "--timeout=20s"]);
    std::thread::sleep(Duration::from_millis(300));
    s.ok(&["delete", "cm", "conf"]);
    assert_eq!(next_line(&rx), met);
}

fn describe_shows_fields(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox:1.36",
        "--replicas=2",
    ]);
    let out = s.ok(&["describe", "deployment", "web"]);
    for want in [
        "Name:                   web",
        "Namespace:              default",
        "Replicas:               2 desired",
        "StrategyType:           RollingUpdate",
        "Image:         busybox:1.36",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let out = s.ok(&["describe", "namespace", "default"]);
    assert!(out.contains("Status:       Active"), "{out}");
}

fn edit_with_an_editor(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&cm("conf"));
    let out = s.kubectl_with(
        &["edit", "cm", "conf"],
        None,
        &[("KUBE_EDITOR", "sed -i s/k:\\ v/k:\\ edited/")],
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "configmap/conf edited",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        s.ok(&["get", "cm", "conf", "-o", "jsonpath={.data.k}"]),
        "edited"
    );
    let out = s.kubectl_with(&["edit", "cm", "conf"], None, &[("KUBE_EDITOR", "true")]);
    assert!(
        text(&out.stderr).contains("Edit cancelled, no changes made."),
        "{}",
        text(&out.stderr)
    );
}

fn diff_shows_what_apply_would_change(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&cm("conf"));
    let same = s.kubectl_stdin(&["diff", "-f", "-"], &cm("conf"));
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    let changed = s.kubectl_stdin(&["diff", "-f", "-"], &cm("conf").replace("k: v", "k: w"));
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed.stderr));
    let d = text(&changed.stdout);
    assert!(d.contains("-  k: v") && d.contains("+  k: w"), "{d}");
    assert!(
        !d.contains("resourceVersion") && !d.contains("generation"),
        "only the data differs:\n{d}"
    );
    // Nothing was written.
    assert_eq!(
        s.ok(&["get", "cm", "conf", "-o", "jsonpath={.data.k}"]),
        "v"
    );
}

fn strict_field_validation_rejects_typos(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let typo = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\n  labelz: {a: b}\n";
    let out = s.kubectl_stdin(&["apply", "-f", "-"], typo);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("strict decoding error: unknown field \"metadata.labelz\""),
        "{err}"
    );
    let out = s.kubectl_stdin(&["apply", "--validate=false", "-f", "-"], typo);
    assert_eq!(
        text(&out.stdout).trim(),
        "configmap/t created",
        "{}",
        text(&out.stderr)
    );
    let out = s.kubectl_stdin(
        &["create", "--validate=warn", "-f", "-"],
        &typo.replace("name: t", "name: u"),
    );
    assert!(
        text(&out.stderr).contains("unknown field \"metadata.labelz\""),
        "{}",
        text(&out.stderr)
    );
}

/// What kubectl shows for bodies the server cannot decode is kube-apiserver's text (issue 11,
/// item 13): a YAML file POSTed raw (kubectl sends it as JSON) and a field of the wrong type.
fn decoding_errors_are_upstreams(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: raw\n";
    let out = s.kubectl_stdin(&["create", "--raw", "/api/v1/namespaces", "-f", "-"], ns);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (BadRequest): the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a2076310a6b696e643a204e616d657370616365 ...)"
    );
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: three\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], deployment);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (BadRequest): error when creating \"STDIN\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );
}

fn paging_returns_everything_once(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let mut all = String::new();
    for i in 0..25 {
        all.push_str(&cm(&format!("cm-{i:02}")));
        all.push_str("---\n");
    }
    s.apply(&all);
    let out = s.ok(&["get", "cm", "--chunk-size=7", "-o", "name"]);
    let names: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("configmap/cm-"))
        .collect();
    assert_eq!(names.len(), 25, "{out}");
    let table = rows(&s.ok(&["get", "cm", "--chunk-size=4"]));
    assert_eq!(table.iter().filter(|r| r[0].starts_with("cm-")).count(), 25);
}

fn proxy_serves_the_api(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_bg, rx) = spawn_kubectl(&s, &["proxy", &format!("--port={port}")]);
    assert!(next_line(&rx).contains("Starting to serve"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /api/v1/namespaces/default/services HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(
        body.contains("\"ServiceList\"") && body.contains("\"kubernetes\""),
        "{body}"
    );
}

fn namespaces_scope_and_deletion(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.ok(&["create", "namespace", "team-a"]);
    s.ok(&[
        "create",
        "configmap",
        "c",
        "-n",
        "team-a",
        "--from-literal=a=b",
    ]);
    let all = rows(&s.ok(&["get", "cm", "-A"]));
    assert_eq!(all[0][..2], ["NAMESPACE".to_string(), "NAME".to_string()]);
    assert!(all.iter().any(|r| r[0] == "team-a" && r[1] == "c"));
    // Every namespace gets its default ServiceAccount and root CA.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s
        .ok(&["get", "sa", "-n", "team-a", "-o", "name"])
        .contains("serviceaccount/default")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "default ServiceAccount never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        s.ok(&["delete", "namespace", "team-a"]).trim(),
        "namespace \"team-a\" deleted"
    );
    let err = s.fails(&["get", "namespace", "team-a"]);
    assert!(err.contains("NotFound"), "{err}");
    let err = s.fails(&[
        "create",
        "configmap",
        "d",
        "-n",
        "team-a",
        "--from-literal=a=b",
    ]);
    assert!(err.contains("namespaces \"team-a\" not found"), "{err}");
    // The system namespaces stay, as upstream's NamespaceLifecycle admission keeps them.
    let err = s.fails(&[
        "delete",
        "namespace",
        "default",
        "kube-system",
        "kube-public",
    ]);
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(
            err.contains(&format!(
                "Error from server (Forbidden): namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
            )),
            "{err}"
        );
    }
    assert_eq!(
        s.ok(&[
            "get",
            "namespace",
            "default",
            "-o",
            "jsonpath={.status.phase}"
        ]),
        "Active"
    );
}

fn auth_can_i_and_whoami(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    assert_eq!(
        s.ok(&["auth", "can-i", "create", "deployments"]).trim(),
        "yes"
    );
    let who = rows(&s.ok(&["auth", "whoami"]));
    assert_eq!(who[1], vec!["Username", "kubernetes-admin"]);
    assert!(who[2].join(" ").contains("system:masters"), "{who:?}");
}

/// A node registers with its status (upstream's node strategy keeps it on create; other
/// resources with a status subresource start without one).
fn nodes_keep_their_status_on_create(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  capacity:\n    cpu: \"4\"\n    memory: 8Gi\n    pods: \"110\"\n  conditions:\n  - type: Ready\n    status: \"True\"\n    reason: KubeletReady\n    message: ready\n",
    );
    assert_eq!(
        s.ok(&[
            "get",
            "node",
            "n1",
            "-o",
            "jsonpath={.status.capacity.cpu} {.status.allocatable.memory}"
        ]),
        "4 8Gi"
    );
    let describe = s.ok(&["describe", "node", "n1"]);
    assert!(describe.contains("Capacity:"), "{describe}");
    assert!(describe.contains("KubeletReady"), "{describe}");
    let nodes = rows(&s.ok(&["get", "nodes"]));
    assert_eq!(nodes[1][..2], ["n1".to_string(), "Ready".to_string()]);
    // Writes to nodes are tracked like any other's (issue 11, item 7).
    s.ok(&["taint", "nodes", "n1", "dedicated=db:NoSchedule"]);
    s.ok(&["label", "nodes", "n1", "disk=ssd"]);
    let managers = s.ok(&[
        "get",
        "node",
        "n1",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    for manager in [
        "kubectl-client-side-apply",
        "kubectl-taint",
        "kubectl-label",
    ] {
        assert!(managers.split(' ').any(|m| m == manager), "{managers}");
    }
    // A Deployment's status is the controller's to write, not the creator's.
    s.apply("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  selector:\n    matchLabels: {a: b}\n  template:\n    metadata:\n      labels: {a: b}\n    spec:\n      containers:\n      - {name: c, image: x}\nstatus:\n  replicas: 7\n");
    assert_ne!(
        s.ok(&["get", "deploy", "d", "-o", "jsonpath={.status.replicas}"]),
        "7"
    );
}

common::kubectl_tests!(
    nodes_keep_their_status_on_create,
    get_watch_prints_changes,
    wait_for_conditions,
    describe_shows_fields,
    edit_with_an_editor,
    diff_shows_what_apply_would_change,
    strict_field_validation_rejects_typos,
    decoding_errors_are_upstreams,
    paging_returns_everything_once,
    proxy_serves_the_api,
    namespaces_scope_and_deletion,
    auth_can_i_and_whoami,
);
