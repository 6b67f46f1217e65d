//! The graph view of a runbook's tasks: our own SVG, laid out in columns by depth (the longest chain of predecessors
//! before a task), coloured by stage, and paged so that a runbook of thousands of tasks draws a bounded number of
//! nodes at a time. Edges to tasks on other pages are drawn as short stubs naming the page.

use super::task::{encode, stage_class, stage_label};
use cutover_integrations_core::RunbookView;
use maud::{Markup, html};
use std::collections::HashMap;

const COLUMN: usize = 200;
const ROW: usize = 46;
const NODE_WIDTH: usize = 170;
const NODE_HEIGHT: usize = 32;

/// Each task's depth, by index, computed in topological order (Kahn); tasks on a cycle, which a stored plan never has,
/// get depth 0.
fn depths(view: &RunbookView) -> Vec<usize> {
    let tasks = view.state.plan().tasks();
    let index: HashMap<&str, usize> = tasks.iter().enumerate().map(|(i, task)| (task.id.as_str(), i)).collect();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut pending: Vec<usize> = vec![0; tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        for predecessor in &task.predecessors {
            if let Some(&p) = index.get(predecessor.as_str()) {
                successors[p].push(i);
                pending[i] += 1;
            }
        }
    }
    let mut depth = vec![0; tasks.len()];
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| pending[i] == 0).collect();
    while let Some(i) = ready.pop() {
        for &s in &successors[i] {
            depth[s] = depth[s].max(depth[i] + 1);
            pending[s] -= 1;
            if pending[s] == 0 {
                ready.push(s);
            }
        }
    }
    depth
}

/// Page `page` (1-based) of the graph, `per_page` nodes, ordered by depth then definition order.
pub(crate) fn graph(view: &RunbookView, page: usize, per_page: usize) -> Markup {
    let tasks = view.state.plan().tasks();
    if tasks.is_empty() {
        return html! { p class="empty" { "No tasks yet." } };
    }
    let depth = depths(view);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by_key(|&i| (depth[i], i));
    let pages = tasks.len().div_ceil(per_page);
    let page = page.clamp(1, pages);
    let shown = &order[(page - 1) * per_page..(page * per_page).min(order.len())];
    let first_depth = shown.first().map_or(0, |&i| depth[i]);
    // Position of every node on this page: column by depth, row by arrival in its column.
    let mut rows_in_column: HashMap<usize, usize> = HashMap::new();
    let mut position: HashMap<usize, (usize, usize)> = HashMap::new();
    for &i in shown {
        let column = depth[i] - first_depth;
        let row = rows_in_column.entry(column).or_insert(0);
        position.insert(i, (column * COLUMN + 10, *row * ROW + 10));
        *row += 1;
    }
    let page_of: HashMap<usize, usize> = order.iter().enumerate().map(|(rank, &i)| (i, rank / per_page + 1)).collect();
    let index: HashMap<&str, usize> = tasks.iter().enumerate().map(|(i, task)| (task.id.as_str(), i)).collect();
    let columns = rows_in_column.keys().max().map_or(1, |max| max + 1);
    let rows = rows_in_column.values().max().copied().unwrap_or(1);
    let width = columns * COLUMN + 20;
    let height = rows * ROW + 20;
    let states: Vec<_> = view.state.tasks().collect();
    html! {
        div class="graph" {
            p class="hint" {
                "Tasks " ((page - 1) * per_page + 1) "–" ((page - 1) * per_page + shown.len()) " of " (tasks.len())
                ", in columns by depth. Colours follow the stage."
            }
            @if pages > 1 {
                nav class="pager" aria-label="Graph pages" {
                    @if page > 1 { a href=(format!("/runbooks/{}?graph={}", view.id, page - 1)) { "Previous tasks" } }
                    span { "Page " (page) " of " (pages) }
                    @if page < pages { a href=(format!("/runbooks/{}?graph={}", view.id, page + 1)) { "Next tasks" } }
                }
            }
            div class="graph-scroll" {
                svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(format!("Task graph, page {page} of {pages}")) {
                    @for &i in shown {
                        @for predecessor in &tasks[i].predecessors {
                            @if let Some(&p) = index.get(predecessor.as_str()) {
                                @let (x2, y2) = position[&i];
                                @if let Some(&(x1, y1)) = position.get(&p) {
                                    line class="edge" x1=(x1 + NODE_WIDTH) y1=(y1 + NODE_HEIGHT / 2) x2=(x2) y2=(y2 + NODE_HEIGHT / 2) {}
                                } @else {
                                    line class="edge edge-off-page" x1=(x2.saturating_sub(24)) y1=(y2 + NODE_HEIGHT / 2) x2=(x2) y2=(y2 + NODE_HEIGHT / 2) {
                                        title { (predecessor) " (page " (page_of[&p]) ")" }
                                    }
                                }
                            }
                        }
                    }
                    @for &i in shown {
                        @let (x, y) = position[&i];
                        @let stage = states[i].state.stage();
                        a href=(format!("/runbooks/{}?task={}", view.id, encode(&tasks[i].id))) {
                            rect class=(format!("node task-{}", stage_class(stage))) data-node-task=(tasks[i].id) data-name=(tasks[i].name) x=(x) y=(y) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {
                                title { (tasks[i].name) " — " (stage_label(stage)) }
                            }
                            text x=(x + 8) y=(y + 20) class="node-label" { (truncate(&tasks[i].name, 22)) }
                        }
                    }
                }
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
