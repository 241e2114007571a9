//! CertificateSigningRequests with the real kubectl and the controller manager's CSR approver
//! and signer: `kubectl certificate approve|deny`, the cluster CA issuing `status.certificate`
//! for the request's subject and `spec.expirationSeconds`, kubelet client requests approved
//! automatically for the node itself, invalid requests marked Failed.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use std::time::{Duration, Instant};

fn server(kubectl: &Kubectl) -> TestServer {
    server_with(
        kubectl,
        kindling_controllers::certificates::Options::default(),
    )
}

fn server_with(
    kubectl: &Kubectl,
    options: kindling_controllers::certificates::Options,
) -> TestServer {
    let s = TestServer::start_using(kubectl);
    let ca =
        std::sync::Arc::new(kindling_pki::Ca::load_or_create(&s.dir.path().join("pki")).unwrap());
    let kubeconfig = s.kubeconfig.clone();
    s.runtime().spawn(async move {
        let client = common::kube_client(&kubeconfig).await;
        kindling_controllers::certificates::run_with(client, ca, options).await;
    });
    // kubeadm's auto-approval binding for nodes renewing their own client certificates.
    s.ok(&[
        "create",
        "clusterrolebinding",
        "kubeadm:node-autoapprove-certificate-rotation",
        "--clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "--group=system:nodes",
    ]);
    s
}

/// A PKCS#10 request (PEM, base64 for `spec.request`) for `cn` in `orgs`, with `dns` names.
fn request(cn: &str, orgs: &[&str], dns: &[&str]) -> String {
    use base64::Engine;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(
        dns.iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for o in orgs {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, *o);
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem)
}

fn csr_yaml(name: &str, signer: &str, usages: &str, request: &str) -> String {
    format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {{name: {name}}}\nspec:\n  signerName: {signer}\n  expirationSeconds: 7200\n  usages: [{usages}]\n  request: {request}\n"
    )
}

/// Waits (≤ 10 s) for `jsonpath` of CSR `name` to be non-empty; returns it.
fn await_field(
    s: &TestServer,
    kubeconfig: Option<&std::path::Path>,
    name: &str,
    jsonpath: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let args = ["get", "csr", name, "-o", &format!("jsonpath={jsonpath}")];
    loop {
        let out = match kubeconfig {
            Some(k) => s.kubectl.run(k, &args, None, &[]),
            None => s.kubectl(&args),
        };
        let got = text(&out.stdout);
        if !got.trim().is_empty() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{name} {jsonpath}: {}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn certificate_subject(b64: &str) -> (String, i64) {
    use base64::Engine;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let validity = cert.validity();
    (
        cn,
        validity.not_after.timestamp() - validity.not_before.timestamp(),
    )
}

fn approved_requests_are_issued_denied_ones_not(kubectl: &Kubectl) {
    let s = server(kubectl);
    let client = "kubernetes.io/kube-apiserver-client";
    let usages = "digital signature, key encipherment, client auth";
    s.apply(&csr_yaml(
        "alice",
        client,
        usages,
        &request("alice", &["dev"], &[]),
    ));
    s.apply(&csr_yaml(
        "mallory",
        client,
        usages,
        &request("mallory", &[], &[]),
    ));
    let listed = s.ok(&["get", "csr"]);
    assert!(listed.contains("Pending"), "{listed}");
    assert!(listed.contains("kubernetes-admin"), "{listed}");
    assert!(listed.contains("2h") || listed.contains("120m"), "{listed}");
    assert_eq!(
        s.ok(&["certificate", "approve", "alice"]).trim(),
        "certificatesigningrequest.certificates.k8s.io/alice approved"
    );
    assert_eq!(
        s.ok(&["certificate", "deny", "mallory"]).trim(),
        "certificatesigningrequest.certificates.k8s.io/mallory denied"
    );
    let cert = await_field(&s, None, "alice", "{.status.certificate}");
    let (cn, seconds) = certificate_subject(&cert);
    assert_eq!(cn, "alice");
    // expirationSeconds, plus upstream's five minutes of backdating.
    assert_eq!(seconds, 7200 + 300);
    let listed = s.ok(&["get", "csr", "alice"]);
    assert!(listed.contains("Approved,Issued"), "{listed}");
    std::thread::sleep(Duration::from_millis(300));
    let denied = s.ok(&[
        "get",
        "csr",
        "mallory",
        "-o",
        "jsonpath={.status.certificate}|{.status.conditions[0].type}",
    ]);
    assert_eq!(denied, "|Denied");

    // A request the signer may not honour fails with the signer's reason.
    s.apply(&csr_yaml(
        "bad",
        client,
        "digital signature, server auth",
        &request("bad", &[], &[]),
    ));
    s.ok(&["certificate", "approve", "bad"]);
    let reason = await_field(
        &s,
        None,
        "bad",
        "{.status.conditions[?(@.type==\"Failed\")].reason}",
    );
    assert_eq!(reason, "SignerValidationFailure");
}

fn nodes_client_certificates_are_approved_for_themselves(kubectl: &Kubectl) {
    let s = server(kubectl);
    let ca = kindling_pki::Ca::load_or_create(&s.dir.path().join("pki")).unwrap();
    let cert = ca.client_cert("system:node:a", &["system:nodes"]).unwrap();
    let node = s.dir.path().join("node-a.kubeconfig");
    let url = format!("https://{}", s.address);
    std::fs::write(
        &node,
        kindling_apiserver::kubeconfig::render("k", &url, &ca.pair.cert_pem, &cert),
    )
    .unwrap();
    let yaml = csr_yaml(
        "node-a-client",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "digital signature, client auth",
        &request("system:node:a", &["system:nodes"], &[]),
    );
    let out = s
        .kubectl
        .run(&node, &["create", "-f", "-"], Some(&yaml), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reason = await_field(&s, None, "node-a-client", "{.status.conditions[0].reason}");
    assert_eq!(reason, "AutoApproved");
    let cert = await_field(&s, None, "node-a-client", "{.status.certificate}");
    assert_eq!(certificate_subject(&cert).0, "system:node:a");
    // Serving certificates wait for a person (no approver for them here).
    let yaml = csr_yaml(
        "node-a-serving",
        "kubernetes.io/kubelet-serving",
        "digital signature, key encipherment, server auth",
        &request("system:node:a", &["system:nodes"], &["a"]),
    );
    let out = s
        .kubectl
        .run(&node, &["create", "-f", "-"], Some(&yaml), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.ok(&["get", "csr", "node-a-serving"]).contains("Pending"));
    s.ok(&["certificate", "approve", "node-a-serving"]);
    let cert = await_field(&s, None, "node-a-serving", "{.status.certificate}");
    assert_eq!(certificate_subject(&cert).0, "system:node:a");
}

/// A create is checked as upstream's: a signed PEM request, known usages once each, a
/// qualified signer, at least ten minutes; all-or-nothing (nothing is stored).
fn invalid_requests_are_refused(kubectl: &Kubectl) {
    use base64::Engine;
    let s = TestServer::start_using(kubectl);
    let stdin = |yaml: &str| {
        let out = s.kubectl_stdin(&["create", "-f", "-"], yaml);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        text(&out.stderr)
    };
    let not_pem = base64::engine::general_purpose::STANDARD.encode("hello");
    let err = stdin(&csr_yaml(
        "bad-pem",
        "example.com/signer",
        "client auth",
        &not_pem,
    ));
    assert!(
        err.contains(&format!(
            "The CertificateSigningRequest \"bad-pem\" is invalid: spec.request: Invalid value: \"{not_pem}\": PEM block type must be CERTIFICATE REQUEST"
        )),
        "{err}"
    );
    // A request whose signature does not verify (its last byte changed).
    let engine = base64::engine::general_purpose::STANDARD;
    let pem = String::from_utf8(engine.decode(request("eve", &[], &[])).unwrap()).unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let mut der = block.contents.clone();
    *der.last_mut().unwrap() ^= 1;
    let forged = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        engine.encode(der)
    );
    let err = stdin(&csr_yaml(
        "forged",
        "example.com/signer",
        "client auth",
        &engine.encode(forged),
    ));
    assert!(err.contains("x509: ECDSA verification failure"), "{err}");
    let mut yaml = csr_yaml(
        "many",
        "signer",
        "client auth, bogus, client auth",
        &request("eve", &[], &[]),
    );
    yaml = yaml.replace("expirationSeconds: 7200", "expirationSeconds: 60");
    let err = stdin(&yaml);
    for want in [
        "spec.usages[1]: Unsupported value: \"bogus\": supported values: \"any\"",
        "spec.usages[2]: Duplicate value: \"client auth\"",
        "spec.signerName: Invalid value: \"signer\": must be a fully qualified domain and path of the form 'example.com/signer-name'",
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
    ] {
        assert!(err.contains(want), "{want} in {err}");
    }
    let listed = s.kubectl(&["get", "csr"]);
    assert!(text(&listed.stdout).is_empty(), "{}", text(&listed.stdout));
}

/// With `kubelet-serving-approver` on, a node's serving request for its own names is approved
/// and issued; one naming an address the node does not have waits for a person.
fn serving_requests_are_approved_for_the_nodes_own_addresses(kubectl: &Kubectl) {
    let options = kindling_controllers::certificates::Options {
        approve_kubelet_serving: true,
    };
    let s = server_with(kubectl, options);
    let ca = kindling_pki::Ca::load_or_create(&s.dir.path().join("pki")).unwrap();
    let cert = ca.client_cert("system:node:a", &["system:nodes"]).unwrap();
    let node = s.dir.path().join("node-a.kubeconfig");
    let url = format!("https://{}", s.address);
    std::fs::write(
        &node,
        kindling_apiserver::kubeconfig::render("k", &url, &ca.pair.cert_pem, &cert),
    )
    .unwrap();
    s.apply(
        "apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus:\n  addresses: [{type: InternalIP, address: 172.18.0.2}, {type: Hostname, address: a}]\n",
    );
    let ask = |name: &str, ip: &str| {
        use base64::Engine;
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(ip.parse().unwrap()));
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:nodes");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "system:node:a");
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let yaml = csr_yaml(
            name,
            "kubernetes.io/kubelet-serving",
            "digital signature, server auth",
            &base64::engine::general_purpose::STANDARD.encode(pem),
        );
        let out = s
            .kubectl
            .run(&node, &["create", "-f", "-"], Some(&yaml), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    ask("own", "172.18.0.2");
    ask("foreign", "172.18.0.9");
    let reason = await_field(&s, None, "own", "{.status.conditions[0].reason}");
    assert_eq!(reason, "AutoApproved");
    let cert = await_field(&s, None, "own", "{.status.certificate}");
    assert_eq!(certificate_subject(&cert).0, "system:node:a");
    std::thread::sleep(Duration::from_millis(500));
    let listed = s.ok(&["get", "csr", "foreign"]);
    assert!(listed.contains("Pending"), "{listed}");
}

common::kubectl_tests!(
    approved_requests_are_issued_denied_ones_not,
    serving_requests_are_approved_for_the_nodes_own_addresses,
    invalid_requests_are_refused,
    nodes_client_certificates_are_approved_for_themselves,
);
