//! Label and field selectors, as the upstream apiserver parses and applies them
//! (k8s.io/apimachinery/pkg/labels, k8s.io/apimachinery/pkg/fields, and the per-kind field label
//! conversions of k8s.io/kubernetes/pkg/apis/*/v1).
//!
//! - [`parse_label_selector`]: the `labelSelector` query parameter (`a=b,c in (x,y),!d`).
//! - [`LabelSelector::from_metav1`] (wire form) and [`LabelSelector::from_typed`] (k8s-openapi
//!   type): a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`), as workloads,
//!   controllers and the scheduler use it; [`selector_matches`] is the check validation makes.
//! - [`Requirement`] is also what node selector terms are made of (with `Gt`/`Lt`).
//!
//! This is the one label-selector matcher: every crate matches labels through it.
//! - [`parse_field_selector`]: the `fieldSelector` query parameter, checked against the fields the
//!   resource supports and matched against objects in wire (camelCase) form.
//!
//! Error messages are upstream's, word for word, so that `kubectl` prints what it would print
//! against a real cluster.

use crate::catalog::ResourceType;
use crate::json_path::{bool_at, i64_at, str_at};
use crate::meta::{go_quote, go_strings};
use crate::status::ApiError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// A requirement's operator (k8s.io/apimachinery/pkg/selection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`
    NotEquals,
    /// `key>value` (integers)
    GreaterThan,
    /// `key<value` (integers)
    LessThan,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
}

impl Operator {
    /// The operator as upstream's `selection.Operator` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
        }
    }
}

/// One `key op values` term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// As given (the parser hands them over sorted and without duplicates).
    pub values: Vec<String>,
}

/// Something with labels: a labels map, or an object (whose `metadata.labels` are used).
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

/// A labels map (`{"app": "web"}`); non-string values count as absent.
impl Labels for Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// An object: its `metadata.labels`.
impl Labels for Value {
    fn label(&self, key: &str) -> Option<&str> {
        self.get("metadata")?.get("labels")?.get(key)?.as_str()
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Requirement {
    /// Upstream's `labels.NewRequirement`: validates the key, the operator's value count and every
    /// value; the error is upstream's message.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, String> {
        Requirement::new_at(key.into(), operator, values, None)
    }

    /// [`Requirement::new`] with errors reported under `path` (upstream's `field.Path`, `None`
    /// for a nil path).
    fn new_at(
        key: String,
        operator: Operator,
        values: Vec<String>,
        path: Option<&str>,
    ) -> Result<Requirement, String> {
        let mut errs: Vec<String> = Vec::new();
        let child = |name: &str| match path {
            Some(p) if !p.is_empty() => format!("{p}.{name}"),
            _ => name.to_string(),
        };
        let key_errs = label_key_errors(&key);
        if !key_errs.is_empty() {
            errs.push(invalid(
                &child("key"),
                &go_quote(&key),
                &key_errs.join("; "),
            ));
        }
        let values_path = child("values");
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(invalid(
                        &values_path,
                        &go_strings(values.iter().map(String::as_str)),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(invalid(
                        &values_path,
                        &go_strings(values.iter().map(String::as_str)),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(invalid(
                        &values_path,
                        &go_strings(values.iter().map(String::as_str)),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid(
                        &values_path,
                        &go_strings(values.iter().map(String::as_str)),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("{values_path}[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = label_value_errors(v);
            if !value_errs.is_empty() {
                errs.push(invalid(
                    &format!("{values_path}[{i}][{key}]"),
                    &go_quote(v),
                    &value_errs.join("; "),
                ));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key,
                operator,
                values,
            })
        } else {
            Err(aggregate(errs))
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Upstream's `Requirement.Matches`.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.matches_value(labels.label(&self.key))
    }

    /// Whether the value of the requirement's key (`None` when absent) satisfies it: what
    /// [`Requirement::matches`] asks of a label, and what node selector terms ask of a field
    /// (`metadata.name`).
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => match value {
                Some(v) => self.has_value(v),
                None => false,
            },
            Operator::NotIn | Operator::NotEquals => match value {
                Some(v) => !self.has_value(v),
                None => true,
            },
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(v) = value else {
                    return false;
                };
                let Ok(have) = v.parse::<i64>() else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                let Ok(want) = self.values[0].parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's `Requirement.String()`: `!key`, `key`, `key=v`, `key in (a,b)` (values sorted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        if self.values.len() == 1 {
            f.write_str(&self.values[0])?;
        } else {
            let mut sorted = self.values.clone();
            sorted.sort();
            f.write_str(&sorted.join(","))?;
        }
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: the AND of its requirements. `nothing` is upstream's `labels.Nothing()` (what a
/// nil `metav1.LabelSelector` converts to): it matches no object.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// Matches no object.
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Upstream's `labels.Parse`; the error is upstream's message (without the 400 wrapping).
    pub fn parse(selector: &str) -> Result<LabelSelector, String> {
        let mut requirements = Parser::new(selector).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Upstream's `metav1.LabelSelectorAsSelector`: `None`/`null` → matches nothing; `{}` → matches
    /// everything; otherwise the AND of `matchLabels` and `matchExpressions`. The error is
    /// upstream's (an unknown operator, an invalid key or value, a wrong number of values).
    pub fn from_metav1(selector: Option<&Value>) -> Result<LabelSelector, String> {
        let Some(sel) = selector.filter(|v| !v.is_null()) else {
            return Ok(LabelSelector::nothing());
        };
        let str_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let match_labels = sel.get("matchLabels").and_then(Value::as_object);
        let match_expressions = sel.get("matchExpressions").and_then(Value::as_array);
        LabelSelector::from_parts(
            match_labels
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), str_of(v))),
            match_expressions.into_iter().flatten().map(|e| {
                let field = |k: &str| e.get(k).map(str_of).unwrap_or_default();
                let values = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(str_of).collect())
                    .unwrap_or_default();
                (field("key"), field("operator"), values)
            }),
        )
    }

    /// [`LabelSelector::from_metav1`] for the typed `metav1.LabelSelector`.
    pub fn from_typed(
        selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    ) -> Result<LabelSelector, String> {
        let Some(sel) = selector else {
            return Ok(LabelSelector::nothing());
        };
        LabelSelector::from_parts(
            sel.match_labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone())),
            sel.match_expressions.iter().flatten().map(|e| {
                (
                    e.key.clone(),
                    e.operator.clone(),
                    e.values.clone().unwrap_or_default(),
                )
            }),
        )
    }

    /// A non-nil `metav1.LabelSelector` from its `matchLabels` pairs and its `matchExpressions`
    /// as `(key, operator, values)`.
    fn from_parts(
        match_labels: impl Iterator<Item = (String, String)>,
        match_expressions: impl Iterator<Item = (String, String, Vec<String>)>,
    ) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for (k, v) in match_labels {
            requirements.push(Requirement::new_at(k, Operator::Equals, vec![v], None)?);
        }
        for (key, op, values) in match_expressions {
            let op = match op.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    ))
                }
            };
            requirements.push(Requirement::new_at(key, op, values, None)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// The selector with one more requirement (upstream's `Selector.Add`); the selector that
    /// matches nothing stays so.
    pub fn and(mut self, requirement: Requirement) -> LabelSelector {
        if !self.nothing {
            self.requirements.push(requirement);
            self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        }
        self
    }

    /// Upstream's `labels.SelectorFromSet` for a wire-form map (a service's or replication
    /// controller's `selector`): see [`LabelSelector::from_set`].
    pub fn from_map(map: &Map<String, Value>) -> LabelSelector {
        LabelSelector::from_set(
            map.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())),
        )
    }

    /// Upstream's `labels.SelectorFromSet` (a `selector` or `nodeSelector` map): each entry an
    /// equality; an empty set matches everything. Not validated.
    pub fn from_set<'a>(set: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSelector {
        let mut requirements: Vec<Requirement> = set
            .into_iter()
            .map(|(k, v)| Requirement {
                key: k.to_string(),
                operator: Operator::Equals,
                values: vec![v.to_string()],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// True when the selector does not restrict anything (upstream's `Empty()`).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches nothing.
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The value a label must have for the selector to match, when it pins one
    /// (upstream's `RequiresExactMatch`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match r.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In if r.values.len() == 1 => {
                Some(&r.values[0])
            }
            _ => None,
        }
    }

    /// Whether the labels (a labels map, or an object's `metadata.labels`) satisfy every requirement.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream's `Selector.String()`: requirements joined with `,` (empty for everything and for
    /// nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Upstream's `metav1.LabelSelectorAsSelector(selector)` then `Matches(labels)`, as validation
/// asks whether a workload's selector selects its template's labels (a labels map): `None` when
/// the selector does not convert (validation reports that itself, and upstream then skips the
/// match); a nil selector matches nothing.
pub fn selector_matches(selector: Option<&Value>, labels: Option<&Value>) -> Option<bool> {
    let selector = LabelSelector::from_metav1(selector).ok()?;
    let empty = Map::new();
    Some(selector.matches(labels.and_then(Value::as_object).unwrap_or(&empty)))
}

/// The `labelSelector` query parameter, as the apiserver decodes it: a parse error is a 400
/// BadRequest carrying upstream's message (e.g. `unable to parse requirement: …`).
#[allow(clippy::result_large_err)] // ApiError is the crate's error type
pub fn parse_label_selector(selector: &str) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(selector).map_err(ApiError::bad_request)
}

/// Upstream's `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when
/// it does not convert.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    match LabelSelector::from_metav1(selector) {
        Ok(s) => {
            let out = s.to_string();
            if out.is_empty() {
                "<none>".into()
            } else {
                out
            }
        }
        Err(_) => "<error>".into(),
    }
}

/// Upstream's `labels.FormatLabels`: `k=v` pairs sorted by key, joined with `,`; `<none>` when empty.
pub fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<(&String, &str)> = map
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let s = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

// --- the lexer and parser (upstream's, token for token) ----------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn string_to_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    /// The next byte, or 0 at the end (as upstream, which also means a NUL byte ends the input).
    fn read(&mut self) -> u8 {
        if self.pos < self.s.len() {
            let b = self.s[self.pos];
            self.pos += 1;
            b
        } else {
            0
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
        }
        let s = String::from_utf8_lossy(&buffer).into_owned();
        match string_to_token(&buffer) {
            Some(t) => (t, s),
            None => (Token::Identifier, s),
        }
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut last: Option<(Token, String)> = None;
        let mut buffer = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) {
                buffer.push(ch);
                if let Some(t) = string_to_token(&buffer) {
                    last = Some((t, String::from_utf8_lossy(&buffer).into_owned()));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some(item) => item,
            None => (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buffer)
                ),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(ch) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(selector: &str) -> Parser {
        let mut lexer = Lexer {
            s: selector.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let (tok, lit) = lexer.lex();
            items.push((tok, lit));
            if tok == Token::EndOfString {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn adjust(tok: Token, context: Context) -> Token {
        if context == Context::Values && matches!(tok, Token::In | Token::NotIn) {
            Token::Identifier
        } else {
            tok
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let (tok, lit) = &self.items[self.position.min(self.items.len() - 1)];
        (Parser::adjust(*tok, context), lit.clone())
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let (tok, lit) = self.items[self.position.min(self.items.len() - 1)].clone();
        self.position += 1;
        (Parser::adjust(tok, context), lit)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = operator {
            return Requirement::new_at(key, op, Vec::new(), None);
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new_at(key, operator, values.into_iter().collect(), None)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut tok, mut literal) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (tok, literal) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let errs = label_key_errors(&literal);
        if !errs.is_empty() {
            return Err(invalid("<nil>", &go_quote(&literal), &errs.join("; ")));
        }
        let (t, _) = self.lookahead(Context::Values);
        if (t == Token::EndOfString || t == Token::Comma)
            && operator != Some(Operator::DoesNotExist)
        {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut s = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    s.insert(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if s.is_empty() {
                        s.insert(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        s.insert(String::new());
                        return Ok(s);
                    }
                    if tok2 == Token::Comma {
                        s.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::EndOfString || tok == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            return Ok(BTreeSet::from([lit]));
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

// Label keys and values follow the same rules as in object metadata (upstream's
// k8s.io/apimachinery/pkg/util/validation), so the messages are the same too.
use crate::meta::{label_value_errors, qualified_name_errors as label_key_errors};

/// A `field.Invalid` error's text: `path: Invalid value: <value>: detail`.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// Upstream's `utilerrors.NewAggregate(...).Error()`: one message as is, several deduplicated in
/// brackets.
fn aggregate(errs: Vec<String>) -> String {
    if errs.len() == 1 {
        return errs.into_iter().next().unwrap_or_default();
    }
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        return seen.pop().unwrap_or_default();
    }
    format!("[{}]", seen.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// Which set of selectable fields (and which conversion error wording) a resource has upstream;
/// the catalog entry names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldLabels {
    /// A custom resource's `selectableFields`: their JSON paths without the leading dot
    /// (`spec.color`), besides `metadata.name` and `metadata.namespace`.
    Custom(std::sync::Arc<Vec<String>>),
    /// No conversion function registered: `metadata.name` and `metadata.namespace` only.
    Default,
    Pod,
    Node,
    ReplicationController,
    Event,
    EventsV1,
    Namespace,
    Secret,
    Job,
    CertificateSigningRequest,
    ResourceSlice,
}

impl FieldLabels {
    fn of(resource: &ResourceType) -> FieldLabels {
        resource.field_labels.clone()
    }

    /// Upstream's field label conversion: the field name the selector matches on, or the error.
    fn convert(&self, label: &str) -> Result<String, String> {
        let not_supported = || format!("field label not supported: {label}");
        let ok = |l: &str| Ok(l.to_string());
        match self {
            FieldLabels::Custom(fields) => match label {
                "metadata.name" | "metadata.namespace" => ok(label),
                _ if fields.iter().any(|f| f == label) => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::Default => match label {
                "metadata.name" | "metadata.namespace" => ok(label),
                _ => Err(format!(
                    "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                    go_quote(label)
                )),
            },
            FieldLabels::Pod => match label {
                "metadata.name" | "metadata.namespace" | "spec.nodeName" | "spec.restartPolicy"
                | "spec.schedulerName" | "spec.serviceAccountName" | "spec.hostNetwork" | "status.phase"
                | "status.podIP" | "status.podIPs" | "status.nominatedNodeName" => ok(label),
                // backwards compatibility with old v1 clients
                "spec.host" => ok("spec.nodeName"),
                _ => Err(not_supported()),
            },
            FieldLabels::Node => match label {
                "metadata.name" | "spec.unschedulable" => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::ReplicationController => match label {
                "metadata.name" | "metadata.namespace" | "status.replicas" => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::Event => match label {
                "involvedObject.kind" | "involvedObject.namespace" | "involvedObject.name" | "involvedObject.uid"
                | "involvedObject.apiVersion" | "involvedObject.resourceVersion" | "involvedObject.fieldPath"
                | "reason" | "reportingComponent" | "source" | "type" | "metadata.namespace" | "metadata.name" => {
                    ok(label)
                }
                _ => Err(not_supported()),
            },
            FieldLabels::EventsV1 => match label {
                "reason" | "type" | "metadata.namespace" | "metadata.name" => ok(label),
                "reportingController" => ok("reportingComponent"),
                _ => match label.strip_prefix("regarding.") {
                    Some(
                        rest @ ("kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion" | "fieldPath"),
                    ) => Ok(format!("involvedObject.{rest}")),
                    _ => Err(not_supported()),
                },
            },
            FieldLabels::Namespace => match label {
                "metadata.name" | "status.phase" => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::Secret => match label {
                "metadata.name" | "metadata.namespace" | "type" => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::Job => match label {
                "metadata.name" | "metadata.namespace" | "status.successful" => ok(label),
                _ => Err(format!("field label {} not supported for Job", go_quote(label))),
            },
            FieldLabels::CertificateSigningRequest => match label {
                "metadata.name" | "spec.signerName" => ok(label),
                _ => Err(not_supported()),
            },
            FieldLabels::ResourceSlice => match label {
                "metadata.name" | "spec.nodeName" | "spec.driver" => ok(label),
                _ => Err(format!(
                    "field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: {label}"
                )),
            },
        }
    }

    /// The value of a (converted) field on an object in wire form, as upstream's per-kind
    /// `GetAttrs` field set has it; a field outside the set reads as the empty string.
    fn value(&self, obj: &Value, field: &str) -> String {
        let s = |path: &[&str]| str_at(obj, path).to_string();
        match field {
            "metadata.name" => return s(&["metadata", "name"]),
            "metadata.namespace" => return s(&["metadata", "namespace"]),
            _ => {}
        }
        match self {
            FieldLabels::Custom(_) => {
                let path: Vec<&str> = field.split('.').collect();
                match crate::json_path::at(obj, &path) {
                    Some(Value::String(v)) => v.clone(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                }
            }
            FieldLabels::Default => String::new(),
            FieldLabels::Pod => match field {
                "spec.nodeName" => s(&["spec", "nodeName"]),
                "spec.restartPolicy" => s(&["spec", "restartPolicy"]),
                "spec.schedulerName" => s(&["spec", "schedulerName"]),
                "spec.serviceAccountName" => {
                    let name = str_at(obj, &["spec", "serviceAccountName"]);
                    if name.is_empty() {
                        s(&["spec", "serviceAccount"])
                    } else {
                        name.to_string()
                    }
                }
                "spec.hostNetwork" => bool_at(obj, &["spec", "hostNetwork"])
                    .unwrap_or(false)
                    .to_string(),
                "status.phase" => s(&["status", "phase"]),
                "status.podIP" => {
                    let ip = str_at(obj, &["status", "podIP"]);
                    if ip.is_empty() {
                        s(&["status", "podIPs", "0", "ip"])
                    } else {
                        ip.to_string()
                    }
                }
                "status.nominatedNodeName" => s(&["status", "nominatedNodeName"]),
                _ => String::new(),
            },
            FieldLabels::Node => match field {
                "spec.unschedulable" => bool_at(obj, &["spec", "unschedulable"])
                    .unwrap_or(false)
                    .to_string(),
                _ => String::new(),
            },
            FieldLabels::ReplicationController => match field {
                "status.replicas" => i64_at(obj, &["status", "replicas"]).to_string(),
                _ => String::new(),
            },
            FieldLabels::Event | FieldLabels::EventsV1 => {
                let v1 = *self == FieldLabels::EventsV1;
                let (involved, reporting, source) = if v1 {
                    ("regarding", "reportingController", "deprecatedSource")
                } else {
                    ("involvedObject", "reportingComponent", "source")
                };
                match field {
                    "reason" => s(&["reason"]),
                    "type" => s(&["type"]),
                    "reportingComponent" => s(&[reporting]),
                    "source" => {
                        let c = str_at(obj, &[source, "component"]);
                        if c.is_empty() {
                            s(&[reporting])
                        } else {
                            c.to_string()
                        }
                    }
                    _ => match field.strip_prefix("involvedObject.") {
                        Some(rest) => s(&[involved, rest]),
                        None => String::new(),
                    },
                }
            }
            FieldLabels::Namespace => match field {
                "status.phase" => s(&["status", "phase"]),
                _ => String::new(),
            },
            FieldLabels::Secret => match field {
                "type" => s(&["type"]),
                _ => String::new(),
            },
            FieldLabels::Job => match field {
                "status.successful" => i64_at(obj, &["status", "succeeded"]).to_string(),
                _ => String::new(),
            },
            FieldLabels::CertificateSigningRequest => match field {
                "spec.signerName" => s(&["spec", "signerName"]),
                _ => String::new(),
            },
            FieldLabels::ResourceSlice => match field {
                "spec.nodeName" => s(&["spec", "nodeName"]),
                "spec.driver" => s(&["spec", "driver"]),
                _ => String::new(),
            },
        }
    }
}

/// One `field=value` / `field!=value` term, with the field already converted to the name the
/// resource's field set uses (e.g. `spec.host` → `spec.nodeName`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    /// `!=`
    pub not_equal: bool,
}

/// A field selector for one resource: the AND of its terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSelector {
    kind: FieldLabels,
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// The selector that matches everything (for a resource's field set).
    pub fn everything(resource: &ResourceType) -> FieldSelector {
        FieldSelector {
            kind: FieldLabels::of(resource),
            terms: Vec::new(),
        }
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value `field` must equal for the selector to match, when a term pins it.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.not_equal && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// The value the selector reads for `field` on `obj` (a missing field is the empty string,
    /// booleans are `true`/`false`, integers decimal).
    pub fn field_value(&self, obj: &Value, field: &str) -> String {
        self.kind.value(obj, field)
    }

    /// Whether the object (in wire form) satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let have = self.kind.value(obj, &t.field);
            (have == t.value) != t.not_equal
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}{}{}",
                t.field,
                if t.not_equal { "!=" } else { "=" },
                t.value
            )?;
        }
        Ok(())
    }
}

/// Upstream's `fields.splitTerms`: split on commas not escaped with a backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Upstream's `fields.splitTerm`: the first `!=`, `==` or `=` (checked in that order at each
/// position) splits the term.
fn split_term(term: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// Upstream's `fields.UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// The `fieldSelector` query parameter for `resource`: parsed as upstream's `fields.ParseSelector`,
/// then each field converted with the resource's field label conversion. Every failure is a 400
/// BadRequest with upstream's message (`field label not supported: …`, or for resources without
/// field selectors of their own `"…" is not a known field selector: only "metadata.name",
/// "metadata.namespace"`).
#[allow(clippy::result_large_err)] // ApiError is the crate's error type
pub fn parse_field_selector(
    resource: &ResourceType,
    selector: &str,
) -> Result<FieldSelector, ApiError> {
    let kind = FieldLabels::of(resource);
    let mut parts = split_terms(selector);
    parts.sort_unstable();
    let mut raw: Vec<(String, String, bool)> = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((lhs, op, rhs)) = split_term(part) else {
            return Err(ApiError::bad_request(format!(
                "invalid selector: '{selector}'; can't understand '{part}'"
            )));
        };
        let value = unescape_value(rhs).map_err(ApiError::bad_request)?;
        raw.push((lhs.to_string(), value, op == "!="));
    }
    let mut terms = Vec::with_capacity(raw.len());
    for (field, value, not_equal) in raw {
        let field = kind.convert(&field).map_err(ApiError::bad_request)?;
        terms.push(FieldTerm {
            field,
            value,
            not_equal,
        });
    }
    Ok(FieldSelector { kind, terms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::find;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn equality_and_set_based_selectors_match() {
        let l = labels(json!({"app": "web", "tier": "front", "env": "prod"}));
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("  app = web , env in ( prod , staging ) ", true),
            ("", true),
        ];
        for (sel, want) in cases {
            let s = parse_label_selector(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&l), want, "{sel}");
        }
        let obj = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(parse_label_selector("app=web").unwrap().matches(&obj));
        assert!(!parse_label_selector("app=db").unwrap().matches(&obj));
        assert!(parse_label_selector("!app")
            .unwrap()
            .matches(&json!({"metadata": {}})));
    }

    #[test]
    fn greater_and_less_than() {
        let l = labels(json!({"n": "5"}));
        assert!(parse_label_selector("n>3").unwrap().matches(&l));
        assert!(!parse_label_selector("n<3").unwrap().matches(&l));
        assert_eq!(
            parse_label_selector("n>x").unwrap_err().message,
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn string_form_is_sorted_like_upstream() {
        let s = parse_label_selector("z=1,a in (c,b),!m,k").unwrap();
        assert_eq!(s.to_string(), "a in (b,c),k,!m,z=1");
        // values are deduplicated, "in" and "notin" are identifiers in value position
        let s = parse_label_selector("x in (in,notin,in)").unwrap();
        assert_eq!(s.to_string(), "x in (in,notin)");
        // empty values
        assert_eq!(
            parse_label_selector("x in ()").unwrap().requirements()[0].values,
            vec![""]
        );
        assert_eq!(
            parse_label_selector("x=").unwrap().requirements()[0].values,
            vec![""]
        );
    }

    #[test]
    fn parse_errors_are_worded_like_upstream() {
        let e = parse_label_selector("a=b c").unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(e.reason, "BadRequest");
        assert_eq!(e.message, "found 'c', expected: ',' or 'end of string'");
        assert_eq!(
            parse_label_selector("a b").unwrap_err().message,
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_label_selector("a=b,").unwrap_err().message,
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_label_selector("=a").unwrap_err().message,
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_label_selector("a in b").unwrap_err().message,
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_label_selector("a in (b").unwrap_err().message,
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_label_selector("a foo b").unwrap_err().message,
            "unable to parse requirement: found 'foo', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_label_selector("a=(").unwrap_err().message,
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            parse_label_selector("!a=b").unwrap_err().message,
            "found '=', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_label_selector("a/b/c=d").unwrap_err().message,
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert_eq!(
            parse_label_selector("-a=b").unwrap_err().message,
            "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            parse_label_selector("app=a@b").unwrap_err().message,
            "unable to parse requirement: values[0][app]: Invalid value: \"a@b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert!(parse_label_selector("Example.com/app=x")
            .unwrap_err()
            .message
            .contains("prefix part a lowercase RFC 1123 subdomain"));
        assert!(parse_label_selector("example.com/app=x,kubernetes.io/role").is_ok());
    }

    #[test]
    fn metav1_label_selector_conversion() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]}
            ]
        });
        let s = LabelSelector::from_metav1(Some(&sel)).unwrap();
        assert_eq!(
            s.to_string(),
            "app=web,env,!legacy,tier in (edge,front),zone notin (b)"
        );
        assert!(s.matches(&labels(json!({"app": "web", "tier": "edge", "env": "x"}))));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "edge", "env": "x", "legacy": "1"})
        )));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "edge", "env": "x", "zone": "b"})
        )));

        // nil matches nothing, {} everything
        assert!(!LabelSelector::from_metav1(None)
            .unwrap()
            .matches(&labels(json!({}))));
        assert!(!LabelSelector::from_metav1(Some(&Value::Null))
            .unwrap()
            .matches(&labels(json!({}))));
        assert!(LabelSelector::from_metav1(Some(&json!({})))
            .unwrap()
            .matches(&labels(json!({}))));

        assert_eq!(
            LabelSelector::from_metav1(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]})
            ))
            .unwrap_err(),
            "\"Equals\" is not a valid label selector operator"
        );
        assert_eq!(
            LabelSelector::from_metav1(Some(&json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})))
                .unwrap_err(),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            LabelSelector::from_metav1(Some(&json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})))
                .unwrap_err(),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert!(
            LabelSelector::from_metav1(Some(&json!({"matchLabels": {"bad key": "x"}})))
                .unwrap_err()
                .starts_with("key: Invalid value: \"bad key\": name part must consist")
        );

        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"a": "b"}}))),
            "a=b"
        );
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
            )),
            "<error>"
        );
        assert_eq!(
            format_labels(Some(labels(json!({"b": "2", "a": "1"}))).as_ref()),
            "a=1,b=2"
        );
        assert_eq!(format_labels(None), "<none>");
        let from_map = LabelSelector::from_map(&labels(json!({"app": "web"})));
        assert_eq!(from_map.requires_exact_match("app"), Some("web"));
        assert!(LabelSelector::from_map(&Map::new()).is_empty());
    }

    /// What the scheduler matched with its own copy: typed selectors, `matchLabelKeys` added
    /// with `and`, every operator against a `BTreeMap` of labels.
    #[test]
    fn typed_selectors_and_added_requirements() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
            LabelSelector as Typed, LabelSelectorRequirement,
        };
        let l: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(
            !LabelSelector::from_typed(None).unwrap().matches(&l),
            "nil: nothing"
        );
        assert!(LabelSelector::from_typed(Some(&Typed::default()))
            .unwrap()
            .matches(&l));
        let sel = Typed {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "back".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = LabelSelector::from_typed(Some(&sel)).unwrap();
        assert_eq!(
            s,
            LabelSelector::from_metav1(Some(&serde_json::to_value(&sel).unwrap())).unwrap()
        );
        assert!(s.matches(&l));
        let mut other = l.clone();
        other.insert("tier".into(), "db".into());
        assert!(!s.matches(&other));
        let mut canary = l.clone();
        canary.insert("canary".into(), "1".into());
        assert!(!s.matches(&canary));
        // Gt is not a label selector operator (only a node selector one).
        let bad = Typed {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Gt".into(),
                values: Some(vec!["1".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_typed(Some(&bad)).unwrap_err(),
            "\"Gt\" is not a valid label selector operator"
        );
        // Requirements added to a selector; the nil selector stays nil.
        let web = Requirement::new("app", Operator::In, vec!["web".into()]).unwrap();
        let s = LabelSelector::everything().and(web.clone());
        assert!(s.matches(&l) && !s.is_empty());
        assert_eq!(
            LabelSelector::nothing().and(web.clone()),
            LabelSelector::nothing()
        );
        let not_web = Requirement::new("app", Operator::NotIn, vec!["web".into()]).unwrap();
        assert!(!LabelSelector::everything().and(not_web).matches(&l));
        assert!(Requirement::new("bad key", Operator::In, vec!["x".into()]).is_err());
    }

    #[test]
    fn requirement_operators_on_values() {
        let l: BTreeMap<String, String> = [("cores", "8"), ("disk", "ssd")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = |key: &str, operator, values: &[&str]| Requirement {
            key: key.to_string(),
            operator,
            values: values
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        };
        assert!(r("cores", Operator::GreaterThan, &["4"]).matches(&l));
        assert!(!r("cores", Operator::LessThan, &["4"]).matches(&l));
        assert!(
            !r("disk", Operator::GreaterThan, &["4"]).matches(&l),
            "not a number"
        );
        assert!(
            !r("gpu", Operator::GreaterThan, &["0"]).matches(&l),
            "absent"
        );
        assert!(
            r("gpu", Operator::NotIn, &["a"]).matches(&l),
            "absent is NotIn"
        );
        assert!(!r("disk", Operator::NotIn, &["ssd"]).matches(&l));
        assert!(r("disk", Operator::Exists, &[]).matches(&l));
        assert!(r("gpu", Operator::DoesNotExist, &[]).matches(&l));
        // Node selector terms match `metadata.name` through the same rules.
        assert!(r("metadata.name", Operator::In, &["n1", "n2"]).matches_value(Some("n2")));
        assert!(!r("metadata.name", Operator::In, &["n1"]).matches_value(None));
        assert!(r("metadata.name", Operator::NotIn, &["n1"]).matches_value(Some("n2")));
    }

    /// What validation asks: a selector converted, then matched against template labels.
    #[test]
    fn validation_matches_template_labels() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]});
        let both = json!({"app": "web", "tier": "fe"});
        assert_eq!(selector_matches(Some(&sel), Some(&both)), Some(true));
        assert_eq!(
            selector_matches(Some(&sel), Some(&json!({"app": "web"}))),
            Some(false)
        );
        assert_eq!(selector_matches(Some(&sel), None), Some(false));
        // nil selects nothing, {} everything
        assert_eq!(selector_matches(None, Some(&both)), Some(false));
        assert_eq!(selector_matches(Some(&json!({})), None), Some(true));
        // a selector that does not convert is validation's to report: no verdict
        for bad in [
            json!({"matchExpressions": [{"key": "k", "operator": "In"}]}),
            json!({"matchExpressions": [{"key": "k", "operator": "Bogus", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchLabels": {"bad key": "x"}}),
        ] {
            assert_eq!(selector_matches(Some(&bad), Some(&both)), None, "{bad}");
        }
    }

    #[test]
    fn field_selectors_on_pods() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "node-a", "restartPolicy": "Always", "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIP": "10.0.0.5"}
        });
        let cases = [
            ("metadata.name=web-1", true),
            ("metadata.name==web-1", true),
            ("metadata.name!=web-1", false),
            ("metadata.namespace=default,status.phase=Running", true),
            ("spec.nodeName=node-a", true),
            ("spec.host=node-a", true),
            ("spec.nodeName=", false),
            ("spec.schedulerName=", true),
            ("spec.hostNetwork=false", true),
            ("spec.hostNetwork=true", false),
            ("status.podIP=10.0.0.5", true),
            ("status.phase!=Pending", true),
            ("status.nominatedNodeName=", true),
            ("spec.serviceAccountName=default", true),
            ("", true),
        ];
        for (sel, want) in cases {
            let s = parse_field_selector(pods, sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&pod), want, "{sel}");
        }
        let s = parse_field_selector(pods, "spec.host=node-a").unwrap();
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some("node-a"));
        assert_eq!(s.to_string(), "spec.nodeName=node-a");

        let e = parse_field_selector(pods, "spec.containers=x").unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert_eq!(e.message, "field label not supported: spec.containers");
    }

    #[test]
    fn field_selector_wording_per_resource() {
        let cm = find("", "v1", "configmaps").unwrap();
        assert_eq!(
            parse_field_selector(cm, "data.x=y").unwrap_err().message,
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let jobs = find("batch", "v1", "jobs").unwrap();
        assert_eq!(
            parse_field_selector(jobs, "spec.x=y").unwrap_err().message,
            "field label \"spec.x\" not supported for Job"
        );
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 2}});
        assert!(parse_field_selector(jobs, "status.successful=2")
            .unwrap()
            .matches(&job));
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(
            parse_field_selector(nodes, "metadata.namespace=x")
                .unwrap_err()
                .message,
            "field label not supported: metadata.namespace"
        );
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(parse_field_selector(nodes, "spec.unschedulable=true")
            .unwrap()
            .matches(&node));
        let secrets = find("", "v1", "secrets").unwrap();
        let secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"});
        assert!(parse_field_selector(secrets, "type=kubernetes.io/tls")
            .unwrap()
            .matches(&secret));
        let ns = find("", "v1", "namespaces").unwrap();
        assert!(parse_field_selector(ns, "status.phase=Active")
            .unwrap()
            .matches(&json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}})));
        let rc = find("", "v1", "replicationcontrollers").unwrap();
        assert!(parse_field_selector(rc, "status.replicas=0")
            .unwrap()
            .matches(&json!({"metadata": {"name": "a"}})));
        let rs = find("apps", "v1", "replicasets").unwrap();
        assert!(parse_field_selector(rs, "status.replicas=0").is_err());
        let csr = find("certificates.k8s.io", "v1", "certificatesigningrequests").unwrap();
        assert!(parse_field_selector(csr, "spec.signerName=kubernetes.io/kubelet-serving")
            .unwrap()
            .matches(&json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}})));
        let slices = find("resource.k8s.io", "v1", "resourceslices").unwrap();
        let slice = json!({"metadata": {"name": "s"}, "spec": {"nodeName": "a", "driver": "d.example.com"}});
        assert!(
            parse_field_selector(slices, "spec.nodeName=a,spec.driver=d.example.com")
                .unwrap()
                .matches(&slice)
        );
        assert!(!parse_field_selector(slices, "spec.nodeName=b")
            .unwrap()
            .matches(&slice));
        assert_eq!(
            parse_field_selector(slices, "metadata.namespace=x")
                .unwrap_err()
                .message,
            "field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: metadata.namespace"
        );
    }

    #[test]
    fn field_selectors_on_events() {
        let events = find("", "v1", "events").unwrap();
        let ev = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
            "reason": "Scheduled", "type": "Normal", "reportingComponent": "", "source": {"component": "default-scheduler"}
        });
        let s = parse_field_selector(
            events,
            "involvedObject.kind=Pod,involvedObject.name=web-1,type=Normal",
        )
        .unwrap();
        assert!(s.matches(&ev));
        assert!(parse_field_selector(events, "source=default-scheduler")
            .unwrap()
            .matches(&ev));
        assert!(parse_field_selector(events, "involvedObject.uid=u1")
            .unwrap()
            .matches(&ev));
        assert!(parse_field_selector(events, "note=x").is_err());

        let v1 = find("events.k8s.io", "v1", "events").unwrap();
        let ev1 = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "web-1"},
            "reason": "Scheduled", "type": "Normal", "reportingController": "default-scheduler"
        });
        let s = parse_field_selector(
            v1,
            "regarding.name=web-1,reportingController=default-scheduler",
        )
        .unwrap();
        assert_eq!(
            s.to_string(),
            "involvedObject.name=web-1,reportingComponent=default-scheduler"
        );
        assert!(s.matches(&ev1));
        assert_eq!(
            parse_field_selector(v1, "involvedObject.name=x")
                .unwrap_err()
                .message,
            "field label not supported: involvedObject.name"
        );
    }

    #[test]
    fn field_selector_syntax_and_escapes() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            parse_field_selector(pods, "metadata.name")
                .unwrap_err()
                .message,
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            parse_field_selector(pods, "metadata.name=a=b")
                .unwrap_err()
                .message,
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            parse_field_selector(pods, "metadata.name=a\\x")
                .unwrap_err()
                .message,
            "invalid field selector: invalid escape sequence: \\x"
        );
        let s = parse_field_selector(pods, "metadata.name=a\\,b\\=c").unwrap();
        assert_eq!(s.terms()[0].value, "a,b=c");
        assert!(s.matches(&json!({"metadata": {"name": "a,b=c"}})));
        // empty terms are skipped
        assert!(
            parse_field_selector(pods, ",metadata.name=a,")
                .unwrap()
                .terms()
                .len()
                == 1
        );
        // terms are checked in sorted order, as upstream sorts them first
        assert_eq!(
            parse_field_selector(pods, "zzz=1,aaa=1")
                .unwrap_err()
                .message,
            "field label not supported: aaa"
        );
    }
}
