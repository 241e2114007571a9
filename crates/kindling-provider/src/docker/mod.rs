//! The Docker provider: node containers through the Docker Engine API (bollard), the way kind's
//! `providers/docker` makes them with the CLI. See the crate docs for the decisions; `config` has
//! the container settings, `network` the `kind` network.

mod config;
mod network;
mod replace;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{ContainerSummary, ExecConfig};
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, CreateContainerOptionsBuilder, CreateImageOptions,
    ListContainersOptions, LogsOptions, RemoveContainerOptions, StopContainerOptions,
    UploadToContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

pub use config::{
    bind_string, mappings_in_message, node_container_body, probe_container_body, ula_subnet,
    CgroupVersion, HostInfo, ResolvedPort, SecurityMode, PROBE_LABEL,
};

use crate::archive;
use crate::error::{ProviderError, Result};
use crate::types::*;
use crate::{BoxFut, ByteStream, Provider};

/// Where the Docker CLI looks when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at creating a node when a port picked for `host_port: 0` was taken meanwhile.
const PORT_PICK_ATTEMPTS: usize = 5;

static PROBE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The Docker provider. Cheap to share (`Arc`) and to call concurrently: what it learns about the
/// engine (cgroup version, privilege mode) is learnt once and cached.
pub struct DockerProvider {
    pub(crate) docker: Docker,
    host: String,
    host_info: tokio::sync::OnceCell<HostInfo>,
    security: tokio::sync::Mutex<Option<SecurityMode>>,
}

/// The HTTP status of an engine answer, if the engine answered.
pub(crate) fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's own words for an error (without bollard's "Docker responded with status code" prefix).
fn message_of(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Maps a bollard error: transport failures become "daemon unavailable", engine answers keep
/// their status and message.
pub(crate) fn map_engine_err(
    host: &str,
    action: String,
    e: bollard::errors::Error,
) -> ProviderError {
    use bollard::errors::Error as E;
    if let E::SocketNotFoundError(path) = &e {
        return ProviderError::DaemonUnavailable {
            host: host.to_string(),
            detail: format!("socket {path} not found"),
        };
    }
    if !matches!(
        e,
        E::DockerResponseServerError { .. } | E::DockerStreamError { .. } | E::JsonDataError { .. }
    ) {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(ioe) = s.downcast_ref::<io::Error>() {
                match ioe.kind() {
                    io::ErrorKind::PermissionDenied => {
                        return ProviderError::DaemonPermissionDenied {
                            host: host.to_string(),
                        }
                    }
                    io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::NotFound
                    | io::ErrorKind::AddrNotAvailable => {
                        return ProviderError::DaemonUnavailable {
                            host: host.to_string(),
                            detail: ioe.to_string(),
                        }
                    }
                    _ => {}
                }
            }
            source = s.source();
        }
    }
    ProviderError::Engine {
        action,
        message: message_of(&e),
        status: status_of(&e),
        source: Some(e),
    }
}

/// The part of a port-conflict message that says it (`Bind for 0.0.0.0:80 failed: port is already allocated`).
fn port_conflict_detail(msg: &str) -> String {
    for marker in ["Bind for ", "listen tcp", "listen udp", "listen sctp"] {
        if let Some(i) = msg.find(marker) {
            return msg[i..].trim().to_string();
        }
    }
    msg.trim().to_string()
}

fn split_image_name(name: &str) -> (String, String) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (name.to_string(), "latest".to_string()),
    }
}

/// Turns `host_port: 0` into a free port of this host (kept fixed across restarts), while the
/// picks are held so two mappings never get the same port.
fn resolve_ports(mappings: &[PortMapping], local: bool) -> Vec<ResolvedPort> {
    let mut held_tcp = Vec::new();
    let mut held_udp = Vec::new();
    let mut out = Vec::new();
    for m in mappings {
        let host_port = if m.host_port != 0 {
            Some(m.host_port)
        } else if !local {
            None
        } else {
            let addr = m
                .listen_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            match (m.protocol, addr.parse::<std::net::IpAddr>()) {
                (Protocol::Tcp, Ok(ip)) => {
                    std::net::TcpListener::bind((ip, 0)).ok().and_then(|l| {
                        let p = l.local_addr().ok()?.port();
                        held_tcp.push(l);
                        Some(p)
                    })
                }
                (Protocol::Udp, Ok(ip)) => std::net::UdpSocket::bind((ip, 0)).ok().and_then(|s| {
                    let p = s.local_addr().ok()?.port();
                    held_udp.push(s);
                    Some(p)
                }),
                _ => None,
            }
        };
        out.push(ResolvedPort {
            mapping: m.clone(),
            host_port,
        });
    }
    out
}

fn validate(spec: &NodeSpec) -> Result<()> {
    let bad = |reason: String| {
        Err(ProviderError::InvalidSpec {
            node: spec.name.clone(),
            reason,
        })
    };
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if !valid_name(&spec.name) {
        return bad(format!(
            "container name {:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
            spec.name
        ));
    }
    if spec.cluster.is_empty() {
        return bad("cluster name is empty".into());
    }
    if spec.image.is_empty() {
        return bad("image is empty".into());
    }
    if spec.network.is_empty() {
        return bad("network is empty".into());
    }
    for m in spec.all_port_mappings() {
        if m.container_port == 0 {
            return bad(format!(
                "port mapping {} has container port 0",
                m.describe()
            ));
        }
    }
    for m in &spec.extra_mounts {
        if !m.container_path.starts_with('/') {
            return bad(format!(
                "extra mount container path {:?} is not absolute",
                m.container_path
            ));
        }
    }
    Ok(())
}

fn node_from_summary(c: ContainerSummary) -> NodeInfo {
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let mut nets: Vec<(String, bollard::models::EndpointSettings)> = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .collect();
    nets.sort_by(|a, b| a.0.cmp(&b.0));
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let ipv4 = nets.iter().find_map(|(_, e)| non_empty(&e.ip_address));
    let ipv6 = nets
        .iter()
        .find_map(|(_, e)| non_empty(&e.global_ipv6_address));
    let mut ports: Vec<PublishedPort> = Vec::new();
    for p in c.ports.unwrap_or_default() {
        let Some(host_port) = p.public_port else {
            continue;
        };
        let protocol = p
            .typ
            .map(|t| t.to_string())
            .and_then(|t| Protocol::parse(&t))
            .unwrap_or_default();
        let pp = PublishedPort {
            listen_address: p.ip.unwrap_or_default(),
            host_port,
            container_port: p.private_port,
            protocol,
        };
        if !ports.contains(&pp) {
            ports.push(pp);
        }
    }
    ports.sort_by(|a, b| {
        (
            a.container_port,
            a.protocol.as_str(),
            a.listen_address.contains(':'),
            a.host_port,
        )
            .cmp(&(
                b.container_port,
                b.protocol.as_str(),
                b.listen_address.contains(':'),
                b.host_port,
            ))
    });
    let api_server_host_port = ports
        .iter()
        .find(|p| p.container_port == API_SERVER_INTERNAL_PORT && p.protocol == Protocol::Tcp)
        .map(|p| p.host_port);
    NodeInfo {
        name,
        id: c.id.unwrap_or_default(),
        role: labels.get(ROLE_LABEL).and_then(|r| Role::parse(r)),
        cluster: labels.get(CLUSTER_LABEL).cloned().unwrap_or_default(),
        ipv4,
        ipv6,
        api_server_host_port,
        ports,
        status: c.state.map(|s| s.to_string()).unwrap_or_default(),
        image: c.image.unwrap_or_default(),
        labels,
    }
}

/// Why one create attempt failed.
enum CreateFailure {
    Ports {
        hits: Vec<ResolvedPort>,
        detail: String,
    },
    Other(ProviderError),
}

impl DockerProvider {
    /// Connects to the engine at `DOCKER_HOST` (default `unix:///var/run/docker.sock`) and agrees
    /// on an API version with it; fails with [`ProviderError::DaemonUnavailable`] when none answers.
    pub async fn connect() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string());
        Self::connect_with_host(&host).await
    }

    /// Connects to the engine at `host` (`unix://…`, `tcp://…`, `http://…`).
    pub async fn connect_with_host(host: &str) -> Result<Self> {
        let docker = Docker::connect_with_host(host)
            .map_err(|e| map_engine_err(host, format!("connecting to {host}"), e))?;
        let docker = match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(map_engine_err(host, format!("connecting to {host}"), e)),
            Err(_) => {
                return Err(ProviderError::DaemonUnavailable {
                    host: host.to_string(),
                    detail: format!("no answer within {}s", PING_TIMEOUT.as_secs()),
                })
            }
        };
        Ok(DockerProvider {
            docker,
            host: host.to_string(),
            host_info: tokio::sync::OnceCell::new(),
            security: tokio::sync::Mutex::new(None),
        })
    }

    /// Skips privilege detection and uses this mode for every node (an escape hatch for
    /// engines where the probe's answer is wrong).
    pub fn with_security_mode(self, mode: SecurityMode) -> Self {
        DockerProvider {
            security: tokio::sync::Mutex::new(Some(mode)),
            ..self
        }
    }

    /// The bollard client, for what the trait does not cover.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// The engine address in use (`unix:///var/run/docker.sock`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn engine_err(
        &self,
        action: impl Into<String>,
        e: bollard::errors::Error,
    ) -> ProviderError {
        map_engine_err(&self.host, action.into(), e)
    }

    /// What the engine says about itself that matters for nodes (read once).
    pub async fn host_info(&self) -> Result<HostInfo> {
        self.host_info
            .get_or_try_init(|| async {
                let info = self
                    .docker
                    .info()
                    .await
                    .map_err(|e| self.engine_err("reading the engine's info", e))?;
                Ok(HostInfo::from_info(
                    info.cgroup_version.map(|v| v.to_string()).as_deref(),
                    &info.security_options.unwrap_or_default(),
                    info.driver.as_deref(),
                    &info.driver_status.unwrap_or_default(),
                    self.host.starts_with("unix://"),
                    info.server_version.unwrap_or_default(),
                ))
            })
            .await
            .cloned()
    }

    /// How nodes get their privileges on this engine: decided by the first call (a throwaway
    /// container of `spec`'s image started `--privileged`, then with the explicit capability set
    /// if that is refused) and cached for the life of the provider. When neither probe starts,
    /// the failure has another cause: privileged is returned, not cached, and the node's own
    /// creation reports the real error.
    pub async fn security_mode(&self, spec: &NodeSpec) -> Result<SecurityMode> {
        let mut known = self.security.lock().await;
        if let Some(mode) = *known {
            return Ok(mode);
        }
        let host = self.host_info().await?;
        if self.probe(spec, &host, SecurityMode::Privileged).await? {
            tracing::debug!("node containers run --privileged");
            *known = Some(SecurityMode::Privileged);
            return Ok(SecurityMode::Privileged);
        }
        if self
            .probe(spec, &host, SecurityMode::ExplicitCapabilities)
            .await?
        {
            tracing::info!(
                "the engine refuses --privileged containers: node containers run with --cap-add ALL --cap-drop \
                 SYS_RESOURCE and seccomp/apparmor/systempaths unconfined instead"
            );
            *known = Some(SecurityMode::ExplicitCapabilities);
            return Ok(SecurityMode::ExplicitCapabilities);
        }
        Ok(SecurityMode::Privileged)
    }

    /// Creates and starts a throwaway container with these privileges; true when it started.
    async fn probe(&self, spec: &NodeSpec, host: &HostInfo, mode: SecurityMode) -> Result<bool> {
        let name = format!(
            "kindling-probe-{}-{}",
            std::process::id(),
            PROBE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        if let Err(e) = self
            .docker
            .create_container(Some(opts), probe_container_body(spec, host, mode))
            .await
        {
            return Err(self.create_error(spec, e).await);
        }
        let started = self.docker.start_container(&name, None).await;
        self.remove_quietly(&name).await;
        match started {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::debug!(?mode, error = %message_of(&e), "privilege probe did not start");
                Ok(false)
            }
        }
    }

    async fn remove_quietly(&self, name: &str) {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        if let Err(e) = self.docker.remove_container(name, Some(opts)).await {
            if status_of(&e) != Some(404) {
                tracing::warn!(container = name, error = %message_of(&e), "could not remove container");
            }
        }
    }

    /// The cluster label of an existing container, if it has one.
    async fn cluster_of(&self, name: &str) -> Option<String> {
        let c = self.docker.inspect_container(name, None).await.ok()?;
        c.config?.labels?.get(CLUSTER_LABEL).cloned()
    }

    async fn create_error(&self, spec: &NodeSpec, e: bollard::errors::Error) -> ProviderError {
        let msg = message_of(&e);
        match status_of(&e) {
            Some(409) => ProviderError::NameTaken {
                node: spec.name.clone(),
                cluster: spec.cluster.clone(),
                existing_cluster: self.cluster_of(&spec.name).await,
            },
            Some(404) if msg.contains("No such image") || msg.contains("image") => {
                ProviderError::ImageNotFound {
                    image: spec.image.clone(),
                }
            }
            Some(404) if msg.contains("network") => ProviderError::NetworkNotFound {
                network: spec.network.clone(),
            },
            _ => self.engine_err(format!("creating node {:?}", spec.name), e),
        }
    }

    async fn create_and_start(
        &self,
        spec: &NodeSpec,
        host: &HostInfo,
        security: SecurityMode,
        ports: &[ResolvedPort],
    ) -> std::result::Result<NodeInfo, CreateFailure> {
        let body = node_container_body(spec, host, security, ports);
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = match self.docker.create_container(Some(opts), body).await {
            Ok(c) => c,
            Err(e) => return Err(CreateFailure::Other(self.create_error(spec, e).await)),
        };
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let msg = message_of(&e);
            self.remove_quietly(&created.id).await;
            if config::is_port_conflict(&msg) {
                let hits = mappings_in_message(&msg, ports)
                    .into_iter()
                    .cloned()
                    .collect();
                return Err(CreateFailure::Ports {
                    hits,
                    detail: port_conflict_detail(&msg),
                });
            }
            if status_of(&e) == Some(404) && msg.contains("network") {
                // engines check the network when starting, not when creating
                return Err(CreateFailure::Other(ProviderError::NetworkNotFound {
                    network: spec.network.clone(),
                }));
            }
            return Err(CreateFailure::Other(
                self.engine_err(format!("starting node {:?}", spec.name), e),
            ));
        }
        self.node_by_id(&created.id)
            .await
            .map_err(CreateFailure::Other)
    }

    async fn node_by_id(&self, id: &str) -> Result<NodeInfo> {
        let filters = HashMap::from([("id".to_string(), vec![id.to_string()])]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.engine_err("listing containers", e))?;
        list.into_iter()
            .next()
            .map(node_from_summary)
            .ok_or_else(|| ProviderError::NodeNotFound {
                node: id.to_string(),
            })
    }

    async fn do_create_node(&self, spec: &NodeSpec) -> Result<NodeInfo> {
        validate(spec)?;
        let host = self.host_info().await?;
        if self.do_image_id(&spec.image).await?.is_none() {
            return Err(ProviderError::ImageNotFound {
                image: spec.image.clone(),
            });
        }
        let security = match spec.role {
            // kind's load balancer needs no privileges; nothing to detect for it
            Role::ExternalLoadBalancer => SecurityMode::Privileged,
            _ => self.security_mode(spec).await?,
        };
        let mappings = spec.all_port_mappings();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ports = resolve_ports(&mappings, host.local);
            match self.create_and_start(spec, &host, security, &ports).await {
                Ok(info) => return Ok(info),
                Err(CreateFailure::Other(e)) => return Err(e),
                Err(CreateFailure::Ports { hits, detail }) => {
                    // a port we picked for `host_port: 0` was taken in between: pick again
                    let only_picked = hits.iter().all(|h| h.mapping.host_port == 0);
                    if only_picked && attempt < PORT_PICK_ATTEMPTS {
                        tracing::debug!(node = %spec.name, %detail, "picked host port was taken meanwhile; picking again");
                        continue;
                    }
                    let mapping = hits
                        .iter()
                        .map(|h| {
                            let mut m = h.mapping.clone();
                            m.host_port = h.host_port.unwrap_or(0);
                            m.describe()
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ProviderError::PortAllocated {
                        node: spec.name.clone(),
                        mapping,
                        detail,
                    });
                }
            }
        }
    }

    async fn do_list_nodes(&self, cluster: Option<&str>) -> Result<Vec<NodeInfo>> {
        let label = match cluster {
            Some(c) => format!("{CLUSTER_LABEL}={c}"),
            None => CLUSTER_LABEL.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.engine_err("listing node containers", e))?;
        let mut nodes: Vec<NodeInfo> = list.into_iter().map(node_from_summary).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    async fn do_delete_nodes(&self, names: &[String]) -> Result<()> {
        // A replaced node's /var is bound by name, which `-v` leaves behind: removed after.
        let volumes = self.var_volumes(names).await;
        let results = futures::future::join_all(names.iter().map(|name| async move {
            let opts = RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            };
            match self.docker.remove_container(name, Some(opts)).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                Err(e) => Err(self.engine_err(format!("deleting node {name:?}"), e)),
            }
        }))
        .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        for volume in volumes {
            match self
                .docker
                .remove_volume(
                    &volume,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
            {
                Ok(()) => {}
                Err(e) if status_of(&e) == Some(404) => {}
                Err(e) => tracing::warn!("removing volume {volume}: {e}"),
            }
        }
        Ok(())
    }

    fn not_found_or(&self, node: &str, action: String, e: bollard::errors::Error) -> ProviderError {
        if status_of(&e) == Some(404) {
            ProviderError::NodeNotFound {
                node: node.to_string(),
            }
        } else {
            self.engine_err(action, e)
        }
    }

    async fn do_exec(&self, node: &str, argv: &[&str], stdin: Stdin) -> Result<ExecOutput> {
        let has_stdin = !matches!(stdin, Stdin::None);
        // Not `--privileged` as kind's `docker exec` is: an exec inherits the node container's
        // capabilities anyway, and a privileged exec fails where privileged containers do.
        let cfg = ExecConfig {
            cmd: Some(argv.iter().map(std::string::ToString::to_string).collect()),
            attach_stdin: Some(has_stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let action = || format!("running `{}` in node {node:?}", argv.join(" "));
        let exec = self.docker.create_exec(node, cfg).await.map_err(|e| {
            if status_of(&e) == Some(404) {
                ProviderError::NodeNotFound {
                    node: node.to_string(),
                }
            } else {
                self.engine_err(action(), e)
            }
        })?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(|e| self.engine_err(action(), e))?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return Err(ProviderError::Engine {
                action: action(),
                message: "exec detached unexpectedly".into(),
                status: None,
                source: None,
            });
        };
        let writer = async move {
            let result: io::Result<()> = async {
                match stdin {
                    Stdin::None => return Ok(()),
                    Stdin::Bytes(b) => input.write_all(&b).await?,
                    Stdin::Stream(mut s) => {
                        while let Some(chunk) = s.next().await {
                            input.write_all(&chunk?).await?;
                        }
                    }
                }
                input.flush().await?;
                input.shutdown().await
            }
            .await;
            result
        };
        let reader = async {
            let mut out = ExecOutput::default();
            while let Some(item) = output.next().await {
                match item.map_err(|e| self.engine_err(action(), e))? {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        out.stdout.extend_from_slice(&message);
                    }
                    LogOutput::StdErr { message } => out.stderr.extend_from_slice(&message),
                    LogOutput::StdIn { .. } => {}
                }
            }
            Ok::<_, ProviderError>(out)
        };
        // Output ends when the command has exited; stdin it did not read is then dropped (the
        // engine stops reading it, so waiting for the writer would hang).
        let mut writer = std::pin::pin!(writer);
        let mut reader = std::pin::pin!(reader);
        let mut written: Option<io::Result<()>> = None;
        let read = loop {
            tokio::select! {
                r = &mut reader => break r,
                w = &mut writer, if written.is_none() => written = Some(w),
            }
        };
        let mut out = read?;
        if let Some(Err(e)) = written {
            // the command may exit without reading all its input (a broken pipe is its answer);
            // anything else about a stream we were given is the caller's to know
            if !matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) {
                return Err(ProviderError::Io {
                    action: format!("sending stdin to `{}` in node {node:?}", argv.join(" ")),
                    source: e,
                });
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| self.engine_err(action(), e))?;
        out.exit_code = inspect.exit_code.unwrap_or(-1);
        Ok(out)
    }

    async fn do_copy_files(&self, node: &str, dir: &str, files: Vec<FileToCopy>) -> Result<()> {
        let invalid = |reason: String| ProviderError::InvalidSpec {
            node: node.to_string(),
            reason,
        };
        let comps = archive::dir_components(dir).map_err(invalid)?;
        // the deepest directory that exists: the upload lands there, the rest is in the tar
        let mut existing = comps.len();
        loop {
            let path = format!("/{}", comps[..existing].join("/"));
            match self
                .docker
                .get_container_archive_info(node, Some(ContainerArchiveInfoOptions { path }))
                .await
            {
                Ok(_) => break,
                Err(e) if status_of(&e) == Some(404) && existing > 0 => existing -= 1,
                Err(e) => {
                    return Err(self.not_found_or(
                        node,
                        format!("copying files to {dir} in node {node:?}"),
                        e,
                    ))
                }
            }
        }
        let tar = archive::build_tar(&comps[existing..], &files).map_err(invalid)?;
        let path = format!("/{}", comps[..existing].join("/"));
        self.docker
            .upload_to_container(
                node,
                Some(UploadToContainerOptions {
                    path,
                    ..Default::default()
                }),
                bollard::body_full(Bytes::from(tar)),
            )
            .await
            .map_err(|e| {
                self.not_found_or(node, format!("copying files to {dir} in node {node:?}"), e)
            })
    }

    async fn do_logs(&self, node: &str) -> Result<String> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "all".into(),
            ..Default::default()
        };
        let chunks: Vec<LogOutput> = self
            .docker
            .logs(node, Some(opts))
            .try_collect()
            .await
            .map_err(|e| self.not_found_or(node, format!("reading logs of node {node:?}"), e))?;
        let mut bytes = Vec::new();
        for c in chunks {
            bytes.extend_from_slice(&c.into_bytes());
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn do_image_id(&self, image: &str) -> Result<Option<String>> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.id),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.engine_err(format!("inspecting image {image:?}"), e)),
        }
    }

    async fn do_import_image(
        &self,
        name: &str,
        rootfs_tar: InputStream,
        changes: Vec<String>,
    ) -> Result<String> {
        let (repo, tag) = split_image_name(name);
        let opts = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo),
            tag: Some(tag),
            changes,
            ..Default::default()
        };
        let mut progress =
            self.docker
                .create_image(Some(opts), Some(bollard::body_try_stream(rootfs_tar)), None);
        while let Some(item) = progress.next().await {
            item.map_err(|e| self.engine_err(format!("importing image {name:?}"), e))?;
        }
        self.do_image_id(name)
            .await?
            .ok_or_else(|| ProviderError::ImageNotFound {
                image: name.to_string(),
            })
    }
}

impl Provider for DockerProvider {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn ping(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            match tokio::time::timeout(PING_TIMEOUT, self.docker.ping()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(self.engine_err("pinging the engine", e)),
                Err(_) => Err(ProviderError::DaemonUnavailable {
                    host: self.host.clone(),
                    detail: format!("no answer within {}s", PING_TIMEOUT.as_secs()),
                }),
            }
        })
    }

    fn ensure_network<'a>(&'a self, name: &'a str) -> BoxFut<'a, NetworkInfo> {
        Box::pin(self.do_ensure_network(name))
    }

    fn delete_network<'a>(&'a self, name: &'a str) -> BoxFut<'a, bool> {
        Box::pin(self.do_delete_network(name))
    }

    fn create_node<'a>(&'a self, spec: &'a NodeSpec) -> BoxFut<'a, NodeInfo> {
        Box::pin(self.do_create_node(spec))
    }

    fn list_nodes<'a>(&'a self, cluster: Option<&'a str>) -> BoxFut<'a, Vec<NodeInfo>> {
        Box::pin(self.do_list_nodes(cluster))
    }

    fn list_clusters(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            let nodes = self.do_list_nodes(None).await?;
            let set: BTreeSet<String> = nodes
                .into_iter()
                .map(|n| n.cluster)
                .filter(|c| !c.is_empty())
                .collect();
            Ok(set.into_iter().collect())
        })
    }

    fn delete_nodes<'a>(&'a self, names: &'a [String]) -> BoxFut<'a, ()> {
        Box::pin(self.do_delete_nodes(names))
    }

    fn replace_node<'a>(&'a self, name: &'a str, image: &'a str) -> BoxFut<'a, NodeInfo> {
        Box::pin(self.do_replace_node(name, image))
    }

    fn start_node<'a>(&'a self, name: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.docker
                .start_container(name, None)
                .await
                .map_err(|e| self.not_found_or(name, format!("starting node {name:?}"), e))
        })
    }

    fn stop_node<'a>(&'a self, name: &'a str, timeout_secs: u32) -> BoxFut<'a, ()> {
        Box::pin(async move {
            let opts = StopContainerOptions {
                t: Some(timeout_secs as i32),
                signal: None,
            };
            self.docker
                .stop_container(name, Some(opts))
                .await
                .map_err(|e| self.not_found_or(name, format!("stopping node {name:?}"), e))
        })
    }

    fn exec<'a>(
        &'a self,
        node: &'a str,
        argv: &'a [&'a str],
        stdin: Stdin,
    ) -> BoxFut<'a, ExecOutput> {
        Box::pin(self.do_exec(node, argv, stdin))
    }

    fn copy_files<'a>(
        &'a self,
        node: &'a str,
        dir: &'a str,
        files: Vec<FileToCopy>,
    ) -> BoxFut<'a, ()> {
        Box::pin(self.do_copy_files(node, dir, files))
    }

    fn inspect<'a>(&'a self, node: &'a str) -> BoxFut<'a, serde_json::Value> {
        Box::pin(async move {
            let c = self
                .docker
                .inspect_container(node, None)
                .await
                .map_err(|e| self.not_found_or(node, format!("inspecting node {node:?}"), e))?;
            serde_json::to_value(c).map_err(|e| ProviderError::Engine {
                action: format!("inspecting node {node:?}"),
                message: e.to_string(),
                status: None,
                source: None,
            })
        })
    }

    fn logs<'a>(&'a self, node: &'a str) -> BoxFut<'a, String> {
        Box::pin(self.do_logs(node))
    }

    fn image_id<'a>(&'a self, image: &'a str) -> BoxFut<'a, Option<String>> {
        Box::pin(self.do_image_id(image))
    }

    fn save_images(&self, images: &[String]) -> ByteStream {
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let host = self.host.clone();
        let action = format!("saving images {}", images.join(" "));
        Box::pin(
            self.docker
                .export_images(&names)
                .map_err(move |e| map_engine_err(&host, action.clone(), e)),
        )
    }

    fn import_image<'a>(
        &'a self,
        name: &'a str,
        rootfs_tar: InputStream,
        changes: Vec<String>,
    ) -> BoxFut<'a, String> {
        Box::pin(self.do_import_image(name, rootfs_tar, changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(
            split_image_name("kindling/node:v1.35.0"),
            ("kindling/node".into(), "v1.35.0".into())
        );
        assert_eq!(
            split_image_name("busybox"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_image_name("localhost:5000/x"),
            ("localhost:5000/x".into(), "latest".into())
        );
    }

    #[test]
    fn conflict_detail() {
        assert_eq!(
            port_conflict_detail("driver failed programming external connectivity on endpoint n (x): Bind for 0.0.0.0:80 failed: port is already allocated"),
            "Bind for 0.0.0.0:80 failed: port is already allocated"
        );
    }

    #[test]
    fn picked_ports_are_distinct_and_fixed_ones_kept() {
        let ms = vec![
            PortMapping::tcp("127.0.0.1", 0, 80),
            PortMapping::tcp("127.0.0.1", 0, 81),
            PortMapping::tcp("", 8080, 82),
        ];
        let r = resolve_ports(&ms, true);
        let (a, b) = (r[0].host_port.unwrap(), r[1].host_port.unwrap());
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(r[2].host_port, Some(8080));
        assert!(
            resolve_ports(&ms, false)[0].host_port.is_none(),
            "a remote engine picks itself"
        );
    }

    #[test]
    fn spec_validation() {
        let ok = NodeSpec::new("kind-worker", "kind", Role::Worker, "img");
        assert!(validate(&ok).is_ok());
        let mut bad = ok.clone();
        bad.name = "-x".into();
        assert!(matches!(
            validate(&bad),
            Err(ProviderError::InvalidSpec { .. })
        ));
        let mut bad = ok.clone();
        bad.extra_mounts.push(Mount::new("/a", "rel"));
        assert!(validate(&bad).is_err());
        let mut bad = ok;
        bad.port_mappings.push(PortMapping::tcp("", 80, 0));
        assert!(validate(&bad).is_err());
    }

    #[test]
    fn daemon_errors_read_well() {
        let e = map_engine_err(
            DEFAULT_DOCKER_HOST,
            "x".into(),
            bollard::errors::Error::SocketNotFoundError("/var/run/docker.sock".into()),
        );
        assert!(e.is_daemon_unavailable());
        assert!(e
            .to_string()
            .starts_with("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"));
        let e = map_engine_err(
            DEFAULT_DOCKER_HOST,
            "creating node \"n\"".into(),
            bollard::errors::Error::DockerResponseServerError {
                status_code: 500,
                message: "boom".into(),
            },
        );
        assert_eq!(e.to_string(), "creating node \"n\": boom");
        assert_eq!(e.status(), Some(500));
    }
}
