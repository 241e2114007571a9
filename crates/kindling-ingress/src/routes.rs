//! The routing table, decided without IO: the Ingresses kindling serves, with the Services,
//! EndpointSlices and IngressClasses they name, become servers (one per host: exact,
//! `*.wildcard`, and the catch-all of rules without a host) holding ordered routes to backends
//! (the ready endpoints of a Service port, an ExternalName, or why there is none).
//!
//! Semantics are the Ingress API's with ingress-nginx's choices where the API leaves them open:
//! - Which Ingresses: class `kindling` or `nginx` (by `spec.ingressClassName` or the
//!   `kubernetes.io/ingress.class` annotation), a class whose controller is ours, or no class
//!   at all (ingress-nginx's `--watch-ingress-without-class`, as kind's manifest runs it).
//! - Servers: an exact host first, then a wildcard covering exactly one label, then the
//!   catch-all. Only the chosen server's routes are tried (nginx picks the server first).
//! - Paths: Exact is equality; Prefix matches whole path elements (`/foo` matches `/foo` and
//!   `/foo/bar`, not `/foobar`); ImplementationSpecific is read as Prefix. The longest path
//!   wins, Exact before Prefix at equal length. When any Ingress of a host asks for regular
//!   expressions (`use-regex` or `rewrite-target`), every path of the host is the
//!   case-insensitive expression `^<path>`, tried longest first (ingress-nginx's ordering).
//! - The same host+path+pathType in two Ingresses: the older Ingress wins.
//! - `spec.defaultBackend`: the fallback of the hosts its Ingress has rules for; of the oldest
//!   Ingress that has one, the catch-all's fallback. No route and no fallback: 404.

use crate::annotations::{self, Options};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressClass};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Our IngressClass (made at start, default).
pub const CLASS: &str = "kindling";
/// ingress-nginx's class name, served too so manifests written for kind + ingress-nginx work.
pub const NGINX_CLASS: &str = "nginx";
/// The `spec.controller` of IngressClasses we serve.
pub const CONTROLLER: &str = "kindling.dev/ingress-controller";
/// The annotation that named a class before `spec.ingressClassName`.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What the table is built from (every object of each kind the controller watches).
#[derive(Default)]
pub struct Inputs<'a> {
    pub ingresses: Vec<&'a Ingress>,
    pub classes: Vec<&'a IngressClass>,
    pub services: Vec<&'a Service>,
    pub slices: Vec<&'a EndpointSlice>,
}

/// Where a backend's requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The ready endpoints of a Service port, tried in turn.
    Endpoints(Vec<SocketAddr>),
    /// An ExternalName Service: a DNS name and port.
    Name(String, u16),
    /// Nothing to send to, and why (answered 503 with this text).
    Unavailable(String),
}

#[derive(Debug)]
pub struct Backend {
    /// `namespace/service:port`, as logs and error pages name it.
    pub name: String,
    pub target: Target,
    next: AtomicUsize,
}

impl Backend {
    pub fn new(name: impl Into<String>, target: Target) -> Backend {
        Backend {
            name: name.into(),
            target,
            next: AtomicUsize::new(0),
        }
    }

    /// The next endpoint, round robin.
    pub fn pick(&self) -> Option<SocketAddr> {
        match &self.target {
            Target::Endpoints(eps) if !eps.is_empty() => {
                Some(eps[self.next.fetch_add(1, Ordering::Relaxed) % eps.len()])
            }
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Matcher {
    Exact,
    Prefix,
    Regex(regex::Regex),
}

#[derive(Debug)]
pub struct Route {
    pub path: String,
    matcher: Matcher,
    pub backend: Arc<Backend>,
    pub options: Arc<Options>,
    /// The path as nginx's rewrite expression (`(?i)<path>`) when `rewrite-target` is set.
    pub rewrite: Option<regex::Regex>,
    /// `namespace/name` of the Ingress the route comes from.
    pub ingress: String,
    /// The Ingress has TLS for this route's host (what `ssl-redirect` looks at).
    pub tls: bool,
}

#[derive(Debug, Default)]
struct Server {
    routes: Vec<Route>,
    fallback: Option<Arc<Backend>>,
}

/// A `spec.tls` entry of a served Ingress: these host patterns use this Secret's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsEntry {
    /// `namespace/name` of the Ingress.
    pub ingress: String,
    pub hosts: Vec<String>,
    /// `namespace/name` of the Secret; `None`: the default certificate.
    pub secret: Option<String>,
}

/// What a request is answered with.
#[derive(Debug)]
pub enum Decision<'a> {
    Route(&'a Route),
    /// No route matched; the server's fallback (defaultBackend).
    Fallback(&'a Arc<Backend>),
    NotFound,
}

#[derive(Debug, Default)]
pub struct Table {
    servers: HashMap<String, Server>,
    /// `*.example.com` servers by their suffix `.example.com`.
    wildcards: Vec<(String, Server)>,
    catch_all: Server,
    pub tls: Vec<TlsEntry>,
    /// `namespace/name` of every Ingress served (their status gets our address).
    pub served: Vec<String>,
    /// The Gateway API's HTTPRoutes and GRPCRoutes, tried before the Ingresses.
    pub gateway: crate::gateway::table::Table,
}

/// `s` in lower case, borrowed when it already is (the usual case: no allocation per request).
pub(crate) fn lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Table {
    /// Decides where a request for `host` (no port) and `path` (no query) goes.
    pub fn route(&self, host: &str, path: &str) -> Decision<'_> {
        let host = lowercase(host);
        let server = self
            .servers
            .get(host.as_ref())
            .or_else(|| {
                let (_, parent) = host.split_once('.')?;
                self.wildcards
                    .iter()
                    .find(|(suffix, _)| suffix.strip_prefix('.') == Some(parent))
                    .map(|(_, server)| server)
            })
            .unwrap_or(&self.catch_all);
        if let Some(route) = server.routes.iter().find(|r| r.matches(path)) {
            return Decision::Route(route);
        }
        match &server.fallback {
            Some(b) => Decision::Fallback(b),
            None => Decision::NotFound,
        }
    }

    /// Every backend the table sends to (for tests and the status of what is served).
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.servers
            .values()
            .chain(self.wildcards.iter().map(|(_, s)| s))
            .chain(std::iter::once(&self.catch_all))
            .flat_map(|s| s.routes.iter().map(|r| &r.backend).chain(s.fallback.iter()))
    }
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.path,
            Matcher::Prefix => prefix_matches(&self.path, path),
            Matcher::Regex(re) => re.is_match(path),
        }
    }
}

/// The Ingress API's Prefix match: whole path elements, a trailing `/` ignored.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// Whether kindling serves `ing`.
pub fn is_ours(ing: &Ingress, classes: &[&IngressClass]) -> bool {
    let named = ing
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .or_else(|| {
            ing.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(CLASS_ANNOTATION))
                .map(String::as_str)
        });
    match named {
        None => true,
        Some(CLASS | NGINX_CLASS) => true,
        Some(name) => classes.iter().any(|c| {
            c.metadata.name.as_deref() == Some(name)
                && c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
        }),
    }
}

fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Where the backends of the table resolve to, shared by every route naming the same port
/// (the Gateway API's routes resolve theirs through it too).
pub(crate) struct Resolver<'a> {
    services: HashMap<(&'a str, &'a str), &'a Service>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    made: HashMap<String, Arc<Backend>>,
}

impl<'a> Resolver<'a> {
    fn new(inputs: &Inputs<'a>) -> Resolver<'a> {
        Resolver::from_parts(&inputs.services, &inputs.slices)
    }

    pub(crate) fn from_parts(
        services_in: &[&'a Service],
        slices_in: &[&'a EndpointSlice],
    ) -> Resolver<'a> {
        let mut services = HashMap::new();
        for s in services_in {
            if let (Some(ns), Some(name)) = (&s.metadata.namespace, &s.metadata.name) {
                services.insert((ns.as_str(), name.as_str()), *s);
            }
        }
        let mut slices: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
        for s in slices_in {
            let svc = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL));
            if let (Some(ns), Some(svc)) = (&s.metadata.namespace, svc) {
                slices
                    .entry((ns.as_str(), svc.as_str()))
                    .or_default()
                    .push(*s);
            }
        }
        Resolver {
            services,
            slices,
            made: HashMap::new(),
        }
    }

    pub(crate) fn has_service(&self, ns: &str, name: &str) -> bool {
        self.services.contains_key(&(ns, name))
    }

    /// The backend of port `port` (by number) of Service `ns/svc`.
    pub(crate) fn service_port(&mut self, ns: &str, svc: &str, port: i32) -> Arc<Backend> {
        let name = format!("{ns}/{svc}:{port}");
        if let Some(b) = self.made.get(&name) {
            return b.clone();
        }
        let target = self.service_target(ns, svc, None, Some(port));
        let b = Arc::new(Backend::new(name.clone(), target));
        self.made.insert(name, b.clone());
        b
    }

    fn backend(&mut self, ns: &str, backend: &IngressBackend) -> Arc<Backend> {
        let (name, target) = match (&backend.service, &backend.resource) {
            (Some(svc), _) => {
                let port = svc.port.as_ref();
                let port_text = match (
                    port.and_then(|p| p.name.clone()),
                    port.and_then(|p| p.number),
                ) {
                    (Some(n), _) => n,
                    (None, Some(n)) => n.to_string(),
                    (None, None) => String::new(),
                };
                let name = format!("{ns}/{}:{port_text}", svc.name);
                if let Some(b) = self.made.get(&name) {
                    return b.clone();
                }
                let target = self.service_target(
                    ns,
                    &svc.name,
                    port.and_then(|p| p.name.as_deref()),
                    port.and_then(|p| p.number),
                );
                (name, target)
            }
            (None, Some(r)) => (
                format!("{ns}/{}:{}", r.kind, r.name),
                Target::Unavailable(format!(
                    "resource backend {} {:?} is not supported by kindling's ingress controller",
                    r.kind, r.name
                )),
            ),
            (None, None) => (
                format!("{ns}/-"),
                Target::Unavailable("the backend names no service".into()),
            ),
        };
        let b = Arc::new(Backend::new(name.clone(), target));
        self.made.insert(name, b.clone());
        b
    }

    fn service_target(
        &self,
        ns: &str,
        svc: &str,
        port_name: Option<&str>,
        port_number: Option<i32>,
    ) -> Target {
        let Some(service) = self.services.get(&(ns, svc)) else {
            return Target::Unavailable(format!("service \"{ns}/{svc}\" not found"));
        };
        let spec = service.spec.clone().unwrap_or_default();
        let port = spec.ports.iter().flatten().find(|p| match port_name {
            Some(n) => p.name.as_deref() == Some(n),
            None => Some(p.port) == port_number,
        });
        let Some(port) = port else {
            let wanted = match (port_name, port_number) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => String::new(),
            };
            return Target::Unavailable(format!("service \"{ns}/{svc}\" has no port {wanted}"));
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            let host = spec.external_name.unwrap_or_default();
            let number = match &port.target_port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n,
                _ => port.port,
            };
            return Target::Name(host, u16::try_from(number).unwrap_or(0));
        }
        let mut endpoints = Vec::new();
        for slice in self.slices.get(&(ns, svc)).into_iter().flatten() {
            let Some(number) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or("") == port.name.as_deref().unwrap_or(""))
                .and_then(|p| p.port)
                .and_then(|n| u16::try_from(n).ok())
            else {
                continue;
            };
            for ep in &slice.endpoints {
                let ready = ep.conditions.as_ref().and_then(|c| c.ready) != Some(false);
                if !ready {
                    continue;
                }
                for addr in &ep.addresses {
                    if let Ok(ip) = addr.parse::<IpAddr>() {
                        endpoints.push(SocketAddr::new(ip, number));
                    }
                }
            }
        }
        if endpoints.is_empty() {
            return Target::Unavailable(format!("service \"{ns}/{svc}\" has no ready endpoints"));
        }
        endpoints.sort();
        endpoints.dedup();
        Target::Endpoints(endpoints)
    }
}

/// One route before the servers are ordered.
struct Candidate {
    host: String,
    path: String,
    path_type: String,
    route_backend: Arc<Backend>,
    options: Arc<Options>,
    ingress: String,
    tls: bool,
}

/// Whether a TLS host pattern covers `host`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix('*') {
        host.strip_suffix(suffix)
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
    } else {
        pattern.eq_ignore_ascii_case(host)
    }
}

/// Builds the table from everything watched.
pub fn build(inputs: &Inputs<'_>) -> Table {
    let mut ours: Vec<&Ingress> = inputs
        .ingresses
        .iter()
        .copied()
        .filter(|i| is_ours(i, &inputs.classes))
        .filter(|i| i.metadata.deletion_timestamp.is_none())
        .collect();
    ours.sort_by(|a, b| {
        let order = |i: &Ingress| {
            (
                i.metadata.creation_timestamp.as_ref().map(|t| t.0),
                i.metadata.namespace.clone(),
                i.metadata.name.clone(),
            )
        };
        order(a).cmp(&order(b))
    });
    let mut resolver = Resolver::new(inputs);
    let mut table = Table::default();
    let mut candidates = Vec::new();
    let mut host_fallbacks: BTreeMap<String, Arc<Backend>> = BTreeMap::new();
    for ing in ours {
        let ns = ing.metadata.namespace.as_deref().unwrap_or("default");
        let name = key(ns, ing.metadata.name.as_deref().unwrap_or_default());
        table.served.push(name.clone());
        let options = Arc::new(annotations::parse(
            ing.metadata
                .annotations
                .as_ref()
                .unwrap_or(&BTreeMap::new()),
        ));
        let spec = ing.spec.clone().unwrap_or_default();
        let rule_hosts: Vec<String> = spec
            .rules
            .iter()
            .flatten()
            .map(|r| r.host.clone().unwrap_or_default())
            .collect();
        let tls: Vec<TlsEntry> = spec
            .tls
            .iter()
            .flatten()
            .map(|t| TlsEntry {
                ingress: name.clone(),
                hosts: match &t.hosts {
                    Some(h) if !h.is_empty() => h.clone(),
                    _ => rule_hosts.clone(),
                },
                secret: t
                    .secret_name
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(|s| key(ns, s)),
            })
            .collect();
        let has_tls = |host: &str| {
            tls.iter()
                .any(|t| t.hosts.iter().any(|p| host_matches(p, host)))
        };
        let default_backend = spec
            .default_backend
            .as_ref()
            .map(|b| resolver.backend(ns, b));
        if let Some(b) = &default_backend {
            if table.catch_all.fallback.is_none() {
                table.catch_all.fallback = Some(b.clone());
            }
        }
        for rule in spec.rules.iter().flatten() {
            let host = rule.host.clone().unwrap_or_default().to_ascii_lowercase();
            if let Some(b) = &default_backend {
                if !host.is_empty() {
                    host_fallbacks.entry(host.clone()).or_insert(b.clone());
                }
            }
            for p in rule.http.iter().flat_map(|h| &h.paths) {
                candidates.push(Candidate {
                    host: host.clone(),
                    path: p.path.clone().unwrap_or_else(|| "/".into()),
                    path_type: p.path_type.clone(),
                    route_backend: resolver.backend(ns, &p.backend),
                    options: options.clone(),
                    ingress: name.clone(),
                    tls: has_tls(&host),
                });
            }
        }
        table.tls.extend(tls);
    }
    // Which hosts match paths as regular expressions (any Ingress of the host asks).
    let regex_hosts: std::collections::HashSet<String> = candidates
        .iter()
        .filter(|c| c.options.regex_paths())
        .map(|c| c.host.clone())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut by_host: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    for c in candidates {
        if !seen.insert((c.host.clone(), c.path.clone(), c.path_type.clone())) {
            continue; // an older Ingress has it
        }
        let regex = regex_hosts.contains(&c.host);
        let matcher = if regex {
            match regex::Regex::new(&format!("(?i)^{}", c.path)) {
                Ok(re) => Matcher::Regex(re),
                Err(e) => {
                    tracing::warn!("ingress {}: path {:?}: {e}", c.ingress, c.path);
                    continue;
                }
            }
        } else if c.path_type == "Exact" {
            Matcher::Exact
        } else {
            Matcher::Prefix
        };
        let rewrite = c
            .options
            .rewrite_target
            .as_ref()
            .filter(|t| **t != c.path)
            .and_then(|_| regex::Regex::new(&format!("(?i){}", c.path)).ok());
        by_host.entry(c.host).or_default().push(Route {
            path: c.path,
            matcher,
            backend: c.route_backend,
            options: c.options,
            rewrite,
            ingress: c.ingress,
            tls: c.tls,
        });
    }
    for (host, mut routes) in by_host {
        // Longest first; Exact before Prefix at equal length. The sort is stable, so equal
        // keys keep the Ingresses' age order.
        routes.sort_by_key(|r| {
            (
                std::cmp::Reverse(r.path.trim_end_matches('/').len().max(1)),
                !matches!(r.matcher, Matcher::Exact),
            )
        });
        let fallback = host_fallbacks.remove(&host);
        if host.is_empty() {
            table.catch_all.routes = routes;
        } else if let Some(suffix) = host.strip_prefix('*') {
            table
                .wildcards
                .push((suffix.to_string(), Server { routes, fallback }));
        } else {
            table.servers.insert(host, Server { routes, fallback });
        }
    }
    // Hosts that only have a defaultBackend still get their server.
    for (host, fallback) in host_fallbacks {
        table.servers.insert(
            host,
            Server {
                routes: Vec::new(),
                fallback: Some(fallback),
            },
        );
    }
    table
}

#[cfg(test)]
mod tests;
