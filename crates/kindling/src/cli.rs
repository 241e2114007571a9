//! The command line, as kind's: same commands, flags and defaults.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kindling",
    version,
    about = "kindling creates and manages local Kubernetes clusters using Docker container 'nodes'",
    long_about = "kindling creates and manages local Kubernetes clusters using Docker container 'nodes'.\nIt speaks kind's commands and config files; the Kubernetes inside the nodes is kindling's own."
)]
pub struct Cli {
    /// info log verbosity, higher value produces more output
    #[arg(short = 'v', long = "verbosity", global = true, default_value_t = 0)]
    pub verbosity: u8,
    /// silence all stderr output
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Creates one of [cluster, node]
    #[command(subcommand)]
    Create(CreateCommand),
    /// Deletes one of [cluster, clusters, node]
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// Stops one of [cluster]: its node containers stop, their state stays
    #[command(subcommand)]
    Stop(StopCommand),
    /// Starts one of [cluster] stopped by `stop cluster`
    #[command(subcommand)]
    Start(StartCommand),
    /// Edits one of [cluster]: host ports published on a live cluster
    #[command(subcommand)]
    Edit(EditCommand),
    /// Upgrades one of [cluster]: node containers replaced by a new image, one at a time
    #[command(subcommand)]
    Upgrade(UpgradeCommand),
    /// Gets one of [clusters, nodes, kubeconfig]
    #[command(subcommand)]
    Get(GetCommand),
    /// Exports one of [kubeconfig, logs]
    #[command(subcommand)]
    Export(ExportCommand),
    /// Loads images into nodes
    #[command(subcommand)]
    Load(LoadCommand),
    /// Build one of [node-image]
    #[command(subcommand)]
    Build(BuildCommand),
    /// Prints the kindling CLI version
    Version,
    /// Output shell completion code for the specified shell (bash, zsh or fish)
    Completion { shell: clap_complete::Shell },
    /// Runs an API server on this machine (the control plane's front door, usable on its own)
    Apiserver(ApiserverArgs),
    /// The program of every node container (PID 1); not for direct use
    #[command(hide = true)]
    Node,
    /// The program of a LoadBalancer Service's balancer container; not for direct use
    #[command(hide = true)]
    Loadbalancer {
        /// The JSON configuration, followed as it changes
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Lists or removes members of a control-plane node's stacked etcd cluster (used by
    /// `create node`/`delete node`, run in a control-plane node); not for direct use
    #[command(hide = true)]
    EtcdMember {
        /// list | health | remove
        action: String,
        /// the node whose member to remove
        node: Option<String>,
    },
    /// The program of a cluster's port proxy (`edit cluster --port-add`); not for direct use
    #[command(hide = true)]
    PortProxy {
        /// PORT[/udp]=HOST:PORT (repeatable)
        #[arg(long)]
        forward: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum EditCommand {
    /// Publishes or withdraws host ports of a running cluster (through its port proxy)
    Cluster {
        /// the cluster name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// publish [ADDR:]HOST:CONTAINER[/udp][@NODE] (NODE: a node name, default the first control plane; repeatable)
        #[arg(long = "port-add")]
        port_add: Vec<String>,
        /// withdraw [ADDR:]HOST[/udp][@NODE] (repeatable)
        #[arg(long = "port-remove")]
        port_remove: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum UpgradeCommand {
    /// Replaces a cluster's node containers with IMAGE one at a time (drain, recreate with the same /var volume, uncordon)
    Cluster {
        /// the cluster name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// the node image to upgrade to
        #[arg(long)]
        image: String,
        /// how long to wait for each node to drain and to be Ready again
        #[arg(long, default_value = "2m")]
        wait: String,
    },
}

#[derive(Subcommand)]
pub enum CreateCommand {
    /// Creates a local Kubernetes cluster
    Cluster(CreateClusterArgs),
    /// Adds a node to a running cluster
    Node(CreateNodeArgs),
}

#[derive(Args, Clone)]
pub struct CreateNodeArgs {
    /// the node name (default: kind's next name for the role, e.g. kind-worker4)
    pub name: Option<String>,
    /// the node's role: worker, or control-plane (on a cluster whose store is stacked etcd)
    #[arg(long, default_value = "worker")]
    pub role: String,
    /// the cluster name, overrides KIND_CLUSTER_NAME (default kind)
    #[arg(long, short = 'n', visible_alias = "name")]
    pub cluster: Option<String>,
    /// node docker image to use (default: the first control plane's)
    #[arg(long)]
    pub image: Option<String>,
    /// a node label, key=value (repeatable)
    #[arg(long = "label", short = 'l')]
    pub labels: Vec<String>,
    /// how long to wait for the node to be Ready
    #[arg(long, default_value = "2m")]
    pub wait: String,
}

#[derive(Subcommand)]
pub enum StopCommand {
    /// Stops a cluster's node containers (CPU and memory are given back; state is kept)
    Cluster {
        /// the cluster name
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StartCommand {
    /// Starts a stopped cluster's node containers and waits for its nodes to be Ready
    Cluster {
        /// the cluster name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// how long to wait for the nodes to be Ready
        #[arg(long, default_value = "2m")]
        wait: String,
    },
}

#[derive(Args, Clone)]
pub struct CreateClusterArgs {
    /// cluster name, overrides KIND_CLUSTER_NAME, config (default kind)
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// path to a kind config file ("-" reads standard input)
    #[arg(long)]
    pub config: Option<String>,
    /// node docker image to use for booting the cluster
    #[arg(long)]
    pub image: Option<String>,
    /// retain nodes for debugging when cluster creation fails
    #[arg(long)]
    pub retain: bool,
    /// wait for control plane node to be ready (default 0s)
    #[arg(long, default_value = "0s")]
    pub wait: String,
    /// sets kubeconfig path instead of $KUBECONFIG or $HOME/.kube/config
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum DeleteCommand {
    /// Deletes a cluster
    Cluster {
        /// the cluster name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// sets kubeconfig path instead of $KUBECONFIG or $HOME/.kube/config
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Drains a node (PodDisruptionBudgets respected) and removes it from its cluster
    Node {
        /// the node name
        name: String,
        /// the cluster name, overrides KIND_CLUSTER_NAME (default kind)
        #[arg(long, short = 'n')]
        cluster: Option<String>,
        /// how long the drain may take before giving up (the node stays cordoned then)
        #[arg(long, default_value = "5m")]
        timeout: String,
    },
    /// Deletes one or more clusters
    Clusters {
        /// delete all clusters
        #[arg(short = 'A', long)]
        all: bool,
        names: Vec<String>,
        /// sets kubeconfig path instead of $KUBECONFIG or $HOME/.kube/config
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum GetCommand {
    /// Lists existing kind clusters by their name
    Clusters {
        /// `wide` adds each cluster's state and running nodes (names alone otherwise, as kind)
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
    },
    /// Lists existing kind nodes by their name
    Nodes {
        /// the cluster context name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// If present, list all the available nodes across all cluster contexts
        #[arg(short = 'A', long = "all-clusters")]
        all_clusters: bool,
    },
    /// Prints cluster kubeconfig
    Kubeconfig {
        /// the cluster context name
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// use internal address instead of external
        #[arg(long)]
        internal: bool,
    },
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Exports cluster kubeconfig
    Kubeconfig {
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        #[arg(long)]
        internal: bool,
    },
    /// Exports logs to a tempdir or [output-dir] if specified
    Logs {
        output_dir: Option<PathBuf>,
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum LoadCommand {
    /// Loads docker images from host into nodes
    DockerImage {
        #[arg(required = true)]
        images: Vec<String>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// comma separated list of nodes to load images into
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<String>,
    },
    /// Loads docker image from archive into nodes
    ImageArchive {
        #[arg(required = true)]
        archives: Vec<PathBuf>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        nodes: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum BuildCommand {
    /// Build the node image which contains Kubernetes build artifacts and other kind requirements
    NodeImage {
        /// name:tag of the resulting image to be built
        #[arg(long)]
        image: Option<String>,
    },
}

#[derive(Args)]
pub struct ApiserverArgs {
    /// Where the PKI, the store and the admin kubeconfig live; reusing it keeps every object.
    #[arg(long, default_value = "./kindling-data")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub bind: SocketAddr,
    /// The Service IP range.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: String,
    /// Extra names or IPs for the serving certificate.
    #[arg(long = "tls-san")]
    pub tls_sans: Vec<String>,
    /// kube-apiserver's `--authorization-mode`: `Node,RBAC` (kubeadm's), or `AlwaysAllow`.
    #[arg(long, default_value = "Node,RBAC")]
    pub authorization_mode: String,
    /// Run the controllers (kube-controller-manager's part) in this process too; with
    /// `--controllers=false` the API server runs alone (nothing makes the `default`
    /// ServiceAccounts then).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub controllers: bool,
    /// kube-apiserver's `--etcd-servers`: keep objects in etcd at these client URLs
    /// (comma-separated) instead of the embedded SQLite file.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`: TLS to etcd (PEM files).
    #[arg(long, requires = "etcd_servers")]
    pub etcd_cafile: Option<PathBuf>,
    #[arg(long, requires = "etcd_cafile")]
    pub etcd_certfile: Option<PathBuf>,
    #[arg(long, requires = "etcd_cafile")]
    pub etcd_keyfile: Option<PathBuf>,
}
