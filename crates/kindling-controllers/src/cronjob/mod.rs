//! The CronJob controller (upstream pkg/controller/cronjob, its v2): at each time its
//! schedule names (in its timeZone), a CronJob creates a Job from its jobTemplate, named
//! `<cronjob>-<minutes since the epoch>` so a schedule never runs twice, subject to suspend,
//! startingDeadlineSeconds and concurrencyPolicy (Allow, Forbid, Replace); it keeps the Jobs it
//! runs in `status.active`, records lastScheduleTime/lastSuccessfulTime and deletes finished
//! Jobs past its history limits.
//!
//! When its schedule fires is [`schedule`]'s (robfig/cron's Next over jiff's time zones); what
//! a sync does is [`plan`]'s. This module watches CronJobs and the Jobs they control, checks
//! live that an active Job the cache lacks is really gone, and creates/deletes Jobs and writes
//! the status with the cached resourceVersion.

pub mod plan;
pub mod schedule;

use crate::owners;
use crate::replicaset::message;
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::HashSet;
use std::sync::Arc;

struct Context {
    client: kube::Client,
    jobs: Store<Job>,
    recorder: Recorder,
}

/// The CronJob controlling a Job (by name, as upstream).
fn cronjob_of(job: &Job) -> Option<ObjectRef<CronJob>> {
    let r = owners::controller_of(&job.metadata)?;
    (r.kind == "CronJob" && r.api_version == "batch/v1").then(|| {
        ObjectRef::new(&r.name).within(job.metadata.namespace.as_deref().unwrap_or_default())
    })
}

pub async fn run(client: kube::Client) {
    let (jobs, job_events) = crate::cached_watch::<Job>(&client);
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("cronjob-controller"),
            4,
        ),
        client: client.clone(),
        jobs,
    });
    Controller::new(Api::<CronJob>::all(client), watcher::Config::default())
        .watches_stream(job_events, |job: Job| cronjob_of(&job))
        .run(
            crate::metrics::measured("cronjob", reconcile),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(cached: Arc<CronJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let owned: Vec<Arc<Job>> = ctx
        .jobs
        .state()
        .into_iter()
        .filter(|j| j.namespace().as_deref() == Some(ns.as_str()))
        .filter(|j| {
            owners::controller_of(&j.metadata)
                .is_some_and(|r| r.kind == "CronJob" && r.name == name)
        })
        .collect();
    // A running Job missing from the cached active list may be one the cache has not seen
    // recorded yet: read the CronJob again before calling it unexpected (as upstream).
    let listed = |cj: &CronJob, uid: &str| {
        cj.status
            .iter()
            .flat_map(|s| s.active.iter().flatten())
            .any(|r| r.uid.as_deref() == Some(uid))
    };
    let unlisted = owned
        .iter()
        .any(|j| !plan::is_finished(j) && !listed(&cached, &j.uid().unwrap_or_default()));
    let cj = if unlisted {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        match api.get_opt(&name).await? {
            Some(fresh) if fresh.uid() == cached.uid() => Arc::new(fresh),
            Some(_) | None => return Ok(Action::await_change()),
        }
    } else {
        cached
    };
    // An active Job the cache does not have may only be late: ask the server.
    let cached: HashSet<String> = owned.iter().filter_map(|j| j.uid()).collect();
    let mut gone = HashSet::new();
    for r in cj.status.iter().flat_map(|s| s.active.iter().flatten()) {
        let uid = r.uid.clone().unwrap_or_default();
        if cached.contains(&uid) {
            continue;
        }
        match jobs_api
            .get_opt(r.name.as_deref().unwrap_or_default())
            .await?
        {
            Some(j) if j.uid().as_deref() == Some(uid.as_str()) => {}
            _ => {
                gone.insert(uid);
            }
        }
    }
    let refs: Vec<&Job> = owned.iter().map(AsRef::as_ref).collect();
    let owner = owners::controller_ref(cj.as_ref());
    let mut d = plan::sync(&cj, &refs, &gone, owner, Timestamp::now());
    let reference = kindling_events::reference(cj.as_ref());
    for doomed in d.replace.iter().chain(&d.cleanup) {
        delete_job(&jobs_api, doomed).await?;
        ctx.recorder.normal(
            reference.clone(),
            "SuccessfulDelete",
            "",
            format!("Deleted job {}", doomed.name),
        );
    }
    let mut failure = None;
    if let Some((job, scheduled)) = d.create.take() {
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match jobs_api.create(&params, &job).await {
            Ok(created) => {
                ctx.recorder.normal(
                    reference.clone(),
                    "SuccessfulCreate",
                    "",
                    format!("Created job {}", created.name_any()),
                );
                plan::record_created(&mut d.status, &created, scheduled);
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Made by an earlier sync whose status write was lost, or by someone else.
                let existing = jobs_api.get(&job.name_any()).await?;
                let ours = owners::controller_of(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == cj.uid().as_ref());
                if ours {
                    plan::record_created(&mut d.status, &existing, scheduled);
                }
            }
            Err(e) => {
                ctx.recorder.warning(
                    reference.clone(),
                    "FailedCreate",
                    "",
                    format!("Error creating job: {}", message(&e)),
                );
                failure = Some(e);
            }
        }
    }
    for e in &d.events {
        if e.warning {
            ctx.recorder
                .warning(reference.clone(), e.reason, "", e.message.clone());
        } else {
            ctx.recorder
                .normal(reference.clone(), e.reason, "", e.message.clone());
        }
    }
    if Some(&d.status) != cj.status.as_ref() {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        let mut updated = (*cj).clone();
        updated.status = Some(d.status.clone());
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api.replace_status(&name, &params, &updated).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(d.requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

async fn delete_job(api: &Api<Job>, doomed: &plan::Doomed) -> Result<(), kube::Error> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: Some(doomed.uid.clone()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&doomed.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
