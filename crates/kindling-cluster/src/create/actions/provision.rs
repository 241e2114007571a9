//! `Preparing nodes`: the `kind` network and one container per node, created in parallel.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use kindling_config::{Propagation, Protocol, ResolvedNode, Role};
use kindling_provider as provider;

pub struct Provision;

impl Action for Provision {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Preparing nodes 📦".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            ctx.provider
                .ensure_network(provider::DEFAULT_NETWORK)
                .await?;
            let specs: Vec<provider::NodeSpec> = ctx
                .cluster
                .nodes
                .iter()
                .map(|n| node_spec(ctx, n))
                .collect();
            ctx.mark_created();
            let provider = ctx.provider.clone();
            let created =
                futures::future::join_all(specs.iter().map(|s| provider.create_node(s))).await;
            for result in created {
                ctx.nodes.push(result?);
            }
            Ok(())
        })
    }
}

/// Where control planes find the engine's socket: the service load-balancer controller (on
/// the one holding its Lease) makes one balancer container per LoadBalancer Service, as
/// cloud-provider-kind does from the host (kindling has no process on the host after
/// `create`). Every control plane has it, so the controller outlives any one of them.
pub const SERVICE_LB_SOCKET: &str = "/var/run/docker.sock";

/// The host's engine socket, when LoadBalancer Services are on (`KINDLING_SERVICE_LB=off`
/// turns them off) and the engine is reached through a unix socket.
pub(crate) fn docker_socket_for_service_lb() -> Option<String> {
    let off = std::env::var("KINDLING_SERVICE_LB")
        .is_ok_and(|v| matches!(v.as_str(), "off" | "false" | "0"));
    if off {
        return None;
    }
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    host.strip_prefix("unix://").map(str::to_string)
}

fn node_spec(ctx: &ActionContext, node: &ResolvedNode) -> provider::NodeSpec {
    let role = match node.role {
        Role::ControlPlane => provider::Role::ControlPlane,
        Role::Worker => provider::Role::Worker,
    };
    let mut spec = provider::NodeSpec::new(&node.name, &ctx.cluster.name, role, &node.image);
    spec.extra_mounts = node
        .mounts
        .iter()
        .map(|m| provider::Mount {
            host_path: m.host_path.clone().into(),
            container_path: m.container_path.clone(),
            read_only: m.read_only,
            selinux_relabel: m.selinux_relabel,
            propagation: match m.propagation {
                Propagation::None => provider::Propagation::None,
                Propagation::HostToContainer => provider::Propagation::HostToContainer,
                Propagation::Bidirectional => provider::Propagation::Bidirectional,
            },
        })
        .collect();
    spec.port_mappings = node
        .port_mappings
        .iter()
        .map(|p| provider::PortMapping {
            listen_address: p.listen_address.clone(),
            host_port: p.host_port.max(0) as u16,
            container_port: p.container_port,
            protocol: match p.protocol {
                Protocol::Tcp => provider::Protocol::Tcp,
                Protocol::Udp => provider::Protocol::Udp,
                Protocol::Sctp => provider::Protocol::Sctp,
            },
        })
        .collect();
    if node.role == Role::ControlPlane {
        if let Some(socket) = docker_socket_for_service_lb() {
            spec.extra_mounts
                .push(provider::Mount::new(socket, SERVICE_LB_SOCKET));
        }
    }
    // With several control planes the external load balancer is published instead.
    if node.bootstrap && !ctx.cluster.external_load_balancer {
        spec.api_server = Some(provider::ApiServerPublish {
            listen_address: ctx.cluster.api_server.address.clone(),
            host_port: ctx.cluster.api_server.port.max(0) as u16,
        });
    }
    spec
}
