//! networking.k8s.io/v1 IPAddress and ServiceCIDR (pkg/apis/networking/validation). The Service
//! allocator records every ClusterIP it hands out as an IPAddress named after the address, whose
//! `parentRef` is the Service; the `kubernetes` ServiceCIDR holds the cluster's service range.

use super::util::{arr_of, spec_of, str_of};
use super::{NameRule, Strategy};
use crate::meta::{
    dns1123_label_errors, dns1123_subdomain_errors, go_quote, invalid_raw, invalid_str,
    path_segment_errors, required, FIELD_IMMUTABLE_ERROR_MSG,
};
use crate::status::Cause;
use serde_json::Value;
use std::net::IpAddr;

pub struct IpAddressStrategy;

impl Strategy for IpAddressStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::IpAddress
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let Some(parent) = spec.get("parentRef").filter(|p| p.is_object()) else {
            return vec![required("spec.parentRef", "")];
        };
        let mut errs = Vec::new();
        let group = str_of(parent, "group");
        if !group.is_empty() {
            for msg in dns1123_subdomain_errors(group) {
                errs.push(invalid_str("spec.parentRef.group", group, &msg));
            }
        }
        for field in ["resource", "name"] {
            let v = str_of(parent, field);
            if v.is_empty() {
                errs.push(required(format!("spec.parentRef.{field}"), ""));
            } else {
                for msg in path_segment_errors(v, false) {
                    errs.push(invalid_str(format!("spec.parentRef.{field}"), v, &msg));
                }
            }
        }
        let ns = str_of(parent, "namespace");
        if !ns.is_empty() {
            for msg in dns1123_label_errors(ns) {
                errs.push(invalid_str("spec.parentRef.namespace", ns, &msg));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (&spec_of(new)["parentRef"], &spec_of(old)["parentRef"]);
        if n != o {
            return vec![invalid_raw(
                "spec.parentRef",
                &go_parent_ref(n),
                FIELD_IMMUTABLE_ERROR_MSG,
            )];
        }
        Vec::new()
    }
}

/// A ParentReference as Go's `%v` of a pointer to it prints it.
fn go_parent_ref(p: &Value) -> String {
    format!(
        "&networking.ParentReference{{Group:{}, Resource:{}, Namespace:{}, Name:{}}}",
        go_quote(str_of(p, "group")),
        go_quote(str_of(p, "resource")),
        go_quote(str_of(p, "namespace")),
        go_quote(str_of(p, "name"))
    )
}

pub struct ServiceCidrStrategy;

impl Strategy for ServiceCidrStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let cidrs = arr_of(spec_of(obj), "cidrs");
        if cidrs.is_empty() {
            return vec![required("spec.cidrs", "at least one CIDR required")];
        }
        if cidrs.len() > 2 {
            return vec![invalid_raw(
                "spec.cidrs",
                &go_cidrs(cidrs),
                "may only hold up to 2 values",
            )];
        }
        let mut errs = Vec::new();
        let mut families = Vec::new();
        for (i, c) in cidrs.iter().enumerate() {
            let text = c.as_str().unwrap_or_default();
            match parse_cidr(text) {
                Ok((ip, prefix)) => {
                    families.push(ip.is_ipv4());
                    let canonical = format!("{}/{prefix}", masked(ip, prefix));
                    if canonical != text {
                        errs.push(invalid_str(
                            format!("spec.cidrs[{i}]"),
                            text,
                            &format!("must be in canonical form (\"{canonical}\")"),
                        ));
                    }
                }
                Err(()) => errs.push(invalid_str(
                    format!("spec.cidrs[{i}]"),
                    text,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )),
            }
        }
        if errs.is_empty() && families.len() == 2 && families[0] == families[1] {
            errs.push(invalid_raw(
                "spec.cidrs",
                &go_cidrs(cidrs),
                "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            ));
        }
        errs
    }

    /// The CIDRs may not change, except that a single-stack range may gain a second family.
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (arr_of(spec_of(new), "cidrs"), arr_of(spec_of(old), "cidrs"));
        let upgraded = o.len() == 1 && n.len() == 2 && n[0] == o[0];
        if n == o || upgraded {
            return Vec::new();
        }
        vec![invalid_raw(
            "spec.cidrs",
            &go_cidrs(n),
            FIELD_IMMUTABLE_ERROR_MSG,
        )]
    }
}

fn go_cidrs(cidrs: &[Value]) -> String {
    let items: Vec<&str> = cidrs.iter().filter_map(Value::as_str).collect();
    format!("[{}]", items.join(" "))
}

/// `10.96.0.0/12` → (address, prefix length).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), ()> {
    let (ip, prefix_text) = s.split_once('/').ok_or(())?;
    let ip: IpAddr = ip.parse().map_err(|_| ())?;
    let prefix: u8 = prefix_text.parse().map_err(|_| ())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if prefix > max || (prefix.to_string() != prefix_text) {
        return Err(());
    }
    Ok((ip, prefix))
}

/// The network address of `ip/prefix`.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{name_errors, validate_object_meta};
    use serde_json::json;

    fn summaries(errs: Vec<Cause>) -> Vec<String> {
        errs.iter().map(Cause::summary).collect()
    }

    #[test]
    fn ip_address_names_are_canonical_ips() {
        assert!(name_errors(NameRule::IpAddress, "10.96.0.10", false).is_empty());
        assert!(name_errors(NameRule::IpAddress, "2001:db8::1", false).is_empty());
        assert_eq!(
            name_errors(NameRule::IpAddress, "web", false),
            ["ParseAddr(\"web\"): unable to parse IP"]
        );
        assert_eq!(
            name_errors(NameRule::IpAddress, "2001:db8:0::1", false),
            ["must be a canonical format IP address"]
        );
        let errs = validate_object_meta(&json!({"name": "nope"}), false, NameRule::IpAddress);
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn ip_address_needs_a_parent() {
        let ip = json!({"metadata": {"name": "10.96.0.10"}, "spec": {}});
        assert_eq!(
            summaries(IpAddressStrategy.validate(&ip)),
            ["spec.parentRef: Required value"]
        );
        let ip = json!({"metadata": {"name": "10.96.0.10"},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default"}}});
        assert_eq!(
            summaries(IpAddressStrategy.validate(&ip)),
            ["spec.parentRef.name: Required value"]
        );
    }

    #[test]
    fn service_cidrs() {
        let ok = json!({"spec": {"cidrs": ["10.96.0.0/16", "fd00::/108"]}});
        assert!(ServiceCidrStrategy.validate(&ok).is_empty());
        let bad = json!({"spec": {"cidrs": ["10.96.0.1/16"]}});
        assert_eq!(
            summaries(ServiceCidrStrategy.validate(&bad)),
            ["spec.cidrs[0]: Invalid value: \"10.96.0.1/16\": must be in canonical form (\"10.96.0.0/16\")"]
        );
        let bad = json!({"spec": {"cidrs": ["10.96.0.0/16", "10.97.0.0/16"]}});
        assert_eq!(ServiceCidrStrategy.validate(&bad).len(), 1);
        assert_eq!(
            summaries(ServiceCidrStrategy.validate(&json!({"spec": {}}))),
            ["spec.cidrs: Required value: at least one CIDR required"]
        );
        let old = json!({"spec": {"cidrs": ["10.96.0.0/16"]}});
        assert!(ServiceCidrStrategy.validate_update(&ok, &old).is_empty());
        let changed = json!({"spec": {"cidrs": ["10.97.0.0/16"]}});
        assert_eq!(ServiceCidrStrategy.validate_update(&changed, &old).len(), 1);
    }
}
