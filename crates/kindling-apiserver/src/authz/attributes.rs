//! What a request asks to do, as upstream's RequestInfoFactory reads it for authorization: the
//! verb (get/list/watch/create/update/patch/delete/deletecollection, a `watch` path prefix, the
//! lower-case method for non-resource paths), the namespace (a namespace's own name for
//! `/api/v1/namespaces/<name>`), and the name a list or watch pins with
//! `fieldSelector=metadata.name=<name>`. No IO.

use super::rules::Request;
use crate::request::ApiPath;

/// The authorization attributes of `method path` (`target` is the parsed path, `watch` the
/// `watch` query flag, `field_selector` the raw `fieldSelector`).
pub fn of(
    method: &str,
    path: &str,
    target: Option<&ApiPath>,
    watch: bool,
    field_selector: Option<&str>,
) -> Request {
    let Some(ApiPath::Resource(rp)) = target else {
        return Request {
            verb: method.to_ascii_lowercase(),
            path: path.to_string(),
            ..Request::default()
        };
    };
    let mut verb = if rp.watch_prefix {
        "watch"
    } else {
        match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
    };
    let mut name = rp.name.clone().unwrap_or_default();
    let mut namespace = rp.namespace.clone().unwrap_or_default();
    if rp.resource == "namespaces" && namespace.is_empty() {
        namespace = name.clone();
    }
    if name.is_empty() {
        match verb {
            "delete" => verb = "deletecollection",
            "get" => {
                verb = if watch { "watch" } else { "list" };
            }
            _ => {}
        }
        if matches!(verb, "list" | "watch") {
            if let Some(pinned) = field_selector.and_then(pinned_name) {
                name = pinned;
            }
        }
    }
    Request {
        verb: verb.to_string(),
        resource_request: true,
        api_group: rp.group.clone(),
        api_version: rp.version.clone(),
        namespace,
        resource: rp.resource.clone(),
        subresource: rp.subresource.clone().unwrap_or_default(),
        name,
        path: path.to_string(),
        field_selector: field_selector.unwrap_or_default().to_string(),
    }
}

/// The name `metadata.name=<n>` (or `==`) pins in a field selector, if it is a valid path
/// segment (upstream's RequiresExactMatch + IsValidPathSegmentName).
fn pinned_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let value = term
            .trim()
            .strip_prefix("metadata.name")?
            .trim_start()
            .strip_prefix('=')?;
        let value = value.strip_prefix('=').unwrap_or(value).trim();
        let valid = !value.is_empty()
            && value != "."
            && value != ".."
            && !value.contains('/')
            && !value.contains('%');
        valid.then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request;

    fn attrs(method: &str, uri: &str) -> Request {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let q: std::collections::HashMap<&str, &str> =
            query.split('&').filter_map(|p| p.split_once('=')).collect();
        of(
            method,
            path,
            request::parse(path).as_ref(),
            q.get("watch").is_some_and(|v| *v == "true" || *v == "1"),
            q.get("fieldSelector").copied(),
        )
    }

    #[test]
    fn attributes_are_upstreams_request_info() {
        let a = attrs("GET", "/api/v1/namespaces/d/pods");
        assert_eq!((a.verb.as_str(), a.namespace.as_str()), ("list", "d"));
        assert!(a.resource_request);
        let a = attrs("GET", "/api/v1/namespaces/d/pods?watch=true");
        assert_eq!(a.verb, "watch");
        let a = attrs("GET", "/api/v1/watch/namespaces/d/pods/p");
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p"));
        let a = attrs(
            "GET",
            "/api/v1/nodes?fieldSelector=metadata.name=n1&watch=1",
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "n1"));
        let a = attrs("DELETE", "/api/v1/namespaces/d/pods");
        assert_eq!(a.verb, "deletecollection");
        let a = attrs("GET", "/api/v1/namespaces/d/pods/p/log");
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.subresource.as_str()),
            ("get", "pods", "log")
        );
        let a = attrs("POST", "/api/v1/namespaces/d/pods/p/exec");
        assert_eq!(a.verb, "create");
        let a = attrs("GET", "/api/v1/namespaces/kube-system");
        assert_eq!(
            (a.namespace.as_str(), a.name.as_str()),
            ("kube-system", "kube-system")
        );
        let a = attrs("PUT", "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (
                a.verb.as_str(),
                a.namespace.as_str(),
                a.subresource.as_str()
            ),
            ("update", "x", "finalize")
        );
        let a = attrs("PATCH", "/apis/apps/v1/namespaces/d/deployments/w/scale");
        assert_eq!(
            (
                a.api_group.as_str(),
                a.api_version.as_str(),
                a.subresource.as_str()
            ),
            ("apps", "v1", "scale")
        );
        for (method, path, verb) in [
            ("GET", "/api", "get"),
            ("GET", "/apis/apps/v1", "get"),
            ("GET", "/healthz", "get"),
            ("POST", "/metrics", "post"),
            ("HEAD", "/version", "head"),
        ] {
            let a = attrs(method, path);
            assert!(!a.resource_request, "{path}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), (verb, path));
        }
    }

    #[test]
    fn only_valid_pinned_names_count() {
        assert_eq!(pinned_name("metadata.name==a"), Some("a".into()));
        assert_eq!(
            pinned_name("spec.nodeName=n,metadata.name=b"),
            Some("b".into())
        );
        assert_eq!(pinned_name("metadata.name!=a"), None);
        assert_eq!(pinned_name("metadata.name=.."), None);
        assert_eq!(pinned_name("metadata.namespace=a"), None);
    }
}
