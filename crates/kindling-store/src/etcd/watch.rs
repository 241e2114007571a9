//! One task per watch: reads etcd's watch stream and forwards its events, converted, in
//! revision order. The watch ends (its channel closes) when the consumer drops it, when etcd
//! cancels it (compaction overtook it) or when the stream breaks; the consumer re-watches from
//! the last revision it saw, as with the SQLite backend.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use etcd_client::{Client, EventType, WatchOptions, WatchStream};
use tokio::sync::mpsc;

use super::convert::{self, from_etcd, key_value, range_end, range_start, to_etcd};
use crate::{Event, Result, Revision, StoreError};

/// Opens an etcd watch of the keys under `prefix` for revisions after `after`, with previous
/// values (an update's and a delete's event carry the value they replaced).
pub(super) async fn open(client: &Client, prefix: &str, after: Revision) -> Result<WatchStream> {
    let options = WatchOptions::new()
        .with_range(range_end(prefix))
        .with_prev_key()
        .with_start_revision(to_etcd(after) + 1);
    client
        .watch_client()
        .watch(range_start(prefix, None), Some(options))
        .await
        .map_err(|error| convert::internal(&error))
}

pub(super) async fn forward(
    mut stream: WatchStream,
    sender: mpsc::Sender<Event>,
    compacted: Arc<AtomicI64>,
) {
    loop {
        let message = tokio::select! {
            () = sender.closed() => return,
            message = stream.message() => message,
        };
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "etcd watch stream ended");
                return;
            }
        };
        if response.compact_revision() > 0 {
            compacted.fetch_max(from_etcd(response.compact_revision()), Ordering::SeqCst);
        }
        if response.canceled() {
            tracing::debug!(reason = response.cancel_reason(), "etcd cancelled a watch");
            return;
        }
        for event in response.events() {
            let event = match convert_event(event) {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(%error, "ending a watch on an event it cannot convert");
                    return;
                }
            };
            if sender.send(event).await.is_err() {
                return;
            }
        }
    }
}

fn convert_event(event: &etcd_client::Event) -> Result<Event> {
    let kv = event
        .kv()
        .ok_or_else(|| StoreError::Internal("an etcd event without a key".to_string()))?;
    let prev = event.prev_kv().map(key_value).transpose()?;
    match event.event_type() {
        EventType::Put => {
            let kv = key_value(kv)?;
            // A creation replaced nothing; an update must name what it replaced.
            let prev = if kv.create_revision == kv.mod_revision {
                None
            } else {
                Some(prev.ok_or_else(|| missing_previous(&kv.key))?)
            };
            Ok(Event::Put { kv, prev })
        }
        EventType::Delete => {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            Ok(Event::Delete {
                prev: prev.ok_or_else(|| missing_previous(&key))?,
                revision: from_etcd(kv.mod_revision()),
            })
        }
    }
}

fn missing_previous(key: &str) -> StoreError {
    StoreError::Internal(format!(
        "etcd sent a change of {key} without its previous value"
    ))
}
