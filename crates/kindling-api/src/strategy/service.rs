//! Services: `SetDefaults_Service`, the IP-family fields the allocator sets upstream, the
//! carrying over of allocated values (cluster IPs, node ports) on update, `ValidateService` and
//! `ValidateServiceUpdate`. Allocation of cluster IPs and node ports is the server's.

use super::podvalidation::{validate_port_num_or_name, validate_protocol};
use super::util::{arr_of, each_mut, is_empty, set_default, set_default_str, spec_of, str_of};
use super::{NameRule, Strategy};
use crate::json_path::object_mut;
use crate::meta::{
    duplicate_str, go_string_slice, go_value, inclusive_range_error, invalid_raw, invalid_str,
    not_supported_str, required, validate_dns1123_label, validate_dns1123_subdomain,
    validate_labels, validate_qualified_name,
};
use crate::status::Cause;
use serde_json::{json, Value};
use std::net::IpAddr;

pub struct ServiceStrategy;

fn externally_accessible(spec: &Value) -> bool {
    let t = str_of(spec, "type");
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && !arr_of(spec, "externalIPs").is_empty())
}

fn is_headless(spec: &Value) -> bool {
    let ips = arr_of(spec, "clusterIPs");
    ips.len() == 1 && ips[0].as_str() == Some("None")
}

fn needs_node_port(spec: &Value) -> bool {
    match str_of(spec, "type") {
        "NodePort" => true,
        "LoadBalancer" => spec
            .get("allocateLoadBalancerNodePorts")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

fn needs_hc_node_port(spec: &Value) -> bool {
    str_of(spec, "type") == "LoadBalancer" && str_of(spec, "externalTrafficPolicy") == "Local"
}

impl Strategy for ServiceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Rfc1035Label
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        set_default_str(spec, "sessionAffinity", "None");
        match str_of(spec, "sessionAffinity") {
            "None" => {
                spec.as_object_mut()
                    .map(|m| m.remove("sessionAffinityConfig"));
            }
            "ClientIP" => {
                let has_timeout = spec
                    .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                    .is_some_and(|v| !v.is_null());
                if !has_timeout {
                    spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
                }
            }
            _ => {}
        }
        set_default_str(spec, "type", "ClusterIP");
        each_mut(spec, "ports", |p| {
            set_default_str(p, "protocol", "TCP");
            let tp = p.get("targetPort");
            if tp.is_none_or(|t| t.is_null() || t.as_i64() == Some(0) || t.as_str() == Some("")) {
                if let Some(port) = p.get("port").cloned() {
                    p["targetPort"] = port;
                }
            }
        });
        if externally_accessible(spec) {
            set_default_str(spec, "externalTrafficPolicy", "Cluster");
        }
        let t = str_of(spec, "type").to_string();
        if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&t.as_str()) {
            set_default(spec, "internalTrafficPolicy", json!("Cluster"));
        }
        if t == "LoadBalancer" {
            set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if t != "ExternalName" {
            // The allocator's part upstream: clusterIPs follow clusterIP, families are single-stack
            // IPv4 (headless services without a selector require dual-stack, i.e. all families).
            let cip = str_of(spec, "clusterIP").to_string();
            if !cip.is_empty() && arr_of(spec, "clusterIPs").is_empty() {
                spec["clusterIPs"] = json!([cip]);
            }
            let headless_no_selector = cip == "None" && is_empty(spec.get("selector"));
            set_default(
                spec,
                "ipFamilyPolicy",
                json!(if headless_no_selector {
                    "RequireDualStack"
                } else {
                    "SingleStack"
                }),
            );
            if arr_of(spec, "ipFamilies").is_empty() {
                let family = arr_of(spec, "clusterIPs")
                    .first()
                    .and_then(Value::as_str)
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                    .map_or("IPv4", |ip| if ip.is_ipv6() { "IPv6" } else { "IPv4" });
                spec["ipFamilies"] = json!([family]);
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"loadBalancer": {}});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let old_spec = spec_of(old);
        let spec = object_mut(new, &["spec"]);
        patch_allocated_values(spec, old_spec);
        normalize_cluster_ips(spec, old_spec);
        drop_type_dependent_fields(spec, old_spec);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_service(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (spec_of(new), spec_of(old));
        let mut errs = validate_cluster_ips_update(n, o);
        errs.extend(validate_ip_families_update(n, o));
        if str_of(n, "type") == "LoadBalancer"
            && str_of(o, "type") == "LoadBalancer"
            && n.get("loadBalancerClass") != o.get("loadBalancerClass")
        {
            errs.push(invalid_raw(
                "spec.loadBalancerClass",
                &go_value(n.get("loadBalancerClass")),
                "may not change once set",
            ));
        }
        if needs_hc_node_port(n)
            && needs_hc_node_port(o)
            && n.get("healthCheckNodePort") != o.get("healthCheckNodePort")
        {
            errs.push(Cause::forbidden(
                "spec.healthCheckNodePort",
                "field is immutable",
            ));
        }
        errs
    }
}

/// Upstream's `patchAllocatedValues`: a client that leaves out allocated values keeps them.
fn patch_allocated_values(spec: &mut Value, old: &Value) {
    let needs_cluster_ip = |s: &Value| str_of(s, "type") != "ExternalName";
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if str_of(spec, "clusterIP").is_empty() && !str_of(old, "clusterIP").is_empty() {
            spec["clusterIP"] = old["clusterIP"].clone();
        }
        if arr_of(spec, "clusterIPs").is_empty() && !arr_of(old, "clusterIPs").is_empty() {
            spec["clusterIPs"] = old["clusterIPs"].clone();
        }
        for key in ["ipFamilies", "ipFamilyPolicy"] {
            if is_empty(spec.get(key)) && !is_empty(old.get(key)) {
                spec[key] = old[key].clone();
            }
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        let node_port = |p: &Value| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        let used: Vec<i64> = arr_of(spec, "ports")
            .iter()
            .map(node_port)
            .filter(|n| *n != 0)
            .collect();
        let old_ports: Vec<(String, i64)> = arr_of(old, "ports")
            .iter()
            .map(|p| (str_of(p, "name").to_string(), node_port(p)))
            .collect();
        each_mut(spec, "ports", |p| {
            if node_port(p) == 0 {
                let name = str_of(p, "name").to_string();
                if let Some((_, np)) = old_ports.iter().find(|(n, _)| *n == name) {
                    if *np != 0 && !used.contains(np) {
                        p["nodePort"] = json!(np);
                    }
                }
            }
        });
    }
    if needs_hc_node_port(old)
        && needs_hc_node_port(spec)
        && spec
            .get("healthCheckNodePort")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
    {
        if let Some(v) = old.get("healthCheckNodePort") {
            spec["healthCheckNodePort"] = v.clone();
        }
    }
}

/// Upstream's `normalizeClusterIPs` for updates: keep `clusterIP` and `clusterIPs` in step.
fn normalize_cluster_ips(spec: &mut Value, old: &Value) {
    let same_ips = |a: &Value, b: &Value| arr_of(a, "clusterIPs") == arr_of(b, "clusterIPs");
    if !arr_of(old, "clusterIPs").is_empty()
        && arr_of(spec, "clusterIPs").is_empty()
        && str_of(old, "clusterIP") == str_of(spec, "clusterIP")
    {
        spec["clusterIPs"] = old["clusterIPs"].clone();
    }
    if str_of(old, "clusterIP") != str_of(spec, "clusterIP") {
        if !str_of(old, "clusterIP").is_empty()
            && str_of(spec, "clusterIP").is_empty()
            && same_ips(old, spec)
        {
            spec.as_object_mut().map(|m| m.remove("clusterIPs"));
        }
        if same_ips(old, spec) {
            let cip = str_of(spec, "clusterIP").to_string();
            spec["clusterIPs"] = if cip.is_empty() {
                Value::Null
            } else {
                json!([cip])
            };
            if cip.is_empty() {
                spec.as_object_mut().map(|m| m.remove("clusterIPs"));
            }
        }
    }
}

/// Upstream's `dropTypeDependentFields`: fields a type change leaves meaningless are dropped
/// when the client did not change them.
fn drop_type_dependent_fields(spec: &mut Value, old: &Value) {
    if str_of(spec, "type") == "ExternalName" && str_of(old, "type") != "ExternalName" {
        for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if spec.get(key) == old.get(key) {
                spec.as_object_mut().map(|m| m.remove(key));
            }
        }
    }
    if needs_node_port(old) && !needs_node_port(spec) {
        let old_ports = arr_of(old, "ports").to_vec();
        each_mut(spec, "ports", |p| {
            let np = p.get("nodePort").cloned();
            if np.is_some() && old_ports.iter().any(|o| o.get("nodePort") == np.as_ref()) {
                p.as_object_mut().map(|m| m.remove("nodePort"));
            }
        });
    }
    if needs_hc_node_port(old)
        && !needs_hc_node_port(spec)
        && spec.get("healthCheckNodePort") == old.get("healthCheckNodePort")
    {
        spec.as_object_mut()
            .map(|m| m.remove("healthCheckNodePort"));
    }
    if str_of(spec, "type") != "LoadBalancer" && str_of(old, "type") == "LoadBalancer" {
        for key in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if spec.get(key) == old.get(key) {
                spec.as_object_mut().map(|m| m.remove(key));
            }
        }
    }
    if !externally_accessible(spec)
        && externally_accessible(old)
        && spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy")
    {
        spec.as_object_mut()
            .map(|m| m.remove("externalTrafficPolicy"));
    }
}

fn validate_ip(ip: &str, field: &str) -> Vec<Cause> {
    match ip.parse::<IpAddr>() {
        Err(_) => vec![invalid_str(
            field,
            ip,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )],
        Ok(addr) if addr.to_string() != ip => {
            vec![invalid_str(
                field,
                ip,
                &format!("must be in canonical form (\"{addr}\")"),
            )]
        }
        Ok(_) => Vec::new(),
    }
}

fn validate_service_port(
    p: &Value,
    require_name: bool,
    names: &mut Vec<String>,
    field: &str,
) -> Vec<Cause> {
    let mut errs = Vec::new();
    let name = str_of(p, "name");
    if require_name && name.is_empty() {
        errs.push(required(format!("{field}.name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(name, &format!("{field}.name")));
        if names.iter().any(|n| n == name) {
            errs.push(duplicate_str(format!("{field}.name"), name));
        } else {
            names.push(name.to_string());
        }
    }
    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=65535).contains(&port) {
        errs.push(Cause::invalid(
            format!("{field}.port"),
            port,
            &inclusive_range_error(1, 65535),
        ));
    }
    errs.extend(validate_protocol(
        p.get("protocol"),
        &format!("{field}.protocol"),
    ));
    errs.extend(validate_port_num_or_name(
        p.get("targetPort"),
        &format!("{field}.targetPort"),
    ));
    if let Some(ap) = p.get("appProtocol").and_then(Value::as_str) {
        errs.extend(validate_qualified_name(ap, &format!("{field}.appProtocol")));
    }
    errs
}

/// `ValidateService` (without the object metadata, which the server validates).
pub fn validate_service(obj: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let spec = spec_of(obj);
    let t = str_of(spec, "type");
    let ports = arr_of(spec, "ports");
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && t != "ExternalName" {
        errs.push(required("spec.ports", ""));
    }
    let first_ip = arr_of(spec, "clusterIPs")
        .first()
        .map(|v| v.as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    match t {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(invalid_str(
                "spec.clusterIPs[0]",
                &first_ip,
                &format!("may not be set to 'None' for {t} services"),
            ));
        }
        "ExternalName" => {
            if !arr_of(spec, "clusterIPs").is_empty() {
                errs.push(Cause::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !arr_of(spec, "ipFamilies").is_empty() {
                errs.push(Cause::forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if spec.get("ipFamilyPolicy").is_some_and(|v| !v.is_null()) {
                errs.push(Cause::forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_of(spec, "externalName").trim_end_matches('.');
            if cname.is_empty() {
                errs.push(required("spec.externalName", ""));
            } else {
                errs.extend(validate_dns1123_subdomain(cname, "spec.externalName"));
            }
        }
        _ => {}
    }
    let mut names = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            p,
            ports.len() > 1,
            &mut names,
            &format!("spec.ports[{i}]"),
        ));
    }
    if spec.get("selector").is_some_and(|v| !v.is_null()) {
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"));
    }
    match str_of(spec, "sessionAffinity") {
        "" => errs.push(required("spec.sessionAffinity", "")),
        "ClientIP" => match spec
            .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
            .and_then(Value::as_i64)
        {
            None => errs.push(required(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                "when session affinity type is ClientIP",
            )),
            Some(t) if t <= 0 || t > 86400 => errs.push(Cause::invalid(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                t,
                "must be greater than 0 and less than 86400",
            )),
            _ => {}
        },
        "None" => {
            if spec
                .get("sessionAffinityConfig")
                .is_some_and(|v| !v.is_null())
            {
                errs.push(Cause::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(not_supported_str(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    errs.extend(validate_cluster_ips(spec));
    for (i, ip) in arr_of(spec, "externalIPs").iter().enumerate() {
        errs.extend(validate_ip(
            ip.as_str().unwrap_or(""),
            &format!("spec.externalIPs[{i}]"),
        ));
    }
    match t {
        "" => errs.push(required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(not_supported_str(
            "spec.type",
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if t == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                errs.push(Cause::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports: Vec<(String, i64)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if np == 0 {
            continue;
        }
        let key = (str_of(p, "protocol").to_string(), np);
        if node_ports.contains(&key) {
            errs.push(Cause::duplicate(format!("spec.ports[{i}].nodePort"), np));
        }
        node_ports.push(key);
    }
    let mut seen: Vec<(String, i64)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let key = (
            str_of(p, "protocol").to_string(),
            p.get("port").and_then(Value::as_i64).unwrap_or(0),
        );
        if seen.contains(&key) {
            errs.push(Cause::duplicate(
                format!("spec.ports[{i}]"),
                format!("core.ServicePort{{Name:\"\", Protocol:{:?}, AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}", key.0, key.1),
            ));
        }
        seen.push(key);
    }
    if !arr_of(spec, "loadBalancerSourceRanges").is_empty() && t != "LoadBalancer" {
        errs.push(Cause::forbidden(
            "spec.LoadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if spec
        .get("allocateLoadBalancerNodePorts")
        .is_some_and(|v| !v.is_null())
        && t != "LoadBalancer"
    {
        errs.push(Cause::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if t == "LoadBalancer"
        && spec
            .get("allocateLoadBalancerNodePorts")
            .is_none_or(Value::is_null)
    {
        errs.push(required("allocateLoadBalancerNodePorts", ""));
    }
    if let Some(class) = spec.get("loadBalancerClass").and_then(Value::as_str) {
        if t == "LoadBalancer" {
            errs.extend(validate_qualified_name(class, "spec.loadBalancerClass"));
        } else {
            errs.push(Cause::forbidden(
                "spec.loadBalancerClass",
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }
    let etp = str_of(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(invalid_str(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(required("spec.externalTrafficPolicy", ""));
    } else if !["Cluster", "Local"].contains(&etp) {
        errs.push(not_supported_str(
            "spec.externalTrafficPolicy",
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = spec
        .get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !needs_hc_node_port(spec) && hc != 0 {
        errs.push(Cause::invalid(
            "spec.healthCheckNodePort",
            hc,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        None if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&t) => {
            errs.push(required("spec.internalTrafficPolicy", ""));
        }
        Some(itp) if !["Cluster", "Local"].contains(&itp) => {
            errs.push(not_supported_str(
                "spec.internalTrafficPolicy",
                itp,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(td) = spec.get("trafficDistribution").and_then(Value::as_str) {
        if td != "PreferClose" {
            errs.push(not_supported_str(
                "spec.trafficDistribution",
                td,
                &["PreferClose"],
            ));
        }
    }
    errs
}

fn validate_cluster_ips(spec: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if str_of(spec, "type") == "ExternalName" {
        return errs;
    }
    let cip = str_of(spec, "clusterIP");
    let ips = arr_of(spec, "clusterIPs");
    let shown = go_string_slice(spec.get("clusterIPs"));
    if !cip.is_empty() {
        if ips.is_empty() {
            errs.push(required("spec.clusterIPs", ""));
        } else if ips[0].as_str() != Some(cip) {
            errs.push(invalid_raw(
                "spec.clusterIPs",
                &shown,
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(invalid_raw(
            "spec.clusterIPs",
            &shown,
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, f) in arr_of(spec, "ipFamilies").iter().enumerate() {
        let f = f.as_str().unwrap_or("");
        if !["IPv4", "IPv6"].contains(&f) {
            errs.push(not_supported_str(
                format!("spec.ipFamilies[{i}]"),
                f,
                &["IPv4", "IPv6"],
            ));
        }
        if seen.contains(&f) {
            errs.push(duplicate_str(format!("spec.ipFamilies[{i}]"), f));
        }
        seen.push(f);
    }
    if let Some(p) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        let ok = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !ok.contains(&p) {
            errs.push(not_supported_str("spec.ipFamilyPolicy", p, &ok));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        let ip = ip.as_str().unwrap_or("");
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(invalid_raw(
                    "spec.clusterIPs",
                    &shown,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = validate_ip(ip, &format!("spec.clusterIPs[{i}]"));
        invalid |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(invalid_raw(
            "spec.clusterIPs",
            &shown,
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errs;
    }
    if ips.len() == 2 {
        let v6 = |v: &Value| {
            v.as_str()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|a| a.is_ipv6())
        };
        if v6(&ips[0]) == v6(&ips[1]) {
            errs.push(invalid_raw(
                "spec.clusterIPs",
                &shown,
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, fam)) in ips.iter().zip(arr_of(spec, "ipFamilies")).enumerate() {
            let ip = ip.as_str().unwrap_or("");
            let is_v6 = ip.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6());
            match fam.as_str() {
                Some("IPv4") if is_v6 => errs.push(invalid_str(
                    format!("spec.clusterIPs[{i}]"),
                    ip,
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                )),
                Some("IPv6") if !is_v6 => errs.push(invalid_str(
                    format!("spec.clusterIPs[{i}]"),
                    ip,
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                )),
                _ => {}
            }
        }
    }
    errs
}

fn validate_cluster_ips_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if str_of(new, "type") == "ExternalName" || str_of(old, "type") == "ExternalName" {
        return errs;
    }
    if is_headless(new) && is_headless(old) {
        return errs;
    }
    let (n, o) = (arr_of(new, "clusterIPs"), arr_of(old, "clusterIPs"));
    let shown = go_string_slice(new.get("clusterIPs"));
    if n.len() == o.len() {
        for (i, ip) in o.iter().enumerate() {
            if n[i] != *ip {
                errs.push(invalid_raw(
                    format!("spec.clusterIPs[{i}]"),
                    &shown,
                    "may not change once set",
                ));
            }
        }
    } else if o.len() > n.len() {
        if n.is_empty() {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                &shown,
                "primary clusterIP can not be unset",
            ));
        } else if n[0] != o[0] {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                &shown,
                "may not change once set",
            ));
        }
        if n.len() == 1 && str_of(new, "ipFamilyPolicy") != "SingleStack" {
            errs.push(invalid_raw(
                "spec.ipFamilyPolicy",
                &go_value(new.get("ipFamilyPolicy")),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !o.is_empty() && n[0] != o[0] {
        errs.push(invalid_raw(
            "spec.clusterIPs[0]",
            &shown,
            "may not change once set",
        ));
    }
    errs
}

fn validate_ip_families_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if str_of(new, "type") == "ExternalName" || str_of(old, "type") == "ExternalName" {
        return errs;
    }
    if is_headless(new) || is_headless(old) {
        return errs;
    }
    let (n, o) = (arr_of(new, "ipFamilies"), arr_of(old, "ipFamilies"));
    let shown = |key: &str| go_string_slice(new.get(key));
    if n.len() == o.len() {
        if n != o {
            errs.push(invalid_raw(
                "spec.ipFamilies[0]",
                &shown("ipFamilies"),
                "may not change once set",
            ));
        }
    } else if o.len() > n.len() {
        if !n.is_empty() && n[0] != o[0] {
            errs.push(invalid_raw(
                "spec.ipFamilies[0]",
                &shown("clusterIPs"),
                "may not change once set",
            ));
        }
        if n.len() == 1 && str_of(new, "ipFamilyPolicy") != "SingleStack" {
            errs.push(invalid_raw(
                "spec.ipFamilyPolicy",
                &go_value(new.get("ipFamilyPolicy")),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !o.is_empty() && !n.is_empty() && n[0] != o[0] {
        errs.push(invalid_raw(
            "spec.ipFamilies[0]",
            &shown("clusterIPs"),
            "may not change once set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(svc: Value) -> Value {
        let mut svc = svc;
        ServiceStrategy.default(&mut svc);
        ServiceStrategy.prepare_for_create(&mut svc);
        svc
    }

    #[test]
    fn minimal_service_defaults() {
        let svc = created(
            json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        );
        assert_eq!(
            svc["spec"],
            json!({"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
        );
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));
        assert!(ServiceStrategy.validate(&svc).is_empty());
        let np = created(
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(np["spec"]["ports"][0]["targetPort"], "http");
        let lb = created(json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}));
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert!(ServiceStrategy.validate(&lb).is_empty());
    }

    #[test]
    fn port_mistakes() {
        let svc = created(
            json!({"spec": {"ports": [{"port": 0}, {"name": "b", "port": 70000, "protocol": "HTTP"}]}}),
        );
        let errs: Vec<String> = ServiceStrategy
            .validate(&svc)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]
        );
        let none = created(json!({"spec": {"selector": {"a": "b"}}}));
        assert_eq!(
            ServiceStrategy.validate(&none)[0].summary(),
            "spec.ports: Required value"
        );
        let bad_type = created(json!({"spec": {"type": "Internal", "ports": [{"port": 80}]}}));
        assert!(ServiceStrategy
            .validate(&bad_type)
            .iter()
            .any(|c| c.summary() == "spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""));
    }

    #[test]
    fn headless_and_external_name() {
        let headless = created(json!({"spec": {"clusterIP": "None", "selector": {"a": "b"}}}));
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert!(ServiceStrategy.validate(&headless).is_empty());
        let bare = created(json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(bare["spec"]["ipFamilyPolicy"], "RequireDualStack");
        let ext =
            created(json!({"spec": {"type": "ExternalName", "externalName": "db.example.com."}}));
        assert!(ext["spec"].get("ipFamilies").is_none());
        assert!(ServiceStrategy.validate(&ext).is_empty());
        let ext = created(json!({"spec": {"type": "ExternalName"}}));
        assert_eq!(
            ServiceStrategy.validate(&ext)[0].summary(),
            "spec.externalName: Required value"
        );
        let ext = created(json!({"spec": {"type": "ExternalName", "externalName": "Bad_Name"}}));
        assert!(ServiceStrategy.validate(&ext)[0]
            .message
            .starts_with("Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"));
    }

    #[test]
    fn cluster_ip_is_kept_and_immutable() {
        let mut old = created(json!({"spec": {"ports": [{"port": 80}]}}));
        old["spec"]["clusterIP"] = json!("10.96.0.10");
        old["spec"]["clusterIPs"] = json!(["10.96.0.10"]);
        // A client that leaves the cluster IP out keeps it.
        let mut new = json!({"spec": {"ports": [{"port": 81}]}});
        ServiceStrategy.default(&mut new);
        ServiceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.10"]));
        assert!(ServiceStrategy.validate_update(&new, &old).is_empty());
        assert!(ServiceStrategy.validate(&new).is_empty());
        // A client that changes it is refused.
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.96.0.11");
        ServiceStrategy.default(&mut new);
        ServiceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(
            ServiceStrategy.validate_update(&new, &old)[0].summary(),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
        );
    }

    #[test]
    fn node_ports_are_kept() {
        let mut old =
            created(json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}}));
        old["spec"]["ports"][0]["nodePort"] = json!(30080);
        let mut new =
            json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        ServiceStrategy.default(&mut new);
        ServiceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        // Going back to ClusterIP drops the node port the client did not touch.
        let mut new = old.clone();
        new["spec"]["type"] = json!("ClusterIP");
        ServiceStrategy.prepare_for_update(&mut new, &old);
        assert!(new["spec"]["ports"][0].get("nodePort").is_none());
        assert!(new["spec"].get("externalTrafficPolicy").is_none());
    }
}
