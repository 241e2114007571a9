//! The local-path provisioner's control-plane half (kind's `local-path-provisioner`): claims the
//! PV controller handed to `rancher.io/local-path` get a volume on the node the scheduler
//! selected, with the external provisioner library's `Provisioning` and
//! `ProvisioningSucceeded` events. [`plan`] decides; this module reads and writes.
//!
//! The other half runs on every node (kindling-kubelet `localpath.rs`): it creates the
//! directory of each volume of its node and, once such a volume is Released with the Delete
//! policy, removes the directory and then the PersistentVolume. Upstream's provisioner runs a
//! helper pod on the node for both; kindling's node agent already runs there, with the node's
//! `/var`, and needs no image (clusters have no registry), so it does the node's part itself.

pub mod plan;

use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kindling_api::volumes;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;

struct Context {
    client: kube::Client,
    recorder: Recorder,
    classes: Store<StorageClass>,
}

/// The component its events come from (upstream's `<provisioner>_<pod>_<uuid>` identity,
/// without the uuid).
const COMPONENT: &str = "rancher.io/local-path_local-path-provisioner";

/// The name its client has in [`crate::credentials::Clients`] (kind runs it as
/// `local-path-storage/local-path-provisioner-service-account`, not as the controller manager).
pub const IDENTITY: &str = "local-path-provisioner";

pub async fn run(client: kube::Client) {
    let controller = Controller::new(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
    );
    let claims = controller.store();
    let (classes, class_events) = crate::cached_watch::<StorageClass>(&client);
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(client.clone(), Reporter::control_plane(COMPONENT), 4),
        client,
        classes,
    });
    controller
        .watches_stream(class_events, move |sc: StorageClass| {
            let class = sc.name_any();
            claims
                .state()
                .iter()
                .filter(|c| volumes::claim_class(c) == class)
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
        .run(reconcile, retry_on_error, ctx)
        .for_each(|_| async {})
        .await;
}

async fn reconcile(claim: Arc<PersistentVolumeClaim>, ctx: Arc<Context>) -> Result<Action, Error> {
    let class = ctx
        .classes
        .get(&ObjectRef::new(volumes::claim_class(&claim)));
    let Some(node) = plan::node_to_provision(&claim, class.as_deref()) else {
        return Ok(Action::await_change());
    };
    let Some(class) = class else {
        return Ok(Action::await_change());
    };
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let name = plan::volume_name(&claim);
    if pvs.get_opt(&name).await?.is_some() {
        return Ok(Action::await_change());
    }
    let reference = kindling_events::reference(claim.as_ref());
    ctx.recorder.normal(
        reference.clone(),
        "Provisioning",
        "",
        format!(
            "External provisioner is provisioning volume for claim \"{}/{}\"",
            claim.namespace().unwrap_or_default(),
            claim.name_any()
        ),
    );
    let volume = plan::volume(&claim, &class, node).map_err(|e| Error::Retry(e.to_string()))?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match pvs.create(&params, &volume).await {
        Ok(_) => {
            tracing::debug!("provisioned {name} on {node}");
            ctx.recorder.normal(
                reference,
                "ProvisioningSucceeded",
                "",
                format!("Successfully provisioned volume {name}"),
            );
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(kube::Error::Api(e)) => {
            ctx.recorder.warning(
                reference,
                "ProvisioningFailed",
                "",
                format!(
                    "failed to provision volume with StorageClass \"{}\": {}",
                    class.name_any(),
                    e.message
                ),
            );
            return Err(kube::Error::Api(e).into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}
