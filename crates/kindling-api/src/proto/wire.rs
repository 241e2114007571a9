//! The protobuf wire format: varints, keys, length-delimited payloads, skipping unknown fields.
//! Every read checks its bounds; malformed input is an error, never a panic.

/// A decoding failure, turned into a 400 by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WireError {
    message: String,
    /// The JSON path of the field that failed, innermost first.
    path: Vec<&'static str>,
}

impl WireError {
    pub fn new(message: impl Into<String>) -> WireError {
        WireError {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// The error, as raised inside the field `json` (inline fields add nothing).
    pub fn within(mut self, json: &'static str) -> WireError {
        if !json.is_empty() {
            self.path.push(json);
        }
        self
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.path.is_empty() {
            let path: Vec<&str> = self.path.iter().rev().copied().collect();
            write!(f, "{}: ", path.join("."))?;
        }
        f.write_str(&self.message)
    }
}

pub(super) type Result<T> = std::result::Result<T, WireError>;

pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const START_GROUP: u8 = 3;
pub(super) const END_GROUP: u8 = 4;
pub(super) const FIXED32: u8 = 5;

/// One value of a field as it was on the wire.
#[derive(Clone, Copy, Debug)]
pub(super) enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
}

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(WireError::new("unexpected end of data in a varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::new("varint overflows 64 bits"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| WireError::new("unexpected end of data"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A field key: (field number, wire type).
    pub fn key(&mut self) -> Result<(u32, u8)> {
        let key = self.varint()?;
        let wire_type = (key & 7) as u8;
        let number = key >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(WireError::new(format!("invalid field number {number}")));
        }
        Ok((number as u32, wire_type))
    }

    /// The value following a key of `wire_type`. Groups are skipped and yield `None`.
    pub fn value(&mut self, number: u32, wire_type: u8) -> Result<Option<Raw<'a>>> {
        Ok(Some(match wire_type {
            VARINT => Raw::Varint(self.varint()?),
            FIXED64 => {
                let b = self.take(8)?;
                Raw::Fixed64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            FIXED32 => {
                let b = self.take(4)?;
                Raw::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            LEN => {
                let len = self.varint()?;
                let len =
                    usize::try_from(len).map_err(|_| WireError::new("length out of range"))?;
                Raw::Len(self.take(len)?)
            }
            START_GROUP => {
                self.skip_group(number)?;
                return Ok(None);
            }
            END_GROUP => return Err(WireError::new(format!("unexpected end of group {number}"))),
            other => {
                return Err(WireError::new(format!(
                    "illegal wire type {other} for field {number}"
                )))
            }
        }))
    }

    /// Skips a (deprecated, proto2) group up to its matching end, nested groups included.
    fn skip_group(&mut self, number: u32) -> Result<()> {
        let mut open = vec![number];
        while let Some(&current) = open.last() {
            if self.at_end() {
                return Err(WireError::new(format!("unterminated group {current}")));
            }
            let (n, wire_type) = self.key()?;
            match wire_type {
                START_GROUP => {
                    if open.len() >= super::MAX_DEPTH {
                        return Err(WireError::new("groups nested too deeply"));
                    }
                    open.push(n);
                }
                END_GROUP => {
                    if n != current {
                        return Err(WireError::new(format!(
                            "end of group {n} inside group {current}"
                        )));
                    }
                    open.pop();
                }
                _ => {
                    self.value(n, wire_type)?;
                }
            }
        }
        Ok(())
    }
}

/// The scalars of a packed repeated field of varints.
pub(super) fn packed_varints(payload: &[u8]) -> Result<Vec<u64>> {
    let mut r = Reader::new(payload);
    let mut out = Vec::new();
    while !r.at_end() {
        out.push(r.varint()?);
    }
    Ok(out)
}

/// The scalars of a packed repeated field of fixed-width values (`width` 4 or 8 bytes).
pub(super) fn packed_fixed(payload: &[u8], width: usize) -> Result<Vec<Raw<'_>>> {
    if !payload.len().is_multiple_of(width) {
        return Err(WireError::new("packed fixed-width field of a bad length"));
    }
    Ok(payload
        .chunks_exact(width)
        .map(|c| match width {
            4 => Raw::Fixed32(u32::from_le_bytes(c.try_into().expect("4 bytes"))),
            _ => Raw::Fixed64(u64::from_le_bytes(c.try_into().expect("8 bytes"))),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(Reader::new(&[0x96, 0x01]).varint(), Ok(150));
        assert!(Reader::new(&[0x96]).varint().is_err());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        let minus_one = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&minus_one).varint().map(|v| v as i64), Ok(-1));
    }

    #[test]
    fn skips_groups() {
        // field 1 start group, field 2 varint 5, nested group 3 {}, end group 1; then field 4 varint 1
        let data = [0x0b, 0x10, 0x05, 0x1b, 0x1c, 0x0c, 0x20, 0x01];
        let mut r = Reader::new(&data);
        let (n, wt) = r.key().unwrap();
        assert!(r.value(n, wt).unwrap().is_none());
        assert_eq!(r.key().unwrap(), (4, VARINT));
        assert!(matches!(r.value(4, VARINT).unwrap(), Some(Raw::Varint(1))));
        assert!(r.at_end());
        // mismatched end
        let mut r = Reader::new(&[0x0b, 0x14]);
        let (n, wt) = r.key().unwrap();
        assert!(r.value(n, wt).is_err());
    }

    #[test]
    fn lengths_are_checked() {
        let mut r = Reader::new(&[0x0a, 0x05, 0x01]);
        let (n, wt) = r.key().unwrap();
        assert!(r.value(n, wt).is_err());
        let mut r = Reader::new(&[
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
        let (n, wt) = r.key().unwrap();
        assert!(r.value(n, wt).is_err());
        assert!(Reader::new(&[0x00]).key().is_err());
    }
}
