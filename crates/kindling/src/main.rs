//! `kindling`: the kind-compatible CLI on the host and the program inside every node container.

mod cli;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use cli::{
    BuildCommand, Cli, Command, CreateCommand, DeleteCommand, EditCommand, ExportCommand,
    GetCommand, LoadCommand, StartCommand, StopCommand, UpgradeCommand,
};
use kindling_cluster::{create, lifecycle, manage};
use kindling_provider::{DockerProvider, Provider};
use std::sync::Arc;

/// jemalloc: the API server's requests allocate and free many small values (JSON trees, field
/// sets), and glibc's malloc spent a quarter of its CPU time on them. Measured with
/// `kindling-bench apiserver` (same sitting): server CPU per pod create 584 → 418 µs, creates/s
/// 2 874 → 3 850, RSS with 11 000 pods +12 MiB; mimalloc saved as much CPU but cost +45 MiB.
/// Its background thread gives freed memory back to the system.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    limit_malloc_arenas();
    // In a node image, /usr/local/bin/systemctl is this binary (see kindling_node::control).
    let argv0 = std::env::args_os().next().unwrap_or_default();
    if std::path::Path::new(&argv0).file_name() == Some("systemctl".as_ref()) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        std::process::exit(kindling_node::control::systemctl(&args));
    }
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Node
            | Command::Apiserver(_)
            | Command::Loadbalancer { .. }
            | Command::PortProxy { .. }
    ) {
        die_quietly_on_closed_stdout();
    }
    let default_level = match cli.verbosity {
        0 => "warn,kube_client=off",
        1..=2 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINDLING_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("starting the async runtime");
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("ERROR: {e:#}");
        std::process::exit(1);
    }
}

/// glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core),
/// and memory freed in one is not reused by another: a long-running server's RSS then grows far
/// beyond its working set. Two arenas keep it close (measured: 65 → 54 MiB with 10 000 pods).
/// Rust's allocations go to jemalloc now; this still holds for C's (SQLite's).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// `kindling get clusters | head` must end quietly when the reader goes away, as other CLIs do,
/// not panic on a failed write. Only for the CLI: the servers handle EPIPE on their sockets.
fn die_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The cluster name: `--name`, then `KIND_CLUSTER_NAME`, then `kind`.
fn cluster_name(flag: Option<String>) -> String {
    kindling_config::resolve_name(
        flag.as_deref(),
        std::env::var("KIND_CLUSTER_NAME").ok().as_deref(),
        None,
    )
}

async fn create_node(args: cli::CreateNodeArgs, quiet: bool) -> Result<()> {
    let role = kindling_provider::Role::parse(&args.role)
        .filter(|r| *r != kindling_provider::Role::ExternalLoadBalancer)
        .with_context(|| {
            format!(
                "invalid role \"{}\": expected worker or control-plane",
                args.role
            )
        })?;
    let mut labels = std::collections::BTreeMap::new();
    for label in &args.labels {
        labels.extend(kindling_config::parse_node_labels(label).map_err(anyhow::Error::msg)?);
    }
    let opts = lifecycle::CreateNodeOptions {
        name: args.name,
        role,
        image: args.image,
        labels,
        wait: kindling_cluster::parse_duration(&args.wait)?,
        quiet,
    };
    lifecycle::create_node(docker().await?.as_ref(), &cluster_name(args.cluster), opts)
        .await
        .map(|_| ())
}

async fn docker() -> Result<Arc<dyn Provider>> {
    let provider = DockerProvider::connect().await?;
    provider.ping().await?;
    Ok(Arc::new(provider))
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Create(CreateCommand::Cluster(args)) => create_cluster(args, cli.quiet).await,
        Command::Delete(DeleteCommand::Cluster { name, kubeconfig }) => {
            manage::delete_cluster(
                docker().await?.as_ref(),
                &cluster_name(name),
                kubeconfig.as_deref(),
                cli.quiet,
            )
            .await
        }
        Command::Delete(DeleteCommand::Clusters {
            all,
            names,
            kubeconfig,
        }) => {
            manage::delete_clusters(docker().await?.as_ref(), all, names, kubeconfig.as_deref())
                .await
        }
        Command::Get(GetCommand::Clusters { output }) => match output.as_deref() {
            None => manage::get_clusters(docker().await?.as_ref()).await,
            Some("wide") => lifecycle::get_clusters_wide(docker().await?.as_ref()).await,
            Some(other) => anyhow::bail!("unable to match a printer suitable for the output format \"{other}\", allowed formats are: wide"),
        },
        Command::Create(CreateCommand::Node(args)) => create_node(args, cli.quiet).await,
        Command::Delete(DeleteCommand::Node {
            name,
            cluster,
            timeout,
        }) => {
            lifecycle::delete_node(
                docker().await?.as_ref(),
                &cluster_name(cluster),
                &name,
                kindling_cluster::parse_duration(&timeout)?,
                cli.quiet,
            )
            .await
        }
        Command::Stop(StopCommand::Cluster { name }) => {
            lifecycle::stop_cluster(docker().await?.as_ref(), &cluster_name(name), cli.quiet).await
        }
        Command::Start(StartCommand::Cluster { name, wait }) => {
            lifecycle::start_cluster(
                docker().await?.as_ref(),
                &cluster_name(name),
                kindling_cluster::parse_duration(&wait)?,
                cli.quiet,
            )
            .await
            .map(|_| ())
        }
        Command::Edit(EditCommand::Cluster {
            name,
            port_add,
            port_remove,
        }) => lifecycle::edit_cluster_ports(
            docker().await?.as_ref(),
            &cluster_name(name),
            &port_add,
            &port_remove,
            cli.quiet,
        )
        .await
        .map(|_| ()),
        Command::Upgrade(UpgradeCommand::Cluster { name, image, wait }) => {
            lifecycle::upgrade_cluster(
                docker().await?.as_ref(),
                &cluster_name(name),
                &image,
                kindling_cluster::parse_duration(&wait)?,
                cli.quiet,
            )
            .await
        }
        Command::Get(GetCommand::Nodes { name, all_clusters }) => {
            manage::get_nodes(docker().await?.as_ref(), &cluster_name(name), all_clusters).await
        }
        Command::Get(GetCommand::Kubeconfig { name, internal }) => {
            print!(
                "{}",
                manage::kubeconfig_text(docker().await?.as_ref(), &cluster_name(name), internal)
                    .await?
            );
            Ok(())
        }
        Command::Export(ExportCommand::Kubeconfig {
            name,
            kubeconfig,
            internal,
        }) => {
            let name = cluster_name(name);
            manage::export_kubeconfig(
                docker().await?.as_ref(),
                &name,
                kubeconfig.as_deref(),
                internal,
            )
            .await?;
            eprintln!("Set kubectl context to \"kind-{name}\"");
            Ok(())
        }
        Command::Export(ExportCommand::Logs { output_dir, name }) => {
            let name = cluster_name(name);
            let dir = manage::export_logs(docker().await?.as_ref(), &name, output_dir).await?;
            eprintln!("Exporting logs for cluster \"{name}\" to:");
            println!("{}", dir.display());
            Ok(())
        }
        Command::Load(LoadCommand::DockerImage {
            images,
            name,
            nodes,
        }) => {
            manage::load_docker_images(
                docker().await?.as_ref(),
                &cluster_name(name),
                &images,
                &nodes,
            )
            .await
        }
        Command::Load(LoadCommand::ImageArchive {
            archives,
            name,
            nodes,
        }) => {
            manage::load_image_archives(
                docker().await?.as_ref(),
                &cluster_name(name),
                &archives,
                &nodes,
            )
            .await
        }
        Command::Build(BuildCommand::NodeImage { image }) => {
            let image = image.unwrap_or_else(|| kindling_image::DEFAULT_NODE_IMAGE.to_string());
            let binary = std::env::current_exe().context("finding the kindling binary")?;
            let progress = |line: &str| eprintln!("{line}");
            let silent = |_: &str| {};
            let opts = kindling_image::NodeImageOptions {
                image: image.clone(),
                kindling_binary: binary,
                progress: if cli.quiet { &silent } else { &progress },
                ..Default::default()
            };
            let id = kindling_image::build_node_image(&opts).await?;
            if !cli.quiet {
                eprintln!("Image \"{image}\" build completed ({id}).");
            }
            Ok(())
        }
        Command::Version => {
            println!(
                "kindling v{} (Kubernetes {}) {}/{}",
                env!("CARGO_PKG_VERSION"),
                kindling_apiserver::KUBERNETES_VERSION,
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            Ok(())
        }
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "kindling",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Apiserver(args) => run_apiserver(args).await,
        Command::Node => kindling_node::run().await,
        Command::Loadbalancer { config } => kindling_lb::run_from_file(&config).await,
        Command::EtcdMember { action, node } => {
            kindling_node::etcd_membership::command(&action, node.as_deref()).await
        }
        Command::PortProxy { forward } => {
            let forwards = forward
                .iter()
                .map(|f| kindling_lb::forward::Forward::parse(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            kindling_lb::forward::run(forwards).await
        }
    }
}

async fn create_cluster(args: cli::CreateClusterArgs, quiet: bool) -> Result<()> {
    let config = match args.config.as_deref() {
        None => kindling_config::Config::default_config(),
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the config from stdin")?;
            kindling_config::Config::parse(kindling_config::STDIN_NAME, &text)?
        }
        Some(path) => kindling_config::Config::load_file(path)?,
    };
    let name = kindling_config::resolve_name(
        args.name.as_deref(),
        std::env::var("KIND_CLUSTER_NAME").ok().as_deref(),
        Some(config.cluster.name.as_str()),
    );
    let resolved = config.resolve(&kindling_config::ResolveOptions {
        name,
        image: args.image.clone(),
        default_image: kindling_image::DEFAULT_NODE_IMAGE.to_string(),
        working_dir: std::env::current_dir().ok(),
    })?;
    let opts = create::CreateOptions {
        retain: args.retain,
        wait: kindling_cluster::parse_duration(&args.wait)?,
        kubeconfig: args.kubeconfig.clone(),
        kindling_binary: None,
        quiet,
    };
    create::create(docker().await?, resolved, opts).await
}

async fn run_apiserver(args: cli::ApiserverArgs) -> Result<()> {
    let mut config = kindling_apiserver::Config::local(&args.data_dir);
    config.bind = args.bind;
    config.service_cidr = args.service_cluster_ip_range;
    config.extra_sans = args.tls_sans;
    config.authorization_mode = args.authorization_mode;
    if !args.etcd_servers.is_empty() {
        config.store = kindling_apiserver::StoreBackend::Etcd(kindling_apiserver::EtcdBackend {
            servers: args.etcd_servers,
            tls: match (args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile) {
                (Some(ca), Some(cert), Some(key)) => {
                    Some(kindling_apiserver::EtcdTlsFiles { ca, cert, key })
                }
                (None, None, None) => None,
                _ => anyhow::bail!("--etcd-cafile, --etcd-certfile and --etcd-keyfile go together"),
            },
        });
    }
    let running = kindling_apiserver::start(config).await?;
    if args.controllers {
        let client = kindling_node::client_from_kubeconfig(&running.kubeconfig).await?;
        tokio::spawn(kindling_controllers::run(
            client,
            kindling_controllers::Config {
                root_ca_pem: running.ca_pem.clone(),
            },
        ));
    }
    println!("API server listening on https://{}", running.address);
    println!("Admin kubeconfig: {}", running.kubeconfig.display());
    println!(
        "Try: kubectl --kubeconfig {} get namespaces",
        running.kubeconfig.display()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
