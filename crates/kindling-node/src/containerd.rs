//! containerd inside the node: started and kept running, and fed the images the node image ships
//! (our pause image) on first boot.

use anyhow::{Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const SOCKET: &str = "/run/containerd/containerd.sock";
const LOG: &str = "/var/log/kindling/containerd.log";

/// Whether containerd accepts connections on its socket.
pub async fn answers() -> bool {
    tokio::net::UnixStream::connect(SOCKET).await.is_ok()
}

/// Starts containerd and waits until it answers.
pub async fn start() -> Result<()> {
    std::fs::create_dir_all("/var/log/kindling")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG)
        .context("opening the containerd log")?;
    Command::new("containerd")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting containerd")?;
    for _ in 0..300 {
        if answers().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("containerd did not answer on {SOCKET} within 15s; see {LOG}")
}

/// Restarts containerd whenever its socket stops answering.
pub async fn supervise() {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if !answers().await {
            tracing::warn!("containerd stopped answering; restarting it");
            if let Err(e) = start().await {
                tracing::error!("{e:#}");
            }
        }
    }
}

/// Imports each image archive of `dir` into containerd's `k8s.io` namespace, once.
pub fn import_images(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let done_dir = Path::new("/var/lib/kindling/imported");
    std::fs::create_dir_all(done_dir)?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("tar") {
            continue;
        }
        let size = entry.metadata().map_or(0, |m| m.len());
        let marker = done_dir.join(format!("{}.{size}", entry.file_name().to_string_lossy()));
        if marker.exists() {
            continue;
        }
        let out = crate::init::run_owned(
            Command::new("ctr")
                .args(["-n", "k8s.io", "images", "import"])
                .arg(&path),
        )
        .context("running ctr")?;
        anyhow::ensure!(
            out.status.success(),
            "importing {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, b"")?;
    }
    Ok(())
}
