//! Container lifecycle hooks (postStart, preStop), as the kubelet's handler runner runs them:
//! `exec` through CRI ExecSync in the container, `httpGet` from the node to the pod's IP (any
//! answer counts, only a failed request fails the hook), `sleep` on the node. The failure
//! messages are upstream's, since `kubectl describe` shows them in FailedPostStartHook and
//! FailedPreStopHook events.

use super::probes;
use super::spec;
use crate::runtime::Runtime;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use kindling_api::meta::go_quote;
use std::time::Duration;

/// Where a hook runs.
pub struct HookTarget<'a> {
    pub runtime: &'a dyn Runtime,
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub container_id: &'a str,
    /// The pod's IP (the node's for host-network pods): the default host of `httpGet`.
    pub pod_ip: &'a str,
}

/// Upstream's `format.Pod`: `name_namespace(uid)`.
fn pod_ref(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        spec::name(pod),
        spec::namespace(pod),
        spec::uid(pod)
    )
}

/// Runs `handler` within `timeout`: Ok, or the message of the failure.
pub async fn run(
    t: &HookTarget<'_>,
    handler: &LifecycleHandler,
    timeout: Duration,
) -> Result<(), String> {
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        let failed = |error: String, output: &str| {
            format!(
                "Exec lifecycle hook ([{}]) for Container {} in Pod {} failed - error: {error}, message: {}",
                command.join(" "),
                go_quote(&t.container.name),
                go_quote(&pod_ref(t.pod)),
                go_quote(output)
            )
        };
        let call = t.runtime.exec_sync(
            t.container_id,
            command.clone(),
            timeout.as_secs().max(1) as i64,
        );
        let response = match tokio::time::timeout(timeout + Duration::from_secs(2), call).await {
            Err(_) => {
                return Err(failed(
                    format!(
                        "command '{}' timed out after {}",
                        command.join(" "),
                        super::backoff::go_duration(timeout)
                    ),
                    "",
                ))
            }
            Ok(Err(e)) => return Err(failed(e.message().to_string(), "")),
            Ok(Ok(r)) => r,
        };
        if response.exit_code == 0 {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&response.stderr).into_owned();
        let mut output = String::from_utf8_lossy(&response.stdout).into_owned();
        output.push_str(&stderr);
        return Err(failed(
            format!(
                "command '{}' exited with {}: {stderr}",
                command.join(" "),
                response.exit_code
            ),
            &output,
        ));
    }
    if let Some(http) = &handler.http_get {
        let path = http.path.clone().unwrap_or_default();
        let failed = |error: String| {
            format!(
                "HTTP lifecycle hook ({path}) for Container {} in Pod {} failed - error: {error}",
                go_quote(&t.container.name),
                go_quote(&pod_ref(t.pod))
            )
        };
        let host = http
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| t.pod_ip.to_string());
        let port = probes::port_of(&http.port, t.container).map_err(failed)?;
        let request_path = if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let target = probes::HttpTarget {
            https: http.scheme.as_deref() == Some("HTTPS"),
            host: &host,
            port,
            path: &request_path,
        };
        probes::http_get(&target, http.http_headers.as_deref(), timeout)
            .await
            .map_err(failed)?;
        return Ok(());
    }
    if let Some(sleep) = &handler.sleep {
        let wanted = Duration::from_secs(sleep.seconds.max(0) as u64);
        tokio::time::sleep(wanted.min(timeout)).await;
        return Ok(());
    }
    Err(format!(
        "Lifecycle hook for Container {} in Pod {} has no handler",
        go_quote(&t.container.name),
        go_quote(&pod_ref(t.pod))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn http_hooks_fail_only_when_the_request_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap();
                let _ = seen_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                // A server error still counts as a delivered hook, as upstream.
                let _ = s
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                    .await;
            }
        });
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": {"containers": []}}),
        )
        .unwrap();
        let c: Container = serde_json::from_value(json!({"name": "c"})).unwrap();
        let runtime = crate::runtime::CriRuntime::new("/nonexistent.sock").unwrap();
        let t = HookTarget {
            runtime: &runtime,
            pod: &pod,
            container: &c,
            container_id: "x",
            pod_ip: "127.0.0.1",
        };
        let handler: LifecycleHandler =
            serde_json::from_value(json!({"httpGet": {"path": "started", "port": port}})).unwrap();
        assert_eq!(run(&t, &handler, Duration::from_secs(1)).await, Ok(()));
        let request = seen.recv().await.unwrap();
        assert!(
            request.starts_with("GET /started HTTP/1.1\r\n"),
            "{request}"
        );

        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let handler: LifecycleHandler =
            serde_json::from_value(json!({"httpGet": {"path": "/x", "port": free}})).unwrap();
        let err = run(&t, &handler, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(
            err,
            format!("HTTP lifecycle hook (/x) for Container \"c\" in Pod \"p_ns(u1)\" failed - error: Get \"http://127.0.0.1:{free}/x\": dial tcp 127.0.0.1:{free}: connect: connection refused")
        );
    }
}
