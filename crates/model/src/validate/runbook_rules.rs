//! Rules within one runbook file: unique task ids, known predecessors, no cycles, start settings that exclude each
//! other.

use super::FileContext;
use super::integration_rules::unique_values;
use crate::Runbook;
use crate::parse::path::FieldPath;
use std::collections::{HashMap, HashSet};

/// Checks one runbook.
pub(crate) fn check(context: &mut FileContext<'_>, runbook: &Runbook) {
    let root = FieldPath::root();
    let name_path = root.key("name");
    if runbook.name.trim().is_empty() && context.walker.is_clean(&name_path) {
        context.error(&name_path, "must not be empty");
    }
    let tasks_path = root.key("tasks");
    let ids: Vec<&str> = runbook.tasks.iter().map(|task| task.id.as_str()).collect();
    unique_values(context, &tasks_path, "id", &ids, "task id");

    let index_of: HashMap<&str, usize> = ids.iter().enumerate().rev().map(|(index, id)| (*id, index)).collect();
    // The predecessor edges that are well formed: (task, predecessor task, path of the predecessor entry).
    let mut edges: Vec<Vec<(usize, FieldPath)>> = vec![Vec::new(); runbook.tasks.len()];
    for (index, task) in runbook.tasks.iter().enumerate() {
        let task_path = tasks_path.index(index);
        let mut listed = HashSet::with_capacity(task.predecessors.len());
        for (position, predecessor) in task.predecessors.iter().enumerate() {
            let path = task_path.key("predecessors").index(position);
            if !context.walker.is_clean(&path) {
                continue;
            }
            if !listed.insert(predecessor.as_str()) {
                context.error(&path, format!("`{predecessor}` is listed twice"));
                continue;
            }
            match index_of.get(predecessor.as_str()) {
                Some(target) => edges[index].push((*target, path)),
                None => context.error(&path, format!("unknown task id `{predecessor}`")),
            }
        }
        let fixed_path = task_path.key("fixed_start");
        if let Some(fixed_start) = &task.fixed_start {
            if !context.walker.is_clean(&fixed_path) {
                continue;
            }
            if task.auto_start {
                context.error_at_key(&fixed_path, "`fixed_start` cannot be combined with `auto_start`");
            } else if fixed_start.parse::<jiff::Timestamp>().is_err() {
                context.error(
                    &fixed_path,
                    format!("`{fixed_start}` is not an RFC 3339 time such as `2026-11-22T18:00:00Z`"),
                );
            }
        }
    }
    report_cycles(context, &ids, &edges);
}

/// Reports every predecessor entry that closes a cycle, naming the tasks of the cycle in the order they would run.
fn report_cycles(context: &mut FileContext<'_>, ids: &[&str], edges: &[Vec<(usize, FieldPath)>]) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut marks = vec![Mark::New; ids.len()];
    for start in 0..ids.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // An explicit stack of (task, next edge to follow), so that deep runbooks cannot overflow the call stack.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnStack;
        while let Some((task, next_edge)) = stack.last_mut() {
            let task = *task;
            let Some((target, path)) = edges[task].get(*next_edge) else {
                marks[task] = Mark::Done;
                stack.pop();
                continue;
            };
            *next_edge += 1;
            match marks[*target] {
                Mark::New => {
                    marks[*target] = Mark::OnStack;
                    stack.push((*target, 0));
                }
                Mark::OnStack => {
                    // The stack holds tasks each waiting for the next; the cycle runs from `target` back to `task`.
                    let from = stack.iter().position(|(on_stack, _)| on_stack == target).unwrap_or(0);
                    let mut cycle = vec![ids[*target]];
                    cycle.extend(stack[from..].iter().rev().map(|(on_stack, _)| ids[*on_stack]));
                    let message = format!("predecessors form a cycle: {}", cycle.join(" → "));
                    context.error(path, message);
                }
                Mark::Done => {}
            }
        }
    }
}
