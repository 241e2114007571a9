//! The network node containers share, made as kind makes `kind`: a user-defined bridge (so the
//! engine's DNS resolves node names), IP masquerading on, the default bridge's MTU, an IPv6 ULA
//! /64 derived from the network name (probing further subnets on overlap) and an IPv4 subnet left
//! to the engine's address pools. Where the engine cannot do IPv6 the network is IPv4 only.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, NetworkInspect};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};

use super::config::ula_subnet;
use super::DockerProvider;
use crate::error::{ProviderError, Result};
use crate::types::NetworkInfo;

const MAX_SUBNET_ATTEMPTS: i32 = 5;

fn info_from(n: &NetworkInspect, created: bool) -> NetworkInfo {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for c in n
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .into_iter()
        .flatten()
    {
        if let Some(s) = &c.subnet {
            if s.contains(':') {
                v6.push(s.clone());
            } else {
                v4.push(s.clone());
            }
        }
    }
    NetworkInfo {
        name: n.name.clone().unwrap_or_default(),
        id: n.id.clone().unwrap_or_default(),
        ipv4_subnets: v4,
        ipv6_subnets: v6,
        mtu: n
            .options
            .as_ref()
            .and_then(|o| o.get("com.docker.network.driver.mtu"))
            .and_then(|m| m.parse().ok()),
        created,
    }
}

/// The engine refused IPv6 (disabled, or no ip6tables), as kind recognises it.
fn is_ipv6_unavailable(msg: &str) -> bool {
    msg.contains("Cannot read IPv6 setup for bridge")
        || (msg.contains("ip6tables")
            && (msg.contains("Unable to enable NAT rule") || msg.contains("FORWARD chain")))
        || msg.contains("IPv6 is disabled")
}

fn is_pool_overlap(msg: &str) -> bool {
    msg.contains("Pool overlaps with other one on this address space")
        || msg.contains("networks have overlapping")
}

fn is_already_exists(msg: &str) -> bool {
    msg.contains("already exists")
}

impl DockerProvider {
    /// Every network with exactly this name, best first (most containers, then lowest ID: kind's
    /// order, so concurrent creators agree on the one to use).
    async fn networks_named(&self, name: &str) -> Result<Vec<NetworkInspect>> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let list = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.engine_err(format!("listing networks named {name:?}"), e))?;
        let mut out = Vec::new();
        for n in list.into_iter().filter(|n| n.name.as_deref() == Some(name)) {
            let Some(id) = n.id else { continue };
            match self
                .docker
                .inspect_network(&id, None::<InspectNetworkOptions>)
                .await
            {
                Ok(i) => out.push(i),
                Err(e) if super::status_of(&e) == Some(404) => {}
                Err(e) => return Err(self.engine_err(format!("inspecting network {name:?}"), e)),
            }
        }
        out.sort_by(|a, b| {
            let ca = a
                .containers
                .as_ref()
                .map_or(0, std::collections::HashMap::len);
            let cb = b
                .containers
                .as_ref()
                .map_or(0, std::collections::HashMap::len);
            cb.cmp(&ca).then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// The network if it exists; duplicates (possible with old engines and racing creators) are
    /// removed when empty, as kind does.
    async fn existing_network(&self, name: &str) -> Result<Option<NetworkInspect>> {
        let mut nets = self.networks_named(name).await?;
        if nets.is_empty() {
            return Ok(None);
        }
        for dup in nets.drain(1..) {
            if dup
                .containers
                .as_ref()
                .is_none_or(std::collections::HashMap::is_empty)
            {
                if let Some(id) = &dup.id {
                    let _ = self.docker.remove_network(id).await;
                }
            }
        }
        Ok(nets.pop())
    }

    async fn default_bridge_mtu(&self) -> Option<u32> {
        let n = self
            .docker
            .inspect_network("bridge", None::<InspectNetworkOptions>)
            .await
            .ok()?;
        n.options
            .as_ref()?
            .get("com.docker.network.driver.mtu")?
            .parse()
            .ok()
    }

    async fn create_network(
        &self,
        name: &str,
        ipv6_subnet: Option<&str>,
        mtu: Option<u32>,
    ) -> std::result::Result<(), (String, ProviderError)> {
        let mut options = HashMap::from([(
            "com.docker.network.bridge.enable_ip_masquerade".to_string(),
            "true".to_string(),
        )]);
        if let Some(mtu) = mtu {
            options.insert("com.docker.network.driver.mtu".to_string(), mtu.to_string());
        }
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            enable_ipv6: Some(ipv6_subnet.is_some()),
            ipam: ipv6_subnet.map(|s| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(s.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(options),
            ..Default::default()
        };
        match self.docker.create_network(req).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let msg = e.to_string();
                Err((
                    msg,
                    self.engine_err(format!("creating network {name:?}"), e),
                ))
            }
        }
    }

    pub(super) async fn do_ensure_network(&self, name: &str) -> Result<NetworkInfo> {
        if let Some(n) = self.existing_network(name).await? {
            return Ok(info_from(&n, false));
        }
        let mtu = self.default_bridge_mtu().await;
        let mut last_err = None;
        for attempt in 0..MAX_SUBNET_ATTEMPTS {
            let subnet = ula_subnet(name, attempt);
            match self.create_network(name, Some(&subnet), mtu).await {
                Ok(()) => return self.created(name).await,
                Err((msg, _)) if attempt == 0 && is_ipv6_unavailable(&msg) => {
                    tracing::debug!(
                        network = name,
                        "IPv6 unavailable in the engine: creating an IPv4-only network"
                    );
                    return match self.create_network(name, None, mtu).await {
                        Ok(()) => self.created(name).await,
                        Err((msg, _)) if is_already_exists(&msg) => self.reused(name).await,
                        Err((_, e)) => Err(e),
                    };
                }
                Err((msg, e)) if is_pool_overlap(&msg) || is_already_exists(&msg) => {
                    // someone else may have created it meanwhile
                    if let Some(n) = self.existing_network(name).await? {
                        return Ok(info_from(&n, false));
                    }
                    last_err = Some(e);
                }
                Err((_, e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ProviderError::Engine {
            action: format!("creating network {name:?}"),
            message: "exhausted attempts trying to find a non-overlapping subnet".into(),
            status: None,
            source: None,
        }))
    }

    async fn created(&self, name: &str) -> Result<NetworkInfo> {
        let n =
            self.existing_network(name)
                .await?
                .ok_or_else(|| ProviderError::NetworkNotFound {
                    network: name.to_string(),
                })?;
        Ok(info_from(&n, true))
    }

    async fn reused(&self, name: &str) -> Result<NetworkInfo> {
        let n =
            self.existing_network(name)
                .await?
                .ok_or_else(|| ProviderError::NetworkNotFound {
                    network: name.to_string(),
                })?;
        Ok(info_from(&n, false))
    }

    pub(super) async fn do_delete_network(&self, name: &str) -> Result<bool> {
        let nets = self.networks_named(name).await?;
        if nets.is_empty() {
            return Ok(false);
        }
        for n in nets {
            let Some(id) = n.id else { continue };
            match self.docker.remove_network(&id).await {
                Ok(()) => {}
                Err(e) if super::status_of(&e) == Some(404) => {}
                Err(e) => return Err(self.engine_err(format!("removing network {name:?}"), e)),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages() {
        assert!(is_ipv6_unavailable(
            "Error response from daemon: Cannot read IPv6 setup for bridge br-123"
        ));
        assert!(is_ipv6_unavailable(
            "Failed to Setup IP tables: Unable to enable NAT rule:  (iptables failed: ip6tables --wait -t nat"
        ));
        assert!(is_pool_overlap(
            "Pool overlaps with other one on this address space"
        ));
        assert!(is_already_exists("network with name kind already exists"));
        assert!(!is_pool_overlap("something else"));
    }
}
