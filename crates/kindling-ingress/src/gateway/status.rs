//! Writes what [`super::plan`] decided into the objects' status, only where it differs from
//! what they show (every ingress node runs a controller: the same inputs give the same status,
//! and a condition keeps its `lastTransitionTime` while its status stays, so controllers
//! agree instead of taking turns). A route's `status.parents` entries of other controllers
//! are kept as they are.
//!
//! [`conditions`] and [`parents`] decide the JSON without IO; [`write`] only reads and patches.

use super::plan::{Condition, ParentStatus, Plan};
use super::types::{Gateway, GatewayClass, GrpcRoute, HttpRoute};
use super::CONTROLLER_NAME;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The conditions as written: each with `observedGeneration`, and the `lastTransitionTime`
/// it had when its status is unchanged (else `now`).
pub fn conditions(
    want: &[Condition],
    generation: i64,
    existing: Option<&Value>,
    now: &str,
) -> Value {
    let before: HashMap<&str, &Value> = existing
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("type")?.as_str()?, c)))
        .collect();
    let status_text = |b: bool| if b { "True" } else { "False" };
    Value::Array(
        want.iter()
            .map(|c| {
                let since = before
                    .get(c.type_)
                    .filter(|old| {
                        old.get("status").and_then(Value::as_str) == Some(status_text(c.status))
                    })
                    .and_then(|old| old.get("lastTransitionTime").cloned())
                    .unwrap_or_else(|| json!(now));
                json!({
                    "type": c.type_,
                    "status": status_text(c.status),
                    "reason": c.reason,
                    "message": c.message,
                    "observedGeneration": generation,
                    "lastTransitionTime": since,
                })
            })
            .collect(),
    )
}

/// A route's `status.parents`: other controllers' entries as they are, then ours.
pub fn parents(
    ours: &[ParentStatus],
    generation: i64,
    existing: Option<&Value>,
    now: &str,
) -> Value {
    let existing: Vec<&Value> = existing
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut out: Vec<Value> = existing
        .iter()
        .filter(|p| p.get("controllerName").and_then(Value::as_str) != Some(CONTROLLER_NAME))
        .map(|p| (*p).clone())
        .collect();
    for p in ours {
        let parent_ref = serde_json::to_value(&p.parent_ref).unwrap_or_default();
        let old = existing.iter().find(|e| {
            e.get("controllerName").and_then(Value::as_str) == Some(CONTROLLER_NAME)
                && e.get("parentRef").map(strip_nulls) == Some(strip_nulls(&parent_ref))
        });
        out.push(json!({
            "parentRef": strip_nulls(&parent_ref),
            "controllerName": CONTROLLER_NAME,
            "conditions": conditions(&p.conditions, generation, old.and_then(|o| o.get("conditions")), now),
        }));
    }
    Value::Array(out)
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What the watched objects hold now, to compare with and to patch.
pub struct Observed<'a> {
    pub classes: &'a [Arc<GatewayClass>],
    pub gateways: &'a [Arc<Gateway>],
    pub http_routes: &'a [Arc<HttpRoute>],
    pub grpc_routes: &'a [Arc<GrpcRoute>],
}

/// Patches every status that should change.
pub async fn write(client: &kube::Client, plan: &Plan, observed: &Observed<'_>) {
    let now = k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default();
    for c in &plan.classes {
        let Some(obj) = observed
            .classes
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some(&c.name))
        else {
            continue;
        };
        let old = obj.status.as_ref();
        let want = json!({"conditions": conditions(&c.conditions, c.generation, old.and_then(|s| s.get("conditions")), &now)});
        if old != Some(&want) {
            let api: Api<GatewayClass> = Api::all(client.clone());
            patch(&api, &c.name, want).await;
        }
    }
    for g in &plan.gateways {
        let Some(obj) = observed.gateways.iter().find(|o| {
            o.metadata.namespace.as_deref() == Some(&g.namespace)
                && o.metadata.name.as_deref() == Some(&g.name)
        }) else {
            continue;
        };
        let old = obj.status.as_ref();
        let old_listeners: HashMap<&str, &Value> = old
            .and_then(|s| s.get("listeners"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| Some((l.get("name")?.as_str()?, l)))
            .collect();
        let listeners: Vec<Value> = g
            .listeners
            .iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "supportedKinds": l.supported_kinds.iter().map(|k| json!({"group": super::types::GROUP, "kind": k})).collect::<Vec<_>>(),
                    "attachedRoutes": l.attached_routes,
                    "conditions": conditions(&l.conditions, g.generation, old_listeners.get(l.name.as_str()).and_then(|o| o.get("conditions")), &now),
                })
            })
            .collect();
        let want = json!({
            "addresses": g.addresses.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            "conditions": conditions(&g.conditions, g.generation, old.and_then(|s| s.get("conditions")), &now),
            "listeners": listeners,
        });
        if old != Some(&want) {
            let api: Api<Gateway> = Api::namespaced(client.clone(), &g.namespace);
            patch(&api, &g.name, want).await;
        }
    }
    let planned: HashMap<(&str, &str, &str), &super::plan::RouteStatus> = plan
        .routes
        .iter()
        .map(|r| ((r.kind, r.namespace.as_str(), r.name.as_str()), r))
        .collect();
    for r in observed.http_routes {
        route(
            client,
            "HTTPRoute",
            &r.metadata,
            r.status.as_ref(),
            &planned,
            &now,
        )
        .await;
    }
    for r in observed.grpc_routes {
        route(
            client,
            "GRPCRoute",
            &r.metadata,
            r.status.as_ref(),
            &planned,
            &now,
        )
        .await;
    }
}

async fn route(
    client: &kube::Client,
    kind: &'static str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    status: Option<&Value>,
    planned: &HashMap<(&str, &str, &str), &super::plan::RouteStatus>,
    now: &str,
) {
    let (ns, name) = (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    let ours = planned.get(&(kind, ns, name));
    let old_parents = status.and_then(|s| s.get("parents"));
    let had_ours = old_parents
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| p.get("controllerName").and_then(Value::as_str) == Some(CONTROLLER_NAME));
    if ours.is_none() && !had_ours {
        return;
    }
    let want = parents(
        ours.map_or(&[][..], |r| &r.parents),
        meta.generation.unwrap_or_default(),
        old_parents,
        now,
    );
    if old_parents == Some(&want) {
        return;
    }
    let body = json!({"parents": want});
    if kind == "HTTPRoute" {
        patch(
            &Api::<HttpRoute>::namespaced(client.clone(), ns),
            name,
            body,
        )
        .await;
    } else {
        patch(
            &Api::<GrpcRoute>::namespaced(client.clone(), ns),
            name,
            body,
        )
        .await;
    }
}

async fn patch<K>(api: &Api<K>, name: &str, status: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let body = json!({"status": status});
    if let Err(e) = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        tracing::debug!("gateway: status of {name}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(type_: &'static str, status: bool) -> Condition {
        Condition {
            type_,
            status,
            reason: "R",
            message: "m".into(),
        }
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_stays() {
        let old = json!([
            {"type": "Accepted", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
            {"type": "Programmed", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
        ]);
        let out = conditions(
            &[c("Accepted", true), c("Programmed", false)],
            3,
            Some(&old),
            "NOW",
        );
        assert_eq!(out[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_eq!(out[1]["lastTransitionTime"], "NOW");
        assert_eq!(out[1]["status"], "False");
        assert_eq!(out[0]["observedGeneration"], 3);
    }

    #[test]
    fn other_controllers_parent_entries_are_kept() {
        let old = json!([
            {"parentRef": {"name": "other"}, "controllerName": "example.com/x", "conditions": []},
            {"parentRef": {"name": "gone"}, "controllerName": CONTROLLER_NAME, "conditions": []},
        ]);
        let ours = vec![ParentStatus {
            parent_ref: super::super::types::ParentRef {
                name: "gw".into(),
                ..Default::default()
            },
            conditions: vec![c("Accepted", true)],
        }];
        let out = parents(&ours, 1, Some(&old), "NOW");
        let names: Vec<&str> = out
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["parentRef"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["other", "gw"]);
        assert_eq!(out[1]["parentRef"], json!({"name": "gw"}));
    }
}
