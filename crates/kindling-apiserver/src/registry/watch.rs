//! Watch: initial state when asked for, then the store's events, filtered by the selectors with
//! upstream's transitions (an object that stops matching is DELETED for this watcher, one that
//! starts matching is ADDED), bookmarks, and 410 Gone for a revision that has been compacted.

use super::list::ListOptions;
use super::{decode, key_prefix, Registry};
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Event, Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub list: ListOptions,
    pub send_initial_events: bool,
    pub allow_bookmarks: bool,
    pub bookmark_interval: Option<Duration>,
}

/// One event of a watch stream.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent {
    Added(Value),
    Modified(Value),
    Deleted(Value),
    Bookmark(Value),
    Error(Value),
}

impl WatchEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }
    pub fn object(&self) -> &Value {
        match self {
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o)
            | WatchEvent::Error(o) => o,
        }
    }
}

const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

impl Registry {
    /// Starts a watch; events arrive on the returned channel until the client goes away.
    pub async fn watch(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: WatchOptions,
    ) -> Result<mpsc::Receiver<WatchEvent>, ApiError> {
        let (tx, rx) = mpsc::channel(256);
        let start =
            match opts.list.resource_version.as_deref() {
                None | Some("" | "0") => None,
                Some(rv) => Some(rv.parse::<Revision>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?),
            };
        let initial = opts.send_initial_events || start.is_none();
        let mut after = start.unwrap_or(0);
        let mut initial_items = Vec::new();
        if initial {
            let listed = self
                .list(
                    rt,
                    ns,
                    &ListOptions {
                        limit: None,
                        continue_token: None,
                        resource_version: None,
                        ..opts.list.clone()
                    },
                )
                .await?;
            after = listed["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            initial_items = listed["items"].as_array().cloned().unwrap_or_default();
        }
        let prefix = key_prefix(rt, ns);
        let watch = self.blocking(move |s| s.watch(&prefix, after)).await;
        let mut events = match watch {
            Ok(w) => w.events,
            Err(StoreError::Compacted {
                requested,
                compacted,
            }) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {requested} ({compacted})"
                ))
                .to_status();
                let _ = tx.send(WatchEvent::Error(status)).await;
                return Ok(rx);
            }
            Err(e) => return Err(super::store_error(e)),
        };
        let bookmark = bookmark_object(rt);
        let rt = rt.clone();
        tokio::spawn(async move {
            for item in initial_items {
                if tx.send(WatchEvent::Added(item)).await.is_err() {
                    return;
                }
            }
            if opts.send_initial_events {
                let mut b = bookmark.clone();
                b["metadata"]["resourceVersion"] = json!(after.to_string());
                b["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                if tx.send(WatchEvent::Bookmark(b)).await.is_err() {
                    return;
                }
            }
            let mut last = after;
            let mut ticker =
                tokio::time::interval(opts.bookmark_interval.unwrap_or(DEFAULT_BOOKMARK_INTERVAL));
            ticker.tick().await;
            loop {
                tokio::select! {
                    ev = events.recv() => {
                        let Some(ev) = ev else { return };
                        last = ev.revision();
                        if let Some(out) = transition(&rt, &ev, &opts.list) {
                            if tx.send(out).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ = ticker.tick(), if opts.allow_bookmarks => {
                        let mut b = bookmark.clone();
                        b["metadata"]["resourceVersion"] = json!(last.to_string());
                        if tx.send(WatchEvent::Bookmark(b)).await.is_err() {
                            return;
                        }
                    }
                    () = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}

fn bookmark_object(rt: &ResourceType) -> Value {
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": ""}})
}

/// What this watcher sees of a store event, given its selectors.
fn transition(rt: &ResourceType, ev: &Event, opts: &ListOptions) -> Option<WatchEvent> {
    match ev {
        Event::Put { kv, prev } => {
            let obj = decode(rt, kv).ok()?;
            let now = opts.matches(&obj);
            let before = prev
                .as_ref()
                .and_then(|p| decode(rt, p).ok())
                .is_some_and(|p| opts.matches(&p));
            match (prev.is_some() && before, now) {
                (false, true) => Some(WatchEvent::Added(obj)),
                (true, true) => Some(WatchEvent::Modified(obj)),
                (true, false) => Some(WatchEvent::Deleted(obj)),
                (false, false) => None,
            }
        }
        Event::Delete { prev, revision } => {
            let mut obj = decode(rt, prev).ok()?;
            super::set_resource_version(&mut obj, *revision);
            opts.matches(&obj).then_some(WatchEvent::Deleted(obj))
        }
    }
}
