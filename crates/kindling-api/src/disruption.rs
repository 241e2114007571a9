//! PodDisruptionBudget rules shared by the eviction subresource (the API server) and the
//! disruption controller, without IO: which budgets cover a pod, the `DisruptionAllowed`
//! condition (upstream's component-helpers `poddisruptionbudget`), and what an eviction does
//! (upstream's pkg/registry/core/pod/storage/eviction.go, decided here, carried out by the
//! server).
//!
//! Objects are wire-form JSON values (policy/v1 PodDisruptionBudgets, core/v1 Pods).
#![allow(clippy::result_large_err)] // ApiError is the crate's error type

use crate::selector::LabelSelector;
use crate::status::{ApiError, Cause};
use serde_json::{json, Value};

/// The condition the controller and evictions keep on every budget.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// `DisruptionAllowed=True`: more pods are healthy than the budget needs.
pub const SUFFICIENT_PODS: &str = "SufficientPods";
/// `DisruptionAllowed=False`: no pod may go.
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
/// `DisruptionAllowed=False`: the controller could not compute the status.
pub const SYNC_FAILED: &str = "SyncFailed";
/// How long an approved eviction is remembered in `status.disruptedPods` while the pod is not
/// deleted yet (upstream's DeletionTimeout): meanwhile the pod does not count as healthy.
pub const DELETION_TIMEOUT_SECONDS: i64 = 120;
/// More approved-but-unconfirmed evictions than this and evictions are refused
/// (upstream's MaxDisruptedPodSize).
pub const MAX_DISRUPTED_POD_SIZE: usize = 2000;
/// The `Status.details.causes[].reason` of a refused eviction.
pub const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";
/// The message of every 429 an eviction gets.
pub const VIOLATION_MESSAGE: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";
/// The message of the 500 for a pod more than one budget covers.
pub const MULTIPLE_BUDGETS_MESSAGE: &str =
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

/// The pods a budget selects: policy/v1's selector, where `null` selects nothing and `{}` every
/// pod of the namespace. An unusable selector selects nothing.
pub fn budget_selector(pdb: &Value) -> LabelSelector {
    LabelSelector::from_metav1(pdb["spec"].get("selector"))
        .unwrap_or_else(|_| LabelSelector::nothing())
}

/// Whether `pdb` covers `pod` (same namespace, selected).
pub fn covers(pdb: &Value, pod: &Value) -> bool {
    pdb["metadata"]["namespace"] == pod["metadata"]["namespace"]
        && budget_selector(pdb).matches(pod)
}

/// The pod's Ready condition is True (upstream's IsPodReady, what "healthy" means to a budget).
pub fn is_pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Sets a `metav1.Condition` in `conditions` as upstream's `meta.SetStatusCondition`: a new
/// condition or a status change gets `now` as lastTransitionTime; reason, message and
/// observedGeneration are always refreshed.
pub fn set_condition(conditions: &mut Vec<Value>, mut condition: Value, now: &str) {
    match conditions
        .iter_mut()
        .find(|c| c["type"] == condition["type"])
    {
        Some(existing) => {
            if existing["status"] != condition["status"] {
                existing["status"] = condition["status"].clone();
                existing["lastTransitionTime"] = json!(now);
            }
            for key in ["reason", "message", "observedGeneration"] {
                existing[key] = condition[key].take();
            }
        }
        None => {
            condition["lastTransitionTime"] = json!(now);
            conditions.push(condition);
        }
    }
}

/// Upstream's UpdateDisruptionAllowedCondition: `DisruptionAllowed` follows
/// `status.disruptionsAllowed` (True/SufficientPods when positive, else False/InsufficientPods).
pub fn update_disruption_allowed_condition(status: &mut Value, now: &str) {
    let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0) > 0;
    let (state, reason) = if allowed {
        ("True", SUFFICIENT_PODS)
    } else {
        ("False", INSUFFICIENT_PODS)
    };
    let condition = json!({
        "type": DISRUPTION_ALLOWED, "status": state, "reason": reason, "message": "",
        "observedGeneration": status["observedGeneration"].as_i64().unwrap_or(0),
    });
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    set_condition(&mut conditions, condition, now);
    status["conditions"] = Value::Array(conditions);
}

/// Upstream's ConditionsAreUpToDate: the condition exists, the status is of the current
/// generation, and the condition agrees with `disruptionsAllowed`.
pub fn conditions_are_up_to_date(pdb: &Value) -> bool {
    let status = &pdb["status"];
    let Some(cond) = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == DISRUPTION_ALLOWED))
    else {
        return false;
    };
    if status["observedGeneration"].as_i64().unwrap_or(0)
        != pdb["metadata"]["generation"].as_i64().unwrap_or(0)
    {
        return false;
    }
    if status["disruptionsAllowed"].as_i64().unwrap_or(0) > 0 {
        cond["status"] == "True" && cond["reason"] == SUFFICIENT_PODS
    } else {
        cond["status"] == "False" && cond["reason"] == INSUFFICIENT_PODS
    }
}

/// What an eviction of a pod covered by `pdbs` does, once the pod is known not to be
/// deletable freely ([`can_ignore_budget`]).
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// No budget covers it: delete.
    Delete,
    /// Several budgets cover it: upstream answers a 500 Status.
    MultipleBudgets,
    /// Not ready and (the budget allows unhealthy evictions or is met without it): delete, with
    /// the pod's resourceVersion as precondition so that it did not turn ready meanwhile. The
    /// budget is not charged.
    DeleteUnhealthy { pdb: String },
    /// Take one disruption from the named budget ([`check_and_decrement`]), then delete.
    Decrement { pdb: String },
}

/// Terminal, pending or already terminating pods are deleted without looking at budgets
/// (upstream's canIgnorePDB): they disrupt nothing more.
pub fn can_ignore_budget(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed" | "Pending")
    ) || pod["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// Whether a free deletion must pin the pod's resourceVersion (it might turn ready
/// meanwhile): not for terminal or terminating pods (upstream's shouldEnforceResourceVersion).
pub fn should_enforce_resource_version(pod: &Value) -> bool {
    !(matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    ) || pod["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null()))
}

/// The verdict for `pod` given every budget of its namespace.
pub fn verdict(pod: &Value, pdbs: &[Value]) -> Verdict {
    let covering: Vec<&Value> = pdbs.iter().filter(|p| covers(p, pod)).collect();
    let pdb = match covering.as_slice() {
        [] => return Verdict::Delete,
        [one] => *one,
        _ => return Verdict::MultipleBudgets,
    };
    let name = pdb["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !is_pod_ready(pod) {
        if pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow" {
            return Verdict::DeleteUnhealthy { pdb: name };
        }
        let current = pdb["status"]["currentHealthy"].as_i64().unwrap_or(0);
        let desired = pdb["status"]["desiredHealthy"].as_i64().unwrap_or(0);
        if current >= desired && desired > 0 {
            return Verdict::DeleteUnhealthy { pdb: name };
        }
    }
    Verdict::Decrement { pdb: name }
}

/// The 429 of an eviction the budget forbids, with the budget's explanation as a
/// `DisruptionBudget` cause. `retry_after` 0 sends no Retry-After (clients decide when to retry).
pub fn too_many_requests(explanation: String, retry_after: u32) -> ApiError {
    let mut e = ApiError::too_many_requests(VIOLATION_MESSAGE, retry_after);
    if retry_after == 0 {
        e.retry_after = None;
    }
    e.causes.push(Cause {
        reason: DISRUPTION_BUDGET_CAUSE,
        message: explanation,
        field: String::new(),
    });
    e
}

/// The 429 while the controller has not seen the budget's latest spec (or a pinned deletion
/// lost a race): clients are told to come back in 10 s.
pub fn still_processing(pdb_name: &str) -> ApiError {
    too_many_requests(
        format!("The disruption budget {pdb_name} is still being processed by the server."),
        10,
    )
}

/// Upstream's checkAndDecrement on the current budget: refuses (429/403) unless a disruption is
/// allowed, else returns the budget with one disruption fewer, the pod recorded in
/// `disruptedPods` at `now` (not on a dry run) and the condition updated when none is left.
pub fn check_and_decrement(
    pdb: &Value,
    pod_name: &str,
    now: &str,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let name = pdb["metadata"]["name"].as_str().unwrap_or_default();
    let status = &pdb["status"];
    let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(0);
    if status["observedGeneration"].as_i64().unwrap_or(0) < generation {
        return Err(still_processing(name));
    }
    let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0);
    let forbidden = |why: &str| {
        ApiError::forbidden(format!(
            "poddisruptionbudgets.policy \"{name}\" is forbidden: {why}"
        ))
    };
    if allowed < 0 {
        return Err(forbidden("pdb disruptions allowed is negative"));
    }
    let disrupted = status["disruptedPods"]
        .as_object()
        .map_or(0, serde_json::Map::len);
    if disrupted > MAX_DISRUPTED_POD_SIZE {
        return Err(forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status["desiredHealthy"].as_i64().unwrap_or(0),
                status["currentHealthy"].as_i64().unwrap_or(0)
            ),
            0,
        ));
    }
    let mut next = pdb.clone();
    next["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        update_disruption_allowed_condition(&mut next["status"], now);
    }
    if !dry_run {
        if !next["status"]["disruptedPods"].is_object() {
            next["status"]["disruptedPods"] = json!({});
        }
        next["status"]["disruptedPods"][pod_name] = json!(now);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(labels: Value, phase: &str, ready: bool) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "labels": labels},
               "status": {"phase": phase, "conditions": [
                   {"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn pdb(name: &str, selector: Value, status: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "generation": 1},
               "spec": {"selector": selector, "minAvailable": 1}, "status": status})
    }

    fn healthy(allowed: i64, current: i64, desired: i64) -> Value {
        json!({"observedGeneration": 1, "disruptionsAllowed": allowed,
               "currentHealthy": current, "desiredHealthy": desired, "expectedPods": current})
    }

    #[test]
    fn selectors_of_policy_v1() {
        let p = pod(json!({"app": "web"}), "Running", true);
        let web = json!({"matchLabels": {"app": "web"}});
        assert!(covers(&pdb("a", web, json!({})), &p));
        // `{}` covers every pod of the namespace; null none.
        assert!(covers(&pdb("a", json!({}), json!({})), &p));
        assert!(!covers(&pdb("a", Value::Null, json!({})), &p));
        let mut other_ns = pdb("a", json!({}), json!({}));
        other_ns["metadata"]["namespace"] = json!("kube-system");
        assert!(!covers(&other_ns, &p));
    }

    #[test]
    fn verdicts() {
        let sel = json!({"matchLabels": {"app": "web"}});
        let ready = pod(json!({"app": "web"}), "Running", true);
        let unready = pod(json!({"app": "web"}), "Running", false);
        let one = vec![pdb("web", sel.clone(), healthy(0, 2, 2))];
        assert_eq!(verdict(&ready, &[]), Verdict::Delete);
        assert_eq!(
            verdict(&ready, &one),
            Verdict::Decrement { pdb: "web".into() }
        );
        // Unready while the budget is met: deleted without charge.
        assert_eq!(
            verdict(&unready, &one),
            Verdict::DeleteUnhealthy { pdb: "web".into() }
        );
        // Unready and the budget is not met: charged (and so refused at 0).
        let short = vec![pdb("web", sel.clone(), healthy(0, 1, 2))];
        assert_eq!(
            verdict(&unready, &short),
            Verdict::Decrement { pdb: "web".into() }
        );
        let mut always = short.clone();
        always[0]["spec"]["unhealthyPodEvictionPolicy"] = json!("AlwaysAllow");
        assert_eq!(
            verdict(&unready, &always),
            Verdict::DeleteUnhealthy { pdb: "web".into() }
        );
        let two = vec![one[0].clone(), pdb("all", json!({}), healthy(1, 2, 1))];
        assert_eq!(verdict(&ready, &two), Verdict::MultipleBudgets);
    }

    #[test]
    fn pods_that_disrupt_nothing_more() {
        assert!(can_ignore_budget(&pod(json!({}), "Pending", false)));
        assert!(can_ignore_budget(&pod(json!({}), "Succeeded", false)));
        assert!(!can_ignore_budget(&pod(json!({}), "Running", true)));
        let mut terminating = pod(json!({}), "Running", true);
        terminating["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(can_ignore_budget(&terminating));
        assert!(!should_enforce_resource_version(&terminating));
        assert!(should_enforce_resource_version(&pod(
            json!({}),
            "Pending",
            false
        )));
    }

    #[test]
    fn decrement_charges_and_refuses_like_upstream() {
        let sel = json!({"matchLabels": {"app": "web"}});
        let now = "2024-01-01T00:00:00Z";
        let next = check_and_decrement(&pdb("web", sel.clone(), healthy(1, 3, 2)), "p", now, false)
            .unwrap();
        assert_eq!(next["status"]["disruptionsAllowed"], 0);
        assert_eq!(next["status"]["disruptedPods"]["p"], now);
        assert_eq!(next["status"]["conditions"][0]["reason"], INSUFFICIENT_PODS);
        let dry = check_and_decrement(&pdb("web", sel.clone(), healthy(2, 4, 2)), "p", now, true)
            .unwrap();
        assert_eq!(dry["status"]["disruptionsAllowed"], 1);
        assert!(dry["status"].get("disruptedPods").is_none());

        let refused =
            check_and_decrement(&pdb("web", sel.clone(), healthy(0, 2, 2)), "p", now, false)
                .unwrap_err();
        assert_eq!((refused.code, refused.reason), (429, "TooManyRequests"));
        assert_eq!(refused.message, VIOLATION_MESSAGE);
        assert_eq!(refused.retry_after, None);
        assert_eq!(
            refused.causes[0].message,
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
        assert_eq!(refused.causes[0].reason, "DisruptionBudget");

        let mut stale = pdb("web", sel, healthy(1, 3, 2));
        stale["metadata"]["generation"] = json!(2);
        let e = check_and_decrement(&stale, "p", now, false).unwrap_err();
        assert_eq!(e.retry_after, Some(10));
        assert_eq!(
            e.causes[0].message,
            "The disruption budget web is still being processed by the server."
        );
    }

    #[test]
    fn condition_follows_disruptions_allowed() {
        let mut status = json!({"disruptionsAllowed": 1, "observedGeneration": 3});
        update_disruption_allowed_condition(&mut status, "t1");
        let c = &status["conditions"][0];
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("True"), Some(SUFFICIENT_PODS))
        );
        assert_eq!(c["observedGeneration"], 3);
        assert_eq!(c["lastTransitionTime"], "t1");
        // Same status: the transition time stays.
        update_disruption_allowed_condition(&mut status, "t2");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t1");
        status["disruptionsAllowed"] = json!(0);
        update_disruption_allowed_condition(&mut status, "t3");
        assert_eq!(status["conditions"][0]["reason"], INSUFFICIENT_PODS);
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t3");
        let pdb = json!({"metadata": {"generation": 3}, "status": status});
        assert!(conditions_are_up_to_date(&pdb));
    }
}
