//! The resolved view the create pipeline works from: names, defaults, validation and the
//! kubeadm patches all applied.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cidr::Cidr;
use crate::defaults::{set_defaults, DEFAULT_CLUSTER_NAME};
use crate::error::{ConfigError, ConfigErrors, Location, Warning};
use crate::kubeadm::{interpret, Patched};
use crate::labels::{is_dns_subdomain, Taint};
use crate::load::Config;
use crate::source::Source;
use crate::types::*;
use crate::validate::{overlap_warning, validate, validate_subnets, CLUSTER_NAME_MAX};

/// The cluster name, by kind's precedence: `--name`, then `KIND_CLUSTER_NAME`, then the config's
/// `name`, then `kind`. Empty values count as unset.
pub fn resolve_name(flag: Option<&str>, env: Option<&str>, config: Option<&str>) -> String {
    [flag, env, config]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or(DEFAULT_CLUSTER_NAME)
        .to_string()
}

/// Node container names, as kind's namer makes them: per role, the first is
/// `<cluster>-<role>`, the next `<cluster>-<role>2`, `<cluster>-<role>3`…
pub fn node_names(c: &Cluster) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    c.nodes
        .iter()
        .map(|n| {
            let role = if n.role.is_empty() {
                CONTROL_PLANE_ROLE
            } else {
                n.role.as_str()
            };
            let count = counts.entry(role).or_insert(0);
            *count += 1;
            if *count == 1 {
                format!("{}-{role}", c.name)
            } else {
                format!("{}-{role}{}", c.name, count)
            }
        })
        .collect()
}

/// The container name of the API server load balancer of a cluster with several control planes.
pub fn load_balancer_name(cluster: &str) -> String {
    format!("{cluster}-external-load-balancer")
}

/// What `create cluster` adds to the config.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// The cluster name (see [`resolve_name`]).
    pub name: String,
    /// `--image`: the node image of every node.
    pub image: Option<String>,
    /// The node image of nodes that name none.
    pub default_image: String,
    /// Relative `hostPath`s are made absolute against this (kind uses the working directory).
    pub working_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => CONTROL_PLANE_ROLE,
            Role::Worker => WORKER_ROLE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Ipv4,
    Ipv6,
    Dual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    Iptables,
    Ipvs,
    Nftables,
    /// No service proxy.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// As docker's `--publish` spells it.
    pub fn as_lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Propagation {
    /// `private`
    #[default]
    None,
    /// `rslave`
    HostToContainer,
    /// `rshared`
    Bidirectional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedMount {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
    pub selinux_relabel: bool,
    pub propagation: Propagation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedPortMapping {
    pub container_port: u16,
    /// 0 = pick a free port on the host, -1 = let the container engine pick.
    pub host_port: i32,
    /// Defaulted as kind's provider does: `0.0.0.0` (ipv4, dual) or `::` (ipv6).
    pub listen_address: String,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedNode {
    /// The container and Kubernetes node name.
    pub name: String,
    pub role: Role,
    /// The first control-plane node (kind runs `kubeadm init` there; everyone else joins).
    pub bootstrap: bool,
    pub image: String,
    /// The node's labels: the config's `labels`, the `node-labels` of its kubeadm patches, and
    /// the ones kubeadm puts on control-plane nodes.
    pub labels: BTreeMap<String, String>,
    /// kubeadm's defaults (the control-plane taint on control-plane nodes, removed when the
    /// cluster is a single node, as kind does), or what the patches say.
    pub taints: Vec<Taint>,
    pub mounts: Vec<ResolvedMount>,
    pub port_mappings: Vec<ResolvedPortMapping>,
    /// Supported `kubeletExtraArgs` other than `node-labels`/`register-with-taints`.
    pub kubelet_extra_args: BTreeMap<String, String>,
    /// Supported KubeletConfiguration fields the patches set.
    pub kubelet_config: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedNetworking {
    pub ip_family: IpFamily,
    /// After kubeadm patches (which win over `networking.podSubnet`, as in kind); one per family.
    pub pod_subnets: Vec<Cidr>,
    pub service_subnets: Vec<Cidr>,
    /// `cluster.local` unless a ClusterConfiguration patch sets `networking.dnsDomain`.
    pub dns_domain: String,
    pub disable_default_cni: bool,
    pub kube_proxy_mode: ProxyMode,
    /// `None`: the nodes inherit the host's search domains.
    pub dns_search: Option<Vec<String>>,
}

impl ResolvedNetworking {
    /// The `kubernetes` Service's address: the first address of the first service subnet.
    pub fn api_server_service_ip(&self) -> Option<IpAddr> {
        self.service_subnets.first().and_then(|c| c.nth(1))
    }

    /// The cluster DNS Service's address, as kubeadm picks it: the 10th address.
    pub fn dns_service_ip(&self) -> Option<IpAddr> {
        self.service_subnets.first().and_then(|c| c.nth(10))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServer {
    /// Host address the API server (or its load balancer) is published on.
    pub address: String,
    /// Host port: 0 = pick a free one, -1 = let the container engine pick.
    pub port: i32,
    /// Supported `apiServer.extraArgs` from the patches (e.g. `service-node-port-range`, `oidc-*`).
    pub extra_args: BTreeMap<String, String>,
    /// Extra names of the serving certificate: `localhost`, the address, then the patches'.
    pub cert_sans: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedCluster {
    pub name: String,
    pub nodes: Vec<ResolvedNode>,
    /// More than one control-plane node: an API server load balancer container
    /// ([`ResolvedCluster::load_balancer_name`]) fronts them.
    pub external_load_balancer: bool,
    /// The API servers keep the objects in a stacked etcd (one member per control plane)
    /// rather than SQLite: with several control planes, or when a ClusterConfiguration patch
    /// names `etcd.local` (kubeadm's own way to say "stacked etcd", so the same config still
    /// means the same to kind; kind's schema has no store field and decodes strictly).
    #[serde(default)]
    pub stacked_etcd: bool,
    /// Supported `controllerManager.extraArgs` from the patches (`controllers`).
    #[serde(default)]
    pub controller_manager_args: BTreeMap<String, String>,
    pub networking: ResolvedNetworking,
    pub api_server: ApiServer,
    pub feature_gates: BTreeMap<String, bool>,
    pub runtime_config: BTreeMap<String, String>,
    /// TOML fragments (checked to parse) to merge into every node's containerd config.
    pub containerd_config_patches: Vec<String>,
    /// RFC 6902 patches (checked to parse) for every node's containerd config.
    pub containerd_config_patches_json6902: Vec<String>,
    /// `ingressLoadBalancer` with its defaults: (listen address, HTTP port, HTTPS port).
    pub ingress_load_balancer: Option<(String, u16, u16)>,
    /// What kindling accepted but does not honour, or honours its own way: show each.
    pub warnings: Vec<Warning>,
}

impl ResolvedCluster {
    /// `kind-<name>`, the kubeconfig context.
    pub fn context_name(&self) -> String {
        format!("kind-{}", self.name)
    }

    pub fn load_balancer_name(&self) -> Option<String> {
        self.external_load_balancer
            .then(|| load_balancer_name(&self.name))
    }

    /// The node that runs `kubeadm init` in kind: the first control-plane node.
    pub fn bootstrap_node(&self) -> &ResolvedNode {
        self.nodes
            .iter()
            .find(|n| n.bootstrap)
            .expect("a resolved cluster has a control-plane node")
    }

    pub fn control_plane_nodes(&self) -> impl Iterator<Item = &ResolvedNode> {
        self.nodes.iter().filter(|n| n.role == Role::ControlPlane)
    }

    pub fn worker_nodes(&self) -> impl Iterator<Item = &ResolvedNode> {
        self.nodes.iter().filter(|n| n.role == Role::Worker)
    }
}

fn family(s: &str) -> IpFamily {
    match s {
        IPV6_FAMILY => IpFamily::Ipv6,
        DUAL_STACK_FAMILY => IpFamily::Dual,
        _ => IpFamily::Ipv4,
    }
}

fn proxy_mode(s: &str) -> ProxyMode {
    match s {
        IPVS_PROXY_MODE => ProxyMode::Ipvs,
        NFTABLES_PROXY_MODE => ProxyMode::Nftables,
        NONE_PROXY_MODE => ProxyMode::None,
        _ => ProxyMode::Iptables,
    }
}

/// Where a network setting came from: the config's `networking` or a patch.
struct Setting {
    value: String,
    field: String,
    location: Option<Location>,
    /// The patch's field inside the kubeadm document, for messages.
    inner: Option<&'static str>,
}

fn setting(
    patched: &Option<Patched<String>>,
    config_value: &str,
    config_field: &str,
    source: &Source,
    inner: &'static str,
) -> Setting {
    match patched {
        Some(p) => Setting {
            value: p.value.clone(),
            field: p.patch.clone(),
            location: p.location,
            inner: Some(inner),
        },
        None => Setting {
            value: config_value.to_string(),
            field: config_field.to_string(),
            location: source.location(config_field),
            inner: None,
        },
    }
}

fn subnets(
    s: &Setting,
    what: &str,
    fam: &str,
    source: &Source,
    errs: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Vec<(Cidr, bool)> {
    let prefix = s.inner.map(|i| format!("{i}: ")).unwrap_or_default();
    match validate_subnets(&s.value, fam) {
        Ok(list) => {
            for (c, host_bits) in &list {
                if *host_bits {
                    let written = s
                        .value
                        .split(',')
                        .find(|w| Cidr::parse(w).ok() == Some(*c))
                        .unwrap_or(&s.value);
                    warnings.push(Warning {
                        field: s.field.clone(),
                        message: format!(
                            "{prefix}{what} {written} has host bits set; using the network {c}, as kubeadm and kube-apiserver read it"
                        ),
                        location: s.location,
                    });
                }
            }
            list
        }
        Err(m) => {
            errs.push(ConfigError::new(
                &source.name,
                s.location,
                Some(s.field.clone()),
                format!("{prefix}invalid {what} {m}"),
            ));
            Vec::new()
        }
    }
}

fn absolute(host_path: &str, working_dir: Option<&Path>) -> String {
    match working_dir {
        Some(dir) if !Path::new(host_path).is_absolute() => {
            let rel = host_path.strip_prefix("./").unwrap_or(host_path);
            dir.join(rel).display().to_string()
        }
        _ => host_path.to_string(),
    }
}

impl Config {
    /// The cluster `create` makes: kind's name override, `--image`, defaults and validation,
    /// then the kubeadm patches interpreted. Every error is returned at once.
    pub fn resolve(&self, opts: &ResolveOptions) -> Result<ResolvedCluster, ConfigErrors> {
        let source = &self.source;
        let mut c = self.cluster.clone();
        let name_in_file = !c.name.is_empty() && c.name == opts.name;
        if !opts.name.is_empty() {
            c.name = opts.name.clone();
        }
        if let Some(image) = opts.image.as_deref().filter(|i| !i.is_empty()) {
            for n in &mut c.nodes {
                n.image = image.to_string();
            }
        }
        set_defaults(
            &mut c,
            opts.image
                .as_deref()
                .filter(|i| !i.is_empty())
                .unwrap_or(&opts.default_image),
        );

        let mut warnings = Vec::new();
        if c.name.len() > CLUSTER_NAME_MAX {
            warnings.push(Warning {
                field: "name".to_string(),
                message: format!("cluster name {:?} is probably too long, this might not work properly on some systems", c.name),
                location: if name_in_file { source.location("name") } else { None },
            });
        }
        let mut errs = validate(&c, source, name_in_file, &mut Vec::new());
        errs.extend(crate::containerd::check_toml_patches(
            &c.containerd_config_patches,
            source,
        ));
        errs.extend(crate::containerd::check_json6902_patches(
            &c.containerd_config_patches_json6902,
            source,
        ));
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        let interp = interpret(&c, source)?;
        warnings.extend(interp.warnings.iter().cloned());

        // Networking: kind writes `networking` into the kubeadm config and then applies the
        // patches, so a patch's value wins.
        let net = &c.networking;
        let fam = net.ip_family.as_str();
        for (patched, field, written) in [
            (
                &interp.pod_subnet,
                "networking.podSubnet",
                &self.cluster.networking.pod_subnet,
            ),
            (
                &interp.service_subnet,
                "networking.serviceSubnet",
                &self.cluster.networking.service_subnet,
            ),
        ] {
            if let Some(p) = patched {
                if !written.is_empty() && written != &p.value {
                    warnings.push(Warning {
                        field: field.to_string(),
                        message: format!(
                            "{written} is overridden by {} ({}), as in kind: kubeadm config patches win",
                            p.value, p.patch
                        ),
                        location: source.location(field),
                    });
                }
            }
        }
        let pod = setting(
            &interp.pod_subnet,
            &net.pod_subnet,
            "networking.podSubnet",
            source,
            "ClusterConfiguration.networking.podSubnet",
        );
        let svc = setting(
            &interp.service_subnet,
            &net.service_subnet,
            "networking.serviceSubnet",
            source,
            "ClusterConfiguration.networking.serviceSubnet",
        );
        let mut errs = Vec::new();
        let pods = subnets(&pod, "pod subnet", fam, source, &mut errs, &mut warnings);
        let services = subnets(
            &svc,
            "service subnet",
            fam,
            source,
            &mut errs,
            &mut warnings,
        );
        let overlap_field = if svc.inner.is_some() { &svc } else { &pod };
        let mut overlaps = Vec::new();
        overlap_warning(
            &pods,
            &services,
            &overlap_field.field,
            source,
            &mut overlaps,
        );
        for mut w in overlaps {
            w.location = overlap_field.location;
            warnings.push(w);
        }
        let dns_domain = match &interp.dns_domain {
            Some(p) if !is_dns_subdomain(&p.value) => {
                errs.push(ConfigError::new(
                    &source.name,
                    p.location,
                    Some(p.patch.clone()),
                    format!(
                        "ClusterConfiguration.networking.dnsDomain: invalid DNS domain {:?}",
                        p.value
                    ),
                ));
                String::new()
            }
            Some(p) => p.value.clone(),
            None => "cluster.local".to_string(),
        };
        let names = node_names(&c);
        let single = c.nodes.len() == 1;
        let control_planes = c
            .nodes
            .iter()
            .filter(|n| n.role == CONTROL_PLANE_ROLE)
            .count();
        let bootstrap = c.nodes.iter().position(|n| n.role == CONTROL_PLANE_ROLE);
        let mut nodes = Vec::new();
        for (i, (n, ni)) in c.nodes.iter().zip(&interp.nodes).enumerate() {
            let role = if n.role == CONTROL_PLANE_ROLE {
                Role::ControlPlane
            } else {
                Role::Worker
            };
            let mut labels = n.labels.clone();
            labels.extend(ni.labels.clone());
            if role == Role::ControlPlane {
                labels.insert(
                    "node-role.kubernetes.io/control-plane".to_string(),
                    String::new(),
                );
                if !single {
                    labels.insert(
                        "node.kubernetes.io/exclude-from-external-load-balancers".to_string(),
                        String::new(),
                    );
                }
            }
            let mut taints = match (&ni.taints, role) {
                (Some(t), _) => t.clone(),
                (None, Role::ControlPlane) => vec![Taint::control_plane()],
                (None, Role::Worker) => Vec::new(),
            };
            for t in &ni.registered_taints {
                if !taints.contains(t) {
                    taints.push(t.clone());
                }
            }
            if single {
                taints.retain(|t| t.key != Taint::control_plane().key);
            }
            let default_listen = if fam == IPV6_FAMILY { "::" } else { "0.0.0.0" };
            let port_mappings = n
                .extra_port_mappings
                .iter()
                .map(|pm| ResolvedPortMapping {
                    container_port: pm.container_port.clamp(0, 65535) as u16,
                    host_port: pm.host_port,
                    listen_address: if pm.listen_address.is_empty() {
                        default_listen.to_string()
                    } else {
                        pm.listen_address.clone()
                    },
                    protocol: match pm.protocol.as_str() {
                        "UDP" => Protocol::Udp,
                        "SCTP" => Protocol::Sctp,
                        _ => Protocol::Tcp,
                    },
                })
                .collect();
            let mounts = n
                .extra_mounts
                .iter()
                .map(|m| ResolvedMount {
                    host_path: absolute(&m.host_path, opts.working_dir.as_deref()),
                    container_path: m.container_path.clone(),
                    read_only: m.read_only,
                    selinux_relabel: m.selinux_relabel,
                    propagation: match m.propagation.as_str() {
                        "HostToContainer" => Propagation::HostToContainer,
                        "Bidirectional" => Propagation::Bidirectional,
                        _ => Propagation::None,
                    },
                })
                .collect();
            nodes.push(ResolvedNode {
                name: names[i].clone(),
                role,
                bootstrap: Some(i) == bootstrap,
                image: n.image.clone(),
                labels,
                taints,
                mounts,
                port_mappings,
                kubelet_extra_args: ni.kubelet_extra_args.clone(),
                kubelet_config: ni.kubelet_config.clone(),
            });
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }

        let mut feature_gates = c.feature_gates.clone();
        feature_gates.extend(interp.feature_gates.clone());
        let cert_sans = if interp.cert_sans.is_empty() {
            vec!["localhost".to_string(), net.api_server_address.clone()]
        } else {
            interp.cert_sans.clone()
        };
        Ok(ResolvedCluster {
            name: c.name.clone(),
            nodes,
            external_load_balancer: control_planes > 1,
            stacked_etcd: control_planes > 1 || interp.stacked_etcd,
            controller_manager_args: interp.controller_manager_extra_args.clone(),
            networking: ResolvedNetworking {
                ip_family: family(fam),
                pod_subnets: pods.into_iter().map(|(c, _)| c).collect(),
                service_subnets: services.into_iter().map(|(c, _)| c).collect(),
                dns_domain,
                disable_default_cni: net.disable_default_cni,
                kube_proxy_mode: proxy_mode(
                    interp
                        .kube_proxy_mode
                        .as_ref()
                        .map_or(&net.kube_proxy_mode, |p| p.value.as_str()),
                ),
                dns_search: net.dns_search.clone(),
            },
            api_server: ApiServer {
                address: net.api_server_address.clone(),
                port: net.api_server_port,
                extra_args: interp.api_server_extra_args.clone(),
                cert_sans,
            },
            feature_gates,
            runtime_config: interp
                .runtime_config
                .clone()
                .unwrap_or_else(|| c.runtime_config.clone()),
            containerd_config_patches: c.containerd_config_patches.clone(),
            containerd_config_patches_json6902: c.containerd_config_patches_json6902.clone(),
            ingress_load_balancer: c.ingress_load_balancer.as_ref().map(|lb| {
                (
                    if lb.listen_address.is_empty() {
                        "0.0.0.0".to_string()
                    } else {
                        lb.listen_address.clone()
                    },
                    lb.http_port.unwrap_or(80),
                    lb.https_port.unwrap_or(443),
                )
            }),
            warnings,
        })
    }

    /// The config with kind's defaults applied (name `kind` when it has none).
    pub fn defaulted(&self, default_image: &str) -> Cluster {
        let mut c = self.cluster.clone();
        set_defaults(&mut c, default_image);
        c
    }

    /// The source the config was read from.
    pub fn source(&self) -> &Source {
        &self.source
    }
}
