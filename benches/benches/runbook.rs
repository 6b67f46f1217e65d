//! The runbook state machine on large runbooks: build the plan and drive every task to completion, in memory.
//!
//! The runbook is a sequence of 100-task segments: a hub, 14 chains of 7 tasks fanning out from it, and a join that
//! fans in and leads to the next segment's hub. Each chain head is an auto-start integration task that finishes on
//! success (the driver answers its fire with a success); every other task is started and finished by hand.
//!
//! Baseline, in the same run: the least work any engine must do on the same runbook, namely index the ids, build the
//! adjacency lists and visit every task in dependency order (Kahn's algorithm). Reported per size (1k, 10k, 100k) as
//! tasks per second; a flat tasks/s across sizes shows cost linear in size.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cutover_integrations_model::{Action, ActionRef, RunMode, Runbook, RunbookStage, Task, TaskStage};
use cutover_integrations_runbook::{Actor, Command, Effect, Event, RunbookPlan, RunbookState};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

const CHAINS: usize = 14;
const CHAIN_LENGTH: usize = 7;
const SEGMENT: usize = 2 + CHAINS * CHAIN_LENGTH;

fn action_ref() -> ActionRef {
    ActionRef { integration: "Ops".into(), action: "deploy".into() }
}

fn catalog() -> BTreeMap<ActionRef, Action> {
    let action: Action = serde_json::from_value(serde_json::json!({
        "name": "deploy",
        "settings": {"auto_start": true, "finish_task_on_success": true},
        "request": {"method": "POST", "url": "https://example.com/deploy"},
    }))
    .expect("valid action");
    BTreeMap::from([(action_ref(), action)])
}

fn task(id: String, predecessors: Vec<String>, action: bool) -> Task {
    Task {
        name: id.clone(),
        id,
        description: None,
        action: action.then(action_ref),
        predecessors,
        custom_fields: BTreeMap::new(),
        auto_start: false,
        fixed_start: None,
        duration_seconds: None,
        assignee: None,
    }
}

/// A runbook of `size / 100` segments of chains between a fan-out and a fan-in.
fn runbook(size: usize) -> Runbook {
    let mut tasks = Vec::with_capacity(size);
    let mut previous_join: Option<String> = None;
    for segment in 0..size / SEGMENT {
        let hub = format!("s{segment}-hub");
        tasks.push(task(hub.clone(), previous_join.iter().cloned().collect(), false));
        let mut tails = Vec::with_capacity(CHAINS);
        for chain in 0..CHAINS {
            let mut predecessor = hub.clone();
            for step in 0..CHAIN_LENGTH {
                let id = format!("s{segment}-c{chain}-{step}");
                tasks.push(task(id.clone(), vec![predecessor], step == 0));
                predecessor = id;
            }
            tails.push(predecessor);
        }
        let join = format!("s{segment}-join");
        tasks.push(task(join.clone(), tails, false));
        previous_join = Some(join);
    }
    Runbook { name: format!("{size} tasks"), workspace: None, description: None, custom_fields: BTreeMap::new(), tasks }
}

/// Builds the plan and drives every task to completion; returns the number of tasks completed.
fn drive(runbook: &Runbook, catalog: &BTreeMap<ActionRef, Action>) -> usize {
    let plan = RunbookPlan::build(runbook, catalog, &[]).expect("valid runbook");
    let mut state = RunbookState::new(plan);
    let actor = Actor::engine();
    let now = jiff::Timestamp::UNIX_EPOCH;
    let mut work = VecDeque::new();
    let roots: Vec<String> = state
        .tasks()
        .filter(|view| view.state.stage() == TaskStage::Startable)
        .map(|view| view.plan.id.clone())
        .collect();
    let effects = state.apply(Command::StartRunbook { mode: RunMode::Live }, &actor, now).expect("starts");
    work.extend(roots.into_iter().map(|task| Command::StartTask { task, force: false }));
    let mut pending = effects;
    loop {
        for effect in pending.drain(..) {
            match effect {
                Effect::Fire { task, fire, .. } => {
                    work.push_back(Command::FireSucceeded { task, fire, custom_fields: BTreeMap::new() });
                }
                Effect::Event(Event::TaskStageChanged { task, to: TaskStage::Startable, .. })
                    if state.plan().task(&task).is_some_and(|plan| !plan.auto_start) =>
                {
                    work.push_back(Command::StartTask { task, force: false });
                }
                Effect::Event(Event::TaskStageChanged { task, to: TaskStage::InProgress, .. })
                    if state.plan().task(&task).is_some_and(|plan| plan.action.is_none()) =>
                {
                    work.push_back(Command::FinishTask { task });
                }
                _ => {}
            }
        }
        let Some(command) = work.pop_front() else { break };
        pending = state.apply(command, &actor, now).expect("legal command");
    }
    assert_eq!(state.stage(), RunbookStage::Complete);
    state.done_count()
}

/// The baseline: index ids, build adjacency, visit in dependency order.
fn topological_visit(runbook: &Runbook) -> usize {
    let index: HashMap<&str, u32> =
        runbook.tasks.iter().enumerate().map(|(position, task)| (task.id.as_str(), position as u32)).collect();
    let mut successors = vec![Vec::new(); runbook.tasks.len()];
    let mut pending: Vec<u32> = Vec::with_capacity(runbook.tasks.len());
    for (position, task) in runbook.tasks.iter().enumerate() {
        for predecessor in &task.predecessors {
            successors[index[predecessor.as_str()] as usize].push(position as u32);
        }
        pending.push(task.predecessors.len() as u32);
    }
    let mut ready: VecDeque<u32> = (0..runbook.tasks.len() as u32).filter(|&t| pending[t as usize] == 0).collect();
    let mut visited = 0;
    while let Some(task) = ready.pop_front() {
        visited += 1;
        for &successor in &successors[task as usize] {
            pending[successor as usize] -= 1;
            if pending[successor as usize] == 0 {
                ready.push_back(successor);
            }
        }
    }
    visited
}

fn bench_runbook(c: &mut Criterion) {
    let catalog = catalog();
    let mut group = c.benchmark_group("runbook_drive_to_completion");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for size in [1_000, 10_000, 100_000] {
        let runbook = runbook(size);
        let tasks = runbook.tasks.len();
        assert_eq!(drive(&runbook, &catalog), tasks);
        assert_eq!(topological_visit(&runbook), tasks);
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_with_input(BenchmarkId::new("state_machine", size), &runbook, |b, runbook| {
            b.iter(|| drive(black_box(runbook), &catalog));
        });
        group.bench_with_input(BenchmarkId::new("baseline_topological_visit", size), &runbook, |b, runbook| {
            b.iter(|| topological_visit(black_box(runbook)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_runbook);
criterion_main!(benches);
