//! `kindling create cluster`: a pipeline of small actions over one shared context, as kind's
//! `create/actions` — each action is a file of its own and does one thing. On failure the nodes
//! are removed again unless `--retain`.

pub mod actions;
mod context;

pub use context::{ActionContext, CreateOptions};

use crate::status::Status;
use anyhow::Result;
use kindling_config::ResolvedCluster;
use kindling_provider::Provider;
use std::sync::Arc;

/// One step of the pipeline.
pub trait Action: Send + Sync {
    /// The line kind prints for it (`Preparing nodes 📦`), or `None` for a silent step.
    fn title(&self, ctx: &ActionContext) -> Option<String>;
    fn execute<'a>(
        &'a self,
        ctx: &'a mut ActionContext,
    ) -> futures::future::BoxFuture<'a, Result<()>>;
}

/// Creates the cluster: runs every action in order, printing kind's progress.
pub async fn create(
    provider: Arc<dyn Provider>,
    cluster: ResolvedCluster,
    opts: CreateOptions,
) -> Result<()> {
    let mut status = Status::new(opts.quiet);
    status.line(&format!("Creating cluster \"{}\" ...", cluster.name));
    for w in &cluster.warnings {
        status.line(&format!("WARNING: {w}"));
    }
    let mut ctx = ActionContext::new(provider, cluster, opts);
    let result = run_actions(&mut ctx, &mut status).await;
    match result {
        Ok(()) => {
            status.end(true);
            ctx.print_success(&status);
            Ok(())
        }
        Err(e) => {
            status.end(false);
            if ctx.created_nodes() && !ctx.opts.retain {
                ctx.delete_nodes().await;
            }
            Err(e)
        }
    }
}

async fn run_actions(ctx: &mut ActionContext, status: &mut Status) -> Result<()> {
    for action in actions::pipeline(ctx) {
        if let Some(title) = action.title(ctx) {
            status.start(&title);
        }
        action.execute(ctx).await?;
    }
    Ok(())
}
