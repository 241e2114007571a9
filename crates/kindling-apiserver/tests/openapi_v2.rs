//! `/openapi/v2` with the real kubectl: what kubectl reads when /openapi/v3 does not answer its
//! question (a `kind: List` file, a create-only kind such as Binding) and what `kubectl explain`
//! reads; the document's JSON, protobuf, gzip and ETag answers as kube-apiserver's.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use std::io::Read;

common::kubectl_tests!(
    create_a_list_file,
    strict_validation_of_a_list_catches_unknown_fields,
    create_a_binding_passes_the_crd_check,
    explain_still_works,
);

const LIST: &str = "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: listed-a
  data:
    k: v
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: listed-b
  spec:
    selector:
      matchLabels: {app: b}
    template:
      metadata:
        labels: {app: b}
      spec:
        containers:
        - name: c
          image: busybox
";

/// `kubectl create -f list.yaml` of a `kind: List`: kubectl finds no List in /openapi/v3 and
/// validates each item against /openapi/v2's models.
fn create_a_list_file(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.kubectl_stdin(&["create", "-f", "-"], LIST);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("configmap/listed-a created"), "{stdout}");
    assert!(
        stdout.contains("deployment.apps/listed-b created"),
        "{stdout}"
    );
    s.ok(&["get", "configmap", "listed-a"]);
}

/// Client-side validation of the List's items uses the v2 models: an unknown field is refused
/// the way kubectl refuses it against kube-apiserver.
fn strict_validation_of_a_list_catches_unknown_fields(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let bad = LIST.replace("    k: v\n", "    k: v\n  datax: {}\n");
    let err = text(&s.kubectl_stdin(&["create", "-f", "-"], &bad).stderr);
    assert!(err.contains("unknown field \"datax\""), "{err}");
    assert!(s
        .fails(&["get", "configmap", "listed-a"])
        .contains("NotFound"));
}

/// A Binding (POST only: no PATCH path for kubectl to find in /openapi/v3 or v2). kubectl now
/// reads /openapi/v2 and, as against kube-apiserver, then lists CustomResourceDefinitions to
/// know whether Binding is a custom kind; it is not, and the create goes through with strict
/// validation as with none.
fn create_a_binding_passes_the_crd_check(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(
        "apiVersion: v1
kind: Node
metadata:
  name: n1
",
    );
    s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  schedulerName: nobody
  containers:
  - name: c
    image: busybox
",
    );
    let binding = "apiVersion: v1
kind: Binding
metadata:
  name: p
target:
  apiVersion: v1
  kind: Node
  name: n1
";
    let out = s.kubectl_stdin(&["create", "--validate=strict", "-f", "-"], binding);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        s.ok(&["get", "pod", "p", "-o", "jsonpath={.spec.nodeName}"]),
        "n1"
    );
}

fn explain_still_works(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.ok(&["explain", "pods.spec.containers.image"]);
    assert!(out.contains("FIELD: image <string>"), "{out}");
    let out = s.ok(&["explain", "deployments.spec.strategy"]);
    assert!(out.contains("rollingUpdate"), "{out}");
    // the v2 printer reads /openapi/v2 (protobuf)
    let out = s.ok(&[
        "explain",
        "--output=plaintext-openapiv2",
        "pods.spec.containers.ports",
    ]);
    assert!(out.contains("containerPort"), "{out}");
}

async fn get(client: &kube::Client, headers: &[(&str, &str)]) -> (u16, http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let mut req = http::Request::builder().method("GET").uri("/openapi/v2");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Vec::new()).unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (code, headers, body)
}

/// The HTTP answers of kube-apiserver's handler: JSON unless protobuf is asked for, one ETag for
/// both, 304 on If-None-Match, gzip when taken, 406 for anything else.
#[test]
fn json_protobuf_gzip_and_etag_as_upstream() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig = kube::config::Kubeconfig::read_from(&s.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();

        let (code, h, body) = get(&client, &[]).await;
        assert_eq!(code, 200);
        assert_eq!(h["content-type"], "application/json");
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        assert!(doc["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 130, "{etag}");

        let accept = (
            "Accept",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        );
        let (code, h, proto) = get(&client, &[accept]).await;
        assert_eq!(code, 200);
        assert_eq!(
            h["content-type"],
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        );
        assert_eq!(h["etag"].to_str().unwrap(), etag);
        // Document.swagger (field 1) = "2.0" comes first
        assert_eq!(&proto[..5], &[0x0a, 3, b'2', b'.', b'0']);

        let (code, h, gz) = get(&client, &[accept, ("Accept-Encoding", "gzip")]).await;
        assert_eq!(code, 200);
        assert_eq!(h["content-encoding"], "gzip");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, proto);

        let (code, h, body) = get(&client, &[accept, ("If-None-Match", &etag)]).await;
        assert_eq!(code, 304);
        assert!(body.is_empty());
        assert_eq!(h["etag"].to_str().unwrap(), etag);

        let (code, _, _) = get(&client, &[("Accept", "text/html")]).await;
        assert_eq!(code, 406);
    });
}
