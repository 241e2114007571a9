//! The RBAC policy in memory and upstream's rule resolver over it (`DefaultRuleResolver` and
//! `RBACAuthorizer`), without IO: which bindings apply to a user (User, Group and
//! ServiceAccount subjects; a RoleBinding's ServiceAccount without a namespace is of the
//! binding's), the rules of the roles they name (a RoleBinding may name a ClusterRole), and the
//! decision with upstream's reasons (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole
//! "y" to Group "z"`; a missing role is an error that goes into the denial's reason).
//!
//! A [`Policy`] is an immutable snapshot built from the stored objects; `index.rs` makes a new
//! one on every change. Bindings are indexed by subject so a decision looks only at the
//! bindings of the user's name and groups.

use super::rules::{Request, Rule};
use kindling_api::meta::go_quote;
use kindling_api::user::UserInfo;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// One binding's role reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Clone, Debug)]
struct Binding {
    name: String,
    /// Empty for ClusterRoleBindings.
    namespace: String,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// Bindings of one scope (the cluster, or one namespace) and who they name.
#[derive(Clone, Debug, Default)]
struct Bindings {
    all: Vec<Binding>,
    /// A user name (service accounts by their user name) → bindings naming it.
    by_user: HashMap<String, Vec<usize>>,
    /// A group → bindings naming it.
    by_group: HashMap<String, Vec<usize>>,
}

impl Bindings {
    fn add(&mut self, b: Binding) {
        let i = self.all.len();
        for s in &b.subjects {
            let list = match subject_of(s, &b.namespace) {
                Some(Named::User(u)) => self.by_user.entry(u).or_default(),
                Some(Named::Group(g)) => self.by_group.entry(g).or_default(),
                None => continue,
            };
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
        self.all.push(b);
    }

    /// The bindings naming this user or one of its groups, in their order.
    fn of(&self, user: &UserInfo) -> Vec<&Binding> {
        let mut idx: Vec<usize> = Vec::new();
        if let Some(list) = self.by_user.get(&user.name) {
            idx.extend(list);
        }
        for g in &user.groups {
            if let Some(list) = self.by_group.get(g) {
                idx.extend(list);
            }
        }
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.all[i]).collect()
    }
}

/// Whom a subject names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Named {
    User(String),
    Group(String),
}

/// User and ServiceAccount subjects name a user (a service account by its user name), Group
/// subjects a group. A ServiceAccount without a namespace is the binding's; without either, it
/// names nobody (upstream's appliesToUser).
fn subject_of(s: &Subject, binding_ns: &str) -> Option<Named> {
    match s.kind.as_str() {
        "User" => Some(Named::User(s.name.clone())),
        "Group" => Some(Named::Group(s.name.clone())),
        "ServiceAccount" => {
            let ns = if s.namespace.is_empty() {
                binding_ns
            } else {
                &s.namespace
            };
            (!ns.is_empty()).then(|| Named::User(format!("system:serviceaccount:{ns}:{}", s.name)))
        }
        _ => None,
    }
}

/// The first subject of `b` naming `user` (the one upstream's reason quotes).
fn applying_subject<'a>(b: &'a Binding, user: &UserInfo) -> Option<&'a Subject> {
    b.subjects
        .iter()
        .find(|s| match subject_of(s, &b.namespace) {
            Some(Named::User(u)) => u == user.name,
            Some(Named::Group(g)) => user.groups.contains(&g),
            None => false,
        })
}

/// Upstream's describeSubject.
fn describe_subject(s: &Subject, binding_ns: &str) -> String {
    if s.kind == "ServiceAccount" {
        let ns = if s.namespace.is_empty() {
            binding_ns
        } else {
            &s.namespace
        };
        return format!("{} {}", s.kind, go_quote(&format!("{}/{ns}", s.name)));
    }
    format!("{} {}", s.kind, go_quote(&s.name))
}

/// Upstream's binding describers, quoted in "allowed by" reasons.
fn describe(b: &Binding, s: &Subject) -> String {
    if b.namespace.is_empty() {
        format!(
            "ClusterRoleBinding {} of {} {} to {}",
            go_quote(&b.name),
            b.role_ref.kind,
            go_quote(&b.role_ref.name),
            describe_subject(s, "")
        )
    } else {
        format!(
            "RoleBinding {} of {} {} to {}",
            go_quote(&format!("{}/{}", b.name, b.namespace)),
            b.role_ref.kind,
            go_quote(&b.role_ref.name),
            describe_subject(s, &b.namespace)
        )
    }
}

/// The four RBAC kinds at one moment.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Arc<[Rule]>>,
    roles: HashMap<(String, String), Arc<[Rule]>>,
    cluster_bindings: Bindings,
    role_bindings: HashMap<String, Bindings>,
}

/// What the resolver found for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `RBAC: allowed by …`
    Allowed(String),
    /// No rule allows it; the errors met on the way (missing roles…), as upstream's reason.
    NoOpinion(String),
}

fn rules_of(obj: &Value) -> Arc<[Rule]> {
    obj["rules"]
        .as_array()
        .map(|rules| rules.iter().map(Rule::from_json).collect::<Vec<_>>())
        .unwrap_or_default()
        .into()
}

fn binding_of(obj: &Value) -> Binding {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Binding {
        name: s(&obj["metadata"]["name"]),
        namespace: s(&obj["metadata"]["namespace"]),
        role_ref: RoleRef {
            kind: s(&obj["roleRef"]["kind"]),
            name: s(&obj["roleRef"]["name"]),
        },
        subjects: obj["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|sub| Subject {
                kind: s(&sub["kind"]),
                name: s(&sub["name"]),
                namespace: s(&sub["namespace"]),
            })
            .collect(),
    }
}

impl Policy {
    /// The policy of these stored objects (each list in any order).
    pub fn build(
        cluster_roles: &[&Value],
        roles: &[&Value],
        cluster_bindings: &[&Value],
        role_bindings: &[&Value],
    ) -> Policy {
        let name = |o: &Value| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let ns = |o: &Value| {
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let mut p = Policy::default();
        for o in cluster_roles {
            p.cluster_roles.insert(name(o), rules_of(o));
        }
        for o in roles {
            p.roles.insert((ns(o), name(o)), rules_of(o));
        }
        let mut sorted: Vec<&&Value> = cluster_bindings.iter().collect();
        sorted.sort_by_key(|o| name(o));
        for o in sorted {
            p.cluster_bindings.add(binding_of(o));
        }
        let mut sorted: Vec<&&Value> = role_bindings.iter().collect();
        sorted.sort_by_key(|o| (ns(o), name(o)));
        for o in sorted {
            p.role_bindings.entry(ns(o)).or_default().add(binding_of(o));
        }
        p
    }

    /// Upstream's GetRoleReferenceRules: the rules of the role a binding in `ns` names.
    pub fn role_rules(&self, role_ref: &RoleRef, ns: &str) -> Result<Arc<[Rule]>, String> {
        let found = match role_ref.kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&role_ref.name),
            "Role" => self.roles.get(&(ns.to_string(), role_ref.name.clone())),
            other => {
                return Err(format!(
                    "unsupported role reference kind: {}",
                    go_quote(other)
                ))
            }
        };
        found.cloned().ok_or_else(|| {
            format!(
                "{}.rbac.authorization.k8s.io {} not found",
                role_ref.kind.to_lowercase(),
                go_quote(&role_ref.name)
            )
        })
    }

    /// Upstream's VisitRulesFor: every rule that applies to `user` in `namespace` (cluster
    /// bindings first), with the binding that grants it; `visit` returns false to stop.
    /// Resolution errors go to `errors`.
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        errors: &mut Vec<String>,
        mut visit: impl FnMut(&Binding, &Rule) -> bool,
    ) {
        let scopes = std::iter::once(&self.cluster_bindings).chain(
            (!namespace.is_empty())
                .then(|| self.role_bindings.get(namespace))
                .flatten(),
        );
        for bindings in scopes {
            for b in bindings.of(user) {
                match self.role_rules(&b.role_ref, &b.namespace) {
                    Ok(rules) => {
                        for rule in rules.iter() {
                            if !visit(b, rule) {
                                return;
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }

    /// Upstream's RBACAuthorizer.Authorize.
    pub fn authorize(&self, user: &UserInfo, req: &Request) -> Verdict {
        let mut errors = Vec::new();
        let mut allowed = None;
        self.visit(user, &req.namespace, &mut errors, |b, rule| {
            if !rule.allows(req) {
                return true;
            }
            if let Some(s) = applying_subject(b, user) {
                allowed = Some(format!("RBAC: allowed by {}", describe(b, s)));
            }
            false
        });
        match allowed {
            Some(reason) => Verdict::Allowed(reason),
            None if errors.is_empty() => Verdict::NoOpinion(String::new()),
            None => Verdict::NoOpinion(format!("RBAC: {}", aggregate(errors))),
        }
    }

    /// Upstream's RulesFor: every rule `user` holds in `namespace`, and the resolution errors.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<Rule>, Option<String>) {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        self.visit(user, namespace, &mut errors, |_, rule| {
            rules.push(rule.clone());
            true
        });
        let error = (!errors.is_empty()).then(|| aggregate(errors));
        (rules, error)
    }
}

/// utilerrors.NewAggregate's message: one error alone, else `[a, b]` (repeats once).
pub fn aggregate(mut errors: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    if errors.len() == 1 {
        return errors.remove(0);
    }
    format!("[{}]", errors.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
            ..UserInfo::default()
        }
    }

    fn req(verb: &str, ns: &str, resource: &str, name: &str) -> Request {
        Request {
            verb: verb.into(),
            resource_request: true,
            namespace: ns.into(),
            resource: resource.into(),
            name: name.into(),
            ..Request::default()
        }
    }

    fn policy() -> Policy {
        let reader = json!({"metadata": {"name": "pod-reader"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]});
        let secret = json!({"metadata": {"name": "one-secret", "namespace": "a"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]}]});
        let crb = json!({"metadata": {"name": "readers"}, "roleRef": {"kind": "ClusterRole", "name": "pod-reader"},
            "subjects": [{"kind": "Group", "name": "readers"}]});
        let rb_cluster_role = json!({"metadata": {"name": "alice-pods", "namespace": "a"},
            "roleRef": {"kind": "ClusterRole", "name": "pod-reader"},
            "subjects": [{"kind": "User", "name": "alice"}]});
        let rb_sa = json!({"metadata": {"name": "sa-secret", "namespace": "a"},
            "roleRef": {"kind": "Role", "name": "one-secret"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder"}]});
        let rb_missing = json!({"metadata": {"name": "dangling", "namespace": "a"},
            "roleRef": {"kind": "Role", "name": "gone"},
            "subjects": [{"kind": "User", "name": "bob"}]});
        Policy::build(
            &[&reader],
            &[&secret],
            &[&crb],
            &[&rb_cluster_role, &rb_sa, &rb_missing],
        )
    }

    #[test]
    fn decisions_follow_bindings() {
        let p = policy();
        let sa = user(
            "system:serviceaccount:a:builder",
            &["system:serviceaccounts", "system:serviceaccounts:a"],
        );
        let cases = [
            (user("alice", &[]), req("list", "a", "pods", ""), true),
            (user("alice", &[]), req("list", "b", "pods", ""), false),
            (user("alice", &[]), req("list", "", "pods", ""), false),
            (
                user("carol", &["readers"]),
                req("list", "", "pods", ""),
                true,
            ),
            (
                user("carol", &["readers"]),
                req("delete", "b", "pods", "p"),
                false,
            ),
            (sa.clone(), req("get", "a", "secrets", "s1"), true),
            (sa.clone(), req("get", "a", "secrets", "s2"), false),
            (sa, req("get", "b", "secrets", "s1"), false),
            (
                user("builder", &[]),
                req("get", "a", "secrets", "s1"),
                false,
            ),
        ];
        for (u, r, want) in cases {
            let got = p.authorize(&u, &r);
            assert_eq!(
                matches!(got, Verdict::Allowed(_)),
                want,
                "{u:?} {r:?}: {got:?}"
            );
        }
    }

    #[test]
    fn reasons_are_upstreams() {
        let p = policy();
        assert_eq!(
            p.authorize(&user("alice", &[]), &req("get", "a", "pods", "x")),
            Verdict::Allowed(
                r#"RBAC: allowed by RoleBinding "alice-pods/a" of ClusterRole "pod-reader" to User "alice""#
                    .into()
            )
        );
        assert_eq!(
            p.authorize(&user("c", &["readers"]), &req("get", "", "pods", "x")),
            Verdict::Allowed(
                r#"RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "readers""#
                    .into()
            )
        );
        let sa = user("system:serviceaccount:a:builder", &[]);
        assert_eq!(
            p.authorize(&sa, &req("get", "a", "secrets", "s1")),
            Verdict::Allowed(
                r#"RBAC: allowed by RoleBinding "sa-secret/a" of Role "one-secret" to ServiceAccount "builder/a""#
                    .into()
            )
        );
        assert_eq!(
            p.authorize(&user("bob", &[]), &req("get", "a", "pods", "x")),
            Verdict::NoOpinion(r#"RBAC: role.rbac.authorization.k8s.io "gone" not found"#.into())
        );
        assert_eq!(
            p.authorize(&user("nobody", &[]), &req("get", "a", "pods", "x")),
            Verdict::NoOpinion(String::new())
        );
    }

    #[test]
    fn rules_for_lists_cluster_then_namespace_rules() {
        let p = policy();
        let (rules, err) = p.rules_for(&user("alice", &["readers"]), "a");
        assert_eq!(rules.len(), 2);
        assert_eq!(err, None);
        let (rules, err) = p.rules_for(&user("bob", &[]), "a");
        assert!(rules.is_empty());
        assert_eq!(
            err.as_deref(),
            Some(r#"role.rbac.authorization.k8s.io "gone" not found"#)
        );
    }
}
