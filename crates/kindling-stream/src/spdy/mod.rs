//! SPDY/3.1 framing, written by hand: no maintained Rust crate speaks it, and Kubernetes still
//! does (client-go's `httpstream/spdy`, containerd's CRI streaming server, through moby's
//! spdystream). Only what Kubernetes uses is here: the control frames, data frames and the
//! compressed header blocks. Flow control is not enforced, as spdystream does not enforce it
//! either (its WINDOW_UPDATE frames are read and ignored).
//!
//! Layout (all big-endian): a control frame is `1 | version:15 | type:16 | flags:8 | length:24`
//! then its payload; a data frame is `0 | stream-id:31 | flags:8 | length:24` then the data.

mod dictionary;
pub mod headers;

use bytes::{Buf, BufMut, Bytes, BytesMut};
pub use headers::Headers;
use headers::{Compressor, Decompressor};

pub const VERSION: u16 = 3;
/// FIN on a data or SYN_STREAM/SYN_REPLY frame: the sender will send nothing more.
pub const FLAG_FIN: u8 = 0x01;
/// Frames larger than this are refused (SPDY's length field allows 16 MiB).
pub const MAX_FRAME: usize = 1 << 24;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("invalid SPDY frame: {0}")]
    Invalid(&'static str),
    #[error("unsupported SPDY version {0}")]
    Version(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// Entries as (flags, id, value).
    Settings {
        flags: u8,
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type this module does not know; SPDY says to ignore it.
    Unknown {
        kind: u16,
    },
}

impl Frame {
    pub fn data(stream_id: u32, data: impl Into<Bytes>) -> Frame {
        Frame::Data {
            stream_id,
            flags: 0,
            data: data.into(),
        }
    }

    /// An empty data frame with FIN: half-closes the stream.
    pub fn fin(stream_id: u32) -> Frame {
        Frame::Data {
            stream_id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        }
    }
}

/// Encoder and decoder of one session: each direction has its own header compression state,
/// which lives as long as the connection.
#[derive(Default)]
pub struct Codec {
    compressor: Compressor,
    decompressor: Decompressor,
}

impl Codec {
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), FrameError> {
        let mut payload = BytesMut::new();
        let (kind, flags) = match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if data.len() >= MAX_FRAME {
                    return Err(FrameError::Invalid("data frame too large"));
                }
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32((u32::from(*flags) << 24) | data.len() as u32);
                out.put_slice(data);
                return Ok(());
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                payload.put_u32(stream_id & 0x7fff_ffff);
                payload.put_u32(associated_to & 0x7fff_ffff);
                payload.put_u8((priority & 0x07) << 5);
                payload.put_u8(0); // slot
                payload.put_slice(&self.compressor.compress(&headers::serialize(headers))?);
                (TYPE_SYN_STREAM, *flags)
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            } => {
                payload.put_u32(stream_id & 0x7fff_ffff);
                payload.put_slice(&self.compressor.compress(&headers::serialize(headers))?);
                (TYPE_SYN_REPLY, *flags)
            }
            Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                payload.put_u32(stream_id & 0x7fff_ffff);
                payload.put_slice(&self.compressor.compress(&headers::serialize(headers))?);
                (TYPE_HEADERS, *flags)
            }
            Frame::RstStream { stream_id, status } => {
                payload.put_u32(stream_id & 0x7fff_ffff);
                payload.put_u32(*status);
                (TYPE_RST_STREAM, 0)
            }
            Frame::Settings { flags, entries } => {
                payload.put_u32(entries.len() as u32);
                for (entry_flags, id, value) in entries {
                    payload.put_u32((u32::from(*entry_flags) << 24) | (id & 0x00ff_ffff));
                    payload.put_u32(*value);
                }
                (TYPE_SETTINGS, *flags)
            }
            Frame::Ping { id } => {
                payload.put_u32(*id);
                (TYPE_PING, 0)
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                payload.put_u32(last_good_stream_id & 0x7fff_ffff);
                payload.put_u32(*status);
                (TYPE_GOAWAY, 0)
            }
            Frame::WindowUpdate { stream_id, delta } => {
                payload.put_u32(stream_id & 0x7fff_ffff);
                payload.put_u32(delta & 0x7fff_ffff);
                (TYPE_WINDOW_UPDATE, 0)
            }
            Frame::Unknown { .. } => return Err(FrameError::Invalid("cannot encode unknown")),
        };
        if payload.len() >= MAX_FRAME {
            return Err(FrameError::Invalid("control frame too large"));
        }
        out.put_u16(0x8000 | VERSION);
        out.put_u16(kind);
        out.put_u32((u32::from(flags) << 24) | payload.len() as u32);
        out.put_slice(&payload);
        Ok(())
    }

    /// Takes one whole frame off the front of `buf`, or `None` if more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = buf[4];
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < 8 + len {
            return Ok(None);
        }
        buf.advance(8);
        let mut p = buf.split_to(len).freeze();
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: first & 0x7fff_ffff,
                flags,
                data: p,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let kind = (first & 0xffff) as u16;
        let need = |p: &Bytes, n: usize| {
            if p.len() < n {
                Err(FrameError::Invalid("control frame too short"))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            TYPE_SYN_STREAM => {
                need(&p, 10)?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                let associated_to = p.get_u32() & 0x7fff_ffff;
                let priority = p.get_u8() >> 5;
                let _slot = p.get_u8();
                let headers = headers::parse(&self.decompressor.decompress(&p)?)?;
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    flags,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                need(&p, 4)?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                let headers = headers::parse(&self.decompressor.decompress(&p)?)?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        flags,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        flags,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                need(&p, 8)?;
                Frame::RstStream {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    status: p.get_u32(),
                }
            }
            TYPE_SETTINGS => {
                need(&p, 4)?;
                let count = p.get_u32() as usize;
                if p.len() != count * 8 {
                    return Err(FrameError::Invalid("settings length mismatch"));
                }
                let entries = (0..count)
                    .map(|_| {
                        let id = p.get_u32();
                        ((id >> 24) as u8, id & 0x00ff_ffff, p.get_u32())
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            TYPE_PING => {
                need(&p, 4)?;
                Frame::Ping { id: p.get_u32() }
            }
            TYPE_GOAWAY => {
                need(&p, 8)?;
                Frame::GoAway {
                    last_good_stream_id: p.get_u32() & 0x7fff_ffff,
                    status: p.get_u32(),
                }
            }
            TYPE_WINDOW_UPDATE => {
                need(&p, 8)?;
                Frame::WindowUpdate {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    delta: p.get_u32() & 0x7fff_ffff,
                }
            }
            other => Frame::Unknown { kind: other },
        };
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Headers {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn round_trip(frames: &[Frame]) {
        let mut sender = Codec::default();
        let mut receiver = Codec::default();
        let mut wire = BytesMut::new();
        for f in frames {
            sender.encode(f, &mut wire).unwrap();
        }
        // Fed byte by byte: a frame is only returned once whole.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.put_u8(b);
            while let Some(f) = receiver.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert!(buf.is_empty());
    }

    #[test]
    fn every_frame_round_trips() {
        round_trip(&[
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers: headers(&[("streamtype", "error")]),
            },
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 7,
                flags: FLAG_FIN,
                headers: headers(&[("streamtype", "stdin"), ("port", "80")]),
            },
            Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: Vec::new(),
            },
            Frame::data(3, &b"hello"[..]),
            Frame::fin(3),
            Frame::RstStream {
                stream_id: 5,
                status: 5, // CANCEL
            },
            Frame::Settings {
                flags: 0,
                entries: vec![(0, 4, 100), (1, 7, 65536)],
            },
            Frame::Ping { id: 2 },
            Frame::GoAway {
                last_good_stream_id: 7,
                status: 0,
            },
            Frame::Headers {
                stream_id: 1,
                flags: 0,
                headers: headers(&[("x", "y")]),
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 1024,
            },
        ]);
    }

    #[test]
    fn control_frame_header_layout() {
        let mut wire = BytesMut::new();
        Codec::default()
            .encode(&Frame::Ping { id: 1 }, &mut wire)
            .unwrap();
        assert_eq!(
            &wire[..],
            b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
        );
        let mut wire = BytesMut::new();
        Codec::default().encode(&Frame::fin(5), &mut wire).unwrap();
        assert_eq!(&wire[..], b"\x00\x00\x00\x05\x01\x00\x00\x00");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut c = Codec::default();
        let mut v2 = BytesMut::from(&b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert_eq!(c.decode(&mut v2), Err(FrameError::Version(2)));
        let mut short = BytesMut::from(&b"\x80\x03\x00\x03\x00\x00\x00\x02\x00\x01"[..]);
        assert!(Codec::default().decode(&mut short).is_err());
        let mut settings = BytesMut::from(&b"\x80\x03\x00\x04\x00\x00\x00\x04\x00\x00\x00\x09"[..]);
        assert!(Codec::default().decode(&mut settings).is_err());
        let mut unknown = BytesMut::from(&b"\x80\x03\x00\x63\x00\x00\x00\x00"[..]);
        assert_eq!(
            Codec::default().decode(&mut unknown),
            Ok(Some(Frame::Unknown { kind: 0x63 }))
        );
    }
}
