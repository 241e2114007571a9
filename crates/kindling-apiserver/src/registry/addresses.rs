//! The Service allocator's record of its ClusterIPs: one networking.k8s.io/v1 IPAddress per
//! address, named after it, whose `parentRef` is the Service — as upstream's IPAddress-backed
//! allocator keeps them (KEP-1880). An address is claimed (its IPAddress created) before the
//! Service that gets it is stored and released after the Service is gone; an IPAddress that
//! someone else holds makes the allocation fail, as upstream. At start the records are made to
//! match the stored Services ([`Registry::reconcile_addresses`], upstream's repair loop).

use super::{meta_str, Registry, WriteContext};
use crate::services::{cluster_ips, Reservation};
use kindling_api::{ApiError, Cause, ResourceType};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The `managed-by` label value upstream's allocator puts on its IPAddresses.
pub const MANAGED_BY: &str = "ipallocator.k8s.io";

fn ip_addresses() -> &'static Arc<ResourceType> {
    kindling_api::catalog::builtin("networking.k8s.io", "v1", "ipaddresses")
}

fn parent_ref(svc: &Value) -> Value {
    json!({"group": "", "resource": "services",
        "namespace": meta_str(svc, "namespace").unwrap_or_default(),
        "name": meta_str(svc, "name").unwrap_or_default()})
}

fn ip_address(ip: Ipv4Addr, svc: &Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
        "metadata": {"name": ip.to_string(), "labels": {
            "ipaddress.kubernetes.io/ip-family": "IPv4",
            "ipaddress.kubernetes.io/managed-by": MANAGED_BY,
        }},
        "spec": {"parentRef": parent_ref(svc)},
    })
}

impl Registry {
    /// Creates the IPAddresses of the addresses `reservation` took for `svc`; returns them, to be
    /// released again if the Service is not stored. An address whose IPAddress belongs to
    /// something else is not the Service's: nothing is kept and the write fails.
    pub(super) async fn claim_addresses(
        &self,
        svc: &Value,
        reservation: Option<&Reservation>,
    ) -> Result<Vec<Ipv4Addr>, ApiError> {
        let mut claimed = Vec::new();
        for ip in reservation.map(Reservation::ips).unwrap_or_default() {
            let obj = ip_address(ip, svc);
            let ctx = WriteContext::default();
            match Box::pin(self.create(ip_addresses(), None, obj, &ctx)).await {
                Ok(_) => claimed.push(ip),
                Err(e) if e.code == 409 => {
                    let existing = Box::pin(self.get(ip_addresses(), None, &ip.to_string())).await;
                    let ours = existing
                        .as_ref()
                        .is_ok_and(|o| o["spec"]["parentRef"] == parent_ref(svc));
                    if !ours {
                        self.drop_addresses(&claimed).await;
                        return Err(ApiError::invalid(
                            "",
                            "Service",
                            meta_str(svc, "name").unwrap_or_default(),
                            vec![Cause::invalid(
                                "spec.clusterIPs",
                                format!("[]string{{\"{ip}\"}}"),
                                &format!(
                                    "failed to allocate IP {ip}: provided IP is already allocated"
                                ),
                            )],
                        ));
                    }
                }
                Err(e) => {
                    self.drop_addresses(&claimed).await;
                    return Err(e);
                }
            }
        }
        Ok(claimed)
    }

    /// Deletes the IPAddresses of `ips` (a deleted Service's, or a failed write's claims).
    pub(super) async fn drop_addresses(&self, ips: &[Ipv4Addr]) {
        for ip in ips {
            let opts = super::DeleteOptions::default();
            if let Err(e) =
                Box::pin(self.delete(ip_addresses(), None, &ip.to_string(), &opts)).await
            {
                if e.code != 404 {
                    tracing::warn!("releasing IPAddress {ip}: {}", e.message);
                }
            }
        }
    }

    /// Releases what a deleted Service held: its addresses and its node ports.
    pub(super) async fn release_addresses(&self, svc: &Value) {
        self.drop_addresses(&cluster_ips(svc)).await;
        self.release_node_ports(&crate::nodeports::held_ports(svc))
            .await;
    }

    /// Makes the IPAddresses match the stored Services: every ClusterIP recorded, every record the
    /// allocator made for an address no Service holds any more deleted.
    pub async fn reconcile_addresses(&self, services: &[Value]) -> Result<(), ApiError> {
        for svc in services {
            for ip in cluster_ips(svc) {
                let ctx = WriteContext::default();
                match self
                    .create(ip_addresses(), None, ip_address(ip, svc), &ctx)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let opts = super::ListOptions {
            label_selector: Some(
                kindling_api::selector::LabelSelector::parse(&format!(
                    "ipaddress.kubernetes.io/managed-by={MANAGED_BY}"
                ))
                .map_err(ApiError::bad_request)?,
            ),
            ..Default::default()
        };
        let recorded = self.list(ip_addresses(), None, &opts).await?;
        for obj in recorded["items"].as_array().into_iter().flatten() {
            let Some(ip) = meta_str(obj, "name").and_then(|n| n.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            if !self.services.holds(ip) {
                self.drop_addresses(&[ip]).await;
            }
        }
        Ok(())
    }
}
