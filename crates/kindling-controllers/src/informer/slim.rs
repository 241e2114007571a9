//! What the shared pod cache keeps of a pod: only what some controller reads. A typed pod is
//! large (k8s-openapi's `Volume` alone is 3.2 KB inline, a projected volume's sources another
//! 1.5 KB), and with every pod of the cluster cached, the parts no controller reads were most of
//! the controller manager's memory (measured with heaptrack: 11.3 KB a pod cached, 5.5 KB of
//! it the service account's projected volume).
//!
//! Kept because something reads it (checked reader by reader): metadata without managedFields
//! and without kubectl's last-applied annotation (labels, owners, finalizers, deletion cost and
//! Job index annotations…); `nodeName`, `hostname`/`subdomain` (endpoints), affinity (the
//! daemon set's target node); the containers that declare ports and the sidecars (init
//! containers with `restartPolicy: Always`), for named target ports and sidecar restarts;
//! volumes backed by claims (`persistentVolumeClaim`, `ephemeral`: the PV and ephemeral volume
//! controllers, stateful sets); the whole status.
//! Dropped: containers without ports (k8s-openapi's `Container` is 2.1 KB inline) and other
//! init containers, every other volume, the kept containers' command, args, env, mounts,
//! probes, lifecycle and security context, and the pod's tolerations (the taint eviction
//! controller lists pods live). So a cached pod's `spec.containers` may be empty: read
//! containers from the cache only for their ports. No controller writes a cached pod back
//! whole (pods are patched or deleted), so nothing dropped here can be lost on the server.

use k8s_openapi::api::core::v1::{Container, Pod};

/// kubectl's copy of the applied object: as large as the pod, read by no controller.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `pod` reduced to what the controllers read (see the module's documentation).
pub fn slim(pod: &mut Pod) {
    kindling_reflect::without_managed_fields(pod);
    if let Some(annotations) = pod.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    if let Some(volumes) = spec.volumes.as_mut() {
        volumes.retain(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
        volumes.shrink_to_fit();
    }
    spec.tolerations = None;
    spec.containers.retain(declares_ports);
    spec.containers.shrink_to_fit();
    spec.containers.iter_mut().for_each(slim_container);
    if let Some(init) = spec.init_containers.as_mut() {
        init.retain(|c| c.restart_policy.as_deref() == Some("Always"));
        init.iter_mut().for_each(slim_container);
    }
    if spec.init_containers.as_ref().is_some_and(Vec::is_empty) {
        spec.init_containers = None;
    }
    // Debugging containers: no controller looks at them.
    spec.ephemeral_containers = None;
}

fn declares_ports(c: &Container) -> bool {
    c.ports.as_ref().is_some_and(|p| !p.is_empty())
}

fn slim_container(c: &mut Container) {
    c.command = None;
    c.args = None;
    c.env = None;
    c.env_from = None;
    c.volume_mounts = None;
    c.volume_devices = None;
    c.liveness_probe = None;
    c.readiness_probe = None;
    c.startup_probe = None;
    c.lifecycle = None;
    c.security_context = None;
    c.working_dir = None;
    c.termination_message_path = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod as the API server stores it: the service account's projected volume, a claim, an
    /// ephemeral volume, a container with everything, managedFields, last-applied.
    fn stored_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "default", "uid": "u1",
                "labels": {"app": "web"},
                "annotations": {LAST_APPLIED: "{\"big\": true}",
                                "controller.kubernetes.io/pod-deletion-cost": "-5"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                     "uid": "s1", "controller": true}],
                "finalizers": ["batch.kubernetes.io/job-tracking"],
                "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "spec": {
                "nodeName": "n1", "hostname": "web-0", "subdomain": "web",
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                    {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}},
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
                "initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
                                    "command": ["sleep", "1d"]},
                                   {"name": "setup", "image": "busybox"}],
                "containers": [{"name": "c", "image": "busybox", "command": ["sh"], "args": ["-c", "x"],
                    "env": [{"name": "A", "value": "b"}],
                    "ports": [{"name": "http", "containerPort": 80}],
                    "resources": {"requests": {"cpu": "10m"}},
                    "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/var/run/secrets"}],
                    "readinessProbe": {"httpGet": {"port": 80}}},
                    {"name": "logger", "image": "busybox", "command": ["tail"]}],
                "volumes": [
                    {"name": "kube-api-access-x", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                    {"name": "cache", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.244.0.5",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": true,
                                              "restartCount": 2}]}
        }))
        .expect("literal pod")
    }

    #[test]
    fn keeps_what_controllers_read() {
        let mut pod = stored_pod();
        slim(&mut pod);
        let kept = serde_json::to_value(&pod).unwrap();
        assert_eq!(kept["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(
            kept["metadata"]["annotations"],
            json!({"controller.kubernetes.io/pod-deletion-cost": "-5"})
        );
        assert_eq!(kept["metadata"]["ownerReferences"][0]["uid"], "s1");
        assert_eq!(
            kept["metadata"]["finalizers"][0],
            "batch.kubernetes.io/job-tracking"
        );
        assert_eq!(kept["spec"]["nodeName"], "n1");
        assert_eq!(kept["spec"]["hostname"], "web-0");
        assert_eq!(kept["spec"]["subdomain"], "web");
        assert_eq!(
            crate::daemonset::plan::target_node(&Pod {
                spec: pod.spec.clone().map(|mut s| {
                    s.node_name = None;
                    s
                }),
                ..pod.clone()
            })
            .as_deref(),
            Some("n1")
        );
        assert_eq!(kept["spec"]["initContainers"][0]["restartPolicy"], "Always");
        assert_eq!(
            kept["spec"]["containers"][0]["ports"],
            json!([{"name": "http", "containerPort": 80}])
        );
        assert_eq!(
            kept["spec"]["containers"][0]["resources"],
            json!({"requests": {"cpu": "10m"}})
        );
        let volumes: Vec<&str> = kept["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(volumes, ["data", "scratch"]);
        assert_eq!(crate::ephemeral::claims_for(&pod).len(), 1);
        assert_eq!(
            kept["status"],
            serde_json::to_value(&stored_pod().status).unwrap()
        );
    }

    #[test]
    fn drops_what_no_controller_reads() {
        let mut pod = stored_pod();
        slim(&mut pod);
        assert!(pod.metadata.managed_fields.is_none());
        let spec = pod.spec.as_ref().unwrap();
        assert!(spec.tolerations.is_none());
        let c = &spec.containers[0];
        assert!(c.command.is_none() && c.args.is_none() && c.env.is_none());
        assert!(c.volume_mounts.is_none() && c.readiness_probe.is_none());
        let init = spec.init_containers.as_ref().unwrap();
        assert_eq!(init.len(), 1, "only the sidecar is kept");
        assert!(init[0].command.is_none());
        let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["c"], "a container without ports is not kept");
        assert!(spec
            .volumes
            .iter()
            .flatten()
            .all(|v| v.projected.is_none() && v.empty_dir.is_none()));
    }

    #[test]
    fn a_pod_without_spec_or_annotations_is_left_alone() {
        let mut pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}})).unwrap();
        slim(&mut pod);
        assert_eq!(
            serde_json::to_value(&pod).unwrap(),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
        );
    }
}
