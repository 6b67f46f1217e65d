//! Wall-clock time for the executor: what time it is, and waiting until a time (only `run_to_completion` waits).

use async_trait::async_trait;
use jiff::Timestamp;
use std::fmt;
use std::sync::Mutex;

/// The executor's clock. Deadlines and retry times are wall-clock [`Timestamp`]s, so a fire persisted by one process
/// can be continued by another.
#[async_trait]
pub trait Timer: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// Returns once `at` has passed.
    async fn sleep_until(&self, at: Timestamp);
}

/// The system clock, sleeping on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTimer;

#[async_trait]
impl Timer for SystemTimer {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep_until(&self, at: Timestamp) {
        let wait = at.duration_since(Timestamp::now());
        if let Ok(wait) = std::time::Duration::try_from(wait) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A clock that only moves when slept on: `sleep_until` jumps straight to the time asked, and remembers it.
///
/// For tests and simulations of fires that span minutes of backoff and polling intervals in no time at all.
#[derive(Debug)]
pub struct ManualTimer {
    now: Mutex<Timestamp>,
    sleeps: Mutex<Vec<Timestamp>>,
}

impl ManualTimer {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self { now: Mutex::new(start), sleeps: Mutex::new(Vec::new()) }
    }

    /// Moves the clock to `to` (never backwards).
    pub fn advance_to(&self, to: Timestamp) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if to > *now {
            *now = to;
        }
    }

    /// Every time `sleep_until` was asked for, in order.
    pub fn sleeps(&self) -> Vec<Timestamp> {
        self.sleeps.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[async_trait]
impl Timer for ManualTimer {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn sleep_until(&self, at: Timestamp) {
        self.sleeps.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(at);
        self.advance_to(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_timer_jumps_forward_only() {
        let start: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let timer = ManualTimer::new(start);
        let later: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        timer.sleep_until(later).await;
        assert_eq!(timer.now(), later);
        timer.sleep_until(start).await;
        assert_eq!(timer.now(), later);
        assert_eq!(timer.sleeps(), vec![later, start]);
    }
}
