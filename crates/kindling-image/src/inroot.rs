//! Path resolution inside a rootfs as if chrooted there. The rootfs is merged-/usr (`/bin` →
//! `usr/bin`) and may hold absolute symlinks: resolving them on the host would reach — and when
//! slimming, delete — host files. Here every symlink is followed relative to the rootfs.

use std::path::{Component, Path, PathBuf};

/// Resolves `path` (absolute or relative, taken from the rootfs' `/`) to a host path under `root`.
/// Symlinks in every component are followed inside `root`, the last one too when `follow_last`.
/// `None` when the path does not exist or loops.
pub(crate) fn resolve(root: &Path, path: &str, follow_last: bool) -> Option<PathBuf> {
    let mut pending: Vec<String> = components(path).into_iter().rev().collect();
    let mut at: Vec<String> = Vec::new(); // resolved components under root
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        match name.as_str() {
            "." => continue,
            ".." => {
                at.pop();
                continue;
            }
            _ => {}
        }
        let host = join(root, &at).join(&name);
        let meta = std::fs::symlink_metadata(&host).ok()?;
        let is_last = pending.is_empty();
        if meta.file_type().is_symlink() && (follow_last || !is_last) {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                at.clear();
            }
            pending.extend(components(&target).into_iter().rev());
        } else {
            at.push(name);
        }
    }
    Some(join(root, &at))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/sh"), "x").unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        symlink("/usr/bin/sh", root.join("usr/bin/abs")).unwrap();
        symlink("/etc", root.join("hostetc")).unwrap(); // would be the host's /etc outside a chroot

        assert_eq!(
            resolve(root, "/bin/sh", true),
            Some(root.join("usr/bin/sh"))
        );
        assert_eq!(
            resolve(root, "bin/abs", true),
            Some(root.join("usr/bin/sh"))
        );
        assert_eq!(
            resolve(root, "bin/abs", false),
            Some(root.join("usr/bin/abs"))
        );
        assert_eq!(resolve(root, "/hostetc/passwd", true), None);
        assert_eq!(
            resolve(root, "/../../usr/bin/sh", true),
            Some(root.join("usr/bin/sh"))
        );
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve(root, "/loop", true), None);
    }
}
