//! `kindling`: the kind-compatible CLI on the host and the program inside every node container.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kindling",
    version,
    about = "Local Kubernetes clusters in Docker, with a Kubernetes written in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs an API server on this machine (the control plane's front door, usable on its own).
    Apiserver(ApiserverArgs),
}

#[derive(clap::Args)]
struct ApiserverArgs {
    /// Where the PKI, the store and the admin kubeconfig live; reusing it keeps every object.
    #[arg(long, default_value = "./kindling-data")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    bind: SocketAddr,
    /// The Service IP range.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: String,
    /// Extra names or IPs for the serving certificate.
    #[arg(long = "tls-san")]
    tls_sans: Vec<String>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KINDLING_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Apiserver(args) => run_apiserver(args),
    }
}

fn run_apiserver(args: ApiserverArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut config = kindling_apiserver::Config::local(&args.data_dir);
        config.bind = args.bind;
        config.service_cidr = args.service_cluster_ip_range;
        config.extra_sans = args.tls_sans;
        let running = kindling_apiserver::start(config).await?;
        println!("API server listening on https://{}", running.address);
        println!("Admin kubeconfig: {}", running.kubeconfig.display());
        println!(
            "Try: kubectl --kubeconfig {} get namespaces",
            running.kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
