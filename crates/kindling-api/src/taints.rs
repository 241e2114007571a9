//! Taints and tolerations: upstream's `ToleratesTaint` and the helpers the scheduler, taint
//! eviction and DaemonSets share (an empty toleration key with `Exists` tolerates every taint;
//! an empty operator is `Equal`; an empty effect matches every effect).

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// Whether a toleration tolerates a taint (upstream's `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty()) {
        if key != taint.key {
            return false;
        }
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first taint (in the node's order) passing `filter` that no toleration tolerates.
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|t| filter(t) && !tolerated(tolerations, t))
}

/// The taints the scheduler must honour: `NoSchedule` and `NoExecute`.
pub fn is_hard_taint(t: &Taint) -> bool {
    t.effect == "NoSchedule" || t.effect == "NoExecute"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: None,
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        assert!(tolerates(
            &tol("dedicated", "Equal", "gpu", "NoSchedule"),
            &t
        ));
        assert!(
            tolerates(&tol("dedicated", "", "gpu", ""), &t),
            "empty op is Equal, any effect"
        );
        assert!(!tolerates(&tol("dedicated", "Equal", "cpu", ""), &t));
        assert!(tolerates(&tol("dedicated", "Exists", "", ""), &t));
        assert!(tolerates(&tol("", "Exists", "", ""), &t), "wildcard");
        assert!(!tolerates(&tol("dedicated", "Exists", "", "NoExecute"), &t));
        assert!(!tolerates(&tol("other", "Exists", "", ""), &t));
        let cp = taint("node-role.kubernetes.io/control-plane", "", "NoSchedule");
        assert!(tolerates(
            &tol(
                "node-role.kubernetes.io/control-plane",
                "Exists",
                "",
                "NoSchedule"
            ),
            &cp
        ));
        assert!(tolerates(
            &tol("node-role.kubernetes.io/control-plane", "Equal", "", ""),
            &cp
        ));
        let taints = vec![taint("soft", "", "PreferNoSchedule"), cp.clone(), t.clone()];
        let tols = vec![tol(
            "node-role.kubernetes.io/control-plane",
            "Exists",
            "",
            "",
        )];
        assert_eq!(
            first_untolerated(&taints, &tols, is_hard_taint).map(|t| t.key.as_str()),
            Some("dedicated")
        );
    }
}
