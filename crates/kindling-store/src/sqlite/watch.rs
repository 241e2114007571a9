//! The watch hub: hands committed events to watchers, in revision order, without ever blocking
//! the writer.
//!
//! Each watcher has a bounded channel. The writer only ever `try_send`s; a watcher whose channel
//! is full is dropped: its channel closes after the events already in it, the API server ends
//! that HTTP watch and the client re-lists or re-watches from the last revision it saw (the usual
//! Kubernetes behaviour for a watcher that falls behind). What a watcher receives is therefore
//! always a gapless, duplicate-free run of revisions, possibly cut short.
//!
//! A watch starting in the past first replays the log. To get no gap and no duplicate between
//! replay and live events, `watch` registers the watcher while holding the hub lock and takes the
//! current revision S under that same lock. The writer stores a batch's revision before it
//! publishes the batch under the lock, so every revision <= S is committed (the replay reads it
//! from the log) and every revision > S is published after registration (the watcher gets it
//! live). Live events that arrive while the replay runs are held in a per-watcher queue and sent
//! after the replay; a replay thread, not the caller, does the sending, so `watch` never blocks
//! and needs no async runtime.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError};

use tokio::sync::mpsc;

use super::keys::has_prefix;
use super::{reader, Shared};
use crate::{Event, Revision, StoreError};

/// Log rows read per replay query; bounds memory and keeps each read transaction short.
const REPLAY_CHUNK: usize = 512;

pub(super) type WatcherId = u64;

#[derive(Default)]
pub(super) struct Hub {
    next_id: WatcherId,
    watchers: Vec<Watcher>,
}

struct Watcher {
    id: WatcherId,
    prefix: String,
    /// Only events above this revision are delivered live.
    live_after: Revision,
    sender: mpsc::Sender<Event>,
    /// While the log is being replayed: live events held back until the replay is done.
    held_back: Option<VecDeque<Event>>,
}

/// What a replay thread must do once it has sent the log.
pub(super) enum AfterReplay {
    /// Send these held-back events, then ask again.
    Send(VecDeque<Event>),
    /// The watcher now gets events straight from the writer; the replay thread is done.
    Live,
    /// The watcher was dropped (fell behind, receiver gone or store closed).
    Gone,
}

impl Hub {
    /// Registers a watcher receiving live events above `live_after`. With `replaying`, live
    /// events are held back until `after_replay` releases them.
    pub fn register(
        &mut self,
        prefix: &str,
        live_after: Revision,
        sender: mpsc::Sender<Event>,
        replaying: bool,
    ) -> WatcherId {
        self.next_id += 1;
        self.watchers.push(Watcher {
            id: self.next_id,
            prefix: prefix.to_string(),
            live_after,
            sender,
            held_back: replaying.then(VecDeque::new),
        });
        self.next_id
    }

    /// Delivers one committed batch (in revision order). `max_held_back` bounds the queue of a
    /// watcher still replaying; past it the watcher is dropped like one with a full channel.
    pub fn publish(&mut self, events: &[Event], max_held_back: usize) {
        self.watchers.retain_mut(|watcher| {
            for event in events {
                if event.revision() <= watcher.live_after || !has_prefix(event.key(), &watcher.prefix)
                {
                    continue;
                }
                let delivered = match &mut watcher.held_back {
                    Some(queue) if queue.len() < max_held_back => {
                        queue.push_back(event.clone());
                        true
                    }
                    Some(_) => false,
                    None => watcher.sender.try_send(event.clone()).is_ok(),
                };
                if !delivered {
                    tracing::debug!(prefix = %watcher.prefix, "dropping a watcher that fell behind");
                    return false;
                }
            }
            !watcher.sender.is_closed()
        });
    }

    pub fn contains(&self, id: WatcherId) -> bool {
        self.watchers.iter().any(|watcher| watcher.id == id)
    }

    pub fn remove(&mut self, id: WatcherId) {
        self.watchers.retain(|watcher| watcher.id != id);
    }

    /// Called by the replay thread when its log replay is sent.
    pub fn after_replay(&mut self, id: WatcherId) -> AfterReplay {
        let Some(watcher) = self.watchers.iter_mut().find(|watcher| watcher.id == id) else {
            return AfterReplay::Gone;
        };
        match watcher.held_back.as_mut() {
            Some(queue) if !queue.is_empty() => AfterReplay::Send(std::mem::take(queue)),
            _ => {
                watcher.held_back = None;
                AfterReplay::Live
            }
        }
    }

    /// Drops every watcher, closing their channels (the store is shutting down).
    pub fn close_all(&mut self) {
        self.watchers.clear();
    }
}

/// Replays events for `prefix` in `(after, until]` from the log into `sender`, then the events
/// held back meanwhile, then hands the watcher over to live delivery. Runs on its own thread:
/// `blocking_send` waits for the receiver, which only drains once `watch` has returned.
pub(super) fn replay(
    shared: Arc<Shared>,
    id: WatcherId,
    prefix: String,
    after: Revision,
    until: Revision,
    sender: mpsc::Sender<Event>,
) {
    let mut cursor = after;
    while cursor < until {
        if !shared
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
        {
            return;
        }
        let chunk = shared
            .reads
            .with(|conn| reader::read_events(conn, &prefix, cursor, until, REPLAY_CHUNK));
        let events = match chunk {
            Ok(events) => events,
            Err(error) => {
                // Compacted while replaying, or a read failure: end the watch; the client
                // re-watches and gets a proper error then.
                match error {
                    StoreError::Compacted { .. } => {
                        tracing::debug!(%prefix, %error, "ending watch");
                    }
                    _ => tracing::warn!(%prefix, %error, "ending watch: replay failed"),
                }
                shared
                    .hub
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(id);
                return;
            }
        };
        let last_chunk = events.len() < REPLAY_CHUNK;
        for event in events {
            cursor = event.revision();
            if sender.blocking_send(event).is_err() {
                shared
                    .hub
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(id);
                return;
            }
        }
        if last_chunk {
            break;
        }
    }
    loop {
        let next = shared
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .after_replay(id);
        match next {
            AfterReplay::Send(events) => {
                for event in events {
                    if sender.blocking_send(event).is_err() {
                        shared
                            .hub
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(id);
                        return;
                    }
                }
            }
            AfterReplay::Live | AfterReplay::Gone => return,
        }
    }
}
