//! The Python `kubernetes` client (`pip install kubernetes`), what many scripts and operators
//! use, against the in-process server: `tests/python/client.py` lists namespaces, creates a
//! ConfigMap, watches ConfigMaps (ADDED, MODIFIED, DELETED), patches it (strategic merge, JSON
//! merge) and deletes it, then, through ApiextensionsV1Api and CustomObjectsApi, creates a
//! CustomResourceDefinition and an object of it (list, patch, status patch, delete). It runs with every client version `scripts/tools.sh` pins, each from
//! its virtual environment under `tools/python`; a missing one is skipped with a note, and fails
//! the test under `KINDLING_REQUIRE_TOOLS=1`.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{repo_root, text, tool, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The client versions `scripts/tools.sh` installs: its `python_clients=(…)` line.
fn pinned_versions() -> Vec<String> {
    let script = std::fs::read_to_string(repo_root().join("scripts/tools.sh")).unwrap();
    let pins = script
        .lines()
        .find_map(|l| l.strip_prefix("python_clients=("))
        .expect("scripts/tools.sh pins the Python clients on a python_clients=(…) line");
    pins.trim_end_matches(')')
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The interpreter of the client's virtual environment, if it runs and imports the client.
fn python_with_client(version: &str) -> Option<PathBuf> {
    let python = tool(&format!("python/kubernetes-{version}/bin/python"))?;
    let imports = Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !imports {
        assert!(
            std::env::var("KINDLING_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
            "KINDLING_REQUIRE_TOOLS=1 but {} cannot import kubernetes: run scripts/tools.sh",
            python.display()
        );
        eprintln!(
            "note: {} cannot import kubernetes: skipped",
            python.display()
        );
        return None;
    }
    Some(python)
}

#[test]
fn python_client_lists_creates_watches_patches_and_deletes() {
    let s = TestServer::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let versions = pinned_versions();
    assert!(!versions.is_empty());
    for version in versions {
        let Some(python) = python_with_client(&version) else {
            continue;
        };
        let out = Command::new(&python)
            .arg(&script)
            .arg(&s.kubeconfig)
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "the Python client {version} failed:\n{stdout}\n{}",
            text(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!("client {version}\n")),
            "{stdout}"
        );
        for step in [
            "watch saw ADDED",
            "strategic merge patch",
            "watch saw MODIFIED",
            "merge patch",
            "watch saw DELETED",
            "custom objects",
        ] {
            assert!(
                stdout.lines().any(|l| l == step),
                "{step:?} missing:\n{stdout}"
            );
        }
        assert_eq!(stdout.lines().last(), Some("ok"), "{stdout}");
    }
}
