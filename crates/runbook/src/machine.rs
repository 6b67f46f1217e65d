//! The transitions: [`RunbookState::apply`] validates a command, then mutates the state and collects effects.

use crate::state::is_done;
use crate::{
    Actor, Command, Delivery, Effect, Event, FailureReason, FieldTarget, FireNumber, Operation, ProgressStatus,
    RunbookError, RunbookState, WaitReason,
};
use cutover_integrations_model::{FieldValue, IntegrationStatus, RunMode, RunbookStage, TaskStage};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Runbook stages in which tasks may be finished or skipped.
const RUNNING: &[RunbookStage] = &[RunbookStage::Active, RunbookStage::Paused];
/// Runbook stages in which custom field values may be set.
const EDITABLE: &[RunbookStage] = &[RunbookStage::Planning, RunbookStage::Active, RunbookStage::Paused];

impl RunbookState {
    /// Applies one command at time `now`, on behalf of `actor`, and returns the effects the engine must carry out.
    ///
    /// Transactional: a refused command returns the reason and leaves the state exactly as it was. Updates touch only
    /// the tasks concerned: finishing or skipping a task costs O(its successors), starting one O(1) plus its required
    /// fields.
    ///
    /// # Errors
    ///
    /// A [`RunbookError`] saying why the command is not allowed now.
    pub fn apply(&mut self, command: Command, actor: &Actor, now: Timestamp) -> Result<Vec<Effect>, RunbookError> {
        let mut out = Vec::new();
        match command {
            Command::StartRunbook { mode } => self.start_runbook(mode, now, &mut out)?,
            Command::PauseRunbook => {
                self.require_stage(Operation::PauseRunbook, None, &[RunbookStage::Active])?;
                self.set_runbook_stage(RunbookStage::Paused, &mut out);
            }
            Command::ResumeRunbook => self.resume_runbook(now, &mut out)?,
            Command::CancelRunbook => self.cancel_runbook(now, &mut out)?,
            Command::StartTask { task, force } => self.start_task(&task, force, actor, now, &mut out)?,
            Command::FinishTask { task } => {
                let index = self.find(&task)?;
                self.require_stage(Operation::FinishTask, Some(&task), RUNNING)?;
                self.require_task_stage(index, Operation::FinishTask, &[TaskStage::InProgress])?;
                self.mark_done(index, TaskStage::Complete, now, &mut out);
            }
            Command::SkipTask { task, comment } => self.skip_task(&task, comment, actor, now, &mut out)?,
            Command::CancelTask { task } => self.cancel_task(&task, &mut out)?,
            Command::RefireTask { task } => self.refire_task(&task, &mut out)?,
            Command::SetCustomFields { target, values } => self.set_custom_fields(target, values, now, &mut out)?,
            Command::FireProgress { task, fire, status, custom_fields } => {
                let index = self.find(&task)?;
                self.check_fire(index, fire, "progress", Some(Delivery::Send))?;
                self.store_mapped_fields(index, custom_fields, now, &mut out);
                let status = match status {
                    ProgressStatus::Running => IntegrationStatus::Running,
                    ProgressStatus::Waiting => IntegrationStatus::Waiting,
                };
                if self.tasks[index as usize].status != status {
                    self.set_status(index, fire, status, None, &mut out);
                }
            }
            Command::FireSucceeded { task, fire, custom_fields } => {
                let index = self.find(&task)?;
                self.check_fire(index, fire, "succeeded", Some(Delivery::Send))?;
                self.store_mapped_fields(index, custom_fields, now, &mut out);
                self.end_fire(index, fire, IntegrationStatus::Succeeded, None, now, &mut out);
            }
            Command::FireFailed { task, fire, reason } => {
                let index = self.find(&task)?;
                self.check_fire(index, fire, "failed", None)?;
                self.end_fire(index, fire, IntegrationStatus::Failed, Some(reason), now, &mut out);
            }
            Command::FireNotSent { task, fire } => {
                let index = self.find(&task)?;
                self.check_fire(index, fire, "not_sent", Some(Delivery::RecordOnly))?;
                self.end_fire(index, fire, IntegrationStatus::NotSent, None, now, &mut out);
            }
            Command::TimePassed => self.time_passed(now, &mut out),
        }
        Ok(out)
    }

    fn start_runbook(&mut self, mode: RunMode, now: Timestamp, out: &mut Vec<Effect>) -> Result<(), RunbookError> {
        self.require_stage(Operation::StartRunbook, None, &[RunbookStage::Planning])?;
        self.mode = Some(mode);
        self.started_at = Some(now);
        self.set_runbook_stage(RunbookStage::Active, out);
        if self.plan.len() == 0 {
            self.ended_at = Some(now);
            self.set_runbook_stage(RunbookStage::Complete, out);
            return Ok(());
        }
        for index in 0..self.plan.len() {
            if self.tasks[index as usize].stage == TaskStage::Startable {
                self.settle(index, now, out);
            }
        }
        self.runbook_updated(None, out);
        Ok(())
    }

    fn resume_runbook(&mut self, now: Timestamp, out: &mut Vec<Effect>) -> Result<(), RunbookError> {
        self.require_stage(Operation::ResumeRunbook, None, &[RunbookStage::Paused])?;
        self.set_runbook_stage(RunbookStage::Active, out);
        for index in 0..self.plan.len() {
            if self.tasks[index as usize].stage == TaskStage::Startable && self.plan.task_at(index).auto_start {
                self.settle(index, now, out);
            }
        }
        self.runbook_updated(None, out);
        Ok(())
    }

    fn cancel_runbook(&mut self, now: Timestamp, out: &mut Vec<Effect>) -> Result<(), RunbookError> {
        self.require_stage(Operation::CancelRunbook, None, EDITABLE)?;
        for index in 0..self.plan.len() {
            if let Some(fire) = self.tasks[index as usize].active_fire() {
                self.cancel_fire(index, fire, out);
            }
        }
        self.ended_at = Some(now);
        self.set_runbook_stage(RunbookStage::Cancelled, out);
        Ok(())
    }

    fn start_task(
        &mut self,
        task: &str,
        force: bool,
        actor: &Actor,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) -> Result<(), RunbookError> {
        let index = self.find(task)?;
        self.require_stage(Operation::StartTask, Some(task), &[RunbookStage::Active])?;
        if self.tasks[index as usize].stage == TaskStage::NotStartable {
            let waiting_for = self
                .plan
                .predecessors_of(index)
                .iter()
                .filter(|&&predecessor| !self.tasks[predecessor as usize].is_done())
                .map(|&predecessor| self.plan.task_at(predecessor).id.clone())
                .collect();
            return Err(RunbookError::NotStartable { task: task.to_owned(), waiting_for });
        }
        self.require_task_stage(index, Operation::StartTask, &[TaskStage::Startable])?;
        if let Some(at) = self.fixed_start_ahead(index, now) {
            if !force {
                return Err(RunbookError::FixedStartNotReached { task: task.to_owned(), at });
            }
            if !actor.is_runbook_admin() {
                return Err(RunbookError::RoleRequired { operation: Operation::ForceFixedStart });
            }
        }
        self.require_fields(index, Operation::StartTask)?;
        self.begin(index, now, out);
        Ok(())
    }

    fn skip_task(
        &mut self,
        task: &str,
        comment: String,
        actor: &Actor,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) -> Result<(), RunbookError> {
        let index = self.find(task)?;
        self.require_stage(Operation::SkipTask, Some(task), RUNNING)?;
        if !actor.is_runbook_admin() {
            return Err(RunbookError::RoleRequired { operation: Operation::SkipTask });
        }
        let stage = self.tasks[index as usize].stage;
        if is_done(stage) {
            return Err(RunbookError::TaskStageForbids {
                task: task.to_owned(),
                operation: Operation::SkipTask,
                stage,
            });
        }
        if comment.trim().is_empty() {
            return Err(RunbookError::CommentRequired { task: task.to_owned() });
        }
        self.tasks[index as usize].skip_comment = Some(comment);
        self.mark_done(index, TaskStage::Skipped, now, out);
        Ok(())
    }

    fn cancel_task(&mut self, task: &str, out: &mut Vec<Effect>) -> Result<(), RunbookError> {
        let index = self.find(task)?;
        let action = self.firing_action(index, Operation::CancelTask)?;
        if !action.cancelable {
            return Err(RunbookError::NotCancelable { task: task.to_owned(), action: action.reference.to_string() });
        }
        let status = self.tasks[index as usize].status;
        let Some(fire) = self.tasks[index as usize].active_fire() else {
            return Err(RunbookError::IntegrationStatusForbids {
                task: task.to_owned(),
                operation: Operation::CancelTask,
                status,
            });
        };
        self.cancel_fire(index, fire, out);
        Ok(())
    }

    fn refire_task(&mut self, task: &str, out: &mut Vec<Effect>) -> Result<(), RunbookError> {
        let index = self.find(task)?;
        self.require_stage(Operation::RefireTask, Some(task), &[RunbookStage::Active])?;
        self.firing_action(index, Operation::RefireTask)?;
        self.require_task_stage(index, Operation::RefireTask, &[TaskStage::InProgress])?;
        let status = self.tasks[index as usize].status;
        if !matches!(status, IntegrationStatus::Failed | IntegrationStatus::Cancelled) {
            return Err(RunbookError::IntegrationStatusForbids {
                task: task.to_owned(),
                operation: Operation::RefireTask,
                status,
            });
        }
        self.require_fields(index, Operation::RefireTask)?;
        self.fire(index, out);
        Ok(())
    }

    fn set_custom_fields(
        &mut self,
        target: FieldTarget,
        values: BTreeMap<String, FieldValue>,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) -> Result<(), RunbookError> {
        let task = match &target {
            FieldTarget::Runbook => None,
            FieldTarget::Task(task) => Some(self.find(task)?),
        };
        let task_id = match &target {
            FieldTarget::Runbook => None,
            FieldTarget::Task(task) => Some(task.as_str()),
        };
        self.require_stage(Operation::SetCustomFields, task_id, EDITABLE)?;
        if values.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> = values.keys().cloned().collect();
        match task {
            None => {
                let changed: Vec<String> = values
                    .iter()
                    .filter(|(name, value)| self.custom_fields.get(*name) != Some(*value))
                    .map(|(name, _)| name.clone())
                    .collect();
                self.custom_fields.extend(values);
                out.push(Effect::Event(Event::CustomFieldsChanged { task: None, fields }));
                self.resettle_waiting_for_fields(now, out);
                if !changed.is_empty() {
                    self.runbook_updated(Some(&changed), out);
                }
            }
            Some(index) => {
                self.tasks[index as usize].custom_fields.extend(values);
                let task = Some(self.plan.task_at(index).id.clone());
                out.push(Effect::Event(Event::CustomFieldsChanged { task, fields }));
                if self.tasks[index as usize].stage == TaskStage::Startable && self.plan.task_at(index).auto_start {
                    self.settle(index, now, out);
                }
            }
        }
        Ok(())
    }

    fn time_passed(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        if !RUNNING.contains(&self.stage) {
            return;
        }
        while let Some(&(at, index)) = self.derived.timers.first() {
            if at > now {
                break;
            }
            // Settling a task whose time arrived clears its wait, which removes the timer.
            self.settle(index, now, out);
        }
    }

    // Validation helpers: they read, never write.

    fn find(&self, task: &str) -> Result<u32, RunbookError> {
        self.plan.index_of(task).ok_or_else(|| RunbookError::UnknownTask { task: task.to_owned() })
    }

    fn require_stage(
        &self,
        operation: Operation,
        task: Option<&str>,
        allowed: &[RunbookStage],
    ) -> Result<(), RunbookError> {
        if allowed.contains(&self.stage) {
            return Ok(());
        }
        Err(RunbookError::RunbookStageForbids { operation, task: task.map(str::to_owned), stage: self.stage })
    }

    fn require_task_stage(&self, index: u32, operation: Operation, allowed: &[TaskStage]) -> Result<(), RunbookError> {
        let stage = self.tasks[index as usize].stage;
        if allowed.contains(&stage) {
            return Ok(());
        }
        Err(RunbookError::TaskStageForbids { task: self.plan.task_at(index).id.clone(), operation, stage })
    }

    fn require_fields(&self, index: u32, operation: Operation) -> Result<(), RunbookError> {
        let fields = self.missing_fields(index);
        if fields.is_empty() {
            return Ok(());
        }
        Err(RunbookError::MissingCustomFields { task: self.plan.task_at(index).id.clone(), operation, fields })
    }

    fn firing_action(&self, index: u32, operation: Operation) -> Result<&crate::ActionPlan, RunbookError> {
        let plan = self.plan.task_at(index);
        plan.action.as_ref().ok_or_else(|| RunbookError::NoAction { task: plan.id.clone(), operation })
    }

    /// The fixed start time of a task when it applies (live runs) and has not arrived.
    fn fixed_start_ahead(&self, index: u32, now: Timestamp) -> Option<Timestamp> {
        let at = self.plan.task_at(index).fixed_start?;
        (self.mode == Some(RunMode::Live) && now < at).then_some(at)
    }

    /// Checks that an outcome reports on the task's current fire, which is under way and delivered as `expected`.
    fn check_fire(
        &self,
        index: u32,
        fire: FireNumber,
        outcome: &'static str,
        expected: Option<Delivery>,
    ) -> Result<(), RunbookError> {
        let task = &self.tasks[index as usize];
        let id = || self.plan.task_at(index).id.clone();
        let Some(current) = task.fire.filter(|latest| fire <= *latest) else {
            return Err(RunbookError::UnknownFire { task: id(), fire, latest: task.fire });
        };
        if fire < current {
            return Err(RunbookError::StaleFire { task: id(), fire, current });
        }
        if !task.has_active_fire() {
            return Err(RunbookError::FireOver { task: id(), fire, status: task.status });
        }
        match (expected, task.delivery) {
            (Some(expected), Some(delivery)) if expected != delivery => {
                Err(RunbookError::OutcomeMismatch { task: id(), fire, delivery, outcome })
            }
            _ => Ok(()),
        }
    }

    // Mutation helpers: called after validation, they cannot fail.

    fn set_runbook_stage(&mut self, to: RunbookStage, out: &mut Vec<Effect>) {
        let from = std::mem::replace(&mut self.stage, to);
        out.push(Effect::Event(Event::RunbookStageChanged { from, to, mode: self.mode }));
    }

    fn set_task_stage(&mut self, index: u32, to: TaskStage, out: &mut Vec<Effect>) {
        let from = std::mem::replace(&mut self.tasks[index as usize].stage, to);
        let task = self.plan.task_at(index).id.clone();
        out.push(Effect::Event(Event::TaskStageChanged { task, from, to }));
    }

    /// Sets the status of the task's fire number `fire` (its current one).
    fn set_status(
        &mut self,
        index: u32,
        fire: FireNumber,
        status: IntegrationStatus,
        reason: Option<FailureReason>,
        out: &mut Vec<Effect>,
    ) {
        let state = &mut self.tasks[index as usize];
        state.status = status;
        state.failure.clone_from(&reason);
        let event = Event::IntegrationStatusChanged { task: self.plan.task_at(index).id.clone(), fire, status, reason };
        out.push(Effect::Event(event));
    }

    /// Replaces a task's wait reason, keeping the waiting set and timers in step; returns the old reason.
    fn replace_waiting(&mut self, index: u32, waiting: Option<WaitReason>) -> Option<WaitReason> {
        let old = std::mem::replace(&mut self.tasks[index as usize].waiting, waiting);
        match &old {
            Some(WaitReason::MissingCustomFields { .. }) => {
                self.derived.waiting_for_fields.remove(&index);
            }
            Some(WaitReason::FixedStart { at }) => {
                self.derived.timers.remove(&(*at, index));
            }
            Some(WaitReason::RunbookNotActive) | None => {}
        }
        match &self.tasks[index as usize].waiting {
            Some(WaitReason::MissingCustomFields { .. }) => {
                self.derived.waiting_for_fields.insert(index);
            }
            Some(WaitReason::FixedStart { at }) => {
                self.derived.timers.insert((*at, index));
            }
            Some(WaitReason::RunbookNotActive) | None => {}
        }
        old
    }

    /// Decides what a startable task does now: auto start, wait (with a visible reason), or nothing.
    fn settle(&mut self, index: u32, now: Timestamp, out: &mut Vec<Effect>) {
        let plan = self.plan.task_at(index);
        let waiting = if plan.auto_start {
            if self.stage != RunbookStage::Active {
                Some(WaitReason::RunbookNotActive)
            } else {
                let fields = self.missing_fields(index);
                if fields.is_empty() {
                    self.begin(index, now, out);
                    return;
                }
                Some(WaitReason::MissingCustomFields { fields })
            }
        } else {
            self.fixed_start_ahead(index, now).map(|at| WaitReason::FixedStart { at })
        };
        if self.tasks[index as usize].waiting == waiting {
            return;
        }
        let old = self.replace_waiting(index, waiting.clone());
        let task = self.plan.task_at(index).id.clone();
        match waiting {
            Some(reason) => {
                if let WaitReason::FixedStart { at } = reason {
                    out.push(Effect::ScheduleWakeUp { at, task: task.clone() });
                }
                out.push(Effect::Event(Event::TaskWaiting { task, reason }));
            }
            None if old.is_some() => out.push(Effect::Event(Event::TaskReady { task })),
            None => {}
        }
    }

    fn resettle_waiting_for_fields(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let waiting: Vec<u32> = self.derived.waiting_for_fields.iter().copied().collect();
        for index in waiting {
            self.settle(index, now, out);
        }
    }

    /// Starts a startable task and fires its action when it fires on task start.
    fn begin(&mut self, index: u32, now: Timestamp, out: &mut Vec<Effect>) {
        self.replace_waiting(index, None);
        self.tasks[index as usize].started_at = Some(now);
        self.set_task_stage(index, TaskStage::InProgress, out);
        if self.plan.task_at(index).action.as_ref().is_some_and(|action| action.fires_on_start()) {
            self.fire(index, out);
        }
    }

    /// Starts a new fire of the task's action.
    fn fire(&mut self, index: u32, out: &mut Vec<Effect>) {
        let executes_in_rehearsal =
            self.plan.task_at(index).action.as_ref().is_some_and(|action| action.execute_in_rehearsal);
        let delivery = if self.mode == Some(RunMode::Rehearsal) && !executes_in_rehearsal {
            Delivery::RecordOnly
        } else {
            Delivery::Send
        };
        let state = &mut self.tasks[index as usize];
        let fire = state.fire.map_or(FireNumber::FIRST, FireNumber::next);
        state.fire = Some(fire);
        state.delivery = Some(delivery);
        out.push(Effect::Fire { task: self.plan.task_at(index).id.clone(), fire, delivery });
        self.set_status(index, fire, IntegrationStatus::Pending, None, out);
    }

    /// Fires the `runbook_update` actions an update concerns: a stage change (`fields` is `None`: the run started or
    /// resumed) concerns them all, a change of runbook-level field values those that watch one of `fields`. Only while
    /// the runbook is active, and not on skipped tasks. A task whose fire is under way fires once more when it ends.
    fn runbook_updated(&mut self, fields: Option<&[String]>, out: &mut Vec<Effect>) {
        if self.stage != RunbookStage::Active {
            return;
        }
        // Only the tasks whose action fires on runbook update, found when the plan was built: a field change costs
        // what those tasks do, not a walk over every task.
        for position in 0..self.plan.update_tasks().len() {
            let index = self.plan.update_tasks()[position];
            let concerned =
                self.plan.task_at(index).action.as_ref().is_some_and(|action| action.fires_on_update(fields));
            // Read-only first: taking the task mutably marks it changed, and a step stores only the changed tasks.
            let state = &self.tasks[index as usize];
            if !concerned || state.stage == TaskStage::Skipped {
                continue;
            }
            if state.has_active_fire() {
                self.tasks[index as usize].update_pending = true;
            } else {
                self.fire(index, out);
            }
        }
    }

    /// Cancels the task's fire `fire`, which is under way.
    fn cancel_fire(&mut self, index: u32, fire: FireNumber, out: &mut Vec<Effect>) {
        self.tasks[index as usize].update_pending = false;
        let state = &self.tasks[index as usize];
        let notifies = self.plan.task_at(index).action.as_ref().is_some_and(|action| action.notify_on_cancel);
        let effect = Effect::CancelFire {
            task: self.plan.task_at(index).id.clone(),
            fire,
            notify: notifies && state.delivery == Some(Delivery::Send),
        };
        out.push(effect);
        self.set_status(index, fire, IntegrationStatus::Cancelled, None, out);
    }

    /// Ends the current fire; a success (or a rehearsal record) finishes the task when the action says so.
    fn end_fire(
        &mut self,
        index: u32,
        fire: FireNumber,
        status: IntegrationStatus,
        reason: Option<FailureReason>,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        self.set_status(index, fire, status, reason, out);
        let finishes = self.plan.task_at(index).action.as_ref().is_some_and(|action| action.finish_task_on_success);
        let succeeded = matches!(status, IntegrationStatus::Succeeded | IntegrationStatus::NotSent);
        if finishes && succeeded && self.tasks[index as usize].stage == TaskStage::InProgress {
            self.mark_done(index, TaskStage::Complete, now, out);
        }
        // An update that arrived during the fire is sent now (a resume fires every update action anyway).
        if std::mem::take(&mut self.tasks[index as usize].update_pending)
            && self.stage == RunbookStage::Active
            && self.tasks[index as usize].stage != TaskStage::Skipped
        {
            self.fire(index, out);
        }
    }

    /// Stores values mapped from a response: runbook-level fields on the runbook, the others on the task.
    fn store_mapped_fields(
        &mut self,
        index: u32,
        values: BTreeMap<String, FieldValue>,
        now: Timestamp,
        out: &mut Vec<Effect>,
    ) {
        if values.is_empty() {
            return;
        }
        let (on_runbook, on_task): (BTreeMap<_, _>, BTreeMap<_, _>) =
            values.into_iter().partition(|(name, _)| self.plan.is_runbook_level(name));
        if !on_task.is_empty() {
            let fields = on_task.keys().cloned().collect();
            self.tasks[index as usize].custom_fields.extend(on_task);
            let task = Some(self.plan.task_at(index).id.clone());
            out.push(Effect::Event(Event::CustomFieldsChanged { task, fields }));
        }
        if !on_runbook.is_empty() {
            let fields = on_runbook.keys().cloned().collect();
            self.custom_fields.extend(on_runbook);
            out.push(Effect::Event(Event::CustomFieldsChanged { task: None, fields }));
            self.resettle_waiting_for_fields(now, out);
        }
    }

    /// Completes or skips a task, makes the successors whose last predecessor this was startable, and completes the
    /// runbook when every task is done. Costs O(successors).
    fn mark_done(&mut self, index: u32, stage: TaskStage, now: Timestamp, out: &mut Vec<Effect>) {
        self.replace_waiting(index, None);
        self.tasks[index as usize].ended_at = Some(now);
        self.set_task_stage(index, stage, out);
        self.derived.done += 1;
        for position in 0..self.plan.successors_of(index).len() {
            let successor = self.plan.successors_of(index)[position];
            let pending = &mut self.derived.pending[successor as usize];
            *pending -= 1;
            if *pending == 0 && self.tasks[successor as usize].stage == TaskStage::NotStartable {
                self.set_task_stage(successor, TaskStage::Startable, out);
                self.settle(successor, now, out);
            }
        }
        if self.derived.done == self.plan.len() && RUNNING.contains(&self.stage) {
            self.ended_at = Some(now);
            self.set_runbook_stage(RunbookStage::Complete, out);
        }
    }
}
