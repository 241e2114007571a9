//! End to end, with Docker: `kubectl exec`, `attach`, `cp`, `port-forward` and `debug`
//! (ephemeral containers) through the API server, the worker's node agent and containerd's
//! streaming server. One cluster (control plane + worker) for every case; each remote command
//! runs over WebSocket v5 (kubectl's default, translated to SPDY by the API server) and over
//! SPDY (the fallback, proxied byte for byte). Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1` and is
//! skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, text, unique, Env};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-stream";
const BUSYBOX: &str = "busybox:latest";

/// Running any program as the user, with kubectl's switches in the environment and a time limit.
trait Streams {
    fn command(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Command;
    fn run(&self, program: &str, args: &[&str], vars: &[(&str, &str)], stdin: &[u8]) -> Output;
}

impl Streams for Env {
    /// `program` under `timeout`: a stream that hangs fails the test instead of blocking it.
    fn command(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["300", program])
            .args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.kubeconfig())
            .env_remove("KIND_CLUSTER_NAME")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, program: &str, args: &[&str], vars: &[(&str, &str)], stdin: &[u8]) -> Output {
        let mut child = self
            .command(program, args, vars)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        // Written from a thread: a large stdin must not block reading the output.
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }
}

/// Every remote command runs twice: kubectl's WebSocket default and its SPDY fallback.
const PATHS: [(&str, &[(&str, &str)]); 2] = [
    ("websocket", &[]),
    ("spdy", &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")]),
];

fn pod_yaml(worker: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  nodeName: {worker}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-p > /www/index.html && exec httpd -f -p 80 -h /www"]
  - name: side
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sleep", "3600"]
  - name: done
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["true"]
  restartPolicy: Never
---
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  nodeName: {worker}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: Never
    stdin: true
    command: ["sh", "-c", "while read l; do echo got:$l; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: nowhere
spec:
  nodeSelector:
    no-such-label: "true"
  containers:
  - name: main
    image: {BUSYBOX}
"#
    )
}

fn wait_running(env: &Env, pod: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let phase = text(
            &env.kubectl(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
                .stdout,
        );
        if phase == "Running" {
            return;
        }
        assert!(Instant::now() < deadline, "pod {pod} is {phase:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// An HTTP GET through the forwarded port, read to the end.
fn http_get(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    // kubectl may end the local connection with a reset once the pod's side closed: what
    // arrived before counts.
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if got.is_empty() => return format!("read failed: {e}"),
            Err(_) => break,
        }
    }
    text(&got)
}

/// Runs `kubectl port-forward pod/p <port>:80`, checks one and then two parallel GETs.
fn check_port_forward(env: &Env, port: u16, vars: &[(&str, &str)]) {
    let spec = format!("{port}:80");
    let mut child = env
        .command("kubectl", &["port-forward", "pod/p", &spec], vars)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut guard = Kill(child);
    // kubectl prints "Forwarding from 127.0.0.1:<port> -> 80" once it listens. Its stdout is
    // drained until it ends: kubectl (Go) dies of SIGPIPE when it prints "Handling connection"
    // into a closed pipe, which would reset the connection under test.
    let (first_line, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = first_line.send(line.unwrap_or_default());
        }
    });
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_default();
    if !line.contains("Forwarding from") {
        let _ = guard.0.kill();
        let mut why = String::new();
        let _ = stderr.read_to_string(&mut why);
        panic!("port-forward {vars:?} did not start: {line}{why}");
    }
    let one = http_get(port);
    if !(one.contains("200 OK") && one.contains("hello-from-p")) {
        let _ = guard.0.kill();
        let mut why = String::new();
        let _ = stderr.read_to_string(&mut why);
        panic!("port-forward {vars:?}: {one}\nkubectl: {why}");
    }
    let parallel: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || http_get(port)))
        .collect();
    for t in parallel {
        assert!(t.join().unwrap().contains("hello-from-p"));
    }
}

#[test]
fn exec_attach_cp_and_port_forward() {
    if !docker_available() {
        return;
    }
    common::ensure_node_image(NODE_IMAGE);
    common::runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut env = Env::new();
    let cluster = unique("str");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", BUSYBOX, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    let worker = format!("{cluster}-worker");
    let out = env.run(
        "kubectl",
        &["apply", "-f", "-"],
        &[],
        pod_yaml(&worker).as_bytes(),
    );
    assert!(out.status.success(), "apply: {}", text(&out.stderr));
    wait_running(&env, "p");
    wait_running(&env, "reader");

    for (path, vars) in PATHS {
        // Output, stdin piped through, the exit code, the container chosen with -c.
        let out = env.run(
            "kubectl",
            &["exec", "p", "-c", "web", "--", "echo", "hi"],
            vars,
            b"",
        );
        assert_eq!(text(&out.stdout), "hi\n", "{path}: {}", text(&out.stderr));
        assert!(out.status.success());
        let input: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let out = env.run(
            "kubectl",
            &["exec", "-i", "p", "-c", "web", "--", "cat"],
            vars,
            &input,
        );
        assert!(
            out.stdout == input,
            "{path}: stdin came back as {} bytes",
            out.stdout.len()
        );
        let out = env.run(
            "kubectl",
            &[
                "exec",
                "p",
                "-c",
                "side",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
            vars,
            b"",
        );
        assert_eq!(out.status.code(), Some(3), "{path}");
        assert_eq!(text(&out.stdout), "out\n", "{path}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("err\n"), "{path}: {stderr}");
        assert!(
            stderr.contains("command terminated with exit code 3"),
            "{path}: {stderr}"
        );
        let out = env.run(
            "kubectl",
            &["exec", "p", "-c", "side", "--", "hostname"],
            vars,
            b"",
        );
        assert_eq!(text(&out.stdout), "p\n", "{path}");

        // Errors as upstream words them.
        let out = env.run(
            "kubectl",
            &["exec", "p", "-c", "nope", "--", "true"],
            vars,
            b"",
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("container nope is not valid for pod p"),
            "{path}: {}",
            text(&out.stderr)
        );
        let out = env.run(
            "kubectl",
            &["exec", "p", "-c", "done", "--", "true"],
            vars,
            b"",
        );
        let expected = if path == "websocket" {
            "error: Internal error occurred: unable to upgrade connection: container not found (\"done\")"
        } else {
            "error: unable to upgrade connection: container not found (\"done\")"
        };
        assert!(
            text(&out.stderr).contains(expected),
            "{path}: {}",
            text(&out.stderr)
        );
        let out = env.run("kubectl", &["exec", "nowhere", "--", "true"], vars, b"");
        assert!(
            text(&out.stderr).contains("pod nowhere does not have a host assigned"),
            "{path}: {}",
            text(&out.stderr)
        );
        let out = env.run("kubectl", &["exec", "ghost", "--", "true"], vars, b"");
        assert!(
            text(&out.stderr).contains("pods \"ghost\" not found"),
            "{path}: {}",
            text(&out.stderr)
        );

        // A TTY: the terminal size reaches the container through the resize stream (a moment
        // after the start, as with upstream: the size is sent once the streams are up).
        let script =
            "stty cols 101 rows 33; kubectl exec -it p -c web -- sh -c 'sleep 1; stty size; tty'";
        let out = env.run("script", &["-qec", script, "/dev/null"], vars, b"");
        let shown = text(&out.stdout).replace('\r', "");
        assert!(
            shown.contains("33 101"),
            "{path}: {shown} {}",
            text(&out.stderr)
        );
        assert!(shown.contains("/dev/pts/"), "{path}: {shown}");

        // Attach to a running container that reads stdin; stdin stays open a moment so the
        // echo comes back before kubectl ends the session.
        let attach = format!("(echo via-{path}; sleep 2) | kubectl attach -i reader");
        let out = env.run("sh", &["-c", &attach], vars, b"");
        assert!(
            text(&out.stdout).contains(&format!("got:via-{path}")),
            "{path}: {} {}",
            text(&out.stdout),
            text(&out.stderr)
        );

        // cp both ways: a few hundred KB, identical after the round trip.
        let dir = env.home.path();
        let original = dir.join(format!("up-{path}.bin"));
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&original, &data).unwrap();
        let remote = format!("p:/tmp/cp-{path}.bin");
        let out = env.run(
            "kubectl",
            &["cp", original.to_str().unwrap(), &remote, "-c", "web"],
            vars,
            b"",
        );
        assert!(out.status.success(), "{path} cp up: {}", text(&out.stderr));
        let back = dir.join(format!("down-{path}.bin"));
        let out = env.run(
            "kubectl",
            &["cp", &remote, back.to_str().unwrap(), "-c", "web"],
            vars,
            b"",
        );
        assert!(
            out.status.success(),
            "{path} cp down: {}",
            text(&out.stderr)
        );
        assert!(
            std::fs::read(&back).unwrap() == data,
            "{path}: cp round trip differs"
        );
    }

    let kubectl_1_35 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/kubectl-1.35");
    let mut kubectls = vec!["kubectl".to_string()];
    if kubectl_1_35.exists() {
        kubectls.push(kubectl_1_35.to_string_lossy().into_owned());
    } else {
        assert!(
            std::env::var("KINDLING_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
            "KINDLING_REQUIRE_TOOLS=1 but {} is missing: run scripts/tools.sh",
            kubectl_1_35.display()
        );
    }
    for (round, kubectl) in kubectls.iter().enumerate() {
        check_debug(&env, kubectl, round);
    }
    check_port_forward(&env, 18080, &[]);
    check_port_forward(&env, 18081, &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")]);
    for version in PYTHON_CLIENTS {
        check_python_client(&env, version);
    }
}

/// The names of pod `p`'s ephemeral containers.
fn ephemeral_names(env: &Env) -> Vec<String> {
    let out = env.kubectl(&[
        "get",
        "pod",
        "p",
        "-o",
        "jsonpath={.spec.ephemeralContainers[*].name}",
    ]);
    text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Waits until ephemeral container `name`'s state (JSON) satisfies `done`; returns it.
fn wait_ephemeral_state(env: &Env, name: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let path =
        format!("jsonpath={{.status.ephemeralContainerStatuses[?(@.name==\"{name}\")].state}}");
    loop {
        let state = text(&env.kubectl(&["get", "pod", "p", "-o", &path]).stdout);
        if done(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "{name}: {state:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `kubectl debug` with `kubectl` (round `round` of the test): an interactive debugger that
/// shares `web`'s process namespace sees httpd and is reported terminated once it exits; a
/// second, long-running one is attached to, exec'ed into and read with `logs -c`; removing
/// ephemeral containers with a raw PUT is upstream's 422.
fn check_debug(env: &Env, kubectl: &str, round: usize) {
    let before = ephemeral_names(env);
    // containerd ends an attach session once the client's stdin closes (the container is not
    // `stdinOnce`), so stdin stays open until the shell has answered and exited; and it
    // starts copying stdin before it adds the output streams, so what the shell prints
    // before they are added is lost (hence kubectl's "If you don't see a command prompt, try
    // pressing enter."): the shell prints the process list once a second for a few seconds,
    // so a busy machine's slower attach still sees one.
    let session = format!(
        "(echo 'for i in 1 2 3 4 5; do sleep 1; ps; done; exit'; sleep 8) | {kubectl} debug -i p \
         --image={BUSYBOX} --target=web --profile=general -- sh"
    );
    let out = env.run("sh", &["-c", &session], &[], b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{kubectl} debug -i: {stdout} {stderr}"
    );
    eprintln!("{session}:\n{stdout}");
    // The target's processes: httpd is PID 1 of the namespace it joined.
    assert!(
        stdout.contains("httpd"),
        "{kubectl} debug -i: {stdout} {stderr}"
    );
    let names = ephemeral_names(env);
    assert_eq!(names.len(), before.len() + 1, "{names:?}");
    let first = names.iter().find(|n| !before.contains(n)).unwrap().clone();
    assert!(first.starts_with("debugger-"), "{first}");
    let state = wait_ephemeral_state(env, &first, |s| s.contains("terminated"));
    assert!(state.contains("\"exitCode\":0"), "{state}");
    let status = text(
        &env.kubectl(&[
            "get",
            "pod",
            "p",
            "-o",
            &format!("jsonpath={{.status.ephemeralContainerStatuses[?(@.name==\"{first}\")].containerID}} {{.status.ephemeralContainerStatuses[?(@.name==\"{first}\")].imageID}} {{.status.phase}}"),
        ])
        .stdout,
    );
    assert!(status.starts_with("containerd://"), "{status}");
    assert!(status.ends_with(" Running"), "{status}");

    // A second one, not interactive: it runs on; attach, exec and logs find it by name.
    let out = env.run(
        kubectl,
        &[
            "debug",
            "p",
            &format!("--image={BUSYBOX}"),
            "--profile=general",
            "--",
            "sh",
            "-c",
            "echo debug-log-line; while true; do echo tick; sleep 1; done",
        ],
        &[],
        b"",
    );
    assert!(
        out.status.success(),
        "{kubectl} debug: {}",
        text(&out.stderr)
    );
    let names2 = ephemeral_names(env);
    assert_eq!(names2.len(), names.len() + 1, "{names2:?}");
    let second = names2.iter().find(|n| !names.contains(n)).unwrap().clone();
    wait_ephemeral_state(env, &second, |s| s.contains("running"));
    let out = env.run(kubectl, &["logs", "p", "-c", &second], &[], b"");
    assert!(
        text(&out.stdout).starts_with("debug-log-line\n"),
        "logs -c {second}: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = env.run(
        kubectl,
        &["exec", "p", "-c", &second, "--", "echo", "inside-debugger"],
        &[],
        b"",
    );
    assert_eq!(
        text(&out.stdout),
        "inside-debugger\n",
        "{}",
        text(&out.stderr)
    );
    let attach = format!("timeout 4 {kubectl} attach p -c {second}");
    let out = env.run("sh", &["-c", &attach], &[], b"");
    assert!(
        text(&out.stdout).contains("tick"),
        "attach -c {second}: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // Removing them through the subresource (a raw PUT) is refused as upstream refuses it.
    let pod = text(&env.kubectl(&["get", "pod", "p", "-o", "json"]).stdout);
    let mut pod: serde_json::Value = serde_json::from_str(&pod).unwrap();
    pod["spec"]["ephemeralContainers"] = serde_json::json!([]);
    let body = env.home.path().join(format!("no-debuggers-{round}.json"));
    std::fs::write(&body, pod.to_string()).unwrap();
    let out = env.run(
        kubectl,
        &[
            "replace",
            "--raw",
            "/api/v1/namespaces/default/pods/p/ephemeralcontainers",
            "-f",
            body.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"{}\" may not be removed",
            names2[0]
        )),
        "{stderr}"
    );
    assert_eq!(ephemeral_names(env), names2);
}

/// The Python `kubernetes` clients `scripts/tools.sh` installs.
const PYTHON_CLIENTS: [&str; 2] = ["36.0.3", "37.0.3"];

/// The Python client's exec (WebSocket `v4.channel.k8s.io`, streams named in the query) and
/// port-forward (`?ports=80`, PodPortForwardOptions' name; issue 11, item 2) against pod `p`.
fn check_python_client(env: &Env, version: &str) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../tools/python/kubernetes-{version}/bin/python"
    ));
    if !python.exists() {
        assert!(
            std::env::var("KINDLING_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
            "KINDLING_REQUIRE_TOOLS=1 but {} is missing: run scripts/tools.sh",
            python.display()
        );
        eprintln!("SKIPPED: the Python client {version} is not installed (scripts/tools.sh)");
        return;
    }
    let script = r#"
from kubernetes import client, config
from kubernetes.stream import portforward, stream
config.load_kube_config()
api = client.CoreV1Api()
out = stream(api.connect_get_namespaced_pod_exec, "p", "default", container="web",
             command=["sh", "-c", "echo exec-ok"], stderr=True, stdin=False, stdout=True, tty=False)
print(out.strip())
pf = portforward(api.connect_get_namespaced_pod_portforward, "p", "default", ports="80")
sock = pf.socket(80)
sock.setblocking(True)
sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
data = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    data += chunk
sock.close()
pf.close()
print(data.decode().split("\r\n\r\n", 1)[-1].strip())
"#;
    let out = env.run(python.to_str().unwrap(), &["-c", script], &[], b"");
    assert!(
        out.status.success(),
        "python client {version}: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "exec-ok\nhello-from-p\n",
        "python client {version}: {}",
        text(&out.stderr)
    );
}
