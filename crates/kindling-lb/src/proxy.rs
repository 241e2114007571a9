//! The balancer: one listener per frontend port and protocol. TCP: each connection sent to the next healthy
//! backend (round robin; on a failed connect the next one is tried), bytes copied both ways
//! until either side closes. Health: a TCP connect to every backend each second (500 ms
//! timeout); a backend that fails is skipped until it answers again; when none is healthy, all
//! are tried (better a slow answer than none, as HAProxy's `option allbackups`-less default).
//! A new configuration changes backends at once and opens/closes listeners; connections already
//! established are never cut. UDP: datagrams relayed per client address to a backend chosen in
//! turn when the client is new (no health checks: a TCP connect says nothing of a UDP port).

use crate::{Config, Frontend, Protocol};
use arc_swap::ArcSwap;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A TLS handshake and a `/readyz` that asks the store take longer than a connect.
const HTTPS_CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// A UDP client with no datagram either way for this long loses its backend socket (as
/// conntrack forgets an unreplied UDP flow after 30 s, a replied one later).
const UDP_IDLE: Duration = Duration::from_secs(60);
const UDP_MAX_DATAGRAM: usize = 65_535;

/// Health of every backend address, shared by all frontends.
#[derive(Default)]
pub struct Health {
    healthy: Mutex<HashMap<SocketAddr, Arc<AtomicBool>>>,
    /// `Some(path)`: HTTPS `GET path` checks (see `https_check`), else TCP connects.
    https_path: ArcSwap<Option<String>>,
}

impl Health {
    fn flag(&self, addr: SocketAddr) -> Arc<AtomicBool> {
        let mut map = self
            .healthy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // New backends start healthy: traffic flows before the first check.
        map.entry(addr)
            .or_insert_with(|| Arc::new(AtomicBool::new(true)))
            .clone()
    }

    pub fn is_healthy(&self, addr: SocketAddr) -> bool {
        self.flag(addr).load(Ordering::Relaxed)
    }

    fn addresses(&self) -> Vec<(SocketAddr, Arc<AtomicBool>)> {
        self.healthy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(a, f)| (*a, f.clone()))
            .collect()
    }

    fn retain(&self, keep: &HashSet<SocketAddr>) {
        self.healthy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|a, _| keep.contains(a));
    }
}

/// The order to try backends in for one connection: healthy ones from the round-robin
/// position on, or all of them when none is healthy.
pub fn try_order(
    backends: &[SocketAddr],
    healthy: &dyn Fn(SocketAddr) -> bool,
    start: usize,
) -> Vec<SocketAddr> {
    if backends.is_empty() {
        return Vec::new();
    }
    let rotated: Vec<SocketAddr> = (0..backends.len())
        .map(|i| backends[(start + i) % backends.len()])
        .collect();
    let up: Vec<SocketAddr> = rotated.iter().copied().filter(|a| healthy(*a)).collect();
    if up.is_empty() {
        rotated
    } else {
        up
    }
}

struct Listener {
    backends: Arc<ArcSwap<Vec<SocketAddr>>>,
    task: JoinHandle<()>,
}

/// A running balancer; [`Balancer::apply`] moves it to a new configuration.
pub struct Balancer {
    health: Arc<Health>,
    listeners: HashMap<(u16, Protocol), Listener>,
    bind: std::net::IpAddr,
    _checker: JoinHandle<()>,
}

impl Balancer {
    /// A balancer listening on `bind` (port numbers from the frontends).
    pub fn new(bind: std::net::IpAddr) -> Balancer {
        let health = Arc::new(Health::default());
        let checker = tokio::spawn(check_forever(health.clone()));
        Balancer {
            health,
            listeners: HashMap::new(),
            bind,
            _checker: checker,
        }
    }

    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Opens, changes and closes listeners to match `config`. A port that cannot be bound is
    /// reported and left out (tried again at the next apply).
    pub async fn apply(&mut self, config: &Config) -> Vec<String> {
        let mut errors = Vec::new();
        let wanted: HashMap<(u16, Protocol), &Frontend> = config
            .frontends
            .iter()
            .map(|f| ((f.port, f.protocol), f))
            .collect();
        self.listeners.retain(|key, l| {
            let keep = wanted.contains_key(key);
            if !keep {
                l.task.abort();
            }
            keep
        });
        self.health
            .https_path
            .store(Arc::new(config.https_health_path.clone()));
        let mut all = HashSet::new();
        for (key, frontend) in wanted {
            let (port, protocol) = key;
            // Health is a TCP connect: UDP backends are not checked (all are used in turn).
            if protocol == Protocol::Tcp {
                all.extend(frontend.backends.iter().copied());
                for b in &frontend.backends {
                    self.health.flag(*b);
                }
            }
            if let Some(l) = self.listeners.get(&key) {
                l.backends.store(Arc::new(frontend.backends.clone()));
                continue;
            }
            let backends = Arc::new(ArcSwap::from_pointee(frontend.backends.clone()));
            let addr = SocketAddr::new(self.bind, port);
            let task = match protocol {
                Protocol::Tcp => TcpListener::bind(addr).await.map(|listener| {
                    tokio::spawn(accept_forever(
                        listener,
                        backends.clone(),
                        self.health.clone(),
                    ))
                }),
                Protocol::Udp => UdpSocket::bind(addr)
                    .await
                    .map(|socket| tokio::spawn(relay_udp_forever(socket, backends.clone()))),
            };
            match task {
                Ok(task) => {
                    self.listeners.insert(key, Listener { backends, task });
                }
                Err(e) => errors.push(format!("binding port {port}/{protocol:?}: {e}")),
            }
        }
        self.health.retain(&all);
        errors
    }

    /// The ports listened on.
    pub fn ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self.listeners.keys().map(|(port, _)| *port).collect();
        p.sort_unstable();
        p
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        for l in self.listeners.values() {
            l.task.abort();
        }
        self._checker.abort();
    }
}

async fn accept_forever(
    listener: TcpListener,
    backends: Arc<ArcSwap<Vec<SocketAddr>>>,
    health: Arc<Health>,
) {
    let next = AtomicUsize::new(0);
    loop {
        let (mut client, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("lb: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let order = try_order(
            &backends.load(),
            &|a| health.is_healthy(a),
            next.fetch_add(1, Ordering::Relaxed),
        );
        let health = health.clone();
        tokio::spawn(async move {
            for addr in order {
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                    Ok(Ok(mut upstream)) => {
                        let _ = client.set_nodelay(true);
                        let _ = upstream.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        return;
                    }
                    _ => {
                        health.flag(addr).store(false, Ordering::Relaxed);
                        tracing::debug!("lb: {peer} → {addr}: connect failed");
                    }
                }
            }
            tracing::debug!("lb: {peer}: no backend answered");
        });
    }
}

/// UDP: each client address gets a socket of its own connected to the next backend in turn;
/// its datagrams go there and the backend's replies come back from the frontend's port. A
/// client quiet for [`UDP_IDLE`] is forgotten (its next datagram picks a backend again).
async fn relay_udp_forever(socket: UdpSocket, backends: Arc<ArcSwap<Vec<SocketAddr>>>) {
    let socket = Arc::new(socket);
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let next = AtomicUsize::new(0);
    let mut buf = vec![0u8; UDP_MAX_DATAGRAM];
    loop {
        let (n, client) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("lb: udp receive: {e}");
                continue;
            }
        };
        let known = sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&client)
            .cloned();
        let upstream = match known {
            Some(u) => u,
            None => {
                let list = backends.load();
                if list.is_empty() {
                    continue;
                }
                let backend = list[next.fetch_add(1, Ordering::Relaxed) % list.len()];
                let local = if backend.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let upstream = match UdpSocket::bind(local).await {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::debug!("lb: udp socket: {e}");
                        continue;
                    }
                };
                if let Err(e) = upstream.connect(backend).await {
                    tracing::debug!("lb: udp {client} → {backend}: {e}");
                    continue;
                }
                let upstream = Arc::new(upstream);
                sessions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(client, upstream.clone());
                tokio::spawn(udp_replies(
                    upstream.clone(),
                    socket.clone(),
                    client,
                    sessions.clone(),
                ));
                upstream
            }
        };
        if let Err(e) = upstream.send(&buf[..n]).await {
            tracing::debug!("lb: udp {client}: {e}");
        }
    }
}

/// Sends a backend's replies to `client` until the session is idle for [`UDP_IDLE`].
async fn udp_replies(
    upstream: Arc<UdpSocket>,
    frontend: Arc<UdpSocket>,
    client: SocketAddr,
    sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>,
) {
    let mut buf = vec![0u8; UDP_MAX_DATAGRAM];
    // The idle clock counts replies only: a client that keeps sending to a silent backend
    // is forgotten after UDP_IDLE and gets a backend again.
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        if frontend.send_to(&buf[..n], client).await.is_err() {
            break;
        }
    }
    sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&client);
}

async fn check_forever(health: Arc<Health>) {
    loop {
        let https_path = health.https_path.load_full();
        let checks = health.addresses().into_iter().map(|(addr, flag)| {
            let https_path = https_path.clone();
            async move {
                let up = match https_path.as_deref() {
                    Some(path) => {
                        crate::https_check::healthy(addr, path, HTTPS_CHECK_TIMEOUT).await
                    }
                    None => matches!(
                        tokio::time::timeout(CHECK_TIMEOUT, TcpStream::connect(addr)).await,
                        Ok(Ok(_))
                    ),
                };
                flag.store(up, Ordering::Relaxed);
            }
        });
        let handles: Vec<_> = checks.map(tokio::spawn).collect();
        for h in handles {
            let _ = h.await;
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn healthy_backends_in_turn_else_everyone() {
        let all = [a("10.0.0.1:80"), a("10.0.0.2:80"), a("10.0.0.3:80")];
        let down = a("10.0.0.2:80");
        assert_eq!(
            try_order(&all, &|x| x != down, 1),
            [a("10.0.0.3:80"), a("10.0.0.1:80")]
        );
        assert_eq!(
            try_order(&all, &|_| false, 2),
            [a("10.0.0.3:80"), a("10.0.0.1:80"), a("10.0.0.2:80")]
        );
        assert!(try_order(&[], &|_| true, 0).is_empty());
    }

    /// A backend that writes `name` and closes.
    async fn backend(name: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(name.as_bytes()).await;
            }
        });
        addr
    }

    async fn hit(port: u16) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A UDP backend answering every datagram with `name:` and the datagram.
    async fn udp_backend(name: &'static str) -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = s.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let reply = [name.as_bytes(), b":", &buf[..n]].concat();
                let _ = s.send_to(&reply, from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn udp_datagrams_go_to_backends_in_turn_per_client() {
        let (one, two) = (udp_backend("one").await, udp_backend("two").await);
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut lb = Balancer::new("127.0.0.1".parse().unwrap());
        let config = Config {
            frontends: vec![Frontend {
                port,
                protocol: Protocol::Udp,
                backends: vec![one, two],
                backend_hosts: Vec::new(),
            }],
            https_health_path: None,
        };
        assert!(lb.apply(&config).await.is_empty());
        let mut seen = Vec::new();
        for _ in 0..2 {
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            client.connect(("127.0.0.1", port)).await.unwrap();
            let mut buf = [0u8; 64];
            for ping in ["a", "b"] {
                client.send(ping.as_bytes()).await.unwrap();
                let n = tokio::time::timeout(Duration::from_secs(2), client.recv(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
            }
        }
        // One backend per client, kept for its datagrams; the next client gets the next one.
        assert_eq!(seen, ["one:a", "one:b", "two:a", "two:b"]);
        assert!(!lb.health().healthy.lock().unwrap().contains_key(&one));
    }

    #[tokio::test]
    async fn balances_skips_dead_backends_and_follows_new_configs() {
        let (one, two) = (backend("one").await, backend("two").await);
        let dead = a("127.0.0.1:1");
        let port = free_port();
        let mut lb = Balancer::new("127.0.0.1".parse().unwrap());
        let config = |backends: Vec<SocketAddr>| Config {
            frontends: vec![Frontend {
                port,
                protocol: Protocol::Tcp,
                backends,
                backend_hosts: Vec::new(),
            }],
            https_health_path: None,
        };
        assert!(lb.apply(&config(vec![one, dead, two])).await.is_empty());
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(hit(port).await);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ["one", "two"]);
        assert!(!lb.health().is_healthy(dead));
        lb.apply(&config(vec![two])).await;
        for _ in 0..3 {
            assert_eq!(hit(port).await, "two");
        }
        lb.apply(&Config::default()).await;
        assert!(lb.ports().is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }
}
