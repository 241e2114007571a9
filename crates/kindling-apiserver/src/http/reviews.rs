//! Reviews: create-only resources whose answer is computed from the request, never stored —
//! `kubectl auth can-i` (SelfSubjectAccessReview, SelfSubjectRulesReview) and `kubectl auth
//! whoami` (SelfSubjectReview), SubjectAccessReview and LocalSubjectAccessReview (may this
//! user?), and TokenReview (is this service account token valid, and whose?). Access answers
//! are the server's authorizer's (`authz`), for the requester or the user the spec names.

use super::decode::{self, read_body, Call};
use super::represent::json_response;
use crate::auth::Identity;
use crate::authz::review;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn create(
    server: &crate::Server,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let identity = call.identity;
    let (mut review, _) =
        decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
    review["apiVersion"] = json!(rt.api_version());
    review["kind"] = json!(rt.kind);
    if let (Some(ns), Some(meta)) = (
        ns,
        review.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        meta.insert("namespace".into(), json!(ns));
    }
    let az = &server.authorizer;
    review["status"] = match rt.kind.as_str() {
        kind @ ("SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            let which = match kind {
                "SubjectAccessReview" => review::Kind::Subject,
                "LocalSubjectAccessReview" => review::Kind::Local,
                _ => review::Kind::SelfSubject,
            };
            review::validate(which, kind, &review, ns.unwrap_or_default())?;
            let user = match which {
                review::Kind::SelfSubject => identity.user_info(),
                _ => review::subject(&review["spec"]),
            };
            let attrs = review::attributes(&review["spec"]);
            review::status(&az.authorize(&user, &attrs))
        }
        "SelfSubjectRulesReview" => {
            let namespace = review["spec"]["namespace"].as_str().unwrap_or_default();
            if namespace.is_empty() {
                return Err(ApiError::bad_request("no namespace on request"));
            }
            review::rules_status(&az.rules_for(&identity.user_info(), namespace))
        }
        "SelfSubjectReview" => match identity {
            Identity::User {
                name,
                groups,
                uid,
                extra,
            } => user_info(name, groups, uid, extra),
            Identity::Anonymous => {
                json!({"userInfo": {"username": "system:anonymous", "groups": ["system:unauthenticated"]}})
            }
        },
        "TokenReview" => {
            let token = review["spec"]["token"].as_str().unwrap_or_default();
            // The review's audiences, or the API server's own when it names none.
            let requested: Vec<String> = review["spec"]["audiences"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .filter(|a: &Vec<String>| !a.is_empty())
                .unwrap_or_else(|| server.tokens.api_audiences().to_vec());
            let reviewed = crate::auth::bearer_for(
                &server.tokens,
                &server.token_sources,
                &server.registry,
                token,
                &requested,
            )
            .await;
            match reviewed {
                Ok((
                    Identity::User {
                        name,
                        groups,
                        uid,
                        extra,
                    },
                    audiences,
                )) => {
                    let mut status = user_info(&name, &groups, &uid, &extra);
                    status["authenticated"] = json!(true);
                    status["audiences"] = json!(audiences);
                    status["user"] = status["userInfo"].take();
                    status.as_object_mut().map(|m| m.remove("userInfo"));
                    status
                }
                _ => json!({"authenticated": false, "error": "invalid bearer token"}),
            }
        }
        other => return Err(ApiError::internal(format!("no review logic for {other}"))),
    };
    Ok(json_response(StatusCode::CREATED, &review))
}

fn user_info(
    name: &str,
    groups: &[String],
    uid: &str,
    extra: &std::collections::BTreeMap<String, Vec<String>>,
) -> Value {
    let mut info = json!({"userInfo": {"username": name, "groups": groups}});
    if !uid.is_empty() {
        info["userInfo"]["uid"] = json!(uid);
    }
    if !extra.is_empty() {
        info["userInfo"]["extra"] = json!(extra);
    }
    info
}
