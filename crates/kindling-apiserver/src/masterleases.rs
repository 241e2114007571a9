//! The `kubernetes` Service's endpoints when several API servers share a store (upstream's
//! `lease` endpoint reconciler): each server keeps a key `/registry/masterleases/<ip>` saying until when
//! it is alive (renewed every 10 s, good for 15 s, upstream's timings), and writes the Endpoints
//! and EndpointSlice `default/kubernetes` as the sorted addresses of the live keys whenever
//! that set differs from what is written. A stopped server's address leaves within ~15 s, so
//! in-cluster clients of `kubernetes.default` follow the live servers. With one server the set
//! is its own address, as the bootstrap wrote it.
//!
//! [`live`] decides (pure); [`run`] reads and writes.

use crate::registry::Registry;
use kindling_store::KeyValue;
use std::net::SocketAddr;
use std::time::Duration;

/// Under the store's root (`/registry/masterleases/<ip>`, as upstream), where the watch cache
/// sees each renewal.
const PREFIX: &str = "masterleases/";
const TTL: Duration = Duration::from_secs(15);
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// The addresses whose lease (`{"expires": <unix ms>}` at `/registry/masterleases/<ip>`) has not run
/// out at `now_ms`, sorted.
pub fn live(leases: &[KeyValue], now_ms: i64) -> Vec<String> {
    let mut ips: Vec<String> = leases
        .iter()
        .filter(|kv| {
            serde_json::from_slice::<serde_json::Value>(&kv.value)
                .ok()
                .and_then(|v| v["expires"].as_i64())
                .is_some_and(|expires| expires > now_ms)
        })
        .filter_map(|kv| kv.key.rsplit_once('/').map(|(_, ip)| ip.to_string()))
        .collect();
    ips.sort();
    ips
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Renews this server's lease and reconciles the endpoints, every [`RENEW_EVERY`], forever.
pub async fn run(registry: Registry, advertise: SocketAddr) {
    let ip = advertise.ip().to_string();
    let mut written: Option<Vec<String>> = None;
    loop {
        if let Err(e) = reconcile(&registry, &ip, advertise.port(), &mut written).await {
            tracing::warn!("kubernetes endpoints: {e}");
        }
        tokio::time::sleep(RENEW_EVERY).await;
    }
}

async fn reconcile(
    registry: &Registry,
    ip: &str,
    port: u16,
    written: &mut Option<Vec<String>>,
) -> Result<(), String> {
    let ttl_ms = i64::try_from(TTL.as_millis()).unwrap_or(i64::MAX);
    let lease = serde_json::json!({"expires": now_ms().saturating_add(ttl_ms)});
    registry
        .put_raw(&format!("{PREFIX}{ip}"), lease.to_string().into_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let leases = registry.list_raw(PREFIX).await.map_err(|e| e.to_string())?;
    let ips = live(&leases, now_ms());
    if written.as_ref() == Some(&ips) {
        return Ok(());
    }
    for (rt, obj) in crate::bootstrap::kubernetes_endpoints(&ips, port) {
        crate::bootstrap::replace_kubernetes(registry, rt, obj)
            .await
            .map_err(|e| e.message)?;
    }
    tracing::info!("kubernetes endpoints: {ips:?}");
    *written = Some(ips);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(ip: &str, expires: i64) -> KeyValue {
        KeyValue {
            key: format!("/registry/{PREFIX}{ip}"),
            value: format!("{{\"expires\":{expires}}}").into_bytes(),
            create_revision: 1,
            mod_revision: 1,
        }
    }

    #[test]
    fn only_unexpired_leases_count_sorted() {
        let leases = [
            kv("172.18.0.7", 2_000),
            kv("172.18.0.5", 1_500),
            kv("172.18.0.6", 900),
        ];
        assert_eq!(live(&leases, 1_000), ["172.18.0.5", "172.18.0.7"]);
        assert_eq!(live(&leases, 1_500), ["172.18.0.7"]);
        assert!(live(&leases, 5_000).is_empty());
        let garbage = KeyValue {
            value: b"not json".to_vec(),
            ..kv("172.18.0.9", 0)
        };
        assert!(live(&[garbage], 0).is_empty());
    }
}
