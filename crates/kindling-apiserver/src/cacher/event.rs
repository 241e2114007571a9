//! One change as every watcher of it shares it (upstream's cachingObject): the object is decoded
//! at most once, whatever the number of watchers whose selectors need it, and each encoding of
//! the event (a watch line in one representation) is made once and handed to every watcher
//! that asks for the same one as the same bytes. It lives as long as some watcher still has it
//! queued, so its memos cost nothing once the event has been sent.

use bytes::Bytes;
use serde_json::Value;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::state::{Change, ChangeKind, Object};

/// What a watcher is told of a change: upstream's watch event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct SharedEvent {
    pub change: Arc<Change>,
    object: OnceLock<Option<Value>>,
    prev: OnceLock<Option<Value>>,
    /// A modification that takes the object out of a watcher's selection is a DELETED of its
    /// previous state at the event's revision (upstream's cacheWatcher).
    prev_at_revision: OnceLock<Option<Arc<Object>>>,
    lines: Mutex<Vec<(String, Bytes)>>,
}

impl SharedEvent {
    pub fn new(change: Arc<Change>) -> SharedEvent {
        SharedEvent {
            change,
            object: OnceLock::new(),
            prev: OnceLock::new(),
            prev_at_revision: OnceLock::new(),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// An object of a watch's initial state, as an ADDED change.
    pub fn initial(object: Arc<Object>) -> SharedEvent {
        SharedEvent::new(Arc::new(Change {
            kind: ChangeKind::Added,
            revision: object.revision,
            object,
            prev: None,
        }))
    }

    pub fn kind(&self) -> EventType {
        match self.change.kind {
            ChangeKind::Added => EventType::Added,
            ChangeKind::Modified => EventType::Modified,
            ChangeKind::Deleted => EventType::Deleted,
        }
    }

    pub fn revision(&self) -> i64 {
        self.change.revision
    }

    /// The object after the change, decoded (None if it is not valid JSON).
    pub fn object(&self) -> Option<&Value> {
        self.object
            .get_or_init(|| serde_json::from_slice(&self.change.object.json).ok())
            .as_ref()
    }

    /// The object before the change, decoded.
    pub fn prev(&self) -> Option<&Value> {
        self.prev
            .get_or_init(|| {
                let prev = self.change.prev.as_ref()?;
                serde_json::from_slice(&prev.json).ok()
            })
            .as_ref()
    }

    /// The object a watcher is sent for `event_type`: for a DELETED that is really a
    /// modification leaving the watcher's selection, the previous state at this revision.
    pub fn shown(&self, event_type: EventType) -> Arc<Object> {
        let leaving = event_type == EventType::Deleted && self.change.kind == ChangeKind::Modified;
        if !leaving {
            return self.change.object.clone();
        }
        self.prev_at_revision
            .get_or_init(|| {
                let prev = self.change.prev.as_ref()?;
                let json = super::served::with_resource_version(&prev.json, self.revision())?;
                Some(Arc::new(Object {
                    key: prev.key.clone(),
                    json: Bytes::from(json),
                    served: prev.served,
                    revision: self.revision(),
                }))
            })
            .clone()
            .unwrap_or_else(|| self.change.object.clone())
    }

    /// The encoding named `key`, made by `encode` the first time any watcher asks for it.
    pub fn line(&self, key: &str, encode: impl FnOnce() -> Bytes) -> Bytes {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, line)) = lines.iter().find(|(k, _)| k == key) {
            return line.clone();
        }
        // Encoded under the lock: another watcher asking for the same bytes waits for them
        // instead of making them again.
        let line = encode();
        lines.push((key.to_string(), line.clone()));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str, revision: i64) -> Arc<Object> {
        Arc::new(Object {
            key: "/registry/core/pods/d/a".into(),
            json: Bytes::from(json.to_string()),
            served: true,
            revision,
        })
    }

    #[test]
    fn a_line_is_encoded_once() {
        let ev = SharedEvent::initial(object(r#"{"metadata":{"resourceVersion":"3"}}"#, 3));
        let mut calls = 0;
        let a = ev.line("k", || {
            calls += 1;
            Bytes::from_static(b"x")
        });
        let b = ev.line("k", || {
            calls += 1;
            Bytes::from_static(b"y")
        });
        assert_eq!(
            (a, b, calls),
            (Bytes::from_static(b"x"), Bytes::from_static(b"x"), 1)
        );
        assert_eq!(ev.kind(), EventType::Added);
        assert_eq!(ev.object().unwrap()["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn leaving_the_selection_shows_the_previous_state_at_the_new_revision() {
        let ev = SharedEvent::new(Arc::new(Change {
            kind: ChangeKind::Modified,
            revision: 9,
            object: object(
                r#"{"metadata":{"resourceVersion":"9","labels":{"a":"2"}}}"#,
                9,
            ),
            prev: Some(object(
                r#"{"metadata":{"resourceVersion":"4","labels":{"a":"1"}}}"#,
                4,
            )),
        }));
        assert_eq!(ev.prev().unwrap()["metadata"]["labels"]["a"], "1");
        let shown = ev.shown(EventType::Deleted);
        assert_eq!(
            &shown.json[..],
            br#"{"metadata":{"resourceVersion":"9","labels":{"a":"1"}}}"#
        );
        assert_eq!(ev.shown(EventType::Modified).revision, 9);
    }
}
