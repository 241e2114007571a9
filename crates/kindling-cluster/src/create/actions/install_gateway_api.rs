//! The Gateway API's CRDs (standard channel) and the GatewayClass `kindling`, made with the
//! admin's rights at create (the controller runs with the node's identity, which may only read
//! them and write their status). The class is created once the CRDs are Established, so the
//! API serves it. No step line: kind prints none for it.

use crate::create::{Action, ActionContext};
use anyhow::{Context, Result};
use futures::future::BoxFuture;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use std::time::{Duration, Instant};

pub struct InstallGatewayApi;

/// How long the CRDs may take to be Established (the API server does it at once).
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

impl Action for InstallGatewayApi {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let client = ctx.client()?.clone();
            let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
            let mut names = Vec::new();
            for crd in kindling_ingress::gateway::crds::all() {
                let crd: CustomResourceDefinition = serde_json::from_value(crd)?;
                names.push(crd.metadata.name.clone().unwrap_or_default());
                created(crds.create(&PostParams::default(), &crd).await)?;
            }
            let deadline = Instant::now() + ESTABLISH_TIMEOUT;
            for name in &names {
                while !established(&crds.get(name).await?) {
                    if Instant::now() > deadline {
                        anyhow::bail!("CustomResourceDefinition {name} was not Established");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let class: DynamicObject =
                serde_json::from_value(kindling_ingress::gateway::default_class())?;
            let resource = ApiResource {
                group: kindling_ingress::gateway::types::GROUP.into(),
                version: "v1".into(),
                api_version: format!("{}/v1", kindling_ingress::gateway::types::GROUP),
                kind: "GatewayClass".into(),
                plural: "gatewayclasses".into(),
            };
            let classes: Api<DynamicObject> = Api::all_with(client, &resource);
            created(classes.create(&PostParams::default(), &class).await)
                .context("creating the GatewayClass kindling")
        })
    }
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// A create that found the object there already is fine.
fn created<T>(result: Result<T, kube::Error>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
