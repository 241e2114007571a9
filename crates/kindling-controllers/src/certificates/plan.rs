//! What the CSR signer and approver decide for one CertificateSigningRequest (upstream's
//! `pkg/controller/certificates/signer` and `…/approver`, with the request checks of
//! `pkg/apis/certificates/helpers`): pure functions of the object and the request it carries.

use kindling_pki::RequestInfo;
use serde_json::Value;

pub const CLIENT: &str = "kubernetes.io/kube-apiserver-client";
pub const KUBELET_CLIENT: &str = "kubernetes.io/kube-apiserver-client-kubelet";
pub const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";

/// Upstream's `--cluster-signing-duration` default (one year).
pub const MAX_SECONDS: i64 = 365 * 24 * 3600;

/// The signer's step for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Not ours, not approved, refused, already failed or already issued.
    Nothing,
    /// Issue with these usages for this many seconds.
    Issue { usages: Vec<String>, seconds: i64 },
    /// Mark it Failed (`SignerValidationFailure`) with this message.
    Fail(String),
}

fn has_condition(csr: &Value, kind: &str) -> bool {
    csr["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == kind && c["status"] != "False")
    })
}

fn usages(csr: &Value) -> Vec<String> {
    csr["spec"]["usages"]
        .as_array()
        .map(|u| {
            u.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The usages a signer issues, and the one each request must include.
fn allowed_usages(signer: &str) -> Option<(&'static [&'static str], &'static str)> {
    match signer {
        CLIENT | KUBELET_CLIENT => Some((
            &["digital signature", "key encipherment", "client auth"],
            "client auth",
        )),
        KUBELET_SERVING => Some((
            &["digital signature", "key encipherment", "server auth"],
            "server auth",
        )),
        _ => None,
    }
}

/// A node's subject: `O=system:nodes`, `CN=system:node:<name>`.
fn node_subject(info: &RequestInfo) -> Result<(), String> {
    if info.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if !info.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    Ok(())
}

/// Upstream's request checks for `signer` (`ValidateKubeletClientCSR`,
/// `ValidateKubeletServingCSR`, the client signer's usage check).
pub fn check(signer: &str, info: &RequestInfo, usages: &[String]) -> Result<(), String> {
    let Some((allowed, required)) = allowed_usages(signer) else {
        return Err(format!("unsupported signer {signer}"));
    };
    if let Some(bad) = usages.iter().find(|u| !allowed.contains(&u.as_str())) {
        return Err(format!("usage {bad} is not allowed for signer {signer}"));
    }
    if !usages.iter().any(|u| u == required) {
        return Err(format!("missing required usage {required}"));
    }
    match signer {
        KUBELET_CLIENT => {
            node_subject(info)?;
            if !info.dns_names.is_empty() {
                return Err("DNS subjectAltNames are not allowed".into());
            }
            if !info.emails.is_empty() {
                return Err("Email subjectAltNames are not allowed".into());
            }
            if !info.ip_addresses.is_empty() {
                return Err("IP subjectAltNames are not allowed".into());
            }
            if !info.uris.is_empty() {
                return Err("URI subjectAltNames are not allowed".into());
            }
        }
        KUBELET_SERVING => {
            node_subject(info)?;
            if info.dns_names.is_empty() && info.ip_addresses.is_empty() {
                return Err("DNS or IP subjectAltName is required".into());
            }
            if !info.emails.is_empty() {
                return Err("Email subjectAltNames are not allowed".into());
            }
            if !info.uris.is_empty() {
                return Err("URI subjectAltNames are not allowed".into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// The signer's decision; `info` is the parsed `spec.request` (or why it did not parse).
pub fn sign(csr: &Value, info: Result<&RequestInfo, &str>) -> Sign {
    let signer = csr["spec"]["signerName"].as_str().unwrap_or_default();
    if allowed_usages(signer).is_none()
        || !has_condition(csr, "Approved")
        || has_condition(csr, "Denied")
        || has_condition(csr, "Failed")
        || csr["status"]["certificate"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    {
        return Sign::Nothing;
    }
    let info = match info {
        Ok(i) => i,
        Err(e) => return Sign::Fail(e.to_string()),
    };
    let usages = usages(csr);
    if let Err(why) = check(signer, info, &usages) {
        return Sign::Fail(why);
    }
    let seconds = csr["spec"]["expirationSeconds"]
        .as_i64()
        .map_or(MAX_SECONDS, |s| s.min(MAX_SECONDS));
    Sign::Issue { usages, seconds }
}

/// What the kubelet-client approver asks before approving: `None` (not a node client request,
/// or already decided), else the subresource of `certificatesigningrequests` the requester
/// must be allowed to `create` (`selfnodeclient` when it renews its own, else `nodeclient`)
/// and the approval message.
pub fn approval_question(
    csr: &Value,
    info: Option<&RequestInfo>,
) -> Option<(&'static str, &'static str)> {
    let signer = csr["spec"]["signerName"].as_str().unwrap_or_default();
    if signer != KUBELET_CLIENT
        || has_condition(csr, "Approved")
        || has_condition(csr, "Denied")
        || has_condition(csr, "Failed")
    {
        return None;
    }
    let info = info?;
    check(KUBELET_CLIENT, info, &usages(csr)).ok()?;
    if csr["spec"]["username"].as_str() == Some(info.common_name.as_str()) {
        Some((
            "selfnodeclient",
            "Auto approving self kubelet client certificate after SubjectAccessReview.",
        ))
    } else {
        Some((
            "nodeclient",
            "Auto approving kubelet client certificate after SubjectAccessReview.",
        ))
    }
}

/// What the kubelet serving approver (`kubelet-serving-approver`, off unless the cluster's
/// `controllers` list names it) decides: the message to approve with, when the request is a
/// node asking for its own serving certificate — sent by `system:node:<name>` in
/// `system:nodes`, for that same subject, usages within digital signature, key encipherment
/// and server auth (server auth required), naming only that node's own host names and
/// addresses (`node_addresses`: the Node's `status.addresses`, `None` when there is no such
/// Node). Anything else stays Pending for a person: this approver never denies.
pub fn serving_approval(
    csr: &Value,
    info: Option<&RequestInfo>,
    node_addresses: Option<&[(String, String)]>,
) -> Option<&'static str> {
    let signer = csr["spec"]["signerName"].as_str().unwrap_or_default();
    if signer != KUBELET_SERVING
        || has_condition(csr, "Approved")
        || has_condition(csr, "Denied")
        || has_condition(csr, "Failed")
    {
        return None;
    }
    let info = info?;
    let username = csr["spec"]["username"].as_str().unwrap_or_default();
    let in_nodes = csr["spec"]["groups"]
        .as_array()
        .is_some_and(|g| g.iter().any(|g| g == "system:nodes"));
    if !username.starts_with("system:node:") || !in_nodes || info.common_name != username {
        return None;
    }
    let usages = usages(csr);
    let allowed = ["digital signature", "key encipherment", "server auth"];
    if !usages.iter().all(|u| allowed.contains(&u.as_str()))
        || !usages.iter().any(|u| u == "server auth")
    {
        return None;
    }
    check(KUBELET_SERVING, info, &usages).ok()?;
    let addresses = node_addresses?;
    let has = |kinds: &[&str], value: &str| {
        addresses
            .iter()
            .any(|(kind, address)| kinds.contains(&kind.as_str()) && address == value)
    };
    let dns_ok = info
        .dns_names
        .iter()
        .all(|d| has(&["Hostname", "InternalDNS", "ExternalDNS"], d));
    let ips_ok = info
        .ip_addresses
        .iter()
        .all(|ip| has(&["InternalIP", "ExternalIP"], &ip.to_string()));
    (dns_ok && ips_ok).then_some(
        "Auto approving kubelet serving certificate after checking the node's addresses.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node_info(sans: bool) -> RequestInfo {
        RequestInfo {
            common_name: "system:node:a".into(),
            organizations: vec!["system:nodes".into()],
            dns_names: if sans { vec!["a".into()] } else { vec![] },
            ..RequestInfo::default()
        }
    }

    fn csr(signer: &str, usages: &[&str], conditions: Value) -> Value {
        json!({"spec": {"signerName": signer, "usages": usages, "username": "system:node:a",
                        "expirationSeconds": 3600},
               "status": {"conditions": conditions}})
    }

    #[test]
    fn signers_issue_only_approved_valid_requests() {
        let approved = json!([{"type": "Approved", "status": "True"}]);
        let client = ["digital signature", "key encipherment", "client auth"];
        let serving = ["digital signature", "key encipherment", "server auth"];
        let alice = RequestInfo {
            common_name: "alice".into(),
            ..RequestInfo::default()
        };
        let issue = |u: &[&str]| Sign::Issue {
            usages: u.iter().map(|s| (*s).to_string()).collect(),
            seconds: 3600,
        };
        let cases: Vec<(Value, RequestInfo, Sign)> = vec![
            (csr(CLIENT, &client, approved.clone()), alice.clone(), issue(&client)),
            (csr(CLIENT, &client, json!([])), alice.clone(), Sign::Nothing),
            (csr(CLIENT, &client, json!([{"type": "Denied", "status": "True"}])), alice.clone(), Sign::Nothing),
            (csr("example.com/x", &client, approved.clone()), alice.clone(), Sign::Nothing),
            (csr(CLIENT, &serving, approved.clone()), alice.clone(),
             Sign::Fail("usage server auth is not allowed for signer kubernetes.io/kube-apiserver-client".into())),
            (csr(KUBELET_CLIENT, &client, approved.clone()), node_info(false), issue(&client)),
            (csr(KUBELET_CLIENT, &client, approved.clone()), alice.clone(),
             Sign::Fail("subject organization is not system:nodes".into())),
            (csr(KUBELET_CLIENT, &client, approved.clone()), node_info(true),
             Sign::Fail("DNS subjectAltNames are not allowed".into())),
            (csr(KUBELET_SERVING, &serving, approved.clone()), node_info(true), issue(&serving)),
            (csr(KUBELET_SERVING, &serving, approved.clone()), node_info(false),
             Sign::Fail("DNS or IP subjectAltName is required".into())),
            (csr(KUBELET_SERVING, &["digital signature"], approved.clone()), node_info(true),
             Sign::Fail("missing required usage server auth".into())),
        ];
        for (obj, info, want) in cases {
            assert_eq!(sign(&obj, Ok(&info)), want, "{obj}");
        }
        let mut done = csr(CLIENT, &client, approved);
        done["status"]["certificate"] = json!("LS0t");
        assert_eq!(sign(&done, Ok(&alice)), Sign::Nothing);
        let mut long = csr(
            CLIENT,
            &client,
            json!([{"type": "Approved", "status": "True"}]),
        );
        long["spec"]["expirationSeconds"] = json!(10 * MAX_SECONDS);
        assert!(
            matches!(sign(&long, Ok(&alice)), Sign::Issue { seconds, .. } if seconds == MAX_SECONDS)
        );
    }

    #[test]
    fn the_approver_asks_about_node_client_requests_only() {
        let client = ["digital signature", "client auth"];
        let mine = csr(KUBELET_CLIENT, &client, json!([]));
        assert_eq!(
            approval_question(&mine, Some(&node_info(false))).map(|q| q.0),
            Some("selfnodeclient")
        );
        let mut bootstrap = mine.clone();
        bootstrap["spec"]["username"] = json!("system:bootstrap:abcdef");
        assert_eq!(
            approval_question(&bootstrap, Some(&node_info(false))).map(|q| q.0),
            Some("nodeclient")
        );
        assert_eq!(
            approval_question(&csr(CLIENT, &client, json!([])), Some(&node_info(false))),
            None
        );
        assert_eq!(approval_question(&mine, Some(&node_info(true))), None);
    }

    #[test]
    fn serving_requests_are_approved_for_the_nodes_own_names_only() {
        let serving = ["digital signature", "server auth"];
        let mut mine = csr(KUBELET_SERVING, &serving, json!([]));
        mine["spec"]["groups"] = json!(["system:nodes", "system:authenticated"]);
        let addresses: Vec<(String, String)> = [("InternalIP", "172.18.0.2"), ("Hostname", "a")]
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let mut info = node_info(true);
        info.ip_addresses = vec!["172.18.0.2".parse().unwrap()];
        let approve = |obj: &Value, info: &RequestInfo| {
            serving_approval(obj, Some(info), Some(&addresses)).is_some()
        };
        assert!(approve(&mine, &info));
        let mut rsa = mine.clone();
        rsa["spec"]["usages"] = json!(["digital signature", "key encipherment", "server auth"]);
        assert!(approve(&rsa, &info));

        // Another node's address, another name, a client usage, another requester, a decided
        // request, a node that does not exist: left for a person.
        let mut elsewhere = info.clone();
        elsewhere.ip_addresses = vec!["172.18.0.9".parse().unwrap()];
        assert!(!approve(&mine, &elsewhere));
        let mut named = info.clone();
        named.dns_names = vec!["kubernetes.default".into()];
        assert!(!approve(&mine, &named));
        let mut client = mine.clone();
        client["spec"]["usages"] = json!(["digital signature", "server auth", "client auth"]);
        assert!(!approve(&client, &info));
        let mut other = mine.clone();
        other["spec"]["username"] = json!("system:node:b");
        assert!(!approve(&other, &info));
        let mut outsider = mine.clone();
        outsider["spec"]["groups"] = json!(["system:authenticated"]);
        assert!(!approve(&outsider, &info));
        let mut denied = mine.clone();
        denied["status"]["conditions"] = json!([{"type": "Denied", "status": "True"}]);
        assert!(!approve(&denied, &info));
        assert!(serving_approval(&mine, Some(&info), None).is_none());
        assert!(serving_approval(
            &csr(KUBELET_CLIENT, &serving, json!([])),
            Some(&info),
            Some(&addresses)
        )
        .is_none());
    }
}
