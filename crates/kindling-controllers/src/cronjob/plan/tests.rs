use super::*;
use serde_json::{json, Value};

fn owner() -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: "hello".into(),
        uid: "cj".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn cronjob(spec: Value, status: Value) -> CronJob {
    let mut s = json!({"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {"labels": {"team": "a"}}, "spec": {"template": {"spec": {"containers": []}}}}});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    serde_json::from_value(
        json!({"metadata": {"name": "hello", "namespace": "ns", "uid": "cj",
        "creationTimestamp": "2026-01-01T00:00:30Z"}, "spec": s, "status": status}),
    )
    .unwrap()
}

fn job(name: &str, condition: Option<&str>, start: &str) -> Job {
    let conditions: Vec<Value> = condition
        .map(|c| json!({"type": c, "status": "True"}))
        .into_iter()
        .collect();
    serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": "ns", "uid": name},
        "status": {"conditions": conditions, "startTime": start, "completionTime": start}}),
    )
    .unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn reasons(d: &Decision) -> Vec<&str> {
    d.events.iter().map(|e| e.reason).collect()
}

#[test]
fn a_due_schedule_creates_its_job_once() {
    let cj = cronjob(json!({}), json!({}));
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T00:01:05Z"),
    );
    let (job, scheduled) = d.create.clone().unwrap();
    assert_eq!(scheduled, at("2026-01-01T00:01:00Z"));
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(format!("hello-{}", scheduled.as_second() / 60).as_str())
    );
    assert_eq!(
        annotations(&job)[SCHEDULED_TIMESTAMP],
        "2026-01-01T00:01:00Z"
    );
    assert_eq!(job.metadata.labels.unwrap()["team"], "a");
    assert_eq!(job.metadata.owner_references.unwrap()[0].kind, "CronJob");
    // Next look: just after 00:02.
    assert_eq!(d.requeue_after, Some(Duration::from_millis(55_100)));
    // Before the first schedule: nothing, a timer.
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T00:00:40Z"),
    );
    assert!(d.create.is_none());
    assert_eq!(d.requeue_after, Some(Duration::from_millis(20_100)));
    // Already recorded: nothing.
    let done = cronjob(
        json!({}),
        json!({"lastScheduleTime": "2026-01-01T00:01:00Z"}),
    );
    assert!(sync(
        &done,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T00:01:30Z")
    )
    .create
    .is_none());
}

#[test]
fn time_zones_name_the_scheduled_time() {
    let cj = cronjob(
        json!({"schedule": "0 9 * * *", "timeZone": "Europe/Paris"}),
        json!({}),
    );
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T08:00:10Z"),
    );
    let (job, scheduled) = d.create.unwrap();
    assert_eq!(scheduled, at("2026-01-01T08:00:00Z"));
    assert_eq!(
        annotations(&job)[SCHEDULED_TIMESTAMP],
        "2026-01-01T09:00:00+01:00"
    );
}

#[test]
fn concurrency_policies() {
    let active = json!({"active": [{"kind": "Job", "name": "hello-1", "uid": "hello-1"}],
        "lastScheduleTime": "2026-01-01T00:01:00Z"});
    let running = job("hello-1", None, "2026-01-01T00:01:00Z");
    let now = at("2026-01-01T00:02:01Z");
    // (policy) → creates?, replaced, events
    let cases = [
        ("Allow", true, 0, vec![]),
        ("Forbid", false, 0, vec!["JobAlreadyActive"]),
        ("Replace", true, 1, vec![]),
    ];
    for (policy, creates, replaced, events) in cases {
        let cj = cronjob(json!({"concurrencyPolicy": policy}), active.clone());
        let d = sync(&cj, &[&running], &HashSet::new(), owner(), now);
        assert_eq!(d.create.is_some(), creates, "{policy}");
        assert_eq!(d.replace.len(), replaced, "{policy}");
        assert_eq!(reasons(&d), events, "{policy}");
    }
}

#[test]
fn finished_jobs_leave_the_active_list_and_old_ones_go() {
    let cj = cronjob(
        json!({"successfulJobsHistoryLimit": 1, "suspend": true}),
        json!({"active": [
        {"kind": "Job", "name": "a", "uid": "a"}, {"kind": "Job", "name": "gone", "uid": "gone"}]}),
    );
    let jobs = [
        job("a", Some("Complete"), "2026-01-01T00:03:00Z"),
        job("b", Some("Complete"), "2026-01-01T00:01:00Z"),
        job("c", Some("Failed"), "2026-01-01T00:02:00Z"),
        job("stray", None, "2026-01-01T00:02:00Z"),
    ];
    let refs: Vec<&Job> = jobs.iter().collect();
    let d = sync(
        &cj,
        &refs,
        &HashSet::from(["gone".to_string()]),
        owner(),
        at("2026-01-01T00:05:00Z"),
    );
    assert_eq!(
        reasons(&d),
        ["SawCompletedJob", "UnexpectedJob", "MissingJob"]
    );
    assert_eq!(
        d.events[0].message,
        "Saw completed job: a, condition: Complete"
    );
    assert_eq!(d.status.active, None);
    assert_eq!(
        d.status.last_successful_time,
        Some(Time(at("2026-01-01T00:03:00Z")))
    );
    assert_eq!(
        d.cleanup,
        vec![Doomed {
            name: "b".into(),
            uid: "b".into()
        }]
    );
    assert!(d.create.is_none(), "suspended");
}

#[test]
fn missed_schedules() {
    // Past the starting deadline: MissSchedule, no Job.
    let cj = cronjob(
        json!({"startingDeadlineSeconds": 10}),
        json!({"lastScheduleTime": "2026-01-01T00:01:00Z"}),
    );
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T00:02:30Z"),
    );
    assert!(d.create.is_none());
    // The deadline window starts 10 s back, so the 00:02 run is no longer considered.
    assert!(reasons(&d).is_empty(), "{:?}", d.events);
    let cj = cronjob(
        json!({"startingDeadlineSeconds": 100}),
        json!({"lastScheduleTime": "2026-01-01T00:01:00Z"}),
    );
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T00:02:30Z"),
    );
    assert_eq!(d.create.unwrap().1, at("2026-01-01T00:02:00Z"));
    // Hours of missed minutes: the latest runs, with the warning past 100.
    let cj = cronjob(
        json!({}),
        json!({"lastScheduleTime": "2026-01-01T00:01:00Z"}),
    );
    let d = sync(
        &cj,
        &[],
        &HashSet::new(),
        owner(),
        at("2026-01-01T03:00:30Z"),
    );
    assert_eq!(d.create.clone().unwrap().1, at("2026-01-01T03:00:00Z"));
    assert_eq!(reasons(&d), ["TooManyMissedTimes"]);
    assert!(
        d.events[0]
            .message
            .starts_with("too many missed start times: 179."),
        "{}",
        d.events[0].message
    );
}

#[test]
fn most_recent_steps_through_irregular_schedules() {
    let cj = cronjob(
        json!({"schedule": "30 6-16/4 * * 1-5"}),
        json!({"lastScheduleTime": "2026-01-05T06:30:00Z"}),
    );
    let sched = cron::parse("30 6-16/4 * * 1-5").unwrap();
    let (_, latest, missed) = most_recent(
        &cj,
        at("2026-01-06T12:00:00Z"),
        &sched,
        &jiff::tz::TimeZone::UTC,
        false,
    )
    .unwrap();
    assert_eq!(latest, Some(at("2026-01-06T10:30:00Z")));
    assert_eq!(missed, Missed::Few);
}
