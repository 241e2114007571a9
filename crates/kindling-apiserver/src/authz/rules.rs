//! RBAC policy rules as upstream's `rbac/v1` helpers read them, without IO: whether a rule
//! allows a request (`RuleAllows`: `*` verbs, groups and resources, `*/<subresource>`,
//! resourceNames, non-resource URLs with a trailing `*`), and whether one set of rules covers
//! another (`Covers`, for escalation prevention), with the compact description upstream puts in
//! its "attempting to grant" message.

use kindling_api::meta::go_quote;
use serde::Deserialize;

/// One `PolicyRule` (every list empty when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// What a request asks for, as upstream's authorizer.Attributes (the user aside).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub verb: String,
    /// A resource request (under /api/<v>/… or /apis/<g>/<v>/…), else a non-resource path.
    pub resource_request: bool,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The URL path (what non-resource rules match).
    pub path: String,
    /// The request's `fieldSelector` as sent (the Node authorizer reads `spec.nodeName=`).
    pub field_selector: String,
}

impl Rule {
    /// Reads a rule of a stored Role/ClusterRole (unknown shapes allow nothing).
    pub fn from_json(v: &serde_json::Value) -> Rule {
        Rule::deserialize(v).unwrap_or_default()
    }

    /// A rule over resources: `verbs` on `resources` of `groups`.
    pub fn resources(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Rule {
        Rule {
            verbs: strings(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            ..Rule::default()
        }
    }

    /// Only these names of the resources.
    pub fn names(mut self, names: &[&str]) -> Rule {
        self.resource_names = strings(names);
        self
    }

    /// A rule over non-resource URLs.
    pub fn urls(verbs: &[&str], urls: &[&str]) -> Rule {
        Rule {
            verbs: strings(verbs),
            non_resource_urls: strings(urls),
            ..Rule::default()
        }
    }

    /// The rule as a PolicyRule's JSON (empty lists left out).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        let mut put = |key: &str, list: &[String]| {
            if !list.is_empty() {
                m.insert(key.into(), serde_json::json!(list));
            }
        };
        put("verbs", &self.verbs);
        put("apiGroups", &self.api_groups);
        put("resources", &self.resources);
        put("resourceNames", &self.resource_names);
        put("nonResourceURLs", &self.non_resource_urls);
        serde_json::Value::Object(m)
    }

    /// Upstream's RuleAllows.
    pub fn allows(&self, r: &Request) -> bool {
        if !verb_matches(self, &r.verb) {
            return false;
        }
        if !r.resource_request {
            return self
                .non_resource_urls
                .iter()
                .any(|u| url_matches(u, &r.path));
        }
        self.api_groups
            .iter()
            .any(|g| g == "*" || g == &r.api_group)
            && resource_matches(self, &r.resource, &r.subresource)
            && (self.resource_names.is_empty() || self.resource_names.contains(&r.name))
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn verb_matches(rule: &Rule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// `*`, the resource (`pods`, or `pods/log` for a subresource request), or `*/log`.
fn resource_matches(rule: &Rule, resource: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|rr| {
        if rr == "*" {
            return true;
        }
        if subresource.is_empty() {
            return rr == resource;
        }
        match rr.split_once('/') {
            Some((res, sub)) => sub == subresource && (res == resource || res == "*"),
            None => false,
        }
    })
}

/// A non-resource URL rule: exact, `*`, or a prefix ending in `*`.
fn url_matches(rule: &str, path: &str) -> bool {
    if rule == "*" || rule == path {
        return true;
    }
    rule.ends_with('*') && path.starts_with(rule.trim_end_matches('*'))
}

/// Upstream's Covers: the rules of `servant` that no rule of `owner` covers, one verb,
/// group, resource and name (or URL and verb) each; empty when `owner` covers them all.
pub fn uncovered(owner: &[Rule], servant: &[Rule]) -> Vec<Rule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| covers(o, sub)))
        .collect()
}

/// Upstream's BreakdownRule: a rule split into rules of one group, resource, verb and name.
fn breakdown(rule: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let one = |names: Vec<String>| Rule {
                    verbs: vec![verb.clone()],
                    api_groups: vec![group.clone()],
                    resources: vec![resource.clone()],
                    resource_names: names,
                    non_resource_urls: Vec::new(),
                };
                if rule.resource_names.is_empty() {
                    out.push(one(Vec::new()));
                } else {
                    out.extend(rule.resource_names.iter().map(|n| one(vec![n.clone()])));
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(Rule {
                verbs: vec![verb.clone()],
                non_resource_urls: vec![url.clone()],
                ..Rule::default()
            });
        }
    }
    out
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| set.contains(w))
}

fn has(set: &[String], s: &str) -> bool {
    set.iter().any(|x| x == s)
}

/// Upstream's ruleCovers.
fn covers(owner: &Rule, sub: &Rule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|p| owner.non_resource_urls.iter().any(|o| url_covers(o, p)));
    let names = owner.resource_names.is_empty()
        || (!sub.resource_names.is_empty() && has_all(&owner.resource_names, &sub.resource_names));
    verbs && groups && resources && names && urls
}

/// Upstream's resourceCoversAll: `*`, exact, or `*/<subresource>` for a subresource.
fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        has(owner, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(owner, &format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, path: &str) -> bool {
    owner == path
        || owner
            .strip_suffix('*')
            .is_some_and(|p| path.starts_with(p.trim_end_matches('*')))
}

/// Upstream's CompactRules then CompactString of each, sorted and unique (what the
/// escalation message lists, one per line): rules of one group, resource and at most one name
/// are merged, their verbs joined.
pub fn describe_missing(missing: &[Rule]) -> Vec<String> {
    let mut compacted: Vec<Rule> = Vec::new();
    let mut simple: Vec<Rule> = Vec::new();
    for rule in missing {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            compacted.push(rule.clone());
            continue;
        }
        match simple.iter_mut().find(|s| {
            s.api_groups == rule.api_groups
                && s.resources == rule.resources
                && s.resource_names == rule.resource_names
        }) {
            Some(existing) => existing.verbs.extend(rule.verbs.iter().cloned()),
            None => simple.push(rule.clone()),
        }
    }
    compacted.extend(simple);
    let mut lines: Vec<String> = compacted.iter().map(compact_string).collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Upstream's CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`.
pub fn compact_string(r: &Rule) -> String {
    let list = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
        format!("[{}]", quoted.join(" "))
    };
    let mut parts = Vec::new();
    if !r.api_groups.is_empty() {
        parts.push(format!("APIGroups:{}", list(&r.api_groups)));
    }
    if !r.resources.is_empty() {
        parts.push(format!("Resources:{}", list(&r.resources)));
    }
    if !r.non_resource_urls.is_empty() {
        parts.push(format!("NonResourceURLs:{}", list(&r.non_resource_urls)));
    }
    if !r.resource_names.is_empty() {
        parts.push(format!("ResourceNames:{}", list(&r.resource_names)));
    }
    if !r.verbs.is_empty() {
        parts.push(format!("Verbs:{}", list(&r.verbs)));
    }
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(verb: &str, group: &str, res: &str, sub: &str, name: &str) -> Request {
        Request {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: res.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Request::default()
        }
    }

    fn path(verb: &str, p: &str) -> Request {
        Request {
            verb: verb.into(),
            path: p.into(),
            ..Request::default()
        }
    }

    #[test]
    fn rules_allow_as_upstreams_rule_allows() {
        let pods = Rule::resources(&["get", "list"], &[""], &["pods"]);
        let log = Rule::resources(&["get"], &[""], &["pods/log"]);
        let any_scale = Rule::resources(&["get"], &["*"], &["*/scale"]);
        let named = Rule::resources(&["get"], &[""], &["secrets"]).names(&["s1"]);
        let all = Rule::resources(&["*"], &["*"], &["*"]);
        let urls = Rule::urls(&["get"], &["/healthz", "/apis/*"]);
        let cases: &[(&Rule, Request, bool)] = &[
            (&pods, resource("list", "", "pods", "", ""), true),
            (&pods, resource("watch", "", "pods", "", ""), false),
            (&pods, resource("get", "apps", "pods", "", ""), false),
            (&pods, resource("get", "", "pods", "log", "p"), false),
            (&log, resource("get", "", "pods", "log", "p"), true),
            (&log, resource("get", "", "pods", "", "p"), false),
            (
                &any_scale,
                resource("get", "apps", "deployments", "scale", "d"),
                true,
            ),
            (
                &any_scale,
                resource("get", "apps", "deployments", "", "d"),
                false,
            ),
            (&named, resource("get", "", "secrets", "", "s1"), true),
            (&named, resource("get", "", "secrets", "", "s2"), false),
            // A list has no name: a rule with names never allows it.
            (&named, resource("get", "", "secrets", "", ""), false),
            (
                &all,
                resource("escalate", "x.io", "things", "sub", "n"),
                true,
            ),
            (&all, path("get", "/healthz"), false),
            (&urls, path("get", "/healthz"), true),
            (&urls, path("get", "/healthz/ping"), false),
            (&urls, path("get", "/apis/apps/v1"), true),
            (&urls, path("get", "/apis"), false),
            (&urls, path("post", "/healthz"), false),
            (&urls, resource("get", "", "healthz", "", ""), false),
        ];
        for (rule, req, want) in cases {
            assert_eq!(rule.allows(req), *want, "{rule:?} {req:?}");
        }
    }

    #[test]
    fn covers_as_upstream() {
        let admin = vec![
            Rule::resources(&["*"], &["*"], &["*"]),
            Rule::urls(&["*"], &["*"]),
        ];
        let reader = vec![Rule::resources(
            &["get", "list"],
            &[""],
            &["pods", "secrets"],
        )];
        let named = vec![Rule::resources(&["get"], &[""], &["secrets"]).names(&["a"])];
        let sub = vec![Rule::resources(&["get"], &[""], &["*/log"])];
        let cases: &[(&[Rule], Rule, usize)] = &[
            (
                &admin,
                Rule::resources(&["get"], &["apps"], &["deployments"]),
                0,
            ),
            (&admin, Rule::urls(&["get"], &["/metrics"]), 0),
            (&reader, Rule::resources(&["get"], &[""], &["pods"]), 0),
            (
                &reader,
                Rule::resources(&["get", "watch"], &[""], &["pods"]),
                1,
            ),
            (
                &reader,
                Rule::resources(&["get"], &[""], &["pods", "nodes"]),
                1,
            ),
            // Names: an owner without names covers named rules, not the other way round.
            (
                &reader,
                Rule::resources(&["get"], &[""], &["secrets"]).names(&["x"]),
                0,
            ),
            (&named, Rule::resources(&["get"], &[""], &["secrets"]), 1),
            (
                &named,
                Rule::resources(&["get"], &[""], &["secrets"]).names(&["a"]),
                0,
            ),
            (
                &named,
                Rule::resources(&["get"], &[""], &["secrets"]).names(&["a", "b"]),
                1,
            ),
            (&sub, Rule::resources(&["get"], &[""], &["pods/log"]), 0),
            (&sub, Rule::resources(&["get"], &[""], &["pods"]), 1),
            (&reader, Rule::urls(&["get"], &["/healthz"]), 1),
        ];
        for (owner, wanted, missing) in cases {
            assert_eq!(
                uncovered(owner, std::slice::from_ref(wanted)).len(),
                *missing,
                "{wanted:?}"
            );
        }
        let owner = vec![Rule::urls(&["get"], &["/apis/*"])];
        assert!(uncovered(&owner, &[Rule::urls(&["get"], &["/apis/apps"])]).is_empty());
        assert!(uncovered(&owner, &[Rule::urls(&["get"], &["/apis/*"])]).is_empty());
        assert_eq!(
            uncovered(&owner, &[Rule::urls(&["get"], &["/api"])]).len(),
            1
        );
    }

    #[test]
    fn missing_rules_are_described_as_upstream() {
        let missing = uncovered(
            &[],
            &[
                Rule::resources(&["get", "list"], &[""], &["secrets"]),
                Rule::resources(&["get"], &[""], &["configmaps"]).names(&["a", "b"]),
                Rule::urls(&["get"], &["/metrics"]),
            ],
        );
        assert_eq!(
            describe_missing(&missing),
            vec![
                r#"{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}"#,
                r#"{APIGroups:[""], Resources:["configmaps"], ResourceNames:["b"], Verbs:["get"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}"#,
                r#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#,
            ]
        );
    }
}
