//! The actions of `create cluster`, in kind's order.

mod ensure_image;
mod export_kubeconfig;
mod install_gateway_api;
mod install_ingress_class;
mod install_storage;
mod join_workers;
mod load_balancer;
pub(crate) mod mark_nodes;
mod pki;
mod preflight;
pub(crate) mod provision;
mod start_control_plane;
mod wait_ready;
pub(crate) mod write_config;

use super::{Action, ActionContext};

pub use load_balancer::{agent_api_url, cluster_api_url, etcd_members, extra_sans};

pub fn pipeline(ctx: &ActionContext) -> Vec<Box<dyn Action>> {
    let mut steps: Vec<Box<dyn Action>> = vec![
        Box::new(preflight::Preflight),
        Box::new(ensure_image::EnsureImage),
        Box::new(pki::MakePki),
        Box::new(provision::Provision),
    ];
    if ctx.cluster.external_load_balancer {
        steps.push(Box::new(load_balancer::LoadBalancer));
    }
    steps.extend([
        Box::new(write_config::WriteConfig) as Box<dyn Action>,
        Box::new(start_control_plane::StartControlPlane),
        Box::new(install_storage::InstallStorage),
        Box::new(install_ingress_class::InstallIngressClass),
        Box::new(install_gateway_api::InstallGatewayApi),
    ]);
    if ctx.cluster.worker_nodes().next().is_some() {
        steps.push(Box::new(join_workers::JoinWorkers));
    }
    steps.push(Box::new(mark_nodes::MarkNodes));
    steps.push(Box::new(export_kubeconfig::ExportKubeconfig));
    if !ctx.opts.wait.is_zero() {
        steps.push(Box::new(wait_ready::WaitReady));
    }
    steps
}
