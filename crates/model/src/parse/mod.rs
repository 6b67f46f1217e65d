//! From text to typed definitions: a positioned YAML tree, then a walker that reads it while collecting every error.
//!
//! JSON files are checked by `serde_json` first, so that they are strictly JSON, then read into the same tree (JSON is
//! YAML 1.2 flow syntax) by `json_tree`, which builds the nodes saphyr would, so that both formats share one walker
//! and one set of positions; what `json_tree` leaves aside goes through saphyr. Surrogate-pair escapes, which YAML
//! refuses, and NUL characters, which no definition may hold, are handled in `scalars`.

pub(crate) mod event_integration;
pub(crate) mod integration;
pub(crate) mod json_tree;
pub(crate) mod path;
pub(crate) mod reader;
pub(crate) mod runbook;
pub(crate) mod scalars;
pub(crate) mod tree;

use crate::{Definition, DefinitionFormat, Position};
use path::FieldPath;
use reader::{ObjectReader, Walker, choices};

/// The kinds of definition document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefinitionKind {
    Integration,
    Runbook,
    EventIntegration,
}

choices!(DefinitionKind {
    "integration" => DefinitionKind::Integration,
    "runbook" => DefinitionKind::Runbook,
    "event_integration" => DefinitionKind::EventIntegration,
});

/// Reads one definition file. The definition is `None` when the file is not even a mapping with a known `kind`; it is
/// partial (with placeholders) when the walker found problems, which lets later rules run on what was readable.
pub(crate) fn walk(text: &str, format: DefinitionFormat) -> (Option<Definition>, Walker) {
    let mut walker = Walker { strings_only: format == DefinitionFormat::Json, ..Walker::default() };
    let root_path = FieldPath::root();
    if format == DefinitionFormat::Json
        && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(text)
    {
        let position = json_error_position(text, error.line(), error.column());
        walker.error(position, &root_path, json_message(&error));
        return (None, walker);
    }
    let read_directly = match format {
        DefinitionFormat::Json => json_tree::load(text),
        _ => None,
    };
    let root = match read_directly {
        Some(json_tree::JsonTree { mut root, holds_nul }) => {
            if holds_nul {
                scalars::finish_scalars(&mut root, None, &mut walker);
            }
            root
        }
        None => match load_through_yaml(text, format, &mut walker) {
            Some(root) => root,
            None => return (None, walker),
        },
    };
    walker.record(&root_path, None, &root);
    let Some(mut object) = ObjectReader::open(&mut walker, &root, &root_path) else {
        return (None, walker);
    };
    let definition = match object.required_checked::<DefinitionKind>(&mut walker, "kind") {
        Some(DefinitionKind::Integration) => {
            Definition::Integration(integration::read_integration(&mut walker, object))
        }
        Some(DefinitionKind::Runbook) => Definition::Runbook(runbook::read_runbook(&mut walker, object)),
        Some(DefinitionKind::EventIntegration) => {
            Definition::EventIntegration(Box::new(event_integration::read_event_integration(&mut walker, object)))
        }
        None => return (None, walker),
    };
    (Some(definition), walker)
}

/// The tree of `text` read by saphyr, its scalars finished; `None` when it cannot be read, the error reported.
fn load_through_yaml(text: &str, format: DefinitionFormat, walker: &mut Walker) -> Option<tree::Node> {
    // JSON's surrogate-pair escapes go through saphyr as same-length stand-ins (see `scalars`).
    let astral = match format {
        DefinitionFormat::Json => scalars::substitute_surrogate_pairs(text),
        _ => None,
    };
    let loaded = match &astral {
        Some((substituted, _)) => tree::load(substituted),
        None => tree::load(text),
    };
    let mut root = match loaded {
        Ok(root) => root,
        Err(error) => {
            walker.error(Position { line: error.line, column: error.column }, &FieldPath::root(), error.message);
            return None;
        }
    };
    scalars::finish_scalars(&mut root, astral.as_ref().map(|(_, astral)| astral), walker);
    Some(root)
}

/// serde_json counts columns in bytes; diagnostics count characters.
fn json_error_position(text: &str, line: usize, byte_column: usize) -> Position {
    let line_text = text.split('\n').nth(line.saturating_sub(1)).unwrap_or("");
    let mut before = byte_column.saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(before) {
        before -= 1;
    }
    Position { line: line.max(1) as u32, column: line_text[..before].chars().count() as u32 + 1 }
}

/// serde_json's message without the position it appends, since diagnostics carry it separately.
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&suffix).unwrap_or(&message).to_owned()
}
