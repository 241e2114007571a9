//! The OpenAPI documents, both derived from one source: the definitions `kindling_api::schema`
//! generates from the k8s-openapi types, and the operations of every catalog entry listed here
//! as data ([`operations`]). [`v3`] renders them as `/openapi/v3` (an index and one OpenAPI 3.0
//! document per group-version), [`v2`] as `/openapi/v2` (one Swagger 2.0 document, also as
//! gnostic's protobuf message, [`gnostic`]). kubectl reads them for `explain`, for client-side
//! validation (`kind: List` files and create-only kinds go to v2) and for client-side apply's
//! patch metadata.

mod gnostic;
pub mod v2;
pub mod v3;

use kindling_api::catalog::{Catalog, ResourceType, Serving};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

pub use v3::serve as serve_v3;

/// `{group, version, kind}` of every catalog entry whose definition is `definition` (upstream's
/// `x-kubernetes-group-version-kind`), or `None` if it is no kind's.
fn group_version_kinds(catalog: &Catalog, definition: &str) -> Option<Vec<Value>> {
    let gvks: Vec<Value> = catalog
        .iter()
        .filter(|r| r.schema_name() == definition)
        .map(|r| json!({"group": r.group, "version": r.version, "kind": r.kind}))
        .collect();
    (!gvks.is_empty()).then_some(gvks)
}

/// A document made from one catalog, kept until the served resources change (a
/// CustomResourceDefinition is established or removed).
pub struct PerCatalog<T> {
    slot: Mutex<Option<(Arc<Catalog>, Arc<T>)>>,
}

impl<T> PerCatalog<T> {
    pub const fn new() -> PerCatalog<T> {
        PerCatalog {
            slot: Mutex::new(None),
        }
    }

    /// The value for `catalog`, made by `make` unless the one kept was made from the same
    /// entries.
    pub fn get(&self, catalog: &Arc<Catalog>, make: impl FnOnce(&Catalog) -> T) -> Arc<T> {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_from, value)) = slot.as_ref() {
            if made_from.same_entries(catalog) {
                return value.clone();
            }
        }
        let value = Arc::new(make(catalog));
        *slot = Some((catalog.clone(), value.clone()));
        value
    }
}

/// `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` on the fields that have them,
/// so that kubectl's client-side apply computes the same patches as against upstream.
fn add_patch_metadata(name: &str, schema: &mut Value) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, prop) in props.iter_mut() {
        let Some(meta) = kindling_api::patch::patch_meta(name, field) else {
            continue;
        };
        if let Some(target) = prop.as_object_mut() {
            target.insert("x-kubernetes-patch-strategy".into(), json!(meta.strategy));
            if !meta.merge_key.is_empty() {
                target.insert("x-kubernetes-patch-merge-key".into(), json!(meta.merge_key));
            }
        }
    }
}

/// Where a parameter goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum In {
    Path,
    Query,
}

/// A string parameter of an operation or a path.
#[derive(Clone, Copy, Debug)]
struct Param {
    name: &'static str,
    location: In,
    description: &'static str,
}

const NAME: Param = Param {
    name: "name",
    location: In::Path,
    description: "name of the object",
};
const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    description: "object name and auth scope, such as for teams and projects",
};
const DRY_RUN: Param = Param {
    name: "dryRun",
    location: In::Query,
    description: "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
};
const FIELD_MANAGER: Param = Param {
    name: "fieldManager",
    location: In::Query,
    description: "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
};
const FIELD_VALIDATION: Param = Param {
    name: "fieldValidation",
    location: In::Query,
    description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
};
const FORCE: Param = Param {
    name: "force",
    location: In::Query,
    description: "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
};
const WRITE_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];

/// What an operation takes as its body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Body {
    None,
    /// The kind itself (create, replace).
    Object,
    /// A patch in one of the four patch media types.
    Patch,
}

/// One operation of a resource, as upstream's installer registers it.
#[derive(Debug)]
struct Operation {
    /// `get`, `put`, `post`, `delete`, `patch`.
    method: &'static str,
    /// `x-kubernetes-action`: `list`, `get`, `post`, `put`, `patch`, `delete`, `deletecollection`.
    action: &'static str,
    /// upstream's operation id, e.g. `createCoreV1NamespacedPod`.
    id: String,
    description: String,
    params: &'static [Param],
    body: Body,
}

/// The operations under one URL path, and the path's own parameters.
#[derive(Debug)]
struct PathOps {
    path: String,
    params: Vec<Param>,
    operations: Vec<Operation>,
}

/// The group as upstream writes it in operation ids and tags: `core`, `apps`,
/// `rbacAuthorization` for rbac.authorization.k8s.io.
fn friendly_group(group: &str) -> String {
    if group.is_empty() {
        return "core".into();
    }
    let trimmed = group.trim_end_matches(".k8s.io");
    let mut out = String::new();
    for (i, part) in trimmed.split(['.', '-']).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            out.push_str(&capitalize(part));
        }
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// upstream's tag of a group-version: `core_v1`, `apps_v1`.
fn tag(r: &ResourceType) -> String {
    format!("{}_{}", friendly_group(&r.group), r.version)
}

/// The operations of a catalog entry, by path, as upstream serves them: a stored resource has
/// list/create/deletecollection on its collection and get/replace/patch/delete on an item; a
/// computed one only reads; a create-only one (a review, bindings) only creates.
fn operations(r: &ResourceType) -> Vec<PathOps> {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let collection = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let item = format!("{collection}/{{name}}");
    let scope_params: Vec<Param> = if r.namespaced {
        vec![NAMESPACE]
    } else {
        vec![]
    };
    let mut item_params = vec![NAME];
    item_params.extend(scope_params.iter().copied());
    let id = |verb: &str| {
        format!(
            "{verb}{}{}{}{}",
            capitalize(&friendly_group(&r.group)),
            capitalize(&r.version),
            if r.namespaced { "Namespaced" } else { "" },
            r.kind
        )
    };
    let kind = &r.kind;
    let op = |method, action, verb: &str, description: String, params, body| Operation {
        method,
        action,
        id: id(verb),
        description,
        params,
        body,
    };
    let list = || {
        let description = format!("list or watch objects of kind {kind}");
        op("get", "list", "list", description, &[][..], Body::None)
    };
    let read = || {
        let description = format!("read the specified {kind}");
        op("get", "get", "read", description, &[][..], Body::None)
    };
    let create = || {
        let description = format!("create a {kind}");
        op(
            "post",
            "post",
            "create",
            description,
            WRITE_PARAMS,
            Body::Object,
        )
    };
    if matches!(r.serving, Serving::Computed(..)) {
        return vec![
            PathOps {
                path: collection,
                params: scope_params,
                operations: vec![list()],
            },
            PathOps {
                path: item,
                params: item_params,
                operations: vec![read()],
            },
        ];
    }
    if !r.is_stored() {
        return vec![PathOps {
            path: collection,
            params: scope_params,
            operations: vec![create()],
        }];
    }
    vec![
        PathOps {
            path: collection,
            params: scope_params,
            operations: vec![
                list(),
                create(),
                op(
                    "delete",
                    "deletecollection",
                    "deleteCollection",
                    format!("delete collection of {kind}"),
                    &[DRY_RUN][..],
                    Body::None,
                ),
            ],
        },
        PathOps {
            path: item,
            params: item_params,
            operations: vec![
                read(),
                op(
                    "put",
                    "put",
                    "replace",
                    format!("replace the specified {kind}"),
                    WRITE_PARAMS,
                    Body::Object,
                ),
                op(
                    "patch",
                    "patch",
                    "patch",
                    format!("partially update the specified {kind}"),
                    PATCH_PARAMS,
                    Body::Patch,
                ),
                op(
                    "delete",
                    "delete",
                    "delete",
                    format!("delete a {kind}"),
                    &[DRY_RUN][..],
                    Body::None,
                ),
            ],
        },
    ]
}

/// The media types a patch body may have, in upstream's order.
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// The patch media types `r` takes (a custom resource takes no strategic merge patch: kubectl
/// reads this to choose the patch its client-side apply sends).
fn patch_types(r: &ResourceType) -> Vec<&'static str> {
    let accepted: Vec<&str> = r.patch_types().iter().map(|p| p.content_type()).collect();
    PATCH_TYPES
        .iter()
        .copied()
        .filter(|t| accepted.contains(t))
        .collect()
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The definition of a custom resource's kind, as upstream publishes it from the CRD's schema:
/// `apiVersion`, `kind` and `metadata` (a reference to ObjectMeta) added to its properties.
/// `ref_prefix` is where references point (`#/components/schemas/` or `#/definitions/`).
fn custom_definition(r: &ResourceType, ref_prefix: &str) -> Option<(String, Value)> {
    let kindling_api::catalog::TypeInfo::Custom {
        schema_name,
        schema,
        ..
    } = &r.type_info
    else {
        return None;
    };
    let mut out = schema.as_ref().clone();
    if !out.is_object() {
        out = json!({"type": "object"});
    }
    let props = out
        .as_object_mut()
        .map(|o| o.entry("properties").or_insert_with(|| json!({})));
    if let Some(props) = props.and_then(Value::as_object_mut) {
        props.insert("apiVersion".into(), json!({"description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"}));
        props.insert("kind".into(), json!({"description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"}));
        props.insert("metadata".into(), json!({"allOf": [{"$ref": format!("{ref_prefix}{OBJECT_META}")}], "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
    }
    out["x-kubernetes-group-version-kind"] =
        json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
    Some((schema_name.clone(), out))
}

/// The extensions upstream puts on every resource operation.
fn operation_extensions(r: &ResourceType, op: &Operation) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("x-kubernetes-action".into(), json!(op.action));
    m.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({"group": r.group, "version": r.version, "kind": r.kind}),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_groups_as_upstream() {
        assert_eq!(friendly_group(""), "core");
        assert_eq!(friendly_group("apps"), "apps");
        assert_eq!(
            friendly_group("rbac.authorization.k8s.io"),
            "rbacAuthorization"
        );
        assert_eq!(
            friendly_group("flowcontrol.apiserver.k8s.io"),
            "flowcontrolApiserver"
        );
    }

    #[test]
    fn operation_ids_as_upstream() {
        let pods = kindling_api::catalog::builtin("", "v1", "pods");
        let ops = operations(pods);
        let ids: Vec<&str> = ops
            .iter()
            .flat_map(|p| p.operations.iter().map(|o| o.id.as_str()))
            .collect();
        assert!(ids.contains(&"createCoreV1NamespacedPod"), "{ids:?}");
        assert!(ids.contains(&"patchCoreV1NamespacedPod"), "{ids:?}");
        let deployments = kindling_api::catalog::builtin("apps", "v1", "deployments");
        assert_eq!(
            operations(deployments)[0].operations[0].id,
            "listAppsV1NamespacedDeployment"
        );
    }
}
