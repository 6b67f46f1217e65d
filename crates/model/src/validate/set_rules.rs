//! Rules across the files validated together: unique integration names, consistent custom fields, and runbook tasks
//! that name existing actions and declared custom fields.

use super::Analysis;
use crate::parse::path::FieldPath;
use crate::parse::reader::quoted_list;
use crate::{CustomField, Definition, FieldValue, Integration, Position, Visibility};
use std::collections::BTreeMap;

/// Where something was first declared: the file and the position.
struct Origin {
    file: String,
    position: Position,
}

impl Origin {
    fn describe(&self) -> String {
        format!("{}:{}:{}", self.file, self.position.line, self.position.column)
    }
}

/// Checks every rule that needs more than one file.
pub(crate) fn check(analyses: &mut [Analysis]) {
    let integrations = unique_integrations(analyses);
    let fields = consistent_fields(analyses);
    if integrations.is_empty() {
        return;
    }
    for analysis in analyses.iter_mut() {
        let Some(Definition::Runbook(runbook)) = &analysis.definition else {
            continue;
        };
        let root = FieldPath::root();
        let mut problems = Vec::new();
        let workspace = runbook.workspace.as_deref();
        for (name, value) in &runbook.custom_fields {
            let path = root.key("custom_fields").key(name);
            problems.extend(field_value_problems(&fields, workspace, &path, name, value));
        }
        for (index, task) in runbook.tasks.iter().enumerate() {
            let task_path = root.key("tasks").index(index);
            for (name, value) in &task.custom_fields {
                let path = task_path.key("custom_fields").key(name);
                problems.extend(field_value_problems(&fields, workspace, &path, name, value));
            }
            let Some(reference) = &task.action else {
                continue;
            };
            let action_path = task_path.key("action");
            let Some(integration) = integrations.get(reference.integration.as_str()) else {
                let known = quoted_list(integrations.keys().map(String::as_str));
                let message = format!("unknown integration `{}`; the integrations are {known}", reference.integration);
                problems.push((action_path, false, message));
                continue;
            };
            let Some(action) = integration.actions.iter().find(|action| action.name == reference.action) else {
                let known = quoted_list(integration.actions.iter().map(|action| action.name.as_str()));
                let message = format!(
                    "integration `{}` has no action `{}`; its actions are {known}",
                    integration.name, reference.action
                );
                problems.push((action_path, false, message));
                continue;
            };
            if integration.archived {
                problems.push((action_path.clone(), false, format!("integration `{}` is archived", integration.name)));
            }
            if action.is_draft() {
                let message = format!("`{reference}` is a draft: it has no request yet, so no task can use it");
                problems.push((action_path.clone(), false, message));
            }
            if let Some(message) = invisible(&action.visibility, workspace, &format!("`{reference}`")) {
                problems.push((action_path.clone(), false, message));
            }
            if action.settings.auto_start && task.fixed_start.is_some() {
                let message = format!("`fixed_start` cannot be combined with auto start, which `{reference}` sets");
                problems.push((task_path.key("fixed_start"), true, message));
            }
        }
        for (path, at_key, message) in problems {
            if !analysis.walker.is_clean(&path) {
                continue;
            }
            let map = &analysis.walker.source_map;
            let position = if at_key { map.key_position(&path) } else { map.position(&path) };
            analysis.walker.error(position, &path, message);
        }
    }
}

/// The integrations by name; reports every name defined again in a later file.
fn unique_integrations(analyses: &mut [Analysis]) -> BTreeMap<String, Integration> {
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
    let name_path = FieldPath::root().key("name");
    for analysis in analyses.iter_mut() {
        let Some(Definition::Integration(integration)) = &analysis.definition else {
            continue;
        };
        if !analysis.walker.is_clean(&name_path) {
            continue;
        }
        let position = analysis.walker.source_map.position(&name_path);
        match origins.get(&integration.name) {
            Some(first) => {
                let message = format!("integration `{}` is also defined at {}", integration.name, first.describe());
                analysis.walker.error(position, &name_path, message);
            }
            None => {
                origins.insert(integration.name.clone(), Origin { file: analysis.file.clone(), position });
            }
        }
    }
    let mut integrations = BTreeMap::new();
    for analysis in analyses.iter() {
        if let Some(Definition::Integration(integration)) = &analysis.definition {
            integrations.entry(integration.name.clone()).or_insert_with(|| integration.clone());
        }
    }
    integrations
}

/// The custom fields of every integration by name; reports a field declared differently in two places.
fn consistent_fields(analyses: &mut [Analysis]) -> BTreeMap<String, CustomField> {
    let mut fields: BTreeMap<String, (CustomField, Origin)> = BTreeMap::new();
    for analysis in analyses.iter_mut() {
        let Some(Definition::Integration(integration)) = &analysis.definition else {
            continue;
        };
        for (index, field) in integration.custom_fields.iter().enumerate() {
            let path = FieldPath::root().key("custom_fields").index(index);
            if !analysis.walker.is_clean(&path) {
                continue;
            }
            let position = analysis.walker.source_map.position(&path);
            match fields.get(&field.name) {
                Some((first, origin)) if !same_field(first, field) => {
                    let message = format!(
                        "custom field `{}` is declared differently at {} (type, options and `applies_to` must agree)",
                        field.name,
                        origin.describe()
                    );
                    analysis.walker.error(position, &path, message);
                }
                Some(_) => {}
                None => {
                    let origin = Origin { file: analysis.file.clone(), position };
                    fields.insert(field.name.clone(), (field.clone(), origin));
                }
            }
        }
    }
    fields.into_iter().map(|(name, (field, _))| (name, field)).collect()
}

/// Whether two declarations of a field agree on what values look like (restrictions may differ per integration).
fn same_field(a: &CustomField, b: &CustomField) -> bool {
    a.field_type == b.field_type && a.options == b.options && a.applies_to == b.applies_to
}

/// Why something of `visibility` cannot be used by a runbook in `workspace`, if it cannot: an action or custom field
/// visible to one workspace serves only the runbooks of that workspace.
fn invisible(visibility: &Visibility, workspace: Option<&str>, what: &str) -> Option<String> {
    let Visibility::Workspace { workspace: visible_in } = visibility else {
        return None;
    };
    if visibility.serves(workspace) {
        return None;
    }
    let runbook_in = match workspace {
        Some(workspace) => format!("in workspace `{workspace}`"),
        None => "in no workspace".to_owned(),
    };
    Some(format!("{what} is visible only in workspace `{visible_in}`, and this runbook is {runbook_in}"))
}

/// Problems with one custom field value: an undeclared field, a field not visible in the runbook's workspace, or a
/// value outside its options.
fn field_value_problems(
    fields: &BTreeMap<String, CustomField>,
    workspace: Option<&str>,
    path: &FieldPath,
    name: &str,
    value: &FieldValue,
) -> Vec<(FieldPath, bool, String)> {
    let Some(field) = fields.get(name) else {
        let known = if fields.is_empty() {
            "the integrations declare no custom fields".to_owned()
        } else {
            format!("the integrations declare {}", quoted_list(fields.keys().map(String::as_str)))
        };
        return vec![(path.clone(), true, format!("unknown custom field `{name}`; {known}"))];
    };
    let mut problems = Vec::new();
    if let Some(message) = invisible(&field.visibility, workspace, &format!("custom field `{name}`")) {
        problems.push((path.clone(), true, message));
    }
    match value {
        FieldValue::List(_) if !field.field_type.is_multi() => {
            problems.push((path.clone(), false, format!("custom field `{name}` takes one value, not a list")));
        }
        FieldValue::List(items) => {
            for (index, item) in items.iter().enumerate() {
                if field.field_type.has_options() && !field.options.contains(item) {
                    let message = format!(
                        "`{item}` is not an option of `{name}`; the options are {}",
                        quoted_list(field.options.iter().map(String::as_str))
                    );
                    problems.push((path.index(index), false, message));
                }
            }
        }
        FieldValue::Text(text) => {
            if field.field_type.has_options() && !field.options.contains(text) {
                let message = format!(
                    "`{text}` is not an option of `{name}`; the options are {}",
                    quoted_list(field.options.iter().map(String::as_str))
                );
                problems.push((path.clone(), false, message));
            }
        }
    }
    problems
}
