//! Resources whose objects are computed on each read, never stored.

use serde_json::{json, Value};

/// `componentstatuses` (core/v1, deprecated upstream since v1.19 but still served): the health of
/// the control plane's parts. In kindling the scheduler, the controllers and the store run inside
/// the API server's process (or next to it on the same node), so a server that answers is one
/// whose parts are up: each is `Healthy` with upstream's `ok` message.
pub fn component_statuses() -> Vec<Value> {
    ["controller-manager", "etcd-0", "scheduler"]
        .iter()
        .map(|name| {
            json!({
                "kind": "ComponentStatus",
                "apiVersion": "v1",
                "metadata": {"name": name},
                "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
            })
        })
        .collect()
}
