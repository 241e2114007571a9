//! The CRI v1 client to the node's containerd (tonic over its unix socket, the `k8s-cri`
//! crate's generated stubs), and what the pod runner reads back from it: a pod's sandboxes and
//! containers with their full status.

use anyhow::{Context, Result};
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::collections::HashMap;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

/// Labels the node agent puts on every sandbox and container (the kubelet's names, so tools that
/// know them — crictl, kind's log export — find their way).
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Which agent made it: sandboxes without it (made by hand with ctr) are left alone.
pub const LABEL_MANAGED: &str = "io.kindling.managed";
/// Annotation: hash of the container's spec, to notice a changed image (the only spec change
/// a pod update may make).
pub const ANNOTATION_HASH: &str = "io.kubernetes.container.hash";
pub const ANNOTATION_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const ANNOTATION_TERMINATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Annotation: `init` for init containers.
pub const ANNOTATION_KIND: &str = "io.kindling.container.kind";

/// Both CRI services over one lazily (re)connected channel.
#[derive(Clone)]
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

impl Cri {
    /// A client for `socket` that connects on first use and again after containerd restarts.
    pub fn new(socket: &str) -> Result<Cri> {
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
        Ok(Cri {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// The image `image` (a reference or an ID) as the runtime has it, if it has it.
    pub async fn image_status(&self, image: &str) -> Result<Option<cri::Image>, tonic::Status> {
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
        Ok(answer.into_inner().image)
    }

    /// Waits until the runtime answers `Version`.
    pub async fn wait_ready(&self) {
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

    /// Every sandbox this agent made, grouped by pod UID.
    pub async fn sandboxes_by_pod(&self) -> Result<HashMap<String, Vec<cri::PodSandbox>>> {
        let mut rt = self.runtime.clone();
        let list = rt
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    label_selector: [(LABEL_MANAGED.to_string(), "true".to_string())].into(),
                    ..Default::default()
                }),
            })
            .await
            .context("ListPodSandbox")?
            .into_inner();
        let mut by_pod: HashMap<String, Vec<cri::PodSandbox>> = HashMap::new();
        for s in list.items {
            if let Some(uid) = s.labels.get(LABEL_POD_UID).cloned() {
                by_pod.entry(uid).or_default().push(s);
            }
        }
        Ok(by_pod)
    }

    /// Every container this agent made, grouped by pod UID.
    pub async fn containers_by_pod(&self) -> Result<HashMap<String, Vec<cri::Container>>> {
        let mut rt = self.runtime.clone();
        let list = rt
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    label_selector: [(LABEL_MANAGED.to_string(), "true".to_string())].into(),
                    ..Default::default()
                }),
            })
            .await
            .context("ListContainers")?
            .into_inner();
        let mut by_pod: HashMap<String, Vec<cri::Container>> = HashMap::new();
        for c in list.containers {
            if let Some(uid) = c.labels.get(LABEL_POD_UID).cloned() {
                by_pod.entry(uid).or_default().push(c);
            }
        }
        Ok(by_pod)
    }

    /// What the runtime holds of one pod: its sandboxes and containers, newest first, with
    /// statuses.
    pub async fn pod_runtime(&self, uid: &str) -> Result<PodRuntime> {
        let selector: HashMap<String, String> =
            [(LABEL_POD_UID.to_string(), uid.to_string())].into();
        let mut rt = self.runtime.clone();
        let sandboxes = rt
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    label_selector: selector.clone(),
                    ..Default::default()
                }),
            })
            .await
            .context("ListPodSandbox")?
            .into_inner()
            .items;
        let containers = rt
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    label_selector: selector,
                    ..Default::default()
                }),
            })
            .await
            .context("ListContainers")?
            .into_inner()
            .containers;
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
            out.containers.push(ContainerInfo::from_cri(&c, &st));
        }
        out.sandboxes
            .sort_by_key(|s| std::cmp::Reverse((s.attempt, s.created_at)));
        out.containers
            .sort_by_key(|c| std::cmp::Reverse((c.attempt, c.created_at)));
        Ok(out)
    }
}

/// A sandbox of the pod as the runtime reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SandboxInfo {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    pub created_at: i64,
    pub ips: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Exited,
    Unknown,
}

/// A container of the pod with what its status says.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub init: bool,
    pub hash: String,
    pub state: State,
    /// Nanoseconds since the epoch (0 when not yet).
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub image: String,
    pub image_ref: String,
}

impl ContainerInfo {
    fn from_cri(c: &cri::Container, st: &cri::ContainerStatus) -> ContainerInfo {
        let state = match st.state {
            s if s == cri::ContainerState::ContainerCreated as i32 => State::Created,
            s if s == cri::ContainerState::ContainerRunning as i32 => State::Running,
            s if s == cri::ContainerState::ContainerExited as i32 => State::Exited,
            _ => State::Unknown,
        };
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
            state,
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
        }
    }
}

/// Sandboxes and containers of one pod, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntime {
    pub sandboxes: Vec<SandboxInfo>,
    pub containers: Vec<ContainerInfo>,
}

impl PodRuntime {
    /// The sandbox the pod runs in now (the newest), if it is ready.
    pub fn ready_sandbox(&self) -> Option<&SandboxInfo> {
        self.sandboxes.first().filter(|s| s.ready)
    }

    /// The containers named `name`, newest first (across every sandbox of the pod).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ContainerInfo> + 'a {
        self.containers.iter().filter(move |c| c.name == name)
    }

    /// The newest container named `name` in sandbox `sandbox`.
    pub fn latest_in(&self, name: &str, sandbox: &str) -> Option<&ContainerInfo> {
        self.containers
            .iter()
            .find(|c| c.name == name && c.sandbox_id == sandbox)
    }

    /// The attempt number the next container named `name` gets.
    pub fn next_attempt(&self, name: &str) -> u32 {
        self.named(name).map(|c| c.attempt + 1).max().unwrap_or(0)
    }
}
