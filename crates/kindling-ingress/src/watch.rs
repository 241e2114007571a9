//! The table kept current: reflectors (kube::runtime) of Ingresses, IngressClasses, Services,
//! EndpointSlices and TLS Secrets; after a change (and a short pause that gathers a burst) the
//! routing table and the certificates are built again and swapped in whole. Then what the
//! build found is written: the served Ingresses' `status.loadBalancer`, a `Sync` event for each
//! new Ingress generation (as ingress-nginx's "Scheduled for sync"), a warning event on an
//! Ingress whose TLS Secret cannot be used (the default certificate serves its hosts). The
//! Gateway API's objects are watched too: their plan's table rides in the same table, their
//! statuses are written after each build.

use crate::certs::{self, Certificates};
use crate::gateway::types::{Gateway, GatewayClass, GrpcRoute, HttpRoute, ReferenceGrant};
use crate::gateway::{plan, status};
use crate::routes::{self, Inputs, Table};
use arc_swap::ArcSwap;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kindling_events::Recorder;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use rustls::sign::CertifiedKey;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Changes closer together than this make one new table.
const SETTLE: Duration = Duration::from_millis(20);
/// ingress-nginx's event reason for an Ingress taken into the configuration.
pub const REASON_SYNC: &str = "Sync";
/// Our reason for a TLS Secret that cannot be used (ingress-nginx only logs it).
pub const REASON_BAD_CERTIFICATE: &str = "SSLCertificateError";

pub struct Published {
    pub table: Arc<ArcSwap<Table>>,
    pub certs: Arc<ArcSwap<Certificates>>,
}

/// What the loop writes besides the table.
pub struct Reporting {
    pub recorder: Recorder,
    /// `status.loadBalancer.ingress` of served Ingresses (and Gateways' `status.addresses`):
    /// a hostname or an IP.
    pub status_address: String,
    /// The proxy's plain and TLS ports (where Gateway listeners can be served).
    pub http_port: u16,
    pub https_port: u16,
}

/// The Gateway API objects, watched beside the Ingresses. They are not waited for: a cluster
/// without the Gateway API CRDs still serves its Ingresses (the stores stay empty), and no
/// Gateway API status is written until every one of these has listed once.
struct GatewayStores {
    classes: Store<GatewayClass>,
    gateways: Store<Gateway>,
    http_routes: Store<HttpRoute>,
    grpc_routes: Store<GrpcRoute>,
    grants: Store<ReferenceGrant>,
    namespaces: Store<Namespace>,
    ready: Arc<AtomicBool>,
}

impl GatewayStores {
    fn start(client: &kube::Client, changed: &Arc<Notify>) -> GatewayStores {
        let cfg = watcher::Config::default;
        let stores = GatewayStores {
            classes: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            gateways: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            http_routes: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            grpc_routes: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            grants: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            namespaces: kindling_reflect::store(
                Api::all(client.clone()),
                cfg(),
                changed.clone(),
                "gateway",
            ),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let waits = (
            stores.classes.clone(),
            stores.gateways.clone(),
            stores.http_routes.clone(),
            stores.grpc_routes.clone(),
            stores.grants.clone(),
            stores.namespaces.clone(),
        );
        let (ready, changed) = (stores.ready.clone(), changed.clone());
        tokio::spawn(async move {
            let (a, b, c, d, e, f) = waits;
            let all = futures::future::join_all([
                Box::pin(async move { kindling_reflect::ready(&a).await.is_ok() })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>,
                Box::pin(async move { kindling_reflect::ready(&b).await.is_ok() }),
                Box::pin(async move { kindling_reflect::ready(&c).await.is_ok() }),
                Box::pin(async move { kindling_reflect::ready(&d).await.is_ok() }),
                Box::pin(async move { kindling_reflect::ready(&e).await.is_ok() }),
                Box::pin(async move { kindling_reflect::ready(&f).await.is_ok() }),
            ])
            .await;
            if all.into_iter().all(|ok| ok) {
                tracing::info!("gateway: synced");
                ready.store(true, AtomicOrdering::SeqCst);
                changed.notify_one();
            }
        });
        stores
    }
}

/// Keeps `published` current until the client's API server goes away for good (never returns).
pub async fn run(
    client: kube::Client,
    published: Published,
    default_cert: Arc<CertifiedKey>,
    reporting: Reporting,
) {
    let changed = Arc::new(Notify::new());
    let ingresses = kindling_reflect::store::<Ingress>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "ingress",
    );
    let classes = kindling_reflect::store::<IngressClass>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "ingress",
    );
    let services = kindling_reflect::store::<Service>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "ingress",
    );
    let slices = kindling_reflect::store::<EndpointSlice>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "ingress",
    );
    let secrets = kindling_reflect::store::<Secret>(
        Api::all(client.clone()),
        watcher::Config::default().fields("type=kubernetes.io/tls"),
        changed.clone(),
        "ingress",
    );
    for (kind, ready) in [
        ("ingresses", kindling_reflect::ready(&ingresses).await),
        ("ingressclasses", kindling_reflect::ready(&classes).await),
        ("services", kindling_reflect::ready(&services).await),
        ("endpointslices", kindling_reflect::ready(&slices).await),
        ("secrets", kindling_reflect::ready(&secrets).await),
    ] {
        if ready.is_err() {
            tracing::error!("ingress: the {kind} reflector stopped");
            return;
        }
    }
    tracing::info!("ingress: synced");
    let gateway = GatewayStores::start(&client, &changed);
    let mut reported = Reported::default();
    loop {
        let (i, c, s, e, t) = (
            ingresses.state(),
            classes.state(),
            services.state(),
            slices.state(),
            secrets.state(),
        );
        let mut table = routes::build(&Inputs {
            ingresses: i.iter().map(AsRef::as_ref).collect(),
            classes: c.iter().map(AsRef::as_ref).collect(),
            services: s.iter().map(AsRef::as_ref).collect(),
            slices: e.iter().map(AsRef::as_ref).collect(),
        });
        let (gc, gw, hr, gr, rg, ns) = (
            gateway.classes.state(),
            gateway.gateways.state(),
            gateway.http_routes.state(),
            gateway.grpc_routes.state(),
            gateway.grants.state(),
            gateway.namespaces.state(),
        );
        let mut gateway_plan = plan::plan(&plan::Inputs {
            classes: gc.iter().map(AsRef::as_ref).collect(),
            gateways: gw.iter().map(AsRef::as_ref).collect(),
            http_routes: hr.iter().map(AsRef::as_ref).collect(),
            grpc_routes: gr.iter().map(AsRef::as_ref).collect(),
            grants: rg.iter().map(AsRef::as_ref).collect(),
            namespaces: ns.iter().map(AsRef::as_ref).collect(),
            services: s.iter().map(AsRef::as_ref).collect(),
            slices: e.iter().map(AsRef::as_ref).collect(),
            secrets: t.iter().map(|s| object_key(&s.metadata)).collect(),
            http_port: reporting.http_port,
            https_port: reporting.https_port,
            address: reporting.status_address.clone(),
        });
        table.gateway = std::mem::take(&mut gateway_plan.table);
        table.tls.extend(gateway_plan.tls.iter().cloned());
        let by_name: HashMap<String, &Secret> = t
            .iter()
            .map(|s| {
                let m = &s.metadata;
                (
                    format!(
                        "{}/{}",
                        m.namespace.as_deref().unwrap_or_default(),
                        m.name.as_deref().unwrap_or_default()
                    ),
                    s.as_ref(),
                )
            })
            .collect();
        let (certificates, problems) = certs::build(&table.tls, &by_name, default_cert.clone());
        let served: HashSet<String> = table.served.iter().cloned().collect();
        table.gateway.continue_from(&published.table.load().gateway);
        published.table.store(Arc::new(table));
        published.certs.store(Arc::new(certificates));
        let served_ingresses: Vec<Arc<Ingress>> = i
            .iter()
            .filter(|ing| served.contains(&ingress_key(ing)))
            .cloned()
            .collect();
        reported
            .report(&client, &reporting, &served_ingresses, &problems)
            .await;
        if gateway.ready.load(AtomicOrdering::SeqCst) {
            let observed = status::Observed {
                classes: &gc,
                gateways: &gw,
                http_routes: &hr,
                grpc_routes: &gr,
            };
            status::write(&client, &gateway_plan, &observed).await;
        }
        changed.notified().await;
        tokio::time::sleep(SETTLE).await;
    }
}

fn object_key(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default()
    )
}

fn ingress_key(ing: &Ingress) -> String {
    format!(
        "{}/{}",
        ing.metadata.namespace.as_deref().unwrap_or_default(),
        ing.metadata.name.as_deref().unwrap_or_default()
    )
}

/// What has been said already, so each event is recorded once per cause.
#[derive(Default)]
struct Reported {
    /// (uid, generation) of Ingresses announced with `Sync`.
    synced: HashSet<(String, i64)>,
    /// (ingress, secret, message) of certificate problems announced.
    problems: HashSet<(String, String, String)>,
}

impl Reported {
    async fn report(
        &mut self,
        client: &kube::Client,
        reporting: &Reporting,
        served: &[Arc<Ingress>],
        problems: &[certs::Problem],
    ) {
        let by_key: HashMap<String, &Arc<Ingress>> =
            served.iter().map(|i| (ingress_key(i), i)).collect();
        for ing in served {
            let id = (
                ing.metadata.uid.clone().unwrap_or_default(),
                ing.metadata.generation.unwrap_or_default(),
            );
            if self.synced.insert(id) {
                reporting.recorder.normal(
                    kindling_events::reference(ing.as_ref()),
                    REASON_SYNC,
                    "Sync",
                    "Scheduled for sync",
                );
            }
            if let Err(e) = ensure_status(client, ing, &reporting.status_address).await {
                tracing::debug!("ingress {}: status: {e}", ingress_key(ing));
            }
        }
        let now: HashSet<(String, String, String)> = problems
            .iter()
            .map(|p| (p.ingress.clone(), p.secret.clone(), p.message.clone()))
            .collect();
        for p in problems {
            let id = (p.ingress.clone(), p.secret.clone(), p.message.clone());
            if self.problems.contains(&id) {
                continue;
            }
            if let Some(ing) = by_key.get(&p.ingress) {
                reporting.recorder.warning(
                    kindling_events::reference(ing.as_ref()),
                    REASON_BAD_CERTIFICATE,
                    "Sync",
                    format!(
                        "Error getting SSL certificate {:?}: {}. Using default certificate",
                        p.secret, p.message
                    ),
                );
            }
        }
        // A problem that went away and comes back is reported again.
        self.problems = now;
    }
}

/// Writes `status.loadBalancer.ingress` unless it already says `address`.
async fn ensure_status(
    client: &kube::Client,
    ing: &Ingress,
    address: &str,
) -> Result<(), kube::Error> {
    let want = if address.parse::<std::net::IpAddr>().is_ok() {
        serde_json::json!([{"ip": address}])
    } else {
        serde_json::json!([{"hostname": address}])
    };
    let have = ing
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .map(|l| serde_json::to_value(l).unwrap_or_default());
    if have.as_ref() == Some(&want) {
        return Ok(());
    }
    let api: Api<Ingress> = Api::namespaced(
        client.clone(),
        ing.metadata.namespace.as_deref().unwrap_or("default"),
    );
    // An update of the status, as ingress-nginx writes it: its ClusterRole grants
    // `ingresses/status` update only. A conflict is answered at the next pass.
    let mut updated = ing.clone();
    updated.metadata.managed_fields = None;
    let mut status = updated.status.take().unwrap_or_default();
    status.load_balancer = Some(
        serde_json::from_value(serde_json::json!({"ingress": want}))
            .map_err(kube::Error::SerdeError)?,
    );
    updated.status = Some(status);
    api.replace_status(
        ing.metadata.name.as_deref().unwrap_or_default(),
        &PostParams::default(),
        &updated,
    )
    .await
    .map(|_| ())
}
