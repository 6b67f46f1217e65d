//! What one step of a large runbook costs, counted rather than timed: the tasks a step records as changed (and so
//! the task rows a commit writes) and the effects it returns stay the same whatever the runbook's size.

mod fixture;

use cutover_integrations_model::{FieldValue, RunMode, RunbookStage};
use cutover_integrations_runbook::{Actor, Command, Effect, FieldTarget, FireNumber, RunbookState};
use fixture::{at, state};
use std::collections::BTreeMap;

/// A chain of `size` tasks firing on start and finishing on success (`t0` … `t{size-1}`), one task watching runbook
/// updates, and one more that the chain does not lead to.
fn chain(size: usize) -> RunbookState {
    let mut spec: Vec<String> =
        (0..size).map(|n| if n == 0 { "t0:auto".to_owned() } else { format!("t{n}:auto after=t{}", n - 1) }).collect();
    spec.push("watcher:watch".to_owned());
    spec.push("manual".to_owned());
    state(&spec.join("; "))
}

/// What each step of driving the chain to its end changed: (tasks recorded as changed, effects) per step.
fn drive(size: usize) -> Vec<(usize, usize)> {
    let mut runbook = chain(size);
    let engine = Actor::engine();
    runbook.apply(Command::StartRunbook { mode: RunMode::Live }, &engine, at(0)).expect("starts");
    runbook.take_changed_tasks();
    let mut costs = Vec::new();
    // A runbook-level field change reaches the watching task only, not every task.
    let values = BTreeMap::from([("Result".to_owned(), FieldValue::Text("green".into()))]);
    let effects = runbook
        .apply(Command::SetCustomFields { target: FieldTarget::Runbook, values }, &engine, at(1))
        .expect("sets the field");
    costs.push((runbook.take_changed_tasks().len(), effects.len()));
    for n in 0..size {
        let task = format!("t{n}");
        let command = Command::FireSucceeded { task, fire: FireNumber::FIRST, custom_fields: BTreeMap::new() };
        let effects = runbook.apply(command, &engine, at(2 + n as i64)).expect("the fire succeeds");
        assert!(effects.iter().any(|effect| matches!(effect, Effect::Event(_))), "step {n} tells what happened");
        costs.push((runbook.take_changed_tasks().len(), effects.len()));
    }
    assert_eq!(runbook.stage(), RunbookStage::Active, "the manual task is left");
    costs
}

#[test]
fn a_step_changes_the_same_few_tasks_in_a_runbook_of_ten_or_ten_thousand() {
    for size in [10, 10_000] {
        let costs = drive(size);
        let (field_change, steps) = costs.split_first().expect("costs");
        assert!(field_change.0 <= 1, "a field change in a runbook of {size} changed {} tasks", field_change.0);
        // A fire's success completes its task and starts the next one (its fire going out): two tasks at most.
        let most_tasks = steps.iter().map(|(tasks, _)| *tasks).max().unwrap_or_default();
        assert!(most_tasks <= 2, "a step of a runbook of {size} changed {most_tasks} tasks");
        let most_effects = steps.iter().map(|(_, effects)| *effects).max().unwrap_or_default();
        assert!(most_effects <= 8, "a step of a runbook of {size} returned {most_effects} effects");
    }
}
