//! Liveness, readiness and startup probes of running containers, as the kubelet's prober: exec
//! through CRI ExecSync, httpGet, tcpSocket and gRPC (grpc.health.v1 Health/Check) from the node
//! to the pod's IP. One task per probe and container; results land in shared state and wake the
//! pod's worker when they change. Failure messages are the kubelet's, since `kubectl describe`
//! shows them in Unhealthy events. HTTPS probes do not verify the server's certificate, as the
//! kubelet's do not.

use crate::runtime::Runtime;
use k8s_openapi::api::core::v1::{Container, HTTPHeader, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeState {
    pub ready: bool,
    pub started: bool,
    /// Set when the liveness (or startup) probe gave up: the worker kills the container.
    pub failed: Option<String>,
}

/// The probes of one running container.
pub struct ContainerProbes {
    pub state: Arc<Mutex<ProbeState>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ContainerProbes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// Where probes connect and run.
#[derive(Clone)]
pub struct Target {
    pub runtime: Arc<dyn Runtime>,
    pub container_id: String,
    pub pod_ip: String,
    pub container: Container,
}

/// Called with (probe kind, failure message) when a probe fails, for the Unhealthy event.
pub type OnFailure = Arc<dyn Fn(&str, String) + Send + Sync>;

impl ContainerProbes {
    /// Starts the container's probes; `wake` is notified when the state changes.
    pub fn start(target: Target, wake: Arc<Notify>, on_failure: OnFailure) -> ContainerProbes {
        let c = &target.container;
        let state = Arc::new(Mutex::new(ProbeState {
            ready: c.readiness_probe.is_none(),
            started: c.startup_probe.is_none(),
            failed: None,
        }));
        let mut tasks = Vec::new();
        for (kind, probe) in [
            (Kind::Startup, &c.startup_probe),
            (Kind::Liveness, &c.liveness_probe),
            (Kind::Readiness, &c.readiness_probe),
        ] {
            let Some(probe) = probe.clone() else { continue };
            tasks.push(tokio::spawn(run(
                kind,
                probe,
                target.clone(),
                state.clone(),
                wake.clone(),
                on_failure.clone(),
            )));
        }
        ContainerProbes { state, tasks }
    }

    pub fn snapshot(&self) -> ProbeState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.unwrap_or(default).max(0) as u64)
}

async fn run(
    kind: Kind,
    probe: Probe,
    target: Target,
    state: Arc<Mutex<ProbeState>>,
    wake: Arc<Notify>,
    on_failure: OnFailure,
) {
    let period = secs(probe.period_seconds, 10).max(Duration::from_secs(1));
    let timeout = secs(probe.timeout_seconds, 1).max(Duration::from_secs(1));
    let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
    let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
    tokio::time::sleep(secs(probe.initial_delay_seconds, 0)).await;
    let (mut successes, mut failures) = (0, 0);
    loop {
        let started = state.lock().is_ok_and(|s| s.started);
        if kind != Kind::Startup && !started {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let result = check(&probe, &target, timeout).await;
        let mut changed = false;
        match result {
            Ok(()) => {
                failures = 0;
                successes += 1;
                if successes >= success_threshold {
                    if let Ok(mut s) = state.lock() {
                        match kind {
                            Kind::Readiness if !s.ready => {
                                s.ready = true;
                                changed = true;
                            }
                            Kind::Startup if !s.started => {
                                s.started = true;
                                changed = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
            Err(message) => {
                successes = 0;
                failures += 1;
                on_failure(kind.name(), message.clone());
                if failures >= failure_threshold {
                    if let Ok(mut s) = state.lock() {
                        match kind {
                            Kind::Readiness if s.ready => {
                                s.ready = false;
                                changed = true;
                            }
                            Kind::Liveness | Kind::Startup if s.failed.is_none() => {
                                s.failed = Some(format!(
                                    "Container {} failed {} probe, will be restarted",
                                    target.container.name,
                                    kind.name().to_lowercase()
                                ));
                                changed = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        if changed {
            wake.notify_one();
        }
        let (started_now, failed) = state
            .lock()
            .map_or((false, false), |s| (s.started, s.failed.is_some()));
        if failed || (kind == Kind::Startup && started_now) {
            return;
        }
        tokio::time::sleep(period).await;
    }
}

pub fn port_of(port: &IntOrString, c: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).map_err(|_| format!("invalid port {p}")),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("couldn't find port {name} in container {}", c.name)),
    }
}

/// Runs one probe: Ok on success, the failure's message otherwise.
async fn check(probe: &Probe, t: &Target, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &probe.exec {
        let resp = tokio::time::timeout(
            timeout + Duration::from_secs(2),
            t.runtime.exec_sync(
                &t.container_id,
                exec.command.clone().unwrap_or_default(),
                timeout.as_secs() as i64,
            ),
        )
        .await
        .map_err(|_| format!("command timed out after {}s", timeout.as_secs()))?
        .map_err(|e| e.message().to_string())?;
        if resp.exit_code == 0 {
            return Ok(());
        }
        let mut out = String::from_utf8_lossy(&resp.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&resp.stderr));
        return Err(if out.trim().is_empty() {
            format!(
                "command {:?} exited with {}",
                exec.command.clone().unwrap_or_default(),
                resp.exit_code
            )
        } else {
            out.trim_end().to_string()
        });
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = tcp.host.clone().unwrap_or_else(|| t.pod_ip.clone());
        let port = port_of(&tcp.port, &t.container)?;
        return match tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "dial tcp {host}:{port}: connect: {}",
                go_io_error(&e)
            )),
            Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    if let Some(http) = &probe.http_get {
        let host = http.host.clone().unwrap_or_else(|| t.pod_ip.clone());
        let port = port_of(&http.port, &t.container)?;
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let target = HttpTarget {
            https: http.scheme.as_deref() == Some("HTTPS"),
            host: &host,
            port,
            path: &path,
        };
        let code = http_get(&target, http.http_headers.as_deref(), timeout).await?;
        return if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        };
    }
    if let Some(grpc) = &probe.grpc {
        let port = u16::try_from(grpc.port).map_err(|_| format!("invalid port {}", grpc.port))?;
        let service = grpc.service.clone().unwrap_or_default();
        return grpc_check(&t.pod_ip, port, &service, timeout).await;
    }
    Ok(())
}

/// An OS error as Go prints it (`connection refused`, not `Connection refused (os error 111)`).
fn go_io_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// Where an httpGet probe or hook goes.
pub struct HttpTarget<'a> {
    pub https: bool,
    pub host: &'a str,
    pub port: u16,
    pub path: &'a str,
}

/// An HTTP(S) GET as the kubelet's probes and lifecycle hooks make it (user agent
/// `kube-probe/1.35`, the spec's headers, HTTPS without verifying the certificate): the status
/// code, or the failure as Go's HTTP client words it.
pub async fn http_get(
    target: &HttpTarget<'_>,
    headers: Option<&[HTTPHeader]>,
    timeout: Duration,
) -> Result<u16, String> {
    let HttpTarget {
        https,
        host,
        port,
        path,
    } = *target;
    let scheme = if https { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}{path}");
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| {
                format!(
                    "Get \"{url}\": dial tcp {host}:{port}: connect: {}",
                    go_io_error(&e)
                )
            })?;
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.35\r\nAccept: */*\r\nConnection: close\r\n");
        for h in headers.into_iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        req.push_str("\r\n");
        let head = if https {
            let config = probe_tls().map_err(|e| format!("Get \"{url}\": {e}"))?;
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
            status_line(tls, &req, &url).await?
        } else {
            status_line(tcp, &req, &url).await?
        };
        head.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// The TLS client of HTTPS probes and hooks, built once rather than at every probe.
fn probe_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| kindling_pki::unverified_client(None).map_err(|e| e.to_string()))
        .clone()
}

/// Sends `request` and reads enough of the answer for its status line.
async fn status_line<S>(mut s: S, request: &str, url: &str) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("Get \"{url}\": {e}"))?;
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    while got < 12 {
        let n = s
            .read(&mut buf[got..])
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(String::from_utf8_lossy(&buf[..got]).into_owned())
}

/// A gRPC health check as the kubelet's prober makes it: connect within `timeout` (plaintext,
/// HTTP/2), then `grpc.health.v1.Health/Check` for `service` within what is left; only SERVING
/// passes. The messages are upstream's.
pub async fn grpc_check(
    host: &str,
    port: u16,
    service: &str,
    timeout: Duration,
) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let shown = super::backoff::go_duration(timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("error: failed to connect service at {addr:?}: {e}"))?
        .user_agent("kube-probe/1.35")
        .map_err(|e| e.to_string())?;
    // The kubelet dials with gRPC's WithBlock: a refused or reset connection is retried until
    // the deadline, so a port nothing serves reports the timeout.
    let connect = async {
        loop {
            match endpoint.connect().await {
                Ok(channel) => return channel,
                Err(e) => {
                    tracing::trace!("grpc probe of {addr}: {}", error_chain(&e));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let Ok(channel) = tokio::time::timeout_at(deadline, connect).await else {
        return Err(format!(
            "timeout: failed to connect service {addr:?} within {shown}: context deadline exceeded"
        ));
    };
    let mut client = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: service.to_string(),
    };
    let response = match tokio::time::timeout_at(deadline, client.check(request)).await {
        Err(_) => return Err(format!("timeout: health rpc did not complete within {shown}")),
        Ok(Err(status)) => {
            return Err(match status.code() {
                tonic::Code::Unimplemented => format!(
                    "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                    status.message()
                ),
                tonic::Code::DeadlineExceeded => {
                    format!("timeout: health rpc did not complete within {shown}")
                }
                code => format!(
                    "error: health rpc probe failed: rpc error: code = {code:?} desc = {}",
                    status.message()
                ),
            })
        }
        Ok(Ok(r)) => r.into_inner(),
    };
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        Err(format!(
            "service unhealthy (responded with \"{}\")",
            status.as_str_name()
        ))
    }
}

/// An error with its sources, as Go's `%+v` of a wrapped error shows them.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(probe: serde_json::Value, port: u16) -> (Target, Probe) {
        let c: Container = serde_json::from_value(
            json!({"name": "c", "ports": [{"name": "http", "containerPort": port}]}),
        )
        .unwrap();
        let p: Probe = serde_json::from_value(probe).unwrap();
        (
            Target {
                runtime: Arc::new(crate::runtime::CriRuntime::new("/nonexistent.sock").unwrap()),
                container_id: "x".into(),
                pod_ip: "127.0.0.1".into(),
                container: c,
            },
            p,
        )
    }

    #[tokio::test]
    async fn http_and_tcp_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let code = if n == 0 {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                n += 1;
                let _ = s
                    .write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let (t, p) = target(
            json!({"httpGet": {"path": "/healthz", "port": "http"}}),
            port,
        );
        assert_eq!(check(&p, &t, Duration::from_secs(1)).await, Ok(()));
        let err = check(&p, &t, Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(err, "HTTP probe failed with statuscode: 500");
        let (t, p) = target(json!({"tcpSocket": {"port": port}}), port);
        assert_eq!(check(&p, &t, Duration::from_secs(1)).await, Ok(()));
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (t, p) = target(json!({"tcpSocket": {"port": free}}), free);
        assert!(check(&p, &t, Duration::from_secs(1)).await.is_err());
    }

    #[tokio::test]
    async fn https_probes_skip_certificate_verification() {
        let ca = kindling_pki::Ca::generate().unwrap();
        // A certificate from a CA the prober knows nothing of, for another name.
        let serving = ca
            .serving_cert("someone-else", &["elsewhere.example".into()], &[])
            .unwrap();
        let tls = kindling_pki::server_config(&ca.pair.cert_pem, &serving).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let asked = String::from_utf8_lossy(&buf[..n]).into_owned();
                let code = if asked.starts_with("GET /ok ") {
                    "200 OK"
                } else {
                    "404 Not Found"
                };
                let _ = s
                    .write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
                let _ = s.shutdown().await;
            }
        });
        let (t, p) = target(
            json!({"httpGet": {"path": "/ok", "port": port, "scheme": "HTTPS"}}),
            port,
        );
        assert_eq!(check(&p, &t, Duration::from_secs(2)).await, Ok(()));
        let (t, p) = target(
            json!({"httpGet": {"path": "/missing", "port": port, "scheme": "HTTPS"}}),
            port,
        );
        assert_eq!(
            check(&p, &t, Duration::from_secs(2)).await,
            Err("HTTP probe failed with statuscode: 404".into())
        );
        // Plain HTTP to the TLS port is not an answer.
        let (t, p) = target(json!({"httpGet": {"path": "/ok", "port": port}}), port);
        assert!(check(&p, &t, Duration::from_secs(2)).await.is_err());
    }

    /// A real grpc.health.v1 server (tonic-health) on a free port.
    async fn health_server() -> (tonic_health::server::HealthReporter, u16) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (reporter, port)
    }

    #[tokio::test]
    async fn grpc_probes_follow_the_health_protocol() {
        use tonic_health::ServingStatus;
        let (reporter, port) = health_server().await;
        let second = Duration::from_secs(1);
        // The server's overall health ("") is SERVING from the start.
        let (t, p) = target(json!({"grpc": {"port": port}}), port);
        assert_eq!(check(&p, &t, second).await, Ok(()));

        reporter
            .set_service_status("db", ServingStatus::NotServing)
            .await;
        let (t, p) = target(json!({"grpc": {"port": port, "service": "db"}}), port);
        assert_eq!(
            check(&p, &t, second).await,
            Err("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        reporter
            .set_service_status("db", ServingStatus::Serving)
            .await;
        assert_eq!(check(&p, &t, second).await, Ok(()));

        // An unknown service: the server answers NotFound.
        let err = grpc_check("127.0.0.1", port, "nope", second)
            .await
            .unwrap_err();
        assert!(
            err.starts_with("error: health rpc probe failed: rpc error: code = NotFound desc = "),
            "{err}"
        );

        // Nothing listening: dialing is retried until the timeout, as gRPC's blocking dial.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = grpc_check("127.0.0.1", free, "", second).await.unwrap_err();
        assert_eq!(
            err,
            format!("timeout: failed to connect service \"127.0.0.1:{free}\" within 1s: context deadline exceeded")
        );
    }

    #[tokio::test]
    async fn grpc_probe_of_a_server_without_the_health_service() {
        // A gRPC server that serves something else: Unimplemented.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // An HTTP/2 server answering every call with grpc-status 12 (UNIMPLEMENTED), as a gRPC
        // server does for a service it does not have.
        tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        let r = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .header("grpc-status", "12")
                            .header("grpc-message", "unknown service grpc.health.v1.Health")
                            .body(axum::body::Body::empty())
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    });
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(s), service)
                    .await;
                });
            }
        });
        let err = grpc_check("127.0.0.1", port, "", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"
        );
    }
}
