//! The user's configs from REQUIREMENTS (S2, S3, S5) and kind's own examples resolve as kind
//! would; each bad config gets its error with `file:line:column` and the field.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::collections::BTreeMap;
use std::path::PathBuf;

use kindling_config::*;

const IMAGE: &str = "kindling/node:test";

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

fn opts(name: &str) -> ResolveOptions {
    ResolveOptions {
        name: name.to_string(),
        default_image: IMAGE.to_string(),
        ..Default::default()
    }
}

fn resolve_text(text: &str) -> Result<ResolvedCluster, ConfigErrors> {
    let config = Config::parse("cluster.yaml", text)?;
    let name = resolve_name(None, None, Some(&config.cluster.name));
    config.resolve(&opts(&name))
}

/// The single error of a bad config, rendered.
fn error_of(text: &str) -> String {
    let errs = resolve_text(text).expect_err("the config should be rejected");
    assert_eq!(errs.0.len(), 1, "expected one error, got: {errs}");
    errs.to_string()
}

fn names(c: &ResolvedCluster) -> Vec<&str> {
    c.nodes.iter().map(|n| n.name.as_str()).collect()
}

fn cidrs(list: &[Cidr]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const CP_LABEL: &str = "node-role.kubernetes.io/control-plane";
const EXCLUDE_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

#[test]
fn s2_book_cluster_without_default_cni() {
    let config = Config::load_file(testdata("cluster01-kind.yaml")).unwrap();
    let name = resolve_name(Some("cluster01"), None, Some(&config.cluster.name));
    assert_eq!(name, "cluster01");
    let c = config.resolve(&opts(&name)).unwrap();

    assert_eq!(c.name, "cluster01");
    assert_eq!(c.context_name(), "kind-cluster01");
    assert_eq!(names(&c), ["cluster01-control-plane", "cluster01-worker"]);
    assert!(!c.external_load_balancer);
    assert_eq!(c.load_balancer_name(), None);
    assert!(c.networking.disable_default_cni);
    // The kubeadm patch wins over kind's defaults; 10.96.0.1/12 is read as its network.
    assert_eq!(cidrs(&c.networking.pod_subnets), ["192.168.0.0/16"]);
    assert_eq!(cidrs(&c.networking.service_subnets), ["10.96.0.0/12"]);
    assert_eq!(
        c.networking.api_server_service_ip().unwrap().to_string(),
        "10.96.0.1"
    );
    assert_eq!(
        c.networking.dns_service_ip().unwrap().to_string(),
        "10.96.0.10"
    );
    assert_eq!(c.networking.dns_domain, "cluster.local");
    assert_eq!(c.networking.ip_family, IpFamily::Ipv4);
    assert_eq!(c.networking.kube_proxy_mode, ProxyMode::Iptables);
    assert_eq!(c.api_server.address, "0.0.0.0");
    assert_eq!(c.api_server.port, 0);
    assert_eq!(c.api_server.cert_sans, ["localhost", "0.0.0.0"]);

    let cp = &c.nodes[0];
    assert!(cp.bootstrap);
    assert_eq!(cp.role, Role::ControlPlane);
    assert_eq!(cp.image, IMAGE);
    assert_eq!(cp.taints, [Taint::control_plane()]);
    assert_eq!(cp.labels, map(&[(CP_LABEL, ""), (EXCLUDE_LB_LABEL, "")]));
    assert!(cp.port_mappings.is_empty());

    let worker = &c.nodes[1];
    assert!(!worker.bootstrap);
    assert_eq!(worker.role, Role::Worker);
    assert!(worker.taints.is_empty());
    assert!(worker.labels.is_empty());
    assert_eq!(
        worker.port_mappings,
        [80, 443].map(|p| ResolvedPortMapping {
            container_port: p,
            host_port: i32::from(p),
            listen_address: "0.0.0.0".to_string(),
            protocol: Protocol::Tcp,
        })
    );
    assert_eq!(
        worker.mounts,
        [ResolvedMount {
            host_path: "/usr/src".to_string(),
            container_path: "/usr/src".to_string(),
            read_only: false,
            selinux_relabel: false,
            propagation: Propagation::None,
        }]
    );

    // What was done with 10.96.0.1/12 is said, at the patch.
    let rendered: Vec<String> = c
        .warnings
        .iter()
        .map(|w| w.with_source("cluster01-kind.yaml"))
        .collect();
    assert_eq!(
        rendered,
        ["cluster01-kind.yaml:8:3: kubeadmConfigPatches[0]: ClusterConfiguration.networking.serviceSubnet: service subnet 10.96.0.1/12 has host bits set; using the network 10.96.0.0/12, as kubeadm and kube-apiserver read it"]
    );
}

#[test]
fn s2b_book_cluster_with_default_cni() {
    let config = Config::load_file(testdata("cluster01-kind-cni.yaml")).unwrap();
    let c = config.resolve(&opts("cluster01")).unwrap();
    assert!(!c.networking.disable_default_cni);
    assert_eq!(cidrs(&c.networking.pod_subnets), ["192.168.0.0/16"]);
    assert_eq!(cidrs(&c.networking.service_subnets), ["10.96.0.0/12"]);
    assert_eq!(names(&c), ["cluster01-control-plane", "cluster01-worker"]);
}

#[test]
fn s3_ha_names_and_load_balancer() {
    let c = Config::load_file(testdata("ha.yaml"))
        .unwrap()
        .resolve(&opts("kind"))
        .unwrap();
    assert_eq!(
        names(&c),
        [
            "kind-control-plane",
            "kind-control-plane2",
            "kind-control-plane3",
            "kind-worker",
            "kind-worker2",
            "kind-worker3"
        ]
    );
    assert!(c.external_load_balancer);
    assert!(c.stacked_etcd, "several control planes share one etcd");
    assert_eq!(
        c.load_balancer_name().as_deref(),
        Some("kind-external-load-balancer")
    );
    assert_eq!(c.bootstrap_node().name, "kind-control-plane");
    assert_eq!(c.control_plane_nodes().count(), 3);
    assert_eq!(c.worker_nodes().count(), 3);
    for n in c.control_plane_nodes() {
        assert_eq!(n.taints, [Taint::control_plane()], "{}", n.name);
        assert!(n.labels.contains_key(EXCLUDE_LB_LABEL));
    }
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn node_names_interleave_by_role_like_kind() {
    let c = resolve_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: x\nnodes:\n- role: worker\n- role: control-plane\n- role: worker\n- {}\n",
    )
    .unwrap();
    assert_eq!(
        names(&c),
        [
            "x-worker",
            "x-control-plane",
            "x-worker2",
            "x-control-plane2"
        ]
    );
    assert_eq!(c.bootstrap_node().name, "x-control-plane");
    assert!(c.external_load_balancer);
}

#[test]
fn s5_ingress_ready_label_from_init_configuration() {
    let c = Config::load_file(testdata("usage.yaml"))
        .unwrap()
        .resolve(&opts("kind"))
        .unwrap();
    assert_eq!(names(&c), ["kind-control-plane"]);
    let n = &c.nodes[0];
    // A single node: kind removes the control-plane taint and the exclude-from-LB label.
    assert_eq!(n.labels, map(&[("ingress-ready", "true"), (CP_LABEL, "")]));
    assert!(n.taints.is_empty());
    assert_eq!(n.port_mappings.len(), 2);
    assert_eq!(n.port_mappings[0].host_port, 80);
    assert_eq!(n.port_mappings[1].container_port, 443);
    assert!(n.kubelet_extra_args.is_empty());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn documented_patch_example_resolves() {
    let c = Config::load_file(testdata("patches-example.yaml"))
        .unwrap()
        .resolve(&opts("kind"))
        .unwrap();
    assert_eq!(
        names(&c),
        [
            "kind-control-plane",
            "kind-worker",
            "kind-worker2",
            "kind-worker3"
        ]
    );
    assert_eq!(
        c.api_server.cert_sans,
        ["localhost", "127.0.0.1", "my-hostname"]
    );
    // evictionHard nodefs.available: 0% is what kind generates anyway: nothing changes.
    assert!(c.nodes.iter().all(|n| n.kubelet_config.is_empty()));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn defaults_of_an_empty_file() {
    for text in ["", "\n\n", "# nothing here\n", "---\n"] {
        let config = Config::parse("empty.yaml", text).unwrap();
        let c = config
            .resolve(&opts(&resolve_name(None, None, Some(&config.cluster.name))))
            .unwrap();
        assert_eq!(c.name, "kind");
        assert_eq!(names(&c), ["kind-control-plane"]);
        assert_eq!(c.nodes[0].image, IMAGE);
        assert!(
            c.nodes[0].taints.is_empty(),
            "single node: no control-plane taint"
        );
        assert!(!c.external_load_balancer);
        assert_eq!(c.networking.ip_family, IpFamily::Ipv4);
        assert_eq!(cidrs(&c.networking.pod_subnets), ["10.244.0.0/16"]);
        assert_eq!(cidrs(&c.networking.service_subnets), ["10.96.0.0/16"]);
        assert_eq!(c.networking.kube_proxy_mode, ProxyMode::Iptables);
        assert!(!c.networking.disable_default_cni);
        assert_eq!(c.networking.dns_search, None);
        assert_eq!(c.api_server.address, "127.0.0.1");
        assert_eq!(c.api_server.port, 0);
        assert!(c.feature_gates.is_empty() && c.runtime_config.is_empty());
        assert!(c.warnings.is_empty());
    }
    // No --config at all is the same.
    let c = Config::default_config().resolve(&opts("kind")).unwrap();
    assert_eq!(names(&c), ["kind-control-plane"]);
}

#[test]
fn defaults_per_ip_family() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: ipv6\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n").unwrap();
    assert_eq!(c.api_server.address, "::1");
    assert_eq!(cidrs(&c.networking.pod_subnets), ["fd00:10:244::/56"]);
    assert_eq!(cidrs(&c.networking.service_subnets), ["fd00:10:96::/112"]);
    assert_eq!(c.nodes[0].port_mappings[0].listen_address, "::");
    assert_eq!(c.nodes[0].port_mappings[0].host_port, 0);

    let c = resolve_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: dual\n",
    )
    .unwrap();
    assert_eq!(c.networking.ip_family, IpFamily::Dual);
    assert_eq!(c.api_server.address, "127.0.0.1");
    assert_eq!(
        cidrs(&c.networking.pod_subnets),
        ["10.244.0.0/16", "fd00:10:244::/56"]
    );
    assert_eq!(
        cidrs(&c.networking.service_subnets),
        ["10.96.0.0/16", "fd00:10:96::/112"]
    );
}

#[test]
fn every_field_of_the_schema() {
    let text = r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: full
featureGates:
  InPlacePodVerticalScaling: true
runtimeConfig:
  "api/alpha": "false"
networking:
  ipFamily: ipv4
  apiServerAddress: 127.0.0.2
  apiServerPort: 6443
  podSubnet: 10.100.0.0/16
  serviceSubnet: 10.200.0.0/16
  disableDefaultCNI: false
  kubeProxyMode: nftables
  dnsSearch: []
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
containerdConfigPatchesJSON6902:
- |
  - op: add
    path: /version
    value: 2
nodes:
- role: control-plane
  image: my/node:v1
  labels:
    tier: frontend
  extraMounts:
  - hostPath: ./data
    containerPath: /data
    readOnly: true
    selinuxRelabel: true
    propagation: HostToContainer
  extraPortMappings:
  - containerPort: 53
    hostPort: 5353
    listenAddress: 127.0.0.1
    protocol: udp
  kubeadmConfigPatchesJSON6902:
  - group: kubeadm.k8s.io
    version: v1beta3
    kind: InitConfiguration
    patch: |
      - op: add
        path: /nodeRegistration/kubeletExtraArgs/max-pods
        value: "50"
"#;
    let config = Config::parse("full.yaml", text).unwrap();
    assert_eq!(
        config.cluster.nodes[0].extra_port_mappings[0].protocol,
        "UDP"
    );
    let mut o = opts("full");
    o.working_dir = Some(PathBuf::from("/home/me"));
    let c = config.resolve(&o).unwrap();
    assert_eq!(
        c.feature_gates,
        [("InPlacePodVerticalScaling".to_string(), true)].into()
    );
    assert_eq!(c.runtime_config, map(&[("api/alpha", "false")]));
    assert_eq!(c.api_server.address, "127.0.0.2");
    assert_eq!(c.api_server.port, 6443);
    assert_eq!(cidrs(&c.networking.pod_subnets), ["10.100.0.0/16"]);
    assert_eq!(cidrs(&c.networking.service_subnets), ["10.200.0.0/16"]);
    assert_eq!(c.networking.kube_proxy_mode, ProxyMode::Nftables);
    assert_eq!(c.networking.dns_search, Some(vec![]));
    assert_eq!(c.containerd_config_patches.len(), 1);
    assert_eq!(c.containerd_config_patches_json6902.len(), 1);
    let n = &c.nodes[0];
    assert_eq!(n.image, "my/node:v1");
    assert_eq!(n.labels.get("tier").map(String::as_str), Some("frontend"));
    assert_eq!(
        n.mounts[0],
        ResolvedMount {
            host_path: "/home/me/data".to_string(),
            container_path: "/data".to_string(),
            read_only: true,
            selinux_relabel: true,
            propagation: Propagation::HostToContainer,
        }
    );
    assert_eq!(
        n.port_mappings[0],
        ResolvedPortMapping {
            container_port: 53,
            host_port: 5353,
            listen_address: "127.0.0.1".to_string(),
            protocol: Protocol::Udp,
        }
    );
    assert_eq!(n.kubelet_extra_args, map(&[("max-pods", "50")]));

    // --image overrides every node's image, as kind's --image does.
    let mut o = opts("full");
    o.image = Some("other/node:v2".to_string());
    assert_eq!(config.resolve(&o).unwrap().nodes[0].image, "other/node:v2");

    // The as-written config round-trips through serde.
    let json = serde_json::to_string(&config.cluster).unwrap();
    let back: Cluster = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config.cluster);
}

#[test]
fn name_precedence_flag_env_config_default() {
    assert_eq!(resolve_name(Some("flag"), Some("env"), Some("cfg")), "flag");
    assert_eq!(resolve_name(None, Some("env"), Some("cfg")), "env");
    assert_eq!(resolve_name(Some(""), Some(""), Some("cfg")), "cfg");
    assert_eq!(resolve_name(None, None, Some("")), "kind");
    assert_eq!(resolve_name(None, None, None), "kind");
    // the flag's name replaces the config's
    let config = Config::parse(
        "c.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: fromfile\n",
    )
    .unwrap();
    assert_eq!(
        config.resolve(&opts("flagname")).unwrap().nodes[0].name,
        "flagname-control-plane"
    );
}

// ---- errors ----

#[test]
fn unknown_field() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez:\n- role: worker\n");
    assert!(
        e.starts_with("cluster.yaml:3:1: nodez: unknown field \"nodez\""),
        "{e}"
    );

    // a bogus field deep in a port mapping
    let e = error_of(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: 8080\n    hostPort: 8080\n    protocol: UDP\n    bogusField: bar\n",
    );
    assert!(
        e.starts_with("cluster.yaml:10:5: nodes[1].extraPortMappings[0].bogusField: unknown field \"bogusField\""),
        "{e}"
    );
}

#[test]
fn wrong_type() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n  extraPortMappings:\n  - containerPort: eighty\n");
    assert_eq!(
        e,
        "cluster.yaml:6:20: nodes[0].extraPortMappings[0].containerPort: expected an integer (i32)"
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: {}\n");
    assert_eq!(e, "cluster.yaml:3:8: nodes: expected a list");
    // a patch written as a mapping instead of text
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- kind: ClusterConfiguration\n");
    assert!(e.starts_with("cluster.yaml:4:3: kubeadmConfigPatches[0]: expected a string (a patch is YAML or TOML text in a string"), "{e}");
}

#[test]
fn wrong_api_version_and_kind() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n");
    assert_eq!(
        e,
        "cluster.yaml:2:13: apiVersion: unknown apiVersion: kind.x-k8s.io/v1alpha3 (kindling reads kind.x-k8s.io/v1alpha4 configs)"
    );
    let e = error_of("kind: Node\napiVersion: kind.x-k8s.io/v1alpha4\n");
    assert_eq!(
        e,
        "cluster.yaml:1:7: kind: unknown kind Node for apiVersion: kind.x-k8s.io/v1alpha4 (expected kind: Cluster)"
    );
    let e = error_of("nodes:\n- role: worker\n");
    assert!(
        e.starts_with("cluster.yaml: apiVersion: unknown apiVersion: "),
        "{e}"
    );
    // apiVersion is checked before the fields, as kind does
    let e = error_of("apiVersion: v1\nnodez: 1\n");
    assert!(e.contains("unknown apiVersion: v1"), "{e}");
}

#[test]
fn syntax_error() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [\n");
    assert!(e.starts_with("cluster.yaml:3:"), "{e}");
}

#[test]
fn no_control_plane() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: worker\n- role: worker\n");
    assert_eq!(
        e,
        "cluster.yaml:3:1: nodes: must have at least one control-plane node"
    );
}

#[test]
fn bad_role() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: master\n");
    assert_eq!(
        e,
        "cluster.yaml:5:9: nodes[1].role: invalid configuration for node 1: \"master\" is not a valid node role (expected control-plane or worker)"
    );
}

#[test]
fn bad_subnet() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnet: 10.244.0.0/33\n");
    assert_eq!(
        e,
        "cluster.yaml:4:14: networking.podSubnet: invalid pod subnet failed to parse cidr value:\"10.244.0.0/33\" with error: invalid CIDR address: 10.244.0.0/33"
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  serviceSubnet: fd00::/112\n");
    assert_eq!(
        e,
        "cluster.yaml:4:18: networking.serviceSubnet: invalid service subnet expected IPv4 CIDR for IPv4 family"
    );
    // a bad subnet from a kubeadm patch is located at the patch
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  networking:\n    podSubnet: nonsense\n");
    assert_eq!(
        e,
        "cluster.yaml:5:3: kubeadmConfigPatches[0]: ClusterConfiguration.networking.podSubnet: invalid pod subnet failed to parse cidr value:\"nonsense\" with error: invalid CIDR address: nonsense"
    );
}

#[test]
fn overlapping_subnets_warn() {
    let c = resolve_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnet: 10.0.0.0/8\n",
    )
    .unwrap();
    assert_eq!(
        c.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["networking.podSubnet: the pod subnet 10.0.0.0/8 overlaps the service subnet 10.96.0.0/16: Pod and Service addresses will collide"]
    );
}

#[test]
fn duplicate_host_port() {
    // within a node: kind's check
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 8080\n  - containerPort: 81\n    hostPort: 8080\n    protocol: tcp\n");
    assert_eq!(
        e,
        "cluster.yaml:9:15: nodes[0].extraPortMappings[1].hostPort: invalid configuration for node 0: invalid portMapping: port mapping with same listen address, port and protocol already configured: 0.0.0.0:8080/TCP (also nodes[0].extraPortMappings[0])"
    );
    // across nodes (they all bind on the same host), and a wildcard clashes with a specific address
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 80\n    listenAddress: 127.0.0.1\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 80\n");
    assert_eq!(
        e,
        "cluster.yaml:12:15: nodes[1].extraPortMappings[0].hostPort: invalid configuration for node 1: invalid portMapping: port mapping with same listen address, port and protocol already configured: 0.0.0.0:80/TCP (also nodes[0].extraPortMappings[0])"
    );
    // different protocol, different address, or random ports: fine
    resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - {containerPort: 53, hostPort: 53}\n  - {containerPort: 53, hostPort: 53, protocol: UDP}\n  - {containerPort: 80, hostPort: 80, listenAddress: 127.0.0.1}\n  - {containerPort: 80, hostPort: 80, listenAddress: 127.0.0.2}\n  - {containerPort: 1}\n  - {containerPort: 2}\n  - {containerPort: 3, hostPort: -1}\n  - {containerPort: 4, hostPort: -1}\n").unwrap();
}

#[test]
fn port_range() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 70000\n");
    assert_eq!(
        e,
        "cluster.yaml:7:15: nodes[0].extraPortMappings[0].hostPort: invalid configuration for node 0: invalid hostPort: invalid port number: 70000"
    );
    let e = error_of(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  apiServerPort: -5\n",
    );
    assert_eq!(e, "cluster.yaml:4:18: networking.apiServerPort: invalid apiServerPort: invalid port number: -5");
}

#[test]
fn enumerations_with_kinds_messages() {
    let e = error_of(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: ipv5\n",
    );
    assert_eq!(e, "cluster.yaml:4:13: networking.ipFamily: invalid ipFamily: ipv5 (expected ipv4, ipv6 or dual)");
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  kubeProxyMode: userspace\n");
    assert_eq!(
        e,
        "cluster.yaml:4:18: networking.kubeProxyMode: invalid kubeProxyMode: userspace (expected iptables, ipvs, nftables or none)"
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraPortMappings:\n  - containerPort: 80\n    protocol: icmp\n");
    assert_eq!(
        e,
        "cluster.yaml:6:15: nodes[0].extraPortMappings[0].protocol: Unknown PortMappingProtocol: \"ICMP\" (expected TCP, UDP or SCTP)"
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- extraMounts:\n  - hostPath: /a\n    containerPath: /b\n    propagation: shared\n");
    assert_eq!(
        e,
        "cluster.yaml:7:18: nodes[0].extraMounts[0].propagation: Unknown MountPropagation: \"shared\" (expected None, HostToContainer or Bidirectional)"
    );
}

#[test]
fn cluster_name_rule() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: My_Cluster\n");
    assert_eq!(
        e,
        "cluster.yaml:3:7: name: 'My_Cluster' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`"
    );
    let errs = Config::default_config().resolve(&opts("Bad")).unwrap_err();
    assert!(
        errs.to_string()
            .contains("'Bad' is not a valid cluster name"),
        "{errs}"
    );
    let long = "a".repeat(51);
    let c = Config::default_config().resolve(&opts(&long)).unwrap();
    assert!(c.warnings[0].message.contains("is probably too long"));
}

#[test]
fn all_errors_reported_at_once() {
    let errs = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: ipv5\n  kubeProxyMode: bogus\nnodes:\n- role: worker\n").unwrap_err();
    assert_eq!(errs.0.len(), 3, "{errs}");
    assert!(
        errs.to_string()
            .starts_with("3 errors in the config:\n  cluster.yaml:4:13:"),
        "{errs}"
    );
}

// ---- kubeadm patches ----

#[test]
fn json6902_patch() {
    let c = resolve_text(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta3
  kind: ClusterConfiguration
  patch: |
    - op: add
      path: /apiServer/certSANs/-
      value: my-hostname
    - op: replace
      path: /networking/podSubnet
      value: 10.50.0.0/16
    - op: add
      path: /apiServer/extraArgs/service-node-port-range
      value: "20000-22767"
nodes:
- role: control-plane
- role: worker
  kubeadmConfigPatchesJSON6902:
  - group: kubeadm.k8s.io
    version: v1beta3
    kind: JoinConfiguration
    patch: |
      - op: add
        path: /nodeRegistration/taints
        value: [{key: dedicated, value: gpu, effect: NoSchedule}]
"#,
    )
    .unwrap();
    assert_eq!(
        c.api_server.cert_sans,
        ["localhost", "127.0.0.1", "my-hostname"]
    );
    assert_eq!(cidrs(&c.networking.pod_subnets), ["10.50.0.0/16"]);
    assert_eq!(
        c.api_server.extra_args,
        map(&[("service-node-port-range", "20000-22767")])
    );
    assert_eq!(
        c.nodes[1].taints,
        [Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into()
        }]
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    // a patch that cannot apply fails like kind's, at the patch
    let e = error_of(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatchesJSON6902:\n- group: kubeadm.k8s.io\n  version: v1beta3\n  kind: ClusterConfiguration\n  patch: |\n    - op: replace\n      path: /etcd/local/dataDir\n      value: /tmp\n",
    );
    assert!(
        e.starts_with("cluster.yaml:4:3: kubeadmConfigPatchesJSON6902[0]: failed to apply JSON 6902 patch to ClusterConfiguration:"),
        "{e}"
    );
    // reported once, though kind patches (and fails on) every node's config
    let e = error_of(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\nkubeadmConfigPatchesJSON6902:\n- group: kubeadm.k8s.io\n  version: v1beta3\n  kind: ClusterConfiguration\n  patch: |\n    - op: remove\n      path: /nope\n",
    );
    assert!(e.contains("failed to apply JSON 6902 patch"), "{e}");
}

#[test]
fn v1beta4_extra_args_list_form() {
    let c = resolve_text(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  apiVersion: kubeadm.k8s.io/v1beta4
  kind: ClusterConfiguration
  apiServer:
    extraArgs:
    - name: service-node-port-range
      value: "1000-2000"
    - name: oidc-issuer-url
      value: https://issuer.example
    - name: oidc-client-id
      value: kindling
    certSANs:
    - api.example
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta4
  kind: ClusterConfiguration
  patch: |
    - op: add
      path: /apiServer/extraArgs/-
      value: {name: oidc-username-claim, value: email}
nodes:
- role: control-plane
  kubeadmConfigPatches:
  - |
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
      - name: node-labels
        value: "a=1,b=2"
      - name: max-pods
        value: "30"
"#,
    )
    .unwrap();
    assert_eq!(
        c.api_server.extra_args,
        map(&[
            ("oidc-client-id", "kindling"),
            ("oidc-issuer-url", "https://issuer.example"),
            ("oidc-username-claim", "email"),
            ("service-node-port-range", "1000-2000"),
        ])
    );
    assert_eq!(
        c.api_server.cert_sans,
        ["localhost", "127.0.0.1", "api.example"]
    );
    assert_eq!(c.nodes[0].labels.get("a").map(String::as_str), Some("1"));
    assert_eq!(c.nodes[0].labels.get("b").map(String::as_str), Some("2"));
    assert_eq!(c.nodes[0].kubelet_extra_args, map(&[("max-pods", "30")]));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    // the v1beta3 map form says the same
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  apiVersion: kubeadm.k8s.io/v1beta3\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      service-node-port-range: 1000-2000\n      oidc-issuer-url: https://issuer.example\n").unwrap();
    assert_eq!(
        c.api_server.extra_args,
        map(&[
            ("oidc-issuer-url", "https://issuer.example"),
            ("service-node-port-range", "1000-2000")
        ])
    );
}

#[test]
fn unsupported_patch_field_is_a_warning() {
    let c = resolve_text(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  etcd:
    local:
      dataDir: /tmp/etcd
  apiServer:
    extraArgs:
      audit-log-path: /var/log/audit.log
- |
  kind: KubeletConfiguration
  maxPods: 50
  cpuManagerPolicy: static
- |
  kind: KubeProxyConfiguration
  mode: ipvs
- |
  kind: SomethingElse
  foo: bar
nodes:
- role: control-plane
- role: worker
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "x=y"
"#,
    )
    .unwrap();
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "kubeadmConfigPatches[3]: kind \"SomethingElse\" matches no kubeadm config document and is ignored (kind: ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration or KubeProxyConfiguration)",
            "kubeadmConfigPatches[0]: ClusterConfiguration.apiServer.extraArgs.audit-log-path is not supported by kindling and is ignored (kindling's API server takes service-node-port-range, oidc-*, runtime-config, feature-gates, enable-admission-plugins, disable-admission-plugins, token-auth-file, service-account-issuer, service-account-jwks-uri, api-audiences from extraArgs)",
            "kubeadmConfigPatches[0]: ClusterConfiguration.etcd.local.dataDir is not supported by kindling and is ignored",
            "kubeadmConfigPatches[1]: KubeletConfiguration.cpuManagerPolicy is not supported by kindling and is ignored",
            "nodes[1].kubeadmConfigPatches[0]: InitConfiguration only applies to the first control-plane node (kubeadm init); kind-worker joins the cluster (use JoinConfiguration), so this patch has no effect",
        ]
    );
    assert_eq!(
        c.warnings[2].location,
        Some(Location { line: 5, column: 3 })
    );
    assert_eq!(c.networking.kube_proxy_mode, ProxyMode::Ipvs);
    for n in &c.nodes {
        assert_eq!(
            n.kubelet_config.get("maxPods"),
            Some(&serde_json::json!(50)),
            "{}",
            n.name
        );
    }
    assert!(!c.nodes[1].labels.contains_key("x"));
}

#[test]
fn node_labels_and_taints_from_join_configuration() {
    // kind's docs: node-labels and register-with-taints on joining nodes
    let c = resolve_text(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  labels:
    from-config: "yes"
  kubeadmConfigPatches:
  - |
    kind: JoinConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "my-label2=true"
        register-with-taints: "my-taint=presence:NoSchedule"
- role: control-plane
  kubeadmConfigPatches:
  - |
    kind: JoinConfiguration
    nodeRegistration:
      taints: []
      kubeletExtraArgs:
        node-labels: "my-label3=true"
"#,
    )
    .unwrap();
    assert_eq!(
        names(&c),
        ["kind-control-plane", "kind-worker", "kind-control-plane2"]
    );
    let w = &c.nodes[1];
    assert_eq!(
        w.labels,
        map(&[("from-config", "yes"), ("my-label2", "true")])
    );
    assert_eq!(
        w.taints,
        [Taint {
            key: "my-taint".into(),
            value: "presence".into(),
            effect: "NoSchedule".into()
        }]
    );
    let cp2 = &c.nodes[2];
    assert_eq!(
        cp2.labels.get("my-label3").map(String::as_str),
        Some("true")
    );
    assert!(
        cp2.taints.is_empty(),
        "taints: [] removes kubeadm's default"
    );
    assert_eq!(c.nodes[0].taints, [Taint::control_plane()]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn bad_node_label_in_patch_is_an_error() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  kubeadmConfigPatches:\n  - |\n    kind: InitConfiguration\n    nodeRegistration:\n      kubeletExtraArgs:\n        node-labels: \"bad label=1\"\n");
    assert!(
        e.starts_with("cluster.yaml:7:5: nodes[0].kubeadmConfigPatches[0]: InitConfiguration.nodeRegistration.kubeletExtraArgs.node-labels: invalid label key \"bad label\""),
        "{e}"
    );
}

#[test]
fn patch_yaml_error_points_into_the_file() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  networking: [\n");
    assert_eq!(
        e,
        "cluster.yaml:6:15: kubeadmConfigPatches[0]: failed to parse patch: unclosed bracket '['"
    );
}

#[test]
fn patch_precedence_over_networking_is_said() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnet: 10.1.0.0/16\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  networking:\n    podSubnet: 10.2.0.0/16\n    dnsDomain: example.internal\n").unwrap();
    assert_eq!(cidrs(&c.networking.pod_subnets), ["10.2.0.0/16"]);
    assert_eq!(c.networking.dns_domain, "example.internal");
    assert_eq!(
        c.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["networking.podSubnet: 10.1.0.0/16 is overridden by 10.2.0.0/16 (kubeadmConfigPatches[0]), as in kind: kubeadm config patches win"]
    );
}

#[test]
fn patch_api_version_mismatch_is_ignored_with_a_warning() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  apiVersion: kubeadm.k8s.io/v1beta1\n  kind: ClusterConfiguration\n  networking:\n    podSubnet: 10.2.0.0/16\n").unwrap();
    assert_eq!(cidrs(&c.networking.pod_subnets), ["10.244.0.0/16"]);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.starts_with("apiVersion \"kubeadm.k8s.io/v1beta1\" of ClusterConfiguration matches no generated document"));
}

#[test]
fn feature_gates_and_runtime_config_from_extra_args() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nfeatureGates:\n  A: true\nruntimeConfig:\n  x/v1: \"true\"\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      feature-gates: B=false\n      runtime-config: api/all=true\n").unwrap();
    assert_eq!(
        c.feature_gates,
        [("A".to_string(), true), ("B".to_string(), false)].into()
    );
    assert_eq!(c.runtime_config, map(&[("api/all", "true")]));
    assert!(c.api_server.extra_args.is_empty());
}

#[test]
fn containerd_patch_must_be_toml() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatches:\n- |-\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \n");
    assert!(
        e.starts_with("cluster.yaml:6:21: containerdConfigPatches[0]: invalid TOML in containerd config patch: "),
        "{e}"
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatchesJSON6902:\n- |\n  - op: frobnicate\n    path: /x\n");
    assert!(
        e.starts_with(
            "cluster.yaml:5:3: containerdConfigPatchesJSON6902[0]: failed to parse JSON 6902 patch"
        ),
        "{e}"
    );
}

#[test]
fn stdin_is_named() {
    let errs = Config::parse(
        STDIN_NAME,
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: 1\n",
    )
    .unwrap_err();
    assert!(
        errs.to_string()
            .starts_with("<stdin>:3:1: nodez: unknown field"),
        "{errs}"
    );
}

#[test]
fn missing_file() {
    let errs = Config::load_file(testdata("no-such-file.yaml")).unwrap_err();
    assert!(
        errs.to_string()
            .contains("no-such-file.yaml: error reading file:"),
        "{errs}"
    );
}

#[test]
fn kubelet_configuration_on_one_worker_applies_to_that_worker() {
    let c = resolve_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  kubeadmConfigPatches:\n  - |\n    kind: KubeletConfiguration\n    maxPods: 20\n    systemReserved:\n      memory: 100Mi\n- role: worker\n",
    )
    .unwrap();
    assert!(c.nodes[0].kubelet_config.is_empty());
    assert_eq!(
        serde_json::Value::Object(c.nodes[1].kubelet_config.clone()),
        serde_json::json!({"maxPods": 20, "systemReserved": {"memory": "100Mi"}})
    );
    assert!(c.nodes[2].kubelet_config.is_empty());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn kube_proxy_patch_without_kube_proxy() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  kubeProxyMode: none\nkubeadmConfigPatches:\n- |\n  kind: KubeProxyConfiguration\n  mode: ipvs\n").unwrap();
    assert_eq!(c.networking.kube_proxy_mode, ProxyMode::None);
    assert_eq!(
        c.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["kubeadmConfigPatches[0]: there is no KubeProxyConfiguration to patch (networking.kubeProxyMode is none), so the patch is ignored"]
    );
}

#[test]
fn null_fields_are_unset_like_go() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname:\nnodes:\nnetworking:\n  dnsSearch:\nfeatureGates: ~\n").unwrap();
    assert_eq!(names(&c), ["kind-control-plane"]);
    assert_eq!(c.networking.dns_search, None);
}

#[test]
fn multi_document_patch() {
    let c = resolve_text(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  networking:\n    dnsDomain: k.local\n  ---\n  kind: InitConfiguration\n  nodeRegistration:\n    kubeletExtraArgs:\n      node-labels: zone=a\n",
    )
    .unwrap();
    assert_eq!(c.networking.dns_domain, "k.local");
    assert_eq!(c.nodes[0].labels.get("zone").map(String::as_str), Some("a"));
}

/// Admission plugin flags reach the API server; an unknown name is kube-apiserver's error at the
/// patch's line (the server would not start), a name kindling does not carry out a warning.
#[test]
fn admission_plugin_flags() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      disable-admission-plugins: ServiceAccount,LimitRanger\n      enable-admission-plugins: AlwaysPullImages\n").unwrap();
    assert_eq!(
        c.api_server.extra_args,
        map(&[
            ("disable-admission-plugins", "ServiceAccount,LimitRanger"),
            ("enable-admission-plugins", "AlwaysPullImages"),
        ])
    );
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["kubeadmConfigPatches[0]: ClusterConfiguration.apiServer.extraArgs.enable-admission-plugins: kindling's API server does not carry out the AlwaysPullImages admission plugin; it has no effect"]
    );
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      disable-admission-plugins: ServiceAcount\n");
    assert_eq!(
        e,
        "cluster.yaml:5:3: kubeadmConfigPatches[0]: ClusterConfiguration.apiServer.extraArgs.disable-admission-plugins: disable-admission-plugins plugin \"ServiceAcount\" is unknown"
    );
}

/// `token-auth-file` is read on the node: through `apiServer.extraVolumes` (pod path → node
/// path) and, to be there, from an `extraMounts` entry; without one it is a warning.
#[test]
fn token_auth_file() {
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraMounts:\n  - hostPath: /tmp/tokens.csv\n    containerPath: /etc/kubernetes/pki/tokens.csv\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      token-auth-file: /etc/kubernetes/pki/tokens.csv\n").unwrap();
    assert_eq!(
        c.api_server.extra_args,
        map(&[("token-auth-file", "/etc/kubernetes/pki/tokens.csv")])
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // The kube-apiserver pod's path, mapped to the node's by extraVolumes.
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraMounts:\n  - hostPath: /tmp/auth\n    containerPath: /srv/auth\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      token-auth-file: /etc/auth/tokens.csv\n    extraVolumes:\n    - name: auth\n      hostPath: /srv/auth\n      mountPath: /etc/auth\n      readOnly: true\n").unwrap();
    assert_eq!(
        c.api_server.extra_args,
        map(&[("token-auth-file", "/srv/auth/tokens.csv")])
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let c = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      token-auth-file: /etc/tokens.csv\n").unwrap();
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["kubeadmConfigPatches[0]: ClusterConfiguration.apiServer.extraArgs.token-auth-file: /etc/tokens.csv is under no extraMounts containerPath of the first control-plane node; its API server reads the file there and will not start without it"]
    );
}

#[test]
fn bad_node_port_range() {
    let e = error_of("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n      service-node-port-range: \"30000\"\n");
    assert_eq!(
        e,
        "cluster.yaml:5:3: kubeadmConfigPatches[0]: ClusterConfiguration.apiServer.extraArgs.service-node-port-range: invalid port range \"30000\": expected FIRST-LAST, e.g. 30000-32767"
    );
}

#[test]
fn one_control_plane_keeps_sqlite_unless_a_patch_names_kubeadms_stacked_etcd() {
    let plain = resolve_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n").unwrap();
    assert!(!plain.stacked_etcd);
    let c = resolve_text(
        "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  etcd:
    local: {}
",
    )
    .unwrap();
    assert!(c.stacked_etcd);
    assert!(!c.external_load_balancer);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // What is inside `etcd.local` is still reported when kindling ignores it.
    let c = resolve_text(
        "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  etcd:
    local:
      dataDir: /tmp/etcd
",
    )
    .unwrap();
    assert!(c.stacked_etcd);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
}

#[test]
fn ingress_load_balancer_is_one_line_with_defaults() {
    let head = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";
    let c = resolve_text(&format!("{head}ingressLoadBalancer: {{}}\n")).unwrap();
    assert_eq!(c.ingress_load_balancer, Some(("0.0.0.0".into(), 80, 443)));
    let c = resolve_text(&format!(
        "{head}ingressLoadBalancer: {{listenAddress: 127.0.0.1, httpPort: 8080, httpsPort: 8443}}\n"
    ))
    .unwrap();
    assert_eq!(
        c.ingress_load_balancer,
        Some(("127.0.0.1".into(), 8080, 8443))
    );
    assert_eq!(resolve_text(head).unwrap().ingress_load_balancer, None);
    let e = error_of(&format!("{head}ingressLoadBalancer: {{port: 80}}\n"));
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn controller_manager_controllers_are_honoured() {
    let c = resolve_text(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  controllerManager:
    extraArgs:
      controllers: "*,kubelet-serving-approver"
      node-cidr-mask-size: "24"
"#,
    )
    .unwrap();
    assert_eq!(
        c.controller_manager_args,
        map(&[("controllers", "*,kubelet-serving-approver")])
    );
    let warned: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains(
            "ClusterConfiguration.controllerManager.extraArgs.node-cidr-mask-size is not supported"
        ),
        "{warned:?}"
    );
}
