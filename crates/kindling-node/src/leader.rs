//! Leader election for the control plane's singletons (kube-controller-manager and
//! kube-scheduler), through a Lease in `kube-system` named after the component, with upstream's
//! timings (lease 15 s, renew deadline 10 s, retry 2 s) and identities `<node>_<uuid>`. Every
//! control-plane node runs a candidate; only the holder runs the component. With one control
//! plane the candidate simply always wins.
//!
//! - `decide`: what to write given the Lease read (pure, table-tested).
//! - here: reading and writing the Lease, and running the component while leading.

pub mod decide;

use std::future::Future;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

use crate::restart;
use decide::{Decision, Record, LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD};

const NAMESPACE: &str = "kube-system";

/// The leases this process holds now, given up by [`release_all`] when the node stops.
static HELD: std::sync::Mutex<Vec<Held>> = std::sync::Mutex::new(Vec::new());

struct Held {
    leases: Api<Lease>,
    name: &'static str,
    identity: String,
}

fn held() -> std::sync::MutexGuard<'static, Vec<Held>> {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Gives up every lease this process holds (`docker stop` of a control plane: the others take
/// over within a retry period rather than after the lease duration). Best effort, bounded.
pub async fn release_all() {
    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
    let all: Vec<Held> = std::mem::take(&mut *held());
    let releases = all.iter().map(|h| release(&h.leases, h.name, &h.identity));
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        futures::future::join_all(releases),
    )
    .await;
}

/// Set when the node stops: from then on no lease is taken or renewed, so a renewal cannot
/// undo a release (one already under way either lands first — the release's write then meets a
/// 409 and is made again on the renewed lease — or meets the 409 itself).
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn release(leases: &Api<Lease>, name: &str, identity: &str) {
    loop {
        let Ok(Some(mut lease)) = leases.get_opt(name).await else {
            return;
        };
        let Some(record) = lease.spec.as_ref().and_then(|_| record_of(&lease)) else {
            return;
        };
        let Some(gone) = decide::released(&record, identity, jiff::Timestamp::now()) else {
            return;
        };
        lease.spec = Some(spec_of(&gone, lease.spec.as_ref()));
        match leases.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!("{name}: released the leader lease"),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(error) => tracing::warn!(%error, "{name}: releasing the leader lease"),
        }
        return;
    }
}

/// A candidate's identity, unique per process start (upstream: hostname + "_" + a UUID).
pub fn identity(node: &str) -> String {
    format!("{node}_{}", uuid::Uuid::new_v4())
}

/// Runs `start()` — restarted when it ends, as [`restart::keep_running`] does — only while
/// holding the Lease `kube-system/<name>`; stops it when the lease is lost and competes again.
pub async fn lead<F, Fut>(name: &'static str, client: kube::Client, identity: String, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let leases: Api<Lease> = Api::namespaced(client, NAMESPACE);
    let mut seen = Observation::default();
    loop {
        tracing::info!("{name}: attempting to acquire leader lease {NAMESPACE}/{name}...");
        while !try_acquire_or_renew(&leases, name, &identity, &mut seen).await {
            tokio::time::sleep(RETRY_PERIOD).await;
        }
        tracing::info!("{name}: successfully acquired lease {NAMESPACE}/{name} as {identity}");
        held().push(Held {
            leases: leases.clone(),
            name,
            identity: identity.clone(),
        });
        tokio::select! {
            () = restart::keep_running(name, &start) => {}
            () = keep_renewing(&leases, name, &identity, &mut seen) => {
                // Upstream exits the process here; the component's future is dropped instead.
                tracing::error!("{name}: leaderelection lost");
            }
        }
        held().retain(|h| h.name != name);
    }
}

/// Renews every retry period; returns when the lease could not be renewed for the renew
/// deadline, or someone else holds it.
async fn keep_renewing(leases: &Api<Lease>, name: &str, identity: &str, seen: &mut Observation) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(RETRY_PERIOD).await;
        if try_acquire_or_renew(leases, name, identity, seen).await {
            renewed = Instant::now();
        } else if seen.holder() != Some(identity) || renewed.elapsed() >= RENEW_DEADLINE {
            return;
        }
    }
}

/// What this candidate last read, and when (its own clock) the record last changed.
#[derive(Default)]
struct Observation {
    record: Option<Record>,
    at: Option<jiff::Timestamp>,
}

impl Observation {
    /// Notes the record read now; returns when it was first seen in this state.
    fn observe(&mut self, record: Option<&Record>, now: jiff::Timestamp) -> jiff::Timestamp {
        if self.record.as_ref() != record || self.at.is_none() {
            self.record = record.cloned();
            self.at = Some(now);
        }
        self.at.unwrap_or(now)
    }

    fn holder(&self) -> Option<&str> {
        self.record.as_ref().map(|record| record.holder.as_str())
    }
}

/// One round of client-go's `tryAcquireOrRenew`: true when this candidate holds the lease now.
async fn try_acquire_or_renew(
    leases: &Api<Lease>,
    name: &str,
    identity: &str,
    seen: &mut Observation,
) -> bool {
    if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        return false;
    }
    let current = match leases.get_opt(name).await {
        Ok(current) => current,
        Err(error) => {
            tracing::debug!(%error, "{name}: reading the leader lease");
            return false;
        }
    };
    let now = jiff::Timestamp::now();
    let record = current.as_ref().and_then(record_of);
    let observed_at = seen.observe(record.as_ref(), now);
    let written = match decide::decide(record.as_ref(), observed_at, now, identity, LEASE_DURATION)
    {
        Decision::Wait => return false,
        Decision::Create(record) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(NAMESPACE.to_string()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec_of(&record, None)),
            };
            leases
                .create(&PostParams::default(), &lease)
                .await
                .map(|_| record)
        }
        Decision::Update(record) => {
            // `current` carries its resourceVersion: a lost race is a 409, not an overwrite.
            let Some(mut lease) = current else {
                return false;
            };
            lease.spec = Some(spec_of(&record, lease.spec.as_ref()));
            leases
                .replace(name, &PostParams::default(), &lease)
                .await
                .map(|_| record)
        }
    };
    match written {
        Ok(record) => {
            seen.record = Some(record);
            seen.at = Some(now);
            true
        }
        Err(error) => {
            tracing::debug!(%error, "{name}: writing the leader lease");
            false
        }
    }
}

fn record_of(lease: &Lease) -> Option<Record> {
    let spec = lease.spec.as_ref()?;
    let time = |t: &Option<MicroTime>| t.as_ref().map_or(jiff::Timestamp::UNIX_EPOCH, |t| t.0);
    Some(Record {
        holder: spec.holder_identity.clone().unwrap_or_default(),
        lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
        acquire_time: time(&spec.acquire_time),
        renew_time: time(&spec.renew_time),
        transitions: spec.lease_transitions.unwrap_or(0),
    })
}

/// The Lease spec for `record`, keeping the fields the election does not own.
fn spec_of(record: &Record, previous: Option<&LeaseSpec>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(record.holder.clone()),
        lease_duration_seconds: Some(record.lease_duration_seconds),
        acquire_time: Some(MicroTime(record.acquire_time)),
        renew_time: Some(MicroTime(record.renew_time)),
        lease_transitions: Some(record.transitions),
        ..previous.cloned().unwrap_or_default()
    }
}
