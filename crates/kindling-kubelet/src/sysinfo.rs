//! What the node agent reports about its machine: the container's cgroup limits (else the
//! host's), the OS image and kernel version.

use std::path::{Path, PathBuf};

/// CPU cores available to this container: its cgroup quota if any, else every online CPU.
pub fn cpus() -> u64 {
    let online = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    match cgroup_cpu_quota() {
        Some(q) if q > 0.0 => (q.ceil() as u64).clamp(1, online),
        _ => online,
    }
}

/// Memory available to this container in bytes: its cgroup limit if any, else the host's.
pub fn memory_bytes() -> u64 {
    let host = host_memory_bytes();
    match cgroup_memory_limit() {
        Some(limit) if limit > 0 && limit < host => limit,
        _ => host,
    }
}

fn host_memory_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The path of this process's cgroup in `controller` (v1) or the unified hierarchy (v2).
fn own_cgroup(controller: &str) -> Option<(PathBuf, bool)> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.is_empty() {
            let unified = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
            return Some((unified, true));
        }
        if controllers.split(',').any(|c| c == controller) {
            let dir = Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(path.trim_start_matches('/'));
            return Some((dir, false));
        }
    }
    None
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn cgroup_cpu_quota() -> Option<f64> {
    let (dir, v2) = own_cgroup("cpu")?;
    if v2 {
        let max = read_trimmed(&dir.join("cpu.max"))?;
        let mut it = max.split_whitespace();
        let (quota, period) = (it.next()?, it.next()?);
        if quota == "max" {
            return None;
        }
        return Some(quota.parse::<f64>().ok()? / period.parse::<f64>().ok()?);
    }
    let quota: f64 = read_trimmed(&dir.join("cpu.cfs_quota_us"))?.parse().ok()?;
    let period: f64 = read_trimmed(&dir.join("cpu.cfs_period_us"))?.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

fn cgroup_memory_limit() -> Option<u64> {
    let (dir, v2) = own_cgroup("memory")?;
    let file = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    read_trimmed(&dir.join(file))?.parse().ok()
}

/// Bytes of the filesystem holding `/var` (where images and pods live).
pub fn ephemeral_storage_bytes() -> u64 {
    let path = std::ffi::CString::new("/var").expect("no NUL in a literal");
    // SAFETY: statvfs with a valid C string and a zeroed out-struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_blocks * st.f_frsize
}

/// `PRETTY_NAME` of /etc/os-release.
pub fn os_image() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or_else(|| "Linux".into(), |v| v.trim_matches('"').to_string())
}

pub fn kernel_version() -> String {
    read_trimmed(Path::new("/proc/sys/kernel/osrelease")).unwrap_or_default()
}

pub fn machine_id() -> String {
    read_trimmed(Path::new("/etc/machine-id")).unwrap_or_default()
}

pub fn boot_id() -> String {
    read_trimmed(Path::new("/proc/sys/kernel/random/boot_id")).unwrap_or_default()
}

pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
