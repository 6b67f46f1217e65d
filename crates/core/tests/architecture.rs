//! The kernel's components own their state and know nothing of the engine: their source files import neither the
//! engine nor the modules that call them, so dependencies go one way (see docs/ARCHITECTURE.md, `crates/core`).

/// Each component's file and the modules it must not use. `dispatch.rs` (the dispatch loop, an `impl Engine`) calls
/// the commit queue, the catalog and the dispatcher; the commit queue calls the dispatcher and the event log.
const COMPONENTS: &[(&str, &[&str])] = &[
    ("commit_queue.rs", &["engine", "dispatch", "config", "catalog"]),
    ("dispatcher.rs", &["engine", "dispatch", "commit_queue", "catalog", "event_log", "config"]),
    ("catalog.rs", &["engine", "dispatch", "commit_queue", "dispatcher", "event_log", "config"]),
    ("event_log.rs", &["engine", "dispatch", "commit_queue", "dispatcher", "catalog", "config"]),
    ("fire_inputs.rs", &["engine", "dispatch", "commit_queue", "dispatcher", "catalog", "event_log", "config"]),
    ("fire_doc.rs", &["engine", "dispatch", "commit_queue", "dispatcher", "catalog", "event_log", "config"]),
];

/// Every use of module `module` in `source`: `crate::module` followed by something that does not continue the name
/// (so `crate::dispatch` does not match `crate::dispatcher`), with its line number.
fn uses(source: &str, module: &str) -> Vec<usize> {
    let needle = format!("crate::{module}");
    let mut lines = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find(&needle) {
            let after = rest[at + needle.len()..].chars().next();
            if !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                lines.push(number + 1);
                break;
            }
            rest = &rest[at + needle.len()..];
        }
    }
    lines
}

#[test]
fn components_import_neither_the_engine_nor_their_callers() {
    let source_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (file, forbidden) in COMPONENTS {
        let source = std::fs::read_to_string(source_dir.join(file)).expect("a component's source");
        for module in *forbidden {
            for line in uses(&source, module) {
                problems.push(format!("src/{file}:{line} uses crate::{module}"));
            }
        }
        for (number, line) in source.lines().enumerate() {
            if line.trim_start().starts_with("impl Engine") {
                problems.push(format!("src/{file}:{} is an `impl Engine` block", number + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_a_use_and_tells_dispatch_from_dispatcher() {
    let source = "use crate::dispatcher::Dispatcher;\nuse crate::dispatch::Origin;\n// crate::engine_like\n";
    assert_eq!(uses(source, "dispatch"), [2]);
    assert_eq!(uses(source, "dispatcher"), [1]);
    assert_eq!(uses(source, "engine"), Vec::<usize>::new());
}
