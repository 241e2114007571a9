//! What the node learns about itself at start: its IP, its container runtime's version (asked of
//! the binary, so it needs the reaper-safe [`run_owned`](crate::init::run_owned)).

/// `containerd://1.6.20` from `containerd --version`.
pub fn container_runtime_version() -> String {
    let out = crate::init::run_owned(std::process::Command::new("containerd").arg("--version"));
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version = text
        .split_whitespace()
        .nth(2)
        .unwrap_or("unknown")
        .trim_start_matches('v');
    format!("containerd://{version}")
}

/// This node's IPv4 address on the cluster network: Docker writes it next to the container's
/// hostname in /etc/hosts.
pub fn node_ip(hostname: &str) -> Option<std::net::IpAddr> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        let ip: std::net::IpAddr = words.next()?.parse().ok()?;
        (ip.is_ipv4() && !ip.is_loopback() && words.any(|w| w == hostname)).then_some(ip)
    })
}
