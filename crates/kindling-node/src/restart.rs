//! Components of the node that run as tasks (controllers, scheduler, service proxy) are started
//! again when they end or panic, as the kubelet restarts a crashed static pod: a bug in one
//! reconcile must not leave the cluster without controllers while the node looks healthy.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The first wait before a restart.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between restarts of a component that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A component that ran this long before failing starts over from the first wait.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `start()` until the node stops, starting it again after each end or panic.
pub async fn keep_running<F, Fut>(name: &'static str, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = None;
    loop {
        let started = Instant::now();
        // Dropping this future (a leader that lost its lease) stops the component with it.
        let mut task = AbortOnDrop(tokio::spawn(start()));
        match (&mut task.0).await {
            Ok(()) => tracing::error!("{name} ended; starting it again"),
            // The panic hook has printed the message and location already.
            Err(e) if e.is_panic() => tracing::error!("{name} panicked; starting it again"),
            Err(e) => tracing::error!("{name} stopped ({e}); starting it again"),
        }
        let wait = next_backoff(backoff, started.elapsed());
        backoff = Some(wait);
        tokio::time::sleep(wait).await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long to wait before the next start: doubling while the component keeps failing soon
/// after starting, from the first wait again once it had run well.
fn next_backoff(previous: Option<Duration>, ran_for: Duration) -> Duration {
    match previous {
        Some(prev) if ran_for < HEALTHY_RUN => (prev * 2).min(MAX_BACKOFF),
        _ => FIRST_BACKOFF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_while_failing_fast_and_reset_after_a_good_run() {
        let s = Duration::from_secs;
        assert_eq!(next_backoff(None, s(0)), s(1));
        assert_eq!(next_backoff(Some(s(1)), s(2)), s(2));
        assert_eq!(next_backoff(Some(s(16)), s(2)), s(30));
        assert_eq!(next_backoff(Some(s(30)), s(2)), s(30));
        assert_eq!(next_backoff(Some(s(30)), s(600)), s(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_component_is_started_again() {
        let starts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = starts.clone();
        let run = tokio::spawn(keep_running("test", move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("start {n} fails");
                }
                std::future::pending::<()>().await;
            }
        }));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 3);
        run.abort();
    }
}
