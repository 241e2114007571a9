//! The routing decision and the filters' arithmetic, table-driven.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use super::*;
use crate::routes::{Backend, Target};

fn backend(name: &str) -> Arc<Backend> {
    Arc::new(Backend::new(name, Target::Endpoints(Vec::new())))
}

fn rule(name: &str) -> Arc<Rule> {
    Arc::new(Rule::new(
        name.into(),
        0,
        Vec::new(),
        vec![(Some(backend(name)), 1)],
        false,
    ))
}

struct E {
    name: &'static str,
    host: Option<&'static str>,
    path: PathMatcher,
    method: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    query: &'static [(&'static str, &'static str)],
    created: i64,
}

fn e(name: &'static str, path: PathMatcher) -> E {
    E {
        name,
        host: None,
        path,
        method: None,
        headers: &[],
        query: &[],
        created: 0,
    }
}

fn prefix(p: &str) -> PathMatcher {
    PathMatcher::Prefix(p.into())
}

fn exact(p: &str) -> PathMatcher {
    PathMatcher::Exact(p.into())
}

fn table(entries: Vec<E>) -> Table {
    Table::new(
        entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| Entry {
                https: false,
                hostname: e.host.map(str::to_string),
                path: e.path,
                method: e.method.map(str::to_string),
                headers: e
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), ValueMatcher::Exact(v.to_string())))
                    .collect(),
                query: e
                    .query
                    .iter()
                    .map(|(n, v)| (n.to_string(), ValueMatcher::Exact(v.to_string())))
                    .collect(),
                rule: rule(e.name),
                order: (e.created, format!("default/{}", e.name), i),
            })
            .collect(),
    )
}

fn pick(
    t: &Table,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Option<String> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut map = hyper::HeaderMap::new();
    for (n, v) in headers {
        map.insert(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    t.route(&Request {
        https: false,
        host,
        method,
        path,
        query,
        headers: &map,
    })
    .map(|e| e.rule.route.clone())
}

#[test]
fn precedence_follows_the_spec() {
    let t = table(vec![
        e("root", prefix("/")),
        e("foo", prefix("/foo")),
        e("foo-exact", exact("/foo")),
        e("foo-bar", prefix("/foo/bar")),
        E {
            method: Some("POST"),
            ..e("foo-post", prefix("/foo"))
        },
        E {
            headers: &[("x-a", "1"), ("x-b", "2")],
            ..e("two-headers", prefix("/h"))
        },
        E {
            headers: &[("x-a", "1")],
            ..e("one-header", prefix("/h"))
        },
        E {
            query: &[("v", "1")],
            ..e("query", prefix("/h"))
        },
        E {
            host: Some("api.test"),
            ..e("api", prefix("/"))
        },
        E {
            host: Some("*.test"),
            ..e("wild", prefix("/"))
        },
        E {
            created: 10,
            ..e("newer", prefix("/same"))
        },
        E {
            created: 5,
            ..e("older", prefix("/same"))
        },
    ]);
    let cases: &[(&str, &str, &str, &[(&str, &str)], Option<&str>)] = &[
        // host, method, target, headers, winner
        ("x.other", "GET", "/foo", &[], Some("foo-exact")),
        ("x.other", "GET", "/foo/", &[], Some("foo")),
        ("x.other", "POST", "/foo/", &[], Some("foo-post")),
        ("x.other", "GET", "/foo/bar/baz", &[], Some("foo-bar")),
        ("x.other", "GET", "/foobar", &[], Some("root")),
        (
            "x.other",
            "GET",
            "/h",
            &[("x-a", "1"), ("x-b", "2")],
            Some("two-headers"),
        ),
        (
            "x.other",
            "GET",
            "/h?v=1",
            &[("x-a", "1")],
            Some("one-header"),
        ),
        ("x.other", "GET", "/h?v=1", &[], Some("query")),
        ("x.other", "GET", "/h?v=2", &[], Some("root")),
        ("api.test", "GET", "/foo", &[], Some("api")),
        ("API.test", "GET", "/", &[], Some("api")),
        ("deep.sub.test", "GET", "/", &[], Some("wild")),
        ("x.other", "GET", "/same", &[], Some("older")),
    ];
    for (host, method, target, headers, want) in cases {
        assert_eq!(
            pick(&t, host, method, target, headers).as_deref(),
            *want,
            "{host} {method} {target} {headers:?}"
        );
    }
}

#[test]
fn nothing_matches_without_a_catch_all() {
    let t = table(vec![e("only", exact("/only"))]);
    assert_eq!(pick(&t, "h", "GET", "/only", &[]).as_deref(), Some("only"));
    assert_eq!(pick(&t, "h", "GET", "/only/", &[]), None);
}

#[test]
fn weights_are_kept_exactly_and_invalid_backends_answer_500() {
    let r = Rule::new(
        "r".into(),
        0,
        Vec::new(),
        vec![
            (Some(backend("a")), 3),
            (Some(backend("b")), 1),
            (Some(backend("zero")), 0),
        ],
        false,
    );
    let names: Vec<String> = (0..8).map(|_| r.pick().unwrap().name.clone()).collect();
    assert_eq!(names.iter().filter(|n| *n == "a").count(), 6);
    assert_eq!(names.iter().filter(|n| *n == "b").count(), 2);
    let half_bad = Rule::new(
        "r".into(),
        0,
        Vec::new(),
        vec![(None, 1), (Some(backend("a")), 1)],
        false,
    );
    let picks: Vec<bool> = (0..4).map(|_| half_bad.pick().is_some()).collect();
    assert_eq!(picks, [false, true, false, true]);
    let none = Rule::new("r".into(), 0, Vec::new(), Vec::new(), false);
    assert!(none.pick().is_none());
}

#[test]
fn a_rebuilt_table_continues_each_splits_sequence() {
    let split = |first: u32| {
        let rule = Arc::new(Rule::new(
            "default/split".into(),
            0,
            Vec::new(),
            vec![(Some(backend("a")), first), (Some(backend("b")), 1)],
            false,
        ));
        Table::new(vec![Entry {
            https: false,
            hostname: None,
            path: PathMatcher::Prefix("/split".into()),
            method: None,
            headers: Vec::new(),
            query: Vec::new(),
            rule,
            order: (0, "default/split".into(), 0),
        }])
    };
    let name = |t: &Table| t.entries[0].rule.pick().unwrap().name.clone();
    let old = split(3);
    assert_eq!([name(&old), name(&old)], ["a", "a"]);
    let rebuilt = split(3);
    rebuilt.continue_from(&old);
    assert_eq!([name(&rebuilt), name(&rebuilt)], ["a", "b"]);
    // Other weights are another split: it starts from its beginning.
    let reweighted = split(1);
    reweighted.continue_from(&rebuilt);
    assert_eq!(name(&reweighted), "a");
}

#[test]
fn path_modifiers() {
    let full = PathModifier {
        type_: "ReplaceFullPath".into(),
        replace_full_path: Some("/x".into()),
        replace_prefix_match: None,
    };
    let prefix_to = |p: &str| PathModifier {
        type_: "ReplacePrefixMatch".into(),
        replace_full_path: None,
        replace_prefix_match: Some(p.into()),
    };
    let cases: &[(&PathModifier, &str, &str, &str)] = &[
        (&full, "/a/b", "/a", "/x"),
        (&prefix_to("/new"), "/old/page", "/old", "/new/page"),
        (&prefix_to("/new"), "/old", "/old", "/new"),
        (&prefix_to("/"), "/strip/a", "/strip", "/a"),
        (&prefix_to("/"), "/strip", "/strip", "/"),
        (&prefix_to("/new/"), "/old/", "/old/", "/new/"),
    ];
    for (m, path, matched, want) in cases {
        assert_eq!(
            modified_path(m, path, Some(matched)).as_deref(),
            Some(*want),
            "{path} matched {matched}"
        );
    }
}

#[test]
fn redirects() {
    let r = |scheme: Option<&str>, host: Option<&str>, port: Option<i32>, code: Option<i32>| {
        RequestRedirect {
            scheme: scheme.map(str::to_string),
            hostname: host.map(str::to_string),
            path: None,
            port,
            status_code: code,
        }
    };
    let cases: &[(RequestRedirect, u16, &str)] = &[
        // listener port 80, request http://a.test/p?q=1
        (
            r(Some("https"), None, None, None),
            302,
            "https://a.test/p?q=1",
        ),
        (
            r(None, Some("b.test"), None, Some(301)),
            301,
            "http://b.test/p?q=1",
        ),
        (
            r(None, None, Some(8080), None),
            302,
            "http://a.test:8080/p?q=1",
        ),
        (
            r(Some("https"), None, Some(8443), None),
            302,
            "https://a.test:8443/p?q=1",
        ),
    ];
    for (filter, code, location) in cases {
        assert_eq!(
            redirect(filter, "http", "a.test", 80, "/p", Some("q=1"), Some("/p")),
            (*code, location.to_string())
        );
    }
}

#[test]
fn header_modifiers() {
    let mut h = hyper::HeaderMap::new();
    h.insert("x-keep", "1".parse().unwrap());
    h.insert("x-set", "old".parse().unwrap());
    h.insert("x-drop", "1".parse().unwrap());
    modify_headers(
        &HeaderModifier {
            set: vec![super::super::types::HeaderValue {
                name: "X-Set".into(),
                value: "new".into(),
            }],
            add: vec![super::super::types::HeaderValue {
                name: "x-keep".into(),
                value: "2".into(),
            }],
            remove: vec!["X-Drop".into()],
        },
        &mut h,
    );
    assert_eq!(h.get("x-set").unwrap(), "new");
    assert_eq!(h.get_all("x-keep").iter().count(), 2);
    assert!(h.get("x-drop").is_none());
}

#[test]
fn query_parameters_are_decoded() {
    assert_eq!(
        parse_query(Some("a=1&b=x%20y&c=&d")),
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".into(), "x y".into()),
            ("c".into(), String::new()),
            ("d".into(), String::new()),
        ]
    );
}

#[test]
fn gateway_wildcards_cover_one_or_more_labels() {
    for (pattern, host, want) in [
        ("*.example.com", "a.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        ("a.example.com", "A.example.com", true),
    ] {
        assert_eq!(host_matches(pattern, host), want, "{pattern} {host}");
    }
}
