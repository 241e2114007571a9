//! The default pod network between nodes (kindnet-like): a route to every other node's podCIDR
//! via its InternalIP on the shared Docker network, and masquerading of pod traffic that leaves
//! the pod subnet. The CNI config for pods on this node is `cni.rs`.
//!
//! Routes and rules are set with `ip` and `iptables` from the node image: they are idempotent
//! commands (`ip route replace`, `iptables -C || -A`) and run every few seconds, so a node that
//! joins later or a rule someone flushed is repaired.

use crate::init::run_owned;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const RESYNC: Duration = Duration::from_secs(3);

pub async fn run(client: kube::Client, this_node: String, pod_subnet: String) {
    let nodes: Api<Node> = Api::all(client);
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    loop {
        if let Err(e) = ensure_masquerade(&pod_subnet) {
            tracing::warn!("pod network: {e}");
        }
        match nodes.list(&Default::default()).await {
            Ok(list) => {
                for node in list.items {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    if name == this_node {
                        continue;
                    }
                    let Some((cidr, ip)) = route_of(&node) else {
                        continue;
                    };
                    if installed.get(&cidr) == Some(&ip) {
                        continue;
                    }
                    match ip_route_replace(&cidr, &ip) {
                        Ok(()) => {
                            installed.insert(cidr, ip);
                        }
                        Err(e) => {
                            tracing::warn!("pod network: route to {cidr} via {ip} ({name}): {e}");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("pod network: listing nodes: {e}"),
        }
        tokio::time::sleep(RESYNC).await;
    }
}

/// (podCIDR, InternalIP) of a node that has both.
fn route_of(node: &Node) -> Option<(String, String)> {
    let cidr = node.spec.as_ref()?.pod_cidr.clone()?;
    let ip = node
        .status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")?
        .address
        .clone();
    Some((cidr, ip))
}

fn ip_route_replace(cidr: &str, via: &str) -> Result<(), String> {
    check(Command::new("ip").args(["route", "replace", cidr, "via", via]))
}

fn ensure_masquerade(pod_subnet: &str) -> Result<(), String> {
    let args = |flag: &'static str| -> Vec<&str> {
        vec![
            "-t",
            "nat",
            flag,
            "POSTROUTING",
            "-s",
            pod_subnet,
            "!",
            "-d",
            pod_subnet,
            "-j",
            "MASQUERADE",
        ]
    };
    if check(Command::new("iptables").args(args("-C"))).is_ok() {
        return Ok(());
    }
    check(Command::new("iptables").args(args("-A")))
}

fn check(cmd: &mut Command) -> Result<(), String> {
    let out = run_owned(cmd).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
