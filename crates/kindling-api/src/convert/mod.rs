//! Conversions between the versions of a resource that share one storage version, as upstream's
//! conversion functions do them (k8s.io/kubernetes/pkg/apis/<group>/<version>/conversion.go):
//! objects in wire form in, objects in wire form out, no IO.
//!
//! - [`autoscaling`]: autoscaling/v1 HorizontalPodAutoscaler ⇄ autoscaling/v2 (stored).
//! - [`events`]: events.k8s.io/v1 Event ⇄ core/v1 Event (stored).

pub mod autoscaling;
pub mod events;

use crate::catalog::Storage;

/// autoscaling/v1 HorizontalPodAutoscalers, stored as autoscaling/v2.
pub static HPA_V1: Storage = Storage {
    group: "autoscaling",
    version: "v2",
    plural: "horizontalpodautoscalers",
    to_stored: autoscaling::v1_to_v2,
    from_stored: autoscaling::v2_to_v1,
};

/// events.k8s.io/v1 Events, stored as core/v1 Events (one storage for both groups, as upstream).
pub static EVENTS_V1: Storage = Storage {
    group: "",
    version: "v1",
    plural: "events",
    to_stored: events::v1_to_core,
    from_stored: events::core_to_v1,
};
