//! The bootstrap token controllers (upstream's `pkg/controller/bootstrap`, which kubeadm
//! switches on with `--controllers=*,bootstrapsigner,tokencleaner`):
//!
//! - token cleaner: a `bootstrap.kubernetes.io/token` Secret in kube-system is deleted once its
//!   `expiration` has passed (uid precondition), looked at again when it will have;
//! - bootstrap signer: kube-public/cluster-info gets a `jws-kubeconfig-<token-id>` detached
//!   signature of its `kubeconfig` for every unexpired token marked
//!   `usage-bootstrap-signing`, stale ones removed — what `kubeadm join --discovery-token`
//!   checks.
//!
//! Each talks only as its own service account (`token-cleaner`, `bootstrap-signer`), within
//! upstream's namespaced roles `system:controller:token-cleaner` (kube-system secrets: read,
//! delete) and `system:controller:bootstrap-signer` (kube-system secrets: read; kube-public
//! configmaps: read, update `cluster-info`). Decisions are `token`'s; this file reads and
//! writes.

pub mod token;

use crate::{retry_on_error, Error};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Their service accounts' names, as upstream's controller manager asks for their clients.
pub const TOKEN_CLEANER: &str = "token-cleaner";
pub const BOOTSTRAP_SIGNER: &str = "bootstrap-signer";

fn bootstrap_tokens() -> watcher::Config {
    watcher::Config::default().fields(&format!("type={}", token::SECRET_TYPE))
}

/// Runs the token cleaner as `client` until the process ends.
pub async fn run_token_cleaner(client: kube::Client) {
    let secrets = Api::<Secret>::namespaced(client.clone(), token::NAMESPACE);
    Controller::new(secrets.clone(), bootstrap_tokens())
        .run(
            crate::metrics::measured("token_cleaner", clean),
            retry_on_error,
            Arc::new(secrets),
        )
        .for_each(|_| async {})
        .await;
}

async fn clean(secret: Arc<Secret>, secrets: Arc<Api<Secret>>) -> Result<Action, Error> {
    let now = jiff::Timestamp::now();
    if token::should_delete(&secret, now) {
        let params = DeleteParams {
            preconditions: secret.metadata.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        tracing::info!("deleting expired bootstrap token {}", secret.name_any());
        match secrets.delete(&secret.name_any(), &params).await {
            // Gone already, or another object of that name now (the uid precondition).
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => {}
            result => {
                result?;
            }
        }
        return Ok(Action::await_change());
    }
    Ok(match token::expiry(&secret, now) {
        token::Expiry::In(left) => Action::requeue(left),
        _ => Action::await_change(),
    })
}

struct Signer {
    config_maps: Api<ConfigMap>,
    secrets: Store<Secret>,
}

/// Runs the bootstrap signer as `client` until the process ends.
pub async fn run_bootstrap_signer(client: kube::Client) {
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), token::CLUSTER_INFO_NAMESPACE);
    let (secrets, writer) = kube::runtime::reflector::store();
    let secret_events = watcher(
        Api::<Secret>::namespaced(client, token::NAMESPACE),
        bootstrap_tokens(),
    )
    .default_backoff()
    .reflect(writer)
    .touched_objects();
    let cluster_info =
        watcher::Config::default().fields(&format!("metadata.name={}", token::CLUSTER_INFO));
    let signer = Arc::new(Signer {
        config_maps: config_maps.clone(),
        secrets,
    });
    Controller::new(config_maps, cluster_info)
        // Any token's change may change the signatures.
        .watches_stream(secret_events, |_| {
            Some(ObjectRef::new(token::CLUSTER_INFO).within(token::CLUSTER_INFO_NAMESPACE))
        })
        .run(
            crate::metrics::measured("bootstrap_signer_queue", sign),
            retry_on_error,
            signer,
        )
        .for_each(|_| async {})
        .await;
}

async fn sign(cm: Arc<ConfigMap>, signer: Arc<Signer>) -> Result<Action, Error> {
    // Signing before every token is known would drop their signatures for a moment.
    kindling_reflect::ready(&signer.secrets)
        .await
        .map_err(|e| Error::Retry(e.to_string()))?;
    let now = jiff::Timestamp::now();
    let secrets = signer.secrets.state();
    let mut tokens = BTreeMap::new();
    for (id, secret) in secrets.iter().filter_map(|s| token::signing_token(s, now)) {
        // Two Secrets for one id cannot happen (the name is the id); the first one wins.
        tokens.entry(id).or_insert(secret);
    }
    let data = cm.data.clone().unwrap_or_default();
    if let Some(data) = token::signed_data(&data, &tokens) {
        let mut next = (*cm).clone();
        next.data = Some(data);
        match signer
            .config_maps
            .replace(token::CLUSTER_INFO, &crate::update_params(), &next)
            .await
        {
            // A change meanwhile (or a delete) brings it back through the watch.
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => {}
            result => {
                result?;
            }
        }
    }
    // A signature goes when its token expires, even if nothing else changes then.
    Ok(
        match token::next_expiry(secrets.iter().map(AsRef::as_ref), now) {
            Some(left) => Action::requeue(left),
            None => Action::await_change(),
        },
    )
}
