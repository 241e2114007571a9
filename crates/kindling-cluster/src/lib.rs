//! kindling-cluster: what `kindling create/delete/get/load/export` do on the host, over a
//! [`kindling_provider::Provider`].

pub mod create;
pub mod kubeconfig;
pub mod lifecycle;
pub mod manage;
pub mod status;

use anyhow::{Context, Result};
use kindling_pki::CertPair;
use std::time::Duration;

/// The API server URL the host uses: the published address (all-interfaces becomes loopback).
pub fn external_url(address: &str, port: u16) -> String {
    let host = match address {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        a if a.contains(':') && !a.starts_with('[') => format!("[{a}]"),
        a => a.to_string(),
    };
    format!("https://{host}:{port}")
}

/// An admin client of a cluster.
pub async fn client(url: &str, ca_pem: &str, admin: &CertPair) -> Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = kindling_apiserver::kubeconfig::render("kindling", url, ca_pem, admin);
    let kubeconfig: kube::config::Kubeconfig =
        serde_norway::from_str(&text).context("rendering a kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// `1m0s`, `30s`, as Go prints durations in kind's messages.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Parses kind's `--wait` values: `0`, `30s`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if s == "0" || s.is_empty() {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap_or('s'));
        }
        let n: f64 = number
            .parse()
            .with_context(|| format!("invalid duration {s:?}"))?;
        number.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            other => anyhow::bail!("invalid duration {s:?}: unknown unit {other:?}"),
        };
    }
    anyhow::ensure!(
        number.is_empty(),
        "invalid duration {s:?}: missing unit in duration"
    );
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("10").is_err());
        assert_eq!(human_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(external_url("0.0.0.0", 6443), "https://127.0.0.1:6443");
    }
}
