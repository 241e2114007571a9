//! upstream's validation of a CustomResourceDefinition (apiextensions validation.go and the
//! structural schema checks of apiserver/schema/validation.go), its field paths as upstream
//! reports them for a v1 object: per-version fields that are identical across versions (one
//! version, always) are reported at their internal top-level place (`spec.validation`,
//! `spec.subresources`, `spec.additionalPrinterColumns`), as upstream's conversion puts them.

use crate::json_path::{array_at, str_at};
use crate::meta::{
    dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors, duplicate_str, go_quote,
    invalid_str, not_supported_str, required,
};
use crate::status::Cause;
use serde_json::Value;

/// Every error of `crd`.
pub fn validate_crd(crd: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let spec = &crd["spec"];
    let group = str_at(spec, &["group"]);
    let plural = str_at(spec, &["names", "plural"]);
    let name = str_at(crd, &["metadata", "name"]);
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(invalid_str(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(required("spec.group", ""));
    } else if !dns1123_subdomain_errors(group).is_empty() {
        errs.push(invalid_str(
            "spec.group",
            group,
            &dns1123_subdomain_errors(group).join(","),
        ));
    } else if group.split('.').count() < 2 {
        errs.push(invalid_str(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    match str_at(spec, &["scope"]) {
        "Cluster" | "Namespaced" => {}
        "" => errs.push(required("spec.scope", "")),
        other => errs.push(not_supported_str(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    validate_versions(spec, &mut errs);
    validate_names(&spec["names"], &mut errs);
    validate_conversion(&spec["conversion"], &mut errs);
    errs
}

/// upstream's validateCustomResourceConversion, at the internal type's paths
/// (`spec.conversion.webhookClientConfig`, `spec.conversion.conversionReviewVersions`).
fn validate_conversion(conversion: &Value, errs: &mut Vec<Cause>) {
    if conversion.is_null() {
        return;
    }
    let strategy = str_at(conversion, &["strategy"]);
    match strategy {
        "None" | "Webhook" => {}
        "" => errs.push(required("spec.conversion.strategy", "")),
        other => errs.push(not_supported_str(
            "spec.conversion.strategy",
            other,
            &["None", "Webhook"],
        )),
    }
    let webhook = &conversion["webhook"];
    let client = &webhook["clientConfig"];
    let versions = array_at(webhook, &["conversionReviewVersions"]);
    if strategy != "Webhook" {
        if !client.is_null() {
            errs.push(Cause::forbidden(
                "spec.conversion.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if !versions.is_empty() {
            errs.push(Cause::forbidden(
                "spec.conversion.conversionReviewVersions",
                "should not be set when strategy is not set to Webhook",
            ));
        }
        return;
    }
    if client.is_null() {
        errs.push(required(
            "spec.conversion.webhookClientConfig",
            "required when strategy is set to Webhook",
        ));
    } else if client.get("url").is_some() == client.get("service").is_some() {
        errs.push(required(
            "spec.conversion.webhookClientConfig",
            "exactly one of url or service is required",
        ));
    } else if let Some(url) = client.get("url").and_then(Value::as_str) {
        if !url.starts_with("https://") {
            errs.push(invalid_str(
                "spec.conversion.webhookClientConfig.url",
                url,
                "'https' is the only allowed URL scheme",
            ));
        }
    } else {
        let svc = &client["service"];
        for field in ["name", "namespace"] {
            if str_at(svc, &[field]).is_empty() {
                errs.push(required(
                    format!("spec.conversion.webhookClientConfig.service.{field}"),
                    &format!("service {field} is required"),
                ));
            }
        }
    }
    let path = "spec.conversion.conversionReviewVersions";
    if versions.is_empty() {
        errs.push(required(path, ""));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let v = v.as_str().unwrap_or_default();
        if seen.contains(&v) {
            errs.push(invalid_str(format!("{path}[{i}]"), v, "duplicate version"));
            continue;
        }
        seen.push(v);
        for e in dns1035_label_errors(v) {
            errs.push(invalid_str(format!("{path}[{i}]"), v, &e));
        }
    }
    if !seen.iter().any(|v| matches!(*v, "v1" | "v1beta1")) {
        let shown: Vec<String> = seen.iter().map(|v| go_quote(v)).collect();
        errs.push(Cause::invalid(
            path,
            format!("[{}]", shown.join(",")),
            "must include at least one of v1, v1beta1",
        ));
    }
}

/// An update: the rules of a new definition, then what may not change (group and plural always;
/// scope and kind once the definition is established), and the stored versions kept in
/// `spec.versions`.
pub fn validate_crd_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let immutable = |path: &[&str], field: &str, errs: &mut Vec<Cause>| {
        let (n, o) = (
            crate::json_path::at(new, path),
            crate::json_path::at(old, path),
        );
        errs.extend(crate::meta::validate_immutable(n, o, field, || {
            go_quote(n.and_then(Value::as_str).unwrap_or_default())
        }));
    };
    let established = array_at(old, &["status", "conditions"])
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    if established {
        immutable(&["spec", "scope"], "spec.scope", &mut errs);
        immutable(&["spec", "names", "kind"], "spec.names.kind", &mut errs);
    }
    immutable(&["spec", "group"], "spec.group", &mut errs);
    immutable(&["spec", "names", "plural"], "spec.names.plural", &mut errs);
    errs.extend(validate_stored_versions(new));
    errs
}

/// upstream's ValidateCustomResourceDefinitionStoredVersions: at least one stored version, the
/// storage version among them, and every one still in `spec.versions`.
fn validate_stored_versions(crd: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let stored = array_at(crd, &["status", "storedVersions"]);
    let shown = || {
        let names: Vec<String> = stored
            .iter()
            .map(|s| go_quote(s.as_str().unwrap_or_default()))
            .collect();
        format!("[{}]", names.join(","))
    };
    if stored.is_empty() {
        errs.push(Cause::invalid(
            "status.storedVersions",
            "[]",
            "must have at least one stored version",
        ));
        return errs;
    }
    for v in array_at(crd, &["spec", "versions"]) {
        if v["storage"].as_bool() == Some(true) && !stored.iter().any(|s| s == &v["name"]) {
            errs.push(Cause::invalid(
                "status.storedVersions",
                shown(),
                &format!("must have the storage version {}", str_at(v, &["name"])),
            ));
        }
    }
    let versions: Vec<&str> = array_at(crd, &["spec", "versions"])
        .iter()
        .map(|v| str_at(v, &["name"]))
        .collect();
    for (i, stored) in stored.iter().enumerate() {
        let stored = stored.as_str().unwrap_or_default();
        if !versions.contains(&stored) {
            errs.push(invalid_str(
                format!("status.storedVersions[{i}]"),
                stored,
                &format!("missing from spec.versions; {stored} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {stored} and removes {stored} from status.storedVersions"),
            ));
        }
    }
    errs
}

fn validate_versions(spec: &Value, errs: &mut Vec<Cause>) {
    let versions = array_at(spec, &["versions"]);
    let identical = |key: &str| {
        versions
            .iter()
            .all(|v| v.get(key) == versions.first().and_then(|f| f.get(key)))
    };
    let schemas_identical = identical("schema");
    let subresources_identical = identical("subresources");
    let columns_identical = identical("additionalPrinterColumns");
    let fields_identical = identical("selectableFields");
    let mut names: Vec<&str> = Vec::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        let vname = str_at(v, &["name"]);
        if names.contains(&vname) {
            unique = false;
        }
        names.push(vname);
        if v["storage"].as_bool() == Some(true) {
            storage += 1;
        }
        let errors = dns1035_label_errors(vname);
        if !errors.is_empty() {
            errs.push(invalid_str(
                format!("spec.versions[{i}].name"),
                vname,
                &errors.join(","),
            ));
        }
        let schema = &v["schema"]["openAPIV3Schema"];
        if schema.is_null() {
            errs.push(required(
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "",
            ));
        }
        let schema_path = if schemas_identical {
            "spec.validation.openAPIV3Schema".to_string()
        } else {
            format!("spec.versions[{i}].schema.openAPIV3Schema")
        };
        if !schema.is_null() && (i == 0 || !schemas_identical) {
            let status = v["subresources"].get("status").is_some();
            validate_schema_root(schema, &schema_path, status, errs);
        }
        if i == 0 || !subresources_identical {
            let path = if subresources_identical {
                "spec.subresources".to_string()
            } else {
                format!("spec.versions[{i}].subresources")
            };
            validate_subresources(&v["subresources"], &path, errs);
        }
        if (i == 0 || !fields_identical) && v.get("selectableFields").is_some() {
            let path = if fields_identical {
                "spec.selectableFields".to_string()
            } else {
                format!("spec.versions[{i}].selectableFields")
            };
            validate_selectable_fields(v, schema, &path, errs);
        }
        if i == 0 || !columns_identical {
            for (c, col) in array_at(v, &["additionalPrinterColumns"])
                .iter()
                .enumerate()
            {
                let path = if columns_identical {
                    format!("spec.additionalPrinterColumns[{c}]")
                } else {
                    format!("spec.versions[{i}].additionalPrinterColumns[{c}]")
                };
                validate_column(col, &path, errs);
            }
        }
    }
    if !unique {
        errs.push(Cause::invalid(
            "spec.versions",
            versions_text(versions),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(Cause::invalid(
            "spec.versions",
            versions_text(versions),
            "must have exactly one version marked as storage version",
        ));
    }
}

/// How upstream prints the versions list in its message (Go's `%v` of the structs is long;
/// the names are what a user needs).
fn versions_text(versions: &[Value]) -> String {
    let names: Vec<String> = versions
        .iter()
        .map(|v| go_quote(str_at(v, &["name"])))
        .collect();
    format!("[{}]", names.join(", "))
}

fn validate_names(names: &Value, errs: &mut Vec<Cause>) {
    for (field, value) in [
        ("plural", str_at(names, &["plural"])),
        ("singular", str_at(names, &["singular"])),
        ("kind", str_at(names, &["kind"])),
        ("listKind", str_at(names, &["listKind"])),
    ] {
        if value.is_empty() {
            errs.push(required(format!("spec.names.{field}"), ""));
        }
    }
    for field in ["plural", "singular"] {
        let value = str_at(names, &[field]);
        let e = dns1035_label_errors(value);
        if !value.is_empty() && !e.is_empty() {
            errs.push(invalid_str(
                format!("spec.names.{field}"),
                value,
                &e.join(","),
            ));
        }
    }
    for field in ["kind", "listKind"] {
        let value = str_at(names, &[field]);
        let e = dns1035_label_errors(&value.to_lowercase());
        if !value.is_empty() && !e.is_empty() {
            errs.push(invalid_str(
                format!("spec.names.{field}"),
                value,
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    e.join(",")
                ),
            ));
        }
    }
    for (i, s) in array_at(names, &["shortNames"]).iter().enumerate() {
        let s = s.as_str().unwrap_or_default();
        let e = dns1035_label_errors(s);
        if !e.is_empty() {
            errs.push(invalid_str(
                format!("spec.names.shortNames[{i}]"),
                s,
                &e.join(","),
            ));
        }
    }
    let kind = str_at(names, &["kind"]);
    if !kind.is_empty() && kind == str_at(names, &["listKind"]) {
        errs.push(invalid_str(
            "spec.names.listKind",
            kind,
            "kind and listKind may not be the same",
        ));
    }
    for (i, c) in array_at(names, &["categories"]).iter().enumerate() {
        let c = c.as_str().unwrap_or_default();
        let e = dns1123_label_errors(c);
        if !e.is_empty() {
            errs.push(invalid_str(
                format!("spec.names.categories[{i}]"),
                c,
                &e.join(","),
            ));
        }
    }
}

fn validate_subresources(subs: &Value, path: &str, errs: &mut Vec<Cause>) {
    let Some(scale) = subs.get("scale") else {
        return;
    };
    for (field, key) in [("specReplicasPath", true), ("statusReplicasPath", true)] {
        let value = str_at(scale, &[field]);
        if value.is_empty() && key {
            errs.push(required(format!("{path}.scale.{field}"), ""));
        } else if !value.starts_with('.') {
            errs.push(invalid_str(
                format!("{path}.scale.{field}"),
                value,
                "should be a json path under .spec",
            ));
        }
    }
    let spec_path = str_at(scale, &["specReplicasPath"]);
    if spec_path.starts_with('.') && !spec_path.starts_with(".spec.") {
        errs.push(invalid_str(
            format!("{path}.scale.specReplicasPath"),
            spec_path,
            "should be a json path under .spec",
        ));
    }
    let status_path = str_at(scale, &["statusReplicasPath"]);
    if status_path.starts_with('.') && !status_path.starts_with(".status.") {
        errs.push(invalid_str(
            format!("{path}.scale.statusReplicasPath"),
            status_path,
            "should be a json path under .status",
        ));
    }
}

/// upstream's limit on selectable fields per version.
const MAX_SELECTABLE_FIELDS: usize = 8;

fn validate_selectable_fields(version: &Value, schema: &Value, path: &str, errs: &mut Vec<Cause>) {
    let fields = array_at(version, &["selectableFields"]);
    if fields.len() > MAX_SELECTABLE_FIELDS {
        errs.push(Cause {
            reason: "FieldValueTooMany",
            message: format!(
                "Too many: {}: must have at most {MAX_SELECTABLE_FIELDS} items",
                fields.len()
            ),
            field: path.to_string(),
        });
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let at = format!("{path}[{i}].jsonPath");
        let json_path = str_at(f, &["jsonPath"]);
        if json_path.is_empty() {
            errs.push(required(at, ""));
            continue;
        }
        let segments: Vec<&str> = json_path.trim_start_matches('.').split('.').collect();
        if segments.first() == Some(&"metadata") {
            errs.push(invalid_str(
                at,
                json_path,
                "must not point to fields in metadata",
            ));
            continue;
        }
        let mut node = schema;
        for seg in &segments {
            node = &node["properties"][*seg];
        }
        let allowed = matches!(str_at(node, &["type"]), "string" | "boolean" | "integer");
        if !allowed {
            errs.push(invalid_str(
                at.clone(),
                json_path,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if seen.contains(&json_path) {
            errs.push(duplicate_str(at, json_path));
        }
        seen.push(json_path);
    }
}

const COLUMN_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: [&str; 7] = [
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
];

fn validate_column(col: &Value, path: &str, errs: &mut Vec<Cause>) {
    if str_at(col, &["name"]).is_empty() {
        errs.push(required(format!("{path}.name"), ""));
    }
    let t = str_at(col, &["type"]);
    let types = COLUMN_TYPES.join(",");
    if t.is_empty() {
        errs.push(required(
            format!("{path}.type"),
            &format!("must be one of {types}"),
        ));
    } else if !COLUMN_TYPES.contains(&t) {
        errs.push(invalid_str(
            format!("{path}.type"),
            t,
            &format!("must be one of {types}"),
        ));
    }
    let f = str_at(col, &["format"]);
    if !f.is_empty() && !COLUMN_FORMATS.contains(&f) {
        errs.push(invalid_str(
            format!("{path}.format"),
            f,
            &format!("must be one of {}", COLUMN_FORMATS.join(",")),
        ));
    }
    if str_at(col, &["jsonPath"]).is_empty() {
        errs.push(required(format!("{path}.JSONPath"), ""));
    }
}

/// The schema of an object's `metadata` (the root's or an embedded resource's): an object, and
/// at the root nothing but `name` and `generateName` restricted.
fn object_meta_schema(s: &Value, path: &str, root: bool, errs: &mut Vec<Cause>) {
    let t = str_at(s, &["type"]);
    if !t.is_empty() && t != "object" {
        errs.push(invalid_str(format!("{path}.type"), t, "must be object"));
    }
    if !root {
        return;
    }
    let only_names = s
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| match k.as_str() {
            "type" | "description" | "default" => true,
            "properties" => v
                .as_object()
                .is_some_and(|p| p.keys().all(|k| k == "name" || k == "generateName")),
            _ => false,
        });
    if !only_names {
        errs.push(Cause::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

const VALID_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// The root of a version's schema: upstream's status-subresource root rule, then structural
/// rules everywhere below.
fn validate_schema_root(schema: &Value, path: &str, status: bool, errs: &mut Vec<Cause>) {
    if status {
        status_root_errors(schema, path, errs);
    }
    if schema["nullable"].as_bool() == Some(true) {
        errs.push(Cause::forbidden(
            format!("{path}.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let mut found = Vec::new();
    structural(schema, path, Level::Root, &mut found);
    if found.is_empty() {
        default_errors(schema, path, &mut found);
    }
    super::rules::rule_errors(schema, path, &mut found);
    found.sort_by(|a, b| {
        format!("{}: {}", a.field, a.message).cmp(&format!("{}: {}", b.field, b.message))
    });
    errs.extend(found);
}

/// upstream's allowedFieldsAtRootSchema (Go field names, as its message lists them) and their
/// JSON names.
const ROOT_FIELDS_WITH_STATUS: [(&str, &str); 22] = [
    ("Description", "description"),
    ("Type", "type"),
    ("Format", "format"),
    ("Title", "title"),
    ("Maximum", "maximum"),
    ("ExclusiveMaximum", "exclusiveMaximum"),
    ("Minimum", "minimum"),
    ("ExclusiveMinimum", "exclusiveMinimum"),
    ("MaxLength", "maxLength"),
    ("MinLength", "minLength"),
    ("Pattern", "pattern"),
    ("MaxItems", "maxItems"),
    ("MinItems", "minItems"),
    ("UniqueItems", "uniqueItems"),
    ("MultipleOf", "multipleOf"),
    ("Required", "required"),
    ("Items", "items"),
    ("Properties", "properties"),
    ("ExternalDocs", "externalDocs"),
    ("Example", "example"),
    (
        "XPreserveUnknownFields",
        "x-kubernetes-preserve-unknown-fields",
    ),
    ("XValidations", "x-kubernetes-validations"),
];

/// With the status subresource, the root of the schema may only be an object with the fields
/// that keep their meaning once `status` is cut out (zero values do not count).
fn status_root_errors(schema: &Value, path: &str, errs: &mut Vec<Cause>) {
    let t = str_at(schema, &["type"]);
    if !t.is_empty() && t != "object" {
        errs.push(invalid_str(
            format!("{path}.type"),
            t,
            "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
        ));
        return;
    }
    let zero = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    };
    let other = schema
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| !zero(v) && !ROOT_FIELDS_WITH_STATUS.iter().any(|(_, json)| json == k));
    if other {
        let names: Vec<&str> = ROOT_FIELDS_WITH_STATUS.iter().map(|(go, _)| *go).collect();
        errs.push(Cause::invalid(
            path,
            schema,
            &format!(
                "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                names.join(" ")
            ),
        ));
    }
}

/// upstream's ValidateDefaults: every `default` has no field pruning would drop and is valid
/// against its schema (value validations and CEL rules), errors at `<path>.default…`.
fn default_errors(s: &Value, path: &str, errs: &mut Vec<Cause>) {
    if let Some(d) = s.get("default") {
        let at = format!("{path}.default");
        let mut pruned = d.clone();
        super::schema::prune_value(s, &mut pruned);
        if &pruned != d {
            errs.push(Cause::invalid(
                at.clone(),
                shown(d),
                "must not have unknown fields",
            ));
        }
        let found = super::schema::validate_value(s, d, &at);
        if found.is_empty() {
            for mut c in super::rules::Rules::compile(s).validate_value(s, d) {
                c.field = match c.field.chars().next() {
                    None => at.clone(),
                    Some('[') => format!("{at}{}", c.field),
                    Some(_) => format!("{at}.{}", c.field),
                };
                errs.push(c);
            }
        }
        errs.extend(found);
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        default_errors(items, &format!("{path}.items"), errs);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            // A default inside metadata is upstream's to check against ObjectMeta; not done here.
            if k != "metadata" {
                default_errors(p, &format!("{path}.properties[{k}]"), errs);
            }
        }
    }
    if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
        default_errors(a, &format!("{path}.additionalProperties"), errs);
    }
}

/// A value as a field error shows it: strings quoted, the rest as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// upstream's structural invariants: a type everywhere (but under int-or-string or
/// preserve-unknown-fields), items for arrays, no additionalProperties beside properties or
/// at the root, valid types and patterns, metadata restricted at the root.
fn structural(s: &Value, path: &str, level: Level, errs: &mut Vec<Cause>) {
    let t = str_at(s, &["type"]);
    let int_or_string = s["x-kubernetes-int-or-string"].as_bool() == Some(true);
    let preserve = s["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    if s["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(false) {
        errs.push(Cause::invalid(
            format!("{path}.x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    if !t.is_empty() && !VALID_TYPES.contains(&t) {
        errs.push(not_supported_str(format!("{path}.type"), t, &VALID_TYPES));
    }
    if t.is_empty() && !int_or_string && !preserve {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(required(format!("{path}.type"), detail));
    }
    if level == Level::Root && !t.is_empty() && t != "object" {
        errs.push(invalid_str(
            format!("{path}.type"),
            t,
            "must be object at the root",
        ));
    }
    if t == "array" && s.get("items").is_none() {
        errs.push(required(format!("{path}.items"), "must be specified"));
    }
    if s.get("properties").is_some() && s.get("additionalProperties").is_some() {
        errs.push(Cause::forbidden(
            format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if level == Level::Root && s.get("additionalProperties").is_some() {
        errs.push(Cause::forbidden(
            format!("{path}.additionalProperties"),
            "must not be used at the root",
        ));
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        if let Err(e) = regex::Regex::new(p) {
            errs.push(invalid_str(
                format!("{path}.pattern"),
                p,
                &format!("must be a valid regular expression, but isn't: {e}"),
            ));
        }
    }
    if s["uniqueItems"].as_bool() == Some(true) {
        errs.push(Cause::forbidden(
            format!("{path}.uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(items) = s.get("items") {
        structural(items, &format!("{path}.items"), Level::Item, errs);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let child = format!("{path}.properties[{k}]");
            let embedded = s["x-kubernetes-embedded-resource"] == true;
            if k == "metadata" && (level == Level::Root || embedded) {
                object_meta_schema(v, &child, level == Level::Root, errs);
            }
            structural(v, &child, Level::Field, errs);
        }
    }
    // Value validations may not reason about metadata.
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, branch) in s[key].as_array().into_iter().flatten().enumerate() {
            if branch["properties"].get("metadata").is_some() {
                errs.push(Cause::forbidden(
                    format!("{path}.{key}[{i}].properties[metadata]"),
                    "must not be specified in a nested context",
                ));
            }
        }
    }
    if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
        structural(
            a,
            &format!("{path}.additionalProperties"),
            Level::Field,
            errs,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> Value {
        super::super::tests::widget_crd()
    }

    fn messages(crd: &Value) -> Vec<String> {
        // As the server validates: after the defaults.
        let mut crd = crd.clone();
        crate::strategy::Strategy::default(
            &super::super::CustomResourceDefinitionStrategy,
            &mut crd,
        );
        validate_crd(&crd)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn a_good_crd_is_valid() {
        assert_eq!(messages(&crd()), Vec::<String>::new());
    }

    #[test]
    fn names_and_versions_as_upstream() {
        let mut c = crd();
        c["metadata"]["name"] = json!("gadgets.example.com");
        c["spec"]["versions"][0]["storage"] = json!(false);
        c["spec"]["group"] = json!("example");
        let m = messages(&c);
        assert!(m.contains(&"metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group".to_string()), "{m:#?}");
        assert!(
            m.contains(
                &"spec.group: Invalid value: \"example\": should be a domain with at least one dot"
                    .to_string()
            ),
            "{m:#?}"
        );
        assert!(m.iter().any(|e| e.starts_with("spec.versions: Invalid value: [\"v1\"]: must have exactly one version marked as storage version")), "{m:#?}");
    }

    #[test]
    fn updates_keep_group_plural_and_stored_versions() {
        let mut old = crd();
        old["status"] = json!({"storedVersions": ["v1"], "conditions": [{"type": "Established", "status": "True"}]});
        let mut new = old.clone();
        new["spec"]["scope"] = json!("Cluster");
        new["spec"]["names"]["plural"] = json!("gizmos");
        new["spec"]["versions"][0]["name"] = json!("v2");
        let m: Vec<String> = validate_crd_update(&new, &old)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert!(
            m.contains(&"spec.scope: Invalid value: \"Cluster\": field is immutable".to_string()),
            "{m:#?}"
        );
        assert!(
            m.contains(
                &"spec.names.plural: Invalid value: \"gizmos\": field is immutable".to_string()
            ),
            "{m:#?}"
        );
        assert!(
            m.iter().any(|e| e.starts_with(
                "status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions"
            )),
            "{m:#?}"
        );
    }

    #[test]
    fn defaults_must_fit_their_schema() {
        let mut c = crd();
        let spec = &mut c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        spec["properties"]["color"] =
            json!({"type": "string", "enum": ["red", "green"], "default": "purple"});
        spec["properties"]["limits"] = json!({"type": "object",
            "properties": {"cpu": {"type": "integer", "maximum": 4}},
            "default": {"cpu": 8, "memory": 1},
            "x-kubernetes-validations": [{"rule": "self.cpu > 0", "message": "cpu"}]});
        let m = messages(&c);
        let p = "spec.validation.openAPIV3Schema.properties[spec].properties";
        assert_eq!(
            m,
            [
                format!("{p}[color].default: Unsupported value: \"purple\": supported values: \"red\", \"green\""),
                format!("{p}[limits].default.cpu: Invalid value: 8: {p}[limits].default.cpu in body should be less than or equal to 4"),
                format!("{p}[limits].default: Invalid value: {{\"cpu\":8,\"memory\":1}}: must not have unknown fields"),
            ]
        );
    }

    #[test]
    fn stored_versions_and_the_status_root() {
        let mut old = crd();
        old["status"] = json!({"storedVersions": ["v1"]});
        let mut new = old.clone();
        new["status"]["storedVersions"] = json!([]);
        let m: Vec<String> = validate_crd_update(&new, &old)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(
            m,
            ["status.storedVersions: Invalid value: []: must have at least one stored version"]
        );
        new["status"]["storedVersions"] = json!(["v0"]);
        new["spec"]["versions"][0]["name"] = json!("v0b");
        let m: Vec<String> = validate_crd_update(&new, &old)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert!(m.contains(&"status.storedVersions: Invalid value: [\"v0\"]: must have the storage version v0b".to_string()), "{m:#?}");
        let mut c = crd();
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["nullable"] = json!(false);
        assert!(messages(&c).is_empty(), "zero values do not count");
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-embedded-resource"] =
            json!(true);
        assert!(messages(&c).iter().any(|e| e.starts_with("spec.validation.openAPIV3Schema: Invalid value: {") && e.ends_with(": only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled")), "{:#?}", messages(&c));
    }

    #[test]
    fn non_structural_schemas_are_rejected() {
        let mut c = crd();
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["size"] = json!({"minimum": 1});
        let m = messages(&c);
        assert!(m.contains(&"spec.validation.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields".to_string()), "{m:#?}");
    }
}
