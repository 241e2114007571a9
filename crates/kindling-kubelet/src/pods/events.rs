//! Events about pods, as the kubelet records them (Pulled, Created, Started, Killing, BackOff,
//! Failed, Unhealthy…): what `kubectl describe pod` lists. Written by the shared recorder of
//! `kindling-events` (in the background, repeats counted, a lost event only logged); this module
//! only names the pod and the container the event is about.

use super::spec;
use k8s_openapi::api::core::v1::Pod;
use kindling_events::Reporter;

#[derive(Clone)]
pub struct Recorder {
    events: kindling_events::Recorder,
}

impl Recorder {
    /// Must be called inside the kubelet's runtime: the writer task lives there.
    pub fn new(client: kube::Client, node: &str) -> Recorder {
        Recorder {
            events: kindling_events::Recorder::spawn(client, Reporter::node("kubelet", node), 4),
        }
    }

    /// Records an event about `pod` (about one of its containers when `container` is set).
    pub fn emit(
        &self,
        pod: &Pod,
        container: Option<&str>,
        warning: bool,
        reason: &'static str,
        message: String,
    ) {
        let mut object = kindling_events::reference(pod);
        object.field_path = container.map(|c| field_path(pod, c));
        if warning {
            self.events.warning(object, reason, "", message);
        } else {
            self.events.normal(object, reason, "", message);
        }
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`, as upstream's field paths.
fn field_path(pod: &Pod, container: &str) -> String {
    let init = spec::spec(pod)
        .init_containers
        .iter()
        .flatten()
        .any(|i| i.name == container);
    if init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}
