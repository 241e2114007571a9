//! Where things are in the config text: a YAML tree with the location of every key and value,
//! flattened into `path → location` (`nodes[1].extraPortMappings[0].hostPort`), so that
//! validation and patch errors can name `file:line:column` and the field.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use crate::error::{ConfigError, Location};

/// A YAML value with locations (only what the config layer needs to know about it).
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Scalar(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Key>, Spanned<Node>)>),
}

/// A mapping key rendered as text (kind's config has string keys only).
#[derive(Debug)]
pub(crate) struct Key(pub String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Key(match Node::deserialize(d)? {
            Node::Scalar(s) => s,
            Node::Null => String::new(),
            Node::Seq(_) | Node::Map(_) => "<complex key>".to_string(),
        }))
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.to_string()))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(x) = a.next_element::<Spanned<Node>>()? {
            items.push(x);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = a.next_key::<Spanned<Key>>()? {
            let v = a.next_value::<Spanned<Node>>()?;
            entries.push((k, v));
        }
        Ok(Node::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// One entry of the source map.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spot {
    /// Where the key is (`hostPort:`), for mapping values.
    pub key: Option<Location>,
    /// Where the value starts.
    pub value: Location,
    /// Byte offset of the value in the text (for block scalars), when known.
    pub offset: Option<usize>,
}

/// The config text and the location of every field in it.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// How the source is named in messages: the file path, or `<stdin>`.
    pub name: String,
    pub(crate) text: String,
    pub(crate) spots: BTreeMap<String, Spot>,
}

fn loc(l: &serde_saphyr::Location) -> Location {
    Location {
        line: l.line(),
        column: l.column(),
    }
}

fn byte_offset(l: &serde_saphyr::Location) -> Option<usize> {
    l.span().byte_offset().map(|o| o as usize)
}

pub(crate) fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Source {
    /// The root of the document, with its locations recorded; `Ok(None)` for a stream with no
    /// document at all (empty, blank or only comments).
    pub(crate) fn parse(
        name: &str,
        text: &str,
    ) -> Result<(Source, Option<Spanned<Node>>), ConfigError> {
        let mut src = Source {
            name: name.to_string(),
            text: text.to_string(),
            spots: BTreeMap::new(),
        };
        let docs: Vec<Spanned<Node>> =
            serde_saphyr::from_multiple(text).map_err(|e| src.yaml_error(&e))?;
        let mut docs = docs.into_iter();
        let Some(root) = docs.next() else {
            return Ok((src, None));
        };
        if let Some(second) = docs.next() {
            return Err(ConfigError::new(
                name,
                Some(loc(&second.referenced)),
                None,
                "the config has more than one YAML document; a kind config is a single `kind: Cluster` document",
            ));
        }
        src.record("", None, &root);
        Ok((src, Some(root)))
    }

    fn record(&mut self, path: &str, key: Option<Location>, node: &Spanned<Node>) {
        self.spots.insert(
            path.to_string(),
            Spot {
                key,
                value: loc(&node.referenced),
                offset: byte_offset(&node.referenced),
            },
        );
        match &node.value {
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.record(&format!("{path}[{i}]"), None, item);
                }
            }
            Node::Map(entries) => {
                for (k, v) in entries {
                    self.record(&join_key(path, &k.value.0), Some(loc(&k.referenced)), v);
                }
            }
            Node::Null | Node::Scalar(_) => {}
        }
    }

    /// Where a field's value is, if it is in the text.
    pub fn location(&self, path: &str) -> Option<Location> {
        self.spots.get(path).map(|s| s.value)
    }

    /// Where a field's key is (falls back to its value).
    pub fn key_location(&self, path: &str) -> Option<Location> {
        self.spots.get(path).map(|s| s.key.unwrap_or(s.value))
    }

    /// The field at a location reported by the YAML layer: a key there first (unknown fields
    /// are reported at their key), else the deepest value starting there.
    fn path_at(&self, at: Location, prefer_key: bool) -> Option<String> {
        if prefer_key {
            if let Some((p, _)) = self.spots.iter().find(|(_, s)| s.key == Some(at)) {
                return Some(p.clone());
            }
        }
        let by_value = self
            .spots
            .iter()
            .filter(|(_, s)| s.value == at)
            .max_by_key(|(p, _)| p.len())
            .map(|(p, _)| p.clone());
        by_value.or_else(|| {
            self.spots
                .iter()
                .find(|(_, s)| s.key == Some(at))
                .map(|(p, _)| p.clone())
        })
    }

    /// An error at a field (located at its value, or its key when asked).
    pub(crate) fn error_at(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(
            &self.name,
            self.location(path),
            Some(path.to_string()),
            message,
        )
    }

    pub(crate) fn error_at_key(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(
            &self.name,
            self.key_location(path),
            Some(path.to_string()),
            message,
        )
    }

    /// A YAML-layer error of the config itself; names the field when the location is one we
    /// know.
    pub(crate) fn yaml_error(&self, e: &serde_saphyr::Error) -> ConfigError {
        let (message, location) = yaml_message(e);
        let unknown = message.starts_with("unknown field");
        let field = location.and_then(|l| self.path_at(l, unknown));
        let mut message = humanize_yaml_message(&message);
        if field
            .as_deref()
            .is_some_and(|f| f.contains("ConfigPatches[") && f.ends_with(']'))
        {
            message.push_str(" (a patch is YAML or TOML text in a string: write `- |` and the patch indented below it)");
        }
        ConfigError::new(&self.name, location, field, message)
    }

    /// A YAML-layer error of YAML embedded at `path` (a patch), located in the config file.
    pub(crate) fn embedded_yaml_error(
        &self,
        path: &str,
        e: &serde_saphyr::Error,
        what: &str,
    ) -> ConfigError {
        let (message, location) = yaml_message(e);
        let location = location
            .and_then(|l| self.embedded_location(path, l.line, l.column))
            .or_else(|| self.location(path));
        ConfigError::new(
            &self.name,
            location,
            Some(path.to_string()),
            format!("{what}: {}", humanize_yaml_message(&message)),
        )
    }

    /// Location in the config file of a position inside an embedded block scalar (a patch):
    /// `line`/`column` are 1-based within the patch text.
    pub(crate) fn embedded_location(&self, path: &str, line: u64, column: u64) -> Option<Location> {
        let spot = self.spots.get(path)?;
        let start = spot.value;
        let is_block = spot
            .offset
            .and_then(|o| self.text.get(o..))
            .is_some_and(|rest| !rest.starts_with('"') && !rest.starts_with('\''));
        if is_block {
            // A literal block: patch line k is file line start+k-1, shifted by the indentation.
            Some(Location {
                line: start.line + line.saturating_sub(1),
                column: column + start.column.saturating_sub(1),
            })
        } else {
            Some(Location {
                line: start.line,
                column: start.column + column,
            })
        }
    }
}

fn yaml_message(e: &serde_saphyr::Error) -> (String, Option<Location>) {
    let message = UserMessageFormatter
        .format_message(e.without_snippet())
        .into_owned();
    let location = e.location().filter(|l| l.line() > 0).map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    (message, location)
}

/// serde's wording, made to read like kind's.
fn humanize_yaml_message(m: &str) -> String {
    if let Some(rest) = m.strip_prefix("unknown field `") {
        if let Some((name, tail)) = rest.split_once('`') {
            return format!("unknown field \"{name}\"{tail}");
        }
    }
    let m = m.trim();
    match m {
        "expected string scalar" => "expected a string".to_string(),
        "expected sequence start" => "expected a list".to_string(),
        "expected mapping start" => "expected a mapping".to_string(),
        _ => {
            for int in ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"] {
                if m == format!("invalid {int}") {
                    return format!("expected an integer ({int})");
                }
            }
            if m == "invalid bool" || m == "invalid boolean" {
                return "expected a boolean (true or false)".to_string();
            }
            m.to_string()
        }
    }
}
