//! End to end, with Docker: the node agent's pod features as a user sees them through the real
//! kubectl. One cluster (a control plane and two workers, the first publishing host port 18280)
//! runs every case: probes (liveness, readiness, startup, gRPC), lifecycle hooks, host ports,
//! scheduling (nodeSelector, taints, insufficient CPU), configMap updates, secret items and
//! modes, the downward API, security contexts, OOM kills and `kubectl logs` options.
//! The pods start together and are checked one by one, so the whole file takes about a minute.
//! Without a Docker engine it fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, runtime, text, unique, Env, TestImage};
use std::process::Command;
use std::time::{Duration, Instant};

/// This file's node image, built from this very binary under its own name.
const NODE_IMAGE: &str = "kindling/node:e2e-node";
/// Published by the first worker and used by a pod's hostPort there.
const HOST_PORT: u16 = 18280;

/// What this file reads of pods, on top of the shared environment.
trait PodView {
    /// READY, STATUS and RESTARTS columns of `kubectl get pod` (RESTARTS without its age note).
    fn columns(&self, pod: &str) -> (String, String, String);
    fn describe(&self, pod: &str) -> String;
    fn logs(&self, args: &[&str]) -> String;
}

impl PodView for Env {
    fn columns(&self, pod: &str) -> (String, String, String) {
        let out = text(&self.kubectl(&["get", "pod", pod, "--no-headers"]).stdout);
        let cols: Vec<&str> = out.split_whitespace().collect();
        match cols.as_slice() {
            [_, ready, status, restarts, ..] => {
                (ready.to_string(), status.to_string(), restarts.to_string())
            }
            _ => Default::default(),
        }
    }

    fn describe(&self, pod: &str) -> String {
        text(&self.kubectl(&["describe", "pod", pod]).stdout)
    }

    fn logs(&self, args: &[&str]) -> String {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        self.ok_kubectl(&all)
    }
}

/// A pod from its name, spec lines (indented by four) and labels.
fn pod(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n    tier: e2e\nspec:\n  terminationGracePeriodSeconds: 1\n{spec}"
    )
}

/// One busybox container running `script`, plus `extra` container fields (indented by four).
fn container(image: &str, script: &str, extra: &str) -> String {
    format!(
        "  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", {script:?}]\n{extra}"
    )
}

#[test]
fn node_agent_pod_features() {
    if !docker_available() {
        return;
    }
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    let image = TestImage::build(&rt, "kindling-e2e/busybox:node");
    let name = unique("nd");
    let mut env = Env::new();
    let config = format!(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: {HOST_PORT}\n    hostPort: {HOST_PORT}\n- role: worker\n"
    );
    env.create_with(&name, Some(NODE_IMAGE), Some(&config));
    let out = env.kindling(&["load", "docker-image", &image, "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let worker = format!("{name}-worker");
    let worker2 = format!("{name}-worker2");
    env.ok_kubectl(&["taint", "nodes", &worker2, "dedicated=e2e:NoSchedule"]);
    let on = |node: &str| format!("  nodeSelector:\n    kubernetes.io/hostname: {node}\n");
    let forever = "sleep 3600";

    // Everything starts at once; each case is checked below.
    let probe = |kind: &str, body: &str| {
        format!("    {kind}:\n{body}      periodSeconds: 1\n      failureThreshold: 1\n")
    };
    env.apply(&pod(
        "liveness",
        &container(
            &image,
            forever,
            &probe(
                "livenessProbe",
                "      exec:\n        command: [\"cat\", \"/tmp/healthy\"]\n",
            ),
        ),
    ));
    env.apply(&pod(
        "readiness",
        &container(
            &image,
            forever,
            &probe(
                "readinessProbe",
                "      exec:\n        command: [\"false\"]\n",
            ),
        ),
    ));
    // Liveness would fail before /tmp/started exists: the startup probe holds it back.
    env.apply(&pod(
        "startup",
        &container(
            &image,
            "sleep 8; touch /tmp/started; sleep 3600",
            &format!(
                "{}{}",
                probe(
                    "startupProbe",
                    "      exec:\n        command: [\"test\", \"-f\", \"/tmp/started\"]\n"
                )
                .replace("failureThreshold: 1", "failureThreshold: 30"),
                probe(
                    "livenessProbe",
                    "      exec:\n        command: [\"test\", \"-f\", \"/tmp/started\"]\n"
                )
            ),
        ),
    ));
    // Nothing serves gRPC on 9555: the probe's connection fails and the container restarts.
    env.apply(&pod(
        "grpc",
        &container(
            &image,
            forever,
            &probe("livenessProbe", "      grpc:\n        port: 9555\n"),
        ),
    ));
    env.apply(&pod(
        "poststart",
        &container(
            &image,
            "while [ ! -f /tmp/hook ]; do sleep 0.2; done; cat /tmp/hook; sleep 3600",
            "    lifecycle:\n      postStart:\n        exec:\n          command: [\"sh\", \"-c\", \"echo written-by-poststart > /tmp/hook\"]\n",
        ),
    ));
    env.apply(&pod(
        "poststart-fail",
        &container(
            &image,
            forever,
            "    lifecycle:\n      postStart:\n        exec:\n          command: [\"sh\", \"-c\", \"echo no >&2; exit 3\"]\n",
        ),
    ));
    env.apply(&pod(
        "hostport",
        &format!(
            "{}{}",
            on(&worker),
            container(
                &image,
                "mkdir -p /www && echo served-on-the-host-port > /www/index.html && exec httpd -f -p 8080 -h /www",
                &format!("    ports:\n    - containerPort: 8080\n      hostPort: {HOST_PORT}\n"),
            )
        ),
    ));
    env.apply(&pod(
        "untolerated",
        &format!("{}{}", on(&worker2), container(&image, forever, "")),
    ));
    env.apply(&pod(
        "tolerated",
        &format!(
            "{}  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: e2e\n    effect: NoSchedule\n{}",
            on(&worker2),
            container(&image, forever, "")
        ),
    ));
    env.apply(&pod(
        "too-big",
        &format!(
            "  tolerations:\n  - operator: Exists\n{}",
            container(
                &image,
                forever,
                "    resources:\n      requests:\n        cpu: \"1000\"\n"
            )
        ),
    ));
    env.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
    );
    env.apply(&pod(
        "configmap",
        &format!(
            "{}    volumeMounts:\n    - name: cfg\n      mountPath: /cfg\n  volumes:\n  - name: cfg\n    configMap:\n      name: settings\n",
            container(
                &image,
                "while true; do echo \"color=$(cat /cfg/color)\"; sleep 1; done",
                ""
            )
        ),
    ));
    env.apply("apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  user: admin\n  password: hunter2\n");
    env.apply(&pod(
        "secret",
        &format!(
            "  restartPolicy: Never\n{}    volumeMounts:\n    - name: s\n      mountPath: /sec\n  volumes:\n  - name: s\n    secret:\n      secretName: creds\n      defaultMode: 0400\n      items:\n      - key: user\n        path: auth/username\n",
            container(
                &image,
                "stat -c 'mode=%a' /sec/auth/username; echo \"user=$(cat /sec/auth/username)\"; ls /sec",
                ""
            )
        ),
    ));
    env.apply(&pod(
        "downward",
        &format!(
            "  restartPolicy: Never\n{}    volumeMounts:\n    - name: info\n      mountPath: /info\n  volumes:\n  - name: info\n    downwardAPI:\n      items:\n      - path: labels\n        fieldRef:\n          fieldPath: metadata.labels\n",
            container(&image, "cat /info/labels", "")
        ),
    ));
    env.apply(&pod(
        "security",
        &format!(
            "  restartPolicy: Never\n  securityContext:\n    runAsGroup: 3000\n{}",
            container(
                &image,
                "id; touch /written 2>&1 || echo write-refused",
                "    securityContext:\n      runAsUser: 1000\n      readOnlyRootFilesystem: true\n"
            )
        ),
    ));
    env.apply(&pod(
        "oom",
        &format!(
            "  restartPolicy: Never\n{}",
            container(
                &image,
                "dd if=/dev/zero of=/dev/null bs=200M count=1",
                "    resources:\n      limits:\n        memory: 32Mi\n"
            )
        ),
    ));
    env.apply(&pod(
        "logs",
        &format!(
            "{}  - name: side\n    image: {image}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", \"echo from-side; sleep 3600\"]\n",
            container(
                &image,
                "echo early; while true; do echo tick; sleep 1; done",
                ""
            )
        ),
    ));

    // Startup: not started (and not ready) for ~8 s, then started and ready, never restarted:
    // liveness did not run before the startup probe passed.
    env.wait_for("startup", "Running", Duration::from_secs(30), |e| {
        e.columns("startup").1 == "Running"
    });
    let early = env.jsonpath("startup", "{.status.containerStatuses[0].started}");
    env.wait_for("startup", "READY 1/1", Duration::from_secs(30), |e| {
        e.columns("startup").0 == "1/1"
    });
    assert_eq!(early, "false", "started before the startup probe passed");
    assert_eq!(env.columns("startup").2, "0");

    // Liveness failures restart the container: the RESTARTS column grows.
    env.wait_for("liveness", "two restarts", Duration::from_secs(60), |e| {
        e.columns("liveness").2.parse::<u32>().unwrap_or(0) >= 2
    });
    let describe = env.describe("liveness");
    assert!(
        describe.contains("Liveness probe failed: cat: can't open '/tmp/healthy'"),
        "{describe}"
    );
    assert!(
        describe.contains("Container main failed liveness probe, will be restarted"),
        "{describe}"
    );

    // Readiness failures: Running, READY 0/1, Ready=False, never restarted.
    env.wait_for("readiness", "Running", Duration::from_secs(30), |e| {
        e.columns("readiness").1 == "Running"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        env.columns("readiness"),
        ("0/1".into(), "Running".into(), "0".into())
    );
    assert_eq!(
        env.jsonpath(
            "readiness",
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "False"
    );
    assert!(env.describe("readiness").contains("Readiness probe failed"));

    // gRPC liveness against a port nothing serves: upstream's message (its blocking dial times
    // out), restarts.
    env.wait_for("grpc", "a restart", Duration::from_secs(60), |e| {
        e.columns("grpc").2.parse::<u32>().unwrap_or(0) >= 1
    });
    let describe = env.describe("grpc");
    assert!(
        describe.contains("Liveness probe failed: timeout: failed to connect service \"10.244."),
        "{describe}"
    );

    // postStart wrote a file the container then read.
    env.wait_for("poststart", "Running", Duration::from_secs(30), |e| {
        e.columns("poststart").1 == "Running"
    });
    env.wait_for(
        "poststart",
        "the hook's file read",
        Duration::from_secs(20),
        |e| e.logs(&["poststart"]).contains("written-by-poststart"),
    );
    // A failing postStart: FailedPostStartHook with upstream's message, the container killed.
    env.wait_for(
        "poststart-fail",
        "a restart",
        Duration::from_secs(60),
        |e| e.columns("poststart-fail").2.parse::<u32>().unwrap_or(0) >= 1,
    );
    let describe = env.describe("poststart-fail");
    assert!(describe.contains("FailedPostStartHook"), "{describe}");
    assert!(
        describe.contains("Exec lifecycle hook ([sh -c echo no >&2; exit 3]) for Container \"main\" in Pod \"poststart-fail_default("),
        "{describe}"
    );
    assert!(describe.contains("exited with 3"), "{describe}");

    // The host port, through the worker's published port, from the host.
    env.wait_for("hostport", "Running", Duration::from_secs(30), |e| {
        e.columns("hostport").1 == "Running"
    });
    assert_eq!(env.jsonpath("hostport", "{.spec.nodeName}"), worker);
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let got = http_get_host(HOST_PORT);
        if got.contains("served-on-the-host-port") || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(body.contains("served-on-the-host-port"), "{body}");

    // Taints: avoided unless tolerated.
    env.wait_for("tolerated", "Running", Duration::from_secs(30), |e| {
        e.columns("tolerated").1 == "Running"
    });
    assert_eq!(env.jsonpath("tolerated", "{.spec.nodeName}"), worker2);
    let untolerated = env.describe("untolerated");
    assert_eq!(env.columns("untolerated").1, "Pending");
    assert!(
        untolerated.contains("0/3 nodes are available:")
            && untolerated.contains("untolerated taint {dedicated: e2e}"),
        "{untolerated}"
    );
    // More CPU than any node: Pending with the scheduler's message.
    let too_big = env.describe("too-big");
    assert_eq!(env.columns("too-big").1, "Pending");
    assert!(
        too_big.contains("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."),
        "{too_big}"
    );

    // A changed ConfigMap reaches the mounted file (the kubelet takes up to about a minute).
    env.wait_for(
        "configmap",
        "the first value",
        Duration::from_secs(30),
        |e| e.logs(&["configmap", "--tail=1"]).contains("color=blue"),
    );
    env.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n",
    );
    let applied = Instant::now();
    env.wait_for("configmap", "the new value", Duration::from_secs(90), |e| {
        e.logs(&["configmap", "--tail=1"]).contains("color=green")
    });
    eprintln!(
        "configMap update visible in the pod after {:.1}s",
        applied.elapsed().as_secs_f64()
    );

    // Secret items and defaultMode; downward API labels; security context.
    for p in ["secret", "downward", "security"] {
        env.wait_for(p, "Completed", Duration::from_secs(30), |e| {
            e.columns(p).1 == "Completed"
        });
    }
    assert_eq!(env.logs(&["secret"]), "mode=400\nuser=admin\nauth\n");
    // The file has no final newline; the log line ends at the container's exit.
    assert_eq!(
        env.logs(&["downward"]).trim_end(),
        "app=\"downward\"\ntier=\"e2e\""
    );
    let security = env.logs(&["security"]);
    assert!(security.starts_with("uid=1000 gid=3000"), "{security}");
    assert!(
        security.contains("Read-only file system") && security.contains("write-refused"),
        "{security}"
    );

    // Over its memory limit: OOMKilled, as kubectl shows it.
    env.wait_for("oom", "OOMKilled", Duration::from_secs(30), |e| {
        e.columns("oom").1 == "OOMKilled"
    });
    assert_eq!(
        env.jsonpath(
            "oom",
            "{.status.containerStatuses[0].state.terminated.reason}"
        ),
        "OOMKilled"
    );
    assert_eq!(env.jsonpath("oom", "{.status.phase}"), "Failed");

    // kubectl logs: --since, --since-time, -c, --all-containers --prefix, --limit-bytes. The
    // main container logs `early` once, then `tick` every second.
    env.wait_for("logs", "ten ticks", Duration::from_secs(40), |e| {
        e.logs(&["logs", "-c", "main"]).matches("tick").count() >= 10
    });
    assert!(env
        .logs(&["logs", "-c", "main"])
        .starts_with("early\ntick\n"));
    let recent = env.logs(&["logs", "-c", "main", "--since=3s"]);
    let ticks = recent.lines().count();
    assert!(
        (2..=5).contains(&ticks) && recent.lines().all(|l| l == "tick"),
        "--since=3s: {recent:?}"
    );
    let stamped = env.logs(&["logs", "-c", "main", "--timestamps"]);
    let stamps: Vec<&str> = stamped
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    let cut = stamps[stamps.len() - 3];
    let since_time = env.logs(&["logs", "-c", "main", &format!("--since-time={cut}")]);
    assert!(
        since_time.starts_with("tick\n") && (3..=5).contains(&since_time.lines().count()),
        "--since-time={cut}: {since_time:?}\n{stamped}"
    );
    assert_eq!(env.logs(&["logs", "-c", "side"]), "from-side\n");
    let all = env.logs(&["logs", "--all-containers", "--prefix"]);
    for line in [
        "[pod/logs/main] early",
        "[pod/logs/main] tick",
        "[pod/logs/side] from-side",
    ] {
        assert!(all.contains(line), "{all}");
    }
    assert_eq!(env.logs(&["logs", "-c", "main", "--limit-bytes=3"]), "ear");
    // Both `since`s at once: kubectl refuses it itself, the API server too (upstream's message).
    let both = env.kubectl(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/pods/logs/log?container=main&sinceSeconds=3&sinceTime={}",
            cut.replace(':', "%3A")
        ),
    ]);
    assert!(
        text(&both.stderr)
            .contains("at most one of `sinceTime` or `sinceSeconds` may be specified"),
        "{}",
        text(&both.stderr)
    );

    // `kubectl logs -f` ends when the container does: at once for a finished one, after its
    // last line for one that exits while followed (issue 11, item 15).
    let (out, took) = follow_logs(&env, "secret");
    assert_eq!(out, "mode=400\nuser=admin\nauth\n");
    assert!(took < Duration::from_secs(5), "{took:?}");
    env.apply(&pod(
        "short",
        &format!(
            "  restartPolicy: Never\n{}",
            container(&image, "echo hi; sleep 3; echo bye", "")
        ),
    ));
    env.wait_for("short", "Running", Duration::from_secs(30), |e| {
        e.columns("short").1 == "Running"
    });
    let (out, took) = follow_logs(&env, "short");
    assert_eq!(out, "hi\nbye\n");
    assert!(took < Duration::from_secs(10), "{took:?}");

    env.clusters.clear();
    let out = env.kindling(&["delete", "cluster", "--name", &name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `kubectl logs -f pod`, bounded by `timeout` (a stream that never ends fails the test):
/// what it printed and how long it took.
fn follow_logs(env: &Env, pod: &str) -> (String, Duration) {
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["30", "kubectl", "logs", "-f", pod])
        .env("HOME", env.home.path())
        .env("KUBECONFIG", env.kubeconfig())
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "kubectl logs -f {pod} (exit {:?} after {took:?}): {}",
        out.status.code(),
        text(&out.stderr)
    );
    (text(&out.stdout), took)
}

/// GET / on 127.0.0.1:`port` with a plain socket: the body, or what went wrong.
fn http_get_host(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return "connect failed".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}
