//! End to end, with Docker: an application installed the way people install applications
//! (REQUIREMENTS.md S9) — the chart `helm create` writes, with Helm 4 (`tools/bin/helm`, from
//! `scripts/tools.sh`) and the real kubectl against a real cluster (a control plane and a
//! worker). The chart's images are made local as a user without a registry would: `nginx` at
//! tag `latest` (kindling's busybox httpd stand-in) and the test hook's `busybox` with
//! `imagePullPolicy: IfNotPresent`, both loaded with `kindling load docker-image`.
//!
//! install --wait → deployed and Ready; `helm test` → the hook pod reached the Service by name
//! (cluster DNS + service proxy) and Succeeded; upgrade to 3 replicas --wait; rollback to 1;
//! uninstall leaves none of the release's objects (nor Helm's release Secrets) behind.
//! Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a
//! message otherwise; without Helm likewise with `KINDLING_REQUIRE_TOOLS=1`.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, runtime, text, unique, Env};
use kindling_image::TestImage;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const NODE_IMAGE: &str = "kindling/node:e2e-helm";
const IMAGES: [(&str, TestImage); 2] = [
    ("nginx:latest", TestImage::Nginx),
    ("busybox:latest", TestImage::Busybox),
];

/// Helm from `tools/`, or None (the test is skipped) when `scripts/tools.sh` has not run.
fn helm_binary() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/helm");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("KINDLING_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
        "KINDLING_REQUIRE_TOOLS=1 but {} is missing: run scripts/tools.sh",
        path.display()
    );
    eprintln!("SKIPPED: tools/bin/helm is not installed (scripts/tools.sh)");
    None
}

/// Runs helm in the test user's environment (HOME, KUBECONFIG) inside `dir`; shows what it
/// printed; fails the test when helm fails.
fn helm(env: &Env, binary: &Path, dir: &Path, args: &[&str]) -> String {
    let started = Instant::now();
    let out = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env("HOME", env.home.path())
        .env("KUBECONFIG", env.kubeconfig())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    eprintln!(
        "$ helm {} ({:.1?})\n{stdout}{}",
        args.join(" "),
        started.elapsed(),
        text(&out.stderr)
    );
    assert!(out.status.success(), "helm {args:?} failed");
    stdout
}

/// Makes the chart's test hook use the loaded busybox instead of pulling one.
fn make_test_hook_local(chart: &Path) {
    let hook = chart.join("templates/tests/test-connection.yaml");
    let yaml = std::fs::read_to_string(&hook).unwrap();
    assert!(yaml.contains("image: busybox\n"), "{yaml}");
    let local = yaml.replace(
        "image: busybox\n",
        "image: busybox:latest\n      imagePullPolicy: IfNotPresent\n",
    );
    std::fs::write(&hook, local).unwrap();
}

fn ready_replicas(env: &Env) -> String {
    env.ok_kubectl(&[
        "get",
        "deployment",
        "demo",
        "-o",
        "jsonpath={.status.readyReplicas}/{.spec.replicas}",
    ])
}

#[test]
fn helm_create_chart_installs_tests_upgrades_rolls_back_and_uninstalls() {
    if !docker_available() {
        return;
    }
    let Some(binary) = helm_binary() else {
        return;
    };
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    for (image, kind) in IMAGES {
        runtime()
            .block_on(kindling_image::build_test_image_as(image, kind))
            .expect("building a test image");
    }
    let mut env = Env::new();
    let cluster = unique("helm");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    for (image, _) in IMAGES {
        let out = env.kindling(&["load", "docker-image", image, "--name", &cluster]);
        assert!(out.status.success(), "load: {}", text(&out.stderr));
    }
    eprintln!("cluster ready after {:.1?}", started.elapsed());

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    helm(&env, &binary, dir, &["create", "demo"]);
    make_test_hook_local(&dir.join("demo"));
    let local = ["--set", "image.tag=latest"];

    let phase = Instant::now();
    let install = helm(
        &env,
        &binary,
        dir,
        &[
            &["install", "demo", "./demo", "--wait", "--timeout", "3m"][..],
            &local,
        ]
        .concat(),
    );
    assert!(install.contains("STATUS: deployed"), "{install}");
    assert!(install.contains("REVISION: 1"), "{install}");
    assert_eq!(ready_replicas(&env), "1/1");
    eprintln!("installed and ready after {:.1?}", phase.elapsed());
    env.ok_kubectl(&[
        "get",
        "all,serviceaccounts",
        "-l",
        "app.kubernetes.io/instance=demo",
    ]);

    let phase = Instant::now();
    let tested = helm(&env, &binary, dir, &["test", "demo", "--timeout", "2m"]);
    assert!(tested.contains("Phase:          Succeeded"), "{tested}");
    let logs = env.ok_kubectl(&["logs", "demo-test-connection"]);
    eprintln!("test hook's log: {logs}");
    assert!(logs.contains("saving to 'index.html'"), "{logs}");
    eprintln!("tested after {:.1?}", phase.elapsed());

    let phase = Instant::now();
    let upgrade = helm(
        &env,
        &binary,
        dir,
        &[
            &[
                "upgrade",
                "demo",
                "./demo",
                "--set",
                "replicaCount=3",
                "--wait",
                "--timeout",
                "3m",
            ][..],
            &local,
        ]
        .concat(),
    );
    assert!(upgrade.contains("REVISION: 2"), "{upgrade}");
    assert_eq!(ready_replicas(&env), "3/3");
    eprintln!("upgraded after {:.1?}", phase.elapsed());

    let phase = Instant::now();
    let rollback = helm(
        &env,
        &binary,
        dir,
        &["rollback", "demo", "1", "--wait", "--timeout", "3m"],
    );
    assert!(rollback.contains("Rollback was a success"), "{rollback}");
    assert_eq!(
        env.ok_kubectl(&[
            "get",
            "deployment",
            "demo",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "1"
    );
    let history = helm(&env, &binary, dir, &["history", "demo"]);
    let revisions: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(revisions.len(), 3, "{history}");
    assert!(revisions[2].contains("deployed"), "{history}");
    assert!(revisions[2].contains("Rollback to 1"), "{history}");
    eprintln!("rolled back after {:.1?}", phase.elapsed());

    let uninstall = helm(&env, &binary, dir, &["uninstall", "demo", "--wait"]);
    assert!(
        uninstall.contains("release \"demo\" uninstalled"),
        "{uninstall}"
    );
    let left = env.ok_kubectl(&[
        "get",
        "deployments,replicasets,services,serviceaccounts,endpoints,secrets",
        "-l",
        "app.kubernetes.io/instance=demo",
        "-o",
        "name",
    ]);
    assert_eq!(left.trim(), "", "left behind: {left}");
    let releases = env.ok_kubectl(&["get", "secrets", "-l", "owner=helm", "-o", "name"]);
    assert_eq!(releases.trim(), "", "Helm's release Secrets: {releases}");
    let listed = helm(&env, &binary, dir, &["list", "-q"]);
    assert_eq!(listed.trim(), "");
    eprintln!("whole test {:.1?}", started.elapsed());
}
