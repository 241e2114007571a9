//! The default pod network's CNI config (kindnet-like: ptp + host-local + portmap), written once
//! the node knows its podCIDR. Routes between nodes come with the pod network itself.

use anyhow::Result;
use serde_json::json;
use std::path::Path;

pub const CONF_DIR: &str = "/etc/cni/net.d";
const CONF_FILE: &str = "10-kindling.conflist";

/// Whether any CNI config exists (ours or one a user installed, e.g. Calico).
pub fn config_present() -> bool {
    std::fs::read_dir(CONF_DIR).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".conflist") || name.ends_with(".conf")
        })
    })
}

/// Writes our conflist for `pod_cidr` unless it is already there with the same content.
pub fn ensure_config(pod_cidr: &str) -> Result<()> {
    let conf = json!({
        "cniVersion": "0.4.0",
        "name": "kindling",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "dataDir": "/run/cni-ipam-state",
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "ranges": [[{"subnet": pod_cidr}]],
                },
                "mtu": 1500,
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    });
    let text = serde_json::to_string_pretty(&conf)?;
    let path = Path::new(CONF_DIR).join(CONF_FILE);
    if std::fs::read_to_string(&path).is_ok_and(|existing| existing == text) {
        return Ok(());
    }
    std::fs::create_dir_all(CONF_DIR)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}
