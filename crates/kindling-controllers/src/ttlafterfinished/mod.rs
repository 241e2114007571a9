//! The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): a finished Job
//! with `ttlSecondsAfterFinished` is deleted, with background propagation (its pods go through
//! the garbage collector), that many seconds after it finished. When [`expiry`] says so, the
//! Job is read again live and deleted only if it is still the same expired object
//! (resourceVersion precondition), as upstream.

pub mod expiry;

use crate::{retry_on_error, Error};
use expiry::Expiry;
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;

struct Context {
    client: kube::Client,
}

pub async fn run(client: kube::Client) {
    Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default())
        .run(
            crate::metrics::measured("ttl_jobs_to_delete", reconcile),
            retry_on_error,
            Arc::new(Context { client }),
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
    match expiry::expiry(&job, Timestamp::now()) {
        Expiry::NotApplicable => return Ok(Action::await_change()),
        Expiry::In(left) => return Ok(Action::requeue(left)),
        Expiry::Expired => {}
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    // The cache may be behind: the TTL or the Job may have changed.
    let Some(fresh) = api.get_opt(&job.name_any()).await? else {
        return Ok(Action::await_change());
    };
    match expiry::expiry(&fresh, Timestamp::now()) {
        Expiry::NotApplicable => return Ok(Action::await_change()),
        Expiry::In(left) => return Ok(Action::requeue(left)),
        Expiry::Expired => {}
    }
    tracing::debug!(
        "cleaning up finished job {}/{}",
        fresh.namespace().unwrap_or_default(),
        fresh.name_any()
    );
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: fresh.uid(),
            resource_version: fresh.resource_version(),
        }),
        ..Default::default()
    };
    match api.delete(&fresh.name_any(), &params).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}
