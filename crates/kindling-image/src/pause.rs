//! Our pod sandbox image: `images/pause/pause.c` compiled statically, packed as an OCI image
//! layout archive (the format `ctr images import` reads) named [`crate::PAUSE_IMAGE`].

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::{write::GzEncoder, Compression};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::tarstream::{append_bytes, append_dir};

/// The source travels inside the kindling binary, so `kindling build node-image` needs no checkout.
const SOURCE: &str = include_str!("../../../images/pause/pause.c");

/// Compiles the pause binary with the host's gcc into `workdir`. Static, so the image needs no libc.
pub(crate) async fn compile(workdir: &Path) -> Result<Vec<u8>> {
    let src = workdir.join("pause.c");
    let bin = workdir.join("pause");
    std::fs::write(&src, SOURCE)?;
    let out = tokio::process::Command::new("gcc")
        .args(["-static", "-Os", "-s", "-Wall"])
        .arg(format!("-DPAUSE_VERSION=\"{}\"", env!("CARGO_PKG_VERSION")))
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .await
        .context("running gcc (Debian: apt-get install gcc libc6-dev)")?;
    if !out.status.success() {
        bail!(
            "compiling pause.c failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(std::fs::read(&bin)?)
}

/// The OCI architecture name of this machine, as image configs and platforms spell it.
pub(crate) fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

struct Blob {
    media_type: &'static str,
    data: Vec<u8>,
}

impl Blob {
    fn digest(&self) -> String {
        sha256(&self.data)
    }
    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest(), "size": self.data.len()})
    }
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// An OCI image layout tar holding one image: `/pause` as its only file and entrypoint. The
/// index carries `io.containerd.image.name`, which `ctr images import` uses as the image name.
pub(crate) fn oci_archive(pause: &[u8], name: &str) -> Result<Vec<u8>> {
    let mut layer_tar = tar::Builder::new(Vec::new());
    append_bytes(&mut layer_tar, "pause", 0o755, pause)?;
    let layer_tar = layer_tar.into_inner()?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&layer_tar)?;
    let layer = Blob {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
        data: gz.finish()?,
    };

    let config = json!({
        "architecture": oci_arch(),
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer_tar)]},
        "history": [{"created_by": "kindling-image: gcc -static -Os images/pause/pause.c"}],
    });
    let config = Blob {
        media_type: "application/vnd.oci.image.config.v1+json",
        data: serde_json::to_vec(&config)?,
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    let manifest = Blob {
        media_type: "application/vnd.oci.image.manifest.v1+json",
        data: serde_json::to_vec(&manifest)?,
    };
    let (_, tag) = crate::docker::split_reference(name);
    let mut manifest_desc = manifest.descriptor();
    manifest_desc["platform"] = json!({"architecture": oci_arch(), "os": "linux"});
    manifest_desc["annotations"] = json!({
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": tag,
    });
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest_desc],
    });

    let mut out = tar::Builder::new(Vec::new());
    append_bytes(
        &mut out,
        "oci-layout",
        0o644,
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    append_bytes(&mut out, "index.json", 0o644, &serde_json::to_vec(&index)?)?;
    append_dir(&mut out, "blobs", 0o755)?;
    append_dir(&mut out, "blobs/sha256", 0o755)?;
    for blob in [&layer, &config, &manifest] {
        let hex = blob.digest().trim_start_matches("sha256:").to_string();
        append_bytes(&mut out, &format!("blobs/sha256/{hex}"), 0o644, &blob.data)?;
    }
    Ok(out.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, data)
            })
            .collect()
    }

    #[test]
    fn the_archive_is_a_consistent_oci_layout() {
        let archive = oci_archive(b"\x7fELF fake", "kindling.local/pause:9").unwrap();
        let files = entries(&archive);
        let get = |p: &str| {
            files
                .iter()
                .find(|(n, _)| n == p)
                .map(|(_, d)| d.clone())
                .unwrap()
        };
        let blob = |digest: &str| {
            get(&format!(
                "blobs/sha256/{}",
                digest.trim_start_matches("sha256:")
            ))
        };

        let index: serde_json::Value = serde_json::from_slice(&get("index.json")).unwrap();
        let desc = &index["manifests"][0];
        assert_eq!(
            desc["annotations"]["io.containerd.image.name"],
            "kindling.local/pause:9"
        );
        let manifest_bytes = blob(desc["digest"].as_str().unwrap());
        assert_eq!(desc["size"], manifest_bytes.len());
        let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/pause");

        // the layer is a gzip of a tar whose sha256 is the config's diff_id
        let gz = blob(manifest["layers"][0]["digest"].as_str().unwrap());
        let mut layer = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut layer)
            .unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&layer));
        assert_eq!(
            entries(&layer),
            vec![("pause".to_string(), b"\x7fELF fake".to_vec())]
        );
    }
}
