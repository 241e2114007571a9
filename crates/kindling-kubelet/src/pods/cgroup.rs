//! Where pod cgroups go: under the node container's own cgroup (`/docker/<id>/kubepods/…` with
//! the host's cgroup namespace, `/kubepods/…` with a private one), so nodes never share a tree
//! and the node container's limits hold for its pods.

use std::path::{Path, PathBuf};

const MOUNT: &str = "/sys/fs/cgroup";

/// This process's cgroup path and whether the hierarchy is unified (v2).
fn own_cgroup(proc_self_cgroup: &str) -> (String, bool) {
    let mut unified = None;
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.split(',').any(|c| c == "memory") {
            return (path.to_string(), false);
        }
        if controllers.is_empty() {
            unified = Some(path.to_string());
        }
    }
    (unified.unwrap_or_else(|| "/".into()), true)
}

fn is_unified() -> bool {
    Path::new(MOUNT).join("cgroup.controllers").exists()
}

/// The cgroup all pods of this node nest under, e.g. `/docker/<id>/kubepods`.
pub fn pods_root() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let (own, _) = own_cgroup(&text);
    pods_root_from(&own)
}

fn pods_root_from(own: &str) -> String {
    // The agent may itself run in a leaf (e.g. `init.scope` after `prepare`); pods go beside it.
    let own = own.trim_end_matches('/');
    let own = own.strip_suffix("/init.scope").unwrap_or(own);
    format!("{own}/kubepods")
}

/// On cgroup v2 with a private namespace the node's processes sit in the namespace root, where
/// no controller can be delegated to children ("no internal processes"): move them to
/// `/init.scope` and enable the controllers for the subtree, as kind's entrypoint does. A no-op
/// elsewhere.
pub fn prepare() {
    if !is_unified() {
        return;
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let (own, _) = own_cgroup(&text);
    if own != "/" {
        return;
    }
    let root = PathBuf::from(MOUNT);
    let scope = root.join("init.scope");
    if let Err(e) = std::fs::create_dir_all(&scope) {
        tracing::warn!("cgroup v2: creating {}: {e}", scope.display());
        return;
    }
    let procs = std::fs::read_to_string(root.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter(|l| !l.trim().is_empty()) {
        let _ = std::fs::write(scope.join("cgroup.procs"), pid);
    }
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let enable: Vec<String> = controllers
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if let Err(e) = std::fs::write(root.join("cgroup.subtree_control"), enable.join(" ")) {
        tracing::warn!("cgroup v2: enabling controllers for pods: {e}");
    }
}

/// Removes a pod's (empty) cgroup directories once its containers are gone.
pub fn remove(parent: &str) {
    let rel = parent.trim_start_matches('/');
    if rel.is_empty() {
        return;
    }
    let mut dirs = Vec::new();
    if is_unified() {
        dirs.push(Path::new(MOUNT).join(rel));
    } else if let Ok(entries) = std::fs::read_dir(MOUNT) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path().join(rel));
            }
        }
    }
    for d in dirs {
        if d.exists() {
            // Leftover per-container directories first (runc removes them, but a crash may not).
            if let Ok(entries) = std::fs::read_dir(&d) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_under_the_node_container() {
        let v1 = "12:pids:/docker/abc\n11:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n";
        assert_eq!(own_cgroup(v1), ("/docker/abc".to_string(), false));
        assert_eq!(pods_root_from("/docker/abc"), "/docker/abc/kubepods");
        let v2 = "0::/\n";
        assert_eq!(own_cgroup(v2), ("/".to_string(), true));
        assert_eq!(pods_root_from("/"), "/kubepods");
        assert_eq!(pods_root_from("/init.scope"), "/kubepods");
    }
}
