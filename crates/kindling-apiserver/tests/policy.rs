//! Policy with the real kubectl: PodDisruptionBudgets (their status from the disruption
//! controller, `kubectl get pdb`), the pods/eviction subresource (429 while the budget forbids,
//! 201 otherwise), `kubectl drain` retrying until the budget is relaxed; LimitRange defaults and
//! limits; ResourceQuota usage and admission.
//! No kubelet runs: the tests report pods Running and Ready themselves, as a node agent would.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{rows, text, Kubectl, TestServer};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A bare pod on node `n1` (deleted at once: no grace period), labelled app=web.
fn web_pod(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: web\nspec:\n  nodeName: n1\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: busybox\n"
    )
}

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";

const PDB: &str = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels:\n      app: web\n";

/// Reports the pod Running and Ready, as its node's agent would.
fn mark_ready(s: &TestServer, pod: &str) {
    let status =
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
    s.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
}

/// Waits until `kubectl get <args> -o jsonpath=<path>` prints `want`.
fn wait_for(s: &TestServer, args: &[&str], path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let jsonpath = format!("jsonpath={path}");
    let mut full: Vec<&str> = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", &jsonpath]);
    loop {
        let got = text(&s.kubectl(&full).stdout);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} {path}: {got:?}, wanted {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn eviction(pod: &str) -> String {
    format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"default"}}}}"#
    )
}

fn evict(s: &TestServer, pod: &str) -> std::process::Output {
    let path = format!("/api/v1/namespaces/default/pods/{pod}/eviction");
    s.kubectl_stdin(&["create", "--raw", &path, "-f", "-"], &eviction(pod))
}

fn eviction_respects_the_budget(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(NODE);
    for p in ["p1", "p2"] {
        s.apply(&web_pod(p));
        mark_ready(&s, p);
    }
    s.apply(PDB);
    wait_for(&s, &["pdb", "web"], "{.status.currentHealthy}", "2");
    wait_for(&s, &["pdb", "web"], "{.status.observedGeneration}", "1");
    let pdb = s.ok(&["get", "pdb", "web", "-o", "json"]);
    let pdb: serde_json::Value = serde_json::from_str(&pdb).unwrap();
    let status = &pdb["status"];
    assert_eq!(
        (
            &status["expectedPods"],
            &status["desiredHealthy"],
            &status["disruptionsAllowed"]
        ),
        (&2.into(), &2.into(), &0.into()),
        "{status}"
    );
    let cond = &status["conditions"][0];
    assert_eq!(
        (&cond["type"], &cond["status"], &cond["reason"]),
        (
            &"DisruptionAllowed".into(),
            &"False".into(),
            &"InsufficientPods".into()
        )
    );
    let table = rows(&s.ok(&["get", "pdb"]));
    assert_eq!(
        table[0],
        [
            "NAME",
            "MIN",
            "AVAILABLE",
            "MAX",
            "UNAVAILABLE",
            "ALLOWED",
            "DISRUPTIONS",
            "AGE"
        ]
    );
    assert_eq!(&table[1][..4], ["web", "2", "N/A", "0"]);

    // The budget forbids: 429 with upstream's message; the pod stays.
    let refused = evict(&s, "p1");
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    s.ok(&["get", "pod", "p1"]);
    // The Status itself: code, reason and the budget's explanation.
    let status = s.runtime().block_on(async {
        // Without kube's own retries of 429s, to see the Status itself.
        let kc = kube::config::Kubeconfig::read_from(&s.kubeconfig).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        config.default_retry = false;
        let client = kube::Client::try_from(config).unwrap();
        let request = http::Request::post("/api/v1/namespaces/default/pods/p1/eviction")
            .header("content-type", "application/json")
            .body(eviction("p1").into_bytes())
            .unwrap();
        match client.request::<serde_json::Value>(request).await {
            Err(kube::Error::Api(e)) => e,
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    let cause = &status.details.unwrap().causes[0];
    assert_eq!(cause.reason, "DisruptionBudget");
    assert_eq!(
        cause.message,
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    );

    // Relaxed: one eviction is allowed, charged to the budget, and the pod goes (201).
    s.ok(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":1}}"#,
    ]);
    wait_for(&s, &["pdb", "web"], "{.status.disruptionsAllowed}", "1");
    let dry = s.kubectl_stdin(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/p1/eviction?dryRun=All",
            "-f",
            "-",
        ],
        &eviction("p1"),
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    s.ok(&["get", "pod", "p1"]);
    let ok = evict(&s, "p1");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("\"status\":\"Success\""),
        "{}",
        text(&ok.stdout)
    );
    assert!(!s.kubectl(&["get", "pod", "p1"]).status.success());
    // The second one would take the budget below minAvailable.
    let err = text(&evict(&s, "p2").stderr);
    assert!(err.contains("disruption budget"), "{err}");

    // A pod two budgets cover: upstream's 500.
    s.apply(
        &PDB.replace("name: web", "name: also")
            .replace("minAvailable: 2", "minAvailable: 0"),
    );
    let err = text(&evict(&s, "p2").stderr);
    assert!(
        err.contains("This pod has more than one PodDisruptionBudget"),
        "{err}"
    );
    // Pending pods disrupt nothing: evicted whatever the budgets say.
    s.apply(&web_pod("pending"));
    let ok = evict(&s, "pending");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

/// `kubectl drain` retries evictions the budget refuses, and finishes once it is relaxed.
fn drain_waits_for_the_budget(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(NODE);
    for p in ["p1", "p2"] {
        s.apply(&web_pod(p));
        mark_ready(&s, p);
    }
    s.apply(PDB);
    wait_for(&s, &["pdb", "web"], "{.status.currentHealthy}", "2");
    let mut drain = s
        .kubectl
        .command(&s.kubeconfig)
        .args([
            "drain",
            "n1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--force",
            "--timeout=60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    s.ok(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":0}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = drain.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = drain.kill();
            panic!("kubectl drain did not finish");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (mut out, mut err) = (String::new(), String::new());
    drain
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    drain
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("error when evicting pods/\"p1\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.")
            || err.contains("error when evicting pods/\"p2\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    assert!(out.contains("node/n1 drained"), "{out}");
    assert!(
        out.contains("pod/p1 evicted") && out.contains("pod/p2 evicted"),
        "{out}"
    );
    wait_for(&s, &["node", "n1"], "{.spec.unschedulable}", "true");
}

const LIMITS: &str = "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: limits\nspec:\n  limits:\n  - type: Container\n    default:\n      cpu: 500m\n      memory: 128Mi\n    defaultRequest:\n      cpu: 100m\n    max:\n      cpu: 500m\n  - type: PersistentVolumeClaim\n    max:\n      storage: 1Gi\n";

fn pod_with(name: &str, resources: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox\n{resources}"
    )
}

/// LimitRange defaults fill new pods' containers; min/max refuse with upstream's 403.
fn limit_ranges_default_and_refuse(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(LIMITS);
    s.apply(&pod_with("plain", ""));
    let resources = s.ok(&[
        "get",
        "pod",
        "plain",
        "-o",
        "jsonpath={.spec.containers[0].resources}",
    ]);
    let resources: serde_json::Value = serde_json::from_str(&resources).unwrap();
    assert_eq!(
        resources,
        serde_json::json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}})
    );
    let note = s.ok(&[
        "get",
        "pod",
        "plain",
        "-o",
        "jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}",
    ]);
    assert_eq!(
        note,
        "LimitRanger plugin set: cpu request for container c; cpu, memory limit for container c"
    );
    assert_eq!(
        s.ok(&["get", "pod", "plain", "-o", "jsonpath={.status.qosClass}"]),
        "Burstable"
    );

    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        &pod_with("x", "    resources:\n      limits:\n        cpu: \"1\"\n"),
    );
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"x\" is forbidden: maximum cpu usage per Container is 500m, but limit is 1"
    );
    assert!(!s.kubectl(&["get", "pod", "x"]).status.success());

    let claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: big\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 2Gi\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], claim);
    assert!(
        text(&out.stderr).contains("persistentvolumeclaims \"big\" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"),
        "{}",
        text(&out.stderr)
    );

    // A LimitRange that contradicts itself is refused (422).
    let bad = LIMITS.replace("name: limits", "name: bad").replace(
        "defaultRequest:\n      cpu: 100m",
        "defaultRequest:\n      cpu: 700m",
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], &bad);
    let err = text(&out.stderr);
    assert!(
        err.contains("LimitRange \"bad\" is invalid")
            && err.contains("spec.limits[0].defaultRequest[cpu]: Invalid value: \"700m\": default request value 700m is greater than max value 500m"),
        "{err}"
    );
}

const QUOTA: &str = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\nspec:\n  hard:\n    pods: \"2\"\n    services: \"2\"\n    count/configmaps: \"5\"\n";

/// A quota's usage from the controller (the `kubernetes` Service and `kube-root-ca.crt` count), refusals with upstream's 403, `get`/`describe quota`.
fn quotas_count_and_refuse(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(QUOTA);
    wait_for(&s, &["quota", "q"], "{.status.hard.pods}", "2");
    for p in ["p1", "p2"] {
        s.apply(&pod_with(p, ""));
    }
    wait_for(&s, &["quota", "q"], "{.status.used.pods}", "2");
    let out = s.kubectl_stdin(&["create", "-f", "-"], &pod_with("p3", ""));
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"p3\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
    );
    let table = rows(&s.ok(&["get", "quota"]));
    assert_eq!(table[0], ["NAME", "REQUEST", "LIMIT", "AGE"]);
    assert_eq!(table[1][0], "q");
    let request = table[1][1..table[1].len() - 1].join(" ");
    assert_eq!(request, "count/configmaps: 1/5, pods: 2/2, services: 1/2");
    let described = s.ok(&["describe", "quota", "q"]);
    let lines = rows(&described);
    assert!(
        lines.contains(&vec!["pods".to_string(), "2".into(), "2".into()]),
        "{described}"
    );
    assert!(
        lines.contains(&vec!["services".to_string(), "1".into(), "2".into()]),
        "{described}"
    );
    assert!(
        lines.contains(&vec!["Resource".to_string(), "Used".into(), "Hard".into()]),
        "{described}"
    );

    // Deleting a pod gives its place back.
    s.ok(&["delete", "pod", "p1", "--grace-period=0", "--force"]);
    wait_for(&s, &["quota", "q"], "{.status.used.pods}", "1");
    s.apply(&pod_with("p3", ""));

    // A quota on cpu limits: every container must state one.
    let cpu = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: cpu\nspec:\n  hard:\n    limits.cpu: \"1\"\n";
    s.apply(cpu);
    wait_for(&s, &["quota", "cpu"], "{.status.hard.limits\\.cpu}", "1");
    s.ok(&["delete", "pod", "p2", "--grace-period=0", "--force"]);
    wait_for(&s, &["quota", "q"], "{.status.used.pods}", "1");
    let out = s.kubectl_stdin(&["create", "-f", "-"], &pod_with("nolimit", ""));
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"nolimit\" is forbidden: failed quota: cpu: must specify limits.cpu for: c"
    );
    let big = pod_with("big", "    resources:\n      limits:\n        cpu: \"2\"\n");
    let out = s.kubectl_stdin(&["create", "-f", "-"], &big);
    assert!(
        text(&out.stderr).contains("pods \"big\" is forbidden: exceeded quota: cpu, requested: limits.cpu=2, used: limits.cpu=0, limited: limits.cpu=1"),
        "{}",
        text(&out.stderr)
    );
}

/// Concurrent creates never take a quota past its limit: the charge is a compare-and-swap.
fn concurrent_creates_do_not_overshoot(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&QUOTA.replace("pods: \"2\"", "pods: \"5\""));
    wait_for(&s, &["quota", "q"], "{.status.hard.pods}", "5");
    let created = s.runtime().block_on(async {
        let client = common::kube_client(&s.kubeconfig).await;
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(client, "default");
        let attempts = (0..12).map(|i| {
            let pods = pods.clone();
            async move {
                let pod: k8s_openapi::api::core::v1::Pod =
                    serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("c{i}")},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
                    .unwrap();
                pods.create(&Default::default(), &pod).await
            }
        });
        let results = futures::future::join_all(attempts).await;
        for r in &results {
            if let Err(kube::Error::Api(e)) = r {
                assert_eq!(e.code, 403, "{e:?}");
                assert!(e.message.contains("exceeded quota: q"), "{}", e.message);
            }
        }
        results.iter().filter(|r| r.is_ok()).count()
    });
    assert_eq!(created, 5);
    assert_eq!(rows(&s.ok(&["get", "pods", "--no-headers"])).len(), 5);
    wait_for(&s, &["quota", "q"], "{.status.used.pods}", "5");
}

common::kubectl_tests!(
    eviction_respects_the_budget,
    drain_waits_for_the_budget,
    limit_ranges_default_and_refuse,
    quotas_count_and_refuse,
    concurrent_creates_do_not_overshoot
);
