//! The stacked etcd member of a control-plane node (clusters with several control planes, or one
//! that asked for etcd): Debian's `etcd` from the node image, started and kept running by
//! `kindling node` as containerd is, before the API server that uses it.
//!
//! - Member name = node name; peer and client URLs name the node's container (`https://<node>:
//!   2380`), which Docker's DNS resolves to its current address, so a member whose container got
//!   a new IP after a restart is still the member it was.
//! - At create the cluster is static: every control plane is in `--initial-cluster` from the
//!   start (all of them start together), `--initial-cluster-state new`. A control plane added
//!   later (`kindling create node --role control-plane`) joins as kubeadm's join does: it is
//!   added through a live member first (MemberAdd, `etcd_membership.rs`), then starts with the
//!   member list etcd answered and `--initial-cluster-state existing`. A member with data
//!   ignores all of these (its membership is in its data dir).
//! - Certificates are made at every start from the cluster CA (`/kindling/pki/ca.{crt,key}`,
//!   present on control planes): one for the member (server and client usage: it serves clients
//!   and peers and dials peers), with the node's name and current address; one client
//!   certificate for the API server. Peers and clients must present a certificate of the CA.
//! - `/health` is served on `http://127.0.0.1:2381` (kubeadm's `--listen-metrics-urls`), for the
//!   node's own checks.
//!
//! [`args`] decides the command line (pure, tested); the rest writes files and runs processes.

use anyhow::{Context, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;
pub const METRICS_PORT: u16 = 2381;
const DATA_DIR: &str = "/var/lib/etcd";
const PKI_DIR: &str = "/var/lib/kindling/etcd-pki";
const LOG: &str = "/var/log/kindling/etcd.log";

/// What a member needs to know to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// This node (member name and host name of its URLs).
    pub name: &'a str,
    /// Every control-plane node of the cluster, this one included.
    pub members: &'a [String],
    /// The cluster's name: the initial cluster token, so members of two clusters never mix.
    pub cluster: &'a str,
    /// Joining a running cluster (`--initial-cluster-state existing`) rather than forming one.
    pub join: bool,
}

/// Where the member's certificates are (written by [`write_certs`]).
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca: PathBuf,
    pub member_cert: PathBuf,
    pub member_key: PathBuf,
    /// The API server's client identity.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// Where [`write_certs`] put them (for the membership commands run beside the member).
    pub fn installed(ca_dir: &Path) -> Pki {
        Pki::at(Path::new(PKI_DIR), &ca_dir.join("ca.crt"))
    }

    fn at(dir: &Path, ca: &Path) -> Pki {
        Pki {
            ca: ca.to_path_buf(),
            member_cert: dir.join("member.crt"),
            member_key: dir.join("member.key"),
            client_cert: dir.join("apiserver-etcd-client.crt"),
            client_key: dir.join("apiserver-etcd-client.key"),
        }
    }
}

/// `https://<host>:<port>`.
fn url(host: &str, port: u16) -> String {
    format!("https://{host}:{port}")
}

/// A member's peer URL: its node's container name, which Docker's DNS resolves.
pub fn peer_url(node: &str) -> String {
    url(node, PEER_PORT)
}

/// `--initial-cluster`: `name=peer-url` for every member, by node name.
pub fn initial_cluster(members: &[String]) -> String {
    members
        .iter()
        .map(|m| format!("{m}={}", peer_url(m)))
        .collect::<Vec<_>>()
        .join(",")
}

/// One entry of etcd's member list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: u64,
    /// Empty while the member has not started (etcd learns the name from the member itself).
    pub name: String,
    pub peer_urls: Vec<String>,
}

impl MemberEntry {
    /// The node this member is: its name once started, before that the host of its peer URL
    /// (members are always added with `https://<node>:2380`).
    pub fn node(&self) -> Option<String> {
        if !self.name.is_empty() {
            return Some(self.name.clone());
        }
        self.peer_urls.iter().find_map(|u| {
            let host = u.strip_prefix("https://")?.rsplit_once(':')?.0;
            (!host.is_empty()).then(|| host.to_string())
        })
    }
}

/// Whether `node` still has to be added (MemberAdd) before its member starts: not when an
/// earlier attempt added it already (the node restarted between MemberAdd and first start).
pub fn needs_add(list: &[MemberEntry], node: &str) -> bool {
    !list.iter().any(|m| m.node().as_deref() == Some(node))
}

/// The members a joining `node` starts with (its `--initial-cluster`): every member of
/// `list` by node name, `node` included.
pub fn join_members(list: &[MemberEntry], node: &str) -> Vec<String> {
    let mut names: Vec<String> = list.iter().filter_map(MemberEntry::node).collect();
    if !names.iter().any(|n| n == node) {
        names.push(node.to_string());
    }
    names
}

/// The member id of `node`, for MemberRemove.
pub fn member_of(list: &[MemberEntry], node: &str) -> Result<u64, String> {
    list.iter()
        .find(|m| m.node().as_deref() == Some(node))
        .map(|m| m.id)
        .ok_or_else(|| format!("node {node} has no etcd member"))
}

/// etcd's command line for `member` (after the program name).
pub fn args(member: &Member, pki: &Pki, data_dir: &str) -> Vec<String> {
    let initial_cluster = initial_cluster(member.members);
    let state = if member.join { "existing" } else { "new" };
    let path = |p: &PathBuf| p.display().to_string();
    [
        ("name", member.name.to_string()),
        ("data-dir", data_dir.to_string()),
        ("listen-client-urls", url("0.0.0.0", CLIENT_PORT)),
        ("advertise-client-urls", url(member.name, CLIENT_PORT)),
        ("listen-peer-urls", url("0.0.0.0", PEER_PORT)),
        ("initial-advertise-peer-urls", url(member.name, PEER_PORT)),
        ("initial-cluster", initial_cluster),
        ("initial-cluster-state", state.to_string()),
        ("initial-cluster-token", member.cluster.to_string()),
        (
            "listen-metrics-urls",
            format!("http://127.0.0.1:{METRICS_PORT}"),
        ),
        ("client-cert-auth", "true".to_string()),
        ("trusted-ca-file", path(&pki.ca)),
        ("cert-file", path(&pki.member_cert)),
        ("key-file", path(&pki.member_key)),
        ("peer-client-cert-auth", "true".to_string()),
        ("peer-trusted-ca-file", path(&pki.ca)),
        ("peer-cert-file", path(&pki.member_cert)),
        ("peer-key-file", path(&pki.member_key)),
        // The API server compacts what it no longer serves (it knows its watchers); etcd keeps
        // a bounded history by itself too, as kubeadm's clusters do with the API server's help.
        ("auto-compaction-mode", "revision".to_string()),
        ("auto-compaction-retention", "10000".to_string()),
        ("snapshot-count", "10000".to_string()),
    ]
    .into_iter()
    .map(|(flag, value)| format!("--{flag}={value}"))
    .collect()
}

/// Makes the member's and the API server's certificates from the cluster CA in `ca_dir`.
pub fn write_certs(ca_dir: &Path, name: &str, ip: IpAddr) -> Result<Pki> {
    let ca = kindling_pki::Ca::load_or_create(ca_dir)?;
    let dir = Path::new(PKI_DIR);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pki = Pki::at(dir, &ca_dir.join("ca.crt"));
    let member = ca.peer_cert(
        name,
        &[name.to_string(), "localhost".to_string()],
        &[ip, IpAddr::from([127, 0, 0, 1])],
    )?;
    member.write(dir, "member")?;
    let client = ca.client_cert("kube-apiserver-etcd-client", &[])?;
    client.write(dir, "apiserver-etcd-client")?;
    Ok(pki)
}

/// Whether this node's member has started before (its membership is in its data dir then).
pub fn has_data() -> bool {
    Path::new(DATA_DIR).join("member").exists()
}

/// Starts the member and keeps it running (restarting it whenever it exits). Returns at once:
/// the API server waits for its store itself.
pub fn start(member: &Member, pki: &Pki) -> Result<()> {
    let args = args(member, pki, DATA_DIR);
    let child = spawn(&args)?;
    std::thread::Builder::new()
        .name("etcd".into())
        .spawn(move || supervise(child, &args))
        .context("starting the etcd supervisor")?;
    Ok(())
}

fn spawn(args: &[String]) -> Result<Child> {
    std::fs::create_dir_all("/var/log/kindling")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG)
        .context("opening the etcd log")?;
    Command::new("etcd")
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting etcd")
}

/// Waits for the member to exit and starts it again, a second later (a member that cannot start
/// is retried every second, its reason in the log).
fn supervise(mut child: Child, args: &[String]) {
    loop {
        match child.wait() {
            Ok(status) => tracing::warn!("etcd exited ({status}); starting it again; see {LOG}"),
            Err(e) => tracing::warn!("waiting for etcd: {e}"),
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
            match spawn(args) {
                Ok(c) => {
                    child = c;
                    break;
                }
                Err(e) => tracing::error!("{e:#}"),
            }
        }
    }
}

/// The API server's side: the local member, over TLS with its client certificate.
pub fn store_backend(pki: &Pki) -> kindling_apiserver::StoreBackend {
    kindling_apiserver::StoreBackend::Etcd(kindling_apiserver::EtcdBackend {
        servers: vec![url("127.0.0.1", CLIENT_PORT)],
        tls: Some(kindling_apiserver::EtcdTlsFiles {
            ca: pki.ca.clone(),
            cert: pki.client_cert.clone(),
            key: pki.client_key.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stacked_member_names_every_control_plane_by_container_name() {
        let members = ["kind-control-plane", "kind-control-plane2"].map(String::from);
        let member = Member {
            name: "kind-control-plane2",
            members: &members,
            cluster: "kind",
            join: false,
        };
        let pki = Pki::at(Path::new("/p"), Path::new("/kindling/pki/ca.crt"));
        let args = args(&member, &pki, "/var/lib/etcd");
        let has = |a: &str| args.iter().any(|x| x == a);
        assert!(has("--name=kind-control-plane2"));
        assert!(has("--initial-cluster=kind-control-plane=https://kind-control-plane:2380,kind-control-plane2=https://kind-control-plane2:2380"));
        assert!(has(
            "--initial-advertise-peer-urls=https://kind-control-plane2:2380"
        ));
        assert!(has(
            "--advertise-client-urls=https://kind-control-plane2:2379"
        ));
        assert!(has("--initial-cluster-state=new"));
        assert!(has("--initial-cluster-token=kind"));
        assert!(has("--auto-compaction-mode=revision"));
        assert!(has("--peer-client-cert-auth=true"));
        assert!(has("--client-cert-auth=true"));
        assert!(has("--peer-cert-file=/p/member.crt"));
        assert!(has("--trusted-ca-file=/kindling/pki/ca.crt"));
    }

    #[test]
    fn a_joining_member_starts_existing() {
        let members = ["kind-control-plane", "kind-control-plane4"].map(String::from);
        let member = Member {
            name: "kind-control-plane4",
            members: &members,
            cluster: "kind",
            join: true,
        };
        let pki = Pki::at(Path::new("/p"), Path::new("/kindling/pki/ca.crt"));
        let args = args(&member, &pki, "/var/lib/etcd");
        assert!(args.contains(&"--initial-cluster-state=existing".to_string()));
        assert!(args.contains(&"--initial-cluster=kind-control-plane=https://kind-control-plane:2380,kind-control-plane4=https://kind-control-plane4:2380".to_string()));
    }

    fn entry(id: u64, name: &str, peer: &str) -> MemberEntry {
        MemberEntry {
            id,
            name: name.into(),
            peer_urls: vec![peer.into()],
        }
    }

    #[test]
    fn membership_decisions_from_the_member_list() {
        let started = |id, n: &str| entry(id, n, &peer_url(n));
        let unstarted = |id, n: &str| entry(id, "", &peer_url(n));
        let three = vec![
            started(1, "kind-control-plane"),
            started(2, "kind-control-plane2"),
            started(3, "kind-control-plane3"),
        ];
        let mut added = three.clone();
        added.push(unstarted(4, "kind-control-plane4"));
        let all = |l: &[MemberEntry]| join_members(l, "kind-control-plane4").join(",");
        // (list, needs MemberAdd, initial members)
        let cases: [(&[MemberEntry], bool, &str); 3] = [
            (
                &three,
                true,
                "kind-control-plane,kind-control-plane2,kind-control-plane3,kind-control-plane4",
            ),
            // Added by an earlier attempt that did not get to start the member.
            (
                &added,
                false,
                "kind-control-plane,kind-control-plane2,kind-control-plane3,kind-control-plane4",
            ),
            (&[], true, "kind-control-plane4"),
        ];
        for (list, add, members) in cases {
            assert_eq!(needs_add(list, "kind-control-plane4"), add, "{list:?}");
            assert_eq!(all(list), members, "{list:?}");
        }
        assert_eq!(member_of(&added, "kind-control-plane2"), Ok(2));
        assert_eq!(member_of(&added, "kind-control-plane4"), Ok(4));
        assert!(member_of(&three, "kind-control-plane4")
            .unwrap_err()
            .contains("no etcd member"));
        assert_eq!(entry(9, "", "http://x").node(), None);
    }
}
