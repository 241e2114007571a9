//! The Docker provider against a real engine. Every test uses its own cluster name, network and
//! image (`kindling-test-<pid>-<test>`) and removes them again, on failure too (a Drop guard);
//! nothing else on the engine is touched. When no engine answers the tests say so and pass,
//! unless `KINDLING_REQUIRE_DOCKER=1` (then they fail). The node image is made on the spot from
//! the host's static busybox (Debian `busybox-static`).
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use kindling_provider::*;

fn test_id(test: &str) -> String {
    format!("kindling-test-{}-{test}", std::process::id())
}

async fn provider() -> Option<DockerProvider> {
    match DockerProvider::connect().await {
        Ok(p) => Some(p),
        Err(e) if e.is_daemon_unavailable() => {
            if std::env::var("KINDLING_REQUIRE_DOCKER").is_ok_and(|v| v == "1") {
                panic!("KINDLING_REQUIRE_DOCKER=1 but: {e}");
            }
            eprintln!("SKIPPED (no Docker engine): {e}");
            None
        }
        Err(e) => panic!("connecting to the engine: {e}"),
    }
}

/// Removes everything a test made, whatever happened: node containers of its cluster, its
/// network, its image, its host directory.
struct Cleanup {
    id: String,
    image: String,
    dir: Option<PathBuf>,
}

impl Cleanup {
    fn new(id: &str) -> Self {
        Cleanup {
            id: id.to_string(),
            image: format!("{id}:busybox"),
            dir: None,
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (id, image) = (self.id.clone(), self.image.clone());
        // a runtime of its own, on a thread of its own: Drop may run inside the test's runtime
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(p) = DockerProvider::connect().await else {
                    return;
                };
                if let Ok(nodes) = p.list_nodes(Some(&id)).await {
                    let names: Vec<String> = nodes.into_iter().map(|n| n.name).collect();
                    let _ = p.delete_nodes(&names).await;
                }
                let _ = p.delete_network(&id).await;
                let opts = bollard::query_parameters::RemoveImageOptions {
                    force: true,
                    ..Default::default()
                };
                let _ = p.client().remove_image(&image, Some(opts), None).await;
            });
        })
        .join();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn is_static_elf(bytes: &[u8]) -> bool {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    // no PT_INTERP: no dynamic loader needed
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= bytes.len() && u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) != 3
    })
}

/// A root filesystem with the host's static busybox and a link per applet.
fn busybox_rootfs() -> Vec<u8> {
    let candidates = [
        std::env::var("KINDLING_TEST_BUSYBOX").unwrap_or_default(),
        "/bin/busybox".into(),
        "/usr/bin/busybox".into(),
    ];
    let path = candidates
        .iter()
        .filter(|c| !c.is_empty())
        .find(|c| std::fs::read(c).is_ok_and(|b| is_static_elf(&b)))
        .unwrap_or_else(|| {
            panic!("no static busybox found (tried {candidates:?}): apt-get install busybox-static")
        });
    let bin = std::fs::read(path).unwrap();
    let list = std::process::Command::new(path)
        .arg("--list")
        .output()
        .expect("busybox --list");
    let applets = String::from_utf8(list.stdout).unwrap();

    let mut b = tar::Builder::new(Vec::new());
    for d in [
        "bin",
        "dev",
        "etc",
        "proc",
        "sys",
        "tmp",
        "var",
        "run",
        "root",
        "usr",
        "usr/local",
        "usr/local/bin",
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, format!("{d}/"), std::io::empty())
            .unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(bin.len() as u64);
    b.append_data(&mut h, "bin/busybox", &bin[..]).unwrap();
    for a in applets
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox")
    {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

async fn import_test_image(p: &dyn Provider, guard: &Cleanup) -> String {
    let tar = busybox_rootfs();
    let stream: InputStream = Box::pin(futures::stream::iter(vec![Ok(Bytes::from(tar))]));
    let id = p
        .import_image(
            &guard.image,
            stream,
            vec![r#"CMD ["sleep", "infinity"]"#.to_string()],
        )
        .await
        .expect("importing the busybox test image");
    assert!(id.starts_with("sha256:"), "{id}");
    guard.image.clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects to 127.0.0.1:port until the node's listener answers (docker-proxy accepts before the
/// listener inside is up, then closes).
fn read_from_host_port(port: u16, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.contains(want) {
                return buf;
            }
            last = buf;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("nothing answered {want:?} on 127.0.0.1:{port} (last read {last:?})");
}

fn mounts_of(inspect: &serde_json::Value) -> Vec<serde_json::Value> {
    inspect["Mounts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_node_cluster_lifecycle() {
    let Some(docker) = provider().await else {
        return;
    };
    let host = docker.host_info().await.unwrap();
    let p: Arc<dyn Provider> = Arc::new(docker);
    let id = test_id("life");
    let mut guard = Cleanup::new(&id);
    let host_dir = std::env::temp_dir().join(&id);
    std::fs::create_dir_all(&host_dir).unwrap();
    guard.dir = Some(host_dir.clone());
    std::fs::File::create(host_dir.join("hello.txt"))
        .unwrap()
        .write_all(b"from the host\n")
        .unwrap();
    let image = import_test_image(p.as_ref(), &guard).await;

    // the network: created once, then reused
    p.ping().await.unwrap();
    let net = p.ensure_network(&id).await.unwrap();
    assert!(net.created);
    assert_eq!(net.name, id);
    assert!(!net.ipv4_subnets.is_empty(), "{net:?}");
    let again = p.ensure_network(&id).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.id, net.id);

    let mut cp = NodeSpec::new(
        format!("{id}-control-plane"),
        &id,
        Role::ControlPlane,
        &image,
    );
    cp.network = id.clone();
    cp.command = vec![
        "sh".into(),
        "-c".into(),
        "echo node-started; exec sleep infinity".into(),
    ];
    cp.api_server = Some(ApiServerPublish {
        listen_address: "127.0.0.1".into(),
        host_port: 0,
    });
    cp.env.insert("KINDLING_TEST".into(), "1".into());
    cp.labels
        .insert("io.x-k8s.kindling.test".into(), "yes".into());
    let mut worker = NodeSpec::new(format!("{id}-worker"), &id, Role::Worker, &image);
    worker.network = id.clone();
    worker
        .port_mappings
        .push(PortMapping::tcp("127.0.0.1", 0, 8080));
    let mut m = Mount::new(&host_dir, "/mnt/host");
    m.read_only = true;
    worker.extra_mounts.push(m);

    let (a, b) = tokio::join!(p.create_node(&cp), p.create_node(&worker));
    let (cp_info, w_info) = (a.unwrap(), b.unwrap());
    assert_eq!(cp_info.role, Some(Role::ControlPlane));
    assert_eq!(w_info.role, Some(Role::Worker));
    let api_port = cp_info
        .api_server_host_port
        .expect("control plane publishes 6443");
    assert_ne!(api_port, 0);
    let w_port = w_info
        .host_port(8080, Protocol::Tcp)
        .expect("worker publishes 8080");

    // listing
    let nodes = p.list_nodes(Some(&id)).await.unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        vec![cp.name.as_str(), worker.name.as_str()]
    );
    for n in &nodes {
        assert!(n.is_running(), "{n:?}");
        assert_eq!(n.cluster, id);
        assert_eq!(n.image, image);
        assert_eq!(n.labels[CLUSTER_LABEL], id);
        let ip: std::net::Ipv4Addr = n.ipv4.as_deref().expect("an IPv4 address").parse().unwrap();
        let subnet = &net.ipv4_subnets[0];
        let (base, bits) = subnet.split_once('/').unwrap();
        let (base, bits): (std::net::Ipv4Addr, u32) =
            (base.parse().unwrap(), bits.parse().unwrap());
        let mask = u32::MAX << (32 - bits);
        assert_eq!(
            u32::from(ip) & mask,
            u32::from(base) & mask,
            "{ip} in {subnet}"
        );
        if !net.ipv6_subnets.is_empty() {
            assert!(
                n.ipv6.is_some(),
                "dual-stack network gives an IPv6 address: {n:?}"
            );
        }
    }
    assert!(p.list_clusters().await.unwrap().contains(&id));
    assert!(p
        .list_nodes(None)
        .await
        .unwrap()
        .iter()
        .any(|n| n.name == worker.name));

    // what the containers are made of
    let ins = p.inspect(&cp.name).await.unwrap();
    let labels = &ins["Config"]["Labels"];
    assert_eq!(labels[CLUSTER_LABEL], id.as_str());
    assert_eq!(labels[ROLE_LABEL], "control-plane");
    assert_eq!(labels["io.x-k8s.kindling.test"], "yes");
    assert_eq!(ins["Config"]["Hostname"], cp.name.as_str());
    assert_eq!(ins["Config"]["Tty"], true);
    assert_eq!(ins["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(ins["HostConfig"]["Init"], false);
    assert!(
        ins["HostConfig"]["Tmpfs"].get("/tmp").is_some()
            && ins["HostConfig"]["Tmpfs"].get("/run").is_some()
    );
    let privileged = ins["HostConfig"]["Privileged"] == true;
    let caps = ins["HostConfig"]["CapAdd"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        privileged || caps.iter().any(|c| c == "ALL"),
        "node has privileges one way or the other: {}",
        ins["HostConfig"]
    );
    let aliases = ins["NetworkSettings"]["Networks"][&id]["Aliases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        aliases.iter().any(|a| a == cp.name.as_str()),
        "alias {aliases:?}"
    );
    assert!(ins["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "KINDLING_TEST=1"));
    let mut var_volumes = Vec::new();
    for n in [&cp.name, &worker.name] {
        let ins = p.inspect(n).await.unwrap();
        let v = mounts_of(&ins)
            .into_iter()
            .find(|m| m["Type"] == "volume" && m["Destination"] == "/var")
            .and_then(|m| m["Name"].as_str().map(String::from))
            .expect("an anonymous volume on /var");
        var_volumes.push(v);
    }

    // exec: output, exit codes, stdin (big, streamed)
    let out = p.exec(&cp.name, &["hostname"], Stdin::None).await.unwrap();
    assert_eq!(out.stdout_string().trim(), cp.name);
    let out = p
        .exec(
            &worker.name,
            &["sh", "-c", "echo oops >&2; exit 3"],
            Stdin::None,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stderr_string(), "oops\n");
    let err = out
        .clone()
        .check(&worker.name, &["sh", "-c", "…"])
        .unwrap_err();
    assert!(err.to_string().contains("exit code 3"), "{err}");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = p
        .exec(&cp.name, &["cat"], Stdin::from(big.clone()))
        .await
        .unwrap();
    assert!(out.success());
    assert_eq!(out.stdout.len(), big.len());
    assert!(out.stdout == big);
    let chunks: Vec<std::io::Result<Bytes>> = (0..64)
        .map(|i| Ok(Bytes::from(format!("line {i}\n"))))
        .collect();
    let out = p
        .exec(
            &cp.name,
            &["wc", "-l"],
            Stdin::Stream(Box::pin(futures::stream::iter(chunks))),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout_string().trim(), "64");

    let out = p
        .exec(&cp.name, &["true"], Stdin::from(big.clone()))
        .await
        .unwrap();
    assert!(out.success(), "a command that reads no stdin is fine");

    // what a node needs to be able to do: sysctls, its own cgroups
    let out = p
        .exec(
            &cp.name,
            &["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
            Stdin::None,
        )
        .await
        .unwrap();
    assert!(out.success(), "writable /proc/sys: {}", out.stderr_string());
    if privileged || host.cgroup_version == CgroupVersion::V1 {
        let script = r#"p=$(awk -F: '$2=="pids" || $2=="" {print $3; exit}' /proc/self/cgroup)
            case "$(awk -F: '$2=="pids"' /proc/self/cgroup)" in "") d=/sys/fs/cgroup$p;; *) d=/sys/fs/cgroup/pids$p;; esac
            mkdir "$d/kindling-test" && rmdir "$d/kindling-test" && echo "$d""#;
        let out = p
            .exec(&cp.name, &["sh", "-c", script], Stdin::None)
            .await
            .unwrap();
        assert!(
            out.success(),
            "node can make cgroups under its own: {} {}",
            out.stdout_string(),
            out.stderr_string()
        );
    }

    // copy files, into a directory that does not exist yet, with modes
    let files = vec![
        FileToCopy::new("hello.sh", "#!/bin/sh\necho kindling-hello\n", 0o755),
        FileToCopy::new("keys/secret.key", "s3cret", 0o600),
    ];
    p.copy_files(&worker.name, "/etc/kindling-test/sub", files)
        .await
        .unwrap();
    let out = p
        .exec(&worker.name, &["sh", "-c", "stat -c '%a %u %n' /etc/kindling-test/sub/hello.sh /etc/kindling-test/sub/keys/secret.key; cat /etc/kindling-test/sub/keys/secret.key"], Stdin::None)
        .await
        .unwrap();
    assert_eq!(
        out.stdout_string(),
        "755 0 /etc/kindling-test/sub/hello.sh\n600 0 /etc/kindling-test/sub/keys/secret.key\ns3cret",
        "{}",
        out.stderr_string()
    );
    // /etc kept its own mode
    let out = p
        .exec(&worker.name, &["stat", "-c", "%a", "/etc"], Stdin::None)
        .await
        .unwrap();
    assert_eq!(out.stdout_string().trim(), "755");

    // the extra mount
    let out = p
        .exec(&worker.name, &["cat", "/mnt/host/hello.txt"], Stdin::None)
        .await
        .unwrap();
    assert_eq!(out.stdout_string(), "from the host\n");
    let out = p
        .exec(
            &worker.name,
            &["sh", "-c", "echo x > /mnt/host/new"],
            Stdin::None,
        )
        .await
        .unwrap();
    assert_ne!(out.exit_code, 0, "read-only mount");

    // the published port reaches a listener inside the node
    let out = p
        .exec(
            &worker.name,
            &[
                "sh",
                "-c",
                "nc -ll -p 8080 -e /etc/kindling-test/sub/hello.sh </dev/null >/dev/null 2>&1 &",
            ],
            Stdin::None,
        )
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_string());
    read_from_host_port(w_port, "kindling-hello");
    assert!(!p.is_port_free("127.0.0.1", w_port));

    // logs, images
    assert!(p.logs(&cp.name).await.unwrap().contains("node-started"));
    let image_id = p
        .image_id(&image)
        .await
        .unwrap()
        .expect("test image present");
    assert!(image_id.starts_with("sha256:"));
    assert_eq!(
        p.image_id(&format!("{id}-no-such-image:none"))
            .await
            .unwrap(),
        None
    );
    let mut saved = Vec::new();
    let mut stream = p.save_images(std::slice::from_ref(&image));
    while let Some(chunk) = stream.next().await {
        saved.extend_from_slice(&chunk.unwrap());
    }
    let mut archive = tar::Archive::new(&saved[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    // the `load docker-image` shape: `docker save` streamed straight into a command in the node
    let stdin = Stdin::from_provider_stream(p.save_images(std::slice::from_ref(&image)));
    let out = p
        .exec(&worker.name, &["tar", "-tf", "-"], stdin)
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_string());
    assert!(
        out.stdout_string().lines().any(|l| l == "manifest.json"),
        "{}",
        out.stdout_string()
    );

    // a node comes back after stop/start with the same published ports
    p.stop_node(&cp.name, 0).await.unwrap();
    assert_eq!(p.list_nodes(Some(&id)).await.unwrap()[0].status, "exited");
    p.start_node(&cp.name).await.unwrap();
    let after = p.list_nodes(Some(&id)).await.unwrap().remove(0);
    assert!(after.is_running());
    assert_eq!(
        after.api_server_host_port,
        Some(api_port),
        "a picked port stays fixed across restarts"
    );

    // delete: no container, no volume, then no network
    let names = vec![
        cp.name.clone(),
        worker.name.clone(),
        format!("{id}-already-gone"),
    ];
    p.delete_nodes(&names).await.unwrap();
    assert!(p.list_nodes(Some(&id)).await.unwrap().is_empty());
    assert!(!p.list_clusters().await.unwrap().contains(&id));
    let docker = DockerProvider::connect().await.unwrap();
    for v in &var_volumes {
        let r = docker.client().inspect_volume(v).await;
        assert!(r.is_err(), "volume {v} of a deleted node is left");
    }
    assert!(p.delete_network(&id).await.unwrap());
    assert!(!p.delete_network(&id).await.unwrap());
    let nets = docker
        .client()
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
            filters: Some(HashMap::from([("name".to_string(), vec![id.clone()])])),
        }))
        .await
        .unwrap();
    assert!(nets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_and_missing_things_are_named() {
    let Some(docker) = provider().await else {
        return;
    };
    let p: &dyn Provider = &docker;
    let id = test_id("conflict");
    let guard = Cleanup::new(&id);
    let image = import_test_image(p, &guard).await;
    p.ensure_network(&id).await.unwrap();

    let port = free_port();
    let mut a = NodeSpec::new(format!("{id}-worker"), &id, Role::Worker, &image);
    a.network = id.clone();
    a.port_mappings
        .push(PortMapping::tcp("127.0.0.1", port, 80));
    p.create_node(&a).await.unwrap();
    assert!(
        !p.is_port_free("127.0.0.1", port),
        "docker-proxy holds the published port"
    );

    // host port taken: says which node and which mapping, and leaves nothing behind
    let mut b = a.clone();
    b.name = format!("{id}-worker2");
    let err = p.create_node(&b).await.unwrap_err();
    println!("port taken: {err}");
    match &err {
        ProviderError::PortAllocated {
            node,
            mapping,
            detail,
        } => {
            assert_eq!(node, &b.name);
            assert_eq!(mapping, &format!("127.0.0.1:{port}->80/tcp"));
            assert!(detail.contains(&format!("127.0.0.1:{port}")), "{detail}");
        }
        other => panic!("expected PortAllocated, got {other:?}"),
    }
    assert!(err.to_string().starts_with(&format!(
        "node \"{}\": cannot publish 127.0.0.1:{port}->80/tcp: ",
        b.name
    )));
    let names: Vec<String> = p
        .list_nodes(Some(&id))
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, vec![a.name.clone()]);

    // name taken: kind's words
    let err = p.create_node(&a).await.unwrap_err();
    assert!(matches!(err, ProviderError::NameTaken { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("node(s) already exist for a cluster with the name \"{id}\"")
    );

    // missing image, missing network, missing node
    let c = NodeSpec::new(
        format!("{id}-worker3"),
        &id,
        Role::Worker,
        format!("{id}-no-such-image:none"),
    );
    let err = p.create_node(&c).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::ImageNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("-no-such-image:none"));
    let mut d = NodeSpec::new(format!("{id}-worker4"), &id, Role::Worker, &image);
    d.network = format!("{id}-no-such-network");
    let err = p.create_node(&d).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::NetworkNotFound { .. }),
        "{err:?}"
    );
    let missing = format!("{id}-no-such-node");
    let err = p.exec(&missing, &["true"], Stdin::None).await.unwrap_err();
    assert!(matches!(err, ProviderError::NodeNotFound { .. }), "{err:?}");
    let err = p
        .copy_files(&missing, "/etc", vec![FileToCopy::new("x", "y", 0o644)])
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NodeNotFound { .. }), "{err:?}");
    assert!(matches!(
        p.inspect(&missing).await.unwrap_err(),
        ProviderError::NodeNotFound { .. }
    ));
    assert_eq!(p.list_nodes(Some(&id)).await.unwrap().len(), 1);

    p.delete_nodes(&[a.name.clone()]).await.unwrap();
    assert!(p.list_nodes(Some(&id)).await.unwrap().is_empty());
    assert!(p.is_port_free("127.0.0.1", port) || wait_port_free(port));
    assert!(p.delete_network(&id).await.unwrap());
}

fn wait_port_free(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test]
async fn unreachable_daemon_says_how_to_start_one() {
    let Err(err) =
        DockerProvider::connect_with_host("unix:///nonexistent/kindling/docker.sock").await
    else {
        panic!("connected to a socket that does not exist")
    };
    assert!(err.is_daemon_unavailable(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("Cannot connect to the Docker daemon at unix:///nonexistent/kindling/docker.sock. Is the docker daemon running?"),
        "{msg}"
    );
    assert!(msg.contains("dockerd"), "{msg}");

    // a TCP address where nothing listens
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let Err(err) = DockerProvider::connect_with_host(&host).await else {
        panic!("connected to a closed port")
    };
    assert!(err.is_daemon_unavailable(), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("Cannot connect to the Docker daemon at {host}.")));
}
