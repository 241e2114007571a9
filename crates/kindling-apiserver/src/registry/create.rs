//! Create: check the body against the URL, fill in system fields, default, admit, validate, write.

use super::{
    encode_owned, meta_mut, meta_str, object_key, set_resource_version, store_error, timestamp,
    Registry,
};
use kindling_api::catalog::Subresource;
use kindling_api::user::UserInfo;
use kindling_api::{meta, ApiError, ResourceType};
use kindling_store::StoreError;
use serde_json::Value;
use std::sync::Arc;

/// Options shared by writes.
#[derive(Clone, Debug, Default)]
pub struct WriteContext {
    pub dry_run: bool,
    /// Who asks for the write (upstream's user in the request context); `None` for the
    /// server's own writes.
    pub user: Option<UserInfo>,
}

impl Registry {
    /// Creates `obj` in `ns`; returns it as stored.
    pub async fn create(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        obj: Value,
        ctx: &WriteContext,
    ) -> Result<Value, ApiError> {
        Ok(self.create_served(rt, ns, obj, ctx).await?.0)
    }

    /// [`Registry::create`], with the created object's JSON as clients are sent it when the
    /// resource serves its stored form: the stored bytes with the resourceVersion spliced in,
    /// so a create encodes the object once, for the store and the response alike.
    pub async fn create_served(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        mut obj: Value,
        ctx: &WriteContext,
    ) -> Result<(Value, Option<Vec<u8>>), ApiError> {
        if let Some(why) = rt.strategy.refuse_create() {
            return Err(ApiError::method_not_allowed(why));
        }
        check_type(rt, &mut obj)?;
        place_in_namespace(rt, ns, &mut obj)?;
        resolve_generate_name(&mut obj);
        set_system_fields(rt, &mut obj);
        if rt.has(Subresource::Status) && !rt.strategy.keeps_status_on_create() {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        rt.strategy.default(&mut obj);
        // Admission before validation, as upstream: the namespace must accept the object, then
        // plugins that look at other objects may change it.
        if let Some(ns) = ns.filter(|_| rt.namespaced) {
            self.check_namespace_accepts(rt, ns, &obj).await?;
        }
        crate::admission::admit_create(self, rt, ns, &mut obj).await?;
        rt.strategy.prepare_for_create(&mut obj);
        if let Some(user) = &ctx.user {
            rt.strategy.prepare_for_create_by(&mut obj, user);
        }
        validate(rt, &obj, None)?;
        crate::admission::validate_create(self, rt, ns, &obj, ctx).await?;
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let reservation = self
            .allocate_service(rt, &mut obj, None, ctx.dry_run)
            .await?;
        if ctx.dry_run {
            return Ok((obj, None));
        }
        let key = object_key(rt, ns, &name);
        let (value, shown) = match encode_owned(rt, obj) {
            Ok(v) => v,
            Err(e) => {
                self.settle(rt, reservation, false).await;
                return Err(e);
            }
        };
        let claimed = match self.claim_addresses(&shown, reservation.as_ref()).await {
            Ok(c) => c,
            Err(e) => {
                self.settle(rt, reservation, false).await;
                return Err(e);
            }
        };
        obj = shown;
        let stored = rt.serves_stored_form().then(|| value.clone());
        let result = self.store.create_async(&key, value).await;
        if result.is_err() {
            self.drop_addresses(&claimed).await;
        }
        self.settle(rt, reservation, result.is_ok()).await;
        match result {
            Ok(rev) => {
                set_resource_version(&mut obj, rev);
                let served = stored
                    .and_then(|json| crate::cacher::served::with_resource_version(&json, rev));
                Ok((obj, served))
            }
            Err(e) => Err(match e {
                StoreError::AlreadyExists(_) => {
                    ApiError::already_exists(&rt.group, &rt.qualified_plural(), &name)
                }
                other => store_error(other),
            }),
        }
    }

    /// New objects may only go into a namespace that exists and is not terminating.
    async fn check_namespace_accepts(
        &self,
        rt: &ResourceType,
        ns: &str,
        obj: &Value,
    ) -> Result<(), ApiError> {
        let namespaces = kindling_api::catalog::builtin("", "v1", "namespaces");
        match self.read(namespaces, None, ns).await? {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some((nsobj, _)) if nsobj["status"]["phase"] == "Terminating" => {
                Err(ApiError::forbidden_terminating(
                    &rt.qualified_plural(),
                    meta_str(obj, "name").unwrap_or_default(),
                    ns,
                ))
            }
            Some(_) => Ok(()),
        }
    }
}

/// The body's apiVersion and kind must be the URL's (they default to it when absent).
pub fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON or YAML object",
        ));
    };
    let expected = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(expected));
        }
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )))
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(rt.kind.clone()));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )))
        }
    }
    rt.decode_check(obj)
        .map_err(|e| ApiError::bad_request(format!("{} in body: {e}", rt.kind)))
}

/// Sets `metadata.namespace` from the URL; a different namespace in the body is an error.
pub fn place_in_namespace(
    rt: &ResourceType,
    ns: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let meta = meta_mut(obj);
    if !rt.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(ns) = ns else {
        return Err(ApiError::bad_request(format!(
            "{} must be created in a namespace",
            rt.plural
        )));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        Some(body_ns) if !body_ns.is_empty() && body_ns != ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), Value::String(ns.to_string()));
            Ok(())
        }
    }
}

/// `generateName: web-` → `name: web-x7k2p`, as upstream's SimpleNameGenerator (5 random chars).
fn resolve_generate_name(obj: &mut Value) {
    let meta = meta_mut(obj);
    let has_name = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if has_name {
        return;
    }
    if let Some(prefix) = meta
        .get("generateName")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let id = uuid::Uuid::new_v4();
        let suffix: String = id.as_bytes()[..5]
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        let prefix: String = prefix.chars().take(63 - 5).collect();
        meta.insert("name".into(), Value::String(format!("{prefix}{suffix}")));
    }
}

/// uid, creationTimestamp, generation; clears what only the server sets.
fn set_system_fields(rt: &ResourceType, obj: &mut Value) {
    let meta = meta_mut(obj);
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert(
        "creationTimestamp".into(),
        Value::String(timestamp(jiff::Timestamp::now())),
    );
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    if rt.strategy.tracks_generation() {
        meta.insert("generation".into(), Value::from(1));
    } else {
        meta.remove("generation");
    }
}

/// Metadata and strategy validation; `old` for updates.
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let mut causes = validate_meta(rt, obj);
    match old {
        Some(old) => causes.extend(rt.strategy.validate_whole_update(obj, old)),
        None => {
            causes.extend(rt.strategy.validate(obj));
            causes.extend(rt.strategy.validate_create(obj));
        }
    }
    invalid_if_any(rt, obj, causes)
}

/// The object metadata rules every resource follows.
pub fn validate_meta(rt: &ResourceType, obj: &Value) -> Vec<kindling_api::Cause> {
    meta::validate_object_meta(&obj["metadata"], rt.namespaced, rt.strategy.name_rule())
}

/// 422 Invalid with `causes`, unless there are none.
pub fn invalid_if_any(
    rt: &ResourceType,
    obj: &Value,
    causes: Vec<kindling_api::Cause>,
) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            meta_str(obj, "name").unwrap_or_default(),
            causes,
        ))
    }
}
