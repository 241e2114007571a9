//! RBAC with the real kubectl: a second user (a client certificate of the cluster CA) with
//! bindings; `kubectl auth can-i [--list]`, `auth whoami`, `auth reconcile`, 403s word for
//! word, escalation prevention, impersonation with and without the `impersonate` verb, access
//! reviews, ClusterRole aggregation and the bootstrap policy's reconciliation at start-up.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A kubeconfig of `user` (groups `groups`), a client certificate signed by the test CA.
fn user_kubeconfig(s: &TestServer, user: &str, groups: &[&str]) -> PathBuf {
    let ca = kindling_pki::Ca::load_or_create(&s.dir.path().join("pki")).unwrap();
    let cert = ca.client_cert(user, groups).unwrap();
    let dir = s.dir.path().join(format!("user-{user}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    let url = format!("https://{}", s.address);
    let config = kindling_apiserver::kubeconfig::render("kindling", &url, &ca.pair.cert_pem, &cert);
    std::fs::write(&path, config).unwrap();
    path
}

/// kubectl as the user of `kubeconfig`.
fn as_user(s: &TestServer, kubeconfig: &Path, args: &[&str]) -> Output {
    s.kubectl.run(kubeconfig, args, None, &[])
}

fn as_user_stdin(s: &TestServer, kubeconfig: &Path, args: &[&str], stdin: &str) -> Output {
    s.kubectl.run(kubeconfig, args, Some(stdin), &[])
}

fn can_i(s: &TestServer, kubeconfig: &Path, args: &[&str]) -> String {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    text(&as_user(s, kubeconfig, &all).stdout)
        .trim()
        .to_string()
}

/// A server with namespace `team` and user bob bound to `view` there.
fn team_server(kubectl: &Kubectl) -> (TestServer, PathBuf) {
    let s = TestServer::start_using(kubectl);
    s.ok(&["create", "namespace", "team"]);
    s.grant(
        &[
            "rolebinding",
            "bob-view",
            "-n",
            "team",
            "--clusterrole=view",
            "--user=bob",
        ],
        &["list", "pods", "-n", "team", "--as=bob"],
    );
    let bob = user_kubeconfig(&s, "bob", &[]);
    (s, bob)
}

fn can_i_answers_follow_bindings(kubectl: &Kubectl) {
    let (s, bob) = team_server(kubectl);
    assert_eq!(can_i(&s, &bob, &["list", "pods", "-n", "team"]), "yes");
    assert_eq!(can_i(&s, &bob, &["get", "pods/log", "-n", "team"]), "yes");
    assert_eq!(can_i(&s, &bob, &["delete", "pods", "-n", "team"]), "no");
    assert_eq!(can_i(&s, &bob, &["list", "secrets", "-n", "team"]), "no");
    assert_eq!(can_i(&s, &bob, &["list", "pods", "-n", "default"]), "no");
    assert_eq!(can_i(&s, &bob, &["list", "nodes"]), "no");
    assert_eq!(can_i(&s, &bob, &["get", "/api"]), "yes");
    assert_eq!(can_i(&s, &bob, &["get", "/metrics"]), "no");
    let out = as_user(&s, &bob, &["get", "pods", "-n", "team"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).trim(),
        "No resources found in team namespace."
    );
    let out = as_user(&s, &bob, &["get", "secrets", "-n", "team"]);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team\""
    );
    let out = as_user(&s, &bob, &["get", "nodes"]);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
    let out = as_user(
        &s,
        &bob,
        &["delete", "configmap", "kube-root-ca.crt", "-n", "team"],
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): configmaps \"kube-root-ca.crt\" is forbidden: User \"bob\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
    // The admin (system:masters) may do anything, in any namespace.
    assert_eq!(
        s.ok(&["auth", "can-i", "escalate", "clusterroles"]).trim(),
        "yes"
    );
    // A group binding applies to every member; removing the binding takes the right away.
    s.ok(&["delete", "rolebinding", "bob-view", "-n", "team"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while can_i(&s, &bob, &["list", "pods", "-n", "team"]) != "no" {
        assert!(
            std::time::Instant::now() < deadline,
            "binding still in force"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Lines of a kubectl table with runs of spaces collapsed.
fn squeezed(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn can_i_list_shows_the_rules(kubectl: &Kubectl) {
    let (s, bob) = team_server(kubectl);
    let out = as_user(&s, &bob, &["auth", "can-i", "--list", "-n", "team"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = squeezed(&text(&out.stdout));
    assert_eq!(
        lines[0], "Resources Non-Resource URLs Resource Names Verbs",
        "{lines:#?}"
    );
    for want in [
        "selfsubjectreviews.authentication.k8s.io [] [] [create]",
        "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]",
        "selfsubjectrulesreviews.authorization.k8s.io [] [] [create]",
        "pods [] [] [get list watch]",
        "deployments.apps [] [] [get list watch]",
        "[/api/*] [] [get]",
        "[/healthz] [] [get]",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want:?} not in {lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("secrets ")),
        "{lines:#?}"
    );
    // In another namespace only the cluster-wide rules remain.
    let out = as_user(&s, &bob, &["auth", "can-i", "--list", "-n", "default"]);
    let lines = squeezed(&text(&out.stdout));
    assert!(!lines.iter().any(|l| l.starts_with("pods ")), "{lines:#?}");
}

const BOB_RBAC_ADMIN: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: rbac-admin
  namespace: team
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [create, get, list, update, patch, delete]
";

fn escalation_is_refused(kubectl: &Kubectl) {
    let (s, bob) = team_server(kubectl);
    s.apply(BOB_RBAC_ADMIN);
    s.grant(
        &[
            "rolebinding",
            "bob-rbac",
            "-n",
            "team",
            "--role=rbac-admin",
            "--user=bob",
        ],
        &["create", "roles", "-n", "team", "--as=bob"],
    );
    // Rules bob holds (view's) may be granted.
    let out = as_user(
        &s,
        &bob,
        &[
            "create",
            "role",
            "reader",
            "-n",
            "team",
            "--verb=get,list",
            "--resource=pods",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Others may not.
    let out = as_user(
        &s,
        &bob,
        &[
            "create",
            "role",
            "killer",
            "-n",
            "team",
            "--verb=get,delete",
            "--resource=pods,secrets",
        ],
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): roles.rbac.authorization.k8s.io \"killer\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}"
    );
    // Binding a role bob holds the rules of: fine; `admin`: refused, until bob may `bind` it.
    let out = as_user(
        &s,
        &bob,
        &[
            "create",
            "rolebinding",
            "eve-view",
            "-n",
            "team",
            "--clusterrole=view",
            "--user=eve",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bind_admin = [
        "create",
        "rolebinding",
        "eve-admin",
        "-n",
        "team",
        "--clusterrole=admin",
        "--user=eve",
    ];
    let out = as_user(&s, &bob, &bind_admin);
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io \"eve-admin\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"),
        "{err}"
    );
    assert!(
        err.contains("\n{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"create\" \"delete\" \"deletecollection\" \"patch\" \"update\"]}\n"),
        "{err}"
    );
    s.ok(&[
        "create",
        "clusterrole",
        "admin-binder",
        "--verb=bind",
        "--resource=clusterroles",
        "--resource-name=admin",
    ]);
    s.grant(
        &[
            "rolebinding",
            "bob-binds-admin",
            "-n",
            "team",
            "--clusterrole=admin-binder",
            "--user=bob",
        ],
        &["bind", "clusterroles/admin", "-n", "team", "--as=bob"],
    );
    let out = as_user(&s, &bob, &bind_admin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A binding's roleRef never changes.
    let out = s.kubectl(&[
        "patch",
        "rolebinding",
        "eve-admin",
        "-n",
        "team",
        "--type=merge",
        "-p",
        r#"{"roleRef":{"name":"edit"}}"#,
    ]);
    assert_eq!(
        text(&out.stderr).trim(),
        "The RoleBinding \"eve-admin\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
    );
}

fn impersonation_needs_the_verb(kubectl: &Kubectl) {
    let (s, bob) = team_server(kubectl);
    // kubectl's discovery meets the 403 first and words it as upstream's does.
    let out = as_user(&s, &bob, &["get", "pods", "-n", "team", "--as=alice"]);
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("Error from server (Forbidden): unknown")
    );
    let raw = "/api/v1/namespaces/team/pods";
    let out = as_user(&s, &bob, &["get", "--raw", raw, "--as=alice"]);
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let out = as_user(
        &s,
        &bob,
        &[
            "get",
            "--raw",
            raw,
            "--as=system:serviceaccount:team:default",
        ],
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): serviceaccounts \"default\" is forbidden: User \"bob\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"team\""
    );
    s.ok(&[
        "create",
        "clusterrole",
        "impersonator",
        "--verb=impersonate",
        "--resource=users,groups",
    ]);
    s.grant(
        &[
            "clusterrolebinding",
            "bob-impersonates",
            "--clusterrole=impersonator",
            "--user=bob",
        ],
        &["impersonate", "users", "--as=bob"],
    );
    let out = as_user(
        &s,
        &bob,
        &[
            "auth",
            "whoami",
            "-o",
            "json",
            "--as=alice",
            "--as-group=g1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let review: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "alice", "groups": ["g1", "system:authenticated"]})
    );
    // uids are not among what bob may impersonate.
    let out = as_user(
        &s,
        &bob,
        &["get", "--raw", raw, "--as=alice", "--as-uid=42"],
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): uids.authentication.k8s.io \"42\" is forbidden: User \"bob\" cannot impersonate resource \"uids\" in API group \"authentication.k8s.io\" at the cluster scope"
    );
    // Alice herself may not read pods in team.
    let out = as_user(&s, &bob, &["get", "--raw", raw, "--as=alice"]);
    assert!(
        text(&out.stderr).contains("User \"alice\" cannot list resource \"pods\""),
        "{}",
        text(&out.stderr)
    );
}

fn whoami_and_access_reviews(kubectl: &Kubectl) {
    let (s, bob) = team_server(kubectl);
    let out = as_user(&s, &bob, &["auth", "whoami", "-o", "json"]);
    let review: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "bob", "groups": ["system:authenticated"]})
    );
    let sar = |spec: Value| -> Value {
        // No metadata: upstream's OpenAPI does not require it, so neither does kubectl.
        let obj = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                         "spec": spec});
        let out = s.kubectl_stdin(&["create", "-o", "json", "-f", "-"], &obj.to_string());
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"].clone()
    };
    assert_eq!(
        sar(
            json!({"user": "bob", "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods"}})
        ),
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"bob-view/team\" of ClusterRole \"view\" to User \"bob\""})
    );
    assert_eq!(
        sar(
            json!({"user": "bob", "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "secrets"}})
        ),
        json!({"allowed": false})
    );
    assert_eq!(
        sar(
            json!({"groups": ["system:masters"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}})
        ),
        json!({"allowed": true})
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {}}"#,
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "The SubjectAccessReview \"\" is invalid: \n* spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified\n* spec.user: Invalid value: \"\": at least one of user or group must be specified"
    );
    // bob may not ask about others (no create on subjectaccessreviews).
    let out = as_user_stdin(
        &s,
        &bob,
        &["create", "--validate=false", "-f", "-"],
        r#"{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "x", "nonResourceAttributes": {"path": "/", "verb": "get"}}}"#,
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": subjectaccessreviews.authorization.k8s.io is forbidden: User \"bob\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
    );
}

const RECONCILE: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: deployer
  namespace: team
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployer
  namespace: team
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: deployer
subjects:
- kind: User
  name: carol
";

fn auth_reconcile_adds_what_is_missing(kubectl: &Kubectl) {
    let (s, _bob) = team_server(kubectl);
    let out = s.kubectl_stdin(&["auth", "reconcile", "-f", "-"], RECONCILE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("role.rbac.authorization.k8s.io/deployer reconciled")
            && stdout.contains("rolebinding.rbac.authorization.k8s.io/deployer reconciled"),
        "{stdout}"
    );
    // A rule taken away comes back; one added by hand stays.
    s.ok(&[
        "patch",
        "role",
        "deployer",
        "-n",
        "team",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/rules","value":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get"]},{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]}]"#,
    ]);
    let out = s.kubectl_stdin(&["auth", "reconcile", "-f", "-"], RECONCILE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    s.await_can_i(&["create", "deployments.apps", "-n", "team", "--as=carol"]);
    s.await_can_i(&["get", "pods", "-n", "team", "--as=carol"]);
}

fn aggregation_and_bootstrap_reconciliation(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    // A ClusterRole labelled to aggregate into view: view (and so edit and admin) gain it.
    s.apply(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-view
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: \"true\"
rules:
- apiGroups: [example.com]
  resources: [widgets]
  verbs: [get, list, watch]
",
    );
    for role in ["view", "edit", "admin"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let rules = s.ok(&["get", "clusterrole", role, "-o", "jsonpath={.rules}"]);
            if rules.contains("widgets") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{role}: {rules}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    // Bootstrap roles: a deleted one comes back at the next start; one annotated
    // autoupdate=false keeps its edits.
    s.ok(&["delete", "clusterrole", "system:heapster"]);
    s.ok(&[
        "annotate",
        "clusterrole",
        "system:kube-dns",
        "rbac.authorization.kubernetes.io/autoupdate=false",
        "--overwrite",
    ]);
    s.ok(&[
        "patch",
        "clusterrole",
        "system:kube-dns",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/rules","value":[]}]"#,
    ]);
    s.ok(&[
        "patch",
        "clusterrole",
        "system:node-proxier",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/rules","value":[]}]"#,
    ]);
    // The namespaced ones likewise.
    s.ok(&[
        "delete",
        "role",
        "system:controller:token-cleaner",
        "-n",
        "kube-system",
    ]);
    s.ok(&[
        "delete",
        "rolebinding",
        "system:controller:bootstrap-signer",
        "-n",
        "kube-public",
    ]);
    s.ok(&[
        "annotate",
        "role",
        "system::leader-locking-kube-scheduler",
        "-n",
        "kube-system",
        "rbac.authorization.kubernetes.io/autoupdate=false",
        "--overwrite",
    ]);
    s.ok(&[
        "patch",
        "role",
        "system::leader-locking-kube-scheduler",
        "-n",
        "kube-system",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/rules","value":[]}]"#,
    ]);
    let kubectl = s.kubectl.clone();
    let dir = s.stop();
    let mut s = TestServer::start_in(dir);
    s.kubectl = kubectl;
    s.ok(&["get", "clusterrole", "system:heapster"]);
    s.ok(&[
        "get",
        "role",
        "system:controller:token-cleaner",
        "-n",
        "kube-system",
    ]);
    s.ok(&[
        "get",
        "rolebinding",
        "system:controller:bootstrap-signer",
        "-n",
        "kube-public",
    ]);
    assert_eq!(
        s.ok(&[
            "get",
            "role",
            "system::leader-locking-kube-scheduler",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.rules}"
        ]),
        "[]"
    );
    assert_eq!(
        s.ok(&[
            "get",
            "clusterrole",
            "system:kube-dns",
            "-o",
            "jsonpath={.rules}"
        ]),
        "[]"
    );
    let proxier = s.ok(&["get", "clusterrole", "system:node-proxier", "-o", "json"]);
    let proxier: Value = serde_json::from_str(&proxier).unwrap();
    assert!(
        proxier["rules"].as_array().is_some_and(|r| r.len() >= 4),
        "{proxier}"
    );
}

/// Upstream's Roles and RoleBindings of kube-system and kube-public, as `kubectl get` lists
/// them, and what they let the bootstrap controllers' accounts do.
fn namespaced_bootstrap_policy(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let listed = s.ok(&["get", "roles,rolebindings", "-n", "kube-system"]);
    for name in [
        "role.rbac.authorization.k8s.io/extension-apiserver-authentication-reader",
        "role.rbac.authorization.k8s.io/system::leader-locking-kube-controller-manager",
        "role.rbac.authorization.k8s.io/system::leader-locking-kube-scheduler",
        "role.rbac.authorization.k8s.io/system:controller:bootstrap-signer",
        "role.rbac.authorization.k8s.io/system:controller:cloud-provider",
        "role.rbac.authorization.k8s.io/system:controller:token-cleaner",
        "rolebinding.rbac.authorization.k8s.io/system::extension-apiserver-authentication-reader",
        "rolebinding.rbac.authorization.k8s.io/system::leader-locking-kube-controller-manager",
        "rolebinding.rbac.authorization.k8s.io/system::leader-locking-kube-scheduler",
        "rolebinding.rbac.authorization.k8s.io/system:controller:bootstrap-signer",
        "rolebinding.rbac.authorization.k8s.io/system:controller:cloud-provider",
        "rolebinding.rbac.authorization.k8s.io/system:controller:token-cleaner",
    ] {
        assert!(listed.contains(name), "{name} missing from:\n{listed}");
    }
    let public = s.ok(&[
        "get",
        "roles,rolebindings",
        "-n",
        "kube-public",
        "-o",
        "name",
    ]);
    assert_eq!(
        public.trim(),
        "role.rbac.authorization.k8s.io/system:controller:bootstrap-signer\n\
         rolebinding.rbac.authorization.k8s.io/system:controller:bootstrap-signer"
    );
    let binding = s.ok(&[
        "get",
        "rolebinding",
        "system::leader-locking-kube-scheduler",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[*].name}",
    ]);
    assert_eq!(
        binding,
        "Role/system::leader-locking-kube-scheduler system:kube-scheduler kube-scheduler"
    );
    let cleaner = "--as=system:serviceaccount:kube-system:token-cleaner";
    let signer = "--as=system:serviceaccount:kube-system:bootstrap-signer";
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        text(&s.kubectl(&all).stdout).trim().to_string()
    };
    assert_eq!(
        can(&["delete", "secrets", "-n", "kube-system", cleaner]),
        "yes"
    );
    assert_eq!(can(&["delete", "secrets", "-n", "default", cleaner]), "no");
    assert_eq!(
        can(&[
            "update",
            "configmaps/cluster-info",
            "-n",
            "kube-public",
            signer
        ]),
        "yes"
    );
    assert_eq!(
        can(&["update", "configmaps/other", "-n", "kube-public", signer]),
        "no"
    );
    assert_eq!(
        can(&["list", "secrets", "-n", "kube-system", signer]),
        "yes"
    );
}

common::kubectl_tests!(
    namespaced_bootstrap_policy,
    can_i_answers_follow_bindings,
    can_i_list_shows_the_rules,
    escalation_is_refused,
    impersonation_needs_the_verb,
    whoami_and_access_reviews,
    auth_reconcile_adds_what_is_missing,
    aggregation_and_bootstrap_reconciliation,
);
