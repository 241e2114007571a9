//! What one sync of a Job decides (upstream's syncJob, manageJob and
//! trackJobStatusAndRemoveFinalizers), without IO: from the Job, the pods it owns and the clock,
//! which pods to create (with which completion index) or delete, the status to write before
//! any tracking finalizer is removed (new finished pods listed in uncountedTerminatedPods,
//! interim FailureTarget/SuccessCriteriaMet conditions), which finalizers to remove, and —
//! in [`after_finalizers`] — the counters and terminal condition once they are gone.

use super::indexes::{self, Intervals};
use super::policy::{self, Action, Backoff};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::HashSet;
use std::time::Duration;

/// The finalizer that keeps a finished pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// At most this many pods are created or deleted in one sync (MaxPodCreateDeletePerSync).
pub const MAX_CREATE_DELETE: usize = 500;
/// At most this many pods wait in uncountedTerminatedPods (MaxUncountedPods).
pub const MAX_UNCOUNTED: usize = 500;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const SUSPENDED: &str = "Suspended";

/// What the sync reads besides the Job and its pods.
pub struct Input<'a> {
    pub job: &'a Job,
    /// Every pod the Job owns, finished ones included.
    pub pods: &'a [&'a Pod],
    /// Pods whose finalizer removal was sent but not yet seen.
    pub removing: &'a HashSet<String>,
    /// Earlier creations and deletions have shown up in the pod watch.
    pub expectations_met: bool,
    pub now: Timestamp,
}

/// An event the sync records on the Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// A pod the sync deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Victim {
    pub name: String,
    pub uid: String,
    /// Its tracking finalizer goes first (pods removed while the Job runs on), as upstream's
    /// deleteJobPods; a finished Job's pods keep it until they are counted.
    pub remove_finalizer: bool,
}

/// What one sync does.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub delete: Vec<Victim>,
    /// Pods to create: `Some(index)` for an Indexed Job.
    pub create: Vec<Option<i32>>,
    /// The status to write before finalizers are removed.
    pub status: JobStatus,
    /// Pods (name, uid) whose tracking finalizer can go.
    pub remove_finalizers: Vec<(String, String)>,
    /// Uids of pods that still hold the finalizer and are not being released.
    pub holding: HashSet<String>,
    /// The terminal condition (Complete or Failed) once nothing is uncounted or terminating.
    pub finished: Option<JobCondition>,
    /// Pods still terminating (they delay the terminal condition).
    pub terminating: i32,
    /// The uncounted list was full: the terminal condition waits for the next sync.
    pub uncounted_full: bool,
    pub events: Vec<Event>,
    /// Look again after this long (back-off, activeDeadlineSeconds).
    pub requeue_after: Option<Duration>,
}

/// The Job has its Complete or Failed condition (upstream's IsJobFinished).
pub fn is_finished(job: &Job) -> bool {
    finish_condition(job).is_some()
}

/// The Complete or Failed condition that is True.
pub fn finish_condition(job: &Job) -> Option<&JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

pub fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == TRACKING_FINALIZER))
}

/// Terminal or being deleted without having succeeded: a failure, unless only Failed pods are
/// replaced (podReplacementPolicy Failed), when only the phase says so.
fn is_failed(pod: &Pod, only_failed: bool) -> bool {
    match phase(pod) {
        "Failed" => true,
        "Succeeded" => false,
        _ => !only_failed && pod.metadata.deletion_timestamp.is_some(),
    }
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && !matches!(phase(pod), "Failed" | "Succeeded")
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()).filter(|r: &String| !r.is_empty()),
        message: Some(message.into()).filter(|m: &String| !m.is_empty()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

fn find<'a>(conditions: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Sets a condition's status, reason and message (a new transition time when any changes); a
/// missing condition is not added as False (upstream's ensureJobConditionStatus).
pub fn ensure_condition(
    conditions: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let new = condition(type_, status, reason, message, now);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != new.status || c.reason != new.reason || c.message != new.message {
                *c = new;
                return true;
            }
            false
        }
        None if status != "False" => {
            conditions.push(new);
            true
        }
        None => false,
    }
}

/// Spec values with upstream's defaults (the API server has set them already).
struct Spec<'a> {
    parallelism: i32,
    completions: Option<i32>,
    backoff_limit: i32,
    indexed: bool,
    suspended: bool,
    only_failed: bool,
    per_index: Option<i32>,
    job: &'a Job,
}

impl<'a> Spec<'a> {
    fn of(job: &'a Job) -> Spec<'a> {
        let s = job.spec.as_ref();
        Spec {
            parallelism: s.and_then(|s| s.parallelism).unwrap_or(1),
            completions: s.and_then(|s| s.completions),
            backoff_limit: s.and_then(|s| s.backoff_limit).unwrap_or(6),
            indexed: s.and_then(|s| s.completion_mode.as_deref()) == Some("Indexed"),
            suspended: s.and_then(|s| s.suspend) == Some(true),
            only_failed: s.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed"),
            per_index: s.and_then(|s| s.backoff_limit_per_index),
            job,
        }
    }

    fn failure_policy(&self) -> Option<&'a k8s_openapi::api::batch::v1::PodFailurePolicy> {
        self.job.spec.as_ref()?.pod_failure_policy.as_ref()
    }

    fn completions_or_zero(&self) -> i32 {
        self.completions.unwrap_or(0)
    }

    /// A pod's index, if valid for this Job.
    fn valid_index(&self, pod: &Pod) -> Option<i32> {
        indexes::of(pod).filter(|ix| *ix < self.completions_or_zero())
    }

    fn restart_on_failure(&self) -> bool {
        self.job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.restart_policy.as_deref())
            == Some("OnFailure")
    }
}

/// OnFailure pods: container restarts of running or pending pods reached backoffLimit.
fn past_backoff_limit_on_failure(spec: &Spec, pods: &[&Pod]) -> bool {
    if !spec.restart_on_failure() {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    if spec.backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= spec.backoff_limit
    }
}

/// The message of the first failed pod a FailJob rule matches.
fn fail_job_message(spec: &Spec, pods: &[&Pod]) -> Option<String> {
    spec.failure_policy()?;
    pods.iter()
        .filter(|p| is_failed(p, spec.only_failed))
        .find_map(
            |p| match policy::match_failure_policy(spec.failure_policy(), p) {
                Some(Action::FailJob(m)) => Some(m),
                _ => None,
            },
        )
}

/// The indexes that failed for good (backoffLimitPerIndex): those in the status plus the
/// indexes of newly failed pods whose failures exceed the limit or match a FailIndex rule.
fn failed_indexes(spec: &Spec, pods: &[&Pod], removing: &HashSet<String>) -> Intervals {
    let completions = spec.completions_or_zero();
    let status = spec
        .job
        .status
        .as_ref()
        .and_then(|s| s.failed_indexes.as_deref())
        .unwrap_or("");
    let prev = Intervals::parse(status, completions);
    let limit = spec.per_index.unwrap_or(i32::MAX);
    let mut new: Vec<i32> = pods
        .iter()
        .filter(|p| {
            has_finalizer(p) && !removing.contains(&uid(p)) && is_failed(p, spec.only_failed)
        })
        .filter_map(|p| {
            let ix = spec.valid_index(p)?;
            let action = policy::match_failure_policy(spec.failure_policy(), p);
            let counted = action.as_ref().is_none_or(Action::counts);
            let fails = action == Some(Action::FailIndex)
                || (counted && indexes::failure_count(p) + 1 > limit);
            fails.then_some(ix)
        })
        .collect();
    new.sort_unstable();
    new.dedup();
    prev.with(&new)
}

/// Per index, the last failed pod still holding its finalizer: its replacement inherits the
/// failure count and waits out the index's back-off.
fn last_failed_per_index<'p>(
    spec: &Spec,
    pods: &[&'p Pod],
) -> std::collections::BTreeMap<i32, &'p Pod> {
    let mut out = std::collections::BTreeMap::new();
    for p in pods {
        if !is_failed(p, spec.only_failed) {
            continue;
        }
        let Some(ix) = spec.valid_index(p) else {
            continue;
        };
        let newer = |q: &&Pod| policy::finished_at(q) < policy::finished_at(p);
        if out.get(&ix).is_none_or(newer) {
            out.insert(ix, *p);
        }
    }
    out
}

/// Active pods to remove (upstream's activePodsForRemoval): for an Indexed Job those without
/// a valid index and all but one of each repeated index; then the least advanced until
/// `at_least` are chosen.
fn pods_for_removal<'p>(
    spec: &Spec,
    active: &[&'p Pod],
    at_least: usize,
    now: Timestamp,
) -> Vec<&'p Pod> {
    let mut remove: Vec<&Pod> = Vec::new();
    let mut left: Vec<&Pod> = Vec::new();
    if spec.indexed {
        let mut by_index: std::collections::BTreeMap<i32, Vec<&Pod>> = Default::default();
        for p in active {
            match spec.valid_index(p) {
                Some(ix) => by_index.entry(ix).or_default().push(p),
                None => remove.push(p),
            }
        }
        for (_, mut same) in by_index {
            sort_for_removal(&mut same, now);
            let keep = same.pop();
            remove.extend(same);
            left.extend(keep);
        }
    } else {
        left = active.to_vec();
    }
    if remove.len() < at_least {
        sort_for_removal(&mut left, now);
        let more = at_least - remove.len();
        remove.extend(left.into_iter().take(more));
    }
    remove
}

fn sort_for_removal(pods: &mut [&Pod], now: Timestamp) {
    pods.sort_by(|a, b| {
        crate::pods::deletion_order(
            &crate::pods::Ranked {
                pod: a,
                colocated: 0,
            },
            &crate::pods::Ranked {
                pod: b,
                colocated: 0,
            },
            now,
        )
    });
}

/// One sync of a Job that has not finished.
pub fn sync(input: &Input) -> Decision {
    let Input {
        job,
        pods,
        removing,
        expectations_met,
        now,
    } = *input;
    let spec = Spec::of(job);
    let mut status = job.status.clone().unwrap_or_default();
    let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let uncounted_ok: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let uncounted_failed: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    let mut d = Decision::default();

    let active_pods: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| crate::pods::is_active(p))
        .collect();
    let mut active = active_pods.len() as i32;
    let mut ready = active_pods
        .iter()
        .filter(|p| crate::pods::is_ready(p))
        .count() as i32;
    let mut terminating = pods.iter().filter(|p| is_terminating(p)).count() as i32;

    // Finished pods not yet counted anywhere.
    let fresh = |p: &&&Pod, listed: &HashSet<String>| {
        has_finalizer(p)
            && !listed.contains(&uid(p))
            && !removing.contains(&uid(p))
            && (!spec.indexed || spec.valid_index(p).is_some())
    };
    let new_succeeded = pods
        .iter()
        .filter(|p| fresh(p, &uncounted_ok) && phase(p) == "Succeeded")
        .count() as i32;
    let new_failed = pods
        .iter()
        .filter(|p| fresh(p, &uncounted_failed) && is_failed(p, spec.only_failed))
        .filter(|p| policy::failure_counts(spec.failure_policy(), p))
        .count() as i32;
    let mut succeeded = status.succeeded.unwrap_or(0) + new_succeeded + uncounted_ok.len() as i32;
    let failed = status.failed.unwrap_or(0) + new_failed + uncounted_failed.len() as i32;

    if status.start_time.is_none() && !spec.suspended {
        status.start_time = Some(Time(now));
    }
    let backoff = Backoff::from_finished(pods.iter().filter_map(|p| {
        let ok = phase(p) == "Succeeded";
        let counts = ok
            || (is_failed(p, spec.only_failed) && policy::failure_counts(spec.failure_policy(), p));
        counts
            .then(|| policy::finished_at(p))
            .flatten()
            .map(|t| (ok, t))
    }));

    let conditions = status.conditions.clone().unwrap_or_default();
    let failure =
        |reason: &str, message: &str| condition(FAILURE_TARGET, "True", reason, message, now);
    let mut finished: Option<JobCondition> = find(&conditions, SUCCESS_CRITERIA_MET)
        .filter(|c| c.status == "True")
        .cloned();
    if finished.is_none() {
        if let Some(target) = find(&conditions, FAILURE_TARGET).filter(|c| c.status == "True") {
            finished = Some(condition(
                FAILED,
                "True",
                target.reason.as_deref().unwrap_or(""),
                target.message.as_deref().unwrap_or(""),
                now,
            ));
        } else if let Some(message) = fail_job_message(&spec, pods) {
            finished = Some(failure("PodFailurePolicy", &message));
        }
    }
    let deadline = job.spec.as_ref().and_then(|s| s.active_deadline_seconds);
    if finished.is_none() {
        let started = status.start_time.as_ref().map(|t| t.0);
        let elapsed = started.map(|s| now.duration_since(s));
        if failed > spec.backoff_limit || past_backoff_limit_on_failure(&spec, pods) {
            finished = Some(failure(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        } else if let (Some(limit), Some(elapsed), false) = (deadline, elapsed, spec.suspended) {
            let allowed = jiff::SignedDuration::from_secs(limit);
            if elapsed >= allowed {
                finished = Some(failure(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ));
            } else {
                d.requeue_after = Duration::try_from(allowed - elapsed).ok();
            }
        }
    }

    let completions = spec.completions_or_zero();
    let prev_indexes = Intervals::parse(
        status.completed_indexes.as_deref().unwrap_or(""),
        completions,
    );
    let mut succeeded_indexes = Intervals::default();
    let mut failed_ix: Option<Intervals> = None;
    if spec.indexed {
        let mut new: Vec<i32> = pods
            .iter()
            .filter(|p| phase(p) == "Succeeded" && has_finalizer(p))
            .filter_map(|p| spec.valid_index(p))
            .collect();
        new.sort_unstable();
        new.dedup();
        succeeded_indexes = prev_indexes.with(&new);
        succeeded = succeeded_indexes.total();
        if spec.per_index.is_some() {
            let f = failed_indexes(&spec, pods, removing);
            if finished.is_none() {
                let max = job.spec.as_ref().and_then(|s| s.max_failed_indexes);
                if max.is_some_and(|m| f.total() > m) {
                    finished = Some(failure(
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                    ));
                } else if f.total() > 0 && f.total() + succeeded_indexes.total() >= completions {
                    finished = Some(failure("FailedIndexes", "Job has failed indexes"));
                }
            }
            failed_ix = Some(f);
        }
        if finished.is_none() {
            let sp = job.spec.as_ref().and_then(|s| s.success_policy.as_ref());
            if let Some(message) = policy::match_success_policy(sp, completions, &succeeded_indexes)
            {
                finished = Some(condition(
                    SUCCESS_CRITERIA_MET,
                    "True",
                    "SuccessPolicy",
                    &message,
                    now,
                ));
            }
        }
    }

    if finished.is_some() {
        // Whatever still runs goes; the Job is done once they are gone.
        for p in &active_pods {
            d.delete.push(Victim {
                name: p.metadata.name.clone().unwrap_or_default(),
                uid: uid(p),
                remove_finalizer: false,
            });
        }
        let deleted_ready = active_pods
            .iter()
            .filter(|p| crate::pods::is_ready(p))
            .count() as i32;
        if !expectations_met {
            finished = None;
        }
        terminating += active;
        active = 0;
        ready -= deleted_ready;
    } else {
        let mut managed = false;
        if expectations_met && job.metadata.deletion_timestamp.is_none() {
            managed = true;
            let failed_set = failed_ix.clone().unwrap_or_default();
            let (after, deleted_ready) = manage(
                &spec,
                &active_pods,
                succeeded,
                terminating,
                &succeeded_indexes,
                &failed_set,
                pods,
                backoff,
                now,
                &mut d,
            );
            terminating += active - after;
            ready -= deleted_ready;
            active = after;
        }
        let complete = match spec.completions {
            None => succeeded > 0 && active == 0,
            Some(c) => succeeded >= c && active == 0,
        };
        if complete {
            finished = Some(condition(
                SUCCESS_CRITERIA_MET,
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if managed {
            let mut conds = status.conditions.clone().unwrap_or_default();
            if spec.suspended {
                if ensure_condition(
                    &mut conds,
                    SUSPENDED,
                    "True",
                    "JobSuspended",
                    "Job suspended",
                    now,
                ) {
                    d.events.push(Event {
                        warning: false,
                        reason: "Suspended",
                        message: "Job suspended".into(),
                    });
                }
            } else if ensure_condition(
                &mut conds,
                SUSPENDED,
                "False",
                "JobResumed",
                "Job resumed",
                now,
            ) {
                d.events.push(Event {
                    warning: false,
                    reason: "Resumed",
                    message: "Job resumed".into(),
                });
                // activeDeadlineSeconds counts continuous activity: a resumed Job starts anew.
                status.start_time = Some(Time(now));
            }
            status.conditions = Some(conds).filter(|c| !c.is_empty());
        }
    }
    status.active = Some(active);
    status.ready = Some(ready);
    status.terminating = Some(terminating);
    d.terminating = terminating;

    // Tracking: finished pods are listed as uncounted before their finalizers go.
    let mut holding: HashSet<String> = pods
        .iter()
        .filter(|p| has_finalizer(p) && !removing.contains(&uid(p)))
        .map(|p| uid(p))
        .collect();
    let mut ok_list: Vec<String> = uncounted.succeeded.clone().unwrap_or_default();
    let mut failed_list: Vec<String> = uncounted.failed.clone().unwrap_or_default();
    count_released(&mut status, &mut ok_list, &mut failed_list, &holding);
    let mut new_indexes = Vec::new();
    let job_failing = finished
        .as_ref()
        .is_some_and(|c| c.type_ != SUCCESS_CRITERIA_MET);
    for p in pods.iter() {
        let u = uid(p);
        if !holding.contains(&u) {
            continue;
        }
        let failed_pod = is_failed(p, spec.only_failed);
        let releasable = job.metadata.deletion_timestamp.is_some()
            || finished.is_some()
            || phase(p) == "Succeeded"
            || failed_pod;
        if !releasable {
            continue;
        }
        d.remove_finalizers
            .push((p.metadata.name.clone().unwrap_or_default(), u.clone()));
        if phase(p) == "Succeeded" && !uncounted_failed.contains(&u) {
            if spec.indexed {
                if let Some(ix) = spec.valid_index(p).filter(|ix| !prev_indexes.has(*ix)) {
                    new_indexes.push(ix);
                }
            } else if !ok_list.contains(&u) {
                ok_list.push(u);
            }
        } else if (failed_pod || job_failing)
            && !failed_list.contains(&u)
            && (!spec.indexed || spec.valid_index(p).is_some())
            && policy::failure_counts(spec.failure_policy(), p)
        {
            failed_list.push(u);
        }
        if new_indexes.len() + ok_list.len() + failed_list.len() >= MAX_UNCOUNTED {
            d.uncounted_full = true;
            break;
        }
    }
    if spec.indexed {
        new_indexes.sort_unstable();
        succeeded_indexes = succeeded_indexes.with(&new_indexes);
        status.succeeded = Some(succeeded_indexes.total());
        status.completed_indexes = Some(succeeded_indexes.to_string());
        if let Some(f) = &failed_ix {
            status.failed_indexes = Some(f.to_string());
        }
    }
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(ok_list).filter(|l| !l.is_empty()),
        failed: Some(failed_list).filter(|l| !l.is_empty()),
    });
    status.succeeded = Some(status.succeeded.unwrap_or(0));
    status.failed = Some(status.failed.unwrap_or(0));
    if let Some(f) = finished.take() {
        let mut conds = status.conditions.clone().unwrap_or_default();
        // The interim condition is written before the pods are let go; the terminal one after.
        if (f.type_ == FAILURE_TARGET || f.type_ == SUCCESS_CRITERIA_MET)
            && find(&conds, &f.type_).is_none()
        {
            conds.push(f.clone());
        }
        let terminal = if f.type_ == SUCCESS_CRITERIA_MET {
            COMPLETE
        } else {
            FAILED
        };
        finished = Some(condition(
            terminal,
            "True",
            f.reason.as_deref().unwrap_or(""),
            f.message.as_deref().unwrap_or(""),
            now,
        ));
        status.conditions = Some(conds);
    }
    for (_, u) in &d.remove_finalizers {
        holding.remove(u);
    }
    d.holding = holding;
    d.finished = finished;
    d.status = status;
    d
}

/// Moves uncounted pods whose finalizer is gone into the counters (upstream's
/// cleanUncountedPodsWithoutFinalizers).
fn count_released(
    status: &mut JobStatus,
    ok: &mut Vec<String>,
    failed: &mut Vec<String>,
    holding: &HashSet<String>,
) {
    let before = (ok.len(), failed.len());
    ok.retain(|u| holding.contains(u));
    failed.retain(|u| holding.contains(u));
    status.succeeded = Some(status.succeeded.unwrap_or(0) + (before.0 - ok.len()) as i32);
    status.failed = Some(status.failed.unwrap_or(0) + (before.1 - failed.len()) as i32);
}

/// Creates or deletes pods toward the wanted number of active ones (upstream's manageJob).
/// Returns the active count after and how many ready pods were deleted.
#[allow(clippy::too_many_arguments)]
fn manage(
    spec: &Spec,
    active_pods: &[&Pod],
    succeeded: i32,
    terminating: i32,
    succeeded_indexes: &Intervals,
    failed_indexes: &Intervals,
    pods: &[&Pod],
    backoff: Backoff,
    now: Timestamp,
    d: &mut Decision,
) -> (i32, i32) {
    let active = active_pods.len() as i32;
    let victim = |p: &&Pod| Victim {
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: uid(p),
        remove_finalizer: true,
    };
    let ready_of = |ps: &[&Pod]| ps.iter().filter(|p| crate::pods::is_ready(p)).count() as i32;
    if spec.suspended {
        let rm = pods_for_removal(spec, active_pods, active_pods.len(), now);
        d.delete = rm.iter().map(victim).collect();
        return (active - rm.len() as i32, ready_of(&rm));
    }
    let want = match spec.completions {
        None if succeeded > 0 => active,
        None => spec.parallelism,
        Some(c) => (c - succeeded).min(spec.parallelism).max(0),
    };
    let rm_at_least = (active - want).max(0) as usize;
    let mut rm = pods_for_removal(spec, active_pods, rm_at_least, now);
    rm.truncate(MAX_CREATE_DELETE);
    if !rm.is_empty() {
        d.delete = rm.iter().map(victim).collect();
        return (active - rm.len() as i32, ready_of(&rm));
    }
    let blocked = if spec.only_failed { terminating } else { 0 };
    let diff = (want - blocked - active).min(MAX_CREATE_DELETE as i32);
    if diff <= 0 {
        return (active, 0);
    }
    if spec.per_index.is_none() {
        let wait = backoff.remaining(now);
        if wait > Duration::ZERO {
            d.requeue_after = Some(d.requeue_after.map_or(wait, |r| r.min(wait)));
            return (active, 0);
        }
    }
    if !spec.indexed {
        d.create = vec![None; diff as usize];
        return (active + diff, 0);
    }
    let active_ix: Vec<i32> = active_pods
        .iter()
        .filter_map(|p| spec.valid_index(p))
        .collect();
    let done = succeeded_indexes.with(
        &failed_indexes
            .0
            .iter()
            .flat_map(|iv| iv.first..=iv.last)
            .collect::<Vec<_>>(),
    );
    let mut ixs =
        indexes::first_pending(&active_ix, &done, diff as usize, spec.completions_or_zero());
    if spec.per_index.is_some() {
        // Each index waits out its own back-off, counted from its last failed pod.
        let last_failed = last_failed_per_index(spec, pods);
        let mut soonest: Option<Duration> = None;
        ixs.retain(|ix| {
            let Some(p) = last_failed.get(ix) else {
                return true;
            };
            let failures = (indexes::failure_count(p) + 1) as u32;
            let wait = policy::remaining_for(failures, policy::finished_at(p), now);
            if wait > Duration::ZERO {
                soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
            }
            wait == Duration::ZERO
        });
        if ixs.is_empty() {
            if let Some(wait) = soonest {
                d.requeue_after = Some(d.requeue_after.map_or(wait, |r| r.min(wait)));
            }
            return (active, 0);
        }
    }
    let n = ixs.len() as i32;
    d.create = ixs.into_iter().map(Some).collect();
    (active + n, 0)
}

/// The failure counts a new pod of `index` inherits from the index's last failed pod
/// (backoffLimitPerIndex): `(failures, ignored failures)`.
pub fn inherited_failure_counts(job: &Job, pods: &[&Pod], index: i32) -> (i32, i32) {
    let spec = Spec::of(job);
    match last_failed_per_index(&spec, pods).get(&index) {
        None => (0, 0),
        Some(p) => {
            let counted = policy::failure_counts(spec.failure_policy(), p);
            let (f, i) = (indexes::failure_count(p), indexes::ignored_failure_count(p));
            if counted {
                (f + 1, i)
            } else {
                (f, i + 1)
            }
        }
    }
}

/// The status after the finalizers of `decision.remove_finalizers` were removed (`holding`:
/// uids that still hold it, those whose removal failed included): released uncounted pods
/// counted, and the terminal condition (with completionTime for Complete) once nothing is
/// uncounted or terminating (upstream's enactJobFinished). Returns whether the Job finished.
pub fn after_finalizers(
    decision: &Decision,
    holding: &HashSet<String>,
    now: Timestamp,
) -> (JobStatus, bool) {
    let mut status = decision.status.clone();
    let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut ok = uncounted.succeeded.unwrap_or_default();
    let mut failed = uncounted.failed.unwrap_or_default();
    count_released(&mut status, &mut ok, &mut failed, holding);
    let pending = ok.len() + failed.len();
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(ok).filter(|l| !l.is_empty()),
        failed: Some(failed).filter(|l| !l.is_empty()),
    });
    let Some(f) = decision.finished.as_ref() else {
        return (status, false);
    };
    if decision.uncounted_full || pending > 0 || decision.terminating > 0 {
        return (status, false);
    }
    let mut conds = status.conditions.clone().unwrap_or_default();
    ensure_condition(
        &mut conds,
        &f.type_,
        "True",
        f.reason.as_deref().unwrap_or(""),
        f.message.as_deref().unwrap_or(""),
        now,
    );
    if f.type_ == COMPLETE {
        status.completion_time = Some(Time(now));
    }
    status.conditions = Some(conds);
    (status, true)
}

/// The events of a Job that just finished.
pub fn finished_events(
    job_status: &JobStatus,
    completions: Option<i32>,
    finished: &JobCondition,
) -> Vec<Event> {
    if finished.type_ == COMPLETE {
        let mut events = Vec::new();
        if completions.is_some_and(|c| job_status.succeeded.unwrap_or(0) > c) {
            events.push(Event {
                warning: true,
                reason: "TooManySucceededPods",
                message: "Too many succeeded pods running after completion count reached".into(),
            });
        }
        events.push(Event {
            warning: false,
            reason: "Completed",
            message: "Job completed".into(),
        });
        events
    } else {
        let reason = match finished.reason.as_deref() {
            Some("BackoffLimitExceeded") => "BackoffLimitExceeded",
            Some("DeadlineExceeded") => "DeadlineExceeded",
            Some("PodFailurePolicy") => "PodFailurePolicy",
            Some("MaxFailedIndexesExceeded") => "MaxFailedIndexesExceeded",
            Some("FailedIndexes") => "FailedIndexes",
            _ => "Failed",
        };
        vec![Event {
            warning: true,
            reason,
            message: finished.message.clone().unwrap_or_default(),
        }]
    }
}

#[cfg(test)]
mod tests;
