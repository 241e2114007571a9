//! End to end, with Docker: traffic from the host (REQUIREMENTS.md S5, issue 15). One cluster,
//! a control plane labelled `ingress-ready=true` by kind's InitConfiguration patch with
//! extraPortMappings for 80 and 443 (to free host ports), and kind's ingress `usage.yaml`
//! exactly (http-echo stand-ins `foo-app`/`bar-app`, their Services, `example-ingress`).
//! The config also has kindling's `ingressLoadBalancer` line (a balancer container on two more
//! host ports in front of the ingress node's 80/443).
//! Checked from the host with curl and openssl: `/foo` → foo, `/bar` → bar; the controller's
//! mirror pod, the default IngressClass and the Ingress's class and address as kubectl shows
//! them; a host rule; TLS from a `kubernetes.io/tls` Secret by SNI over HTTP/2 and the
//! ssl-redirect; a WebSocket-style upgrade passed through; rewrite-target with capture groups; a
//! backend change followed within 1 s; bad input (a path invalid for its pathType is a 422, a
//! missing Service a 503 while the rest keeps working, a bad TLS Secret an Event and the default
//! certificate). Then LoadBalancer Services: `kubectl expose deployment web
//! --type=LoadBalancer --port=80` gets an EXTERNAL-IP within 2 s that answers from the host, and
//! its balancer container goes with the Service. A GRPCRoute routes grpc.health.v1 calls from
//! the host by method to two `kindling/testserver` backends, and a UDP LoadBalancer port echoes
//! a datagram from the host (EXTERNAL-IP, then 127.0.0.1). Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1` and is
//! skipped with a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{docker_available, ok, runtime, text, unique, Env};
use kindling_image::TestImage;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const NODE_IMAGE: &str = "kindling/node:e2e-ingress";
const HTTP_ECHO: &str = "hashicorp/http-echo:0.2.3";
const BUSYBOX: &str = "busybox:latest";
const TESTSERVER: &str = kindling_image::TESTSERVER_IMAGE;

/// kind's ingress guide's usage.yaml (the http-echo version), as it is.
const USAGE_YAML: &str = r#"kind: Pod
apiVersion: v1
metadata:
  name: foo-app
  labels:
    app: foo
spec:
  containers:
  - name: foo-app
    image: hashicorp/http-echo:0.2.3
    args:
    - "-text=foo"
---
kind: Service
apiVersion: v1
metadata:
  name: foo-service
spec:
  selector:
    app: foo
  ports:
  # Default port used by the image
  - port: 5678
---
kind: Pod
apiVersion: v1
metadata:
  name: bar-app
  labels:
    app: bar
spec:
  containers:
  - name: bar-app
    image: hashicorp/http-echo:0.2.3
    args:
    - "-text=bar"
---
kind: Service
apiVersion: v1
metadata:
  name: bar-service
spec:
  selector:
    app: bar
  ports:
  # Default port used by the image
  - port: 5678
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: example-ingress
spec:
  rules:
  - http:
      paths:
      - pathType: Prefix
        path: "/foo"
        backend:
          service:
            name: foo-service
            port:
              number: 5678
      - pathType: Prefix
        path: "/bar"
        backend:
          service:
            name: bar-service
            port:
              number: 5678
---
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// curl from the host: (HTTP status, body). `args` go before the URL.
fn curl(args: &[&str], url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let out = text(&out.stdout);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.trim().to_string())
}

/// Polls until `check` holds; how long that took.
fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// The subject of the certificate 127.0.0.1:`port` presents for `sni`.
fn certificate_subject(port: u16, sni: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername {sni} </dev/null 2>/dev/null | openssl x509 -noout -subject"
        ))
        .output()
        .unwrap();
    text(&out.stdout).trim().to_string()
}

/// A pod (JSON manifest) running `script` in busybox, labelled `app=<name>`.
fn busybox_pod(name: &str, script: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "main", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": 8080}]}]},
    })
    .to_string()
}

fn service(name: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
    })
    .to_string()
}

/// What an upgrade through the ingress gives back: the status line, then the echo of `payload`.
fn upgrade_echo(port: u16, payload: &[u8]) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    let status = text(&head).lines().next().unwrap_or_default().to_string();
    s.write_all(payload).unwrap();
    let mut echoed = vec![0u8; payload.len()];
    let _ = s.read_exact(&mut echoed);
    (status, echoed)
}

#[test]
fn ingress_serves_kinds_usage_yaml_tls_websocket_rewrites_and_bad_input() {
    if !docker_available() {
        return;
    }
    let started = Instant::now();
    common::ensure_node_image(NODE_IMAGE);
    let rt = runtime();
    rt.block_on(kindling_image::build_test_image_as(
        HTTP_ECHO,
        TestImage::HttpEcho,
    ))
    .unwrap();
    rt.block_on(kindling_image::build_test_image(BUSYBOX))
        .unwrap();
    let testserver = kindling_image::build_testserver_binary().unwrap();
    rt.block_on(kindling_image::build_testserver_image(
        TESTSERVER,
        &testserver,
    ))
    .unwrap();
    let mut env = Env::new();
    let cluster = unique("ing");
    let (http_port, https_port) = (free_port(), free_port());
    let (lb_http, lb_https) = (free_port(), free_port());
    let config = format!(
        r#"kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
ingressLoadBalancer: {{listenAddress: 127.0.0.1, httpPort: {lb_http}, httpsPort: {lb_https}}}
nodes:
- role: control-plane
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      kubeletExtraArgs:
        node-labels: "ingress-ready=true"
  extraPortMappings:
  - containerPort: 80
    hostPort: {http_port}
    listenAddress: 127.0.0.1
    protocol: TCP
  - containerPort: 443
    hostPort: {https_port}
    listenAddress: 127.0.0.1
    protocol: TCP
"#
    );
    env.create_with(&cluster, Some(NODE_IMAGE), Some(&config));
    for image in [HTTP_ECHO, BUSYBOX, TESTSERVER] {
        let out = env.kindling(&["load", "docker-image", image, "--name", &cluster]);
        assert!(out.status.success(), "load: {}", text(&out.stderr));
    }
    eprintln!("cluster ready after {:.1?}", started.elapsed());
    let node = format!("{cluster}-control-plane");
    let base = format!("http://localhost:{http_port}");

    // kind's usage.yaml, then the other backends.
    env.apply(USAGE_YAML);
    env.apply(&busybox_pod(
        "pages",
        "mkdir -p /www && echo new-page > /www/new && echo root-page > /www/index.html && exec httpd -f -p 8080 -h /www",
    ));
    env.apply(&service("pages"));
    // An upgrade-and-echo server: reads the request head, answers 101, then echoes bytes
    // (busybox has no WebSocket server; the proxy's part is the upgrade and the byte stream).
    env.apply(&busybox_pod(
        "ws",
        r#"printf '%s\n' '#!/bin/sh' 'cr=$(printf "\r")' 'while IFS= read -r l; do l=${l%"$cr"}; [ -z "$l" ] && break; done' 'printf "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"' 'exec cat' > /ws.sh && chmod +x /ws.sh && exec nc -ll -p 8080 -e /ws.sh"#,
    ));
    env.apply(&service("ws"));
    ok(
        &env,
        &[
            "wait",
            "--for=condition=Ready",
            "pod/foo-app",
            "pod/bar-app",
            "pod/pages",
            "pod/ws",
            "--timeout=90s",
        ],
    );

    // The controller runs on the ingress-ready node, shown as a pod; its class is the default;
    // usage.yaml's Ingress (no class) got it by DefaultIngressClass admission.
    let pods = ok(
        &env,
        &["get", "pods", "-n", "ingress-kindling", "-o", "wide"],
    );
    assert!(
        pods.contains(&format!("ingress-controller-{node}")),
        "{pods}"
    );
    ok(
        &env,
        &[
            "wait",
            "--namespace",
            "ingress-kindling",
            "--for=condition=ready",
            "pod",
            "--selector=app.kubernetes.io/component=controller",
            "--timeout=90s",
        ],
    );
    let classes = ok(&env, &["get", "ingressclass"]);
    assert!(
        classes.contains("kindling") && classes.contains("kindling.dev/ingress-controller"),
        "{classes}"
    );
    let class_of = ok(
        &env,
        &[
            "get",
            "ingress",
            "example-ingress",
            "-o",
            "jsonpath={.spec.ingressClassName}",
        ],
    );
    assert_eq!(class_of, "kindling");

    // S5: from the host.
    let took = until(
        "curl localhost/foo → foo",
        Duration::from_secs(30),
        || curl(&[], &format!("{base}/foo")) == (200, "foo".into()),
    );
    eprintln!("$ curl {base}/foo → foo (answering {took:?} after the pods were Ready)");
    assert_eq!(curl(&[], &format!("{base}/bar")), (200, "bar".into()));
    assert_eq!(
        curl(&[], &format!("{base}/foo/deeper")),
        (200, "foo".into())
    );
    let (code, body) = curl(&[], &format!("{base}/other"));
    assert_eq!(code, 404, "{body}");
    // The config's one line: a balancer container on the host's ports in front of the ingress
    // nodes' controllers (here the one ingress-ready node).
    let lb_url = format!("http://127.0.0.1:{lb_http}/foo");
    let took = until(
        "curl through the ingress load balancer",
        Duration::from_secs(30),
        || curl(&[], &lb_url) == (200, "foo".into()),
    );
    eprintln!("$ curl {lb_url} → foo (through {cluster}-ingress-lb, {took:?})");
    let ports = Command::new("docker")
        .args(["port", &format!("{cluster}-ingress-lb")])
        .output()
        .unwrap();
    eprintln!(
        "$ docker port {cluster}-ingress-lb\n{}",
        text(&ports.stdout)
    );
    assert!(
        text(&ports.stdout).contains(&format!("127.0.0.1:{lb_https}")),
        "{}",
        text(&ports.stdout)
    );
    let (code, _) = curl(
        &[
            "-k",
            "--resolve",
            &format!("localhost:{lb_https}:127.0.0.1"),
        ],
        &format!("https://localhost:{lb_https}/foo"),
    );
    assert_eq!(code, 200);
    until("the Ingress's address", Duration::from_secs(10), || {
        let row = text(
            &env.kubectl(&["get", "ingress", "example-ingress", "--no-headers"])
                .stdout,
        );
        row.split_whitespace().nth(3) == Some("localhost")
    });
    ok(&env, &["get", "ingress", "example-ingress"]);

    // A host rule: its server wins over the catch-all rules.
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "hosts"},
            "spec": {"rules": [{"host": "foo.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "bar-service", "port": {"number": 5678}}}}]}}]},
        })
        .to_string(),
    );
    until("the host rule", Duration::from_secs(5), || {
        curl(&["-H", "Host: foo.example.com"], &format!("{base}/foo")) == (200, "bar".into())
    });
    assert_eq!(curl(&[], &format!("{base}/foo")), (200, "foo".into()));

    // TLS from a kubernetes.io/tls Secret, chosen by SNI, over HTTP/2; plain HTTP redirected.
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=secure.test",
        ])
        .args(["-addext", "subjectAltName=DNS:secure.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    ok(
        &env,
        &[
            "create",
            "secret",
            "tls",
            "secure-tls",
            &format!("--cert={}", crt.display()),
            &format!("--key={}", key.display()),
        ],
    );
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "secure"},
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": ["secure.test"], "secretName": "secure-tls"}],
                     "rules": [{"host": "secure.test", "http": {"paths": [
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "foo-service", "port": {"number": 5678}}}}]}}]},
        })
        .to_string(),
    );
    let resolve = format!("secure.test:{https_port}:127.0.0.1");
    let https = format!("https://secure.test:{https_port}/");
    until("HTTPS for secure.test", Duration::from_secs(5), || {
        curl(&["-k", "--resolve", &resolve], &https) == (200, "foo".into())
    });
    let subject = certificate_subject(https_port, "secure.test");
    eprintln!("secure.test presents: {subject}");
    assert!(
        subject.contains("CN = secure.test") || subject.contains("CN=secure.test"),
        "{subject}"
    );
    let version = Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            "--resolve",
            &resolve,
            &https,
        ])
        .output()
        .unwrap();
    assert_eq!(text(&version.stdout), "2", "HTTP/2 over TLS (ALPN)");
    let redirect = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "-H",
            "Host: secure.test",
        ])
        .arg(format!("{base}/x?y=1"))
        .output()
        .unwrap();
    assert_eq!(text(&redirect.stdout), "308 https://secure.test/x?y=1");

    // An upgrade (WebSocket handshake) passed through, then bytes both ways.
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "ws"},
            "spec": {"rules": [{"http": {"paths": [
                {"path": "/ws", "pathType": "Exact",
                 "backend": {"service": {"name": "ws", "port": {"name": "http"}}}}]}}]},
        })
        .to_string(),
    );
    let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // a masked "Hello" text frame
    until("the upgrade", Duration::from_secs(10), || {
        let (status, echoed) = upgrade_echo(http_port, frame);
        status.starts_with("HTTP/1.1 101") && echoed == frame
    });
    eprintln!("upgrade through the ingress: 101, 11 bytes echoed");

    // rewrite-target with capture groups (use-regex).
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "rewrite", "annotations": {
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "nginx.ingress.kubernetes.io/rewrite-target": "/$2"}},
            "spec": {"rules": [{"host": "rewrite.test", "http": {"paths": [
                {"path": "/something(/|$)(.*)", "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": "pages", "port": {"number": 8080}}}}]}}]},
        })
        .to_string(),
    );
    let host = ["-H", "Host: rewrite.test"];
    until("the rewrite", Duration::from_secs(5), || {
        curl(&host, &format!("{base}/something/new")) == (200, "new-page".into())
    });
    assert_eq!(
        curl(&host, &format!("{base}/something")),
        (200, "root-page".into())
    );

    // A backend change is followed within a second.
    let patched = Instant::now();
    ok(
        &env,
        &[
            "patch",
            "ingress",
            "example-ingress",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/rules/0/http/paths/0/backend/service/name","value":"bar-service"}]"#,
        ],
    );
    let applied = patched.elapsed();
    let took = until("/foo served by bar", Duration::from_secs(5), || {
        curl(&[], &format!("{base}/foo")).1 == "bar"
    });
    eprintln!("backend change: kubectl patch took {applied:?}, then /foo → bar after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Bad input: a path its pathType does not allow is refused by the API server.
    let out = env.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(
            &serde_json::json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "bad-path"},
                "spec": {"rules": [{"http": {"paths": [
                    {"path": "foo", "pathType": "Exact",
                     "backend": {"service": {"name": "foo-service", "port": {"number": 5678}}}}]}}]},
            })
            .to_string(),
        ),
    );
    let err = text(&out.stderr);
    eprintln!("invalid path: {err}");
    assert!(!out.status.success());
    assert!(
        err.contains(r#"The Ingress "bad-path" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path"#),
        "{err}"
    );

    // A missing Service: 503 with a clear body, the other routes keep working.
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "missing"},
            "spec": {"rules": [{"http": {"paths": [
                {"path": "/missing", "pathType": "Prefix",
                 "backend": {"service": {"name": "nope-service", "port": {"number": 80}}}}]}}]},
        })
        .to_string(),
    );
    until("the 503", Duration::from_secs(5), || {
        curl(&[], &format!("{base}/missing")).0 == 503
    });
    let (_, body) = curl(&[], &format!("{base}/missing"));
    eprintln!("$ curl {base}/missing\n{body}");
    assert!(
        body.contains(r#"service "default/nope-service" not found"#),
        "{body}"
    );
    assert_eq!(curl(&[], &format!("{base}/bar")), (200, "bar".into()));

    // A TLS Secret whose certificate is not one: an Event on the Ingress, the default
    // certificate for its host.
    env.apply(
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "bad-tls"},
            "stringData": {"tls.crt": "not a certificate", "tls.key": "not a key"},
        })
        .to_string(),
    );
    env.apply(
        &serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "badtls"},
            "spec": {"tls": [{"hosts": ["bad.test"], "secretName": "bad-tls"}],
                     "rules": [{"host": "bad.test", "http": {"paths": [
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "foo-service", "port": {"number": 5678}}}}]}}]},
        })
        .to_string(),
    );
    until("the certificate event", Duration::from_secs(10), || {
        let events = text(
            &env.kubectl(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=badtls",
            ])
            .stdout,
        );
        events.contains("SSLCertificateError")
    });
    ok(&env, &["describe", "ingress", "badtls"]);
    let subject = certificate_subject(https_port, "bad.test");
    eprintln!("bad.test presents: {subject}");
    assert!(
        subject.contains("Kubernetes Ingress Controller Fake Certificate"),
        "{subject}"
    );
    assert_eq!(
        curl(
            &[
                "-k",
                "--resolve",
                &format!("bad.test:{https_port}:127.0.0.1")
            ],
            &format!("https://bad.test:{https_port}/")
        ),
        (200, "foo".into())
    );
    eprintln!("ingress checks done after {:.1?}", started.elapsed());

    gateway_api(&env, &base);
    eprintln!("gateway checks done after {:.1?}", started.elapsed());

    grpc_route(&env, http_port);
    eprintln!("GRPCRoute checks done after {:.1?}", started.elapsed());

    load_balancer_services(&env);
    eprintln!("LoadBalancer checks done after {:.1?}", started.elapsed());

    udp_load_balancer(&env);
    eprintln!("all checks done after {:.1?}", started.elapsed());
}

/// The Gateway API through the same proxy: the GatewayClass `kindling` Accepted at create; a
/// Gateway on port 80 Programmed with its address; an HTTPRoute with a path match, a URL
/// rewrite and a response header filter answering from the host; an 80/20 weighted split seen
/// over 100 requests; a route in another namespace whose Service reference is refused
/// (`ResolvedRefs=False RefNotPermitted`) until a ReferenceGrant allows it.
fn gateway_api(env: &Env, base: &str) {
    let classes = ok(env, &["get", "gatewayclass"]);
    assert!(
        classes.contains("kindling.dev/gateway-controller"),
        "{classes}"
    );
    until("the GatewayClass Accepted", Duration::from_secs(10), || {
        text(
            &env.kubectl(&[
                "get",
                "gatewayclass",
                "kindling",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Accepted")].status}"#,
            ])
            .stdout,
        ) == "True"
    });
    env.apply(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
spec:
  gatewayClassName: kindling
  listeners:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: pages
spec:
  parentRefs:
  - name: web
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /gw
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Gateway
          value: kindling
    backendRefs:
    - name: pages
      port: 8080
  - matches:
    - path:
        type: Exact
        value: /split
    backendRefs:
    - name: foo-service
      port: 5678
      weight: 80
    - name: bar-service
      port: 5678
      weight: 20
"#,
    );
    until("the Gateway Programmed", Duration::from_secs(10), || {
        let row = text(
            &env.kubectl(&["get", "gateway", "web", "--no-headers"])
                .stdout,
        );
        row.split_whitespace().nth(3) == Some("True")
    });
    ok(env, &["get", "gateway", "web"]);
    ok(env, &["get", "httproute", "pages", "-o", "yaml"]);
    let url = format!("{base}/gw/new");
    until(
        "curl through the HTTPRoute",
        Duration::from_secs(10),
        || curl(&[], &url) == (200, "new-page".into()),
    );
    let head = Command::new("curl")
        .args(["-s", "-i", "--max-time", "5", &url])
        .output()
        .unwrap();
    let head = text(&head.stdout).to_ascii_lowercase();
    eprintln!("$ curl -i {url}\n{head}");
    assert!(head.contains("x-gateway: kindling"), "{head}");
    let mut to_foo = 0;
    for _ in 0..200 {
        match curl(&[], &format!("{base}/split")) {
            (200, b) if b == "foo" => to_foo += 1,
            (200, b) if b == "bar" => {}
            other => panic!("/split: {other:?}"),
        }
    }
    eprintln!(
        "$ curl {base}/split ×200 → foo {to_foo}, bar {}",
        200 - to_foo
    );
    assert_eq!(to_foo, 160);

    // Another namespace: its route attaches (from: All) but may not name default's Service.
    ok(env, &["create", "namespace", "team"]);
    env.apply(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cross
  namespace: team
spec:
  parentRefs:
  - name: web
    namespace: default
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /team
    backendRefs:
    - name: foo-service
      namespace: default
      port: 5678
"#,
    );
    let resolved = |env: &Env| {
        text(
            &env.kubectl(&[
                "get",
                "httproute",
                "cross",
                "-n",
                "team",
                "-o",
                r#"jsonpath={.status.parents[0].conditions[?(@.type=="ResolvedRefs")].reason}"#,
            ])
            .stdout,
        )
    };
    until("RefNotPermitted", Duration::from_secs(10), || {
        resolved(env) == "RefNotPermitted"
    });
    ok(env, &["describe", "httproute", "cross", "-n", "team"]);
    let (code, body) = curl(&[], &format!("{base}/team"));
    assert_eq!(code, 500, "{body}");
    env.apply(
        r#"apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: team-routes
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: team
  to:
  - group: ""
    kind: Service
"#,
    );
    until(
        "ResolvedRefs with the grant",
        Duration::from_secs(10),
        || resolved(env) == "ResolvedRefs",
    );
    until("/team answered", Duration::from_secs(10), || {
        curl(&[], &format!("{base}/team")) == (200, "foo".into())
    });
}

/// `kubectl expose deployment web --type=LoadBalancer --port=80`: an EXTERNAL-IP within 2 s,
/// reachable from the host; annotated `kindling.dev/publish-address: 127.0.0.1`, also on the
/// host's loopback; deleting the Service removes its balancer container.
fn load_balancer_services(env: &Env) {
    ok(
        env,
        &[
            "create",
            "deployment",
            "web",
            "--image=busybox:latest",
            "--",
            "sh",
            "-c",
            "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    );
    ok(
        env,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    ok(
        env,
        &[
            "expose",
            "deployment",
            "web",
            "--type=LoadBalancer",
            "--port=80",
        ],
    );
    let exposed = Instant::now();
    let mut ip = String::new();
    let took = until("the EXTERNAL-IP", Duration::from_secs(10), || {
        ip = text(
            &env.kubectl(&[
                "get",
                "svc",
                "web",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[0].ip}",
            ])
            .stdout,
        );
        !ip.is_empty()
    });
    eprintln!(
        "EXTERNAL-IP {ip} after {took:?} ({:?} since expose returned)",
        exposed.elapsed()
    );
    let svc = ok(env, &["get", "svc", "web"]);
    assert!(svc.contains(&ip) && svc.contains("LoadBalancer"), "{svc}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let url = format!("http://{ip}/");
    let took = until("curl to the EXTERNAL-IP", Duration::from_secs(20), || {
        curl(&[], &url) == (200, "web".into())
    });
    eprintln!("$ curl {url} → web ({took:?} after the address)");
    let containers = |env: &Env| {
        let _ = env;
        let out = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                "label=io.kindling.service-lb=default/web",
                "--format",
                "{{.Names}}",
            ])
            .output()
            .unwrap();
        text(&out.stdout).trim().to_string()
    };
    let name = containers(env);
    eprintln!("balancer container: {name}");
    assert!(!name.is_empty());

    // Published on 127.0.0.1 too (hosts whose Docker networks are not routable): the
    // annotation makes the balancer again with the Service's port on the host's loopback.
    let local_port = free_port().to_string();
    ok(
        env,
        &[
            "patch",
            "svc",
            "web",
            "--type=json",
            "-p",
            &format!(
                r#"[{{"op": "replace", "path": "/spec/ports/0/port", "value": {local_port}}}]"#
            ),
        ],
    );
    ok(
        env,
        &[
            "annotate",
            "svc",
            "web",
            "kindling.dev/publish-address=127.0.0.1",
        ],
    );
    let local = format!("http://127.0.0.1:{local_port}/");
    let took = until("curl to 127.0.0.1", Duration::from_secs(30), || {
        curl(&[], &local) == (200, "web".into())
    });
    eprintln!("$ curl {local} → web ({took:?} after the annotation)");
    let svc = ok(env, &["get", "svc", "web"]);
    assert!(svc.contains("127.0.0.1,"), "{svc}");
    let published = Command::new("docker")
        .args(["port", &containers(env)])
        .output()
        .unwrap();
    eprintln!("$ docker port …\n{}", text(&published.stdout));
    assert!(
        text(&published.stdout).contains(&format!("127.0.0.1:{local_port}")),
        "{}",
        text(&published.stdout)
    );
    ok(env, &["delete", "svc", "web"]);
    let took = until(
        "the balancer container's removal",
        Duration::from_secs(15),
        || containers(env).is_empty(),
    );
    eprintln!("Service deleted → {name} removed after {took:?}");
}

/// A `kindling/testserver` pod labelled `app=<name>` running `args` (`grpc …` or `udp-echo …`);
/// with `grpc_ready`, Ready only once the kubelet's gRPC probe of that health service passes.
fn testserver_pod(name: &str, args: &[&str], grpc_ready: Option<&str>) -> String {
    let mut pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "main", "image": TESTSERVER, "imagePullPolicy": "IfNotPresent",
            "args": args, "ports": [{"name": "grpc", "containerPort": 9000}]}]},
    });
    if let Some(service) = grpc_ready {
        pod["spec"]["containers"][0]["readinessProbe"] = serde_json::json!({
            "grpc": {"port": 9000, "service": service}, "periodSeconds": 1});
    }
    pod.to_string()
}

/// One grpc.health.v1 call from the host through the Gateway's port: `Check` answers the
/// status, `Watch` its first message; `Err` is the gRPC status code and message.
fn health_call(port: u16, method: &str, service: &str) -> Result<i32, String> {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    runtime().block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://localhost:{port}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut client = HealthClient::new(channel);
        let request = HealthCheckRequest {
            service: service.to_string(),
        };
        let status = if method == "Check" {
            client.check(request).await.map(|r| r.into_inner().status)
        } else {
            match client.watch(request).await {
                Ok(r) => match r.into_inner().message().await {
                    Ok(Some(first)) => Ok(first.status),
                    Ok(None) => Err(tonic::Status::unknown("Watch ended without a message")),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        };
        status.map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    })
}

/// A GRPCRoute on the same Gateway sends grpc.health.v1.Health/Check to one backend and
/// Health/Watch to another, by method, over HTTP/2 cleartext from the host (a tonic client):
/// `alpha` is known only to the first (`kindling-testserver grpc --serving alpha`), `beta` only
/// to the second, so each answer shows which backend took the call. The route's parent status
/// says Accepted and ResolvedRefs; the pods are Ready by the kubelet's gRPC readiness probes.
fn grpc_route(env: &Env, http_port: u16) {
    use tonic_health::pb::health_check_response::ServingStatus;
    env.apply(&testserver_pod(
        "grpc-a",
        &["grpc", "--serving", "alpha"],
        Some("alpha"),
    ));
    env.apply(&testserver_pod(
        "grpc-b",
        &["grpc", "--serving", "beta"],
        Some("beta"),
    ));
    for name in ["grpc-a", "grpc-b"] {
        env.apply(
            &serde_json::json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": name},
                         "ports": [{"name": "grpc", "port": 9000, "targetPort": "grpc", "appProtocol": "kubernetes.io/h2c"}]},
            })
            .to_string(),
        );
    }
    env.apply(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: health
spec:
  parentRefs:
  - name: web
  rules:
  - matches:
    - method:
        service: grpc.health.v1.Health
        method: Check
    backendRefs:
    - name: grpc-a
      port: 9000
  - matches:
    - method:
        service: grpc.health.v1.Health
        method: Watch
    backendRefs:
    - name: grpc-b
      port: 9000
"#,
    );
    let condition = |type_: &str| {
        text(
            &env.kubectl(&[
                "get",
                "grpcroute",
                "health",
                "-o",
                &format!(
                    r#"jsonpath={{.status.parents[0].conditions[?(@.type=="{type_}")].status}}/{{.status.parents[0].conditions[?(@.type=="{type_}")].reason}}"#
                ),
            ])
            .stdout,
        )
    };
    until(
        "the GRPCRoute Accepted and ResolvedRefs",
        Duration::from_secs(10),
        || {
            condition("Accepted") == "True/Accepted"
                && condition("ResolvedRefs") == "True/ResolvedRefs"
        },
    );
    ok(env, &["get", "grpcroute", "health", "-o", "yaml"]);
    // The kubelet's gRPC readiness probes (grpc.health.v1 Check of each pod's own name) pass.
    for pod in ["grpc-a", "grpc-b"] {
        env.wait_for(pod, "Ready", Duration::from_secs(60), |env| {
            env.jsonpath(pod, r#"{.status.conditions[?(@.type=="Ready")].status}"#) == "True"
        });
    }
    ok(env, &["get", "pods", "grpc-a", "grpc-b"]);
    let serving = ServingStatus::Serving as i32;
    let took = until(
        "Check(alpha) through the GRPCRoute",
        Duration::from_secs(20),
        || health_call(http_port, "Check", "alpha") == Ok(serving),
    );
    eprintln!("grpc.health.v1.Health/Check(alpha) → SERVING ({took:?})");
    let took = until(
        "Watch(beta) through the GRPCRoute",
        Duration::from_secs(20),
        || health_call(http_port, "Watch", "beta") == Ok(serving),
    );
    eprintln!("grpc.health.v1.Health/Watch(beta) → SERVING ({took:?})");
    // The other backend's name is unknown where each method goes: routed by method, not by luck.
    let check_beta = health_call(http_port, "Check", "beta");
    eprintln!("grpc.health.v1.Health/Check(beta) → {check_beta:?}");
    assert!(
        check_beta
            .as_ref()
            .is_err_and(|e| e.starts_with("NotFound")),
        "{check_beta:?}"
    );
    let watch_alpha = health_call(http_port, "Watch", "alpha");
    eprintln!("grpc.health.v1.Health/Watch(alpha) → {watch_alpha:?}");
    // (the spec's Watch would stream SERVICE_UNKNOWN; tonic-health answers NotFound, as Check)
    assert!(
        watch_alpha
            .as_ref()
            .is_err_and(|e| e.starts_with("NotFound")),
        "{watch_alpha:?}"
    );
    for _ in 0..5 {
        assert_eq!(health_call(http_port, "Check", "alpha"), Ok(serving));
        assert_eq!(health_call(http_port, "Watch", "beta"), Ok(serving));
    }
}

/// One datagram to `addr` and the reply, if one came within a second.
fn udp_echo(addr: &str, payload: &[u8]) -> Option<Vec<u8>> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    socket.send_to(payload, addr).ok()?;
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// `kubectl expose … --type=LoadBalancer --protocol=UDP`: a datagram from the host to the
/// EXTERNAL-IP's port comes back from `kindling-testserver udp-echo`; with the 127.0.0.1
/// publish annotation also through the host's loopback.
fn udp_load_balancer(env: &Env) {
    env.apply(&testserver_pod(
        "udp-echo",
        &["udp-echo", "--port", "9000"],
        None,
    ));
    ok(
        env,
        &[
            "expose",
            "pod",
            "udp-echo",
            "--type=LoadBalancer",
            "--protocol=UDP",
            "--port=5353",
            "--target-port=9000",
        ],
    );
    let mut ip = String::new();
    until(
        "the UDP Service's EXTERNAL-IP",
        Duration::from_secs(10),
        || {
            ip = text(
                &env.kubectl(&[
                    "get",
                    "svc",
                    "udp-echo",
                    "-o",
                    "jsonpath={.status.loadBalancer.ingress[0].ip}",
                ])
                .stdout,
            );
            !ip.is_empty()
        },
    );
    ok(env, &["get", "svc", "udp-echo"]);
    let addr = format!("{ip}:5353");
    let took = until(
        "a datagram echoed by the EXTERNAL-IP",
        Duration::from_secs(30),
        || udp_echo(&addr, b"ping-lb").as_deref() == Some(b"ping-lb".as_slice()),
    );
    eprintln!("udp {addr} ← ping-lb → ping-lb ({took:?})");

    let local_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ok(
        env,
        &[
            "patch",
            "svc",
            "udp-echo",
            "--type=json",
            "-p",
            &format!(
                r#"[{{"op": "replace", "path": "/spec/ports/0/port", "value": {local_port}}}]"#
            ),
        ],
    );
    ok(
        env,
        &[
            "annotate",
            "svc",
            "udp-echo",
            "kindling.dev/publish-address=127.0.0.1",
        ],
    );
    let local = format!("127.0.0.1:{local_port}");
    let took = until(
        "a datagram echoed on 127.0.0.1",
        Duration::from_secs(30),
        || udp_echo(&local, b"ping-local").as_deref() == Some(b"ping-local".as_slice()),
    );
    eprintln!("udp {local} ← ping-local → ping-local ({took:?} after the annotation)");
    ok(env, &["delete", "svc", "udp-echo"]);
}
