//! The Service allocation hooks of the write path, and the shared node port record they keep:
//! one key, `/registry/ranges/servicenodeports` (upstream's), holding a RangeAllocation whose
//! bitmap marks the taken ports. Every change is a compare-and-swap on the key's revision,
//! retried on a fresh read when another API server wrote in between, so two servers sharing a
//! store never hand out one port twice. A port is claimed before its Service is stored and
//! given back if the write does not land; a deleted Service's ports are freed after it is gone.
//! [`Registry::repair_node_ports`] (at start and then periodically, upstream's repair loop)
//! makes the record match the stored Services. The decisions are `crate::nodeports`'.

use super::{meta_str, store_error, Registry};
use crate::nodeports::{self, Bitmap, Decided, Finding, PortChange, Refusal, Want};
use crate::services::{PendingChange, Reservation};
use kindling_api::catalog::Allocation;
use kindling_api::{ApiError, Cause, ResourceType};
use kindling_store::{Revision, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::time::Duration;

/// The record's name under the store's root (upstream's key).
const RECORD: &str = "ranges/servicenodeports";
/// Lost compare-and-swap races before a write gives up (a livelock guard: each server
/// serializes its own changes, so only other servers' writes can get in between).
const MAX_ATTEMPTS: usize = 64;

/// After [`MAX_ATTEMPTS`] lost races (a livelock guard, not a state seen in practice).
fn too_many_writers() -> ApiError {
    ApiError::conflict(
        "",
        "rangeallocations",
        "servicenodeports",
        "too many concurrent writers, try again",
    )
}

fn record_key() -> String {
    format!("{}{RECORD}", crate::cacher::ROOT)
}

/// Whether a Service of this type has node ports.
fn has_node_ports(svc: &Value) -> bool {
    matches!(
        svc["spec"]["type"].as_str(),
        Some("NodePort" | "LoadBalancer")
    )
}

fn refused(svc: &Value, range: &std::ops::RangeInclusive<u16>, why: Refusal) -> ApiError {
    let name = meta_str(svc, "name").unwrap_or_default();
    let cause = |index: usize, port: u16, message: &str| {
        let field = format!("spec.ports[{index}].nodePort");
        ApiError::invalid(
            "",
            "Service",
            name,
            vec![Cause::invalid(field, port, message)],
        )
    };
    match why {
        Refusal::OutOfRange { index, port } => cause(
            index,
            port,
            &format!(
                "provided port is not in the valid range. The range of valid ports is {}-{}",
                range.start(),
                range.end()
            ),
        ),
        Refusal::Taken { index, port } => cause(index, port, "provided port is already allocated"),
        Refusal::Full => ApiError::internal("failed to allocate a nodePort: range is full"),
    }
}

impl Registry {
    /// Allocates what a write of `obj` needs (its catalog entry says whether it needs any): the
    /// ClusterIP, then the node ports, claimed in the shared record and filled in. A dry run
    /// decides the same and claims nothing.
    pub(super) async fn allocate_service(
        &self,
        rt: &ResourceType,
        obj: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> Result<Option<Reservation>, ApiError> {
        let Some(Allocation::ServiceAddresses) = rt.allocation else {
            return Ok(None);
        };
        let mut reservation = self.services.allocate(obj, old, dry_run)?;
        if let Err(e) = self
            .allocate_node_ports(obj, old, dry_run, &mut reservation)
            .await
        {
            self.services.undo(&reservation);
            return Err(e);
        }
        Ok(Some(reservation))
    }

    async fn allocate_node_ports(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
        reservation: &mut Reservation,
    ) -> Result<(), ApiError> {
        let old_ports = old.map(nodeports::held_ports).unwrap_or_default();
        if has_node_ports(svc) {
            let wants = nodeports::wants(svc, old);
            if wants.iter().any(|w| !matches!(w, Want::Keep { .. })) {
                let change = PortChange::Claim {
                    wants,
                    seed: uuid::Uuid::new_v4().as_u64_pair().0,
                };
                let decided = if dry_run {
                    self.decide_node_ports(&change).await?
                } else {
                    self.change_node_ports(change).await?
                };
                let range = self.services.node_port_range();
                let taken = decided.map_err(|why| refused(svc, &range, why))?;
                for (index, port) in &taken {
                    svc["spec"]["ports"][*index]["nodePort"] = json!(port);
                }
                if !dry_run {
                    reservation.ports = taken.iter().map(|(_, p)| *p).collect();
                }
            }
        }
        if !dry_run {
            let kept = nodeports::held_ports(svc);
            reservation.dropped_ports = old_ports
                .into_iter()
                .filter(|p| !kept.contains(p))
                .collect();
        }
        Ok(())
    }

    /// Keeps what the allocation reserved for a write if the object was stored (and frees what
    /// it dropped), else gives it back.
    pub(super) async fn settle(
        &self,
        rt: &ResourceType,
        reservation: Option<Reservation>,
        stored: bool,
    ) {
        let (Some(Allocation::ServiceAddresses), Some(r)) = (rt.allocation, reservation) else {
            return;
        };
        if !stored {
            self.services.undo(&r);
        }
        let free = if stored { r.dropped_ports } else { r.ports };
        self.release_node_ports(&free).await;
    }

    /// Frees `ports` in the shared record (a deleted Service's, or a failed write's). A port
    /// that cannot be freed now stays marked until the repair finds nobody holds it.
    pub(super) async fn release_node_ports(&self, ports: &[u16]) {
        if ports.is_empty() {
            return;
        }
        let freed = self
            .change_node_ports(PortChange::Release(ports.to_vec()))
            .await;
        if let Err(e) = freed {
            tracing::warn!(?ports, "releasing node ports: {}", e.message);
        }
    }

    /// The record and its revision (0: not written yet).
    async fn read_node_ports(&self) -> Result<(Bitmap, Revision), ApiError> {
        let range = self.services.node_port_range();
        let key = record_key();
        match self
            .blocking(move |s| s.get(&key))
            .await
            .map_err(store_error)?
        {
            None => Ok((Bitmap::new(range), 0)),
            Some(kv) => Bitmap::from_record(range, &kv.value)
                .map(|b| (b, kv.mod_revision))
                .map_err(ApiError::internal),
        }
    }

    /// What `change` would give, decided on a fresh read of the record (a dry run).
    async fn decide_node_ports(&self, change: &PortChange) -> Result<Decided, ApiError> {
        let (mut bitmap, _) = self.read_node_ports().await?;
        Ok(change.apply(&mut bitmap))
    }

    /// Makes `change` in the shared record and returns its outcome. Changes asked for at the
    /// same time on this server go into one compare-and-swap write; the batch runs in a task of
    /// its own, so a request that goes away (its client hung up) cannot cut a write short.
    async fn change_node_ports(&self, change: PortChange) -> Result<Decided, ApiError> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let record = self.services.node_port_record.clone();
        record
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(PendingChange { change, reply });
        let registry = self.clone();
        tokio::spawn(async move {
            let mut copy = record.copy.clone().lock_owned().await;
            // Empty when a writer before us took this request along with its own.
            let batch = std::mem::take(
                &mut *record
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if batch.is_empty() {
                return;
            }
            let changes: Vec<&PortChange> = batch.iter().map(|p| &p.change).collect();
            let outcome = registry.write_node_ports(&mut copy, &changes).await;
            for (i, pending) in batch.into_iter().enumerate() {
                let _ = pending.reply.send(match &outcome {
                    Ok(decided) => Ok(decided[i].clone()),
                    Err(e) => Err(e.clone()),
                });
            }
        });
        outcome.await.unwrap_or_else(|_| {
            Err(ApiError::internal(
                "allocating node ports: the writer ended",
            ))
        })
    }

    /// Applies `changes`, in order, to the record under compare-and-swap: decided on this
    /// server's copy, decided again on a fresh read when another server wrote in between. A
    /// refusal or a no-op decided on the copy is decided again on a fresh read too: the copy
    /// may be behind.
    async fn write_node_ports(
        &self,
        copy: &mut Option<(Bitmap, Revision)>,
        changes: &[&PortChange],
    ) -> Result<Vec<Decided>, ApiError> {
        for _ in 0..MAX_ATTEMPTS {
            let (current, rev, fresh) = match copy.take() {
                Some((bitmap, rev)) => (bitmap, rev, false),
                None => {
                    let (bitmap, rev) = self.read_node_ports().await?;
                    (bitmap, rev, true)
                }
            };
            let mut next = current.clone();
            let decided: Vec<Decided> = changes.iter().map(|c| c.apply(&mut next)).collect();
            let unchanged = next == current;
            if !fresh && (unchanged || decided.iter().any(Result::is_err)) {
                continue;
            }
            if unchanged {
                *copy = Some((current, rev));
                return Ok(decided);
            }
            match self.write_record(rev, &next).await {
                Ok(rev) => {
                    *copy = Some((next, rev));
                    return Ok(decided);
                }
                // Another server wrote first: decide again on what it wrote.
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists(_)) => {
                    tokio::task::yield_now().await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(too_many_writers())
    }

    /// Writes the record if it is still at `rev` (0: creates it); its new revision.
    async fn write_record(&self, rev: Revision, bitmap: &Bitmap) -> Result<Revision, StoreError> {
        let key = record_key();
        let value = bitmap.to_record();
        self.blocking(move |s| {
            if rev == 0 {
                s.create(&key, value)
            } else {
                s.update(&key, value, rev)
            }
        })
        .await
    }

    /// One pass of upstream's node port repair: marks every port a stored Service holds, frees
    /// ports nobody has held for [`nodeports::SIGHTINGS_BEFORE_FREEING`] passes (`suspects`
    /// carries the count from pass to pass), reports Services whose ports clash.
    pub async fn repair_node_ports(
        &self,
        suspects: &mut BTreeMap<u16, u32>,
    ) -> Result<Vec<Finding>, ApiError> {
        let services = kindling_api::catalog::builtin("", "v1", "services");
        let mut copy = self.services.node_port_record.copy.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            // The record first: a port claimed after this read changes its revision and makes
            // the write below fail, so the pass is decided again.
            let (stored, rev) = self.read_node_ports().await?;
            let list = self.list(services, None, &Default::default()).await?;
            let held: Vec<(String, Vec<u16>)> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|svc| {
                    let name = format!(
                        "{}/{}",
                        meta_str(svc, "namespace").unwrap_or_default(),
                        meta_str(svc, "name").unwrap_or_default()
                    );
                    (name, nodeports::held_ports(svc))
                })
                .collect();
            let repair = nodeports::repair(&stored, &held, suspects);
            if repair.bitmap == stored {
                *suspects = repair.suspects;
                *copy = Some((stored, rev));
                return Ok(repair.findings);
            }
            let written = self.write_record(rev, &repair.bitmap).await;
            match written {
                Ok(rev) => {
                    *suspects = repair.suspects;
                    *copy = Some((repair.bitmap, rev));
                    return Ok(repair.findings);
                }
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists(_)) => {
                    tokio::task::yield_now().await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(too_many_writers())
    }
}

/// Logs what a repair pass found, in upstream's words.
pub fn report(findings: &[Finding], range: &std::ops::RangeInclusive<u16>) {
    for finding in findings {
        match finding {
            Finding::PortNotAllocated { service, port } => {
                tracing::warn!(
                    service,
                    reason = "PortNotAllocated",
                    "Port {port} is not allocated; repairing"
                );
            }
            Finding::PortAlreadyAllocated { service, port } => tracing::warn!(
                service,
                reason = "PortAlreadyAllocated",
                "Port {port} was assigned to multiple services; please recreate service"
            ),
            Finding::PortOutOfRange { service, port } => tracing::warn!(
                service,
                reason = "PortOutOfRange",
                "Port {port} is not within the port range {}-{}; please recreate service",
                range.start(),
                range.end()
            ),
            Finding::Leaked { port } => tracing::info!("Found a leaked NodePort: {port}"),
        }
    }
}

/// Repairs the record every `every`, forever (the first pass ran at start).
pub async fn run_repair(registry: Registry, every: Duration, mut suspects: BTreeMap<u16, u32>) {
    let range = registry.services.node_port_range();
    loop {
        tokio::time::sleep(every).await;
        match registry.repair_node_ports(&mut suspects).await {
            Ok(findings) => report(&findings, &range),
            Err(e) => tracing::warn!("repairing node ports: {}", e.message),
        }
    }
}
