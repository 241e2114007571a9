//! Writes that race other writers (issue 11, item 3): a delete or a finalizer removal that
//! loses a compare-and-swap to someone else's write starts again on the new object, as
//! upstream's store does; 409 Conflict only for preconditions the client sent. Each test keeps
//! several writers patching the object while the write under test runs, so the race is hit
//! (checked: without the retry these tests saw 409s).
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{kube_client, TestServer};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const ROUNDS: usize = 25;
const WRITERS: usize = 4;

fn config_map(name: &str, finalizers: &[&str]) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "finalizers": finalizers},
        "data": {"k": "v"}
    }))
    .unwrap()
}

/// Patches an annotation of `name` until `stop`; counts the writes that landed.
fn spawn_writers(
    api: &Api<ConfigMap>,
    name: &str,
    stop: &Arc<AtomicBool>,
    landed: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|w| {
            let (api, name, stop, landed) =
                (api.clone(), name.to_string(), stop.clone(), landed.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let patch = serde_json::json!({"metadata": {"annotations": {format!("w{w}"): i.to_string()}}});
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) => {
                            landed.fetch_add(1, Ordering::Relaxed);
                        }
                        // Gone (deleted by the test) or being deleted: nothing more to write.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect()
}

/// Waits until the writers have landed a few writes, so the write under test races them.
async fn writers_running(landed: &AtomicUsize) {
    let start = landed.load(Ordering::Relaxed);
    while landed.load(Ordering::Relaxed) < start + WRITERS {
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_delete_without_preconditions_never_conflicts_with_other_writers() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let api: Api<ConfigMap> = Api::default_namespaced(kube_client(&s.kubeconfig).await);
        for round in 0..ROUNDS {
            let name = format!("hot-{round}");
            api.create(&PostParams::default(), &config_map(&name, &[]))
                .await
                .unwrap();
            let (stop, landed) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicUsize::new(0)),
            );
            let writers = spawn_writers(&api, &name, &stop, &landed);
            writers_running(&landed).await;
            let deleted = api.delete(&name, &DeleteParams::default()).await;
            stop.store(true, Ordering::Relaxed);
            for w in writers {
                w.await.unwrap();
            }
            assert!(deleted.is_ok(), "round {round}: {:?}", deleted.err());
            assert!(api.get_opt(&name).await.unwrap().is_none());
        }
    });
}

#[test]
fn a_stale_resource_version_precondition_is_still_409() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let api: Api<ConfigMap> = Api::default_namespaced(kube_client(&s.kubeconfig).await);
        let created = api
            .create(&PostParams::default(), &config_map("pinned", &[]))
            .await
            .unwrap();
        let stale = created.metadata.resource_version.clone().unwrap();
        let patch = serde_json::json!({"data": {"k": "changed"}});
        api.patch("pinned", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(stale.clone()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete("pinned", &params).await {
            Err(kube::Error::Api(e)) => {
                assert_eq!(e.code, 409);
                assert!(
                    e.message.starts_with(&format!(
                        "Operation cannot be fulfilled on configmaps \"pinned\": Precondition failed: ResourceVersion in precondition: {stale}, "
                    )),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected 409, got {other:?}"),
        }
        assert!(api.get_opt("pinned").await.unwrap().is_some());
    });
}

#[test]
fn removing_the_last_finalizer_while_others_write_removes_the_object() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let api: Api<ConfigMap> = Api::default_namespaced(kube_client(&s.kubeconfig).await);
        for round in 0..ROUNDS {
            let name = format!("held-{round}");
            api.create(
                &PostParams::default(),
                &config_map(&name, &["example.com/hold"]),
            )
            .await
            .unwrap();
            api.delete(&name, &DeleteParams::default()).await.unwrap();
            let (stop, landed) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicUsize::new(0)),
            );
            let writers = spawn_writers(&api, &name, &stop, &landed);
            writers_running(&landed).await;
            let release = serde_json::json!({"metadata": {"finalizers": null}});
            let released = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&release))
                .await;
            stop.store(true, Ordering::Relaxed);
            for w in writers {
                w.await.unwrap();
            }
            assert!(released.is_ok(), "round {round}: {:?}", released.err());
            assert!(api.get_opt(&name).await.unwrap().is_none(), "round {round}");
        }
    });
}
