//! Streaming for `kubectl exec`, `attach`, `cp` and `port-forward`.
//!
//! - [`spdy`]: SPDY/3.1 frames and header compression (no IO).
//! - [`channel`]: the remotecommand WebSocket channel protocol (`v4`/`v5.channel.k8s.io`).
//! - [`translate`]: a client's WebSocket stream bridged to a SPDY session with the node, as
//!   upstream's API server StreamTranslator does (containerd speaks no `v5`).
//! - [`upgrade`]: proxying an HTTP upgrade byte for byte (the kubelet's and API server's
//!   UpgradeAwareHandler), and the WebSocket handshake answer.

pub mod spdy;
