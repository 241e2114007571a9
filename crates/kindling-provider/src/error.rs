//! Typed provider errors. Each message names the thing it is about (node, mapping, image, daemon
//! address) so a CLI can print it as is.

use std::io;

/// Everything a provider call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No container engine answers at the address in use.
    #[error(
        "Cannot connect to the Docker daemon at {host}. Is the docker daemon running? \
         (start it with `sudo systemctl start docker`, or `sudo dockerd &`; set DOCKER_HOST to use another daemon) [{detail}]"
    )]
    DaemonUnavailable { host: String, detail: String },

    /// The socket exists but this user may not use it.
    #[error(
        "permission denied while trying to connect to the Docker daemon socket at {host}: \
         add your user to the \"docker\" group (then log in again) or run as root"
    )]
    DaemonPermissionDenied { host: String },

    /// A container with the node's name exists already.
    #[error("{}", name_taken_message(.node, .existing_cluster))]
    NameTaken {
        /// The node (container) name asked for.
        node: String,
        /// The cluster the node was meant for.
        cluster: String,
        /// The cluster label of the container holding the name (`None`: not a kind/kindling node).
        existing_cluster: Option<String>,
    },

    /// A host port of a mapping is held by another container or process.
    #[error("node {node:?}: cannot publish {mapping}: {detail}")]
    PortAllocated {
        node: String,
        /// The mapping(s) concerned, `0.0.0.0:80->80/tcp` style.
        mapping: String,
        /// The engine's words, e.g. `Bind for 0.0.0.0:80 failed: port is already allocated`.
        detail: String,
    },

    /// The image is not present locally (kindling never pulls: no registry is assumed).
    #[error(
        "image {image:?} is not present locally: build it (`kindling build node-image`) or load it \
         (`docker load -i FILE`) first"
    )]
    ImageNotFound { image: String },

    #[error("node {node:?} not found (no container with that name)")]
    NodeNotFound { node: String },

    #[error("network {network:?} not found")]
    NetworkNotFound { network: String },

    #[error("command `{command}` failed on node {node:?} with exit code {exit_code}: {stderr}")]
    CommandFailed {
        node: String,
        command: String,
        exit_code: i64,
        stderr: String,
    },

    #[error("invalid node spec for {node:?}: {reason}")]
    InvalidSpec { node: String, reason: String },

    /// Any other engine error, with what was being done.
    #[error("{action}: {message}")]
    Engine {
        action: String,
        message: String,
        /// HTTP status from the engine, when it answered.
        status: Option<u16>,
        #[source]
        source: Option<bollard::errors::Error>,
    },

    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
}

fn name_taken_message(node: &str, existing_cluster: &Option<String>) -> String {
    match existing_cluster {
        Some(cluster) => format!("node(s) already exist for a cluster with the name {cluster:?}"),
        None => format!(
            "container name {node:?} is already in use by a container that is not a kind node: \
             remove it or choose another cluster name"
        ),
    }
}

impl ProviderError {
    /// The HTTP status the engine answered with, for [`ProviderError::Engine`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Engine { status, .. } => *status,
            _ => None,
        }
    }

    /// True when no daemon could be reached (the caller may want to stop right there).
    pub fn is_daemon_unavailable(&self) -> bool {
        matches!(
            self,
            ProviderError::DaemonUnavailable { .. } | ProviderError::DaemonPermissionDenied { .. }
        )
    }
}

pub type Result<T, E = ProviderError> = std::result::Result<T, E>;
