//! The node's control socket, and `systemctl` on top of it: the node image links
//! `/usr/local/bin/systemctl` to kindling, so the commands books give for kind's nodes work here
//! (`docker exec kind-worker2 systemctl stop kubelet`, `... start kubelet`, `status`,
//! `is-active`). There is no systemd in a kindling node; only the node's [units](crate::unit)
//! are known.
//!
//! Protocol: one request line `<verb> <unit>`; the answer is an exit code line, then text.

use crate::unit::Unit;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

pub const SOCKET: &str = "/run/kindling/control.sock";

/// Serves the control socket until the node ends.
pub async fn serve(units: Vec<Arc<Unit>>) -> anyhow::Result<()> {
    let path = Path::new(SOCKET);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    let units = Arc::new(units);
    loop {
        let (stream, _) = listener.accept().await?;
        let units = units.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if tokio::io::BufReader::new(read)
                .read_line(&mut line)
                .await
                .is_err()
            {
                return;
            }
            let units = units.clone();
            // Stopping joins the unit's thread: not on an async worker.
            let (code, text) = tokio::task::spawn_blocking(move || answer(&units, line.trim()))
                .await
                .unwrap_or((1, "internal error\n".into()));
            let _ = write.write_all(format!("{code}\n{text}").as_bytes()).await;
        });
    }
}

/// What a request does, as systemctl would report it: (exit code, output).
fn answer(units: &[Arc<Unit>], request: &str) -> (i32, String) {
    let mut words = request.split_whitespace();
    let (Some(verb), Some(name)) = (words.next(), words.next()) else {
        return (1, "usage: <verb> <unit>\n".into());
    };
    let name = name.trim_end_matches(".service");
    let Some(unit) = units.iter().find(|u| u.name == name) else {
        return (5, format!("Unit {name}.service not found.\n"));
    };
    match verb {
        "start" => match unit.start() {
            Ok(_) => (0, String::new()),
            Err(e) => (1, format!("Job for {name}.service failed: {e}\n")),
        },
        "stop" => {
            unit.stop();
            (0, String::new())
        }
        "restart" => {
            unit.stop();
            match unit.start() {
                Ok(_) => (0, String::new()),
                Err(e) => (1, format!("Job for {name}.service failed: {e}\n")),
            }
        }
        "is-active" => match unit.status().0 {
            true => (0, "active\n".into()),
            false => (3, "inactive\n".into()),
        },
        "status" => {
            let (active, since) = unit.status();
            let state = if active {
                "active (running)"
            } else {
                "inactive (dead)"
            };
            let since = since
                .map(|t| format!(" since {}", t.strftime("%a %Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default();
            let dot = if active { "●" } else { "○" };
            let text = format!(
                "{dot} {name}.service - {}\n     Loaded: loaded (built into kindling)\n     Active: {state}{since}\n",
                unit.description
            );
            (if active { 0 } else { 3 }, text)
        }
        other => (1, format!("Unknown command verb {other}.\n")),
    }
}

/// `systemctl <verb> <unit>...` inside a node: asks the node's PID 1. Returns the exit code.
pub fn systemctl(args: &[String]) -> i32 {
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let Some((verb, names)) = args.split_first() else {
        eprintln!("kindling's systemctl knows: start, stop, restart, status, is-active <unit>");
        return 1;
    };
    if names.is_empty() {
        eprintln!("Too few arguments.");
        return 1;
    }
    let mut code = 0;
    for name in names {
        match request(&format!("{verb} {name}")) {
            Ok((c, text)) => {
                if c == 0 || verb == &"status" || verb == &"is-active" {
                    print!("{text}");
                } else {
                    eprint!("{text}");
                }
                code = code.max(c);
            }
            Err(e) => {
                eprintln!("System has not been booted by kindling's node init ({SOCKET}: {e})");
                return 1;
            }
        }
    }
    code
}

fn request(line: &str) -> std::io::Result<(i32, String)> {
    let mut stream = UnixStream::connect(SOCKET)?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let code = first.trim().parse().unwrap_or(1);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text)?;
    Ok((code, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units() -> Vec<Arc<Unit>> {
        vec![Arc::new(Unit::new("kubelet", "the node agent", || {
            Box::pin(futures::future::pending())
        }))]
    }

    #[test]
    fn answers_as_systemctl_does() {
        let units = units();
        assert_eq!(
            answer(&units, "is-active kubelet"),
            (3, "inactive\n".into())
        );
        assert_eq!(answer(&units, "start kubelet.service").0, 0);
        assert_eq!(answer(&units, "is-active kubelet"), (0, "active\n".into()));
        let (code, text) = answer(&units, "status kubelet");
        assert_eq!(code, 0);
        assert!(text.contains("Active: active (running) since"), "{text}");
        assert_eq!(answer(&units, "stop kubelet").0, 0);
        let (code, text) = answer(&units, "status kubelet");
        assert_eq!(code, 3);
        assert!(text.contains("inactive (dead)"), "{text}");
        assert_eq!(
            answer(&units, "stop containerd"),
            (5, "Unit containerd.service not found.\n".into())
        );
        assert_eq!(answer(&units, "reload kubelet").0, 1);
    }
}
