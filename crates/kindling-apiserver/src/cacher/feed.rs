//! The one thread that follows the store: it loads the state at the store's compacted revision,
//! replays the retained history from there (so a watch may resume from any revision the store
//! still has) and then applies each committed change as it comes: into its resource's cache,
//! then onto the queue of every watcher of its keys. A store watch that ends (the feed fell
//! behind) is resumed from the last applied revision; if that revision has been compacted
//! meanwhile the cache is loaded again and every watch ends, as upstream's cacher re-initialises.

use super::budget::TimeBudget;
use super::event::SharedEvent;
use super::state::{Object, ResourceCache};
use super::{Inner, Resource, HISTORY_PER_RESOURCE, ROOT};
use kindling_store::{Event, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long to wait before trying again after the store failed.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until the store is gone.
pub async fn run(inner: Arc<Inner>, store: Weak<dyn Store>) {
    let mut budget = TimeBudget::new(Instant::now());
    loop {
        let Some(mut events) = load(&inner, &store).await else {
            return;
        };
        loop {
            while let Some(event) = events.recv().await {
                apply(&inner, &store, &event, &mut budget).await;
            }
            // The store dropped this watch (it fell behind) or is closing: resume.
            let Some(live) = store.upgrade() else { return };
            let from = *inner.applied.borrow();
            match live.watch(ROOT, from) {
                Ok(watch) => events = watch.events,
                Err(StoreError::Compacted { .. }) => {
                    tracing::warn!(from, "watch cache fell behind compaction; reloading");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "watch cache: resuming the store watch failed");
                    drop(live);
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

/// Loads the state at the compacted revision into fresh caches (ending every watch of the old
/// ones) and starts the store watch that replays the history after it.
async fn load(inner: &Inner, store: &Weak<dyn Store>) -> Option<mpsc::Receiver<Event>> {
    loop {
        let live = store.upgrade()?;
        // This thread is the feed's own: it may block on the store.
        let loaded = (|| {
            let at = live.compacted_revision()?;
            let page = live.list(ROOT, None, 0, Some(at))?;
            let watch = live.watch(ROOT, at)?;
            Ok::<_, StoreError>((page, watch))
        })();
        drop(live);
        let (page, watch) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(%error, "watch cache: loading the store failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let mut resources: HashMap<String, ResourceCache> = HashMap::new();
        for kv in &page.items {
            resources
                .entry(super::resource_prefix(&kv.key).to_string())
                .or_insert_with(|| ResourceCache::new(page.revision, HISTORY_PER_RESOURCE))
                .load(Object::from_kv(kv, kv.mod_revision));
        }
        let resources = resources
            .into_iter()
            .map(|(name, cache)| {
                let resource = Resource {
                    cache,
                    watchers: Vec::new(),
                };
                (name, Arc::new(Mutex::new(resource)))
            })
            .collect();
        // The old caches' watchers are dropped with them: their watches end.
        *inner
            .resources
            .write()
            .unwrap_or_else(PoisonError::into_inner) = resources;
        inner.loaded.store(page.revision, Ordering::SeqCst);
        inner.applied.send_replace(page.revision);
        return Some(watch.events);
    }
}

/// Applies one change and queues it to its watchers, waiting (within the budget) for those
/// whose queues are full and ending the watches that stay full.
async fn apply(inner: &Inner, store: &Weak<dyn Store>, event: &Event, budget: &mut TimeBudget) {
    let resource = inner.resource(event.key());
    let (shared, blocked) = {
        let mut resource = resource.lock().unwrap_or_else(PoisonError::into_inner);
        let change = resource.cache.apply(event);
        if let Some(store) = store.upgrade() {
            if let Ok(compacted) = store.compacted_revision() {
                resource.cache.forget_compacted(compacted);
            }
        }
        let shared = Arc::new(SharedEvent::new(change));
        let mut blocked = Vec::new();
        resource.watchers.retain(|watcher| {
            if shared.revision() <= watcher.after
                || !shared.change.key().starts_with(&watcher.prefix)
            {
                return true;
            }
            match watcher.sender.try_send(shared.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    blocked.push((watcher.id, watcher.sender.clone()));
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        (shared, blocked)
    };
    if !blocked.is_empty() {
        wait_for_blocked(&resource, &shared, blocked, budget).await;
    }
    inner.applied.send_replace(event.revision());
}

/// Upstream's dispatch to blocked watchers: wait for them while the budget lasts, then end
/// the watches that still have no room (their clients re-watch from the last revision they
/// saw).
async fn wait_for_blocked(
    resource: &Mutex<Resource>,
    shared: &Arc<SharedEvent>,
    blocked: Vec<(u64, mpsc::Sender<Arc<SharedEvent>>)>,
    budget: &mut TimeBudget,
) {
    let start = Instant::now();
    let deadline = start + budget.take_available(start);
    let mut ended = Vec::new();
    for (id, sender) in blocked {
        let sent = tokio::time::timeout_at(deadline.into(), sender.send(shared.clone())).await;
        if !matches!(sent, Ok(Ok(()))) {
            ended.push(id);
        }
    }
    budget.return_unused(deadline.saturating_duration_since(Instant::now()));
    if ended.is_empty() {
        return;
    }
    let mut resource = resource.lock().unwrap_or_else(PoisonError::into_inner);
    for watcher in resource.watchers.iter().filter(|w| ended.contains(&w.id)) {
        tracing::info!(
            prefix = %watcher.prefix,
            "Forcing watcher close due to unresponsiveness"
        );
    }
    resource
        .watchers
        .retain(|watcher| !ended.contains(&watcher.id));
}
