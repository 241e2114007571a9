//! kindling-pki: the certificates and TLS configurations every part of a cluster shares, with no
//! other kindling dependency, so that the node agent (kindling-kubelet) uses them without linking
//! the API server.
//!
//! - [`Ca`]: the cluster CA (generated, or loaded from `ca.crt`/`ca.key`), which signs serving
//!   and client certificates ([`CertPair`]).
//! - [`server_config`]: a rustls server that verifies optional client certificates against a CA.
//! - [`unverified_client`]: a rustls client that accepts any server certificate (the API server
//!   dialing node agents, HTTPS probes and hooks).

mod ca;
mod tls;

pub use ca::{
    inspect_request, new_request, validity, write_private, Ca, CertPair, Grant, RequestInfo,
};
pub use tls::{server_config, unverified_client};
