//! The CSR cleaner (upstream's `csrcleaner`): at start and then every hour, every
//! CertificateSigningRequest that `cleanup::clean` says is done with is deleted, so
//! automatically made requests (kubelet client and serving certificates) do not pile up. It
//! talks as `certificate-controller`, whose role may list, watch and delete requests.

use super::cleanup;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::ResourceExt;

/// Runs the cleaner as `client` until the process ends.
pub async fn run(client: kube::Client) {
    let api = Api::<CertificateSigningRequest>::all(client);
    loop {
        if let Err(e) = sweep(&api, jiff::Timestamp::now()).await {
            tracing::warn!("CSR cleaner: {e}");
        }
        tokio::time::sleep(cleanup::POLLING_INTERVAL).await;
    }
}

/// One pass over every request, judged at `now`; returns how many it deleted.
pub async fn sweep(
    api: &Api<CertificateSigningRequest>,
    now: jiff::Timestamp,
) -> Result<usize, kube::Error> {
    let mut deleted = 0;
    for csr in api.list(&ListParams::default()).await? {
        let name = csr.name_any();
        let why = match cleanup::clean(&csr, now, |pem| {
            kindling_pki::validity(pem)
                .map(|(_, end)| end)
                .map_err(|e| format!("{e:#}"))
        }) {
            Ok(Some(why)) => why,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("error while attempting to clean CSR {name:?}: {e}");
                continue;
            }
        };
        tracing::info!("cleaning CSR {name:?} as {}", why.reason());
        let params = DeleteParams {
            // Only the request that was judged, not one made again under its name.
            preconditions: csr.metadata.uid.clone().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => {}
            Err(e) => tracing::warn!("unable to delete CSR {name:?}: {e}"),
        }
    }
    Ok(deleted)
}
