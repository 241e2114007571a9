//! The Gateway API (gateway.networking.k8s.io, standard channel), served by the same proxy as
//! Ingresses: HTTP listeners on the proxy's port 80, HTTPS listeners on its port 443.
//!
//! [`types`] are the objects as read; [`crds`] the CustomResourceDefinitions `kindling create
//! cluster` installs; [`plan`] decides (no IO) what is served and what every status says;
//! [`table`] is the routing decision per request (no IO); [`status`] writes the statuses.

pub mod crds;
pub mod plan;
pub mod status;
pub mod table;
pub mod types;

/// The GatewayClass kindling creates at start-up.
pub const CLASS: &str = "kindling";
/// The `controllerName` of GatewayClasses kindling serves: a domain-prefixed path, as the spec
/// requires, in the same `kindling.dev/…` form as the IngressClass's controller.
pub const CONTROLLER_NAME: &str = "kindling.dev/gateway-controller";
/// The Gateway API release whose standard-channel resources and semantics kindling follows.
pub const BUNDLE_VERSION: &str = "v1.3.0";

/// The GatewayClass `kindling` (made by `kindling create cluster`, with the CRDs).
pub fn default_class() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": format!("{}/v1", types::GROUP), "kind": "GatewayClass",
        "metadata": {"name": CLASS},
        "spec": {
            "controllerName": CONTROLLER_NAME,
            "description": "kindling's built-in gateway (the ingress proxy)",
        },
    })
}
