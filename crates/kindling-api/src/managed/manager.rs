//! `metadata.managedFields` and the field manager around the updater, as upstream's
//! k8s.io/apimachinery/pkg/util/managedfields/internal chains it: version check, the
//! last-applied-configuration hand-over from client-side apply, tracking only objects that are
//! tracked already (or new), the cap on update managers, manager identifiers, entry times, and
//! the metadata fields nobody owns.

use super::fieldpath::{Path, Set};
use super::updater::{Conflict, Filter, ManagedFields, UpdateError, Updater, VersionedSet};
use super::{typed, types::Ty};
use crate::meta::go_quote;
use crate::status::{ApiError, Cause};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The annotation client-side apply keeps its configuration in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How many update managers an object keeps; older ones merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The decoded managed fields: sets and entry times by manager identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub fields: ManagedFields,
    pub times: BTreeMap<String, Option<String>>,
}

/// One `managedFields` entry's identity (what is not its fields or time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerId {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: String,
}

impl ManagerId {
    /// Upstream's identifier: the entry's JSON without fieldsType, fieldsV1, time, nor, for
    /// appliers, apiVersion.
    pub fn key(&self) -> String {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), json!(self.manager));
        }
        if !self.operation.is_empty() {
            m.insert("operation".into(), json!(self.operation));
        }
        if !self.api_version.is_empty() && self.operation != "Apply" {
            m.insert("apiVersion".into(), json!(self.api_version));
        }
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m).to_string()
    }

    pub fn parse(key: &str) -> ManagerId {
        let v: Value = serde_json::from_str(key).unwrap_or(Value::Null);
        let s = |f: &str| v[f].as_str().unwrap_or_default().to_string();
        ManagerId {
            manager: s("manager"),
            operation: s("operation"),
            api_version: s("apiVersion"),
            subresource: s("subresource"),
        }
    }

    /// How conflicts name the manager: `"kubectl"`, `"kubectl" with subresource "scale"`,
    /// `"kubectl-client-side-apply" using apps/v1`.
    fn describe(&self) -> String {
        let mut s = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {}", go_quote(&self.subresource));
        }
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

/// Reads `metadata.managedFields`.
pub fn decode(entries: Option<&Value>) -> Result<Managed, String> {
    let mut managed = Managed::default();
    let Some(entries) = entries.filter(|v| !v.is_null()) else {
        return Ok(managed);
    };
    let list = entries
        .as_array()
        .ok_or_else(|| "managedFields must be a list".to_string())?;
    for (i, e) in list.iter().enumerate() {
        let s = |f: &str| e[f].as_str().unwrap_or_default().to_string();
        let operation = s("operation");
        if operation != "Apply" && operation != "Update" {
            return Err("operation must be `Apply` or `Update`".into());
        }
        let api_version = s("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match s("fieldsType").as_str() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ))
            }
        }
        let id = ManagerId {
            manager: s("manager"),
            operation: operation.clone(),
            api_version: api_version.clone(),
            subresource: s("subresource"),
        };
        let set = Set::from_fields_v1(&e["fieldsV1"])
            .map_err(|err| format!("error decoding set: {err}"))?;
        let key = id.key();
        managed.fields.insert(
            key.clone(),
            VersionedSet {
                set,
                api_version,
                applied: operation == "Apply",
            },
        );
        managed
            .times
            .insert(key, e["time"].as_str().map(str::to_string));
    }
    Ok(managed)
}

/// Writes `managed` as `metadata.managedFields` entries, in upstream's order (appliers first,
/// then by time, manager, apiVersion, subresource). No managers: `None` (no field).
pub fn encode(managed: &Managed) -> Option<Value> {
    if managed.fields.is_empty() {
        return None;
    }
    let mut entries: Vec<(ManagerId, Option<String>, Value)> = managed
        .fields
        .iter()
        .map(|(key, vs)| {
            let mut id = ManagerId::parse(key);
            id.api_version = vs.api_version.clone();
            if vs.applied {
                id.operation = "Apply".into();
            }
            let time = managed.times.get(key).cloned().flatten();
            let mut e = Map::new();
            e.insert("manager".into(), json!(id.manager));
            e.insert("operation".into(), json!(id.operation));
            e.insert("apiVersion".into(), json!(id.api_version));
            if let Some(t) = &time {
                e.insert("time".into(), json!(t));
            }
            e.insert("fieldsType".into(), json!("FieldsV1"));
            e.insert("fieldsV1".into(), vs.set.to_fields_v1());
            if !id.subresource.is_empty() {
                e.insert("subresource".into(), json!(id.subresource));
            }
            (id, time, Value::Object(e))
        })
        .collect();
    entries.sort_by(|(a, ta, _), (b, tb, _)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| seconds(ta).cmp(&seconds(tb)))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    Some(Value::Array(
        entries.into_iter().map(|(_, _, e)| e).collect(),
    ))
}

fn seconds(t: &Option<String>) -> i64 {
    t.as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map_or(0, jiff::Timestamp::as_second)
}

fn set_managed_fields(obj: &mut Value, managed: &Managed) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        if managed.fields.is_empty() {
            return;
        }
        obj["metadata"] = json!({});
        return set_managed_fields(obj, managed);
    };
    match encode(managed) {
        Some(v) => {
            meta.insert("managedFields".into(), v);
        }
        None => {
            meta.remove("managedFields");
        }
    }
}

fn remove_managed_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

/// The metadata fields no manager owns.
fn strip_set() -> Set {
    let mut s = Set::new();
    for p in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        s.insert(&Path::fields(p));
    }
    s
}

fn strip_meta(managed: &mut Managed, manager: &str) {
    if let Some(vs) = managed.fields.get_mut(manager) {
        vs.set = vs.set.difference(strip_set_cached());
        if vs.set.is_empty() {
            managed.fields.remove(manager);
        }
    }
}

/// Which fields a write may not take ownership of: those its strategy resets.
#[derive(Clone, Debug, Default)]
pub enum Reset {
    /// Nothing is reset.
    #[default]
    None,
    /// `status` (the main resource of a type with a status subresource).
    Status,
    /// Everything but `status` (the status subresource).
    AllButStatus,
    /// Everything but these paths (e.g. `.spec.replicas` for the scale subresource).
    AllBut(Vec<Path>),
}

/// What a field manager needs to know of the endpoint.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The OpenAPI definition, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub type_name: String,
    /// `apps/v1`.
    pub api_version: String,
    pub kind: String,
    /// `status`, `scale`, …; `None` for the main resource.
    pub subresource: Option<String>,
    pub reset: Reset,
    /// Whether entries get a `time` (upstream's scale subresource entries have none).
    pub timestamps: bool,
    /// A custom resource's schema (interned: [`super::types::intern`]); `None`: `type_name`
    /// names a built-in definition.
    pub custom_schema: Option<&'static Value>,
}

impl Scope {
    pub fn new(type_name: &str, api_version: &str, kind: &str) -> Scope {
        Scope {
            type_name: type_name.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            subresource: None,
            reset: Reset::None,
            timestamps: true,
            custom_schema: None,
        }
    }

    fn ty(&self) -> Ty {
        match self.custom_schema {
            Some(schema) => Ty::custom(schema),
            None => Ty::root(&self.type_name),
        }
    }

    fn filter(&self, objects: &[&Value]) -> Filter {
        let mut exclude = Set::new();
        match &self.reset {
            Reset::None => {}
            Reset::Status => exclude.insert(&Path::fields(&["status"])),
            Reset::AllButStatus | Reset::AllBut(_) => {
                let keep: Vec<Path> = match &self.reset {
                    Reset::AllBut(paths) => paths.clone(),
                    _ => vec![Path::fields(&["status"])],
                };
                // Everything the objects have that is not on the way to a kept path.
                for obj in objects {
                    exclude_all_but(obj, &keep, &mut Vec::new(), &mut exclude);
                }
            }
        }
        Filter { exclude }
    }

    fn id(&self, manager: &str, operation: &str) -> String {
        ManagerId {
            manager: if manager.is_empty() {
                "unknown".into()
            } else {
                manager.into()
            },
            operation: operation.into(),
            api_version: self.api_version.clone(),
            subresource: self.subresource.clone().unwrap_or_default(),
        }
        .key()
    }
}

fn exclude_all_but(
    v: &Value,
    keep: &[Path],
    prefix: &mut Vec<super::fieldpath::PathElement>,
    out: &mut Set,
) {
    let Some(m) = v.as_object() else { return };
    for k in m.keys() {
        prefix.push(super::fieldpath::PathElement::Field(k.clone()));
        let on_way = keep
            .iter()
            .any(|p| p.0.len() > prefix.len() && p.0.starts_with(prefix));
        let kept = keep.iter().any(|p| p.0 == *prefix);
        if on_way {
            exclude_all_but(&m[k], keep, prefix, out);
        } else if !kept {
            out.insert_elements(prefix);
        }
        prefix.pop();
    }
}

/// `managedFields: []` (or one empty entry) in a request clears the managed fields.
fn is_reset(entries: Option<&Value>) -> bool {
    match entries {
        Some(Value::Array(list)) => {
            list.is_empty() || (list.len() == 1 && list[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    }
}

fn managed_fields_of(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("managedFields")
}

fn has_uid(obj: &Value) -> bool {
    obj["metadata"]["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty())
}

/// Records an update (create, update, patch) by `manager` on `new`, the object about to be
/// stored (defaulted), given `live` (`None` on create). Sets `new`'s `metadata.managedFields`.
/// Never fails: on a problem `new` keeps `live`'s managed fields, as upstream's
/// `UpdateNoErrors`.
pub fn update(scope: &Scope, live: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    update_by(scope, live, new, manager, now, true);
}

/// [`update`], by the create path when `creates_directly` and the write is a create with no
/// managed fields of its own (every create through the API but a copy of another object's).
pub(super) fn update_by(
    scope: &Scope,
    live: Option<&Value>,
    new: &mut Value,
    manager: &str,
    now: &str,
    creates_directly: bool,
) {
    let empty = json!({});
    let live_obj = live.unwrap_or(&empty);
    let managed = if scope.subresource.is_some() {
        decode(managed_fields_of(live_obj)).unwrap_or_default()
    } else if is_reset(managed_fields_of(new)) {
        Managed::default()
    } else {
        match decode(managed_fields_of(new)) {
            Ok(m) if !m.fields.is_empty() => m,
            _ => decode(managed_fields_of(live_obj)).unwrap_or_default(),
        }
    };
    remove_managed_fields(new);
    // Objects are tracked from their creation on; an object without managed fields stays so.
    if managed.fields.is_empty() && has_uid(live_obj) {
        return;
    }
    if creates_directly && live.is_none() && managed.fields.is_empty() {
        if let Some(entry) = created_entry(scope, new, manager, now) {
            set_meta(new, "managedFields", Value::Array(vec![entry]));
        }
        return;
    }
    let mut live_clean = live_obj.clone();
    remove_managed_fields(&mut live_clean);
    match update_inner(scope, &live_clean, new, managed, manager, now) {
        Ok(managed) => set_managed_fields(new, &managed),
        Err(_) => {
            if let Some(mf) = managed_fields_of(live_obj).cloned() {
                new["metadata"]["managedFields"] = mf;
            }
        }
    }
}

/// The one entry of a create by `manager` when nobody managed anything before: the fields the
/// create sets (from the type's zero value, as the updater compares), less what the strategy
/// resets and the metadata nobody owns. What [`update_inner`] and [`encode`] make of it, built
/// without comparing two normalized objects nor going through manager identifiers. `None`:
/// no fields (or objects that do not fit their schema, which the general path leaves untracked
/// too).
fn created_entry(scope: &Scope, new: &Value, manager: &str, now: &str) -> Option<Value> {
    let empty = json!({});
    let filter = scope.filter(&[&empty, new]);
    let set = super::created::created_fields(new, &scope.ty()).ok()?;
    let set = filter.apply(&set).difference(strip_set_cached());
    if set.is_empty() {
        return None;
    }
    let mut e = Map::new();
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    e.insert("manager".into(), json!(manager));
    e.insert("operation".into(), json!("Update"));
    e.insert("apiVersion".into(), json!(scope.api_version));
    if scope.timestamps {
        e.insert("time".into(), json!(now));
    }
    e.insert("fieldsType".into(), json!("FieldsV1"));
    e.insert("fieldsV1".into(), set.to_fields_v1());
    if let Some(sub) = scope.subresource.as_deref().filter(|s| !s.is_empty()) {
        e.insert("subresource".into(), json!(sub));
    }
    Some(Value::Object(e))
}

/// `metadata.<field> = value`, making `metadata` if there is none.
fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(field.into(), value);
    }
}

/// [`strip_set`], made once.
fn strip_set_cached() -> &'static Set {
    static STRIP: std::sync::OnceLock<Set> = std::sync::OnceLock::new();
    STRIP.get_or_init(strip_set)
}

/// Cap, manager identifier, time, strip — then the updater.
fn update_inner(
    scope: &Scope,
    live: &Value,
    new: &Value,
    mut managed: Managed,
    manager: &str,
    now: &str,
) -> Result<Managed, UpdateError> {
    let id = scope.id(manager, "Update");
    let filter = scope.filter(&[live, new]);
    let updater = Updater {
        ty: scope.ty(),
        filter: &filter,
    };
    const SELF: &str = "current-operation";
    updater.update_op(live, new, &scope.api_version, &mut managed.fields, SELF)?;
    strip_meta(&mut managed, SELF);
    if let Some(vs) = managed.fields.remove(SELF) {
        let set = match managed.fields.get(&id) {
            Some(previous) => vs.set.union(&previous.set),
            None => vs.set,
        };
        managed.fields.insert(
            id.clone(),
            VersionedSet {
                set,
                api_version: vs.api_version,
                applied: false,
            },
        );
        let time = if scope.timestamps {
            Some(now.to_string())
        } else {
            managed.times.get(&id).cloned().flatten()
        };
        managed.times.insert(id, time);
    }
    cap_update_managers(&mut managed);
    Ok(managed)
}

/// Keeps at most [`MAX_UPDATE_MANAGERS`] update managers: the oldest merge into one
/// `ancient-changes` entry per API version.
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<String> = managed
        .fields
        .iter()
        .filter(|(_, vs)| !vs.applied)
        .map(|(k, _)| k.clone())
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| {
        let ta = seconds(managed.times.get(a).unwrap_or(&None));
        let tb = seconds(managed.times.get(b).unwrap_or(&None));
        ta.cmp(&tb).then_with(|| a.cmp(b))
    });
    let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
    let mut length = updaters.len();
    for manager in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(vs) = managed.fields.get(&manager).cloned() else {
            continue;
        };
        let time = managed.times.get(&manager).cloned().flatten();
        let bucket = ManagerId {
            manager: "ancient-changes".into(),
            operation: "Update".into(),
            api_version: vs.api_version.clone(),
            subresource: String::new(),
        }
        .key();
        match first_of_version.get(&vs.api_version) {
            Some(first) => {
                if !managed.fields.contains_key(&bucket) {
                    if let Some(s) = managed.fields.remove(first) {
                        managed.fields.insert(bucket.clone(), s);
                    }
                }
                let merged = vs.set.union(
                    &managed
                        .fields
                        .get(&bucket)
                        .map(|b| b.set.clone())
                        .unwrap_or_default(),
                );
                managed.fields.insert(
                    bucket.clone(),
                    VersionedSet {
                        set: merged,
                        api_version: vs.api_version.clone(),
                        applied: false,
                    },
                );
                managed.fields.remove(&manager);
                managed.times.remove(&manager);
                managed.times.insert(bucket, time);
                length -= 1;
            }
            None => {
                first_of_version.insert(vs.api_version.clone(), manager);
            }
        }
    }
}

/// A server-side apply of `config` by `manager` onto `live` (`None`: the object does not exist
/// yet). Returns the object to store, with its managed fields; it is not defaulted (the caller
/// defaults it, as upstream does after the merge). Conflicts are a 409 with one cause per field.
pub fn apply(
    scope: &Scope,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApiError> {
    let empty = json!({});
    let live_obj = live.unwrap_or(&empty);
    let managed = decode(managed_fields_of(live_obj))
        .map_err(|e| ApiError::internal(format!("failed to decode managed fields: {e}")))?;
    // The applied object must be of the endpoint's type.
    let (av, kind) = (
        config["apiVersion"].as_str().unwrap_or_default(),
        config["kind"].as_str().unwrap_or_default(),
    );
    if av != scope.api_version || kind != scope.kind {
        let (group, version) = match av.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", av),
        };
        return Err(ApiError::bad_request(format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    if managed_fields_of(config).is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let mut live_clean = live_obj.clone();
    remove_managed_fields(&mut live_clean);

    let result = match apply_inner(
        scope,
        &live_clean,
        config,
        managed.clone(),
        manager,
        force,
        now,
    ) {
        Err(UpdateError::Conflicts(conflicts)) if manager == "kubectl" => {
            // Taking over from client-side apply: conflicts on fields the last applied
            // configuration set, to the values it set, are not conflicts.
            match allowed_from_last_applied(scope, &live_clean) {
                Some(allowed) => {
                    let remaining: Vec<Conflict> = conflicts
                        .into_iter()
                        .filter(|c| !allowed.has(&c.path))
                        .collect();
                    if remaining.is_empty() {
                        apply_inner(scope, &live_clean, config, managed, manager, true, now)
                    } else {
                        Err(UpdateError::Conflicts(remaining))
                    }
                }
                None => Err(UpdateError::Conflicts(conflicts)),
            }
        }
        other => other,
    };
    let (mut obj, managed) = match result {
        Ok(r) => r,
        Err(UpdateError::Conflicts(c)) => return Err(conflict_error(&c)),
        Err(UpdateError::Invalid(errs)) => {
            return Err(ApiError::internal(format!(
                "failed to create typed patch object ({}; {}, Kind={}): {}",
                object_name(config),
                scope.api_version,
                scope.kind,
                errs.join("\n")
            )))
        }
    };
    // Keep client-side apply's annotation in step with what the server-side applier applies.
    if manager == "kubectl" {
        let has = obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        if has {
            obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] =
                Value::String(build_last_applied(config));
        }
    }
    set_managed_fields(&mut obj, &managed);
    Ok(obj)
}

fn object_name(obj: &Value) -> String {
    let m = &obj["metadata"];
    format!(
        "{}/{}",
        m["namespace"].as_str().unwrap_or_default(),
        m["name"].as_str().unwrap_or_default()
    )
}

/// Before-first-apply, identifier, time, strip — then the updater.
fn apply_inner(
    scope: &Scope,
    live: &Value,
    config: &Value,
    mut managed: Managed,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<(Value, Managed), UpdateError> {
    if managed.fields.is_empty() {
        // An object created before anyone tracked it: its fields go to "before-first-apply".
        managed = update_inner(scope, &json!({}), live, managed, "before-first-apply", now)?;
    }
    let id = scope.id(manager, "Apply");
    let filter = scope.filter(&[live, config]);
    let updater = Updater {
        ty: scope.ty(),
        filter: &filter,
    };
    let new = updater.apply_op(
        live,
        config,
        &scope.api_version,
        &mut managed.fields,
        &id,
        force,
    )?;
    strip_meta(&mut managed, &id);
    let obj = match new {
        Some(obj) => {
            managed
                .times
                .insert(id, scope.timestamps.then(|| now.to_string()));
            obj
        }
        None => live.clone(),
    };
    managed.times.retain(|k, _| managed.fields.contains_key(k));
    Ok((obj, managed))
}

/// The fields of the last-applied-configuration annotation whose values are still the live
/// object's, or `None` without a usable annotation.
fn allowed_from_last_applied(scope: &Scope, live: &Value) -> Option<Set> {
    let text = live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION].as_str()?;
    if text.is_empty() {
        return None;
    }
    let last: Value = serde_json::from_str(text).ok()?;
    if last["apiVersion"].as_str() != Some(scope.api_version.as_str()) {
        return None;
    }
    let ty = scope.ty();
    let set = typed::to_field_set(&last, &ty).ok()?;
    let c = typed::compare(&last, &typed::normalize(live, &ty), &ty).ok()?;
    Some(
        set.difference(&c.modified)
            .difference(&c.added)
            .difference(&c.removed),
    )
}

/// The applied configuration as client-side apply records it: compact JSON with sorted keys,
/// without the annotation itself.
fn build_last_applied(config: &Value) -> String {
    let mut c = config.clone();
    if let Some(a) = c
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.remove(LAST_APPLIED_ANNOTATION);
    }
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    format!("{}\n", sorted(&c))
}

/// The 409 of an apply that conflicts, as upstream words it.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let describe = |m: &str| ManagerId::parse(m).describe();
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|c| Cause {
            reason: "FieldManagerConflict",
            message: format!("conflict with {}", describe(&c.manager)),
            field: c.path.to_string(),
        })
        .collect();
    let message = if conflicts.len() == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            describe(&conflicts[0].manager),
            conflicts[0].path
        )
    } else {
        let mut by_manager: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
        for c in conflicts {
            by_manager.entry(&c.manager).or_default().push(&c.path);
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {}:", describe(m)));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError {
        code: 409,
        reason: "Conflict",
        message,
        name: None,
        group: None,
        kind: None,
        causes,
        retry_after: None,
    }
}

/// The manager of a write: the `fieldManager` parameter, or else what precedes the first `/`
/// of the User-Agent (`kubectl`), printable characters only, at most 128 bytes.
pub fn manager_or_user_agent(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let prefix = user_agent
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}
