//! What a node container is made of: the Engine API create body, computed from a [`NodeSpec`] and
//! what was learnt about the engine. Pure, so every flag is unit-tested without Docker.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HostConfig, HostConfigCgroupnsModeEnum,
    NetworkingConfig, PortBinding, RestartPolicy as DockerRestart, RestartPolicyNameEnum,
};

use crate::types::{
    Mount, NodeSpec, PortMapping, Propagation, RestartPolicy, Role, CLUSTER_LABEL, ROLE_LABEL,
};

/// The host's cgroup hierarchy, as the engine reports it (`docker info` `CgroupVersion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// What the engine told about itself that changes how nodes are made (read once, from `/info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    pub cgroup_version: CgroupVersion,
    /// Rootless engine (`name=rootless` in SecurityOptions): kind adds `/dev/fuse`.
    pub rootless: bool,
    /// User-namespace remapping (`name=userns`): nodes need `--userns=host`.
    pub userns_remap: bool,
    /// btrfs/zfs/devicemapper storage or an xfs/btrfs/zfs backing filesystem: kind binds `/dev/mapper`.
    pub mount_dev_mapper: bool,
    /// The engine runs on this host (unix socket), so local port probing means something.
    pub local: bool,
    pub server_version: String,
}

impl HostInfo {
    /// From `/info`'s fields (kept as plain values so tests need no engine).
    pub fn from_info(
        cgroup_version: Option<&str>,
        security_options: &[String],
        driver: Option<&str>,
        driver_status: &[Vec<String>],
        local: bool,
        server_version: String,
    ) -> HostInfo {
        let rootless = security_options
            .iter()
            .any(|o| o.split(',').any(|f| f == "name=rootless"));
        let userns_remap = security_options
            .iter()
            .any(|o| o.split(',').any(|f| f == "name=userns"));
        let driver = driver.unwrap_or("").to_ascii_lowercase();
        let backing = driver_status
            .iter()
            .find(|kv| kv.first().map(String::as_str) == Some("Backing Filesystem"))
            .and_then(|kv| kv.get(1))
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        let mount_dev_mapper = !rootless
            && (matches!(driver.as_str(), "btrfs" | "zfs" | "devicemapper")
                || matches!(backing.as_str(), "btrfs" | "zfs" | "xfs"));
        HostInfo {
            // An engine that does not say is old, and old engines ran on cgroup v1.
            cgroup_version: if cgroup_version == Some("2") {
                CgroupVersion::V2
            } else {
                CgroupVersion::V1
            },
            rootless,
            userns_remap,
            mount_dev_mapper,
            local,
            server_version,
        }
    }
}

/// How node containers get the privileges they need to run containerd, iptables, mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityMode {
    /// `--privileged` (kind's way), plus seccomp/apparmor unconfined.
    Privileged,
    /// `--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
    /// --security-opt apparmor=unconfined --security-opt systempaths=unconfined` (the last one is
    /// empty `MaskedPaths`/`ReadonlyPaths` in the API): for engines whose
    /// own capability bounding set lacks something (`--privileged` then fails with "unable to
    /// apply caps").
    ExplicitCapabilities,
}

/// Label on the throwaway containers of the privilege probe (never a node: no cluster label).
pub const PROBE_LABEL: &str = "io.x-k8s.kindling.probe";

/// One published port after host-port resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPort {
    pub mapping: PortMapping,
    /// `None`: let the engine pick (remote engine, or SCTP).
    pub host_port: Option<u16>,
}

/// `80/tcp`.
pub fn port_key(container_port: u16, protocol: crate::Protocol) -> String {
    format!("{container_port}/{}", protocol.as_str())
}

/// `host:container[:ro,Z,rshared]`, as kind writes `--volume`. Relative host paths are made
/// absolute against the current directory.
pub fn bind_string(m: &Mount) -> String {
    let host = absolute(&m.host_path);
    let mut opts = Vec::new();
    if m.read_only {
        opts.push("ro");
    }
    if m.selinux_relabel {
        opts.push("Z");
    }
    match m.propagation {
        Propagation::None => {}
        Propagation::HostToContainer => opts.push("rslave"),
        Propagation::Bidirectional => opts.push("rshared"),
    }
    if opts.is_empty() {
        format!("{host}:{}", m.container_path)
    } else {
        format!("{host}:{}:{}", m.container_path, opts.join(","))
    }
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn security_host_config(hc: &mut HostConfig, security: SecurityMode) {
    match security {
        SecurityMode::Privileged => {
            hc.privileged = Some(true);
            hc.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
        }
        SecurityMode::ExplicitCapabilities => {
            hc.cap_add = Some(vec!["ALL".into()]);
            hc.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            hc.security_opt = Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]);
            // `--security-opt systempaths=unconfined` is the CLI's spelling of "no masked and no
            // read-only paths" (writable /proc/sys, for sysctls); the API takes the empty lists
            hc.masked_paths = Some(Vec::new());
            hc.readonly_paths = Some(Vec::new());
        }
    }
}

fn cgroupns(host: &HostInfo) -> HostConfigCgroupnsModeEnum {
    match host.cgroup_version {
        CgroupVersion::V2 => HostConfigCgroupnsModeEnum::PRIVATE,
        CgroupVersion::V1 => HostConfigCgroupnsModeEnum::HOST,
    }
}

fn restart_policy(r: RestartPolicy) -> DockerRestart {
    let (name, retries) = match r {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, Some(i64::from(n))),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
    };
    DockerRestart {
        name: Some(name),
        maximum_retry_count: retries,
    }
}

/// The create body of a node container.
pub fn node_container_body(
    spec: &NodeSpec,
    host: &HostInfo,
    security: SecurityMode,
    ports: &[ResolvedPort],
) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(CLUSTER_LABEL.to_string(), spec.cluster.clone());
    labels.insert(ROLE_LABEL.to_string(), spec.role.as_str().to_string());

    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in ports {
        let key = port_key(p.mapping.container_port, p.mapping.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.mapping.listen_or_default().to_string()),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            });
    }

    let mut hc = HostConfig {
        network_mode: Some(spec.network.clone()),
        restart_policy: Some(restart_policy(spec.restart)),
        // the node's own program must be PID 1, not docker-init (which daemon.json may enable)
        init: Some(false),
        port_bindings: if port_bindings.is_empty() {
            None
        } else {
            Some(port_bindings)
        },
        ..Default::default()
    };
    if host.userns_remap {
        hc.userns_mode = Some("host".into());
    }

    let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut volumes = None;
    if spec.role != Role::ExternalLoadBalancer {
        security_host_config(&mut hc, security);
        hc.cgroupns_mode = Some(cgroupns(host));
        hc.tmpfs = Some(HashMap::from([
            ("/tmp".to_string(), String::new()),
            ("/run".to_string(), String::new()),
        ]));
        let mut binds = vec!["/lib/modules:/lib/modules:ro".to_string()];
        if host.cgroup_version == CgroupVersion::V1 {
            binds.push("/sys/fs/cgroup:/sys/fs/cgroup:rw".to_string());
        }
        if host.mount_dev_mapper {
            binds.push("/dev/mapper:/dev/mapper".to_string());
        }
        binds.extend(spec.extra_mounts.iter().map(bind_string));
        hc.binds = Some(binds);
        if host.rootless {
            hc.devices = Some(vec![DeviceMapping {
                path_on_host: Some("/dev/fuse".into()),
                path_in_container: Some("/dev/fuse".into()),
                cgroup_permissions: Some("rwm".into()),
            }]);
        }
        if spec.ipv6 {
            hc.sysctls = Some(HashMap::from([
                (
                    "net.ipv6.conf.all.disable_ipv6".to_string(),
                    "0".to_string(),
                ),
                ("net.ipv6.conf.all.forwarding".to_string(), "1".to_string()),
            ]));
        }
        // pods, images and logs live on a volume, not on the container's overlay (containerd's
        // overlayfs snapshotter cannot stack on overlay2)
        volumes = Some(vec!["/var".to_string()]);
    } else {
        // kind's load balancer runs unprivileged, with the user's extra mounts only
        if !spec.extra_mounts.is_empty() {
            hc.binds = Some(spec.extra_mounts.iter().map(bind_string).collect());
        }
    }
    env.sort();

    ContainerCreateBody {
        hostname: Some(spec.name.clone()),
        image: Some(spec.image.clone()),
        labels: Some(labels),
        tty: Some(true),
        env: if env.is_empty() { None } else { Some(env) },
        entrypoint: spec.entrypoint.clone(),
        cmd: if spec.command.is_empty() {
            None
        } else {
            Some(spec.command.clone())
        },
        exposed_ports: if exposed.is_empty() {
            None
        } else {
            Some(exposed)
        },
        volumes,
        host_config: Some(hc),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                spec.network.clone(),
                EndpointSettings {
                    aliases: Some(vec![spec.name.clone()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// The create body of a privilege probe: the node's image and command, no network, no ports, no
/// mounts; only the security settings differ between the two probes.
pub fn probe_container_body(
    spec: &NodeSpec,
    host: &HostInfo,
    security: SecurityMode,
) -> ContainerCreateBody {
    let mut hc = HostConfig {
        network_mode: Some("none".into()),
        init: Some(false),
        cgroupns_mode: Some(cgroupns(host)),
        ..Default::default()
    };
    if host.userns_remap {
        hc.userns_mode = Some("host".into());
    }
    security_host_config(&mut hc, security);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        labels: Some(HashMap::from([(
            PROBE_LABEL.to_string(),
            "privileges".to_string(),
        )])),
        entrypoint: spec.entrypoint.clone(),
        cmd: if spec.command.is_empty() {
            None
        } else {
            Some(spec.command.clone())
        },
        host_config: Some(hc),
        ..Default::default()
    }
}

/// kind's IPv6 ULA subnet for a network name: `fc00:` + bytes 2..8 of SHA-1(name ‖ attempt as a
/// little-endian i32), as a /64. Deterministic, so the `kind` network gets the same subnet kind
/// gives it.
pub fn ula_subnet(name: &str, attempt: i32) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(name.as_bytes());
    h.update(attempt.to_le_bytes());
    let sum = h.finalize();
    let mut ip = [0u8; 16];
    ip[0] = 0xfc;
    ip[2..8].copy_from_slice(&sum[2..8]);
    format!("{}/64", std::net::Ipv6Addr::from(ip))
}

/// The host ports named in an engine error, matched against the node's mappings: the mappings
/// whose `:<host port>` appears in the message (all of them when none does).
pub fn mappings_in_message<'a>(message: &str, ports: &'a [ResolvedPort]) -> Vec<&'a ResolvedPort> {
    let hits: Vec<&ResolvedPort> = ports
        .iter()
        .filter(|p| {
            p.host_port.is_some_and(|hp| {
                let needle = format!(":{hp}");
                message.match_indices(&needle).any(|(i, _)| {
                    !message[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
                })
            })
        })
        .collect();
    if hits.is_empty() {
        ports.iter().collect()
    } else {
        hits
    }
}

/// Whether an engine error is a host port conflict.
pub fn is_port_conflict(message: &str) -> bool {
    message.contains("port is already allocated")
        || message.contains("address already in use")
        || message.contains("failed to bind host port")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ApiServerPublish, Protocol};

    fn host(v: CgroupVersion) -> HostInfo {
        HostInfo {
            cgroup_version: v,
            rootless: false,
            userns_remap: false,
            mount_dev_mapper: false,
            local: true,
            server_version: "20.10".into(),
        }
    }

    fn resolved(spec: &NodeSpec) -> Vec<ResolvedPort> {
        spec.all_port_mappings()
            .into_iter()
            .map(|m| ResolvedPort {
                host_port: Some(if m.host_port == 0 { 40000 } else { m.host_port }),
                mapping: m,
            })
            .collect()
    }

    #[test]
    fn ula_subnets_match_kind() {
        // the values kind's own tests expect
        assert_eq!(ula_subnet("kind", 0), "fc00:f853:ccd:e793::/64");
        assert_eq!(ula_subnet("foo", 1), "fc00:8edf:7f02:ec8f::/64");
        assert_eq!(ula_subnet("foo", 2), "fc00:9968:306b:2c65::/64");
        assert_eq!(ula_subnet("kind2", 0), "fc00:444c:147a:44ab::/64");
        assert_eq!(ula_subnet("kin", 0), "fc00:fcd9:c2be:8e23::/64");
        assert_eq!(ula_subnet("mysupernetwork", 0), "fc00:7ae1:1e0d:b4d4::/64");
    }

    #[test]
    fn host_info_from_engine_info() {
        let h = HostInfo::from_info(
            Some("2"),
            &[
                "name=seccomp,profile=default".into(),
                "name=rootless".into(),
            ],
            Some("overlay2"),
            &[vec!["Backing Filesystem".into(), "xfs".into()]],
            true,
            "25.0".into(),
        );
        assert_eq!(h.cgroup_version, CgroupVersion::V2);
        assert!(h.rootless);
        assert!(!h.userns_remap);
        assert!(!h.mount_dev_mapper, "rootless never binds /dev/mapper");
        let h = HostInfo::from_info(
            Some("1"),
            &["name=userns".into()],
            Some("btrfs"),
            &[],
            false,
            "20.10".into(),
        );
        assert_eq!(h.cgroup_version, CgroupVersion::V1);
        assert!(h.userns_remap && h.mount_dev_mapper && !h.local);
        assert_eq!(
            HostInfo::from_info(None, &[], None, &[], true, String::new()).cgroup_version,
            CgroupVersion::V1
        );
    }

    #[test]
    fn control_plane_on_cgroup_v1_with_explicit_caps() {
        let mut spec = NodeSpec::new(
            "kind-control-plane",
            "kind",
            Role::ControlPlane,
            "kindling/node:v1",
        );
        spec.api_server = Some(ApiServerPublish {
            listen_address: "127.0.0.1".into(),
            host_port: 0,
        });
        spec.env
            .insert("KUBECONFIG".into(), "/etc/kubernetes/admin.conf".into());
        let body = node_container_body(
            &spec,
            &host(CgroupVersion::V1),
            SecurityMode::ExplicitCapabilities,
            &resolved(&spec),
        );
        let hc = body.host_config.as_ref().unwrap();
        assert_eq!(body.hostname.as_deref(), Some("kind-control-plane"));
        assert_eq!(body.tty, Some(true));
        let labels = body.labels.as_ref().unwrap();
        assert_eq!(labels[CLUSTER_LABEL], "kind");
        assert_eq!(labels[ROLE_LABEL], "control-plane");
        assert_eq!(hc.privileged, None);
        assert_eq!(hc.cap_add.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(
            hc.cap_drop.as_deref(),
            Some(&["SYS_RESOURCE".to_string()][..])
        );
        assert_eq!(
            hc.security_opt.as_ref().unwrap(),
            &[
                "seccomp=unconfined".to_string(),
                "apparmor=unconfined".to_string()
            ]
        );
        assert_eq!(
            hc.masked_paths.as_deref(),
            Some(&[][..]),
            "systempaths=unconfined"
        );
        assert_eq!(hc.readonly_paths.as_deref(), Some(&[][..]));
        let json = serde_json::to_value(hc).unwrap();
        assert_eq!(json["MaskedPaths"], serde_json::json!([]));
        assert_eq!(hc.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::HOST));
        let binds = hc.binds.as_ref().unwrap();
        assert!(binds.contains(&"/sys/fs/cgroup:/sys/fs/cgroup:rw".to_string()));
        assert!(binds.contains(&"/lib/modules:/lib/modules:ro".to_string()));
        assert_eq!(hc.init, Some(false));
        assert_eq!(
            hc.restart_policy.as_ref().unwrap().name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        assert!(hc.tmpfs.as_ref().unwrap().contains_key("/run"));
        assert_eq!(body.volumes.as_deref(), Some(&["/var".to_string()][..]));
        assert_eq!(
            body.exposed_ports.as_deref(),
            Some(&["6443/tcp".to_string()][..])
        );
        let b = &hc.port_bindings.as_ref().unwrap()["6443/tcp"]
            .as_ref()
            .unwrap()[0];
        assert_eq!(b.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(b.host_port.as_deref(), Some("40000"));
        assert_eq!(
            body.env.as_deref(),
            Some(&["KUBECONFIG=/etc/kubernetes/admin.conf".to_string()][..])
        );
        let eps = body
            .networking_config
            .as_ref()
            .unwrap()
            .endpoints_config
            .as_ref()
            .unwrap();
        assert_eq!(
            eps["kind"].aliases.as_deref(),
            Some(&["kind-control-plane".to_string()][..])
        );
        assert_eq!(hc.network_mode.as_deref(), Some("kind"));
    }

    #[test]
    fn worker_on_cgroup_v2_privileged_with_mounts_and_ports() {
        let mut spec = NodeSpec::new("c-worker", "c", Role::Worker, "img");
        spec.port_mappings.push(PortMapping::tcp("", 80, 80));
        spec.port_mappings.push(PortMapping {
            listen_address: "::".into(),
            host_port: 53,
            container_port: 53,
            protocol: Protocol::Udp,
        });
        spec.port_mappings
            .push(PortMapping::tcp("127.0.0.1", 8080, 80));
        let mut m = Mount::new("/usr/src", "/usr/src");
        m.read_only = true;
        m.propagation = Propagation::HostToContainer;
        spec.extra_mounts.push(m);
        spec.extra_mounts.push(Mount::new("rel/dir", "/data"));
        spec.command = vec!["sleep".into(), "infinity".into()];
        let body = node_container_body(
            &spec,
            &host(CgroupVersion::V2),
            SecurityMode::Privileged,
            &resolved(&spec),
        );
        let hc = body.host_config.as_ref().unwrap();
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.cap_add, None);
        assert_eq!(hc.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::PRIVATE));
        let binds = hc.binds.as_ref().unwrap();
        assert!(!binds.iter().any(|b| b.starts_with("/sys/fs/cgroup")));
        assert!(binds.contains(&"/usr/src:/usr/src:ro,rslave".to_string()));
        let cwd = std::env::current_dir().unwrap();
        assert!(binds.contains(&format!("{}/rel/dir:/data", cwd.display())));
        let pb = hc.port_bindings.as_ref().unwrap();
        let tcp80 = pb["80/tcp"].as_ref().unwrap();
        assert_eq!(tcp80.len(), 2, "two host ports onto container port 80");
        assert_eq!(tcp80[0].host_ip.as_deref(), Some("0.0.0.0"));
        assert_eq!(
            pb["53/udp"].as_ref().unwrap()[0].host_ip.as_deref(),
            Some("::")
        );
        assert_eq!(body.exposed_ports.as_ref().unwrap().len(), 2);
        assert_eq!(
            body.cmd.as_deref(),
            Some(&["sleep".to_string(), "infinity".to_string()][..])
        );
        assert_eq!(body.labels.as_ref().unwrap()[ROLE_LABEL], "worker");
    }

    #[test]
    fn load_balancer_is_unprivileged() {
        let mut spec = NodeSpec::new(
            "kind-external-load-balancer",
            "kind",
            Role::ExternalLoadBalancer,
            "img",
        );
        spec.api_server = Some(ApiServerPublish {
            listen_address: "0.0.0.0".into(),
            host_port: 6443,
        });
        let body = node_container_body(
            &spec,
            &host(CgroupVersion::V1),
            SecurityMode::Privileged,
            &resolved(&spec),
        );
        let hc = body.host_config.as_ref().unwrap();
        assert_eq!(hc.privileged, None);
        assert_eq!(hc.binds, None);
        assert_eq!(body.volumes, None);
        assert_eq!(
            body.labels.as_ref().unwrap()[ROLE_LABEL],
            "external-load-balancer"
        );
        assert!(hc.port_bindings.as_ref().unwrap().contains_key("6443/tcp"));
    }

    #[test]
    fn engine_picks_when_unresolved() {
        let spec = NodeSpec::new("n", "c", Role::Worker, "img");
        let ports = vec![ResolvedPort {
            mapping: PortMapping::tcp("127.0.0.1", 0, 80),
            host_port: None,
        }];
        let body = node_container_body(
            &spec,
            &host(CgroupVersion::V2),
            SecurityMode::Privileged,
            &ports,
        );
        let b = &body.host_config.unwrap().port_bindings.unwrap()["80/tcp"]
            .clone()
            .unwrap()[0];
        assert_eq!(b.host_port.as_deref(), Some(""));
    }

    #[test]
    fn port_conflict_names_the_mapping() {
        let ports = vec![
            ResolvedPort {
                mapping: PortMapping::tcp("", 80, 80),
                host_port: Some(80),
            },
            ResolvedPort {
                mapping: PortMapping::tcp("", 8080, 8080),
                host_port: Some(8080),
            },
            ResolvedPort {
                mapping: PortMapping::tcp("", 443, 443),
                host_port: Some(443),
            },
        ];
        let msg = "driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:80 failed: port is already allocated";
        assert!(is_port_conflict(msg));
        let hit = mappings_in_message(msg, &ports);
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].mapping.host_port, 80);
        let msg = "listen tcp4 0.0.0.0:443: bind: address already in use";
        assert!(is_port_conflict(msg));
        assert_eq!(mappings_in_message(msg, &ports)[0].mapping.host_port, 443);
        assert_eq!(
            mappings_in_message("port is already allocated", &ports).len(),
            3
        );
        assert!(!is_port_conflict("No such image: x"));
    }
}
