//! Field management of every write and server-side apply, on top of `kindling_api::managed`
//! (upstream's structured-merge-diff and managedfields): creates, updates and non-apply patches
//! record an `Update` entry for their manager in `metadata.managedFields`; apply patches merge the
//! applied configuration with ownership, conflicts and removal of fields no longer applied.

use crate::registry::UpdateKind;
use kindling_api::catalog::Subresource;
use kindling_api::managed::{self, Path, Reset, Scope};
use kindling_api::{patch, ApiError, ResourceType};
use serde_json::Value;

/// The subresource a write through `kind` goes to, as managed fields entries name it.
pub fn subresource_of(kind: UpdateKind) -> Option<&'static str> {
    match kind {
        UpdateKind::Main => None,
        UpdateKind::Status => Some("status"),
        UpdateKind::Everything => None,
        UpdateKind::Subresource(sub) => Some(sub.path()),
    }
}

fn scope(rt: &ResourceType, kind: UpdateKind, subresource: Option<&str>) -> Scope {
    let mut s = Scope::new(&rt.schema_name(), &rt.api_version(), &rt.kind);
    if let kindling_api::catalog::TypeInfo::Custom { ssa_schema, .. } = &rt.type_info {
        // A custom resource's list and map types come from its definition's schema.
        s.custom_schema = Some(ssa_schema);
    }
    s.subresource = subresource.map(str::to_string);
    // What the strategy resets is nobody's: status on the main resource, the rest on /status.
    s.reset = match kind {
        // The approval writes status conditions: they are its manager's.
        UpdateKind::Subresource(Subresource::Approval) => Reset::None,
        UpdateKind::Main | UpdateKind::Subresource(_) if rt.has(Subresource::Status) => {
            Reset::Status
        }
        UpdateKind::Status => Reset::AllButStatus,
        _ => Reset::None,
    };
    s
}

/// Records a create by `manager` on `obj` (before the registry creates it).
pub fn track_create(rt: &ResourceType, obj: &mut Value, manager: &str) {
    track_update(rt, UpdateKind::Main, None, None, obj, manager);
}

/// Records an update or non-apply patch by `manager`: `new` is the object to store, `live` the
/// stored one (`None` on create). Defaults `new` first, as upstream records defaulted objects.
pub fn track_update(
    rt: &ResourceType,
    kind: UpdateKind,
    subresource: Option<&str>,
    live: Option<&Value>,
    new: &mut Value,
    manager: &str,
) {
    if kind != UpdateKind::Status {
        rt.strategy.default(new);
    }
    let s = scope(rt, kind, subresource);
    managed::update(&s, live, new, manager, &managed::now());
}

/// Records a write of `/scale`: the manager takes `spec.replicas` (entries without time, as
/// upstream's scale subresource writes them).
pub fn track_scale(rt: &ResourceType, live: &Value, new: &mut Value, manager: &str) {
    let mut s = scope(rt, UpdateKind::Main, Some("scale"));
    s.reset = Reset::AllBut(vec![Path::fields(&["spec", "replicas"])]);
    s.timestamps = false;
    managed::update(&s, Some(live), new, manager, &managed::now());
}

/// A server-side apply of the YAML or JSON `body` onto `current` (`None`: the object is created).
/// The result is not defaulted yet (the registry defaults it).
pub fn server_side_apply(
    rt: &ResourceType,
    kind: UpdateKind,
    current: Option<&Value>,
    body: &[u8],
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let applied = patch::yaml_or_json_to_value(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    let s = scope(rt, kind, subresource_of(kind));
    managed::apply(&s, current, &applied, manager, force, &managed::now())
}
