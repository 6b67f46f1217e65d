//! Properties over random DAGs and random command sequences: no illegal state, no second fire without a refire, refused
//! commands change nothing, and a runbook whose tasks all get finished completes.

mod fixture;

use cutover_integrations_model::{FieldValue, IntegrationStatus, Role, RunMode, RunbookStage, TaskStage};
use cutover_integrations_runbook::{
    Actor, Command, Delivery, Effect, FailureReason, FieldTarget, FireNumber, ProgressStatus, RunbookState, WaitReason,
};
use fixture::{at, state};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The action kinds of the fixture catalog, plus manual tasks.
const ACTIONS: &[&str] = &["", ":post", ":run", ":auto", ":rehearse", ":quiet", ":update", ":needs", ":ask"];

/// One random task: predecessor picks (indexes into earlier tasks), action kind, flags.
#[derive(Debug, Clone)]
struct TaskSpec {
    predecessors: Vec<prop::sample::Index>,
    action: usize,
    auto: bool,
    fixed: Option<u16>,
    ticket: bool,
}

fn task_spec() -> impl Strategy<Value = TaskSpec> {
    (
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        0..ACTIONS.len(),
        any::<bool>(),
        prop::option::weighted(0.25, 0u16..300),
        any::<bool>(),
    )
        .prop_map(|(predecessors, action, auto, fixed, ticket)| TaskSpec {
            predecessors,
            action,
            auto,
            fixed,
            ticket,
        })
}

/// A runbook in the fixture notation: tasks `t0`, `t1`… each with predecessors among the earlier ones.
fn runbook_spec(tasks: &[TaskSpec], env: bool) -> String {
    let mut entries = vec![if env { "runbook Env=prod".to_owned() } else { String::new() }];
    for (position, task) in tasks.iter().enumerate() {
        let mut entry = format!("t{position}{}", ACTIONS[task.action]);
        if position > 0 {
            let mut predecessors: Vec<usize> = task.predecessors.iter().map(|pick| pick.index(position)).collect();
            predecessors.sort_unstable();
            predecessors.dedup();
            if !predecessors.is_empty() {
                let list: Vec<String> = predecessors.iter().map(|p| format!("t{p}")).collect();
                entry.push_str(&format!(" after={}", list.join(",")));
            }
        }
        let action_auto = matches!(ACTIONS[task.action], ":auto" | ":needs");
        match task.fixed {
            Some(offset) if !task.auto && !action_auto => entry.push_str(&format!(" fixed=+{offset}")),
            _ if task.auto => entry.push_str(" auto"),
            _ => {}
        }
        if task.ticket {
            entry.push_str(" Ticket=1");
        }
        entries.push(entry);
    }
    entries.join("; ")
}

/// A random input; task picks and fire offsets are resolved against the current state.
#[derive(Debug, Clone)]
enum Input {
    Run(bool),
    Pause,
    Resume,
    Abort,
    Start { task: prop::sample::Index, force: bool, admin: bool },
    Finish(prop::sample::Index),
    Skip { task: prop::sample::Index, admin: bool, comment: bool },
    Cancel(prop::sample::Index),
    Refire(prop::sample::Index),
    SetTicket { task: prop::sample::Index, empty: bool },
    SetEnv { empty: bool },
    Progress { task: prop::sample::Index, offset: i8, waiting: bool, env: bool },
    Succeed { task: prop::sample::Index, offset: i8, env: bool },
    Fail { task: prop::sample::Index, offset: i8 },
    NotSent { task: prop::sample::Index, offset: i8 },
    Tick,
}

fn input() -> impl Strategy<Value = Input> {
    let task = any::<prop::sample::Index>;
    let offset = || -1i8..=1;
    prop_oneof![
        1 => any::<bool>().prop_map(Input::Run),
        1 => Just(Input::Pause),
        1 => Just(Input::Resume),
        1 => Just(Input::Abort),
        6 => (task(), any::<bool>(), any::<bool>()).prop_map(|(task, force, admin)| Input::Start { task, force, admin }),
        5 => task().prop_map(Input::Finish),
        2 => (task(), any::<bool>(), any::<bool>()).prop_map(|(task, admin, comment)| Input::Skip { task, admin, comment }),
        2 => task().prop_map(Input::Cancel),
        2 => task().prop_map(Input::Refire),
        2 => (task(), any::<bool>()).prop_map(|(task, empty)| Input::SetTicket { task, empty }),
        1 => any::<bool>().prop_map(|empty| Input::SetEnv { empty }),
        3 => (task(), offset(), any::<bool>(), any::<bool>())
            .prop_map(|(task, offset, waiting, env)| Input::Progress { task, offset, waiting, env }),
        4 => (task(), offset(), any::<bool>()).prop_map(|(task, offset, env)| Input::Succeed { task, offset, env }),
        3 => (task(), offset()).prop_map(|(task, offset)| Input::Fail { task, offset }),
        2 => (task(), offset()).prop_map(|(task, offset)| Input::NotSent { task, offset }),
        2 => Just(Input::Tick),
    ]
}

fn text(value: &str) -> FieldValue {
    FieldValue::Text(value.to_owned())
}

fn fields(name: &str, value: &str, include: bool) -> BTreeMap<String, FieldValue> {
    if include { BTreeMap::from([(name.to_owned(), text(value))]) } else { BTreeMap::new() }
}

/// Turns a random input into a command against the current state.
fn command(state: &RunbookState, input: &Input) -> (Actor, Command) {
    let tasks = state.plan().tasks();
    let id = |pick: &prop::sample::Index| tasks[pick.index(tasks.len())].id.clone();
    let fire = |task: &str, offset: i8| {
        let current = state.task(task).and_then(|view| view.state.fire()).map_or(0, FireNumber::get);
        // 0 is no fire number: the first one stands in (a task that never fired does not know it either).
        FireNumber::new(current.saturating_add_signed(i32::from(offset))).unwrap_or(FireNumber::FIRST)
    };
    let operator = Actor::with_roles([Role::Operator]);
    let admin = |is_admin: bool| if is_admin { Actor::with_roles([Role::RunbookAdmin]) } else { operator.clone() };
    match input {
        Input::Run(live) => {
            (operator, Command::StartRunbook { mode: if *live { RunMode::Live } else { RunMode::Rehearsal } })
        }
        Input::Pause => (operator, Command::PauseRunbook),
        Input::Resume => (operator, Command::ResumeRunbook),
        Input::Abort => (operator, Command::CancelRunbook),
        Input::Start { task, force, admin: is_admin } => {
            (admin(*is_admin), Command::StartTask { task: id(task), force: *force })
        }
        Input::Finish(task) => (operator, Command::FinishTask { task: id(task) }),
        Input::Skip { task, admin: is_admin, comment } => {
            let comment = if *comment { "not needed".to_owned() } else { String::new() };
            (admin(*is_admin), Command::SkipTask { task: id(task), comment })
        }
        Input::Cancel(task) => (operator, Command::CancelTask { task: id(task) }),
        Input::Refire(task) => (operator, Command::RefireTask { task: id(task) }),
        Input::SetTicket { task, empty } => {
            let values = fields("Ticket", if *empty { "" } else { "7" }, true);
            (operator, Command::SetCustomFields { target: FieldTarget::Task(id(task)), values })
        }
        Input::SetEnv { empty } => {
            let values = fields("Env", if *empty { "" } else { "prod" }, true);
            (operator, Command::SetCustomFields { target: FieldTarget::Runbook, values })
        }
        Input::Progress { task, offset, waiting, env } => {
            let task = id(task);
            let status = if *waiting { ProgressStatus::Waiting } else { ProgressStatus::Running };
            let custom_fields = fields("Env", "mapped", *env);
            (Actor::engine(), Command::FireProgress { fire: fire(&task, *offset), task, status, custom_fields })
        }
        Input::Succeed { task, offset, env } => {
            let task = id(task);
            let custom_fields = fields("Env", "mapped", *env);
            (Actor::engine(), Command::FireSucceeded { fire: fire(&task, *offset), task, custom_fields })
        }
        Input::Fail { task, offset } => {
            let task = id(task);
            let reason = FailureReason::connection("refused");
            (Actor::engine(), Command::FireFailed { fire: fire(&task, *offset), task, reason })
        }
        Input::NotSent { task, offset } => {
            let task = id(task);
            (Actor::engine(), Command::FireNotSent { fire: fire(&task, *offset), task })
        }
        Input::Tick => (Actor::engine(), Command::TimePassed),
    }
}

/// Counts fires per task and checks each against the refires accepted so far.
#[derive(Default)]
struct FireLedger {
    fires: BTreeMap<String, u32>,
    refires: BTreeMap<String, u32>,
}

impl FireLedger {
    fn record(&mut self, command: &Command, effects: &[Effect], state: &RunbookState) -> Result<(), TestCaseError> {
        if let Command::RefireTask { task } = command {
            *self.refires.entry(task.clone()).or_default() += 1;
        }
        for effect in effects {
            let Effect::Fire { task, fire, .. } = effect else { continue };
            let count = self.fires.entry(task.clone()).or_default();
            *count += 1;
            prop_assert_eq!(fire.get(), *count, "fire numbers of `{}` go up by one", task);
            let on_update =
                state.task(task).unwrap().plan.action.as_ref().is_some_and(|action| !action.fires_on_start());
            if on_update {
                // A runbook update fires: the run starting or resuming, a user's runbook field change, or the end of
                // the task's fire while an update waited.
                let update = match command {
                    Command::StartRunbook { .. } | Command::ResumeRunbook | Command::RefireTask { .. } => true,
                    Command::SetCustomFields { target, .. } => *target == FieldTarget::Runbook,
                    Command::FireSucceeded { task: ended, .. }
                    | Command::FireFailed { task: ended, .. }
                    | Command::FireNotSent { task: ended, .. } => ended == task,
                    _ => false,
                };
                prop_assert!(update, "`{}` fired on runbook update after {:?}", task, command);
                prop_assert_eq!(state.task(task).unwrap().state.fire(), Some(*fire));
                continue;
            }
            let refires = self.refires.get(task).copied().unwrap_or_default();
            prop_assert!(*count <= 1 + refires, "task `{}` fired {} times with {} refires", task, count, refires);
            let is_refire = matches!(command, Command::RefireTask { task: refired } if refired == task);
            prop_assert!(is_refire || *fire == FireNumber::FIRST, "fire {} of `{}` without a refire", fire, task);
            prop_assert_eq!(state.task(task).unwrap().state.fire(), Some(*fire));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_the_state_legal(
        tasks in prop::collection::vec(task_spec(), 1..12),
        env in any::<bool>(),
        inputs in prop::collection::vec((input(), 0i64..40), 1..80),
    ) {
        let mut runbook = state(&runbook_spec(&tasks, env));
        prop_assert!(runbook.check_consistency().is_ok());
        runbook.take_changed_tasks();
        let mut ledger = FireLedger::default();
        let mut now = 0;
        for (input, elapsed) in &inputs {
            now += elapsed;
            let (actor, command) = command(&runbook, input);
            let before = runbook.clone();
            match runbook.apply(command.clone(), &actor, at(now)) {
                Ok(effects) => {
                    // The counters kept step by step equal a full recount (checked by `check_consistency`).
                    if let Err(error) = runbook.check_consistency() {
                        return Err(TestCaseError::fail(format!("{command:?} led to: {error}")));
                    }
                    ledger.record(&command, &effects, &runbook)?;
                    // A step stores only the tasks it recorded as changed: every task that differs must be among them.
                    let changed = runbook.take_changed_tasks();
                    for (position, (after, earlier)) in
                        runbook.task_states().iter().zip(before.task_states()).enumerate()
                    {
                        prop_assert!(
                            after == earlier || changed.contains(&(position as u32)),
                            "{:?} changed task {} without recording it", command, position
                        );
                    }
                }
                Err(_) => {
                    prop_assert_eq!(&runbook, &before, "a refused {:?} changed the state", command);
                    runbook.take_changed_tasks();
                }
            }
        }
        let json = serde_json::to_string(&runbook).unwrap();
        let loaded: RunbookState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(loaded, runbook);
    }

    #[test]
    fn finishing_every_task_completes_the_runbook(
        tasks in prop::collection::vec(task_spec(), 1..25),
        env in any::<bool>(),
        live in any::<bool>(),
        choices in prop::collection::vec(any::<prop::sample::Index>(), 200),
    ) {
        let mut runbook = state(&runbook_spec(&tasks, env));
        let mode = if live { RunMode::Live } else { RunMode::Rehearsal };
        let start = Command::StartRunbook { mode };
        let effects = runbook.apply(start.clone(), &Actor::engine(), at(0)).unwrap();
        let admin = Actor::with_roles([Role::RunbookAdmin]);
        let mut ledger = FireLedger::default();
        ledger.record(&start, &effects, &runbook)?;
        let limit = 400 + 20 * tasks.len();
        let mut steps = 0;
        while runbook.stage() != RunbookStage::Complete {
            prop_assert!(steps < limit, "no completion after {} steps: {:?}", steps, runbook.stage());
            // Random legal moves first, then only moves that make progress, so that the run must end.
            let moves = legal_moves(&runbook, steps < limit / 2);
            prop_assert!(!moves.is_empty(), "stuck in {:?}", runbook.stage());
            let command = moves[choices[steps % choices.len()].index(moves.len())].clone();
            let effects = runbook.apply(command.clone(), &admin, at(steps as i64));
            let effects = match effects {
                Ok(effects) => effects,
                Err(error) => return Err(TestCaseError::fail(format!("legal {command:?} refused: {error}"))),
            };
            prop_assert!(runbook.check_consistency().is_ok());
            ledger.record(&command, &effects, &runbook)?;
            steps += 1;
        }
        prop_assert!(runbook.tasks().all(|task| task.state.is_done()));
    }
}

/// Commands that the machine must accept now: every way a user or the engine moves a run forward, and with `detours`
/// also pauses, failures, cancels and refires.
fn legal_moves(state: &RunbookState, detours: bool) -> Vec<Command> {
    let mut moves = Vec::new();
    match state.stage() {
        RunbookStage::Paused => moves.push(Command::ResumeRunbook),
        RunbookStage::Active if detours => moves.push(Command::PauseRunbook),
        _ => {}
    }
    let active = state.stage() == RunbookStage::Active;
    for view in state.tasks() {
        let task = view.plan.id.clone();
        let action = view.plan.action.as_ref().filter(|action| action.fires_on_start());
        match view.state.stage() {
            TaskStage::Startable => match view.state.waiting() {
                Some(WaitReason::MissingCustomFields { .. }) => {
                    let values = fields("Ticket", "7", true);
                    moves.push(Command::SetCustomFields { target: FieldTarget::Task(task.clone()), values });
                    let values = fields("Env", "prod", true);
                    moves.push(Command::SetCustomFields { target: FieldTarget::Runbook, values });
                }
                waiting if active && state.missing_required_fields(&task).is_some_and(|fields| fields.is_empty()) => {
                    let force = matches!(waiting, Some(WaitReason::FixedStart { .. }));
                    moves.push(Command::StartTask { task, force });
                }
                _ if active => {
                    let values = BTreeMap::from([("Ticket".to_owned(), text("7")), ("Env".to_owned(), text("prod"))]);
                    moves.push(Command::SetCustomFields { target: FieldTarget::Task(task), values });
                }
                _ => {}
            },
            TaskStage::InProgress => {
                let status = view.state.integration_status();
                let sent = view.state.delivery() == Some(Delivery::Send);
                if let Some(fire) = view.state.active_fire() {
                    if sent {
                        let custom_fields = BTreeMap::new();
                        moves.push(Command::FireSucceeded { task: task.clone(), fire, custom_fields });
                    } else {
                        moves.push(Command::FireNotSent { task: task.clone(), fire });
                    }
                    if detours {
                        let reason = FailureReason::connection("refused");
                        moves.push(Command::FireFailed { task: task.clone(), fire, reason });
                        if sent {
                            let status = ProgressStatus::Waiting;
                            let custom_fields = BTreeMap::new();
                            moves.push(Command::FireProgress { task: task.clone(), fire, status, custom_fields });
                        }
                        if action.is_some_and(|action| action.cancelable) {
                            moves.push(Command::CancelTask { task: task.clone() });
                        }
                    }
                } else {
                    moves.push(Command::FinishTask { task: task.clone() });
                }
                let refirable = matches!(status, IntegrationStatus::Failed | IntegrationStatus::Cancelled);
                if detours
                    && active
                    && refirable
                    && state.missing_required_fields(&task).is_some_and(|fields| fields.is_empty())
                {
                    moves.push(Command::RefireTask { task });
                }
            }
            TaskStage::NotStartable | TaskStage::Complete | TaskStage::Skipped => {}
        }
    }
    if state.next_wake_up().is_some() && detours {
        moves.push(Command::TimePassed);
    }
    moves
}
