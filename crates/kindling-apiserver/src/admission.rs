//! The admission chain: the plugins this server runs, as data — upstream's names in upstream's
//! order, chosen by `--enable-admission-plugins` / `--disable-admission-plugins`
//! (`kindling_api::admission`) — and the three points the registry calls it at, each running
//! every enabled plugin that acts there, in order:
//!
//! - [`admit_create`]: mutating admission of a new object, before its validation;
//! - [`validate_create`]: validating admission, after validation, just before the store write;
//! - [`validate_update`]: validating admission of an update.
//!
//! What each plugin decides lives in its own module (`admission_serviceaccount`,
//! `admission_limits`, `admission_storage`, `admission_ingress`, `admission_quota`,
//! `admission_noderestriction`) or, when it needs no other
//! objects, in `kindling_api::admission`. NamespaceLifecycle is the registry's (objects go only
//! into namespaces that exist and are not terminating; default, kube-system and kube-public stay)
//! and always on.

use crate::registry::{Registry, WriteContext};
use kindling_api::admission::{self as names, AdmissionFlags};
use kindling_api::catalog::Admission;
use kindling_api::{ApiError, ResourceType};
use serde_json::Value;
use std::sync::Arc;

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The plugins kindling carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    LimitRanger,
    ServiceAccount,
    NodeRestriction,
    Priority,
    DefaultTolerationSeconds,
    DefaultStorageClass,
    StorageObjectInUseProtection,
    PersistentVolumeClaimResize,
    DefaultIngressClass,
    ResourceQuota,
}

impl Plugin {
    const ALL: [Plugin; 10] = [
        Plugin::LimitRanger,
        Plugin::ServiceAccount,
        Plugin::NodeRestriction,
        Plugin::Priority,
        Plugin::DefaultTolerationSeconds,
        Plugin::DefaultStorageClass,
        Plugin::StorageObjectInUseProtection,
        Plugin::PersistentVolumeClaimResize,
        Plugin::DefaultIngressClass,
        Plugin::ResourceQuota,
    ];

    /// Upstream's name.
    pub fn name(self) -> &'static str {
        match self {
            Plugin::LimitRanger => "LimitRanger",
            Plugin::ServiceAccount => "ServiceAccount",
            Plugin::NodeRestriction => "NodeRestriction",
            Plugin::Priority => "Priority",
            Plugin::DefaultTolerationSeconds => "DefaultTolerationSeconds",
            Plugin::DefaultStorageClass => "DefaultStorageClass",
            Plugin::StorageObjectInUseProtection => "StorageObjectInUseProtection",
            Plugin::PersistentVolumeClaimResize => "PersistentVolumeClaimResize",
            Plugin::DefaultIngressClass => "DefaultIngressClass",
            Plugin::ResourceQuota => "ResourceQuota",
        }
    }

    fn named(name: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The enabled plugins kindling carries out, in upstream's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    plugins: Vec<Plugin>,
    /// Enabled plugins kindling does not carry out (besides NamespaceLifecycle, always on).
    pub not_carried_out: Vec<&'static str>,
}

impl Default for Chain {
    /// Upstream's default-on plugins.
    fn default() -> Chain {
        Chain::from_names(&AdmissionFlags::default().enabled())
    }
}

impl Chain {
    /// The chain the flags ask for, or upstream's error (the server refuses to start).
    pub fn new(flags: &AdmissionFlags) -> Result<Chain, String> {
        let errors = flags.errors();
        if !errors.is_empty() {
            return Err(names::aggregate(&errors));
        }
        Ok(Chain::from_names(&flags.enabled()))
    }

    fn from_names(enabled: &[&'static str]) -> Chain {
        let mut plugins = Vec::new();
        let mut not_carried_out = Vec::new();
        for name in enabled {
            match Plugin::named(name) {
                Some(p) => plugins.push(p),
                None if *name == "NamespaceLifecycle" => {}
                None => not_carried_out.push(*name),
            }
        }
        Chain {
            plugins,
            not_carried_out,
        }
    }

    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// Whether `plugin` is on.
    pub fn enabled(&self, plugin: Plugin) -> bool {
        self.plugins.contains(&plugin)
    }
}

/// Whether `rt`'s catalog entry names `plugins` among the admission plugins that handle it.
/// The class a defaulting plugin assigns (DefaultStorageClass, DefaultIngressClass): among the
/// classes whose annotations `is_default` accepts, the newest; equal timestamps, the first by name.
pub(crate) fn newest_default_class(
    classes: &[Value],
    is_default: impl Fn(&Value) -> bool,
) -> Option<String> {
    let field = |c: &Value, name: &str| c["metadata"][name].as_str().unwrap_or("").to_string();
    classes
        .iter()
        .filter(|c| is_default(&c["metadata"]["annotations"]))
        .min_by(|a, b| {
            let newer_first = field(b, "creationTimestamp").cmp(&field(a, "creationTimestamp"));
            newer_first.then_with(|| field(a, "name").cmp(&field(b, "name")))
        })
        .and_then(|c| c["metadata"]["name"].as_str())
        .map(str::to_string)
}

fn handled_by(rt: &ResourceType, plugins: Admission) -> bool {
    rt.admission == Some(plugins)
}

fn is_mirror_pod(obj: &Value) -> bool {
    obj["metadata"]["annotations"]
        .get(MIRROR_ANNOTATION)
        .is_some()
}

/// Mutating admission of `obj` (of resource `rt`) created in `ns`.
pub async fn admit_create(
    registry: &Registry,
    rt: &ResourceType,
    ns: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let pod_ns = ns.filter(|_| handled_by(rt, Admission::Pod));
    let claim = handled_by(rt, Admission::PersistentVolumeClaim) && ns.is_some();
    let volume = handled_by(rt, Admission::PersistentVolume);
    let ingress = handled_by(rt, Admission::Ingress);
    for plugin in registry.admission().plugins() {
        match (plugin, pod_ns) {
            (Plugin::LimitRanger, Some(ns)) if !is_mirror_pod(obj) => {
                crate::admission_limits::default_pod(registry, ns, obj).await?;
            }
            (Plugin::ServiceAccount, Some(ns)) => {
                crate::admission_serviceaccount::admit_pod(registry, ns, obj).await?;
            }
            (Plugin::Priority, Some(_)) => names::builtin_priority(&mut obj["spec"]),
            (Plugin::DefaultTolerationSeconds, Some(_)) => {
                names::default_toleration_seconds(&mut obj["spec"]);
            }
            (Plugin::DefaultStorageClass, _) if claim => {
                crate::admission_storage::default_class(registry, obj).await?;
            }
            (Plugin::StorageObjectInUseProtection, _) if claim || volume => {
                crate::admission_storage::protect(obj, volume);
            }
            (Plugin::DefaultIngressClass, _) if ingress => {
                crate::admission_ingress::default_class(registry, obj).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validating admission of a new object, after its validation and just before it is stored:
/// LimitRanges (pods, claims), then ResourceQuota, which charges the quota (unless `dry_run`).
/// Boxed: charging a quota is a write, and a write may create (server-side apply), whose
/// admission comes back here.
pub fn validate_create<'a>(
    registry: &'a Registry,
    rt: &'a Arc<ResourceType>,
    ns: Option<&'a str>,
    obj: &'a Value,
    ctx: &'a WriteContext,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>> {
    Box::pin(validate_create_now(registry, rt, ns, obj, ctx))
}

async fn validate_create_now(
    registry: &Registry,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    obj: &Value,
    ctx: &WriteContext,
) -> Result<(), ApiError> {
    if let Some(user) = &ctx.user {
        crate::authz::escalation::check(registry.authorizer(), user, rt, obj, None)?;
    }
    if registry.admission().enabled(Plugin::NodeRestriction) {
        crate::admission_noderestriction::admit_write(
            registry,
            ctx.user.as_ref(),
            rt,
            obj,
            None,
            false,
        )
        .await?;
    }
    let dry_run = ctx.dry_run;
    let Some(ns) = ns.filter(|_| rt.namespaced) else {
        return Ok(());
    };
    for plugin in registry.admission().plugins() {
        match plugin {
            Plugin::LimitRanger if !is_mirror_pod(obj) => {
                crate::admission_limits::validate(registry, rt, ns, obj).await?;
            }
            Plugin::ResourceQuota => {
                crate::admission_quota::admit_create(registry, rt, ns, obj, dry_run).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validating admission of an update (after its validation): LimitRanges and the resize rule
/// for claims, then ResourceQuota for what the update adds. Boxed, as [`validate_create`].
pub fn validate_update<'a>(
    registry: &'a Registry,
    rt: &'a Arc<ResourceType>,
    ns: Option<&'a str>,
    new: &'a Value,
    old: &'a Value,
    ctx: &'a WriteContext,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>> {
    Box::pin(validate_update_now(registry, rt, ns, new, old, ctx))
}

async fn validate_update_now(
    registry: &Registry,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    new: &Value,
    old: &Value,
    ctx: &WriteContext,
) -> Result<(), ApiError> {
    if let Some(user) = &ctx.user {
        crate::authz::escalation::check(registry.authorizer(), user, rt, new, Some(old))?;
    }
    if registry.admission().enabled(Plugin::NodeRestriction) {
        crate::admission_noderestriction::admit_write(
            registry,
            ctx.user.as_ref(),
            rt,
            new,
            Some(old),
            false,
        )
        .await?;
    }
    let Some(ns) = ns.filter(|_| rt.namespaced) else {
        return Ok(());
    };
    let claim = handled_by(rt, Admission::PersistentVolumeClaim);
    for plugin in registry.admission().plugins() {
        match plugin {
            Plugin::LimitRanger if claim => {
                crate::admission_limits::validate(registry, rt, ns, new).await?;
            }
            Plugin::PersistentVolumeClaimResize if claim => {
                crate::admission_storage::validate_claim_resize(registry, new, old).await?;
            }
            Plugin::ResourceQuota => {
                crate::admission_quota::admit_update(registry, rt, ns, new, old).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Validating admission of a status update: NodeRestriction (the only plugin that looks at
/// status writes).
pub async fn validate_status_update(
    registry: &Registry,
    rt: &ResourceType,
    new: &Value,
    old: &Value,
    ctx: &WriteContext,
) -> Result<(), ApiError> {
    if !registry.admission().enabled(Plugin::NodeRestriction) {
        return Ok(());
    }
    crate::admission_noderestriction::admit_write(
        registry,
        ctx.user.as_ref(),
        rt,
        new,
        Some(old),
        true,
    )
    .await
}

/// Validating admission of a delete of `name` by `user`: NodeRestriction.
pub async fn validate_delete(
    registry: &Registry,
    user: &kindling_api::user::UserInfo,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    if !registry.admission().enabled(Plugin::NodeRestriction) {
        return Ok(());
    }
    crate::admission_noderestriction::admit_delete(registry, Some(user), rt, ns, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_chain_is_upstreams_default_set_in_order() {
        let chain = Chain::default();
        let default_on: Vec<Plugin> = Plugin::ALL
            .into_iter()
            .filter(|p| *p != Plugin::NodeRestriction)
            .collect();
        assert_eq!(chain.plugins(), default_on);
        assert!(chain.not_carried_out.contains(&"PodSecurity"));
        assert!(!chain.not_carried_out.contains(&"NamespaceLifecycle"));
    }

    /// What kindling_api says is carried out is what this chain does.
    #[test]
    fn the_carried_out_list_is_this_chain() {
        let mut ours: Vec<&str> = Plugin::ALL.iter().map(|p| p.name()).collect();
        ours.push("NamespaceLifecycle");
        ours.sort_unstable();
        let mut listed = names::CARRIED_OUT.to_vec();
        listed.sort_unstable();
        assert_eq!(ours, listed);
    }

    #[test]
    fn flags_choose_the_plugins() {
        let flags = AdmissionFlags::parse(Some("AlwaysPullImages"), Some("ServiceAccount"));
        let chain = Chain::new(&flags).unwrap();
        assert!(!chain.plugins().contains(&Plugin::ServiceAccount));
        assert!(chain.plugins().contains(&Plugin::LimitRanger));
        assert!(chain.not_carried_out.contains(&"AlwaysPullImages"));
        let bad = AdmissionFlags::parse(Some("NoSuchPlugin"), None);
        assert_eq!(
            Chain::new(&bad),
            Err("enable-admission-plugins plugin \"NoSuchPlugin\" is unknown".into())
        );
    }
}
