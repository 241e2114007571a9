//! Node providers: where kindling's node containers live.
//!
//! [`Provider`] is the seam (as kind's `providers.Provider`): create, list, exec into and delete
//! node containers, the network they share, and the images they run. [`DockerProvider`] implements
//! it over the Docker Engine API with bollard — no `docker` CLI is run. Podman and nerdctl can
//! follow behind the same trait.
//!
//! The trait is dyn-compatible (`Arc<dyn Provider>` can be picked at run time, as kind picks its
//! provider from `KIND_EXPERIMENTAL_PROVIDER`) without the `async_trait` macro: methods return
//! [`BoxFut`], a boxed `Send` future. One allocation per call is nothing next to an HTTP round trip
//! to the engine.
//!
//! # Decisions (see `docker` for the details)
//! - Containers look like kind's: kind's labels, hostname = name, user-defined network with the
//!   node name as alias, tmpfs `/tmp` and `/run`, an anonymous volume on `/var`, `/lib/modules`
//!   read-only, `--init=false`, a TTY.
//! - Restart policy `unless-stopped` (kind uses `on-failure:1`): nodes must come back after a
//!   daemon restart or host reboot. `on-failure` only restarts a container whose recorded exit
//!   code is non-zero and only while its retry count allows, so a node whose PID 1 shut down
//!   cleanly on SIGTERM (exit 0) would stay down; `unless-stopped` restarts it whatever the exit
//!   code, and still honours an explicit `docker stop` (a stopped HA control plane stays stopped).
//! - Privileges are detected once per process: a throwaway container of the node's image is
//!   started `--privileged`; if the engine refuses, the same probe runs with the explicit set
//!   (`--cap-add ALL --cap-drop SYS_RESOURCE`, seccomp/apparmor/systempaths unconfined); the first
//!   that starts is used for every node. Nothing is assumed from the host.
//! - cgroups follow the engine's `CgroupVersion`: v2 → private cgroup namespace (kind's default);
//!   v1 → host cgroup namespace with `/sys/fs/cgroup` bound read-write (a private namespace on v1
//!   gives read-only cgroup mounts that cannot be remounted).
//! - A host port of 0 is turned into a concrete free port before the container is created (when
//!   the engine is local), so the port stays the same after a restart — Docker re-picks "random"
//!   ports at every start, which would break the kubeconfig after a reboot (kind picks ports
//!   itself for the same reason). With a remote engine Docker picks and the port is read back.

mod archive;
pub mod docker;
mod error;
mod types;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub use docker::{CgroupVersion, DockerProvider, HostInfo, SecurityMode};
pub use error::{ProviderError, Result};
pub use types::*;

/// A boxed, `Send` future of a provider result.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A stream of bytes going out (`docker save` output).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'static>>;

impl Stdin {
    /// Streams another provider stream (e.g. [`Provider::save_images`]) into a command: the
    /// `kindling load docker-image` shape, `save_images` → `exec(node, ["ctr", …, "import", "-"])`.
    pub fn from_provider_stream(s: ByteStream) -> Stdin {
        use futures::TryStreamExt;
        Stdin::Stream(Box::pin(s.map_err(std::io::Error::other)))
    }
}

/// Where node containers live. See the crate docs for the behaviour every implementation keeps.
pub trait Provider: Send + Sync {
    /// `docker`, `podman`, … (used in messages and as the node's providerID prefix).
    fn name(&self) -> &'static str;

    /// Checks that the engine answers; [`ProviderError::DaemonUnavailable`] says how to start one.
    fn ping(&self) -> BoxFut<'_, ()>;

    /// Finds the network by name or creates it (a bridge with IP masquerading, a ULA IPv6 subnet
    /// derived from the name and an IPv4 subnet from the engine's pools, as kind does).
    fn ensure_network<'a>(&'a self, name: &'a str) -> BoxFut<'a, NetworkInfo>;

    /// Removes the network if it exists; returns whether it existed. (kind never removes `kind`;
    /// this is for tests and for private networks.)
    fn delete_network<'a>(&'a self, name: &'a str) -> BoxFut<'a, bool>;

    /// Creates and starts a node container. On failure nothing of it is left behind.
    fn create_node<'a>(&'a self, spec: &'a NodeSpec) -> BoxFut<'a, NodeInfo>;

    /// Node containers (running or not) of one cluster, or of every cluster; sorted by name.
    fn list_nodes<'a>(&'a self, cluster: Option<&'a str>) -> BoxFut<'a, Vec<NodeInfo>>;

    /// Names of the clusters that have at least one node container, sorted.
    fn list_clusters(&self) -> BoxFut<'_, Vec<String>>;

    /// Force-removes node containers and their anonymous volumes; absent ones are ignored.
    fn delete_nodes<'a>(&'a self, names: &'a [String]) -> BoxFut<'a, ()>;

    /// Replaces a node container by one running `image`, keeping its settings, its `/var`
    /// volume and its `/kindling` files, and starts it (`kindling upgrade cluster`). A running
    /// container is stopped first. On failure the old one is put back.
    fn replace_node<'a>(&'a self, name: &'a str, image: &'a str) -> BoxFut<'a, NodeInfo>;

    /// Starts a stopped node container.
    fn start_node<'a>(&'a self, name: &'a str) -> BoxFut<'a, ()>;

    /// Stops a node container (SIGTERM, then SIGKILL after `timeout_secs`).
    fn stop_node<'a>(&'a self, name: &'a str, timeout_secs: u32) -> BoxFut<'a, ()>;

    /// Runs `argv` in the node and collects its output; a non-zero exit is not an error here
    /// (see [`ExecOutput::check`]).
    fn exec<'a>(
        &'a self,
        node: &'a str,
        argv: &'a [&'a str],
        stdin: Stdin,
    ) -> BoxFut<'a, ExecOutput>;

    /// Writes files under `dir` in the node (created, with missing parents, when absent), as one
    /// tar upload. Files are owned by root.
    fn copy_files<'a>(
        &'a self,
        node: &'a str,
        dir: &'a str,
        files: Vec<FileToCopy>,
    ) -> BoxFut<'a, ()>;

    /// The engine's full description of the node container (`docker inspect`).
    fn inspect<'a>(&'a self, node: &'a str) -> BoxFut<'a, serde_json::Value>;

    /// The node container's output so far (`docker logs`).
    fn logs<'a>(&'a self, node: &'a str) -> BoxFut<'a, String>;

    /// The local image's ID (`sha256:…`), or `None` when it is not present.
    fn image_id<'a>(&'a self, image: &'a str) -> BoxFut<'a, Option<String>>;

    /// `docker save` of these images, as a tar stream (for `kindling load docker-image`).
    fn save_images(&self, images: &[String]) -> ByteStream;

    /// `docker import`: makes image `name` from a root filesystem tar; `changes` are Dockerfile
    /// instructions (`CMD ["sleep","infinity"]`, `ENTRYPOINT …`, `ENV …`). Returns the image ID.
    fn import_image<'a>(
        &'a self,
        name: &'a str,
        rootfs_tar: InputStream,
        changes: Vec<String>,
    ) -> BoxFut<'a, String>;

    /// Whether nothing listens on `listen:port` (TCP) on this host. Meaningful for local engines.
    fn is_port_free(&self, listen: &str, port: u16) -> bool {
        let host = if listen.is_empty() { "0.0.0.0" } else { listen };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => std::net::TcpListener::bind((ip, port)).is_ok(),
            Err(_) => std::net::TcpListener::bind((host, port)).is_ok(),
        }
    }
}
