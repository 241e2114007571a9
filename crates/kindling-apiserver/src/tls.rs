//! The TLS configurations the server's modules use, from kindling-pki.

pub(crate) use kindling_pki::{server_config, unverified_client};
