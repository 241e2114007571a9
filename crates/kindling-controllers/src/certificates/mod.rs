//! The CertificateSigningRequest controllers of the controller manager (upstream's
//! `csrapproving` and `csrsigning`), run where the cluster CA's key is (`--cluster-signing-*`):
//!
//! - approver: a `kubernetes.io/kube-apiserver-client-kubelet` request from someone allowed to
//!   `create` `certificatesigningrequests/nodeclient` (or `selfnodeclient` for its own node) —
//!   asked with a SubjectAccessReview — is Approved (`AutoApproved`), as kubeadm's clusters do;
//! - signer: an Approved request for one of the three `kubernetes.io/` signers it serves is
//!   checked (`plan::check`) and issued by the cluster CA into `status.certificate`, for
//!   `spec.expirationSeconds` (at most a year), or marked Failed (`SignerValidationFailure`).
//!
//! Decisions are `plan`'s; this file reads and writes.

pub mod plan;

use crate::{retry_on_error, Error};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::sync::Arc;

struct Context {
    client: kube::Client,
    ca: Arc<kindling_pki::Ca>,
}

pub async fn run(client: kube::Client, ca: Arc<kindling_pki::Ca>) {
    let csrs = Api::<CertificateSigningRequest>::all(client.clone());
    Controller::new(csrs, watcher::Config::default())
        .run(
            crate::metrics::measured("certificatesigningrequest", reconcile),
            retry_on_error,
            Arc::new(Context { client, ca }),
        )
        .for_each(|_| async {})
        .await;
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
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
            api.patch_subresource(
                "approval",
                &name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        }
        return Ok(Action::await_change());
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
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        plan::Sign::Fail(why) => {
            let patch = with_condition(&obj, "Failed", "SignerValidationFailure", &why);
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(Action::await_change())
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
