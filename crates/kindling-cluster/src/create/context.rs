//! What the actions of one `create cluster` share.

use crate::status::Status;
use kindling_config::ResolvedCluster;
use kindling_pki::{Ca, CertPair};
use kindling_provider::{NodeInfo, Provider};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// `--retain`: keep the nodes of a failed create for debugging.
    pub retain: bool,
    /// `--wait`: how long to wait for the control plane to be Ready (zero: don't).
    pub wait: Duration,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// The `kindling` binary to put into a node image built on the fly.
    pub kindling_binary: Option<PathBuf>,
    pub quiet: bool,
}

pub struct ActionContext {
    pub provider: Arc<dyn Provider>,
    pub cluster: ResolvedCluster,
    pub opts: CreateOptions,
    /// The cluster CA, made by the PKI action.
    pub ca: Option<Ca>,
    /// The admin's client certificate (`system:masters`).
    pub admin: Option<CertPair>,
    /// Node containers created so far.
    pub nodes: Vec<NodeInfo>,
    /// The API server as the host reaches it, once known.
    pub api_server_url: Option<String>,
    /// An admin client of the new cluster, once it answers.
    pub client: Option<kube::Client>,
    /// The kubeconfig file written.
    pub kubeconfig_path: Option<PathBuf>,
    created: bool,
}

impl ActionContext {
    pub fn new(
        provider: Arc<dyn Provider>,
        cluster: ResolvedCluster,
        opts: CreateOptions,
    ) -> ActionContext {
        ActionContext {
            provider,
            cluster,
            opts,
            ca: None,
            admin: None,
            nodes: Vec::new(),
            api_server_url: None,
            client: None,
            kubeconfig_path: None,
            created: false,
        }
    }

    pub fn mark_created(&mut self) {
        self.created = true;
    }

    pub fn created_nodes(&self) -> bool {
        self.created
    }

    pub fn client(&self) -> anyhow::Result<&kube::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the API server is not reachable yet"))
    }

    /// Removes every node container of the cluster (a failed create leaves nothing behind).
    pub async fn delete_nodes(&self) {
        if let Ok(nodes) = self.provider.list_nodes(Some(&self.cluster.name)).await {
            let names: Vec<String> = nodes.into_iter().map(|n| n.name).collect();
            let _ = self.provider.delete_nodes(&names).await;
        }
    }

    /// kind's closing lines.
    pub fn print_success(&self, status: &Status) {
        let context = self.cluster.context_name();
        status.line(&format!("Set kubectl context to \"{context}\""));
        status.line("You can now use your cluster with:\n");
        status.line(&format!("kubectl cluster-info --context {context}\n"));
        status.line("Thanks for using kindling! 🔥");
    }
}
