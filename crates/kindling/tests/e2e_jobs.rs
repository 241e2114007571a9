//! End to end, with Docker: Jobs and CronJobs on a real cluster (one control plane, one
//! worker) with busybox pods that really run — a Job of 5 completions 2 at a time, an Indexed
//! Job whose pods print `$JOB_COMPLETION_INDEX`, a failing Job hitting its backoffLimit, a Job
//! deleted by ttlSecondsAfterFinished, a `*/1 * * * *` CronJob creating its Job (the one
//! minute-long wait, checked last so everything else runs meanwhile) and `kubectl create job
//! --from=cronjob/…` with both kubectls. One cluster for the whole file. Without a Docker engine
//! the test fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, runtime, text, unique, Env};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-jobs";
const BUSYBOX: &str = "busybox:latest";

fn jsonpath(env: &Env, what: &str, path: &str) -> String {
    text(
        &env.kubectl(&["get", what, "-o", &format!("jsonpath={path}")])
            .stdout,
    )
}

fn eventually(env: &Env, what: &str, timeout: Duration, check: impl Fn(&Env) -> bool) {
    let state = |e: &Env| {
        let objects = text(
            &e.kubectl(&["get", "jobs,cronjobs,pods", "-o", "wide"])
                .stdout,
        );
        let events = text(&e.kubectl(&["get", "events"]).stdout);
        format!("{objects}\n{events}")
    };
    common::eventually_showing(env, what, timeout, state, check);
}

fn job(name: &str, spec: &str, command: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec}  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: {BUSYBOX}\n        imagePullPolicy: IfNotPresent\n        command: [\"sh\", \"-c\", {command:?}]\n"
    )
}

fn condition(env: &Env, job: &str, type_: &str) -> String {
    jsonpath(
        env,
        &format!("job/{job}"),
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].status}}"),
    )
}

/// kubectl 1.35 from tools/bin (scripts/tools.sh), if present.
fn kubectl_135() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/kubectl-1.35");
    p.exists().then_some(p)
}

#[test]
fn jobs_and_cronjobs_run_on_real_nodes() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut env = Env::new();
    let cluster = unique("jobs");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    env.create_with(&cluster, Some(NODE_IMAGE), Some(config));
    let out = env.kindling(&["load", "docker-image", BUSYBOX, "--name", &cluster]);
    assert!(out.status.success(), "load: {}", text(&out.stderr));
    eprintln!("cluster ready after {:.1?}", started.elapsed());
    let phase = Instant::now();

    // The CronJob first: its minute runs while the rest is checked.
    env.apply(&format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: minutely\nspec:\n  schedule: \"*/1 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: main\n            image: {BUSYBOX}\n            imagePullPolicy: IfNotPresent\n            command: [\"true\"]\n"
    ));
    let cron_created = Instant::now();

    env.apply(&job(
        "five",
        "  completions: 5\n  parallelism: 2\n",
        "sleep 1",
    ));
    env.apply(&job(
        "indexed",
        "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n",
        "echo index=$JOB_COMPLETION_INDEX",
    ));
    env.apply(&job("failing", "  backoffLimit: 1\n", "exit 3"));
    env.apply(&job("brief", "  ttlSecondsAfterFinished: 5\n", "true"));

    // Never more than 2 pods of `five` at once, and it completes.
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while condition(&env, "five", "Complete") != "True" {
        assert!(Instant::now() < deadline, "five did not complete");
        let active = text(
            &env.kubectl(&[
                "get",
                "pods",
                "-l",
                "batch.kubernetes.io/job-name=five",
                "--field-selector",
                "status.phase!=Succeeded,status.phase!=Failed",
                "--no-headers",
            ])
            .stdout,
        );
        let n = active
            .lines()
            .filter(|l| !l.contains("Terminating") && !l.trim().is_empty())
            .count();
        most = most.max(n);
        let reported: usize = jsonpath(&env, "job/five", "{.status.active}")
            .parse()
            .unwrap_or(0);
        assert!(reported <= 2, "status.active {reported}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(most <= 2, "{most} pods of five ran at once");
    let row = ok(&env, &["get", "job", "five", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], ["five", "Complete", "5/5"], "{row}");
    ok(
        &env,
        &[
            "wait",
            "--for=condition=complete",
            "job/five",
            "--timeout=10s",
        ],
    );
    eprintln!("five completed after {:.1?}", phase.elapsed());

    // Indexed: each pod printed its own index.
    eventually(&env, "indexed completes", Duration::from_secs(60), |e| {
        condition(e, "indexed", "Complete") == "True"
    });
    assert_eq!(
        jsonpath(&env, "job/indexed", "{.status.completedIndexes}"),
        "0-2"
    );
    let mut printed = Vec::new();
    for ix in 0..3 {
        let selector = format!(
            "batch.kubernetes.io/job-name=indexed,batch.kubernetes.io/job-completion-index={ix}"
        );
        let pod = text(
            &env.kubectl(&[
                "get",
                "pods",
                "-l",
                &selector,
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ])
            .stdout,
        );
        assert!(pod.starts_with(&format!("indexed-{ix}-")), "{pod}");
        printed.push(ok(&env, &["logs", &pod]).trim().to_string());
    }
    assert_eq!(printed, ["index=0", "index=1", "index=2"]);
    eprintln!("indexed checked after {:.1?}", phase.elapsed());

    // backoffLimit 1: the second failure (after a 10 s back-off) fails the Job.
    eventually(&env, "failing fails", Duration::from_secs(90), |e| {
        condition(e, "failing", "Failed") == "True"
    });
    assert_eq!(
        jsonpath(
            &env,
            "job/failing",
            "{.status.conditions[?(@.type==\"Failed\")].reason}"
        ),
        "BackoffLimitExceeded"
    );
    assert_eq!(jsonpath(&env, "job/failing", "{.status.failed}"), "2");
    let row = ok(&env, &["get", "job", "failing", "--no-headers"]);
    assert_eq!(row.split_whitespace().nth(1), Some("Failed"), "{row}");
    let events = ok(
        &env,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=failing",
        ],
    );
    assert!(events.contains("BackoffLimitExceeded"), "{events}");
    eprintln!("failing checked after {:.1?}", phase.elapsed());

    // ttlSecondsAfterFinished 5: gone, pods too.
    eventually(&env, "brief is deleted", Duration::from_secs(60), |e| {
        !e.kubectl(&["get", "job", "brief"]).status.success()
    });
    eventually(
        &env,
        "brief's pods are deleted",
        Duration::from_secs(60),
        |e| {
            text(
                &e.kubectl(&[
                    "get",
                    "pods",
                    "-l",
                    "batch.kubernetes.io/job-name=brief",
                    "--no-headers",
                ])
                .stdout,
            )
            .trim()
            .is_empty()
        },
    );
    eprintln!("brief checked after {:.1?}", phase.elapsed());

    // kubectl create job --from=cronjob, with the machine's kubectl and 1.35.
    ok(
        &env,
        &["create", "job", "by-hand", "--from=cronjob/minutely"],
    );
    let mut manual = vec!["by-hand"];
    if let Some(k135) = kubectl_135() {
        let out = Command::new(k135)
            .args(["create", "job", "by-hand-135", "--from=cronjob/minutely"])
            .env("HOME", env.home.path())
            .env("KUBECONFIG", env.kubeconfig())
            .output()
            .unwrap();
        assert!(out.status.success(), "kubectl 1.35: {}", text(&out.stderr));
        manual.push("by-hand-135");
    } else {
        eprintln!(
            "tools/bin/kubectl-1.35 missing (scripts/tools.sh): only the machine's kubectl checked"
        );
    }
    for name in &manual {
        eventually(
            &env,
            &format!("{name} completes"),
            Duration::from_secs(60),
            |e| condition(e, name, "Complete") == "True",
        );
        assert_eq!(
            jsonpath(
                &env,
                &format!("job/{name}"),
                "{.metadata.ownerReferences[0].kind}"
            ),
            "CronJob"
        );
    }

    // The CronJob made its Job within 70 s of being created.
    let remaining = Duration::from_secs(70).saturating_sub(cron_created.elapsed());
    eventually(&env, "minutely creates a Job", remaining, |e| {
        !jsonpath(e, "cronjob/minutely", "{.status.lastScheduleTime}").is_empty()
    });
    let jobs = text(&env.kubectl(&["get", "jobs", "-o", "jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}{\"\\n\"}{end}"]).stdout);
    let scheduled = jobs
        .lines()
        .find(|l| l.starts_with("minutely-"))
        .unwrap_or_else(|| panic!("no minutely-* Job:\n{jobs}"));
    let (name, stamp) = scheduled.split_once(' ').unwrap();
    let stamp: jiff::Timestamp = stamp.parse().unwrap();
    assert_eq!(name, format!("minutely-{}", stamp.as_second() / 60));
    let events = ok(
        &env,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=minutely",
        ],
    );
    assert!(events.contains("SuccessfulCreate"), "{events}");
    ok(&env, &["get", "cronjobs,jobs"]);
    eprintln!(
        "all checked after {:.1?} (cluster {:.1?})",
        phase.elapsed(),
        started.elapsed()
    );
}
