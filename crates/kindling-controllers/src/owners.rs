//! Controller references (upstream's ControllerRefManager): which objects a controller owns,
//! adopts (orphans its selector matches) or releases (owned ones it no longer selects), and the
//! patches that say so. Deciding is pure; the callers send the patches
//! ([`crate::send_claim`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use serde_json::{json, Value};

/// The owner reference marked `controller` (at most one per object).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A reference to `owner` as the controller of what it makes (upstream's NewControllerRef):
/// `controller` and `blockOwnerDeletion` set.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What a controller does with an object its namespace holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours and selected.
    Owned,
    /// An orphan the selector matches: take it.
    Adopt,
    /// Ours but no longer selected: let it go.
    Release,
    /// Someone else's, or not for us.
    Ignore,
}

/// Upstream's ClaimObject: `owner_deleting` owners keep what they own and take nothing new;
/// objects being deleted are not adopted.
pub fn claim(owner_uid: &str, owner_deleting: bool, selected: bool, meta: &ObjectMeta) -> Claim {
    match controller_of(meta) {
        Some(r) if r.uid != owner_uid => Claim::Ignore,
        Some(_) if selected => Claim::Owned,
        Some(_) if owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner_deleting || !selected || meta.deletion_timestamp.is_some() => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// The strategic merge patch that adds `owner` as the object's controller; the object's uid
/// makes it a precondition.
pub fn adopt_patch(object_uid: &str, owner: &OwnerReference) -> Value {
    json!({"metadata": {"ownerReferences": [owner], "uid": object_uid}})
}

/// The strategic merge patch that removes the reference to `owner_uid`.
pub fn release_patch(object_uid: &str, owner_uid: &str) -> Value {
    json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
        "uid": object_uid,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(controller: Option<&str>, deleting: bool) -> ObjectMeta {
        let mut m = ObjectMeta {
            uid: Some("obj".into()),
            ..Default::default()
        };
        if let Some(uid) = controller {
            m.owner_references = Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                uid: uid.into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]);
        }
        if deleting {
            m.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::UNIX_EPOCH,
            ));
        }
        m
    }

    #[test]
    fn claims_like_upstream() {
        use Claim::*;
        // (controller, object deleting, owner deleting, selected) → claim
        let cases = [
            (Some("me"), false, false, true, Owned),
            (Some("me"), false, true, true, Owned),
            (Some("me"), false, false, false, Release),
            (Some("me"), false, true, false, Ignore),
            (Some("other"), false, false, true, Ignore),
            (None, false, false, true, Adopt),
            (None, false, false, false, Ignore),
            (None, false, true, true, Ignore),
            (None, true, false, true, Ignore),
        ];
        for (controller, deleting, owner_deleting, selected, want) in cases {
            assert_eq!(
                claim("me", owner_deleting, selected, &meta(controller, deleting)),
                want,
                "{controller:?} deleting={deleting} owner_deleting={owner_deleting} selected={selected}"
            );
        }
    }
}
