//! The node's Debian root filesystem: debootstrap once, slim, and keep the result in a cache
//! directory keyed by everything that shapes it (suite, packages, slimming rules), so the next
//! build starts from there instead of downloading ~120 MB of packages again.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const SUITE: &str = "bookworm";
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/kindling";
/// What every node needs. `etcd-server` (21 MB) is the store of clusters with several control
/// planes (kind's node image ships etcd too; one image serves every cluster shape). `conntrack`
/// (120 kB; its libraries come with iptables) lets the service proxy forget UDP flows to
/// endpoints that are gone.
pub const BASE_PACKAGES: &[&str] = &[
    "containerd",
    "runc",
    "iptables",
    "conntrack",
    "iproute2",
    "ca-certificates",
    "containernetworking-plugins",
    "etcd-server",
];
/// Written last, so a directory without it is an interrupted build, never a usable cache.
const COMPLETE: &str = ".kindling-rootfs-complete";

/// The cache key: a change to the package set or to what slimming drops yields a new rootfs.
pub(crate) fn cache_key(packages: &[String]) -> String {
    let mut sorted: Vec<&str> = packages.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hash = Sha256::new();
    hash.update(format!(
        "{SUITE}\n{}\n{:?}\n{:?}\n",
        sorted.join(","),
        crate::slim::DROP_PACKAGES,
        crate::slim::DROP_PATHS
    ));
    let digest = hash.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Returns the slimmed rootfs for `packages`, building it when the cache has none. Never modify
/// the returned tree: other builds share it.
pub(crate) async fn prepare(
    cache_dir: &Path,
    packages: &[String],
    mirror: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<PathBuf> {
    let key = cache_key(packages);
    let dir = cache_dir.join("rootfs").join(&key);
    if dir.join(COMPLETE).exists() {
        progress(&format!("Using cached {SUITE} rootfs {}", dir.display()));
        return Ok(dir);
    }
    let work = cache_dir
        .join("rootfs")
        .join(format!("{key}.tmp-{}", std::process::id()));
    let result = build(&work, packages, mirror, progress).await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&work);
        return result.map(|()| dir);
    }
    std::fs::write(work.join(COMPLETE), b"")?;
    if std::fs::rename(&work, &dir).is_err() {
        // a concurrent build finished first: use its tree, drop ours
        let _ = std::fs::remove_dir_all(&work);
        if !dir.join(COMPLETE).exists() {
            bail!("could not move the new rootfs to {}", dir.display());
        }
    }
    Ok(dir)
}

async fn build(
    work: &Path,
    packages: &[String],
    mirror: Option<&str>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<()> {
    let Some(debootstrap) = which("debootstrap") else {
        bail!("debootstrap is not installed (Debian/Ubuntu: apt-get install debootstrap)");
    };
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    progress(&format!(
        "Running debootstrap {SUITE} ({}) — takes about a minute",
        packages.join(",")
    ));
    let mut cmd = tokio::process::Command::new(debootstrap);
    // debootstrap runs chroot, mknod, … from sbin, which a user's PATH may lack
    cmd.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    )
    .arg("--variant=minbase")
    .arg(format!("--include={}", packages.join(",")))
    .arg(SUITE)
    .arg(work);
    if let Some(mirror) = mirror {
        cmd.arg(mirror);
    }
    let out = cmd.output().await.context("running debootstrap")?;
    if !out.status.success() {
        let log =
            std::fs::read_to_string(work.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        bail!(
            "debootstrap failed ({}; it needs root and the Debian mirror):\n{}\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stdout)),
            tail(&log)
        );
    }
    progress("Slimming the rootfs");
    let work = work.to_path_buf();
    tokio::task::spawn_blocking(move || crate::slim::apply(&work)).await??;
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]) // debootstrap lives in sbin
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_key_ignores_order_and_follows_content() {
        let a = cache_key(&["runc".into(), "containerd".into()]);
        let b = cache_key(&["containerd".into(), "runc".into(), "runc".into()]);
        let c = cache_key(&["containerd".into(), "runc".into(), "etcd-server".into()]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }
}
