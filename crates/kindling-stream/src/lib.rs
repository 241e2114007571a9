//! Streaming for `kubectl exec`, `attach`, `cp` and `port-forward`.
//!
//! - `spdy`: SPDY/3.1 frames and header compression (no IO); its codec is exported for a peer
//!   that speaks SPDY itself ([`Codec`], [`Frame`]).
//! - [`translate`]: a client's WebSocket (the remotecommand channel protocol, or port-forward's
//!   SPDY tunnel) bridged to a SPDY connection with the node, as upstream's API server
//!   StreamTranslator and TunnelingHandler do (containerd speaks no `v5`).
//! - [`upgrade`]: proxying an HTTP upgrade byte for byte (the kubelet's and API server's
//!   UpgradeAwareHandler), and the WebSocket handshake answer.

mod spdy;
pub mod translate;
pub mod upgrade;

pub use spdy::{Codec, Frame, FrameError, Headers, FLAG_FIN};

/// The WebSocket implementation the bridges use, for callers that wrap an upgraded connection.
pub use tokio_tungstenite;
