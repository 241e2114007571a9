//! kindling-dns: cluster DNS, what CoreDNS does in a kind cluster.
//!
//! [`zone`] computes answers from Services, EndpointSlices and Pods (pure, unit tested);
//! [`watch`] keeps a zone current from the API server with kube-rs reflectors; [`server`]
//! answers over UDP and TCP from it and forwards every other name to the node's resolver
//! ([`forward`], with a short negative cache). `kindling node` runs one on every node
//! ([`run`]), listening on the node's IP and on the kube-dns Service's ClusterIP.

pub mod forward;
pub mod server;
pub mod watch;
pub mod zone;

use anyhow::Context;
use server::Handler;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use zone::{Zone, ZoneConfig};

/// Where and how a node's DNS server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The cluster domain (`cluster.local`).
    pub domain: String,
    /// The kube-dns Service's ClusterIP.
    pub dns_ip: Option<IpAddr>,
    /// Addresses to answer on (port [`Config::port`], UDP and TCP).
    pub listen: Vec<IpAddr>,
    pub port: u16,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The node's resolvers (its resolv.conf's nameservers).
    pub upstreams: Vec<SocketAddr>,
}

/// A running server's parts: its handler (and counters) and the zone it publishes.
pub struct Running {
    pub handler: Arc<Handler>,
    pub zone: tokio::sync::watch::Sender<Arc<Zone>>,
    /// The UDP addresses actually bound (port 0 → the port the system chose).
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
}

/// A UDP socket and a TCP listener on the same address. With port 0 (tests) the system picks
/// the UDP port and the TCP listener takes the same number, which another program may hold:
/// then a fresh pair is tried.
async fn bind_pair(
    addr: SocketAddr,
) -> anyhow::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    const ATTEMPTS: usize = 20;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("binding udp {addr}"))?;
        let bound = socket.local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(listener) => return Ok((socket, listener)),
            Err(e) if addr.port() == 0 => last = Some((bound, e)),
            Err(e) => return Err(e).with_context(|| format!("binding tcp {bound}")),
        }
    }
    let (bound, e) = last.expect("ATTEMPTS > 0");
    Err(e).with_context(|| format!("binding tcp {bound}"))
}

/// Binds the listeners and starts answering from an unsynced (SERVFAIL in the zone) zone;
/// the caller publishes zones through [`Running::zone`].
pub async fn serve(config: &Config) -> anyhow::Result<Running> {
    let zone_config = ZoneConfig::new(&config.domain, config.dns_ip);
    let (tx, rx) = tokio::sync::watch::channel(Arc::new(Zone::unsynced(zone_config)));
    let handler = Arc::new(Handler::new(rx, config.upstreams.clone()));
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (mut udp, mut tcp) = (Vec::new(), Vec::new());
    for ip in &config.listen {
        let (socket, listener) = bind_pair(SocketAddr::new(*ip, config.port)).await?;
        let addr = socket.local_addr()?;
        udp.push(addr);
        tcp.push(listener.local_addr()?);
        server::serve_udp(socket, handler.clone(), workers);
        server::serve_tcp(listener, handler.clone());
    }
    if let Some(addr) = config.metrics {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => server::serve_metrics(listener, handler.clone()),
            Err(e) => tracing::warn!("dns: metrics on {addr}: {e}"),
        }
    }
    Ok(Running {
        handler,
        zone: tx,
        udp,
        tcp,
    })
}

/// Serves cluster DNS on a node: binds, then keeps the zone current from the API server.
pub async fn run(client: kube::Client, config: Config) -> anyhow::Result<()> {
    let running = serve(&config).await?;
    tracing::info!(
        "dns: serving {} on {:?}, forwarding to {:?}",
        config.domain,
        running.udp,
        config.upstreams
    );
    watch::run(
        client,
        ZoneConfig::new(&config.domain, config.dns_ip),
        running.zone,
    )
    .await;
    Ok(())
}
