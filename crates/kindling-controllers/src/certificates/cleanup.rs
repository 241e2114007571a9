//! Which CertificateSigningRequests the CSR cleaner deletes (upstream's
//! `pkg/controller/certificates/cleaner`), pure: approved and issued ones an hour after the
//! approval was last updated, denied and failed ones an hour after that condition's last
//! update, pending ones (no conditions) a day after creation, and approved ones whose issued
//! certificate has expired. A certificate that cannot be read keeps its request (upstream
//! reports the error and deletes nothing).

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use std::time::Duration;

pub const APPROVED_EXPIRATION: Duration = Duration::from_secs(3600);
pub const DENIED_EXPIRATION: Duration = Duration::from_secs(3600);
pub const PENDING_EXPIRATION: Duration = Duration::from_secs(24 * 3600);
/// How often upstream's cleaner goes through every request.
pub const POLLING_INTERVAL: Duration = Duration::from_secs(3600);

/// Why a request goes (upstream's log line for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clean {
    IssuedPastDeadline,
    DeniedPastDeadline,
    FailedPastDeadline,
    PendingPastDeadline,
    CertificateExpired,
}

impl Clean {
    pub fn reason(self) -> &'static str {
        match self {
            Clean::IssuedPastDeadline => "it is more than 1h0m0s old and approved",
            Clean::DeniedPastDeadline => "it is more than 1h0m0s old and denied",
            Clean::FailedPastDeadline => "it is more than 1h0m0s old and failed",
            Clean::PendingPastDeadline => "it is more than 24h0m0s old and unhandled",
            Clean::CertificateExpired => "the associated certificate is expired",
        }
    }
}

/// Whether `t` is set and more than `d` before `now` (upstream's isOlderThan).
fn older_than(t: Option<jiff::Timestamp>, d: Duration, now: jiff::Timestamp) -> bool {
    t.is_some_and(|t| {
        let age = now.as_nanosecond() - t.as_nanosecond();
        age > i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
    })
}

/// What the cleaner does with `csr` at `now`: `Ok(Some(why))` to delete it, `Ok(None)` to keep
/// it, `Err` when its certificate cannot be read. `not_after` reads a PEM certificate's end
/// of validity (Unix seconds).
pub fn clean(
    csr: &CertificateSigningRequest,
    now: jiff::Timestamp,
    not_after: impl Fn(&str) -> Result<i64, String>,
) -> Result<Option<Clean>, String> {
    let status = csr.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let certificate = status.certificate.as_ref();
    let expired = match certificate {
        None => false,
        Some(cert) => {
            let pem = String::from_utf8_lossy(&cert.0);
            if !pem.contains("-----BEGIN") {
                return Err(
                    "expected the certificate associated with the CSR to be PEM encoded".into(),
                );
            }
            let end =
                not_after(&pem).map_err(|e| format!("unable to parse certificate data: {e}"))?;
            now.as_second() > end
        }
    };
    let updated = |c: &k8s_openapi::api::certificates::v1::CertificateSigningRequestCondition| {
        c.last_update_time.as_ref().map(|t| t.0)
    };
    let issued = certificate.is_some();
    let has = |kind: &str, d: Duration| {
        conditions
            .iter()
            .any(|c| c.type_ == kind && older_than(updated(c), d, now))
    };
    let approved = conditions.iter().any(|c| c.type_ == "Approved");
    let why = if issued && has("Approved", APPROVED_EXPIRATION) {
        Some(Clean::IssuedPastDeadline)
    } else if has("Denied", DENIED_EXPIRATION) {
        Some(Clean::DeniedPastDeadline)
    } else if has("Failed", DENIED_EXPIRATION) {
        Some(Clean::FailedPastDeadline)
    } else if conditions.is_empty()
        && older_than(
            csr.metadata.creation_timestamp.as_ref().map(|t| t.0),
            PENDING_EXPIRATION,
            now,
        )
    {
        Some(Clean::PendingPastDeadline)
    } else if approved && issued && expired {
        Some(Clean::CertificateExpired)
    } else {
        None
    };
    Ok(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::{json, Value};

    const NOW: &str = "2026-06-01T12:00:00Z";
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn csr(
        created: &str,
        conditions: Value,
        certificate: Option<&str>,
    ) -> CertificateSigningRequest {
        let mut status = json!({"conditions": conditions});
        if let Some(c) = certificate {
            status["certificate"] = json!(base64::engine::general_purpose::STANDARD.encode(c));
        }
        serde_json::from_value(json!({
            "metadata": {"name": "r", "creationTimestamp": created},
            "spec": {"request": "", "signerName": "kubernetes.io/kube-apiserver-client"},
            "status": status,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn condition(kind: &str, updated: &str) -> Value {
        json!({"type": kind, "status": "True", "lastUpdateTime": updated})
    }

    #[test]
    fn upstreams_deadlines() {
        let now: jiff::Timestamp = NOW.parse().unwrap_or_default();
        // The certificate's end: `valid` ends tomorrow, `ended` an hour ago.
        fn valid(_: &str) -> Result<i64, String> {
            Ok(NOW
                .parse::<jiff::Timestamp>()
                .unwrap_or_default()
                .as_second()
                + 86_400)
        }
        fn ended(_: &str) -> Result<i64, String> {
            Ok(NOW
                .parse::<jiff::Timestamp>()
                .unwrap_or_default()
                .as_second()
                - 3_600)
        }
        let recent = "2026-06-01T11:30:00Z"; // 30 min ago
        let old = "2026-06-01T10:30:00Z"; // 90 min ago
        type NotAfter = fn(&str) -> Result<i64, String>;
        let cases: Vec<(&str, CertificateSigningRequest, NotAfter, Option<Clean>)> = vec![
            (
                "pending, 23 h",
                csr("2026-05-31T13:00:00Z", json!([]), None),
                |_| Ok(0),
                None,
            ),
            (
                "pending, 25 h",
                csr("2026-05-31T11:00:00Z", json!([]), None),
                |_| Ok(0),
                Some(Clean::PendingPastDeadline),
            ),
            (
                "approved 90 min ago, not issued",
                csr(old, json!([condition("Approved", old)]), None),
                |_| Ok(0),
                None,
            ),
            (
                "approved 30 min ago, issued",
                csr(old, json!([condition("Approved", recent)]), Some(CERT)),
                valid,
                None,
            ),
            (
                "approved 90 min ago, issued",
                csr(old, json!([condition("Approved", old)]), Some(CERT)),
                valid,
                Some(Clean::IssuedPastDeadline),
            ),
            (
                "approved 30 min ago, certificate expired",
                csr(old, json!([condition("Approved", recent)]), Some(CERT)),
                ended,
                Some(Clean::CertificateExpired),
            ),
            (
                "denied 30 min ago",
                csr(old, json!([condition("Denied", recent)]), None),
                |_| Ok(0),
                None,
            ),
            (
                "denied 90 min ago",
                csr(old, json!([condition("Denied", old)]), None),
                |_| Ok(0),
                Some(Clean::DeniedPastDeadline),
            ),
            (
                "failed 90 min ago",
                csr(
                    old,
                    json!([condition("Approved", recent), condition("Failed", old)]),
                    None,
                ),
                |_| Ok(0),
                Some(Clean::FailedPastDeadline),
            ),
            (
                "a condition without lastUpdateTime is never old",
                csr(old, json!([{"type": "Denied", "status": "True"}]), None),
                |_| Ok(0),
                None,
            ),
        ];
        for (name, request, not_after, want) in cases {
            assert_eq!(clean(&request, now, not_after), Ok(want), "{name}");
        }
        // A certificate that cannot be read keeps the request, whatever else holds.
        let broken = csr(old, json!([condition("Approved", old)]), Some("not PEM"));
        assert!(clean(&broken, now, valid).is_err());
        let unparsable = csr(old, json!([condition("Approved", old)]), Some(CERT));
        let error = clean(&unparsable, now, |_| Err("bad DER".into())).unwrap_err();
        assert_eq!(error, "unable to parse certificate data: bad DER");
    }
}
