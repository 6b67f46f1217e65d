//! The live progress of `cutover run` on stderr: on a terminal an indicatif bar (tasks done out of all) with the tasks
//! running now, otherwise one plain line per change, which logs and tests can read.

use crate::terminal::complain;
use cutover_integrations_core::model::{IntegrationStatus, RunMode, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::Event;
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{DriveReport, EngineEvent};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running progress display; [`Progress::finish`] shows the events still queued and ends it.
pub(crate) struct Progress {
    stop: oneshot::Sender<Option<DriveReport>>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts showing the events of `runbook` from `events` (subscribed before the run starts, so nothing is
    /// missed). `tasks` are the runbook's task ids and names, in order; `terminal` chooses the bar over plain lines.
    pub(crate) fn start(
        events: broadcast::Receiver<EngineEvent>,
        runbook: RunbookId,
        name: &str,
        mode: RunMode,
        tasks: Vec<(String, String)>,
        terminal: bool,
    ) -> Self {
        let mode = match mode {
            RunMode::Rehearsal => "rehearsal",
            RunMode::Live => "live",
        };
        let header = format!("running `{name}` (runbook {runbook}, {mode}, {} tasks)", tasks.len());
        let display = if terminal { Display::bar(tasks.len() as u64) } else { Display::Lines };
        display.line(&header);
        let state = State {
            display,
            runbook,
            names: tasks.into_iter().collect(),
            done: 0,
            running: BTreeSet::new(),
            stages: BTreeMap::new(),
            statuses: BTreeMap::new(),
            runbook_stage: None,
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(state.show(events, stopped));
        Self { stop, task }
    }

    /// Shows what is still queued and ends the display. The engine may publish a change a moment after the state
    /// that holds it is readable, so the final `report` completes the lines: every task whose last shown stage or
    /// integration status differs from the report gets a line for where it ended.
    pub(crate) async fn finish(self, report: Option<DriveReport>) {
        let _ = self.stop.send(report);
        let _ = self.task.await;
    }
}

enum Display {
    Bar(ProgressBar),
    Lines,
}

impl Display {
    fn bar(length: u64) -> Self {
        let bar = ProgressBar::new(length);
        let style = ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} tasks  {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self::Bar(bar)
    }

    fn line(&self, text: &str) {
        match self {
            Self::Bar(bar) => bar.println(crate::terminal::printable_inline(text)),
            Self::Lines => complain!("{}", crate::terminal::printable_inline(text)),
        }
    }
}

struct State {
    display: Display,
    runbook: RunbookId,
    names: BTreeMap<String, String>,
    done: u64,
    running: BTreeSet<String>,
    /// The last stage shown per task, the last integration status, and the runbook's stage.
    stages: BTreeMap<String, TaskStage>,
    statuses: BTreeMap<String, IntegrationStatus>,
    runbook_stage: Option<RunbookStage>,
}

impl State {
    async fn show(
        mut self,
        mut events: broadcast::Receiver<EngineEvent>,
        mut stopped: oneshot::Receiver<Option<DriveReport>>,
    ) {
        loop {
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Ok(event) => self.event(&event),
                    Err(RecvError::Lagged(missed)) => self.display.line(&format!("({missed} changes not shown)")),
                    Err(RecvError::Closed) => break,
                },
                report = &mut stopped => {
                    loop {
                        match events.try_recv() {
                            Ok(event) => self.event(&event),
                            Err(TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    if let Ok(Some(report)) = report {
                        self.reconcile(&report);
                    }
                    break;
                }
            }
        }
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }

    fn event(&mut self, event: &EngineEvent) {
        if event.runbook != self.runbook {
            return;
        }
        if let Some(line) = self.track(&event.event) {
            self.display.line(&line);
        }
        if let Display::Bar(bar) = &self.display {
            bar.set_position(self.done);
            let running: Vec<&str> =
                self.running.iter().map(|id| self.names.get(id).map(String::as_str).unwrap_or(id.as_str())).collect();
            bar.set_message(if running.is_empty() {
                String::new()
            } else {
                crate::terminal::printable_inline(&format!("running: {}", running.join(", "))).into_owned()
            });
        }
    }

    /// Shows, as events would have, where each task and the runbook ended when that was not shown yet.
    fn reconcile(&mut self, report: &DriveReport) {
        for task in &report.tasks {
            if self.statuses.get(&task.id).copied().unwrap_or(IntegrationStatus::None) != task.integration_status {
                let reason = task.reason.as_deref().filter(|_| task.integration_status == IntegrationStatus::Failed);
                let line = match reason {
                    Some(reason) => format!("{}: integration failed: {reason}", task.id),
                    None => format!("{}: integration {}", task.id, snake(&task.integration_status)),
                };
                self.statuses.insert(task.id.clone(), task.integration_status);
                self.display.line(&line);
            }
            let from = self.stages.get(&task.id).copied().unwrap_or(TaskStage::NotStartable);
            if from != task.stage {
                let event = Event::TaskStageChanged { task: task.id.clone(), from, to: task.stage };
                if let Some(line) = self.track(&event) {
                    self.display.line(&line);
                }
            }
        }
        if self.runbook_stage != Some(report.stage) {
            let event = Event::RunbookStageChanged { from: RunbookStage::Active, to: report.stage, mode: None };
            if let Some(line) = self.track(&event) {
                self.display.line(&line);
            }
        }
    }

    /// Updates the counts and returns the line that tells the change, if it is worth one.
    fn track(&mut self, event: &Event) -> Option<String> {
        match event {
            Event::RunbookStageChanged { to, .. } => {
                self.runbook_stage = Some(*to);
                Some(format!("runbook: {}", snake(to)))
            }
            Event::TaskStageChanged { task, from, to } => {
                self.stages.insert(task.clone(), *to);
                if *from == TaskStage::InProgress {
                    self.running.remove(task);
                }
                match to {
                    TaskStage::InProgress => {
                        self.running.insert(task.clone());
                        let name = self.names.get(task).map(String::as_str).unwrap_or_default();
                        Some(format!("{task}: started ({name})"))
                    }
                    TaskStage::Complete | TaskStage::Skipped => {
                        self.done += 1;
                        Some(format!("{task}: {}", snake(to)))
                    }
                    TaskStage::NotStartable | TaskStage::Startable => None,
                }
            }
            Event::IntegrationStatusChanged { task, status, reason, .. } => {
                self.statuses.insert(task.clone(), *status);
                Some(match (status, reason) {
                    (IntegrationStatus::Failed, Some(reason)) => format!("{task}: integration failed: {reason}"),
                    _ => format!("{task}: integration {}", snake(status)),
                })
            }
            Event::TaskWaiting { task, reason } => Some(format!("{task}: {reason}")),
            Event::RunbookCreated
            | Event::TaskReady { .. }
            | Event::CustomFieldsChanged { .. }
            | Event::TaskAdded { .. }
            | Event::TasksCreated { .. }
            | Event::TaskEdited { .. }
            | Event::TaskRemoved { .. } => None,
        }
    }
}

/// The snake_case name serde gives a unit variant, such as `in_progress`.
pub(crate) fn snake(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}
