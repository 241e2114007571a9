//! The Job, CronJob and TTL-after-finished controllers against a real API server on 127.0.0.1,
//! with the real kubectl. No node runs the pods: each test's fake kubelet finishes every new
//! pod after a short while — Failed when it carries the label `fail: "yes"`, else Succeeded —
//! and removes pods being deleted, as a node agent would. Nothing in the controllers knows it.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{text, Cluster, Kubelet, Server};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A server with every controller, and a fake kubelet that runs each new pod for 100 ms, then
/// finishes it, and deletes terminating pods at once.
impl Cluster {
    fn start() -> Cluster {
        let server = Server::start();
        server.run_all_controllers();
        let kubelet = Kubelet {
            finish_after: Some(Duration::from_millis(100)),
            remove_terminating: true,
            ..Kubelet::default()
        };
        server
            .runtime
            .spawn(kubelet.clone().run(server.client.clone()));
        Cluster { server, kubelet }
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn job(&self, name: &str) -> Option<Job> {
        self.runtime.block_on(self.jobs().get_opt(name)).unwrap()
    }

    fn pods_of(&self, job: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
        self.runtime.block_on(api.list(&lp)).unwrap().items
    }

    fn eventually(&self, what: &str, timeout: Duration, check: impl Fn(&Cluster) -> bool) {
        common::wait_until(
            what,
            timeout,
            || check(self),
            || {
                let state = self.ok(&["get", "jobs,cronjobs,pods", "-o", "wide"]);
                let events = self.ok(&["get", "events"]);
                format!("{state}\n{events}")
            },
        );
    }

    fn condition(&self, job: &str, type_: &str) -> Option<(String, String)> {
        let j = self.job(job)?;
        j.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == type_ && c.status == "True")
            .map(|c| (c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
    }
}

fn job_yaml(name: &str, extra_spec: &str, labels: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{extra_spec}  template:\n    metadata:\n      labels:\n        app: {name}\n{labels}    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: busybox\n"
    )
}

#[test]
fn jobs_run_to_completion_fail_and_expire() {
    let c = Cluster::start();

    // completions 5, parallelism 2: never more than 2 at once, Complete 5/5.
    c.apply(&job_yaml(
        "five",
        "  completions: 5\n  parallelism: 2\n",
        "",
    ));
    c.eventually("five completes", Duration::from_secs(30), |c| {
        c.condition("five", "Complete").is_some()
    });
    assert!(
        c.kubelet.max_running.load(Ordering::SeqCst) <= 2,
        "{} ran at once",
        c.kubelet.max_running.load(Ordering::SeqCst)
    );
    let job = c.job("five").unwrap();
    let status = job.status.clone().unwrap();
    assert_eq!(
        (status.succeeded, status.failed, status.active),
        (Some(5), Some(0), Some(0))
    );
    assert_eq!(
        c.condition("five", "SuccessCriteriaMet").unwrap().0,
        "CompletionsReached"
    );
    assert_eq!(
        c.condition("five", "Complete").unwrap(),
        (
            "CompletionsReached".to_string(),
            "Reached expected number of succeeded pods".to_string()
        )
    );
    assert!(status.completion_time.is_some() && status.start_time.is_some());
    let row = c.ok(&["get", "job", "five", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..3], ["five", "Complete", "5/5"], "{row}");
    let pods = c.pods_of("five");
    assert_eq!(pods.len(), 5);
    for p in &pods {
        assert!(
            p.finalizers().is_empty(),
            "{:?} still holds {:?}",
            p.name_any(),
            p.finalizers()
        );
        assert!(p.name_any().starts_with("five-"));
        assert_eq!(
            p.labels()["batch.kubernetes.io/controller-uid"],
            job.uid().unwrap()
        );
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=five",
    ]);
    assert!(
        events.contains("SuccessfulCreate") && events.contains("Completed"),
        "{events}"
    );

    // Indexed: every index once, its pods named and labelled after it.
    c.apply(&job_yaml(
        "idx",
        "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n",
        "",
    ));
    c.eventually("idx completes", Duration::from_secs(30), |c| {
        c.condition("idx", "Complete").is_some()
    });
    let status = c.job("idx").unwrap().status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    let mut indexes: Vec<String> = c
        .pods_of("idx")
        .iter()
        .map(|p| {
            let ix = p.labels()["batch.kubernetes.io/job-completion-index"].clone();
            assert!(
                p.name_any().starts_with(&format!("idx-{ix}-")),
                "{}",
                p.name_any()
            );
            assert_eq!(
                p.annotations()["batch.kubernetes.io/job-completion-index"],
                ix
            );
            let spec = p.spec.as_ref().unwrap();
            assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{ix}").as_str()));
            assert!(spec.containers[0]
                .env
                .as_ref()
                .unwrap()
                .iter()
                .any(|e| e.name == "JOB_COMPLETION_INDEX"));
            ix
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);

    // Failing pods: backoffLimit 0 fails the Job at the first failure.
    c.apply(&job_yaml(
        "bad",
        "  backoffLimit: 0\n",
        "        fail: \"yes\"\n",
    ));
    c.eventually("bad fails", Duration::from_secs(30), |c| {
        c.condition("bad", "Failed").is_some()
    });
    assert_eq!(
        c.condition("bad", "Failed").unwrap(),
        (
            "BackoffLimitExceeded".to_string(),
            "Job has reached the specified backoff limit".to_string()
        )
    );
    assert_eq!(
        c.condition("bad", "FailureTarget").unwrap().0,
        "BackoffLimitExceeded"
    );
    let row = c.ok(&["get", "job", "bad", "--no-headers"]);
    assert!(row.split_whitespace().nth(1) == Some("Failed"), "{row}");

    // Suspended: no pods, the Suspended condition; resumed: runs.
    c.apply(&job_yaml("later", "  suspend: true\n", ""));
    c.eventually("later suspended", Duration::from_secs(10), |c| {
        c.condition("later", "Suspended").is_some()
    });
    assert!(c.pods_of("later").is_empty());
    c.ok(&[
        "patch",
        "job",
        "later",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    c.eventually("later completes", Duration::from_secs(30), |c| {
        c.condition("later", "Complete").is_some()
    });

    // ttlSecondsAfterFinished: gone that long after finishing.
    c.apply(&job_yaml("brief", "  ttlSecondsAfterFinished: 1\n", ""));
    c.eventually("brief completes", Duration::from_secs(30), |c| {
        c.job("brief").is_none() || c.condition("brief", "Complete").is_some()
    });
    c.eventually("brief is deleted", Duration::from_secs(15), |c| {
        c.job("brief").is_none()
    });

    // kubectl wait works on the conditions.
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/five",
        "--timeout=5s",
    ]);
}

#[test]
fn cronjobs_create_jobs_and_bad_specs_are_refused() {
    let c = Cluster::start();
    c.apply(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: tick\nspec:\n  schedule: \"@every 2s\"\n  successfulJobsHistoryLimit: 2\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: main\n            image: busybox\n",
    );
    let cronjobs: Api<k8s_openapi::api::batch::v1::CronJob> =
        Api::namespaced(c.client.clone(), "default");
    c.eventually(
        "tick runs a Job to completion",
        Duration::from_secs(20),
        |c| {
            let cj = c.runtime.block_on(cronjobs.get("tick")).unwrap();
            cj.status.and_then(|s| s.last_successful_time).is_some()
        },
    );
    let jobs = c
        .runtime
        .block_on(c.jobs().list(&ListParams::default()))
        .unwrap()
        .items;
    let job = jobs
        .iter()
        .find(|j| j.name_any().starts_with("tick-"))
        .unwrap();
    let minutes: i64 = job.name_any()["tick-".len()..].parse().unwrap();
    let stamp: jiff::Timestamp = job.annotations()
        ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .parse()
        .unwrap();
    assert_eq!(minutes, stamp.as_second() / 60);
    c.ok(&[
        "patch",
        "cronjob",
        "tick",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    // kubectl makes the Job itself, owned by the CronJob (a second later, so the scheduled
    // Job is the oldest).
    std::thread::sleep(Duration::from_millis(1100));
    c.ok(&["create", "job", "manual", "--from=cronjob/tick"]);
    c.eventually("manual completes", Duration::from_secs(20), |c| {
        c.condition("manual", "Complete").is_some()
    });
    let manual = c.job("manual").unwrap();
    assert_eq!(
        manual.annotations()["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(manual.owner_references()[0].kind, "CronJob");
    // successfulJobsHistoryLimit 2: with a third finished Job, the oldest goes.
    c.ok(&["create", "job", "manual2", "--from=cronjob/tick"]);
    c.eventually(
        "the oldest Job is cleaned up",
        Duration::from_secs(20),
        |c| {
            let jobs = c
                .runtime
                .block_on(c.jobs().list(&ListParams::default()))
                .unwrap()
                .items;
            let mut names: Vec<String> = jobs.iter().map(ResourceExt::name_any).collect();
            names.sort();
            names == ["manual", "manual2"]
        },
    );
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=tick",
    ]);
    for reason in ["SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"] {
        assert!(events.contains(reason), "{reason}:\n{events}");
    }

    // 422s with upstream's field paths.
    let refused = |yaml: &str, want: &str| {
        let out = c.kubectl(&["apply", "-f", "-"], Some(yaml));
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "want {want}:\n{err}"
        );
    };
    let cron = |schedule: &str, tz: &str| {
        format!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: bad\nspec:\n  schedule: \"{schedule}\"\n{tz}  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: main\n            image: busybox\n")
    };
    refused(
        &cron("61 * * * *", ""),
        "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
    );
    refused(
        &cron("* * * * *", "  timeZone: Mars/Olympus\n"),
        "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
    );
    refused(
        &job_yaml("neg", "  completions: -1\n", ""),
        "spec.completions: Invalid value: -1: must be greater than or equal to 0",
    );
    refused(
        &job_yaml("negp", "  parallelism: -1\n", ""),
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
    );
    refused(
        &job_yaml(
            "sel",
            "  manualSelector: true\n  selector:\n    matchLabels:\n      app: other\n",
            "",
        ),
        "spec.template.metadata.labels: Invalid value:",
    );
    // The template is immutable, but for scheduling directives while suspended.
    c.apply(&job_yaml("fixed", "  suspend: true\n", ""));
    c.ok(&[
        "patch",
        "job",
        "fixed",
        "-p",
        r#"{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}"#,
    ]);
    let out = c.kubectl(&["set", "image", "job/fixed", "main=busybox:3"], None);
    let err = text(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("spec.template: Invalid value:")
            && err.contains("field is immutable"),
        "{err}"
    );
}
