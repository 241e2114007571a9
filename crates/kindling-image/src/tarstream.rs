//! Turns a blocking tar writer into a byte stream for an HTTP body, so a 200 MB rootfs goes to
//! Docker as it is read from disk instead of being held in memory.

use std::io::{self, Write};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

const CHUNK: usize = 256 * 1024;

/// Runs `write` on a blocking thread; what it writes comes out of the returned stream. An error
/// from `write` ends the stream with that error, so the import fails instead of half-succeeding.
pub(crate) fn stream<F>(write: F) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
where
    F: FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
{
    // a few chunks in flight keep disk reads and the socket both busy
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write(&mut out).and_then(|()| out.flush());
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        // the receiver is gone when Docker dropped the request: stop reading the disk
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "image import ended early"))
    }
}

/// Appends an in-memory file (root-owned, fixed mtime so rebuilt content is byte-identical).
pub(crate) fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    data: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_data(&mut header, path, data)
}

pub(crate) fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_data(&mut header, path, io::empty())
}

pub(crate) fn append_symlink<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    target: &str,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_link(&mut header, path, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn large_writes_arrive_whole_and_errors_end_the_stream() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| i as u8).collect();
        let expected = data.clone();
        let got: Vec<u8> = stream(move |w| w.write_all(&data))
            .map(|c| c.unwrap().to_vec())
            .concat()
            .await;
        assert_eq!(got, expected);

        let items: Vec<_> = stream(|w| {
            w.write_all(b"x")?;
            Err(io::Error::other("disk"))
        })
        .collect()
        .await;
        assert!(items.last().unwrap().is_err());
    }
}
