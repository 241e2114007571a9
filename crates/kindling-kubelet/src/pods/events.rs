//! Events about pods, as the kubelet records them (Pulled, Created, Started, Killing, BackOff,
//! Failed, Unhealthy…): what `kubectl describe pod` lists. Sent in the background; a lost event
//! is only logged.

use super::spec;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;

#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    node: String,
}

impl Recorder {
    pub fn new(client: kube::Client, node: String) -> Recorder {
        Recorder { client, node }
    }

    /// Records an event about `pod` (about one of its containers when `container` is set).
    pub fn emit(
        &self,
        pod: &Pod,
        container: Option<&str>,
        warning: bool,
        reason: &str,
        message: String,
    ) {
        let ns = spec::namespace(pod).to_string();
        let now = jiff::Timestamp::now();
        let stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let field_path = container.map(|c| {
            let init = spec::spec(pod)
                .init_containers
                .iter()
                .flatten()
                .any(|i| i.name == c);
            if init {
                format!("spec.initContainers{{{c}}}")
            } else {
                format!("spec.containers{{{c}}}")
            }
        });
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": format!("{}.{:x}", spec::name(pod), now.as_nanosecond()),
                "namespace": ns,
            },
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": spec::name(pod),
                "namespace": spec::namespace(pod),
                "uid": spec::uid(pod),
                "fieldPath": field_path,
            },
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": "kubelet", "host": self.node},
            "reportingComponent": "kubelet",
            "reportingInstance": self.node,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        });
        let Ok(event) = serde_json::from_value::<Event>(event) else {
            return;
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        tokio::spawn(async move {
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                tracing::debug!("recording event: {e}");
            }
        });
    }
}
