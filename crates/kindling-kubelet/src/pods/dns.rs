//! A pod's resolv.conf (CRI DnsConfig), as the kubelet's `pkg/kubelet/network/dns` forms it.
//! Pure: the node's resolv.conf, the cluster DNS servers and domain, and the pod in; the config
//! and the warnings the kubelet records as `DNSConfigForming` events out.
//!
//! - `ClusterFirst` (not host-network), `ClusterFirstWithHostNet`: the cluster DNS servers only,
//!   search `<ns>.svc.<domain> svc.<domain> <domain>` then the node's searches, `ndots:5`.
//!   Without cluster DNS the kubelet falls back to `Default`.
//! - `Default` and `ClusterFirst` with `hostNetwork`: the node's resolv.conf.
//! - `None`: nothing but `dnsConfig`.
//!
//! `dnsConfig` is appended to any of them: nameservers and searches added without duplicates,
//! options merged by name (the pod's value wins). Then the limits: 3 nameservers, 32 search
//! domains, none over 253 characters, 2048 characters for the search line.

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;

pub const MAX_NAMESERVERS: usize = 3;
pub const MAX_SEARCH_PATHS: usize = 32;
pub const MAX_SEARCH_LINE_CHARS: usize = 2048;
/// A DNS-1123 subdomain's longest: glibc aborts on longer search paths.
const MAX_SEARCH_PATH_CHARS: usize = 253;
const DEFAULT_OPTIONS: &[&str] = &["ndots:5"];

/// The cluster's DNS as the kubelet is configured with it (`clusterDNS`, `clusterDomain`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterDns {
    pub servers: Vec<String>,
    pub domain: String,
}

/// What a pod gets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodDns {
    pub config: cri::DnsConfig,
    /// Why something was left out, as (event reason, message): `MissingClusterDNS`,
    /// `DNSConfigForming` (limits). One Warning event each.
    pub warnings: Vec<(&'static str, String)>,
}

/// The nameservers, searches and options of a resolv.conf: nameservers accumulate, the last
/// `search` and the last `options` line win, search domains lose a trailing dot.
pub fn parse_resolv_conf(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut servers, mut searches, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["nameserver", ip, ..] => servers.push((*ip).to_string()),
            ["search", rest @ ..] => {
                searches = rest
                    .iter()
                    .map(|s| s.trim_end_matches('.').to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            ["options", rest @ ..] => options = rest.iter().map(|s| (*s).to_string()).collect(),
            _ => {}
        }
    }
    (servers, searches, options)
}

fn push_unique(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// The pod's DNS configuration.
pub fn pod_dns(pod: &Pod, node_resolv_conf: &str, cluster: &ClusterDns) -> PodDns {
    let spec = pod.spec.as_ref();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let (servers, searches, options) = parse_resolv_conf(node_resolv_conf);
    let mut out = PodDns::default();
    let mut dns = cri::DnsConfig {
        servers,
        searches,
        options,
    };
    let cluster_first = match policy {
        "None" => {
            dns = cri::DnsConfig::default();
            false
        }
        "ClusterFirstWithHostNet" => true,
        "Default" => false,
        // ClusterFirst (and anything the API server should have refused).
        _ => !host_network,
    };
    if cluster_first {
        if cluster.servers.is_empty() {
            out.warnings.push(("MissingClusterDNS", format!(
                "pod: \"{}_{namespace}({})\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.",
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.uid.as_deref().unwrap_or_default(),
            )));
        } else {
            dns.servers.clone_from(&cluster.servers);
            if !cluster.domain.is_empty() {
                let d = &cluster.domain;
                let mut search = vec![
                    format!("{namespace}.svc.{d}"),
                    format!("svc.{d}"),
                    d.clone(),
                ];
                push_unique(&mut search, std::mem::take(&mut dns.searches));
                dns.searches = search;
            }
            dns.options = DEFAULT_OPTIONS.iter().map(|o| (*o).to_string()).collect();
        }
    }
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        push_unique(
            &mut dns.servers,
            extra.nameservers.clone().unwrap_or_default(),
        );
        push_unique(
            &mut dns.searches,
            extra.searches.clone().unwrap_or_default(),
        );
        for o in extra.options.iter().flatten() {
            let name = o.name.clone().unwrap_or_default();
            let text = match o.value.as_deref() {
                Some(v) if !v.is_empty() => format!("{name}:{v}"),
                _ => name.clone(),
            };
            let same = |existing: &String| existing.split(':').next() == Some(name.as_str());
            match dns.options.iter().position(same) {
                Some(i) => dns.options[i] = text,
                None => dns.options.push(text),
            }
        }
    }
    if dns.servers.len() > MAX_NAMESERVERS {
        dns.servers.truncate(MAX_NAMESERVERS);
        out.warnings.push(("DNSConfigForming", format!(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
            dns.servers.join(" ")
        )));
    }
    let (searches, exceeded) = fit_searches(dns.searches);
    dns.searches = searches;
    if exceeded {
        out.warnings.push(("DNSConfigForming", format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            dns.searches.join(" ")
        )));
    }
    out.config = dns;
    out
}

/// The search list cut to the limits: the first 32, none longer than a DNS name, then from the
/// end until the line is at most 2048 characters. Whether anything was cut.
fn fit_searches(mut searches: Vec<String>) -> (Vec<String>, bool) {
    let mut exceeded = false;
    if searches.len() > MAX_SEARCH_PATHS {
        searches.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = searches.len();
    searches.retain(|s| s.len() <= MAX_SEARCH_PATH_CHARS);
    exceeded |= searches.len() != before;
    while !searches.is_empty() && searches.join(" ").len() > MAX_SEARCH_LINE_CHARS {
        searches.pop();
        exceeded = true;
    }
    (searches, exceeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NODE: &str = "# Docker's, with its resolver replaced by the node\nsearch corp.example. example.com\nnameserver 172.18.0.2\noptions ndots:0 edns0\n";

    fn cluster() -> ClusterDns {
        ClusterDns {
            servers: vec!["10.96.0.10".into()],
            domain: "cluster.local".into(),
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "team", "uid": "u1"},
            "spec": spec}),
        )
        .unwrap()
    }

    fn dns(spec: serde_json::Value) -> PodDns {
        pod_dns(&pod(spec), NODE, &cluster())
    }

    #[test]
    fn cluster_first_uses_cluster_dns_then_the_nodes_searches_and_ndots_5() {
        let d = dns(json!({"containers": []}));
        assert_eq!(d.config.servers, ["10.96.0.10"]);
        assert_eq!(
            d.config.searches,
            [
                "team.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example",
                "example.com"
            ]
        );
        assert_eq!(d.config.options, ["ndots:5"]);
        assert!(d.warnings.is_empty());
        let explicit = dns(json!({"dnsPolicy": "ClusterFirst", "containers": []}));
        assert_eq!(explicit, d);
    }

    #[test]
    fn default_and_host_network_cluster_first_use_the_node() {
        for spec in [
            json!({"dnsPolicy": "Default", "containers": []}),
            json!({"dnsPolicy": "ClusterFirst", "hostNetwork": true, "containers": []}),
        ] {
            let d = dns(spec);
            assert_eq!(d.config.servers, ["172.18.0.2"]);
            assert_eq!(d.config.searches, ["corp.example", "example.com"]);
            assert_eq!(d.config.options, ["ndots:0", "edns0"]);
        }
        let d = dns(
            json!({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": true,
                           "containers": []}),
        );
        assert_eq!(d.config.servers, ["10.96.0.10"]);
        assert_eq!(d.config.searches[0], "team.svc.cluster.local");
    }

    #[test]
    fn none_is_only_dns_config() {
        let d = dns(json!({"dnsPolicy": "None", "containers": [],
            "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
                          "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}));
        assert_eq!(d.config.servers, ["1.1.1.1"]);
        assert_eq!(d.config.searches, ["a.example"]);
        assert_eq!(d.config.options, ["ndots:2", "edns0"]);
        let d = dns(json!({"dnsPolicy": "None", "containers": []}));
        assert_eq!(d.config, cri::DnsConfig::default());
    }

    #[test]
    fn dns_config_is_merged_without_duplicates_and_options_by_name() {
        let d = dns(json!({"containers": [], "dnsConfig": {
            "nameservers": ["10.96.0.10", "8.8.8.8"],
            "searches": ["svc.cluster.local", "extra.example"],
            "options": [{"name": "ndots", "value": "1"}, {"name": "single-request-reopen"},
                        {"name": "timeout", "value": "3"}]}}));
        assert_eq!(d.config.servers, ["10.96.0.10", "8.8.8.8"]);
        assert_eq!(
            d.config.searches,
            [
                "team.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example",
                "example.com",
                "extra.example"
            ]
        );
        assert_eq!(
            d.config.options,
            ["ndots:1", "single-request-reopen", "timeout:3"]
        );
    }

    #[test]
    fn limits_cut_and_warn() {
        let d = dns(json!({"containers": [], "dnsConfig": {
            "nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"]}}));
        assert_eq!(d.config.servers, ["10.96.0.10", "1.1.1.1", "2.2.2.2"]);
        assert_eq!(
            d.warnings,
            [("DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 1.1.1.1 2.2.2.2".to_string())]
        );

        let many: Vec<String> = (0..40).map(|i| format!("s{i}.example")).collect();
        let d =
            dns(json!({"dnsPolicy": "None", "containers": [], "dnsConfig": {"searches": many}}));
        assert_eq!(d.config.searches.len(), 32);
        assert_eq!(d.config.searches[31], "s31.example");
        assert!(d.warnings[0]
            .1
            .starts_with("Search Line limits were exceeded"));

        // 2048 characters: 20 domains of 100 characters and one space each is 2019; a 21st
        // would make 2120, so it goes.
        let long: Vec<String> = (0..21)
            .map(|i| format!("{i:02}{}", ".a".repeat(49)))
            .collect();
        assert_eq!(long[0].len(), 100);
        let d =
            dns(json!({"dnsPolicy": "None", "containers": [], "dnsConfig": {"searches": long}}));
        assert_eq!(d.config.searches.len(), 20);
        assert!(d.config.searches.join(" ").len() <= MAX_SEARCH_LINE_CHARS);

        let too_long = format!("{}.example", "a".repeat(250));
        let d = dns(json!({"dnsPolicy": "None", "containers": [],
            "dnsConfig": {"searches": [too_long, "ok.example"]}}));
        assert_eq!(d.config.searches, ["ok.example"]);
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn without_cluster_dns_cluster_first_falls_back_to_the_node() {
        let d = pod_dns(
            &pod(json!({"containers": []})),
            NODE,
            &ClusterDns::default(),
        );
        assert_eq!(d.config.servers, ["172.18.0.2"]);
        assert_eq!(d.config.options, ["ndots:0", "edns0"]);
        assert_eq!(d.warnings[0].0, "MissingClusterDNS");
        assert!(d.warnings[0]
            .1
            .contains("kubelet does not have ClusterDNS IP configured"));
    }

    #[test]
    fn resolv_conf_parsing() {
        let (s, q, o) = parse_resolv_conf(
            "nameserver 1.1.1.1\nsearch old.example\n; comment\nsearch a.example. .\nnameserver 2.2.2.2\noptions a\noptions b:1\n",
        );
        assert_eq!(s, ["1.1.1.1", "2.2.2.2"]);
        assert_eq!(q, ["a.example"]);
        assert_eq!(o, ["b:1"]);
    }
}
