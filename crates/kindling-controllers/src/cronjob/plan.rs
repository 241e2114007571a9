//! What one sync of a CronJob decides (upstream's cronjob_controllerv2 syncCronJob,
//! mostRecentScheduleTime and cleanupFinishedJobs), without IO: from the CronJob, the Jobs it
//! controls and the clock, the active list and times to record, the Job to create for the
//! latest unmet schedule (named `<cronjob>-<minutes since the epoch>`), the Jobs to delete
//! (Replace, history limits), the events and when to look again.

use super::schedule;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kindling_api::strategy::cron::{self, Schedule};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The annotation with a Job's scheduled time (RFC 3339 in the CronJob's zone).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Upstream gives up listing missed start times past this many.
pub const TOO_MANY_MISSED: i64 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    fn normal(reason: &'static str, message: String) -> Event {
        Event {
            warning: false,
            reason,
            message,
        }
    }
    fn warning(reason: &'static str, message: String) -> Event {
        Event {
            warning: true,
            reason,
            message,
        }
    }
}

/// A Job to delete (background propagation), by name and uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doomed {
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub status: CronJobStatus,
    pub events: Vec<Event>,
    /// Active Jobs to delete before creating (concurrencyPolicy Replace).
    pub replace: Vec<Doomed>,
    /// The Job for this schedule, and the time it stands for.
    pub create: Option<(Job, Timestamp)>,
    /// Finished Jobs past the history limits.
    pub cleanup: Vec<Doomed>,
    pub requeue_after: Option<Duration>,
}

/// The Job has its Complete or Failed condition.
pub fn is_finished(job: &Job) -> bool {
    condition_of(job).is_some()
}

fn condition_of(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

fn uid(job: &Job) -> String {
    job.metadata.uid.clone().unwrap_or_default()
}

/// `<cronjob>-<scheduled time in minutes since the epoch>`: one name per schedule, so a Job is
/// never created twice for it.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// The Job for `scheduled` (upstream's getJobFromTemplate2): the template's labels,
/// annotations (plus the scheduled timestamp) and spec, controlled by the CronJob.
pub fn job_from_template(
    cj: &CronJob,
    owner: OwnerReference,
    scheduled: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let local = scheduled.to_zoned(tz.clone());
    let stamp = if local.offset().seconds() == 0 {
        local.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    };
    annotations.insert(SCHEDULED_TIMESTAMP.into(), stamp);
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(
                cj.metadata.name.as_deref().unwrap_or_default(),
                scheduled,
            )),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Whether the latest schedule was missed, and by how many (upstream's missedSchedulesType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    None,
    Few,
    Many(i64),
}

/// The earliest time considered and the latest schedule time at or before `now` after it
/// (upstream's mostRecentScheduleTime); with `with_deadline`, nothing older than
/// startingDeadlineSeconds is considered.
pub fn most_recent(
    cj: &CronJob,
    now: Timestamp,
    sched: &Schedule,
    tz: &jiff::tz::TimeZone,
    with_deadline: bool,
) -> Result<(Timestamp, Option<Timestamp>, Missed), String> {
    let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let status = cj.status.as_ref();
    let mut earliest = status
        .and_then(|s| s.last_schedule_time.as_ref())
        .map_or(created, |t| t.0);
    let deadline = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
    if let (true, Some(secs)) = (with_deadline, deadline) {
        let limit = now - SignedDuration::from_secs(secs);
        if limit > earliest {
            earliest = limit;
        }
    }
    let Some(t1) = schedule::next(sched, tz, earliest) else {
        return Ok((earliest, None, Missed::None));
    };
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let Some(t2) = schedule::next(sched, tz, t1) else {
        return Ok((earliest, Some(t1), Missed::None));
    };
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let between = t2.duration_since(t1).as_secs();
    if between < 1 {
        return Err("time difference between two schedules is less than 1 second".into());
    }
    let elapsed = now.duration_since(t1).as_secs();
    let missed = elapsed / between + 1;
    // Start one interval before the estimate so irregular schedules are stepped through.
    let mut t = t1 + SignedDuration::from_secs((missed - 2) * between);
    let mut latest = None;
    while let Some(n) = schedule::next(sched, tz, t).filter(|n| *n <= now) {
        latest = Some(n);
        t = n;
    }
    let kind = if missed > TOO_MANY_MISSED {
        Missed::Many(missed)
    } else if missed > 1 {
        Missed::Few
    } else {
        Missed::None
    };
    Ok((earliest, latest, kind))
}

/// How long until the next schedule after the latest one (plus 100 ms, as upstream).
fn next_in(
    cj: &CronJob,
    now: Timestamp,
    sched: &Schedule,
    tz: &jiff::tz::TimeZone,
) -> Option<Duration> {
    let (earliest, latest, _) = most_recent(cj, now, sched, tz, false).ok()?;
    let next = schedule::next(sched, tz, latest.unwrap_or(earliest))?;
    let wait = next.duration_since(now) + SignedDuration::from_millis(100);
    Duration::try_from(wait)
        .ok()
        .or(Some(Duration::from_millis(100)))
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// Adds a created Job to the status (the active list and lastScheduleTime).
pub fn record_created(status: &mut CronJobStatus, job: &Job, scheduled: Timestamp) {
    let active = status.active.get_or_insert_with(Vec::new);
    if !active.iter().any(|r| r.uid == job.metadata.uid) {
        active.push(reference(job));
    }
    status.last_schedule_time = Some(Time(scheduled));
}

/// One sync. `jobs` are the Jobs the CronJob controls; `gone` the uids of active Jobs the
/// server no longer has (checked live by the caller).
pub fn sync(
    cj: &CronJob,
    jobs: &[&Job],
    gone: &HashSet<String>,
    owner: OwnerReference,
    now: Timestamp,
) -> Decision {
    let mut d = Decision {
        status: cj.status.clone().unwrap_or_default(),
        ..Default::default()
    };
    let status = &mut d.status;
    let in_active = |s: &CronJobStatus, uid: &str| {
        s.active
            .iter()
            .flatten()
            .any(|r| r.uid.as_deref() == Some(uid))
    };
    for job in jobs {
        let u = uid(job);
        let name = job.metadata.name.clone().unwrap_or_default();
        let finished = condition_of(job);
        let found = in_active(status, &u);
        if !found && finished.is_none() {
            d.events.push(Event::warning(
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {name}"),
            ));
        } else if let (true, Some(c)) = (found, finished) {
            if let Some(a) = status.active.as_mut() {
                a.retain(|r| r.uid.as_deref() != Some(u.as_str()));
            }
            d.events.push(Event::normal(
                "SawCompletedJob",
                format!("Saw completed job: {name}, condition: {c}"),
            ));
        }
        if finished == Some("Complete") {
            let done = job.status.as_ref().and_then(|s| s.completion_time.clone());
            if let Some(t) = done {
                if status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|l| t.0 > l.0)
                {
                    status.last_successful_time = Some(t);
                }
            }
        }
    }
    let known: HashSet<String> = jobs.iter().map(|j| uid(j)).collect();
    if let Some(active) = status.active.as_mut() {
        active.retain(|r| {
            let u = r.uid.clone().unwrap_or_default();
            if !known.contains(&u) && gone.contains(&u) {
                d.events.push(Event::normal(
                    "MissingJob",
                    format!(
                        "Active job went missing: {}",
                        r.name.clone().unwrap_or_default()
                    ),
                ));
                return false;
            }
            true
        });
    }
    d.cleanup = cleanup(cj, jobs);
    for doomed in &d.cleanup {
        if let Some(a) = status.active.as_mut() {
            a.retain(|r| r.uid.as_deref() != Some(doomed.uid.as_str()));
        }
    }
    if status.active.as_ref().is_some_and(Vec::is_empty) {
        status.active = None;
    }
    if cj.metadata.deletion_timestamp.is_some() {
        return d;
    }
    let spec = cj.spec.clone().unwrap_or_default();
    let sched = match cron::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            d.events.push(Event::warning(
                "UnparseableSchedule",
                format!(
                    "unparseable schedule: {} : {e}",
                    kindling_api::meta::go_quote(&spec.schedule)
                ),
            ));
            return d;
        }
    };
    let tz = match schedule::zone(&sched, spec.time_zone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => {
            let name = spec.time_zone.clone().unwrap_or_default();
            d.events.push(Event::warning(
                "UnknownTimeZone",
                format!(
                    "invalid timeZone: {}: {e}",
                    kindling_api::meta::go_quote(&name)
                ),
            ));
            return d;
        }
    };
    if spec.suspend == Some(true) {
        return d;
    }
    let scheduled = match most_recent(cj, now, &sched, &tz, true) {
        Err(e) => {
            d.events.push(Event::warning(
                "InvalidSchedule",
                format!("invalid schedule: {} : {e}", spec.schedule),
            ));
            return d;
        }
        Ok((_, latest, missed)) => {
            if let Missed::Many(n) = missed {
                d.events.push(Event::warning(
                    "TooManyMissedTimes",
                    format!("too many missed start times: {n}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
                ));
            }
            latest
        }
    };
    let view = CronJob {
        status: Some(d.status.clone()),
        ..cj.clone()
    };
    d.requeue_after = next_in(&view, now, &sched, &tz);
    let Some(scheduled) = scheduled else {
        return d;
    };
    if let Some(secs) = spec.starting_deadline_seconds {
        if scheduled + SignedDuration::from_secs(secs) < now {
            let when = scheduled
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%a, %d %b %Y %H:%M:%S %z");
            d.events.push(Event::warning(
                "MissSchedule",
                format!("Missed scheduled time to start a job: {when}"),
            ));
            return d;
        }
    }
    let name = job_name(cj.metadata.name.as_deref().unwrap_or_default(), scheduled);
    let taken = d
        .status
        .active
        .iter()
        .flatten()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
        || d.status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    if taken {
        return d;
    }
    let active: Vec<ObjectReference> = d.status.active.clone().unwrap_or_default();
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            d.events.push(Event::normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return d;
        }
        Some("Replace") => {
            d.replace = active
                .iter()
                .map(|r| Doomed {
                    name: r.name.clone().unwrap_or_default(),
                    uid: r.uid.clone().unwrap_or_default(),
                })
                .collect();
            d.status.active = None;
        }
        _ => {}
    }
    d.create = Some((job_from_template(cj, owner, scheduled, &tz), scheduled));
    // After this run, the next one.
    let mut after = view;
    if let Some(s) = after.status.as_mut() {
        s.last_schedule_time = Some(Time(scheduled));
    }
    d.requeue_after = next_in(&after, now, &sched, &tz);
    d
}

/// Finished Jobs beyond successfulJobsHistoryLimit/failedJobsHistoryLimit, oldest start first
/// (those without a start time last).
fn cleanup(cj: &CronJob, jobs: &[&Job]) -> Vec<Doomed> {
    let spec = cj.spec.as_ref();
    let limits = [
        (
            "Complete",
            spec.and_then(|s| s.successful_jobs_history_limit),
        ),
        ("Failed", spec.and_then(|s| s.failed_jobs_history_limit)),
    ];
    let mut doomed = Vec::new();
    for (kind, limit) in limits {
        let Some(limit) = limit else {
            continue;
        };
        let mut finished: Vec<&Job> = jobs
            .iter()
            .copied()
            .filter(|j| condition_of(j) == Some(kind))
            .collect();
        let excess = finished.len() as i64 - i64::from(limit);
        if excess <= 0 {
            continue;
        }
        let key = |j: &Job| {
            let start = j
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0);
            (start.is_none(), start, j.metadata.name.clone())
        };
        finished.sort_by_key(|j| key(j));
        doomed.extend(finished.iter().take(excess as usize).map(|j| Doomed {
            name: j.metadata.name.clone().unwrap_or_default(),
            uid: uid(j),
        }));
    }
    doomed
}

/// For tests and callers that want the annotations of a created Job.
pub fn annotations(job: &Job) -> BTreeMap<String, String> {
    job.metadata.annotations.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests;
