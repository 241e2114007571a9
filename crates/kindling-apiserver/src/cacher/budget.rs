//! How long the dispatcher may wait for watchers whose buffers are full, as upstream's cacher
//! timeBudget: 50 ms of waiting earned per second, at most 100 ms banked. A watcher that is
//! still full when the budget runs out is terminated (its client re-watches or re-lists), so
//! one slow client delays the others by a bounded amount and never grows the server's memory.

use std::time::{Duration, Instant};

const REFRESH_PER_SECOND: Duration = Duration::from_millis(50);
const MAX_BUDGET: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct TimeBudget {
    budget: Duration,
    last: Instant,
}

impl TimeBudget {
    pub fn new(now: Instant) -> TimeBudget {
        TimeBudget {
            budget: MAX_BUDGET,
            last: now,
        }
    }

    /// Takes all the waiting time available now.
    pub fn take_available(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        let earned = REFRESH_PER_SECOND.mul_f64(elapsed.as_secs_f64());
        self.budget = (self.budget + earned).min(MAX_BUDGET);
        std::mem::take(&mut self.budget)
    }

    /// Gives back what was not spent.
    pub fn return_unused(&mut self, unused: Duration) {
        self.budget = (self.budget + unused).min(MAX_BUDGET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earns_fifty_milliseconds_a_second_up_to_a_hundred() {
        let t0 = Instant::now();
        let mut budget = TimeBudget::new(t0);
        assert_eq!(budget.take_available(t0), MAX_BUDGET);
        assert_eq!(budget.take_available(t0), Duration::ZERO);
        assert_eq!(
            budget.take_available(t0 + Duration::from_secs(1)),
            Duration::from_millis(50)
        );
        budget.return_unused(Duration::from_millis(30));
        assert_eq!(
            budget.take_available(t0 + Duration::from_secs(1)),
            Duration::from_millis(30)
        );
        assert_eq!(
            budget.take_available(t0 + Duration::from_secs(10)),
            MAX_BUDGET
        );
    }
}
