//! resource.k8s.io/v1 (dynamic resource allocation): DeviceClass, ResourceClaim,
//! ResourceClaimTemplate and ResourceSlice, with upstream's v1 defaults and the main rules of its
//! validation (pkg/apis/resource/validation). kindling serves the API; no driver publishes
//! devices and no allocator fills in claims, so a claim stays `pending`. CEL selectors are
//! stored without being compiled.

use super::util::{arr_of, spec_of, str_of};
use super::Strategy;
use crate::meta::{
    dns1123_label_errors, dns1123_subdomain_errors, duplicate_str, invalid_raw, invalid_str,
    not_supported_str, required, too_long, validate_template_meta, FIELD_IMMUTABLE_ERROR_MSG,
};
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub struct DeviceClassStrategy;

impl Strategy for DeviceClassStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_selectors(arr_of(spec, "selectors"), "spec.selectors");
        for (i, c) in arr_of(spec, "config").iter().enumerate() {
            errs.extend(validate_config(c, &format!("spec.config[{i}]")));
        }
        errs
    }
}

pub struct ResourceClaimStrategy;

impl Strategy for ResourceClaimStrategy {
    fn default(&self, obj: &mut Value) {
        default_claim_spec(obj.get_mut("spec"));
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_claim_spec(spec_of(obj), "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        immutable(&new["spec"], &old["spec"], "spec")
    }
}

pub struct ResourceClaimTemplateStrategy;

impl Strategy for ResourceClaimTemplateStrategy {
    fn default(&self, obj: &mut Value) {
        default_claim_spec(obj.pointer_mut("/spec/spec"));
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_template_meta(spec.get("metadata"), "spec.metadata");
        errs.extend(validate_claim_spec(
            spec.get("spec").unwrap_or(&Value::Null),
            "spec.spec",
        ));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        immutable(&new["spec"], &old["spec"], "spec")
    }
}

pub struct ResourceSliceStrategy;

impl Strategy for ResourceSliceStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_slice_spec(spec_of(obj))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (spec_of(new), spec_of(old));
        let mut errs = Vec::new();
        for (path, field) in [
            (
                "spec.pool.name",
                n["pool"].get("name").zip(o["pool"].get("name")),
            ),
            ("spec.driver", n.get("driver").zip(o.get("driver"))),
        ] {
            if let Some((a, b)) = field {
                if a != b {
                    errs.push(invalid_str(
                        path,
                        a.as_str().unwrap_or_default(),
                        FIELD_IMMUTABLE_ERROR_MSG,
                    ));
                }
            }
        }
        if n.get("nodeName") != o.get("nodeName") {
            errs.push(invalid_raw(
                "spec.nodeName",
                &n.get("nodeName")
                    .map_or_else(|| "null".into(), std::string::ToString::to_string),
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        errs
    }
}

/// `Invalid value: <the new value as JSON>: field is immutable`, as upstream prints a struct.
fn immutable(new: &Value, old: &Value, path: &str) -> Vec<Cause> {
    if new == old {
        Vec::new()
    } else {
        vec![invalid_raw(
            path,
            &new.to_string(),
            FIELD_IMMUTABLE_ERROR_MSG,
        )]
    }
}

/// v1 defaults of a request: `ExactCount` of one device.
fn default_selection(sel: &mut Value) {
    if sel
        .get("allocationMode")
        .is_none_or(|m| m.is_null() || m == "")
    {
        sel["allocationMode"] = json!("ExactCount");
    }
    if sel["allocationMode"] == "ExactCount" && sel.get("count").is_none_or(Value::is_null) {
        sel["count"] = json!(1);
    }
}

fn default_claim_spec(spec: Option<&mut Value>) {
    let Some(requests) = spec
        .and_then(|s| s.pointer_mut("/devices/requests"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for r in requests {
        if let Some(exactly) = r.get_mut("exactly").filter(|e| e.is_object()) {
            default_selection(exactly);
        }
        if let Some(subs) = r.get_mut("firstAvailable").and_then(Value::as_array_mut) {
            subs.iter_mut().for_each(default_selection);
        }
    }
}

/// `ValidateCSIDriverName`, which driver names share.
fn validate_driver_name(name: &str, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(required(path, ""));
    }
    if name.len() > 63 {
        errs.push(too_long(path, 63));
    }
    for msg in dns1123_subdomain_errors(&name.to_lowercase()) {
        errs.push(invalid_str(path, name, &msg));
    }
    errs
}

fn validate_selectors(selectors: &[Value], path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (i, s) in selectors.iter().enumerate() {
        match s.get("cel").filter(|c| c.is_object()) {
            None => errs.push(required(format!("{path}[{i}].cel"), "")),
            Some(cel) if str_of(cel, "expression").trim().is_empty() => {
                errs.push(required(format!("{path}[{i}].cel.expression"), ""));
            }
            Some(cel) if str_of(cel, "expression").len() > 10 * 1024 => {
                errs.push(too_long(format!("{path}[{i}].cel.expression"), 10 * 1024));
            }
            Some(_) => {}
        }
    }
    errs
}

fn validate_config(c: &Value, path: &str) -> Vec<Cause> {
    match c.get("opaque").filter(|o| o.is_object()) {
        None => vec![required(format!("{path}.opaque"), "")],
        Some(o) => {
            let mut errs =
                validate_driver_name(str_of(o, "driver"), &format!("{path}.opaque.driver"));
            if o.get("parameters").is_none_or(Value::is_null) {
                errs.push(required(format!("{path}.opaque.parameters"), ""));
            }
            errs
        }
    }
}

fn validate_selection(sel: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let class = str_of(sel, "deviceClassName");
    if class.is_empty() {
        errs.push(required(format!("{path}.deviceClassName"), ""));
    } else {
        for msg in dns1123_subdomain_errors(class) {
            errs.push(invalid_str(format!("{path}.deviceClassName"), class, &msg));
        }
    }
    errs.extend(validate_selectors(
        arr_of(sel, "selectors"),
        &format!("{path}.selectors"),
    ));
    let count = sel["count"].as_i64().unwrap_or(0);
    match str_of(sel, "allocationMode") {
        "All" if count != 0 => errs.push(Cause::invalid(
            format!("{path}.count"),
            count,
            "must not be specified when allocationMode is 'All'",
        )),
        "All" => {}
        "ExactCount" if count <= 0 => errs.push(Cause::invalid(
            format!("{path}.count"),
            count,
            "must be greater than zero",
        )),
        "ExactCount" => {}
        other => errs.push(not_supported_str(
            format!("{path}.allocationMode"),
            other,
            &["All", "ExactCount"],
        )),
    }
    errs
}

fn validate_claim_spec(spec: &Value, path: &str) -> Vec<Cause> {
    let devices = &spec["devices"];
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in arr_of(devices, "requests").iter().enumerate() {
        let rp = format!("{path}.devices.requests[{i}]");
        let name = str_of(r, "name");
        for msg in dns1123_label_errors(name) {
            errs.push(invalid_str(format!("{rp}.name"), name, &msg));
        }
        if !name.is_empty() && !names.insert(name) {
            errs.push(duplicate_str(format!("{rp}.name"), name));
        }
        let exactly = r.get("exactly").filter(|e| e.is_object());
        let first = arr_of(r, "firstAvailable");
        match (exactly, first.is_empty()) {
            (None, true) => errs.push(required(
                &rp,
                "exactly one of `exactly` or `firstAvailable` is required",
            )),
            (Some(_), false) => errs.push(invalid_raw(
                &rp,
                "null",
                "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set",
            )),
            (Some(e), true) => errs.extend(validate_selection(e, &format!("{rp}.exactly"))),
            (None, false) => {
                let mut sub_names = BTreeSet::new();
                for (j, s) in first.iter().enumerate() {
                    let sp = format!("{rp}.firstAvailable[{j}]");
                    let sub = str_of(s, "name");
                    for msg in dns1123_label_errors(sub) {
                        errs.push(invalid_str(format!("{sp}.name"), sub, &msg));
                    }
                    if !sub.is_empty() && !sub_names.insert(sub) {
                        errs.push(duplicate_str(format!("{sp}.name"), sub));
                    }
                    errs.extend(validate_selection(s, &sp));
                }
            }
        }
    }
    let known = |name: &str| {
        let mut parts = name.splitn(2, '/');
        let req = parts.next().unwrap_or_default();
        arr_of(devices, "requests").iter().any(|r| {
            str_of(r, "name") == req
                && match parts.next() {
                    None => true,
                    Some(sub) => arr_of(r, "firstAvailable")
                        .iter()
                        .any(|s| str_of(s, "name") == sub),
                }
        })
    };
    let ref_error = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'";
    for (i, c) in arr_of(devices, "constraints").iter().enumerate() {
        let cp = format!("{path}.devices.constraints[{i}]");
        for (j, r) in arr_of(c, "requests").iter().enumerate() {
            let r = r.as_str().unwrap_or_default();
            if !known(r) {
                errs.push(invalid_str(format!("{cp}.requests[{j}]"), r, ref_error));
            }
        }
        if c.get("matchAttribute").is_none_or(Value::is_null)
            && c.get("distinctAttribute").is_none_or(Value::is_null)
        {
            errs.push(required(format!("{cp}.matchAttribute"), ""));
        }
    }
    for (i, c) in arr_of(devices, "config").iter().enumerate() {
        let cp = format!("{path}.devices.config[{i}]");
        for (j, r) in arr_of(c, "requests").iter().enumerate() {
            let r = r.as_str().unwrap_or_default();
            if !known(r) {
                errs.push(invalid_str(format!("{cp}.requests[{j}]"), r, ref_error));
            }
        }
        errs.extend(validate_config(c, &cp));
    }
    errs
}

fn validate_slice_spec(spec: &Value) -> Vec<Cause> {
    let mut errs = validate_driver_name(str_of(spec, "driver"), "spec.driver");
    let pool = &spec["pool"];
    let pool_name = str_of(pool, "name");
    if pool_name.is_empty() {
        errs.push(required("spec.pool.name", ""));
    } else {
        if pool_name.len() > 253 {
            errs.push(too_long("spec.pool.name", 253));
        }
        for part in pool_name.split('/') {
            for msg in dns1123_subdomain_errors(part) {
                errs.push(invalid_str("spec.pool.name", part, &msg));
            }
        }
    }
    let count = pool["resourceSliceCount"].as_i64().unwrap_or(0);
    if count <= 0 {
        errs.push(Cause::invalid(
            "spec.pool.resourceSliceCount",
            count,
            "must be greater than zero",
        ));
    }
    if let Some(g) = pool["generation"].as_i64().filter(|g| *g < 0) {
        errs.push(Cause::invalid(
            "spec.pool.generation",
            g,
            "must be greater than or equal to zero",
        ));
    }
    let mut set_fields = Vec::new();
    if let Some(node) = spec.get("nodeName").and_then(Value::as_str) {
        if node.is_empty() {
            errs.push(invalid_str(
                "spec.nodeName",
                node,
                "must be either unset or set to a non-empty string",
            ));
        } else {
            set_fields.push("`nodeName`");
            for msg in dns1123_subdomain_errors(node) {
                errs.push(invalid_str("spec.nodeName", node, &msg));
            }
        }
    }
    if let Some(sel) = spec.get("nodeSelector").filter(|s| s.is_object()) {
        set_fields.push("`nodeSelector`");
        if arr_of(sel, "nodeSelectorTerms").len() != 1 {
            errs.push(invalid_raw(
                "spec.nodeSelector.nodeSelectorTerms",
                &sel["nodeSelectorTerms"].to_string(),
                "must have exactly one node selector term",
            ));
        }
    }
    for field in ["allNodes", "perDeviceNodeSelection"] {
        match spec.get(field).and_then(Value::as_bool) {
            Some(true) => set_fields.push(if field == "allNodes" {
                "`allNodes`"
            } else {
                "`perDeviceNodeSelection`"
            }),
            Some(false) => errs.push(invalid_raw(
                format!("spec.{field}"),
                "false",
                "must be either unset or set to true",
            )),
            None => {}
        }
    }
    const EXACTLY_ONE: &str =
        "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required";
    match set_fields.len() {
        0 => errs.push(required("spec", EXACTLY_ONE)),
        1 => {}
        _ => errs.push(invalid_str(
            "spec",
            &format!("{{{}}}", set_fields.join(", ")),
            &format!("{EXACTLY_ONE}, but multiple fields are set"),
        )),
    }
    let devices = arr_of(spec, "devices");
    if !devices.is_empty() && !arr_of(spec, "sharedCounters").is_empty() {
        errs.push(invalid_str(
            "spec",
            "",
            "only one of `sharedCounters` or `devices` is allowed",
        ));
    }
    if devices.len() > 128 {
        errs.push(Cause {
            reason: "FieldValueTooMany",
            message: format!("Too many: {}: must have at most 128 items", devices.len()),
            field: "spec.devices".into(),
        });
    }
    let mut names = BTreeSet::new();
    for (i, d) in devices.iter().enumerate() {
        let name = str_of(d, "name");
        for msg in dns1123_label_errors(name) {
            errs.push(invalid_str(format!("spec.devices[{i}].name"), name, &msg));
        }
        if !name.is_empty() && !names.insert(name) {
            errs.push(duplicate_str(format!("spec.devices[{i}].name"), name));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summaries(errs: Vec<Cause>) -> Vec<String> {
        errs.iter().map(Cause::summary).collect()
    }

    #[test]
    fn claims_default_to_one_device_and_name_their_mistakes() {
        let mut claim = json!({"spec": {"devices": {"requests": [
            {"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]}}});
        ResourceClaimStrategy.default(&mut claim);
        assert_eq!(
            claim["spec"]["devices"]["requests"][0]["exactly"],
            json!({"deviceClassName": "gpu.example.com", "allocationMode": "ExactCount", "count": 1})
        );
        assert!(ResourceClaimStrategy.validate(&claim).is_empty());
        let bad = json!({"spec": {"devices": {"requests": [{"name": "gpu"}],
            "constraints": [{"requests": ["tpu"], "matchAttribute": "x/y"}]}}});
        assert_eq!(
            summaries(ResourceClaimStrategy.validate(&bad)),
            [
                "spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` is required",
                "spec.devices.constraints[0].requests[0]: Invalid value: \"tpu\": must be the name of a request in the claim or the name of a request and a subrequest separated by '/'",
            ]
        );
        let changed = json!({"spec": {"devices": {}}});
        assert_eq!(
            ResourceClaimStrategy.validate_update(&changed, &claim)[0].field,
            "spec"
        );
    }

    #[test]
    fn slices_need_one_node_selection() {
        let slice = json!({"spec": {"driver": "gpu.example.com",
            "pool": {"name": "pool", "resourceSliceCount": 1}}});
        assert_eq!(
            summaries(ResourceSliceStrategy.validate(&slice)),
            ["spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"]
        );
        let ok = json!({"spec": {"driver": "gpu.example.com", "nodeName": "kind-worker",
            "pool": {"name": "pool", "resourceSliceCount": 1}, "devices": [{"name": "gpu-0"}]}});
        assert!(ResourceSliceStrategy.validate(&ok).is_empty());
    }

    #[test]
    fn device_class_selectors_need_an_expression() {
        let class = json!({"spec": {"selectors": [{"cel": {"expression": ""}}, {}]}});
        assert_eq!(
            summaries(DeviceClassStrategy.validate(&class)),
            [
                "spec.selectors[0].cel.expression: Required value",
                "spec.selectors[1].cel: Required value",
            ]
        );
    }
}
