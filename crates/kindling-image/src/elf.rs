//! Which shared libraries ELF files need, and which of those a rootfs lacks. Slimming removes
//! libraries by package; this is the proof that no kept binary lost one, and that the kindling
//! binary put into the image can load there.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use object::elf::{FileHeader64, DT_NEEDED};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::Endianness;
use walkdir::WalkDir;

/// The DT_NEEDED entries of an ELF file; empty for a static binary. `None` when `data` is not a
/// 64-bit ELF file.
pub(crate) fn needed(data: &[u8]) -> Option<Vec<String>> {
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let Some((dyns, link)) = sections.dynamic(endian, data).ok()? else {
        return Some(Vec::new());
    };
    let strings = sections.strings(endian, data, link).ok()?;
    Some(
        dyns.iter()
            .filter(|d| d.tag(endian) == DT_NEEDED)
            .filter_map(|d| d.string(endian, strings).ok())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// The program interpreter (PT_INTERP, e.g. `/lib64/ld-linux-x86-64.so.2`) of a dynamically
/// linked executable; `None` for a static one or what is not a 64-bit ELF file.
pub(crate) fn interpreter(data: &[u8]) -> Option<String> {
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .find_map(|ph| {
            let path = ph.interpreter(endian, data).ok()??;
            let path = path.strip_suffix(&[0]).unwrap_or(path);
            Some(String::from_utf8_lossy(path).into_owned())
        })
}

/// Where `lib` sits on this machine (the first of [`lib_dirs`] that has it).
pub(crate) fn host_lib(lib: &str) -> Option<std::path::PathBuf> {
    lib_dirs()
        .into_iter()
        .map(|d| Path::new(&d).join(lib))
        .find(|p| p.is_file())
}

/// Where the dynamic loader of a Debian rootfs looks (ld.so.conf plus the built-in defaults).
fn lib_dirs() -> Vec<String> {
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    vec![
        format!("/usr/lib/{triple}"),
        format!("/lib/{triple}"),
        "/usr/lib".into(),
        "/lib".into(),
        "/usr/lib64".into(),
        "/lib64".into(),
        "/usr/local/lib".into(),
    ]
}

pub(crate) fn lib_present(root: &Path, lib: &str) -> bool {
    lib_dirs().iter().any(|d| {
        crate::inroot::resolve(root, &format!("{d}/{lib}"), true).is_some_and(|p| p.is_file())
    })
}

/// The libraries of `data` (an ELF file) that `root` lacks.
pub(crate) fn missing_libs(root: &Path, data: &[u8]) -> Vec<String> {
    needed(data)
        .unwrap_or_default()
        .into_iter()
        .filter(|lib| !lib_present(root, lib))
        .collect()
}

/// Every (file, library) pair in `root` whose library cannot be found. Debian itself ships some
/// (e.g. iproute2's optional tc plugins), so callers compare before and after, not against empty.
pub(crate) fn unresolved(root: &Path) -> Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    for entry in WalkDir::new(root).follow_links(false) {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        if !entry.file_type().is_file() || !is_elf(entry.path()) {
            continue;
        }
        let data = std::fs::read(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        for lib in missing_libs(root, &data) {
            out.insert((rel.display().to_string(), lib));
        }
    }
    Ok(out)
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_needed_libraries_of_this_test_binary() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let libs = needed(&exe).expect("an ELF file");
        assert!(libs.iter().any(|l| l.starts_with("libc.so")), "{libs:?}");
        assert_eq!(needed(b"#!/bin/sh\n"), None);
        let interp = interpreter(&exe).expect("a dynamic executable");
        assert!(
            interp.starts_with('/') && interp.contains("ld-"),
            "{interp}"
        );
        assert!(host_lib("libc.so.6").is_some());
    }
}
