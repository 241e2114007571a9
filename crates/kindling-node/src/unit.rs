//! Units: parts of the node that can be stopped and started while the node runs, as systemd
//! units are in kind's nodes. Today there is one, `kubelet` (the node agent: Node heartbeat and
//! Lease, pod runner, log/streaming endpoint), so that `systemctl stop kubelet` in a node does
//! what it does with kind: the Node goes NotReady while its containers keep running.
//!
//! Each start runs the unit on a tokio runtime of its own, on a thread of its own. Stopping drops
//! that runtime, which ends every task the unit spawned (one per pod, watches, servers), not
//! only its root task.

use futures::future::BoxFuture;
use jiff::Timestamp;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

type Body = Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

pub struct Unit {
    pub name: &'static str,
    pub description: &'static str,
    body: Body,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: Option<Running>,
    /// When the unit last changed between active and inactive.
    since: Option<Timestamp>,
}

struct Running {
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Unit {
    /// A unit whose work is the future `body()` returns (it should not return on its own).
    pub fn new(
        name: &'static str,
        description: &'static str,
        body: impl Fn() -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Unit {
        Unit {
            name,
            description,
            body: Box::new(body),
            state: Mutex::new(State::default()),
        }
    }

    /// Starts the unit unless it runs. Returns whether it was started.
    pub fn start(&self) -> std::io::Result<bool> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state
            .running
            .as_ref()
            .is_some_and(|r| !r.thread.is_finished())
        {
            return Ok(false);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{}-worker", self.name))
            .enable_all()
            .build()?;
        let work = (self.body)();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = work => {}
                        _ = stopped => {}
                    }
                });
                // Ends the unit's other tasks; blocking calls get a moment to return.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        state.running = Some(Running { stop, thread });
        state.since = Some(Timestamp::now());
        tracing::info!("unit {} started", self.name);
        Ok(true)
    }

    /// Stops the unit if it runs and waits until it has. Returns whether it was running.
    pub fn stop(&self) -> bool {
        let running = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let running = state.running.take();
            if running.is_some() {
                state.since = Some(Timestamp::now());
            }
            running
        };
        let Some(running) = running else {
            return false;
        };
        let _ = running.stop.send(());
        let _ = running.thread.join();
        tracing::info!("unit {} stopped", self.name);
        true
    }

    /// Whether it runs, and since when it is in that state.
    pub fn status(&self) -> (bool, Option<Timestamp>) {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let active = state
            .running
            .as_ref()
            .is_some_and(|r| !r.thread.is_finished());
        (active, state.since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn stop_ends_every_task_the_unit_spawned() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let unit = Unit::new("test", "a test unit", move || {
            let counter = counter.clone();
            Box::pin(async move {
                // A task spawned by the unit, as pod workers are: it must end with the unit.
                tokio::spawn(async move {
                    loop {
                        counter.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                futures::future::pending::<()>().await;
            })
        });
        assert!(unit.start().unwrap());
        assert!(
            !unit.start().unwrap(),
            "a running unit is not started twice"
        );
        std::thread::sleep(Duration::from_millis(50));
        assert!(unit.status().0);
        assert!(unit.stop());
        let after_stop = ticks.load(Ordering::SeqCst);
        assert!(after_stop > 0);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            after_stop,
            "spawned task still running"
        );
        assert!(!unit.status().0);
        assert!(!unit.stop());
        assert!(unit.start().unwrap(), "a stopped unit starts again");
        std::thread::sleep(Duration::from_millis(30));
        assert!(ticks.load(Ordering::SeqCst) > after_stop);
        unit.stop();
    }
}
