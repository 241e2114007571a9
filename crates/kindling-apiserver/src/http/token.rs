//! `POST serviceaccounts/<name>/token`: a TokenRequest (authentication.k8s.io/v1), answered
//! with a signed token, as upstream's TokenREST (pkg/registry/core/serviceaccount/storage/
//! token.go). Nothing is stored; the token may be bound to a Pod or Secret so that it stops
//! working when that object goes.

use super::decode::{self, read_body, Call};
use super::represent::json_response;
use crate::registry::meta_str;
use crate::tokens::{ObjectRef, TokenGrant};
use crate::Server;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use kindling_api::status::Cause;
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;

const API_VERSION: &str = "authentication.k8s.io/v1";
const KIND: &str = "TokenRequest";
/// Upstream's default lifetime when the request names none.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

pub async fn create(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(call.body).await?;
    let mut request = decode::typed_body(&call.headers, &body, API_VERSION, KIND)?;
    if !request["spec"].is_object() {
        request["spec"] = json!({});
    }
    let spec = &mut request["spec"];
    let expiration = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::bad_request("TokenRequest in body: spec.expirationSeconds must be an integer")
        })?,
    };
    spec["expirationSeconds"] = json!(expiration);
    validate(name, expiration)?;

    let registry = &server.registry;
    let sas = kindling_api::catalog::builtin("", "v1", "serviceaccounts");
    let sa = registry.get(sas, Some(ns), name).await?;
    let mut grant = TokenGrant {
        namespace: ns,
        service_account: object_ref(&sa),
        pod: None,
        secret: None,
        node: None,
        audiences: audiences(spec, server.tokens.api_audiences())?,
        expiration_seconds: expiration,
        now: jiff::Timestamp::now().as_second(),
    };
    spec["audiences"] = json!(grant.audiences);
    if registry
        .admission()
        .enabled(crate::admission::Plugin::NodeRestriction)
    {
        let bound = spec.get("boundObjectRef").unwrap_or(&Value::Null);
        crate::admission_noderestriction::admit_token(
            registry,
            &call.identity.user_info(),
            ns,
            name,
            bound,
        )
        .await?;
    }
    if let Some(bound) = spec.get("boundObjectRef").filter(|b| !b.is_null()) {
        bind(server, ns, name, bound, &mut grant).await?;
    }

    let (claims, expiry) = server.tokens.claims(grant);
    let token = server
        .tokens
        .sign(&claims)
        .map_err(|e| ApiError::internal(format!("failed to generate token: {e}")))?;
    let expiration_timestamp = jiff::Timestamp::from_second(expiry)
        .map(crate::registry::timestamp)
        .map_err(|e| ApiError::internal(format!("token expiry: {e}")))?;
    let response = json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
        "spec": request["spec"],
        "status": {"token": token, "expirationTimestamp": expiration_timestamp},
    });
    Ok(json_response(StatusCode::CREATED, &response))
}

fn validate(name: &str, expiration: i64) -> Result<(), ApiError> {
    let detail = if expiration < MIN_EXPIRATION_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if expiration > MAX_EXPIRATION_SECONDS {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        return Ok(());
    };
    Err(ApiError::invalid(
        "authentication.k8s.io",
        KIND,
        name,
        vec![Cause::invalid("spec.expirationSeconds", expiration, detail)],
    ))
}

/// The requested audiences, or the API server's own.
fn audiences(spec: &Value, api_audiences: &[String]) -> Result<Vec<String>, ApiError> {
    let Some(list) = spec["audiences"].as_array().filter(|a| !a.is_empty()) else {
        return Ok(api_audiences.to_vec());
    };
    list.iter()
        .map(|a| {
            a.as_str().map(str::to_string).ok_or_else(|| {
                ApiError::bad_request("TokenRequest in body: spec.audiences must be strings")
            })
        })
        .collect()
}

/// Checks the bound object (a Pod running as this service account, or a Secret) and records it
/// (and the pod's node) in the grant.
async fn bind(
    server: &Arc<Server>,
    ns: &str,
    sa_name: &str,
    bound: &Value,
    grant: &mut TokenGrant<'_>,
) -> Result<(), ApiError> {
    let registry = &server.registry;
    let api_version = bound["apiVersion"].as_str().unwrap_or_default();
    let kind = bound["kind"].as_str().unwrap_or_default();
    let name = bound["name"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let object = match (group, kind) {
        ("", "Pod") => {
            let pods = kindling_api::catalog::builtin("", "v1", "pods");
            let pod = registry.get(pods, Some(ns), name).await?;
            let runs_as = pod["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or_default();
            if runs_as != sa_name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {sa_name:?} to pod running with serviceaccount {runs_as:?}"
                )));
            }
            if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                let nodes = kindling_api::catalog::builtin("", "v1", "nodes");
                grant.node = Some(match registry.get(nodes, None, node).await {
                    Ok(n) => object_ref(&n),
                    Err(_) => ObjectRef {
                        name: node.to_string(),
                        uid: String::new(),
                    },
                });
            }
            grant.pod = Some(object_ref(&pod));
            pod
        }
        ("", "Secret") => {
            let secrets = kindling_api::catalog::builtin("", "v1", "secrets");
            let secret = registry.get(secrets, Some(ns), name).await?;
            grant.secret = Some(object_ref(&secret));
            secret
        }
        _ => {
            let version = api_version.rsplit('/').next().unwrap_or_default();
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    let expected = bound["uid"].as_str().unwrap_or_default();
    let actual = meta_str(&object, "uid").unwrap_or_default();
    if !expected.is_empty() && expected != actual {
        return Err(ApiError::conflict(
            group,
            kind,
            name,
            &format!("the UID in the bound object reference ({expected}) does not match the UID in record ({actual}). The object might have been deleted and then recreated"),
        ));
    }
    Ok(())
}

fn object_ref(obj: &Value) -> ObjectRef {
    ObjectRef {
        name: meta_str(obj, "name").unwrap_or_default().to_string(),
        uid: meta_str(obj, "uid").unwrap_or_default().to_string(),
    }
}
