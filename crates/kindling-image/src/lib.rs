//! Builds kindling's images on the local Docker engine, with no registry: the node image (a slim
//! Debian rootfs with containerd, runc, CNI plugins, our pause image and the kindling binary) and
//! the tiny busybox-static images that stand in for busybox, nginx and http-echo in tests, and
//! `kindling/testserver` (gRPC health and UDP echo: `testserver`).
//!
//! Flow of a node image build: `rootfs` (debootstrap, cached by package list) → `slim` (drop what a
//! node never runs, then prove no kept binary lost a library via `elf`) → `node` adds the per-build
//! files → `tarstream` streams the tree → `docker` imports it with the image config as `changes`.

mod docker;
mod elf;
mod inroot;
mod node;
mod pause;
mod rootfs;
mod slim;
mod tarstream;
mod testimage;
mod testserver;

pub use docker::connect;
pub use node::{build_node_image, ensure_node_image, NodeImageOptions, DEFAULT_NODE_IMAGE};
pub use rootfs::{BASE_PACKAGES, DEFAULT_CACHE_DIR, SUITE};
pub use testimage::{
    build_standard_test_images, build_test_image, build_test_image_as, TestImage,
    STANDARD_TEST_IMAGES,
};
pub use testserver::{build_testserver_binary, build_testserver_image, TESTSERVER_IMAGE};

/// The CRI sandbox image every node's containerd is configured with; the node image carries it as
/// an OCI archive at [`PAUSE_ARCHIVE`] for the node's PID 1 to import at boot.
pub const PAUSE_IMAGE: &str = concat!("kindling.local/pause:", env!("CARGO_PKG_VERSION"));
/// Where the pause image archive sits inside the node image.
pub const PAUSE_ARCHIVE: &str = "/kindling/images/pause.tar";
/// Image labels, so the CLI can tell what a node image holds without running it.
pub const LABEL_VERSION: &str = "io.kindling.version";
pub const LABEL_BINARY_SHA256: &str = "io.kindling.binary.sha256";
pub const LABEL_PACKAGES: &str = "io.kindling.packages";
pub const LABEL_PAUSE_IMAGE: &str = "io.kindling.pause-image";

/// The size in bytes of a local image (`docker images` SIZE), or `None` when absent.
pub async fn image_size(name: &str) -> anyhow::Result<Option<i64>> {
    let docker = connect().await?;
    Ok(docker::inspect(&docker, name).await?.and_then(|i| i.size))
}
