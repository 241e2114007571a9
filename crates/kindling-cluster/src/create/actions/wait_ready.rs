//! `--wait`: the control-plane nodes report Ready (the cluster is usable, not just created).

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use std::time::Instant;

pub struct WaitReady;

impl Action for WaitReady {
    fn title(&self, ctx: &ActionContext) -> Option<String> {
        Some(format!(
            "Waiting ≤ {} for control-plane = Ready ⏳",
            crate::human_duration(ctx.opts.wait)
        ))
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let nodes: Api<Node> = Api::all(ctx.client()?.clone());
            let started = Instant::now();
            let selector = ListParams::default().labels("node-role.kubernetes.io/control-plane");
            loop {
                let list = nodes.list(&selector).await?;
                if !list.items.is_empty() && list.items.iter().all(is_ready) {
                    return Ok(());
                }
                if started.elapsed() > ctx.opts.wait {
                    // kind does not fail the create when the wait times out; it says so.
                    eprintln!(" • WARNING: Timed out waiting for Ready ⚠️");
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    }
}

pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
