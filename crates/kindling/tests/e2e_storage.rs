//! End to end, with Docker: storage on a real cluster (one control plane, two workers) with
//! busybox pods, driven by the real kubectl: REQUIREMENTS S4's `pvctest.yaml` (the default
//! `standard` class, a claim provisioned by `rancher.io/local-path` on the pod's node, its
//! directory on that node, gone with the claim), CSINodes and no CSIDrivers, a static PV+PVC
//! pair (Retain leaves it Released), bad input, a generic ephemeral volume, and a StatefulSet
//! whose claims follow its pods' nodes and whose data survives a pod deletion and `docker
//! restart` of the node. One cluster for the whole file. Without a Docker engine the test fails
//! when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, node_exec, ok, run, runtime, text, unique, Env};
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-storage";
const BUSYBOX: &str = "busybox:latest";

/// REQUIREMENTS.md S4, as the book prints it.
const PVCTEST: &str = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: test-claim
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 1Mi
---
kind: Pod
apiVersion: v1
metadata:
  name: test-pvc-claim
spec:
  containers:
  - name: test-pod
    image: busybox
    command:
    - "/bin/sh"
    args:
    - "-c"
    - "touch /mnt/test && exit 0 || exit 1"
    volumeMounts:
    - name: test-pvc
      mountPath: "/mnt"
  restartPolicy: "Never"
  volumes:
  - name: test-pvc
    persistentVolumeClaim:
      claimName: test-claim
"#;

/// Polls `check` every 250 ms until it holds; fails after `timeout` with `what`.
fn wait(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The words of the one row `kubectl get <what> <name> --no-headers` prints.
fn row(env: &Env, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend(args);
    all.push("--no-headers");
    text(&env.kubectl(&all).stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn jsonpath(env: &Env, args: &[&str], path: &str) -> String {
    let mut all = vec!["get"];
    all.extend(args);
    let p = format!("jsonpath={path}");
    all.extend(["-o", &p]);
    text(&env.kubectl(&all).stdout)
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Whether `path` exists in the node container.
fn exists_on(node: &str, path: &str) -> bool {
    node_exec(
        node,
        &["sh", "-c", &format!("test -e '{path}' && echo yes")],
    )
    .trim()
        == "yes"
}

#[test]
fn storage_on_real_nodes() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut env = Env::new();
    let cluster = unique("storage");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", BUSYBOX, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    eprintln!("cluster ready after {:.1?}", started.elapsed());

    the_books_pvctest(&env, &cluster);
    eprintln!("S4 done after {:.1?}", started.elapsed());
    static_volumes_and_bad_input(&env);
    eprintln!("static volumes done after {:.1?}", started.elapsed());
    ephemeral_volume(&env);
    eprintln!("ephemeral volume done after {:.1?}", started.elapsed());
    stateful_set_keeps_its_data(&env);
    eprintln!("statefulset done after {:.1?}", started.elapsed());
}

fn the_books_pvctest(env: &Env, cluster: &str) {
    let nodes = [
        format!("{cluster}-control-plane"),
        format!("{cluster}-worker"),
        format!("{cluster}-worker2"),
    ];
    // The default class, as kind's.
    ok(env, &["get", "sc"]);
    let sc = row(env, &["sc"]);
    assert_eq!(
        &sc[..6],
        [
            "standard",
            "(default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ],
        "{sc:?}"
    );
    // The provisioner shows where kind runs it.
    wait(
        "the local-path-provisioner pod",
        Duration::from_secs(30),
        || {
            let r = row(env, &["pods", "-n", "local-path-storage"]);
            r.first()
                .is_some_and(|n| n.starts_with("local-path-provisioner-"))
                && r.get(2).map(String::as_str) == Some("Running")
        },
    );
    // A CSINode for every node, no CSI drivers.
    wait("a CSINode per node", Duration::from_secs(30), || {
        let out = text(&env.kubectl(&["get", "csinodes", "--no-headers"]).stdout);
        nodes.iter().all(|n| {
            out.lines()
                .any(|l| l.split_whitespace().take(2).eq([n.as_str(), "0"]))
        })
    });
    ok(env, &["get", "pods", "-A"]);
    ok(env, &["get", "csinodes"]);
    let drivers = run(env, &["get", "csidrivers"]);
    assert!(text(&drivers.stderr).contains("No resources found"));

    let t0 = Instant::now();
    let out = env.kubectl_stdin(&["apply", "-f", "-"], Some(PVCTEST));
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait("test-pvc-claim Completed", Duration::from_secs(60), || {
        env.status_column("test-pvc-claim").0 == "Completed"
    });
    eprintln!("pvctest: pod Completed {:.1?} after apply", t0.elapsed());
    ok(env, &["get", "pods"]);
    let uid = jsonpath(env, &["pvc", "test-claim"], "{.metadata.uid}");
    let volume = format!("pvc-{uid}");
    ok(env, &["get", "pvc"]);
    assert_eq!(
        &row(env, &["pvc", "test-claim"])[..6],
        [
            "test-claim",
            "Bound",
            volume.as_str(),
            "1Mi",
            "RWO",
            "standard"
        ]
    );
    ok(env, &["get", "pv"]);
    assert_eq!(
        &row(env, &["pv", &volume])[..7],
        [
            volume.as_str(),
            "1Mi",
            "RWO",
            "Delete",
            "Bound",
            "default/test-claim",
            "standard"
        ]
    );
    ok(env, &["describe", "pvc", "test-claim"]);
    // The volume is on the pod's node, and the pod's file in it.
    let node = jsonpath(env, &["pod", "test-pvc-claim"], "{.spec.nodeName}");
    assert_eq!(
        jsonpath(
            env,
            &["pvc", "test-claim"],
            "{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"
        ),
        node
    );
    let dir = jsonpath(env, &["pv", &volume], "{.spec.hostPath.path}");
    assert_eq!(
        dir,
        format!("/var/local-path-provisioner/{volume}_default_test-claim")
    );
    assert!(
        exists_on(&node, &format!("{dir}/test")),
        "{dir}/test on {node}"
    );
    eprintln!("{}", node_exec(&node, &["ls", "-la", &dir]));

    // Deleting the claim deletes the volume and its directory.
    ok(env, &["delete", "pvc", "test-claim", "--timeout=60s"]);
    wait("the PV gone", Duration::from_secs(30), || {
        !env.kubectl(&["get", "pv", &volume]).status.success()
    });
    wait("the directory gone", Duration::from_secs(30), || {
        !exists_on(&node, &dir)
    });
    ok(env, &["delete", "pod", "test-pvc-claim"]);
}

fn static_volumes_and_bad_input(env: &Env) {
    env.apply(
        r#"apiVersion: v1
kind: PersistentVolume
metadata: {name: static-pv}
spec:
  capacity: {storage: 100Mi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: /tmp/static-pv}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: static-claim}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources: {requests: {storage: 50Mi}}
"#,
    );
    wait("static-claim Bound", Duration::from_secs(30), || {
        row(env, &["pvc", "static-claim"])
            .get(1)
            .map(String::as_str)
            == Some("Bound")
    });
    assert_eq!(
        &row(env, &["pvc", "static-claim"])[..6],
        [
            "static-claim",
            "Bound",
            "static-pv",
            "100Mi",
            "RWO",
            "manual"
        ]
    );
    assert_eq!(
        &row(env, &["pv", "static-pv"])[..7],
        [
            "static-pv",
            "100Mi",
            "RWO",
            "Retain",
            "Bound",
            "default/static-claim",
            "manual"
        ]
    );
    // A shrink is refused, naming the field.
    let shrink = run(
        env,
        &[
            "patch",
            "pvc",
            "static-claim",
            "-p",
            r#"{"spec":{"resources":{"requests":{"storage":"10Mi"}}}}"#,
        ],
    );
    assert!(!shrink.status.success());
    assert!(
        text(&shrink.stderr).contains("spec.resources.requests.storage: Forbidden"),
        "{}",
        text(&shrink.stderr)
    );
    // Retain: the volume stays, Released, still naming its claim.
    ok(env, &["delete", "pvc", "static-claim", "--timeout=60s"]);
    wait("static-pv Released", Duration::from_secs(30), || {
        row(env, &["pv", "static-pv"]).get(4).map(String::as_str) == Some("Released")
    });
    assert_eq!(
        &row(env, &["pv", "static-pv"])[..7],
        [
            "static-pv",
            "100Mi",
            "RWO",
            "Retain",
            "Released",
            "default/static-claim",
            "manual"
        ]
    );
    ok(env, &["delete", "pv", "static-pv", "--timeout=60s"]);

    // An invalid access mode is a 422 with upstream's message.
    let bad = env.kubectl_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: bad-mode}\nspec:\n  accessModes: [ReadWriteSometimes]\n  resources: {requests: {storage: 1Mi}}\n"),
    );
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("is invalid")
            && err.contains("spec.accessModes: Unsupported value: \"ReadWriteSometimes\""),
        "{err}"
    );
    // A claim of a class that does not exist stays Pending, with upstream's event.
    env.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: no-class}\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: nope\n  resources: {requests: {storage: 1Mi}}\n");
    wait(
        "the ProvisioningFailed event",
        Duration::from_secs(30),
        || {
            let out = text(
                &env.kubectl(&[
                    "get",
                    "events",
                    "--field-selector",
                    "involvedObject.name=no-class",
                ])
                .stdout,
            );
            out.contains("ProvisioningFailed")
                && out.contains("storageclass.storage.k8s.io \"nope\" not found")
        },
    );
    assert_eq!(row(env, &["pvc", "no-class"])[1], "Pending");
    ok(env, &["describe", "pvc", "no-class"]);
    ok(env, &["delete", "pvc", "no-class"]);
}

fn ephemeral_volume(env: &Env) {
    env.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo ok > /scratch/f && sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Mi}}
"#,
    );
    wait(
        "the ephemeral volume's pod Running",
        Duration::from_secs(60),
        || env.status_column("scratch").0 == "Running",
    );
    assert_eq!(row(env, &["pvc", "scratch-scratch"])[1], "Bound");
    assert_eq!(
        jsonpath(
            env,
            &["pvc", "scratch-scratch"],
            "{.metadata.ownerReferences[0].name}"
        ),
        "scratch"
    );
    ok(env, &["delete", "pod", "scratch", "--grace-period=1"]);
    wait(
        "the ephemeral claim gone with its pod",
        Duration::from_secs(60),
        || {
            !env.kubectl(&["get", "pvc", "scratch-scratch"])
                .status
                .success()
        },
    );
}

fn stateful_set_keeps_its_data(env: &Env) {
    env.apply(
        r#"apiVersion: v1
kind: Service
metadata: {name: data}
spec:
  clusterIP: None
  selector: {app: data}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: data}
spec:
  serviceName: data
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: data}}
  template:
    metadata: {labels: {app: data}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [sh, -c, "hostname >> /data/boots && exec sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Mi}}
"#,
    );
    let t0 = Instant::now();
    wait(
        "3 StatefulSet pods Running",
        Duration::from_secs(90),
        || (0..3).all(|i| env.status_column(&format!("data-{i}")).0 == "Running"),
    );
    eprintln!(
        "statefulset: 3 pods Running {:.1?} after apply",
        t0.elapsed()
    );
    ok(env, &["get", "pods", "-l", "app=data", "-o", "wide"]);
    ok(env, &["get", "pvc"]);
    for i in 0..3 {
        let pod = format!("data-{i}");
        let claim = format!("data-data-{i}");
        let node = env.jsonpath(&pod, "{.spec.nodeName}");
        assert_eq!(row(env, &["pvc", &claim])[1], "Bound");
        let volume = jsonpath(env, &["pvc", &claim], "{.spec.volumeName}");
        let pinned = jsonpath(
            env,
            &["pv", &volume],
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}",
        );
        assert_eq!(pinned, node, "{claim}'s volume is on its pod's node");
    }
    let out = run(
        env,
        &["exec", "data-1", "--", "sh", "-c", "echo kept > /data/file"],
    );
    assert!(out.status.success());
    let node = env.jsonpath("data-1", "{.spec.nodeName}");
    let uid = env.jsonpath("data-1", "{.metadata.uid}");

    // A deleted pod comes back on the same node, with its data.
    ok(env, &["delete", "pod", "data-1"]);
    wait("data-1 back", Duration::from_secs(60), || {
        env.jsonpath("data-1", "{.metadata.uid}") != uid
            && env.status_column("data-1").0 == "Running"
    });
    assert_eq!(env.jsonpath("data-1", "{.spec.nodeName}"), node);
    assert_eq!(
        ok(env, &["exec", "data-1", "--", "cat", "/data/file"]).trim(),
        "kept"
    );

    // The node container restarts: the data is still there.
    let t0 = Instant::now();
    docker(&["restart", "-t", "5", &node]);
    eprintln!("docker restart {node}: {:.1?}", t0.elapsed());
    wait(
        "data-1 running again after the restart",
        Duration::from_secs(120),
        || {
            let out = env.kubectl(&["exec", "data-1", "--", "cat", "/data/file", "/data/boots"]);
            out.status.success()
                && text(&out.stdout).lines().filter(|l| *l == "data-1").count() >= 3
        },
    );
    eprintln!("data-1 back after the restart {:.1?}", t0.elapsed());
    assert_eq!(
        ok(env, &["exec", "data-1", "--", "cat", "/data/file"]).trim(),
        "kept"
    );
    assert_eq!(env.jsonpath("data-1", "{.spec.nodeName}"), node);
    ok(env, &["get", "pods", "-l", "app=data", "-o", "wide"]);
}
