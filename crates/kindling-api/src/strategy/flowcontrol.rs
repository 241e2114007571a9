//! flowcontrol.apiserver.k8s.io/v1 FlowSchema and PriorityLevelConfiguration: upstream's v1
//! defaults, validation (pkg/apis/flowcontrol/validation) and the configuration every API server
//! starts with (k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap): the mandatory `exempt` and
//! `catch-all` objects and the suggested ones (`system`, `node-high`, `leader-election`,
//! `workload-high`, `workload-low`, `global-default` and their schemas). kindling stores and
//! serves them; its own request limit is the max-in-flight filter, not these priorities.

use super::util::{arr_of, spec_of, str_of};
use super::Strategy;
use crate::json_path::object_mut;
use crate::meta::{
    dns1123_label_errors, dns1123_subdomain_errors, go_quote, inclusive_range_error, invalid_raw,
    invalid_str, not_supported_str, path_segment_errors, required,
};
use crate::status::Cause;
use serde_json::{json, Value};

/// The annotation that lets the server keep a bootstrap object's spec up to date.
pub const AUTO_UPDATE_ANNOTATION: &str = "apf.kubernetes.io/autoupdate-spec";

pub struct FlowSchemaStrategy;

impl Strategy for FlowSchemaStrategy {
    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        if spec["matchingPrecedence"].as_i64().unwrap_or(0) == 0 {
            spec["matchingPrecedence"] = json!(1000);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let name = str_of(&obj["metadata"], "name");
        let spec = spec_of(obj);
        let mut errs = validate_flow_schema_spec(name, spec);
        if let Some(fixed) = mandatory_flow_schemas()
            .into_iter()
            .find(|fs| fs["metadata"]["name"] == name)
        {
            if normalized(spec) != normalized(&fixed["spec"]) {
                errs.push(invalid_raw(
                    "spec",
                    "{…}",
                    &format!("spec of '{name}' must equal the fixed value"),
                ));
            }
        }
        errs
    }
}

pub struct PriorityLevelConfigurationStrategy;

impl Strategy for PriorityLevelConfigurationStrategy {
    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        if let Some(limited) = spec.get_mut("limited").filter(|l| l.is_object()) {
            if limited
                .get("nominalConcurrencyShares")
                .is_none_or(Value::is_null)
            {
                limited["nominalConcurrencyShares"] = json!(30);
            }
            if limited.get("lendablePercent").is_none_or(Value::is_null) {
                limited["lendablePercent"] = json!(0);
            }
            if let Some(q) = limited
                .pointer_mut("/limitResponse/queuing")
                .filter(|q| q.is_object())
            {
                for (field, default) in [("queues", 64), ("handSize", 8), ("queueLengthLimit", 50)]
                {
                    if q[field].as_i64().unwrap_or(0) == 0 {
                        q[field] = json!(default);
                    }
                }
            }
        }
        if let Some(exempt) = spec.get_mut("exempt").filter(|e| e.is_object()) {
            for field in ["nominalConcurrencyShares", "lendablePercent"] {
                if exempt.get(field).is_none_or(Value::is_null) {
                    exempt[field] = json!(0);
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let name = str_of(&obj["metadata"], "name");
        let spec = spec_of(obj);
        let mut errs = validate_plc_spec(name, spec);
        if let Some(fixed) = mandatory_priority_levels()
            .into_iter()
            .find(|pl| pl["metadata"]["name"] == name)
        {
            if normalized(spec) != normalized(&fixed["spec"]) {
                errs.push(invalid_raw(
                    "spec",
                    "{…}",
                    &format!("spec of '{name}' must equal the fixed value"),
                ));
            }
        }
        errs
    }
}

/// Nulls and empty collections dropped, as Go's semantic equality sees values.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !super::util::is_empty(Some(v)))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn has_wildcard(list: &[Value]) -> bool {
    list.iter().any(|v| v == "*")
}

fn go_list(list: &[Value]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|v| go_quote(v.as_str().unwrap_or_default()))
        .collect();
    format!("[]string{{{}}}", items.join(", "))
}

fn validate_flow_schema_spec(name: &str, spec: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let precedence = spec["matchingPrecedence"].as_i64().unwrap_or(0);
    if precedence <= 0 {
        errs.push(Cause::invalid(
            "spec.matchingPrecedence",
            precedence,
            "must be a positive value",
        ));
    }
    if precedence > 10000 {
        errs.push(Cause::invalid(
            "spec.matchingPrecedence",
            precedence,
            "must not be greater than 10000",
        ));
    }
    if precedence == 1 && name != "exempt" {
        errs.push(Cause::invalid(
            "spec.matchingPrecedence",
            precedence,
            "only the schema named 'exempt' may have matchingPrecedence 1",
        ));
    }
    if let Some(dm) = spec.get("distinguisherMethod").filter(|d| d.is_object()) {
        let t = str_of(dm, "type");
        if !["ByNamespace", "ByUser"].contains(&t) {
            errs.push(not_supported_str(
                "spec.distinguisherMethod.type",
                t,
                &["ByNamespace", "ByUser"],
            ));
        }
    }
    let pl = str_of(&spec["priorityLevelConfiguration"], "name");
    if pl.is_empty() {
        errs.push(required(
            "spec.priorityLevelConfiguration.name",
            "must reference a priority level",
        ));
    } else {
        for msg in path_segment_errors(pl, false) {
            errs.push(invalid_str(
                "spec.priorityLevelConfiguration.name",
                pl,
                &msg,
            ));
        }
    }
    for (i, rule) in arr_of(spec, "rules").iter().enumerate() {
        errs.extend(validate_rule(rule, &format!("spec.rules[{i}]")));
    }
    errs
}

fn validate_rule(rule: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let subjects = arr_of(rule, "subjects");
    if subjects.is_empty() {
        errs.push(required(
            format!("{path}.subjects"),
            "subjects must contain at least one value",
        ));
    }
    for (i, s) in subjects.iter().enumerate() {
        errs.extend(validate_subject(s, &format!("{path}.subjects[{i}]")));
    }
    let (resource_rules, non_resource_rules) = (
        arr_of(rule, "resourceRules"),
        arr_of(rule, "nonResourceRules"),
    );
    if resource_rules.is_empty() && non_resource_rules.is_empty() {
        errs.push(required(
            path,
            "at least one of resourceRules and nonResourceRules has to be non-empty",
        ));
    }
    for (i, r) in resource_rules.iter().enumerate() {
        let p = format!("{path}.resourceRules[{i}]");
        errs.extend(validate_verbs(r, &p));
        for (field, what) in [("apiGroups", "api group"), ("resources", "resource")] {
            let list = arr_of(r, field);
            if list.is_empty() {
                errs.push(required(
                    format!("{p}.{field}"),
                    &format!("resource rules must supply at least one {what}"),
                ));
            } else if list.len() > 1 && has_wildcard(list) {
                errs.push(invalid_raw(
                    format!("{p}.{field}"),
                    &go_list(list),
                    &format!("if '*' is present, must not specify other {what}s"),
                ));
            }
        }
        let namespaces = arr_of(r, "namespaces");
        if namespaces.is_empty() && r["clusterScope"] != true {
            errs.push(required(
                format!("{p}.namespaces"),
                "resource rules that are not cluster scoped must supply at least one namespace",
            ));
        } else if has_wildcard(namespaces) {
            if namespaces.len() > 1 {
                errs.push(invalid_raw(
                    format!("{p}.namespaces"),
                    &go_list(namespaces),
                    "if '*' is present, must not specify other namespaces",
                ));
            }
        } else {
            for (j, ns) in namespaces.iter().enumerate() {
                let ns = ns.as_str().unwrap_or_default();
                for msg in dns1123_label_errors(ns) {
                    errs.push(invalid_str(
                        format!("{p}.namespaces[{j}]"),
                        ns,
                        &format!("each member of this list must be '*' or a DNS-1123 label; {msg}"),
                    ));
                }
            }
        }
    }
    for (i, r) in non_resource_rules.iter().enumerate() {
        let p = format!("{path}.nonResourceRules[{i}]");
        errs.extend(validate_verbs(r, &p));
        let urls = arr_of(r, "nonResourceURLs");
        if urls.is_empty() {
            errs.push(required(
                format!("{p}.nonResourceURLs"),
                "nonResourceURLs must contain at least one value",
            ));
        } else if urls.len() > 1 && has_wildcard(urls) {
            errs.push(invalid_raw(
                format!("{p}.nonResourceURLs"),
                &go_list(urls),
                "if '*' is present, must not specify other non-resource URLs",
            ));
        }
    }
    errs
}

fn validate_verbs(rule: &Value, path: &str) -> Vec<Cause> {
    let verbs = arr_of(rule, "verbs");
    if verbs.is_empty() {
        vec![required(
            format!("{path}.verbs"),
            "verbs must contain at least one value",
        )]
    } else if verbs.len() > 1 && has_wildcard(verbs) {
        vec![invalid_raw(
            format!("{path}.verbs"),
            &go_list(verbs),
            "if '*' is present, must not specify other verbs",
        )]
    } else {
        Vec::new()
    }
}

const SUBJECT_KINDS: &[&str] = &["Group", "ServiceAccount", "User"];

fn validate_subject(s: &Value, path: &str) -> Vec<Cause> {
    let kind = str_of(s, "kind");
    let mut errs = Vec::new();
    let (own, others): (&str, &[(&str, &str)]) = match kind {
        "ServiceAccount" => ("serviceAccount", &[("user", "User"), ("group", "Group")]),
        "User" => (
            "user",
            &[("serviceAccount", "ServiceAccount"), ("group", "Group")],
        ),
        "Group" => (
            "group",
            &[("serviceAccount", "ServiceAccount"), ("user", "User")],
        ),
        _ => {
            return vec![not_supported_str(
                format!("{path}.kind"),
                kind,
                SUBJECT_KINDS,
            )]
        }
    };
    match s.get(own).filter(|v| v.is_object()) {
        None => errs.push(required(
            format!("{path}.{own}"),
            &format!("{own} is required when subject kind is '{kind}'"),
        )),
        Some(subject) => {
            let name = str_of(subject, "name");
            if name.is_empty() {
                errs.push(required(format!("{path}.{own}.name"), ""));
            }
            if kind == "ServiceAccount" {
                let ns = str_of(subject, "namespace");
                if ns.is_empty() {
                    errs.push(required(
                        format!("{path}.{own}.namespace"),
                        "must specify namespace for service account",
                    ));
                } else {
                    for msg in dns1123_label_errors(ns) {
                        errs.push(invalid_str(format!("{path}.{own}.namespace"), ns, &msg));
                    }
                }
                if !name.is_empty() && name != "*" {
                    for msg in dns1123_subdomain_errors(name) {
                        errs.push(invalid_str(format!("{path}.{own}.name"), name, &msg));
                    }
                }
            }
        }
    }
    for (field, k) in others {
        if s.get(*field).is_some_and(|v| !v.is_null()) {
            errs.push(Cause::forbidden(
                format!("{path}.{field}"),
                format!("{field} is forbidden when subject kind is not '{k}'"),
            ));
        }
    }
    errs
}

fn validate_plc_spec(name: &str, spec: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let t = str_of(spec, "type");
    if (name == "exempt") != (t == "Exempt") {
        errs.push(invalid_str(
            "spec.type",
            t,
            "type must be 'Exempt' if and only if name is 'exempt'",
        ));
    }
    let set = |f: &str| spec.get(f).is_some_and(|v| !v.is_null());
    match t {
        "Exempt" => {
            if set("limited") {
                errs.push(Cause::forbidden(
                    "spec.limited",
                    "must be nil if the type is not Limited",
                ));
            }
            if let Some(e) = spec.get("exempt").filter(|e| e.is_object()) {
                errs.extend(validate_shares(e, "spec.exempt"));
            }
        }
        "Limited" => {
            if set("exempt") {
                errs.push(Cause::forbidden(
                    "spec.exempt",
                    "must be nil if the type is Limited",
                ));
            }
            match spec.get("limited").filter(|l| l.is_object()) {
                None => errs.push(required(
                    "spec.limited",
                    "must not be empty when type is Limited",
                )),
                Some(l) => {
                    errs.extend(validate_shares(l, "spec.limited"));
                    if let Some(b) = l["borrowingLimitPercent"].as_i64().filter(|b| *b < 0) {
                        errs.push(Cause::invalid(
                            "spec.limited.borrowingLimitPercent",
                            b,
                            "if specified, must be a non-negative integer",
                        ));
                    }
                    errs.extend(validate_limit_response(&l["limitResponse"]));
                }
            }
        }
        other => errs.push(not_supported_str(
            "spec.type",
            other,
            &["Exempt", "Limited"],
        )),
    }
    errs
}

fn validate_shares(v: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(n) = v["nominalConcurrencyShares"].as_i64().filter(|n| *n < 0) {
        errs.push(Cause::invalid(
            format!("{path}.nominalConcurrencyShares"),
            n,
            "must be a non-negative integer",
        ));
    }
    if let Some(p) = v["lendablePercent"]
        .as_i64()
        .filter(|p| !(0..=100).contains(p))
    {
        errs.push(Cause::invalid(
            format!("{path}.lendablePercent"),
            p,
            &inclusive_range_error(0, 100),
        ));
    }
    errs
}

fn validate_limit_response(lr: &Value) -> Vec<Cause> {
    let path = "spec.limited.limitResponse";
    let queuing = lr.get("queuing").filter(|q| !q.is_null());
    match str_of(lr, "type") {
        "Reject" => match queuing {
            Some(_) => vec![Cause::forbidden(
                format!("{path}.queuing"),
                "must be nil if limited.limitResponse.type is not Limited",
            )],
            None => Vec::new(),
        },
        "Queue" => match queuing {
            None => vec![required(
                format!("{path}.queuing"),
                "must not be empty if limited.limitResponse.type is Queue",
            )],
            Some(q) => {
                let mut errs = Vec::new();
                let get = |f: &str| q[f].as_i64().unwrap_or(0);
                for field in ["queueLengthLimit", "queues", "handSize"] {
                    if get(field) <= 0 {
                        errs.push(Cause::invalid(
                            format!("{path}.queuing.{field}"),
                            get(field),
                            "must be positive",
                        ));
                    }
                }
                if get("handSize") > get("queues") {
                    errs.push(Cause::invalid(
                        format!("{path}.queuing.handSize"),
                        get("handSize"),
                        &format!("should not be greater than queues ({})", get("queues")),
                    ));
                }
                errs
            }
        },
        other => vec![not_supported_str(
            format!("{path}.type"),
            other,
            &["Queue", "Reject"],
        )],
    }
}

fn meta(name: &str) -> Value {
    json!({"name": name, "annotations": {AUTO_UPDATE_ANNOTATION: "true"}})
}

fn priority_level(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": meta(name), "spec": spec})
}

fn limited(shares: i64, lendable: i64, queues: i64, hand_size: i64) -> Value {
    json!({"type": "Limited", "limited": {"nominalConcurrencyShares": shares,
        "lendablePercent": lendable, "limitResponse": {"type": "Queue",
        "queuing": {"queues": queues, "handSize": hand_size, "queueLengthLimit": 50}}}})
}

/// `exempt` and `catch-all`: always present, their specs fixed.
pub fn mandatory_priority_levels() -> Vec<Value> {
    vec![
        priority_level(
            "catch-all",
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
                "lendablePercent": 0, "limitResponse": {"type": "Reject"}}}),
        ),
        priority_level(
            "exempt",
            json!({"type": "Exempt",
                "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        ),
    ]
}

/// The suggested priority levels.
pub fn suggested_priority_levels() -> Vec<Value> {
    vec![
        priority_level("system", limited(30, 33, 64, 6)),
        priority_level("node-high", limited(40, 25, 64, 6)),
        priority_level("leader-election", limited(10, 0, 16, 4)),
        priority_level("workload-high", limited(40, 50, 128, 6)),
        priority_level("workload-low", limited(100, 90, 128, 6)),
        priority_level("global-default", limited(20, 50, 128, 6)),
    ]
}

fn flow_schema(name: &str, pl: &str, precedence: i64, method: &str, rules: Value) -> Value {
    let mut spec = json!({"priorityLevelConfiguration": {"name": pl},
        "matchingPrecedence": precedence, "rules": [rules]});
    if !method.is_empty() {
        spec["distinguisherMethod"] = json!({"type": method});
    }
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
        "metadata": meta(name), "spec": spec})
}

fn groups(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"kind": "Group", "group": {"name": n}}))
        .collect()
}

fn users(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"kind": "User", "user": {"name": n}}))
        .collect()
}

fn kube_system_service_accounts() -> Vec<Value> {
    vec![
        json!({"kind": "ServiceAccount", "serviceAccount": {"name": "*", "namespace": "kube-system"}}),
    ]
}

fn everything(subjects: Vec<Value>) -> Value {
    json!({"subjects": subjects,
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
            "namespaces": ["*"], "clusterScope": true}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]})
}

const EVERYONE: &[&str] = &["system:unauthenticated", "system:authenticated"];

/// `exempt` (system:masters) and `catch-all`.
pub fn mandatory_flow_schemas() -> Vec<Value> {
    vec![
        flow_schema(
            "exempt",
            "exempt",
            1,
            "",
            everything(groups(&["system:masters"])),
        ),
        flow_schema(
            "catch-all",
            "catch-all",
            10000,
            "ByUser",
            everything(groups(EVERYONE)),
        ),
    ]
}

/// The suggested flow schemas.
pub fn suggested_flow_schemas() -> Vec<Value> {
    let mut leader_election = users(&["system:kube-controller-manager", "system:kube-scheduler"]);
    leader_election.extend(kube_system_service_accounts());
    vec![
        flow_schema(
            "system-nodes",
            "system",
            500,
            "ByUser",
            everything(groups(&["system:nodes"])),
        ),
        flow_schema(
            "system-node-high",
            "node-high",
            400,
            "ByUser",
            json!({"subjects": groups(&["system:nodes"]),
                "resourceRules": [
                    {"verbs": ["*"], "apiGroups": [""], "resources": ["nodes", "nodes/status"],
                        "namespaces": ["*"], "clusterScope": true},
                    {"verbs": ["*"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                        "namespaces": ["*"]}]}),
        ),
        flow_schema(
            "probes",
            "exempt",
            2,
            "",
            json!({"subjects": groups(EVERYONE),
                "nonResourceRules": [{"verbs": ["get"],
                    "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}),
        ),
        flow_schema(
            "system-leader-election",
            "leader-election",
            100,
            "ByUser",
            json!({"subjects": leader_election,
                "resourceRules": [{"verbs": ["get", "create", "update"],
                    "apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "namespaces": ["*"]}]}),
        ),
        flow_schema(
            "kube-controller-manager",
            "workload-high",
            800,
            "ByNamespace",
            everything(users(&["system:kube-controller-manager"])),
        ),
        flow_schema(
            "kube-scheduler",
            "workload-high",
            800,
            "ByNamespace",
            everything(users(&["system:kube-scheduler"])),
        ),
        flow_schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            "ByNamespace",
            everything(kube_system_service_accounts()),
        ),
        flow_schema(
            "service-accounts",
            "workload-low",
            9000,
            "ByUser",
            everything(groups(&["system:serviceaccounts"])),
        ),
        flow_schema(
            "global-default",
            "global-default",
            9900,
            "ByUser",
            everything(groups(EVERYONE)),
        ),
    ]
}

/// The status condition the configuration controller keeps on a FlowSchema: whether the
/// priority level it names exists (`Dangling`).
pub fn dangling_condition(pl: &str, exists: bool, now: &str) -> Value {
    if exists {
        json!({"type": "Dangling", "status": "False", "lastTransitionTime": now, "reason": "Found",
            "message": format!("This FlowSchema references the PriorityLevelConfiguration object named {} and it exists", go_quote(pl))})
    } else {
        json!({"type": "Dangling", "status": "True", "lastTransitionTime": now, "reason": "NotFound",
            "message": format!("This FlowSchema references the PriorityLevelConfiguration object named {} but there is no such object", go_quote(pl))})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_configuration_is_valid_and_defaulted() {
        for mut pl in mandatory_priority_levels()
            .into_iter()
            .chain(suggested_priority_levels())
        {
            let before = pl.clone();
            PriorityLevelConfigurationStrategy.default(&mut pl);
            assert_eq!(pl, before, "defaults change nothing");
            let errs = PriorityLevelConfigurationStrategy.validate(&pl);
            assert!(errs.is_empty(), "{}: {errs:?}", pl["metadata"]["name"]);
        }
        let schemas: Vec<Value> = mandatory_flow_schemas()
            .into_iter()
            .chain(suggested_flow_schemas())
            .collect();
        assert_eq!(schemas.len(), 11);
        for mut fs in schemas {
            let before = fs.clone();
            FlowSchemaStrategy.default(&mut fs);
            assert_eq!(fs, before);
            let errs = FlowSchemaStrategy.validate(&fs);
            assert!(errs.is_empty(), "{}: {errs:?}", fs["metadata"]["name"]);
        }
    }

    #[test]
    fn mistakes_are_named() {
        let fs = json!({"metadata": {"name": "mine"}, "spec": {"matchingPrecedence": 1,
            "priorityLevelConfiguration": {"name": ""},
            "rules": [{"subjects": [], "resourceRules": [{"verbs": [], "apiGroups": ["*"],
                "resources": ["pods"], "namespaces": ["*"]}]}]}});
        let errs: Vec<String> = FlowSchemaStrategy
            .validate(&fs)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
                "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
                "spec.rules[0].subjects: Required value: subjects must contain at least one value",
                "spec.rules[0].resourceRules[0].verbs: Required value: verbs must contain at least one value",
            ]
        );
        let mut pl = json!({"metadata": {"name": "mine"}, "spec": {"type": "Limited",
            "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 2, "handSize": 3}}}}});
        PriorityLevelConfigurationStrategy.default(&mut pl);
        let errs: Vec<String> = PriorityLevelConfigurationStrategy
            .validate(&pl)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            ["spec.limited.limitResponse.queuing.handSize: Invalid value: 3: should not be greater than queues (2)"]
        );
        let mut exempt = mandatory_priority_levels().remove(1);
        exempt["spec"]["exempt"]["lendablePercent"] = json!(10);
        assert_eq!(
            PriorityLevelConfigurationStrategy.validate(&exempt)[0].message,
            "Invalid value: {…}: spec of 'exempt' must equal the fixed value"
        );
    }
}
