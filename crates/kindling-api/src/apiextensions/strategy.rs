//! The strategies of CustomResourceDefinitions (upstream's customresourcedefinition strategy and
//! its REST Delete) and of custom objects (upstream's customresource strategy).

use super::structural::Structural;
use super::CLEANUP_FINALIZER;
use crate::json_path::{array_at, str_at};
use crate::status::Cause;
use crate::strategy::Strategy;
use serde_json::{json, Value};
use std::sync::Arc;

pub struct CustomResourceDefinitionStrategy;

/// The version marked `storage: true`.
fn storage_version(crd: &Value) -> Option<&str> {
    array_at(crd, &["spec", "versions"])
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str())
}

/// upstream's PrepareForCreate/Update: the storage version is recorded in
/// `status.storedVersions`.
fn record_storage_version(crd: &mut Value) {
    let Some(v) = storage_version(crd).map(str::to_string) else {
        return;
    };
    let stored = &mut crd["status"]["storedVersions"];
    if !stored.is_array() {
        *stored = json!([]);
    }
    if let Some(list) = stored.as_array_mut() {
        if !list.iter().any(|s| s == v.as_str()) {
            list.push(json!(v));
        }
    }
}

impl Strategy for CustomResourceDefinitionStrategy {
    /// v1 defaulting: singular is the lower-case kind, listKind kind + `List`, conversion None.
    fn default(&self, obj: &mut Value) {
        let spec = &mut obj["spec"];
        let kind = str_at(spec, &["names", "kind"]).to_string();
        if str_at(spec, &["names", "singular"]).is_empty() && !kind.is_empty() {
            spec["names"]["singular"] = json!(kind.to_lowercase());
        }
        if str_at(spec, &["names", "listKind"]).is_empty() && !kind.is_empty() {
            spec["names"]["listKind"] = json!(format!("{kind}List"));
        }
        if spec.get("conversion").is_none() {
            spec["conversion"] = json!({"strategy": "None"});
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(m) = obj.as_object_mut() {
            m.shift_remove("status");
        }
        record_storage_version(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        record_storage_version(new);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        super::validate_crd(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        super::validate_crd_update(new, old)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// upstream's REST Delete: the first delete adds the cleanup finalizer and the Terminating
    /// condition; the CRD stays until the controller has deleted every object.
    fn prepare_for_delete(&self, obj: &mut Value) -> bool {
        let finalizers = &mut obj["metadata"]["finalizers"];
        if !finalizers.is_array() {
            *finalizers = json!([]);
        }
        if let Some(list) = finalizers.as_array_mut() {
            if !list.iter().any(|f| f == CLEANUP_FINALIZER) {
                list.push(json!(CLEANUP_FINALIZER));
            }
        }
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        set_condition(
            obj,
            super::condition(
                "Terminating",
                true,
                "InstanceDeletionPending",
                "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
                &now,
            ),
        );
        true
    }
}

/// Puts `cond` into `status.conditions`, replacing one of its type (its transition time kept
/// when the status did not change).
pub fn set_condition(obj: &mut Value, mut cond: Value) {
    let conditions = &mut obj["status"]["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|c| c["type"] == cond["type"]) {
        Some(existing) => {
            if existing["status"] == cond["status"] {
                cond["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = cond;
        }
        None => list.push(cond),
    }
}

/// The rules of one served version's objects: its structural schema (compiled once, when the
/// definition's entries are made) and its CEL rules.
pub struct CustomResourceStrategy {
    schema: Arc<Value>,
    structural: Arc<Structural>,
    rules: super::rules::Rules,
    /// The definition is being deleted: no new objects.
    terminating: bool,
}

impl CustomResourceStrategy {
    pub fn new(schema: Arc<Value>, terminating: bool) -> CustomResourceStrategy {
        let rules = super::rules::Rules::compile(&schema);
        let structural = Arc::new(Structural::compile(&schema));
        CustomResourceStrategy {
            schema,
            structural,
            rules,
            terminating,
        }
    }

    /// The compiled schema (the catalog entry prunes and defaults stored objects with it).
    pub fn structural(&self) -> Arc<Structural> {
        self.structural.clone()
    }

    /// The fields pruning would drop from `obj`, as strict decoding reports them.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        self.structural.unknown_fields(obj)
    }
}

impl Strategy for CustomResourceStrategy {
    /// Unknown fields are dropped, then defaults filled in, as upstream decodes custom objects
    /// (one pass over the object).
    fn default(&self, obj: &mut Value) {
        self.structural.prune_and_default(obj);
    }

    /// The schema first; CEL rules only when it holds (upstream skips them on schema errors).
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let errors = self.structural.validate(obj);
        if !errors.is_empty() {
            return errors;
        }
        self.rules.validate(&self.schema, obj)
    }

    fn validate_create(&self, obj: &Value) -> Vec<Cause> {
        if !self.rules.has_transitions() || !self.structural.validate(obj).is_empty() {
            return Vec::new();
        }
        self.rules.validate_create(&self.schema, obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        if !self.rules.has_transitions() || !self.structural.validate(new).is_empty() {
            return Vec::new();
        }
        self.rules.validate_transitions(&self.schema, new, old)
    }

    /// As `validate` then `validate_update`, with upstream's ratcheting: errors of the schema
    /// are dropped where the value is unchanged (`ratchet.rs`), rules that do not look at
    /// `oldSelf` do not run on unchanged nodes; transition rules are never ratcheted. Costs
    /// nothing more when the object is valid.
    fn validate_whole_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let schema_errors = self.structural.validate(new);
        if !schema_errors.is_empty() {
            let left = super::ratchet::ratchet(schema_errors, &self.schema, new, old);
            if !left.is_empty() {
                return left;
            }
        }
        let mut causes = self.rules.validate(&self.schema, new);
        if !causes.is_empty() {
            // Again, skipping the nodes whose value is unchanged (upstream ratchets a rule by
            // its node, whatever its fieldPath).
            causes = self.rules.validate_ratcheting(&self.schema, new, old);
        }
        if self.rules.has_transitions() {
            causes.extend(self.rules.validate_transitions(&self.schema, new, old));
        }
        causes
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn refuse_create(&self) -> Option<&'static str> {
        self.terminating
            .then_some("create not allowed while custom resource definition is terminating")
    }

    fn unknown_fields(&self, obj: &Value) -> Option<Vec<String>> {
        Some(CustomResourceStrategy::unknown_fields(self, obj))
    }
}
