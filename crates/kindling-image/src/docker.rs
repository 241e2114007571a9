//! The two Docker Engine calls image building needs: import a rootfs tar as an image, and look an
//! image up. Everything goes through bollard; nothing shells out to `docker`.

use std::time::Duration;

use anyhow::{Context, Result};
use bollard::query_parameters::{CreateImageOptionsBuilder, RemoveImageOptions};
use bollard::{body_try_stream, Docker};
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Connects as the docker CLI would (DOCKER_HOST or the local socket) and negotiates the API
/// version: bollard speaks a newer API than older engines (Debian's 20.10 serves 1.41) accept.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_defaults()
        .context("connecting to the Docker engine")?
        // importing a 200 MB rootfs can outlast bollard's 2-minute default on a slow disk
        .with_timeout(Duration::from_secs(900));
    docker
        .negotiate_version()
        .await
        .context("no Docker engine answered (is dockerd running?)")
}

/// Splits `repo[:tag]` where a ':' before the last '/' belongs to a registry port.
pub(crate) fn split_reference(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "latest"),
    }
}

/// `POST /images/create?fromSrc=-` (what `docker import` does) with the tar streamed as the body.
/// `changes` are Dockerfile instructions (ENTRYPOINT, LABEL, …) applied to the new image's config.
/// Returns the image ID.
pub(crate) async fn import<S>(
    docker: &Docker,
    name: &str,
    changes: Vec<String>,
    tar: S,
) -> Result<String>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let previous = image_id(docker, name).await?;
    let (repo, tag) = split_reference(name);
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(changes)
        .build();
    let mut progress = docker.create_image(Some(options), Some(body_try_stream(tar)), None);
    while let Some(item) = progress.next().await {
        item.with_context(|| format!("importing image {name}"))?;
    }
    let id = image_id(docker, name)
        .await?
        .with_context(|| format!("image {name} missing right after its import"))?;
    if let Some(old) = previous.filter(|old| *old != id) {
        // a rebuilt node image would leave a dangling 170 MB image behind each time; Docker
        // refuses this (and we let it) while the old image has other names or containers
        let _ = docker
            .remove_image(&old, None::<RemoveImageOptions>, None)
            .await;
    }
    Ok(id)
}

/// The image's ID, or `None` when no image has that name.
pub(crate) async fn image_id(docker: &Docker, name: &str) -> Result<Option<String>> {
    Ok(inspect(docker, name).await?.and_then(|i| i.id))
}

pub(crate) async fn inspect(
    docker: &Docker,
    name: &str,
) -> Result<Option<bollard::models::ImageInspect>> {
    match docker.inspect_image(name).await {
        Ok(image) => Ok(Some(image)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("inspecting image {name}")),
    }
}

/// A Dockerfile `LABEL` instruction; values are JSON-quoted, which the Dockerfile parser accepts.
pub(crate) fn label_change(labels: &[(&str, String)]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::from(v.as_str())))
        .collect();
    format!("LABEL {}", pairs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_reference("kindling/node:v1"), ("kindling/node", "v1"));
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/x:2"),
            ("localhost:5000/x", "2")
        );
    }

    #[test]
    fn labels_are_quoted() {
        let change = label_change(&[("a.b", "x y".into()), ("c", "\"q\"".into())]);
        assert_eq!(change, r#"LABEL a.b="x y" c="\"q\"""#);
    }
}
