//! The one event recorder of kindling's components (scheduler, kubelet, controllers): core/v1
//! Events, what `kubectl describe` lists.
//!
//! Recording never waits on the API server: a record goes into a bounded queue and a worker task
//! writes it with bounded concurrency. Repeats become one Event whose `count` and
//! `lastTimestamp` grow ([`correlate`]); when the worker falls far behind, new records are
//! dropped, as upstream's event broadcaster does. A lost event is only logged.
//!
//! core/v1 rather than kube-runtime's `events.k8s.io/v1` recorder: `kubectl describe` reads
//! core/v1, and the API server stores both groups' Events as one (events.k8s.io/v1 shows these
//! same Events, converted), as upstream does.

mod correlate;
mod worker;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::Resource;
use std::borrow::Cow;
use tokio::sync::mpsc;

/// Upstream truncates event notes to this many bytes.
const NOTE_LENGTH_LIMIT: usize = 1024;
const QUEUE_CAPACITY: usize = 8192;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Who records: `source.component`/`reportingComponent`, and `source.host` and
/// `reportingInstance` (the node for a kubelet, `<component>-<host>` for the control plane).
#[derive(Clone, Debug)]
pub struct Reporter {
    pub component: String,
    pub host: Option<String>,
    pub instance: String,
}

impl Reporter {
    /// A control-plane component: instance `<component>-<hostname>`, no host.
    pub fn control_plane(component: &str) -> Reporter {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "kindling".into());
        Reporter {
            component: component.into(),
            host: None,
            instance: format!("{component}-{host}"),
        }
    }

    /// A node's component (the kubelet): host and instance are the node.
    pub fn node(component: &str, node: &str) -> Reporter {
        Reporter {
            component: component.into(),
            host: Some(node.into()),
            instance: node.into(),
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct Record {
    /// The object the event is about (kind, namespace for namespaced objects, name, uid;
    /// `fieldPath` for a container). Events of cluster-scoped objects live in `default`.
    pub object: ObjectReference,
    pub type_: EventType,
    pub reason: Cow<'static, str>,
    pub action: Cow<'static, str>,
    pub note: String,
}

impl Record {
    fn key(&self) -> String {
        let o = &self.object;
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            field(&o.uid),
            field(&o.namespace),
            field(&o.name),
            field(&o.field_path),
            self.type_.as_str().into(),
            self.reason.to_string(),
            self.note.clone(),
        ]
        .join("\u{0}")
    }

    fn object_name(&self) -> &str {
        self.object.name.as_deref().unwrap_or_default()
    }

    fn namespace(&self) -> &str {
        self.object.namespace.as_deref().unwrap_or("default")
    }
}

/// A reference to `object` as an Event's `involvedObject`.
pub fn reference<K: Resource + kube::ResourceExt>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::API_VERSION.into()),
        kind: Some(K::KIND.into()),
        namespace: object.namespace(),
        name: Some(object.name_any()),
        uid: object.uid(),
        resource_version: object.resource_version(),
        field_path: None,
    }
}

/// Hands records to the worker; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// Starts the worker, which writes at most `parallel` Events at a time. Must be called
    /// inside a tokio runtime; the worker ends when every `Recorder` clone is dropped.
    pub fn spawn(client: kube::Client, reporter: Reporter, parallel: usize) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(worker::Worker::new(client, reporter, parallel).run(rx));
        Recorder { tx }
    }

    pub fn publish(&self, mut record: Record) {
        record.note = truncate_note(&record.note);
        if let Err(mpsc::error::TrySendError::Full(r)) = self.tx.try_send(record) {
            tracing::warn!(reason = %r.reason, "event queue full; dropping an event");
        }
    }

    pub fn normal(
        &self,
        object: ObjectReference,
        reason: impl Into<Cow<'static, str>>,
        action: impl Into<Cow<'static, str>>,
        note: impl Into<String>,
    ) {
        self.publish(Record {
            object,
            type_: EventType::Normal,
            reason: reason.into(),
            action: action.into(),
            note: note.into(),
        });
    }

    pub fn warning(
        &self,
        object: ObjectReference,
        reason: impl Into<Cow<'static, str>>,
        action: impl Into<Cow<'static, str>>,
        note: impl Into<String>,
    ) {
        self.publish(Record {
            object,
            type_: EventType::Warning,
            reason: reason.into(),
            action: action.into(),
            note: note.into(),
        });
    }
}

/// Cuts a message to the event note limit the way upstream does (`…` replaced by ` ...`).
pub fn truncate_note(message: &str) -> String {
    if message.len() <= NOTE_LENGTH_LIMIT {
        return message.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 4;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &message[..end])
}

/// Now as RFC 3339 with seconds, the precision of core/v1 Event timestamps.
pub fn timestamp_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_truncated_like_upstream() {
        let short = "0/3 nodes are available.";
        assert_eq!(truncate_note(short), short);
        let long = "x".repeat(2000);
        let t = truncate_note(&long);
        assert_eq!(t.len(), NOTE_LENGTH_LIMIT);
        assert!(t.ends_with("x ..."));
        let multibyte = "é".repeat(1000);
        assert!(truncate_note(&multibyte).len() <= NOTE_LENGTH_LIMIT);
    }

    #[test]
    fn timestamps_are_rfc3339_seconds() {
        let t = timestamp_now();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn cluster_scoped_objects_record_in_default() {
        let r = Record {
            object: ObjectReference {
                kind: Some("Node".into()),
                name: Some("n1".into()),
                ..Default::default()
            },
            type_: EventType::Normal,
            reason: "NodeNotReady".into(),
            action: "".into(),
            note: String::new(),
        };
        assert_eq!(r.namespace(), "default");
    }
}
