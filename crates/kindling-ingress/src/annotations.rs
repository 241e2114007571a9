//! The ingress-nginx annotations kindling honours, read as ingress-nginx reads them (a value it
//! cannot parse is the default, as its parsers fall back):
//!
//! - `rewrite-target`: the request path is replaced by the target, `$1`…`$9` taken from the
//!   path's regular expression (nginx's `rewrite "(?i)<path>" <target> break;`).
//! - `use-regex`: the paths are case-insensitive regular expressions anchored at the start
//!   (`location ~* "^<path>"`); `rewrite-target` implies it. Either on any Ingress of a host
//!   makes every path of that host a regular expression, as ingress-nginx enforces it per server.
//! - `ssl-redirect` (default true): plain HTTP to a host the Ingress has TLS for is answered with
//!   a 308 to `https://`; `force-ssl-redirect` does so without TLS too.
//! - `backend-protocol`: HTTP (default), HTTPS, GRPC (h2c), GRPCS, AUTO_HTTP (as HTTP);
//!   FCGI is not carried out (HTTP, with a warning once).
//! - `proxy-body-size` (default 1m, nginx's size syntax, `0` = unlimited): larger bodies get 413.

use std::collections::BTreeMap;

pub const PREFIX: &str = "nginx.ingress.kubernetes.io/";
/// ingress-nginx's default `proxy-body-size`.
pub const DEFAULT_BODY_SIZE: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendProtocol {
    Http,
    Https,
    /// gRPC over cleartext HTTP/2.
    Grpc,
    /// gRPC over TLS.
    Grpcs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub rewrite_target: Option<String>,
    pub use_regex: bool,
    pub ssl_redirect: bool,
    pub force_ssl_redirect: bool,
    pub backend_protocol: BackendProtocol,
    /// The largest request body accepted; `None`: no limit.
    pub max_body_size: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rewrite_target: None,
            use_regex: false,
            ssl_redirect: true,
            force_ssl_redirect: false,
            backend_protocol: BackendProtocol::Http,
            max_body_size: Some(DEFAULT_BODY_SIZE),
        }
    }
}

impl Options {
    /// Whether the Ingress's paths are regular expressions (`use-regex`, or implied by
    /// `rewrite-target`).
    pub fn regex_paths(&self) -> bool {
        self.use_regex || self.rewrite_target.is_some()
    }
}

/// The options an Ingress's annotations ask for.
pub fn parse(annotations: &BTreeMap<String, String>) -> Options {
    let get = |name: &str| {
        annotations
            .get(&format!("{PREFIX}{name}"))
            .map(|v| v.trim())
    };
    let defaults = Options::default();
    let flag = |name: &str, default: bool| get(name).and_then(parse_bool).unwrap_or(default);
    Options {
        rewrite_target: get("rewrite-target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        use_regex: flag("use-regex", defaults.use_regex),
        ssl_redirect: flag("ssl-redirect", defaults.ssl_redirect),
        force_ssl_redirect: flag("force-ssl-redirect", defaults.force_ssl_redirect),
        backend_protocol: get("backend-protocol")
            .and_then(parse_protocol)
            .unwrap_or(defaults.backend_protocol),
        max_body_size: match get("proxy-body-size").and_then(parse_size) {
            Some(0) => None,
            Some(n) => Some(n),
            None => defaults.max_body_size,
        },
    }
}

/// Go's strconv.ParseBool, which ingress-nginx's annotation parser uses.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_protocol(v: &str) -> Option<BackendProtocol> {
    match v.to_ascii_uppercase().as_str() {
        "HTTP" | "AUTO_HTTP" => Some(BackendProtocol::Http),
        "HTTPS" => Some(BackendProtocol::Https),
        "GRPC" => Some(BackendProtocol::Grpc),
        "GRPCS" => Some(BackendProtocol::Grpcs),
        "FCGI" => {
            tracing::warn!("ingress: backend-protocol FCGI is not supported; using HTTP");
            Some(BackendProtocol::Http)
        }
        _ => None,
    }
}

/// nginx's size syntax: bytes, or a number with `k`/`K`, `m`/`M`, `g`/`G`.
pub fn parse_size(v: &str) -> Option<u64> {
    let (digits, unit) = match v.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&v[..i], Some(c.to_ascii_lowercase())),
        _ => (v, None),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some(_) => return None,
    };
    n.checked_mul(scale)
}

/// The path nginx's `rewrite "(?i)<pattern>" <target> break;` produces for `path`: `$N` in the
/// target replaced by the captures of `pattern` found in the path (`None`: no match, the path
/// stays), the request's query kept (joined with `&` if the target has one).
pub fn rewrite(
    pattern: &regex::Regex,
    target: &str,
    path: &str,
    query: Option<&str>,
) -> Option<String> {
    let caps = pattern.captures(path)?;
    let mut out = String::with_capacity(target.len() + path.len());
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(n)) => {
                chars.next();
                out.push_str(caps.get(n as usize).map_or("", |m| m.as_str()));
            }
            _ => out.push(c),
        }
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_string()))
            .collect()
    }

    #[test]
    fn annotations_as_ingress_nginx_reads_them() {
        let cases: &[(&[(&str, &str)], Options)] = &[
            (&[], Options::default()),
            (
                &[("rewrite-target", "/$2")],
                Options {
                    rewrite_target: Some("/$2".into()),
                    ..Options::default()
                },
            ),
            (
                &[("use-regex", "true"), ("ssl-redirect", "false")],
                Options {
                    use_regex: true,
                    ssl_redirect: false,
                    ..Options::default()
                },
            ),
            // unparseable values are the defaults
            (
                &[("use-regex", "yes"), ("ssl-redirect", "nope")],
                Options::default(),
            ),
            (
                &[("backend-protocol", "grpc"), ("proxy-body-size", "8m")],
                Options {
                    backend_protocol: BackendProtocol::Grpc,
                    max_body_size: Some(8 << 20),
                    ..Options::default()
                },
            ),
            (
                &[("backend-protocol", "HTTPS"), ("proxy-body-size", "0")],
                Options {
                    backend_protocol: BackendProtocol::Https,
                    max_body_size: None,
                    ..Options::default()
                },
            ),
            (
                &[("backend-protocol", "SMTP"), ("proxy-body-size", "8x")],
                Options::default(),
            ),
        ];
        for (given, want) in cases {
            assert_eq!(&parse(&ann(given)), want, "{given:?}");
        }
        assert!(parse(&ann(&[("rewrite-target", "/")])).regex_paths());
    }

    #[test]
    fn sizes_in_nginx_syntax() {
        for (text, want) in [
            ("1024", Some(1024)),
            ("1k", Some(1024)),
            ("1K", Some(1024)),
            ("2m", Some(2 << 20)),
            ("1g", Some(1 << 30)),
            ("0", Some(0)),
            ("m", None),
            ("1t", None),
            ("", None),
        ] {
            assert_eq!(parse_size(text), want, "{text}");
        }
    }

    #[test]
    fn rewrites_as_nginx() {
        let re = |p: &str| regex::Regex::new(&format!("(?i){p}")).unwrap();
        let something = re("/something(/|$)(.*)");
        for (path, query, want) in [
            ("/something", None, Some("/")),
            ("/something/", None, Some("/")),
            ("/something/new", None, Some("/new")),
            ("/SOMETHING/new", Some("a=1"), Some("/new?a=1")),
            ("/other", None, None),
        ] {
            assert_eq!(
                rewrite(&something, "/$2", path, query).as_deref(),
                want,
                "{path}"
            );
        }
        // no capture groups: the whole path becomes the target
        assert_eq!(
            rewrite(&re("/foo"), "/", "/foo/bar", None).as_deref(),
            Some("/")
        );
        assert_eq!(
            rewrite(&re("/foo"), "/x?y=1", "/foo", Some("z=2")).as_deref(),
            Some("/x?y=1&z=2")
        );
    }
}
