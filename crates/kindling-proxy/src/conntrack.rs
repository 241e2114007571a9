//! Which UDP flows to forget after a sync, without IO. UDP has no connection to close: a
//! conntrack entry keeps sending a client's datagrams to an endpoint that is gone (or, for a
//! Service that had no endpoints, nowhere) until it times out. Upstream deletes those entries
//! with `conntrack -D`; these are its arguments.

use crate::model::{Protocol, ServicePort, State};
use crate::rules::Node;
use std::collections::{BTreeMap, BTreeSet};

/// The `conntrack` argument lists to run after moving from `old` to `new` on `node`.
pub fn stale_udp(old: &State, new: &State, node: &Node) -> Vec<Vec<String>> {
    let used = |state: &State| -> BTreeMap<String, (ServicePort, BTreeSet<std::net::Ipv4Addr>)> {
        state
            .ports
            .iter()
            .filter(|sp| sp.protocol == Protocol::Udp)
            .map(|sp| {
                let ips = sp
                    .cluster_endpoints()
                    .into_iter()
                    .chain(sp.local_endpoints(&node.name))
                    .map(|e| e.ip)
                    .collect();
                (sp.name(), (sp.clone(), ips))
            })
            .collect()
    };
    let before = used(old);
    let after = used(new);
    let mut commands = BTreeSet::new();
    let udp = |args: &[&str]| -> Vec<String> {
        ["-D", "-p", "udp"]
            .iter()
            .chain(args)
            .map(|s| (*s).to_string())
            .collect()
    };
    for (name, (sp, ips)) in &before {
        let still: BTreeSet<std::net::Ipv4Addr> = after
            .get(name)
            .map(|(_, ips)| ips.clone())
            .unwrap_or_default();
        for ip in ips.difference(&still) {
            let to = ip.to_string();
            for dst in std::iter::once(sp.cluster_ip).chain(sp.external_ips.iter().copied()) {
                commands.insert(udp(&["--orig-dst", &dst.to_string(), "--dst-nat", &to]));
            }
            if let Some(np) = sp.node_port {
                commands.insert(udp(&["--orig-port-dst", &np.to_string(), "--dst-nat", &to]));
            }
        }
    }
    // Ports that had nowhere to go and now have: their clients' entries point nowhere.
    for (name, (sp, ips)) in &after {
        let had = before.get(name).is_some_and(|(_, ips)| !ips.is_empty());
        if ips.is_empty() || had {
            continue;
        }
        for dst in std::iter::once(sp.cluster_ip).chain(sp.external_ips.iter().copied()) {
            commands.insert(udp(&["--orig-dst", &dst.to_string()]));
        }
        if let Some(np) = sp.node_port {
            commands.insert(udp(&["--orig-port-dst", &np.to_string()]));
        }
    }
    commands.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build;
    use serde_json::json;
    use std::sync::Arc;

    fn dns(endpoints: &[&str]) -> State {
        let svc = Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "dns", "namespace": "kube-system"},
                "spec": {"clusterIP": "10.96.0.10", "type": "NodePort",
                         "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
                                   {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},
            }))
            .unwrap(),
        );
        let eps: Vec<serde_json::Value> = endpoints
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
            .collect();
        let slice = Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "dns-a", "namespace": "kube-system",
                             "labels": {"kubernetes.io/service-name": "dns"}},
                "addressType": "IPv4", "endpoints": eps,
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                          {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
            }))
            .unwrap(),
        );
        build(&[svc], &[slice])
    }

    fn node() -> Node {
        Node {
            name: "n".into(),
            cluster_cidr: None,
        }
    }

    fn strings(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|a| a.iter().map(|s| (*s).to_string()).collect())
            .collect()
    }

    #[test]
    fn flows_to_a_removed_udp_endpoint_are_forgotten() {
        let got = stale_udp(
            &dns(&["10.244.1.2", "10.244.2.2"]),
            &dns(&["10.244.2.2"]),
            &node(),
        );
        assert_eq!(
            got,
            strings(&[
                &[
                    "-D",
                    "-p",
                    "udp",
                    "--orig-dst",
                    "10.96.0.10",
                    "--dst-nat",
                    "10.244.1.2"
                ],
                &[
                    "-D",
                    "-p",
                    "udp",
                    "--orig-port-dst",
                    "30053",
                    "--dst-nat",
                    "10.244.1.2"
                ],
            ])
        );
        // Nothing changed, nothing to forget (TCP endpoints never are).
        assert!(stale_udp(&dns(&["10.244.2.2"]), &dns(&["10.244.2.2"]), &node()).is_empty());
    }

    #[test]
    fn flows_of_a_service_that_gets_its_first_endpoint_are_forgotten() {
        let got = stale_udp(&dns(&[]), &dns(&["10.244.2.2"]), &node());
        assert_eq!(
            got,
            strings(&[
                &["-D", "-p", "udp", "--orig-dst", "10.96.0.10"],
                &["-D", "-p", "udp", "--orig-port-dst", "30053"],
            ])
        );
    }
}
