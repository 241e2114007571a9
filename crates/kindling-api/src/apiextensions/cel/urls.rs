//! upstream's URL library (k8s.io/apiserver/pkg/cel/library/urls.go): `url(string)` (an
//! absolute URI or an absolute path, as Go's `url.ParseRequestURI` accepts), `isURL`, and the
//! accessors `getScheme`, `getHost`, `getHostname`, `getPort`, `getEscapedPath`, `getQuery`.
//! Parsed here as Go's net/url splits a URL (no normalisation, unlike WHATWG parsers).

use super::{error, opaque_arg, ret, string_arg, values};
use ::cel::common::types::{Type, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::objects::Opaque;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

const URL_TYPE: &str = "kubernetes.URL";

/// A parsed URL: Go's url.URL fields that the accessors read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    raw: String,
    scheme: String,
    host: String,
    path: String,
    query: String,
}

impl Opaque for Url {
    fn runtime_type_name(&self) -> &str {
        URL_TYPE
    }
}

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    let url = || Type::new_opaque_type(URL_TYPE);
    env.add_overload("url", "string_to_url", vec![STRING_TYPE], to_url)?;
    env.add_overload("isURL", "is_url_string", vec![STRING_TYPE], is_url)?;
    env.add_member_overload("getScheme", "url_get_scheme", url(), vec![], |a| {
        part(a, "getScheme", |u| u.scheme.clone())
    })?;
    env.add_member_overload("getHost", "url_get_host", url(), vec![], |a| {
        part(a, "getHost", |u| u.host.clone())
    })?;
    env.add_member_overload("getHostname", "url_get_hostname", url(), vec![], |a| {
        part(a, "getHostname", |u| hostname(&u.host))
    })?;
    env.add_member_overload("getPort", "url_get_port", url(), vec![], |a| {
        part(a, "getPort", |u| port(&u.host))
    })?;
    env.add_member_overload(
        "getEscapedPath",
        "url_get_escaped_path",
        url(),
        vec![],
        |a| part(a, "getEscapedPath", |u| u.path.clone()),
    )?;
    env.add_member_overload("getQuery", "url_get_query", url(), vec![], get_query)?;
    env.add_overload("string", "url_to_string", vec![url()], |a| {
        part(a, "string", |u| u.raw.clone())
    })?;
    Ok(())
}

/// Go's `url.ParseRequestURI`, its errors worded as Go's.
pub fn parse_request_uri(s: &str) -> std::result::Result<Url, String> {
    let invalid = || {
        format!(
            "parse {}: invalid URI for request",
            crate::meta::go_quote(s)
        )
    };
    if s.is_empty() {
        return Err("parse \"\": empty url".to_string());
    }
    let (scheme, rest) = match s.find(':') {
        Some(i)
            if i > 0
                && s[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && s[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s[..i].to_ascii_lowercase(), &s[i + 1..])
        }
        Some(0) => {
            return Err(format!(
                "parse {}: missing protocol scheme",
                crate::meta::go_quote(s)
            ))
        }
        _ => (String::new(), s),
    };
    if scheme.is_empty() && !rest.starts_with('/') {
        return Err(invalid());
    }
    // The fragment is not part of a request URI, but `url.Parse` drops it for the accessors.
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = match before_query.strip_prefix("//") {
        Some(authority_and_path) => {
            let end = authority_and_path
                .find('/')
                .unwrap_or(authority_and_path.len());
            let authority = &authority_and_path[..end];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host.to_string(), authority_and_path[end..].to_string())
        }
        None if !scheme.is_empty() && !before_query.starts_with('/') => {
            (String::new(), String::new())
        }
        None => (String::new(), before_query.to_string()),
    };
    Ok(Url {
        raw: s.to_string(),
        scheme,
        host,
        path,
        query: query.to_string(),
    })
}

fn hostname(host: &str) -> String {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or_default().to_string();
    }
    host.split(':').next().unwrap_or_default().to_string()
}

fn port(host: &str) -> String {
    let after = match host.rfind(']') {
        Some(i) => &host[i + 1..],
        None => host,
    };
    match after.rsplit_once(':') {
        Some((_, p)) if p.chars().all(|c| c.is_ascii_digit()) => p.to_string(),
        _ => String::new(),
    }
}

fn to_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "url")?;
    let url = parse_request_uri(&s).map_err(|e| {
        error(format!(
            "URL parse error during conversion from string: {e}"
        ))
    })?;
    ret(Value::Opaque(Arc::new(url)))
}

fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "isURL")?;
    ret(Value::Bool(parse_request_uri(&s).is_ok()))
}

fn part<'b, 'v>(args: Vec<CowVal<'b, 'v>>, name: &str, f: fn(&Url) -> String) -> Result<'b, 'v> {
    let args = values(&args)?;
    let url = opaque_arg::<Url>(&args, 0, name)?;
    ret(Value::String(Arc::new(f(url))))
}

fn get_query<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let url = opaque_arg::<Url>(&args, 0, "getQuery")?;
    let mut params: HashMap<String, Vec<Value>> = HashMap::new();
    for pair in url.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params
            .entry(unescape(k))
            .or_default()
            .push(Value::String(Arc::new(unescape(v))));
    }
    let map: HashMap<String, Value> = params
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    ret(Value::from(map))
}

/// Query unescaping: `+` is a space, `%XX` a byte.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
