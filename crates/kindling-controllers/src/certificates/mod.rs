//! The CertificateSigningRequest controllers of the controller manager (upstream's
//! `csrapproving` and `csrsigning`), run where the cluster CA's key is (`--cluster-signing-*`):
//!
//! - approver: a `kubernetes.io/kube-apiserver-client-kubelet` request from someone allowed to
//!   `create` `certificatesigningrequests/nodeclient` (or `selfnodeclient` for its own node) —
//!   asked with a SubjectAccessReview — is Approved (`AutoApproved`), as kubeadm's clusters do;
//! - serving approver (`kubelet-serving-approver`, only when [`Options::approve_kubelet_serving`]
//!   — the cluster's `controllers` list names it): a node's request for its own kubelet serving
//!   certificate, naming only its own addresses, is Approved (`AutoApproved`,
//!   `plan::serving_approval`); upstream has no such approver (kubeadm leaves these to a
//!   person or a third-party approver);
//! - signer: an Approved request for one of the three `kubernetes.io/` signers it serves is
//!   checked (`plan::check`) and issued by the cluster CA into `status.certificate`, for
//!   `spec.expirationSeconds` (at most a year), or marked Failed (`SignerValidationFailure`);
//! - cleaner (`cleaner`): requests done with are deleted (`cleanup::clean`: approved and
//!   issued, denied or failed for an hour, pending for a day, or with an expired certificate).
//!
//! Decisions are `plan`'s and `cleanup`'s; this file and `cleaner` read and write.
//!
//! Identities: the approver, signer and cleaner talk as `certificate-controller` (upstream's, whose
//! role may update `approval` and `status`, `approve` only kubelet client requests, and read no
//! nodes); the serving approver, which upstream lacks, as its own `kubelet-serving-approver`,
//! allowed by kindling's `kindling:controller:kubelet-serving-approver` role to read nodes and
//! approve `kubernetes.io/kubelet-serving` requests, nothing more. Approvals and signatures are
//! updates of the subresources, as upstream's (the roles have no `patch`).

pub mod cleaner;
pub mod cleanup;
pub mod plan;

use crate::{retry_on_error, Error};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::sync::Arc;

struct Context {
    /// `certificate-controller`'s client.
    client: kube::Client,
    /// The serving approver's client.
    serving_approver: kube::Client,
    ca: Arc<kindling_pki::Ca>,
    options: Options,
}

/// Which of the optional parts run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Approve nodes' own kubelet serving requests (`kubelet-serving-approver`).
    pub approve_kubelet_serving: bool,
}

/// The controller name that switches the serving approver on in `--controllers`.
pub const KUBELET_SERVING_APPROVER: &str = "kubelet-serving-approver";

impl Options {
    /// From kube-controller-manager's `--controllers` list (`*`, `name`, `-name`): the serving
    /// approver is off by default, as upstream's optional controllers are, so only its own
    /// name turns it on (a later `-name` turns it off again).
    pub fn from_controllers(list: Option<&str>) -> Options {
        let mut on = false;
        for item in list.unwrap_or_default().split(',').map(str::trim) {
            if item == KUBELET_SERVING_APPROVER {
                on = true;
            } else if item.strip_prefix('-') == Some(KUBELET_SERVING_APPROVER) {
                on = false;
            }
        }
        Options {
            approve_kubelet_serving: on,
        }
    }
}

pub async fn run(client: kube::Client, ca: Arc<kindling_pki::Ca>) {
    run_with(client, ca, Options::default()).await;
}

pub async fn run_with(client: kube::Client, ca: Arc<kindling_pki::Ca>, options: Options) {
    run_as(client.clone(), client, ca, options).await;
}

/// The approver and signer as `client` (`certificate-controller`), the serving approver as
/// `serving_approver`.
pub async fn run_as(
    client: kube::Client,
    serving_approver: kube::Client,
    ca: Arc<kindling_pki::Ca>,
    options: Options,
) {
    let cleaner = cleaner::run(client.clone());
    let csrs = Api::<CertificateSigningRequest>::all(client.clone());
    let controller = Controller::new(csrs, watcher::Config::default())
        .run(
            crate::metrics::measured("certificatesigningrequest", reconcile),
            retry_on_error,
            Arc::new(Context {
                client,
                serving_approver,
                ca,
                options,
            }),
        )
        .for_each(|_| async {});
    futures::join!(controller, cleaner);
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Updates the `approval` subresource of `csr` with `patch` merged in.
async fn approve(
    api: &Api<CertificateSigningRequest>,
    csr: &CertificateSigningRequest,
    patch: &Value,
) -> Result<(), kube::Error> {
    let next = crate::merged(csr, patch)?;
    api.replace_subresource("approval", &csr.name_any(), &crate::update_params(), &next)
        .await
        .map(|_| ())
}

/// The conditions with one more appended.
fn with_condition(obj: &Value, kind: &str, reason: &str, message: &str) -> Value {
    let mut conditions = obj["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    conditions.push(json!({"type": kind, "status": "True", "reason": reason,
        "message": message, "lastUpdateTime": now(), "lastTransitionTime": now()}));
    json!({"status": {"conditions": conditions}})
}

async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api = Api::<CertificateSigningRequest>::all(ctx.client.clone());
    let name = csr.name_any();
    let obj = serde_json::to_value(csr.as_ref()).map_err(kube::Error::SerdeError)?;
    let pem = String::from_utf8_lossy(&csr.spec.request.0).to_string();
    let info = kindling_pki::inspect_request(&pem).map_err(|e| format!("{e:#}"));

    if let Some((subresource, message)) = plan::approval_question(&obj, info.as_ref().ok()) {
        if allowed(&ctx.client, &csr, subresource).await? {
            let patch = with_condition(&obj, "Approved", "AutoApproved", message);
            approve(&api, &csr, &patch).await?;
        }
        return Ok(Action::await_change());
    }
    if ctx.options.approve_kubelet_serving {
        let addresses = node_addresses(&ctx.serving_approver, &csr).await?;
        if let Some(message) =
            plan::serving_approval(&obj, info.as_ref().ok(), addresses.as_deref())
        {
            let patch = with_condition(&obj, "Approved", "AutoApproved", message);
            let api = Api::<CertificateSigningRequest>::all(ctx.serving_approver.clone());
            approve(&api, &csr, &patch).await?;
            return Ok(Action::await_change());
        }
    }
    match plan::sign(&obj, info.as_ref().map_err(String::as_str)) {
        plan::Sign::Nothing => {}
        plan::Sign::Issue { usages, seconds } => {
            let grant = kindling_pki::Grant { usages, seconds };
            let patch = match ctx.ca.sign_request(&pem, &grant) {
                Ok(cert) => {
                    use base64::Engine;
                    let data = base64::engine::general_purpose::STANDARD.encode(cert);
                    json!({"status": {"certificate": data}})
                }
                Err(e) => {
                    with_condition(&obj, "Failed", "SignerValidationFailure", &format!("{e:#}"))
                }
            };
            let next = crate::merged(csr.as_ref(), &patch)?;
            api.replace_status(&name, &crate::update_params(), &next)
                .await?;
        }
        plan::Sign::Fail(why) => {
            let patch = with_condition(&obj, "Failed", "SignerValidationFailure", &why);
            let next = crate::merged(csr.as_ref(), &patch)?;
            api.replace_status(&name, &crate::update_params(), &next)
                .await?;
        }
    }
    Ok(Action::await_change())
}

/// The `status.addresses` (type, address) of the Node a serving request's sender is, `None`
/// when it is not a node's request or there is no such Node. Only serving requests ask.
async fn node_addresses(
    client: &kube::Client,
    csr: &CertificateSigningRequest,
) -> Result<Option<Vec<(String, String)>>, Error> {
    use k8s_openapi::api::core::v1::Node;
    let node_name = csr
        .spec
        .username
        .as_deref()
        .and_then(|u| u.strip_prefix("system:node:"));
    let Some(node_name) = node_name.filter(|_| csr.spec.signer_name == plan::KUBELET_SERVING)
    else {
        return Ok(None);
    };
    let node = Api::<Node>::all(client.clone()).get_opt(node_name).await?;
    Ok(node.map(|n| {
        n.status
            .and_then(|s| s.addresses)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a.type_, a.address))
            .collect()
    }))
}

/// Whether the requester may `create` `certificatesigningrequests/<subresource>`.
async fn allowed(
    client: &kube::Client,
    csr: &CertificateSigningRequest,
    subresource: &str,
) -> Result<bool, Error> {
    let spec = &csr.spec;
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {
            "user": spec.username, "groups": spec.groups, "uid": spec.uid, "extra": spec.extra,
            "resourceAttributes": {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                                   "verb": "create", "subresource": subresource},
        }
    }))
    .map_err(kube::Error::SerdeError)?;
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serving_approver_is_off_unless_named() {
        let on = |list: Option<&str>| Options::from_controllers(list).approve_kubelet_serving;
        assert!(!on(None));
        assert!(!on(Some("*")));
        assert!(on(Some("*,kubelet-serving-approver")));
        assert!(on(Some("kubelet-serving-approver")));
        assert!(!on(Some(
            "*,kubelet-serving-approver,-kubelet-serving-approver"
        )));
    }
}
