//! The TCP balancer: one listener per frontend port, each connection sent to the next healthy
//! backend (round robin; on a failed connect the next one is tried), bytes copied both ways
//! until either side closes. Health: a TCP connect to every backend each second (500 ms
//! timeout); a backend that fails is skipped until it answers again; when none is healthy, all
//! are tried (better a slow answer than none, as HAProxy's `option allbackups`-less default).
//! A new configuration changes backends at once and opens/closes listeners; connections already
//! established are never cut.

use crate::{Config, Frontend};
use arc_swap::ArcSwap;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A TLS handshake and a `/readyz` that asks the store take longer than a connect.
const HTTPS_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

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
    listeners: HashMap<u16, Listener>,
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
        let wanted: HashMap<u16, &Frontend> =
            config.frontends.iter().map(|f| (f.port, f)).collect();
        self.listeners.retain(|port, l| {
            let keep = wanted.contains_key(port);
            if !keep {
                l.task.abort();
            }
            keep
        });
        self.health
            .https_path
            .store(Arc::new(config.https_health_path.clone()));
        let mut all = HashSet::new();
        for (port, frontend) in wanted {
            all.extend(frontend.backends.iter().copied());
            for b in &frontend.backends {
                self.health.flag(*b);
            }
            if let Some(l) = self.listeners.get(&port) {
                l.backends.store(Arc::new(frontend.backends.clone()));
                continue;
            }
            match TcpListener::bind(SocketAddr::new(self.bind, port)).await {
                Ok(listener) => {
                    let backends = Arc::new(ArcSwap::from_pointee(frontend.backends.clone()));
                    let task = tokio::spawn(accept_forever(
                        listener,
                        backends.clone(),
                        self.health.clone(),
                    ));
                    self.listeners.insert(port, Listener { backends, task });
                }
                Err(e) => errors.push(format!("binding port {port}: {e}")),
            }
        }
        self.health.retain(&all);
        errors
    }

    /// The ports listened on.
    pub fn ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self.listeners.keys().copied().collect();
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

    #[tokio::test]
    async fn balances_skips_dead_backends_and_follows_new_configs() {
        let (one, two) = (backend("one").await, backend("two").await);
        let dead = a("127.0.0.1:1");
        let port = free_port();
        let mut lb = Balancer::new("127.0.0.1".parse().unwrap());
        let config = |backends: Vec<SocketAddr>| Config {
            frontends: vec![Frontend {
                port,
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
