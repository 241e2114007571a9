//! kind's cluster config (`kind: Cluster`, `apiVersion: kind.x-k8s.io/v1alpha4`) for kindling.
//!
//! Pure: no IO but reading the file given to [`Config::load_file`].
//!
//! ```no_run
//! use kindling_config::{resolve_name, Config, ResolveOptions};
//! let config = Config::load_file("cluster01-kind.yaml")?; // or Config::parse(STDIN_NAME, &text)
//! let name = resolve_name(Some("cluster01"), std::env::var("KIND_CLUSTER_NAME").ok().as_deref(),
//!                         Some(config.cluster.name.as_str()));
//! let cluster = config.resolve(&ResolveOptions { name, default_image: "kindling/node".into(), ..Default::default() })?;
//! for w in &cluster.warnings { eprintln!("WARNING: {}", w.with_source(&config.source.name)); }
//! # Ok::<(), kindling_config::ConfigErrors>(())
//! ```
//!
//! - [`Config::parse`] / [`Config::load_file`]: kind's loader — `apiVersion` and `kind` first
//!   (kind's `unknown apiVersion: …` / `unknown kind … for apiVersion: …`), then a strict decode
//!   (`unknown field "nodez"`), every error as `file:line:column: field: message`.
//! - [`Config::resolve`]: the name (`--name` > `KIND_CLUSTER_NAME` > `name` > `kind`, see
//!   [`resolve_name`]), `--image`, kind's defaults ([`set_defaults`]), kind's validation with
//!   its messages, the kubeadm patches interpreted ([`kubeadm`]), containerd patches checked;
//!   gives the [`ResolvedCluster`] the create pipeline works from.

mod cidr;
mod containerd;
mod defaults;
mod error;
pub mod kubeadm;
mod labels;
mod load;
mod resolve;
mod source;
mod types;
mod validate;

pub use cidr::{Cidr, CidrError};
pub use defaults::{set_defaults, DEFAULT_CLUSTER_NAME};
pub use error::{ConfigError, ConfigErrors, Location, Warning};
pub use kubeadm::{interpret, Interpreted, NodeInterpretation, Patched};
pub use labels::{parse_node_labels, parse_register_with_taints, Taint};
pub use load::{Config, STDIN_NAME};
pub use resolve::{
    load_balancer_name, node_names, resolve_name, ApiServer, IpFamily, Propagation, Protocol,
    ProxyMode, ResolveOptions, ResolvedCluster, ResolvedMount, ResolvedNetworking, ResolvedNode,
    ResolvedPortMapping, Role,
};
pub use source::Source;
pub use types::*;
pub use validate::{validate_cluster_name, CLUSTER_NAME_MAX, CLUSTER_NAME_PATTERN};
