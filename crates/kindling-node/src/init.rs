//! PID 1 duties: orphaned processes (containerd shims, the containers' leftovers) are re-parented
//! to us and must be reaped, and SIGTERM (from `docker stop`) must end the node cleanly.
//!
//! The reaper must not steal the exit status of a child we wait for ourselves (`ctr` runs):
//! such children are started with [`run_owned`], which registers them under a lock the reaper
//! also takes, and the reaper only peeks (`WNOWAIT`) before reaping anything else.

use std::collections::HashSet;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

/// Children whose exit status their spawner collects.
static OWNED: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

/// Runs a command to completion and returns its output, safe from the reaper.
pub fn run_owned(cmd: &mut Command) -> std::io::Result<Output> {
    let child = {
        let mut owned = OWNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        owned.get_or_insert_with(HashSet::new).insert(child.id());
        child
    };
    let pid = child.id();
    let out = child.wait_with_output();
    if let Some(set) = OWNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_mut()
    {
        set.remove(&pid);
    }
    out
}

/// Reaps every exited child that nobody waits for, on a thread of its own; only when this
/// process is PID 1.
pub fn spawn_reaper_if_init() {
    if std::process::id() != 1 {
        return;
    }
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| loop {
            // SAFETY: waitid with a zeroed siginfo_t we own; WNOWAIT leaves the child waitable.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let r =
                unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if r != 0 {
                // No children at all right now (ECHILD).
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            // SAFETY: for WEXITED results si_pid is set.
            let pid = unsafe { info.si_pid() };
            let owned = OWNED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_ref()
                .is_some_and(|s| s.contains(&(pid as u32)));
            if owned {
                // Its spawner will collect it; look again shortly.
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let mut status = 0;
            // SAFETY: reaping a specific exited child.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        })
        .expect("spawning the reaper thread");
}

/// Resolves when the node is asked to stop (SIGTERM or SIGINT).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
