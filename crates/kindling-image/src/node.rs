//! `build_node_image`: the cached rootfs plus this build's files (the kindling binary, containerd's
//! config, the pause image archive), streamed to Docker's import endpoint.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::tarstream::{append_bytes, append_dir};
use crate::{docker, pause, rootfs, PAUSE_ARCHIVE, PAUSE_IMAGE};

/// The image `kindling create cluster` uses when no `--image` is given.
pub const DEFAULT_NODE_IMAGE: &str = concat!("kindling/node:v", env!("CARGO_PKG_VERSION"));
const KINDLING_PATH: &str = "usr/local/bin/kindling";
const CONTAINERD_CONFIG_PATH: &str = "etc/containerd/config.toml";

pub struct NodeImageOptions<'a> {
    /// Name (and tag) of the image to create or replace.
    pub image: String,
    /// The kindling binary to put at /usr/local/bin/kindling (must run on Debian bookworm).
    pub kindling_binary: PathBuf,
    /// Where slimmed rootfs trees are kept between builds (needs ~170 MB per package set).
    pub cache_dir: PathBuf,
    /// Debian packages beyond [`rootfs::BASE_PACKAGES`].
    pub extra_packages: Vec<String>,
    /// A Debian mirror for debootstrap; its default (deb.debian.org) when `None`.
    pub mirror: Option<String>,
    /// Receives one human-readable line per step.
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
}

fn quiet(_: &str) {}

impl Default for NodeImageOptions<'_> {
    fn default() -> Self {
        NodeImageOptions {
            image: DEFAULT_NODE_IMAGE.to_string(),
            kindling_binary: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
            cache_dir: rootfs::DEFAULT_CACHE_DIR.into(),
            extra_packages: Vec::new(),
            mirror: None,
            progress: &quiet,
        }
    }
}

impl NodeImageOptions<'_> {
    pub fn packages(&self) -> Vec<String> {
        let mut all: Vec<String> = rootfs::BASE_PACKAGES
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        all.extend(self.extra_packages.iter().cloned());
        all
    }
}

/// containerd's config. The CRI plugin must find our pause image (the default, registry.k8s.io,
/// is unreachable), must not set oom_score_adj below its own (refused without CAP_SYS_RESOURCE,
/// which unprivileged nodes lack), and must find Debian's CNI plugins in /usr/lib/cni.
pub fn containerd_config() -> String {
    format!(
        r#"# Written by kindling-image. The node agent nests pod cgroups under the node's own.
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/cni/net.d"
"#
    )
}

/// Builds the node image and returns its ID. Needs root, debootstrap and gcc on the first build
/// for a package set; later builds reuse the cached rootfs and take seconds.
pub async fn build_node_image(opts: &NodeImageOptions<'_>) -> Result<String> {
    let progress = opts.progress;
    let started = Instant::now();
    let binary = std::fs::read(&opts.kindling_binary).with_context(|| {
        format!(
            "reading the kindling binary {}",
            opts.kindling_binary.display()
        )
    })?;
    if crate::elf::needed(&binary).is_none() {
        bail!(
            "{} is not a 64-bit ELF executable",
            opts.kindling_binary.display()
        );
    }
    let docker = docker::connect().await?;

    let packages = opts.packages();
    let root =
        rootfs::prepare(&opts.cache_dir, &packages, opts.mirror.as_deref(), progress).await?;
    let missing = crate::elf::missing_libs(&root, &binary);
    if !missing.is_empty() {
        bail!(
            "{} needs libraries the node image lacks: {} (link it statically or against bookworm's)",
            opts.kindling_binary.display(),
            missing.join(", ")
        );
    }

    progress("Compiling the pause image");
    let workdir = scratch_dir()?;
    let pause_bin = pause::compile(workdir.path()).await;
    drop(workdir);
    let pause_archive = pause::oci_archive(&pause_bin?, PAUSE_IMAGE)?;

    let binary_sha = format!("{:x}", Sha256::digest(&binary));
    let changes = vec![
        r#"ENTRYPOINT ["/usr/local/bin/kindling", "node"]"#.to_string(),
        // no STOPSIGNAL: the import endpoint refuses it ("not a valid change command"), and
        // SIGTERM, which `kindling node` handles, is what Docker sends when an image names none
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        docker::label_change(&[
            (crate::LABEL_VERSION, env!("CARGO_PKG_VERSION").to_string()),
            (crate::LABEL_BINARY_SHA256, binary_sha),
            (crate::LABEL_PACKAGES, packages.join(",")),
            (crate::LABEL_PAUSE_IMAGE, PAUSE_IMAGE.to_string()),
        ]),
    ];
    progress(&format!("Importing {} into Docker", opts.image));
    let extra = Overlay {
        binary,
        containerd_config: containerd_config().into_bytes(),
        pause_archive,
    };
    let tar = crate::tarstream::stream(move |out| write_image_tar(&root, &extra, out));
    let id = docker::import(&docker, &opts.image, changes, tar).await?;

    let size = docker::inspect(&docker, &opts.image)
        .await?
        .and_then(|i| i.size)
        .unwrap_or(0);
    progress(&format!(
        "Built {} ({}, {} MB) in {:.1}s",
        opts.image,
        id,
        size / 1_000_000,
        started.elapsed().as_secs_f64()
    ));
    Ok(id)
}

/// The files one build adds on top of the shared rootfs.
struct Overlay {
    binary: Vec<u8>,
    containerd_config: Vec<u8>,
    pause_archive: Vec<u8>,
}

fn write_image_tar(root: &Path, extra: &Overlay, out: &mut dyn Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    // a symlink goes in as a symlink: following one could pull in host files
    tar.follow_symlinks(false);
    let replaced = [KINDLING_PATH, CONTAINERD_CONFIG_PATH];
    let walk = WalkDir::new(root).follow_links(false).sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(std::io::Error::other)?;
        let name = rel.to_string_lossy();
        if name.is_empty()
            || name == ".kindling-rootfs-complete"
            || replaced.contains(&name.as_ref())
        {
            continue;
        }
        // the container engine mounts its own /dev, /proc and /sys; their contents would be hidden
        if ["dev/", "proc/", "sys/"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        tar.append_path_with_name(entry.path(), rel)?;
    }
    append_bytes(&mut tar, KINDLING_PATH, 0o755, &extra.binary)?;
    // `systemctl stop kubelet` and friends, as in kind's nodes (kindling_node::control).
    crate::tarstream::append_symlink(&mut tar, "usr/local/bin/systemctl", "kindling")?;
    append_bytes(
        &mut tar,
        CONTAINERD_CONFIG_PATH,
        0o644,
        &extra.containerd_config,
    )?;
    let archive = PAUSE_ARCHIVE.trim_start_matches('/');
    let dir = Path::new(archive).parent().unwrap_or(Path::new(""));
    for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
        if !ancestor.as_os_str().is_empty() {
            append_dir(&mut tar, &ancestor.to_string_lossy(), 0o755)?;
        }
    }
    append_bytes(&mut tar, archive, 0o644, &extra.pause_archive)?;
    tar.finish()
}

/// A private temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_dir() -> Result<Scratch> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kindling-image-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(Scratch(dir))
}

/// Builds the node image unless an image of that name already holds this very kindling binary
/// (its `io.kindling.binary.sha256` label). Returns the image ID and whether it was built.
pub async fn ensure_node_image(opts: &NodeImageOptions<'_>) -> Result<(String, bool)> {
    let binary = std::fs::read(&opts.kindling_binary).with_context(|| {
        format!(
            "reading the kindling binary {}",
            opts.kindling_binary.display()
        )
    })?;
    let sha = format!("{:x}", Sha256::digest(&binary));
    let docker = docker::connect().await?;
    if let Some(existing) = docker::inspect(&docker, &opts.image).await? {
        let labels = existing
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        if labels.get(crate::LABEL_BINARY_SHA256) == Some(&sha) {
            return Ok((existing.id.unwrap_or_default(), false));
        }
    }
    Ok((build_node_image(opts).await?, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_tar_overlays_build_files_and_skips_kernel_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["dev/pts", "proc", "etc/containerd", "usr/local/bin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("dev/null-ish"), "").unwrap();
        std::fs::write(root.join("etc/containerd/config.toml"), "packaged").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.join("etc/link")).unwrap();
        let extra = Overlay {
            binary: b"bin".to_vec(),
            containerd_config: b"ours".to_vec(),
            pause_archive: b"oci".to_vec(),
        };
        let mut out = Vec::new();
        write_image_tar(root, &extra, &mut out).unwrap();

        let mut archive = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut body = String::new();
            std::io::Read::read_to_string(&mut e, &mut body).unwrap();
            if e.header().entry_type().is_symlink() {
                // The rootfs's own link stays a link (never the host file it names); ours
                // makes `systemctl` the kindling binary.
                let target = if path == "usr/local/bin/systemctl" {
                    "kindling"
                } else {
                    "/etc/shadow"
                };
                assert_eq!(e.link_name().unwrap().unwrap().to_str(), Some(target));
            }
            seen.push((path, body));
        }
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            paths.contains(&"dev") && paths.contains(&"proc"),
            "{paths:?}"
        );
        assert!(!paths
            .iter()
            .any(|p| p.starts_with("dev/p") || p.starts_with("dev/n")));
        let configs: Vec<_> = seen
            .iter()
            .filter(|(p, _)| p == CONTAINERD_CONFIG_PATH)
            .collect();
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].1, "ours");
        assert!(paths.contains(&"kindling/images/pause.tar"));
        assert!(paths.contains(&KINDLING_PATH));
        assert!(paths.contains(&"usr/local/bin/systemctl"));
    }

    #[test]
    fn containerd_config_names_our_pause_image() {
        let config = containerd_config();
        assert!(config.contains(&format!("sandbox_image = \"{PAUSE_IMAGE}\"")));
        assert!(config.contains("restrict_oom_score_adj = true"));
        assert!(config.contains("bin_dir = \"/usr/lib/cni\""));
    }
}
