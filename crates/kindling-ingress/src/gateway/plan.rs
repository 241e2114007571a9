//! What the Gateway API objects mean, decided without IO: from the GatewayClasses, Gateways,
//! routes, ReferenceGrants, Namespaces, Services and EndpointSlices, the routing
//! [`Table`] and the status every object of ours should show (conditions with the spec's
//! reasons, listener status, attached routes, addresses).
//!
//! Rules followed (the Gateway API spec, standard channel):
//! - Ours: a GatewayClass whose `controllerName` is [`super::CONTROLLER_NAME`]; a Gateway of
//!   such a class; a route's parentRef to such a Gateway (other parents are left alone).
//! - Listeners: HTTP on the proxy's plain port and HTTPS on its TLS port are served; another
//!   port is `PortUnavailable`, another protocol `UnsupportedProtocol`. HTTPS needs a
//!   `Terminate` certificateRef to a Secret (across namespaces only with a ReferenceGrant).
//!   Two listeners of one port with the same hostname are both `Conflicted`.
//! - Attaching: the parentRef's sectionName/port pick listeners; the listener's allowedRoutes
//!   (namespaces Same/All/Selector, kinds) must allow the route, and the hostnames must
//!   intersect; the first failing step names the reason (`NoMatchingParent`,
//!   `NotAllowedByListeners`, `NoMatchingListenerHostname`).
//! - backendRefs: a core Service with a port; another namespace needs a ReferenceGrant
//!   (`RefNotPermitted`), a missing Service is `BackendNotFound`, another kind `InvalidKind`.
//!   The route is still Accepted; requests for those backends are answered 500.

use super::table::{self, Entry, Filter, PathMatcher, Rule, Table, ValueMatcher};
use super::types::*;
use super::CONTROLLER_NAME;
use crate::routes::{Resolver, TlsEntry};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Everything the plan reads.
#[derive(Default)]
pub struct Inputs<'a> {
    pub classes: Vec<&'a GatewayClass>,
    pub gateways: Vec<&'a Gateway>,
    pub http_routes: Vec<&'a HttpRoute>,
    pub grpc_routes: Vec<&'a GrpcRoute>,
    pub grants: Vec<&'a ReferenceGrant>,
    pub namespaces: Vec<&'a Namespace>,
    pub services: Vec<&'a Service>,
    pub slices: Vec<&'a EndpointSlice>,
    /// `namespace/name` of the TLS Secrets that exist.
    pub secrets: HashSet<String>,
    /// The ports the proxy serves HTTP and HTTPS on.
    pub http_port: u16,
    pub https_port: u16,
    /// What Gateways show in `status.addresses` (an IP, else a hostname).
    pub address: String,
}

/// One condition as the spec names it (`observedGeneration` and `lastTransitionTime` are
/// added when written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

fn cond(
    type_: &'static str,
    status: bool,
    reason: &'static str,
    message: impl Into<String>,
) -> Condition {
    Condition {
        type_,
        status,
        reason,
        message: message.into(),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ClassStatus {
    pub name: String,
    pub generation: i64,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ListenerStatus {
    pub name: String,
    /// (group, kind) of the routes the listener takes.
    pub supported_kinds: Vec<&'static str>,
    pub attached_routes: i32,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct GatewayStatus {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    /// (`IPAddress` or `Hostname`, value).
    pub addresses: Vec<(&'static str, String)>,
    pub conditions: Vec<Condition>,
    pub listeners: Vec<ListenerStatus>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParentStatus {
    pub parent_ref: ParentRef,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RouteStatus {
    /// `HTTPRoute` or `GRPCRoute`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    pub parents: Vec<ParentStatus>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub table: Table,
    pub classes: Vec<ClassStatus>,
    pub gateways: Vec<GatewayStatus>,
    pub routes: Vec<RouteStatus>,
    /// Certificates of HTTPS listeners, for the TLS listener's SNI.
    pub tls: Vec<TlsEntry>,
}

pub const HTTP_ROUTE: &str = "HTTPRoute";
pub const GRPC_ROUTE: &str = "GRPCRoute";
const SUPPORTED_FILTERS: &[&str] = &[
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestRedirect",
    "URLRewrite",
];

/// A route of either kind, as attaching and matching see it.
struct RouteView<'a> {
    kind: &'static str,
    namespace: &'a str,
    name: &'a str,
    generation: i64,
    created: i64,
    parent_refs: &'a [ParentRef],
    hostnames: &'a [String],
    rules: Vec<RuleView<'a>>,
}

struct RuleView<'a> {
    matches: Vec<MatchView>,
    filters: &'a [HttpRouteFilter],
    backend_refs: &'a [BackendRef],
}

struct MatchView {
    path: PathMatcher,
    method: Option<String>,
    headers: Vec<(String, ValueMatcher)>,
    query: Vec<(String, ValueMatcher)>,
}

/// A listener as judged: whether routes can attach, and what its status says.
struct ListenerView<'a> {
    spec: &'a Listener,
    https: bool,
    valid: bool,
    kinds: Vec<&'static str>,
    conditions: Vec<Condition>,
}

pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let mut plan = Plan::default();
    let ours: HashSet<&str> = inputs
        .classes
        .iter()
        .filter(|c| c.spec.controller_name == CONTROLLER_NAME)
        .filter_map(|c| c.metadata.name.as_deref())
        .collect();
    for class in inputs
        .classes
        .iter()
        .filter(|c| c.spec.controller_name == CONTROLLER_NAME)
    {
        plan.classes.push(ClassStatus {
            name: class.metadata.name.clone().unwrap_or_default(),
            generation: class.metadata.generation.unwrap_or_default(),
            conditions: vec![
                cond(
                    "Accepted",
                    true,
                    "Accepted",
                    "Handled by kindling's gateway controller",
                ),
                cond(
                    "SupportedVersion",
                    true,
                    "SupportedVersion",
                    "The Gateway API CRDs installed by kindling are supported",
                ),
            ],
        });
    }
    let namespace_labels: HashMap<&str, serde_json::Value> = inputs
        .namespaces
        .iter()
        .filter_map(|n| {
            let labels =
                serde_json::to_value(n.metadata.labels.clone().unwrap_or_default()).ok()?;
            Some((n.metadata.name.as_deref()?, labels))
        })
        .collect();
    let grants = Grants(&inputs.grants);
    let mut gateways: Vec<(&Gateway, Vec<ListenerView>)> = Vec::new();
    for gw in &inputs.gateways {
        if !ours.contains(gw.spec.gateway_class_name.as_str())
            || gw.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let listeners = judge_listeners(gw, inputs, &grants);
        gateways.push((gw, listeners));
    }
    let by_name: HashMap<(&str, &str), usize> = gateways
        .iter()
        .enumerate()
        .map(|(i, (gw, _))| {
            (
                (
                    gw.metadata.namespace.as_deref().unwrap_or_default(),
                    gw.metadata.name.as_deref().unwrap_or_default(),
                ),
                i,
            )
        })
        .collect();
    let mut attached: HashMap<(usize, usize), i32> = HashMap::new();
    let mut resolver = Resolver::from_parts(&inputs.services, &inputs.slices);
    let mut entries = Vec::new();
    for route in route_views(inputs) {
        let mut parents = Vec::new();
        let backends = resolve_backends(&route, &grants, &mut resolver);
        let unsupported = route
            .rules
            .iter()
            .flat_map(|r| r.filters)
            .find(|f| !SUPPORTED_FILTERS.contains(&f.type_.as_str()));
        for parent in route.parent_refs {
            let group = parent.group.as_deref().unwrap_or(GROUP);
            let kind = parent.kind.as_deref().unwrap_or("Gateway");
            let ns = parent.namespace.as_deref().unwrap_or(route.namespace);
            if group != GROUP || kind != "Gateway" {
                continue;
            }
            let Some(&gi) = by_name.get(&(ns, parent.name.as_str())) else {
                continue; // not a Gateway of ours
            };
            let (gw, listeners) = &gateways[gi];
            let gw_ns = gw.metadata.namespace.as_deref().unwrap_or_default();
            let accepted = attach(&route, parent, gw_ns, listeners, &namespace_labels);
            let mut conditions = Vec::new();
            match (&accepted, unsupported) {
                (Err(c), _) => conditions.push(c.clone()),
                (Ok(_), Some(f)) => conditions.push(cond(
                    "Accepted",
                    false,
                    "UnsupportedValue",
                    format!("filter type {:?} is not supported by kindling", f.type_),
                )),
                (Ok(_), None) => {
                    conditions.push(cond("Accepted", true, "Accepted", "Route is accepted"));
                }
            }
            conditions.push(backends.condition.clone());
            if let (Ok(hosts), None) = (&accepted, unsupported) {
                for (li, host_list) in hosts {
                    *attached.entry((gi, *li)).or_default() += 1;
                    let https = listeners[*li].https;
                    for host in host_list {
                        add_entries(&mut entries, &route, &backends.rules, https, host.clone());
                    }
                }
            }
            parents.push(ParentStatus {
                parent_ref: parent.clone(),
                conditions,
            });
        }
        if !parents.is_empty() {
            plan.routes.push(RouteStatus {
                kind: route.kind,
                namespace: route.namespace.to_string(),
                name: route.name.to_string(),
                generation: route.generation,
                parents,
            });
        }
    }
    plan.table = Table::new(entries);
    let address_type = if inputs.address.parse::<std::net::IpAddr>().is_ok() {
        "IPAddress"
    } else {
        "Hostname"
    };
    for (gi, (gw, listeners)) in gateways.iter().enumerate() {
        let ns = gw.metadata.namespace.clone().unwrap_or_default();
        for l in listeners.iter().filter(|l| l.valid && l.https) {
            let cert = l.spec.tls.as_ref().and_then(|t| t.certificate_refs.first());
            if let (Some(cert), Some(host)) = (cert, &l.spec.hostname) {
                plan.tls.push(TlsEntry {
                    ingress: format!("{ns}/{}", gw.metadata.name.as_deref().unwrap_or_default()),
                    hosts: vec![host.clone()],
                    secret: Some(format!(
                        "{}/{}",
                        cert.namespace.as_deref().unwrap_or(&ns),
                        cert.name
                    )),
                });
            }
        }
        let valid = listeners.iter().filter(|l| l.valid).count();
        let mut conditions = if !gw.spec.addresses.is_empty() {
            vec![
                cond(
                    "Accepted",
                    false,
                    "UnsupportedAddress",
                    "kindling assigns Gateway addresses itself: spec.addresses is not supported",
                ),
                cond(
                    "Programmed",
                    false,
                    "AddressNotAssigned",
                    "No requested address can be assigned",
                ),
            ]
        } else if valid == 0 && !listeners.is_empty() {
            vec![
                cond(
                    "Accepted",
                    false,
                    "ListenersNotValid",
                    "No listener is valid",
                ),
                cond("Programmed", false, "Invalid", "No listener is valid"),
            ]
        } else if valid < listeners.len() {
            vec![
                cond(
                    "Accepted",
                    true,
                    "ListenersNotValid",
                    "Some listeners are not valid",
                ),
                cond(
                    "Programmed",
                    true,
                    "Programmed",
                    "Programmed on kindling's ingress proxy",
                ),
            ]
        } else {
            vec![
                cond("Accepted", true, "Accepted", "Gateway is accepted"),
                cond(
                    "Programmed",
                    true,
                    "Programmed",
                    "Programmed on kindling's ingress proxy",
                ),
            ]
        };
        conditions.sort_by_key(|c| c.type_);
        plan.gateways.push(GatewayStatus {
            namespace: ns,
            name: gw.metadata.name.clone().unwrap_or_default(),
            generation: gw.metadata.generation.unwrap_or_default(),
            addresses: if gw.spec.addresses.is_empty() {
                vec![(address_type, inputs.address.clone())]
            } else {
                Vec::new()
            },
            conditions,
            listeners: listeners
                .iter()
                .enumerate()
                .map(|(li, l)| ListenerStatus {
                    name: l.spec.name.clone(),
                    supported_kinds: l.kinds.clone(),
                    attached_routes: attached.get(&(gi, li)).copied().unwrap_or(0),
                    conditions: l.conditions.clone(),
                })
                .collect(),
        });
    }
    plan
}

/// The ReferenceGrants, asked whether an object may refer to another namespace's.
struct Grants<'a>(&'a [&'a ReferenceGrant]);

impl Grants<'_> {
    fn allow(
        &self,
        from_kind: &str,
        from_ns: &str,
        to_group: &str,
        to_kind: &str,
        to_ns: &str,
        to_name: &str,
    ) -> bool {
        self.0.iter().any(|g| {
            g.metadata.namespace.as_deref() == Some(to_ns)
                && g.spec
                    .from
                    .iter()
                    .any(|f| f.group == GROUP && f.kind == from_kind && f.namespace == from_ns)
                && g.spec.to.iter().any(|t| {
                    t.group == to_group
                        && t.kind == to_kind
                        && t.name
                            .as_deref()
                            .is_none_or(|n| n.is_empty() || n == to_name)
                })
        })
    }
}

fn judge_listeners<'a>(
    gw: &'a Gateway,
    inputs: &Inputs<'_>,
    grants: &Grants<'_>,
) -> Vec<ListenerView<'a>> {
    let ns = gw.metadata.namespace.as_deref().unwrap_or_default();
    let mut seen: HashMap<(i32, String), usize> = HashMap::new();
    let mut conflicted = HashSet::new();
    for (i, l) in gw.spec.listeners.iter().enumerate() {
        let key = (l.port, l.hostname.clone().unwrap_or_default());
        if let Some(first) = seen.insert(key, i) {
            conflicted.insert(first);
            conflicted.insert(i);
        }
    }
    gw.spec
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let https = l.protocol == "HTTPS";
            let mut accepted = cond("Accepted", true, "Accepted", "Listener is accepted");
            let mut resolved = cond(
                "ResolvedRefs",
                true,
                "ResolvedRefs",
                "All references are resolved",
            );
            let (supported, kinds_ok) = route_kinds(l);
            if !kinds_ok {
                resolved = cond(
                    "ResolvedRefs",
                    false,
                    "InvalidRouteKinds",
                    "allowedRoutes.kinds names a kind kindling does not serve",
                );
            }
            let port = if https {
                inputs.https_port
            } else {
                inputs.http_port
            };
            if l.protocol != "HTTP" && !https {
                accepted = cond(
                    "Accepted",
                    false,
                    "UnsupportedProtocol",
                    format!(
                        "protocol {:?} is not supported: kindling serves HTTP and HTTPS",
                        l.protocol
                    ),
                );
            } else if i32::from(port) != l.port {
                accepted = cond(
                    "Accepted",
                    false,
                    "PortUnavailable",
                    format!(
                        "kindling's ingress proxy serves {} on port {port} of the ingress nodes",
                        l.protocol
                    ),
                );
            }
            if https {
                if let Some(problem) = certificate_problem(l, ns, inputs, grants) {
                    resolved = problem;
                }
            }
            let conflict = conflicted.contains(&i);
            let valid = accepted.status && resolved.status && !conflict;
            let mut conditions = vec![
                accepted,
                if conflict {
                    cond(
                        "Conflicted",
                        true,
                        "HostnameConflict",
                        "Another listener has the same port and hostname",
                    )
                } else {
                    cond("Conflicted", false, "NoConflicts", "No conflicts")
                },
                if valid {
                    cond(
                        "Programmed",
                        true,
                        "Programmed",
                        "Programmed on kindling's ingress proxy",
                    )
                } else {
                    cond("Programmed", false, "Invalid", "The listener is not valid")
                },
                resolved,
            ];
            conditions.sort_by_key(|c| c.type_);
            ListenerView {
                spec: l,
                https,
                valid,
                kinds: supported,
                conditions,
            }
        })
        .collect()
}

/// The route kinds a listener takes, and whether every kind it names is one we serve.
fn route_kinds(l: &Listener) -> (Vec<&'static str>, bool) {
    let named = l.allowed_routes.as_ref().and_then(|a| a.kinds.as_ref());
    match named {
        None => (vec![HTTP_ROUTE, GRPC_ROUTE], true),
        Some(kinds) if kinds.is_empty() => (vec![HTTP_ROUTE, GRPC_ROUTE], true),
        Some(kinds) => {
            let mut supported = Vec::new();
            let mut all_ok = true;
            for k in kinds {
                let group_ok = k.group.as_deref().is_none_or(|g| g == GROUP);
                match (group_ok, k.kind.as_str()) {
                    (true, HTTP_ROUTE) => supported.push(HTTP_ROUTE),
                    (true, GRPC_ROUTE) => supported.push(GRPC_ROUTE),
                    _ => all_ok = false,
                }
            }
            supported.dedup();
            (supported, all_ok)
        }
    }
}

fn certificate_problem(
    l: &Listener,
    ns: &str,
    inputs: &Inputs<'_>,
    grants: &Grants<'_>,
) -> Option<Condition> {
    let bad = |reason, message: String| Some(cond("ResolvedRefs", false, reason, message));
    let tls = l.tls.clone().unwrap_or_default();
    if tls.mode.as_deref().is_some_and(|m| m != "Terminate") {
        return bad(
            "UnsupportedValue",
            "only tls.mode Terminate is supported".into(),
        );
    }
    let Some(cert) = tls.certificate_refs.first() else {
        return bad(
            "InvalidCertificateRef",
            "an HTTPS listener needs a certificateRef".into(),
        );
    };
    let group = cert.group.as_deref().unwrap_or("");
    let kind = cert.kind.as_deref().unwrap_or("Secret");
    if !group.is_empty() || kind != "Secret" {
        return bad(
            "InvalidCertificateRef",
            format!("certificateRef {group}/{kind} is not a Secret"),
        );
    }
    let cert_ns = cert.namespace.as_deref().unwrap_or(ns);
    if cert_ns != ns && !grants.allow("Gateway", ns, "", "Secret", cert_ns, &cert.name) {
        return bad(
            "RefNotPermitted",
            format!("no ReferenceGrant in namespace {cert_ns:?} allows a Gateway of {ns:?} to use Secret {:?}", cert.name),
        );
    }
    if !inputs.secrets.contains(&format!("{cert_ns}/{}", cert.name)) {
        return bad(
            "InvalidCertificateRef",
            format!(
                "Secret {cert_ns}/{} does not exist or is not of type kubernetes.io/tls",
                cert.name
            ),
        );
    }
    None
}

/// Which listeners of a Gateway a route's parentRef attaches to, with the hostnames each
/// serves it for (`None`: any host); or the `Accepted=False` condition saying why none.
type Attached = Vec<(usize, Vec<Option<String>>)>;

fn attach(
    route: &RouteView<'_>,
    parent: &ParentRef,
    gw_ns: &str,
    listeners: &[ListenerView<'_>],
    namespace_labels: &HashMap<&str, serde_json::Value>,
) -> Result<Attached, Condition> {
    let candidates: Vec<usize> = listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| l.valid)
        .filter(|(_, l)| {
            parent
                .section_name
                .as_deref()
                .is_none_or(|s| s == l.spec.name)
        })
        .filter(|(_, l)| parent.port.is_none_or(|p| p == l.spec.port))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return Err(cond(
            "Accepted",
            false,
            "NoMatchingParent",
            "No valid listener matches the parentRef's sectionName and port",
        ));
    }
    let allowed: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| {
            let l = &listeners[i];
            l.kinds.contains(&route.kind)
                && namespace_allowed(l.spec, gw_ns, route.namespace, namespace_labels)
        })
        .collect();
    if allowed.is_empty() {
        return Err(cond(
            "Accepted",
            false,
            "NotAllowedByListeners",
            format!(
                "No listener allows {} from namespace {:?}",
                route.kind, route.namespace
            ),
        ));
    }
    let attached: Attached = allowed
        .into_iter()
        .map(|i| {
            (
                i,
                intersect(listeners[i].spec.hostname.as_deref(), route.hostnames),
            )
        })
        .filter(|(_, hosts)| !hosts.is_empty())
        .collect();
    if attached.is_empty() {
        return Err(cond(
            "Accepted",
            false,
            "NoMatchingListenerHostname",
            "No listener's hostname matches the route's hostnames",
        ));
    }
    Ok(attached)
}

fn namespace_allowed(
    l: &Listener,
    gw_ns: &str,
    route_ns: &str,
    labels: &HashMap<&str, serde_json::Value>,
) -> bool {
    let namespaces = l
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => true,
        "Selector" => kindling_api::selector::selector_matches(
            namespaces.and_then(|n| n.selector.as_ref()),
            labels.get(route_ns),
        )
        .unwrap_or(false),
        _ => gw_ns == route_ns,
    }
}

/// The hostnames a route is served for on a listener: the listener's hostname and the
/// route's, intersected (the more specific of two that overlap); `None` stands for any host.
pub fn intersect(listener: Option<&str>, route: &[String]) -> Vec<Option<String>> {
    let route: Vec<String> = route.iter().map(|h| h.to_ascii_lowercase()).collect();
    match listener.map(str::to_ascii_lowercase) {
        None if route.is_empty() => vec![None],
        None => route.into_iter().map(Some).collect(),
        Some(l) if route.is_empty() => vec![Some(l)],
        Some(l) => {
            let mut out = Vec::new();
            for h in route {
                let kept = if h == l || table::host_matches(&l, &h) {
                    Some(h)
                } else if table::host_matches(&h, &l) {
                    Some(l.clone())
                } else {
                    None
                };
                if let Some(k) = kept {
                    if !out.contains(&Some(k.clone())) {
                        out.push(Some(k));
                    }
                }
            }
            out
        }
    }
}

/// A route's rules with their backends resolved, and the route's ResolvedRefs condition.
struct Resolved {
    rules: Vec<Arc<Rule>>,
    condition: Condition,
}

fn resolve_backends(
    route: &RouteView<'_>,
    grants: &Grants<'_>,
    resolver: &mut Resolver<'_>,
) -> Resolved {
    let mut problem: Option<Condition> = None;
    let mut note = |c: Condition| {
        if problem.is_none() {
            problem = Some(c);
        }
    };
    let key = format!("{}/{}", route.namespace, route.name);
    let rules = route
        .rules
        .iter()
        .enumerate()
        .map(|(position, rule)| {
            let backends = rule
                .backend_refs
                .iter()
                .map(|b| {
                    let weight = u32::try_from(b.weight.unwrap_or(1)).unwrap_or(0);
                    let r = &b.object;
                    let group = r.group.as_deref().unwrap_or("");
                    let kind = r.kind.as_deref().unwrap_or("Service");
                    let ns = r.namespace.as_deref().unwrap_or(route.namespace);
                    if !(group.is_empty() || group == "core") || kind != "Service" {
                        note(cond(
                            "ResolvedRefs",
                            false,
                            "InvalidKind",
                            format!("backendRef {group}/{kind} {:?}: only Services are supported", r.name),
                        ));
                        return (None, weight);
                    }
                    if ns != route.namespace
                        && !grants.allow(route.kind, route.namespace, "", "Service", ns, &r.name)
                    {
                        note(cond(
                            "ResolvedRefs",
                            false,
                            "RefNotPermitted",
                            format!(
                                "backendRef Service {ns}/{} is not permitted: no ReferenceGrant in namespace {ns:?} allows {} from {:?}",
                                r.name, route.kind, route.namespace
                            ),
                        ));
                        return (None, weight);
                    }
                    if !resolver.has_service(ns, &r.name) {
                        note(cond(
                            "ResolvedRefs",
                            false,
                            "BackendNotFound",
                            format!("Service {ns}/{} not found", r.name),
                        ));
                        return (None, weight);
                    }
                    let Some(port) = r.port else {
                        note(cond(
                            "ResolvedRefs",
                            false,
                            "UnsupportedValue",
                            format!("backendRef Service {ns}/{} has no port", r.name),
                        ));
                        return (None, weight);
                    };
                    (Some(resolver.service_port(ns, &r.name, port)), weight)
                })
                .collect();
            let filters = rule.filters.iter().filter_map(filter).collect();
            Arc::new(Rule::new(
                key.clone(),
                position,
                filters,
                backends,
                route.kind == GRPC_ROUTE,
            ))
        })
        .collect();
    Resolved {
        rules,
        condition: problem.unwrap_or_else(|| {
            cond(
                "ResolvedRefs",
                true,
                "ResolvedRefs",
                "All references are resolved",
            )
        }),
    }
}

fn filter(f: &HttpRouteFilter) -> Option<Filter> {
    match f.type_.as_str() {
        "RequestHeaderModifier" => f
            .request_header_modifier
            .clone()
            .map(Filter::RequestHeaders),
        "ResponseHeaderModifier" => f
            .response_header_modifier
            .clone()
            .map(Filter::ResponseHeaders),
        "RequestRedirect" => f.request_redirect.clone().map(Filter::Redirect),
        "URLRewrite" => f.url_rewrite.clone().map(Filter::Rewrite),
        _ => None,
    }
}

fn add_entries(
    entries: &mut Vec<Entry>,
    route: &RouteView<'_>,
    rules: &[Arc<Rule>],
    https: bool,
    hostname: Option<String>,
) {
    for (ri, (view, rule)) in route.rules.iter().zip(rules).enumerate() {
        for m in &view.matches {
            entries.push(Entry {
                https,
                hostname: hostname.clone(),
                path: m.path.clone(),
                method: m.method.clone(),
                headers: m.headers.clone(),
                query: m.query.clone(),
                rule: rule.clone(),
                order: (
                    route.created,
                    format!("{}/{}", route.namespace, route.name),
                    ri,
                ),
            });
        }
    }
}

fn route_views<'a>(inputs: &Inputs<'a>) -> Vec<RouteView<'a>> {
    let created = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second())
    };
    let mut views = Vec::new();
    for r in inputs
        .http_routes
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
    {
        let rules = r.spec.rules.as_deref().unwrap_or_default();
        let rules: Vec<RuleView> = if rules.is_empty() {
            // No rules: every request, to no backend (500), as the CRD's default rule.
            vec![RuleView {
                matches: vec![any_path()],
                filters: &[],
                backend_refs: &[],
            }]
        } else {
            rules
                .iter()
                .map(|rule| RuleView {
                    matches: if rule.matches.is_empty() {
                        vec![any_path()]
                    } else {
                        rule.matches.iter().filter_map(http_match).collect()
                    },
                    filters: &rule.filters,
                    backend_refs: &rule.backend_refs,
                })
                .collect()
        };
        views.push(RouteView {
            kind: HTTP_ROUTE,
            namespace: r.metadata.namespace.as_deref().unwrap_or("default"),
            name: r.metadata.name.as_deref().unwrap_or_default(),
            generation: r.metadata.generation.unwrap_or_default(),
            created: created(&r.metadata),
            parent_refs: &r.spec.parent_refs,
            hostnames: &r.spec.hostnames,
            rules,
        });
    }
    for r in inputs
        .grpc_routes
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
    {
        let rules = r
            .spec
            .rules
            .iter()
            .map(|rule| RuleView {
                matches: if rule.matches.is_empty() {
                    vec![any_path()]
                } else {
                    rule.matches.iter().filter_map(grpc_match).collect()
                },
                filters: &rule.filters,
                backend_refs: &rule.backend_refs,
            })
            .collect();
        views.push(RouteView {
            kind: GRPC_ROUTE,
            namespace: r.metadata.namespace.as_deref().unwrap_or("default"),
            name: r.metadata.name.as_deref().unwrap_or_default(),
            generation: r.metadata.generation.unwrap_or_default(),
            created: created(&r.metadata),
            parent_refs: &r.spec.parent_refs,
            hostnames: &r.spec.hostnames,
            rules,
        });
    }
    views
}

fn any_path() -> MatchView {
    MatchView {
        path: PathMatcher::Prefix("/".into()),
        method: None,
        headers: Vec::new(),
        query: Vec::new(),
    }
}

fn value_matchers(values: &[ValueMatch], lower_names: bool) -> Option<Vec<(String, ValueMatcher)>> {
    values
        .iter()
        .map(|v| {
            let name = if lower_names {
                v.name.to_ascii_lowercase()
            } else {
                v.name.clone()
            };
            let m = match v.type_.as_deref() {
                Some("RegularExpression") => ValueMatcher::Regex(regex::Regex::new(&v.value).ok()?),
                _ => ValueMatcher::Exact(v.value.clone()),
            };
            Some((name, m))
        })
        .collect()
}

/// An HTTPRoute match (an invalid regular expression drops the match: it can match nothing).
fn http_match(m: &HttpRouteMatch) -> Option<MatchView> {
    let path = m.path.clone().unwrap_or_default();
    let value = path.value.unwrap_or_else(|| "/".into());
    let path = match path.type_.as_deref() {
        Some("Exact") => PathMatcher::Exact(value),
        Some("RegularExpression") => {
            PathMatcher::Regex(regex::Regex::new(&format!("^(?:{value})$")).ok()?)
        }
        _ => PathMatcher::Prefix(value),
    };
    Some(MatchView {
        path,
        method: m.method.clone(),
        headers: value_matchers(&m.headers, true)?,
        query: value_matchers(&m.query_params, false)?,
    })
}

/// A GRPCRoute match: the method becomes a path (`/<service>/<method>`), as gRPC sends it.
fn grpc_match(m: &GrpcRouteMatch) -> Option<MatchView> {
    let method = m.method.clone().unwrap_or_default();
    let path = match (method.type_.as_deref(), &method.service, &method.method) {
        (Some("RegularExpression"), s, me) => PathMatcher::Regex(
            regex::Regex::new(&format!(
                "^/(?:{})/(?:{})$",
                s.as_deref().unwrap_or("[^/]+"),
                me.as_deref().unwrap_or("[^/]+")
            ))
            .ok()?,
        ),
        (_, Some(s), Some(me)) => PathMatcher::Exact(format!("/{s}/{me}")),
        (_, Some(s), None) => PathMatcher::Prefix(format!("/{s}")),
        (_, None, Some(me)) => {
            PathMatcher::Regex(regex::Regex::new(&format!("^/[^/]+/{}$", regex::escape(me))).ok()?)
        }
        (_, None, None) => PathMatcher::Prefix("/".into()),
    };
    Some(MatchView {
        path,
        method: None,
        headers: value_matchers(&m.headers, true)?,
        query: Vec::new(),
    })
}

#[cfg(test)]
mod tests;
