//! A container's environment as the kubelet makes it: service links (`KUBERNETES_SERVICE_HOST`
//! and every service of the pod's namespace), then `envFrom` (configMaps, secrets, with
//! prefix), then `env` (value with `$(VAR)` expansion, fieldRef, resourceFieldRef,
//! configMapKeyRef, secretKeyRef). A missing non-optional source is a
//! `CreateContainerConfigError` with upstream's message.

use super::spec::{self, expand};
use super::tokens::{TokenManager, TokenSource};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;

/// Values the downward API needs that are not in the pod object yet.
#[derive(Clone, Debug, Default)]
pub struct Downward {
    pub host_ip: String,
    pub pod_ips: Vec<String>,
    pub node_cpus: u64,
    pub node_memory: u64,
}

/// What goes wrong: the message the container's `CreateContainerConfigError` shows.
#[derive(Debug)]
pub struct ConfigError(pub String);

/// A key-value source read from the API (configMap or secret data).
/// Keys and bytes of a configMap or secret.
pub type Data = BTreeMap<String, Vec<u8>>;

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

pub trait Sources {
    fn config_map(
        &self,
        ns: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Data>, String>> + Send;
    fn secret(
        &self,
        ns: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Data>, String>> + Send;
    fn services(
        &self,
        ns: &str,
    ) -> impl std::future::Future<Output = Result<Vec<Service>, String>> + Send;
    /// The node path of the volume bound to claim `name` (hostPath or local), `None` while
    /// the claim is unbound.
    fn claim_path(
        &self,
        ns: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<String>, String>> + Send;
    /// A token for a projected `serviceAccountToken` source.
    fn service_account_token(
        &self,
        source: &TokenSource,
    ) -> impl std::future::Future<Output = Result<String, String>> + Send;
}

/// The API server as the source (tokens through the node's token cache).
pub struct ApiSources {
    pub client: kube::Client,
    pub tokens: std::sync::Arc<TokenManager>,
}

impl Sources for ApiSources {
    async fn service_account_token(&self, source: &TokenSource) -> Result<String, String> {
        self.tokens.token(&self.client, source).await
    }

    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<Data>, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
        match api.get_opt(name).await {
            Ok(Some(cm)) => {
                let mut data: Data = cm
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect();
                for (k, v) in cm.binary_data.unwrap_or_default() {
                    data.insert(k, v.0);
                }
                Ok(Some(data))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Data>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        match api.get_opt(name).await {
            Ok(Some(s)) => {
                let mut data: Data = s
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                for (k, v) in s.string_data.unwrap_or_default() {
                    data.insert(k, v.into_bytes());
                }
                Ok(Some(data))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn services(&self, ns: &str) -> Result<Vec<Service>, String> {
        let api: Api<Service> = Api::namespaced(self.client.clone(), ns);
        api.list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(|e| e.to_string())
    }

    async fn claim_path(&self, ns: &str, name: &str) -> Result<Option<String>, String> {
        use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        let claim = claims
            .get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolumeclaim \"{name}\" not found"))?;
        let Some(volume) = claim
            .spec
            .and_then(|s| s.volume_name)
            .filter(|v| !v.is_empty())
        else {
            return Ok(None);
        };
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let pv = volumes
            .get_opt(&volume)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolume \"{volume}\" not found"))?;
        let spec = pv.spec.unwrap_or_default();
        if let Some(h) = spec.host_path {
            return Ok(Some(h.path));
        }
        if let Some(l) = spec.local {
            return Ok(Some(l.path));
        }
        Err(format!(
            "persistentvolume \"{volume}\" is neither hostPath nor local"
        ))
    }
}

/// `metadata.name`, `status.podIP`, `metadata.labels['app']`… of the pod.
pub fn field_value(pod: &Pod, path: &str, downward: &Downward) -> Result<String, String> {
    let meta = &pod.metadata;
    let map_key = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?.strip_prefix("['")?;
        Some(rest.strip_suffix("']")?.to_string())
    };
    if let Some(k) = map_key("metadata.labels") {
        return Ok(meta
            .labels
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(k) = map_key("metadata.annotations") {
        return Ok(meta
            .annotations
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    let spec = spec::spec(pod);
    Ok(match path {
        "metadata.name" => spec::name(pod).to_string(),
        "metadata.namespace" => spec::namespace(pod).to_string(),
        "metadata.uid" => spec::uid(pod).to_string(),
        "metadata.labels" => map_lines(meta.labels.as_ref()),
        "metadata.annotations" => map_lines(meta.annotations.as_ref()),
        "spec.nodeName" => spec.node_name.clone().unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.clone().unwrap_or_default(),
        "status.hostIP" => downward.host_ip.clone(),
        "status.hostIPs" => downward.host_ip.clone(),
        "status.podIP" => downward.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => downward.pod_ips.join(","),
        other => return Err(format!("unsupported fieldPath: {other}")),
    })
}

/// Labels or annotations as the downward API writes them: `key="value"` lines, sorted.
pub fn map_lines(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `limits.cpu`, `requests.memory`… of container `c`, divided by `divisor` and rounded up;
/// an unset limit is the node's allocatable.
pub fn resource_value(
    c: &Container,
    resource: &str,
    divisor: Option<&str>,
    downward: &Downward,
) -> Result<String, String> {
    let r = spec::resources(c);
    let (value, unit_default) = match resource {
        "limits.cpu" => (
            r.cpu_limit_milli
                .map_or(downward.node_cpus as f64, |m| m as f64 / 1000.0),
            "1",
        ),
        "requests.cpu" => (r.cpu_request_milli.map_or(0.0, |m| m as f64 / 1000.0), "1"),
        "limits.memory" => (
            r.memory_limit
                .map_or(downward.node_memory as f64, |b| b as f64),
            "1",
        ),
        "requests.memory" => (r.memory_request.map_or(0.0, |b| b as f64), "1"),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => (0.0, "1"),
        other => return Err(format!("unsupported resource: {other}")),
    };
    let divisor = divisor.unwrap_or(unit_default);
    let d = kindling_api::Quantity::parse(divisor.trim())
        .map(|d| d.as_approximate_f64())
        .ok()
        .filter(|d| *d > 0.0)
        .ok_or_else(|| format!("invalid divisor {divisor}"))?;
    Ok(format!("{}", (value / d).ceil() as i64))
}

/// Service link variables of one service (`NAME_SERVICE_HOST`, `NAME_PORT_80_TCP`…).
pub fn service_env(svc: &Service) -> Vec<(String, String)> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let Some(ip) = spec
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
    else {
        return Vec::new();
    };
    let name = svc
        .metadata
        .name
        .as_deref()
        .unwrap_or_default()
        .to_uppercase()
        .replace('-', "_");
    let ports = spec.ports.clone().unwrap_or_default();
    let Some(first) = ports.first() else {
        return Vec::new();
    };
    let mut out = vec![
        (format!("{name}_SERVICE_HOST"), ip.to_string()),
        (format!("{name}_SERVICE_PORT"), first.port.to_string()),
    ];
    for p in &ports {
        if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((
                format!(
                    "{name}_SERVICE_PORT_{}",
                    pn.to_uppercase().replace('-', "_")
                ),
                p.port.to_string(),
            ));
        }
    }
    let proto_of = |p: &k8s_openapi::api::core::v1::ServicePort| {
        p.protocol.clone().unwrap_or_else(|| "TCP".into())
    };
    let url = |p: &k8s_openapi::api::core::v1::ServicePort| {
        format!("{}://{ip}:{}", proto_of(p).to_lowercase(), p.port)
    };
    out.push((format!("{name}_PORT"), url(first)));
    for p in &ports {
        let proto = proto_of(p);
        let prefix = format!("{name}_PORT_{}_{proto}", p.port);
        out.push((prefix.clone(), url(p)));
        out.push((format!("{prefix}_PROTO"), proto.to_lowercase()));
        out.push((format!("{prefix}_PORT"), p.port.to_string()));
        out.push((format!("{prefix}_ADDR"), ip.to_string()));
    }
    out
}

fn set(env: &mut Vec<(String, String)>, key: String, value: String) {
    if let Some(slot) = env.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = value;
    } else {
        env.push((key, value));
    }
}

/// The environment of container `c`, in order.
pub async fn resolve(
    sources: &impl Sources,
    pod: &Pod,
    c: &Container,
    downward: &Downward,
) -> Result<Vec<(String, String)>, ConfigError> {
    let ns = spec::namespace(pod);
    let mut env: Vec<(String, String)> = Vec::new();
    // Service links: the cluster's API server always; the namespace's services unless disabled.
    let mut services = sources.services("default").await.unwrap_or_default();
    services.retain(|s| s.metadata.name.as_deref() == Some("kubernetes"));
    if spec::spec(pod).enable_service_links.unwrap_or(true) {
        let mut own = sources.services(ns).await.unwrap_or_default();
        if ns == "default" {
            own.retain(|s| s.metadata.name.as_deref() != Some("kubernetes"));
        }
        services.extend(own);
    }
    for svc in &services {
        for (k, v) in service_env(svc) {
            set(&mut env, k, v);
        }
    }
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match sources.config_map(ns, &r.name).await.map_err(ConfigError)? {
                Some(data) => {
                    for (k, v) in data {
                        set(&mut env, format!("{prefix}{k}"), text(&v));
                    }
                }
                None if r.optional.unwrap_or(false) => {}
                None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
            }
        }
        if let Some(r) = &from.secret_ref {
            match sources.secret(ns, &r.name).await.map_err(ConfigError)? {
                Some(data) => {
                    for (k, v) in data {
                        set(&mut env, format!("{prefix}{k}"), text(&v));
                    }
                }
                None if r.optional.unwrap_or(false) => {}
                None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
            }
        }
    }
    for var in c.env.iter().flatten() {
        let value = if let Some(from) = &var.value_from {
            if let Some(f) = &from.field_ref {
                field_value(pod, &f.field_path, downward).map_err(ConfigError)?
            } else if let Some(r) = &from.resource_field_ref {
                let target = match r.container_name.as_deref().filter(|n| !n.is_empty()) {
                    Some(name) => spec::spec(pod)
                        .containers
                        .iter()
                        .chain(spec::spec(pod).init_containers.iter().flatten())
                        .find(|x| x.name == name)
                        .ok_or_else(|| ConfigError(format!("container {name} not found")))?,
                    None => c,
                };
                resource_value(
                    target,
                    &r.resource,
                    r.divisor.as_ref().map(|q| q.0.as_str()),
                    downward,
                )
                .map_err(ConfigError)?
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional.unwrap_or(false);
                match sources.config_map(ns, &r.name).await.map_err(ConfigError)? {
                    Some(data) => match data.get(&r.key) {
                        Some(v) => text(v),
                        None if optional => continue,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in ConfigMap {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if optional => continue,
                    None => return Err(ConfigError(format!("configmap \"{}\" not found", r.name))),
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional.unwrap_or(false);
                match sources.secret(ns, &r.name).await.map_err(ConfigError)? {
                    Some(data) => match data.get(&r.key) {
                        Some(v) => text(v),
                        None if optional => continue,
                        None => {
                            return Err(ConfigError(format!(
                                "couldn't find key {} in Secret {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if optional => continue,
                    None => return Err(ConfigError(format!("secret \"{}\" not found", r.name))),
                }
            } else {
                String::new()
            }
        } else {
            let current = env.clone();
            let lookup = |name: &str| {
                current
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            expand(var.value.as_deref().unwrap_or_default(), &lookup)
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fake;

    impl Sources for Fake {
        async fn config_map(&self, _ns: &str, name: &str) -> Result<Option<Data>, String> {
            Ok((name == "cfg").then(|| {
                [
                    ("color".to_string(), b"blue".to_vec()),
                    ("size".into(), b"L".to_vec()),
                ]
                .into()
            }))
        }
        async fn secret(&self, _ns: &str, name: &str) -> Result<Option<Data>, String> {
            Ok((name == "sec").then(|| [("password".to_string(), b"s3cr3t".to_vec())].into()))
        }
        async fn claim_path(&self, _ns: &str, _name: &str) -> Result<Option<String>, String> {
            Ok(Some("/data/pv1".into()))
        }
        async fn service_account_token(&self, source: &TokenSource) -> Result<String, String> {
            Ok(format!("token-of-{}", source.service_account))
        }
        async fn services(&self, ns: &str) -> Result<Vec<Service>, String> {
            if ns != "default" {
                return Ok(vec![]);
            }
            Ok(vec![serde_json::from_value(json!({
                "metadata": {"name": "kubernetes"},
                "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}
            }))
            .unwrap()])
        }
    }

    fn pod(containers: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "a"}},
            "spec": {"nodeName": "n1", "containers": containers}
        }))
        .unwrap()
    }

    fn run(p: &Pod) -> Result<Vec<(String, String)>, ConfigError> {
        let downward = Downward {
            host_ip: "172.18.0.2".into(),
            pod_ips: vec!["10.244.1.5".into()],
            node_cpus: 2,
            node_memory: 1 << 30,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(resolve(
            &Fake,
            p,
            &p.spec.as_ref().unwrap().containers[0],
            &downward,
        ))
    }

    #[test]
    fn every_source_resolves_in_order() {
        let p = pod(json!([{"name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "A", "value": "x"},
            {"name": "B", "value": "$(A)-$(CFG_color)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}}
        ]}]));
        let env: BTreeMap<String, String> = run(&p).unwrap().into_iter().collect();
        assert_eq!(env["CFG_color"], "blue");
        assert_eq!(env["B"], "x-blue");
        assert_eq!(env["POD"], "p");
        assert_eq!(env["IP"], "10.244.1.5");
        assert_eq!(env["APP"], "a");
        assert_eq!(env["COLOR"], "blue");
        assert_eq!(env["PW"], "s3cr3t");
        assert_eq!(env["MEM"], "1024");
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP"], "tcp://10.96.0.1:443");
        assert!(!env.contains_key("GONE"));
    }

    #[test]
    fn missing_sources_name_upstream_errors() {
        let p = pod(
            json!([{"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}]),
        );
        assert_eq!(run(&p).unwrap_err().0, "configmap \"nope\" not found");
        let p = pod(
            json!([{"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}]),
        );
        assert_eq!(
            run(&p).unwrap_err().0,
            "couldn't find key k in ConfigMap ns/cfg"
        );
        let p = pod(json!([{"name": "c", "envFrom": [{"secretRef": {"name": "nope"}}]}]));
        assert_eq!(run(&p).unwrap_err().0, "secret \"nope\" not found");
    }
}
