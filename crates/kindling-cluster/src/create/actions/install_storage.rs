//! `Installing StorageClass`: kind's default `standard` class (local-path provisioner) and the
//! `local-path-storage` namespace its provisioner is shown in.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};

pub struct InstallStorage;

impl Action for InstallStorage {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Installing StorageClass 💾".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let namespaces: Api<Namespace> = Api::all(ctx.client()?.clone());
            let ns: Namespace = serde_json::from_value(
                serde_json::json!({"metadata": {"name": "local-path-storage"}}),
            )?;
            match namespaces.create(&PostParams::default(), &ns).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            let classes: Api<StorageClass> = Api::all(ctx.client()?.clone());
            let standard: StorageClass = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "standard",
                             "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "rancher.io/local-path",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
            }))?;
            match classes.create(&PostParams::default(), &standard).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}
