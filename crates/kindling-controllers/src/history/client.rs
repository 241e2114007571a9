//! The reads and writes of a controller's history: claiming revisions (adopting matching
//! orphans, releasing owned ones the selector no longer matches), creating one under a name
//! that does not collide, renumbering one, deleting the excess.

use super::{by_revision, Update};
use crate::owners::{self, Claim};
use crate::{Error, FIELD_MANAGER};
use k8s_openapi::api::apps::v1::ControllerRevision;
use kindling_api::selector::LabelSelector;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};

fn params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// The revisions `owner` owns, sorted by revision, after adopting orphans its selector
/// matches and releasing owned ones it no longer matches. An owner being deleted adopts
/// nothing.
pub async fn claim<K: Resource<DynamicType = ()>>(
    api: &Api<ControllerRevision>,
    store: &Store<ControllerRevision>,
    owner: &K,
    selector: &LabelSelector,
) -> Result<Vec<ControllerRevision>, Error> {
    let meta = owner.meta();
    let uid = meta.uid.clone().unwrap_or_default();
    let deleting = meta.deletion_timestamp.is_some();
    let mut owned = Vec::new();
    for r in store.state() {
        if r.metadata.namespace != meta.namespace {
            continue;
        }
        let selected = selector.matches(&r.labels().clone());
        let r_uid = r.uid().unwrap_or_default();
        match owners::claim(&uid, deleting, selected, &r.metadata) {
            Claim::Owned => owned.push((*r).clone()),
            Claim::Ignore => {}
            Claim::Release => {
                crate::send_claim(api, &r.name_any(), &owners::release_patch(&r_uid, &uid)).await?;
            }
            Claim::Adopt => {
                let patch = owners::adopt_patch(&r_uid, &owners::controller_ref(owner));
                if crate::send_claim(api, &r.name_any(), &patch).await? {
                    owned.push((*r).clone());
                }
            }
        }
    }
    owned.sort_by(by_revision);
    Ok(owned)
}

/// Creates the revision `make(collision_count)` builds; on a name taken by other data the
/// collision count goes up and the name changes (upstream's CreateControllerRevision). A name
/// taken by the same data is that revision.
pub async fn create(
    api: &Api<ControllerRevision>,
    collision_count: &mut i32,
    make: impl Fn(i32) -> ControllerRevision,
) -> Result<ControllerRevision, Error> {
    for _ in 0..10 {
        let revision = make(*collision_count);
        match api.create(&params(), &revision).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let existing = api.get(&revision.name_any()).await?;
                if super::equal(&existing, &revision) {
                    return Ok(existing);
                }
                *collision_count += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Retry(
        "too many ControllerRevision name collisions".into(),
    ))
}

/// Gives `revision` the number `to` (an older template in use again).
pub async fn renumber(
    api: &Api<ControllerRevision>,
    revision: &ControllerRevision,
    to: i64,
) -> Result<ControllerRevision, Error> {
    if revision.revision == to {
        return Ok(revision.clone());
    }
    let mut next = revision.clone();
    next.revision = to;
    Ok(api.replace(&revision.name_any(), &params(), &next).await?)
}

/// The update revision: found in `history`, renumbered, or created.
pub async fn update_revision(
    api: &Api<ControllerRevision>,
    history: &[ControllerRevision],
    candidate: &ControllerRevision,
    collision_count: &mut i32,
    make: impl Fn(i32) -> ControllerRevision,
) -> Result<ControllerRevision, Error> {
    match super::update_revision(history, candidate) {
        Update::Latest(i) => Ok(history[i].clone()),
        Update::Renumber(i, to) => renumber(api, &history[i], to).await,
        Update::Create => create(api, collision_count, make).await,
    }
}

/// Deletes these revisions (already gone is fine).
pub async fn delete(
    api: &Api<ControllerRevision>,
    revisions: &[&ControllerRevision],
) -> Result<(), Error> {
    for r in revisions {
        crate::deleted_or_gone(api.delete(&r.name_any(), &DeleteParams::default()).await)?;
    }
    Ok(())
}
