//! What the Docker end-to-end test files share.
#![allow(dead_code)]

use std::process::Command;

/// Whether a Docker engine answers. Without one the test is skipped with a message, unless
/// `KINDLING_REQUIRE_DOCKER` is set (CI), where that is a failure.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("KINDLING_REQUIRE_DOCKER").is_err(),
            "KINDLING_REQUIRE_DOCKER is set but no Docker engine answers"
        );
        eprintln!("SKIPPED: no Docker engine answers (run scripts/docker.sh)");
    }
    ok
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A cluster name of this test process, so parallel checkouts do not collide.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id() % 100_000)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
