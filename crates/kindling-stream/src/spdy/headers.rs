//! SPDY/3 name/value header blocks: a count, then length-prefixed lowercase names and values
//! (several values of one name joined by NUL), all compressed by one zlib stream per direction
//! and session, primed with the SPDY dictionary and sync-flushed after every block.

use super::dictionary::DICTIONARY;
use super::FrameError;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Header pairs in the order they were sent. Names are lowercase on the wire.
pub type Headers = Vec<(String, String)>;

/// Serializes a header block before compression.
pub fn serialize(headers: &Headers) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Parses a decompressed header block.
pub fn parse(mut block: &[u8]) -> Result<Headers, FrameError> {
    let count = take_u32(&mut block)? as usize;
    // Each pair needs at least 8 bytes: refuse counts the block cannot hold before allocating.
    if count > block.len() / 8 {
        return Err(FrameError::Invalid("header count exceeds the block"));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let name = take_string(&mut block)?;
        let value = take_string(&mut block)?;
        headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(headers)
}

fn take_u32(block: &mut &[u8]) -> Result<u32, FrameError> {
    if block.len() < 4 {
        return Err(FrameError::Invalid("truncated header block"));
    }
    let (n, rest) = block.split_at(4);
    *block = rest;
    Ok(u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
}

fn take_string(block: &mut &[u8]) -> Result<String, FrameError> {
    let len = take_u32(block)? as usize;
    if block.len() < len {
        return Err(FrameError::Invalid("truncated header block"));
    }
    let (s, rest) = block.split_at(len);
    *block = rest;
    String::from_utf8(s.to_vec()).map_err(|_| FrameError::Invalid("header is not UTF-8"))
}

/// The compressing side of a session's header stream.
pub struct Compressor(Compress);

impl Default for Compressor {
    fn default() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(DICTIONARY)
            .expect("a fresh deflate stream accepts a dictionary");
        Compressor(z)
    }
}

impl Compressor {
    /// Compresses one serialized block, flushed so the peer can decode it on its own.
    pub fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let start_in = self.0.total_in();
        loop {
            let consumed = (self.0.total_in() - start_in) as usize;
            out.reserve(256);
            self.0
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|_| FrameError::Invalid("header compression failed"))?;
            // Done once every byte went in and the flush left spare room in the buffer.
            if (self.0.total_in() - start_in) as usize == block.len() && out.len() < out.capacity()
            {
                return Ok(out);
            }
        }
    }
}

/// The decompressing side of a session's header stream.
pub struct Decompressor(Decompress);

impl Default for Decompressor {
    fn default() -> Self {
        Decompressor(Decompress::new(true))
    }
}

/// Decompressed header blocks larger than this are refused (a compressed bomb).
const MAX_BLOCK: usize = 1 << 20;

impl Decompressor {
    /// Decompresses one block; the stream's dictionary request is answered on the first one.
    pub fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let start_in = self.0.total_in();
        loop {
            let consumed = (self.0.total_in() - start_in) as usize;
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            match self
                .0
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            {
                Ok(Status::StreamEnd) => return Ok(out),
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.0
                        .set_dictionary(DICTIONARY)
                        .map_err(|_| FrameError::Invalid("header dictionary mismatch"))?;
                    continue;
                }
                Err(_) => return Err(FrameError::Invalid("corrupt compressed headers")),
            }
            if out.len() > MAX_BLOCK {
                return Err(FrameError::Invalid("header block too large"));
            }
            let all_in = (self.0.total_in() - start_in) as usize == input.len();
            if all_in && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Headers {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn serialized_block_layout() {
        let block = serialize(&pairs(&[("streamType", "error")]));
        assert_eq!(
            block,
            b"\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"
        );
        assert_eq!(parse(&block).unwrap(), pairs(&[("streamtype", "error")]));
    }

    #[test]
    fn compressed_blocks_share_one_stream() {
        let mut c = Compressor::default();
        let mut d = Decompressor::default();
        let first = pairs(&[("streamtype", "stdout"), ("port", "80")]);
        let second = pairs(&[("streamtype", "stderr"), ("requestid", "0")]);
        let a = c.compress(&serialize(&first)).unwrap();
        let b = c.compress(&serialize(&second)).unwrap();
        // zlib header 0x78, then FDICT set with the dictionary's Adler-32 (SPDY/3's id).
        assert_eq!(a[0], 0x78);
        assert_ne!(a[1] & 0x20, 0);
        assert_eq!(&a[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
        // A sync flush ends every block with an empty stored block.
        assert!(a.ends_with(&[0x00, 0x00, 0xff, 0xff]));
        assert!(b.ends_with(&[0x00, 0x00, 0xff, 0xff]));
        assert_eq!(parse(&d.decompress(&a).unwrap()).unwrap(), first);
        assert_eq!(parse(&d.decompress(&b).unwrap()).unwrap(), second);
    }

    #[test]
    fn decodes_known_bytes_of_another_implementation() {
        // Two consecutive blocks written by CPython's zlib (level 9, SPDY dictionary, sync
        // flush): the second refers back into the first, so the stream state must carry over.
        let first = b"\x78\xf9\xe3\xc6\xa7\xc2\x02\xe5\x0e\x70\x3a\x2b\x29\x4a\x4d\xcc\x85\x16\x25\xac\xa9\xa0\x80\x86\x14\xcb\x45\xa0\x24\xcc\x64\x61\x00\x00\x00\x00\xff\xff";
        let second = b"\x02\x92\x8c\x18\x0a\x81\x49\x3b\x25\xbf\xb4\x04\x00\x00\x00\xff\xff";
        let mut d = Decompressor::default();
        assert_eq!(
            parse(&d.decompress(first).unwrap()).unwrap(),
            pairs(&[("streamtype", "error"), ("port", "80")])
        );
        assert_eq!(
            parse(&d.decompress(second).unwrap()).unwrap(),
            pairs(&[("streamtype", "stdout")])
        );
    }

    #[test]
    fn bad_blocks_are_errors() {
        assert!(parse(b"\x00\x00\x00\x05").is_err());
        assert!(parse(b"\x00\x00\x00\x01\x00\x00\x00\x09ab").is_err());
        assert!(Decompressor::default().decompress(b"not zlib").is_err());
    }
}
