//! Bridges between a client's WebSocket and the SPDY the node speaks.
//!
//! - [`remote_command`]: `exec`/`attach` over `v5.channel.k8s.io` (or `v4`): every binary
//!   message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5
//!   adds `[255, channel]`, "the client closed this channel". containerd serves v4 at most, so
//!   the WebSocket is terminated here and a SPDY client session (streams named by a
//!   `streamtype` header) is opened to the node, as upstream's StreamTranslator does.
//! - [`tunnel`]: port-forward's `SPDY/3.1+portforward.k8s.io`, SPDY frames carried in binary
//!   messages: unwrapped into the byte stream of a plain SPDY connection to the node.

use crate::spdy::{Codec, Frame, FLAG_FIN};
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// v5: `[CLOSE, channel]` half-closes a channel.
const CLOSE: u8 = 255;

/// Which streams a remote command uses (the request's stdin/stdout/stderr/tty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl Streams {
    /// From a request's query (`stdin=true&stdout=1…`, as kubectl sends them).
    pub fn from_query(pairs: &[(String, String)]) -> Streams {
        let flag = |key: &str| {
            pairs
                .iter()
                .any(|(k, v)| k == key && matches!(v.as_str(), "1" | "true" | "True"))
        };
        // The kubelet's own names (`input`, `output`, `error`: what the API server sends it and
        // what tools talking to a kubelet use) or PodExecOptions' (`stdin`, …).
        Streams {
            stdin: flag("input") || flag("stdin"),
            stdout: flag("output") || flag("stdout"),
            stderr: flag("error") || flag("stderr"),
            tty: flag("tty"),
        }
    }

    /// The SPDY streams to open, in client-go's order: error first, then the data streams.
    fn spdy_streams(self) -> Vec<(u8, &'static str)> {
        let mut out = vec![(ERROR, "error")];
        if self.stdin {
            out.push((STDIN, "stdin"));
        }
        if self.stdout {
            out.push((STDOUT, "stdout"));
        }
        // With a TTY stderr is merged into stdout (upstream refuses both).
        if self.stderr && !self.tty {
            out.push((STDERR, "stderr"));
        }
        if self.tty {
            out.push((RESIZE, "resize"));
        }
        out
    }
}

/// A Status for the error channel, in the shape kubectl decodes (metav1.Status).
pub fn failure_status(code: u16, reason: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }))
    .unwrap_or_default()
}

fn success_status() -> Vec<u8> {
    br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#.to_vec()
}

/// Sends `status` on the error channel and closes the WebSocket: how a failure after the
/// handshake (the node refused the stream) reaches the client.
pub async fn report<C>(mut ws: WebSocketStream<C>, status: Vec<u8>)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let _ = ws.send(channel_message(ERROR, &status)).await;
    close(&mut ws).await;
}

fn channel_message(channel: u8, data: &[u8]) -> Message {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(channel);
    m.extend_from_slice(data);
    Message::Binary(Bytes::from(m))
}

async fn close<C: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<C>) {
    let _ = ws
        .close(Some(CloseFrame {
            code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
}

/// Runs one remote command: the client's WebSocket on one side, an upgraded SPDY connection
/// (already answered 101, protocol v4) on the other. Returns when either side ends.
pub async fn remote_command<C, S>(
    mut ws: WebSocketStream<C>,
    v5: bool,
    streams: Streams,
    spdy: S,
) -> anyhow::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(spdy);
    let mut codec = Codec::default();
    let mut out = BytesMut::new();
    // Stream ids by channel; the client's ids are odd, from 1.
    let mut ids: Vec<(u8, u32)> = Vec::new();
    for (i, (channel, kind)) in streams.spdy_streams().into_iter().enumerate() {
        let id = 2 * i as u32 + 1;
        ids.push((channel, id));
        codec.encode(
            &Frame::SynStream {
                stream_id: id,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers: vec![("streamtype".into(), kind.into())],
            },
            &mut out,
        )?;
    }
    wr.write_all(&out).await?;
    wr.flush().await?;
    out.clear();
    let id_of = |channel: u8| ids.iter().find(|(c, _)| *c == channel).map(|(_, id)| *id);
    let channel_of = |id: u32| ids.iter().find(|(_, i)| *i == id).map(|(c, _)| *c);
    // The node's streams still open: the command is over when they all finished.
    let mut open: Vec<u32> = [ERROR, STDOUT, STDERR]
        .iter()
        .filter_map(|c| id_of(*c))
        .collect();
    let mut error = Vec::new();
    let mut inbuf = BytesMut::with_capacity(64 * 1024);
    loop {
        tokio::select! {
            msg = ws.next() => {
                let data = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => Bytes::from(t.as_bytes().to_vec()),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
                    Some(Ok(_)) => continue, // ping/pong: answered by tungstenite
                };
                let Some((&channel, payload)) = data.split_first() else { continue };
                let frame = match channel {
                    CLOSE if v5 => payload
                        .first()
                        .and_then(|c| id_of(*c))
                        .map(Frame::fin),
                    STDIN | RESIZE => id_of(channel).map(|id| Frame::data(id, data.slice(1..))),
                    _ => None,
                };
                if let Some(frame) = frame {
                    codec.encode(&frame, &mut out)?;
                    wr.write_all(&out).await?;
                    wr.flush().await?;
                    out.clear();
                }
            }
            n = rd.read_buf(&mut inbuf) => {
                if n? == 0 {
                    break;
                }
                while let Some(frame) = codec.decode(&mut inbuf)? {
                    match frame {
                        Frame::Data { stream_id, flags, data } => {
                            match channel_of(stream_id) {
                                Some(ERROR) => error.extend_from_slice(&data),
                                Some(c @ (STDOUT | STDERR)) if !data.is_empty() => {
                                    ws.send(channel_message(c, &data)).await?;
                                }
                                _ => {}
                            }
                            if flags & FLAG_FIN != 0 {
                                open.retain(|id| *id != stream_id);
                            }
                        }
                        Frame::SynReply { stream_id, flags, .. } if flags & FLAG_FIN != 0 => {
                            open.retain(|id| *id != stream_id);
                        }
                        Frame::RstStream { stream_id, .. } => open.retain(|id| *id != stream_id),
                        // Pings the node starts (even ids) are echoed.
                        Frame::Ping { id } if id % 2 == 0 => {
                            codec.encode(&Frame::Ping { id }, &mut out)?;
                            wr.write_all(&out).await?;
                    wr.flush().await?;
                            out.clear();
                        }
                        Frame::GoAway { .. } => open.clear(),
                        _ => {}
                    }
                }
                if open.is_empty() {
                    break;
                }
            }
        }
    }
    // An empty error stream is how a v4 server says success.
    let status = if error.is_empty() {
        success_status()
    } else {
        error
    };
    ws.send(channel_message(ERROR, &status)).await?;
    close(&mut ws).await;
    Ok(())
}

/// Port-forward over WebSocket: binary messages in both directions carry the raw bytes of a
/// SPDY session with the node.
pub async fn tunnel<C, S>(mut ws: WebSocketStream<C>, spdy: S) -> anyhow::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(spdy);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    wr.write_all(&b).await?;
                    wr.flush().await?;
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(()),
                Some(Ok(_)) => {}
            },
            n = rd.read_buf(&mut buf) => {
                if n? == 0 {
                    close(&mut ws).await;
                    return Ok(());
                }
                ws.send(Message::Binary(buf.split().freeze())).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Streams;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn streams_are_read_by_the_kubelets_names_and_the_exec_options_names() {
        let kubelet = Streams::from_query(&pairs(&[("input", "1"), ("output", "1"), ("tty", "1")]));
        assert_eq!(
            kubelet,
            Streams {
                stdin: true,
                stdout: true,
                stderr: false,
                tty: true
            }
        );
        let exec = Streams::from_query(&pairs(&[("stdout", "true"), ("stderr", "1")]));
        assert_eq!(
            exec,
            Streams {
                stdin: false,
                stdout: true,
                stderr: true,
                tty: false
            }
        );
        assert_eq!(
            Streams::from_query(&pairs(&[("error", "0")])),
            Streams::default()
        );
    }
}
