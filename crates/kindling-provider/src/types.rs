//! Plain data exchanged with a [`Provider`](crate::Provider): what a node container should look like
//! ([`NodeSpec`]) and what one looks like once it exists ([`NodeInfo`]). No IO here.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};

/// Docker label holding the cluster a node container belongs to (kind's key, so `kind get clusters`
/// and every tool that knows kind see kindling's nodes too).
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// Docker label holding the node's role (kind's key).
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// The network kind puts every cluster on.
pub const DEFAULT_NETWORK: &str = "kind";
/// The port the API server listens on inside a control-plane node (and the load balancer).
pub const API_SERVER_INTERNAL_PORT: u16 = 6443;

/// A node's role, spelled as kind spells it in the role label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
    ExternalLoadBalancer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
            Role::ExternalLoadBalancer => "external-load-balancer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "control-plane" => Some(Role::ControlPlane),
            "worker" => Some(Role::Worker),
            "external-load-balancer" => Some(Role::ExternalLoadBalancer),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport protocol of a published port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// Lower-case, as the Engine API writes it in `80/tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// kind's `extraPortMappings` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to listen on; empty means `0.0.0.0` (Docker's default, as kind does for IPv4).
    pub listen_address: String,
    /// Host port; 0 means "a free port", resolved at creation and then fixed (see the crate docs).
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    pub fn tcp(listen_address: impl Into<String>, host_port: u16, container_port: u16) -> Self {
        PortMapping {
            listen_address: listen_address.into(),
            host_port,
            container_port,
            protocol: Protocol::Tcp,
        }
    }

    /// `0.0.0.0:80->80/tcp`, as `docker ps` shows it.
    pub fn describe(&self) -> String {
        format!(
            "{}->{}/{}",
            join_host_port(self.listen_or_default(), self.host_port),
            self.container_port,
            self.protocol
        )
    }

    pub(crate) fn listen_or_default(&self) -> &str {
        if self.listen_address.is_empty() {
            "0.0.0.0"
        } else {
            &self.listen_address
        }
    }
}

/// Mount propagation of an extra mount (kind's `propagation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    /// Private (Docker's default).
    #[default]
    None,
    /// `rslave`.
    HostToContainer,
    /// `rshared`.
    Bidirectional,
}

/// kind's `extraMounts` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// A relative path is taken relative to the current directory (Docker needs absolute paths).
    pub host_path: PathBuf,
    pub container_path: String,
    pub read_only: bool,
    /// SELinux relabelling (`:Z`).
    pub selinux_relabel: bool,
    pub propagation: Propagation,
}

impl Mount {
    pub fn new(host_path: impl Into<PathBuf>, container_path: impl Into<String>) -> Self {
        Mount {
            host_path: host_path.into(),
            container_path: container_path.into(),
            read_only: false,
            selinux_relabel: false,
            propagation: Propagation::None,
        }
    }
}

/// Where a control plane (or the external load balancer) publishes the API server's port 6443.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiServerPublish {
    /// kind's `networking.apiServerAddress`, default `127.0.0.1`.
    pub listen_address: String,
    /// kind's `networking.apiServerPort`; 0 = a free port.
    pub host_port: u16,
}

/// Docker restart policy of a node container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    No,
    OnFailure(u32),
    /// The default: nodes come back after a daemon restart or host reboot, whatever their exit
    /// code, and stay down after an explicit `docker stop` (see the crate docs).
    #[default]
    UnlessStopped,
    Always,
}

/// Everything needed to create one node container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Container name and hostname, e.g. `kind-control-plane`.
    pub name: String,
    /// Cluster name, written to the `io.x-k8s.kind.cluster` label.
    pub cluster: String,
    pub role: Role,
    pub image: String,
    /// Docker network to attach to (`kind` by default); the node gets its own name as an alias.
    pub network: String,
    /// Extra container labels (the two kind labels are always set and win over these).
    pub labels: BTreeMap<String, String>,
    pub extra_mounts: Vec<Mount>,
    pub port_mappings: Vec<PortMapping>,
    /// Publish container port 6443 (control planes of single-control-plane clusters, and the
    /// external load balancer).
    pub api_server: Option<ApiServerPublish>,
    pub env: BTreeMap<String, String>,
    /// Overrides the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's command when non-empty.
    pub command: Vec<String>,
    /// Enable IPv6 in the node (kind's sysctls for IPv6 and dual-stack clusters).
    pub ipv6: bool,
    pub restart: RestartPolicy,
}

impl NodeSpec {
    /// A spec with kind's defaults: network `kind`, no mounts, no ports, restart unless-stopped.
    pub fn new(
        name: impl Into<String>,
        cluster: impl Into<String>,
        role: Role,
        image: impl Into<String>,
    ) -> Self {
        NodeSpec {
            name: name.into(),
            cluster: cluster.into(),
            role,
            image: image.into(),
            network: DEFAULT_NETWORK.to_string(),
            labels: BTreeMap::new(),
            extra_mounts: Vec::new(),
            port_mappings: Vec::new(),
            api_server: None,
            env: BTreeMap::new(),
            entrypoint: None,
            command: Vec::new(),
            ipv6: false,
            restart: RestartPolicy::default(),
        }
    }

    /// Every port this node publishes, the API server's included (last).
    pub fn all_port_mappings(&self) -> Vec<PortMapping> {
        let mut all = self.port_mappings.clone();
        if let Some(api) = &self.api_server {
            all.push(PortMapping {
                listen_address: api.listen_address.clone(),
                host_port: api.host_port,
                container_port: API_SERVER_INTERNAL_PORT,
                protocol: Protocol::Tcp,
            });
        }
        all
    }
}

/// A port a node container publishes on the host, as read back from the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub listen_address: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// A node container as it exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub id: String,
    /// `None` when the role label is missing or unknown.
    pub role: Option<Role>,
    pub cluster: String,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    /// Host port published for container port 6443/tcp, if any.
    pub api_server_host_port: Option<u16>,
    pub ports: Vec<PublishedPort>,
    /// Engine state: `created`, `running`, `restarting`, `exited`, `paused`, `dead`, …
    pub status: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
}

impl NodeInfo {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    /// The host port published for `container_port`/`protocol`, if any.
    pub fn host_port(&self, container_port: u16, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.container_port == container_port && p.protocol == protocol)
            .map(|p| p.host_port)
    }
}

/// The network node containers join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub name: String,
    pub id: String,
    pub ipv4_subnets: Vec<String>,
    pub ipv6_subnets: Vec<String>,
    pub mtu: Option<u32>,
    /// Whether this call created it (false: it was already there and is reused).
    pub created: bool,
}

/// What a command run in a node printed, and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    pub fn stdout_string(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_string(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// `Ok(self)` when the command exited 0, else [`ProviderError::CommandFailed`](crate::ProviderError::CommandFailed).
    pub fn check(self, node: &str, argv: &[&str]) -> Result<Self, crate::ProviderError> {
        if self.success() {
            Ok(self)
        } else {
            Err(crate::ProviderError::CommandFailed {
                node: node.to_string(),
                command: argv.join(" "),
                exit_code: self.exit_code,
                stderr: self.stderr_string().trim_end().to_string(),
            })
        }
    }
}

/// A stream of bytes coming in (stdin of an exec, a root filesystem tar to import).
pub type InputStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// Standard input of a command run with [`Provider::exec`](crate::Provider::exec).
#[derive(Default)]
pub enum Stdin {
    /// No stdin attached.
    #[default]
    None,
    /// These bytes, then end-of-file.
    Bytes(Bytes),
    /// Streamed as it comes (image tars of hundreds of MB), then end-of-file.
    Stream(InputStream),
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stdin::None => f.write_str("Stdin::None"),
            Stdin::Bytes(b) => write!(f, "Stdin::Bytes({} bytes)", b.len()),
            Stdin::Stream(_) => f.write_str("Stdin::Stream"),
        }
    }
}

impl From<Vec<u8>> for Stdin {
    fn from(v: Vec<u8>) -> Self {
        Stdin::Bytes(Bytes::from(v))
    }
}

impl From<Bytes> for Stdin {
    fn from(v: Bytes) -> Self {
        Stdin::Bytes(v)
    }
}

impl From<Option<Vec<u8>>> for Stdin {
    fn from(v: Option<Vec<u8>>) -> Self {
        v.map_or(Stdin::None, Stdin::from)
    }
}

impl From<&str> for Stdin {
    fn from(v: &str) -> Self {
        Stdin::Bytes(Bytes::copy_from_slice(v.as_bytes()))
    }
}

/// One file for [`Provider::copy_files`](crate::Provider::copy_files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileToCopy {
    /// Relative to the target directory; may contain `/` (sub-directories are created).
    pub path: String,
    pub contents: Bytes,
    /// Permission bits, e.g. `0o644`, `0o600` for keys, `0o755` for scripts.
    pub mode: u32,
}

impl FileToCopy {
    pub fn new(path: impl Into<String>, contents: impl Into<Bytes>, mode: u32) -> Self {
        FileToCopy {
            path: path.into(),
            contents: contents.into(),
            mode,
        }
    }
}

/// `host:port`, with brackets for IPv6 hosts.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
