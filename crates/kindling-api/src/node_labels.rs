//! Which Node labels a node may set on itself (upstream's NodeRestriction label policy and the
//! kubelet's label set, `k8s.io/kubelet/pkg/apis`): none under `node-restriction.kubernetes.io/`,
//! and of the `kubernetes.io` / `k8s.io` namespaces only the kubelet's own. The rest are set
//! by an administrator (kubeadm marks control planes; kindling's create does the same). No IO.

const KUBELET_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];

const KUBELET_NAMESPACES: &[&str] = &["kubelet.kubernetes.io", "node.kubernetes.io"];

const RESTRICTION_NAMESPACE: &str = "node-restriction.kubernetes.io";

fn namespace(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

fn within(ns: &str, domain: &str) -> bool {
    ns == domain
        || ns
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Upstream's IsKubeletLabel.
pub fn is_kubelet_label(key: &str) -> bool {
    KUBELET_LABELS.contains(&key) || KUBELET_NAMESPACES.iter().any(|d| within(namespace(key), d))
}

/// Whether a node may add, change or remove label `key` on its own Node.
pub fn node_may_set(key: &str) -> bool {
    let ns = namespace(key);
    if within(ns, RESTRICTION_NAMESPACE) {
        return false;
    }
    let kubernetes = within(ns, "kubernetes.io") || within(ns, "k8s.io");
    !kubernetes || is_kubelet_label(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_a_node_may_set() {
        for (key, ok) in [
            ("kubernetes.io/hostname", true),
            (
                "node.kubernetes.io/exclude-from-external-load-balancers",
                true,
            ),
            ("x.kubelet.kubernetes.io/y", true),
            ("ingress-ready", true),
            ("example.com/team", true),
            ("node-role.kubernetes.io/control-plane", false),
            ("node-restriction.kubernetes.io/fast", false),
            ("a.node-restriction.kubernetes.io/fast", false),
            ("kubernetes.io/role", false),
            ("example.k8s.io/x", false),
            ("notkubernetes.io/x", true),
        ] {
            assert_eq!(node_may_set(key), ok, "{key}");
        }
    }
}
