//! `/containerLogs/{ns}/{pod}/{container}` for `kubectl logs`, read from the CRI log files
//! containerd writes under /var/log/pods (`<RFC 3339 time> <stream> <P|F> <text>` per line; P
//! marks a partial line): tail, since, limitBytes, timestamps, previous, follow.

use super::reply::text;
use crate::runtime::Runtime;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Query options of a log request (upstream's PodLogOptions).
#[derive(Debug, Default, Clone)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub limit_bytes: Option<usize>,
    /// Only lines logged at or after this (`sinceSeconds` from now, or `sinceTime`).
    pub since: Option<jiff::Timestamp>,
}

impl LogOptions {
    pub fn from_query(q: &str) -> LogOptions {
        let mut o = LogOptions::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "follow" => o.follow = v == "true",
                "previous" => o.previous = v == "true",
                "timestamps" => o.timestamps = v == "true",
                "tailLines" => o.tail_lines = v.parse().ok(),
                "limitBytes" => o.limit_bytes = v.parse().ok(),
                "sinceSeconds" => {
                    o.since = v.parse::<i64>().ok().and_then(|s| {
                        jiff::Timestamp::now()
                            .checked_sub(jiff::SignedDuration::from_secs(s))
                            .ok()
                    });
                }
                "sinceTime" => o.since = percent_decode(v).parse().ok(),
                _ => {}
            }
        }
        o
    }
}

/// `%XX` escapes decoded (sinceTime arrives as `2026-01-02T03%3A04%3A05Z`).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) async fn serve(
    runtime: Arc<dyn Runtime>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let opts = LogOptions::from_query(req.uri().query().unwrap_or(""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["containerLogs", ns, pod, container] = parts.as_slice() else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let Some(file) = log_file(
        Path::new("/var/log/pods"),
        ns,
        pod,
        container,
        opts.previous,
    ) else {
        let what = if opts.previous {
            "previous terminated container"
        } else {
            "container"
        };
        return text(
            StatusCode::BAD_REQUEST,
            &format!("{what} \"{container}\" in pod \"{pod}\" has no logs yet"),
        );
    };
    let content = std::fs::read(&file).unwrap_or_default();
    let mut out = render(&content, &opts);
    if let Some(limit) = opts.limit_bytes {
        out.truncate(limit);
    }
    if !opts.follow {
        return text(StatusCode::OK, &String::from_utf8_lossy(&out));
    }
    // Follow: what is there, then what is appended, until the client goes away or the
    // container stops (as upstream's kubelet: then the rest of the file is sent and the
    // stream ends, so `kubectl logs -f` returns).
    let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    let mut offset = content.len();
    let out_len = out.len();
    tokio::spawn(async move {
        if tx.send(Ok(bytes::Bytes::from(out))).await.is_err() {
            return;
        }
        let mut left = opts.limit_bytes.map(|l| l.saturating_sub(out_len));
        let follow_opts = LogOptions {
            tail_lines: None,
            ..opts
        };
        let mut stopped = false;
        loop {
            if left == Some(0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if tx.is_closed() {
                return;
            }
            let Ok(now) = std::fs::read(&file) else {
                return;
            };
            if now.len() <= offset {
                // Nothing new. A container that stopped (or was replaced by a newer attempt,
                // which writes another file) writes no more: one more read drains what it
                // wrote last, then the stream ends.
                if stopped {
                    return;
                }
                stopped = !still_writing(runtime.as_ref(), &ns, &pod, &container, &file).await;
                continue;
            }
            {
                // Only whole lines: a partly written last line waits for the next round.
                let fresh = &now[offset..];
                let Some(end) = fresh.iter().rposition(|b| *b == b'\n') else {
                    continue;
                };
                let mut chunk = render(&fresh[..=end], &follow_opts);
                offset += end + 1;
                if let Some(left) = left.as_mut() {
                    chunk.truncate(*left);
                    *left -= chunk.len();
                }
                if tx.send(Ok(bytes::Bytes::from(chunk))).await.is_err() {
                    return;
                }
            }
        }
    });
    Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ))
}

/// Whether `file` is the log of a container that is still running.
async fn still_writing(
    runtime: &dyn Runtime,
    ns: &str,
    pod: &str,
    container: &str,
    file: &Path,
) -> bool {
    let newest = log_file(Path::new("/var/log/pods"), ns, pod, container, false);
    if newest.as_deref() != Some(file) {
        return false;
    }
    // A runtime that does not answer is not a stopped container: keep following.
    !matches!(
        runtime.running_container(ns, pod, container).await,
        Ok(None)
    )
}

/// The newest log file of the container (or the one before it for `previous`).
pub fn log_file(
    root: &Path,
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Option<PathBuf> {
    let prefix = format!("{ns}_{pod}_");
    let pod_dir = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })?;
    let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(pod_dir.join(container))
        .ok()?
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let n: u32 = p.file_stem()?.to_str()?.parse().ok()?;
            (p.extension()? == "log").then_some((n, p))
        })
        .collect();
    files.sort();
    let index = files.len().checked_sub(if previous { 2 } else { 1 })?;
    files.into_iter().nth(index).map(|(_, p)| p)
}

/// CRI log lines to what the container wrote (partial lines joined), with the options applied:
/// the last `tail_lines` lines, then of those the ones logged since `since` (the kubelet's
/// order), with their timestamps when asked.
pub fn render(content: &[u8], opts: &LogOptions) -> Vec<u8> {
    // (timestamp of the line's first part, text)
    let mut lines: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut pending: Option<(&[u8], Vec<u8>)> = None;
    for raw in content.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut fields = raw.splitn(4, |b| *b == b' ');
        let (Some(ts), Some(_stream), Some(tag), Some(msg)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            Some(fields.next().unwrap_or(b"")),
        ) else {
            continue;
        };
        let (_, line) = pending.get_or_insert_with(|| (ts, Vec::new()));
        line.extend_from_slice(msg);
        if tag != b"P" {
            lines.extend(pending.take());
        }
    }
    lines.extend(pending);
    let skip = opts.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
    let mut out = Vec::new();
    for (ts, text) in lines.into_iter().skip(skip) {
        if let Some(since) = opts.since {
            let logged = std::str::from_utf8(ts)
                .ok()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            if logged.is_some_and(|t| t < since) {
                continue;
            }
        }
        if opts.timestamps {
            out.extend_from_slice(ts);
            out.push(b' ');
        }
        out.extend_from_slice(&text);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines_become_output() {
        let content = b"2026-11-22T03:08:48.604Z stdout F one\n2026-11-22T03:08:49.000Z stderr P tw\n2026-11-22T03:08:49.100Z stderr F o\n2026-11-22T03:08:50.000Z stdout F three\n";
        assert_eq!(
            render(content, &LogOptions::default()),
            b"one\ntwo\nthree\n"
        );
        let tail = LogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(render(content, &tail), b"three\n");
        let ts = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(render(content, &ts), b"2026-11-22T03:08:50.000Z three\n");
    }

    #[test]
    fn since_keeps_later_lines_after_tail() {
        let content = b"2026-11-22T03:08:48.604Z stdout F one\n2026-11-22T03:08:49.000Z stderr P tw\n2026-11-22T03:08:49.100Z stderr F o\n2026-11-22T03:08:50.000Z stdout F three\n";
        let since = |q: &str| LogOptions::from_query(q);
        // sinceTime as the API server forwards it: percent-encoded.
        let opts = since("sinceTime=2026-11-22T03%3A08%3A49Z");
        assert_eq!(render(content, &opts), b"two\nthree\n");
        // A line split in parts carries its first part's time.
        let opts = since("sinceTime=2026-11-22T03%3A08%3A49.050Z");
        assert_eq!(render(content, &opts), b"three\n");
        let opts = LogOptions {
            tail_lines: Some(2),
            ..since("sinceTime=2026-11-22T03%3A08%3A48Z")
        };
        assert_eq!(render(content, &opts), b"two\nthree\n");
        // sinceSeconds counts back from now: these lines are years old, or not.
        assert_eq!(render(content, &since("sinceSeconds=10")), b"");
        let now = jiff::Timestamp::now();
        let fresh = format!("{now} stdout F now\n");
        assert_eq!(
            render(fresh.as_bytes(), &since("sinceSeconds=10")),
            b"now\n"
        );
    }

    #[test]
    fn finds_current_and_previous_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("default_web_1234").join("main");
        std::fs::create_dir_all(&c).unwrap();
        for n in [0, 1, 2] {
            std::fs::write(c.join(format!("{n}.log")), b"").unwrap();
        }
        assert_eq!(
            log_file(dir.path(), "default", "web", "main", false),
            Some(c.join("2.log"))
        );
        assert_eq!(
            log_file(dir.path(), "default", "web", "main", true),
            Some(c.join("1.log"))
        );
        assert_eq!(
            log_file(dir.path(), "default", "other", "main", false),
            None
        );
    }
}
