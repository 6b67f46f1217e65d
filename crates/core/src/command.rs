//! [`UserCommand`]: the commands an embedder may give a runbook through [`Engine::command`](crate::Engine::command).
//!
//! The state machine takes more inputs than these ([`cutover_integrations_runbook::Command`]): fire outcomes and the
//! passing of time are the engine's own reports, and only its dispatcher sends them, for the fires it ran. Custom
//! field values go through [`Engine::set_custom_fields`](crate::Engine::set_custom_fields), which checks them against
//! their definitions first.

use cutover_integrations_model::RunMode;
use cutover_integrations_runbook::Command;

/// A command a person (through the server, the console or the CLI) or an embedder gives a runbook.
///
/// An embedder cannot report a fire's outcome or move time on: those are not commands of this type.
///
/// ```compile_fail
/// # async fn refused(engine: cutover_integrations_core::Engine, id: cutover_integrations_core::store::RunbookId) {
/// use cutover_integrations_core::runbook::{Actor, Command};
/// // The state machine's internal inputs do not reach `Engine::command`.
/// engine.command(id, Command::TimePassed, &Actor::engine()).await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Start a run: `planning` → `active` in `mode`; startable auto-start tasks start.
    StartRunbook {
        /// Rehearsal or live.
        mode: RunMode,
    },
    /// `active` → `paused`: nothing new starts until resumed; fires in flight go on.
    PauseRunbook,
    /// `paused` → `active`: auto-start tasks that became startable meanwhile start.
    ResumeRunbook,
    /// `planning`, `active` or `paused` → `cancelled`; every fire in flight is cancelled.
    CancelRunbook,
    /// Start a startable task; fires its action when the trigger is `task_start`.
    StartTask {
        /// The task id.
        task: String,
        /// Start before a fixed start time (needs `runbook_admin` or `admin`).
        force: bool,
    },
    /// Finish a task in progress.
    FinishTask {
        /// The task id.
        task: String,
    },
    /// Skip a task that is not done yet (needs `runbook_admin` or `admin`, and a comment).
    SkipTask {
        /// The task id.
        task: String,
        /// Why; required.
        comment: String,
    },
    /// Cancel the task's fire in flight (needs a cancelable action).
    CancelTask {
        /// The task id.
        task: String,
    },
    /// Fire the task's action again after a `failed` or `cancelled` fire.
    RefireTask {
        /// The task id.
        task: String,
    },
}

impl From<UserCommand> for Command {
    fn from(command: UserCommand) -> Self {
        match command {
            UserCommand::StartRunbook { mode } => Command::StartRunbook { mode },
            UserCommand::PauseRunbook => Command::PauseRunbook,
            UserCommand::ResumeRunbook => Command::ResumeRunbook,
            UserCommand::CancelRunbook => Command::CancelRunbook,
            UserCommand::StartTask { task, force } => Command::StartTask { task, force },
            UserCommand::FinishTask { task } => Command::FinishTask { task },
            UserCommand::SkipTask { task, comment } => Command::SkipTask { task, comment },
            UserCommand::CancelTask { task } => Command::CancelTask { task },
            UserCommand::RefireTask { task } => Command::RefireTask { task },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each public command becomes the state machine's command of the same name and fields.
    #[test]
    fn each_user_command_is_the_state_machines_command_of_the_same_name() {
        let task = || "deploy".to_owned();
        let table = [
            (UserCommand::StartRunbook { mode: RunMode::Live }, Command::StartRunbook { mode: RunMode::Live }),
            (
                UserCommand::StartRunbook { mode: RunMode::Rehearsal },
                Command::StartRunbook { mode: RunMode::Rehearsal },
            ),
            (UserCommand::PauseRunbook, Command::PauseRunbook),
            (UserCommand::ResumeRunbook, Command::ResumeRunbook),
            (UserCommand::CancelRunbook, Command::CancelRunbook),
            (UserCommand::StartTask { task: task(), force: true }, Command::StartTask { task: task(), force: true }),
            (UserCommand::StartTask { task: task(), force: false }, Command::StartTask { task: task(), force: false }),
            (UserCommand::FinishTask { task: task() }, Command::FinishTask { task: task() }),
            (
                UserCommand::SkipTask { task: task(), comment: "not needed".to_owned() },
                Command::SkipTask { task: task(), comment: "not needed".to_owned() },
            ),
            (UserCommand::CancelTask { task: task() }, Command::CancelTask { task: task() }),
            (UserCommand::RefireTask { task: task() }, Command::RefireTask { task: task() }),
        ];
        for (user, expected) in table {
            assert_eq!(Command::from(user.clone()), expected, "{user:?}");
        }
    }
}
