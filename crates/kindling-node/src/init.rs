//! PID 1 duties: orphaned processes (containerd shims, the containers' leftovers) are re-parented
//! to us and must be reaped, and SIGTERM (from `docker stop`) must end the node cleanly.

/// Reaps every child that exits, on a thread of its own. Only when this process is PID 1: a
/// blanket `waitpid(-1)` would otherwise steal exit statuses from code that waits for its own
/// children. Because of it, children we start are supervised by their sockets, not their exit.
pub fn spawn_reaper_if_init() {
    if std::process::id() != 1 {
        return;
    }
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid pointer to a local c_int.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid < 0 {
                // No children right now (ECHILD): wait for some to appear.
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
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
