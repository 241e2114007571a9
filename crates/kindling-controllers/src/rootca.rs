//! The root CA publisher (upstream pkg/controller/certificates/rootcacertpublisher): every
//! active namespace has the ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, so
//! that pods can verify the API server (the service account volume projects it). A deleted or
//! edited copy is put back.
//!
//! As upstream's, it reads namespaces and ConfigMaps from the controller manager's shared
//! informers and writes with its own identity (`system:controller:root-ca-cert-publisher` may
//! `create` and `update` configmaps, nothing else).

use crate::{created_or_moot, is_active, retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CONFIG_MAP: &str = "kube-root-ca.crt";
pub const KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

struct Context {
    /// The controller's own client: creates and updates only.
    client: kube::Client,
    /// The copies, from the shared watch.
    copies: Store<ConfigMap>,
    root_ca_pem: String,
}

pub async fn run(client: kube::Client, root_ca_pem: String) {
    run_as(client.clone(), client, root_ca_pem).await;
}

/// Watches as `shared` (the controller manager), writes as `client`.
pub async fn run_as(shared: kube::Client, client: kube::Client, root_ca_pem: String) {
    let namespaces = Api::<Namespace>::all(shared.clone());
    let only_ours = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP}"));
    let (copies, copy_events) = crate::cached_watch_with::<ConfigMap>(&shared, only_ours);
    let context = Arc::new(Context {
        client,
        copies,
        root_ca_pem,
    });
    Controller::new(namespaces, watcher::Config::default())
        // Any change to a copy (edit, delete) sends its namespace back through reconcile.
        .watches_stream(copy_events, |cm| {
            cm.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(
            crate::metrics::measured("root_ca_cert_publisher", reconcile),
            retry_on_error,
            context,
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let api = Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns.name_any());
    let data = BTreeMap::from([(KEY.to_string(), ctx.root_ca_pem.clone())]);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    let cached = ctx
        .copies
        .get(&ObjectRef::new(CONFIG_MAP).within(&ns.name_any()));
    match cached.map(|cm| (*cm).clone()) {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(CONFIG_MAP.to_string()),
                    annotations: Some(BTreeMap::from([(
                        DESCRIPTION_ANNOTATION.to_string(),
                        DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            created_or_moot(api.create(&params, &cm).await)?;
        }
        Some(mut cm) => {
            let described = cm
                .annotations()
                .get(DESCRIPTION_ANNOTATION)
                .is_some_and(|d| !d.is_empty());
            if cm.data.as_ref() == Some(&data) && described {
                return Ok(Action::await_change());
            }
            cm.data = Some(data);
            cm.annotations_mut()
                .entry(DESCRIPTION_ANNOTATION.to_string())
                .or_insert_with(|| DESCRIPTION.to_string());
            // A conflict means someone changed it meanwhile: the watch brings us back.
            created_or_moot(api.replace(CONFIG_MAP, &params, &cm).await)?;
        }
    }
    Ok(Action::await_change())
}
