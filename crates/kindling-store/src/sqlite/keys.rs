//! Key ranges as byte comparisons, so prefixes work for keys holding any characters (no LIKE and
//! no escaping).

use crate::{Result, StoreError};

/// The keys under `prefix`, optionally strictly after `start_after`, as SQL bounds on a BLOB
/// column: `key {lower_op} lower AND key < upper`.
pub(super) struct KeyRange {
    pub lower: Vec<u8>,
    /// `>=` or `>`; spliced into SQL text, never user data.
    pub lower_op: &'static str,
    pub upper: Vec<u8>,
}

impl KeyRange {
    pub fn new(prefix: &str, start_after: Option<&str>) -> KeyRange {
        let upper = prefix_upper_bound(prefix);
        match start_after {
            Some(after) if after.as_bytes() >= prefix.as_bytes() => KeyRange {
                lower: after.as_bytes().to_vec(),
                lower_op: ">",
                upper,
            },
            _ => KeyRange {
                lower: prefix.as_bytes().to_vec(),
                lower_op: ">=",
                upper,
            },
        }
    }
}

/// A byte string greater than every UTF-8 string starting with `prefix` and smaller than every
/// other string greater than `prefix`: the prefix followed by 0xFF, a byte UTF-8 never contains.
fn prefix_upper_bound(prefix: &str) -> Vec<u8> {
    let mut upper = Vec::with_capacity(prefix.len() + 1);
    upper.extend_from_slice(prefix.as_bytes());
    upper.push(0xFF);
    upper
}

/// Keys are written from `&str`, so a stored key that is not UTF-8 means a damaged file.
pub(super) fn key_from_blob(blob: Vec<u8>) -> Result<String> {
    String::from_utf8(blob)
        .map_err(|_| StoreError::Internal("a stored key is not valid UTF-8".to_string()))
}

pub(super) fn has_prefix(key: &str, prefix: &str) -> bool {
    key.as_bytes().starts_with(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bound_is_above_every_key_with_the_prefix() {
        let upper = prefix_upper_bound("/a/");
        for key in ["/a/", "/a/b", "/a/\u{10FFFF}\u{10FFFF}", "/a/%_"] {
            assert!(key.as_bytes() < upper.as_slice(), "{key}");
        }
        for key in ["/a0", "/b", "/a/".trim_end_matches('/')] {
            assert!(!(key.as_bytes() >= b"/a/".as_slice() && key.as_bytes() < upper.as_slice()));
        }
    }

    #[test]
    fn start_after_below_the_prefix_is_ignored() {
        let range = KeyRange::new("/b/", Some("/a/z"));
        assert_eq!(range.lower, b"/b/");
        assert_eq!(range.lower_op, ">=");
        let range = KeyRange::new("/b/", Some("/b/x"));
        assert_eq!(range.lower, b"/b/x");
        assert_eq!(range.lower_op, ">");
    }
}
