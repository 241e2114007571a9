//! The service account controller (upstream pkg/controller/serviceaccount): every active
//! namespace has a `default` ServiceAccount, created with the namespace and again whenever it
//! is deleted. Pods that name no service account run as it.

use crate::{created_or_moot, is_active, retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;

/// The accounts every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

pub async fn run(client: kube::Client) {
    let namespaces = Api::<Namespace>::all(client.clone());
    let accounts = Api::<ServiceAccount>::all(client.clone());
    let only_default =
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT_SERVICE_ACCOUNT}"));
    Controller::new(namespaces, watcher::Config::default())
        // A deleted `default` account sends its namespace back through reconcile.
        .watches(accounts, only_default, |sa| {
            sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(
            crate::metrics::measured("serviceaccount", reconcile),
            retry_on_error,
            Arc::new(client),
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(ns: Arc<Namespace>, client: Arc<kube::Client>) -> Result<Action, Error> {
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let accounts = Api::<ServiceAccount>::namespaced((*client).clone(), &ns.name_any());
    if accounts.get_opt(DEFAULT_SERVICE_ACCOUNT).await?.is_none() {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT_SERVICE_ACCOUNT.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        created_or_moot(accounts.create(&params, &sa).await)?;
        tracing::debug!("created ServiceAccount {}/default", ns.name_any());
    }
    Ok(Action::await_change())
}
