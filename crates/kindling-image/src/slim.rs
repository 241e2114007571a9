//! What a node never needs, as data. A node runs containerd, runc, CNI plugins, iptables, ip and
//! kindling, and keeps a shell and coreutils for `docker exec` debugging. It never installs
//! packages (no registry is reachable, and apt without perl/gnutls cannot anyway), logs in, or
//! reads manuals. Entries were chosen by measuring a fresh debootstrap with `du` (416 MB before,
//! 155 MB after); change them and the rootfs cache key changes with them.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::inroot;

/// Packages whose files are deleted and whose dpkg records are dropped, so `dpkg -l` stays true.
pub(crate) const DROP_PACKAGES: &[&str] = &[
    // package management: useless offline, and apt alone pulls in libstdc++ and gnutls
    "apt",
    "libapt-pkg6.0",
    "gpgv",
    "debian-archive-keyring",
    "libstdc++6",
    // perl and what is written in it (maintainer scripts, adduser, debconf)
    "perl-base",
    "debconf",
    "adduser",
    // TLS stack used only by apt (Go binaries carry their own crypto)
    "libgnutls30",
    "libp11-kit0",
    "libunistring2",
    "libidn2-0",
    "libtasn1-6",
    "libnettle8",
    "libhogweed6",
    "libffi8",
    "openssl",
    "libssl3", // libgmp10 stays: coreutils expr needs it
    // ext2 tools for a filesystem the node never formats
    "e2fsprogs",
    "libext2fs2",
    "libss2",
    "logsave",
    // libsystemd and its crypto, needed only by `logger`/`lslogins` below; Berkeley DB for arpd
    "libsystemd0",
    "libgcrypt20",
    "libgpg-error0",
    "liblz4-1",
    "libdb5.3",
];

/// What to delete by path (relative to `/`; `{lib}` is the multiarch library directory).
#[derive(Debug)]
pub(crate) enum Drop {
    /// The path itself, recursively.
    Path(&'static str),
    /// Everything inside a directory, keeping the directory.
    Contents(&'static str),
    /// Everything inside a directory except the named entries.
    ContentsExcept(&'static str, &'static [&'static str]),
    /// Every file below a directory not named so (licences stay: `copyright` files).
    FilesExceptNamed(&'static str, &'static str),
}

pub(crate) const DROP_PATHS: &[Drop] = &[
    Drop::Path("usr/share/man"),
    Drop::Path("usr/share/info"),
    Drop::Path("usr/share/locale"),
    Drop::Path("usr/share/lintian"),
    Drop::Path("usr/share/bug"),
    Drop::Path("usr/share/gdb"),
    Drop::Path("usr/share/zsh"),
    Drop::Path("usr/share/bash-completion"),
    Drop::Path("usr/share/menu"),
    Drop::Path("usr/share/pixmaps"),
    Drop::Path("usr/share/doc-base"),
    Drop::FilesExceptNamed("usr/share/doc", "copyright"),
    Drop::Path("var/cache/apt"),
    Drop::Path("var/lib/apt"),
    Drop::Contents("var/cache/debconf"),
    Drop::Contents("var/log"),
    // iconv modules (8 MB): nothing in a node converts character sets
    Drop::Path("{lib}/gconv"),
    // only the runc v2 shim is used by containerd's CRI runtime
    Drop::Path("usr/bin/containerd-shim"),
    Drop::Path("usr/bin/containerd-shim-runc-v1"),
    // CNI plugins a kindling node network uses (ptp/bridge + host-local + portmap + firewall);
    // the others are 2-7 MB each (dhcp, macvlan, vlan, …)
    Drop::ContentsExcept(
        "usr/lib/cni",
        &[
            "bridge",
            "firewall",
            "host-local",
            "loopback",
            "portmap",
            "ptp",
        ],
    ),
    // the users of libraries dropped above
    Drop::Path("usr/bin/logger"),
    Drop::Path("usr/bin/lslogins"),
    Drop::Path("usr/sbin/arpd"),
    Drop::Path("{lib}/security/pam_userdb.so"),
    Drop::Path("{lib}/krb5/plugins"),
];

/// Slims a fresh debootstrap tree in place, then fails if any ELF file that still loaded its
/// libraries before now misses one.
pub(crate) fn apply(root: &Path) -> Result<()> {
    let before = crate::elf::unresolved(root)?;
    for package in DROP_PACKAGES {
        drop_package(root, package).with_context(|| format!("dropping package {package}"))?;
    }
    let lib = format!("usr/lib/{}-linux-gnu", std::env::consts::ARCH);
    for rule in DROP_PATHS {
        drop_path(root, rule, &lib).with_context(|| format!("applying {rule:?}"))?;
    }
    let after = crate::elf::unresolved(root)?;
    let broken: Vec<String> = after
        .difference(&before)
        .map(|(file, lib)| format!("/{file} needs {lib}"))
        .collect();
    if !broken.is_empty() {
        bail!(
            "slimming removed libraries still in use:\n  {}",
            broken.join("\n  ")
        );
    }
    Ok(())
}

fn drop_package(root: &Path, package: &str) -> Result<()> {
    let info = root.join("var/lib/dpkg/info");
    let Some(list) = [
        format!("{package}.list"),
        format!("{package}:{}.list", dpkg_arch()),
    ]
    .into_iter()
    .map(|n| info.join(n))
    .find(|p| p.exists()) else {
        return Ok(()); // not installed in this package set
    };
    let listed = std::fs::read_to_string(&list)?;
    let mut dirs = Vec::new();
    for path in listed.lines().filter(|l| !l.is_empty() && *l != "/.") {
        // resolve the parent only: a listed symlink is removed, not what it points to
        let Some(host) = inroot::resolve(root, path, false) else {
            continue;
        };
        let meta = std::fs::symlink_metadata(&host)?;
        if meta.is_dir() {
            dirs.push(host);
        } else if meta.is_symlink() && inroot::resolve(root, path, true).is_some_and(|p| p.is_dir())
        {
            // a directory the package lists that is a link here: merged-/usr's `/bin` → `usr/bin`
            continue;
        } else {
            std::fs::remove_file(&host).with_context(|| format!("removing {}", host.display()))?;
        }
    }
    // deepest first; directories other packages still use are not empty and stay
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
    let name = list
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for entry in std::fs::read_dir(&info)? {
        let path = entry?.path();
        if path
            .file_stem()
            .is_some_and(|s| s.to_string_lossy() == name)
        {
            std::fs::remove_file(path)?;
        }
    }
    forget_in_status(&root.join("var/lib/dpkg/status"), package)
}

/// Removes the package's paragraph from dpkg's status database.
fn forget_in_status(status: &Path, package: &str) -> Result<()> {
    let text = std::fs::read_to_string(status)?;
    let header = format!("Package: {package}\n");
    let kept: Vec<&str> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty() && !p.starts_with(&header))
        .collect();
    std::fs::write(status, kept.join("\n\n") + "\n\n")?;
    Ok(())
}

fn drop_path(root: &Path, rule: &Drop, lib: &str) -> Result<()> {
    let at = |p: &str| inroot::resolve(root, &p.replace("{lib}", lib), false);
    match *rule {
        Drop::Path(p) => {
            if let Some(host) = at(p) {
                remove_any(&host)?;
            }
        }
        Drop::Contents(dir) | Drop::ContentsExcept(dir, _) => {
            let keep: &[&str] = match rule {
                Drop::ContentsExcept(_, keep) => keep,
                _ => &[],
            };
            let Some(host) = at(dir) else { return Ok(()) };
            for entry in std::fs::read_dir(&host)? {
                let entry = entry?;
                if !keep.iter().any(|k| entry.file_name() == **k) {
                    remove_any(&entry.path())?;
                }
            }
        }
        Drop::FilesExceptNamed(dir, name) => {
            let Some(host) = at(dir) else { return Ok(()) };
            for entry in walkdir::WalkDir::new(&host).contents_first(true) {
                let entry = entry?;
                if entry.file_type().is_dir() {
                    let _ = std::fs::remove_dir(entry.path()); // only when left empty
                } else if entry.file_name() != name {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .with_context(|| format!("removing {}", path.display()))
}

fn dpkg_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_package_leaves_files_and_records_of_others() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let info = root.join("var/lib/dpkg/info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/gone")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        for f in ["usr/bin/a", "usr/bin/b", "usr/share/gone/x"] {
            std::fs::write(root.join(f), "").unwrap();
        }
        std::fs::write(
            info.join("pa:amd64.list"),
            "/.\n/bin\n/bin/a\n/usr/share/gone\n/usr/share/gone/x\n",
        )
        .unwrap();
        std::fs::write(info.join("pa:amd64.md5sums"), "").unwrap();
        std::fs::write(info.join("pb.list"), "/usr/bin/b\n").unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: pa\nStatus: install ok installed\n\nPackage: pb\nStatus: install ok installed\n\n",
        )
        .unwrap();

        drop_package(root, "pa").unwrap();
        assert!(!root.join("usr/bin/a").exists());
        assert!(root.join("usr/bin/b").exists());
        assert!(!root.join("usr/share/gone").exists());
        assert!(
            root.join("bin").exists(),
            "a symlinked directory is not removed"
        );
        assert!(!info.join("pa:amd64.md5sums").exists());
        let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
        assert_eq!(status, "Package: pb\nStatus: install ok installed\n\n");
    }
}
