//! Builds a node image by hand, until the `kindling build node-image` command calls the library:
//! `cargo run --release -p kindling-image --example build-node-image -- BINARY [IMAGE] [EXTRA_PACKAGES]`
//! (EXTRA_PACKAGES comma-separated, e.g. `etcd-server`; KINDLING_IMAGE_CACHE overrides the cache dir).
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(binary) = args.first() else {
        anyhow::bail!("usage: build-node-image BINARY [IMAGE] [EXTRA_PACKAGES]");
    };
    let progress = |line: &str| eprintln!("{line}");
    let mut opts = kindling_image::NodeImageOptions {
        kindling_binary: binary.into(),
        progress: &progress,
        ..Default::default()
    };
    if let Some(dir) = std::env::var_os("KINDLING_IMAGE_CACHE") {
        opts.cache_dir = dir.into();
    }
    if let Some(image) = args.get(1) {
        opts.image = image.clone();
    }
    if let Some(extra) = args.get(2) {
        opts.extra_packages = extra
            .split(',')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
    }
    println!("{}", kindling_image::build_node_image(&opts).await?);
    Ok(())
}
