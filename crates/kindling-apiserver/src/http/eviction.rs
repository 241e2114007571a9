//! `POST pods/<name>/eviction` (upstream's EvictionREST): a policy/v1 (or v1beta1) Eviction
//! deletes the pod — with the Eviction's DeleteOptions — unless a PodDisruptionBudget covering
//! it has no disruption left (429). What to do is decided by `kindling_api::disruption`; this
//! module reads the pod and budgets and carries the decision out: the budget is charged by a
//! compare-and-swap on its status before the pod is deleted, so concurrent evictions never
//! take more than the budget allows.

use super::decode::{self, read_body, Call};
use super::represent::json_response;
use crate::registry::{meta_str, DeleteOptions, ListOptions, UpdateKind, WriteContext};
use crate::Server;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use kindling_api::disruption::{self, Verdict};
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Upstream's EvictionsRetry: 20 tries, 500 ms apart, on conflicts.
const ATTEMPTS: usize = 20;
const BETWEEN_ATTEMPTS: Duration = Duration::from_millis(500);

pub async fn create(
    server: &Arc<Server>,
    pods: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let query_dry_run = call.query.dry_run()?;
    let body = decode::any_body(&read_body(call.body).await?)?;
    check_eviction(&body, name)?;
    let opts = delete_options(&body["deleteOptions"], query_dry_run)?;
    let pinned = opts.precondition_resource_version.is_some();
    let restrict_nodes = server
        .registry
        .admission()
        .enabled(crate::admission::Plugin::NodeRestriction);
    let user = call.identity.user_info();

    // Pods that disrupt nothing more go at once (retried while the pod changes under us).
    let mut attempt = 0;
    let pod = loop {
        attempt += 1;
        let pod = server.registry.get(pods, ns, name).await?;
        if restrict_nodes {
            crate::admission_noderestriction::admit_eviction(&user, &pod)?;
        }
        if !disruption::can_ignore_budget(&pod) {
            break pod;
        }
        let mut free = opts.clone();
        if disruption::should_enforce_resource_version(&pod) && !pinned {
            free.precondition_resource_version = meta_str(&pod, "resourceVersion").map(Into::into);
        }
        match server.registry.delete(pods, ns, name, &free).await {
            Ok(_) => return Ok(evicted()),
            Err(e) if e.code == 409 && !pinned && attempt < ATTEMPTS => {
                tokio::time::sleep(BETWEEN_ATTEMPTS).await;
            }
            Err(e) => return Err(e),
        }
    };

    let budgets = kindling_api::catalog::builtin("policy", "v1", "poddisruptionbudgets");
    let listed = server
        .registry
        .list(budgets, ns, &ListOptions::default())
        .await?;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    match disruption::verdict(&pod, &items) {
        Verdict::Delete => {}
        Verdict::MultipleBudgets => {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": disruption::MULTIPLE_BUDGETS_MESSAGE, "code": 500});
            return Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, &status));
        }
        Verdict::DeleteUnhealthy { pdb } => {
            // The pod must still be the unready one we judged.
            let mut pinned_opts = opts.clone();
            pinned_opts.precondition_resource_version =
                meta_str(&pod, "resourceVersion").map(Into::into);
            return match server.registry.delete(pods, ns, name, &pinned_opts).await {
                Ok(_) => Ok(evicted()),
                Err(e) if e.code == 409 && !pinned => Err(disruption::still_processing(&pdb)),
                Err(e) => Err(e),
            };
        }
        Verdict::Decrement { pdb } => {
            charge(server, budgets, ns, &pdb, name, opts.dry_run).await?;
        }
    }
    server.registry.delete(pods, ns, name, &opts).await?;
    Ok(evicted())
}

/// Takes one disruption from the budget: a compare-and-swap of its status, re-decided on the
/// budget as it is whenever another writer got there first.
async fn charge(
    server: &Arc<Server>,
    budgets: &Arc<ResourceType>,
    ns: Option<&str>,
    pdb: &str,
    pod: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    let now = crate::registry::timestamp(jiff::Timestamp::now());
    if dry_run {
        let current = server.registry.get(budgets, ns, pdb).await?;
        return disruption::check_and_decrement(&current, pod, &now, true).map(|_| ());
    }
    let ctx = WriteContext::default();
    server
        .registry
        .update_with(budgets, ns, pdb, UpdateKind::Status, &ctx, |current| {
            let Some(current) = current else {
                return Ok(None);
            };
            let mut next = disruption::check_and_decrement(current, pod, &now, false)?;
            // Not a precondition: a lost race re-runs this on the newer budget.
            next["metadata"]
                .as_object_mut()
                .map(|m| m.remove("resourceVersion"));
            Ok(Some(next))
        })
        .await
        .map(|_| ())
}

/// The body must be an Eviction (policy/v1 or policy/v1beta1, as upstream accepts both) naming
/// the pod of the URL. A missing apiVersion or kind is the URL's (policy/v1 Eviction), as
/// upstream's decoder defaults them: kube-rs's `Api::evict` sends neither.
fn check_eviction(body: &Value, name: &str) -> Result<(), ApiError> {
    let api_version = body["apiVersion"]
        .as_str()
        .filter(|v| !v.is_empty())
        .unwrap_or("policy/v1");
    let kind = body["kind"]
        .as_str()
        .filter(|k| !k.is_empty())
        .unwrap_or("Eviction");
    if !matches!(api_version, "policy/v1" | "policy/v1beta1") || kind != "Eviction" {
        return Err(ApiError::bad_request(format!(
            "not a Eviction object: {api_version}, Kind={kind}"
        )));
    }
    if meta_str(body, "name") != Some(name) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    Ok(())
}

/// The Eviction's DeleteOptions; a dry run asked for in the query and in the body must agree.
fn delete_options(body: &Value, query_dry_run: bool) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    let mut body_dry_run = None;
    if body.is_object() {
        opts.merge_body(body)?;
        body_dry_run = body["dryRun"]
            .as_array()
            .filter(|d| !d.is_empty())
            .map(|_| opts.dry_run);
    }
    if let Some(in_body) = body_dry_run {
        if query_dry_run && !in_body {
            return Err(ApiError::bad_request(
                "Non-matching dry-run options in request and content",
            ));
        }
    }
    opts.dry_run |= query_dry_run;
    opts.validate()?;
    Ok(opts)
}

fn evicted() -> Response<Body> {
    json_response(
        StatusCode::CREATED,
        &kindling_api::status::success_status(None),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_evictions_type_defaults_to_the_urls() {
        let named = |extra: Value| {
            let mut body = json!({"metadata": {"name": "p"}});
            for (k, v) in extra.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            check_eviction(&body, "p").map_err(|e| e.message)
        };
        assert!(named(json!({})).is_ok());
        assert!(named(json!({"apiVersion": "policy/v1beta1", "kind": "Eviction"})).is_ok());
        assert!(named(json!({"kind": "Eviction"})).is_ok());
        assert_eq!(
            named(json!({"apiVersion": "v1", "kind": "Pod"})).unwrap_err(),
            "not a Eviction object: v1, Kind=Pod"
        );
        assert!(check_eviction(&json!({"metadata": {"name": "q"}}), "p").is_err());
    }
}
