//! End to end, with Docker: Deployments on a real cluster (one control plane, two workers),
//! driven the way users drive them — `kubectl create deployment`, `scale`, `set image`,
//! `rollout status|history|undo|restart`, `describe` — with pods that really run busybox
//! httpd on the workers, and a Deployment whose image cannot be pulled running into its
//! progress deadline; on the way, the components' metrics (the kubelet's through
//! `nodes/<node>/proxy/metrics`, the scheduler's :10259, the controller manager's :10257). One
//! cluster for the whole file. Without a Docker engine the test fails
//! when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, run, runtime, text, unique, Env};
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-workloads";
const BUSYBOX: &str = "busybox:latest";
const BUSYBOX_OLDER: &str = "busybox:1.36";

fn jsonpath(env: &Env, what: &str, path: &str) -> String {
    text(
        &env.kubectl(&["get", what, "-o", &format!("jsonpath={path}")])
            .stdout,
    )
}

fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn eventually(env: &Env, what: &str, timeout: Duration, check: impl Fn(&Env) -> bool) {
    common::eventually(
        env,
        what,
        timeout,
        &["get", "deploy,rs,pods", "-o", "wide"],
        check,
    );
}

/// `n` web pods Running and ready, all on the workers (pods of earlier replica sets still
/// terminating are not counted: busybox httpd as PID 1 waits out its grace period).
fn running_on_workers(env: &Env, cluster: &str, n: usize) -> bool {
    let out = text(
        &env.kubectl(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"])
            .stdout,
    );
    let pods: Vec<Vec<String>> = rows(&out)
        .into_iter()
        .filter(|r| r.len() > 6 && r[2] != "Terminating")
        .collect();
    pods.len() == n
        && pods.iter().all(|r| {
            r[2] == "Running" && r[1] == "1/1" && r[6].starts_with(&format!("{cluster}-worker"))
        })
}

/// The value of the first sample of `series` (its name and labels as printed) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// GET `path` on `https://<ip>:<port>` with the cluster kubeconfig's CA and, when `admin`, its
/// client certificate: (status, body), or (code, message) of an error's Status.
fn component_get(env: &Env, ip: &str, port: u16, path: &str, admin: bool) -> (u16, String) {
    runtime().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig = kube::config::Kubeconfig::read_from(env.kubeconfig()).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        config.cluster_url = format!("https://{ip}:{port}").parse().unwrap();
        if !admin {
            config.auth_info = Default::default();
        }
        let client = kube::Client::try_from(config).unwrap();
        let req = http::Request::get(path).body(Vec::new()).unwrap();
        match client.request_text(req).await {
            Ok(body) => (200, body),
            // An error answer is a Status: its code and message.
            Err(kube::Error::Api(status)) => (status.code, status.message.clone()),
            Err(e) => panic!("GET https://{ip}:{port}{path}: {e}"),
        }
    })
}

/// Issue 11, item 10: the kubelet's `/metrics` through the API server's `nodes/<n>/proxy`, its
/// healthz port inside the node, the scheduler's :10259 and the controller manager's :10257
/// (HTTPS, healthz for anyone, metrics for a cluster certificate), each reporting what it did.
fn components_serve_their_metrics(env: &Env, cluster: &str) {
    let started = Instant::now();
    let worker = format!("{cluster}-worker");
    let raw = format!("/api/v1/nodes/{worker}/proxy/metrics");
    // Running pods and containers are counted at the agent's next relist (every second); a
    // pod's sandbox can be counted running one relist before its container is.
    let deadline = Instant::now() + Duration::from_secs(10);
    let running_containers = "kubelet_running_containers{container_state=\"running\"}";
    let kubelet = loop {
        let kubelet = ok(env, &["get", "--raw", &raw]);
        let running = sample(&kubelet, "kubelet_running_pods").unwrap_or_default();
        let containers = sample(&kubelet, running_containers).unwrap_or_default();
        if running >= 1.0 && containers >= 1.0 {
            break kubelet;
        }
        assert!(
            Instant::now() < deadline,
            "kubelet_running_pods {running}, running containers {containers}:\n{kubelet}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for series in [
        "kubelet_pod_start_duration_seconds_count",
        "kubelet_started_containers_total{container_type=\"container\"}",
    ] {
        assert!(
            sample(&kubelet, series).unwrap_or_default() >= 1.0,
            "{series}:\n{kubelet}"
        );
    }
    let healthz = ok(
        env,
        &[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{worker}/proxy/healthz"),
        ],
    );
    assert_eq!(healthz, "ok");
    let plain = common::node_exec(
        &worker,
        &["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/10248; printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"],
    );
    assert!(
        plain.starts_with("HTTP/1.0 200 OK") && plain.ends_with("ok"),
        "{plain}"
    );

    let cp = format!("{cluster}-control-plane");
    let ip = jsonpath(
        env,
        &format!("node/{cp}"),
        "{.status.addresses[?(@.type==\"InternalIP\")].address}",
    );
    let (code, scheduler) = component_get(env, &ip, 10259, "/metrics", true);
    assert_eq!(code, 200, "{scheduler}");
    let scheduled = sample(
        &scheduler,
        "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"}",
    )
    .unwrap_or_default();
    assert!(scheduled >= 2.0, "scheduled {scheduled}:\n{scheduler}");
    assert!(
        scheduler.contains("scheduler_pending_pods{queue=\"active\"}"),
        "{scheduler}"
    );
    let (code, manager) = component_get(env, &ip, 10257, "/metrics", true);
    assert_eq!(code, 200, "{manager}");
    for queue in ["deployment", "replicaset"] {
        let series = format!("workqueue_work_duration_seconds_count{{name=\"{queue}\"}}");
        assert!(
            sample(&manager, &series).unwrap_or_default() >= 1.0,
            "{series}:\n{manager}"
        );
    }
    for port in [10259, 10257] {
        assert_eq!(
            component_get(env, &ip, port, "/healthz", false),
            (200, "ok".into())
        );
        assert_eq!(
            component_get(env, &ip, port, "/metrics", false),
            (
                403,
                "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"".into()
            )
        );
    }
    eprintln!("component metrics checked in {:.1?}", started.elapsed());
}

#[test]
fn deployments_roll_out_scale_roll_back_and_time_out_on_real_nodes() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    for image in [BUSYBOX, BUSYBOX_OLDER] {
        runtime()
            .block_on(kindling_image::build_test_image(image))
            .expect("building the busybox image");
    }
    let mut env = Env::new();
    let cluster = unique("wl");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    for image in [BUSYBOX, BUSYBOX_OLDER] {
        let out = env.kindling(&["load", "docker-image", image, "--name", &cluster]);
        assert!(out.status.success(), "load: {}", text(&out.stderr));
    }
    eprintln!("cluster ready after {:.1?}", started.elapsed());
    let phase = Instant::now();

    // Create: 2 pods running httpd on the workers.
    assert_eq!(
        ok(
            &env,
            &[
                "create",
                "deployment",
                "web",
                "--image=busybox:latest",
                "--replicas=2",
                "--",
                "httpd",
                "-f",
                "-p",
                "8080"
            ]
        )
        .trim(),
        "deployment.apps/web created"
    );
    let status = ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=120s"],
    );
    assert!(
        status.contains("deployment \"web\" successfully rolled out"),
        "{status}"
    );
    eventually(
        &env,
        "2 pods running on the workers",
        Duration::from_secs(60),
        |e| running_on_workers(e, &cluster, 2),
    );
    ok(&env, &["get", "pods", "-o", "wide"]);
    eprintln!("created and running after {:.1?}", phase.elapsed());
    components_serve_their_metrics(&env, &cluster);

    // Scale.
    assert_eq!(
        ok(&env, &["scale", "deployment", "web", "--replicas=5"]).trim(),
        "deployment.apps/web scaled"
    );
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=120s"],
    );
    eventually(
        &env,
        "5 pods running on the workers",
        Duration::from_secs(60),
        |e| running_on_workers(e, &cluster, 5),
    );
    let table = rows(&ok(&env, &["get", "deploy", "web"]));
    assert_eq!(table[0][..4], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE"]);
    assert_eq!(table[1][..4], ["web", "5/5", "5", "5"]);

    // A new image: a new replica set, the old one scaled to 0.
    let first_rs = jsonpath(&env, "rs", "{.items[0].metadata.name}");
    assert_eq!(
        ok(
            &env,
            &["set", "image", "deployment/web", "busybox=busybox:1.36"]
        )
        .trim(),
        "deployment.apps/web image updated"
    );
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=180s"],
    );
    eventually(&env, "5 new pods running", Duration::from_secs(60), |e| {
        running_on_workers(e, &cluster, 5)
    });
    let rs = rows(&ok(&env, &["get", "rs", "-l", "app=web"]));
    assert_eq!(rs.len(), 3, "two replica sets: {rs:?}");
    let old = rs
        .iter()
        .find(|r| r[0] == first_rs)
        .expect("the first replica set");
    assert_eq!(old[1..4], ["0", "0", "0"]);
    let new = rs
        .iter()
        .find(|r| r[0] != first_rs && r[0] != "NAME")
        .unwrap();
    assert_eq!(new[1..4], ["5", "5", "5"]);
    let history = ok(&env, &["rollout", "history", "deployment/web"]);
    assert!(
        history.contains("REVISION") && history.contains('2'),
        "{history}"
    );

    // Undo: back to busybox:latest through the first replica set, now revision 3.
    assert_eq!(
        ok(&env, &["rollout", "undo", "deployment/web"]).trim(),
        "deployment.apps/web rolled back"
    );
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=180s"],
    );
    assert_eq!(
        jsonpath(
            &env,
            "deploy/web",
            "{.spec.template.spec.containers[0].image}"
        ),
        "busybox:latest"
    );
    assert_eq!(
        jsonpath(
            &env,
            &format!("rs/{first_rs}"),
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "3"
    );
    eventually(
        &env,
        "5 pods running after the undo",
        Duration::from_secs(60),
        |e| running_on_workers(e, &cluster, 5),
    );

    // Restart: a new replica set with the restartedAt annotation.
    assert_eq!(
        ok(&env, &["rollout", "restart", "deployment/web"]).trim(),
        "deployment.apps/web restarted"
    );
    ok(
        &env,
        &["rollout", "status", "deployment/web", "--timeout=180s"],
    );
    eventually(
        &env,
        "5 pods running after the restart",
        Duration::from_secs(60),
        |e| running_on_workers(e, &cluster, 5),
    );
    assert_eq!(
        rows(&ok(&env, &["get", "rs", "-l", "app=web", "--no-headers"])).len(),
        3
    );
    ok(&env, &["rollout", "history", "deployment/web"]);
    let table = rows(&ok(&env, &["get", "deploy", "web"]));
    assert_eq!(table[1][..4], ["web", "5/5", "5", "5"]);
    let describe = ok(&env, &["describe", "deploy", "web"]);
    for want in [
        "ScalingReplicaSet",
        &format!("Scaled up replica set {first_rs} from 0 to 2"),
        "Scaled down replica set",
        "NewReplicaSetAvailable",
        "MinimumReplicasAvailable",
    ] {
        assert!(describe.contains(want), "{want} missing from:\n{describe}");
    }
    eprintln!(
        "scaled, updated, undone and restarted after {:.1?}",
        phase.elapsed()
    );

    // An image that cannot be pulled: the rollout runs into its progress deadline.
    let phase = Instant::now();
    env.apply(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: 1\n  progressDeadlineSeconds: 10\n  selector:\n    matchLabels:\n      app: bad\n  template:\n    metadata:\n      labels:\n        app: bad\n    spec:\n      containers:\n      - name: main\n        image: registry.invalid/nothing:1\n",
    );
    let out = run(
        &env,
        &["rollout", "status", "deployment/bad", "--timeout=120s"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("deployment \"bad\" exceeded its progress deadline"),
        "{}",
        text(&out.stderr)
    );
    let progressing = jsonpath(
        &env,
        "deploy/bad",
        "{.status.conditions[?(@.type==\"Progressing\")].status} {.status.conditions[?(@.type==\"Progressing\")].reason}",
    );
    assert_eq!(progressing, "False ProgressDeadlineExceeded");
    ok(&env, &["get", "deploy", "bad"]);
    eprintln!("deadline exceeded after {:.1?}", phase.elapsed());

    // Deleting a Deployment takes its replica sets and pods along.
    ok(&env, &["delete", "deploy", "web", "bad"]);
    eventually(&env, "everything collected", Duration::from_secs(90), |e| {
        text(&e.kubectl(&["get", "rs,pods", "--no-headers"]).stdout)
            .trim()
            .is_empty()
    });
    eprintln!("whole test {:.1?}", started.elapsed());
}
