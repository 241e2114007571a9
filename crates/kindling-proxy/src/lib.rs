//! kindling-proxy: the service proxy of every node, kube-proxy's iptables mode.
//!
//! The rules are decided without IO: [`model::build`] turns Services and EndpointSlices into
//! the ports to proxy and their endpoints, [`rules::render`] into an `iptables-restore` ruleset
//! for the nat and filter tables ([`save::Existing`] says what `iptables-save` found: stale
//! chains to delete, jumps already in place), and [`conntrack::stale_udp`] into the UDP flows
//! to forget. [`run`] is the thin IO part: it watches, syncs at most [`DEBOUNCE`] after a
//! change, applies the ruleset with one `iptables-restore --noflush`, and resyncs every
//! [`RESYNC`].

pub mod conntrack;
pub mod model;
pub mod rules;
pub mod save;
mod sync;

pub use rules::Node;
pub use sync::{run, Config, Exec, DEBOUNCE, RESYNC};
