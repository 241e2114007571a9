//! `Joining worker nodes`: every worker's agent has registered its Node.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use std::time::{Duration, Instant};

pub struct JoinWorkers;

const TIMEOUT: Duration = Duration::from_secs(120);

impl Action for JoinWorkers {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Joining worker nodes 🚜".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let nodes: Api<Node> = Api::all(ctx.client()?.clone());
            let deadline = Instant::now() + TIMEOUT;
            for worker in ctx.cluster.worker_nodes() {
                while nodes.get_opt(&worker.name).await?.is_none() {
                    if Instant::now() > deadline {
                        anyhow::bail!(
                            "node {} did not join within {}s; see `kindling export logs`",
                            worker.name,
                            TIMEOUT.as_secs()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Ok(())
        })
    }
}
