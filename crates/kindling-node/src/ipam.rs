//! Node IPAM: gives every Node a /24 podCIDR out of the cluster's pod subnet, as the upstream
//! controller-manager's range allocator does. Runs on control-plane nodes.

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The /24 ranges of a pod subnet (e.g. 10.244.0.0/16 → 10.244.0.0/24, 10.244.1.0/24, …).
pub fn node_ranges(pod_subnet: &str) -> Result<Vec<String>> {
    let (ip, prefix) = pod_subnet
        .split_once('/')
        .context("pod subnet needs a /prefix")?;
    let ip: Ipv4Addr = ip.parse().context("pod subnet address")?;
    let prefix: u32 = prefix.parse().context("pod subnet prefix")?;
    anyhow::ensure!(
        prefix <= 24,
        "pod subnet {pod_subnet} is smaller than a /24"
    );
    let base = u32::from(ip) & u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    let count = 1u32 << (24 - prefix);
    Ok((0..count)
        .map(|i| format!("{}/24", Ipv4Addr::from(base + (i << 8))))
        .collect())
}

/// Assigns podCIDRs to nodes that have none, forever.
pub async fn run(client: kube::Client, pod_subnet: String) {
    let nodes: Api<Node> = Api::all(client);
    let ranges = match node_ranges(&pod_subnet) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("node IPAM disabled: {e:#}");
            return;
        }
    };
    let mut events = watcher(nodes.clone(), watcher::Config::default()).boxed();
    while let Some(event) = events.next().await {
        let Ok(event) = event else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        };
        let needs = match event {
            watcher::Event::Apply(n) | watcher::Event::InitApply(n) => {
                n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_none()
            }
            _ => false,
        };
        if needs {
            if let Err(e) = assign_all(&nodes, &ranges).await {
                tracing::warn!("node IPAM: {e:#}");
            }
        }
    }
}

async fn assign_all(nodes: &Api<Node>, ranges: &[String]) -> Result<()> {
    let list = nodes.list(&Default::default()).await?;
    let mut used: BTreeSet<String> = list
        .items
        .iter()
        .filter_map(|n| n.spec.as_ref()?.pod_cidr.clone())
        .collect();
    let mut sorted: Vec<&Node> = list.items.iter().collect();
    // Oldest first, so that the first control plane gets the first range, as users expect.
    sorted.sort_by_key(|n| n.metadata.creation_timestamp.clone().map(|t| t.0));
    for node in sorted {
        if node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_ref())
            .is_some()
        {
            continue;
        }
        let name = node.metadata.name.clone().unwrap_or_default();
        let Some(free) = ranges.iter().find(|r| !used.contains(*r)) else {
            anyhow::bail!("no podCIDR left in the pod subnet for node {name}");
        };
        let patch = serde_json::json!({"spec": {"podCIDR": free, "podCIDRs": [free]}});
        nodes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        used.insert(free.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_24s() {
        let r = node_ranges("10.244.0.0/16").unwrap();
        assert_eq!(r.len(), 256);
        assert_eq!(r[0], "10.244.0.0/24");
        assert_eq!(r[1], "10.244.1.0/24");
        assert_eq!(node_ranges("192.168.0.0/16").unwrap()[3], "192.168.3.0/24");
        assert!(node_ranges("10.0.0.0/25").is_err());
    }
}
