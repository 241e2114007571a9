//! The API priority and fairness configuration controller, as upstream's apiserver runs it:
//! upstream's mandatory and suggested FlowSchemas and PriorityLevelConfigurations exist (a
//! deleted one comes back), and every FlowSchema's `Dangling` condition says whether the
//! priority level it names exists. Passes run on changes of either resource.

use crate::bootstrap;
use crate::registry::{Registry, WatchOptions};
use std::time::Duration;

const RETRY: Duration = Duration::from_secs(2);

pub async fn run(registry: Registry) {
    let schemas =
        kindling_api::catalog::builtin("flowcontrol.apiserver.k8s.io", "v1", "flowschemas");
    let levels = kindling_api::catalog::builtin(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
    );
    loop {
        let watches = tokio::try_join!(
            registry.watch(schemas, None, WatchOptions::default()),
            registry.watch(levels, None, WatchOptions::default()),
        );
        let (mut schema_events, mut level_events) = match watches {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("flow control configuration: watch failed: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        loop {
            let ended = tokio::select! {
                ev = schema_events.recv() => ev.is_none(),
                ev = level_events.recv() => ev.is_none(),
            };
            if ended {
                break; // A watch ended; start both again.
            }
            // Drain what else is queued: one pass handles them all.
            while schema_events.try_recv().is_ok() || level_events.try_recv().is_ok() {}
            if let Err(e) = bootstrap::flow_control(&registry).await {
                tracing::warn!("flow control configuration: {e}");
            }
        }
    }
}
