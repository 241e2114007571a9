//! The CRI v1 client to the node's containerd (tonic over its unix socket, the `k8s-cri`
//! crate's generated stubs): the [`Runtime`] the kubelet uses. The only module that names the
//! gRPC clients.

use super::{
    ContainerInfo, ExecResult, Image, LinuxResources, PodRuntime, Runtime, RuntimeError,
    RuntimeResult, SandboxInfo, Seen, SeenState, State, Streams, ANNOTATION_HASH, ANNOTATION_KIND,
    ANNOTATION_RESOURCES, LABEL_CONTAINER_NAME, LABEL_MANAGED, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
};
use anyhow::{Context, Result};
use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::collections::HashMap;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// Both CRI services over one lazily (re)connected channel.
#[derive(Clone)]
pub struct CriRuntime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl From<tonic::Status> for RuntimeError {
    fn from(status: tonic::Status) -> RuntimeError {
        RuntimeError(status.message().to_string())
    }
}

impl CriRuntime {
    /// A client for `socket` that connects on first use and again after containerd restarts.
    pub fn new(socket: &str) -> Result<CriRuntime> {
        let path = socket.to_string();
        let channel = Endpoint::try_from("http://[::]:50051")?
            .timeout(Duration::from_secs(240))
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(
                        tokio::net::UnixStream::connect(path).await?,
                    ))
                }
            }));
        Ok(CriRuntime {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// Sandboxes matching `filter`.
    async fn sandboxes(&self, filter: cri::PodSandboxFilter) -> Result<Vec<cri::PodSandbox>> {
        let mut rt = self.runtime.clone();
        Ok(rt
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await
            .context("ListPodSandbox")?
            .into_inner()
            .items)
    }

    /// Containers matching `filter`.
    async fn containers(&self, filter: cri::ContainerFilter) -> Result<Vec<cri::Container>> {
        let mut rt = self.runtime.clone();
        Ok(rt
            .list_containers(cri::ListContainersRequest {
                filter: Some(filter),
            })
            .await
            .context("ListContainers")?
            .into_inner()
            .containers)
    }
}

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn container_state(state: i32) -> State {
    match state {
        s if s == cri::ContainerState::ContainerCreated as i32 => State::Created,
        s if s == cri::ContainerState::ContainerRunning as i32 => State::Running,
        s if s == cri::ContainerState::ContainerExited as i32 => State::Exited,
        _ => State::Unknown,
    }
}

#[async_trait]
impl Runtime for CriRuntime {
    async fn wait_ready(&self) {
        let mut warned = false;
        loop {
            let mut rt = self.runtime.clone();
            match rt.version(cri::VersionRequest::default()).await {
                Ok(_) => return,
                Err(e) => {
                    if !warned {
                        tracing::info!("waiting for the CRI runtime: {e}");
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn list_managed(&self) -> Result<HashMap<String, Vec<Seen>>> {
        let managed = labels(&[(LABEL_MANAGED, "true")]);
        let (sandboxes, containers) = tokio::try_join!(
            self.sandboxes(cri::PodSandboxFilter {
                label_selector: managed.clone(),
                ..Default::default()
            }),
            self.containers(cri::ContainerFilter {
                label_selector: managed,
                ..Default::default()
            })
        )?;
        let mut by_pod: HashMap<String, Vec<Seen>> = HashMap::new();
        for s in sandboxes {
            if let Some(uid) = s.labels.get(LABEL_POD_UID) {
                by_pod.entry(uid.clone()).or_default().push(Seen {
                    id: s.id,
                    state: SeenState::Sandbox {
                        ready: s.state == cri::PodSandboxState::SandboxReady as i32,
                    },
                });
            }
        }
        for c in containers {
            if let Some(uid) = c.labels.get(LABEL_POD_UID) {
                by_pod.entry(uid.clone()).or_default().push(Seen {
                    id: c.id,
                    state: SeenState::Container(container_state(c.state)),
                });
            }
        }
        Ok(by_pod)
    }

    async fn pod(&self, uid: &str) -> Result<PodRuntime> {
        let selector = labels(&[(LABEL_POD_UID, uid)]);
        let sandboxes = self
            .sandboxes(cri::PodSandboxFilter {
                label_selector: selector.clone(),
                ..Default::default()
            })
            .await?;
        let containers = self
            .containers(cri::ContainerFilter {
                label_selector: selector,
                ..Default::default()
            })
            .await?;
        let mut rt = self.runtime.clone();
        let mut out = PodRuntime::default();
        for s in sandboxes {
            let mut info = SandboxInfo {
                id: s.id.clone(),
                attempt: s.metadata.as_ref().map_or(0, |m| m.attempt),
                ready: s.state == cri::PodSandboxState::SandboxReady as i32,
                created_at: s.created_at,
                ips: Vec::new(),
            };
            if info.ready {
                // The IP only matters for the sandbox that runs the pod now.
                match rt
                    .pod_sandbox_status(cri::PodSandboxStatusRequest {
                        pod_sandbox_id: s.id.clone(),
                        verbose: false,
                    })
                    .await
                {
                    Ok(st) => {
                        if let Some(net) = st.into_inner().status.and_then(|s| s.network) {
                            if !net.ip.is_empty() {
                                info.ips.push(net.ip);
                            }
                            info.ips
                                .extend(net.additional_ips.into_iter().map(|i| i.ip));
                        }
                    }
                    Err(e) if e.code() == tonic::Code::NotFound => continue,
                    Err(e) => return Err(e).context("PodSandboxStatus"),
                }
            }
            out.sandboxes.push(info);
        }
        for c in containers {
            let status = match rt
                .container_status(cri::ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await
            {
                Ok(st) => st.into_inner().status,
                Err(e) if e.code() == tonic::Code::NotFound => continue,
                Err(e) => return Err(e).context("ContainerStatus"),
            };
            let Some(st) = status else { continue };
            out.containers.push(container_info(&c, &st));
        }
        out.sandboxes
            .sort_by_key(|s| std::cmp::Reverse((s.attempt, s.created_at)));
        out.containers
            .sort_by_key(|c| std::cmp::Reverse((c.attempt, c.created_at)));
        Ok(out)
    }

    async fn run_pod_sandbox(&self, config: cri::PodSandboxConfig) -> RuntimeResult<String> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await?;
        Ok(answer.into_inner().pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await?;
        Ok(())
    }

    async fn sandbox_cgroup_parent(&self, id: &str) -> Option<String> {
        let mut rt = self.runtime.clone();
        let status = rt
            .pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: true,
            })
            .await
            .ok()?;
        cgroup_parent(&status.into_inner().info)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: cri::ContainerConfig,
        sandbox_config: cri::PodSandboxConfig,
    ) -> RuntimeResult<String> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            })
            .await?;
        Ok(answer.into_inner().container_id)
    }

    async fn start_container(&self, id: &str) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.start_container(cri::StartContainerRequest {
            container_id: id.to_string(),
        })
        .await?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout_seconds: i64) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.stop_container(cri::StopContainerRequest {
            container_id: id.to_string(),
            timeout: timeout_seconds,
        })
        .await?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.remove_container(cri::RemoveContainerRequest {
            container_id: id.to_string(),
        })
        .await?;
        Ok(())
    }

    async fn update_container_resources(
        &self,
        id: &str,
        resources: cri::LinuxContainerResources,
    ) -> RuntimeResult<()> {
        let mut rt = self.runtime.clone();
        rt.update_container_resources(cri::UpdateContainerResourcesRequest {
            container_id: id.to_string(),
            linux: Some(resources),
            windows: None,
            annotations: HashMap::new(),
        })
        .await?;
        Ok(())
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout_seconds: i64,
    ) -> RuntimeResult<ExecResult> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .exec_sync(cri::ExecSyncRequest {
                container_id: id.to_string(),
                cmd,
                timeout: timeout_seconds,
            })
            .await?
            .into_inner();
        Ok(ExecResult {
            exit_code: answer.exit_code,
            stdout: answer.stdout,
            stderr: answer.stderr,
        })
    }

    async fn running_container(
        &self,
        namespace: &str,
        pod: &str,
        name: &str,
    ) -> RuntimeResult<Option<String>> {
        let mut rt = self.runtime.clone();
        let list = rt
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    state: Some(cri::ContainerStateValue {
                        state: cri::ContainerState::ContainerRunning as i32,
                    }),
                    label_selector: labels(&[
                        (LABEL_POD_NAMESPACE, namespace),
                        (LABEL_POD_NAME, pod),
                        (LABEL_CONTAINER_NAME, name),
                    ]),
                    ..Default::default()
                }),
            })
            .await?
            .into_inner();
        Ok(list
            .containers
            .into_iter()
            .max_by_key(|c| c.created_at)
            .map(|c| c.id))
    }

    async fn ready_sandbox(&self, namespace: &str, pod: &str) -> RuntimeResult<Option<String>> {
        let mut rt = self.runtime.clone();
        let list = rt
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    state: Some(cri::PodSandboxStateValue {
                        state: cri::PodSandboxState::SandboxReady as i32,
                    }),
                    label_selector: labels(&[
                        (LABEL_POD_NAMESPACE, namespace),
                        (LABEL_POD_NAME, pod),
                    ]),
                    ..Default::default()
                }),
            })
            .await?
            .into_inner();
        Ok(list
            .items
            .into_iter()
            .max_by_key(|s| s.created_at)
            .map(|s| s.id))
    }

    async fn exec_url(
        &self,
        container_id: &str,
        cmd: Vec<String>,
        streams: Streams,
    ) -> RuntimeResult<String> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .exec(cri::ExecRequest {
                container_id: container_id.to_string(),
                cmd,
                tty: streams.tty,
                stdin: streams.stdin,
                stdout: streams.stdout,
                stderr: streams.stderr,
            })
            .await?;
        Ok(answer.into_inner().url)
    }

    async fn attach_url(&self, container_id: &str, streams: Streams) -> RuntimeResult<String> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .attach(cri::AttachRequest {
                container_id: container_id.to_string(),
                stdin: streams.stdin,
                tty: streams.tty,
                stdout: streams.stdout,
                stderr: streams.stderr,
            })
            .await?;
        Ok(answer.into_inner().url)
    }

    async fn port_forward_url(&self, sandbox_id: &str, ports: Vec<i32>) -> RuntimeResult<String> {
        let mut rt = self.runtime.clone();
        let answer = rt
            .port_forward(cri::PortForwardRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                port: ports,
            })
            .await?;
        Ok(answer.into_inner().url)
    }

    async fn image_status(&self, image: &str) -> RuntimeResult<Option<Image>> {
        let mut images = self.images.clone();
        let answer = images
            .image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await?;
        Ok(answer.into_inner().image.map(|i| Image {
            id: i.id,
            uid: i.uid.map(|u| u.value),
            username: i.username,
        }))
    }

    async fn pull_image(&self, image: &str) -> RuntimeResult<String> {
        let mut images = self.images.clone();
        let answer = images
            .pull_image(cri::PullImageRequest {
                image: Some(cri::ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                auth: None,
                sandbox_config: None,
            })
            .await?;
        Ok(answer.into_inner().image_ref)
    }
}

fn container_info(c: &cri::Container, st: &cri::ContainerStatus) -> ContainerInfo {
    ContainerInfo {
        id: c.id.clone(),
        sandbox_id: c.pod_sandbox_id.clone(),
        name: c
            .labels
            .get(LABEL_CONTAINER_NAME)
            .cloned()
            .or_else(|| c.metadata.as_ref().map(|m| m.name.clone()))
            .unwrap_or_default(),
        attempt: c.metadata.as_ref().map_or(0, |m| m.attempt),
        init: c.annotations.get(ANNOTATION_KIND).map(String::as_str) == Some("init"),
        hash: c
            .annotations
            .get(ANNOTATION_HASH)
            .cloned()
            .unwrap_or_default(),
        state: container_state(st.state),
        created_at: st.created_at,
        started_at: st.started_at,
        finished_at: st.finished_at,
        exit_code: st.exit_code,
        reason: st.reason.clone(),
        message: st.message.clone(),
        image: st
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        image_ref: st.image_ref.clone(),
        // What the runtime reports (containerd ≥ 1.7), else what the container was created with.
        resources: st
            .resources
            .as_ref()
            .and_then(|r| r.linux.as_ref())
            .and_then(LinuxResources::from_cri)
            .or_else(|| {
                c.annotations
                    .get(ANNOTATION_RESOURCES)
                    .and_then(|a| LinuxResources::parse_annotation(a))
            }),
    }
}

/// The cgroup parent from containerd's verbose sandbox info (`config.linux.cgroup_parent`).
fn cgroup_parent(info: &HashMap<String, String>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(info.get("info")?).ok()?;
    v["config"]["linux"]["cgroup_parent"]
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_parent_from_verbose_sandbox_info() {
        let info: HashMap<String, String> = [(
            "info".to_string(),
            r#"{"pid": 42, "config": {"linux": {"cgroup_parent": "/kubelet/kubepods/besteffort/podu1"}}}"#
                .to_string(),
        )]
        .into();
        assert_eq!(
            cgroup_parent(&info).as_deref(),
            Some("/kubelet/kubepods/besteffort/podu1")
        );
        assert_eq!(cgroup_parent(&HashMap::new()), None);
    }
}
