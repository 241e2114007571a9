//! ControllerRevision history, shared by the StatefulSet and DaemonSet controllers (upstream's
//! pkg/controller/history): every pod template a controller has had is kept as a
//! ControllerRevision named `<owner>-<hash>`, owned by the controller, holding the strategic
//! merge patch that puts that template back (`{"spec":{"template":{…,"$patch":"replace"}}}`, the
//! data `kubectl rollout undo` patches the owner with), numbered by `revision`. Pods carry the
//! revision they were made from in their `controller-revision-hash` label.
//!
//! Deciding is here, without IO: hashing and naming, equality, which revision is the update
//! revision (an equal older one is reused with the next number, as a rollback), which old
//! revisions go beyond `revisionHistoryLimit`. [`client`] does the reads and writes.

pub mod client;

use crate::owners;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::Resource;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

/// The label of a pod naming the revision it was made from (upstream's
/// StatefulSetRevisionLabel and DefaultDaemonSetUniqueLabelKey).
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// The label of a StatefulSet's revision holding the hash of its data.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name stays within 253.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// FNV-1, 32 bits (Go's `fnv.New32`).
fn fnv32(data: &[u8], mut hash: u32) -> u32 {
    for b in data {
        hash = hash.wrapping_mul(0x0100_0193);
        hash ^= u32::from(*b);
    }
    hash
}

/// Upstream's HashControllerRevision: FNV-1 over the data's JSON, then the collision count in
/// decimal when there is one, the sum rendered safe (`6d4b5c9f7`).
pub fn hash_data(data: &Value, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(data).unwrap_or_default();
    let mut hash = fnv32(&bytes, 0x811c_9dc5);
    if let Some(count) = collision_count {
        hash = fnv32(count.to_string().as_bytes(), hash);
    }
    crate::deployment::util::safe_encode(&hash.to_string())
}

/// The data of a revision: the patch that replaces the owner's pod template by `template`.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = t.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The pod template a revision puts back (what applying its patch to the owner gives).
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    t.as_object_mut()?.remove("$patch");
    serde_json::from_value(t).ok()
}

fn data(revision: &ControllerRevision) -> Option<&Value> {
    revision.data.as_ref().map(|d| &d.0)
}

/// Same data (upstream's EqualRevision; the values are compared, not their bytes).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    data(a) == data(b)
}

/// By revision number, then oldest first, then by name (upstream's byRevision).
pub fn by_revision(a: &ControllerRevision, b: &ControllerRevision) -> Ordering {
    let created = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
    a.revision
        .cmp(&b.revision)
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// One more than the highest revision number (1 for no history); `sorted` by [`by_revision`].
pub fn next_revision(sorted: &[ControllerRevision]) -> i64 {
    sorted.last().map_or(1, |r| r.revision + 1)
}

/// A new revision of `owner` holding `data`, numbered `revision`, labelled like the template
/// plus `hash_label: hash`, with the owner's annotations (kubectl's change-cause among them).
pub fn new_revision<K: Resource<DynamicType = ()>>(
    owner: &K,
    template_labels: BTreeMap<String, String>,
    data: Value,
    revision: i64,
    name: String,
    hash_label: (&str, &str),
) -> ControllerRevision {
    let mut labels = template_labels;
    labels.insert(hash_label.0.to_string(), hash_label.1.to_string());
    let meta = owner.meta();
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: meta.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations.clone().filter(|a| !a.is_empty()),
            owner_references: Some(vec![owners::controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// What becomes of the update revision (upstream's getStatefulSetRevisions / the DaemonSet's
/// constructHistory), given the history sorted by [`by_revision`] and a candidate made from the
/// owner as it is now.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// The latest revision already holds it: this index.
    Latest(usize),
    /// An older revision holds it (a rollback): this index gets the candidate's number.
    Renumber(usize, i64),
    /// Nothing holds it: create the candidate.
    Create,
}

pub fn update_revision(sorted: &[ControllerRevision], candidate: &ControllerRevision) -> Update {
    let Some(last_equal) = sorted.iter().rposition(|r| equal(r, candidate)) else {
        return Update::Create;
    };
    if last_equal + 1 == sorted.len() {
        Update::Latest(last_equal)
    } else {
        Update::Renumber(last_equal, candidate.revision)
    }
}

/// The revisions to delete so that at most `limit` revisions that no pod and neither the
/// current nor the update revision use remain, the lowest numbers first (upstream's
/// truncateHistory). A negative limit keeps everything.
pub fn to_truncate<'a>(
    sorted: &'a [ControllerRevision],
    live: &HashSet<&str>,
    limit: i32,
) -> Vec<&'a ControllerRevision> {
    let history: Vec<&ControllerRevision> = sorted
        .iter()
        .filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    if limit < 0 || history.len() <= limit as usize {
        return Vec::new();
    }
    let excess = history.len() - limit as usize;
    history.into_iter().take(excess).collect()
}

/// The revision a pod was made from (its `controller-revision-hash` label).
pub fn pod_revision(pod: &k8s_openapi::api::core::v1::Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(CONTROLLER_REVISION_HASH))
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(name: &str, revision: i64, image: &str) -> ControllerRevision {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .unwrap();
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(RawExtension(template_patch(&template))),
            revision,
        }
    }

    #[test]
    fn fnv1_and_names_like_upstream() {
        // Go: fnv.New32() of "" is the offset basis; of "a" is 0x050c5d7e.
        assert_eq!(fnv32(b"", 0x811c_9dc5), 0x811c_9dc5);
        assert_eq!(fnv32(b"a", 0x811c_9dc5), 0x050c_5d7e);
        let h = hash_data(&json!({"a": 1}), None);
        assert!(h
            .bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
        assert_ne!(h, hash_data(&json!({"a": 1}), Some(1)));
        assert_eq!(revision_name("web", "abc"), "web-abc");
        assert_eq!(revision_name(&"x".repeat(300), "h").len(), 225);
    }

    #[test]
    fn the_data_is_a_replace_patch_of_the_template() {
        let r = rev("web-1", 1, "busybox:1");
        let d = r.data.as_ref().unwrap();
        assert_eq!(d.0["spec"]["template"]["$patch"], "replace");
        let t = template_of(&r).unwrap();
        assert_eq!(
            t.spec.unwrap().containers[0].image.as_deref(),
            Some("busybox:1")
        );
    }

    #[test]
    fn the_update_revision_is_found_reused_or_made() {
        let history = vec![rev("a", 1, "v1"), rev("b", 2, "v2")];
        assert_eq!(
            update_revision(&history, &rev("c", 3, "v2")),
            Update::Latest(1)
        );
        assert_eq!(
            update_revision(&history, &rev("c", 3, "v1")),
            Update::Renumber(0, 3)
        );
        assert_eq!(
            update_revision(&history, &rev("c", 3, "v3")),
            Update::Create
        );
        assert_eq!(update_revision(&[], &rev("c", 1, "v3")), Update::Create);
        assert_eq!(next_revision(&history), 3);
        assert_eq!(next_revision(&[]), 1);
    }

    #[test]
    fn truncation_keeps_live_revisions_and_the_newest() {
        let history: Vec<ControllerRevision> = (1..=5)
            .map(|i| rev(&format!("r{i}"), i, &format!("v{i}")))
            .collect();
        let names = |v: Vec<&ControllerRevision>| -> Vec<String> {
            v.iter().map(|r| r.metadata.name.clone().unwrap()).collect()
        };
        let live: HashSet<&str> = ["r1", "r5"].into();
        // r2, r3, r4 are history; keep 1 → delete r2, r3.
        assert_eq!(names(to_truncate(&history, &live, 1)), ["r2", "r3"]);
        assert!(to_truncate(&history, &live, 3).is_empty());
        assert!(to_truncate(&history, &live, -1).is_empty());
        assert_eq!(to_truncate(&history, &live, 0).len(), 3);
    }

    #[test]
    fn revisions_sort_by_number_then_age_then_name() {
        let mut v = [rev("b", 2, "x"), rev("a", 1, "x"), rev("c", 2, "x")];
        v.sort_by(by_revision);
        let order: Vec<_> = v.iter().map(|r| r.metadata.name.clone().unwrap()).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }
}
