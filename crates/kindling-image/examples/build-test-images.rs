//! Builds the offline stand-ins for busybox, nginx and http-echo, and the `kindling/testserver`
//! image (gRPC health, UDP echo), into the local Docker engine (`scripts/build-test-images.sh`
//! runs this). Images already built from the same inputs are kept.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let progress = |line: &str| println!("{line}");
    kindling_image::build_standard_test_images(&progress).await?;
    let binary = kindling_image::build_testserver_binary()?;
    let id =
        kindling_image::build_testserver_image(kindling_image::TESTSERVER_IMAGE, &binary).await?;
    progress(&format!("{} {id}", kindling_image::TESTSERVER_IMAGE));
    Ok(())
}
