//! The service account controller (upstream pkg/controller/serviceaccount): every active
//! namespace has a `default` ServiceAccount, created with the namespace and again whenever it
//! is deleted. Pods that name no service account run as it.
//!
//! As upstream's, it reads namespaces and accounts from the controller manager's shared
//! informers and only creates with its own identity (`system:controller:service-account-controller`
//! may `create` serviceaccounts, nothing else).

use crate::{created_or_moot, is_active, retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;

struct Context {
    /// The controller's own client: creates only.
    client: kube::Client,
    /// The `default` accounts, from the shared watch.
    accounts: Store<ServiceAccount>,
}

/// The accounts every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

pub async fn run(client: kube::Client) {
    run_as(client.clone(), client).await;
}

/// Watches as `shared` (the controller manager), creates as `client`.
pub async fn run_as(shared: kube::Client, client: kube::Client) {
    let namespaces = Api::<Namespace>::all(shared.clone());
    let only_default =
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT_SERVICE_ACCOUNT}"));
    let (accounts, account_events) =
        crate::cached_watch_with::<ServiceAccount>(&shared, only_default);
    Controller::new(namespaces, watcher::Config::default())
        // A deleted `default` account sends its namespace back through reconcile.
        .watches_stream(account_events, |sa| {
            sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(
            crate::metrics::measured("serviceaccount", reconcile),
            retry_on_error,
            Arc::new(Context { client, accounts }),
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let key = ObjectRef::new(DEFAULT_SERVICE_ACCOUNT).within(&ns.name_any());
    if ctx.accounts.get(&key).is_none() {
        // A cache that is behind makes this a create of an existing account: 409, done.
        let accounts = Api::<ServiceAccount>::namespaced(ctx.client.clone(), &ns.name_any());
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
