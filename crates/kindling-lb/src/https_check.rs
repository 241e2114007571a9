//! The health check of backends that serve HTTPS (API servers behind a cluster's external load
//! balancer): `GET <path>` over TLS, healthy on a 200 — as kind's HAProxy checks its control
//! planes (`option httpchk`, `check-ssl verify none`). The certificate is not verified: the
//! check asks "does this server say it is ready", the clients verify whom they talk to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether `addr` answers `GET path` with HTTP 200 within `timeout`.
pub async fn healthy(addr: SocketAddr, path: &str, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, status(addr, path)).await,
        Ok(Ok(200))
    )
}

async fn status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let config = kindling_pki::unverified_client(None)?;
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(Arc::clone(&config))
        .connect(name, tcp)
        .await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = tls.read(&mut head[read..]).await?;
        anyhow::ensure!(n > 0, "closed before the status line");
        read += n;
    }
    status_code(&head[..read]).ok_or_else(|| anyhow::anyhow!("not an HTTP status line"))
}

/// The status code of an HTTP/1.x status line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_code() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 500 Internal"), Some(500));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH"), None);
    }
}
