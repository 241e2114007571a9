//! Everything but create: delete, get, export, load.

use crate::kubeconfig;
use anyhow::{bail, Context, Result};
use futures::StreamExt;
use kindling_provider::{NodeInfo, Provider, Role, Stdin};
use std::path::{Path, PathBuf};

/// `kindling delete cluster`: its nodes and its kubeconfig entries.
pub async fn delete_cluster(
    provider: &dyn Provider,
    name: &str,
    kubeconfig_flag: Option<&Path>,
    quiet: bool,
) -> Result<()> {
    if !quiet {
        eprintln!("Deleting cluster \"{name}\" ...");
    }
    let nodes = provider.list_nodes(Some(name)).await?;
    let names: Vec<String> = nodes.into_iter().map(|n| n.name).collect();
    provider.delete_nodes(&names).await?;
    kubeconfig::remove(
        &kubeconfig::target_path(kubeconfig_flag),
        &kubeconfig::context_name(name),
    )?;
    if !quiet && !names.is_empty() {
        eprintln!("Deleted nodes: {names:?}");
    }
    Ok(())
}

/// `kindling delete clusters --all | NAMES…`.
pub async fn delete_clusters(
    provider: &dyn Provider,
    all: bool,
    names: Vec<String>,
    kubeconfig_flag: Option<&Path>,
) -> Result<()> {
    let names = if all {
        provider.list_clusters().await?
    } else {
        names
    };
    if names.is_empty() && !all {
        bail!("no cluster names given; use --all to delete every cluster");
    }
    for name in &names {
        delete_cluster(provider, name, kubeconfig_flag, true).await?;
    }
    eprintln!("Deleted clusters: {names:?}");
    Ok(())
}

pub async fn get_clusters(provider: &dyn Provider) -> Result<()> {
    let clusters = provider.list_clusters().await?;
    if clusters.is_empty() {
        eprintln!("No kind clusters found.");
    }
    for c in clusters {
        println!("{c}");
    }
    Ok(())
}

pub async fn get_nodes(provider: &dyn Provider, name: &str, all: bool) -> Result<()> {
    let nodes = provider
        .list_nodes(if all { None } else { Some(name) })
        .await?;
    if nodes.is_empty() {
        if all {
            eprintln!("No kind nodes found.");
        } else {
            eprintln!("No kind nodes found for cluster \"{name}\".");
        }
    }
    for n in nodes {
        println!("{}", n.name);
    }
    Ok(())
}

/// The cluster's control planes in the order to ask them for what every control plane keeps
/// (the admin kubeconfig, the cluster's settings): running ones first, then by name.
pub(crate) fn control_planes_in_turn(nodes: &[NodeInfo]) -> Vec<NodeInfo> {
    let mut cps: Vec<NodeInfo> = nodes
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .cloned()
        .collect();
    cps.sort_by_key(|n| (!n.is_running(), n.name.clone()));
    cps
}

/// The cluster's admin kubeconfig; `internal` keeps the in-network address. Every control
/// plane keeps it (clusters made before that: the first one only), so the first that answers
/// gives it.
pub async fn kubeconfig_text(
    provider: &dyn Provider,
    cluster: &str,
    internal: bool,
) -> Result<String> {
    let nodes = provider.list_nodes(Some(cluster)).await?;
    let cps = control_planes_in_turn(&nodes);
    anyhow::ensure!(!cps.is_empty(), "could not locate any control plane nodes for cluster named '{cluster}'. Use the --name option to select a different cluster");
    let mut failures = Vec::new();
    let mut found = None;
    for cp in cps {
        let out = provider
            .exec(
                &cp.name,
                &["cat", "/kindling/admin.kubeconfig"],
                Stdin::None,
            )
            .await;
        match out {
            Ok(out) if out.success() => {
                found = Some((cp, out));
                break;
            }
            Ok(out) => failures.push(format!(
                "{}: {}",
                cp.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => failures.push(format!("{}: {e}", cp.name)),
        }
    }
    let Some((node, out)) = found else {
        bail!("reading the admin kubeconfig: {}", failures.join("; "));
    };
    let text = String::from_utf8(out.stdout).context("kubeconfig is not UTF-8")?;
    if internal {
        return Ok(text);
    }
    // With several control planes the external load balancer is the published front.
    let balancer = kindling_config::load_balancer_name(cluster);
    let front = nodes
        .into_iter()
        .find(|n| n.name == balancer)
        .unwrap_or(node);
    let port = front
        .api_server_host_port
        .context("the API server port is not published")?;
    let inspect = provider.inspect(&front.name).await?;
    let address = published_address(&inspect).unwrap_or_else(|| "127.0.0.1".into());
    let external = crate::external_url(&address, port);
    Ok(text.replace(&format!("https://{}:6443", front.name), &external))
}

/// The host address the 6443 port is published on, from `docker inspect`.
fn published_address(inspect: &serde_json::Value) -> Option<String> {
    let bindings = inspect["HostConfig"]["PortBindings"]["6443/tcp"].as_array()?;
    bindings.first()?["HostIp"].as_str().map(str::to_string)
}

/// `kindling export kubeconfig`: merges the cluster's entries into the user's kubeconfig.
pub async fn export_kubeconfig(
    provider: &dyn Provider,
    cluster: &str,
    flag: Option<&Path>,
    internal: bool,
) -> Result<PathBuf> {
    let text = kubeconfig_text(provider, cluster, internal).await?;
    let kc: serde_norway::Value = serde_norway::from_str(&text)?;
    let b64 = |v: &serde_norway::Value| -> Result<String> {
        let s = v.as_str().context("kubeconfig field missing")?;
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s)?;
        Ok(String::from_utf8(raw)?)
    };
    let entry = kubeconfig::Entry {
        name: kubeconfig::context_name(cluster),
        server: kc["clusters"][0]["cluster"]["server"]
            .as_str()
            .context("server missing")?
            .to_string(),
        ca_pem: b64(&kc["clusters"][0]["cluster"]["certificate-authority-data"])?,
        client_cert_pem: b64(&kc["users"][0]["user"]["client-certificate-data"])?,
        client_key_pem: b64(&kc["users"][0]["user"]["client-key-data"])?,
    };
    let path = kubeconfig::target_path(flag);
    kubeconfig::merge(&path, &entry)?;
    Ok(path)
}

/// `kindling export logs`: every node's component logs, containerd's, and `docker inspect`.
pub async fn export_logs(
    provider: &dyn Provider,
    cluster: &str,
    dir: Option<PathBuf>,
) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("kindling-logs-{}", std::process::id())),
    };
    let nodes = provider.list_nodes(Some(cluster)).await?;
    anyhow::ensure!(!nodes.is_empty(), "unknown cluster \"{cluster}\"");
    for node in nodes {
        let node_dir = dir.join(&node.name);
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("creating {}", node_dir.display()))?;
        let inspect = provider.inspect(&node.name).await?;
        std::fs::write(
            node_dir.join("inspect.json"),
            serde_json::to_vec_pretty(&inspect)?,
        )?;
        std::fs::write(
            node_dir.join("serial.log"),
            provider.logs(&node.name).await.unwrap_or_default(),
        )?;
        let list = provider
            .exec(&node.name, &["ls", "/var/log/kindling"], Stdin::None)
            .await?;
        for file in String::from_utf8_lossy(&list.stdout).split_whitespace() {
            let path = format!("/var/log/kindling/{file}");
            let out = provider
                .exec(&node.name, &["cat", &path], Stdin::None)
                .await?;
            std::fs::write(node_dir.join(file), out.stdout)?;
        }
    }
    std::fs::write(
        dir.join("kindling-version.txt"),
        format!("kindling {}\n", env!("CARGO_PKG_VERSION")),
    )?;
    Ok(dir)
}

const LOADED: &str = "/var/lib/kindling/loaded-images";

/// The nodes to load into: `--nodes`, or every node of the cluster.
async fn target_nodes(
    provider: &dyn Provider,
    cluster: &str,
    only: &[String],
) -> Result<Vec<String>> {
    let all: Vec<String> = provider
        .list_nodes(Some(cluster))
        .await?
        .into_iter()
        .filter(|n| n.role != Some(Role::ExternalLoadBalancer))
        .map(|n| n.name)
        .collect();
    anyhow::ensure!(!all.is_empty(), "no nodes found for cluster \"{cluster}\"");
    if only.is_empty() {
        return Ok(all);
    }
    for n in only {
        anyhow::ensure!(
            all.contains(n),
            "unknown node \"{n}\" for cluster \"{cluster}\""
        );
    }
    Ok(only.to_vec())
}

/// Whether the node already holds `image` with this ID.
async fn node_has(provider: &dyn Provider, node: &str, image: &str, id: &str) -> bool {
    let line = format!("{image} {id}");
    let out = provider
        .exec(node, &["grep", "-qxF", &line, LOADED], Stdin::None)
        .await;
    out.is_ok_and(|o| o.success())
}

/// Streams an image archive into the node's containerd (`k8s.io` namespace, as the CRI sees it).
async fn import_archive(provider: &dyn Provider, node: &str, archive: &Path) -> Result<()> {
    let file = tokio::fs::File::open(archive)
        .await
        .with_context(|| format!("opening {}", archive.display()))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    let out = provider
        .exec(
            node,
            &[
                "ctr",
                "-n",
                "k8s.io",
                "images",
                "import",
                "--all-platforms",
                "-",
            ],
            Stdin::Stream(Box::pin(stream)),
        )
        .await?;
    anyhow::ensure!(
        out.success(),
        "importing into node {node}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

async fn remember(provider: &dyn Provider, node: &str, image: &str, id: &str) -> Result<()> {
    let script = format!("mkdir -p /var/lib/kindling && echo '{image} {id}' >> {LOADED}");
    let argv = ["sh", "-c", script.as_str()];
    provider
        .exec(node, &argv, Stdin::None)
        .await?
        .check(node, &argv)?;
    Ok(())
}

/// `kindling load docker-image`: kind's flow and messages.
pub async fn load_docker_images(
    provider: &dyn Provider,
    cluster: &str,
    images: &[String],
    only: &[String],
) -> Result<()> {
    let nodes = target_nodes(provider, cluster, only).await?;
    let mut ids = Vec::new();
    for image in images {
        let id = provider
            .image_id(image)
            .await?
            .with_context(|| format!("image: \"{image}\" not present locally"))?;
        ids.push(id);
    }
    let mut work: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (image, id) in images.iter().zip(&ids) {
        let mut missing = Vec::new();
        for node in &nodes {
            if !node_has(provider, node, image, id).await {
                eprintln!("Image: \"{image}\" with ID \"{id}\" not yet present on node \"{node}\", loading...");
                missing.push(node.clone());
            }
        }
        if missing.is_empty() {
            eprintln!(
                "Image: \"{image}\" with ID \"{id}\" found to be already present on all nodes."
            );
        }
        for node in missing {
            match work.iter_mut().find(|(n, _)| *n == node) {
                Some((_, list)) => list.push((image.clone(), id.clone())),
                None => work.push((node, vec![(image.clone(), id.clone())])),
            }
        }
    }
    if work.is_empty() {
        return Ok(());
    }
    // One `docker save` to a temp file, streamed to every node that needs it (as kind does).
    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("images.tar");
    let mut file = tokio::fs::File::create(&archive).await?;
    let mut save = provider.save_images(images);
    while let Some(chunk) = save.next().await {
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    for (node, list) in work {
        import_archive(provider, &node, &archive).await?;
        for (image, id) in list {
            remember(provider, &node, &image, &id).await?;
        }
    }
    Ok(())
}

/// `kindling load image-archive`.
pub async fn load_image_archives(
    provider: &dyn Provider,
    cluster: &str,
    archives: &[PathBuf],
    only: &[String],
) -> Result<()> {
    let nodes = target_nodes(provider, cluster, only).await?;
    for archive in archives {
        anyhow::ensure!(
            archive.exists(),
            "image archive {} does not exist",
            archive.display()
        );
        for node in &nodes {
            import_archive(provider, node, archive).await?;
        }
    }
    Ok(())
}
