//! Validation of a custom object against the compiled schema: kube-openapi's validator, its
//! errors as upstream turns them into field errors (paths, reasons, messages).

use super::{Additional, Kind, Node, Path, Structural, Type};
use crate::meta::go_quote;
use crate::status::Cause;
use serde_json::{Map, Number, Value};

/// A value as kube-openapi's errors show it: strings quoted, everything else as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Null => "\"null\"".into(),
        other => other.to_string(),
    }
}

/// kube-openapi's type error, as upstream turns it into a field error: the value shown is the
/// name of the type the value has.
fn type_invalid(path: &Path, actual: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueTypeInvalid",
        message: format!("Invalid value: {}: {detail}", go_quote(actual)),
        field: path.render(),
    }
}

/// A composite failure (oneOf, anyOf, allOf, not): kube-openapi reports it without a field,
/// which upstream shows as `<nil>: Invalid value: ""`.
fn composite(message: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: \"\": {message}"),
        field: "<nil>".into(),
    }
}

/// `Too many` of a list's items or an object's properties.
fn too_many(path: &Path, n: usize, max: u64) -> Cause {
    Cause {
        reason: "FieldValueTooMany",
        message: format!("Too many: {n}: must have at most {max} items"),
        field: path.render(),
    }
}

impl Node {
    fn validate(&self, v: &Value, path: &Path, root: bool, out: &mut Vec<Cause>) {
        if v.is_null() {
            let t = match &self.ty {
                _ if self.nullable => return,
                Type::Absent => return,
                Type::NotString => "",
                Type::Named(_, name) => name,
            };
            let p = path.render();
            out.push(type_invalid(
                path,
                "null",
                &format!("{p} in body must be of type {t}: \"null\""),
            ));
            return;
        }
        let kind = Kind::of(v);
        if self.int_or_string {
            if !(kind == Kind::String || kind == Kind::Integer) {
                let p = path.render();
                out.push(type_invalid(
                    path,
                    kind.name(),
                    &format!(
                        "{p} in body must be of type integer,string: {}",
                        go_quote(kind.name())
                    ),
                ));
            }
        } else if let Type::Named(want, name) = &self.ty {
            if !kind.fits(*want) {
                let p = path.render();
                out.push(type_invalid(
                    path,
                    kind.name(),
                    &format!(
                        "{p} in body must be of type {name}: {}",
                        go_quote(kind.name())
                    ),
                ));
                return;
            }
        }
        self.compositions(v, path, out);
        if let Some(e) = &self.enumeration {
            if !e.allows(v) {
                let refs: Vec<&str> = e.texts.iter().map(String::as_str).collect();
                out.push(Cause::not_supported(path.render(), shown(v), &refs));
            }
        }
        match v {
            Value::Number(n) => self.check_number(n, path, out),
            Value::String(s) => self.check_string(s, path, out),
            Value::Array(items) => {
                self.check_array(items, path, out);
                if let Some(s) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        s.validate(item, &Path::Index(path, i), false, out);
                    }
                }
            }
            Value::Object(map) => self.check_object(map, path, root, out),
            _ => {}
        }
    }

    /// The errors of `v` against each of `alternatives`.
    fn results(alternatives: &[Node], v: &Value, path: &Path) -> Vec<Vec<Cause>> {
        alternatives
            .iter()
            .map(|s| {
                let mut errs = Vec::new();
                s.validate(v, path, false, &mut errs);
                errs
            })
            .collect()
    }

    /// oneOf, anyOf, allOf and not (value validations only, in a structural schema), as
    /// kube-openapi's schema props validator: the composite error, then the errors of the
    /// closest failing alternative.
    fn compositions(&self, v: &Value, path: &Path, out: &mut Vec<Cause>) {
        if self.any_of.is_empty()
            && self.one_of.is_empty()
            && self.all_of.is_empty()
            && self.not.is_none()
        {
            return;
        }
        let best = |rs: &[Vec<Cause>]| {
            rs.iter()
                .filter(|r| !r.is_empty())
                .min_by_key(|r| r.len())
                .cloned()
        };
        let any = Node::results(&self.any_of, v, path);
        if !any.is_empty() && !any.iter().any(Vec::is_empty) {
            out.push(composite(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(&path.render())
            )));
            out.extend(best(&any).unwrap_or_default());
        }
        let one = Node::results(&self.one_of, v, path);
        if !one.is_empty() {
            let valid = one.iter().filter(|r| r.is_empty()).count();
            if valid != 1 {
                let more = if valid == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                out.push(composite(format!(
                    "{} must validate one and only one schema (oneOf). {more}",
                    go_quote(&path.render())
                )));
                if valid == 0 {
                    out.extend(best(&one).unwrap_or_default());
                }
            }
        }
        let all = Node::results(&self.all_of, v, path);
        if !all.is_empty() {
            let valid = all.iter().filter(|r| r.is_empty()).count();
            for r in &all {
                out.extend(r.iter().cloned());
            }
            if valid != all.len() {
                let more = if valid == 0 { ". None validated" } else { "" };
                out.push(composite(format!(
                    "{} must validate all the schemas (allOf){more}",
                    go_quote(&path.render())
                )));
            }
        }
        if let Some(not) = &self.not {
            let mut errs = Vec::new();
            not.validate(v, path, false, &mut errs);
            if errs.is_empty() {
                out.push(composite(format!(
                    "{} must not validate the schema (not)",
                    go_quote(&path.render())
                )));
            }
        }
    }

    fn check_number(&self, n: &Number, path: &Path, out: &mut Vec<Cause>) {
        let x = n.as_f64().unwrap_or_default();
        if let Some(b) = &self.minimum {
            if x < b.limit || (b.exclusive && x == b.limit) {
                let rel = if b.exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                let p = path.render();
                out.push(Cause::invalid(
                    &p,
                    n.to_string(),
                    &format!("{p} in body should be {rel} {}", b.text),
                ));
            }
        }
        if let Some(b) = &self.maximum {
            if x > b.limit || (b.exclusive && x == b.limit) {
                let rel = if b.exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                let p = path.render();
                out.push(Cause::invalid(
                    &p,
                    n.to_string(),
                    &format!("{p} in body should be {rel} {}", b.text),
                ));
            }
        }
        if let Some((m, text)) = &self.multiple_of {
            if *m != 0.0 && (x / m).fract() != 0.0 {
                let p = path.render();
                out.push(Cause::invalid(
                    &p,
                    n.to_string(),
                    &format!("{p} in body should be a multiple of {text}"),
                ));
            }
        }
        if let Some(f) = &self.format {
            let fits = match f.as_str() {
                "int32" => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                "int64" => n.as_i64().is_some(),
                _ => true,
            };
            if !fits {
                let p = path.render();
                let shown_n = n.to_string();
                out.push(Cause::invalid(
                    &p,
                    &shown_n,
                    &format!("{p} in body must be of type {f}: {}", go_quote(&shown_n)),
                ));
            }
        }
    }

    fn check_string(&self, s: &str, path: &Path, out: &mut Vec<Cause>) {
        if self.min_length.is_some() || self.max_length.is_some() {
            let len = s.chars().count() as u64;
            if let Some(min) = self.min_length.filter(|min| len < *min) {
                let p = path.render();
                out.push(Cause::invalid(
                    &p,
                    go_quote(s),
                    &format!("{p} in body should be at least {min} chars long"),
                ));
            }
            if let Some(max) = self.max_length.filter(|max| len > *max) {
                out.push(crate::meta::too_long(
                    path.render(),
                    usize::try_from(max).unwrap_or(usize::MAX),
                ));
            }
        }
        if let Some(p) = &self.pattern {
            if !p.regex.is_match(s) {
                let at = path.render();
                out.push(Cause::invalid(
                    &at,
                    go_quote(s),
                    &format!("{at} in body should match '{}'", p.source),
                ));
            }
        }
        if let Some(f) = &self.format {
            if !crate::apiextensions::schema::format_matches(f, s) {
                let p = path.render();
                out.push(Cause::invalid(
                    &p,
                    go_quote(s),
                    &format!("{p} in body must be of type {f}: {}", go_quote(s)),
                ));
            }
        }
    }

    fn check_array(&self, items: &[Value], path: &Path, out: &mut Vec<Cause>) {
        if let Some(min) = self.min_items.filter(|min| (items.len() as u64) < *min) {
            let p = path.render();
            out.push(Cause::invalid(
                &p,
                items.len(),
                &format!("{p} in body should have at least {min} items"),
            ));
        }
        if let Some(max) = self.max_items.filter(|max| (items.len() as u64) > *max) {
            out.push(too_many(path, items.len(), max));
        }
        if self.unique {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    out.push(Cause::duplicate(Path::Index(path, i).render(), shown(a)));
                }
            }
        }
    }

    fn check_object(
        &self,
        map: &Map<String, Value>,
        path: &Path,
        root: bool,
        out: &mut Vec<Cause>,
    ) {
        for r in &self.required {
            if !map.contains_key(r) {
                out.push(Cause::required(Path::Field(path, r).render()));
            }
        }
        if let Some(min) = self.min_properties.filter(|min| (map.len() as u64) < *min) {
            let p = path.render();
            out.push(Cause::invalid(
                &p,
                map.len(),
                &format!("{p} in body should have at least {min} properties"),
            ));
        }
        if let Some(max) = self.max_properties.filter(|max| (map.len() as u64) > *max) {
            out.push(too_many(path, map.len(), max));
        }
        let additional = match &self.additional {
            Additional::Schema(s) => Some(&**s),
            _ => None,
        };
        if self.properties.is_some() || additional.is_some() {
            for (key, value) in map {
                if (root || self.embedded) && key == "metadata" {
                    continue;
                }
                let child = self
                    .properties
                    .as_ref()
                    .and_then(|p| p.get(key))
                    .or(additional);
                if let Some(s) = child {
                    s.validate(value, &Path::Field(path, key), false, out);
                }
            }
        }
        if self.embedded {
            for k in ["apiVersion", "kind"] {
                if map.get(k).and_then(Value::as_str).is_none_or(str::is_empty) {
                    out.push(Cause::required(Path::Field(path, k).render()));
                }
            }
        }
    }
}

impl Structural {
    /// The errors of the resource `obj`, with upstream's paths and messages. The root's
    /// `apiVersion`, `kind` and `metadata` are the generic path's to check.
    pub fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut out = Vec::new();
        self.root.validate(obj, &Path::Root(""), true, &mut out);
        out
    }

    /// The errors of a value of the schema found at `path` (a schema's `default`).
    pub fn validate_value(&self, v: &Value, path: &str) -> Vec<Cause> {
        let mut out = Vec::new();
        self.root.validate(v, &Path::Root(path), false, &mut out);
        out
    }
}
