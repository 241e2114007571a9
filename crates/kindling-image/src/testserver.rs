//! The `kindling/testserver` image: the `kindling-testserver` binary (a gRPC health server and a
//! UDP echo server, crate `kindling-testserver`) with the shared libraries it loads, copied from
//! this machine, and nothing else. Debian's static busybox, which every other test image is made
//! of, has no UDP `nc` and no gRPC. The binary is built by cargo in the profile and target
//! directory of the program asking (a test or the `build-test-images` example), so it needs no
//! second toolchain set-up (a static glibc build would compile tokio/tonic again for an explicit
//! `--target`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::tarstream::{append_bytes, append_dir};
use crate::{docker, elf};

/// The name tests and the `build-test-images` example give the image.
pub const TESTSERVER_IMAGE: &str = "kindling/testserver:latest";
const BINARY: &str = "kindling-testserver";
const LABEL: &str = "io.kindling.test-image";
/// Every library goes into one directory the loader is told about (no ld.so.cache in the image).
const LIB_DIR: &str = "lib";

/// Builds `kindling-testserver` with cargo into the target directory and profile the running
/// executable was built in (`<target>/<profile>/{deps,examples}/<exe>`) and returns its path.
/// Cargo makes this a no-op when the binary is fresh.
pub fn build_testserver_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the running executable is not inside a cargo target directory")?;
    let target_dir = profile_dir
        .parent()
        .context("the running executable is not inside a cargo target directory")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => bail!("no profile directory above {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", BINARY, "--profile", profile])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("running cargo to build kindling-testserver")?;
    if !status.success() {
        bail!("cargo build -p {BINARY} --profile {profile} failed ({status})");
    }
    Ok(profile_dir.join(BINARY))
}

/// Builds the test server image as `name` from `binary`; a no-op returning the existing ID when
/// `name` already holds the same binary and libraries.
pub async fn build_testserver_image(name: &str, binary: &Path) -> Result<String> {
    let docker = docker::connect().await?;
    let program = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let files = image_files(&program)?;
    let changes = vec![
        format!(r#"ENTRYPOINT ["/{BINARY}"]"#),
        format!("ENV LD_LIBRARY_PATH=/{LIB_DIR}"),
        "EXPOSE 9000".to_string(),
    ];
    let fingerprint = {
        let mut h = Sha256::new();
        for (path, data) in &files {
            h.update(path.as_bytes());
            h.update(data);
        }
        h.update(changes.join("\n"));
        format!("{:x}", h.finalize())
    };
    if let Some(existing) = docker::inspect(&docker, name).await? {
        let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(LABEL) == Some(&fingerprint) {
            return existing.id.context("image without ID");
        }
    }
    let mut all_changes = changes;
    all_changes.push(docker::label_change(&[(LABEL, fingerprint)]));
    let tar = crate::tarstream::stream(move |out| write_rootfs(&files, out));
    docker::import(&docker, name, all_changes, tar).await
}

/// The image's files (path without the leading '/', content): the program, the interpreter at
/// the path the program names, and every library the program loads, directly or through another
/// library, from this machine.
fn image_files(program: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    files.insert(BINARY.to_string(), program.to_vec());
    let Some(interp) = elf::interpreter(program) else {
        return Ok(files); // a static build needs nothing else
    };
    let data = std::fs::read(&interp).with_context(|| format!("reading {interp}"))?;
    files.insert(interp.trim_start_matches('/').to_string(), data);
    let mut pending = elf::needed(program).context("kindling-testserver is not an ELF file")?;
    while let Some(lib) = pending.pop() {
        let path = format!("{LIB_DIR}/{lib}");
        if files.contains_key(&path) {
            continue;
        }
        let host = elf::host_lib(&lib).with_context(|| format!("library {lib} not found"))?;
        let data = std::fs::read(&host).with_context(|| format!("reading {}", host.display()))?;
        pending.extend(elf::needed(&data).unwrap_or_default());
        files.insert(path, data);
    }
    Ok(files)
}

fn write_rootfs(files: &BTreeMap<String, Vec<u8>>, out: &mut dyn Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut dirs: Vec<String> = files
        .keys()
        .flat_map(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        append_dir(&mut tar, dir, 0o755)?;
    }
    append_dir(&mut tar, "tmp", 0o1777)?;
    for (path, data) in files {
        append_bytes(&mut tar, path, 0o755, data)?;
    }
    tar.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_brings_its_interpreter_and_library_closure() {
        // this test binary stands in for kindling-testserver: both link the same way
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let files = image_files(&exe).unwrap();
        assert!(files.contains_key(BINARY));
        assert!(files.contains_key("lib/libc.so.6"), "{:?}", files.keys());
        let interp = elf::interpreter(&exe).unwrap();
        assert!(files.contains_key(interp.trim_start_matches('/')));
        for (path, data) in &files {
            for lib in elf::needed(data).unwrap_or_default() {
                assert!(
                    files.contains_key(&format!("lib/{lib}")),
                    "{path} needs {lib}"
                );
            }
        }
    }
}
