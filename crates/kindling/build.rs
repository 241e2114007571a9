//! Links the binaries with packed relative relocations (DT_RELR) where the toolchain and C
//! library support them. A position-independent Rust binary carries one 24-byte `.rela.dyn`
//! entry per pointer in its read-only data (vtables, static strings); the loader reads them all
//! at start, so every process of this binary kept the whole table resident in its RSS (the
//! standalone ingress controller of `kindling-bench ingress` counts it; measured on a debug
//! `kindling-bench` at rest: a 10.8 MB table, VmRSS 25.9 → 15.2 MB with DT_RELR's 96 kB).
//! DT_RELR stores the same relocations as bitmaps. glibc applies them since 2.36, GNU ld
//! (2.38) and lld write them with `-z pack-relative-relocs`; both are probed, so an older
//! toolchain links as before. (`kindling node` and the CLI load the same way; not measured.)
//! `kindling-bench` uses this file too (its `build` key), so its standalone controller is
//! measured as the product binary runs.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    // Only where the probe's result holds for the binary: a native glibc build. (Cross builds
    // and musl link as before.)
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if linker_and_libc_pack_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    } else {
        println!(
            "cargo:warning=the linker or C library cannot pack relative relocations (DT_RELR): \
             the binary links without them and keeps its relocation table resident"
        );
    }
}

/// Links a small position-independent C program with the flag and runs it: true only when the
/// linker accepted the flag, wrote DT_RELR and this system's loader started the result.
fn linker_and_libc_pack_relocations() -> bool {
    let Some(dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = dir.join("relr_probe.c");
    let program = dir.join("relr_probe");
    // A pointer in initialised data: the probe needs at least one relative relocation.
    if std::fs::write(
        &source,
        "static const char *s = \"ok\";\nint main(void) { return s[0] == 'o' ? 0 : 1; }\n",
    )
    .is_err()
    {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let linked = Command::new(cc)
        .args(["-fPIE", "-pie", "-Wl,-z,pack-relative-relocs", "-o"])
        .arg(&program)
        .arg(&source)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    linked && Command::new(&program).status().is_ok_and(|s| s.success())
}
