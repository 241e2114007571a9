//! The watch cache as clients see it: reads that see every acknowledged write, lists at the
//! revision they ask for, watches that resume from any retained revision (across a restart too),
//! upstream's selector transitions, ListOptions checked as upstream does, and a watcher that
//! stops reading ended without the others missing anything.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::TestServer;
use http_body_util::BodyExt;
use kube::Client;
use serde_json::{json, Value};
use std::time::Duration;

const CM: &str = "/api/v1/namespaces/default/configmaps";

async fn send(client: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map_or_else(Vec::new, |b| serde_json::to_vec(&b).unwrap());
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(kube::client::Body::from(body))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn config_map(name: &str, labels: Value, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "labels": labels}, "data": {"d": data}})
}

/// A watch's lines as they come.
struct Lines {
    body: kube::client::Body,
    buf: Vec<u8>,
}

impl Lines {
    async fn open(client: &Client, query: &str) -> Lines {
        let req = http::Request::builder()
            .uri(format!("{CM}?watch=1&{query}"))
            .body(kube::client::Body::empty())
            .unwrap();
        let resp = client.send(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        Lines {
            body: resp.into_body(),
            buf: Vec::new(),
        }
    }

    /// The next event, `None` when the stream ended; panics after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if let Some(at) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=at).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let frame = tokio::time::timeout(wait, self.body.frame())
                .await
                .expect("a watch event in time");
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                _ => return None,
            }
        }
    }
}

fn rv(obj: &Value) -> i64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn reads_see_every_acknowledged_write_and_lists_honour_resource_versions() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        // Every create is seen by the GET and the LIST that follow it, whatever the cache's lag.
        for i in 0..30 {
            let name = format!("seen-{i}");
            let (code, created) =
                send(&c, "POST", CM, Some(config_map(&name, json!({}), "x"))).await;
            assert_eq!(code, 201, "{created}");
            let (code, got) = send(&c, "GET", &format!("{CM}/{name}"), None).await;
            assert_eq!(code, 200);
            // The cached bytes are the object as the write returned it, field order included.
            assert_eq!(got.to_string(), created.to_string());
            let (_, list) = send(&c, "GET", CM, None).await;
            assert!(rv(&list) >= rv(&created));
            assert!(list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["metadata"]["name"] == name));
        }
        let (_, first) = send(&c, "GET", &format!("{CM}/seen-0"), None).await;
        let (_, updated) = send(
            &c,
            "PUT",
            &format!("{CM}/seen-0"),
            Some(config_map("seen-0", json!({}), "y")),
        )
        .await;
        assert_eq!(updated["data"]["d"], "y");
        // resourceVersion=0: any state the cache has; NotOlderThan a revision: at least it.
        let (code, any) = send(&c, "GET", &format!("{CM}?resourceVersion=0"), None).await;
        assert_eq!(code, 200, "{any}");
        let (code, newer) = send(
            &c,
            "GET",
            &format!(
                "{CM}?resourceVersion={}&resourceVersionMatch=NotOlderThan",
                rv(&updated)
            ),
            None,
        )
        .await;
        assert_eq!(code, 200, "{newer}");
        assert!(rv(&newer) >= rv(&updated));
        // Exact: the state at that revision, from the store's history.
        let (code, exact) = send(
            &c,
            "GET",
            &format!(
                "{CM}?resourceVersion={}&resourceVersionMatch=Exact",
                rv(&first)
            ),
            None,
        )
        .await;
        assert_eq!(code, 200, "{exact}");
        assert_eq!(rv(&exact), rv(&first));
        let old = exact["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["metadata"]["name"] == "seen-0")
            .unwrap();
        assert_eq!(old["data"]["d"], "x");
        // Paged from the cache, continued from the store at the same revision.
        let (_, page) = send(&c, "GET", &format!("{CM}?limit=7"), None).await;
        let token = page["metadata"]["continue"].as_str().unwrap().to_string();
        let mut names: Vec<Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].clone())
            .collect();
        let (_, rest) = send(&c, "GET", &format!("{CM}?limit=500&continue={token}"), None).await;
        assert_eq!(
            rest["metadata"]["resourceVersion"],
            page["metadata"]["resourceVersion"]
        );
        names.extend(
            rest["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].clone()),
        );
        assert_eq!(names.len(), 30 + 1, "{names:?}"); // and kube-root-ca.crt
                                                      // Labels select without the rest of the object being decoded; the result is the same.
        send(
            &c,
            "POST",
            CM,
            Some(config_map("labelled", json!({"app": "a"}), "z")),
        )
        .await;
        let (_, selected) = send(&c, "GET", &format!("{CM}?labelSelector=app%3Da"), None).await;
        let selected: Vec<&Value> = selected["items"].as_array().unwrap().iter().collect();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0]["metadata"]["name"], "labelled");
    });
}

/// A GET with an `Accept` header.
async fn get_as(client: &Client, path: &str, accept: &str) -> Value {
    let req = http::Request::builder()
        .uri(path)
        .header("Accept", accept)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn metadata_lists_and_watches_carry_the_objects_metadata() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        let (_, created) = send(&c, "POST", CM, Some(config_map("meta", json!({"a": "b"}), "x"))).await;
        let metadata_list = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        let list = get_as(&c, CM, metadata_list).await;
        assert_eq!(list["kind"], "PartialObjectMetadataList");
        let item = list["items"].as_array().unwrap().iter().find(|i| i["metadata"]["name"] == "meta").unwrap();
        assert_eq!(item.to_string(), json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": created["metadata"]}).to_string());
        let req = http::Request::builder()
            .uri(format!("{CM}?watch=1&resourceVersion={}", rv(&created) - 1))
            .header("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
            .body(kube::client::Body::empty())
            .unwrap();
        let resp = c.send(req).await.unwrap();
        let mut watch = Lines { body: resp.into_body(), buf: Vec::new() };
        let ev = watch.next(Duration::from_secs(10)).await.unwrap();
        assert_eq!(ev.to_string(), json!({"type": "ADDED", "object": item}).to_string());
    });
}

#[test]
fn list_options_are_checked_as_upstream() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        let invalid = |got: &(u16, Value), message: &str| {
            assert_eq!(got.0, 422, "{}", got.1);
            assert_eq!(got.1["reason"], "Invalid", "{}", got.1);
            assert_eq!(got.1["details"]["kind"], "ListOptions", "{}", got.1);
            assert_eq!(got.1["details"]["group"], "meta.k8s.io", "{}", got.1);
            assert_eq!(got.1["message"], message, "{}", got.1);
        };
        let got = send(&c, "GET", &format!("{CM}?resourceVersionMatch=Exact"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
        let got = send(&c, "GET", &format!("{CM}?resourceVersion=0&resourceVersionMatch=Exact"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        let got = send(&c, "GET", &format!("{CM}?resourceVersion=1&resourceVersionMatch=Newest"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
        let got = send(&c, "GET", &format!("{CM}?sendInitialEvents=true"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list");
        let got = send(&c, "GET", &format!("{CM}?watch=1&sendInitialEvents=true"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
        let got = send(&c, "GET", &format!("{CM}?watch=1&resourceVersionMatch=NotOlderThan"), None).await;
        invalid(&got, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
    });
}

#[test]
fn a_watcher_leaving_its_selection_is_told_deleted_with_the_state_it_knew() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        let (_, created) = send(
            &c,
            "POST",
            CM,
            Some(config_map("moving", json!({"app": "a"}), "1")),
        )
        .await;
        let mut watch = Lines::open(
            &c,
            &format!("labelSelector=app%3Da&resourceVersion={}", rv(&created)),
        )
        .await;
        let (_, moved) = send(
            &c,
            "PUT",
            &format!("{CM}/moving"),
            Some(config_map("moving", json!({"app": "b"}), "2")),
        )
        .await;
        let ev = watch.next(Duration::from_secs(10)).await.unwrap();
        assert_eq!(ev["type"], "DELETED", "{ev}");
        assert_eq!(ev["object"]["metadata"]["labels"]["app"], "a", "{ev}");
        assert_eq!(ev["object"]["data"]["d"], "1", "{ev}");
        assert_eq!(rv(&ev["object"]), rv(&moved));
        send(
            &c,
            "PUT",
            &format!("{CM}/moving"),
            Some(config_map("moving", json!({"app": "a"}), "3")),
        )
        .await;
        let ev = watch.next(Duration::from_secs(10)).await.unwrap();
        assert_eq!(ev["type"], "ADDED", "{ev}");
        assert_eq!(ev["object"]["data"]["d"], "3", "{ev}");
    });
}

#[test]
fn watches_resume_from_a_revision_before_a_restart() {
    let s = TestServer::start();
    let before = s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        let (_, first) = send(&c, "POST", CM, Some(config_map("r0", json!({}), "0"))).await;
        for i in 1..5 {
            send(
                &c,
                "POST",
                CM,
                Some(config_map(&format!("r{i}"), json!({}), "0")),
            )
            .await;
        }
        rv(&first)
    });
    let s = TestServer::start_in(s.stop());
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        // The new server's cache replayed the store's retained history: no 410, every change.
        let mut watch = Lines::open(&c, &format!("resourceVersion={before}")).await;
        let mut names = Vec::new();
        while names.len() < 4 {
            let ev = watch.next(Duration::from_secs(10)).await.unwrap();
            assert_eq!(ev["type"], "ADDED", "{ev}");
            names.push(
                ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(names, ["r1", "r2", "r3", "r4"]);
    });
}

#[test]
fn a_watcher_that_stops_reading_is_ended_and_the_others_miss_nothing() {
    const OBJECTS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.watch_queue = 10;
    let s = TestServer::start_with(dir, config);
    s.runtime().block_on(async {
        let c = common::kube_client(&s.kubeconfig).await;
        let (_, list) = send(&c, "GET", CM, None).await;
        let from = rv(&list);
        let mut slow = Lines::open(&c, &format!("resourceVersion={from}")).await;
        let mut fast = Lines::open(&c, &format!("resourceVersion={from}")).await;
        // 300 objects of 64 KiB: far more than the socket buffers and the slow watch's queue
        // hold, while the fast watcher reads everything as it comes.
        let data = "x".repeat(64 * 1024);
        let reader = tokio::spawn(async move {
            let mut seen = 0;
            while seen < OBJECTS {
                let ev = fast
                    .next(Duration::from_secs(60))
                    .await
                    .expect("the fast watch lasts");
                assert_eq!(ev["type"], "ADDED");
                seen += 1;
            }
            seen
        });
        for i in 0..OBJECTS {
            let (code, body) = send(
                &c,
                "POST",
                CM,
                Some(config_map(&format!("big-{i}"), json!({}), &data)),
            )
            .await;
            assert_eq!(code, 201, "{body}");
        }
        assert_eq!(reader.await.unwrap(), OBJECTS);
        // The slow one was ended: what it still has buffered, then the end of the stream.
        let mut got = 0;
        while slow.next(Duration::from_secs(30)).await.is_some() {
            got += 1;
        }
        assert!(got < OBJECTS, "the slow watcher got all {got} events");
    });
}
