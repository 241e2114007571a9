//! `kindling-bench crd` (the CRD issue's benchmark): against the release `kindling apiserver`,
//! how long after a CustomResourceDefinition's create its resource is served (discovery), and
//! creates/s of a custom resource with a 30-property schema and two CEL rules beside ConfigMap
//! creates/s in the same run (target: at least 70% of the ConfigMap rate).

use crate::{client, kindling_binary, ms, Server};
use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kindling_api::apiextensions::bench_fixture::{self, object};
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OBJECTS: usize = 20_000;
const CONCURRENCY: usize = 32;
const PROPERTIES: usize = 30;

/// The definition: `spec` with 30 properties (strings, integers, a list), two CEL rules
/// (kindling-api's `bench_fixture`, whose schema path a cost test measures).
fn definition() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "benches.bench.example.com"},
        "spec": {"group": "bench.example.com", "scope": "Namespaced",
            "names": {"plural": "benches", "singular": "bench", "kind": "Bench"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": bench_fixture::schema()}}]}
    })
}

/// `count` creates at `CONCURRENCY`: creates/s.
async fn rate<F, Fut>(count: usize, create: F) -> Result<f64>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let t0 = Instant::now();
    let results = futures::stream::iter(0..count)
        .map(create)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(count as f64 / t0.elapsed().as_secs_f64())
}

pub async fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(kindling_binary()?)
        .args(["apiserver", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _server = Server(child);
    let c = client(dir.path()).await?;
    println!(
        "kindling CRD benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );

    // Discovery: from the definition's create until /apis/<group>/v1 lists the resource.
    let crds: Api<DynamicObject> = Api::all_with(
        c.clone(),
        &ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        },
    );
    let t0 = Instant::now();
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(definition())?,
    )
    .await?;
    loop {
        let req = http::Request::get("/apis/bench.example.com/v1").body(Vec::new())?;
        if let Ok(text) = c.request_text(req).await {
            if text.contains("\"benches\"") {
                break;
            }
        }
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(10), "never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "discovery: resource served {} after the CRD create was sent",
        ms(t0.elapsed())
    );

    let benches: Api<DynamicObject> = Api::default_namespaced_with(
        c.clone(),
        &ApiResource {
            group: "bench.example.com".into(),
            version: "v1".into(),
            api_version: "bench.example.com/v1".into(),
            kind: "Bench".into(),
            plural: "benches".into(),
        },
    );
    let cms: Api<ConfigMap> = Api::default_namespaced(c.clone());
    // Warm both paths, then alternate halves so neither gets a warmer server.
    let half = OBJECTS / 2;
    let cm = |offset: usize| {
        let cms = cms.clone();
        move |i: usize| {
            let cms = cms.clone();
            async move {
                let obj: ConfigMap = serde_json::from_value(json!({
                    "metadata": {"name": format!("cm-{:05}", i + offset)},
                    "data": {"a": "1", "b": "2"}}))?;
                cms.create(&PostParams::default(), &obj).await?;
                Ok(())
            }
        }
    };
    let cr = |offset: usize| {
        let benches = benches.clone();
        move |i: usize| {
            let benches = benches.clone();
            async move {
                let obj: DynamicObject =
                    serde_json::from_value(object(&format!("b-{:05}", i + offset)))?;
                benches.create(&PostParams::default(), &obj).await?;
                Ok(())
            }
        }
    };
    rate(200, cm(90_000)).await?;
    rate(200, cr(90_000)).await?;
    let cm1 = rate(half, cm(0)).await?;
    let cr1 = rate(half, cr(0)).await?;
    let cr2 = rate(half, cr(half)).await?;
    let cm2 = rate(half, cm(half)).await?;
    let (cm_rate, cr_rate) = ((cm1 + cm2) / 2.0, (cr1 + cr2) / 2.0);
    println!("ConfigMap creates: {cm_rate:.0}/s ({OBJECTS}, concurrency {CONCURRENCY})");
    println!(
        "custom resource creates ({PROPERTIES} properties, 2 CEL rules): {cr_rate:.0}/s = {:.0}% of ConfigMaps (target >= 70%)",
        100.0 * cr_rate / cm_rate
    );
    // An invalid object is refused by a rule (the rules run).
    let mut bad = object("bad");
    bad["spec"]["field01"] = json!(5_000_000);
    let refused = benches
        .create(&PostParams::default(), &serde_json::from_value(bad)?)
        .await;
    anyhow::ensure!(
        refused.is_err(),
        "the CEL rule did not refuse an invalid object"
    );
    Ok(())
}
