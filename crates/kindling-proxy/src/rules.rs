//! The iptables rules of a [`State`], as `iptables-restore --noflush` input, without IO
//! (upstream's iptables proxier, same chains and comments):
//!
//! - nat: `KUBE-SERVICES` (from PREROUTING and OUTPUT) sends each cluster IP to its
//!   `KUBE-SVC-*` chain (`KUBE-SVL-*`, this node's endpoints only, for internalTrafficPolicy
//!   Local), external IPs and — last — local addresses via `KUBE-NODEPORTS` to `KUBE-EXT-*`;
//!   `KUBE-SVC-*` picks an endpoint's `KUBE-SEP-*` with `statistic` probabilities 1/n,
//!   1/(n-1)… (or the remembered one, `recent`, with sessionAffinity ClientIP), and `KUBE-SEP-*`
//!   DNATs to it. Traffic that must be masqueraded (from outside the pod network to a cluster
//!   IP, from outside to a node port, a pod reaching itself) is marked by `KUBE-MARK-MASQ` and
//!   masqueraded by `KUBE-POSTROUTING`.
//! - filter: a Service without endpoints is REJECTed (`KUBE-SERVICES` from OUTPUT and FORWARD,
//!   `KUBE-EXTERNAL-SERVICES` for node ports and external IPs, also from INPUT); a Local policy
//!   without local endpoints DROPs; `KUBE-FORWARD` accepts marked and established traffic.
//!
//! Every chain of ours is declared in the ruleset, which flushes it, so a sync replaces all of
//! it in one transaction and is idempotent; chains that existed and are no longer wanted are
//! flushed and deleted in the same transaction; the jumps from the built-in chains are
//! inserted only when missing.

use crate::model::{Endpoint, ServicePort, State};
use crate::save::Existing;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The mark of packets to masquerade (upstream's default masquerade bit 14).
pub const MASQ_MARK: &str = "0x4000";

/// What the rules depend on besides the Services.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// This node's name, to tell its endpoints (Local traffic policies).
    pub name: String,
    /// The cluster's pod network (`10.244.0.0/16`): traffic from outside it to a cluster IP is
    /// masqueraded.
    pub cluster_cidr: Option<String>,
}

/// A jump from a built-in chain into ours.
struct Jump {
    table: &'static str,
    chain: &'static str,
    rule: &'static str,
    target: &'static str,
}

const JUMPS: &[Jump] = &[
    Jump {
        table: "nat",
        chain: "PREROUTING",
        rule: r#"-m comment --comment "kubernetes service portals""#,
        target: "KUBE-SERVICES",
    },
    Jump {
        table: "nat",
        chain: "OUTPUT",
        rule: r#"-m comment --comment "kubernetes service portals""#,
        target: "KUBE-SERVICES",
    },
    Jump {
        table: "nat",
        chain: "POSTROUTING",
        rule: r#"-m comment --comment "kubernetes postrouting rules""#,
        target: "KUBE-POSTROUTING",
    },
    Jump {
        table: "filter",
        chain: "INPUT",
        rule: r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals""#,
        target: "KUBE-EXTERNAL-SERVICES",
    },
    Jump {
        table: "filter",
        chain: "FORWARD",
        rule: r#"-m comment --comment "kubernetes forwarding rules""#,
        target: "KUBE-FORWARD",
    },
    Jump {
        table: "filter",
        chain: "FORWARD",
        rule: r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals""#,
        target: "KUBE-SERVICES",
    },
    Jump {
        table: "filter",
        chain: "FORWARD",
        rule: r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals""#,
        target: "KUBE-EXTERNAL-SERVICES",
    },
    Jump {
        table: "filter",
        chain: "OUTPUT",
        rule: r#"-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals""#,
        target: "KUBE-SERVICES",
    },
];

/// Chains of ours that always exist.
const NAT_CHAINS: &[&str] = &[
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-POSTROUTING",
    "KUBE-MARK-MASQ",
];
const FILTER_CHAINS: &[&str] = &["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD"];
/// Prefixes of the per-service chains (KUBE-FW- is upstream's load-balancer firewall chain, only
/// ever removed here).
const SERVICE_CHAIN_PREFIXES: &[&str] = &[
    "KUBE-SVC-",
    "KUBE-SVL-",
    "KUBE-EXT-",
    "KUBE-SEP-",
    "KUBE-FW-",
];

/// upstream's chain name hash: the first 16 characters of base32(sha256(input)).
fn hash16(input: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(input.as_bytes());
    // 16 characters are 80 bits: the first 10 bytes.
    let mut out = String::with_capacity(16);
    let mut bits: u32 = 0;
    let mut value: u32 = 0;
    for byte in &digest[..10] {
        value = (value << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((value >> bits) & 31) as usize]));
        }
    }
    out
}

fn port_hash(sp: &ServicePort) -> String {
    hash16(&format!("{}{}", sp.name(), sp.protocol.as_str()))
}

pub fn svc_chain(sp: &ServicePort) -> String {
    format!("KUBE-SVC-{}", port_hash(sp))
}

pub fn svl_chain(sp: &ServicePort) -> String {
    format!("KUBE-SVL-{}", port_hash(sp))
}

pub fn ext_chain(sp: &ServicePort) -> String {
    format!("KUBE-EXT-{}", port_hash(sp))
}

pub fn sep_chain(sp: &ServicePort, ep: &Endpoint) -> String {
    format!(
        "KUBE-SEP-{}",
        hash16(&format!(
            "{}{}{}",
            sp.name(),
            sp.protocol.as_str(),
            ep.address()
        ))
    )
}

/// The endpoints of a port this node sends traffic to, and where each kind of traffic goes.
struct Plan<'a> {
    sp: &'a ServicePort,
    cluster: Vec<&'a Endpoint>,
    local: Vec<&'a Endpoint>,
}

impl Plan<'_> {
    /// The chain cluster IP traffic jumps to, if any endpoint takes it.
    fn internal_target(&self) -> Option<String> {
        if self.sp.internal_local {
            (!self.local.is_empty()).then(|| svl_chain(self.sp))
        } else {
            (!self.cluster.is_empty()).then(|| svc_chain(self.sp))
        }
    }

    /// Whether the KUBE-SVC chain (all endpoints) is used: by cluster IP traffic unless that is
    /// Local, by traffic from outside (all of it, or that of pods and the node itself when
    /// external traffic is Local).
    fn uses_svc(&self) -> bool {
        !self.cluster.is_empty() && (!self.sp.internal_local || self.sp.is_external())
    }

    /// Whether the KUBE-SVL chain (this node's endpoints) is used.
    fn uses_svl(&self) -> bool {
        !self.local.is_empty()
            && (self.sp.internal_local || (self.sp.is_external() && self.sp.external_local))
    }

    /// Whether traffic from outside has somewhere to go on this node.
    fn uses_ext(&self) -> bool {
        self.sp.is_external() && !self.cluster.is_empty()
    }
}

/// The ruleset for `state` on `node`, given what exists now (to insert missing jumps and
/// delete stale chains). Ends with a newline; the same inputs give the same text.
pub fn render(state: &State, node: &Node, existing: &Existing) -> String {
    let plans: Vec<Plan> = state
        .ports
        .iter()
        .map(|sp| Plan {
            sp,
            cluster: sp.cluster_endpoints(),
            local: sp.local_endpoints(&node.name),
        })
        .collect();

    // nat
    let mut chains: Vec<String> = NAT_CHAINS.iter().map(|c| (*c).to_string()).collect();
    let mut services = String::new();
    let mut nodeports = String::new();
    let mut body = String::new();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for plan in &plans {
        render_nat(
            plan,
            node,
            &mut services,
            &mut nodeports,
            &mut body,
            &mut wanted,
        );
    }
    chains.extend(wanted.iter().cloned());
    let stale: Vec<&String> = existing
        .nat_chains
        .iter()
        .filter(|c| SERVICE_CHAIN_PREFIXES.iter().any(|p| c.starts_with(p)))
        .filter(|c| !wanted.contains(*c))
        .collect();

    let mut out = String::from("*nat\n");
    for c in chains.iter().chain(stale.iter().copied()) {
        let _ = writeln!(out, ":{c} - [0:0]");
    }
    push_missing_jumps(&mut out, "nat", existing);
    let _ = writeln!(
        out,
        "-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN"
    );
    let _ = writeln!(out, "-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}");
    let _ = writeln!(
        out,
        r#"-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully"#
    );
    let _ = writeln!(out, "-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}");
    out.push_str(&services);
    let _ = writeln!(
        out,
        r#"-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"#
    );
    out.push_str(&nodeports);
    out.push_str(&body);
    for c in &stale {
        let _ = writeln!(out, "-X {c}");
    }
    out.push_str("COMMIT\n");

    // filter
    out.push_str("*filter\n");
    for c in FILTER_CHAINS {
        let _ = writeln!(out, ":{c} - [0:0]");
    }
    push_missing_jumps(&mut out, "filter", existing);
    let _ = writeln!(
        out,
        r#"-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT"#
    );
    let _ = writeln!(
        out,
        r#"-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#
    );
    for plan in &plans {
        render_filter(plan, &mut out);
    }
    out.push_str("COMMIT\n");
    out
}

/// Whether the tables already hold `text` as far as chains go: every jump in place, nothing
/// stale to delete, every declared chain present. (Rule contents are not compared: the
/// periodic resync rewrites them.)
pub fn in_place(text: &str, existing: &Existing) -> bool {
    let mut table = "";
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t;
        } else if line.starts_with("-I ") || line.starts_with("-X ") {
            return false;
        } else if let Some(decl) = line.strip_prefix(':') {
            let chain = decl.split_whitespace().next().unwrap_or_default();
            let chains = match table {
                "nat" => &existing.nat_chains,
                _ => &existing.filter_chains,
            };
            if !chains.contains(chain) {
                return false;
            }
        }
    }
    true
}

fn push_missing_jumps(out: &mut String, table: &str, existing: &Existing) {
    for j in JUMPS.iter().filter(|j| j.table == table) {
        if !existing.has_jump(table, j.chain, j.target) {
            let _ = writeln!(out, "-I {} {} -j {}", j.chain, j.rule, j.target);
        }
    }
}

/// `-p tcp -m comment --comment "…" -m tcp --dport N` style match of a port.
fn port_match(sp: &ServicePort, comment: &str, port: u16) -> String {
    let p = sp.protocol.as_str();
    format!(r#"-p {p} -m comment --comment "{comment}" -m {p} --dport {port}"#)
}

fn render_nat(
    plan: &Plan,
    node: &Node,
    services: &mut String,
    nodeports: &mut String,
    body: &mut String,
    wanted: &mut BTreeSet<String>,
) {
    let sp = plan.sp;
    let name = sp.name();
    let svc = svc_chain(sp);
    let svl = svl_chain(sp);
    let ext = ext_chain(sp);
    let cip = sp.cluster_ip;
    if let Some(target) = plan.internal_target() {
        let m = port_match(sp, &format!("{name} cluster IP"), sp.port);
        let _ = writeln!(services, "-A KUBE-SERVICES -d {cip}/32 {m} -j {target}");
    }
    if plan.uses_ext() {
        wanted.insert(ext.clone());
        for ip in &sp.external_ips {
            let m = port_match(sp, &format!("{name} external IP"), sp.port);
            let _ = writeln!(services, "-A KUBE-SERVICES -d {ip}/32 {m} -j {ext}");
        }
        if let Some(np) = sp.node_port {
            let m = port_match(sp, &name, np);
            let _ = writeln!(nodeports, "-A KUBE-NODEPORTS {m} -j {ext}");
        }
        if sp.external_local {
            if let Some(cidr) = &node.cluster_cidr {
                let _ = writeln!(
                    body,
                    r#"-A {ext} -s {cidr} -m comment --comment "pod traffic for {name} external destinations" -j {svc}"#
                );
            }
            let _ = writeln!(
                body,
                r#"-A {ext} -m comment --comment "masquerade LOCAL traffic for {name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"#
            );
            let _ = writeln!(
                body,
                r#"-A {ext} -m comment --comment "route LOCAL traffic for {name} external destinations" -m addrtype --src-type LOCAL -j {svc}"#
            );
            if plan.uses_svl() {
                let _ = writeln!(body, "-A {ext} -j {svl}");
            }
        } else {
            let _ = writeln!(
                body,
                r#"-A {ext} -m comment --comment "masquerade traffic for {name} external destinations" -j KUBE-MARK-MASQ"#
            );
            let _ = writeln!(body, "-A {ext} -j {svc}");
        }
    }
    let mut seps: Vec<&Endpoint> = Vec::new();
    if plan.uses_svc() {
        wanted.insert(svc.clone());
        if let Some(cidr) = &node.cluster_cidr {
            let m = port_match(sp, &format!("{name} cluster IP"), sp.port);
            let _ = writeln!(
                body,
                "-A {svc} ! -s {cidr} -d {cip}/32 {m} -j KUBE-MARK-MASQ"
            );
        }
        balance(body, sp, &svc, &plan.cluster);
        seps.extend(&plan.cluster);
    }
    if plan.uses_svl() {
        wanted.insert(svl.clone());
        balance(body, sp, &svl, &plan.local);
        seps.extend(&plan.local);
    }
    seps.sort();
    seps.dedup();
    for ep in seps {
        let sep = sep_chain(sp, ep);
        wanted.insert(sep.clone());
        let p = sp.protocol.as_str();
        let _ = writeln!(
            body,
            r#"-A {sep} -s {}/32 -m comment --comment "{name}" -j KUBE-MARK-MASQ"#,
            ep.ip
        );
        let affinity = if sp.affinity_seconds.is_some() {
            format!(" -m recent --name {sep} --mask 255.255.255.255 --rsource --set")
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            r#"-A {sep} -p {p} -m comment --comment "{name}"{affinity} -m {p} -j DNAT --to-destination {}"#,
            ep.address()
        );
    }
}

/// The rules of a KUBE-SVC/KUBE-SVL chain: the remembered endpoint first (affinity), then a
/// random pick, each endpoint with probability 1/(endpoints left).
fn balance(body: &mut String, sp: &ServicePort, chain: &str, endpoints: &[&Endpoint]) {
    let name = sp.name();
    if let Some(seconds) = sp.affinity_seconds {
        for ep in endpoints {
            let sep = sep_chain(sp, ep);
            let _ = writeln!(
                body,
                r#"-A {chain} -m comment --comment "{name} -> {}" -m recent --name {sep} --mask 255.255.255.255 --rsource --rcheck --seconds {seconds} --reap -j {sep}"#,
                ep.address()
            );
        }
    }
    let n = endpoints.len();
    for (i, ep) in endpoints.iter().enumerate() {
        let sep = sep_chain(sp, ep);
        let probability = if i + 1 < n {
            // The precision upstream writes.
            #[allow(clippy::cast_precision_loss)]
            let p = 1.0 / (n - i) as f64;
            format!(" -m statistic --mode random --probability {p:.10}")
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            r#"-A {chain} -m comment --comment "{name} -> {}"{probability} -j {sep}"#,
            ep.address()
        );
    }
}

fn render_filter(plan: &Plan, out: &mut String) {
    let sp = plan.sp;
    let name = sp.name();
    let cip = sp.cluster_ip;
    let reject = "-j REJECT --reject-with icmp-port-unreachable";
    if plan.cluster.is_empty() {
        let m = port_match(sp, &format!("{name} has no endpoints"), sp.port);
        let _ = writeln!(out, "-A KUBE-SERVICES -d {cip}/32 {m} {reject}");
        external_filter(sp, &format!("{name} has no endpoints"), reject, out);
        return;
    }
    if sp.internal_local && plan.local.is_empty() {
        let m = port_match(sp, &format!("{name} has no local endpoints"), sp.port);
        let _ = writeln!(out, "-A KUBE-SERVICES -d {cip}/32 {m} -j DROP");
    }
    if sp.external_local && plan.local.is_empty() {
        external_filter(
            sp,
            &format!("{name} has no local endpoints"),
            "-j DROP",
            out,
        );
    }
}

/// Rules for a port's external IPs and node port in KUBE-EXTERNAL-SERVICES.
fn external_filter(sp: &ServicePort, comment: &str, action: &str, out: &mut String) {
    for ip in &sp.external_ips {
        let m = port_match(sp, comment, sp.port);
        let _ = writeln!(out, "-A KUBE-EXTERNAL-SERVICES -d {ip}/32 {m} {action}");
    }
    if let Some(np) = sp.node_port {
        let m = port_match(sp, comment, np);
        let _ = writeln!(
            out,
            "-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL {m} {action}"
        );
    }
}

#[cfg(test)]
mod tests;
