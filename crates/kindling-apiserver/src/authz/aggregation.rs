//! The ClusterRole aggregation controller (upstream's clusterrole-aggregation-controller, run
//! here in the server): a ClusterRole with an `aggregationRule` gets the rules of every other
//! ClusterRole its selectors match, in name order, each rule once. [`aggregate`] decides
//! without IO; [`run`] watches ClusterRoles and writes the changed ones.

use crate::registry::{Registry, UpdateKind, WatchOptions, WriteContext};
use kindling_api::selector::selector_matches;
use serde_json::Value;
use std::time::Duration;

const RETRY: Duration = Duration::from_secs(1);

/// The rules `role` should have, when it aggregates and they differ from what it has.
pub fn aggregate(role: &Value, all: &[Value]) -> Option<Vec<Value>> {
    let selectors = role["aggregationRule"]["clusterRoleSelectors"].as_array()?;
    let name = role["metadata"]["name"].as_str().unwrap_or_default();
    let mut sources: Vec<&Value> = all
        .iter()
        .filter(|other| other["metadata"]["name"].as_str() != Some(name))
        .filter(|other| {
            let labels = other["metadata"].get("labels");
            selectors
                .iter()
                .any(|s| selector_matches(Some(s), labels) == Some(true))
        })
        .collect();
    sources.sort_by_key(|o| o["metadata"]["name"].as_str().unwrap_or_default());
    let mut rules: Vec<Value> = Vec::new();
    for source in sources {
        for rule in source["rules"].as_array().into_iter().flatten() {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
    }
    let current = role["rules"].as_array().cloned().unwrap_or_default();
    (current != rules).then_some(rules)
}

/// Keeps aggregated ClusterRoles' rules up to date: a pass over all of them after every burst
/// of ClusterRole changes.
pub async fn run(registry: Registry) {
    let roles = kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", "clusterroles");
    loop {
        let mut events = match registry.watch(roles, None, WatchOptions::default()).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("clusterrole aggregation: watch failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        while events.recv().await.is_some() {
            while events.try_recv().is_ok() {}
            if let Err(e) = pass(&registry).await {
                tracing::warn!("clusterrole aggregation: {e}");
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One pass: every aggregating ClusterRole whose rules differ is written.
pub async fn pass(registry: &Registry) -> Result<(), kindling_api::ApiError> {
    let roles = kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", "clusterroles");
    let list = registry.list(roles, None, &Default::default()).await?;
    let all = list["items"].as_array().cloned().unwrap_or_default();
    for role in &all {
        let Some(rules) = aggregate(role, &all) else {
            continue;
        };
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        let ctx = WriteContext::default();
        let written = registry
            .update_with(roles, None, name, UpdateKind::Main, &ctx, |cur| {
                Ok(cur.map(|cur| {
                    let mut next = cur.clone();
                    next["rules"] = Value::Array(rules.clone());
                    if let Some(m) = next["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                    next
                }))
            })
            .await;
        match written {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregated_rules_are_the_selected_roles_rules_once_in_name_order() {
        let view = json!({"metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-view": "true"}}]}});
        let b = json!({"metadata": {"name": "b", "labels": {"to-view": "true"}},
            "rules": [{"verbs": ["get"], "resources": ["b"]}, {"verbs": ["get"], "resources": ["a"]}]});
        let a = json!({"metadata": {"name": "a", "labels": {"to-view": "true"}},
            "rules": [{"verbs": ["get"], "resources": ["a"]}]});
        let other = json!({"metadata": {"name": "c"}, "rules": [{"verbs": ["*"]}]});
        let all = vec![view.clone(), b, a, other];
        let rules = aggregate(&view, &all).unwrap();
        assert_eq!(
            rules,
            vec![
                json!({"verbs": ["get"], "resources": ["a"]}),
                json!({"verbs": ["get"], "resources": ["b"]}),
            ]
        );
        let mut done = view.clone();
        done["rules"] = json!(rules);
        assert_eq!(aggregate(&done, &all), None);
        assert_eq!(aggregate(&all[1], &all), None, "not aggregating");
    }
}
