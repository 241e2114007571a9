//! `Ensuring node image`: the node image must exist locally (no registry is reachable); the
//! default one is built on the spot from this very binary when missing or stale.

use crate::create::{Action, ActionContext};
use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;

pub struct EnsureImage;

impl Action for EnsureImage {
    fn title(&self, ctx: &ActionContext) -> Option<String> {
        Some(format!(
            "Ensuring node image ({}) 🖼",
            ctx.cluster.bootstrap_node().image
        ))
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut images: Vec<String> =
                ctx.cluster.nodes.iter().map(|n| n.image.clone()).collect();
            images.sort();
            images.dedup();
            for image in images {
                if image == kindling_image::DEFAULT_NODE_IMAGE {
                    let binary = match &ctx.opts.kindling_binary {
                        Some(b) => b.clone(),
                        None => std::env::current_exe().context("finding the kindling binary")?,
                    };
                    let opts = kindling_image::NodeImageOptions {
                        image: image.clone(),
                        kindling_binary: binary,
                        ..Default::default()
                    };
                    kindling_image::ensure_node_image(&opts).await?;
                } else if ctx.provider.image_id(&image).await?.is_none() {
                    bail!(
                        "image {image:?} is not present locally and no registry is reachable; build it with `kindling build node-image --image {image}`"
                    );
                }
            }
            Ok(())
        })
    }
}
