//! The cluster's PKI, made on the host: a CA, the admin's client certificate, one identity per
//! node agent. The API servers make their serving certificates from the CA at every start (their
//! addresses are only known inside the nodes).

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;

pub struct MakePki;

impl Action for MakePki {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let ca = kindling_pki::Ca::generate()?;
            ctx.admin = Some(ca.client_cert("kubernetes-admin", &["system:masters"])?);
            ctx.ca = Some(ca);
            Ok(())
        })
    }
}
