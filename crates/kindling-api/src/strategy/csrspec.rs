//! What a new CertificateSigningRequest's spec must be (upstream's
//! `validateCertificateSigningRequest` for a create, with `ValidateSignerName`): the request a
//! PEM `CERTIFICATE REQUEST` whose signature verifies, usages given, known and not repeated,
//! a qualified signer name, and at least ten minutes of requested validity.

use super::util::{arr_of, str_of};
use crate::meta::{
    dns1123_label_errors, dns1123_subdomain_errors, duplicate_str, go_quote, invalid_str,
    not_supported_str, required, too_long,
};
use crate::status::Cause;
use serde_json::Value;

/// Every key usage the API knows (upstream's `allValidUsages`), sorted as Go's `sets.List`.
pub const USAGES: [&str; 23] = [
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// The signer name of requests made before signer names existed; not accepted by v1.
const LEGACY_SIGNER: &str = "kubernetes.io/legacy-unknown";

/// The shortest validity a request may ask for (twice the signer's five-minute backdating).
const MIN_EXPIRATION_SECONDS: i64 = 600;

/// The longest signer name: a 253-character domain, '/', a 63-character namespace, '.', and
/// a 253-character name.
const MAX_SIGNER_NAME: usize = 571;

/// The spec errors of a new request, in upstream's order.
pub fn validate(obj: &Value) -> Vec<Cause> {
    let spec = &obj["spec"];
    let mut errs = Vec::new();
    let encoded = str_of(spec, "request");
    if let Err(why) = check_request(encoded) {
        // Upstream shows the bytes as JSON shows them: the base64 text.
        errs.push(invalid_str("spec.request", encoded, &why));
    }
    let usages = arr_of(spec, "usages");
    if usages.is_empty() {
        errs.push(required("spec.usages", ""));
    }
    for (i, usage) in usages.iter().enumerate() {
        let usage = usage.as_str().unwrap_or_default();
        if !USAGES.contains(&usage) {
            errs.push(not_supported_str(
                format!("spec.usages[{i}]"),
                usage,
                &USAGES,
            ));
        }
    }
    for (i, usage) in usages.iter().enumerate() {
        if usages[..i].contains(usage) {
            errs.push(duplicate_str(
                format!("spec.usages[{i}]"),
                usage.as_str().unwrap_or_default(),
            ));
        }
    }
    let signer = str_of(spec, "signerName");
    if signer == LEGACY_SIGNER {
        errs.push(invalid_str(
            "spec.signerName",
            signer,
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        errs.extend(validate_signer_name("spec.signerName", signer));
    }
    if let Some(seconds) = spec["expirationSeconds"].as_i64() {
        if seconds < MIN_EXPIRATION_SECONDS {
            errs.push(Cause::invalid(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
    }
    errs
}

/// Upstream's `ValidateCertificateSigningRequestSignerName`: `<domain>/<path>`, the domain at
/// least two DNS labels, the path dot-separated DNS subdomains.
pub fn validate_signer_name(field: &str, signer: &str) -> Vec<Cause> {
    if signer.is_empty() {
        return vec![required(field, "")];
    }
    let Some((domain, path)) = signer.split_once('/').filter(|(_, p)| !p.contains('/')) else {
        return vec![invalid_str(
            field,
            signer,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    let mut errs = Vec::new();
    if domain.len() > 253 {
        errs.push(too_long(field, 253));
    }
    // Only the first bad label of each part is reported, as upstream stops there.
    if let Some((label, label_errs)) = domain
        .split('.')
        .map(|l| (l, dns1123_label_errors(l)))
        .find(|(_, e)| !e.is_empty())
    {
        for e in label_errs {
            let detail = format!("validating label {}: {e}", go_quote(label));
            errs.push(invalid_str(field, domain, &detail));
        }
    }
    if domain.split('.').count() < 2 {
        errs.push(invalid_str(
            field,
            domain,
            "should be a domain with at least two segments separated by dots",
        ));
    }
    if let Some((segment, segment_errs)) = path
        .split('.')
        .map(|s| (s, dns1123_subdomain_errors(s)))
        .find(|(_, e)| !e.is_empty())
    {
        for e in segment_errs {
            let detail = format!("validating label {}: {e}", go_quote(segment));
            errs.push(invalid_str(field, path, &detail));
        }
    }
    if signer.len() > MAX_SIGNER_NAME {
        errs.push(too_long(field, MAX_SIGNER_NAME));
    }
    errs
}

/// Upstream's `ParseCSR` then `CheckSignature` on `spec.request` (base64 of the PEM text), with
/// Go's messages.
fn check_request(encoded: &str) -> Result<(), String> {
    use base64::Engine;
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::prelude::FromDer;
    const NOT_A_REQUEST: &str = "PEM block type must be CERTIFICATE REQUEST";
    let pem_text = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| NOT_A_REQUEST.to_string())?;
    // pem.Decode takes the first block wherever it starts.
    let start = find(&pem_text, b"-----BEGIN ").ok_or(NOT_A_REQUEST)?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem_text[start..])
        .map_err(|_| NOT_A_REQUEST.to_string())?;
    if pem.label != "CERTIFICATE REQUEST" {
        return Err(NOT_A_REQUEST.into());
    }
    let (_, request) = X509CertificationRequest::from_der(&pem.contents)
        .map_err(|e| format!("x509: malformed certificate request: {e}"))?;
    request
        .verify_signature()
        .map_err(|_| verification_failure(&request))
}

/// Go's error for a signature that does not verify, by the kind of the request's key.
fn verification_failure(
    request: &x509_parser::certification_request::X509CertificationRequest,
) -> String {
    use x509_parser::public_key::PublicKey;
    match request.certification_request_info.subject_pki.parsed() {
        Ok(PublicKey::RSA(_)) => "crypto/rsa: verification error".into(),
        Ok(PublicKey::EC(_)) => "x509: ECDSA verification failure".into(),
        _ => "x509: Ed25519 verification failure".into(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A P-256 request for CN=alice (made with openssl).
    const ALICE: &str = include_str!("testdata/alice.csr");

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn spec(request: &str, signer: &str, usages: Value) -> Value {
        json!({"spec": {"request": b64(request), "signerName": signer, "usages": usages}})
    }

    fn summaries(obj: &Value) -> Vec<String> {
        validate(obj).iter().map(Cause::summary).collect()
    }

    #[test]
    fn a_good_request_passes() {
        let obj = spec(ALICE, "example.com/s", json!(["client auth"]));
        assert_eq!(summaries(&obj), Vec::<String>::new());
    }

    #[test]
    fn requests_must_be_signed_pem_requests() {
        let obj = spec("hello", "example.com/s", json!(["client auth"]));
        assert_eq!(
            summaries(&obj),
            [format!(
                "spec.request: Invalid value: \"{}\": PEM block type must be CERTIFICATE REQUEST",
                b64("hello")
            )]
        );
        let cert = ALICE.replace("CERTIFICATE REQUEST", "CERTIFICATE");
        assert!(summaries(&spec(&cert, "example.com/s", json!(["any"])))[0]
            .ends_with(": PEM block type must be CERTIFICATE REQUEST"));
        // One bit of the signature flipped.
        let forged = forge(ALICE);
        assert!(
            summaries(&spec(&forged, "example.com/s", json!(["any"])))[0]
                .ends_with(": x509: ECDSA verification failure"),
            "{:?}",
            summaries(&spec(&forged, "example.com/s", json!(["any"])))
        );
    }

    /// The request with the last byte of its signature changed.
    fn forge(pem: &str) -> String {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut der = engine.decode(body).unwrap_or_default();
        if let Some(last) = der.last_mut() {
            *last ^= 1;
        }
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            engine.encode(der)
        )
    }

    #[test]
    fn usages_signer_and_expiration_follow_upstream() {
        let mut obj = spec(ALICE, "", json!(["client auth", "bogus", "client auth"]));
        obj["spec"]["expirationSeconds"] = json!(60);
        let got = summaries(&obj);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].starts_with(
            "spec.usages[1]: Unsupported value: \"bogus\": supported values: \"any\", \"cert sign\""
        ));
        assert_eq!(
            got[1..],
            [
                "spec.usages[2]: Duplicate value: \"client auth\"",
                "spec.signerName: Required value",
                "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
            ]
        );
        assert_eq!(
            summaries(&spec(ALICE, "example.com/s", json!([]))),
            ["spec.usages: Required value"]
        );
        let signer = |name: &str| {
            validate_signer_name("spec.signerName", name)
                .iter()
                .map(Cause::summary)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            signer("an-invalid-signer-name"),
            ["spec.signerName: Invalid value: \"an-invalid-signer-name\": must be a fully qualified domain and path of the form 'example.com/signer-name'"]
        );
        assert_eq!(
            signer("a.com/b/c"),
            ["spec.signerName: Invalid value: \"a.com/b/c\": must be a fully qualified domain and path of the form 'example.com/signer-name'"]
        );
        assert_eq!(
            signer("example/some-signer-name"),
            ["spec.signerName: Invalid value: \"example\": should be a domain with at least two segments separated by dots"]
        );
        assert_eq!(
            signer("kubernetes.io/kubelet-serving"),
            Vec::<String>::new()
        );
        assert_eq!(
            summaries(&spec(ALICE, LEGACY_SIGNER, json!(["any"]))),
            ["spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version"]
        );
    }
}
