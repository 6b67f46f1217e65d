//! Definition validation off the async workers: reading a definition and checking its templates is CPU work that
//! grows with the file (a large payload takes a noticeable time), and the async workers also run fire steps, callbacks
//! and lease renewals. Validation therefore runs on tokio's blocking threads, and at most
//! [`EngineSettings::max_concurrent_validations`](crate::EngineSettings::max_concurrent_validations) files at once, so
//! that a burst of large definitions queues instead of taking every core.

use crate::error::EngineError;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Runs validations on blocking threads, a bounded number at once.
#[derive(Debug)]
pub(crate) struct ValidationPool {
    permits: Arc<Semaphore>,
}

impl ValidationPool {
    /// A pool running at most `size` validations at once (at least one).
    pub(crate) fn new(size: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(size.max(1))) }
    }

    /// Runs `work` on a blocking thread once a slot is free. A panic in `work` is resumed here.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|_| EngineError::ShuttingDown)?;
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        match outcome {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(EngineError::ShuttingDown),
        }
    }

    /// Slots free now (tests).
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// The number of cores, the default bound of validations at once.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// On a single-threaded runtime, work that blocks until the runtime answers can only finish if it runs elsewhere.
    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_async_thread() {
        let pool = ValidationPool::new(1);
        let (asked, ask) = mpsc::channel::<()>();
        let (answer, answered) = tokio::sync::oneshot::channel::<()>();
        let runtime_thread = std::thread::current().id();
        let work = pool.run(move || {
            let on_other_thread = std::thread::current().id() != runtime_thread;
            // Run inline on the runtime's thread, this would wait for a send that cannot happen: fail instead of hanging.
            ask.recv_timeout(std::time::Duration::from_secs(30)).map(|()| on_other_thread)
        });
        let runtime_answers = async {
            // The async thread is free: it sends while the work waits for it.
            asked.send(()).expect("the work is waiting");
            answer.send(()).expect("sent");
        };
        let (outcome, ()) = tokio::join!(work, runtime_answers);
        assert!(outcome.expect("ran").expect("received"), "the work ran on another thread");
        answered.await.expect("the runtime kept answering");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_size_validations_run_at_once() {
        let pool = Arc::new(ValidationPool::new(2));
        let (started, starts) = mpsc::channel::<()>();
        let mut releases = Vec::new();
        let mut runs = Vec::new();
        for _ in 0..3 {
            let (release, released) = mpsc::channel::<()>();
            releases.push(release);
            let started = started.clone();
            let pool = Arc::clone(&pool);
            runs.push(tokio::spawn(async move {
                pool.run(move || {
                    started.send(()).expect("the test listens");
                    released.recv().expect("the test releases")
                })
                .await
            }));
        }
        let starts = tokio::task::spawn_blocking(move || {
            starts.recv().expect("first start");
            starts.recv().expect("second start");
            starts
        })
        .await
        .expect("two started");
        assert_eq!(pool.available(), 0, "two validations hold both slots");
        assert!(starts.try_recv().is_err(), "the third waits for a slot");
        for release in &releases {
            // Releasing a run that has not started yet is queued in its channel.
            release.send(()).expect("the run listens");
        }
        for run in runs {
            run.await.expect("joined").expect("ran");
        }
        assert_eq!(pool.available(), 2);
    }
}
