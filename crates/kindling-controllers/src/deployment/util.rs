//! The Deployment arithmetic, without IO (upstream's deployment util and the pure halves of
//! its rolling, recreate and sync code): surge and unavailability from int-or-percent values,
//! how far the new replica set may grow and the old ones shrink in one step, proportional
//! scaling, the revision and replicas annotations, status and conditions.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label that tells the replica sets (and pods) of one Deployment apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// The revision history annotation stops growing at this length.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";

/// Now, to the second: what a `metav1.Time` keeps, so that a status written and read back
/// compares equal.
pub fn now_seconds() -> Timestamp {
    seconds(Timestamp::now())
}

pub fn seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

// --- Reading the objects ---------------------------------------------------------------------

/// `spec.replicas` (defaulted to 1 by the API server).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_status<T: Default>(
    rs: &ReplicaSet,
    f: impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> T,
) -> T {
    rs.status.as_ref().map(f).unwrap_or_default()
}

pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs_status(rs, |s| s.available_replicas.unwrap_or(0))
}

pub fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

pub fn is_paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

pub fn template(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn creation(rs: &ReplicaSet) -> Option<Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn name(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}

// --- Int or percent --------------------------------------------------------------------------

/// Upstream's GetScaledValueFromIntOrPercent: an integer as is, a percentage of `total`
/// rounded up or down; `None` is 0.
pub fn scaled_value(v: Option<&IntOrString>, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        None => Ok(0),
        Some(IntOrString::Int(n)) => Ok(*n),
        Some(IntOrString::String(s)) => {
            let Some(digits) = s.strip_suffix('%') else {
                return Err(
                    "invalid value for IntOrString: invalid type: string is not a percentage"
                        .into(),
                );
            };
            let percent: i64 = digits
                .parse()
                .map_err(|_| format!("invalid value {s:?}: must be a percentage"))?;
            let product = percent * i64::from(total);
            let value = if round_up {
                product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
            } else {
                product.div_euclid(100)
            };
            Ok(value as i32)
        }
    }
}

/// Upstream's ResolveFenceposts: surge rounded up, unavailable rounded down, and never both 0
/// (then one pod may be unavailable).
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let surge = scaled_value(max_surge, desired, true)?;
    let mut unavailable = scaled_value(max_unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    resolve_fenceposts(
        ru.and_then(|r| r.max_surge.as_ref()),
        ru.and_then(|r| r.max_unavailable.as_ref()),
        replicas(d),
    )
    .unwrap_or((0, 1))
}

/// How many pods above `replicas` a rolling update may run (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).0
}

/// How many of `replicas` may be unavailable during a rolling update (0 for Recreate), never
/// more than `replicas`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

/// `replicas - maxUnavailable`: the available pods a rolling update keeps.
pub fn min_available(d: &Deployment) -> i32 {
    replicas(d) - max_unavailable(d)
}

// --- Counting --------------------------------------------------------------------------------

/// The sum of `spec.replicas`.
pub fn replica_count(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|rs| rs_replicas(rs)).sum()
}

/// The sum of `status.replicas`.
pub fn actual_count(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|rs| rs_status(rs, |s| s.replicas)).sum()
}

pub fn ready_count(rss: &[&ReplicaSet]) -> i32 {
    rss.iter()
        .map(|rs| rs_status(rs, |s| s.ready_replicas.unwrap_or(0)))
        .sum()
}

pub fn available_count(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|rs| rs_available(rs)).sum()
}

// --- Templates and the hash ------------------------------------------------------------------

/// The template as a value with null, empty objects and empty lists removed (Go's semantic
/// equality makes no difference between nil and empty).
fn normalized(template: &PodTemplateSpec) -> Value {
    fn strip(v: Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> = m
                    .into_iter()
                    .filter_map(|(k, v)| strip(v).map(|v| (k, v)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            Value::Array(a) => {
                let a: Vec<Value> = a
                    .into_iter()
                    .map(|v| strip(v).unwrap_or(Value::Null))
                    .collect();
                (!a.is_empty()).then_some(Value::Array(a))
            }
            other => Some(other),
        }
    }
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    strip(serde_json::to_value(&t).unwrap_or(Value::Null)).unwrap_or(Value::Null)
}

/// Upstream's EqualIgnoreHash: the templates are the same but for the pod-template-hash label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

/// Upstream's rand.SafeEncodeString alphabet: no vowels, no digits that look like letters, so
/// a hash never spells a word.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[b as usize % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// FNV-1a, 32 bits.
fn fnv32a(data: &[u8], mut hash: u32) -> u32 {
    for b in data {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The pod-template-hash of a template (upstream's ComputeHash): FNV-32a over the template —
/// here its canonical JSON, upstream a Go dump of the struct, so the values differ from
/// upstream's but look the same — then the collision count as 8 little-endian bytes, the
/// decimal sum rendered with [`safe_encode`] (`6d4cf56db6`).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(&bytes, 0x811c_9dc5);
    if let Some(count) = collision_count {
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash = fnv32a(&extra, hash);
    }
    safe_encode(&hash.to_string())
}

// --- Finding the new and the old replica sets ------------------------------------------------

/// Oldest first, then by name (upstream's ReplicaSetsByCreationTimestamp).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    creation(a)
        .cmp(&creation(b))
        .then_with(|| name(a).cmp(name(b)))
}

/// The replica set whose template is the Deployment's (the oldest if several are).
pub fn find_new<'a>(d: &Deployment, rss: &[&'a ReplicaSet]) -> Option<&'a ReplicaSet> {
    let template = template(d);
    let mut sorted = rss.to_vec();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted.into_iter().find(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, &template))
    })
}

/// Every replica set but the new one, and among them those with pods (upstream's
/// FindOldReplicaSets: `(required, all)`).
pub fn find_old<'a>(
    d: &Deployment,
    rss: &[&'a ReplicaSet],
) -> (Vec<&'a ReplicaSet>, Vec<&'a ReplicaSet>) {
    let new_uid = find_new(d, rss).and_then(|n| n.metadata.uid.clone());
    let all: Vec<&ReplicaSet> = rss
        .iter()
        .copied()
        .filter(|rs| new_uid.is_none() || rs.metadata.uid != new_uid)
        .collect();
    let required = all
        .iter()
        .copied()
        .filter(|rs| rs_replicas(rs) != 0)
        .collect();
    (required, all)
}

/// Those with `spec.replicas > 0`.
pub fn active<'a>(rss: &[&'a ReplicaSet]) -> Vec<&'a ReplicaSet> {
    rss.iter()
        .copied()
        .filter(|rs| rs_replicas(rs) > 0)
        .collect()
}

// --- Annotations -----------------------------------------------------------------------------

/// The revision annotation as a number (0 when missing or unreadable).
pub fn revision(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    annotation(meta, REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn max_revision(rss: &[&ReplicaSet]) -> i64 {
    rss.iter()
        .map(|rs| revision(&rs.metadata))
        .max()
        .unwrap_or(0)
}

/// A non-negative int32 annotation (upstream's getNonNegativeInt32FromAnnotation).
fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    let v: i64 = annotation(&rs.metadata, key)?.parse().ok()?;
    (0..=i64::from(i32::MAX)).contains(&v).then_some(v as i32)
}

pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, DESIRED_REPLICAS)
}

pub fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, MAX_REPLICAS)
}

fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED
            | REVISION
            | REVISION_HISTORY
            | DESIRED_REPLICAS
            | MAX_REPLICAS
            | DEPRECATED_ROLLBACK_TO
    )
}

fn annotations_mut(rs: &mut ReplicaSet) -> &mut BTreeMap<String, String> {
    rs.metadata.annotations.get_or_insert_with(BTreeMap::new)
}

/// Sets desired-replicas and max-replicas; whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = annotations_mut(rs);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if a.get(key) != Some(&value) {
            a.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// Upstream's SetNewReplicaSetAnnotations: the Deployment's annotations copied (but for the
/// ones the controller owns), the revision raised to `new_revision` (the revisions it had kept
/// in revision-history, up to `limit` characters: a rollback to this replica set), and for a
/// replica set about to be created the replicas annotations. Whether anything changed.
pub fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: &str,
    exists: bool,
    limit: usize,
) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || annotation(&rs.metadata, k) == Some(v.as_str()) {
            continue;
        }
        annotations_mut(rs).insert(k.clone(), v.clone());
        changed = true;
    }
    let old = annotation(&rs.metadata, REVISION).map(str::to_string);
    let old_number = match old.as_deref() {
        None => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return changed,
        },
    };
    let new_number: i64 = new_revision.parse().unwrap_or(0);
    if old_number < new_number {
        annotations_mut(rs).insert(REVISION.into(), new_revision.into());
        changed = true;
        if let Some(old) = old {
            let history = annotation(&rs.metadata, REVISION_HISTORY)
                .unwrap_or("")
                .to_string();
            if history.is_empty() {
                annotations_mut(rs).insert(REVISION_HISTORY.into(), old);
            } else {
                let mut kept: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > limit && start < kept.len() {
                    total -= kept[start].len() + 1;
                    start += 1;
                }
                if total <= limit {
                    kept = kept.split_off(start);
                    kept.push(&old);
                    let joined = kept.join(",");
                    annotations_mut(rs).insert(REVISION_HISTORY.into(), joined);
                }
            }
        }
    }
    if !exists {
        let desired = replicas(d);
        changed |= set_replicas_annotations(rs, desired, desired + max_surge(d));
    }
    changed
}

// --- How far to scale ------------------------------------------------------------------------

/// The size the new replica set should have now (upstream's NewRSNewReplicas): Recreate goes
/// straight to `replicas`; a rolling update grows it as far as maxSurge allows.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    let new_replicas = rs_replicas(new);
    if !is_rolling(d) {
        return replicas(d);
    }
    let surge = max_surge(d);
    let current = replica_count(all);
    let max_total = replicas(d) + surge;
    if current >= max_total {
        return new_replicas;
    }
    let up = (max_total - current).min(replicas(d) - new_replicas);
    new_replicas + up
}

/// The size the new replica set goes to in this step of a rolling update, if it changes
/// (upstream's reconcileNewReplicaSet).
pub fn reconcile_new_rs(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> Option<i32> {
    let (want, have) = (replicas(d), rs_replicas(new));
    if have == want {
        return None;
    }
    if have > want {
        return Some(want);
    }
    let to = new_rs_new_replicas(d, all, new);
    (to != have).then_some(to)
}

/// One replica set resized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scale {
    pub name: String,
    pub to: i32,
}

/// How the old replica sets shrink in this step of a rolling update (upstream's
/// reconcileOldReplicaSets): first the unavailable pods of old replica sets, as far as the
/// pods available overall allow, then available ones down to `replicas - maxUnavailable`
/// available pods. An old replica set's available pods are counted as at most its size, so a
/// status that has not caught up with an earlier scale-down never lets it shrink twice.
pub fn reconcile_old_rss(d: &Deployment, old: &[&ReplicaSet], new: &ReplicaSet) -> Vec<Scale> {
    let old_pods = replica_count(old);
    if old_pods == 0 {
        return Vec::new();
    }
    let all_pods = old_pods + rs_replicas(new);
    let min_available = min_available(d);
    let new_unavailable = rs_replicas(new) - rs_available(new);
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&ReplicaSet> = old.to_vec();
    sorted.sort_by(|a, b| by_creation(a, b));
    // Working sizes, in `sorted` order.
    let mut sizes: Vec<i32> = sorted.iter().map(|rs| rs_replicas(rs)).collect();
    let available = |i: usize, sizes: &[i32]| rs_available(sorted[i]).min(sizes[i]);

    // Unhealthy replicas first.
    let mut cleaned = 0;
    for i in 0..sorted.len() {
        if cleaned >= max_scaled_down {
            break;
        }
        if sizes[i] == 0 {
            continue;
        }
        let unhealthy = sizes[i] - available(i, &sizes);
        if unhealthy <= 0 {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(unhealthy);
        sizes[i] -= down;
        cleaned += down;
    }

    // Then available ones, as far as availability allows.
    let available_pods: i32 = (0..sorted.len()).map(|i| available(i, &sizes)).sum::<i32>()
        + rs_available(new).min(rs_replicas(new));
    if available_pods > min_available {
        let to_scale_down = available_pods - min_available;
        let mut scaled = 0;
        for size in sizes.iter_mut() {
            if scaled >= to_scale_down {
                break;
            }
            if *size == 0 {
                continue;
            }
            let down = (*size).min(to_scale_down - scaled);
            *size -= down;
            scaled += down;
        }
    }
    sorted
        .iter()
        .zip(sizes)
        .filter(|(rs, size)| rs_replicas(rs) != *size)
        .map(|(rs, size)| Scale {
            name: name(rs).to_string(),
            to: size,
        })
        .collect()
}

/// The new replica set has all its pods, and they are available.
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else {
        return false;
    };
    desired_replicas_annotation(rs) == Some(replicas(d))
        && rs_replicas(rs) == replicas(d)
        && rs_available(rs) == replicas(d)
}

/// The one active replica set, or the newest if none is active; `None` when several are
/// (upstream's FindActiveOrLatest).
pub fn find_active_or_latest<'a>(
    new: Option<&'a ReplicaSet>,
    old: &[&'a ReplicaSet],
) -> Option<&'a ReplicaSet> {
    if new.is_none() && old.is_empty() {
        return None;
    }
    let mut newest_first = old.to_vec();
    newest_first.sort_by(|a, b| by_creation(b, a));
    let mut all = newest_first.clone();
    all.extend(new);
    let active = active(&all);
    match active.len() {
        0 => new.or_else(|| newest_first.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

/// Rounds half away from zero, as Go's math.Round.
fn round(x: f64) -> i32 {
    x.round() as i32
}

/// This replica set's share of a resize of the whole Deployment (upstream's
/// getReplicaSetFraction): its size scaled by the new total over the total its max-replicas
/// annotation was written for.
pub fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated = match max_replicas_annotation(rs) {
        Some(n) if n > 0 => n,
        _ => d.status.as_ref().map_or(0, |s| s.replicas.unwrap_or(0)),
    };
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    round(size) - rs_replicas(rs)
}

/// Upstream's GetProportion: the fraction, kept within what is left to add or remove.
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// What a resize of the Deployment does to its replica sets (upstream's scale): the one
/// active (or newest) replica set takes the new size; with a saturated new replica set the
/// old ones go to 0; during a rolling update every active replica set grows or shrinks in
/// proportion, the leftover going to the largest. Each entry also says "up" or "down".
pub fn proportional_scale(
    d: &Deployment,
    new: Option<&ReplicaSet>,
    old: &[&ReplicaSet],
) -> Vec<Scale> {
    if let Some(rs) = find_active_or_latest(new, old) {
        if rs_replicas(rs) == replicas(d) {
            return Vec::new();
        }
        return vec![Scale {
            name: name(rs).to_string(),
            to: replicas(d),
        }];
    }
    if is_saturated(d, new) {
        return active(old)
            .into_iter()
            .map(|rs| Scale {
                name: name(rs).to_string(),
                to: 0,
            })
            .collect();
    }
    if !is_rolling(d) {
        return Vec::new();
    }
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    all.extend(new);
    let mut all = active(&all);
    let current = replica_count(&all);
    let allowed = if replicas(d) > 0 {
        replicas(d) + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - current;
    match to_add.cmp(&0) {
        // Largest first; among equals the newer grows first, the older shrinks first.
        Ordering::Greater => all.sort_by(|a, b| {
            rs_replicas(b)
                .cmp(&rs_replicas(a))
                .then_with(|| by_creation(b, a))
        }),
        Ordering::Less => all.sort_by(|a, b| {
            rs_replicas(b)
                .cmp(&rs_replicas(a))
                .then_with(|| by_creation(a, b))
        }),
        Ordering::Equal => {}
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
    for rs in &all {
        if to_add != 0 {
            let p = proportion(rs, d, to_add, added);
            sizes.push(rs_replicas(rs) + p);
            added += p;
        } else {
            sizes.push(rs_replicas(rs));
        }
    }
    if to_add != 0 {
        if let Some(first) = sizes.first_mut() {
            *first = (*first + to_add - added).max(0);
        }
    }
    all.iter()
        .zip(sizes)
        .filter(|(rs, size)| rs_replicas(rs) != *size)
        .map(|(rs, size)| Scale {
            name: name(rs).to_string(),
            to: size,
        })
        .collect()
}

/// Whether the Deployment was resized since its replica sets were last annotated (upstream's
/// isScalingEvent): an active replica set says another desired size.
pub fn is_scaling_event(d: &Deployment, new: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> bool {
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    all.extend(new);
    active(&all)
        .iter()
        .filter_map(|rs| desired_replicas_annotation(rs))
        .any(|desired| desired != replicas(d))
}

/// Oldest revision first (ties: oldest first): the cleanup order.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(&a.metadata)
        .cmp(&revision(&b.metadata))
        .then_with(|| by_creation(a, b))
}

/// The old replica sets beyond `revisionHistoryLimit` that can go (upstream's
/// cleanupDeployment): oldest revisions first, only empty ones the replica set controller
/// has caught up with.
pub fn history_to_clean<'a>(d: &Deployment, old: &[&'a ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
        return Vec::new();
    };
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let diff = alive.len() as i64 - i64::from(limit);
    if diff <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| by_revision(a, b));
    alive
        .into_iter()
        .take(diff as usize)
        .filter(|rs| {
            rs_status(rs, |s| s.replicas) == 0
                && rs_replicas(rs) == 0
                && rs.metadata.generation.unwrap_or(0)
                    <= rs_status(rs, |s| s.observed_generation.unwrap_or(0))
        })
        .collect()
}

// --- Status and conditions -------------------------------------------------------------------

pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Upstream's SetDeploymentCondition: nothing if status and reason are the same; the
/// transition time kept if only the reason changes; the condition goes last.
pub fn set_condition(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(current) = condition(status, &c.type_) {
        if current.status == c.status && current.reason == c.reason {
            return;
        }
        if current.status == c.status {
            c.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &c.type_.clone());
    status.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(list) = status.conditions.as_mut() {
        list.retain(|c| c.type_ != type_);
        if list.is_empty() {
            status.conditions = None;
        }
    }
}

/// A progress deadline is set (and not "infinite").
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|s| s != i32::MAX)
}

fn progress_deadline(d: &Deployment) -> SignedDuration {
    SignedDuration::from_secs(i64::from(
        d.spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .unwrap_or(0),
    ))
}

fn status_field(s: &DeploymentStatus, f: impl Fn(&DeploymentStatus) -> Option<i32>) -> i32 {
    f(s).unwrap_or(0)
}

/// Every pod is updated and available, no old one runs, and the status is current.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = replicas(d);
    status_field(s, |s| s.updated_replicas) == want
        && status_field(s, |s| s.replicas) == want
        && status_field(s, |s| s.available_replicas) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Something moved since the Deployment's recorded status: more updated, ready or available
/// pods, or fewer old ones.
pub fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = status_field(&old, |s| s.replicas) - status_field(&old, |s| s.updated_replicas);
    let new_old = status_field(new, |s| s.replicas) - status_field(new, |s| s.updated_replicas);
    status_field(new, |s| s.updated_replicas) > status_field(&old, |s| s.updated_replicas)
        || new_old < old_old
        || status_field(new, |s| s.ready_replicas) > status_field(&old, |s| s.ready_replicas)
        || status_field(new, |s| s.available_replicas)
            > status_field(&old, |s| s.available_replicas)
}

/// The Progressing condition has not moved for progressDeadlineSeconds.
pub fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = condition(new, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|from| from.0 + progress_deadline(d) < now),
    }
}

/// The counts and the Available condition (upstream's calculateStatus).
pub fn calculate_status(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let available = available_count(all);
    let total = replica_count(all);
    let current = d.status.clone().unwrap_or_default();
    let some = |n: i32| if n == 0 { None } else { Some(n) };
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: some(actual_count(all)),
        updated_replicas: some(new.map_or(0, |n| actual_count(&[n]))),
        ready_replicas: some(ready_count(all)),
        available_replicas: some(available),
        unavailable_replicas: some((total - available).max(0)),
        collision_count: current.collision_count,
        conditions: current.conditions.clone(),
        ..Default::default()
    };
    if available >= min_available(d) {
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    status
}

/// The status after a rollout step (upstream's syncRolloutStatus): counts, Available, and the
/// Progressing condition — NewReplicaSetAvailable when complete, ReplicaSetUpdated while pods
/// move, ProgressDeadlineExceeded when they have not for progressDeadlineSeconds — plus the
/// new (else any) replica set's ReplicaFailure.
pub fn rollout_status(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate_status(all, new, d, now);
    if !has_progress_deadline(d) {
        remove_condition(&mut status, PROGRESSING);
    }
    let current = d.status.clone().unwrap_or_default();
    let current_progress = condition(&current, PROGRESSING).cloned();
    let complete_before = status.replicas == status.updated_replicas
        && current_progress.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    if has_progress_deadline(d) && !complete_before {
        let name = d.metadata.name.as_deref().unwrap_or_default();
        let subject = match new {
            Some(rs) => format!(
                "ReplicaSet {:?}",
                rs.metadata.name.as_deref().unwrap_or_default()
            ),
            None => format!("Deployment {name:?}"),
        };
        if deployment_complete(d, &status) {
            set_condition(
                &mut status,
                new_condition(
                    PROGRESSING,
                    "True",
                    NEW_RS_AVAILABLE,
                    format!("{subject} has successfully progressed."),
                    now,
                ),
            );
        } else if deployment_progressing(d, &status) {
            let mut c = new_condition(
                PROGRESSING,
                "True",
                RS_UPDATED,
                format!("{subject} is progressing."),
                now,
            );
            // Progress moves lastUpdateTime even when the reason stays.
            if let Some(current) = &current_progress {
                if current.status == "True" {
                    c.last_transition_time = current.last_transition_time.clone();
                }
                remove_condition(&mut status, PROGRESSING);
            }
            set_condition(&mut status, c);
        } else if deployment_timed_out(d, &status, now) {
            set_condition(
                &mut status,
                new_condition(
                    PROGRESSING,
                    "False",
                    TIMED_OUT,
                    format!("{subject} has timed out progressing."),
                    now,
                ),
            );
        }
    }
    let failure = new
        .into_iter()
        .chain(all.iter().copied())
        .flat_map(|rs| {
            rs.status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default()
        })
        .find(|c| c.type_ == REPLICA_FAILURE);
    match failure {
        Some(c) => set_condition(
            &mut status,
            DeploymentCondition {
                type_: REPLICA_FAILURE.into(),
                status: c.status,
                reason: c.reason,
                message: c.message,
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time,
            },
        ),
        None => remove_condition(&mut status, REPLICA_FAILURE),
    }
    status
}

/// When to look again at a rollout that has not completed nor timed out, to notice a missed
/// deadline (upstream's requeueStuckDeployment).
pub fn recheck_progress_after(
    d: &Deployment,
    new: &DeploymentStatus,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let current = d.status.clone().unwrap_or_default();
    let c = condition(&current, PROGRESSING)?;
    if !has_progress_deadline(d)
        || deployment_complete(d, new)
        || c.reason.as_deref() == Some(TIMED_OUT)
    {
        return None;
    }
    let from = c.last_update_time.as_ref()?.0;
    let after = (from + progress_deadline(d)).duration_since(now);
    let secs = after.as_secs_f64().max(0.0) + 1.0;
    Some(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests;
