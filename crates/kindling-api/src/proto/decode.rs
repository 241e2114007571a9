//! Messages to JSON, driven by the generated table. See the module docs of `proto` for the rules.

use super::schema::{self, Card, Field, Message, Special, Ty, INLINE, OMITEMPTY, POINTER};
use super::wire::{self, Raw, Reader, Result, WireError};
use super::{MAGIC, MAX_DEPTH};
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// `time.Time{}.Unix()`: the seconds of Go's zero time (year 1), which encodes as JSON `null`.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// The `runtime.Unknown` envelope: its TypeMeta and the object's bytes.
#[derive(Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

fn parse_unknown(data: &[u8]) -> Result<Unknown<'_>> {
    let mut out = Unknown::default();
    let mut r = Reader::new(data);
    while !r.at_end() {
        let (n, wire_type) = r.key()?;
        let Some(raw) = r.value(n, wire_type)? else {
            continue;
        };
        match (n, raw) {
            (1, Raw::Len(type_meta)) => {
                let mut t = Reader::new(type_meta);
                while !t.at_end() {
                    let (n, wire_type) = t.key()?;
                    match (n, t.value(n, wire_type)?) {
                        (1, Some(Raw::Len(s))) => {
                            out.api_version = String::from_utf8_lossy(s).into_owned();
                        }
                        (2, Some(Raw::Len(s))) => {
                            out.kind = String::from_utf8_lossy(s).into_owned();
                        }
                        (1 | 2, Some(_)) => {
                            return Err(WireError::new("typeMeta: wrong wire type"))
                        }
                        _ => {}
                    }
                }
            }
            (2, Raw::Len(raw)) => out.raw = raw,
            (3 | 4, Raw::Len(_)) => {}
            (1..=4, _) => {
                return Err(WireError::new(format!(
                    "runtime.Unknown field {n}: wrong wire type"
                )))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes `k8s\0` + `runtime.Unknown` into the object's JSON.
pub(super) fn envelope(
    body: &[u8],
    default_api_version: &str,
    default_kind: &str,
    depth: usize,
) -> Result<Value> {
    if body.is_empty() {
        return Err(WireError::new("empty body"));
    }
    let Some(data) = body.strip_prefix(MAGIC.as_slice()) else {
        return Err(WireError::new(
            "the data does not start with the Kubernetes protobuf prefix k8s\\x00",
        ));
    };
    if data.is_empty() {
        return Err(WireError::new("empty body"));
    }
    let unknown = parse_unknown(data)?;
    let api_version = if unknown.api_version.is_empty() {
        default_api_version
    } else {
        &unknown.api_version
    };
    let kind = if unknown.kind.is_empty() {
        default_kind
    } else {
        &unknown.kind
    };
    if kind.is_empty() {
        return Err(WireError::new("Object 'Kind' is missing"));
    }
    if api_version.is_empty() {
        return Err(WireError::new("Object 'apiVersion' is missing"));
    }
    let (group, version) = crate::catalog::split_api_version(api_version);
    let message = schema::message_for_kind(group, version, kind)
        .filter(|m| m.special == Special::None)
        .ok_or_else(|| {
            WireError::new(format!(
                "no kind {kind:?} is registered for version {api_version:?}"
            ))
        })?;
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(kind.to_string()));
    object.insert("apiVersion".into(), Value::String(api_version.to_string()));
    fields(message, &[unknown.raw], &mut object, depth + 1)?;
    Ok(Value::Object(object))
}

fn resolve(ty: Ty) -> Result<&'static Message> {
    match ty {
        Ty::Msg(package, name) => schema::message(package, name)
            .ok_or_else(|| WireError::new(format!("internal: no message {name}"))),
        _ => Err(WireError::new("internal: not a message type")),
    }
}

/// The wire types a field accepts.
fn wire_type_ok(field: &Field, wire_type: u8) -> bool {
    let scalar = match field.ty {
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => wire::VARINT,
        Ty::F64 => wire::FIXED64,
        Ty::F32 => wire::FIXED32,
        Ty::Str | Ty::Bytes | Ty::Msg(..) => wire::LEN,
    };
    match field.card {
        Card::Map(_) => wire_type == wire::LEN,
        // Repeated numbers may be packed (one length-delimited run) or not.
        Card::Many => wire_type == scalar || wire_type == wire::LEN,
        Card::One => wire_type == scalar,
    }
}

/// Decodes the fields of `message`, given as one or more chunks of bytes (several when a singular
/// message field occurs more than once: protobuf merges them, which is decoding the concatenation),
/// into `out`.
fn fields(
    message: &'static Message,
    chunks: &[&[u8]],
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(WireError::new("messages nested too deeply"));
    }
    let mut seen: Vec<Vec<Raw<'_>>> = vec![Vec::new(); message.fields.len()];
    for chunk in chunks {
        let mut r = Reader::new(chunk);
        while !r.at_end() {
            let (number, wire_type) = r.key()?;
            let Some(raw) = r.value(number, wire_type)? else {
                continue;
            };
            let Some((i, field)) = message.field(number) else {
                continue;
            };
            if !wire_type_ok(field, wire_type) {
                return Err(WireError::new(format!(
                    "wrong wire type {wire_type} for field {} of {}",
                    field.tag,
                    message.definition_name()
                ))
                .within(field.json));
            }
            seen[i].push(raw);
        }
    }
    for (field, raws) in message.fields.iter().zip(seen) {
        if raws.is_empty() {
            continue;
        }
        let within = |e: WireError| e.within(field.json);
        match field.card {
            Card::One => one(field, &raws, out, depth).map_err(within)?,
            Card::Many => {
                let items = many(field, &raws, depth).map_err(within)?;
                if !items.is_empty() {
                    out.insert(field.json.to_string(), Value::Array(items));
                }
            }
            Card::Map(key) => {
                let map = map(field, key, &raws, depth).map_err(within)?;
                if !map.is_empty() {
                    out.insert(field.json.to_string(), Value::Object(map));
                }
            }
        }
    }
    Ok(())
}

fn payload<'a>(raw: &Raw<'a>) -> Result<&'a [u8]> {
    match raw {
        Raw::Len(b) => Ok(b),
        _ => Err(WireError::new("expected a length-delimited value")),
    }
}

/// A singular field.
fn one(field: &Field, raws: &[Raw<'_>], out: &mut Map<String, Value>, depth: usize) -> Result<()> {
    let drop_zero = !field.has(POINTER) && field.has(OMITEMPTY);
    let value = match field.ty {
        Ty::Msg(..) => {
            let message = resolve(field.ty)?;
            let chunks = raws.iter().map(payload).collect::<Result<Vec<_>>>()?;
            if field.has(INLINE) && message.special == Special::None {
                return fields(message, &chunks, out, depth + 1);
            }
            match message_value(message, &chunks, depth + 1)? {
                Rendered::Value(v) => v,
                Rendered::Zero(v) if !drop_zero => v,
                Rendered::Zero(_) | Rendered::Null => return Ok(()),
            }
        }
        ty => {
            // The last occurrence of a singular scalar wins.
            let value = scalar(ty, *raws.last().expect("raws is not empty"))?;
            if drop_zero && is_zero(&value) {
                return Ok(());
            }
            value
        }
    };
    out.insert(field.json.to_string(), value);
    Ok(())
}

/// A repeated field's elements.
fn many(field: &Field, raws: &[Raw<'_>], depth: usize) -> Result<Vec<Value>> {
    let mut items = Vec::with_capacity(raws.len());
    for raw in raws {
        match (field.ty, raw) {
            (Ty::Msg(..), Raw::Len(b)) => items.push(element(resolve(field.ty)?, &[b], depth + 1)?),
            (Ty::Str | Ty::Bytes, _) => items.push(scalar(field.ty, *raw)?),
            (Ty::F64, Raw::Len(b)) => {
                for v in wire::packed_fixed(b, 8)? {
                    items.push(scalar(field.ty, v)?);
                }
            }
            (Ty::F32, Raw::Len(b)) => {
                for v in wire::packed_fixed(b, 4)? {
                    items.push(scalar(field.ty, v)?);
                }
            }
            (_, Raw::Len(b)) => {
                for v in wire::packed_varints(b)? {
                    items.push(scalar(field.ty, Raw::Varint(v))?);
                }
            }
            (_, raw) => items.push(scalar(field.ty, *raw)?),
        }
    }
    Ok(items)
}

/// A map field: its entries `{key=1, value=2}`, later keys replacing earlier ones, sorted.
fn map(field: &Field, key_ty: Ty, raws: &[Raw<'_>], depth: usize) -> Result<Map<String, Value>> {
    let mut entries = BTreeMap::new();
    for raw in raws {
        let mut key = None;
        let mut value = None;
        let mut r = Reader::new(payload(raw)?);
        while !r.at_end() {
            let (n, wire_type) = r.key()?;
            let Some(v) = r.value(n, wire_type)? else {
                continue;
            };
            match n {
                1 => key = Some(v),
                2 => value = Some(v),
                _ => {}
            }
        }
        let key = match key {
            None => String::new(),
            Some(k) => match scalar(key_ty, k)? {
                Value::String(s) => s,
                other => other.to_string(),
            },
        };
        let value = match (field.ty, value) {
            (Ty::Msg(..), Some(v)) => element(resolve(field.ty)?, &[payload(&v)?], depth + 1)?,
            (Ty::Msg(..), None) => element(resolve(field.ty)?, &[], depth + 1)?,
            (ty, Some(v)) => scalar(ty, v)?,
            (ty, None) => zero(ty),
        };
        entries.insert(key, value);
    }
    Ok(entries.into_iter().collect())
}

/// A message inside a list or map: never dropped, `null` where Go prints `null`.
fn element(message: &'static Message, chunks: &[&[u8]], depth: usize) -> Result<Value> {
    Ok(match message_value(message, chunks, depth)? {
        Rendered::Value(v) | Rendered::Zero(v) => v,
        Rendered::Null => Value::Null,
    })
}

/// The JSON of a message value.
enum Rendered {
    /// A value that is not its type's zero value (or a plain object, which Go never omits).
    Value(Value),
    /// The zero value of a value-like type (IntOrString 0, Quantity "0", Duration "0s", empty
    /// list): dropped from non-pointer `omitempty` fields.
    Zero(Value),
    /// What Go prints as `null` (unset time, empty raw extension): dropped from objects.
    Null,
}

fn message_value(message: &'static Message, chunks: &[&[u8]], depth: usize) -> Result<Rendered> {
    if depth > MAX_DEPTH {
        return Err(WireError::new("messages nested too deeply"));
    }
    match message.special {
        Special::None => {
            let mut object = Map::new();
            fields(message, chunks, &mut object, depth)?;
            Ok(Rendered::Value(Value::Object(object)))
        }
        Special::Time | Special::MicroTime => {
            // An unset time is an empty message upstream; both decode to Go's zero time.
            if chunks.iter().all(|c| c.is_empty()) {
                return Ok(Rendered::Null);
            }
            let f = Scalars::read(chunks)?;
            let seconds = f.varint(1).map_or(0, |v| v as i64);
            let nanos = f.varint(2).map_or(0, |v| v as i32);
            time(seconds, nanos, message.special == Special::MicroTime)
        }
        Special::Duration => {
            let nanos = Scalars::read(chunks)?.varint(1).map_or(0, |v| v as i64);
            let text = Value::String(go_duration(nanos));
            Ok(if nanos == 0 {
                Rendered::Zero(text)
            } else {
                Rendered::Value(text)
            })
        }
        Special::IntOrString => {
            let f = Scalars::read(chunks)?;
            match f.varint(1).map_or(0, |v| v as i64) {
                0 => {
                    let n = f.varint(2).map_or(0, |v| v as i32);
                    let v = Value::Number(n.into());
                    Ok(if n == 0 {
                        Rendered::Zero(v)
                    } else {
                        Rendered::Value(v)
                    })
                }
                1 => Ok(Rendered::Value(Value::String(f.string(3)?.into_owned()))),
                other => Err(WireError::new(format!(
                    "impossible IntOrString type {other}"
                ))),
            }
        }
        Special::Quantity => {
            let s = Scalars::read(chunks)?.string(1)?;
            Ok(if s.is_empty() {
                Rendered::Zero(Value::String("0".into()))
            } else {
                Rendered::Value(Value::String(s.into_owned()))
            })
        }
        Special::RawJson => {
            let raw = Scalars::read(chunks)?.bytes(1)?;
            if raw.is_empty() {
                return Ok(Rendered::Null);
            }
            if raw.starts_with(MAGIC) {
                return Ok(Rendered::Value(envelope(raw, "", "", depth)?));
            }
            serde_json::from_slice(raw)
                .map(Rendered::Value)
                .map_err(|e| WireError::new(format!("embedded object is not JSON: {e}")))
        }
        Special::List => {
            let field = message
                .fields
                .first()
                .ok_or_else(|| WireError::new("internal: empty list type"))?;
            let raws = Scalars::read(chunks)?.all(field.tag);
            let items = many(field, &raws, depth)?;
            // An empty Go slice decodes as nil, which Go prints as `null`.
            Ok(if items.is_empty() {
                Rendered::Null
            } else {
                Rendered::Value(Value::Array(items))
            })
        }
    }
}

/// The raw fields of a small value-like message, by number (last occurrence wins).
struct Scalars<'a> {
    fields: Vec<(u32, Raw<'a>)>,
}

impl<'a> Scalars<'a> {
    fn read(chunks: &[&'a [u8]]) -> Result<Scalars<'a>> {
        let mut fields = Vec::new();
        for chunk in chunks {
            let mut r = Reader::new(chunk);
            while !r.at_end() {
                let (n, wire_type) = r.key()?;
                if let Some(v) = r.value(n, wire_type)? {
                    fields.push((n, v));
                }
            }
        }
        Ok(Scalars { fields })
    }

    fn last(&self, n: u32) -> Option<Raw<'a>> {
        self.fields
            .iter()
            .rev()
            .find(|(m, _)| *m == n)
            .map(|(_, v)| *v)
    }

    fn all(&self, n: u32) -> Vec<Raw<'a>> {
        self.fields
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, v)| *v)
            .collect()
    }

    fn varint(&self, n: u32) -> Option<u64> {
        match self.last(n)? {
            Raw::Varint(v) => Some(v),
            _ => None,
        }
    }

    fn bytes(&self, n: u32) -> Result<&'a [u8]> {
        match self.last(n) {
            None => Ok(&[]),
            Some(Raw::Len(b)) => Ok(b),
            Some(_) => Err(WireError::new(format!("field {n}: wrong wire type"))),
        }
    }

    fn string(&self, n: u32) -> Result<Cow<'a, str>> {
        Ok(String::from_utf8_lossy(self.bytes(n)?))
    }
}

fn scalar(ty: Ty, raw: Raw<'_>) -> Result<Value> {
    let wrong = || WireError::new("wrong wire type");
    Ok(match (ty, raw) {
        (Ty::Str, Raw::Len(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Ty::Bytes, Raw::Len(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Ty::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
        // int32 values are sign-extended varints; Go keeps the low 32 bits.
        (Ty::I32, Raw::Varint(v)) => Value::Number((v as i32).into()),
        (Ty::I64, Raw::Varint(v)) => Value::Number((v as i64).into()),
        (Ty::U32, Raw::Varint(v)) => Value::Number((v as u32).into()),
        (Ty::U64, Raw::Varint(v)) => Value::Number(v.into()),
        (Ty::F64, Raw::Fixed64(v)) => float(f64::from_bits(v))?,
        (Ty::F32, Raw::Fixed32(v)) => float(f64::from(f32::from_bits(v)))?,
        _ => return Err(wrong()),
    })
}

fn float(f: f64) -> Result<Value> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| WireError::new(format!("unsupported number {f}")))
}

fn zero(ty: Ty) -> Value {
    match ty {
        Ty::Str | Ty::Bytes => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::F64 | Ty::F32 => float(0.0).unwrap_or(Value::Null),
        _ => Value::Number(0.into()),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
        _ => false,
    }
}

/// metav1.Time (second precision) or MicroTime (microseconds) as upstream prints it.
fn time(seconds: i64, nanos: i32, micro: bool) -> Result<Rendered> {
    // metav1.Time drops nanos; MicroTime truncates them to microseconds. Go normalises nanos
    // outside [0, 1s).
    let nanos = if micro {
        i64::from(nanos) - i64::from(nanos) % 1000
    } else {
        0
    };
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| WireError::new("time out of range"))?;
    let nanos = nanos.rem_euclid(1_000_000_000) as i32;
    if seconds == GO_ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(Rendered::Null);
    }
    let ts = jiff::Timestamp::new(seconds, nanos)
        .map_err(|_| WireError::new(format!("time {seconds}s out of range")))?;
    let mut text = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micro {
        text.push_str(&format!(".{:06}", nanos / 1000));
    }
    text.push('Z');
    Ok(Rendered::Value(Value::String(text)))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(super) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let negative = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Under a second: one unit with a fraction.
        let (precision, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (int, frac) = fraction(u, precision);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (secs, frac) = fraction(u, 9);
        u = secs;
        let seconds = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            let minutes = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&seconds);
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^precision` and the fraction `.ddd` without trailing zeros (empty if 0).
fn fraction(v: u64, precision: u32) -> (u64, String) {
    let scale = 10u64.pow(precision);
    let frac = v % scale;
    if frac == 0 {
        return (v / scale, String::new());
    }
    let digits = format!("{frac:0width$}", width = precision as usize);
    (v / scale, format!(".{}", digits.trim_end_matches('0')))
}
