//! Workload images for an offline machine, all from Debian's static busybox: `busybox` itself, an
//! `nginx` stand-in (busybox httpd on :80 serving a welcome page) and a `hashicorp/http-echo`
//! stand-in (answers every request with its `-text`). One rootfs serves all three; only the image
//! config differs, so Docker stores the layer once.

use std::io::Write;

use anyhow::{bail, Context, Result};
use bollard::query_parameters::TagImageOptionsBuilder;
use sha2::{Digest, Sha256};

use crate::docker;
use crate::tarstream::{append_bytes, append_dir, append_symlink};

/// Where the static busybox comes from (Debian package `busybox-static`).
const BUSYBOX: &str = "/bin/busybox";
const LABEL: &str = "io.kindling.test-image";
const HTTP_ECHO: &str = include_str!("../../../images/busybox/http-echo");
const NGINX: &str = include_str!("../../../images/busybox/nginx");
const NGINX_INDEX: &str = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n\
<body><h1>Welcome to nginx!</h1><p>kindling's busybox httpd stand-in.</p></body></html>\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestImage {
    /// `CMD ["sh"]`, like Docker Hub's busybox.
    Busybox,
    /// Serves /usr/share/nginx/html on port 80, like nginx's default page.
    Nginx,
    /// `ENTRYPOINT ["/http-echo"]`: `-text=foo` answers `foo` on `-listen=:5678`.
    HttpEcho,
}

/// The names scenarios and books use, each built from the same busybox rootfs.
pub const STANDARD_TEST_IMAGES: &[(&str, TestImage)] = &[
    ("busybox:latest", TestImage::Busybox),
    ("busybox:1.36", TestImage::Busybox),
    ("nginx:latest", TestImage::Nginx),
    ("hashicorp/http-echo:latest", TestImage::HttpEcho),
    ("hashicorp/http-echo:0.2.3", TestImage::HttpEcho),
];

impl TestImage {
    fn changes(self) -> Vec<String> {
        let mut changes = vec![
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ];
        changes.extend(match self {
            TestImage::Busybox => vec![r#"CMD ["sh"]"#.to_string()],
            TestImage::Nginx => vec![
                r#"CMD ["nginx", "-g", "daemon off;"]"#.to_string(),
                "EXPOSE 80".to_string(),
            ],
            TestImage::HttpEcho => vec![
                r#"ENTRYPOINT ["/http-echo"]"#.to_string(),
                "EXPOSE 5678".to_string(),
            ],
        });
        changes
    }
}

/// Builds the busybox image under `name` and returns its ID.
pub async fn build_test_image(name: &str) -> Result<String> {
    build_test_image_as(name, TestImage::Busybox).await
}

/// Builds `kind` under `name`; a no-op returning the existing ID when an image of that name was
/// built from the same busybox, scripts and config.
pub async fn build_test_image_as(name: &str, kind: TestImage) -> Result<String> {
    let docker = docker::connect().await?;
    build_with(&docker, name, kind, None).await
}

/// Builds every entry of [`STANDARD_TEST_IMAGES`]; returns (name, image ID) pairs.
pub async fn build_standard_test_images(
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Vec<(String, String)>> {
    let docker = docker::connect().await?;
    let mut built: Vec<(String, String)> = Vec::new();
    for (i, (name, kind)) in STANDARD_TEST_IMAGES.iter().enumerate() {
        // a second name of the same kind tags the first's image instead of importing a copy
        let same = STANDARD_TEST_IMAGES[..i]
            .iter()
            .position(|(_, k)| k == kind);
        let id = build_with(&docker, name, *kind, same.map(|j| built[j].1.as_str())).await?;
        progress(&format!("{name} {id}"));
        built.push((name.to_string(), id));
    }
    Ok(built)
}

/// Builds `kind` as `name`, unless `name` already is that build; `tag_of` is an image ID already
/// built for the same kind, which then only gets the new name.
async fn build_with(
    docker: &bollard::Docker,
    name: &str,
    kind: TestImage,
    tag_of: Option<&str>,
) -> Result<String> {
    let busybox = std::fs::read(BUSYBOX)
        .with_context(|| format!("reading {BUSYBOX} (Debian: apt-get install busybox-static)"))?;
    if crate::elf::needed(&busybox).is_none_or(|libs| !libs.is_empty()) {
        bail!("{BUSYBOX} is not a static executable: install busybox-static, not busybox");
    }
    let applets = applets().await?;
    let changes = kind.changes();
    let fingerprint = {
        let mut h = Sha256::new();
        for part in [
            &busybox[..],
            HTTP_ECHO.as_bytes(),
            NGINX.as_bytes(),
            NGINX_INDEX.as_bytes(),
        ] {
            h.update(part);
        }
        h.update(changes.join("\n"));
        format!("{:x}", h.finalize())
    };
    if let Some(existing) = docker::inspect(docker, name).await? {
        let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(LABEL) == Some(&fingerprint) {
            return existing.id.context("image without ID");
        }
    }
    if let Some(id) = tag_of {
        let (repo, tag) = docker::split_reference(name);
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        docker
            .tag_image(id, Some(options))
            .await
            .with_context(|| format!("tagging {name}"))?;
        return Ok(id.to_string());
    }
    let mut all_changes = changes;
    all_changes.push(docker::label_change(&[(LABEL, fingerprint)]));
    let tar = crate::tarstream::stream(move |out| write_rootfs(&busybox, &applets, out));
    docker::import(docker, name, all_changes, tar).await
}

/// The applet names this busybox was built with (`sh`, `httpd`, `nc`, `wget`, …).
async fn applets() -> Result<Vec<String>> {
    let out = tokio::process::Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .await?;
    if !out.status.success() {
        bail!("{BUSYBOX} --list failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(String::from)
        .collect())
}

fn write_rootfs(busybox: &[u8], applets: &[String], out: &mut dyn Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    for dir in [
        "bin", "etc", "root", "home", "var", "var/www", "usr", "usr/bin", "usr/sbin",
    ] {
        append_dir(&mut tar, dir, if dir == "root" { 0o700 } else { 0o755 })?;
    }
    append_dir(&mut tar, "tmp", 0o1777)?;
    append_bytes(&mut tar, "bin/busybox", 0o755, busybox)?;
    for applet in applets {
        append_symlink(&mut tar, &format!("bin/{applet}"), "busybox")?;
    }
    // shebangs and scripts written for full distributions look here
    append_symlink(&mut tar, "usr/bin/env", "/bin/busybox")?;
    append_bytes(
        &mut tar,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
www-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )?;
    append_bytes(
        &mut tar,
        "etc/group",
        0o644,
        b"root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n",
    )?;
    append_bytes(&mut tar, "http-echo", 0o755, HTTP_ECHO.as_bytes())?;
    append_bytes(&mut tar, "usr/sbin/nginx", 0o755, NGINX.as_bytes())?;
    for dir in ["usr/share", "usr/share/nginx", "usr/share/nginx/html"] {
        append_dir(&mut tar, dir, 0o755)?;
    }
    append_bytes(
        &mut tar,
        "usr/share/nginx/html/index.html",
        0o644,
        NGINX_INDEX.as_bytes(),
    )?;
    tar.finish()
}
