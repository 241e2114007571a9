//! The Gateway API routing table, decided without IO: every (route rule, match, listener
//! hostname) that [`super::plan`] accepted becomes one entry, ordered by the Gateway API's
//! precedence so that the first entry matching a request is the one the spec says wins:
//! 1. the most specific hostname (an exact hostname before a wildcard, longer before shorter);
//! 2. an Exact path before a prefix or expression, then the longest path;
//! 3. a method match; 4. more header matches; 5. more query parameter matches;
//! 6. the oldest route, then `namespace/name` alphabetically, then the rule's position.
//!
//! Prefix paths match whole path elements (`/foo` matches `/foo` and `/foo/bar`, not
//! `/foobar`), as HTTPRoute's PathPrefix is defined. Weighted backends are chosen by a counter
//! over the weights (80/20 is exactly 80/20 over each 100 requests); a rule whose backends are
//! all invalid answers 500, as the spec asks.

use super::types::{HeaderModifier, PathModifier, RequestRedirect, UrlRewrite};
use crate::routes::Backend;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(regex::Regex),
}

#[derive(Clone, Debug)]
pub enum ValueMatcher {
    Exact(String),
    Regex(regex::Regex),
}

impl ValueMatcher {
    fn matches(&self, value: &str) -> bool {
        match self {
            ValueMatcher::Exact(v) => v == value,
            ValueMatcher::Regex(re) => re.is_match(value),
        }
    }
}

/// A filter of a rule, in the order the rule lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    RequestHeaders(HeaderModifier),
    ResponseHeaders(HeaderModifier),
    Redirect(RequestRedirect),
    Rewrite(UrlRewrite),
}

/// One rule of one route, shared by all of its entries.
#[derive(Debug)]
pub struct Rule {
    /// `namespace/name` of the route.
    pub route: String,
    pub filters: Vec<Filter>,
    /// `(backend, weight)`; `None`: a backendRef that cannot be used (its share of the
    /// requests is answered 500, as the spec asks).
    pub backends: Vec<(Option<Arc<Backend>>, u32)>,
    /// The backends are spoken to over HTTP/2 cleartext (a GRPCRoute).
    pub grpc: bool,
    /// The rule's index in its route's `rules`.
    position: usize,
    /// Where the weighted sequence is; shared with the same split of the tables before and
    /// after this one (see [`Table::continue_from`]).
    next: ArcSwap<AtomicUsize>,
}

impl Rule {
    pub fn new(
        route: String,
        position: usize,
        filters: Vec<Filter>,
        backends: Vec<(Option<Arc<Backend>>, u32)>,
        grpc: bool,
    ) -> Rule {
        Rule {
            route,
            filters,
            backends,
            grpc,
            position,
            next: ArcSwap::from_pointee(AtomicUsize::new(0)),
        }
    }

    /// The same rule of the same route, splitting over the same weights.
    fn same_split(&self, other: &Rule) -> bool {
        let weights = |r: &Rule| r.backends.iter().map(|(_, w)| *w).collect::<Vec<_>>();
        self.route == other.route
            && self.position == other.position
            && weights(self) == weights(other)
    }

    /// The next backend by weight (`None`: answer 500, an invalid backend or none at all).
    pub fn pick(&self) -> Option<&Arc<Backend>> {
        let all = &self.backends;
        let total: u64 = all.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        let mut n = (self.next.load().fetch_add(1, Ordering::Relaxed) as u64) % total;
        for (backend, weight) in all {
            if n < u64::from(*weight) {
                return backend.as_ref();
            }
            n -= u64::from(*weight);
        }
        None
    }
}

/// One way into a rule: listener side, hostname, and one of the rule's matches.
#[derive(Debug)]
pub struct Entry {
    /// Served on the TLS listener (HTTPS) rather than the plain one.
    pub https: bool,
    /// A hostname (`*.example.com` a wildcard); `None`: any host.
    pub hostname: Option<String>,
    pub path: PathMatcher,
    pub method: Option<String>,
    pub headers: Vec<(String, ValueMatcher)>,
    pub query: Vec<(String, ValueMatcher)>,
    pub rule: Arc<Rule>,
    /// Creation time (seconds), `namespace/name`, rule index: the spec's tie breakers.
    pub order: (i64, String, usize),
}

/// What a request is, as far as matching goes.
pub struct Request<'a> {
    pub https: bool,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a hyper::HeaderMap,
}

#[derive(Debug, Default)]
pub struct Table {
    entries: Vec<Entry>,
}

impl Table {
    /// A table of `entries`, put in precedence order.
    pub fn new(mut entries: Vec<Entry>) -> Table {
        entries.sort_by_cached_key(precedence);
        Table { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Carries each rule's place in its weighted sequence over from the table this one
    /// replaces: the table is built again on every change of any watched object, and a counter
    /// starting over each time would send the first share of every rebuild's requests to the
    /// first backend, not the weights' split. The counter is shared, not copied: requests still
    /// routed by the previous table until this one is stored count in the same sequence.
    pub fn continue_from(&self, previous: &Table) {
        for entry in &self.entries {
            let rule = &entry.rule;
            if let Some(old) = previous
                .entries
                .iter()
                .map(|e| &e.rule)
                .find(|old| old.same_split(rule))
            {
                rule.next.store(old.next.load_full());
            }
        }
    }

    /// The entry that takes `req`, if any.
    pub fn route(&self, req: &Request<'_>) -> Option<&Entry> {
        let host = crate::routes::lowercase(req.host);
        // Decoding the query allocates: only done when some entry matches on it.
        let query = if self.entries.iter().any(|e| !e.query.is_empty()) {
            parse_query(req.query)
        } else {
            Vec::new()
        };
        self.entries.iter().find(|e| e.matches(req, &host, &query))
    }
}

/// The sort key of an entry: hostname, path, (method, headers, query), then the tie breakers.
type Precedence = (
    std::cmp::Reverse<(bool, usize)>,
    std::cmp::Reverse<(bool, usize)>,
    std::cmp::Reverse<(bool, usize, usize)>,
    (i64, String, usize),
);

/// The sort key: smaller is tried first.
fn precedence(e: &Entry) -> Precedence {
    let host = match &e.hostname {
        Some(h) if !h.starts_with('*') => (true, h.len()),
        Some(h) => (false, h.len()),
        None => (false, 0),
    };
    let path = match &e.path {
        PathMatcher::Exact(p) => (true, p.len()),
        PathMatcher::Prefix(p) => (false, p.trim_end_matches('/').len().max(1)),
        PathMatcher::Regex(re) => (false, re.as_str().len()),
    };
    (
        std::cmp::Reverse(host),
        std::cmp::Reverse(path),
        std::cmp::Reverse((e.method.is_some(), e.headers.len(), e.query.len())),
        e.order.clone(),
    )
}

impl Entry {
    fn matches(&self, req: &Request<'_>, host: &str, query: &[(String, String)]) -> bool {
        self.https == req.https
            && self
                .hostname
                .as_deref()
                .is_none_or(|h| host_matches(h, host))
            && self.path_matches(req.path)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(req.method))
            && self.headers.iter().all(|(name, m)| {
                req.headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| m.matches(v))
            })
            && self.query.iter().all(|(name, m)| {
                // The first value of a repeated parameter is the one matched (the spec leaves
                // it to the implementation; Envoy-based ones do the same).
                query
                    .iter()
                    .find(|(n, _)| n == name)
                    .is_some_and(|(_, v)| m.matches(v))
            })
    }

    fn path_matches(&self, path: &str) -> bool {
        match &self.path {
            PathMatcher::Exact(p) => path == p,
            PathMatcher::Prefix(p) => prefix_matches(p, path),
            PathMatcher::Regex(re) => re.is_match(path),
        }
    }

    /// The path prefix this entry matched (what ReplacePrefixMatch replaces).
    pub fn matched_prefix(&self) -> Option<&str> {
        match &self.path {
            PathMatcher::Prefix(p) | PathMatcher::Exact(p) => Some(p),
            PathMatcher::Regex(_) => None,
        }
    }
}

/// A Gateway API hostname (listener or route) covers `host`: exact, or `*.suffix` covering
/// one or more labels (the Gateway API's wildcard, unlike Ingress's single label).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path after a ReplaceFullPath / ReplacePrefixMatch modifier, from the request's `path`
/// and the prefix the entry matched (`None`: the path is unchanged).
pub fn modified_path(modifier: &PathModifier, path: &str, matched: Option<&str>) -> Option<String> {
    match modifier.type_.as_str() {
        "ReplaceFullPath" => modifier.replace_full_path.clone(),
        "ReplacePrefixMatch" => {
            let matched = matched?.trim_end_matches('/');
            let rest = path.get(matched.len()..).unwrap_or_default();
            let replacement = modifier.replace_prefix_match.as_deref().unwrap_or("/");
            let replacement = replacement.trim_end_matches('/');
            let joined = match (replacement.is_empty(), rest.is_empty()) {
                (true, true) => "/".to_string(),
                (true, false) => rest.to_string(),
                (false, _) => format!("{replacement}{rest}"),
            };
            Some(joined)
        }
        _ => None,
    }
}

/// The `Location` and status of a RequestRedirect: scheme, host, port and path of the request
/// replaced by what the filter names. A port is written only when it is not the scheme's
/// well-known one; with a new scheme and no port, the scheme's well-known port is meant.
pub fn redirect(
    r: &RequestRedirect,
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    query: Option<&str>,
    matched: Option<&str>,
) -> (u16, String) {
    let new_scheme = r.scheme.clone().unwrap_or_else(|| scheme.to_string());
    let well_known = |s: &str| if s == "https" { 443 } else { 80 };
    let new_port = match (r.port, &r.scheme) {
        (Some(p), _) => u16::try_from(p).unwrap_or(port),
        (None, Some(s)) => well_known(s),
        (None, None) => port,
    };
    let new_host = r.hostname.clone().unwrap_or_else(|| host.to_string());
    let new_path = r
        .path
        .as_ref()
        .and_then(|m| modified_path(m, path, matched))
        .unwrap_or_else(|| path.to_string());
    let port_text = if new_port == well_known(&new_scheme) {
        String::new()
    } else {
        format!(":{new_port}")
    };
    let query_text = query.map(|q| format!("?{q}")).unwrap_or_default();
    let status = r
        .status_code
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(302);
    (
        status,
        format!("{new_scheme}://{new_host}{port_text}{new_path}{query_text}"),
    )
}

/// Applies a header modifier: set replaces, add appends, remove deletes (names are
/// case-insensitive, as HTTP's).
pub fn modify_headers(m: &HeaderModifier, headers: &mut hyper::HeaderMap) {
    use hyper::header::{HeaderName, HeaderValue};
    for h in &m.set {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) {
            headers.insert(n, v);
        }
    }
    for h in &m.add {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_str(&h.value),
        ) {
            headers.append(n, v);
        }
    }
    for name in &m.remove {
        if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(n);
        }
    }
}

#[cfg(test)]
mod tests;
