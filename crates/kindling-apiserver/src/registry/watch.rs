//! Watch: initial state when asked for, then every change, filtered by the selectors with
//! upstream's transitions (an object that stops matching is DELETED for this watcher — its
//! previous state at the change's revision —, one that starts matching is ADDED), bookmarks,
//! and 410 Gone for a revision that has been compacted.
//!
//! Watches are served by the watch cache (`crate::cacher`): each change reaches a watcher as a
//! [`SharedEvent`] that all its watchers share (decoded at most once, each encoding made once).
//! A watch resuming from a revision older than the cache's history is served from the store's
//! log instead, decoded for that watcher alone.

use super::list::ListOptions;
use super::{decode, key_prefix, Registry};
use crate::cacher::{Cacher, EventType, Object, SharedEvent, Start};
use futures::stream::BoxStream;
use futures::StreamExt;
use kindling_api::{ApiError, ResourceType};
use kindling_store::{Event, Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub list: ListOptions,
    /// `sendInitialEvents`; absent, a watch from "" or "0" sends them (upstream's defaulting
    /// with the WatchList feature on, as in v1.35).
    pub send_initial_events: Option<bool>,
    pub allow_bookmarks: bool,
    pub bookmark_interval: Option<Duration>,
}

/// One event of a watch stream, as the internal watchers (namespace and flow-control
/// controllers) read them.
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

/// What a watch stream carries.
pub enum WatchItem {
    /// A change from the cache, shared with its other watchers, as this watcher sees it.
    Shared(EventType, Arc<SharedEvent>),
    /// Made for this watcher alone: bookmarks, errors, events replayed from the store's log.
    Own(WatchEvent),
}

/// Upstream sends a bookmark roughly every minute.
const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Upstream's annotation on the bookmark that ends the initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

impl Registry {
    /// A watch as a stream of items, until the client goes away.
    pub async fn watch_items(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: WatchOptions,
    ) -> Result<BoxStream<'static, WatchItem>, ApiError> {
        let requested =
            match opts.list.resource_version.as_deref() {
                None | Some("") => None,
                Some(rv) => Some(rv.parse::<Revision>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?),
            };
        // "" and "0" start from a state ("" the latest, "0" any), N from the changes after N.
        let legacy = matches!(requested, None | Some(0));
        let initial = opts.send_initial_events.unwrap_or(legacy);
        match requested {
            // The latest state: wait for the cache to hold what the store has committed. If it
            // cannot catch up in time the watch is refused (upstream's "Too large resource
            // version", which clients retry): serving the cache's older state would hide
            // writes already acknowledged.
            None => {
                let current = self.store.current_revision().map_err(super::store_error)?;
                self.wait_for_revision(current).await?;
            }
            Some(n) if n > 0 && initial => self.wait_for_revision(n).await?,
            Some(_) => {}
        }
        let start = match (initial, requested) {
            (true, _) => Start::State,
            (false, Some(n)) if n > 0 => Start::After(n),
            (false, _) => Start::After(self.cache.applied()),
        };
        if let Start::After(after) = start {
            if let Some(gone) = self.compacted_error(after).await {
                return Ok(futures::stream::iter([WatchItem::Own(gone)]).boxed());
            }
        }
        let prefix = key_prefix(rt, ns);
        let watch = match (self.cache.watch(&prefix, start), start) {
            (Ok(watch), _) => watch,
            (Err(_too_old), Start::After(after)) => {
                return self.watch_from_log(rt, prefix, opts, after).await;
            }
            (Err(_), Start::State) => {
                return Err(ApiError::internal(
                    "the watch cache has no state to start from",
                ))
            }
        };
        let end_bookmark = (initial && opts.allow_bookmarks).then_some(watch.revision);
        let live = Live {
            rt: rt.clone(),
            cache: self.cache.clone(),
            ticker: tokio::time::interval_at(
                tokio::time::Instant::now() + bookmark_interval(&opts),
                bookmark_interval(&opts),
            ),
            opts,
            initial: watch.initial.into_iter(),
            end_bookmark,
            replay: watch.replay.into_iter(),
            events: watch.events,
            last: watch.revision,
        };
        Ok(futures::stream::unfold(live, |mut live| async move {
            let item = live.next().await?;
            Some((item, live))
        })
        .boxed())
    }

    /// A watch as decoded events, for the server's own controllers.
    pub async fn watch(
        &self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        opts: WatchOptions,
    ) -> Result<mpsc::Receiver<WatchEvent>, ApiError> {
        let mut items = self.watch_items(rt, ns, opts).await?;
        let (tx, rx) = mpsc::channel(256);
        let rt = rt.clone();
        tokio::spawn(async move {
            while let Some(item) = items.next().await {
                let event = match item {
                    WatchItem::Own(event) => event,
                    WatchItem::Shared(event_type, shared) => {
                        let Ok(obj) = super::decode_cached(&rt, &shared.shown(event_type)) else {
                            continue;
                        };
                        match event_type {
                            EventType::Added => WatchEvent::Added(obj),
                            EventType::Modified => WatchEvent::Modified(obj),
                            EventType::Deleted => WatchEvent::Deleted(obj),
                        }
                    }
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// Waits for the cache to reach `revision` (a watch or list that must not be older).
    pub(super) async fn wait_for_revision(&self, revision: Revision) -> Result<(), ApiError> {
        if self.cache.wait_for(revision).await {
            return Ok(());
        }
        // As upstream, "current" is the revision the cache has reached.
        Err(super::store_error(StoreError::FutureRevision {
            requested: revision,
            current: self.cache.applied(),
        }))
    }

    /// The 410 ERROR event of a watch from before the compacted revision.
    async fn compacted_error(&self, after: Revision) -> Option<WatchEvent> {
        let compacted = self.store.compacted_revision().ok()?;
        (after < compacted).then(|| {
            WatchEvent::Error(
                ApiError::gone(format!("too old resource version: {after} ({compacted})"))
                    .to_status(),
            )
        })
    }

    /// A watch from a revision older than the cache's history, replayed from the store's log
    /// (each event decoded for this watcher).
    async fn watch_from_log(
        &self,
        rt: &Arc<ResourceType>,
        prefix: String,
        opts: WatchOptions,
        after: Revision,
    ) -> Result<BoxStream<'static, WatchItem>, ApiError> {
        let watch = self.blocking(move |s| s.watch(&prefix, after)).await;
        let events = match watch {
            Ok(w) => w.events,
            Err(StoreError::Compacted {
                requested,
                compacted,
            }) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {requested} ({compacted})"
                ))
                .to_status();
                return Ok(
                    futures::stream::iter([WatchItem::Own(WatchEvent::Error(status))]).boxed(),
                );
            }
            Err(e) => return Err(super::store_error(e)),
        };
        let list = opts.list;
        let rt = rt.clone();
        Ok(tokio_stream::wrappers::ReceiverStream::new(events)
            .filter_map(move |event| {
                let item = store_transition(&rt, &event, &list).map(WatchItem::Own);
                async move { item }
            })
            .boxed())
    }
}

fn bookmark_interval(opts: &WatchOptions) -> Duration {
    opts.bookmark_interval.unwrap_or(DEFAULT_BOOKMARK_INTERVAL)
}

/// A watch served by the cache.
struct Live {
    rt: Arc<ResourceType>,
    cache: Arc<Cacher>,
    opts: WatchOptions,
    initial: std::vec::IntoIter<Arc<Object>>,
    end_bookmark: Option<Revision>,
    replay: std::vec::IntoIter<Arc<SharedEvent>>,
    events: mpsc::Receiver<Arc<SharedEvent>>,
    /// The revision this watcher has seen everything up to.
    last: Revision,
    ticker: tokio::time::Interval,
}

impl Live {
    async fn next(&mut self) -> Option<WatchItem> {
        loop {
            if let Some(object) = self.initial.next() {
                let event = Arc::new(SharedEvent::initial(object));
                if let Some(seen) = transition(&event, &self.opts.list) {
                    return Some(WatchItem::Shared(seen, event));
                }
                continue;
            }
            if let Some(revision) = self.end_bookmark.take() {
                return Some(WatchItem::Own(WatchEvent::Bookmark(bookmark(
                    &self.rt, revision, true,
                ))));
            }
            if let Some(event) = self.replay.next() {
                self.last = event.revision();
                if let Some(seen) = transition(&event, &self.opts.list) {
                    return Some(WatchItem::Shared(seen, event));
                }
                continue;
            }
            tokio::select! {
                biased;
                event = self.events.recv() => {
                    // None: the cache ended this watch (a full queue, or a reload).
                    let event = event?;
                    self.last = event.revision();
                    if let Some(seen) = transition(&event, &self.opts.list) {
                        return Some(WatchItem::Shared(seen, event));
                    }
                }
                _ = self.ticker.tick(), if self.opts.allow_bookmarks => {
                    // Everything up to `applied` was queued before it was published: with an
                    // empty queue after reading it, this watcher has seen all of it.
                    let applied = self.cache.applied();
                    if self.events.is_empty() {
                        self.last = self.last.max(applied);
                        return Some(WatchItem::Own(WatchEvent::Bookmark(bookmark(
                            &self.rt, self.last, false,
                        ))));
                    }
                }
            }
        }
    }
}

fn bookmark(rt: &ResourceType, revision: Revision, initial_events_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({INITIAL_EVENTS_END: "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata})
}

/// What this watcher sees of a shared change, given its selectors: decoded (once, for all
/// watchers) only when a selector needs the object.
fn transition(event: &SharedEvent, opts: &ListOptions) -> Option<EventType> {
    let kind = event.kind();
    if opts.label_selector.is_none() && opts.field_selector.is_none() {
        return Some(kind);
    }
    let now = event.object().is_some_and(|o| opts.matches(o));
    match kind {
        EventType::Added => now.then_some(EventType::Added),
        EventType::Deleted => now.then_some(EventType::Deleted),
        EventType::Modified => {
            let before = event.prev().is_some_and(|o| opts.matches(o));
            match (before, now) {
                (false, true) => Some(EventType::Added),
                (true, true) => Some(EventType::Modified),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            }
        }
    }
}

/// What this watcher sees of a store event (a watch replayed from the log).
fn store_transition(rt: &ResourceType, ev: &Event, opts: &ListOptions) -> Option<WatchEvent> {
    match ev {
        Event::Put { kv, prev } => {
            let obj = decode(rt, kv).ok()?;
            let now = opts.matches(&obj);
            let before = prev
                .as_ref()
                .and_then(|p| decode(rt, p).ok())
                .filter(|p| opts.matches(p));
            match (prev.is_some(), before, now) {
                (false, _, true) | (true, None, true) => Some(WatchEvent::Added(obj)),
                (true, Some(_), true) => Some(WatchEvent::Modified(obj)),
                (true, Some(mut old), false) => {
                    super::set_resource_version(&mut old, kv.mod_revision);
                    Some(WatchEvent::Deleted(old))
                }
                (_, _, false) => None,
            }
        }
        Event::Delete { prev, revision } => {
            let mut obj = decode(rt, prev).ok()?;
            super::set_resource_version(&mut obj, *revision);
            opts.matches(&obj).then_some(WatchEvent::Deleted(obj))
        }
    }
}
