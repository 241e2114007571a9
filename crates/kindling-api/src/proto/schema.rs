//! The shape of the generated message table (`messages.rs`) and lookups into it.

use super::messages::{MESSAGES, META_V1, PACKAGES};
use foldhash::fast::FixedState;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One protobuf package of the Kubernetes API (`k8s.io.api.core.v1`, …).
pub(super) struct Package {
    /// The OpenAPI definition prefix of its messages, e.g. `io.k8s.api.core.v1`.
    pub definition_prefix: &'static str,
    /// Its API group (`""` for core, `meta.k8s.io` for meta/v1); `None` for packages that are no
    /// API group (runtime, intstr, resource).
    pub group: Option<&'static str>,
    pub version: &'static str,
}

/// A message whose JSON form is not an object of its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// metav1.Time: `{seconds=1, nanos=2}` → RFC 3339 string, second precision.
    Time,
    /// metav1.MicroTime: `{seconds=1, nanos=2}` → RFC 3339 string with microseconds.
    MicroTime,
    /// metav1.Duration: `{duration=1}` nanoseconds → Go duration string (`1h0m0s`).
    Duration,
    /// intstr.IntOrString: `{type=1, intVal=2, strVal=3}` → JSON number or string.
    IntOrString,
    /// resource.Quantity: `{string=1}` → JSON string.
    Quantity,
    /// runtime.RawExtension, metav1.FieldsV1: `{raw=1}` → the embedded JSON document.
    RawJson,
    /// A Go slice type wrapped in a one-field message (`ExtraValue {items=1}`) → JSON array.
    List,
}

/// The type of a field (of a map's values, for maps).
#[allow(dead_code)] // U32, U64, F64 and F32 appear in no package of the table yet
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Str,
    Bytes,
    Bool,
    I32,
    I64,
    U32,
    U64,
    F64,
    F32,
    /// A message: package index into `PACKAGES` and message name.
    Msg(u8, &'static str),
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Card {
    One,
    Many,
    /// A map with keys of this type; the field's `ty` is the value type.
    Map(Ty),
}

/// The Go field is a pointer: a value on the wire was set explicitly, zero or not.
pub(super) const POINTER: u8 = 1;
/// The Go field's JSON tag has `omitempty`.
pub(super) const OMITEMPTY: u8 = 2;
/// The Go field is embedded with `json:",inline"`: its fields appear in the parent object.
pub(super) const INLINE: u8 = 4;

pub(super) struct Field {
    pub tag: u32,
    /// The JSON property name (empty for inline fields).
    pub json: &'static str,
    pub ty: Ty,
    pub card: Card,
    pub flags: u8,
}

impl Field {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

pub(super) struct Message {
    pub package: u8,
    pub name: &'static str,
    pub special: Special,
    /// In Go struct order, which is the order of the JSON properties.
    pub fields: &'static [Field],
}

impl Message {
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.ConfigMap`.
    pub fn definition_name(&self) -> String {
        format!(
            "{}.{}",
            PACKAGES[self.package as usize].definition_prefix, self.name
        )
    }

    pub fn field(&self, tag: u32) -> Option<(usize, &'static Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.tag == tag)
    }
}

/// Messages by package and name: a fixed table (looked up by requests, never added to by them),
/// so a fast unkeyed hash is safe.
type Index = HashMap<(u8, &'static str), &'static Message, FixedState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| MESSAGES.iter().map(|m| ((m.package, m.name), m)).collect())
}

/// The message `name` of package `package`.
pub(super) fn message(package: u8, name: &str) -> Option<&'static Message> {
    index().get(&(package, name)).copied()
}

/// Kinds every group/version accepts as request bodies (metav1.AddToGroupVersion registers them
/// in every group), decoded with the meta/v1 messages.
const META_KINDS: &[&str] = &[
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
    "GetOptions",
    "ListOptions",
    "Status",
];

/// The message of `kind` in API group/version `group`/`version`.
pub(super) fn message_for_kind(group: &str, version: &str, kind: &str) -> Option<&'static Message> {
    let in_group = PACKAGES
        .iter()
        .enumerate()
        .filter(|(_, p)| p.group == Some(group) && p.version == version)
        .find_map(|(i, _)| message(i as u8, kind));
    match in_group {
        Some(m) => Some(m),
        None if META_KINDS.contains(&kind) => message(META_V1, kind),
        None => None,
    }
}

/// Every message of the table, for tests.
#[cfg(test)]
pub(super) fn all() -> &'static [Message] {
    MESSAGES
}
