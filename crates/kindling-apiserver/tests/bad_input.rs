//! Bad requests get the right Status (code, reason, causes), never a 500 or a panic.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::TestServer;
use kube::Client;

async fn admin(s: &TestServer) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(&s.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Sends a raw request; returns (status code, parsed body).
async fn send(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
        .body(body)
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let bytes = http_body_util_collect(resp).await;
    (
        code,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn http_body_util_collect(resp: http::Response<kube::client::Body>) -> Vec<u8> {
    use http_body_util::BodyExt;
    resp.into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

fn assert_status(got: &(u16, serde_json::Value), code: u16, reason: &str, message_part: &str) {
    assert_eq!(got.0, code, "{}", got.1);
    assert_eq!(got.1["kind"], "Status", "{}", got.1);
    assert_eq!(got.1["reason"], reason, "{}", got.1);
    let msg = got.1["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(message_part),
        "message {msg:?} lacks {message_part:?}"
    );
}

const CM: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn malformed_bodies() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let got = send(&c, "POST", CM, "application/json", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"na"#.to_vec()).await;
        assert_status(&got, 400, "BadRequest", "");
        let got = send(&c, "POST", CM, "application/json", b"[1,2,3]".to_vec()).await;
        assert_status(&got, 400, "BadRequest", "");
        let got = send(&c, "POST", CM, "application/yaml", b"a: [unclosed".to_vec()).await;
        assert_status(&got, 400, "BadRequest", "");
        let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#.to_vec();
        let got = send(&c, "POST", CM, "application/json", pod).await;
        assert_status(&got, 400, "BadRequest", "Pod in version \"v1\" cannot be handled as a ConfigMap");
        let typed = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":"three"}}"#.to_vec();
        let got = send(&c, "POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", typed).await;
        assert_status(&got, 400, "BadRequest", "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
        let got = send(&c, "POST", CM, "text/plain", b"hello".to_vec()).await;
        assert_status(&got, 415, "UnsupportedMediaType", "");
    });
}

/// Bodies kube-apiserver's serializer refuses get its answers, word for word (issue 11, item
/// 13): each message here is what kube-apiserver v1.35 says for the same request.
#[test]
fn request_bodies_are_decoded_as_upstreams_serializer() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        const NS: &str = "/api/v1/namespaces";
        let yaml = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-yaml\n".to_vec();
        let cases: Vec<(&str, &str, &str, Vec<u8>, &str)> = vec![
            ("POST", NS, "application/json", yaml.clone(),
             "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a2076310a6b696e643a204e616d657370616365 ...)"),
            ("POST", NS, "application/json", Vec::new(),
             "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)"),
            ("POST", NS, "application/json", br#"{"metadata":{"name":"x"}"#.to_vec(),
             "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"metadata\":{\"name\":\"x\"})"),
            ("POST", NS, "application/json", br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
             "ConfigMap in version \"v1\" cannot be handled as a Namespace: converting (v1.ConfigMap) to (core.Namespace): unknown conversion"),
            ("POST", NS, "application/json", br#"{"apiVersion":"v2","kind":"Namespace","metadata":{"name":"x"}}"#.to_vec(),
             "Namespace in version \"v2\" cannot be handled as a Namespace: no kind \"Namespace\" is registered for version \"v2\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""),
            ("POST", NS, "application/json", br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","labels":{"a":1}}}"#.to_vec(),
             "Namespace in version \"v1\" cannot be handled as a Namespace: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
            ("PUT", "/api/v1/namespaces/default", "application/json", br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"},"spec":{"finalizers":"kubernetes"}}"#.to_vec(),
             "Namespace in version \"v1\" cannot be handled as a Namespace: json: cannot unmarshal string into Go struct field NamespaceSpec.spec.finalizers of type []v1.FinalizerName"),
            ("POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", "application/json",
             br#"{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"}}"#.to_vec(),
             "the API version in the data (autoscaling/v1) does not match the expected API version (autoscaling/v2)"),
            ("POST", "/api/v1/namespaces/default/secrets", "application/json",
             br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"not base64!"}}"#.to_vec(),
             "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3"),
        ];
        for (method, path, content_type, body, want) in cases {
            let got = send(&c, method, path, content_type, body).await;
            assert_eq!(got.0, 400, "{method} {path}: {}", got.1);
            assert_eq!(got.1["reason"], "BadRequest", "{}", got.1);
            assert_eq!(got.1["message"], want, "{method} {path}");
        }
        // The same YAML as YAML is fine; an empty YAML body is an object without a name.
        let got = send(&c, "POST", NS, "application/yaml", yaml).await;
        assert_eq!(got.0, 201, "{}", got.1);
        let got = send(&c, "POST", NS, "application/yaml", Vec::new()).await;
        assert_status(&got, 422, "Invalid", "metadata.name: Required value");
    });
}

#[test]
fn oversized_body_is_413() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let big = "x".repeat(5 * 1024 * 1024);
        let body = serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a": big}});
        let got = send(&c, "POST", CM, "application/json", serde_json::to_vec(&body).unwrap()).await;
        assert_status(&got, 413, "RequestEntityTooLarge", "");
        let got = send(&c, "GET", &format!("{CM}/big"), "application/json", vec![]).await;
        assert_eq!(got.0, 404);
    });
}

#[test]
fn invalid_objects_are_422_with_causes() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}"#.to_vec();
        let got = send(&c, "POST", CM, "application/json", body).await;
        assert_status(&got, 422, "Invalid", "ConfigMap \"Not_Valid\" is invalid: metadata.name");
        assert_eq!(got.1["details"]["causes"][0]["field"], "metadata.name");
        let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}}"#.to_vec();
        let got = send(&c, "POST", CM, "application/json", body).await;
        assert_status(&got, 400, "BadRequest", "does not match the namespace");
        let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec();
        let got = send(&c, "POST", "/api/v1/namespaces/nope/configmaps", "application/json", body).await;
        assert_status(&got, 404, "NotFound", "namespaces \"nope\" not found");
    });
}

#[test]
fn bad_queries_and_paths() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let got = send(
            &c,
            "GET",
            &format!("{CM}?labelSelector=a%20in%20(b"),
            "application/json",
            vec![],
        )
        .await;
        assert_status(&got, 400, "BadRequest", "");
        let got = send(
            &c,
            "GET",
            &format!("{CM}?fieldSelector=spec.nope%3Dx"),
            "application/json",
            vec![],
        )
        .await;
        assert_status(&got, 400, "BadRequest", "");
        let got = send(
            &c,
            "GET",
            &format!("{CM}?continue=bm90LWEtdG9rZW4"),
            "application/json",
            vec![],
        )
        .await;
        assert_status(&got, 400, "BadRequest", "continue");
        let got = send(
            &c,
            "GET",
            "/api/v1/namespaces/default/widgets",
            "application/json",
            vec![],
        )
        .await;
        assert_status(&got, 404, "NotFound", "");
        let got = send(&c, "PUT", CM, "application/json", b"{}".to_vec()).await;
        assert_status(&got, 405, "MethodNotAllowed", "");
        let got = send(
            &c,
            "POST",
            &format!("{CM}?dryRun=Maybe"),
            "application/json",
            b"{}".to_vec(),
        )
        .await;
        assert_status(&got, 400, "BadRequest", "dryRun");
    });
}

#[test]
fn anonymous_requests_reach_only_public_paths() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = kube::Config::new(format!("https://{}", s.address).parse().unwrap());
        config.accept_invalid_certs = true;
        let anon = Client::try_from(config).unwrap();
        let got = send(
            &anon,
            "GET",
            "/api/v1/namespaces",
            "application/json",
            vec![],
        )
        .await;
        // Anonymous requests are authenticated as system:anonymous and denied by RBAC, as
        // kube-apiserver's with --anonymous-auth (kubeadm's default).
        assert_status(
            &got,
            403,
            "Forbidden",
            "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope",
        );
        let got = send(&anon, "GET", "/api", "application/json", vec![]).await;
        assert_status(
            &got,
            403,
            "Forbidden",
            "forbidden: User \"system:anonymous\" cannot get path \"/api\"",
        );
        let got = send(&anon, "GET", "/version", "application/json", vec![]).await;
        assert_eq!(got.0, 200);
        assert_eq!(got.1["gitVersion"], kindling_apiserver::KUBERNETES_VERSION);
        let req = http::Request::builder()
            .uri("/healthz")
            .body(kube::client::Body::empty())
            .unwrap();
        let resp = anon.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
    });
}

#[test]
fn compacted_revisions_are_410_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.retain_revisions = 20;
    let s = TestServer::start_with(dir, config);
    s.runtime().block_on(async {
        let c = admin(&s).await;
        // A paged list's continue token pins an old revision...
        for i in 0..5 {
            let body = serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name": format!("c{i}")}});
            send(&c, "POST", CM, "application/json", serde_json::to_vec(&body).unwrap()).await;
        }
        let page = send(&c, "GET", &format!("{CM}?limit=2"), "application/json", vec![]).await;
        let token = page.1["metadata"]["continue"].as_str().unwrap().to_string();
        // ...which compaction then forgets.
        for i in 0..60 {
            let body = serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name": format!("x{i}")}});
            send(&c, "POST", CM, "application/json", serde_json::to_vec(&body).unwrap()).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let got = send(&c, "GET", &format!("{CM}?limit=2&continue={token}"), "application/json", vec![]).await;
        assert_status(&got, 410, "Expired", "continue parameter is too old");
        // A watch from a compacted revision ends with an ERROR event carrying 410.
        let req = http::Request::builder().uri(format!("{CM}?watch=1&resourceVersion=2&timeoutSeconds=2")).body(kube::client::Body::empty()).unwrap();
        let resp = c.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = http_body_util_collect(resp).await;
        let first: serde_json::Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert_eq!(first["type"], "ERROR", "{first}");
        assert_eq!(first["object"]["code"], 410);
    });
}

/// The bytes of a Status and of a discovery entry are upstream's: clients compare them
/// (issue 11, item 4).
#[test]
fn status_bodies_and_discovery_entries_are_upstreams_bytes() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let req = http::Request::builder()
            .uri("/api/v1/namespaces/default/pods/nope")
            .body(Vec::new())
            .unwrap();
        let resp = c.send(req.map(kube::client::Body::from)).await.unwrap();
        let body = http_body_util_collect(resp).await;
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"kind\":\"pods\"},\"code\":404}\n"
        );
        let (code, v1) = send(&c, "GET", "/api/v1", "application/json", vec![]).await;
        assert_eq!(code, 200);
        let entry = |name: &str| {
            v1["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .cloned()
                .unwrap()
        };
        // Upstream's hashes: base64(sha256("<group>/<version>/<kind>")[..8]).
        assert_eq!(entry("pods")["storageVersionHash"], "xPOwRZ+Yhw8=");
        assert_eq!(entry("configmaps")["storageVersionHash"], "qFsyl6wFWjQ=");
        assert_eq!(entry("pods")["categories"], serde_json::json!(["all"]));
        let configmaps = entry("configmaps");
        assert!(configmaps.get("categories").is_none(), "{configmaps}");
        let bindings = entry("bindings");
        assert!(bindings.get("storageVersionHash").is_none(), "{bindings}");
        assert!(bindings.get("shortNames").is_none(), "{bindings}");
    });
}

/// Objects and lists come back in upstream's field order (issue 11, item 20): `kind`,
/// `apiVersion`, `metadata` (in ObjectMeta's order), then the rest in struct order — for
/// objects the server made itself, for objects a client wrote in another order, and for LIST
/// bodies, whose metadata precedes the items.
#[test]
fn objects_and_lists_are_in_upstreams_field_order() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = admin(&s).await;
        let raw = |path: &'static str| {
            let c = c.clone();
            async move {
                let req = http::Request::builder().uri(path).body(Vec::new()).unwrap();
                let resp = c.send(req.map(kube::client::Body::from)).await.unwrap();
                String::from_utf8(http_body_util_collect(resp).await).unwrap()
            }
        };
        let service = raw("/api/v1/namespaces/default/services/kubernetes").await;
        assert!(
            service.starts_with(
                "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\",\"uid\":"
            ),
            "{service}"
        );
        let rv_then_created = service.find("\"resourceVersion\"").unwrap()
            < service.find("\"creationTimestamp\"").unwrap();
        assert!(rv_then_created, "{service}");
        // Written backwards by the client.
        let body = br#"{"data":{"k":"v"},"metadata":{"labels":{"z":"1"},"name":"backwards"},"apiVersion":"v1","kind":"ConfigMap"}"#.to_vec();
        let got = send(&c, "POST", CM, "application/json", body).await;
        assert_eq!(got.0, 201);
        let created: Vec<&String> = got.1.as_object().unwrap().keys().collect();
        assert_eq!(created, ["kind", "apiVersion", "metadata", "data"]);
        let list = raw(CM).await;
        assert!(
            list.starts_with(
                "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
            ),
            "{list}"
        );
        assert!(
            list.contains("\"items\":[{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"backwards\",\"namespace\":\"default\",\"uid\":"),
            "{list}"
        );
        assert!(list.ends_with("]}\n"), "{list}");
        // A limited list: its continue token, still before the items.
        let page = raw("/api/v1/namespaces?limit=1").await;
        let meta_at = page.find("\"continue\"").unwrap_or(usize::MAX);
        assert!(meta_at < page.find("\"items\"").unwrap(), "{page}");
    });
}
