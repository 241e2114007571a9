//! Acknowledged writes survive `kill -9`. The test re-runs this test binary as a child that
//! writes until it is killed (selected by an environment variable).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kindling_store::{SqliteStore, Store};

use crate::common::PATIENCE;

const CHILD_DIR_VAR: &str = "KINDLING_STORE_KILL9_CHILD_DIR";
const CHILD_TEST: &str = "sqlite::durability::kill9_child_writer";
const ACKS_BEFORE_KILL: usize = 400;

/// In the child: writes from several threads (so writes are group-committed) and prints each key
/// after its create returned. A no-op in a normal test run.
#[test]
fn kill9_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return;
    };
    let store = Arc::new(SqliteStore::open(&std::path::Path::new(&dir).join("store.db")).unwrap());
    let deadline = Instant::now() + PATIENCE;
    let writers: Vec<_> = (0..8)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    if Instant::now() > deadline {
                        return; // the parent is gone or stuck; do not run forever
                    }
                    let key = format!("/ack/{thread}/{i}");
                    let revision = store.create(&key, vec![0xAB; 256]).unwrap();
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ack {key} {revision}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return; // stdout closed: the parent is gone
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        let _ = writer.join();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = line.strip_prefix("ack ") {
                let (key, revision) = ack.split_once(' ').unwrap();
                let _ = lines_tx.send((key.to_string(), revision.parse::<i64>().unwrap()));
            }
        }
    });

    let mut acked = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while acked.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(ack) => acked.push(ack),
            Err(_) => {
                let _ = child.kill();
                panic!("only {} acknowledgements before the deadline", acked.len());
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    // Acknowledgements already in the pipe when the child died count too.
    acked.extend(lines.try_iter());

    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    for (key, revision) in &acked {
        let kv = store
            .get(key)
            .unwrap()
            .unwrap_or_else(|| panic!("{key} was acknowledged but lost"));
        assert_eq!(kv.mod_revision, *revision);
    }
    let highest = acked.iter().map(|(_, revision)| *revision).max().unwrap();
    assert!(store.current_revision().unwrap() >= highest);
    // The store still works after the crash.
    let next = store.create("/after-crash", vec![]).unwrap();
    assert!(next > highest);
}
