//! Turning a resource URL into what it names, as upstream's RequestInfoFactory does:
//! `/apis/apps/v1/namespaces/default/deployments/web/scale` → group apps, version v1, namespace
//! default, resource deployments, name web, subresource scale.

/// What a resource request addresses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub watch_prefix: bool,
    /// What follows a `proxy` subresource (`metrics/cadvisor` of
    /// `/api/v1/nodes/n/proxy/metrics/cadvisor`), empty without.
    pub proxy_path: String,
}

/// A parsed API path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    Resources {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
}

/// Parses a path under `/api` or `/apis`; `None` for anything else.
pub fn parse(path: &str) -> Option<ApiPath> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Some(ApiPath::CoreVersions),
        ["apis"] => return Some(ApiPath::Groups),
        ["apis", g] => return Some(ApiPath::Group(g.to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    if rest.is_empty() {
        return Some(ApiPath::Resources {
            group: group.into(),
            version: version.into(),
        });
    }
    let mut rest = rest;
    let mut info = ResourcePath {
        group: group.into(),
        version: version.into(),
        ..Default::default()
    };
    if rest[0] == "watch" {
        info.watch_prefix = true;
        rest = &rest[1..];
    }
    if rest.first() == Some(&"namespaces")
        && rest.len() > 2
        && !matches!(rest[2], "status" | "finalize")
    {
        info.namespace = Some(rest[1].to_string());
        rest = &rest[2..];
    }
    // Only a proxy subresource takes a path of its own, as upstream's `Parts` beyond the
    // subresource.
    if rest.len() > 3 && rest[2] == "proxy" {
        info.proxy_path = rest[3..].join("/");
        rest = &rest[..3];
    }
    if rest.iter().any(|p| p.is_empty()) || rest.len() > 3 {
        return None;
    }
    info.resource = rest.first()?.to_string();
    info.name = rest.get(1).map(std::string::ToString::to_string);
    info.subresource = rest.get(2).map(std::string::ToString::to_string);
    Some(ApiPath::Resource(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Some(ApiPath::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_namespaced_and_cluster_paths() {
        let r = res("/apis/apps/v1/namespaces/default/deployments/web/scale");
        assert_eq!((r.group.as_str(), r.version.as_str()), ("apps", "v1"));
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.resource, "deployments");
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("scale"));

        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res("/api/v1/namespaces/x/status");
        assert_eq!(
            (r.resource.as_str(), r.subresource.as_deref()),
            ("namespaces", Some("status"))
        );
        let r = res("/api/v1/pods");
        assert_eq!((r.resource.as_str(), r.namespace), ("pods", None));
        let r = res("/api/v1/watch/namespaces/default/pods");
        assert!(r.watch_prefix);
        assert_eq!(r.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse("/api"), Some(ApiPath::CoreVersions));
        assert_eq!(parse("/apis/apps"), Some(ApiPath::Group("apps".into())));
        assert_eq!(
            parse("/api/v1"),
            Some(ApiPath::Resources {
                group: "".into(),
                version: "v1".into()
            })
        );
        assert_eq!(parse("/metrics"), None);
        assert_eq!(parse("/api/v1/pods/a/b/c"), None);
    }

    #[test]
    fn proxy_paths_keep_what_follows() {
        let r = res("/api/v1/nodes/kind-worker/proxy/metrics/cadvisor");
        assert_eq!(r.subresource.as_deref(), Some("proxy"));
        assert_eq!(r.name.as_deref(), Some("kind-worker"));
        assert_eq!(r.proxy_path, "metrics/cadvisor");
        let r = res("/api/v1/nodes/kind-worker/proxy");
        assert_eq!(
            (r.subresource.as_deref(), r.proxy_path.as_str()),
            (Some("proxy"), "")
        );
    }
}
