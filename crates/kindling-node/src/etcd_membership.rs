//! Changes to the stacked etcd cluster's membership, made as kubeadm makes them:
//!
//! - [`join`]: a control plane added to a live cluster asks a running member to add it
//!   (MemberAdd) before its own member starts, then starts with the member list etcd answered
//!   (`etcd.rs` decides the flags). Quorum math stays right throughout: the new member counts
//!   from MemberAdd on, and it is added only while a quorum of the old members answers.
//! - [`remove`]: `kindling delete node` of a control plane removes its member (MemberRemove,
//!   through another control plane's member) before the container stops, so the cluster never
//!   counts a member that is gone for good.
//! - [`list`]: the member list (`kindling etcd-member list`, run in a control-plane node).
//! - [`health`]: each member's health (`kindling etcd-member health`; `upgrade cluster` asks
//!   before and after replacing each control plane).
//!
//! Clients use the member's own certificate (server and client usage, from the cluster CA), the
//! one it dials its peers with. What to do is decided by the pure functions of `etcd.rs`.

use crate::etcd::{self, MemberEntry, Pki, CLIENT_PORT};
use anyhow::{Context, Result};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use std::path::Path;
use std::time::{Duration, Instant};

/// One membership call may take this long (a MemberAdd waits for the quorum to commit it).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a joining node keeps asking for its MemberAdd (members of a cluster that is
/// itself starting may take a while to have a leader).
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of the members at `endpoints` with the member certificate of `pki`.
async fn connect(endpoints: Vec<String>, pki: &Pki) -> Result<Client> {
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(read(&pki.ca)?))
        .identity(Identity::from_pem(
            read(&pki.member_cert)?,
            read(&pki.member_key)?,
        ));
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(3))
        .with_timeout(CALL_TIMEOUT)
        .with_tls(tls);
    tokio::time::timeout(
        CALL_TIMEOUT,
        Client::connect(endpoints.clone(), Some(options)),
    )
    .await
    .with_context(|| format!("connecting to etcd at {endpoints:?}: timed out"))?
    .with_context(|| format!("connecting to etcd at {endpoints:?}"))
}

fn entries(members: &[etcd_client::Member]) -> Vec<MemberEntry> {
    members
        .iter()
        .map(|m| MemberEntry {
            id: m.id(),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
        })
        .collect()
}

async fn member_list(client: &mut Client) -> Result<Vec<MemberEntry>> {
    let answer = tokio::time::timeout(CALL_TIMEOUT, client.member_list())
        .await
        .context("listing etcd members: timed out")?
        .context("listing etcd members")?;
    Ok(entries(answer.members()))
}

/// The local member's client URL (what the commands run in a control-plane node talk to).
fn local() -> Vec<String> {
    vec![format!("https://127.0.0.1:{CLIENT_PORT}")]
}

/// Adds `node` to the cluster through one of `peers` (other control planes, by name) unless an
/// earlier attempt did; returns the members it starts with (its `--initial-cluster`).
pub async fn join(node: &str, peers: &[String], pki: &Pki) -> Result<Vec<String>> {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        let mut last = None;
        for peer in peers.iter().filter(|p| *p != node) {
            match join_through(node, peer, pki).await {
                Ok(members) => return Ok(members),
                Err(e) => {
                    tracing::warn!("etcd: joining through {peer}: {e:#}");
                    last = Some(e);
                }
            }
        }
        let Some(e) = last else {
            anyhow::bail!("no other etcd member to join through (members: {peers:?})");
        };
        if Instant::now() >= deadline {
            return Err(e.context(format!(
                "adding {node} to the etcd cluster: no member of {peers:?} took it within {JOIN_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn join_through(node: &str, peer: &str, pki: &Pki) -> Result<Vec<String>> {
    let mut client = connect(vec![format!("https://{peer}:{CLIENT_PORT}")], pki).await?;
    let list = member_list(&mut client).await?;
    if !etcd::needs_add(&list, node) {
        return Ok(etcd::join_members(&list, node));
    }
    let answer = tokio::time::timeout(
        CALL_TIMEOUT,
        client.member_add([etcd::peer_url(node)], None),
    )
    .await
    .context("MemberAdd: timed out")?
    .context("MemberAdd")?;
    tracing::info!("etcd: {node} added as a member through {peer}");
    Ok(etcd::join_members(&entries(answer.member_list()), node))
}

/// Removes `node`'s member through the local member (run in another control-plane node).
/// A node without a member is an error: nothing says it was ever one. etcd refuses a removal
/// ("unhealthy cluster") until enough members have been connected for its health interval
/// (5 s): a member that just joined or restarted does not count yet, so refusals are asked
/// again for up to [`JOIN_TIMEOUT`].
pub async fn remove(node: &str, pki: &Pki) -> Result<()> {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        let mut client = connect(local(), pki).await?;
        let list = member_list(&mut client).await?;
        let id = etcd::member_of(&list, node).map_err(anyhow::Error::msg)?;
        match tokio::time::timeout(CALL_TIMEOUT, client.member_remove(id)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if Instant::now() < deadline => {
                tracing::warn!("etcd: removing the member of {node}: {e}; asking again");
            }
            Ok(Err(e)) => {
                return Err(e).with_context(|| format!("removing the etcd member of {node}"))
            }
            Err(_) if Instant::now() < deadline => {}
            Err(_) => anyhow::bail!("removing the etcd member of {node}: timed out"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The member list as the local member knows it.
pub async fn list(pki: &Pki) -> Result<Vec<MemberEntry>> {
    let mut client = connect(local(), pki).await?;
    member_list(&mut client).await
}

/// How long one member gets to answer a health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Each member's health, as etcdctl's `endpoint health` judges it: asked at its own client URL
/// (by name), it answers a Status call and knows a leader. `Err` is why not. A member added
/// but not started yet (no name) is unhealthy under its peer URL.
pub async fn health(pki: &Pki) -> Result<Vec<(String, std::result::Result<(), String>)>> {
    let members = list(pki).await?;
    let checks = members.into_iter().map(|m| async move {
        if m.name.is_empty() {
            return (m.peer_urls.join(","), Err("not started".to_string()));
        }
        let verdict = async {
            let endpoint = format!("https://{}:{CLIENT_PORT}", m.name);
            let mut client = connect(vec![endpoint], pki)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let status = tokio::time::timeout(HEALTH_TIMEOUT, client.status())
                .await
                .map_err(|_| "status: timed out".to_string())?
                .map_err(|e| format!("status: {e}"))?;
            match status.leader() {
                0 => Err("no leader".to_string()),
                _ => Ok(()),
            }
        };
        let verdict = tokio::time::timeout(HEALTH_TIMEOUT * 2, verdict)
            .await
            .unwrap_or_else(|_| Err("timed out".to_string()));
        (m.name, verdict)
    });
    Ok(futures::future::join_all(checks).await)
}

/// `kindling etcd-member list|health|remove NODE`, run in a control-plane node by the host's
/// `create node`/`delete node`/`upgrade cluster` (and by tests): `list` prints `ID NAME
/// PEER-URLS` per member; `health` prints `NAME healthy` or `NAME unhealthy: REASON` per member
/// and fails when one is unhealthy.
pub async fn command(action: &str, node: Option<&str>) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = Pki::installed(&crate::config::kindling_path("pki"));
    match (action, node) {
        ("list", None) => {
            for m in list(&pki).await? {
                let name = if m.name.is_empty() {
                    "(unstarted)"
                } else {
                    m.name.as_str()
                };
                println!("{:x} {name} {}", m.id, m.peer_urls.join(","));
            }
            Ok(())
        }
        ("health", None) => {
            let report = health(&pki).await?;
            for (name, verdict) in &report {
                match verdict {
                    Ok(()) => println!("{name} healthy"),
                    Err(why) => println!("{name} unhealthy: {why}"),
                }
            }
            let unhealthy = report.iter().filter(|(_, v)| v.is_err()).count();
            anyhow::ensure!(unhealthy == 0, "{unhealthy} etcd member(s) unhealthy");
            Ok(())
        }
        ("remove", Some(node)) => remove(node, &pki).await,
        _ => anyhow::bail!("usage: kindling etcd-member list | health | remove NODE"),
    }
}
