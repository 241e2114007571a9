//! A stored object as clients see it, without decoding it: the stored JSON with
//! `metadata.resourceVersion` spliced in where ObjectMeta has it (after `uid`, before
//! `generation` …), byte for byte what decoding, `registry::set_resource_version` and encoding
//! again would give. Objects are stored in upstream's field order by serde_json (compact), so
//! only the few hundred bytes up to the insertion point are scanned.

/// The fields of ObjectMeta after `resourceVersion`, in struct order (the registry's rule).
const AFTER_RESOURCE_VERSION: [&[u8]; 9] = [
    b"generation",
    b"creationTimestamp",
    b"deletionTimestamp",
    b"deletionGracePeriodSeconds",
    b"labels",
    b"annotations",
    b"ownerReferences",
    b"finalizers",
    b"managedFields",
];

/// `stored` with `metadata.resourceVersion` = `revision` (a string, as Kubernetes writes it).
/// An object without a `metadata` object is returned unchanged; `None` if `stored` is not a
/// JSON object (the caller decodes it the slow way and reports the corruption).
pub fn with_resource_version(stored: &[u8], revision: i64) -> Option<Vec<u8>> {
    let rv = format!("\"{revision}\"");
    let mut scan = Scanner {
        bytes: stored,
        at: 0,
    };
    scan.expect(b'{')?;
    loop {
        scan.skip_ws();
        if scan.peek()? == b'}' {
            return Some(stored.to_vec());
        }
        let key = scan.string()?;
        scan.colon()?;
        if key == b"metadata" && scan.peek()? == b'{' {
            let splice = scan.metadata_splice()?;
            return Some(splice.apply(stored, &rv));
        }
        scan.value()?;
        scan.skip_ws();
        match scan.next()? {
            b',' => continue,
            b'}' => return Some(stored.to_vec()),
            _ => return None,
        }
    }
}

/// The bytes of an object's top-level `metadata` value (as written), if it has one.
pub fn metadata(json: &[u8]) -> Option<&[u8]> {
    let mut scan = Scanner { bytes: json, at: 0 };
    scan.expect(b'{')?;
    loop {
        scan.skip_ws();
        if scan.peek()? == b'}' {
            return None;
        }
        let key = scan.string()?;
        scan.colon()?;
        let start = scan.at;
        scan.value()?;
        if key == b"metadata" {
            return Some(&json[start..scan.at]);
        }
        scan.skip_ws();
        if scan.next()? != b',' {
            return None;
        }
    }
}

/// Where the resourceVersion goes.
enum Splice {
    /// Insert `"resourceVersion":…` at this offset, followed by a comma (more fields follow).
    Before(usize),
    /// Insert at the closing brace of metadata; `first` when metadata was empty.
    AtEnd { at: usize, first: bool },
    /// Replace the existing value in this byte range.
    Replace(usize, usize),
}

impl Splice {
    fn apply(self, stored: &[u8], rv: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(stored.len() + rv.len() + 20);
        match self {
            Splice::Before(at) => {
                out.extend_from_slice(&stored[..at]);
                out.extend_from_slice(b"\"resourceVersion\":");
                out.extend_from_slice(rv.as_bytes());
                out.push(b',');
                out.extend_from_slice(&stored[at..]);
            }
            Splice::AtEnd { at, first } => {
                out.extend_from_slice(&stored[..at]);
                if !first {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"resourceVersion\":");
                out.extend_from_slice(rv.as_bytes());
                out.extend_from_slice(&stored[at..]);
            }
            Splice::Replace(start, end) => {
                out.extend_from_slice(&stored[..start]);
                out.extend_from_slice(rv.as_bytes());
                out.extend_from_slice(&stored[end..]);
            }
        }
        out
    }
}

/// A forward-only JSON scanner: enough to find keys and skip values, never building them.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.next()? == byte).then_some(())
    }

    fn colon(&mut self) -> Option<()> {
        self.expect(b':')?;
        self.skip_ws();
        Some(())
    }

    /// A string's raw bytes between its quotes (escapes left as written).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.next()? {
                b'"' => return Some(&self.bytes[start..self.at - 1]),
                b'\\' => {
                    self.next()?;
                }
                _ => {}
            }
        }
    }

    /// Skips one value of any type.
    fn value(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                // A number, true, false or null: up to the next delimiter.
                while !matches!(
                    self.peek()?,
                    b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'
                ) {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// At metadata's opening brace: where its resourceVersion goes.
    fn metadata_splice(&mut self) -> Option<Splice> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            return Some(Splice::AtEnd {
                at: self.at,
                first: true,
            });
        }
        loop {
            self.skip_ws();
            let key_start = self.at;
            let key = self.string()?;
            self.colon()?;
            if key == b"resourceVersion" {
                let start = self.at;
                self.value()?;
                return Some(Splice::Replace(start, self.at));
            }
            if AFTER_RESOURCE_VERSION.contains(&key) {
                return Some(Splice::Before(key_start));
            }
            self.value()?;
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    return Some(Splice::AtEnd {
                        at: self.at,
                        first: false,
                    })
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// What the registry's decode path gives: parse, set the resourceVersion, encode.
    fn slow(stored: &Value, revision: i64) -> Vec<u8> {
        let mut obj = stored.clone();
        crate::registry::set_resource_version(&mut obj, revision);
        serde_json::to_vec(&obj).unwrap()
    }

    #[test]
    fn splices_like_decoding_and_encoding() {
        let cases = [
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "namespace": "d", "uid": "u",
                   "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"x": "y"}}, "spec": {"a": [1, {"b": "}"}]}}),
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}, "data": {"k": "v\"},{"}}),
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {}}),
            json!({"kind": "X", "apiVersion": "v1", "metadata": {"name": "a", "resourceVersion": "7", "generation": 2}}),
            json!({"kind": "X", "apiVersion": "v1", "metadata": {"generation": 2, "name": "late"}}),
            json!({"kind": "X", "apiVersion": "v1", "spec": {"metadata": {"name": "not this one"}}}),
            json!({"apiVersion": "v1", "data": {"n": -1.5e10, "t": true, "z": null, "s": "é\\\u{1}"},
                   "metadata": {"name": "after data", "finalizers": ["a"]}}),
            json!({"kind": "X", "metadata": "not an object"}),
        ];
        for case in cases {
            let stored = serde_json::to_vec(&case).unwrap();
            let fast = with_resource_version(&stored, 12345).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow(&case, 12345)).unwrap(),
                "{case}"
            );
        }
    }

    #[test]
    fn finds_the_metadata_as_written() {
        let obj = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a", "labels": {"x": "}"}}, "spec": {}});
        let bytes = serde_json::to_vec(&obj).unwrap();
        assert_eq!(
            metadata(&bytes).unwrap(),
            serde_json::to_vec(&obj["metadata"]).unwrap().as_slice()
        );
        assert!(metadata(br#"{"kind":"X"}"#).is_none());
        assert!(metadata(b"[]").is_none());
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        assert!(with_resource_version(b"[1,2]", 1).is_none());
        assert!(with_resource_version(b"{\"metadata\":{\"name\":", 1).is_none());
        assert!(with_resource_version(b"", 1).is_none());
    }
}
