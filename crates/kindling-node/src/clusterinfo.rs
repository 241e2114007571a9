//! kubeadm's bootstrap-token phase (`phases/bootstraptoken/clusterinfo`): the ConfigMap
//! kube-public/cluster-info whose `kubeconfig` names the cluster's API server and CA — what
//! `kubeadm join --discovery-token` reads, trusting it once the bootstrap signer's
//! `jws-kubeconfig-<token-id>` signature checks out — and the Role and RoleBinding
//! `kubeadm:bootstrap-signer-clusterinfo` that let anonymous clients `get` it. Made once at the
//! first start, as kubeadm's CreateConfigMapIfNotExists; pure (the API server creates them as
//! add-ons).

use crate::config::NodeConfig;
use base64::Engine;
use serde_json::{json, Value};

const NAMESPACE: &str = "kube-public";
const NAME: &str = "cluster-info";
const ANONYMOUS_READER: &str = "kubeadm:bootstrap-signer-clusterinfo";

/// The server joining nodes are told of: the cluster's endpoint (kubeadm's
/// `controlPlaneEndpoint`) — the external load balancer when the cluster has one (its name is
/// among the serving certificate's names), else this control plane, as the node is told.
pub fn server(config: &NodeConfig) -> String {
    let balancer = kindling_config::load_balancer_name(&config.cluster);
    let has_balancer = config
        .control_plane
        .as_ref()
        .is_some_and(|cp| cp.cert_sans.contains(&balancer));
    match has_balancer {
        true => format!("https://{balancer}:6443"),
        false => config.api_server_url.clone(),
    }
}

/// The bootstrap kubeconfig as client-go's `clientcmd.Write` prints kubeadm's: one cluster
/// named "" with the CA data and the server, nothing else.
pub fn kubeconfig(ca_pem: &str, server: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    \
         server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\n\
         preferences: {{}}\nusers: null\n"
    )
}

/// The ConfigMap and kubeadm's Role and RoleBinding for anonymous readers.
pub fn addons(ca_pem: &str, server: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": NAME, "namespace": NAMESPACE},
               "data": {"kubeconfig": kubeconfig(ca_pem, server)}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": ANONYMOUS_READER, "namespace": NAMESPACE},
               "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                          "resourceNames": [NAME], "verbs": ["get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": ANONYMOUS_READER, "namespace": NAMESPACE},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": ANONYMOUS_READER},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": "system:anonymous"}]}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ControlPlaneConfig, Role};

    fn node(sans: &[&str]) -> NodeConfig {
        let mut config: NodeConfig = serde_json::from_value(json!({
            "cluster": "kind", "name": "kind-control-plane2", "role": "control-plane",
            "apiServerUrl": "https://kind-control-plane2:6443",
            "podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16", "defaultCni": true,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let cp: ControlPlaneConfig =
            serde_json::from_value(json!({"certSans": sans})).unwrap_or_else(|e| panic!("{e}"));
        config.control_plane = Some(cp);
        assert_eq!(config.role, Role::ControlPlane);
        config
    }

    #[test]
    fn the_endpoint_is_the_balancer_when_there_is_one() {
        assert_eq!(
            server(&node(&["kind-external-load-balancer", "127.0.0.1"])),
            "https://kind-external-load-balancer:6443"
        );
        assert_eq!(
            server(&node(&["127.0.0.1"])),
            "https://kind-control-plane2:6443"
        );
    }

    #[test]
    fn the_kubeconfig_is_clientcmds() {
        let text = kubeconfig("PEM", "https://kind-control-plane:6443");
        assert_eq!(
            text,
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: UEVN\n    \
             server: https://kind-control-plane:6443\n  name: \"\"\ncontexts: null\n\
             current-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n"
        );
        let addons = addons("PEM", "https://x:6443");
        assert_eq!(
            addons[0]["data"]["kubeconfig"],
            json!(kubeconfig("PEM", "https://x:6443"))
        );
        assert_eq!(addons[2]["subjects"][0]["name"], "system:anonymous");
    }
}
