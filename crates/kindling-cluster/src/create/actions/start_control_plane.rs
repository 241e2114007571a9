//! `Starting control-plane`: the bootstrap node's API server answers the host, and its node has
//! registered.

use crate::create::{Action, ActionContext};
use anyhow::{Context, Result};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use std::time::{Duration, Instant};

pub struct StartControlPlane;

/// The reason the node's log gives for an API server that did not start, if it gave one.
async fn start_failure(ctx: &ActionContext, node: &str) -> Option<String> {
    let logs = ctx.provider.logs(node).await.ok()?;
    logs.lines().find_map(|l| {
        l.split_once(kindling_node::controlplane::START_FAILED)
            .map(|(_, why)| why.trim().to_string())
    })
}

const TIMEOUT: Duration = Duration::from_secs(120);

impl Action for StartControlPlane {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Starting control-plane 🕹️".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let bootstrap = ctx.cluster.bootstrap_node().name.clone();
            // The host reaches the API through the external load balancer when there is one.
            let front = ctx
                .cluster
                .load_balancer_name()
                .unwrap_or_else(|| bootstrap.clone());
            let info = ctx
                .nodes
                .iter()
                .find(|n| n.name == front)
                .with_context(|| format!("{front} not created"))?;
            let port = info
                .api_server_host_port
                .context("the API server port is not published")?;
            let url = crate::external_url(&ctx.cluster.api_server.address, port);
            let ca = ctx.ca.as_ref().context("PKI not made")?;
            let admin = ctx.admin.as_ref().context("admin certificate not made")?;
            let client = crate::client(&url, &ca.pair.cert_pem, admin).await?;
            let deadline = Instant::now() + TIMEOUT;
            let mut looked = Instant::now();
            while client.apiserver_version().await.is_err() {
                // A server that refused to start (a bad flag, a missing token file) says why in
                // the node's log: report that at once rather than time out.
                if looked.elapsed() > Duration::from_secs(1) {
                    looked = Instant::now();
                    if let Some(why) = start_failure(ctx, &bootstrap).await {
                        anyhow::bail!("the API server on {bootstrap} did not start: {why}");
                    }
                }
                if Instant::now() > deadline {
                    anyhow::bail!("the API server on {bootstrap} did not answer within {}s; see `kindling export logs`", TIMEOUT.as_secs());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let nodes: Api<Node> = Api::all(client.clone());
            while nodes.get_opt(&bootstrap).await?.is_none() {
                if Instant::now() > deadline {
                    anyhow::bail!(
                        "node {bootstrap} did not register within {}s",
                        TIMEOUT.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ctx.api_server_url = Some(url);
            ctx.client = Some(client);
            Ok(())
        })
    }
}
