//! Service accounts end to end against a real (in-process) API server with its controllers and
//! the real kubectl: `kubectl create token`, the token as kubectl's only credential, what makes
//! a token stop working, the ServiceAccount admission plugin, and the controllers that give
//! every namespace its `default` account and `kube-root-ca.crt`.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use base64::Engine;
use common::{text, Kubectl, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// The claims of a JWT, read without checking (the server checks; this test looks).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn header(token: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A kubeconfig whose only credential is `token`, as a pod would build from its mounted files.
fn token_kubeconfig(s: &TestServer, token: &str) -> PathBuf {
    let dir = s.dir.path().join(format!("token-{}", uuid_like(token)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    let ca = s.dir.path().join("pki/ca.crt");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n",
        s.address,
        ca.display()
    );
    std::fs::write(&path, config).unwrap();
    path
}

fn uuid_like(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    format!("{:x}", h.finish())
}

fn as_token(s: &TestServer, token: &str, args: &[&str]) -> Output {
    s.kubectl.run(&token_kubeconfig(s, token), args, None, &[])
}

fn assert_unauthorized(out: &Output) {
    assert!(!out.status.success(), "accepted: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("You must be logged in to the server") || err.contains("Unauthorized"),
        "{err}"
    );
}

fn create_token(s: &TestServer, extra: &[&str]) -> String {
    let mut args = vec!["create", "token", "default"];
    args.extend_from_slice(extra);
    s.ok(&args).trim().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn create_token_prints_a_jwt_with_upstreams_claims(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let sa_uid = s.ok(&["get", "sa", "default", "-o", "jsonpath={.metadata.uid}"]);
    let token = create_token(&s, &[]);
    let h = header(&token);
    assert_eq!(h["alg"], "ES256");
    assert!(h["kid"].as_str().is_some_and(|k| !k.is_empty()), "{h}");
    let c = claims(&token);
    assert_eq!(c["iss"], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(
        c["aud"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(c["nbf"], c["iat"]);
    assert!((c["iat"].as_i64().unwrap() - now()).abs() < 60);
    assert_eq!(c["jti"].as_str().unwrap().len(), 36);
    assert_eq!(
        c["kubernetes.io"],
        json!({"namespace": "default", "serviceaccount": {"name": "default", "uid": sa_uid}})
    );

    let c = claims(&create_token(&s, &["--duration=20m", "--audience=vault"]));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        1200
    );
    assert_eq!(c["aud"], json!(["vault"]));

    let err = s.fails(&["create", "token", "default", "--duration=5m"]);
    assert!(
        err.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = s.fails(&["create", "token", "nobody"]);
    assert!(
        err.contains("serviceaccounts \"nobody\" not found"),
        "{err}"
    );
    // Discovery tells kubectl the subresource exists and what it speaks.
    let resources: Value = serde_json::from_str(&s.ok(&["get", "--raw", "/api/v1"])).unwrap();
    let token_sub = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .cloned();
    assert_eq!(
        token_sub,
        Some(
            json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true, "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]})
        )
    );
}

fn the_token_is_a_credential_for_kubectl(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let token = create_token(&s, &[]);
    // RBAC: the service account may do nothing until a binding says so.
    let out = as_token(&s, &token, &["get", "pods"]);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    s.grant(
        &[
            "rolebinding",
            "sa-view",
            "--clusterrole=view",
            "--serviceaccount=default:default",
        ],
        &["list", "pods", "--as=system:serviceaccount:default:default"],
    );
    let out = as_token(&s, &token, &["get", "pods"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("No resources found in default namespace"));

    let out = as_token(&s, &token, &["auth", "whoami", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let review: Value = serde_json::from_slice(&out.stdout).unwrap();
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "system:serviceaccount:default:default");
    assert_eq!(
        user["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let sa_uid = s.ok(&["get", "sa", "default", "-o", "jsonpath={.metadata.uid}"]);
    assert_eq!(user["uid"], sa_uid);
    let jti = claims(&token)["jti"].as_str().unwrap().to_string();
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/credential-id"],
        json!([format!("JTI={jti}")])
    );
    let table = text(&as_token(&s, &token, &["auth", "whoami"]).stdout);
    assert!(
        common::rows(&table).contains(&vec![
            "Username".to_string(),
            "system:serviceaccount:default:default".to_string()
        ]),
        "{table}"
    );

    // TokenReview says the same.
    let review = s.kubectl_stdin(
        &["create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-"],
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}).to_string(),
    );
    assert!(review.status.success(), "{}", text(&review.stderr));
    let review: Value = serde_json::from_slice(&review.stdout).unwrap();
    assert_eq!(review["status"]["authenticated"], true, "{review}");
    assert_eq!(
        review["status"]["user"]["username"],
        "system:serviceaccount:default:default"
    );
}

/// A TokenReview with `spec.audiences` judges the token for those audiences and reports the
/// ones it shares (issue 11, item 16); without them, for the API server's own.
fn token_review(s: &TestServer, token: &str, audiences: Option<&[&str]>) -> Value {
    let mut spec = json!({"token": token});
    if let Some(a) = audiences {
        spec["audiences"] = json!(a);
    }
    let review = s.kubectl_stdin(
        &[
            "create",
            "--raw",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "-f",
            "-",
        ],
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec})
            .to_string(),
    );
    assert!(review.status.success(), "{}", text(&review.stderr));
    serde_json::from_slice::<Value>(&review.stdout).unwrap()["status"].take()
}

fn bad_tokens_get_401(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.grant(
        &[
            "clusterrolebinding",
            "sa-view",
            "--clusterrole=view",
            "--group=system:serviceaccounts",
        ],
        &["list", "pods", "--as=system:serviceaccount:default:x"],
    );
    assert_unauthorized(&as_token(&s, "garbage", &["get", "pods"]));
    // Another audience is not this server.
    let foreign = create_token(&s, &["--audience=vault"]);
    assert_unauthorized(&as_token(&s, &foreign, &["get", "pods"]));
    // …but a TokenReview for that audience accepts it and says so.
    let status = token_review(&s, &foreign, Some(&["vault", "other"]));
    assert_eq!(status["authenticated"], true, "{status}");
    assert_eq!(status["audiences"], json!(["vault"]), "{status}");
    assert_eq!(
        status["user"]["username"],
        "system:serviceaccount:default:default"
    );
    let status = token_review(&s, &foreign, None);
    assert_eq!(status["authenticated"], false, "{status}");
    assert!(status.get("audiences").is_none(), "{status}");
    // A tampered token: the claims say kube-system, the signature does not.
    let token = create_token(&s, &[]);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut c = claims(&token);
    c["sub"] = json!("system:serviceaccount:kube-system:default");
    c["kubernetes.io"]["namespace"] = json!("kube-system");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string());
    assert_unauthorized(&as_token(&s, &parts.join("."), &["get", "pods"]));
    // An expired one, signed with the cluster's own key (beyond the minute of leeway).
    let key = kindling_apiserver::pki::ServiceAccountKey::load_or_create(&s.dir.path().join("pki"))
        .unwrap();
    let issuer =
        kindling_apiserver::TokenIssuer::new(&key, kindling_apiserver::DEFAULT_ISSUER).unwrap();
    let sa_uid = s.ok(&["get", "sa", "default", "-o", "jsonpath={.metadata.uid}"]);
    let (old, _) = issuer.claims(kindling_apiserver::TokenGrant {
        namespace: "default",
        service_account: kindling_apiserver::ObjectRef {
            name: "default".into(),
            uid: sa_uid,
        },
        pod: None,
        secret: None,
        node: None,
        audiences: issuer.api_audiences().to_vec(),
        expiration_seconds: 600,
        now: now() - 700,
    });
    let expired = issuer.sign(&old).unwrap();
    assert_unauthorized(&as_token(&s, &expired, &["get", "pods"]));
    // The same claims, fresh, work: only the time was wrong.
    let (fresh, _) = issuer.claims(kindling_apiserver::TokenGrant {
        namespace: "default",
        service_account: old.kubernetes.serviceaccount.clone(),
        pod: None,
        secret: None,
        node: None,
        audiences: issuer.api_audiences().to_vec(),
        expiration_seconds: 600,
        now: now(),
    });
    let out = as_token(&s, &issuer.sign(&fresh).unwrap(), &["get", "pods"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A token of a service account that was deleted (and re-created: another uid) is dead.
    s.ok(&["create", "sa", "robot"]);
    let robot = s.ok(&["create", "token", "robot"]).trim().to_string();
    assert!(as_token(&s, &robot, &["get", "pods"]).status.success());
    s.ok(&["delete", "sa", "robot"]);
    assert_unauthorized(&as_token(&s, &robot, &["get", "pods"]));
    s.ok(&["create", "sa", "robot"]);
    assert_unauthorized(&as_token(&s, &robot, &["get", "pods"]));
    // The raw answer is upstream's Status.
    let kubeconfig = token_kubeconfig(&s, "garbage");
    let (code, body) = s.runtime().block_on(async {
        let client = common::kube_client(&kubeconfig).await;
        let req = http::Request::get("/api/v1/namespaces")
            .body(Vec::new())
            .unwrap();
        let resp = client
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        let code = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (code, serde_json::from_slice::<Value>(&body).unwrap())
    });
    assert_eq!(code, 401);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
}

const POD: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "NAME"},
  "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
           "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}}"#;

fn pod(name: &str) -> Value {
    serde_json::from_str(&POD.replace("NAME", name)).unwrap()
}

fn create(s: &TestServer, obj: &Value) -> Value {
    let out = s.kubectl_stdin(&["create", "-o", "json", "-f", "-"], &obj.to_string());
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn a_token_bound_to_a_pod_dies_with_the_pod(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let created = create(&s, &pod("web"));
    let pod_uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let token = create_token(&s, &["--bound-object-kind=Pod", "--bound-object-name=web"]);
    assert_eq!(
        claims(&token)["kubernetes.io"]["pod"],
        json!({"name": "web", "uid": pod_uid})
    );
    let out = as_token(&s, &token, &["auth", "whoami", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let review: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        review["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"],
        json!(["web"])
    );
    // The wrong uid is a conflict, another service account's pod a bad request.
    let err = s.fails(&[
        "create",
        "token",
        "default",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
        "--bound-object-uid=0000",
    ]);
    assert!(
        err.contains(
            "the UID in the bound object reference (0000) does not match the UID in record"
        ),
        "{err}"
    );
    s.ok(&["create", "sa", "robot"]);
    let err = s.fails(&[
        "create",
        "token",
        "robot",
        "--bound-object-kind=Pod",
        "--bound-object-name=web",
    ]);
    assert!(
        err.contains(r#"cannot bind token for serviceaccount "robot" to pod running with serviceaccount "default""#),
        "{err}"
    );

    s.ok(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert_unauthorized(&as_token(&s, &token, &["get", "pods"]));
}

fn admission_mounts_the_token_volume_unless_told_not_to(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let created = create(&s, &pod("web"));
    let spec = &created["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    let volumes = spec["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1);
    let name = volumes[0]["name"].as_str().unwrap();
    assert!(
        name.starts_with("kube-api-access-") && name.len() == 21,
        "{name}"
    );
    assert_eq!(
        volumes[0]["projected"],
        json!({"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]})
    );
    let mount = json!([{"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]);
    assert_eq!(spec["initContainers"][0]["volumeMounts"], mount);
    assert_eq!(spec["containers"][0]["volumeMounts"], mount);
    assert_eq!(spec["containers"][1]["volumeMounts"], mount);

    // The pod opts out.
    let mut quiet = pod("quiet");
    quiet["spec"]["automountServiceAccountToken"] = json!(false);
    let created = create(&s, &quiet);
    assert!(created["spec"].get("volumes").is_none(), "{created}");
    assert!(created["spec"]["containers"][0]
        .get("volumeMounts")
        .is_none());
    // The service account opts out (the pod does not say).
    s.apply("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: shy\nautomountServiceAccountToken: false\n");
    let mut shy = pod("shy");
    shy["spec"]["serviceAccountName"] = json!("shy");
    let created = create(&s, &shy);
    assert_eq!(created["spec"]["serviceAccount"], "shy");
    assert!(created["spec"].get("volumes").is_none(), "{created}");

    // A missing service account: refused, with upstream's words.
    let out = s.kubectl(&[
        "run",
        "lost",
        "--image=busybox",
        "--overrides={\"spec\": {\"serviceAccountName\": \"nope\"}}",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim(),
        r#"Error from server (Forbidden): pods "lost" is forbidden: error looking up service account default/nope: serviceaccount "nope" not found"#
    );
}

/// `--disable-admission-plugins` (issue 11, item 12): without the ServiceAccount plugin a pod
/// keeps its spec (no service account, no kube-api-access volume); without LimitRanger it gets
/// no defaults. The default chain does both, on a server beside it.
fn disabled_admission_plugins_leave_pods_alone(kubectl: &Kubectl) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.admission =
        kindling_api::admission::AdmissionFlags::parse(None, Some("ServiceAccount,LimitRanger"));
    let mut bare = TestServer::start_with(dir, config);
    bare.kubectl = kubectl.clone();
    let usual = TestServer::start_using(kubectl);
    let limits = "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: l\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 200m}\n    defaultRequest: {cpu: 100m}\n";
    for s in [&bare, &usual] {
        s.apply(limits);
    }
    let created = create(&bare, &pod("plain"));
    let spec = &created["spec"];
    assert!(spec.get("serviceAccountName").is_none(), "{spec}");
    assert!(spec.get("volumes").is_none(), "{spec}");
    assert_eq!(spec["containers"][0]["resources"], json!({}), "{spec}");
    assert!(
        created["metadata"].get("annotations").is_none(),
        "{created}"
    );
    // The plugins still on ran: tolerations and priority.
    assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2, "{spec}");
    assert_eq!(spec["priority"], 0);

    let created = create(&usual, &pod("plain"));
    let spec = &created["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    assert!(spec["volumes"][0]["name"]
        .as_str()
        .unwrap()
        .starts_with("kube-api-access-"));
    assert_eq!(
        spec["containers"][0]["resources"],
        json!({"limits": {"cpu": "200m"}, "requests": {"cpu": "100m"}})
    );
}

/// An unknown plugin name: the server refuses to start, with kube-apiserver's message.
#[test]
fn unknown_admission_plugins_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.admission = kindling_api::admission::AdmissionFlags::parse(
        Some("NodeRestriction,Nope"),
        Some("ResourceQuota,Neither"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(kindling_apiserver::start(config))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        r#"[enable-admission-plugins plugin "Nope" is unknown, disable-admission-plugins plugin "Neither" is unknown]"#
    );
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn controllers_keep_every_namespace_supplied(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let ca = std::fs::read_to_string(s.dir.path().join("pki/ca.crt")).unwrap();
    s.ok(&["create", "namespace", "team-a"]);
    // A pod right after its namespace: admission waits for the controller's `default`.
    let out = s.kubectl(&["run", "early", "-n", "team-a", "--image=busybox"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root_ca = |s: &TestServer| {
        s.kubectl(&[
            "get",
            "cm",
            "kube-root-ca.crt",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ])
    };
    eventually("kube-root-ca.crt", || text(&root_ca(&s).stdout) == ca);

    s.ok(&["delete", "sa", "default", "-n", "team-a"]);
    eventually("default recreated", || {
        s.kubectl(&["get", "sa", "default", "-n", "team-a"])
            .status
            .success()
    });
    s.ok(&[
        "patch",
        "cm",
        "kube-root-ca.crt",
        "-n",
        "team-a",
        "-p",
        r#"{"data": {"ca.crt": "forged"}}"#,
    ]);
    eventually("ca.crt restored", || text(&root_ca(&s).stdout) == ca);
    s.ok(&["delete", "cm", "kube-root-ca.crt", "-n", "team-a"]);
    eventually("kube-root-ca.crt recreated", || {
        text(&root_ca(&s).stdout) == ca
    });
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        eventually(ns, || {
            s.kubectl(&["get", "sa", "default", "-n", ns])
                .status
                .success()
                && s.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", ns])
                    .status
                    .success()
        });
    }
}

common::kubectl_tests!(
    create_token_prints_a_jwt_with_upstreams_claims,
    the_token_is_a_credential_for_kubectl,
    bad_tokens_get_401,
    a_token_bound_to_a_pod_dies_with_the_pod,
    admission_mounts_the_token_volume_unless_told_not_to,
    disabled_admission_plugins_leave_pods_alone,
    controllers_keep_every_namespace_supplied,
);
