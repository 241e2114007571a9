//! Authorization, as kube-apiserver's `--authorization-mode=Node,RBAC` (kubeadm's): members of
//! `system:masters` may do anything (upstream's privileged-group authorizer, asked first), then
//! each configured mode in order; the first to allow wins, else the request is denied with
//! upstream's 403 ([`forbidden`]).
//!
//! - `rules.rs`: policy rules — matching a request, covering other rules (pure);
//! - `node.rs`: the Node authorizer's decisions for node identities (pure);
//! - `graph.rs`: which objects each node reaches through its pods (pure);
//! - `graph_refs.rs`: the fields of a pod and a PV that name other objects, decoded alone (pure);
//! - `graph_index.rs`: keeps the graph current from watches of pods and PVs (IO);
//! - `rbac.rs`: the RBAC policy as an immutable snapshot and upstream's rule resolver (pure);
//! - `attributes.rs`: what an HTTP request asks, as upstream's RequestInfo (pure);
//! - `index.rs`: keeps the snapshot current from watches of the four RBAC kinds (IO), so a
//!   decision reads memory only;
//! - `follow.rs`: what those two keepers share: watches from the cache with their initial
//!   events, the objects as the cache holds them, restarts (IO);
//! - `review.rs`: the access reviews' validation, attributes and statuses (pure);
//! - `escalation.rs`: creating or changing roles and bindings grants nothing the writer lacks;
//! - `policy.rs`: upstream's bootstrap roles and bindings, and their reconciliation (pure);
//! - `namespace_policy.rs`: upstream's bootstrap Roles and RoleBindings in kube-system and
//!   kube-public (pure);
//! - `aggregation.rs`: the ClusterRole aggregation controller (`aggregate` is pure).

pub mod aggregation;
pub mod attributes;
pub mod escalation;
pub mod follow;
pub mod graph;
pub mod graph_index;
pub mod graph_refs;
pub mod index;
pub mod namespace_policy;
pub mod node;
pub mod policy;
pub mod rbac;
pub mod review;
pub mod rules;

use arc_swap::ArcSwap;
use kindling_api::meta::go_quote;
use kindling_api::user::UserInfo;
use kindling_api::ApiError;
use rbac::{Policy, Verdict};
use rules::{Request, Rule};
use std::sync::Arc;

/// The group whose members may do anything.
pub const SYSTEM_MASTERS: &str = "system:masters";

/// One `--authorization-mode` value kindling carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything is allowed (no policy is consulted).
    AlwaysAllow,
    /// Node identities (`system:node:<name>` in `system:nodes`) get the node rules.
    Node,
    /// Role-based access control over the RBAC objects.
    Rbac,
}

impl Mode {
    /// The modes of an `--authorization-mode` value, in order.
    pub fn parse(flag: &str) -> Result<Vec<Mode>, String> {
        let mut modes = Vec::new();
        for m in flag.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            match m {
                "AlwaysAllow" => modes.push(Mode::AlwaysAllow),
                "RBAC" => modes.push(Mode::Rbac),
                "Node" => modes.push(Mode::Node),
                other => {
                    return Err(format!(
                        "authorization-mode {} is not a known mode",
                        go_quote(other)
                    ))
                }
            }
        }
        Ok(modes)
    }
}

/// A decision and upstream's reason for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// The server's authorizer: the modes and the current RBAC snapshot.
pub struct Authorizer {
    modes: Vec<Mode>,
    policy: ArcSwap<Policy>,
    /// The Node authorizer's graph (read per node request, written per pod/PV event).
    graph: std::sync::RwLock<graph::Graph>,
}

impl Authorizer {
    pub fn new(modes: Vec<Mode>) -> Authorizer {
        Authorizer {
            modes,
            policy: ArcSwap::from_pointee(Policy::default()),
            graph: std::sync::RwLock::default(),
        }
    }

    /// Whether the Node authorizer decides (else no graph is kept).
    pub fn uses_node(&self) -> bool {
        self.modes.contains(&Mode::Node)
    }

    /// Changes the node graph (its keeper's events).
    pub fn update_graph(&self, change: impl FnOnce(&mut graph::Graph)) {
        let mut g = self
            .graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut g);
    }

    /// Whether RBAC decides (else there is nothing to keep current).
    pub fn uses_rbac(&self) -> bool {
        self.modes.contains(&Mode::Rbac)
    }

    /// Installs a new RBAC snapshot.
    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// The RBAC snapshot in use.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Upstream's union of authorizers: `system:masters`, then each mode in turn.
    pub fn authorize(&self, user: &UserInfo, req: &Request) -> Decision {
        if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let mut reasons = Vec::new();
        for mode in &self.modes {
            match mode {
                Mode::AlwaysAllow => {
                    return Decision {
                        allowed: true,
                        reason: String::new(),
                    }
                }
                Mode::Node => {
                    let g = self
                        .graph
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match node::authorize(user, req, &g) {
                        Some(Ok(())) => {
                            return Decision {
                                allowed: true,
                                reason: String::new(),
                            }
                        }
                        Some(Err(reason)) if !reason.is_empty() => reasons.push(reason),
                        _ => {}
                    }
                }
                Mode::Rbac => match self.policy.load().authorize(user, req) {
                    Verdict::Allowed(reason) => {
                        return Decision {
                            allowed: true,
                            reason,
                        }
                    }
                    Verdict::NoOpinion(reason) if !reason.is_empty() => reasons.push(reason),
                    Verdict::NoOpinion(_) => {}
                },
            }
        }
        Decision {
            allowed: false,
            reason: reasons.join("\n"),
        }
    }

    /// The rules `user` holds in `namespace` (SelfSubjectRulesReview), as upstream's union of
    /// rule resolvers: what RBAC grants, or everything under AlwaysAllow; whether the list is
    /// incomplete (a node identity: the Node authorizer enumerates nothing and says so); and
    /// the resolution errors.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesFor {
        let mut rules = Vec::new();
        let mut incomplete = false;
        let mut errors = Vec::new();
        for mode in &self.modes {
            match mode {
                Mode::AlwaysAllow => {
                    rules.push(Rule::resources(&["*"], &["*"], &["*"]));
                    rules.push(Rule::urls(&["*"], &["*"]));
                }
                Mode::Node => {
                    if node::is_node(user) {
                        incomplete = true;
                        errors.push(
                            "node authorizer does not support user rule resolution".to_string(),
                        );
                    }
                }
                Mode::Rbac => {
                    let (mut r, e) = self.policy.load().rules_for(user, namespace);
                    rules.append(&mut r);
                    errors.extend(e);
                }
            }
        }
        RulesFor {
            rules,
            incomplete,
            error: (!errors.is_empty()).then(|| rbac::aggregate(errors)),
        }
    }

    /// The request if allowed, else upstream's 403.
    pub fn check(&self, user: &UserInfo, req: &Request) -> Result<(), ApiError> {
        let d = self.authorize(user, req);
        if d.allowed {
            return Ok(());
        }
        Err(forbidden(user, req, &d.reason))
    }
}

/// What a SelfSubjectRulesReview answers (upstream's RulesFor results).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulesFor {
    pub rules: Vec<Rule>,
    /// Some authorizer could not list what it allows.
    pub incomplete: bool,
    /// The errors met, aggregated as upstream's (`evaluationError`).
    pub error: Option<String>,
}

/// Upstream's forbiddenMessage.
fn forbidden_message(user: &UserInfo, r: &Request) -> String {
    let who = go_quote(&user.name);
    if !r.resource_request {
        return format!("User {who} cannot {} path {}", r.verb, go_quote(&r.path));
    }
    let mut resource = r.resource.clone();
    if !r.subresource.is_empty() {
        resource = format!("{resource}/{}", r.subresource);
    }
    let scope = if r.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {}", go_quote(&r.namespace))
    };
    format!(
        "User {who} cannot {} resource {} in API group {} {scope}",
        r.verb,
        go_quote(&resource),
        go_quote(&r.api_group)
    )
}

/// Upstream's ForbiddenStatusError: `pods "p" is forbidden: User "x" cannot get resource
/// "pods" in API group "" in the namespace "y"` (`: <reason>` when there is one), with the
/// group, resource and name in the details; `forbidden: …` for non-resource paths.
pub fn forbidden(user: &UserInfo, r: &Request, reason: &str) -> ApiError {
    let mut why = forbidden_message(user, r)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    if !reason.is_empty() {
        why = format!("{why}: {reason}");
    }
    if !r.resource_request || r.resource.is_empty() {
        return ApiError::forbidden(format!("forbidden: {why}"));
    }
    qualified_forbidden(&r.api_group, &r.resource, &r.name, &why)
}

/// apimachinery's NewForbidden for a group-resource (`deployments.apps "web" is forbidden: …`).
pub fn qualified_forbidden(group: &str, resource: &str, name: &str, why: &str) -> ApiError {
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    let message = if name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} {} is forbidden: {why}", go_quote(name))
    };
    let mut e = ApiError::forbidden(message);
    e.group = Some(group.to_string());
    e.kind = Some(resource.to_string());
    e.name = (!name.is_empty()).then(|| name.to_string());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
            ..UserInfo::default()
        }
    }

    #[test]
    fn denials_read_as_upstreams() {
        let az = Authorizer::new(vec![Mode::Rbac]);
        let u = user("x", &["system:authenticated"]);
        let list_secrets = Request {
            verb: "list".into(),
            resource_request: true,
            namespace: "y".into(),
            resource: "secrets".into(),
            ..Request::default()
        };
        let e = az.check(&u, &list_secrets).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            r#"secrets is forbidden: User "x" cannot list resource "secrets" in API group "" in the namespace "y""#
        );
        assert_eq!(
            e.to_status()["details"],
            serde_json::json!({"kind": "secrets"})
        );
        let node = Request {
            verb: "get".into(),
            resource_request: true,
            api_group: "apps".into(),
            resource: "deployments".into(),
            subresource: "scale".into(),
            name: "web".into(),
            ..Request::default()
        };
        assert_eq!(
            az.check(&u, &node).unwrap_err().message,
            r#"deployments.apps "web" is forbidden: User "x" cannot get resource "deployments/scale" in API group "apps" at the cluster scope"#
        );
        let path = Request {
            verb: "get".into(),
            path: "/metrics".into(),
            ..Request::default()
        };
        let e = az.check(&user("system:anonymous", &[]), &path).unwrap_err();
        assert_eq!(
            e.message,
            r#"forbidden: User "system:anonymous" cannot get path "/metrics""#
        );
        assert!(e.to_status().get("details").is_none());
        assert!(az.check(&user("root", &[SYSTEM_MASTERS]), &path).is_ok());
        let open = Authorizer::new(vec![Mode::AlwaysAllow]);
        assert!(open.check(&u, &list_secrets).is_ok());
    }
}
