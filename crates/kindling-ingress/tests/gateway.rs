//! The Gateway API end to end in process: a real API server on 127.0.0.1 with kindling's
//! Gateway API CRDs, the ingress controller (proxy + watch loop) on loopback ports, and
//! loopback backends standing in for pods (Services and EndpointSlices made by hand). Checks
//! the statuses the controller writes and the requests the proxy routes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const GROUP: &str = "gateway.networking.k8s.io";

/// A backend answering `<name> <path?query> added=<x-added header>`.
async fn backend(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        let added = req
                            .headers()
                            .get("x-added")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string();
                        let body = format!(
                            "{name} {} added={added} host={}",
                            req.uri().path_and_query().unwrap(),
                            req.headers()
                                .get("host")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-")
                        );
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// One HTTP/1.1 request over a new connection: (status, headers text, body).
async fn get(port: u16, host: &str, target: &str, extra: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn resource(kind: &str, plural: &str, version: &str) -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: version.into(),
        api_version: format!("{GROUP}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

async fn create(client: &kube::Client, ns: Option<&str>, ar: &ApiResource, obj: Value) {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let obj: DynamicObject = serde_json::from_value(obj).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

async fn apply_core(client: &kube::Client, obj: Value) {
    let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
    let (group, version) = match obj["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            obj["apiVersion"].as_str().unwrap().to_string(),
        ),
    };
    let kind = obj["kind"].as_str().unwrap().to_string();
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let ar = ApiResource {
        group: group.clone(),
        version: version.clone(),
        api_version: obj["apiVersion"].as_str().unwrap().into(),
        kind,
        plural,
    };
    let api: Api<DynamicObject> = match &ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let obj: DynamicObject = serde_json::from_value(obj).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

/// A Service `name` in `ns` on port 80 whose one endpoint is 127.0.0.1:`port`.
async fn service(client: &kube::Client, ns: &str, name: &str, port: u16) {
    apply_core(
        client,
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns},
               "spec": {"ports": [{"port": 80, "targetPort": port}]}}),
    )
    .await;
    apply_core(
        client,
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": name, "namespace": ns,
                            "labels": {"kubernetes.io/service-name": name}},
               "addressType": "IPv4",
               "ports": [{"port": port, "protocol": "TCP"}],
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]}),
    )
    .await;
}

/// Waits until `check` holds for the object's JSON (bounded).
async fn eventually(
    client: &kube::Client,
    ar: &ApiResource,
    ns: Option<&str>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if check(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition<'a>(conds: &'a Value, type_: &str) -> &'a Value {
    conds
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

/// Retries a request until the proxy's table has it (a new table applies within ms).
async fn until_status(
    port: u16,
    host: &str,
    target: &str,
    extra: &str,
    status: u16,
) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(port, host, target, extra).await;
        if got.0 == status {
            return got;
        }
        assert!(Instant::now() < deadline, "{target}: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn gateway_api_in_process() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
            .await
            .unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();

        // The CRDs, accepted and Established, and the class.
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in kindling_ingress::gateway::crds::all() {
            let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
            crds.create(&PostParams::default(), &crd).await.unwrap();
        }
        let gc = resource("GatewayClass", "gatewayclasses", "v1");
        let gw = resource("Gateway", "gateways", "v1");
        let hr = resource("HTTPRoute", "httproutes", "v1");
        let rg = resource("ReferenceGrant", "referencegrants", "v1beta1");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &gc);
            if api.list(&Default::default()).await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "GatewayClasses not served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        create(&client, None, &gc, kindling_ingress::gateway::default_class()).await;
        // Before any controller: the CRD's default status (Accepted Unknown, Pending).
        let class = eventually(&client, &gc, None, "kindling", "default status", |_| true).await;
        assert_eq!(condition(&class["status"]["conditions"], "Accepted")["reason"], "Pending");

        // The controller on loopback.
        let cfg = kindling_ingress::Config {
            node_name: "test".into(),
            http: "127.0.0.1:0".parse().unwrap(),
            https: "127.0.0.1:0".parse().unwrap(),
            status_address: "127.0.0.1".into(),
        };
        let (running, published, default_cert) = kindling_ingress::serve(&cfg).await.unwrap();
        let port = running.http.port();
        let recorder = kindling_events::Recorder::spawn(
            client.clone(),
            kindling_events::Reporter {
                component: "test".into(),
                host: None,
                instance: "test".into(),
            },
            1,
        );
        tokio::spawn(kindling_ingress::watch::run(
            client.clone(),
            published,
            default_cert,
            kindling_ingress::watch::Reporting {
                recorder,
                status_address: "127.0.0.1".into(),
                http_port: port,
                https_port: running.https.port(),
            },
        ));
        let class = eventually(&client, &gc, None, "kindling", "class Accepted", |v| {
            condition(&v["status"]["conditions"], "Accepted")["status"] == "True"
        })
        .await;
        assert_eq!(condition(&class["status"]["conditions"], "Accepted")["reason"], "Accepted");

        let (one, two) = (backend("one").await, backend("two").await);
        service(&client, "default", "one", one).await;
        service(&client, "default", "two", two).await;
        apply_core(&client, json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "other", "labels": {"team": "other"}}})).await;

        create(&client, Some("default"), &gw, json!({
            "apiVersion": format!("{GROUP}/v1"), "kind": "Gateway",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"gatewayClassName": "kindling", "listeners": [
                {"name": "http", "port": port, "protocol": "HTTP"},
                {"name": "shared", "port": port, "protocol": "HTTP", "hostname": "shared.test",
                 "allowedRoutes": {"namespaces": {"from": "Selector",
                                   "selector": {"matchLabels": {"team": "other"}}}}},
                {"name": "elsewhere", "port": 8081, "protocol": "HTTP", "hostname": "x.test"},
            ]},
        })).await;
        create(&client, Some("default"), &hr, json!({
            "apiVersion": format!("{GROUP}/v1"), "kind": "HTTPRoute",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {
                "parentRefs": [{"name": "web", "sectionName": "http"}],
                "rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/app"}}],
                     "filters": [
                        {"type": "RequestHeaderModifier",
                         "requestHeaderModifier": {"set": [{"name": "X-Added", "value": "yes"}]}},
                        {"type": "ResponseHeaderModifier",
                         "responseHeaderModifier": {"add": [{"name": "X-Served-By", "value": "kindling"}]}}],
                     "backendRefs": [{"name": "one", "port": 80}]},
                    {"matches": [{"path": {"type": "Exact", "value": "/app/exact"},
                                  "headers": [{"name": "x-variant", "value": "two"}]}],
                     "backendRefs": [{"name": "two", "port": 80}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/split"}}],
                     "backendRefs": [{"name": "one", "port": 80, "weight": 80},
                                     {"name": "two", "port": 80, "weight": 20}]},
                    {"matches": [{"path": {"type": "RegularExpression", "value": "/re/[0-9]+"},
                                  "queryParams": [{"name": "v", "value": "2"}], "method": "GET"}],
                     "filters": [{"type": "URLRewrite", "urlRewrite": {
                         "hostname": "rewritten.test",
                         "path": {"type": "ReplaceFullPath", "replaceFullPath": "/full"}}}],
                     "backendRefs": [{"name": "two", "port": 80}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
                     "filters": [{"type": "RequestRedirect", "requestRedirect": {
                         "scheme": "https", "hostname": "new.test", "statusCode": 301,
                         "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/strip"}}],
                     "filters": [{"type": "URLRewrite", "urlRewrite": {
                         "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                     "backendRefs": [{"name": "one", "port": 80}]},
                ],
            },
        })).await;

        // Status: the Gateway programmed, its listeners judged, the route accepted.
        let gateway = eventually(&client, &gw, Some("default"), "web", "gateway status", |v| {
            condition(&v["status"]["conditions"], "Programmed")["status"] == "True"
                && v["status"]["listeners"][0]["attachedRoutes"] == 1
        })
        .await;
        let status = &gateway["status"];
        assert_eq!(status["addresses"], json!([{"type": "IPAddress", "value": "127.0.0.1"}]));
        assert_eq!(condition(&status["conditions"], "Accepted")["reason"], "ListenersNotValid");
        let elsewhere = &status["listeners"][2];
        assert_eq!(condition(&elsewhere["conditions"], "Accepted")["reason"], "PortUnavailable");
        assert_eq!(condition(&elsewhere["conditions"], "Programmed")["status"], "False");
        assert_eq!(
            status["listeners"][0]["supportedKinds"],
            json!([{"group": GROUP, "kind": "HTTPRoute"}, {"group": GROUP, "kind": "GRPCRoute"}])
        );
        let route = eventually(&client, &hr, Some("default"), "app", "route status", |v| {
            v["status"]["parents"].as_array().is_some_and(|p| !p.is_empty())
        })
        .await;
        let parent = &route["status"]["parents"][0];
        assert_eq!(parent["controllerName"], "kindling.dev/gateway-controller");
        assert_eq!(condition(&parent["conditions"], "Accepted")["status"], "True");
        assert_eq!(condition(&parent["conditions"], "ResolvedRefs")["reason"], "ResolvedRefs");

        // Routing: prefix + header filters, exact + header match precedence.
        let (code, head, body) = until_status(port, "any.test", "/app/x", "", 200).await;
        assert_eq!((code, body.as_str()), (200, "one /app/x added=yes host=any.test"));
        assert!(head.contains("x-served-by: kindling"), "{head}");
        let (_, _, body) = get(port, "any.test", "/app/exact", "x-variant: two\r\n").await;
        assert!(body.starts_with("two /app/exact"), "{body}");
        let (_, _, body) = get(port, "any.test", "/app/exact", "").await;
        assert!(body.starts_with("one /app/exact"), "{body}");
        let (_, _, body) = get(port, "any.test", "/application", "").await;
        assert!(body.contains("no rule"), "PathPrefix matches whole segments: {body}");
        // Regular expression + query + method, rewritten path and host.
        let (_, _, body) = get(port, "any.test", "/re/42?v=2", "").await;
        assert_eq!(body, "two /full?v=2 added=- host=rewritten.test");
        let (code, _, _) = get(port, "any.test", "/re/42?v=3", "").await;
        assert_eq!(code, 404);
        // Redirect and prefix rewrite.
        let (code, head, _) = get(port, "any.test", "/old/page?q=1", "").await;
        assert_eq!(code, 301);
        assert!(head.contains("location: https://new.test/new/page?q=1"), "{head}");
        let (_, _, body) = get(port, "any.test", "/strip/a/b", "").await;
        assert!(body.starts_with("one /a/b "), "{body}");
        // Weights: exactly 80/20 over 100 requests.
        let mut ones = 0;
        for _ in 0..100 {
            let (_, _, body) = get(port, "any.test", "/split", "").await;
            if body.starts_with("one ") {
                ones += 1;
            }
        }
        assert_eq!(ones, 80);

        // Another namespace: refused by a listener's allowedRoutes; a Service across
        // namespaces refused without a ReferenceGrant, then allowed with one.
        create(&client, Some("other"), &hr, json!({
            "apiVersion": format!("{GROUP}/v1"), "kind": "HTTPRoute",
            "metadata": {"name": "cross", "namespace": "other"},
            "spec": {"parentRefs": [{"name": "web", "namespace": "default", "sectionName": "http"},
                                    {"name": "web", "namespace": "default", "sectionName": "shared"}],
                     "rules": [{"backendRefs": [{"name": "two", "namespace": "default", "port": 80}]}]},
        })).await;
        let route = eventually(&client, &hr, Some("other"), "cross", "cross status", |v| {
            v["status"]["parents"].as_array().is_some_and(|p| p.len() == 2)
        })
        .await;
        let parents = &route["status"]["parents"];
        assert_eq!(condition(&parents[0]["conditions"], "Accepted")["reason"], "NotAllowedByListeners");
        assert_eq!(condition(&parents[1]["conditions"], "Accepted")["status"], "True");
        assert_eq!(condition(&parents[1]["conditions"], "ResolvedRefs")["reason"], "RefNotPermitted");
        let (code, _, body) = until_status(port, "shared.test", "/", "", 500).await;
        assert_eq!(code, 500, "{body}");
        create(&client, Some("default"), &rg, json!({
            "apiVersion": format!("{GROUP}/v1beta1"), "kind": "ReferenceGrant",
            "metadata": {"name": "from-other", "namespace": "default"},
            "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "other"}],
                     "to": [{"group": "", "kind": "Service"}]},
        })).await;
        eventually(&client, &hr, Some("other"), "cross", "granted", |v| {
            condition(&v["status"]["parents"][1]["conditions"], "ResolvedRefs")["status"] == "True"
        })
        .await;
        let (_, _, body) = until_status(port, "shared.test", "/", "", 200).await;
        assert!(body.starts_with("two / "), "{body}");

        // Bad input: a PathPrefix not starting with '/' is refused by the CRD's CEL rule.
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &hr);
        let bad: DynamicObject = serde_json::from_value(json!({
            "apiVersion": format!("{GROUP}/v1"), "kind": "HTTPRoute",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "nope"}}]}]},
        }))
        .unwrap();
        match api.create(&PostParams::default(), &bad).await {
            Err(kube::Error::Api(e)) => {
                assert_eq!(e.code, 422, "{e:?}");
                assert!(e.message.contains("value must be an absolute path"), "{}", e.message);
            }
            other => panic!("accepted: {other:?}"),
        }

        // A change of spec re-judges: the route moved to a listener that does not exist.
        api.patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"parentRefs": [{"name": "web", "sectionName": "nope"}]}})),
        )
        .await
        .unwrap();
        eventually(&client, &hr, Some("default"), "app", "no matching parent", |v| {
            condition(&v["status"]["parents"][0]["conditions"], "Accepted")["reason"] == "NoMatchingParent"
        })
        .await;
        until_status(port, "any.test", "/app/x", "", 404).await;
        drop(server);
    });
}
