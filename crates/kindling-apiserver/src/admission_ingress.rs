//! DefaultIngressClass (upstream's admission plugin): an Ingress created without a class —
//! no `spec.ingressClassName` and no `kubernetes.io/ingress.class` annotation — gets the
//! default IngressClass (annotated `ingressclass.kubernetes.io/is-default-class: "true"`; the
//! newest when there are several), so `kubectl get ingress` shows the class that serves it.

use crate::registry::{ListOptions, Registry};
use kindling_api::ApiError;
use serde_json::{json, Value};

const ANN_DEFAULT_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
const ANN_CLASS: &str = "kubernetes.io/ingress.class";

/// Sets the default class on `ingress` when it names none and there is one.
pub async fn default_class(registry: &Registry, ingress: &mut Value) -> Result<(), ApiError> {
    let named = !ingress["spec"]["ingressClassName"].is_null()
        || ingress["metadata"]["annotations"].get(ANN_CLASS).is_some();
    if named {
        return Ok(());
    }
    let classes = kindling_api::catalog::builtin("networking.k8s.io", "v1", "ingressclasses");
    let list = registry
        .list(classes, None, &ListOptions::default())
        .await?;
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(name) = pick_default(items) {
        ingress["spec"]["ingressClassName"] = json!(name);
    }
    Ok(())
}

/// Among the classes annotated default, the newest (equal timestamps: the first by name).
fn pick_default(classes: &[Value]) -> Option<String> {
    crate::admission::newest_default_class(classes, |a| a[ANN_DEFAULT_CLASS] == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_default_class_wins() {
        let class = |name: &str, ts: &str, default: Option<&str>| {
            let mut c = json!({"metadata": {"name": name, "creationTimestamp": ts}});
            if let Some(d) = default {
                c["metadata"]["annotations"] = json!({ANN_DEFAULT_CLASS: d});
            }
            c
        };
        assert_eq!(
            pick_default(&[class("a", "2026-01-01T00:00:00Z", None)]),
            None
        );
        assert_eq!(
            pick_default(&[
                class("kindling", "2026-01-01T00:00:00Z", Some("true")),
                class("newer", "2026-01-02T00:00:00Z", Some("true")),
                class("off", "2026-01-03T00:00:00Z", Some("false")),
            ])
            .as_deref(),
            Some("newer")
        );
    }
}
