//! Pruning and defaulting in one pass (upstream's pruning/algorithm.go, then
//! defaulting/algorithm.go, with the same result as running them one after the other), and
//! unknown-field detection without touching the object (what pruning would drop, for
//! `fieldValidation`).

use super::{unknown_field, Additional, Node, Path, Structural};
use serde_json::{Map, Value};

/// The fields of an embedded object (or the root) that pruning keeps whatever the schema says.
const OBJECT_META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// What pruning does with one field of an object.
enum Field<'a> {
    /// `apiVersion`/`kind`/`metadata` of a resource: kept; its schema (if any) applies to
    /// `apiVersion` and `kind`, and defaults to `metadata`.
    Meta(Option<&'a Node>),
    /// A field the schema describes: walked with its schema.
    Child(&'a Node),
    /// Kept as it is (`additionalProperties: true`, preserve-unknown-fields).
    Keep,
    Drop,
}

impl Node {
    fn field(&self, key: &str, keep_meta: bool) -> Field<'_> {
        let prop = self.properties.as_ref().and_then(|p| p.get(key));
        if (keep_meta || self.embedded) && OBJECT_META_FIELDS.contains(&key) {
            return Field::Meta(prop);
        }
        if let Some(s) = prop {
            return Field::Child(s);
        }
        match &self.additional {
            Additional::Schema(s) => Field::Child(s),
            Additional::Any => Field::Keep,
            _ if self.preserve_unknown => Field::Keep,
            _ => Field::Drop,
        }
    }

    /// Drops unknown fields below `v` (their messages into `out`, in document order) and,
    /// with `defaults`, fills in defaults on the way back up.
    fn prune(
        &self,
        v: &mut Value,
        path: &Path,
        keep_meta: bool,
        defaults: bool,
        out: &mut Vec<String>,
    ) {
        match v {
            Value::Object(map) => {
                let mut dropped = Vec::new();
                let mut meta_defaults = false;
                for (key, value) in map.iter_mut() {
                    match self.field(key, keep_meta) {
                        Field::Meta(Some(s)) if key != "metadata" => {
                            s.prune(value, &Path::Field(path, key), false, defaults, out);
                        }
                        Field::Meta(Some(_)) => meta_defaults = true,
                        Field::Child(s) => {
                            s.prune(value, &Path::Field(path, key), false, defaults, out);
                        }
                        Field::Meta(None) | Field::Keep => {}
                        Field::Drop => {
                            out.push(unknown_field(&Path::Field(path, key)));
                            dropped.push(key.clone());
                        }
                    }
                }
                for key in dropped {
                    map.shift_remove(&key);
                }
                if defaults {
                    self.fill_defaults(map, keep_meta, meta_defaults);
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for (i, item) in items.iter_mut().enumerate() {
                        s.prune(item, &Path::Index(path, i), false, defaults, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Defaulting of an object whose fields the pruning pass has already walked (and
    /// defaulted): what upstream's defaulting would still do to it — absent fields filled in
    /// (and defaulted inside), a resource's `metadata` defaulted, and where both `properties`
    /// and `additionalProperties` are given, the latter's defaults on the former's fields.
    fn fill_defaults(&self, map: &mut Map<String, Value>, keep_meta: bool, meta_defaults: bool) {
        let Some(props) = &self.properties else {
            return;
        };
        let mut metadata_done = false;
        for &i in &self.defaulted {
            let (key, s) = &props.ordered[i];
            let absent = match map.get(key) {
                None => true,
                Some(Value::Null) => !s.nullable,
                Some(_) => false,
            };
            if absent {
                if let Some(d) = &s.default {
                    map.insert(key.clone(), d.clone());
                }
                if let Some(v) = map.get_mut(key) {
                    s.apply_defaults(v);
                }
                metadata_done |= key == "metadata";
            }
        }
        if meta_defaults && !metadata_done {
            if let (Some(s), Some(v)) = (props.get("metadata"), map.get_mut("metadata")) {
                s.apply_defaults(v);
            }
        }
        if let Additional::Schema(a) = &self.additional {
            // Fields the pruning pass walked with another schema (or not at all).
            for (key, v) in map.iter_mut() {
                if !matches!(self.field(key, keep_meta), Field::Child(s) if std::ptr::eq(s, &**a)) {
                    a.apply_defaults(v);
                }
            }
        }
    }

    /// upstream's structural defaulting alone: absent fields (or null ones that may not be
    /// null) get the schema's `default`, from the outside in.
    fn apply_defaults(&self, v: &mut Value) {
        if !self.defaults_below {
            return;
        }
        match v {
            Value::Object(map) => {
                if let Some(props) = &self.properties {
                    for (key, s) in &props.ordered {
                        let absent = match map.get(key) {
                            None => true,
                            Some(Value::Null) => !s.nullable,
                            Some(_) => false,
                        };
                        if absent {
                            if let Some(d) = &s.default {
                                map.insert(key.clone(), d.clone());
                            }
                        }
                        if let Some(v) = map.get_mut(key) {
                            s.apply_defaults(v);
                        }
                    }
                }
                if let Additional::Schema(s) = &self.additional {
                    for v in map.values_mut() {
                        s.apply_defaults(v);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for item in items {
                        s.apply_defaults(item);
                    }
                }
            }
            _ => {}
        }
    }

    /// The messages pruning would give, without changing anything.
    fn unknown(&self, v: &Value, path: &Path, keep_meta: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match self.field(key, keep_meta) {
                        Field::Meta(Some(s)) if key != "metadata" => {
                            s.unknown(value, &Path::Field(path, key), false, out);
                        }
                        Field::Child(s) => s.unknown(value, &Path::Field(path, key), false, out),
                        Field::Meta(_) | Field::Keep => {}
                        Field::Drop => out.push(unknown_field(&Path::Field(path, key))),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        s.unknown(item, &Path::Index(path, i), false, out);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Structural {
    /// How a custom object is decoded: unknown fields dropped, then defaults filled in, in
    /// one pass; returns the dropped fields' `unknown field "<path>"` messages in document
    /// order.
    pub fn prune_and_default(&self, obj: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        self.root.prune(obj, &Path::Root(""), true, true, &mut out);
        out
    }

    /// Pruning alone, of a resource (`resource`: its `apiVersion`, `kind` and `metadata`
    /// are kept) or of any other value of the schema.
    pub fn prune(&self, obj: &mut Value, resource: bool) -> Vec<String> {
        let mut out = Vec::new();
        self.root
            .prune(obj, &Path::Root(""), resource, false, &mut out);
        out
    }

    /// Defaulting alone.
    pub fn apply_defaults(&self, obj: &mut Value) {
        self.root.apply_defaults(obj);
    }

    /// The fields pruning would drop from the resource `obj`, as strict decoding reports
    /// them.
    pub fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.root.unknown(obj, &Path::Root(""), true, &mut out);
        out
    }
}
