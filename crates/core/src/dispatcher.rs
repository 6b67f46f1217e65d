//! The dispatcher's state, owned by one component with a small API: whether it runs (and is stopping), the slots for
//! fire steps running at once, the fires in flight here, the queue of fires handed over in memory, and the wake-up.
//!
//! It knows nothing of the engine: `dispatch.rs` runs the loop and the steps over it and gives it, when the engine
//! starts, how to launch a step ([`Launch`]); the commit queue asks it whether new fires are leased to this engine
//! ([`Dispatcher::is_running`]) and hands those fires over ([`Dispatcher::hand_over`]), so the commit queue does not
//! call into `dispatch.rs`; anything that makes work due wakes it ([`Dispatcher::wake`]).

use crate::fire_inputs::LocalFire;
use cutover_integrations_store::FireId;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

/// The dispatcher's state; see the module documentation.
pub(crate) struct Dispatcher {
    /// Whether the dispatch loop runs: only then are new fires leased to this engine and handed over in memory.
    running: AtomicBool,
    /// Set while [`RunningEngine::shutdown`](crate::RunningEngine::shutdown) waits for the steps in flight.
    stopping: AtomicBool,
    /// Fires this engine is running or about to run, so that a fire handed over in memory and claimed again after its
    /// lease expired does not run twice here.
    in_flight: Mutex<HashSet<FireId>>,
    /// Slots for fire steps whose request is under way ([`EngineSettings::max_concurrent_fires`](crate::EngineSettings)).
    permits: Arc<Semaphore>,
    capacity: usize,
    /// Slots for fire steps not yet recorded ([`RECORDS_PER_REQUEST`] times as many): a step gives its request slot
    /// back once its request has ended and keeps this one until its outcome is committed.
    records: Arc<Semaphore>,
    /// Wakes the loop when work is due.
    wake: Notify,
    /// Fires handed over in memory that found no free slot; the loop runs them when one frees.
    queue: mpsc::UnboundedSender<LocalFire>,
    /// The queue's receiving end, held by the loop while it runs and kept here in between.
    queue_receiver: Mutex<Option<mpsc::UnboundedReceiver<LocalFire>>>,
    /// How a fire handed over is run in a slot at once; given by the first start.
    launch: OnceLock<Launch>,
}

/// Runs one step of a fire handed over in memory, in a task of its own holding the slot it is given. Set by
/// `dispatch.rs` when the engine starts; it holds the engine weakly (the engine holds the dispatcher).
pub(crate) type Launch = Arc<dyn Fn(LocalFire, StepSlot) + Send + Sync>;

/// How many steps may wait for their record per request slot. A step whose request ended no longer holds a request
/// slot, so the next step's request is sent while the outcome waits for its commit (which then carries several
/// outcomes at once); this bounds how many outcomes wait in memory.
pub(crate) const RECORDS_PER_REQUEST: usize = 4;

/// What one fire step holds of the dispatcher's slots: a request slot until its request has ended
/// ([`StepSlot::request_ended`]), and a record slot until it is dropped, once the step is recorded (or abandoned to
/// its lease).
#[derive(Debug)]
pub(crate) struct StepSlot {
    request: Option<OwnedSemaphorePermit>,
    _record: OwnedSemaphorePermit,
}

impl StepSlot {
    /// The step's request has ended (or none is sent): its request slot goes to the next step.
    pub(crate) fn request_ended(&mut self) {
        self.request = None;
    }

    /// Whether the step still holds a request slot.
    #[cfg(test)]
    fn holds_request(&self) -> bool {
        self.request.is_some()
    }
}

/// The loop's end of the queue of fires handed over in memory, taken by [`Dispatcher::begin`].
pub(crate) type LocalQueue = mpsc::UnboundedReceiver<LocalFire>;

impl Dispatcher {
    /// A dispatcher that runs at most `max_concurrent_fires` steps at once (at least one), not started.
    pub(crate) fn new(max_concurrent_fires: usize) -> Self {
        let capacity = max_concurrent_fires.max(1);
        let (queue, receiver) = mpsc::unbounded_channel();
        Self {
            running: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            in_flight: Mutex::new(HashSet::new()),
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            records: Arc::new(Semaphore::new(capacity * RECORDS_PER_REQUEST)),
            wake: Notify::new(),
            queue,
            queue_receiver: Mutex::new(Some(receiver)),
            launch: OnceLock::new(),
        }
    }

    /// Whether the loop runs (new fires are then leased to this engine and handed over in memory).
    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Marks the dispatcher as running from now on, before its loop is spawned, so that commands answered after
    /// [`Engine::start`](crate::Engine::start) returns hand their fires over; fires handed over run through `launch`
    /// (the first start's: every start gives the same).
    pub(crate) fn mark_running(&self, launch: Launch) {
        let _ = self.launch.set(launch);
        self.running.store(true, Ordering::Release);
    }

    /// Whether a shutdown waits for the steps in flight (commands are refused meanwhile).
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sets or clears the stopping mark.
    pub(crate) fn set_stopping(&self, stopping: bool) {
        self.stopping.store(stopping, Ordering::Release);
    }

    /// Wakes the loop: work is due.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Dispatcher::wake`] was called.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The loop begins: it takes the queue of fires handed over in memory. `None` if another loop holds it (the
    /// engine was started twice).
    pub(crate) fn begin(&self) -> Option<LocalQueue> {
        let queue = self.queue_receiver.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        self.running.store(true, Ordering::Release);
        Some(queue)
    }

    /// The loop ends: new fires are left for any engine to claim from now on, and the queue is kept for a next start.
    pub(crate) fn end(&self, queue: LocalQueue) {
        self.running.store(false, Ordering::Release);
        *self.queue_receiver.lock().unwrap_or_else(PoisonError::into_inner) = Some(queue);
    }

    /// Waits until every slot is free: every step in flight has been recorded (or abandoned to its lease).
    pub(crate) async fn drained(&self) {
        let _ = self.records.acquire_many((self.capacity * RECORDS_PER_REQUEST) as u32).await;
        let _ = self.permits.acquire_many(self.capacity as u32).await;
    }

    /// How many steps could start now.
    pub(crate) fn free_slots(&self) -> usize {
        self.permits.available_permits().min(self.records.available_permits())
    }

    /// A slot, once one is free; `None` if the slots were closed. (Every taker takes the record slot first, then the
    /// request slot, and a step gives the request slot back first: no two takers wait on each other.)
    pub(crate) async fn slot(&self) -> Option<StepSlot> {
        let record = self.records.clone().acquire_owned().await.ok()?;
        let request = self.permits.clone().acquire_owned().await.ok()?;
        Some(StepSlot { request: Some(request), _record: record })
    }

    /// A slot if one is free now.
    fn try_slot(&self) -> Option<StepSlot> {
        let record = self.records.clone().try_acquire_owned().ok()?;
        let request = self.permits.clone().try_acquire_owned().ok()?;
        Some(StepSlot { request: Some(request), _record: record })
    }

    /// A fire this engine's commit just created and leased to it: launched at once if a slot is free, otherwise
    /// queued for the loop, which runs it when a slot frees (also when no start gave a launch yet).
    pub(crate) fn hand_over(&self, fire: LocalFire) {
        match self.launch.get().and_then(|launch| Some((launch, self.try_slot()?))) {
            Some((launch, slot)) => launch(fire, slot),
            None => {
                let _ = self.queue.send(fire);
            }
        }
    }

    /// Marks a fire as in flight here; `false` if it already was (it must not run twice).
    pub(crate) fn enter(&self, fire: FireId) -> bool {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).insert(fire)
    }

    /// The fire's step ended here.
    pub(crate) fn leave(&self, fire: FireId) {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&fire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fire_inputs::TaskInputs;
    use cutover_integrations_runbook::FireNumber;
    use cutover_integrations_store::{FireKind, FireRecord, FireStatus, RunbookId};

    /// A fire runs at most once at a time here; the loop's queue is taken by one loop at a time and kept between
    /// runs; `running` follows begin and end.
    #[test]
    fn in_flight_fires_and_the_queue_are_held_once() {
        let dispatcher = Dispatcher::new(0);
        assert_eq!(dispatcher.free_slots(), 1, "at least one slot");
        assert!(dispatcher.enter(FireId(7)));
        assert!(!dispatcher.enter(FireId(7)), "a fire in flight does not enter twice");
        dispatcher.leave(FireId(7));
        assert!(dispatcher.enter(FireId(7)), "once it left, it may run again");

        assert!(!dispatcher.is_running());
        let queue = dispatcher.begin().expect("the queue");
        assert!(dispatcher.is_running());
        assert!(dispatcher.begin().is_none(), "a second loop gets no queue");
        dispatcher.end(queue);
        assert!(!dispatcher.is_running());
        assert!(dispatcher.begin().is_some(), "the queue is kept for a next start");
    }

    /// Polls once: whether the future has not finished yet.
    fn still_pending<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        future.poll(&mut context).is_pending()
    }

    /// A step gives its request slot back when its request ends and its record slot when it is recorded: the next
    /// requests go out meanwhile, at most `RECORDS_PER_REQUEST` steps per request slot wait for their record, and
    /// draining waits for every record.
    #[tokio::test]
    async fn a_step_frees_its_request_slot_before_its_record() {
        let dispatcher = Dispatcher::new(1);
        let mut first = dispatcher.slot().await.expect("a slot");
        assert!(first.holds_request());
        assert!(dispatcher.try_slot().is_none(), "one request at a time");
        assert_eq!(dispatcher.free_slots(), 0);
        first.request_ended();
        assert!(!first.holds_request());
        let mut waiting = vec![first];
        for _ in 1..RECORDS_PER_REQUEST {
            let mut next = dispatcher.try_slot().expect("a request slot came back");
            next.request_ended();
            waiting.push(next);
        }
        assert!(dispatcher.try_slot().is_none(), "every record slot is taken by steps waiting for their record");
        assert_eq!(dispatcher.free_slots(), 0);

        waiting.pop();
        assert_eq!(dispatcher.free_slots(), 1, "a record landed");

        let running = dispatcher.try_slot().expect("a slot");
        let drained = dispatcher.drained();
        tokio::pin!(drained);
        assert!(still_pending(drained.as_mut()), "steps wait for their record");
        waiting.clear();
        assert!(still_pending(drained.as_mut()), "and for the request under way");
        drop(running);
        drained.await;
    }

    fn fire(id: i64) -> LocalFire {
        let record = FireRecord {
            id: FireId(id),
            runbook_id: RunbookId(1),
            task_id: "task".to_owned(),
            kind: FireKind::Action(FireNumber::FIRST),
            idempotency_key: format!("key-{id}"),
            status: FireStatus::Due,
            state: "{}".to_owned(),
            due_at: 0,
            lease_owner: None,
            lease_until: None,
            callback_token_hash: None,
        };
        let inputs = TaskInputs { current: true, action: None, values: serde_json::Value::Null, assignee: None };
        LocalFire { record, inputs }
    }

    /// A fire handed over runs at once through the launch while a slot is free, holding that slot; otherwise (no
    /// slot free, or no start gave a launch yet) it waits in the loop's queue.
    #[test]
    fn a_fire_handed_over_runs_in_a_free_slot_or_waits_in_the_queue() {
        let dispatcher = Dispatcher::new(1);
        let mut queue = dispatcher.begin().expect("the queue");
        let queued = |queue: &mut LocalQueue| queue.try_recv().ok().map(|fire| fire.record.id);
        dispatcher.hand_over(fire(1));
        assert_eq!(queued(&mut queue), Some(FireId(1)), "no launch given yet");

        let launched = Arc::new(Mutex::new(Vec::new()));
        let slots = Arc::new(Mutex::new(Vec::new()));
        let (launches, held) = (launched.clone(), slots.clone());
        dispatcher.mark_running(Arc::new(move |fire: LocalFire, slot| {
            launches.lock().unwrap_or_else(PoisonError::into_inner).push(fire.record.id);
            held.lock().unwrap_or_else(PoisonError::into_inner).push(slot);
        }));
        let launched = move || launched.lock().unwrap_or_else(PoisonError::into_inner).clone();
        dispatcher.hand_over(fire(2));
        assert_eq!((launched(), queued(&mut queue)), (vec![FireId(2)], None));
        dispatcher.hand_over(fire(3));
        assert_eq!((launched(), queued(&mut queue)), (vec![FireId(2)], Some(FireId(3))), "the one slot is taken");
        slots.lock().unwrap_or_else(PoisonError::into_inner).clear();
        dispatcher.hand_over(fire(4));
        assert_eq!((launched(), queued(&mut queue)), (vec![FireId(2), FireId(4)], None), "the slot came back");
    }
}
