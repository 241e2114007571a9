//! Label and taint syntax, as the kubelet checks `--node-labels` / `--register-with-taints`
//! (a bad one makes kind's `kubeadm init/join` fail; kindling says so before creating anything).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain of at most 253 characters, each label at most 63 (label key
/// prefixes, `networking.dnsDomain`).
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Checks a label key (`[prefix/]name`), with Kubernetes' wording.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !is_dns_subdomain(p) {
            return Err(format!(
                "invalid label key {key:?}: prefix part must be a lowercase RFC 1123 subdomain (e.g. 'example.com')"
            ));
        }
    }
    if !is_name_part(name) {
        return Err(format!(
            "invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
        ));
    }
    Ok(())
}

/// Checks a label value (empty, or like a key's name part).
pub fn check_label_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {value:?} for {key:?}: a valid label value must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
        ))
    }
}

/// Parses the kubelet's `--node-labels` value: `k=v,k2=v2`.
pub fn parse_node_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("invalid node label {item:?}: expected key=value"));
        };
        check_label_key(k)?;
        check_label_value(k, v)?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

impl Taint {
    /// The taint kubeadm puts on control-plane nodes.
    pub fn control_plane() -> Taint {
        Taint {
            key: "node-role.kubernetes.io/control-plane".to_string(),
            value: String::new(),
            effect: "NoSchedule".to_string(),
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        check_label_key(&self.key).map_err(|e| format!("taint: {e}"))?;
        if !self.value.is_empty() {
            check_label_value(&self.key, &self.value).map_err(|e| format!("taint: {e}"))?;
        }
        match self.effect.as_str() {
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Ok(()),
            "" => Err(format!("taint {:?}: effect is required (NoSchedule, PreferNoSchedule or NoExecute)", self.key)),
            other => Err(format!(
                "taint {:?}: unsupported effect {other:?} (expected NoSchedule, PreferNoSchedule or NoExecute)",
                self.key
            )),
        }
    }
}

impl std::fmt::Display for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// Parses the kubelet's `--register-with-taints` value: `key[=value]:Effect,...`.
pub fn parse_register_with_taints(s: &str) -> Result<Vec<Taint>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((kv, effect)) = item.rsplit_once(':') else {
            return Err(format!(
                "invalid taint {item:?}: expected key[=value]:effect"
            ));
        };
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        let t = Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
        };
        t.check()?;
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_labels() {
        let l = parse_node_labels("ingress-ready=true, example.com/tier=web,empty=").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l["example.com/tier"], "web");
        assert_eq!(l["empty"], "");
        assert!(parse_node_labels("novalue").is_err());
        assert!(parse_node_labels("Bad_Prefix.com/x=1").is_err());
        assert!(parse_node_labels("x=-bad").is_err());
        assert!(parse_node_labels("").unwrap().is_empty());
    }

    #[test]
    fn register_with_taints() {
        let t = parse_register_with_taints("a=b:NoSchedule,c:NoExecute").unwrap();
        assert_eq!(t[0].to_string(), "a=b:NoSchedule");
        assert_eq!(t[1].to_string(), "c:NoExecute");
        assert!(parse_register_with_taints("a=b").is_err());
        assert!(parse_register_with_taints("a:Sometimes").is_err());
    }
}
