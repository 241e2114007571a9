//! upstream's format library (k8s.io/apiserver/pkg/cel/library/format.go): the named formats
//! as `format.<name>()`, `format.named(name)` (an optional Format), and `Format.validate(s)`
//! (none when `s` is valid, else the list of its errors).

use super::{no_overload, opaque_arg, ret, string_arg, values};
use crate::meta::{
    dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors, label_value_errors,
    qualified_name_errors,
};
use ::cel::common::types::{Type, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::objects::{Opaque, OptionalValue};
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

const FORMAT_TYPE: &str = "kubernetes.NamedFormat";

/// The formats, by the name CEL calls them.
const FORMATS: [&str; 13] = [
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format(&'static str);

impl Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        FORMAT_TYPE
    }
}

/// A name-validation prefix may end in a dash (upstream masks it before validating).
fn prefix(s: &str) -> String {
    match s.strip_suffix('-') {
        Some(rest) if !rest.is_empty() => format!("{rest}a"),
        _ => s.to_string(),
    }
}

/// The errors of `s` in `format` (empty: valid), with upstream's messages.
pub fn errors(format: &str, s: &str) -> Vec<String> {
    let fails = |ok: bool, why: &str| if ok { vec![] } else { vec![why.to_string()] };
    match format {
        "dns1123Label" => dns1123_label_errors(s),
        "dns1123Subdomain" => dns1123_subdomain_errors(s),
        "dns1035Label" => dns1035_label_errors(s),
        "qualifiedName" => qualified_name_errors(s),
        "dns1123LabelPrefix" => dns1123_label_errors(&prefix(s)),
        "dns1123SubdomainPrefix" => dns1123_subdomain_errors(&prefix(s)),
        "dns1035LabelPrefix" => dns1035_label_errors(&prefix(s)),
        "labelValue" => label_value_errors(s),
        "uri" => super::urls::parse_request_uri(s)
            .err()
            .into_iter()
            .collect(),
        "uuid" => fails(
            super::super::schema::format_matches("uuid", s),
            "does not match the UUID format",
        ),
        "byte" => fails(
            super::super::schema::format_matches("byte", s),
            "invalid base64",
        ),
        "date" => fails(
            super::super::schema::format_matches("date", s),
            "invalid date",
        ),
        "datetime" => fails(
            super::super::schema::format_matches("date-time", s),
            "invalid datetime",
        ),
        _ => vec![],
    }
}

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    macro_rules! constant {
        ($($name:literal),*) => {$(
            env.add_overload(concat!("format.", $name), concat!("format.", $name), vec![], |_| {
                ret(Value::Opaque(Arc::new(Format($name))))
            })?;
        )*};
    }
    constant!(
        "dns1123Label",
        "dns1123Subdomain",
        "dns1035Label",
        "qualifiedName",
        "dns1123LabelPrefix",
        "dns1123SubdomainPrefix",
        "dns1035LabelPrefix",
        "labelValue",
        "uri",
        "uuid",
        "byte",
        "date",
        "datetime"
    );
    env.add_overload("format.named", "format-named", vec![STRING_TYPE], named)?;
    env.add_member_overload(
        "validate",
        "format-validate",
        Type::new_opaque_type(FORMAT_TYPE),
        vec![STRING_TYPE],
        validate,
    )?;
    Ok(())
}

fn named<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let name = string_arg(&args, 0, "format.named")?;
    let found = FORMATS
        .iter()
        .find(|f| **f == name.as_str())
        .map(|f| Value::Opaque(Arc::new(Format(f))));
    let optional = match found {
        Some(v) => OptionalValue::of(v),
        None => OptionalValue::none(),
    };
    ret(Value::Opaque(Arc::new(optional)))
}

fn validate<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let format = opaque_arg::<Format>(&args, 0, "validate")?;
    let Value::String(s) = &args[1] else {
        return Err(no_overload("validate", &args));
    };
    let errs = errors(format.0, s);
    let optional = if errs.is_empty() {
        OptionalValue::none()
    } else {
        OptionalValue::of(Value::List(Arc::new(
            errs.into_iter()
                .map(|e| Value::String(Arc::new(e)))
                .collect(),
        )))
    };
    ret(Value::Opaque(Arc::new(optional)))
}
