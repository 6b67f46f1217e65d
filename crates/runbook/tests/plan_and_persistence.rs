//! Building plans (and their refusals), duplicating runbooks, and persisting state through serde.

mod fixture;

use cutover_integrations_model::{FieldValue, Integration, IntegrationStatus, RunbookStage, TaskStage};
use cutover_integrations_runbook::{
    Actor, Command, FireNumber, RunbookError, RunbookPlan, RunbookState, STATE_VERSION, TaskState, WaitReason,
};
use fixture::{at, effect_text, plan, run_steps, state, state_text, step};

#[test]
fn plan_refusals() {
    let cases = [
        ("a; a", "task id `a` is used by more than one task"),
        ("a after=zz", "task `a` lists unknown predecessor `zz`"),
        ("a:nope", "task `a` uses unknown action `Ops/nope`"),
        ("a after=a", "tasks form a cycle: `a` -> `a`"),
        ("a after=c; b after=a; c after=b; d", "tasks form a cycle: `a` -> `b` -> `c` -> `a`"),
        ("x; a after=x,c; b after=a; c after=b", "tasks form a cycle: `a` -> `b` -> `c` -> `a`"),
        ("a fixed=tomorrow", "task `a`: fixed start `tomorrow` is not an RFC 3339 time such as 2026-11-22T18:00:00Z ("),
        ("a auto fixed=+60", "task `a` has a fixed start time and auto start (the task); they cannot be combined"),
        (
            "a:auto fixed=+60",
            "task `a` has a fixed start time and auto start (action Ops/auto); they cannot be combined",
        ),
    ];
    for (spec, expected) in cases {
        let error = plan(spec).expect_err(spec).to_string();
        assert!(error.starts_with(expected), "{spec}:\n      got: {error}\n expected: {expected}");
    }
}

#[test]
fn plan_carries_what_the_machine_needs() {
    let plan =
        plan("runbook Env=prod; a:post; b:needs after=a Ticket=1; c:ask after=a,b fixed=+60; d auto after=c").unwrap();
    let a = plan.task("a").unwrap();
    let action = a.action.as_ref().unwrap();
    assert!(action.cancelable && action.notify_on_cancel && action.finish_task_on_success && action.fires_on_start());
    assert!(!action.execute_in_rehearsal && !a.auto_start && a.required_fields.is_empty());
    let b = plan.task("b").unwrap();
    assert!(b.auto_start, "auto start comes from the action");
    assert_eq!(b.required_fields, ["Ticket", "Env"]);
    assert_eq!(b.custom_fields.get("Ticket"), Some(&FieldValue::Text("1".into())));
    assert_eq!(plan.task("c").unwrap().fixed_start, Some(at(60)));
    assert!(plan.task("d").unwrap().auto_start, "auto start comes from the task");
    assert!(plan.task("d").unwrap().required_fields.is_empty(), "manual tasks have no required fields");
    assert_eq!(plan.successors("a").collect::<Vec<_>>(), ["b", "c"]);
    assert!(plan.is_transient("Ticket") && !plan.is_transient("Env"));
    assert!(plan.is_runbook_level("Env") && !plan.is_runbook_level("Ticket"));
    assert_eq!(plan.custom_fields().get("Env"), Some(&FieldValue::Text("prod".into())));
}

#[test]
fn plan_resolves_actions_from_integrations() {
    let integrations: Vec<Integration> = serde_json::from_value(serde_json::json!([{
        "name": "Slack",
        "actions": [{"name": "post", "settings": {"cancelable": true},
                     "request": {"method": "POST", "url": "https://slack.com/api/chat.postMessage"}}],
    }]))
    .unwrap();
    let plan = RunbookPlan::build(&fixture::runbook("a:post"), &integrations, &[]).unwrap();
    assert!(plan.task("a").unwrap().action.as_ref().unwrap().cancelable);
    let missing = RunbookPlan::build(&fixture::runbook("a:run"), &integrations, &[]).unwrap_err();
    assert_eq!(missing, RunbookError::UnknownAction { task: "a".into(), action: "Ops/run".into() });
}

#[test]
fn duplicate_starts_over_and_drops_transient_values() {
    let mut original = state("runbook Env=prod Note=rb; a:ask Ticket=1 Owner=ops Note=n; b after=a");
    run_steps(&mut original, "set * Result=r; run live; start a; fail a 1 connection x; set a Owner=sre");
    let copy = original.duplicate();
    assert_eq!(state_text(&copy), "[planning] a:startable b:not_startable");
    assert_eq!(copy.started_at(), None);
    let a = copy.task("a").unwrap().state;
    assert_eq!((a.fire(), a.integration_status(), a.failure()), (None, IntegrationStatus::None, None));
    let text = |value: &str| FieldValue::Text(value.into());
    let keys = |map: &std::collections::BTreeMap<String, FieldValue>| map.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(copy.custom_fields()), ["Env", "Result"], "transient Note dropped from the runbook");
    assert_eq!(keys(a.custom_fields()), ["Owner"], "transient Ticket and Note dropped from the task");
    assert_eq!(a.custom_fields()["Owner"], text("sre"), "current values are copied, not the defined ones");
    assert_eq!(copy.plan().task("a").unwrap().custom_fields.get("Ticket"), None);
    copy.check_consistency().unwrap();
    assert_eq!(original.stage(), RunbookStage::Active, "the original is untouched");
}

#[test]
fn state_round_trips_through_json_mid_run() {
    let spec = "runbook Env=prod; a:post; b:needs after=a; c fixed=+600 after=a; d:quiet after=b,c; e auto after=d";
    let mut runbook = state(spec);
    let now = run_steps(
        &mut runbook,
        "run live; start a; fail a 1 connection refused; refire a; progress a 2 waiting Owner=x; at +5; ok a 2",
    );
    assert_eq!(
        runbook.task("b").unwrap().state.waiting(),
        Some(&WaitReason::MissingCustomFields { fields: vec!["Ticket".into()] })
    );
    assert_eq!(runbook.next_wake_up(), Some(at(600)));

    let json = serde_json::to_string(&runbook).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["version"], STATE_VERSION);
    let mut loaded: RunbookState = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, runbook, "derived indexes are rebuilt identically");

    // Both continue identically.
    let steps = [
        "set b Ticket=7",
        "ok b 1",
        "admin: force c",
        "finish c",
        "start d",
        "cancel d",
        "refire d",
        "ok d 2",
        "finish d",
        "finish e",
    ];
    for text in steps {
        let (actor, command) = step(text);
        let left = runbook.apply(command.clone(), &actor, now).unwrap();
        let right = loaded.apply(command, &actor, now).unwrap();
        assert_eq!(left, right, "{text}");
    }
    assert_eq!(loaded, runbook);
    assert_eq!(loaded.stage(), RunbookStage::Complete);
    assert_eq!(loaded.done_count(), 5);
}

#[test]
fn commands_and_effects_serialise() {
    let mut runbook = state("a:post");
    let effects = runbook
        .apply(Command::StartRunbook { mode: cutover_integrations_model::RunMode::Live }, &Actor::engine(), at(0))
        .unwrap();
    let (actor, command) = step("start a");
    let mut all = effects;
    all.extend(runbook.apply(command.clone(), &actor, at(1)).unwrap());
    let json = serde_json::to_string(&all).unwrap();
    let back: Vec<cutover_integrations_runbook::Effect> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, all);
    assert!(json.contains(r#"{"effect":"fire","task":"a","fire":1,"delivery":"send"}"#), "{json}");
    let command_json = serde_json::to_string(&command).unwrap();
    assert_eq!(command_json, r#"{"command":"start_task","task":"a","force":false}"#);
    assert_eq!(serde_json::from_str::<Command>(&command_json).unwrap(), command);
    assert_eq!(
        all.iter().map(effect_text).collect::<Vec<_>>().join(" | "),
        "runbook planning>active | a startable>in_progress | fire a#1 | a#1 pending"
    );
}

#[test]
fn loading_refuses_other_versions_and_contradictions() {
    let mut runbook = state("a; b after=a");
    run_steps(&mut runbook, "run live; start a");
    let good = serde_json::to_value(&runbook).unwrap();

    let mut newer = good.clone();
    newer["version"] = serde_json::json!(STATE_VERSION + 1);
    let error = serde_json::from_value::<RunbookState>(newer).unwrap_err().to_string();
    assert!(error.contains("stored runbook state has version 2; this build reads version 1"), "{error}");

    let cases = [
        (
            "/tasks/1/stage",
            serde_json::json!("in_progress"),
            "task `b`: started or startable with a predecessor not done",
        ),
        ("/tasks/0/stage", serde_json::json!("not_startable"), "task `a`: not startable with every predecessor done"),
        ("/tasks/0/fire", serde_json::json!(1), "task `a`: fire number, integration status and delivery disagree"),
        ("/stage", serde_json::json!("complete"), "a complete runbook has tasks not done"),
        ("/mode", serde_json::json!(null), "a started runbook has no run mode"),
    ];
    for (pointer, value, expected) in cases {
        let mut broken = good.clone();
        // Set, or added when absent (a task that never fired has no `fire`).
        let (parent, member) = pointer.rsplit_once('/').unwrap();
        broken.pointer_mut(parent).unwrap()[member] = value;
        let error = serde_json::from_value::<RunbookState>(broken).unwrap_err().to_string();
        assert!(error.contains(expected), "{pointer}: {error}");
    }

    let mut cyclic = good.clone();
    cyclic["plan"]["tasks"][0]["predecessors"] = serde_json::json!(["b"]);
    let error = serde_json::from_value::<RunbookState>(cyclic).unwrap_err().to_string();
    assert!(error.contains("tasks form a cycle"), "{error}");

    let mut short = good;
    short["tasks"].as_array_mut().unwrap().pop();
    let error = serde_json::from_value::<RunbookState>(short).unwrap_err().to_string();
    assert!(error.contains("1 task states for 2 planned tasks"), "{error}");
}

#[test]
fn effective_fields_and_views() {
    let mut runbook = state("runbook Env=prod Owner=rb; a:ask Ticket=1 Owner=task");
    let fields = runbook.effective_custom_fields("a").unwrap();
    let text = |value: &str| FieldValue::Text(value.into());
    assert_eq!(fields.get("Owner"), Some(&&text("task")), "the task's value wins");
    assert_eq!(fields.get("Env"), Some(&&text("prod")), "the runbook's value shows through");
    assert!(runbook.effective_custom_fields("zz").is_none());
    run_steps(&mut runbook, "run live; start a; fail a 1 connection timed out");
    let view = runbook.task("a").unwrap();
    assert_eq!(view.state.stage(), TaskStage::InProgress);
    assert_eq!(view.state.failure().unwrap().to_string(), "Connection failed: timed out");
    assert_eq!(view.state.started_at(), Some(at(0)));
    assert!(!view.state.has_active_fire() && !view.state.is_done());
    assert_eq!(runbook.tasks().len(), 1);
}

#[test]
fn refusals_carry_a_code_and_a_category() {
    use cutover_integrations_runbook::ErrorCategory::{Conflict, Forbidden, Invalid, NotFound};
    let cases = [
        ("a", "run live", "start zz", "unknown_task", NotFound),
        ("a", "run live", "skip a why", "role_required", Forbidden),
        ("a fixed=+60", "run live", "force a", "role_required", Forbidden),
        ("a:ask", "run live", "start a", "missing_custom_fields", Invalid),
        ("a", "run live", "admin: skip a", "comment_required", Invalid),
        ("a; b after=a", "run live", "start b", "task_not_startable", Conflict),
        ("a", "", "start a", "runbook_stage_forbids", Conflict),
        ("a fixed=+60", "run live", "start a", "fixed_start_not_reached", Conflict),
        ("a:post", "run live; start a; fail a 1 timeout t; refire a", "ok a 1", "stale_fire", Conflict),
    ];
    for (tasks, before, text, code, category) in cases {
        let mut runbook = state(tasks);
        let now = run_steps(&mut runbook, before);
        let (actor, command) = step(text);
        let error = runbook.apply(command, &actor, now).expect_err(text);
        assert_eq!((error.code(), error.category()), (code, category), "{text}");
    }
    assert_eq!(plan("a after=a").unwrap_err().category(), Invalid);
}

/// A task that never fired has no fire number: the member is absent, and documents written when 0 meant "no fire
/// yet" read back as none. A fire number is never 0: a command naming fire 0 is refused as it is read.
#[test]
fn no_fire_yet_is_an_absent_fire_number() {
    let mut runbook = state("a:post");
    let never = runbook.task("a").unwrap().state.clone();
    let written = serde_json::to_value(&never).unwrap();
    assert!(written.get("fire").is_none(), "{written}");
    let mut older = written.clone();
    older["fire"] = serde_json::json!(0);
    assert_eq!(serde_json::from_value::<TaskState>(older).unwrap(), never);

    run_steps(&mut runbook, "run live; start a");
    let fired = runbook.task("a").unwrap().state.clone();
    assert_eq!(fired.fire(), Some(FireNumber::FIRST));
    let written = serde_json::to_value(&fired).unwrap();
    assert_eq!(written["fire"], 1);
    assert_eq!(serde_json::from_value::<TaskState>(written).unwrap(), fired);

    let command =
        Command::FireSucceeded { task: "a".into(), fire: FireNumber::FIRST, custom_fields: Default::default() };
    let zero = serde_json::to_string(&command).unwrap().replace(r#""fire":1"#, r#""fire":0"#);
    let error = serde_json::from_str::<Command>(&zero).expect_err(&zero).to_string();
    assert!(error.contains("nonzero"), "{error}");
}
