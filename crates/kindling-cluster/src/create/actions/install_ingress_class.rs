//! The ingress controller's namespace (`ingress-kindling`, where its pods are shown) and the
//! default IngressClass `kindling`, as ingress-nginx's manifest installs its own: made with the
//! admin's rights at create, since the controller runs with the node's identity, which may only
//! read them. No step line: kind prints none for it.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::api::{Api, PostParams};

pub struct InstallIngressClass;

impl Action for InstallIngressClass {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let client = ctx.client()?.clone();
            let ns: Namespace = serde_json::from_value(
                serde_json::json!({"metadata": {"name": kindling_ingress::NAMESPACE}}),
            )?;
            created(
                Api::<Namespace>::all(client.clone())
                    .create(&PostParams::default(), &ns)
                    .await,
            )?;
            let class: IngressClass = serde_json::from_value(kindling_ingress::default_class())?;
            created(
                Api::<IngressClass>::all(client)
                    .create(&PostParams::default(), &class)
                    .await,
            )
        })
    }
}

/// A create that found the object there already is fine.
fn created<T>(result: Result<T, kube::Error>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
