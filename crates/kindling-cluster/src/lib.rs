//! kindling-cluster: what `kindling create/delete/get/load/export` do on the host.

pub mod kubeconfig;
pub mod status;
