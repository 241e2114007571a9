//! Replacing a node container by one of another image (`kindling upgrade cluster`), keeping
//! what makes it the same node: its name, hostname, labels, environment, command, mounts,
//! published ports (their host ports are concrete since creation, see the crate docs), network
//! alias and security settings — all read back from the engine, so nothing has to be
//! remembered — plus its `/var` volume (pods' data, images, the store, PVs) bound by name, and
//! its `/kindling` directory (settings, certificates) copied over before the new one starts.

use super::{status_of, DockerProvider};
use crate::error::{ProviderError, Result};
use crate::types::NodeInfo;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, EndpointSettings};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptions, RemoveContainerOptions,
    RenameContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures::TryStreamExt;
use std::collections::HashMap;

/// Where node volumes are mounted: the one mount carried over by name.
pub const VAR: &str = "/var";
/// The node's own files (see kindling-node's `config`): copied into the replacement.
const KINDLING: &str = "/kindling";

/// The `/var` volume's name of an inspected container, if it has one.
pub fn var_volume(c: &ContainerInspectResponse) -> Option<String> {
    c.mounts
        .as_ref()?
        .iter()
        .find(|m| m.destination.as_deref() == Some(VAR))
        .and_then(|m| m.name.clone())
}

/// The create body of `old`'s replacement running `image`: its configuration as the engine
/// reports it, the image changed, the anonymous `/var` volume bound by name, one endpoint per
/// network with the container's name as alias.
pub fn replacement_body(
    old: &ContainerInspectResponse,
    image: &str,
) -> std::result::Result<ContainerCreateBody, String> {
    let config = old.config.clone().ok_or("no configuration to copy")?;
    let mut body: ContainerCreateBody = serde_json::to_value(config)
        .and_then(serde_json::from_value)
        .map_err(|e| format!("copying the configuration: {e}"))?;
    body.image = Some(image.to_string());
    // The image's VOLUME list is the new image's business; /var is bound below.
    body.volumes = None;
    let mut host = old.host_config.clone().unwrap_or_default();
    if let Some(volume) = var_volume(old) {
        let mut binds = host.binds.take().unwrap_or_default();
        binds.retain(|b| !b.ends_with(&format!(":{VAR}")));
        binds.push(format!("{volume}:{VAR}"));
        host.binds = Some(binds);
    }
    body.host_config = Some(host);
    let name = old
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let networks = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| {
            n.keys()
                .map(|net| {
                    (
                        net.clone(),
                        EndpointSettings {
                            aliases: Some(vec![name.clone()]),
                            ..Default::default()
                        },
                    )
                })
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    body.networking_config = Some(bollard::models::NetworkingConfig {
        endpoints_config: Some(networks),
    });
    Ok(body)
}

impl DockerProvider {
    /// Replaces the (stopped or running) container `name` by one running `image`; see the
    /// module docs. On failure the old container is put back as it was (and started if it was
    /// running).
    pub(super) async fn do_replace_node(&self, name: &str, image: &str) -> Result<NodeInfo> {
        if self.do_image_id(image).await?.is_none() {
            return Err(ProviderError::ImageNotFound {
                image: image.to_string(),
            });
        }
        let action = || format!("replacing node {name:?}");
        let old = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| self.not_found_or(name, action(), e))?;
        let invalid = |reason: String| ProviderError::InvalidSpec {
            node: name.to_string(),
            reason,
        };
        let body = replacement_body(&old, image).map_err(invalid)?;
        let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        if was_running {
            self.docker
                .stop_container(name, None)
                .await
                .map_err(|e| self.engine_err(action(), e))?;
        }
        let files: Vec<Bytes> = self
            .docker
            .download_from_container(
                name,
                Some(DownloadFromContainerOptions {
                    path: KINDLING.into(),
                }),
            )
            .try_collect()
            .await
            .map_err(|e| self.engine_err(format!("reading {KINDLING} of node {name:?}"), e))?;
        let aside = format!("{name}-replaced");
        self.docker
            .rename_container(
                name,
                RenameContainerOptions {
                    name: aside.clone(),
                },
            )
            .await
            .map_err(|e| self.engine_err(action(), e))?;
        match self.create_replacement(name, body, files).await {
            Ok(info) => {
                // Not `-v`: the /var volume is the new container's now.
                let keep_volumes = RemoveContainerOptions {
                    force: true,
                    v: false,
                    link: false,
                };
                if let Err(e) = self
                    .docker
                    .remove_container(&aside, Some(keep_volumes))
                    .await
                {
                    tracing::warn!("removing the replaced container {aside}: {e}");
                }
                Ok(info)
            }
            Err(e) => {
                let _ = self
                    .docker
                    .rename_container(&aside, RenameContainerOptions { name: name.into() })
                    .await;
                if was_running {
                    let _ = self.docker.start_container(name, None).await;
                }
                Err(e)
            }
        }
    }

    async fn create_replacement(
        &self,
        name: &str,
        body: ContainerCreateBody,
        files: Vec<Bytes>,
    ) -> Result<NodeInfo> {
        let action = || format!("replacing node {name:?}");
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| self.engine_err(action(), e))?;
        let started = async {
            self.docker
                .upload_to_container(
                    &created.id,
                    Some(UploadToContainerOptions {
                        path: "/".into(),
                        ..Default::default()
                    }),
                    bollard::body_full(Bytes::from(files.concat())),
                )
                .await?;
            self.docker.start_container(&created.id, None).await
        }
        .await;
        if let Err(e) = started {
            let keep_volumes = RemoveContainerOptions {
                force: true,
                v: false,
                link: false,
            };
            let _ = self
                .docker
                .remove_container(&created.id, Some(keep_volumes))
                .await;
            return Err(self.engine_err(action(), e));
        }
        self.node_by_id(&created.id).await
    }

    /// The names of the `/var` volumes of these containers (bound by name after a replacement,
    /// so `docker rm -v` no longer removes them with the container).
    pub(super) async fn var_volumes(&self, names: &[String]) -> Vec<String> {
        let mut volumes = Vec::new();
        for name in names {
            match self.docker.inspect_container(name, None).await {
                Ok(c) => volumes.extend(var_volume(&c)),
                Err(e) if status_of(&e) == Some(404) => {}
                Err(e) => tracing::debug!("inspecting {name}: {e}"),
            }
        }
        volumes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspected() -> ContainerInspectResponse {
        serde_json::from_value(serde_json::json!({
            "Name": "/kind-worker",
            "Config": {
                "Hostname": "kind-worker", "Image": "kindling/node:v1", "Tty": true,
                "Labels": {"io.x-k8s.kind.cluster": "kind", "io.x-k8s.kind.role": "worker"},
                "Env": ["A=1"], "Volumes": {"/var": {}},
                "ExposedPorts": {"80/tcp": {}}
            },
            "HostConfig": {
                "Binds": ["/lib/modules:/lib/modules:ro", "/data:/data"],
                "PortBindings": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "unless-stopped"},
                "Tmpfs": {"/tmp": "", "/run": ""}, "Privileged": true
            },
            "Mounts": [
                {"Type": "volume", "Name": "abc123", "Destination": "/var"},
                {"Type": "bind", "Source": "/data", "Destination": "/data"}
            ],
            "NetworkSettings": {"Networks": {"kind": {"Aliases": ["kind-worker", "0f1e2d"]}}}
        }))
        .unwrap()
    }

    #[test]
    fn the_replacement_keeps_everything_but_the_image() {
        let body = replacement_body(&inspected(), "kindling/node:v2").unwrap();
        assert_eq!(body.image.as_deref(), Some("kindling/node:v2"));
        assert_eq!(body.hostname.as_deref(), Some("kind-worker"));
        assert_eq!(
            body.labels.as_ref().unwrap()["io.x-k8s.kind.role"],
            "worker"
        );
        assert_eq!(body.env.as_deref(), Some(&["A=1".to_string()][..]));
        assert_eq!(body.tty, Some(true));
        assert!(body.volumes.is_none());
        let host = body.host_config.unwrap();
        assert_eq!(
            host.binds.unwrap(),
            ["/lib/modules:/lib/modules:ro", "/data:/data", "abc123:/var"]
        );
        assert_eq!(
            host.port_bindings.unwrap()["80/tcp"].as_ref().unwrap()[0]
                .host_port
                .as_deref(),
            Some("8080")
        );
        assert_eq!(host.privileged, Some(true));
        let nets = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            nets["kind"].aliases.as_deref(),
            Some(&["kind-worker".to_string()][..])
        );
        assert_eq!(var_volume(&inspected()).as_deref(), Some("abc123"));
    }
}
