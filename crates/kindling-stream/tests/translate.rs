//! The WebSocket → SPDY translator against a SPDY peer playing containerd's streaming server,
//! in process: a client speaking v5.channel.k8s.io must see what the node wrote, its stdin
//! half-close must arrive as a FIN, and the exit status must come back on the error channel.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use kindling_stream::translate::{remote_command, tunnel, Streams};
use kindling_stream::{Codec, Frame, Headers, FLAG_FIN};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const EXIT_3: &str = r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c cat; exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;

/// The value of header `name` (case-insensitive), if present.
fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

async fn read_frame(io: &mut DuplexStream, codec: &mut Codec, buf: &mut BytesMut) -> Frame {
    loop {
        if let Some(f) = codec.decode(buf).unwrap() {
            return f;
        }
        assert_ne!(io.read_buf(buf).await.unwrap(), 0, "peer closed early");
    }
}

/// Plays the node: echoes stdin to stdout until stdin ends, writes to stderr, exits 3.
async fn fake_node(mut io: DuplexStream) -> Vec<String> {
    let mut codec = Codec::default();
    let mut buf = BytesMut::new();
    let mut streams: HashMap<String, u32> = HashMap::new();
    let mut out = BytesMut::new();
    while streams.len() < 4 {
        match read_frame(&mut io, &mut codec, &mut buf).await {
            Frame::SynStream {
                stream_id,
                headers: h,
                ..
            } => {
                let kind = header(&h, "streamType").unwrap().to_string();
                streams.insert(kind, stream_id);
                codec
                    .encode(
                        &Frame::SynReply {
                            stream_id,
                            flags: 0,
                            headers: Vec::new(),
                        },
                        &mut out,
                    )
                    .unwrap();
            }
            other => panic!("expected SYN_STREAM, got {other:?}"),
        }
    }
    let mut order: Vec<(&String, &u32)> = streams.iter().collect();
    order.sort_by_key(|(_, id)| **id);
    let order: Vec<String> = order.into_iter().map(|(k, _)| k.clone()).collect();
    loop {
        match read_frame(&mut io, &mut codec, &mut buf).await {
            Frame::Data {
                stream_id,
                flags,
                data,
            } if stream_id == streams["stdin"] => {
                if !data.is_empty() {
                    codec
                        .encode(&Frame::data(streams["stdout"], data), &mut out)
                        .unwrap();
                }
                if flags & FLAG_FIN != 0 {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
        io.write_all(&out).await.unwrap();
        out.clear();
    }
    for (stream, data) in [("stderr", "warn\n"), ("error", EXIT_3)] {
        codec
            .encode(&Frame::data(streams[stream], Bytes::from(data)), &mut out)
            .unwrap();
    }
    for stream in ["stdout", "stderr", "error"] {
        codec
            .encode(&Frame::fin(streams[stream]), &mut out)
            .unwrap();
    }
    io.write_all(&out).await.unwrap();
    order
}

#[tokio::test]
async fn v5_exec_round_trip() {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (translator_io, node_io) = tokio::io::duplex(64 * 1024);
    let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
    let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
    let streams = Streams {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let translator = tokio::spawn(remote_command(server, true, streams, translator_io));
    let node = tokio::spawn(fake_node(node_io));

    let (mut tx, mut rx) = client.split();
    tx.send(Message::Binary(Bytes::from_static(b"\x00hello ")))
        .await
        .unwrap();
    tx.send(Message::Binary(Bytes::from_static(b"\x00world")))
        .await
        .unwrap();
    tx.send(Message::Binary(Bytes::from_static(b"\xff\x00")))
        .await
        .unwrap();

    let mut by_channel: HashMap<u8, Vec<u8>> = HashMap::new();
    let collect = async {
        while let Some(Ok(msg)) = rx.next().await {
            if let Message::Binary(b) = msg {
                by_channel
                    .entry(b[0])
                    .or_default()
                    .extend_from_slice(&b[1..]);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .expect("translator finished");
    assert_eq!(by_channel[&1], b"hello world");
    assert_eq!(by_channel[&2], b"warn\n");
    assert_eq!(by_channel[&3], EXIT_3.as_bytes());
    assert_eq!(node.await.unwrap(), ["error", "stdin", "stdout", "stderr"]);
    translator.await.unwrap().unwrap();
}

#[tokio::test]
async fn tty_streams_and_no_stdin() {
    let with_tty = Streams {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: true,
    };
    // With a TTY there is no stderr stream but a resize stream, as client-go opens them.
    let (client_io, server_io) = tokio::io::duplex(4096);
    let (translator_io, mut node_io) = tokio::io::duplex(4096);
    let _client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
    let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
    tokio::spawn(remote_command(server, true, with_tty, translator_io));
    let mut codec = Codec::default();
    let mut buf = BytesMut::new();
    let mut kinds = Vec::new();
    for _ in 0..4 {
        if let Frame::SynStream { headers: h, .. } =
            read_frame(&mut node_io, &mut codec, &mut buf).await
        {
            kinds.push(header(&h, "streamtype").unwrap().to_string());
        }
    }
    assert_eq!(kinds, ["error", "stdin", "stdout", "resize"]);
}

#[tokio::test]
async fn tunnel_carries_bytes_both_ways() {
    let (client_io, server_io) = tokio::io::duplex(4096);
    let (tunnel_io, mut node_io) = tokio::io::duplex(4096);
    let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
    let server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
    tokio::spawn(tunnel(server, tunnel_io));
    let (mut tx, mut rx) = client.split();
    tx.send(Message::Binary(Bytes::from_static(b"\x80\x03\x00\x06")))
        .await
        .unwrap();
    let mut got = [0u8; 4];
    node_io.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"\x80\x03\x00\x06");
    node_io.write_all(b"reply").await.unwrap();
    match rx.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], b"reply"),
        other => panic!("expected binary, got {other:?}"),
    }
    drop(node_io);
    // The node closing ends the tunnel with a WebSocket close.
    assert!(matches!(
        rx.next().await,
        Some(Ok(Message::Close(_))) | None
    ));
}
