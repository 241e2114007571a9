//! `Set kubectl context`: the cluster's entries merged into the user's kubeconfig, made current.

use crate::create::{Action, ActionContext};
use crate::kubeconfig;
use anyhow::{Context, Result};
use futures::future::BoxFuture;

pub struct ExportKubeconfig;

impl Action for ExportKubeconfig {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let ca = ctx.ca.as_ref().context("PKI not made")?;
            let admin = ctx.admin.as_ref().context("admin certificate not made")?;
            let path = kubeconfig::target_path(ctx.opts.kubeconfig.as_deref());
            let entry = kubeconfig::Entry {
                name: ctx.cluster.context_name(),
                server: ctx
                    .api_server_url
                    .clone()
                    .context("API server URL unknown")?,
                ca_pem: ca.pair.cert_pem.clone(),
                client_cert_pem: admin.cert_pem.clone(),
                client_key_pem: admin.key_pem.clone(),
            };
            kubeconfig::merge(&path, &entry)?;
            ctx.kubeconfig_path = Some(path);
            Ok(())
        })
    }
}
