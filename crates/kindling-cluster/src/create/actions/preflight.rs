//! Checks before anything is created: an engine answers, the name is free, the host ports are.

use crate::create::{Action, ActionContext};
use anyhow::{bail, Result};
use futures::future::BoxFuture;

pub struct Preflight;

impl Action for Preflight {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            ctx.provider.ping().await?;
            let name = &ctx.cluster.name;
            if !ctx.provider.list_nodes(Some(name)).await?.is_empty() {
                bail!("node(s) already exist for a cluster with the name \"{name}\"");
            }
            for node in &ctx.cluster.nodes {
                for m in &node.port_mappings {
                    if m.host_port > 0
                        && !ctx
                            .provider
                            .is_port_free(&m.listen_address, m.host_port as u16)
                    {
                        bail!(
                            "port {}:{} of node {} (extraPortMappings containerPort {}) is already in use on this host",
                            m.listen_address,
                            m.host_port,
                            node.name,
                            m.container_port
                        );
                    }
                }
            }
            let api = &ctx.cluster.api_server;
            if api.port > 0 && !ctx.provider.is_port_free(&api.address, api.port as u16) {
                bail!(
                    "apiServerPort {}:{} is already in use on this host",
                    api.address,
                    api.port
                );
            }
            Ok(())
        })
    }
}
