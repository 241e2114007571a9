//! The cluster zone: Services, EndpointSlices and Pods → answers, as the Kubernetes DNS
//! specification (kubernetes/dns docs/specification.md) and CoreDNS's `kubernetes` plugin answer
//! them. Pure: [`Zone::build`] takes objects, [`Zone::answer`] takes a question; no IO, no clock.
//!
//! Names served under `<zone>` (`cluster.local` unless the cluster's config says otherwise):
//! - `<svc>.<ns>.svc` — A: the ClusterIPs; headless: every ready endpoint; ExternalName: CNAME.
//! - `<endpoint>.<svc>.<ns>.svc` — A of one endpoint, named by its hostname or its dashed IP.
//! - `_<port>._<proto>.<svc>.<ns>.svc` — SRV for named ports (and the bare service name: every
//!   port), targets the service (ClusterIP) or each endpoint (headless), their A records added.
//! - `<a-b-c-d>.<ns>.pod` — A, when a pod with that IP lives in that namespace (CoreDNS's
//!   `pods verified`).
//! - `dns-version` TXT `1.1.0`; the apex's SOA and NS; `ns.dns` A (the DNS service's address).
//! - `<d>.<c>.<b>.<a>.in-addr.arpa` PTR for ClusterIPs, endpoints and pods; other addresses are
//!   not ours (forwarded, as CoreDNS falls through for reverse zones).
//!
//! An unknown name in the zone is NXDOMAIN, a known name without data of the asked type NODATA,
//! both with the zone's SOA in the authority section (negative TTL [`Zone::ttl`]).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

/// The schema version `dns-version.<zone>` answers (the specification's).
pub const SCHEMA_VERSION: &str = "1.1.0";
/// TTL of every answer, as kubeadm's Corefile sets it (`ttl 30`); also the SOA's negative TTL.
pub const DEFAULT_TTL: u32 = 30;

/// What a zone is configured with.
#[derive(Clone, Debug)]
pub struct ZoneConfig {
    /// The cluster domain, e.g. `cluster.local` (no trailing dot).
    pub domain: String,
    /// The DNS service's address (`ns.dns.<zone>`, the NS glue).
    pub dns_ip: Option<IpAddr>,
    pub ttl: u32,
}

impl ZoneConfig {
    pub fn new(domain: &str, dns_ip: Option<IpAddr>) -> ZoneConfig {
        ZoneConfig {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            dns_ip,
            ttl: DEFAULT_TTL,
        }
    }
}

/// What the server should do with a question.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Not in our zones: ask the node's resolver.
    Forward,
    /// Ours, answered.
    Answer(Reply),
}

/// An authoritative answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// An ExternalName's target outside the zone: the server resolves it through the node's
    /// resolver and appends what it gets, as CoreDNS does, since stub resolvers do not chase
    /// CNAMEs themselves.
    pub chase: Option<Name>,
}

impl Reply {
    fn new(rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            chase: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Port {
    /// Lowercase; empty for an unnamed port.
    name: String,
    /// Lowercase: `tcp`, `udp`, `sctp`.
    protocol: String,
    port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    ip: IpAddr,
    /// The endpoint's hostname, else its IP with dashes (CoreDNS's endpoint name).
    name: String,
    ports: Vec<Port>,
}

#[derive(Clone, Debug)]
enum Kind {
    ClusterIp(Vec<IpAddr>),
    Headless,
    ExternalName(Name),
}

#[derive(Clone, Debug)]
struct Svc {
    kind: Kind,
    ports: Vec<Port>,
    endpoints: Vec<Endpoint>,
}

/// The zone at one moment.
#[derive(Clone, Debug)]
pub struct Zone {
    config: ZoneConfig,
    /// The zone's labels, leaf first reversed: `cluster.local` → `["local", "cluster"]`.
    apex: Vec<String>,
    serial: u32,
    /// Until the first full list of every kind arrived, questions in the zone are SERVFAIL
    /// rather than a wrong NXDOMAIN.
    synced: bool,
    services: HashMap<(String, String), Svc>,
    /// Namespaces with a Service / with a Pod (their `<ns>.svc` / `<ns>.pod` exist, NODATA).
    service_namespaces: BTreeSet<String>,
    pod_namespaces: BTreeSet<String>,
    /// Pod IP → namespaces of pods with that IP.
    pods: HashMap<IpAddr, BTreeSet<String>>,
    /// IP → the names PTR answers with (relative, without the zone).
    reverse: HashMap<IpAddr, BTreeSet<String>>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

impl Zone {
    /// An empty zone that answers SERVFAIL in the cluster domain until objects arrive.
    pub fn unsynced(config: ZoneConfig) -> Zone {
        let mut z = Zone::build(config, 0, &[], &[], &[]);
        z.synced = false;
        z
    }

    /// The zone computed from the cluster's objects. `serial` is the SOA serial (the caller
    /// passes the time of the change, as CoreDNS does).
    pub fn build(
        config: ZoneConfig,
        serial: u32,
        services: &[&Service],
        slices: &[&EndpointSlice],
        pods: &[&Pod],
    ) -> Zone {
        let apex = config.domain.split('.').rev().map(lower).collect();
        let mut zone = Zone {
            config,
            apex,
            serial,
            synced: true,
            services: HashMap::new(),
            service_namespaces: BTreeSet::new(),
            pod_namespaces: BTreeSet::new(),
            pods: HashMap::new(),
            reverse: HashMap::new(),
        };
        for svc in services {
            let (Some(ns), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
                continue;
            };
            let Some(spec) = &svc.spec else { continue };
            let kind =
                if spec.type_.as_deref() == Some("ExternalName") {
                    let Some(target) = spec.external_name.as_deref().and_then(|n| {
                        Name::from_ascii(format!("{}.", n.trim_end_matches('.'))).ok()
                    }) else {
                        continue;
                    };
                    Kind::ExternalName(target)
                } else {
                    let ips: Vec<IpAddr> = spec
                        .cluster_ips
                        .clone()
                        .filter(|ips| !ips.is_empty())
                        .or_else(|| spec.cluster_ip.clone().map(|ip| vec![ip]))
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|ip| ip.parse().ok())
                        .collect();
                    if ips.is_empty() {
                        // `None` or not yet allocated.
                        Kind::Headless
                    } else {
                        Kind::ClusterIp(ips)
                    }
                };
            let ports = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some(Port {
                        name: lower(p.name.as_deref().unwrap_or_default()),
                        protocol: lower(p.protocol.as_deref().unwrap_or("TCP")),
                        port: u16::try_from(p.port).ok()?,
                    })
                })
                .collect();
            let (ns, name) = (lower(ns), lower(name));
            if let Kind::ClusterIp(ips) = &kind {
                for ip in ips {
                    zone.reverse
                        .entry(*ip)
                        .or_default()
                        .insert(format!("{name}.{ns}.svc"));
                }
            }
            zone.service_namespaces.insert(ns.clone());
            zone.services.insert(
                (ns, name),
                Svc {
                    kind,
                    ports,
                    endpoints: Vec::new(),
                },
            );
        }
        for slice in slices {
            zone.add_slice(slice);
        }
        for svc in zone.services.values_mut() {
            svc.endpoints.sort();
            svc.endpoints.dedup();
        }
        for pod in pods {
            let Some(ns) = &pod.metadata.namespace else {
                continue;
            };
            let ns = lower(ns);
            zone.pod_namespaces.insert(ns.clone());
            let status = pod.status.as_ref();
            let ips = status
                .and_then(|s| s.pod_ips.as_ref())
                .map(|ips| ips.iter().map(|i| i.ip.clone()).collect::<Vec<_>>())
                .filter(|ips| !ips.is_empty())
                .or_else(|| status.and_then(|s| s.pod_ip.clone()).map(|ip| vec![ip]))
                .unwrap_or_default();
            let host_network = pod
                .spec
                .as_ref()
                .and_then(|s| s.host_network)
                .unwrap_or(false);
            for ip in ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
                zone.pods.entry(ip).or_default().insert(ns.clone());
                // A node's address names the node, not its host-network pods.
                if !host_network {
                    zone.reverse
                        .entry(ip)
                        .or_default()
                        .insert(format!("{}.{ns}.pod", dashed(ip)));
                }
            }
        }
        zone
    }

    fn add_slice(&mut self, slice: &EndpointSlice) {
        let labels = slice.metadata.labels.as_ref();
        let (Some(ns), Some(svc_name)) = (
            &slice.metadata.namespace,
            labels.and_then(|l| l.get("kubernetes.io/service-name")),
        ) else {
            return;
        };
        let (ns, svc_name) = (lower(ns), lower(svc_name));
        let Some(svc) = self.services.get_mut(&(ns.clone(), svc_name.clone())) else {
            return;
        };
        let ports: Vec<Port> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(Port {
                    name: lower(p.name.as_deref().unwrap_or_default()),
                    protocol: lower(p.protocol.as_deref().unwrap_or("TCP")),
                    port: u16::try_from(p.port?).ok()?,
                })
            })
            .collect();
        for ep in &slice.endpoints {
            // Ready unless it says otherwise (upstream: nil means ready).
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for ip in ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
                let name = ep.hostname.as_deref().map_or_else(|| dashed(ip), lower);
                self.reverse
                    .entry(ip)
                    .or_default()
                    .insert(format!("{name}.{svc_name}.{ns}.svc"));
                svc.endpoints.push(Endpoint {
                    ip,
                    name,
                    ports: ports.clone(),
                });
            }
        }
    }

    pub fn ttl(&self) -> u32 {
        self.config.ttl
    }

    pub fn domain(&self) -> &str {
        &self.config.domain
    }

    fn name(&self, relative: &str) -> Name {
        let text = if relative.is_empty() {
            format!("{}.", self.config.domain)
        } else {
            format!("{relative}.{}.", self.config.domain)
        };
        // Every relative name comes from validated object names and labels.
        Name::from_ascii(&text).unwrap_or_else(|_| Name::root())
    }

    fn record(&self, owner: &Name, data: RData) -> Record {
        Record::from_rdata(owner.clone(), self.config.ttl, data)
    }

    fn soa(&self) -> Record {
        let soa = SOA::new(
            self.name("ns.dns"),
            self.name("hostmaster"),
            self.serial,
            7200,
            1800,
            86400,
            self.config.ttl,
        );
        self.record(&self.name(""), RData::SOA(soa))
    }

    fn negative(&self, rcode: ResponseCode) -> Outcome {
        let mut reply = Reply::new(rcode);
        reply.authorities.push(self.soa());
        Outcome::Answer(reply)
    }

    fn nxdomain(&self) -> Outcome {
        self.negative(ResponseCode::NXDomain)
    }

    fn nodata(&self) -> Outcome {
        self.negative(ResponseCode::NoError)
    }

    /// The answer to `qname`/`qtype` (class IN).
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> Outcome {
        let labels: Vec<String> = qname
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        if let Some(ip) = reverse_ip(&labels) {
            return self.answer_reverse(qname, qtype, ip);
        }
        let n = labels.len();
        if n < self.apex.len() || labels.iter().rev().zip(&self.apex).any(|(a, b)| a != b) {
            return Outcome::Forward;
        }
        if !self.synced {
            return Outcome::Answer(Reply::new(ResponseCode::ServFail));
        }
        // Labels below the apex, top-down: `web.default.svc` → ["svc", "default", "web"].
        let rel: Vec<&str> = labels[..n - self.apex.len()]
            .iter()
            .rev()
            .map(String::as_str)
            .collect();
        match rel.as_slice() {
            [] => self.answer_apex(qname, qtype),
            ["dns-version"] if qtype == RecordType::TXT => {
                let mut reply = Reply::new(ResponseCode::NoError);
                let txt = TXT::new(vec![SCHEMA_VERSION.to_string()]);
                reply.answers.push(self.record(qname, RData::TXT(txt)));
                Outcome::Answer(reply)
            }
            ["dns-version" | "dns" | "svc" | "pod"] => self.nodata(),
            ["dns", "ns"] => self.addresses(qname, qtype, self.config.dns_ip.iter().copied()),
            ["svc", ns] => {
                if self.service_namespaces.contains(*ns) {
                    self.nodata()
                } else {
                    self.nxdomain()
                }
            }
            ["svc", ns, svc, rest @ ..] => self.answer_service(qname, qtype, ns, svc, rest),
            ["pod", ns] => {
                if self.pod_namespaces.contains(*ns) {
                    self.nodata()
                } else {
                    self.nxdomain()
                }
            }
            ["pod", ns, ip] => match pod_ip(ip) {
                Some(ip) if self.pods.get(&ip).is_some_and(|n| n.contains(*ns)) => {
                    self.addresses(qname, qtype, [ip])
                }
                _ => self.nxdomain(),
            },
            _ => self.nxdomain(),
        }
    }

    fn answer_apex(&self, qname: &Name, qtype: RecordType) -> Outcome {
        let mut reply = Reply::new(ResponseCode::NoError);
        match qtype {
            RecordType::SOA => reply.answers.push(self.soa()),
            RecordType::NS => {
                let ns = self.name("ns.dns");
                reply
                    .answers
                    .push(self.record(qname, RData::NS(NS(ns.clone()))));
                reply
                    .additionals
                    .extend(self.config.dns_ip.map(|ip| self.record(&ns, ip.into())));
            }
            _ => return self.nodata(),
        }
        Outcome::Answer(reply)
    }

    /// A/AAAA records of `ips` for `qname` (NODATA for another type or family).
    fn addresses(
        &self,
        qname: &Name,
        qtype: RecordType,
        ips: impl IntoIterator<Item = IpAddr>,
    ) -> Outcome {
        let mut reply = Reply::new(ResponseCode::NoError);
        reply.answers = ips
            .into_iter()
            .filter_map(|ip| self.address_record(qname, qtype, ip))
            .collect();
        if reply.answers.is_empty() {
            return self.nodata();
        }
        Outcome::Answer(reply)
    }

    fn address_record(&self, owner: &Name, qtype: RecordType, ip: IpAddr) -> Option<Record> {
        match (qtype, ip) {
            (RecordType::A | RecordType::ANY, IpAddr::V4(v4)) => {
                Some(self.record(owner, RData::A(A(v4))))
            }
            (RecordType::AAAA | RecordType::ANY, IpAddr::V6(v6)) => {
                Some(self.record(owner, RData::AAAA(AAAA(v6))))
            }
            _ => None,
        }
    }

    fn answer_service(
        &self,
        qname: &Name,
        qtype: RecordType,
        ns: &str,
        name: &str,
        rest: &[&str],
    ) -> Outcome {
        let Some(svc) = self.services.get(&(ns.to_string(), name.to_string())) else {
            return self.nxdomain();
        };
        match (rest, &svc.kind) {
            ([], Kind::ExternalName(ext)) => {
                let mut reply = Reply::new(ResponseCode::NoError);
                if matches!(qtype, RecordType::SRV | RecordType::PTR) {
                    return self.nodata();
                }
                reply
                    .answers
                    .push(self.record(qname, RData::CNAME(CNAME(ext.clone()))));
                if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) {
                    reply.chase = Some(ext.clone());
                }
                Outcome::Answer(reply)
            }
            (_, Kind::ExternalName(_)) => self.nxdomain(),
            ([], _) if qtype == RecordType::SRV => self.srv(qname, name, ns, svc, "", ""),
            ([], Kind::ClusterIp(ips)) => self.addresses(qname, qtype, ips.iter().copied()),
            ([], Kind::Headless) => {
                if svc.endpoints.is_empty() {
                    // CoreDNS: a headless service without ready endpoints has no records.
                    return self.nxdomain();
                }
                let ips: BTreeSet<IpAddr> = svc.endpoints.iter().map(|e| e.ip).collect();
                self.addresses(qname, qtype, ips)
            }
            ([proto], _) if proto.starts_with('_') => {
                let proto = &proto[1..];
                if svc.ports.iter().any(|p| p.protocol == proto) {
                    self.nodata()
                } else {
                    self.nxdomain()
                }
            }
            ([endpoint], _) => {
                let ips: BTreeSet<IpAddr> = svc
                    .endpoints
                    .iter()
                    .filter(|e| e.name == *endpoint)
                    .map(|e| e.ip)
                    .collect();
                if ips.is_empty() {
                    return self.nxdomain();
                }
                self.addresses(qname, qtype, ips)
            }
            ([proto, port], _) if proto.starts_with('_') && port.starts_with('_') => {
                if qtype != RecordType::SRV {
                    // The name exists if the port does.
                    return match self.srv(qname, name, ns, svc, &port[1..], &proto[1..]) {
                        Outcome::Answer(r) if !r.answers.is_empty() => self.nodata(),
                        other => other,
                    };
                }
                self.srv(qname, name, ns, svc, &port[1..], &proto[1..])
            }
            _ => self.nxdomain(),
        }
    }

    /// SRV records for the service's ports matching `port`/`proto` (empty matches any).
    fn srv(
        &self,
        qname: &Name,
        name: &str,
        ns: &str,
        svc: &Svc,
        port: &str,
        proto: &str,
    ) -> Outcome {
        let matches = |p: &Port| {
            (port.is_empty() || p.name == port) && (proto.is_empty() || p.protocol == proto)
        };
        let mut reply = Reply::new(ResponseCode::NoError);
        let svc_name = self.name(&format!("{name}.{ns}.svc"));
        match &svc.kind {
            Kind::ClusterIp(ips) => {
                let ports: Vec<&Port> = svc.ports.iter().filter(|p| matches(p)).collect();
                if ports.is_empty() {
                    return self.nxdomain();
                }
                let weight = weight(ports.len());
                for p in ports {
                    let srv = SRV::new(0, weight, p.port, svc_name.clone());
                    reply.answers.push(self.record(qname, RData::SRV(srv)));
                }
                reply.additionals.extend(
                    ips.iter()
                        .filter_map(|ip| self.address_record(&svc_name, RecordType::ANY, *ip)),
                );
            }
            Kind::Headless => {
                let mut targets: BTreeMap<String, IpAddr> = BTreeMap::new();
                let mut records = Vec::new();
                for ep in &svc.endpoints {
                    for p in ep.ports.iter().filter(|p| matches(p)) {
                        let target = format!("{}.{name}.{ns}.svc", ep.name);
                        records.push((p.port, self.name(&target)));
                        targets.insert(target, ep.ip);
                    }
                }
                if records.is_empty() {
                    return self.nxdomain();
                }
                records.sort();
                records.dedup();
                let weight = weight(records.len());
                for (port, target) in records {
                    let srv = SRV::new(0, weight, port, target);
                    reply.answers.push(self.record(qname, RData::SRV(srv)));
                }
                for (target, ip) in targets {
                    let owner = self.name(&target);
                    reply
                        .additionals
                        .extend(self.address_record(&owner, RecordType::ANY, ip));
                }
            }
            Kind::ExternalName(_) => return self.nodata(),
        }
        Outcome::Answer(reply)
    }

    fn answer_reverse(&self, qname: &Name, qtype: RecordType, ip: IpAddr) -> Outcome {
        let Some(names) = self.reverse.get(&ip) else {
            return Outcome::Forward;
        };
        if !matches!(qtype, RecordType::PTR | RecordType::ANY) {
            let mut reply = Reply::new(ResponseCode::NoError);
            reply.authorities.push(self.soa());
            return Outcome::Answer(reply);
        }
        let mut reply = Reply::new(ResponseCode::NoError);
        for name in names {
            reply
                .answers
                .push(self.record(qname, RData::PTR(PTR(self.name(name)))));
        }
        Outcome::Answer(reply)
    }
}

/// SRV weight when `n` records share priority 0: an even split of 100, as CoreDNS does.
fn weight(n: usize) -> u16 {
    u16::try_from(100 / n.max(1)).unwrap_or(1).max(1)
}

/// `10-244-1-5` → 10.244.1.5 (IPv6: dashes for colons).
fn pod_ip(label: &str) -> Option<IpAddr> {
    if label.matches('-').count() == 3 && !label.contains("--") {
        label
            .replace('-', ".")
            .parse::<Ipv4Addr>()
            .ok()
            .map(IpAddr::V4)
    } else {
        label.replace('-', ":").parse().ok()
    }
}

/// The address of a `d.c.b.a.in-addr.arpa` name (lowercase labels, leaf first).
fn reverse_ip(labels: &[String]) -> Option<IpAddr> {
    match labels {
        [d, c, b, a, in_addr, arpa] if in_addr == "in-addr" && arpa == "arpa" => {
            let octet = |s: &String| s.parse::<u8>().ok();
            Some(IpAddr::V4(Ipv4Addr::new(
                octet(a)?,
                octet(b)?,
                octet(c)?,
                octet(d)?,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
